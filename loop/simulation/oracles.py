"""Simulated annotators: answer a query with a label and counterfactual directions.

:func:`make_oracle` builds one of :data:`ORACLES` for a :class:`~nudge.loop.datasets.Dataset`:

- ``exact``: the true label (``dataset.y``) and the true direction: for a
  generated 2D set, the vector to the nearest point of the generator's true
  boundary; for text with counterfactual revisions (``cad-imdb``,
  ``text-csv`` with a ``counterfactual`` column), ``E(revision) - E(original)``.
  A point that noise put on the wrong side of the true boundary (its label is
  not the class of its region) gets no direction: from there, no way to the
  boundary leads out of its labelled class. Texts without a revision get no
  direction either. Any number of classes for a generator (the direction
  leads to the class beyond the nearest boundary point); two for revisions.
- ``nearest-opposite``: the true label and ``raw[j] - raw[i]``, with ``j`` the
  nearest pool point (in the model's units, ``X``) of another class than the given
  label (the pool only, so test points never leak into training; the answer names
  ``j``'s item id as the one moved towards). Works for any labelled data set,
  any number of classes.
- ``labels-only``: the true label, no direction.

Noise, for all kinds:

- ``label_noise`` p: with probability p the label is replaced by another
  class, drawn uniformly. A direction must lead to another class than the
  given label: ``nearest-opposite`` looks for the nearest point of a class
  other than the *given* label, so a wrong label comes with an arrow that is
  consistent with it (often towards a point of the true class); ``exact``
  gives no direction with a wrong label, since the true direction leads from
  the true class into the class now given.
- ``angle_noise`` (degrees): each direction is rotated by an angle drawn from
  a normal distribution with that standard deviation, in the plane spanned by
  the direction and a random vector orthogonal to it (any dimension >= 2);
  its length is kept. (A rotated rewrite direction keeps the source
  ``"rewrite"``, though x + direction is then no longer the revision's embedding.)

Directions are in the data's own units (``Dataset.raw``'s), as a person's are.
Oracles are the only part of nudge that read the true labels of pool points
(``dataset.y[pool]``); a data set whose pool labels are unknown cannot be simulated.

Answers are deterministic: the randomness of ``answer(i)`` comes from a
generator seeded with ``(seed, i)``, so an answer does not depend on which
questions were asked before it, nor in which order.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

import numpy as np

from nudge.loop.compute.neighbours import NeighbourIndex, neighbour_index
from nudge.loop.datasets import UNKNOWN, Dataset

ORACLES = ("exact", "nearest-opposite", "labels-only")


@dataclass
class Answer:
    """An annotation of one point.

    ``directions[j]`` (n,), in the data's own units (``Dataset.raw``'s), says "moving the
    point along it leads to class ``targets[j]``"; ``targets`` has one class index per direction (an empty
    list with directions means "the other class", for two classes). ``how``
    names who answered (e.g. ``"oracle-exact"``); ``source`` says how the
    directions were made, in the store's terms (``nudge.loop.store.schema.DIRECTION_SOURCES``):
    ``"rewrite"`` for E(revision) - E(original) (so a session may add the
    revision as an example), ``"towards-example"`` for the way to another
    point, ``"oracle"`` for the way to a generator's true boundary.
    """

    label: int
    directions: list[np.ndarray]
    how: str
    targets: list[int] = field(default_factory=list)
    source: str = "oracle"
    towards: list[str | None] = field(default_factory=list)  # per direction, the item id it moves towards

    def submission(self) -> dict:
        """The answer as ``Session.submit`` / ``Session.relabel`` keyword arguments."""
        return {"label": self.label, "directions": self.directions,
                "sources": [self.source] * len(self.directions), "targets": self.targets or None,
                "towards": self.towards or None}


class Oracle(Protocol):
    def answer(self, index: int) -> Answer: ...


def apply_answer(session, query_id: str, answer: Answer, *, annotator: str):
    """Submit an oracle's ``answer`` to the session's query ``query_id`` (label, directions,
    their source and target classes); returns the stored annotation."""
    return session.submit(query_id, annotator=annotator, **answer.submission())


class SimulatedAnnotator(ABC):
    """Answers queries on ``dataset`` by index; subclasses choose the direction.

    Parameters
    ----------
    dataset : the data set whose points are queried (any split).
    label_noise : probability in [0, 1] of answering another class. Default 0.
    angle_noise : standard deviation, in degrees, of the rotation of each
        direction. Default 0.
    seed : non-negative integer; with the index, it seeds each answer. Default 0.
    """

    how: str
    source = "oracle"

    def __init__(
        self, dataset: Dataset, *, label_noise: float = 0.0, angle_noise: float = 0.0, seed: int = 0
    ) -> None:
        if not 0 <= label_noise <= 1:
            raise ValueError(f"label_noise is a probability in [0, 1], got {label_noise}")
        if not angle_noise >= 0:
            raise ValueError(
                f"angle_noise is a standard deviation in degrees (>= 0), got {angle_noise}"
            )
        if angle_noise and dataset.n_features < 2:
            raise ValueError("angle_noise needs at least two features to rotate directions in")
        if int(seed) != seed or seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {seed}")
        unknown = int(np.sum(dataset.y[dataset.pool] == UNKNOWN))
        if unknown:
            raise ValueError(f"a simulated annotator answers with the true labels, and {unknown} of the "
                             f"{len(dataset.pool)} pool items of {dataset.name} have none: simulate on labelled data")
        self.dataset = dataset
        self.label_noise = label_noise
        self.angle_noise = angle_noise
        self.seed = int(seed)

    def answer(self, index: int) -> Answer:
        """The label of point ``index`` (into ``dataset.X``) and its directions (zero or one)."""
        index = self._checked_index(index)
        label_rng, angle_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence([self.seed, index]).spawn(2)
        )
        true_label = int(self.dataset.y[index])
        if true_label == UNKNOWN:
            raise ValueError(f"item {self.dataset.item_ids[index]} has no known label to answer with")
        label = self._noisy_label(true_label, label_rng)
        found = self._direction(index, true_label, label)
        if found is None or not np.all(np.isfinite(found[0])) or not np.any(found[0]):
            return Answer(label, [], self.how, source=self.source)
        direction, target, towards = found
        return Answer(label, [self._rotated(direction, angle_rng)], self.how, [target], self.source,
                      [] if towards is None else [towards])

    @abstractmethod
    def _direction(self, index: int, true_label: int, label: int) -> tuple[np.ndarray, int, str | None] | None:
        """(direction (n,) in data units, the class it leads to, the item id it moves towards or None)
        for ``index`` answered as ``label``, or None."""

    def _checked_index(self, index: int) -> int:
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            raise ValueError(f"index must be an integer, got {index!r}")
        if not 0 <= index < len(self.dataset.X):
            size = len(self.dataset.X)
            raise ValueError(f"index {index} is outside the data set's {size} points")
        return int(index)

    def _noisy_label(self, true_label: int, rng: np.random.Generator) -> int:
        if rng.random() >= self.label_noise:
            return true_label
        others = [c for c in range(self.dataset.n_classes) if c != true_label]
        return int(rng.choice(others))

    def _rotated(self, direction: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        direction = np.array(direction, dtype=np.float64)  # a copy: callers may keep it
        if not self.angle_noise:
            return direction
        length = np.linalg.norm(direction)
        unit = direction / length
        across = rng.standard_normal(len(unit))
        across -= (across @ unit) * unit
        across /= np.linalg.norm(across)
        angle = np.deg2rad(rng.normal(0.0, self.angle_noise))
        return length * (np.cos(angle) * unit + np.sin(angle) * across)


class LabelsOnlyOracle(SimulatedAnnotator):
    """The true label (with ``label_noise``), never a direction."""

    how = "oracle-labels-only"

    def _direction(self, index: int, true_label: int, label: int) -> None:
        return None


class ExactOracle(SimulatedAnnotator):
    """The true label and the true direction (see the module docstring)."""

    how = "oracle-exact"

    def __init__(self, dataset: Dataset, **options) -> None:
        super().__init__(dataset, **options)
        if dataset.generator is None and dataset.counterfactual_X is None:
            raise ValueError(
                f"the exact oracle needs a data set with a known generator (moons, circles, blobs, "
                f"xor) or counterfactual revisions (cad-imdb, text-csv with a 'counterfactual' "
                f"column); {dataset.name} has neither: use the 'nearest-opposite' oracle"
            )
        if dataset.generator is None and dataset.n_classes != 2:
            raise ValueError(
                f"the exact oracle needs two classes for revisions ({dataset.name} has "
                f"{dataset.n_classes}: a revision's class is not recorded); use the 'nearest-opposite' oracle"
            )
        self.source = "oracle" if dataset.generator is not None else "rewrite"

    @cached_property
    def _true_directions(self) -> tuple[np.ndarray, np.ndarray]:
        """(N, n) every point's true direction, NaN rows where there is none, and (N,) the class
        each leads to."""
        data = self.dataset
        if data.generator is not None:  # the generator's space is the data's units
            points = data.raw.astype(np.float64)
            return data.generator.boundary_direction(points, data.y), data.generator.boundary_target(points)
        return data.counterfactual_X.astype(np.float64) - data.raw, 1 - data.y

    def _direction(self, index: int, true_label: int, label: int) -> tuple[np.ndarray, int, None] | None:
        if label != true_label:
            return None
        directions, targets = self._true_directions
        return directions[index], int(targets[index]), None


class NearestOppositeOracle(SimulatedAnnotator):
    """The true label and the way to the nearest pool point of another class."""

    how = "oracle-nearest-opposite"
    source = "towards-example"

    @cached_property
    def _class_indexes(self) -> list[NeighbourIndex | None]:
        """Per class c, a neighbour index over the pool points of class c (None where there are none)."""
        data = self.dataset
        members = [data.pool[data.y[data.pool] == c] for c in range(data.n_classes)]  # only known labels
        return [neighbour_index(data.X, ids) if len(ids) else None for ids in members]

    def _direction(self, index: int, true_label: int, label: int) -> tuple[np.ndarray, int, str] | None:
        x = self.dataset.X[index]  # nearest in the model's units (scaled features weigh alike)
        nearest = [(np.inf, -1)] * self.dataset.n_classes
        for c, class_index in enumerate(self._class_indexes):
            if c != label and class_index is not None:
                distances, ids = class_index.search(x, 1, exclude=np.array([index]))
                nearest[c] = (float(distances[0, 0]), int(ids[0, 0]))
        target = min(range(len(nearest)), key=lambda c: nearest[c][0])
        distance, neighbour = nearest[target]
        if not np.isfinite(distance):
            return None
        raw = self.dataset.raw
        return raw[neighbour].astype(np.float64) - raw[index], target, self.dataset.item_ids[neighbour]


ORACLE_CLASSES: dict[str, type[SimulatedAnnotator]] = {
    "exact": ExactOracle,
    "nearest-opposite": NearestOppositeOracle,
    "labels-only": LabelsOnlyOracle,
}


def default_oracle(dataset: Dataset) -> tuple[str, str]:
    """(kind, why): the most informative oracle that can answer on ``dataset``.

    ``exact`` where the true direction is known (a generator's boundary, any
    number of classes; counterfactual revisions, two classes), else
    ``nearest-opposite``, which works on any labelled data set.
    """
    if dataset.generator is not None:
        return "exact", "the data set knows its true boundary"
    if dataset.counterfactual_X is not None and dataset.n_classes == 2:
        return "exact", "the data set holds counterfactual revisions"
    reason = "revisions of more than two classes" if dataset.counterfactual_X is not None else \
        "no known boundary or revisions"
    return "nearest-opposite", f"{reason}: directions go to the nearest pool point of another class"


def make_oracle(
    kind: str,
    dataset: Dataset,
    *,
    label_noise: float = 0.0,
    angle_noise: float = 0.0,
    seed: int = 0,
) -> Oracle:
    """A simulated annotator of ``kind`` (one of :data:`ORACLES`) for ``dataset``.

    ``label_noise`` is a probability, ``angle_noise`` a standard deviation in
    degrees; see the module docstring for what they do.
    """
    if kind not in ORACLE_CLASSES:
        raise ValueError(f"unknown oracle {kind!r}; choose one of: {', '.join(ORACLES)}")
    oracle_class = ORACLE_CLASSES[kind]
    return oracle_class(dataset, label_noise=label_noise, angle_noise=angle_noise, seed=seed)
