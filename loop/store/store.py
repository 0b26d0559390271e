"""The annotation log: the source of truth of a session, and the leases on its points.

Every write happens in its own transaction and is committed before the call
returns: once ``add_annotation`` returns, the answer survives a kill -9. The
writes that hand out a point or accept an answer run in a session-locked
transaction (:meth:`nudge.loop.store.database.Database.write`) that checks and writes
together, judging leases by the transaction's own time (:mod:`nudge.loop.store.lease_rules`),
so any number of processes on one database never hand a point to two
annotators at once, and an answer counts only for a lease that is still its
annotator's. A write that must not run twice says how to tell whether it
landed when the connection is lost as it commits (an answer by its query id).
The tables are described in :mod:`nudge.loop.store.schema`.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import INTEGER, func, select, update
from sqlalchemy.exc import IntegrityError

from nudge.loop.errors import SessionError, StoreError
from nudge.loop.store import lease_rules as rules
from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.lease_rules import LeaseLimits, QueryRecord
from nudge.loop.store.limits import check_session_name
from nudge.loop.store.overlap import Mark, Overlap
from nudge.loop.store.schema import (
    DIRECTION_SOURCES,
    SCHEMA_VERSION,
    annotations,
    evaluations,
    queries,
    sessions,
)

__all__ = ["DIRECTION_SOURCES", "Annotation", "LeaseLimits", "QueryRecord", "SessionExists", "Store", "StoreError"]


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
    resolved_by: str | None = None  # the lead who settled a disagreement with this answer

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
            "resolved_by": self.resolved_by,
        }


class SessionExists(StoreError):
    """A session of that name is in the database already (made by another process, perhaps just now)."""


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
        """Store a new session; :class:`SessionExists` when one of that name exists (or another process
        made it at the same moment)."""
        check_session_name(session_id)
        exists_already = SessionExists(f"a session named {session_id!r} already exists")

        def create(tx: Transaction) -> bool:
            if tx.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first():
                raise exists_already
            try:
                tx.execute(sessions.insert().values(
                    id=session_id, created_at=tx.now, config=config,
                    schema_version=SCHEMA_VERSION, fingerprint=fingerprint,
                ))
            except IntegrityError:  # PostgreSQL: another process inserted it since the check
                raise exists_already from None
            return True

        def landed(tx: Transaction, _) -> bool | None:
            row = tx.execute(select(sessions.c.config).where(sessions.c.id == session_id)).first()
            return True if row is not None and _json(row.config) == config else None

        self.db.write(create, landed=landed)

    def session_config(self, session_id: str) -> dict | None:
        row = self._session_row(session_id)
        return None if row is None else dict(_json(row.config))

    def session_fingerprint(self, session_id: str) -> dict | None:
        """The fingerprint of the session's data, as stored when it began (None: not recorded)."""
        row = self._session_row(session_id)
        return None if row is None or row.fingerprint is None else dict(_json(row.fingerprint))

    def _session_row(self, session_id: str):
        return self.db.read(lambda tx: tx.execute(
            select(sessions.c.config, sessions.c.fingerprint).where(sessions.c.id == session_id)).first())

    def update_session(self, session_id: str, *, config: dict | None = None,
                       fingerprint: dict | None = None) -> None:
        """Store new settings (changes that are safe to apply) or the data's fingerprint."""
        values = {key: value for key, value in (("config", config), ("fingerprint", fingerprint))
                  if value is not None}
        self.db.write(lambda tx: tx.execute(update(sessions).where(sessions.c.id == session_id).values(**values)),
                      lock=session_id)

    def session_ids(self) -> list[str]:
        return self.db.read(lambda tx: list(tx.execute(select(sessions.c.id).order_by(sessions.c.created_at))
                                            .scalars()))

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
        return self.db.write(
            lambda tx: rules.insert_query(tx, session_id, query_id, point_id, annotator, lease_seconds,
                                          model_version, score, client),
            landed=lambda tx, _: self._queries_found(tx, session_id, [query_id]) or None)

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
        overlap: Overlap = Overlap(),
    ) -> list[QueryRecord]:
        """Lease to ``annotator`` up to ``count`` of the ``candidates`` (point id, score), best first,
        that are free now: no unexpired open lease, no label, not passed on by this annotator.

        Checks and leases in one session-locked transaction, so no point is leased
        twice whatever the number of processes. Refuses with a SessionError when the
        annotator (or the client address) already holds as many open points as
        ``limits`` allow. Returns fewer than ``count`` when the candidates run out.
        ``plane``: the basis of the plane the (one) candidate is shown in, stored with its query.
        ``overlap``: the points that go to several annotators (free until enough labelled them).
        """
        candidates = list(candidates)  # an attempt run again reads them again
        query_ids = [uuid.uuid4().hex for _ in range(count)]  # the same in every attempt: found if one landed

        def claim(tx: Transaction) -> list[QueryRecord]:
            left = rules.room(tx, session_id, annotator, client, limits, count)
            free = itertools.islice(rules.free_ones(tx, session_id, candidates, annotator, overlap), left)
            return [rules.insert_query(tx, session_id, query_id, point_id, annotator, lease_seconds,
                                       model_version, score, client, plane)
                    for query_id, (point_id, score) in zip(query_ids, free)]

        return self.db.write(claim, lock=session_id,
                             landed=lambda tx, tried: self._queries_found(tx, session_id, [q.id for q in tried])
                             if tried else None)

    def free_points(self, session_id: str, annotator: str, candidates: Iterable[tuple[int, float | None]],
                    count: int, overlap: Overlap = Overlap()) -> list[tuple[int, float | None]]:
        """The first ``count`` candidates that :meth:`claim_queries` would lease to ``annotator`` now
        (read only: by the time one is claimed it may be taken)."""
        candidates = list(candidates)  # an attempt run again reads them again
        return self.db.read(lambda tx: list(itertools.islice(
            rules.free_ones(tx, session_id, candidates, annotator, overlap), count)))

    def lease_point(self, session_id: str, annotator: str, point_id: int, *, lease_seconds: float,
                    model_version: int, client: str | None = None) -> QueryRecord:
        """A query for ``point_id`` whether answered or not (a relabel), unless someone else holds it now."""
        query_id = uuid.uuid4().hex

        def lease(tx: Transaction) -> QueryRecord:
            held_by = rules.holder(tx, session_id, point_id)
            if held_by is not None and held_by != annotator:
                raise SessionError(f"point {point_id} is being annotated by someone else right now; try later")
            return rules.insert_query(tx, session_id, query_id, point_id, annotator, lease_seconds,
                                      model_version, None, client)

        return self.db.write(lease, lock=session_id,
                             landed=lambda tx, _: next(iter(self._queries_found(tx, session_id, [query_id])), None))

    def keep_plane(self, session_id: str, query_id: str, plane: bytes) -> bytes:
        """Store the basis of the plane a query is shown in, unless one is stored already (the first
        picture of a query is the one its clicks are read in, by any server). Returns the stored one."""
        def keep(tx: Transaction) -> bytes:
            tx.execute(update(queries).where(queries.c.session_id == session_id, queries.c.id == query_id,
                                             queries.c.plane.is_(None)).values(plane=plane))
            return tx.execute(select(queries.c.plane).where(queries.c.session_id == session_id,
                                                            queries.c.id == query_id)).scalar()

        return self.db.write(keep)

    def query_plane(self, session_id: str, query_id: str) -> tuple[int, bytes] | None:
        """(point id, stored plane basis) of a query, None when it has no stored plane."""
        row = self.db.read(lambda tx: tx.execute(
            select(queries.c.point_id, queries.c.plane)
            .where(queries.c.session_id == session_id, queries.c.id == query_id)).first())
        return None if row is None or row.plane is None else (int(row.point_id), bytes(row.plane))

    def query(self, session_id: str, query_id: str) -> QueryRecord | None:
        found = self.db.read(lambda tx: self._queries_found(tx, session_id, [query_id]))
        return found[0] if found else None

    def open_queries(self, session_id: str, annotator: str | None = None, *,
                     unexpired: bool = False) -> list[QueryRecord]:
        """Open queries, oldest first: only ``annotator``'s when given; only those whose lease still
        runs (by the database's time) when ``unexpired``."""
        def read(tx: Transaction) -> list[QueryRecord]:
            statement = select(queries).where(queries.c.session_id == session_id, queries.c.status == "open")
            if annotator is not None:
                statement = statement.where(queries.c.annotator == annotator)
            if unexpired:
                statement = statement.where(queries.c.lease_until > tx.now)
            return [rules.query_from_row(row) for row in tx.execute(statement.order_by(queries.c.issued_at))]

        return self.db.read(read)

    def release_query(self, session_id: str, query_id: str) -> None:
        self.db.write(lambda tx: rules.release(tx, session_id, queries.c.id == query_id), lock=session_id)

    @staticmethod
    def _queries_found(tx: Transaction, session_id: str, query_ids: list[str]) -> list[QueryRecord]:
        rows = tx.execute(select(queries).where(queries.c.session_id == session_id, queries.c.id.in_(query_ids)))
        found = {row.id: rules.query_from_row(row) for row in rows}
        return [found[query_id] for query_id in query_ids if query_id in found]

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
        resolved_by: str | None = None,
        overlap: Overlap = Overlap(),
    ) -> Annotation:
        """Write one answer and close its query, in one session-locked, committed transaction.

        ``towards``: per direction, the item id it moves towards (None where it does not).
        ``resolved_by``: the lead whose review this is (an answer without a query).
        ``overlap``: the session's, which says when a point is labelled enough to be taken by no one else.

        The query must be open, ``annotator``'s and for ``point_id``. An answer
        whose lease ran out still counts while no one else holds the point and no
        one labelled it meanwhile; otherwise it is refused (a SessionError) and
        nothing is written. A query is answered once: when the connection is lost as
        the answer commits, the query id tells whether it was stored.
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
            model_version=model_version, round=round, undone=False,
            towards=None if towards is None else [None if t is None else str(t) for t in towards],
            resolved_by=resolved_by,
        )

        def store(tx: Transaction) -> Annotation:
            row = {**values, "created_at": tx.now}
            if query_id is not None:
                rules.check_answerable(tx, session_id, query_id, annotator, int(point_id), overlap)
                tx.execute(update(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
                           .values(status="skipped" if label is None else "answered", closed_at=tx.now))
            new_id = tx.execute(annotations.insert().values(**row)).inserted_primary_key[0]
            return _annotation_from_values(new_id, row)

        def landed(tx: Transaction, _) -> Annotation | None:
            if query_id is None:
                raise StoreError("not known whether it was saved: the connection was lost as it was being saved")
            row = tx.execute(select(annotations).where(annotations.c.session_id == session_id,
                                                       annotations.c.query_id == query_id)).first()
            return None if row is None else _annotation_from_values(row.id, row._mapping)

        return self.db.write(store, lock=session_id, landed=landed)

    def undo_last(self, session_id: str, annotator: str, *, lease_seconds: float, model_version: int,
                  client: str | None = None,
                  overlap: Overlap = Overlap()) -> tuple[Annotation, QueryRecord | None] | None:
        """Undo ``annotator``'s last active answer and lease its point back to them, atomically.

        The annotator's other open queries are released. Returns (the undone answer,
        the new query), the query None when someone else holds the point now or
        labelled it since (an undone skip); None when there is nothing to undo.
        """
        query_id = uuid.uuid4().hex

        def undo(tx: Transaction) -> tuple[Annotation, QueryRecord | None] | None:
            row = tx.execute(
                select(annotations)
                .where(annotations.c.session_id == session_id, annotations.c.annotator == annotator,
                       annotations.c.undone.is_(False))
                .order_by(annotations.c.id.desc()).limit(1)
            ).first()
            if row is None:
                return None
            undone = _annotation_from_values(row.id, row._mapping)
            tx.execute(update(annotations).where(annotations.c.id == row.id).values(undone=True))
            rules.release(tx, session_id, queries.c.annotator == annotator)
            taken = (rules.holder(tx, session_id, undone.point_id) is not None
                     or rules.labelled(tx, session_id, undone.point_id, overlap))  # labelled by someone since
            record = None if taken else rules.insert_query(tx, session_id, query_id, undone.point_id, annotator,
                                                           lease_seconds, model_version, None, client)
            return undone, record

        def landed(tx: Transaction, tried):
            if tried is None:
                return None  # nothing was undone: looking again does no harm
            undone, record = tried
            done = tx.execute(select(annotations.c.undone).where(annotations.c.id == undone.id)).scalar()
            return (undone, record and self._queries_found(tx, session_id, [record.id])[0]) if done else None

        return self.db.write(undo, lock=session_id, landed=landed)

    def annotations(self, session_id: str, *, include_undone: bool = True) -> list[Annotation]:
        """All answers of a session in the order they were made."""
        statement = select(annotations).where(annotations.c.session_id == session_id)
        if not include_undone:
            statement = statement.where(annotations.c.undone.is_(False))
        return self.db.read(lambda tx: [_annotation_from_values(row.id, row._mapping)
                                        for row in tx.execute(statement.order_by(annotations.c.id))])

    def answered_points(self, session_id: str) -> list[Mark]:
        """(point_id, label or None for a skip, annotator, resolved_by) of every answer not undone, oldest first.

        The light form of :meth:`annotations` for the per-query bookkeeping: it
        does not decode the stored direction vectors.
        """
        statement = (
            select(annotations.c.point_id, annotations.c.label, annotations.c.annotator, annotations.c.resolved_by)
            .where(annotations.c.session_id == session_id, annotations.c.undone.is_(False))
            .order_by(annotations.c.id)
        )
        return self.db.read(lambda tx: [Mark(*row) for row in tx.execute(statement)])

    def log_state(self, session_id: str) -> tuple[int, int, int]:
        """(answers, answers undone, newest answer id): changes whenever the log does (cheap to poll)."""
        row = self.db.read(lambda tx: tx.execute(
            select(func.count(), func.sum(annotations.c.undone.cast(INTEGER)), func.max(annotations.c.id))
            .where(annotations.c.session_id == session_id)).one())
        return int(row[0]), int(row[1] or 0), int(row[2] or 0)

    def last_round(self, session_id: str) -> int:
        """The highest round any answer of the session was stored with (0: none yet)."""
        return int(self.db.read(lambda tx: tx.execute(
            select(func.max(annotations.c.round)).where(annotations.c.session_id == session_id)
        ).scalar()) or 0)

    def count_annotations(self, session_id: str) -> int:
        return self.db.read(lambda tx: tx.execute(
            select(func.count()).select_from(annotations).where(annotations.c.session_id == session_id)
        ).scalar_one())

    # -------------------------------------------------------------- evaluations
    def add_evaluation(
        self, session_id: str, *, model_version: int, n_labeled: int, n_directions: int,
        accuracy: float | None, train_seconds: float, kind: str | None = None, n_evaluated: int | None = None,
    ) -> None:
        version = (evaluations.c.session_id == session_id) & (evaluations.c.model_version == model_version)

        def add(tx: Transaction) -> bool:
            tx.execute(evaluations.insert().values(
                session_id=session_id, model_version=model_version, n_labeled=n_labeled,
                n_directions=n_directions, accuracy=accuracy, train_seconds=train_seconds, created_at=tx.now,
                kind=kind, n_evaluated=n_evaluated,
            ))
            return True

        self.db.write(add, landed=lambda tx, _: tx.execute(select(evaluations.c.id).where(version)).first() and True)

    def latest_evaluation(self, session_id: str) -> dict:
        """The newest measured evaluation: {"kind", "accuracy", "n", "model_version", "n_labeled"}
        ({"kind": "none", ...} when no model was measured yet)."""
        row = self.db.read(lambda tx: tx.execute(
            select(evaluations).where(evaluations.c.session_id == session_id, evaluations.c.accuracy.is_not(None))
            .order_by(evaluations.c.id.desc()).limit(1)
        ).first())
        if row is None:
            return {"kind": "none", "accuracy": None, "n": 0, "model_version": None, "n_labeled": 0}
        return {"kind": row.kind or "test", "accuracy": row.accuracy, "n": row.n_evaluated,
                "model_version": row.model_version, "n_labeled": row.n_labeled}

    def evaluation_history(self, session_id: str) -> list[dict]:
        return self.db.read(lambda tx: [dict(row._mapping) for row in tx.execute(
            select(evaluations).where(evaluations.c.session_id == session_id).order_by(evaluations.c.id))])

    def close(self) -> None:
        self.db.dispose()


def _json(value):
    return json.loads(value) if isinstance(value, str) else value  # some drivers hand JSON back as text


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
        resolved_by=values.get("resolved_by"),
    )
