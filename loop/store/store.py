"""The annotation log: the source of truth of a session, and the leases on its points.

Every write happens in its own transaction and is committed before the call
returns: once ``add_annotation`` returns, the answer survives a kill -9. The
writes that hand out a point or accept an answer run in a session-locked
transaction (:meth:`nudge.loop.store.database.Database.locked`) that checks and writes
together, so any number of processes on one database never hand a point to
two annotators at once, and an answer counts only for a lease that is still
its annotator's. The tables are described in :mod:`nudge.loop.store.schema`.
"""

from __future__ import annotations

import itertools
import json
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import INTEGER, Connection, exists, func, select, update

from nudge.loop.errors import SessionError, StoreError
from nudge.loop.store.database import Database
from nudge.loop.store.schema import (
    DIRECTION_SOURCES,
    SCHEMA_VERSION,
    annotations,
    evaluations,
    queries,
    sessions,
)

__all__ = ["DIRECTION_SOURCES", "Annotation", "LeaseLimits", "QueryRecord", "Store", "StoreError"]


@dataclass(frozen=True)
class Annotation:
    """One stored answer. ``label`` is None for a skip; directions are (n,) arrays in the data's own
    units (``Dataset.raw``'s); ``towards`` holds, per direction, the item id it moves towards (None
    for a direction given otherwise; the whole list None for answers stored before it was kept)."""

    id: int
    query_id: str | None
    point_id: int
    label: int | None
    directions: list[np.ndarray] = field(repr=False)
    targets: list[int]
    sources: list[str]
    rewrite: str | None
    annotator: str
    created_at: float
    model_version: int
    round: int
    undone: bool
    towards: list[str | None] | None = None

    @property
    def is_skip(self) -> bool:
        return self.label is None

    def to_record(self) -> dict:
        """A JSON-ready dict (directions as lists of floats)."""
        return {
            "id": self.id,
            "query_id": self.query_id,
            "point_id": self.point_id,
            "label": self.label,
            "directions": [d.tolist() for d in self.directions],
            "targets": self.targets,
            "sources": self.sources,
            "rewrite": self.rewrite,
            "annotator": self.annotator,
            "created_at": self.created_at,
            "model_version": self.model_version,
            "round": self.round,
            "undone": self.undone,
            "towards": self.towards,
        }


@dataclass(frozen=True)
class QueryRecord:
    id: str
    point_id: int
    annotator: str
    issued_at: float
    lease_until: float
    model_version: int
    score: float | None
    status: str


@dataclass(frozen=True)
class LeaseLimits:
    """How many unexpired open points one annotator, and one client address, may hold at once.

    None: no limit (scripted sessions). ``nudge serve`` sets both, so that no
    one can hoard the pool, under one name or under many from one address.
    """

    per_annotator: int | None = None
    per_client: int | None = None


