"""Nearest neighbours among a set of points: exact for small sets, a FAISS HNSW graph for big ones.

One interface, :class:`NeighbourIndex`: ``search(queries, k, exclude=ids)``
returns the ``k`` nearest indexed points (Euclidean) of each query, nearest
first, leaving out the ``exclude`` ids. :func:`neighbour_index` picks the kind
by size: below :data:`EXACT_BELOW` points an :class:`ExactIndex` (a scan, which
then costs less than building and asking a graph; ``bench/bench_neighbours.py``
measures where the two cross), from there an :class:`HnswIndex` built on a
background thread, exact scans answering until it is ready (FAISS's HNSW,
approximate: on 10^4 random 384-d Gaussian points, the hardest case, recall at k = 40 is about 0.95; on clustered, embedding-like data about 1).

The points are rows ``X[ids]`` of a larger array, which may be a memory map
(float32 or float16); both kinds read it in chunks, cast to float32. The HNSW
index keeps its own copy of the vectors (float16 when X is float16, halving
it).
"""

from __future__ import annotations

import threading
from typing import Protocol

import numpy as np

EXACT_BELOW = 20_000  # points: above, one exact scan takes more than 20 ms here (bench/bench_neighbours.py)
SCAN_CHUNK = 32_768  # indexed points compared with the queries at a time
ADD_CHUNK = 65_536  # rows added to an HNSW graph at a time
HNSW_LINKS = 16  # HNSW's M: links per node
HNSW_BUILD_DEPTH = 40  # efConstruction
HNSW_SEARCH_DEPTH = 256  # efSearch (raised to 2k for larger k)


class NeighbourIndex(Protocol):
    """The k nearest of the indexed points ``ids`` to each query."""

    ids: np.ndarray  # (N,) int64 ids of the indexed points (rows of X)

    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(distances (M, k) float32, ids (M, k) int64) of the k nearest indexed points of each
        query row (M, n), nearest first, none of them in ``exclude``; where fewer than k remain,
        the row is padded with inf and -1."""


def _as_queries(queries: np.ndarray, dimension: int) -> np.ndarray:
    queries = np.atleast_2d(np.asarray(queries, dtype=np.float32))
    if queries.ndim != 2 or queries.shape[1] != dimension:
        raise ValueError(f"queries must be (M, {dimension}); got shape {queries.shape}")
    return queries


def _padded(distances: list[np.ndarray], ids: list[np.ndarray], k: int) -> tuple[np.ndarray, np.ndarray]:
    out_distances = np.full((len(ids), k), np.inf, dtype=np.float32)
    out_ids = np.full((len(ids), k), -1, dtype=np.int64)
    for row, (found_distances, found_ids) in enumerate(zip(distances, ids)):
        out_distances[row, : len(found_ids)] = found_distances
        out_ids[row, : len(found_ids)] = found_ids
    return out_distances, out_ids


def _distances(queries: np.ndarray, points: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per query row, (distances, positions in ``points``) of every point that may be among its k nearest.

    A float32 pass (||q||^2 - 2 q.p + ||p||^2, one matrix product) picks the
    candidates, keeping every point within float32's rounding of the k-th;
    their distances are then computed directly in float64, so the order is the
    exact one (float32 arithmetic alone would blur near ties).
    """
    points = np.asarray(points, dtype=np.float32)
    point_norms = np.einsum("ij,ij->i", points, points)
    query_norms = np.einsum("ij,ij->i", queries, queries)
    squared = query_norms[:, None] - 2 * queries @ points.T + point_norms[None, :]
    slack = 1e-5 * (query_norms + point_norms.max())
    kth = np.partition(squared, min(k, len(points)) - 1, axis=1)[:, min(k, len(points)) - 1]
    found = []
    for row, query in enumerate(queries.astype(np.float64)):
        near = np.flatnonzero(squared[row] <= kth[row] + slack[row])
        found.append((np.linalg.norm(points[near].astype(np.float64) - query, axis=1), near))
    return found


