"""The local boundary projection: a 2D slice of the decision function around a query.

For a query x in R^n (docs/method.md section 4) the plane through x is spanned by
an orthonormal pair (u1, u2):

- u1: minus the input gradient of the model's logit margin, normalised: the
  first-order way across the boundary (towards the other class);
- u2: towards the nearest point of another class (labelled, else predicted),
  made orthogonal to u1; failing that, the main direction of variation of the
  neighbours; failing that, any orthogonal direction.

A plane coordinate (a, b) is the point x + a u1 + b u2, and a click at (a, b)
is the direction k = a u1 + b u2. A point p is placed at ((p - x).u1, (p - x).u2).
For n = 2 the plane is the data plane itself (u1, u2 the axes), so the picture is
the model's whole decision boundary.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from itertools import chain

import numpy as np

from nudge.loop.compute.neighbours import ExactIndex, NeighbourIndex

ProbabilityFunction = Callable[[np.ndarray], np.ndarray]  # (M, n) -> (M, C)
MarginGradient = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # (M, n) -> (M,), (M, n)

SAMPLE_SPARE = 500  # sampled beyond what a 2-D picture shows, so labelled points leave it full
GRID_CHUNK_VALUES = 1 << 21  # grid coordinates scored per batch: 8 MB as float32


@dataclass(frozen=True)
class Plane:
    """An affine plane x + a u1 + b u2 in R^n with orthonormal u1, u2."""

    origin: np.ndarray  # (n,)
    u1: np.ndarray  # (n,)
    u2: np.ndarray  # (n,)

    def to_plane(self, points: np.ndarray) -> np.ndarray:
        """(K, n) points -> (K, 2) plane coordinates of their orthogonal projections."""
        offsets = np.atleast_2d(points) - self.origin
        return np.stack([offsets @ self.u1, offsets @ self.u2], axis=1)

    def direction(self, a: float, b: float) -> np.ndarray:
        """The direction k = a u1 + b u2 of a click at plane coordinates (a, b)."""
        return a * self.u1 + b * self.u2

    def to_space(self, coordinates: np.ndarray, dtype: type = np.float64) -> np.ndarray:
        """(..., 2) plane coordinates -> (..., n) points x + a u1 + b u2, computed in ``dtype``.

        Built in place: one (..., n) array, no temporaries of that size.
        """
        coordinates = np.asarray(coordinates, dtype=dtype)
        points = coordinates[..., :1] * self.u1.astype(dtype, copy=False)
        points += coordinates[..., 1:2] * self.u2.astype(dtype, copy=False)
        points += self.origin.astype(dtype, copy=False)
        return points

    def basis_bytes(self) -> bytes:
        """u1 then u2 as little-endian float64: how a query's plane is stored (its origin is the point)."""
        return np.concatenate([self.u1, self.u2]).astype("<f8").tobytes()

    @classmethod
    def from_basis_bytes(cls, origin: np.ndarray, data: bytes) -> Plane:
        """The plane through ``origin`` (n,) whose basis :meth:`basis_bytes` wrote."""
        basis = np.frombuffer(data, dtype="<f8")
        n = len(origin)
        if basis.shape != (2 * n,):
            raise ValueError(f"a stored plane of {len(basis)} numbers is not the basis of {n} features")
        return cls(np.asarray(origin, dtype=float), basis[:n].copy(), basis[n:].copy())


@dataclass(frozen=True)
class Projection:
    """Everything needed to draw the local boundary projection of one query."""

    plane: Plane
    a: np.ndarray  # (G,) grid coordinates along u1
    b: np.ndarray  # (G,) grid coordinates along u2
    probabilities: np.ndarray | None  # (G_b, G_a, C) model probabilities on the grid, None untrained
    point_ids: np.ndarray  # (K,) ids of the points shown
    coordinates: np.ndarray  # (K, 2) their plane coordinates
    classes: np.ndarray  # (K,) label if labelled, else the model's prediction, else -1
    labelled: np.ndarray  # (K,) bool
    is_data_plane: bool
    point_probabilities: np.ndarray | None = None  # (K, C) the model's probabilities of the shown points
    query_probabilities: np.ndarray | None = None  # (C,) and of the query, None untrained

    def as_dict(self) -> dict:
        """JSON-ready description for API clients and the page, which draws it.

        Basis and extent (``origin``, ``u1``, ``u2``, ``a_range``, ``b_range``),
        the shown ``points`` (id, plane coordinates a and b to 7 decimals, class: label if
        labelled, else prediction, else -1) and the model's probability ``grid``:
        ``a`` (G_a,) and ``b`` (G_b,) coordinates and ``probabilities`` nested
        [G_b][G_a][C] (rounded to 4 decimals), None before any training.
        """
        probabilities = None if self.probabilities is None else np.round(self.probabilities.astype(float), 4).tolist()
        return {
            "origin": self.plane.origin.tolist(),
            "u1": self.plane.u1.tolist(),
            "u2": self.plane.u2.tolist(),
            "a_range": [float(self.a[0]), float(self.a[-1])],
            "b_range": [float(self.b[0]), float(self.b[-1])],
            "is_data_plane": self.is_data_plane,
            "points": [
                {"point_id": int(i), "a": float(c[0]), "b": float(c[1]), "class": int(k), "labelled": bool(l)}
                for i, c, k, l in zip(self.point_ids, np.round(self.coordinates, 7), self.classes, self.labelled)
            ],
            "grid": {"a": self.a.tolist(), "b": self.b.tolist(), "probabilities": probabilities},
        }


