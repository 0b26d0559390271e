"""What to ask next: query strategies for modAL's ActiveLearner.

``select_queries(learner, X_pool, n_instances, strategy)`` is the entry point;
``STRATEGIES`` holds every strategy by name (each usable as a modAL
``query_strategy``), ``make_learner`` builds the ActiveLearner or Committee.
"""

from nudge.strategies import compat  # noqa: F401  (installs the modAL shim first)
from nudge.strategies.model import estimators_of, is_committee
from nudge.strategies.registry import STRATEGIES, get_strategy, make_learner, needs_committee, select_queries
from nudge.strategies.sampling import DISAGREEMENTS, MEASURES, boundary_distance

__all__ = [
    "DISAGREEMENTS",
    "MEASURES",
    "STRATEGIES",
    "boundary_distance",
    "estimators_of",
    "is_committee",
    "needs_committee",
    "get_strategy",
    "make_learner",
    "select_queries",
]