class ExactIndex:
    """Every distance computed, ``X[ids]`` scanned in chunks; among equal distances the point
    earlier in ``ids`` comes first.

    Parameters
    ----------
    X : (N_all, n) points (any float dtype, may be a memory map).
    ids : (N,) the rows of X to search among. Default None: all rows.
    """

    def __init__(self, X: np.ndarray, ids: np.ndarray | None = None) -> None:
        self.X = X
        self.ids = np.arange(len(X), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)

    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        queries = _as_queries(queries, self.X.shape[1])
        keep = np.ones(len(self.ids), dtype=bool) if exclude is None else ~np.isin(self.ids, exclude)
        best_distances = [np.zeros(0) for _ in queries]
        best_positions = [np.zeros(0, np.int64) for _ in queries]
        for start in range(0, len(self.ids), SCAN_CHUNK):
            positions = np.flatnonzero(keep[start : start + SCAN_CHUNK]) + start
            if len(positions) == 0:
                continue
            chunk = _distances(queries, self.X[self.ids[positions]], k)
            for row, (distances, near) in enumerate(chunk):
                merged = np.concatenate([best_distances[row], distances])
                merged_positions = np.concatenate([best_positions[row], positions[near]])
                order = np.lexsort((merged_positions, merged))[:k]
                best_distances[row], best_positions[row] = merged[order], merged_positions[order]
        return _padded(best_distances, [self.ids[p] for p in best_positions], k)


class HnswIndex:
    """FAISS's HNSW graph over ``X[ids]`` (approximate; see the module docstring).

    Parameters as :class:`ExactIndex`. Building reads ``X[ids]`` once in chunks
    (about 1 minute per 10^6 384-d points on one core).
    """

    def __init__(self, X: np.ndarray, ids: np.ndarray | None = None) -> None:
        import faiss

        self.ids = np.arange(len(X), dtype=np.int64) if ids is None else np.asarray(ids, dtype=np.int64)
        self._order = np.argsort(self.ids, kind="stable")
        dimension = X.shape[1]
        if X.dtype == np.float16:
            self.index = faiss.IndexHNSWSQ(dimension, faiss.ScalarQuantizer.QT_fp16, HNSW_LINKS)
        else:
            self.index = faiss.IndexHNSWFlat(dimension, HNSW_LINKS)
        self.index.hnsw.efConstruction = HNSW_BUILD_DEPTH
        if isinstance(self.index, faiss.IndexHNSWSQ):
            self.index.train(np.zeros((1, dimension), dtype=np.float32))  # fp16 needs no statistics
        for start in range(0, len(self.ids), ADD_CHUNK):
            self.index.add(np.ascontiguousarray(X[self.ids[start : start + ADD_CHUNK]], dtype=np.float32))

    def _positions(self, ids: np.ndarray) -> np.ndarray:
        """Positions in ``self.ids`` of those of ``ids`` that are indexed."""
        ids = np.asarray(ids, dtype=np.int64)
        at = np.searchsorted(self.ids, ids, sorter=self._order)
        at = np.minimum(at, len(self.ids) - 1)
        found = self._order[at]
        return found[self.ids[found] == ids]

    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        queries = _as_queries(queries, self.index.d)
        parameters = faiss.SearchParametersHNSW()
        parameters.efSearch = max(HNSW_SEARCH_DEPTH, 2 * k)
        if exclude is not None and len(exclude):
            excluded = faiss.IDSelectorBatch(self._positions(exclude))
            parameters.sel = faiss.IDSelectorNot(excluded)
        squared, positions = self.index.search(queries, k, params=parameters)
        found = positions >= 0
        distances = np.where(found, np.sqrt(np.maximum(squared, 0)), np.inf).astype(np.float32)
        ids = np.where(found, self.ids[np.where(found, positions, 0)], -1)
        return distances, ids


class ExactUntilBuilt:
    """An HNSW graph built on a background thread; until it is ready, searches scan exactly.

    So the first query of a big pool never waits for the build (minutes at 10^6
    points); ``ready`` says whether the graph answers yet.
    """

    def __init__(self, X: np.ndarray, ids: np.ndarray | None = None) -> None:
        self.exact = ExactIndex(X, ids)
        self.ids = self.exact.ids
        self._graph: HnswIndex | None = None
        self._thread = threading.Thread(target=self._build, args=(X, ids), name="nudge-hnsw", daemon=True)
        self._thread.start()

    def _build(self, X: np.ndarray, ids: np.ndarray | None) -> None:
        self._graph = HnswIndex(X, ids)

    @property
    def ready(self) -> bool:
        return self._graph is not None

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the graph (at most ``timeout`` seconds); True when it is ready."""
        self._thread.join(timeout)
        return self.ready

    def search(
        self, queries: np.ndarray, k: int, exclude: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        graph = self._graph
        return (graph or self.exact).search(queries, k, exclude)


def neighbour_index(X: np.ndarray, ids: np.ndarray | None = None, *, exact_below: int = EXACT_BELOW) -> NeighbourIndex:
    """An index over ``X[ids]`` (default all rows): exact below ``exact_below`` points, else an
    HNSW graph built in the background (:class:`ExactUntilBuilt`)."""
    size = len(X) if ids is None else len(ids)
    return ExactIndex(X, ids) if size < exact_below else ExactUntilBuilt(X, ids)