def _unit(vector: np.ndarray) -> np.ndarray | None:
    norm = np.linalg.norm(vector)
    return vector / norm if norm > 1e-12 and np.isfinite(norm) else None


def _orthogonal_part(vector: np.ndarray, u1: np.ndarray) -> np.ndarray | None:
    return _unit(vector - (vector @ u1) * u1)


def choose_plane(
    x: np.ndarray,
    neighbours: np.ndarray,
    other_class_points: np.ndarray,
    margin_gradient: MarginGradient | None,
) -> Plane:
    """Pick (u1, u2) for a query x in R^n, n > 2 (see module docstring).

    neighbours: (K, n) nearby points; other_class_points: (L, n) points of
    another class than x's predicted one, nearest first; margin_gradient: the
    model's margin gradient function, or None before any training.
    """
    n = len(x)
    principal = _principal_directions(neighbours)
    candidates_u1 = []
    if margin_gradient is not None:
        _, gradient = margin_gradient(x[None, :])
        candidates_u1.append(-gradient[0])
    candidates_u1 += [p - x for p in other_class_points[:1]]
    candidates_u1 += list(principal)
    candidates_u1.append(_axis(0, n))
    u1 = next(u for u in map(_unit, candidates_u1) if u is not None)
    candidates_u2 = chain((p - x for p in other_class_points[:5]), principal, (_axis(i, n) for i in range(n)))
    u2 = next(u for u in (_orthogonal_part(c, u1) for c in candidates_u2) if u is not None)
    return Plane(x.astype(float), u1, u2)


def _axis(i: int, n: int) -> np.ndarray:
    """The i-th standard basis vector of R^n, (n,): one row of the identity, never the (n, n) matrix.

    choose_plane tries the axes one by one and stops at the first usable one, so at
    most two are ever built (a unit u1 is parallel to at most one axis).
    """
    axis = np.zeros(n)
    axis[i] = 1.0
    return axis


