"""Queries for a model that cannot rank the pool yet.

- No labels (the model is unfitted): :func:`coverage_queries`, one point per
  k-means region of the available pool, largest region first.
- Labels of one class only: the model has never seen a boundary, so its
  scores say nothing. :func:`exploration_queries` asks the available points
  farthest from every labelled point and from each other (k-center greedy,
  the core-set heuristic), which is where the other class most likely lies.
  Its known weakness is a taste for outliers; it is used only until a second
  class shows up.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.cluster import MiniBatchKMeans
from sklearn.exceptions import ConvergenceWarning

from nudge.strategies.pool import farthest_first

KMEANS_RESTARTS = 3  # MiniBatchKMeans n_init: fixed, so a seed gives one answer


def coverage_queries(X: np.ndarray, n_instances: int, random_state) -> tuple[np.ndarray, np.ndarray]:
    """One representative per k-means region of X, largest region first.

    Parameters
    ----------
    X : (M, n) the available points, M >= n_instances.
    random_state : seed or ``numpy.random.RandomState`` for k-means; the same
        seed and X give the same queries.

    Returns
    -------
    rows : (n_instances,) distinct rows of X: for each of ``n_instances``
        clusters, its member closest to the cluster centre.
    scores : (n_instances,) the fraction of X in each chosen point's cluster
        (larger = asked first). When X has fewer distinct points than
        ``n_instances`` some clusters stay empty; the missing queries are
        filled farthest-first among the other points, with score 0.

    One query is one region, the whole of X, whose k-means centre is the mean:
    it is computed directly (exact, and one pass instead of k-means' restarts
    and iterations, which cost 0.1-0.2 s at 10,000 features).
    """
    if n_instances == 1:
        to_mean = np.linalg.norm(X - X.mean(axis=0), axis=1)
        return np.array([int(np.argmin(to_mean))]), np.ones(1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # fewer distinct points than clusters
        kmeans = MiniBatchKMeans(
            n_clusters=n_instances, n_init=KMEANS_RESTARTS, random_state=random_state
        ).fit(X)
    labels = kmeans.labels_
    to_centre = np.linalg.norm(X - kmeans.cluster_centers_[labels], axis=1)
    by_cluster = np.lexsort((to_centre, labels))
    first_of_cluster = np.r_[True, np.diff(labels[by_cluster]) != 0]
    representatives = by_cluster[first_of_cluster]
    sizes = np.bincount(labels)[labels[representatives]] / len(X)
    order = np.argsort(-sizes, kind="stable")
    rows, scores = representatives[order], sizes[order]
    missing = n_instances - len(rows)
    if missing:
        others = np.setdiff1d(np.arange(len(X)), rows)
        extra = others[farthest_first(X[others], missing, anchors=X[rows])[0]]
        rows, scores = np.r_[rows, extra], np.r_[scores, np.zeros(missing)]
    return rows, scores


def exploration_queries(
    X: np.ndarray, X_labelled: np.ndarray, n_instances: int
) -> tuple[np.ndarray, np.ndarray]:
    """The points of X farthest from the labelled points and from each other.

    Returns (n_instances,) distinct rows of X in pick order and each one's
    distance to the nearest labelled or earlier-picked point (larger = asked
    first).
    """
    return farthest_first(X, n_instances, anchors=X_labelled)
