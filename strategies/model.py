"""What a strategy needs to know about the learner it is given.

A strategy receives a modAL ``ActiveLearner``, a modAL ``Committee`` or a
bare fitted estimator (modAL's own strategies accept all three). These
helpers look through the wrapper at the estimators and the labelled data.
"""

from __future__ import annotations

import numpy as np
from modAL.models import Committee
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted

from nudge.estimators import unpack_targets


def is_committee(learner) -> bool:
    """True for a modAL ``Committee`` (the one place that decides it)."""
    return isinstance(learner, Committee)


def learners_of(learner) -> list:
    """A committee's member learners, or ``[learner]``."""
    return list(learner.learner_list) if is_committee(learner) else [learner]


def estimators_of(learner) -> list:
    """The estimators behind ``learner``: a committee's members, a learner's one, or itself."""
    return [getattr(member, "estimator", member) for member in learners_of(learner)]


def is_fitted(learner) -> bool:
    """True when every estimator behind ``learner`` has been fitted."""
    try:
        for estimator in estimators_of(learner):
            check_is_fitted(estimator)
    except NotFittedError:
        return False
    return True


def labelled_data(learner) -> tuple[np.ndarray | None, np.ndarray | None]:
    """The points (A, n) the learner was taught and their labels (A,); (None, None) if unknown.

    Packed targets (see ``nudge.estimators.targets``) are reduced to their labels.
    A committee's members all hold the same data; the first one's is returned.
    """
    holder = learners_of(learner)[0]
    X, y = getattr(holder, "X_training", None), getattr(holder, "y_training", None)
    if X is None or y is None:
        return None, None
    X, y = np.asarray(X), np.asarray(y)
    return X, (y if y.ndim == 1 else unpack_targets(y, X.shape[1]).labels)
