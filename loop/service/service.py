"""The annotation service: what the page and the API endpoints call.

It wraps a :class:`nudge.loop.session.session.Session` with the ways a person gives a
direction (docs/method.md section 1): a click on the local boundary projection
(plane coordinates), "towards that example" (a point id), a rewrite (text
data), or a full vector, each as a :class:`Direction`. The picture is drawn in the
model's units; every direction is stored in the data's own units (a click is
converted with the session's scaling, an example's direction is the difference
of the two items' values). The page and the API
build the same :class:`Direction` values and go through :meth:`AnnotationService.submit`,
so they accept exactly the same answers. Every picture is data
(:meth:`AnnotationService.picture`): the page draws it, API clients get the same.
Everything returned by :meth:`AnnotationService.describe` is JSON-ready.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nudge.loop.compute.neighbours import NeighbourIndex, neighbour_index
from nudge.loop.errors import SessionError
from nudge.loop.service.item_view import ItemViews
from nudge.loop.service.picture import boundary_lines, towards_candidates, true_boundary
from nudge.loop.service.projection import DataPlane, Plane, Projection, project_query
from nudge.loop.service.texts import as_written_in, is_rewrite, readable
from nudge.loop.session.answers import UNCHANGED_REWRITE
from nudge.loop.session.records import Query
from nudge.loop.session.session import Session
from nudge.loop.store.limits import quoted
from nudge.loop.store.log import Annotation
from nudge.loop.training.snapshot import ModelSnapshot

# The planes of queries shown: each is 3 vectors of n numbers, so the cache is bounded in bytes
# as well as in number: 4096 planes at n = 2, 279 at n = 10,000, 16 at least.
PLANE_CACHE_SIZE = 4096
MAX_SHOWN = 1500  # unlabelled pool points on a 2-D picture
PLANE_CACHE_BYTES = 64 * 2**20
MIN_CACHED_PLANES = 16
AXES = {True: ("x1 relative to the query ★ (0 at ★: the numbers move with each point)",
              "x2 relative to the query ★ (0 at ★)"),
        False: ("a: across the boundary (u1)", "b: towards other examples (u2)")}


@dataclass(frozen=True)
class Direction:
    """One direction of an answer in the form the person gave it, and the class it leads to.

    Exactly one form: ``vector`` a full vector in R^n (source "api"); ``plane``
    (a, b) on the query's projection, k = a u1 + b u2 (source "arrow");
    ``towards`` a pool point id, k = x_towards - x (source "towards-example", the item id kept);
    ``rewrite`` the query's text rewritten (text data, source "rewrite").
    ``target``: the class it leads to (name or index); None leaves it to the
    session (the other class of two; for more, the likeliest other class at the tip).
    """

    vector: Sequence[float] | None = None
    plane: Sequence[float] | None = None
    towards: int | None = None
    rewrite: str | None = None
    target: int | str | None = None

    def __post_init__(self) -> None:
        forms = [f for f in (self.vector, self.plane, self.towards, self.rewrite) if f is not None]
        if len(forms) != 1:
            raise SessionError("a direction is given as one of: a vector, a plane point, a point "
                               "to move towards, or a rewrite")

    @classmethod
    def from_forms(cls, direction=None, plane_point=None, towards=None, rewrite=None) -> list[Direction]:
        """The directions of an API answer: one per form given (None: not given)."""
        return [cls(**{name: value}) for name, value in
                (("vector", direction), ("plane", plane_point), ("towards", towards), ("rewrite", rewrite))
                if value is not None]


@dataclass(frozen=True)
class Picture:
    """What a point looks like to one model version: its projection as data and its prediction."""

    point_id: int
    data: dict  # Projection.as_dict() with boundary, truth, candidates, axes and model_version
    plane: Plane
    probabilities: np.ndarray | None  # (C,) the point's, from the same model; None before any training
    model_version: int


@dataclass(frozen=True)
class Restored:
    """An undone answer as the controls showed it: label, arrows (plane coordinates), example, rewrite."""

    label: str | None
    arrows: list[dict]  # {"a", "b", "target"}
    towards: dict | None  # {"point_id", "target"}
    rewrite: str | None  # as the person read and edited it
    other_directions: int  # given in a form the page does not show (a full vector over the API)


class AnnotationService:
    """Queries with their pictures, and answers in every form a direction can take."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self._planes: OrderedDict[str, Plane] = OrderedDict()
        self._planes_lock = threading.Lock()
        self._truth: dict[tuple, list[np.ndarray]] = {}
        # the pool never changes: its neighbour index is made once (a big pool's graph builds in the
        # background); 2-D pictures show the data plane and need none
        dataset = session.dataset
        self.pool_index: NeighbourIndex | None = (
            neighbour_index(dataset.X, dataset.pool) if dataset.n_features > 2 else None)
        self.data_plane = DataPlane.of(dataset.X, dataset.pool, MAX_SHOWN, session.config.seed) \
            if dataset.n_features == 2 else None
        self._pool_points: dict[str, int] | None = None  # item id -> point id, made when first needed
        self.item_views = ItemViews(dataset)

    # ----------------------------------------------------------------- queries
    def next_query(self, annotator: str, *, client: str | None = None) -> Query | None:
        """The annotator's next query; ``client`` is the address asking (for the per-address lease limit)."""
        return self.session.next_query(annotator, client=client)

    def picture(self, point_id: int, *, model: ModelSnapshot | None = None, plane: Plane | None = None) -> Picture:
        """The picture of a point drawn by one model (default: the current one), in ``plane`` if given.

        The prediction, the probability field, the boundary and the classes of the
        shown points all come from that one model.
        """
        model = model or self.session.model
        dataset = self.session.dataset
        fitted = model.is_fitted
        predict = model.learner.predict_proba if fitted else None
        projection = project_query(
            point_id, dataset.X, dataset.pool, self.session.labelled_points(),
            predict_proba=predict, margin_gradient=model.estimator.margin_and_gradient if fitted else None,
            seed=self.session.config.seed, plane=plane, neighbours=self.pool_index, data_plane=self.data_plane,
            max_points=MAX_SHOWN,
        )
        shown = dataset.X[projection.point_ids]
        data = projection.as_dict()
        data["item_id"] = dataset.item_ids[int(point_id)]
        data["model_version"] = model.version
        data["axes"] = list(AXES[projection.is_data_plane])
        data["boundary"] = [] if projection.probabilities is None else [
            np.round(line, 5).tolist() for line in boundary_lines(projection.a, projection.b, projection.probabilities)]
        data["truth"] = self._truth_lines(projection)
        data["candidates"] = self._candidates(projection, shown, projection.point_probabilities)
        return Picture(int(point_id), data, projection.plane, projection.query_probabilities, model.version)

    def query_picture(self, query: Query) -> Picture:
        """A handed-out query's picture with the current model, in the plane it was first shown in
        (by any server: the first picture's plane is kept with the query in the database)."""
        known = self._remembered(query.query_id)
        picture = self.picture(query.point_id, plane=known)
        if known is None:
            kept = self.remember_plane(query.query_id, picture.plane)
            if kept is not picture.plane:  # another server drew this query first: its plane it is
                picture = self.picture(query.point_id, plane=kept)
        return picture

    def remember_plane(self, query_id: str, plane: Plane, *, stored: bool = False) -> Plane:
        """Keep the plane a query is shown in, so its picture keeps its axes while the model changes
        and a click is read in the plane the annotator saw — here, and in the database for every
        server (unless ``stored``: it went in with the query's lease). The first plane kept for a
        query wins; returns the one kept."""
        if not stored:
            kept = self.session.leases.queries.keep_plane(query_id, plane.basis_bytes())
            if kept != plane.basis_bytes():
                plane = Plane.from_basis_bytes(plane.origin, kept)
        self._cache_plane(query_id, plane)
        return plane

    def _cache_plane(self, query_id: str, plane: Plane) -> None:
        plane_bytes = plane.origin.nbytes + plane.u1.nbytes + plane.u2.nbytes
        limit = min(PLANE_CACHE_SIZE, max(MIN_CACHED_PLANES, PLANE_CACHE_BYTES // plane_bytes))
        with self._planes_lock:
            self._planes[query_id] = plane
            self._planes.move_to_end(query_id)
            while len(self._planes) > limit:
                self._planes.popitem(last=False)

    def _remembered(self, query_id: str) -> Plane | None:
        """The plane a query was shown in: from memory, else from the database; None: never shown."""
        with self._planes_lock:
            plane = self._planes.get(query_id)
        if plane is not None:
            return plane
        stored = self.session.leases.queries.query_plane(query_id)
        if stored is None:
            return None
        point_id, basis = stored
        plane = Plane.from_basis_bytes(self.session.dataset.X[point_id], basis)
        self._cache_plane(query_id, plane)
        return plane

    def plane(self, query: Query) -> Plane:
        """The plane a query was shown in (chosen now with the current model if unknown)."""
        plane = self._remembered(query.query_id)
        return self.query_picture(query).plane if plane is None else plane

    def describe(self, query: Query | None, picture: Picture | None = None) -> dict | None:
        """A query as JSON: ids, features, text, and prediction and projection from one model.

        ``model_version`` is the model that chose the query; ``prediction_model_version``
        the one that made the prediction and drew the projection. ``x`` is the point in the
        model's units (the projection's origin); ``raw`` the item in the data's own units (what a
        direction given as a full vector is in; None for texts) with its ``feature_names``; ``item_view``
        what the page shows of a table row or an image (:mod:`nudge.loop.service.item_view`).
        """
        if query is None:
            return None
        picture = picture or self.query_picture(query)
        names = self.session.dataset.class_names
        probabilities = picture.probabilities
        dataset = self.session.dataset
        return {
            "query_id": query.query_id,
            "point_id": query.point_id,
            "item_id": query.item_id,
            "annotator": query.annotator,
            "model_version": query.model_version,
            "prediction_model_version": picture.model_version,
            "x": query.x.tolist(),
            "raw": None if dataset.kind == "text" else dataset.raw[query.point_id].tolist(),
            "feature_names": dataset.feature_names,
            "item_view": self.item_views.view(query.point_id),
            "text": query.text,
            "readable_text": None if query.text is None else readable(query.text),
            "classes": names,
            "prediction": None if probabilities is None else names[int(np.argmax(probabilities))],
            "probabilities": None if probabilities is None else probabilities.tolist(),
            "projection": picture.data,
        }

    def _truth_lines(self, projection: Projection) -> list | None:
        """The true boundary in the projection's plane coordinates (generated 2-D sets only)."""
        generator = self.session.dataset.generator
        if generator is None or not projection.is_data_plane:
            return None
        origin = projection.plane.origin
        low = origin + np.array([projection.a[0], projection.b[0]])
        high = origin + np.array([projection.a[-1], projection.b[-1]])
        key = tuple(np.round(np.concatenate([low, high]), 9))
        if key not in self._truth:  # the data plane's window is the same for every query
            self._truth[key] = true_boundary(generator, low, high)
        return [np.round(line - origin, 5).tolist() for line in self._truth[key]]

    def _candidates(self, projection: Projection, shown: np.ndarray, probabilities: np.ndarray | None) -> list[dict]:
        """The examples offered to move towards, numbered from 1, with their plane coordinates (and texts)."""
        texts = self.session.dataset.texts
        index = {int(i): k for k, i in enumerate(projection.point_ids)}
        chosen = towards_candidates(projection.plane.origin, projection.point_ids, shown, projection.classes,
                                    projection.labelled, probabilities)
        described = []
        for number, candidate in enumerate(chosen, 1):
            a, b = np.round(projection.coordinates[index[candidate.point_id]], 7)  # as in the points
            entry = {"number": number, "point_id": candidate.point_id,
                     "item_id": self.session.dataset.item_ids[candidate.point_id], "class": candidate.klass,
                     "labelled": candidate.labelled, "a": float(a), "b": float(b),
                     "distance": round(candidate.distance, 6)}
            if texts is not None:
                entry["text"] = readable(texts[candidate.point_id])
            described.append(entry)
        return described

    # ----------------------------------------------------------------- answers
    def submit(
        self,
        query_id: str,
        label: int | str,
        directions: Sequence[Direction] = (),
        *,
        annotator: str,
        direction: Sequence[float] | None = None,
        plane_point: Sequence[float] | None = None,
        towards: int | None = None,
        rewrite: str | None = None,
        query: Query | None = None,
    ) -> Annotation:
        """Record an answer: a label and its directions, committed before this returns.

        ``directions`` as :class:`Direction` values; the keywords ``direction``,
        ``plane_point``, ``towards`` and ``rewrite`` add one each (the API's forms).
        Targets are given for every direction or for none. ``query``: the query
        ``query_id`` names, when the caller holds it (it is looked up otherwise).
        """
        given = [*Direction.from_forms(direction, plane_point, towards, rewrite), *directions]
        if query is None or query.query_id != query_id:
            query = self.session.query(query_id) if given else None
        rewrites = [d for d in given if d.rewrite is not None]
        if len(rewrites) > 1:
            raise SessionError("an answer carries at most one rewrite")
        ordered = [d for d in given if d.rewrite is None] + rewrites  # the session adds the rewrite last
        vectors, sources, towards_ids = [], [], []
        for d in ordered[: len(ordered) - len(rewrites)]:
            vector, source = self._vector(query, d)
            vectors.append(vector)
            sources.append(source)
            towards_ids.append(None if d.towards is None else self.session.dataset.item_ids[int(d.towards)])
        targets = [d.target for d in ordered]
        if all(t is None for t in targets):
            targets = None
        elif any(t is None for t in targets):
            raise SessionError("say which class each direction leads to, or for none of them")
        text = None
        if rewrites:
            text = rewrites[0].rewrite
            if isinstance(text, str) and query.text is not None:
                if not is_rewrite(text, query.text):  # as the page reads its box
                    raise SessionError(UNCHANGED_REWRITE)
                text = as_written_in(text, query.text)  # the page shows and edits texts with line breaks
        return self.session.submit(query_id, label, vectors, annotator=annotator, sources=sources,
                                   targets=targets, rewrite=text, towards=towards_ids)

    def _vector(self, query: Query, direction: Direction) -> tuple[Sequence[float] | np.ndarray, str]:
        """A direction in the data's own units (what the session stores), and its source."""
        if direction.vector is not None:
            return direction.vector, "api"  # the session checks its length and values
        if direction.plane is not None:
            return self._from_plane(query, direction.plane), "arrow"
        return self._towards(query.point_id, direction.towards), "towards-example"

    def _from_plane(self, query: Query, plane_point: Sequence[float]) -> np.ndarray:
        try:
            coordinates = np.asarray(plane_point, dtype=float)
        except (TypeError, ValueError):
            coordinates = None
        if coordinates is None or coordinates.shape != (2,):
            raise SessionError(f"a plane point is two numbers (a, b), got {quoted(plane_point)}")
        if not np.all(np.isfinite(coordinates)):
            raise SessionError("a plane point must be finite numbers")
        # the projection is drawn in the model's units: the click becomes a direction in the data's
        return self.session.dataset.scaling.direction_to_data(self.plane(query).direction(*coordinates))

    def _towards(self, point_id: int, towards: int) -> np.ndarray:
        dataset = self.session.dataset
        try:
            target = int(towards)
        except (TypeError, ValueError, OverflowError):
            target = None
        if target is None or isinstance(towards, bool):
            raise SessionError(f"towards must be a point id, got {quoted(towards)}")
        if target != towards or target not in set(dataset.pool.tolist()):
            raise SessionError(f"point {quoted(towards)} is not a pool point")
        if target == point_id:
            raise SessionError("a direction towards the query itself has zero length")
        return dataset.raw[target].astype(float) - dataset.raw[point_id]

    def skip(self, query_id: str, *, annotator: str):
        return self.session.skip(query_id, annotator=annotator)

    def undo(self, annotator: str, *, client: str | None = None) -> Query | None:
        """Undo the annotator's last answer; its point comes back as a new query, ``query.reopens``
        the undone answer, in the plane the answer was given in (None: nothing to undo; another
        point, ``reopens`` None, when the undone one went to someone else meanwhile)."""
        query = self.session.undo(annotator, client=client)
        answer = None if query is None else query.reopens
        if answer is not None and answer.query_id is not None:
            plane = self._remembered(answer.query_id)
            if plane is not None:
                self.remember_plane(query.query_id, plane)
        return query

    def restored(self, answer: Annotation, query: Query) -> Restored:
        """An undone answer as the page's controls showed it, in the plane of ``query`` (the reopened one)."""
        dataset = self.session.dataset
        names = dataset.class_names
        plane = self.plane(query)
        arrows, towards, rewrite, other = [], None, None, 0
        moved_to = answer.towards or [None] * len(answer.directions)
        for vector, target, source, item_id in zip(answer.directions, answer.targets, answer.sources, moved_to):
            if source == "arrow":
                k = dataset.scaling.direction_to_model(vector)
                arrows.append({"a": float(k @ plane.u1), "b": float(k @ plane.u2), "target": names[target]})
            elif source == "towards-example" and towards is None:
                point = self._point_of(item_id) if item_id is not None else self._towards_point(answer.point_id, vector)
                towards = {"point_id": point, "target": names[target]}
            elif source == "rewrite" and answer.rewrite is not None:
                rewrite = readable(answer.rewrite)
            else:
                other += 1
        label = None if answer.label is None else names[answer.label]
        return Restored(label, arrows, towards, rewrite, other)

    def _point_of(self, item_id: str) -> int | None:
        """The point id of a pool item named by its item id (None: not in the pool now)."""
        dataset = self.session.dataset
        if self._pool_points is None:
            self._pool_points = {dataset.item_ids[p]: int(p) for p in dataset.pool}
        return self._pool_points.get(item_id)

    def _towards_point(self, point_id: int, vector: np.ndarray) -> int | None:
        """The pool point x_t with x_t - x_point == vector (the example moved towards), if any: for
        answers stored before the item moved towards was recorded."""
        raw, pool = self.session.dataset.raw, self.session.dataset.pool
        target = raw[point_id] + vector
        distances = np.linalg.norm(raw[pool] - target, axis=1)
        nearest = int(np.argmin(distances))
        return int(pool[nearest]) if distances[nearest] <= 1e-4 * (1 + np.linalg.norm(vector)) else None

    def status(self) -> dict:
        return self.session.status()
