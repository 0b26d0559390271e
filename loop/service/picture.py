"""What the page draws, as data: lines of a query's picture and the examples offered to move towards.

The page (and any API client) gets a query's :class:`nudge.loop.service.projection.Projection`
as JSON and draws it itself; this module adds what is cheaper or surer to
compute here than in a browser:

- :func:`boundary_lines`: the model's decision boundary on the projection's
  grid, as polylines in plane coordinates (contourpy's marching squares);
- :func:`true_boundary`: the true boundary of a generated 2-D set, as polylines
  in data coordinates (computed once per data set, shifted per query);
- :func:`towards_candidates`: per class, a few shown points worth moving
  towards: of that class, beyond the model's boundary, spread out around the
  query, nearest first.
"""

from __future__ import annotations

from dataclasses import dataclass

import contourpy
import numpy as np

TRUTH_RESOLUTION = 241  # the true boundary is traced on a finer grid than the model's field
CONFIDENT = 0.75  # a predicted (unlabelled) point is offered as an example of its class from this probability
SAME_WAY = 0.9  # two examples whose directions from the query have a cosine above this point the same way
CANDIDATES_PER_CLASS = 5
NEAREST_CONSIDERED = 60  # examples are picked among this many nearest eligible points of a class
NOT_BESIDE = 0.1  # an example lies at least this share of the shown points' median distance from the query


def boundary_lines(a: np.ndarray, b: np.ndarray, probabilities: np.ndarray) -> list[np.ndarray]:
    """Polylines ((L, 2) plane coordinates each) where the predicted class changes.

    a: (G_a,), b: (G_b,) grid coordinates; probabilities: (G_b, G_a, C). Two
    classes: the 0.5 contour of p_1. More: for each class c the zero contour of
    p_c - max_{k != c} p_k, the edge of c's region (a border between two regions
    is traced once from each side).
    """
    n_classes = probabilities.shape[-1]
    if n_classes == 2:
        fields = [probabilities[..., 1] - 0.5]
    else:
        fields = []
        for c in range(n_classes):
            others = np.delete(probabilities, c, axis=-1).max(axis=-1)
            fields.append(probabilities[..., c] - others)
    lines = []
    for field in fields:
        generator = contourpy.contour_generator(x=a, y=b, z=np.asarray(field, dtype=np.float64))
        lines += [line for line in generator.lines(0.0) if len(line) > 1]
    return lines


def true_boundary(generator, low: np.ndarray, high: np.ndarray,
                  resolution: int = TRUTH_RESOLUTION) -> list[np.ndarray]:
    """Polylines ((L, 2) data coordinates) of a 2-D generator's true boundary over the box [low, high]:
    the zero contour of its score (two classes), else the edge of each class's region."""
    xs = np.linspace(low[0], high[0], resolution)
    ys = np.linspace(low[1], high[1], resolution)
    grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    if hasattr(generator, "score"):
        fields = [(np.asarray(generator.score(grid), dtype=np.float64), 0.0)]
    else:  # every edge lies on the region of a class other than the last one
        truth = generator.truth(grid)
        fields = [((truth == c).astype(np.float64), 0.5) for c in range(generator.n_classes - 1)]
    lines = []
    for values, level in fields:
        contours = contourpy.contour_generator(x=xs, y=ys, z=values.reshape(resolution, resolution))
        lines += [line for line in contours.lines(level) if len(line) > 1]
    return lines


@dataclass(frozen=True)
class Candidate:
    """A shown point offered as an example to move towards."""

    point_id: int
    klass: int  # its label, else the model's prediction
    labelled: bool
    distance: float  # from the query, in the data space


def towards_candidates(
    x: np.ndarray,
    ids: np.ndarray,
    points: np.ndarray,
    classes: np.ndarray,
    labelled: np.ndarray,
    probabilities: np.ndarray | None,
    *,
    per_class: int = CANDIDATES_PER_CLASS,
) -> list[Candidate]:
    """Per class, up to ``per_class`` examples worth moving the query x (n,) towards.

    ids (K,), points (K, n), classes (K,) (label if labelled, else prediction,
    else -1), labelled (K,) and probabilities (K, C) (None before any training)
    describe the shown points. Eligible for class c: points labelled c, and
    points the model puts in c with probability at least :data:`CONFIDENT`
    (beyond the boundary, not on it), that are not beside the query (at least
    :data:`NOT_BESIDE` times the shown points' median distance away). Among the :data:`NEAREST_CONSIDERED`
    nearest eligible points, nearest first, a point is taken unless its
    direction from x is within the :data:`SAME_WAY` cosine of one already taken,
    so the examples lead different ways. Classes in index order.
    """
    offsets = points - x
    distances = np.linalg.norm(offsets, axis=1)
    beside = NOT_BESIDE * float(np.median(distances)) if len(distances) else 0.0
    candidates = []
    for klass in np.unique(classes[classes >= 0]):
        confident = np.zeros(len(ids), dtype=bool)
        if probabilities is not None:
            confident = probabilities[:, klass] >= CONFIDENT
        eligible = np.flatnonzero((classes == klass) & (labelled | confident) & (distances > max(beside, 0)))
        eligible = eligible[np.argsort(distances[eligible], kind="stable")][:NEAREST_CONSIDERED]
        taken: list[int] = []
        for index in eligible:
            unit = offsets[index] / distances[index]
            if all(unit @ offsets[j] / distances[j] <= SAME_WAY for j in taken):
                taken.append(index)
            if len(taken) == per_class:
                break
        candidates += [Candidate(int(ids[j]), int(klass), bool(labelled[j]), float(distances[j])) for j in taken]
    return candidates
