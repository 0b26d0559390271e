"""How a model version measures, with test labels or without: :class:`Evaluation`.

With a labelled test set the trainer measures every version's accuracy on it ("test"). Without
one (an unlabelled pool, no test file) it cross-validates on the answers so far
(:func:`cross_validated`, "cross-validated"): k-fold, stratified by label, k = 5 or the smallest
class's number of answers when fewer; not below 2 answers in each class answered. A
cross-validation trains k fresh models, so the trainer runs one every few versions (when the
answers grew by :data:`CV_MIN_NEW` and by a tenth since the last one; :func:`cross_validation_due`),
after it published the version (nobody waits for it), in its own thread in a served session.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.model_selection import StratifiedKFold

from nudge.loop.store.log import Annotation

CV_FOLDS = 5
CV_MIN_NEW = 5  # answers since the last cross-validation before the next one
CV_GROWTH = 0.1  # ... and at least this share more


@dataclass(frozen=True)
class Evaluation:
    """One measurement of a model: ``kind`` "test" or "cross-validated", accuracy in [0, 1], on ``n`` items."""

    kind: str
    accuracy: float
    n: int


def cross_validation_due(n_answers: int, last: int) -> bool:
    """True when ``n_answers`` is enough more than the ``last`` cross-validated count (0: never)."""
    grown = n_answers - last
    return grown >= max(CV_MIN_NEW, math.ceil(CV_GROWTH * last))


def cross_validated(answers: Sequence[Annotation], X: np.ndarray,
                    rows_of: Callable[[Sequence[Annotation]], tuple[np.ndarray, np.ndarray]],
                    new_learner: Callable[[], object], seed: int, folds: int = CV_FOLDS) -> Evaluation | None:
    """k-fold accuracy of fresh learners on ``answers`` (labels, directions and all): each fold's
    learner is trained on the other folds' rows (``rows_of(answers)``: the trainer's training rows)
    and predicts the held-out answers' points (``X`` in model units). None when some answered class
    has fewer than 2 answers, or only one class was answered."""
    labels = np.array([answer.label for answer in answers], dtype=np.int64)
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    if len(counts) < 2 or counts.min() < 2:
        return None
    k = int(min(folds, counts.min()))
    points = np.array([answer.point_id for answer in answers])
    correct = 0
    for train, held in StratifiedKFold(k, shuffle=True, random_state=seed).split(points, labels):
        learner = new_learner()
        learner.fit(*rows_of([answers[i] for i in train]))
        correct += int(np.sum(learner.predict(X[points[held]]) == labels[held]))
    return Evaluation("cross-validated", correct / len(answers), len(answers))
