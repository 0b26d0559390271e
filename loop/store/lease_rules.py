"""The lease rules, as statements run inside one transaction (by :mod:`nudge.loop.store.queries` and the answer log).

Who holds a point, which points are free for an annotator, how many more one may
be leased, whether an answer may still be taken: each function reads or writes
through the :class:`nudge.loop.store.database.Transaction` it is given and judges leases by
that transaction's one ``now`` (read once the lock is held), never by a clock
of its own.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import func, select, update

from nudge.loop.errors import SessionError, StoreError
from nudge.loop.store.database import Transaction
from nudge.loop.store.limits import quoted
from nudge.loop.store.overlap import Mark, Overlap
from nudge.loop.store.schema import annotations, queries

FREE_CHECK_BATCH = 64  # candidates checked per pair of statements


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
    reopens: int | None = None  # the undone answer (its annotation id) this query gives back, if it does


@dataclass(frozen=True)
class LeaseLimits:
    """How many unexpired open points one annotator, and one client address, may hold at once.

    None: no limit (scripted sessions). ``nudge serve`` sets both, so that no
    one can hoard the pool, under one name or under many from one address.
    """

    per_annotator: int | None = None
    per_client: int | None = None


def insert_query(tx: Transaction, session_id: str, query_id: str, point_id: int, annotator: str,
                 lease_seconds: float, model_version: int, score: float | None,
                 client: str | None, plane: bytes | None = None, reopens: int | None = None) -> QueryRecord:
    now = tx.now
    score = None if score is None or not np.isfinite(float(score)) else float(score)
    record = QueryRecord(query_id, int(point_id), annotator, now, now + lease_seconds, model_version, score, "open",
                         reopens)
    tx.execute(
        queries.insert().values(
            id=record.id, session_id=session_id, point_id=record.point_id, annotator=annotator,
            issued_at=now, lease_until=record.lease_until, model_version=model_version,
            score=record.score, status="open", client=client, plane=plane, reopens=reopens,
        )
    )
    return record


def holder(tx: Transaction, session_id: str, point_id: int, *, besides: str | None = None) -> str | None:
    """Who holds an unexpired open lease on the point (other than query ``besides``), if anyone."""
    statement = select(queries.c.annotator).where(
        queries.c.session_id == session_id, queries.c.point_id == int(point_id),
        queries.c.status == "open", queries.c.lease_until > tx.now,
    )
    if besides is not None:
        statement = statement.where(queries.c.id != besides)
    return tx.execute(statement.limit(1)).scalar()


def free_ones(tx: Transaction, session_id: str, candidates: Iterable[tuple[int, float | None]],
              annotator: str, overlap: Overlap = Overlap()) -> Iterator[tuple[int, float | None]]:
    """The candidates free for ``annotator`` now, in their order, each once; checked a batch at a
    time (two statements per batch, however many of them are leased or labelled), lazily: a
    caller that stops early checks no further batch. A point ``overlap`` shares stays free for
    others until enough different annotators labelled it."""
    remaining, seen = iter(candidates), set()
    while batch := list(itertools.islice(remaining, FREE_CHECK_BATCH)):
        taken = _not_free_among(tx, session_id, [int(point_id) for point_id, _ in batch], annotator, overlap)
        for point_id, score in batch:
            if int(point_id) not in taken and int(point_id) not in seen:
                seen.add(int(point_id))
                yield int(point_id), score


def _not_free_among(tx: Transaction, session_id: str, point_ids: list[int], annotator: str,
                    overlap: Overlap) -> set[int]:
    """Those of ``point_ids`` with an unexpired open lease, labelled enough (:meth:`Overlap.done`),
    or passed on (or answered) by ``annotator``."""
    held = select(queries.c.point_id).where(
        queries.c.session_id == session_id, queries.c.point_id.in_(point_ids),
        queries.c.status == "open", queries.c.lease_until > tx.now,
    )
    taken = {int(point_id) for point_id in tx.execute(held).scalars()}
    answers: dict[int, list[Mark]] = defaultdict(list)
    for mark in _marks(tx, session_id, point_ids):
        answers[mark.point_id].append(mark)
    return taken | {point_id for point_id, given in answers.items()
                    if any(mark.annotator == annotator for mark in given) or overlap.done(point_id, given)}


def _marks(tx: Transaction, session_id: str, point_ids: list[int]) -> list[Mark]:
    """The answers not undone on ``point_ids``, oldest first, without their directions."""
    rows = tx.execute(
        select(annotations.c.point_id, annotations.c.label, annotations.c.annotator, annotations.c.resolved_by)
        .where(annotations.c.session_id == session_id, annotations.c.point_id.in_(point_ids),
               annotations.c.undone.is_(False))
        .order_by(annotations.c.id))
    return [Mark(int(row.point_id), row.label, row.annotator, row.resolved_by) for row in rows]


def room(tx: Transaction, session_id: str, annotator: str, client: str | None, limits: LeaseLimits,
         count: int) -> int:
    """How many more points ``annotator`` may be leased now (at most ``count``).

    At a limit, an annotator who holds open points gets those back (the caller's
    business); one who holds none is refused with a SessionError saying why.
    """
    held = select(func.count()).select_from(queries).where(
        queries.c.session_id == session_id, queries.c.status == "open", queries.c.lease_until > tx.now,
    )
    mine = tx.execute(held.where(queries.c.annotator == annotator)).scalar_one()
    left, why = count, ""
    if limits.per_annotator is not None:
        left = min(left, limits.per_annotator - mine)
        why = f"{annotator!r} already holds {mine} open points (the limit is {limits.per_annotator})"
    if limits.per_client is not None and client is not None:
        theirs = tx.execute(held.where(queries.c.client == client)).scalar_one()
        if limits.per_client - theirs < left:
            left = limits.per_client - theirs
            why = (f"this address already holds {theirs} open points under one name or several "
                   f"(the limit is {limits.per_client})")
    if left <= 0 and mine == 0:
        raise SessionError(f"{why}; answer or skip some first")
    return max(left, 0)


def check_answerable(tx: Transaction, session_id: str, query_id: str, annotator: str, point_id: int,
                     overlap: Overlap = Overlap()) -> None:
    """Refuse (SessionError) an answer to a query that is not open, not the annotator's, for
    another point, or whose lease ran out and whose point someone else holds or labelled."""
    row = tx.execute(
        select(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
    ).first()
    if row is None:
        raise SessionError(f"query {quoted(query_id)} is unknown")
    if row.status != "open":
        raise SessionError(f"query {query_id} was already {row.status}")
    if row.annotator != annotator:
        raise SessionError(f"query {query_id} belongs to {row.annotator!r}, not {annotator!r}")
    if row.point_id != point_id:
        raise StoreError(f"query {query_id} is for point {row.point_id}, not {point_id}; nothing was saved")
    if row.lease_until >= tx.now:
        return
    if holder(tx, session_id, point_id, besides=query_id) is not None or labelled(tx, session_id, point_id, overlap):
        raise SessionError(
            f"your time on point {point_id} ran out and it went to someone else meanwhile; "
            "nothing was saved — take the next point"
        )


def labelled(tx: Transaction, session_id: str, point_id: int, overlap: Overlap = Overlap()) -> bool:
    """True when the point is labelled enough to go to no one else (:meth:`Overlap.done`)."""
    return overlap.done(point_id, _marks(tx, session_id, [point_id]))


def release(tx: Transaction, session_id: str, which) -> None:
    tx.execute(
        update(queries).where(queries.c.session_id == session_id, queries.c.status == "open", which)
        .values(status="released", closed_at=tx.now)
    )


def query_from_row(row) -> QueryRecord:
    return QueryRecord(
        row.id, row.point_id, row.annotator, row.issued_at, row.lease_until,
        row.model_version, row.score, row.status, row.reopens,
    )


def queries_found(tx: Transaction, session_id: str, query_ids: list[str]) -> list[QueryRecord]:
    """The stored queries among ``query_ids``, in their order (how a write tells whether it landed)."""
    rows = tx.execute(select(queries).where(queries.c.session_id == session_id, queries.c.id.in_(query_ids)))
    found = {row.id: query_from_row(row) for row in rows}
    return [found[query_id] for query_id in query_ids if query_id in found]
