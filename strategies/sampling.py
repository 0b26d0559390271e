"""The registered query strategies: functions with modAL's query-strategy contract and the two
keywords nudge adds (see ``nudge.strategies.select_queries``).

``strategy(learner, X_pool, n_instances=1, *, available=None, random_state=None, **kwargs)
-> (indices, scores)``

- ``learner``: a modAL ``ActiveLearner`` or ``Committee`` (or a bare fitted
  estimator); ``X_pool``: (N, n) the whole pool; ``available``: optional (N,)
  boolean mask of the points that may be asked.
- ``indices``: (n_instances,) distinct int indices into ``X_pool``, never an
  unavailable point, best first; ``scores``: (n_instances,) float, each
  chosen point's score (meaning below).

So ``learner.query(X_pool, n_instances=k)`` works with every strategy here.

Every strategy except ``random`` consults the model, and shares the same
cold start (see ``nudge.strategies.cold_start``): an unfitted model gets coverage
queries (scores: fraction of the pool each query represents), a model taught
one class only gets exploration queries (scores: distance to the nearest
labelled or earlier query). ``random_state`` only matters for those and for
``random``.

Scores once the model knows two classes:

============  ==========================================================  ==============
strategy      score                                                       asked first
============  ==========================================================  ==============
random        0 (no preference)                                           --
uncertainty   1 - max_c p_c (modAL ``classifier_uncertainty``)            largest
margin        p_top - p_second (modAL ``classifier_margin``)              smallest
entropy       -sum_c p_c log p_c (modAL ``classifier_entropy``)           largest
boundary      first-order distance to the boundary, margin / ||grad||     smallest
committee     committee disagreement, ``measure`` (default KL max)        largest
diverse       the ``base`` strategy's score; picks spread farthest-first  --
============  ==========================================================  ==============
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import NamedTuple

import numpy as np
from modAL.disagreement import KL_max_disagreement, consensus_entropy
from modAL.models import Committee
from modAL.uncertainty import classifier_entropy, classifier_margin, classifier_uncertainty
from scipy.stats import entropy
from sklearn.utils import check_random_state

from nudge.strategies.cold_start import coverage_queries, exploration_queries
from nudge.strategies.model import estimators_of, is_committee, is_fitted, labelled_data
from nudge.strategies.pool import available_pool, best_first, farthest_first

# ------------------------------------------------------------------ measures


def boundary_distance(learner, X: np.ndarray) -> np.ndarray:
    """(M,) first-order distance of each row of X to the decision boundary.

    distance = margin / ||grad_x margin||, with margin the top-1 minus top-2
    logit (|f(x)| for two classes), from the estimator's batched
    ``margin_and_gradient``. Exact for a linear model. Where the gradient is
    zero the boundary cannot be located from x: the distance is inf (asked
    last). For a committee, the mean of its members' distances.
    """
    distances = []
    for estimator in estimators_of(learner):
        if not hasattr(estimator, "margin_and_gradient"):
            raise ValueError(
                "the boundary strategy needs an estimator with margin_and_gradient "
                f"(nudge.estimators.DirectionClassifier); got {type(estimator).__name__}"
            )
        margin, gradient = estimator.margin_and_gradient(X)
        norm = np.sqrt(np.einsum("ij,ij->i", gradient, gradient))  # float32, no (N, n) copy
        with np.errstate(divide="ignore", invalid="ignore"):
            distances.append(np.where(norm > 0, margin / norm, np.inf))
    return np.mean(distances, axis=0)


def vote_entropy(committee: Committee, X: np.ndarray) -> np.ndarray:
    """(M,) entropy of the members' votes; modAL's ``vote_entropy``, vectorised.

    modAL's version counts votes with a Python loop over the points.
    """
    votes = committee.vote(X)  # (M, members)
    shares = (votes[:, :, None] == committee.classes_[None, None, :]).mean(axis=1)
    return entropy(shares, axis=1)


DISAGREEMENTS: dict[str, Callable[[Committee, np.ndarray], np.ndarray]] = {
    "max_disagreement": KL_max_disagreement,  # max_i KL(p_i || mean p): the spread of the members
    "vote_entropy": vote_entropy,
    "consensus_entropy": consensus_entropy,  # entropy of the mean probabilities
}


def committee_disagreement(learner, X: np.ndarray, measure: str = "max_disagreement") -> np.ndarray:
    """(M,) disagreement of a modAL Committee on each row of X; ``measure`` from DISAGREEMENTS."""
    if not is_committee(learner):
        raise ValueError(
            "the committee strategy needs a modAL Committee; build one with "
            "nudge.strategies.make_learner(estimator, 'committee')"
        )
    if measure not in DISAGREEMENTS:
        raise ValueError(f"unknown committee measure {measure!r}; choose one of {sorted(DISAGREEMENTS)}")
    return DISAGREEMENTS[measure](learner, X)


class Measure(NamedTuple):
    """How a strategy scores the pool: ``score(learner, X, **kwargs) -> (M,)``."""

    score: Callable[..., np.ndarray]
    largest_first: bool  # True: a larger score is asked first
    meaning: str  # what the score is, for people


MEASURES: dict[str, Measure] = {
    "uncertainty": Measure(classifier_uncertainty, True, "1 - max_c p_c, least confident first (modAL)"),
    "margin": Measure(classifier_margin, False, "p_top - p_second, smallest gap first (modAL)"),
    "entropy": Measure(classifier_entropy, True, "entropy of p in nats, largest first (modAL)"),
    "boundary": Measure(boundary_distance, False, "first-order distance to the boundary, nearest first"),
    "committee": Measure(committee_disagreement, True, "disagreement of the committee, largest first"),
}


def ranked(learner, X: np.ndarray, n_instances: int, by: str, **kwargs):
    """The ``n_instances`` best rows of X by the measure named ``by``, best first, with their scores."""
    measure = MEASURES[by]
    return best_first(measure.score(learner, X, **kwargs), n_instances, largest=measure.largest_first)


# ---------------------------------------------------------------- strategies


def ranks_by_model(learner) -> bool:
    """True when the model can rank the pool: fitted, and taught two classes or more (else the
    strategies use their cold start)."""
    if not is_fitted(learner):
        return False
    _, labels = labelled_data(learner)
    return labels is None or len(np.unique(labels)) >= 2


def model_strategy(select: Callable) -> Callable:
    """Give a model-based selection the shared contract, checks and cold start.

    ``select(learner, X, n_instances, **kwargs)`` sees only the available rows
    X and returns (rows of X, scores); the wrapper validates the request,
    substitutes coverage or exploration queries while the model cannot rank
    (see module docstring) and maps rows back to pool indices.
    """

    @functools.wraps(select)
    def strategy(learner, X_pool, n_instances: int = 1, *, available=None, random_state=None, **kwargs):
        X, rows = available_pool(X_pool, n_instances, available)
        if not is_fitted(learner):
            picked, scores = coverage_queries(X, n_instances, check_random_state(random_state))
        elif not ranks_by_model(learner):
            picked, scores = exploration_queries(X, labelled_data(learner)[0], n_instances)
        else:
            picked, scores = select(learner, X, n_instances, **kwargs)
        return rows[picked], np.asarray(scores, dtype=float)

    return strategy


def random_sampling(learner, X_pool, n_instances: int = 1, *, available=None, random_state=None):
    """Uniformly random distinct available points (the baseline); scores are 0.

    Ignores the model, also at cold start. ``random_state`` seeds the draw.
    """
    _, rows = available_pool(X_pool, n_instances, available)
    picked = check_random_state(random_state).choice(len(rows), n_instances, replace=False)
    return rows[picked], np.zeros(n_instances)


def ranked_strategy(by: str) -> Callable:
    """The strategy that asks the best points by ``MEASURES[by]``; keyword arguments go to its score."""

    def select(learner, X, n_instances, **kwargs):
        return ranked(learner, X, n_instances, by, **kwargs)

    select.__name__ = select.__qualname__ = f"{by}_sampling"
    select.__doc__ = f"Ask the best points by {by}: score = {MEASURES[by].meaning}."
    return model_strategy(select)


uncertainty_sampling = ranked_strategy("uncertainty")
margin_sampling = ranked_strategy("margin")
entropy_sampling = ranked_strategy("entropy")
boundary_sampling = ranked_strategy("boundary")
committee_sampling = ranked_strategy("committee")  # measure="max_disagreement" | ... (DISAGREEMENTS)
committee_sampling.needs_committee = True  # make_learner builds a Committee for it


@model_strategy
def diverse_sampling(
    learner, X, n_instances, base: str = "boundary", candidates_per_query: int = 10, **base_kwargs
):
    """A batch spread over distinct regions instead of near-duplicates.

    Takes the ``candidates_per_query * n_instances`` best points by the
    ``base`` measure (a name from MEASURES; default "boundary"), then picks
    farthest-first among them, starting from the best. Scores are the base
    measure's scores of the picked points; indices come in pick order.
    """
    if base not in MEASURES:
        raise ValueError(f"unknown base {base!r} for diverse sampling; choose one of {sorted(MEASURES)}")
    if candidates_per_query < 1:
        raise ValueError(f"candidates_per_query must be at least 1, got {candidates_per_query}")
    n_candidates = min(len(X), candidates_per_query * n_instances)
    candidates, scores = ranked(learner, X, n_candidates, base, **base_kwargs)
    picked, _ = farthest_first(X[candidates], n_instances)
    return candidates[picked], scores[picked]
