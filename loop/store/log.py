"""One session's answer log: the source of truth of a session (:class:`AnswerLog`), and its evaluations.

Every write happens in its own transaction and is committed before the call returns: once
:meth:`AnswerLog.add_annotation` returns, the answer survives a kill -9. An answer is written in a
session-locked transaction that checks its query's lease and closes it (:mod:`nudge.loop.store.lease_rules`),
so an answer counts only for a lease that is still its annotator's; when the connection is lost as
it commits, its query id tells whether it landed. Trainers, stopping criteria and pages read the
log through this narrow view. The tables are described in :mod:`nudge.loop.store.schema`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import INTEGER, func, select, update

from nudge.loop.errors import StoreError
from nudge.loop.store import lease_rules as rules
from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.evaluations import Evaluations
from nudge.loop.store.lease_rules import QueryRecord
from nudge.loop.store.overlap import Mark, Overlap
from nudge.loop.store.schema import DIRECTION_SOURCES, annotations, queries, stored_json


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


class AnswerLog:
    """The answers (and evaluations) of the session ``session_id`` in the database ``db``; ``overlap``
    says which points go to several annotators, and so when a point's answers settle it
    (:mod:`nudge.loop.store.overlap`)."""

    def __init__(self, db: Database, session_id: str, overlap: Overlap = Overlap()) -> None:
        self.db = db
        self.session_id = session_id
        self.overlap = overlap
        self.evaluations = Evaluations(db, session_id)

    def add_annotation(
        self,
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
    ) -> Annotation:
        """Write one answer and close its query, in one session-locked, committed transaction.

        ``towards``: per direction, the item id it moves towards (None where it does not).
        ``resolved_by``: the lead whose review this is (an answer without a query).

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
            session_id=self.session_id, query_id=query_id, point_id=int(point_id),
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
                rules.check_answerable(tx, self.session_id, query_id, annotator, int(point_id), self.overlap)
                tx.execute(update(queries).where(queries.c.session_id == self.session_id, queries.c.id == query_id)
                           .values(status="skipped" if label is None else "answered", closed_at=tx.now))
            new_id = tx.execute(annotations.insert().values(**row)).inserted_primary_key[0]
            return _annotation_from_values(new_id, row)

        def landed(tx: Transaction, _) -> Annotation | None:
            if query_id is None:
                raise StoreError("not known whether it was saved: the connection was lost as it was being saved")
            row = tx.execute(select(annotations).where(annotations.c.session_id == self.session_id,
                                                       annotations.c.query_id == query_id)).first()
            return None if row is None else _annotation_from_values(row.id, row._mapping)

        return self.db.write(store, lock=self.session_id, landed=landed)

    def undo_last(self, annotator: str, *, lease_seconds: float, model_version: int,
                  client: str | None = None) -> tuple[Annotation, QueryRecord | None] | None:
        """Undo ``annotator``'s last active answer and lease its point back to them, atomically.

        The annotator's other open queries are released. Returns (the undone answer,
        the new query), the query None when someone else holds the point now or
        labelled it since (an undone skip); None when there is nothing to undo.
        """
        query_id = uuid.uuid4().hex

        def undo(tx: Transaction) -> tuple[Annotation, QueryRecord | None] | None:
            row = tx.execute(
                select(annotations)
                .where(annotations.c.session_id == self.session_id, annotations.c.annotator == annotator,
                       annotations.c.undone.is_(False))
                .order_by(annotations.c.id.desc()).limit(1)
            ).first()
            if row is None:
                return None
            undone = _annotation_from_values(row.id, row._mapping)
            tx.execute(update(annotations).where(annotations.c.id == row.id).values(undone=True))
            rules.release(tx, self.session_id, queries.c.annotator == annotator)
            taken = (rules.holder(tx, self.session_id, undone.point_id) is not None
                     or rules.labelled(tx, self.session_id, undone.point_id, self.overlap))  # labelled by someone since
            record = None if taken else rules.insert_query(tx, self.session_id, query_id, undone.point_id, annotator,
                                                           lease_seconds, model_version, None, client,
                                                           reopens=undone.id)
            return undone, record

        def landed(tx: Transaction, tried):
            if tried is None:
                return None  # nothing was undone: looking again does no harm
            undone, record = tried
            done = tx.execute(select(annotations.c.undone).where(annotations.c.id == undone.id)).scalar()
            return (undone, record and rules.queries_found(tx, self.session_id, [record.id])[0]) if done else None

        return self.db.write(undo, lock=self.session_id, landed=landed)

    def annotations(self, *, include_undone: bool = True) -> list[Annotation]:
        """Every answer, in the order they were made."""
        statement = select(annotations).where(annotations.c.session_id == self.session_id)
        if not include_undone:
            statement = statement.where(annotations.c.undone.is_(False))
        return self.db.read(lambda tx: [_annotation_from_values(row.id, row._mapping)
                                        for row in tx.execute(statement.order_by(annotations.c.id))])

    def annotation(self, annotation_id: int) -> Annotation | None:
        """The answer stored under ``annotation_id`` in this session (None: there is none)."""
        statement = select(annotations).where(annotations.c.session_id == self.session_id,
                                              annotations.c.id == int(annotation_id))
        row = self.db.read(lambda tx: tx.execute(statement).first())
        return None if row is None else _annotation_from_values(row.id, row._mapping)

    def answered_points(self) -> list[Mark]:
        """(point_id, label or None for a skip, annotator, resolved_by) of every answer not undone, oldest first.

        The light form of :meth:`annotations` for the per-query bookkeeping: it
        does not decode the stored direction vectors.
        """
        statement = (
            select(annotations.c.point_id, annotations.c.label, annotations.c.annotator, annotations.c.resolved_by)
            .where(annotations.c.session_id == self.session_id, annotations.c.undone.is_(False))
            .order_by(annotations.c.id)
        )
        return self.db.read(lambda tx: [Mark(*row) for row in tx.execute(statement)])

    def state(self) -> tuple[int, int, int]:
        """(answers, answers undone, newest answer id): changes whenever the log does (cheap to poll)."""
        row = self.db.read(lambda tx: tx.execute(
            select(func.count(), func.sum(annotations.c.undone.cast(INTEGER)), func.max(annotations.c.id))
            .where(annotations.c.session_id == self.session_id)).one())
        return int(row[0]), int(row[1] or 0), int(row[2] or 0)

    def last_round(self) -> int:
        """The highest round an answer was stored with (0: none yet)."""
        return int(self.db.read(lambda tx: tx.execute(
            select(func.max(annotations.c.round)).where(annotations.c.session_id == self.session_id)
        ).scalar()) or 0)

    def count(self) -> int:
        """Answers ever given, undone ones included."""
        return self.db.read(lambda tx: tx.execute(
            select(func.count()).select_from(annotations).where(annotations.c.session_id == self.session_id)
        ).scalar_one())

    def effective(self) -> list[Annotation]:
        """Per settled point, the answer training takes (its latest label; on a shared point, the
        agreeing or resolved one: :meth:`Overlap.settled`); by annotation id."""
        settled = self.overlap.settled(self.annotations(include_undone=False))
        return sorted(settled.values(), key=lambda a: a.id)

    def labelled_points(self) -> dict[int, int]:
        """Point id -> class index of every settled point (see :meth:`effective`)."""
        return {point_id: mark.label for point_id, mark in self.overlap.settled(self.answered_points()).items()}

    def disagreements(self) -> dict[int, list[Annotation]]:
        """Shared points whose annotators' labels differ and that no one resolved: point id -> each
        annotator's newest label, oldest first (:meth:`Overlap.disagreements`)."""
        return self.overlap.disagreements(self.annotations(include_undone=False))


def _annotation_from_values(annotation_id: int, values) -> Annotation:
    return Annotation(
        id=int(annotation_id),
        query_id=values["query_id"],
        point_id=int(values["point_id"]),
        label=values["label"],
        directions=[np.asarray(d, dtype=float) for d in stored_json(values["directions"])],
        targets=[int(t) for t in values["targets"]],
        sources=list(values["sources"]),
        rewrite=values["rewrite"],
        annotator=values["annotator"],
        created_at=float(values["created_at"]),
        model_version=int(values["model_version"]),
        round=int(values["round"]),
        undone=bool(values["undone"]),
        towards=stored_json(values.get("towards")),
        resolved_by=values.get("resolved_by"),
    )
