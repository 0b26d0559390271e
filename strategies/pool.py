"""The pool a strategy chooses from: validation, availability and selection helpers.

Every strategy sees the whole pool ``X_pool`` (N, n) and an optional
``available`` mask (N,); it scores only the available rows and returns
indices into ``X_pool``. The helpers here are shared by all strategies, so
every strategy checks its inputs and reports bad ones the same way.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
from modAL.utils.selection import multi_argmax, multi_argmin
from sklearn.metrics import pairwise_distances_argmin_min
from sklearn.utils import check_array


def available_pool(
    X_pool, n_instances: int, available=None
) -> tuple[np.ndarray, np.ndarray]:
    """Check a query request and cut the pool down to the points that may be asked.

    Parameters
    ----------
    X_pool : (N, n) finite numbers, the whole pool.
    n_instances : how many points to query, 1 <= n_instances <= available count.
    available : None (every point may be asked) or an (N,) boolean mask,
        False for points that must not be asked (labelled, assigned to someone).

    Returns
    -------
    X : (M, n) the available rows (``X_pool`` itself when all are available).
    rows : (M,) their indices in ``X_pool``.
    """
    X_pool = check_array(X_pool, ensure_min_samples=0)
    if available is None:
        rows = np.arange(len(X_pool))
    else:
        mask = np.asarray(available)
        if mask.dtype != bool or mask.shape != (len(X_pool),):
            raise ValueError(
                f"available must be a boolean mask with one entry per pool point, shape "
                f"({len(X_pool)},); got dtype {mask.dtype} and shape {mask.shape}"
            )
        rows = np.flatnonzero(mask)
    if isinstance(n_instances, bool) or not isinstance(n_instances, Integral) or n_instances < 1:
        raise ValueError(f"n_instances must be a positive integer, got {n_instances!r}")
    if n_instances > len(rows):
        raise ValueError(
            f"asked for {n_instances} queries but only {len(rows)} pool points are available "
            "(points already labelled or assigned cannot be asked again)"
        )
    X = X_pool if len(rows) == len(X_pool) else X_pool[rows]
    return X, rows


def best_first(scores: np.ndarray, n_instances: int, *, largest: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``n_instances`` best of (M,) ``scores``, best first, with their scores.

    ``largest`` says whether a larger score is better. Uses modAL's
    ``multi_argmax`` / ``multi_argmin`` (one partial sort), then orders the few
    winners; ties keep modAL's order.
    """
    scores = np.asarray(scores, dtype=float)
    pick = multi_argmax if largest else multi_argmin
    indices, _ = pick(scores, n_instances=n_instances)
    order = np.argsort(-scores[indices] if largest else scores[indices], kind="stable")
    indices = indices[order]
    return indices, scores[indices]


def farthest_first(
    X: np.ndarray, n_instances: int, *, anchors: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy farthest-point order over the rows of X (k-center greedy).

    Each pick is the row farthest (Euclidean) from every anchor and every
    earlier pick. Without anchors the first pick is row 0, so callers put
    their preferred row first. Cost: O(n_instances * M * n), vectorised.

    Parameters
    ----------
    X : (M, n) candidates, M >= n_instances.
    anchors : (A, n) points already covered (e.g. labelled points), or None.

    Returns
    -------
    picked : (n_instances,) distinct row indices of X, in pick order.
    gaps : (n_instances,) each pick's distance to the nearest anchor or earlier
        pick at the time it was picked (inf for a first pick without anchors).
    """
    if anchors is None or len(anchors) == 0:
        gap = np.full(len(X), np.inf)
    else:
        gap = pairwise_distances_argmin_min(X, anchors)[1].astype(float)
    picked = np.empty(n_instances, dtype=np.intp)
    gaps = np.empty(n_instances)
    for i in range(n_instances):
        row = int(np.argmax(gap))
        picked[i], gaps[i] = row, gap[row]
        gap = np.minimum(gap, np.linalg.norm(X - X[row], axis=1))
        gap[row] = -np.inf
    return picked, gaps
