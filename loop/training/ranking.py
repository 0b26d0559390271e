"""The pool ranked once per model version, off the request path.

Scoring a pool costs time that grows with it (about 4 us a point for 384-d
embeddings, seconds at 10^6 texts). A served session scores it once for each
model version, in its trainer's thread, and keeps the best
:data:`RANKING_SIZE` candidates in the order the strategy gives them (best
first; farthest-first for diverse batches; coverage order at a cold start).
A request then hands out the best candidate that is still free — the
database checks each one as it leases it — in time that does not depend on
the pool's size; only when a ranking runs out does a request choose afresh.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from nudge.loop.compute.engine import Engine
from nudge.loop.compute.scoring import score_pool
from nudge.loop.training.snapshot import ModelSnapshot
from nudge.strategies import MEASURES, select_queries
from nudge.strategies.pool import best_first
from nudge.strategies.sampling import ranks_by_model

RANKING_SIZE = 256


@dataclass(frozen=True)
class Ranking:
    """The best candidates of the pool for one model version, best first."""

    version: int
    point_ids: np.ndarray  # (K,)
    scores: np.ndarray  # (K,)
    seconds: float  # how long the scoring took

    def candidates(self) -> list[tuple[int, float]]:
        return list(zip(self.point_ids.tolist(), self.scores.tolist()))


def choose_queries(snapshot: ModelSnapshot, X: np.ndarray, count: int, strategy, seed: int,
                   available: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``count`` points of ``X`` chosen by ``snapshot``'s learner with ``strategy`` among the
    ``available`` ones: (indices into X, scores). The one rule of the seed: the session's seed plus
    the model's version, so a model chooses the same way wherever it is asked."""
    return select_queries(snapshot.learner, X, count, strategy, available=available,
                          random_state=seed + snapshot.version)


def rank_pool(snapshot: ModelSnapshot, X: np.ndarray, available: np.ndarray, strategy, seed: int, *,
              size: int | None = None, engine: Engine | None = None) -> Ranking | None:
    """Score the ``available`` points of ``X`` with ``snapshot`` and keep its ``size`` (default
    :data:`RANKING_SIZE`) best candidates (None: none left).

    A strategy that ranks by a measure (``strategies.MEASURES``: boundary,
    uncertainty, margin, entropy, committee) scores the pool in chunks
    (:func:`nudge.loop.compute.scoring.score_pool`), so no copy of the pool is made, here or on
    ``engine`` (a Dask cluster); the others (random, diverse, a function of yours)
    and every cold start choose through the strategy itself (:func:`choose_queries`).
    """
    started = time.perf_counter()
    size = RANKING_SIZE if size is None else size
    count = min(size, int(available.sum()))
    if count == 0:
        return None
    if isinstance(strategy, str) and strategy in MEASURES and ranks_by_model(snapshot.learner):
        rows = np.flatnonzero(available)
        scores = score_pool(snapshot.learner, X, strategy, engine=engine, rows=rows)
        picked, picked_scores = best_first(scores, count, largest=MEASURES[strategy].largest_first)
        return Ranking(snapshot.version, rows[picked], picked_scores, time.perf_counter() - started)
    indices, scores = choose_queries(snapshot, X, count, strategy, seed, available)
    return Ranking(snapshot.version, np.asarray(indices), np.asarray(scores, dtype=float),
                   time.perf_counter() - started)