class Store:
    """Access to one annotation database (which may hold several sessions)."""

    def __init__(self, db: str | Path = "nudge.db", *, create: bool = True) -> None:
        """Open (or, with ``create``, make) the database at a path or URL."""
        self.db = Database(db, create=create)
        self.url = self.db.url
        self.engine = self.db.engine

    @property
    def path(self) -> Path | None:
        """The SQLite database file (None for an in-memory or a server database)."""
        return self.db.path

    @property
    def in_memory(self) -> bool:
        """True for an in-memory database: it and its sessions end with this process."""
        return self.db.in_memory

    # ----------------------------------------------------------------- sessions
    def create_session(self, session_id: str, config: dict, fingerprint: dict | None = None) -> None:
        with self.db.writing() as connection:
            if connection.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first():
                raise StoreError(f"a session named {session_id!r} already exists")
            connection.execute(
                sessions.insert().values(
                    id=session_id, created_at=time.time(), config=config,
                    schema_version=SCHEMA_VERSION, fingerprint=fingerprint,
                )
            )

    def session_config(self, session_id: str) -> dict | None:
        row = self._session_row(session_id)
        return None if row is None else dict(row.config)

    def session_fingerprint(self, session_id: str) -> dict | None:
        """The fingerprint of the session's data, as stored when it began (None: not recorded)."""
        row = self._session_row(session_id)
        return None if row is None or row.fingerprint is None else dict(_json(row.fingerprint))

    def _session_row(self, session_id: str):
        with self.db.reading() as connection:
            return connection.execute(
                select(sessions.c.config, sessions.c.fingerprint).where(sessions.c.id == session_id)
            ).first()

    def update_session(self, session_id: str, *, config: dict | None = None,
                       fingerprint: dict | None = None) -> None:
        """Store new settings (changes that are safe to apply) or the data's fingerprint."""
        values = {key: value for key, value in (("config", config), ("fingerprint", fingerprint))
                  if value is not None}
        with self.db.locked(session_id) as connection:
            connection.execute(update(sessions).where(sessions.c.id == session_id).values(**values))

    def session_ids(self) -> list[str]:
        with self.db.reading() as connection:
            return list(connection.execute(select(sessions.c.id).order_by(sessions.c.created_at)).scalars())

    # ------------------------------------------------------------------ queries
    def add_query(
        self,
        session_id: str,
        query_id: str,
        point_id: int,
        annotator: str,
        lease_seconds: float,
        model_version: int,
        score: float | None,
        client: str | None = None,
    ) -> QueryRecord:
        """Hand ``point_id`` to ``annotator`` unconditionally (tests, imports). Sessions use
        :meth:`claim_queries`, which checks that the point is free."""
        with self.db.writing() as connection:
            return _insert_query(connection, session_id, query_id, point_id, annotator, lease_seconds,
                                 model_version, score, client)

    def claim_queries(
        self,
        session_id: str,
        annotator: str,
        candidates: Iterable[tuple[int, float | None]],
        count: int,
        *,
        lease_seconds: float,
        model_version: int,
        client: str | None = None,
        limits: LeaseLimits = LeaseLimits(),
        plane: bytes | None = None,
    ) -> list[QueryRecord]:
        """Lease to ``annotator`` up to ``count`` of the ``candidates`` (point id, score), best first,
        that are free now: no unexpired open lease, no label, not passed on by this annotator.

        Checks and leases in one session-locked transaction, so no point is leased
        twice whatever the number of processes. Refuses with a SessionError when the
        annotator (or the client address) already holds as many open points as
        ``limits`` allow. Returns fewer than ``count`` when the candidates run out.
        ``plane``: the basis of the plane the (one) candidate is shown in, stored with its query.
        """
        now = time.time()
        with self.db.locked(session_id) as connection:
            room = _room(connection, session_id, annotator, client, limits, now, count)
            free = itertools.islice(_free_ones(connection, session_id, candidates, annotator, now), room)
            return [_insert_query(connection, session_id, uuid.uuid4().hex, point_id, annotator, lease_seconds,
                                  model_version, score, client, plane) for point_id, score in free]

    def free_points(self, session_id: str, annotator: str, candidates: Iterable[tuple[int, float | None]],
                    count: int) -> list[tuple[int, float | None]]:
        """The first ``count`` candidates that :meth:`claim_queries` would lease to ``annotator`` now
        (read only: by the time one is claimed it may be taken)."""
        now = time.time()
        with self.db.reading() as connection:
            return list(itertools.islice(_free_ones(connection, session_id, candidates, annotator, now), count))

    def lease_point(self, session_id: str, annotator: str, point_id: int, *, lease_seconds: float,
                    model_version: int, client: str | None = None) -> QueryRecord:
        """A query for ``point_id`` whether answered or not (a relabel), unless someone else holds it now."""
        now = time.time()
        with self.db.locked(session_id) as connection:
            holder = _holder(connection, session_id, point_id, now)
            if holder is not None and holder != annotator:
                raise SessionError(f"point {point_id} is being annotated by someone else right now; try later")
            return _insert_query(connection, session_id, uuid.uuid4().hex, point_id, annotator,
                                 lease_seconds, model_version, None, client)

    def keep_plane(self, session_id: str, query_id: str, plane: bytes) -> bytes:
        """Store the basis of the plane a query is shown in, unless one is stored already (the first
        picture of a query is the one its clicks are read in, by any server). Returns the stored one."""
        with self.db.writing() as connection:
            connection.execute(
                update(queries).where(queries.c.session_id == session_id, queries.c.id == query_id,
                                      queries.c.plane.is_(None)).values(plane=plane)
            )
            return connection.execute(
                select(queries.c.plane).where(queries.c.session_id == session_id, queries.c.id == query_id)
            ).scalar()

    def query_plane(self, session_id: str, query_id: str) -> tuple[int, bytes] | None:
        """(point id, stored plane basis) of a query, None when it has no stored plane."""
        with self.db.reading() as connection:
            row = connection.execute(
                select(queries.c.point_id, queries.c.plane)
                .where(queries.c.session_id == session_id, queries.c.id == query_id)
            ).first()
        return None if row is None or row.plane is None else (int(row.point_id), bytes(row.plane))

    def query(self, session_id: str, query_id: str) -> QueryRecord | None:
        with self.db.reading() as connection:
            row = connection.execute(
                select(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
            ).first()
        return None if row is None else _query_from_row(row)

    def open_queries(self, session_id: str, annotator: str | None = None) -> list[QueryRecord]:
        """Open queries (expired leases included), oldest first; only ``annotator``'s when given."""
        statement = select(queries).where(queries.c.session_id == session_id, queries.c.status == "open")
        if annotator is not None:
            statement = statement.where(queries.c.annotator == annotator)
        with self.db.reading() as connection:
            rows = connection.execute(statement.order_by(queries.c.issued_at))
            return [_query_from_row(row) for row in rows]

    def release_query(self, session_id: str, query_id: str) -> None:
        with self.db.locked(session_id) as connection:
            _release(connection, session_id, queries.c.id == query_id)

    # -------------------------------------------------------------- annotations
    def add_annotation(
        self,
        session_id: str,
        *,
        query_id: str | None,
        point_id: int,
        label: int | None,
        directions: Sequence[np.ndarray],
        targets: Sequence[int],
        sources: Sequence[str],
        annotator: str,
        model_version: int,
        round: int,
        rewrite: str | None = None,
        towards: Sequence[str | None] | None = None,
    ) -> Annotation:
        """Write one answer and close its query, in one session-locked, committed transaction.

        ``towards``: per direction, the item id it moves towards (None where it does not).

        The query must be open, ``annotator``'s and for ``point_id``. An answer
        whose lease ran out still counts while no one else holds the point and no
        one labelled it meanwhile; otherwise it is refused (a SessionError) and
        nothing is written. A query is answered once.
        """
        unknown = set(sources) - set(DIRECTION_SOURCES)
        if unknown:
            raise StoreError(f"unknown direction source(s) {sorted(unknown)}; use {DIRECTION_SOURCES}")
        if not len(sources) == len(targets) == len(directions) == len(directions if towards is None else towards):
            raise StoreError(
                f"{len(directions)} directions, {len(targets)} targets and {len(sources)} sources"
                + ("" if towards is None else f" and {len(towards)} towards")
            )
        values = dict(
            session_id=session_id, query_id=query_id, point_id=int(point_id),
            label=None if label is None else int(label),
            directions=[np.asarray(d, dtype=float).tolist() for d in directions],
            targets=[int(t) for t in targets],
            sources=list(sources), rewrite=rewrite, annotator=annotator,
            created_at=time.time(), model_version=model_version, round=round, undone=False,
            towards=None if towards is None else [None if t is None else str(t) for t in towards],
        )
        with self.db.locked(session_id) as connection:
            if query_id is not None:
                _check_answerable(connection, session_id, query_id, annotator, int(point_id), values["created_at"])
                connection.execute(
                    update(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
                    .values(status="skipped" if label is None else "answered", closed_at=values["created_at"])
                )
            new_id = connection.execute(annotations.insert().values(**values)).inserted_primary_key[0]
        return _annotation_from_values(new_id, values)

    def undo_last(self, session_id: str, annotator: str, *, lease_seconds: float, model_version: int,
                  client: str | None = None) -> tuple[Annotation, QueryRecord | None] | None:
        """Undo ``annotator``'s last active answer and lease its point back to them, atomically.

        The annotator's other open queries are released. Returns (the undone answer,
        the new query), the query None when someone else holds the point now or
        labelled it since (an undone skip); None when there is nothing to undo.
        """
        now = time.time()
        with self.db.locked(session_id) as connection:
            row = connection.execute(
                select(annotations)
                .where(annotations.c.session_id == session_id, annotations.c.annotator == annotator,
                       annotations.c.undone.is_(False))
                .order_by(annotations.c.id.desc()).limit(1)
            ).first()
            if row is None:
                return None
            undone = _annotation_from_values(row.id, row._mapping)
            connection.execute(update(annotations).where(annotations.c.id == row.id).values(undone=True))
            _release(connection, session_id, queries.c.annotator == annotator)
            taken = (_holder(connection, session_id, undone.point_id, now) is not None
                     or _labelled(connection, session_id, undone.point_id))  # labelled by someone since
            record = None
            if not taken:
                record = _insert_query(connection, session_id, uuid.uuid4().hex, undone.point_id, annotator,
                                       lease_seconds, model_version, None, client)
        return undone, record

    def annotations(self, session_id: str, *, include_undone: bool = True) -> list[Annotation]:
        """All answers of a session in the order they were made."""
        statement = select(annotations).where(annotations.c.session_id == session_id)
        if not include_undone:
            statement = statement.where(annotations.c.undone.is_(False))
        with self.db.reading() as connection:
            rows = connection.execute(statement.order_by(annotations.c.id))
            return [_annotation_from_values(row.id, row._mapping) for row in rows]

    def answered_points(self, session_id: str) -> list[tuple[int, int | None, str]]:
        """(point_id, label or None for a skip, annotator) of every answer not undone, oldest first.

        The light form of :meth:`annotations` for the per-query bookkeeping: it
        does not decode the stored direction vectors.
        """
        statement = (
            select(annotations.c.point_id, annotations.c.label, annotations.c.annotator)
            .where(annotations.c.session_id == session_id, annotations.c.undone.is_(False))
            .order_by(annotations.c.id)
        )
        with self.db.reading() as connection:
            return [tuple(row) for row in connection.execute(statement)]

    def log_state(self, session_id: str) -> tuple[int, int, int]:
        """(answers, answers undone, newest answer id): changes whenever the log does (cheap to poll)."""
        with self.db.reading() as connection:
            row = connection.execute(
                select(func.count(), func.sum(annotations.c.undone.cast(INTEGER)), func.max(annotations.c.id))
                .where(annotations.c.session_id == session_id)
            ).one()
        return int(row[0]), int(row[1] or 0), int(row[2] or 0)

    def last_round(self, session_id: str) -> int:
        """The highest round any answer of the session was stored with (0: none yet)."""
        with self.db.reading() as connection:
            return int(connection.execute(
                select(func.max(annotations.c.round)).where(annotations.c.session_id == session_id)
            ).scalar() or 0)

    def count_annotations(self, session_id: str) -> int:
        with self.db.reading() as connection:
            return connection.execute(
                select(func.count()).select_from(annotations).where(annotations.c.session_id == session_id)
            ).scalar_one()

    # -------------------------------------------------------------- evaluations
    def add_evaluation(
        self, session_id: str, *, model_version: int, n_labeled: int, n_directions: int,
        accuracy: float | None, train_seconds: float, kind: str | None = None, n_evaluated: int | None = None,
    ) -> None:
        """Record how a model version measured: ``kind`` "test" or "cross-validated" (None: not measured)
        on ``n_evaluated`` items."""
        with self.db.writing() as connection:
            connection.execute(
                evaluations.insert().values(
                    session_id=session_id, model_version=model_version, n_labeled=n_labeled,
                    n_directions=n_directions, accuracy=accuracy, train_seconds=train_seconds,
                    created_at=time.time(), kind=kind, n_evaluated=n_evaluated,
                )
            )

    def latest_evaluation(self, session_id: str) -> dict:
        """The newest measured evaluation: {"kind", "accuracy", "n", "model_version", "n_labeled"}
        ({"kind": "none", ...} when no model was measured yet)."""
        with self.db.reading() as connection:
            row = connection.execute(
                select(evaluations).where(evaluations.c.session_id == session_id, evaluations.c.accuracy.is_not(None))
                .order_by(evaluations.c.id.desc()).limit(1)
            ).first()
        if row is None:
            return {"kind": "none", "accuracy": None, "n": 0, "model_version": None, "n_labeled": 0}
        return {"kind": row.kind or "test", "accuracy": row.accuracy, "n": row.n_evaluated,
                "model_version": row.model_version, "n_labeled": row.n_labeled}

    def evaluation_history(self, session_id: str) -> list[dict]:
        with self.db.reading() as connection:
            rows = connection.execute(
                select(evaluations).where(evaluations.c.session_id == session_id).order_by(evaluations.c.id)
            )
            return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        self.db.dispose()


# ------------------------------------------------------------ lease rules (inside a locked transaction)


def _insert_query(connection: Connection, session_id: str, query_id: str, point_id: int, annotator: str,
                  lease_seconds: float, model_version: int, score: float | None,
                  client: str | None, plane: bytes | None = None) -> QueryRecord:
    now = time.time()
    score = None if score is None or not np.isfinite(float(score)) else float(score)
    record = QueryRecord(query_id, int(point_id), annotator, now, now + lease_seconds, model_version, score, "open")
    connection.execute(
        queries.insert().values(
            id=record.id, session_id=session_id, point_id=record.point_id, annotator=annotator,
            issued_at=now, lease_until=record.lease_until, model_version=model_version,
            score=record.score, status="open", client=client, plane=plane,
        )
    )
    return record


def _holder(connection: Connection, session_id: str, point_id: int, now: float, *,
            besides: str | None = None) -> str | None:
    """Who holds an unexpired open lease on the point (other than query ``besides``), if anyone."""
    statement = select(queries.c.annotator).where(
        queries.c.session_id == session_id, queries.c.point_id == int(point_id),
        queries.c.status == "open", queries.c.lease_until > now,
    )
    if besides is not None:
        statement = statement.where(queries.c.id != besides)
    return connection.execute(statement.limit(1)).scalar()


FREE_CHECK_BATCH = 64  # candidates checked per pair of statements


def _free_ones(connection: Connection, session_id: str, candidates: Iterable[tuple[int, float | None]],
               annotator: str, now: float) -> Iterator[tuple[int, float | None]]:
    """The candidates free for ``annotator`` now, in their order, each once; checked a batch at a
    time (two statements per batch, however many of them are leased or labelled), lazily: a
    caller that stops early checks no further batch."""
    remaining, seen = iter(candidates), set()
    while batch := list(itertools.islice(remaining, FREE_CHECK_BATCH)):
        taken = _not_free_among(connection, session_id, [int(point_id) for point_id, _ in batch], annotator, now)
        for point_id, score in batch:
            if int(point_id) not in taken and int(point_id) not in seen:
                seen.add(int(point_id))
                yield int(point_id), score


def _not_free_among(connection: Connection, session_id: str, point_ids: list[int], annotator: str,
                    now: float) -> set[int]:
    """Those of ``point_ids`` with an unexpired open lease, a label, or passed on (or answered) by ``annotator``."""
    held = select(queries.c.point_id).where(
        queries.c.session_id == session_id, queries.c.point_id.in_(point_ids),
        queries.c.status == "open", queries.c.lease_until > now,
    )
    answered = select(annotations.c.point_id).where(
        annotations.c.session_id == session_id, annotations.c.point_id.in_(point_ids),
        annotations.c.undone.is_(False),
        (annotations.c.label.is_not(None)) | (annotations.c.annotator == annotator),
    )
    return {int(point_id) for point_id in connection.execute(held.union(answered)).scalars()}


def _room(connection: Connection, session_id: str, annotator: str, client: str | None,
          limits: LeaseLimits, now: float, count: int) -> int:
    """How many more points ``annotator`` may be leased now (at most ``count``).

    At a limit, an annotator who holds open points gets those back (the caller's
    business); one who holds none is refused with a SessionError saying why.
    """
    held = select(func.count()).select_from(queries).where(
        queries.c.session_id == session_id, queries.c.status == "open", queries.c.lease_until > now,
    )
    mine = connection.execute(held.where(queries.c.annotator == annotator)).scalar_one()
    room, why = count, ""
    if limits.per_annotator is not None:
        room = min(room, limits.per_annotator - mine)
        why = f"{annotator!r} already holds {mine} open points (the limit is {limits.per_annotator})"
    if limits.per_client is not None and client is not None:
        theirs = connection.execute(held.where(queries.c.client == client)).scalar_one()
        if limits.per_client - theirs < room:
            room = limits.per_client - theirs
            why = (f"this address already holds {theirs} open points under one name or several "
                   f"(the limit is {limits.per_client})")
    if room <= 0 and mine == 0:
        raise SessionError(f"{why}; answer or skip some first")
    return max(room, 0)


def _check_answerable(connection: Connection, session_id: str, query_id: str, annotator: str,
                      point_id: int, now: float) -> None:
    """Refuse (SessionError) an answer to a query that is not open, not the annotator's, for
    another point, or whose lease ran out and whose point someone else holds or labelled."""
    row = connection.execute(
        select(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
    ).first()
    if row is None:
        raise SessionError(f"query {query_id} is unknown")
    if row.status != "open":
        raise SessionError(f"query {query_id} was already {row.status}")
    if row.annotator != annotator:
        raise SessionError(f"query {query_id} belongs to {row.annotator!r}, not {annotator!r}")
    if row.point_id != point_id:
        raise StoreError(f"query {query_id} is for point {row.point_id}, not {point_id}; nothing was saved")
    if row.lease_until >= now:
        return
    taken = _holder(connection, session_id, point_id, now, besides=query_id) is not None
    if taken or _labelled(connection, session_id, point_id):
        raise SessionError(
            f"your time on point {point_id} ran out and it went to someone else meanwhile; "
            "nothing was saved — take the next point"
        )


def _labelled(connection: Connection, session_id: str, point_id: int) -> bool:
    """True when the point carries a label that is not undone."""
    return connection.execute(select(exists(select(annotations.c.id).where(
        annotations.c.session_id == session_id, annotations.c.point_id == point_id,
        annotations.c.undone.is_(False), annotations.c.label.is_not(None),
    )))).scalar()


def _release(connection: Connection, session_id: str, which) -> None:
    connection.execute(
        update(queries).where(queries.c.session_id == session_id, queries.c.status == "open", which)
        .values(status="released", closed_at=time.time())
    )


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # some drivers hand JSON back as text


def _query_from_row(row) -> QueryRecord:
    return QueryRecord(
        row.id, row.point_id, row.annotator, row.issued_at, row.lease_until,
        row.model_version, row.score, row.status,
    )


def _annotation_from_values(annotation_id: int, values) -> Annotation:
    directions = values["directions"]
    if isinstance(directions, str):  # some drivers hand JSON back as text
        directions = json.loads(directions)
    return Annotation(
        id=int(annotation_id),
        query_id=values["query_id"],
        point_id=int(values["point_id"]),
        label=values["label"],
        directions=[np.asarray(d, dtype=float) for d in directions],
        targets=[int(t) for t in values["targets"]],
        sources=list(values["sources"]),
        rewrite=values["rewrite"],
        annotator=values["annotator"],
        created_at=float(values["created_at"]),
        model_version=int(values["model_version"]),
        round=int(values["round"]),
        undone=bool(values["undone"]),
        towards=_json(values.get("towards")),
    )
