"""What a generator whose true classes are known everywhere offers (:class:`TwoDGenerator`):
samples, every point's noise-free class, and the way to the nearest point of the true boundary
with the class beyond it. The simulated annotators use it; the page draws the true boundary."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np


class TwoDGenerator(ABC):
    """A 2D data generator whose noise-free classes are known everywhere.

    :meth:`truth` gives each point's noise-free class; the boundary between
    the regions of the classes is the true boundary that the UI draws and that
    the exact oracle points to. ``noise`` is the spread of the points around
    their noise-free generating sets.
    """

    noise: float
    n_classes: int = 2

    @abstractmethod
    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(X (n_samples, 2) float64, y (n_samples,) int64), the same for the same seed."""

    @abstractmethod
    def truth(self, points: np.ndarray) -> np.ndarray:
        """(N,) int64, the noise-free class of each point in ``points`` (N, 2)."""

    @abstractmethod
    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) the vector from each point to the nearest point of the true boundary."""

    def boundary_target(self, points: np.ndarray) -> np.ndarray:
        """(N,) int64, the class just beyond the nearest point of the true boundary.

        For two classes, the other class.
        """
        return 1 - self.truth(points)

    def boundary_direction(
        self, points: np.ndarray, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, 2) the vector from each point to the nearest point of the true boundary.

        ``x + direction`` lies on the boundary, and any step beyond it lies in
        the class :meth:`boundary_target`. With ``labels`` (N,), rows whose label is not the
        point's true class (noise put it on the other side) are NaN: from
        there, no way to the boundary leads out of the labelled class.
        """
        points = as_points(points)
        directions = self._to_boundary(points)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(points),):
                raise ValueError(f"labels must have shape ({len(points)},), got {labels.shape}")
            directions[labels != self.truth(points)] = np.nan
        return directions


class TwoClassGenerator(TwoDGenerator):
    """A two-class generator whose true class is the sign of a score.

    The true class of a point is the class of the nearer noise-free
    generating set: the nearer moon arc, the nearer circle, the nearer blob
    centre, the quadrant for xor. It is the Bayes boundary for blobs and xor,
    and its small-noise limit for moons and circles.
    """

    @abstractmethod
    def score(self, points: np.ndarray) -> np.ndarray:
        """(N,) a continuous score, positive where the true class is 1 and negative for 0."""

    def truth(self, points: np.ndarray) -> np.ndarray:
        return (self.score(as_points(points)) > 0).astype(np.int64)


def as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be an (N, 2) array, got shape {points.shape}")
    return points
