"""The annotation service: what the UI and the API endpoints call.

It wraps a :class:`loop.session.Session` with the ways a person gives a
direction (DESIGN.md section 1): a click on the local boundary projection
(plane coordinates), "towards that example" (a point id), a rewrite (text
data), or a full vector. Everything returned is JSON-ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from loop.projection import Plane, Projection, project_query
from loop.session import Query, Session, SessionError

# The planes of queries shown and not yet answered: each is 3 vectors of n numbers, so the
# cache is bounded in bytes as well as in number: 4096 planes at n = 2, 279 at n = 10,000, 16 at least.
PLANE_CACHE_SIZE = 4096
PLANE_CACHE_BYTES = 64 * 2**20
MIN_CACHED_PLANES = 16


class AnnotationService:
    """Queries with their projections, and answers in every form a direction can take."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._planes: OrderedDict[str, Plane] = OrderedDict()
        self._planes_lock = threading.Lock()

    # ----------------------------------------------------------------- queries
    def next_query(self, annotator: str) -> Query | None:
        return self.session.next_query(annotator)

    def projection(self, query: Query) -> Projection:
        """The local boundary projection of a query, drawn with the current model.

        The plane is remembered per query, so the picture keeps its axes while the
        model changes, and a click is read in the plane the annotator saw.
        """
        model = self.session.model
        with self._planes_lock:
            plane = self._planes.get(query.query_id)
        projection = project_query(
            query.point_id, self.session.dataset.X, self.session.dataset.pool,
            self.session.labelled_points(),
            predict_proba=model.learner.predict_proba if model.is_fitted else None,
            margin_gradient=model.estimator.margin_and_gradient if model.is_fitted else None,
            seed=self.session.config.seed, plane=plane,
        )
        if plane is None:
            self._remember(query.query_id, projection.plane)
        return projection

    def _remember(self, query_id: str, plane: Plane) -> None:
        plane_bytes = plane.origin.nbytes + plane.u1.nbytes + plane.u2.nbytes
        limit = min(PLANE_CACHE_SIZE, max(MIN_CACHED_PLANES, PLANE_CACHE_BYTES // plane_bytes))
        with self._planes_lock:
            self._planes[query_id] = plane
            while len(self._planes) > limit:
                self._planes.popitem(last=False)

    def _forget(self, query_id: str) -> None:
        """Drop an answered query's plane: no click on it can come any more."""
        with self._planes_lock:
            self._planes.pop(query_id, None)

    def plane(self, query_id: str, point_id: int) -> Plane:
        """The plane a query was shown in (recomputed with the current model if unknown)."""
        with self._planes_lock:
            plane = self._planes.get(query_id)
        if plane is not None:
            return plane
        query = self.session.query(query_id)
        return self.projection(query).plane

    def describe(self, query: Query | None) -> dict | None:
        """A query as JSON: ids, features, text, prediction and its projection."""
        if query is None:
            return None
        projection = self.projection(query)
        names = self.session.dataset.class_names
        probabilities = None if query.probabilities is None else query.probabilities.tolist()
        return {
            "query_id": query.query_id,
            "point_id": query.point_id,
            "annotator": query.annotator,
            "model_version": query.model_version,
            "x": query.x.tolist(),
            "text": query.text,
            "classes": names,
            "prediction": None if query.prediction is None else names[query.prediction],
            "probabilities": probabilities,
            "projection": projection.as_dict(),
        }

    # ----------------------------------------------------------------- answers
    def submit(
        self,
        query_id: str,
        label: int | str,
        *,
        annotator: str,
        direction: Sequence[float] | None = None,
        plane_point: Sequence[float] | None = None,
        towards: int | None = None,
        rewrite: str | None = None,
    ):
        """Record an answer; each given form of direction adds one direction.

        direction: a full vector in R^n (source "api"); plane_point: (a, b) on the
        query's projection, k = a u1 + b u2 (source "arrow"); towards: a pool point
        id, k = x_towards - x (source "towards-example"); rewrite: text data only.
        """
        query = self.session.query(query_id)
        directions: list[np.ndarray] = []
        sources: list[str] = []
        if direction is not None:
            directions.append(direction)  # the session checks its length and values
            sources.append("api")
        if plane_point is not None:
            directions.append(self._from_plane(query_id, query.point_id, plane_point))
            sources.append("arrow")
        if towards is not None:
            directions.append(self._towards(query.point_id, towards))
            sources.append("towards-example")
        annotation = self.session.submit(
            query_id, label, directions, annotator=annotator, sources=sources, rewrite=rewrite,
        )
        self._forget(query_id)
        return annotation

    def _from_plane(self, query_id: str, point_id: int, plane_point: Sequence[float]) -> np.ndarray:
        try:
            coordinates = np.asarray(plane_point, dtype=float)
        except (TypeError, ValueError):
            coordinates = None
        if coordinates is None or coordinates.shape != (2,):
            raise SessionError(f"a plane point is two numbers (a, b), got {plane_point!r}")
        if not np.all(np.isfinite(coordinates)):
            raise SessionError("a plane point must be finite numbers")
        return self.plane(query_id, point_id).direction(*coordinates)

    def _towards(self, point_id: int, towards: int) -> np.ndarray:
        dataset = self.session.dataset
        try:
            target = int(towards)
        except (TypeError, ValueError, OverflowError):
            target = None
        if target is None or isinstance(towards, bool):
            raise SessionError(f"towards must be a point id, got {towards!r}")
        if target != towards or target not in set(dataset.pool.tolist()):
            raise SessionError(f"point {towards!r} is not a pool point")
        if target == point_id:
            raise SessionError("a direction towards the query itself has zero length")
        return dataset.X[target].astype(float) - dataset.X[point_id]

    def skip(self, query_id: str, *, annotator: str):
        skipped = self.session.skip(query_id, annotator=annotator)
        self._forget(query_id)
        return skipped

    def undo(self, annotator: str) -> Query | None:
        return self.session.undo(annotator)

    def status(self) -> dict:
        return self.session.status()

