"""Leases: which pool point may be handed to whom, and the handing out.

A point handed to an annotator (an open query) is handed to no one else until
it is answered, skipped, released, or its lease runs out. A point answered
with a label is not handed out again (a relabel is asked for explicitly), and
a point an annotator skipped is not handed back to them.

The rules live here, in one place, with one lock per session that the session
holds while it chooses and hands out points, so two annotators of one process
never get the same point.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Sequence

import numpy as np

from loop.errors import SessionError
from loop.store import QueryRecord, Store

MAX_QUERY_ID_CHARS = 64


class Leases:
    """The leases of one session's pool (N points, of which ``pool`` may be asked)."""

    def __init__(self, store: Store, session_id: str, pool: np.ndarray, n_points: int,
                 lease_seconds: float) -> None:
        self.store = store
        self.session_id = session_id
        self.lease_seconds = lease_seconds
        self.pool_mask = np.zeros(n_points, dtype=bool)
        self.pool_mask[pool] = True
        self.lock = threading.RLock()  # held while a point is chosen and handed out

    def held_by(self, annotator: str) -> list[QueryRecord]:
        """The annotator's open queries whose lease still runs, oldest first."""
        now = time.time()
        return [q for q in self.store.open_queries(self.session_id) if q.annotator == annotator and q.lease_until > now]

    def available(self, annotator: str) -> np.ndarray:
        """(N,) mask of the pool points that may be handed to ``annotator`` now."""
        now = time.time()
        available = self.pool_mask.copy()
        for point_id, label, by in self.store.answered_points(self.session_id):
            if label is not None or by == annotator:
                available[point_id] = False
        for query in self.store.open_queries(self.session_id):
            if query.lease_until > now:
                available[query.point_id] = False
        return available

    def hand_out(self, annotator: str, point_ids: Sequence[int], scores: Sequence[float | None],
                 model_version: int) -> list[QueryRecord]:
        """Lease ``point_ids`` to ``annotator`` (call with :attr:`lock` held, after :meth:`available`)."""
        return [
            self.store.add_query(self.session_id, uuid.uuid4().hex, int(point_id), annotator,
                                 self.lease_seconds, model_version, _finite_or_none(score))
            for point_id, score in zip(point_ids, scores)
        ]

    def reopen(self, annotator: str, point_id: int, model_version: int) -> QueryRecord:
        """Release the annotator's open queries and lease ``point_id`` to them again (undo)."""
        with self.lock:
            for query in self.store.open_queries(self.session_id):
                if query.annotator == annotator:
                    self.store.release_query(self.session_id, query.id)
            return self.hand_out(annotator, [point_id], [None], model_version)[0]

    def lease_point(self, annotator: str, point_id: int, model_version: int) -> QueryRecord:
        """A query for any pool point, answered or not (a relabel)."""
        point_id = int(point_id)
        if not (0 <= point_id < len(self.pool_mask) and self.pool_mask[point_id]):
            raise SessionError(f"point {point_id} is not in the pool")
        with self.lock:
            return self.hand_out(annotator, [point_id], [None], model_version)[0]

    def record(self, query_id: str) -> QueryRecord:
        """The query named ``query_id``; a SessionError when there is none."""
        text = str(query_id)
        # longer than any stored id, or with a NUL (which PostgreSQL refuses in text): unknown too
        record = None
        if len(text) <= MAX_QUERY_ID_CHARS and "\x00" not in text:
            record = self.store.query(self.session_id, text)
        if record is None:
            raise SessionError(f"unknown query id {query_id!r:.80}")
        return record

    def answerable(self, query_id: str, annotator: str) -> QueryRecord:
        """The open query ``query_id`` of ``annotator``; a SessionError when it may not be answered."""
        record = self.record(query_id)
        if record.status != "open":
            raise SessionError(f"query {query_id} was already {record.status}")
        if record.annotator != annotator:
            raise SessionError(f"query {query_id} belongs to {record.annotator!r}, not {annotator!r}")
        return record


def _finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
