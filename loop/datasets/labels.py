"""The labels a file brings (often none), the class names, and the test set they allow.

A file's label cells are optional: an empty cell (or a file without a label
column) means "not known", :data:`~nudge.loop.datasets.base.UNKNOWN`. Class
names are declared (``classes``) or read from the labels present; a file with
no labels and no declared classes cannot say what to annotate and is refused.
The test set is a labelled file of its own, or a share of the labelled rows
(:func:`held_out`); without either the session still runs, measured without
test labels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from nudge.loop.datasets.base import UNKNOWN, split_pool_test

DEFAULT_HELD_OUT = 0.2
MIN_PER_CLASS_TO_HOLD_OUT = 10  # labelled rows of each class before a share is held out by default


def label_order(label: str) -> tuple[int, float, str]:
    """Numbers first, by value; then words, alphabetically."""
    try:
        value = float(label)
    except ValueError:
        return (1, 0.0, label)
    return (0, value, label) if math.isfinite(value) else (1, 0.0, label)


def class_names_of(labels: Sequence[str | None], declared: Sequence[str] | None, source: str) -> list[str]:
    """The class names: ``declared`` when given, else the labels present, sorted (numbers first)."""
    if declared is not None:
        return list(declared)
    present = sorted({label for label in labels if label is not None}, key=label_order)
    if not present:
        raise ValueError(f"{source} has no labels: name the classes, e.g. --classes negative,positive")
    if len(present) < 2:
        raise ValueError(
            f"{source} has only one class among its labels ({present[0]!r}); a classifier needs at least two: "
            "name them all, e.g. --classes negative,positive"
        )
    return present


def class_indices(labels: Sequence[str | None], class_names: Sequence[str], where: Sequence[str]) -> np.ndarray:
    """(N,) int64 class indices of ``labels`` (None: :data:`UNKNOWN`); a label that is not a class
    is refused naming where it is (``where[i]``, e.g. "data.csv, line 3")."""
    index = {name: i for i, name in enumerate(class_names)}
    y = np.full(len(labels), UNKNOWN, dtype=np.int64)
    for row, label in enumerate(labels):
        if label is None:
            continue
        if label not in index:
            raise ValueError(f"{where[row]}: the label {label!r} is not one of the classes "
                             f"{', '.join(class_names)}")
        y[row] = index[label]
    return y


def held_out(y: np.ndarray, n_classes: int, test_fraction: float | None, seed: int,
             source: str) -> tuple[np.ndarray, np.ndarray]:
    """(pool, test) index arrays into ``y`` (N,): a share of the **labelled** rows is held out for
    testing, the rest (and every unlabelled row) is the pool.

    ``test_fraction`` None: :data:`DEFAULT_HELD_OUT` when the labelled rows hold at least
    :data:`MIN_PER_CLASS_TO_HOLD_OUT` of every class, else none; 0: none.
    """
    labelled = np.flatnonzero(y != UNKNOWN)
    if test_fraction is None:
        counts = np.bincount(y[labelled], minlength=n_classes)
        test_fraction = DEFAULT_HELD_OUT if counts.min() >= MIN_PER_CLASS_TO_HOLD_OUT else 0.0
    if test_fraction == 0:
        return np.arange(len(y)), np.zeros(0, dtype=np.int64)
    if len(labelled) < 2:
        raise ValueError(f"{source} has {len(labelled)} labelled rows: too few to hold out a test fraction "
                         f"of {test_fraction}")
    _, test = split_pool_test(y[labelled], test_fraction, seed, f"{source} (its labelled rows)")
    test = labelled[test]
    return np.setdiff1d(np.arange(len(y)), test), test
