"""Leases: which pool point may be handed to whom, and the handing out.

A point handed to an annotator (an open query) is handed to no one else until
it is answered, skipped, released, or its lease runs out. A point answered
with a label is not handed out again (a relabel is asked for explicitly), and
a point an annotator skipped is not handed back to them. ``limits`` caps the
open points one annotator, and one client address, may hold. With ``overlap``,
some points go to several different annotators, one at a time, never twice to
one (:mod:`nudge.loop.store.overlap`).

The rules are checked where they are enforced: in the database, in the same
transaction that leases a point (:meth:`nudge.loop.store.queries.QueryLeases.claim_queries`), so
they hold across any number of processes on one database. This class chooses
the candidates and asks the store for them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nudge.loop.errors import SessionError
from nudge.loop.store.lease_rules import LeaseLimits, QueryRecord
from nudge.loop.store.limits import MAX_QUERY_ID_CHARS, quoted
from nudge.loop.store.overlap import Overlap
from nudge.loop.store.store import Store

CLAIM_ATTEMPTS = 3  # candidates taken by another process meanwhile: choose again, at most this often

Chooser = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]  # (available mask, count) -> (ids, scores)


class Leases:
    """The leases of one session's pool (N points, of which ``pool`` may be asked)."""

    def __init__(self, store: Store, session_id: str, pool: np.ndarray, n_points: int,
                 lease_seconds: float, limits: LeaseLimits = LeaseLimits(), overlap: Overlap = Overlap()) -> None:
        self.queries = store.queries(session_id, overlap)
        self.log = store.log(session_id, overlap)
        self.lease_seconds = lease_seconds
        self.limits = limits
        self.overlap = overlap
        self.pool_mask = np.zeros(n_points, dtype=bool)
        self.pool_mask[pool] = True

    def held_by(self, annotator: str) -> list[QueryRecord]:
        """The annotator's open queries whose lease still runs, oldest first."""
        return self.queries.open_queries(annotator, unexpired=True)

    def unlabelled(self) -> np.ndarray:
        """(N,) mask of the pool points not labelled enough (by anyone; by enough people, for a point
        given to several; leases and skips not considered)."""
        unlabelled = self.pool_mask.copy()
        unlabelled[list(self.overlap.done_points(self.log.answered_points()))] = False
        return unlabelled

    def available(self, annotator: str) -> np.ndarray:
        """(N,) mask of the pool points that may be handed to ``annotator`` now."""
        answers = self.log.answered_points()
        available = self.pool_mask.copy()
        available[list(self.overlap.done_points(answers))] = False
        available[[mark.point_id for mark in answers if mark.annotator == annotator]] = False
        for query in self.queries.open_queries(unexpired=True):
            available[query.point_id] = False
        return available

    def hand_out(self, annotator: str, count: int, choose: Chooser, model_version: int,
                 client: str | None = None) -> list[QueryRecord]:
        """Lease ``count`` points chosen by ``choose`` (best first), or fewer when the pool runs out.

        ``choose(available, k)`` picks k of the available points. Another process
        may lease some of them first; then the rest are chosen again.
        """
        claimed: list[QueryRecord] = []
        for _ in range(CLAIM_ATTEMPTS):
            available = self.available(annotator)
            wanted = min(count - len(claimed), int(available.sum()))
            if wanted <= 0:
                break
            indices, scores = choose(available, wanted)
            claimed += self.claim_ranked(annotator, wanted, list(zip(indices.tolist(), np.asarray(scores).tolist())),
                                         model_version, client)
            if len(claimed) == count:
                break
        return claimed

    def free(self, annotator: str, candidates: list[tuple[int, float]], count: int) -> list[tuple[int, float]]:
        """The first ``count`` of ``candidates`` free for ``annotator`` now (nothing is leased)."""
        return self.queries.free_points(annotator, candidates, count)

    def claim_ranked(self, annotator: str, count: int, candidates: list[tuple[int, float]], model_version: int,
                     client: str | None = None, plane: bytes | None = None) -> list[QueryRecord]:
        """Lease up to ``count`` of ranked ``candidates`` (best first) that are free now (see
        :meth:`nudge.loop.store.queries.QueryLeases.claim_queries`, which checks each one as it leases it)."""
        return self.queries.claim_queries(
            annotator, candidates, count, lease_seconds=self.lease_seconds,
            model_version=model_version, client=client, limits=self.limits, plane=plane,
        )

    def release(self, record: QueryRecord) -> None:
        """Give an open query back unanswered: its point may go to anyone again."""
        self.queries.release_query(record.id)

    def reopen(self, annotator: str, model_version: int, client: str | None = None):
        """Undo the annotator's last answer (see :meth:`nudge.loop.store.log.AnswerLog.undo_last`)."""
        return self.log.undo_last(annotator, lease_seconds=self.lease_seconds,
                                  model_version=model_version, client=client)

    def in_pool(self, point_id: int) -> bool:
        """True when ``point_id`` names a pool point (any other integer: False)."""
        return 0 <= point_id < len(self.pool_mask) and bool(self.pool_mask[point_id])

    def lease_point(self, annotator: str, point_id: int, model_version: int,
                    client: str | None = None) -> QueryRecord:
        """A query for any pool point, answered or not (a relabel)."""
        point_id = int(point_id)
        if not self.in_pool(point_id):
            raise SessionError(f"point {point_id} is not in the pool")
        return self.queries.lease_point(annotator, point_id, lease_seconds=self.lease_seconds,
                                        model_version=model_version, client=client)

    def record(self, query_id: str) -> QueryRecord:
        """The query named ``query_id``; a SessionError when there is none."""
        text = str(query_id)
        # longer than any stored id, or with a NUL (which PostgreSQL refuses in text): unknown too
        record = None
        if len(text) <= MAX_QUERY_ID_CHARS and "\x00" not in text:
            record = self.queries.query(text)
        if record is None:
            raise SessionError(f"unknown query id {quoted(query_id)}")
        return record

    def answerable(self, query_id: str, annotator: str) -> QueryRecord:
        """The open query ``query_id`` of ``annotator``; a SessionError when it may not be answered.

        The store checks again, with the lease, in the transaction that stores the answer.
        """
        record = self.record(query_id)
        if record.status != "open":
            raise SessionError(f"query {query_id} was already {record.status}")
        if record.annotator != annotator:
            raise SessionError(f"query {query_id} belongs to {record.annotator!r}, not {annotator!r}")
        return record
