"""One session's queries: the points handed to annotators, their leases and the planes they are shown in.

The writes that hand out a point run in a session-locked transaction
(:meth:`nudge.loop.store.database.Database.write`) that checks and writes together, judging leases
by the transaction's own time (:mod:`nudge.loop.store.lease_rules`), so any number of processes on
one database never hand a point to two annotators at once. Each write says how to tell whether it
landed when the connection is lost as it commits (by its query ids, made before the first attempt).
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterable

from sqlalchemy import select, update

from nudge.loop.errors import SessionError
from nudge.loop.store import lease_rules as rules
from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.lease_rules import LeaseLimits, QueryRecord
from nudge.loop.store.overlap import Overlap
from nudge.loop.store.schema import queries

Candidates = Iterable[tuple[int, float | None]]  # (point id, score), best first


class QueryLeases:
    """The queries of the session ``session_id`` in the database ``db``; ``overlap``: the points that go
    to several annotators (free for others until enough of them labelled it)."""

    def __init__(self, db: Database, session_id: str, overlap: Overlap = Overlap()) -> None:
        self.db = db
        self.session_id = session_id
        self.overlap = overlap

    def claim_queries(self, annotator: str, candidates: Candidates, count: int, *, lease_seconds: float,
                      model_version: int, client: str | None = None, limits: LeaseLimits = LeaseLimits(),
                      plane: bytes | None = None) -> list[QueryRecord]:
        """Lease to ``annotator`` up to ``count`` of the ``candidates`` (point id, score), best first,
        that are free now: no unexpired open lease, no label, not passed on by this annotator.

        Checks and leases in one session-locked transaction, so no point is leased
        twice whatever the number of processes. Refuses with a SessionError when the
        annotator (or the client address) already holds as many open points as
        ``limits`` allow. Returns fewer than ``count`` when the candidates run out.
        ``plane``: the basis of the plane the (one) candidate is shown in, stored with its query.
        """
        candidates = list(candidates)  # an attempt run again reads them again
        query_ids = [uuid.uuid4().hex for _ in range(count)]  # the same in every attempt: found if one landed

        def claim(tx: Transaction) -> list[QueryRecord]:
            left = rules.room(tx, self.session_id, annotator, client, limits, count)
            free = itertools.islice(rules.free_ones(tx, self.session_id, candidates, annotator, self.overlap), left)
            return [rules.insert_query(tx, self.session_id, query_id, point_id, annotator, lease_seconds,
                                       model_version, score, client, plane)
                    for query_id, (point_id, score) in zip(query_ids, free)]

        return self.db.write(claim, lock=self.session_id,
                             landed=lambda tx, tried: rules.queries_found(tx, self.session_id, [q.id for q in tried])
                             if tried else None)

    def free_points(self, annotator: str, candidates: Candidates, count: int) -> list[tuple[int, float | None]]:
        """The first ``count`` candidates that :meth:`claim_queries` would lease to ``annotator`` now
        (read only: by the time one is claimed it may be taken)."""
        candidates = list(candidates)  # an attempt run again reads them again
        return self.db.read(lambda tx: list(itertools.islice(
            rules.free_ones(tx, self.session_id, candidates, annotator, self.overlap), count)))

    def lease_point(self, annotator: str, point_id: int, *, lease_seconds: float, model_version: int,
                    client: str | None = None) -> QueryRecord:
        """A query for ``point_id`` whether answered or not (a relabel), unless someone else holds it now."""
        query_id = uuid.uuid4().hex

        def lease(tx: Transaction) -> QueryRecord:
            held_by = rules.holder(tx, self.session_id, point_id)
            if held_by is not None and held_by != annotator:
                raise SessionError(f"point {point_id} is being annotated by someone else right now; try later")
            return rules.insert_query(tx, self.session_id, query_id, point_id, annotator, lease_seconds,
                                      model_version, None, client)

        return self.db.write(lease, lock=self.session_id, landed=lambda tx, _: next(
            iter(rules.queries_found(tx, self.session_id, [query_id])), None))

    def keep_plane(self, query_id: str, plane: bytes) -> bytes:
        """Store the basis of the plane a query is shown in, unless one is stored already (the first
        picture of a query is the one its clicks are read in, by any server). Returns the stored one."""
        this_query = (queries.c.session_id == self.session_id) & (queries.c.id == query_id)

        def keep(tx: Transaction) -> bytes:
            tx.execute(update(queries).where(this_query, queries.c.plane.is_(None)).values(plane=plane))
            return tx.execute(select(queries.c.plane).where(this_query)).scalar()

        return self.db.write(keep)

    def query_plane(self, query_id: str) -> tuple[int, bytes] | None:
        """(point id, stored plane basis) of a query, None when it has no stored plane."""
        row = self.db.read(lambda tx: tx.execute(
            select(queries.c.point_id, queries.c.plane)
            .where(queries.c.session_id == self.session_id, queries.c.id == query_id)).first())
        return None if row is None or row.plane is None else (int(row.point_id), bytes(row.plane))

    def query(self, query_id: str) -> QueryRecord | None:
        found = self.db.read(lambda tx: rules.queries_found(tx, self.session_id, [query_id]))
        return found[0] if found else None

    def open_queries(self, annotator: str | None = None, *, unexpired: bool = False) -> list[QueryRecord]:
        """Open queries, oldest first: only ``annotator``'s when given; only those whose lease still
        runs (by the database's time) when ``unexpired``."""
        def read(tx: Transaction) -> list[QueryRecord]:
            statement = select(queries).where(queries.c.session_id == self.session_id, queries.c.status == "open")
            if annotator is not None:
                statement = statement.where(queries.c.annotator == annotator)
            if unexpired:
                statement = statement.where(queries.c.lease_until > tx.now)
            return [rules.query_from_row(row) for row in tx.execute(statement.order_by(queries.c.issued_at))]

        return self.db.read(read)

    def release_query(self, query_id: str) -> None:
        self.db.write(lambda tx: rules.release(tx, self.session_id, queries.c.id == query_id), lock=self.session_id)
