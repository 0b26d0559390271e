"""``gaussians``: several classes in 2-D, one Gaussian blob each, with a known true class everywhere.

As the authors' 3-Gaussians (jmerskine1/counterfactual-gradient-alignment,
``Projects/2D_multiclass``): ``n_classes`` blobs (option ``n_classes``,
default 3) of unit spread (``noise``, the standard deviation, default 1)
whose centres lie evenly on a circle of radius 3, with as many points in each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.datasets import make_blobs

from nudge.loop.datasets.base import Dataset
from nudge.loop.datasets.generators import generated_dataset
from nudge.loop.datasets.known_truth import TwoDGenerator, as_points
from nudge.loop.datasets.registry import LoadOptions, register_dataset

GAUSSIANS_RADIUS = 3.0


@dataclass
class GaussiansGenerator(TwoDGenerator):
    """``n_classes`` Gaussian blobs of spread ``noise``, centres evenly on a circle of radius ``radius``.

    The true class of a point is its nearest centre: with equal spreads and
    equal shares this is the Bayes classifier, and the true boundary is made
    of the perpendicular bisectors between neighbouring centres (the Voronoi
    edges). A point's own region is the intersection of the half-planes
    "nearer to my centre than to centre j", so its nearest boundary point is
    the foot of the perpendicular on the nearest of those bisectors, and the
    class beyond it is that bisector's other centre.
    """

    noise: float = 1.0
    n_classes: int = 3
    radius: float = GAUSSIANS_RADIUS

    def __post_init__(self) -> None:
        if self.n_classes < 2:
            raise ValueError(f"gaussians needs at least 2 classes, got {self.n_classes}")

    @property
    def centres(self) -> np.ndarray:
        """(C, 2) the blob centres, class c at angle 2 pi c / C."""
        angles = 2 * np.pi * np.arange(self.n_classes) / self.n_classes
        return self.radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_blobs(n_samples, centers=self.centres, cluster_std=self.noise, random_state=seed)
        return X, y.astype(np.int64)

    def truth(self, points: np.ndarray) -> np.ndarray:
        return self._faces(as_points(points))[0]

    def boundary_target(self, points: np.ndarray) -> np.ndarray:
        return self._faces(as_points(points))[2]

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        return self._faces(points)[1]

    def _faces(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(true class (N,), vector to the nearest boundary point (N, 2), the class beyond it (N,))."""
        centres = self.centres
        own = np.argmin(np.linalg.norm(points[:, None, :] - centres[None], axis=2), axis=1)
        towards = centres[None, :, :] - centres[own][:, None, :]  # (N, C, 2): own centre -> centre j
        length = np.linalg.norm(towards, axis=2, keepdims=True)
        normal = np.divide(towards, length, out=np.zeros_like(towards), where=length > 0)
        middle = (centres[None, :, :] + centres[own][:, None, :]) / 2
        distance = np.einsum("ncd,ncd->nc", middle - points[:, None, :], normal)  # >= 0 inside own region
        distance[np.arange(len(points)), own] = np.inf
        beyond = np.argmin(distance, axis=1)
        rows = np.arange(len(points))
        return own.astype(np.int64), distance[rows, beyond][:, None] * normal[rows, beyond], beyond.astype(np.int64)


@register_dataset("gaussians", summary=GaussiansGenerator.__doc__.strip().splitlines()[0])
def load_gaussians(_path: None, options: LoadOptions) -> Dataset:
    settings = {key: value for key, value in (("noise", options.noise), ("n_classes", options.n_classes))
                if value is not None}
    return generated_dataset("gaussians", GaussiansGenerator(**settings), options)
