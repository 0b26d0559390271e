"""What a session is: its settings (:class:`SessionConfig`), the factory of its estimator and
learner, custom objects stored by import name, and the checks a resumed session passes."""

from nudge.loop.config.factory import (
    TEXT_ESTIMATOR,
    check_estimator,
    describe_estimator,
    new_estimator,
    new_learner,
)
from nudge.loop.config.settings import EstimatorFactory, SessionConfig, SharedSettings

__all__ = [
    "TEXT_ESTIMATOR",
    "EstimatorFactory",
    "SessionConfig",
    "SharedSettings",
    "check_estimator",
    "describe_estimator",
    "new_estimator",
    "new_learner",
]