def _principal_directions(points: np.ndarray) -> np.ndarray:
    """(r, n) main directions of variation of the points (rows), largest first."""
    if len(points) < 2:
        return np.zeros((0, points.shape[1] if points.ndim == 2 else 0))
    centred = points - points.mean(axis=0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    return vt[:2]


def project_query(
    point_id: int,
    X: np.ndarray,
    pool: np.ndarray,
    labels: Mapping[int, int],
    *,
    predict_proba: ProbabilityFunction | None = None,
    margin_gradient: MarginGradient | None = None,
    n_neighbours: int = 40,
    max_points: int = 1500,
    grid_size: int = 64,
    seed: int = 0,
    plane: Plane | None = None,
    neighbours: NeighbourIndex | None = None,
    data_plane: DataPlane | None = None,
) -> Projection:
    """The local boundary projection of query ``point_id``.

    X: (N, n) all points; pool: ids of the pool points; labels: point id ->
    class index of the labelled points; predict_proba / margin_gradient: the
    current model (None before any training). For n = 2 the plane is the data
    plane and up to ``max_points`` pool points are shown; for n > 2 the
    ``n_neighbours`` nearest pool points and labelled points are shown, in
    ``plane`` when given (to keep a query's axes while the model changes), else
    in a plane chosen by :func:`choose_plane`. ``neighbours``: an index over
    the pool (:func:`nudge.loop.compute.neighbours.neighbour_index`, kept by the caller across
    queries); default None: an exact scan of the pool. ``data_plane``: for n = 2,
    the points and window every picture shows (:meth:`DataPlane.of`, kept by the
    caller, so a picture costs the same whatever the pool's size); default: made now.
    """
    x = X[point_id].astype(float)
    labelled_ids = np.fromiter(labels.keys(), dtype=int, count=len(labels))
    is_data_plane = X.shape[1] == 2
    if is_data_plane:
        data_plane = data_plane or DataPlane.of(X, pool, max_points, seed)
        shown = data_plane.shown(labelled_ids, point_id)
    else:
        neighbours = neighbours or ExactIndex(X, pool)
        shown = _nearest_points(X, x, neighbours, labelled_ids, point_id, n_neighbours)
    point_probabilities, query_probabilities = _probabilities(predict_proba, X[shown], x)
    predicted = np.full(len(shown), -1) if point_probabilities is None else point_probabilities.argmax(axis=1)
    classes = np.array([labels.get(int(i), p) for i, p in zip(shown, predicted)], dtype=int)
    if is_data_plane:
        plane = Plane(x, np.array([1.0, 0.0]), np.array([0.0, 1.0]))
        low, high = data_plane.low - x, data_plane.high - x
        pad = 0.08 * (high - low)
        a_range, b_range = (low[0] - pad[0], high[0] + pad[0]), (low[1] - pad[1], high[1] + pad[1])
    else:
        own = -1 if query_probabilities is None else int(query_probabilities.argmax())
        other = X[shown][(classes != own) & (classes >= 0)] if own >= 0 else X[shown][:0]
        plane = plane or choose_plane(x, X[shown], other, margin_gradient)
        half = max(1e-6, 1.15 * float(np.abs(plane.to_plane(X[shown])).max(initial=0.0)))
        a_range = b_range = (-half, half)
    a = np.linspace(*a_range, grid_size)
    b = np.linspace(*b_range, grid_size)
    probabilities = None if predict_proba is None else _grid_probabilities(plane, a, b, predict_proba)
    return Projection(
        plane, a, b, probabilities, shown, plane.to_plane(X[shown]), classes,
        np.isin(shown, labelled_ids), is_data_plane, point_probabilities, query_probabilities,
    )


def _grid_probabilities(plane: Plane, a: np.ndarray, b: np.ndarray,
                        predict_proba: ProbabilityFunction) -> np.ndarray:
    """(G_b, G_a, C) model probabilities at the grid points x + a u1 + b u2.

    The grid's points live in R^n: G_b * G_a * n numbers at once would be 300 MB
    for a 64 x 64 grid at n = 10,000, so they are built and scored a few grid
    rows at a time, at most GRID_CHUNK_VALUES coordinates per batch, in float32
    (what the network computes in).
    """
    rows_per_chunk = max(1, GRID_CHUNK_VALUES // (len(a) * len(plane.origin)))
    chunks = []
    for start in range(0, len(b), rows_per_chunk):
        coordinates = np.stack(np.meshgrid(a, b[start:start + rows_per_chunk]), axis=-1).reshape(-1, 2)
        chunks.append(predict_proba(plane.to_space(coordinates, np.float32)))
    return np.concatenate(chunks).reshape(len(b), len(a), -1)


def _probabilities(predict_proba: ProbabilityFunction | None, points: np.ndarray,
                   x: np.ndarray) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The model's (K, C) probabilities of ``points`` and (C,) of ``x``, in one forward pass (None, None untrained)."""
    if predict_proba is None:
        return None, None
    together = predict_proba(np.vstack([points, x[None, :]]).astype(np.float32))
    return together[:-1], together[-1]


@dataclass(frozen=True)
class DataPlane:
    """What every picture of a 2-D data set shows: a fixed random sample of the pool (the labelled
    points come on top) and the data's bounding box. Made once per pool: the cost of a picture then
    does not grow with the pool."""

    sample: np.ndarray  # (S,) sorted pool ids, S <= limit + SAMPLE_SPARE
    low: np.ndarray  # (2,) the data's smallest coordinates
    high: np.ndarray  # (2,) and largest
    limit: int  # unlabelled points shown at most

    @classmethod
    def of(cls, X: np.ndarray, pool: np.ndarray, max_points: int, seed: int) -> DataPlane:
        size = min(len(pool), max_points + SAMPLE_SPARE)
        sample = np.sort(np.random.default_rng(seed).choice(pool, size, replace=False))
        return cls(sample.astype(int), X.min(axis=0).astype(float), X.max(axis=0).astype(float), max_points)

    def shown(self, labelled: np.ndarray, query: int) -> np.ndarray:
        """All labelled points, then up to ``limit`` sampled points neither labelled nor the query."""
        unlabelled = self.sample[~np.isin(self.sample, np.append(labelled, query))]
        return np.concatenate([labelled, unlabelled[: self.limit]]).astype(int)


def _nearest_points(X: np.ndarray, x: np.ndarray, pool: NeighbourIndex, labelled: np.ndarray,
                    query: int, k: int) -> np.ndarray:
    """The k nearest unlabelled pool points and the k nearest labelled points (excluding the query)."""
    _, unlabelled = pool.search(x, k, exclude=np.append(labelled, query))
    _, near_labelled = ExactIndex(X, labelled).search(x, k, exclude=np.array([query]))
    found = np.concatenate([unlabelled[0], near_labelled[0]])
    return np.unique(found[found >= 0]).astype(int)
