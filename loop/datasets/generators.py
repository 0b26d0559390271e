"""2-D data sets drawn from generators whose true classes and boundary are known.

:class:`TwoDGenerator` is what every such generator offers: samples, every
point's noise-free class, and the way to the nearest point of the true
boundary with the class beyond it (the simulated annotators use them; the page
draws the boundary). Two-class kinds, ``moons``, ``circles``, ``blobs`` and
``xor``, are each a :class:`TwoClassGenerator` (a score whose sign is the class);
``gaussians`` has several classes (:mod:`nudge.loop.datasets.gaussians`). Options:
``n_samples`` (default 1000), ``noise`` (default per generator), ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cached_property

import numpy as np
from contourpy import contour_generator
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.neighbors import NearestNeighbors

from nudge.loop.datasets.base import Dataset, split_pool_test
from nudge.loop.datasets.known_truth import TwoClassGenerator, TwoDGenerator, as_points
from nudge.loop.datasets.registry import LoadOptions, register_dataset


def _distance_to_half_circle(
    points: np.ndarray, centre: tuple[float, float], upper: bool
) -> np.ndarray:
    """Distance from each point to the upper (or lower) half of the unit circle at ``centre``."""
    offset = points - np.asarray(centre)
    facing_arc = offset[:, 1] >= 0 if upper else offset[:, 1] <= 0
    to_circle = np.abs(np.linalg.norm(offset, axis=1) - 1.0)
    to_ends = np.minimum(
        np.linalg.norm(offset - (1.0, 0.0), axis=1), np.linalg.norm(offset + (1.0, 0.0), axis=1)
    )
    return np.where(facing_arc, to_circle, to_ends)


@dataclass
class MoonsGenerator(TwoClassGenerator):
    """scikit-learn's two moons: class 0 on the upper arc, class 1 on the lower one.

    The true boundary (points as far from one arc as from the other) has no
    simple closed form: :meth:`boundary_direction` finds the nearest point of
    its contour on a 0.01 grid, then moves along that ray to where the true
    class changes (bisection), so ``x + direction`` is on the boundary to
    within 1e-12. Beyond the grid (1 + 4 * noise around the arcs) the
    direction leads to the nearest boundary point inside it.
    """

    noise: float = 0.2
    grid_step: float = 0.01

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_moons(n_samples, noise=self.noise, random_state=seed)
        return X, y.astype(np.int64)

    def score(self, points: np.ndarray) -> np.ndarray:
        points = as_points(points)
        upper = _distance_to_half_circle(points, (0.0, 0.0), upper=True)
        lower = _distance_to_half_circle(points, (1.0, 0.5), upper=False)
        return upper - lower

    @cached_property
    def _boundary_index(self) -> tuple[np.ndarray, NearestNeighbors]:
        margin = 1.0 + 4.0 * self.noise
        xs = np.arange(-1.0 - margin, 2.0 + margin, self.grid_step)
        ys = np.arange(-0.5 - margin, 1.0 + margin, self.grid_step)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        scores = self.score(grid).reshape(len(ys), len(xs))
        vertices = np.concatenate(contour_generator(xs, ys, scores).lines(0.0))
        return vertices, NearestNeighbors(n_neighbors=1).fit(vertices)

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        vertices, index = self._boundary_index
        nearest = index.kneighbors(points, return_distance=False)[:, 0]
        return self._walk_to_boundary(points, vertices[nearest] - points)

    def _walk_to_boundary(
        self, points: np.ndarray, rays: np.ndarray, steps: int = 45
    ) -> np.ndarray:
        """Scale each ray so that it ends just across the boundary (bisection on [0, 2])."""
        side = self.truth(points)

        def crosses(scale: np.ndarray) -> np.ndarray:
            return self.truth(points + scale[:, None] * rays) != side

        inside, across = np.zeros(len(points)), np.full(len(points), 2.0)
        found = crosses(across)
        for _ in range(steps):
            middle = (inside + across) / 2
            beyond = crosses(middle)
            across = np.where(beyond, middle, across)
            inside = np.where(beyond, inside, middle)
        return np.where(found[:, None], across[:, None] * rays, rays)


@dataclass
class CirclesGenerator(TwoClassGenerator):
    """scikit-learn's two circles: class 0 on the unit circle, class 1 on radius ``factor``.

    The true boundary is the circle halfway between them; directions are radial.
    """

    noise: float = 0.1
    factor: float = 0.5

    @property
    def boundary_radius(self) -> float:
        return (1.0 + self.factor) / 2

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_circles(n_samples, noise=self.noise, factor=self.factor, random_state=seed)
        return X, y.astype(np.int64)

    def score(self, points: np.ndarray) -> np.ndarray:
        return self.boundary_radius - np.linalg.norm(as_points(points), axis=1)

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        radius = np.linalg.norm(points, axis=1, keepdims=True)
        at_origin = np.tile([1.0, 0.0], (len(points), 1))
        unit = np.divide(points, radius, out=at_origin, where=radius > 0)
        return unit * (self.boundary_radius - radius)


@dataclass
class BlobsGenerator(TwoClassGenerator):
    """Two Gaussian blobs of equal spread ``noise`` around ``centres`` (class 0, class 1).

    The true boundary is the perpendicular bisector of the centres.
    """

    noise: float = 0.7
    centres: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, -1.0), (1.0, 1.0))

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_blobs(
            n_samples, centers=np.asarray(self.centres), cluster_std=self.noise, random_state=seed
        )
        return X, y.astype(np.int64)

    @property
    def _normal(self) -> np.ndarray:
        towards_one = np.subtract(self.centres[1], self.centres[0])
        return towards_one / np.linalg.norm(towards_one)

    def score(self, points: np.ndarray) -> np.ndarray:
        middle = np.mean(self.centres, axis=0)
        return (as_points(points) - middle) @ self._normal

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        return -self.score(points)[:, None] * self._normal


@dataclass
class XorGenerator(TwoClassGenerator):
    """Uniform points in [-1, 1]^2, class 1 where x1 * x2 > 0, then Gaussian noise.

    The true boundary is the two axes; the direction goes straight to the nearer one.
    """

    noise: float = 0.05

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        clean = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
        return clean + rng.normal(0.0, self.noise, size=clean.shape), self.truth(clean)

    def score(self, points: np.ndarray) -> np.ndarray:
        points = as_points(points)
        return points[:, 0] * points[:, 1]

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        nearer_axis = np.argmin(np.abs(points), axis=1)
        rows = np.arange(len(points))
        directions = np.zeros_like(points)
        directions[rows, nearer_axis] = -points[rows, nearer_axis]
        return directions


GENERATORS: dict[str, type[TwoClassGenerator]] = {  # the two-class kinds
    "moons": MoonsGenerator,
    "circles": CirclesGenerator,
    "blobs": BlobsGenerator,
    "xor": XorGenerator,
}
GENERATED = tuple(GENERATORS)


def generated_dataset(name: str, generator: TwoDGenerator, options: LoadOptions) -> Dataset:
    """``options.n_samples`` points of ``generator`` (seeded), split into pool and test."""
    X, y = generator.sample(options.n_samples, options.seed)
    pool, test = split_pool_test(y, options.generated_test_fraction, options.seed, name)
    class_names = [str(c) for c in range(generator.n_classes)]
    fingerprint = {"kind": name, "generator": _settings(generator), "n_samples": options.n_samples,
                   "seed": options.seed, "test_fraction": options.generated_test_fraction}
    return Dataset(name, X.astype(np.float32), y, class_names, pool, test, generator=generator,
                   fingerprint=fingerprint)


def _settings(generator: TwoDGenerator) -> dict:
    """A generator's options (its dataclass fields) as JSON-ready values, for the fingerprint."""
    return {field.name: np.asarray(getattr(generator, field.name)).tolist() for field in fields(generator)}


def _generated_loader(kind: str):
    def load(_path: None, options: LoadOptions) -> Dataset:
        if options.n_classes not in (None, 2):
            raise ValueError(f"{kind} has two classes; n_classes is for gaussians")
        generator_class = GENERATORS[kind]
        generator = generator_class() if options.noise is None else generator_class(noise=options.noise)
        return generated_dataset(kind, generator, options)

    load.__name__ = f"load_{kind}"
    return load


for _kind, _generator in GENERATORS.items():
    register_dataset(_kind, summary=_generator.__doc__.strip().splitlines()[0])(_generated_loader(_kind))
