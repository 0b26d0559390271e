"""Scoring a whole pool for a new model version, in chunks, through an engine.

:func:`score_pool` is what a trainer calls once per model version: every row
of the pool gets its score under one of the strategies' measures
(:data:`nudge.strategies.sampling.MEASURES`: ``boundary``, ``uncertainty``,
``margin``, ``entropy``, ``committee``), ``chunk_size`` rows at a time, on
this process or a Dask cluster (:mod:`nudge.loop.compute.engine`). The learner is sent to
each worker once per call (as the engine's held object), the rows chunk by
chunk, so the pool may be a memory-mapped array larger than RAM.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import closing
from typing import Any

import numpy as np

from nudge.loop.compute.engine import Engine, Held, LocalEngine
from nudge.strategies.sampling import MEASURES

SCORE_CHUNK = 16_384  # rows per chunk: 24 MiB of 384-d float32


class _Measure:
    """A chunk's task: the measure ``by`` of the learner on the rows (picklable)."""

    def __init__(self, by: str) -> None:
        self.by = by

    def __call__(self, learner: Any, rows: np.ndarray) -> np.ndarray:
        return np.asarray(MEASURES[self.by].score(learner, rows), dtype=np.float64)


def score_pool(
    learner: Any,
    X: np.ndarray,
    by: str = "boundary",
    *,
    engine: Engine | None = None,
    chunk_size: int | None = None,
    on_chunk: Callable[[int, int], None] | None = None,
    rows: np.ndarray | None = None,
) -> np.ndarray:
    """(N,) float64 scores of every row of ``X`` (N, n) under ``MEASURES[by]``; with ``rows``
    ((M,) indices into X), of those rows only, (M,), read chunk by chunk (no copy of X[rows]).

    ``learner``: a fitted estimator, modAL learner or committee (what the
    measure takes); ``engine``: default :class:`~nudge.loop.compute.engine.LocalEngine`;
    ``on_chunk(rows done, N)`` is called after each chunk (progress); ``chunk_size`` rows
    go to a worker at a time (default :data:`SCORE_CHUNK`). Rows are
    cast to float32 (a float16 memory map is fine). Which way is best
    (largest or smallest first) is ``MEASURES[by].largest_first``.
    """
    if by not in MEASURES:
        raise ValueError(f"unknown measure {by!r}; choose one of: {', '.join(MEASURES)}")
    chunk_size = SCORE_CHUNK if chunk_size is None else chunk_size
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    engine = engine or LocalEngine()
    count = len(X) if rows is None else len(rows)
    scores = np.empty(count, dtype=np.float64)
    starts = range(0, count, chunk_size)
    which = (slice(start, start + chunk_size) if rows is None else rows[start : start + chunk_size] for start in starts)
    chunks = (np.asarray(X[part], dtype=np.float32) for part in which)
    held = Held.of(f"nudge-learner-{uuid.uuid4().hex}", learner)
    done = 0
    try:
        with closing(engine.map(_Measure(by), chunks, held)) as finished:
            for index, chunk_scores in finished:
                start = starts[index]
                scores[start : start + len(chunk_scores)] = chunk_scores
                done += len(chunk_scores)
                if on_chunk is not None:
                    on_chunk(done, count)
    finally:
        forget = getattr(engine, "forget", None)
        if forget is not None:
            forget(held.name)
    return scores
