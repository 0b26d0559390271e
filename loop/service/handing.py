"""The page's own ways of handing out points, beside the session's ``next_queries``.

A page prepares each tab's next query while the person looks at the current
one (:func:`propose`: chosen, not leased, so preparing never holds a second
lease), leases it when the answer comes (:func:`claim`; by then it may have
gone to someone else), and gives a query back when a tab's annotator changes
(:func:`release`). The lease rules are the session's (:mod:`nudge.loop.session.leasing`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from nudge.loop.session.answers import check_annotator
from nudge.loop.session.records import Query
from nudge.loop.session.session import Session
from nudge.loop.training.ranking import choose_queries


@dataclass(frozen=True)
class Proposal:
    """A point chosen for an annotator but not leased to them (see :func:`propose`)."""

    point_id: int
    score: float | None
    model_version: int  # the model that chose it


def propose(session: Session, annotator: str, n: int = 1, *, exclude: Sequence[int] = ()) -> list[Proposal]:
    """Choose up to n points for ``annotator`` with the session's current model, without leasing them.

    The points are those ``session.next_queries`` could hand out now (not
    labelled, not answered or skipped by ``annotator``, not leased to anyone),
    minus ``exclude`` (e.g. points prepared for other tabs): the best free ones
    of the model's ranking when the trainer keeps one, else chosen afresh.
    Nothing is stored and nothing is reserved.
    """
    annotator = check_annotator(annotator)
    snapshot, ranking = session.model, session.trainer.ranking
    excluded = {int(point) for point in exclude}
    if ranking is not None and ranking.version == snapshot.version:
        candidates = [(point, score) for point, score in ranking.candidates() if point not in excluded]
        free = session.leases.free(annotator, candidates, n)
        if len(free) == n:
            return [Proposal(point, _finite_or_none(score), snapshot.version) for point, score in free]
    available = session.leases.available(annotator)
    available[[point for point in excluded if 0 <= point < len(available)]] = False
    count = min(n, int(available.sum()))
    if count < 1:
        return []
    config = session.config
    indices, scores = choose_queries(snapshot, session.dataset.X, count, config.strategy, config.seed, available)
    return [Proposal(int(i), _finite_or_none(s), snapshot.version) for i, s in zip(indices, scores)]


def claim(session: Session, annotator: str, point_id: int, *, score: float | None = None,
          model_version: int | None = None, client: str | None = None, plane: bytes | None = None) -> Query | None:
    """Lease ``point_id`` to ``annotator`` if ``session.next_queries`` could hand it to them now.

    Returns the new query, or None when the point was labelled, answered by
    them or leased meanwhile. ``score`` and ``model_version`` record what chose
    the point (a :class:`Proposal`'s); the version defaults to the current model.
    ``plane``: the basis of the plane the point is shown in (kept with the query).
    The check and the lease happen in one database transaction.
    """
    annotator = check_annotator(annotator)
    point_id = int(point_id)
    if not session.leases.in_pool(point_id):
        return None  # not a pool point: never handed out
    snapshot = session.model
    version = snapshot.version if model_version is None else model_version
    claimed = session.leases.claim_ranked(annotator, 1, [(point_id, score)], version, client, plane)
    return session.describe(claimed[0], snapshot) if claimed else None


def release(session: Session, query_id: str, *, annotator: str) -> None:
    """Give ``annotator``'s open query back unanswered: its point may go to anyone again
    (a tab whose annotator's name changed while it showed the query)."""
    annotator = check_annotator(annotator)
    session.leases.release(session.leases.answerable(query_id, annotator))


def _finite_or_none(value) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None
