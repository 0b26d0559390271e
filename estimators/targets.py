"""Directions travel with their points, packed into the rows of ``y``.

skorch batches ``X`` and ``y`` together but does not batch ``fit`` keyword
arguments, and modAL's ``ActiveLearner.teach`` stacks new ``X`` and ``y`` rows
under the old ones. So a labelled point and its counterfactual directions are
packed into one float row of ``y``, and survive shuffling, batching, modAL's
stacking and skorch's validation split untouched:

    y[i] = [label_i, used_i1, target_i1, k_i1 (n values), ..., used_im, target_im, k_im]

``label_i`` is the class of point ``i``; slot ``j``, when ``used_ij`` is 1,
says "moving along ``k_ij`` (a vector in R^n) takes the point towards class
``target_ij``". An empty slot is all zeros (``used = 0``): that is the mask.
Every value is finite, so scikit-learn's and modAL's checks pass. A 1-D ``y``
is labels only. Every row of one array has the same number of slots ``m``
(``max_directions``), so rows packed separately still stack.

Labels and targets are stored as floats, so packed labels must be numbers
(the class values themselves, e.g. 0/1, not strings). A classifier given
``classes=[0, 1]`` maps them back to those values, so its ``classes_`` and
``predict`` are ints again; without ``classes`` they are the floats stored.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np

DirectionsLike = np.ndarray | Sequence[np.ndarray | Sequence[float] | None] | None


class UnpackedTargets(NamedTuple):
    """A packed ``y`` taken apart. N points, m slots, n features."""

    labels: np.ndarray  # (N,)
    mask: np.ndarray  # (N, m) bool, True where the slot holds a direction
    targets: np.ndarray  # (N, m), the class each direction leads to (0 where empty)
    directions: np.ndarray  # (N, m, n), zero where the slot is empty


SLOT_HEAD = 2  # used flag and target class, before the n direction values


def row_width(n_features: int, max_directions: int) -> int:
    """Number of columns of a packed ``y`` with ``max_directions`` slots."""
    return 1 + max_directions * SLOT_HEAD + max_directions * n_features


def _as_direction_list(
    directions: DirectionsLike, n_points: int, n_features: int
) -> list[np.ndarray]:
    """Normalise every accepted form of ``directions`` to a list of (m_i, n) arrays."""
    if directions is None:
        return [np.zeros((0, n_features)) for _ in range(n_points)]
    if isinstance(directions, np.ndarray) and directions.ndim in (2, 3):
        if directions.shape[0] != n_points:
            raise ValueError(
                f"directions has {directions.shape[0]} rows but there are {n_points} labels"
            )
        per_point = [np.atleast_2d(d) for d in directions]
    else:
        if len(directions) != n_points:
            raise ValueError(
                f"directions has {len(directions)} entries but there are {n_points} labels"
            )
        per_point = [
            np.zeros((0, n_features)) if d is None else np.atleast_2d(np.asarray(d, dtype=float))
            for d in directions
        ]
    for i, d in enumerate(per_point):
        if d.ndim != 2 or d.shape[1] != n_features:
            raise ValueError(
                f"direction(s) of point {i} have shape {d.shape}; expected (m, {n_features})"
            )
    return per_point


def _other_class(label: float, classes: np.ndarray | None) -> float:
    if classes is None or len(classes) != 2:
        raise ValueError(
            "targets are needed when there are not exactly two classes: "
            "pass targets=... (the class each direction leads to) or classes=[a, b]"
        )
    if label not in classes:
        raise ValueError(f"label {label!r} is not one of the classes {list(classes)}")
    return float(classes[1] if label == classes[0] else classes[0])


def check_directions(directions: np.ndarray, where: str = "a direction") -> None:
    """Raise ValueError unless every row of ``directions`` (..., n) is finite and non-zero."""
    directions = np.asarray(directions, dtype=float)
    if not np.all(np.isfinite(directions)):
        raise ValueError(f"{where} contains NaN or infinite values")
    if np.any(np.all(directions == 0, axis=-1)):
        raise ValueError(f"{where} has zero length: a direction must point somewhere")


def pack_targets(
    labels: Sequence[float] | np.ndarray,
    directions: DirectionsLike = None,
    *,
    n_features: int,
    targets: Sequence[Sequence[float] | float | None] | None = None,
    classes: Sequence[float] | None = None,
    max_directions: int | None = None,
) -> np.ndarray:
    """Pack labels and their directions into a 2-D ``y`` (see module docstring).

    Parameters
    ----------
    labels : (N,) numeric class labels.
    directions : None, an (N, n) or (N, m, n) array, or a length-N sequence whose
        items are None (no direction), one vector (n,) or several (m_i, n).
    n_features : n, the dimension of the points.
    targets : the class each direction leads to, per point (a number or a
        sequence of m_i numbers). Defaults to "the other class", which needs
        ``classes`` with exactly two entries.
    classes : all class labels; needed when ``targets`` is omitted.
    max_directions : m, the slots per row (default: the most any point has,
        at least 1). Pass the same m to arrays that will be stacked.

    Returns
    -------
    (N, 1 + m * (2 + n)) float64 array.
    """
    labels = np.asarray(labels, dtype=float).reshape(-1)
    if not np.all(np.isfinite(labels)):
        raise ValueError("labels contain NaN or infinite values")
    n_points = len(labels)
    per_point = _as_direction_list(directions, n_points, n_features)
    most = max((len(d) for d in per_point), default=0)
    slots = max(most, 1) if max_directions is None else max_directions
    if most > slots:
        raise ValueError(f"a point has {most} directions but max_directions is {slots}")
    class_array = None if classes is None else np.asarray(classes, dtype=float)

    packed = np.zeros((n_points, row_width(n_features, slots)))
    packed[:, 0] = labels
    for i, point_directions in enumerate(per_point):
        point_targets = _targets_for(i, len(point_directions), labels[i], targets, class_array)
        for j in range(len(point_directions)):
            start = 1 + j * (SLOT_HEAD + n_features)
            check_directions(point_directions[j], where=f"direction {j} of point {i}")
            if point_targets[j] == labels[i]:
                raise ValueError(
                    f"direction {j} of point {i} leads to its own class {labels[i]!r}; "
                    "a counterfactual direction must lead to another class"
                )
            packed[i, start : start + SLOT_HEAD] = (1.0, point_targets[j])
            packed[i, start + SLOT_HEAD : start + SLOT_HEAD + n_features] = point_directions[j]
    return packed


def _targets_for(
    i: int,
    count: int,
    label: float,
    targets: Sequence[Sequence[float] | float | None] | None,
    classes: np.ndarray | None,
) -> list[float]:
    if count == 0:
        return []
    given = None if targets is None else targets[i]
    if given is None:
        return [_other_class(label, classes)] * count
    values = [float(t) for t in np.atleast_1d(np.asarray(given, dtype=float))]
    if len(values) == 1:
        values = values * count
    if len(values) != count:
        raise ValueError(f"point {i} has {count} directions but {len(values)} targets")
    return values


def unpack_targets(y: np.ndarray, n_features: int) -> UnpackedTargets:
    """Split a packed ``y`` (or a 1-D label vector) into labels, targets, directions."""
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2:
        raise ValueError(f"y must be 1-D labels or a 2-D packed array, got {y.ndim} dimensions")
    slots, remainder = divmod(y.shape[1] - 1, SLOT_HEAD + n_features)
    if remainder or y.shape[1] < 1:
        raise ValueError(
            f"a packed y for {n_features} features has 1 + m * {SLOT_HEAD + n_features} "
            f"columns; got {y.shape[1]} (use nudge.estimators.pack_targets to build it)"
        )
    slot_view = y[:, 1:].reshape(len(y), slots, SLOT_HEAD + n_features)
    used = slot_view[:, :, 0]
    if not np.all((used == 0) | (used == 1)):
        raise ValueError("the 'used' flags of a packed y must be 0 or 1")
    return UnpackedTargets(
        y[:, 0], used == 1, slot_view[:, :, 1], slot_view[:, :, SLOT_HEAD:]
    )
