"""Strategies by name, the one entry point for sessions, and learner construction."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from modAL.models import ActiveLearner, Committee
from sklearn.base import clone

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
    or ``strategy`` itself when it is a function with modAL's contract."""
    if callable(strategy):
        return strategy
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; choose one of {sorted(STRATEGIES)}")
    return STRATEGIES[strategy]


def needs_committee(strategy: str | Callable) -> bool:
    """True when the strategy scores with a committee (it is marked ``needs_committee = True``)."""
    return bool(getattr(get_strategy(strategy), "needs_committee", False))


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
    strategy : a name from ``STRATEGIES`` (default "boundary"), or a function with
        modAL's contract ``(learner, X_pool, n_instances, *, available, random_state, **kwargs)``.
    available : optional (N,) bool mask; False marks points that must not be
        asked (labelled, currently assigned). Default: all may be asked.
    random_state : seed for the random strategy and the cold-start k-means.
    **strategy_kwargs : the strategy's own settings, e.g. ``measure=`` for
        "committee", ``base=`` / ``candidates_per_query=`` for "diverse".

    Returns
    -------
    indices : (n_instances,) int indices into X_pool, best first (pick order
        for "diverse").
    scores : (n_instances,) float; their meaning depends on the strategy and on
        the cold-start state (see ``nudge.strategies.sampling``).

    An unfitted learner gets k-means coverage queries, a learner taught one
    class only gets farthest-from-the-labelled queries. Asking for more points
    than are available, or fewer than one, is a ValueError.
    """
    query = get_strategy(strategy)
    return query(
        learner, X_pool, n_instances, available=available, random_state=random_state, **strategy_kwargs
    )


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
