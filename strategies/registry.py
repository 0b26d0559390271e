"""Strategies by name, the one entry point for sessions, and learner construction."""

from __future__ import annotations

import inspect
from collections.abc import Callable

import numpy as np
from modAL.models import ActiveLearner, Committee
from sklearn.base import clone

from nudge.strategies.pool import available_pool
from nudge.strategies.sampling import (
    boundary_sampling,
    committee_sampling,
    diverse_sampling,
    entropy_sampling,
    margin_sampling,
    random_sampling,
    uncertainty_sampling,
)

STRATEGIES: dict[str, Callable] = {
    "random": random_sampling,
    "uncertainty": uncertainty_sampling,
    "margin": margin_sampling,
    "entropy": entropy_sampling,
    "boundary": boundary_sampling,
    "committee": committee_sampling,
    "diverse": diverse_sampling,
}


def get_strategy(strategy: str | Callable) -> Callable:
    """The strategy registered under a name (see ``nudge.strategies.sampling`` for each one's scores),
    or ``strategy`` itself when it is a function (see :func:`select_queries` for what it is given)."""
    if callable(strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[strategy]


def needs_committee(strategy: str | Callable) -> bool:
    """True when the strategy scores with a committee: it is marked ``needs_committee = True``, or it
    is one of modAL's disagreement strategies (``modAL.disagreement``)."""
    query = get_strategy(strategy)
    marked = bool(getattr(query, "needs_committee", False))
    return marked or getattr(query, "__module__", None) == "modAL.disagreement"


def takes_keyword(function: Callable, name: str) -> bool:
    """True when ``function``'s own signature names the keyword ``name``.

    A ``**kwargs`` catch-all does not count: modAL's strategies pass theirs on
    to ``predict_proba``. A decorator's signature is read, not the function it
    wraps: the decorator is what is called.
    """
    try:
        parameter = inspect.signature(function, follow_wrapped=False).parameters.get(name)
    except (TypeError, ValueError):  # no signature to read: give it modAL's arguments only
        return False
    return parameter is not None and parameter.kind in (parameter.POSITIONAL_OR_KEYWORD, parameter.KEYWORD_ONLY)


def select_queries(
    learner,
    X_pool,
    n_instances: int,
    strategy: str | Callable = "boundary",
    *,
    available=None,
    random_state=None,
    **strategy_kwargs,
) -> tuple[np.ndarray, np.ndarray]:
    """The points to ask next: ``n_instances`` distinct indices into ``X_pool`` and their scores.

    Parameters
    ----------
    learner : a modAL ActiveLearner or Committee (see :func:`make_learner`),
        fitted or not.
    X_pool : (N, n) the whole pool.
    n_instances : how many queries, 1 <= n_instances <= number available.
    strategy : a name from ``STRATEGIES`` (default "boundary"), or a function
        with modAL's query-strategy contract, ``strategy(learner, X, n_instances)
        -> indices`` or ``(indices, scores)`` (modAL's own, e.g.
        ``modAL.uncertainty.uncertainty_sampling``, work as they are). nudge's
        two keywords reach only a function whose signature names them:
        ``available`` (a function without it is given only the available rows,
        and its indices are mapped back to ``X_pool``) and ``random_state``.
    available : optional (N,) bool mask; False marks points that must not be
        asked (labelled, currently assigned). Default: all may be asked.
    random_state : seed for the random strategy and the cold-start k-means.
    **strategy_kwargs : the strategy's own settings, e.g. ``measure=`` for
        "committee", ``base=`` / ``candidates_per_query=`` for "diverse".

    Returns
    -------
    indices : (n_instances,) int indices into X_pool, never an unavailable
        point; best first for the registered strategies (pick order for
        "diverse"), a function's own order otherwise.
    scores : (n_instances,) float; their meaning depends on the strategy and on
        the cold-start state (see ``nudge.strategies.sampling``); NaN when a
        function returns indices only.

    An unfitted learner gets k-means coverage queries, a learner taught one
    class only gets farthest-from-the-labelled queries (registered strategies).
    Asking for more points than are available, or fewer than one, is a
    ValueError; so is a function's answer that breaks the contract.
    """
    query = get_strategy(strategy)
    keywords = dict(strategy_kwargs)
    if takes_keyword(query, "random_state"):
        keywords["random_state"] = random_state
    if takes_keyword(query, "available"):
        X, rows = X_pool, None
        keywords["available"] = available
    else:  # it chooses among what it is given: give it only the points that may be asked
        X, rows = available_pool(X_pool, n_instances, available)
    indices, scores = checked_choice(query(learner, X, n_instances, **keywords), n_instances, len(X), query)
    if rows is not None:
        return rows[indices], scores
    unavailable = [] if available is None else indices[~np.asarray(available)[indices]].tolist()
    if unavailable:
        raise ValueError(f"the strategy {_name(query)} chose points marked unavailable: {unavailable}")
    return indices, scores


def checked_choice(result, n_instances: int, n_rows: int, query: Callable) -> tuple[np.ndarray, np.ndarray]:
    """A strategy's answer as ((n_instances,) distinct indices below ``n_rows``, (n_instances,) float
    scores), or a ValueError naming the strategy and what it returned."""
    indices, scores = result if isinstance(result, tuple) and len(result) == 2 else (result, None)
    indices = np.asarray(indices)
    if indices.shape != (n_instances,) or indices.dtype.kind not in "iu":
        raise ValueError(f"the strategy {_name(query)} returned {indices.dtype} indices of shape {indices.shape}; "
                         f"expected {n_instances} integer indices into the pool")
    if indices.min() < 0 or indices.max() >= n_rows or len(np.unique(indices)) < n_instances:
        raise ValueError(f"the strategy {_name(query)} returned {indices.tolist()}; expected {n_instances} "
                         f"distinct indices from 0 to {n_rows - 1}")
    scores = np.full(n_instances, np.nan) if scores is None else np.asarray(scores, dtype=float)
    if scores.shape != (n_instances,):
        raise ValueError(f"the strategy {_name(query)} returned scores of shape {scores.shape}; "
                         f"expected one per query, ({n_instances},)")
    return indices.astype(np.intp), scores


def _name(query: Callable) -> str:
    return getattr(query, "__qualname__", repr(query))


def make_learner(
    estimator,
    strategy: str | Callable = "boundary",
    *,
    committee_size: int = 3,
    X_training=None,
    y_training=None,
) -> ActiveLearner | Committee:
    """A modAL learner around ``estimator`` that queries with ``strategy`` (a name or a function).

    For a strategy that needs a committee (:func:`needs_committee`, e.g. "committee"): a modAL ``Committee`` of ``committee_size`` clones of
    ``estimator`` whose ``random_state`` is ``random_state + i`` (or None for
    all when the estimator's is None, which gives different, unrepeatable
    initialisations). Otherwise an ``ActiveLearner``. Given ``X_training`` and
    ``y_training`` (labels or packed targets, ``nudge.estimators.pack_targets``), the
    estimator(s) are fitted on them; ``teach`` then adds more. To start from
    labels of one class, give the estimator ``classes=[...]``.
    """
    query_strategy = get_strategy(strategy)
    if not needs_committee(query_strategy):
        return ActiveLearner(
            estimator, query_strategy=query_strategy, X_training=X_training, y_training=y_training
        )
    if committee_size < 2:
        raise ValueError(f"a committee needs at least 2 members, got committee_size={committee_size}")
    seed = estimator.get_params().get("random_state")
    members = [
        ActiveLearner(
            clone(estimator).set_params(random_state=None if seed is None else seed + i),
            X_training=X_training,
            y_training=y_training,
        )
        for i in range(committee_size)
    ]
    return Committee(learner_list=members, query_strategy=query_strategy)
