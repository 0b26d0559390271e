"""How far a team's annotators agree, computed from the answer log alone.

What counts: each annotator's newest answer on each point that is not undone (a relabel replaces
their earlier one); the lead's resolutions (``resolved_by``) are reviews, not answers, and are left
out. A point counts as shared once two or more annotators labelled it (an overlap item, or a relabel
by someone else).

- per pair of annotators, on the points both labelled: how many, the share of equal labels, Cohen's
  kappa (:func:`sklearn.metrics.cohen_kappa_score`), and the mean cosine between their directions;
- overall: the shared points, the share of agreeing pairs of labels, Krippendorff's alpha (nominal,
  the ``krippendorff`` package; any number of annotators, missing answers allowed) and the mean
  direction cosine;
- per annotator: labels, skips, the median seconds between two of their answers in a row, the share
  of their labels the others gave too (on shared points), their mean direction cosine with the
  others, the share of their labels the current model gives, and the share of their directions whose
  tip the model already reads as the class the direction leads to.

An answer's direction is the mean of its directions' unit vectors (in the data's units, as stored),
so that one arrow and a rewrite weigh the same; the cosine of two answers is that of their
directions. A kappa or alpha that is not defined (every label the same class, nothing shared) is None.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import krippendorff
import numpy as np
from sklearn.metrics import cohen_kappa_score

from nudge.loop.store.log import Annotation


@dataclass(frozen=True)
class ModelReading:
    """What the agreement needs of the current model: its class for model inputs, the points as
    model inputs, and a direction in the data's units turned into the model's."""

    predict: Callable[[np.ndarray], np.ndarray]  # (m, d) model inputs -> (m,) class indices
    X: np.ndarray  # (N, d)
    direction_to_model: Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class PairAgreement:
    annotators: tuple[str, str]
    n_items: int
    share_equal: float | None
    kappa: float | None
    direction_cosine: float | None


@dataclass(frozen=True)
class AnnotatorStanding:
    annotator: str
    labels: int
    skips: int
    median_seconds: float | None
    agreement_with_others: float | None  # share of their labels on shared points that others gave too
    direction_cosine_with_others: float | None
    agreement_with_model: float | None
    directions_model_agreed: float | None  # share of their directions whose tip the model reads as its target


@dataclass(frozen=True)
class AgreementReport:
    shared_items: int
    share_equal: float | None
    alpha: float | None
    direction_cosine: float | None
    pairs: list[PairAgreement] = field(default_factory=list)
    annotators: list[AnnotatorStanding] = field(default_factory=list)

    def standing(self, annotator: str) -> AnnotatorStanding | None:
        return next((row for row in self.annotators if row.annotator == annotator), None)


def agreement(answers: Sequence[Annotation], model: ModelReading | None = None) -> AgreementReport:
    """The agreement of the annotators of ``answers`` (a session's log, oldest first)."""
    own = [a for a in answers if not a.undone and a.resolved_by is None]
    newest = {(a.annotator, a.point_id): a for a in own}
    labels: dict[int, dict[str, Annotation]] = defaultdict(dict)  # point -> annotator -> their label
    for (annotator, point_id), answer in newest.items():
        if not answer.is_skip:
            labels[point_id][annotator] = answer
    shared = {point_id: given for point_id, given in labels.items() if len(given) > 1}
    names = sorted({a.annotator for a in own})
    pairs = [_pair(a, b, shared) for a, b in itertools.combinations(names, 2)]
    pairs = [pair for pair in pairs if pair.n_items]
    comparisons = [(x, y) for given in shared.values() for x, y in itertools.combinations(given.values(), 2)]
    return AgreementReport(
        shared_items=len(shared),
        share_equal=_mean([x.label == y.label for x, y in comparisons]),
        alpha=_alpha(shared, names),
        direction_cosine=_mean(_cosines(comparisons)),
        pairs=pairs,
        annotators=[_standing(name, own, newest, shared, model) for name in names],
    )


def answer_direction(answer: Annotation) -> np.ndarray | None:
    """The mean of the answer's unit directions (None without directions, or when they cancel)."""
    units = [d / np.linalg.norm(d) for d in answer.directions if np.linalg.norm(d) > 0]
    if not units:
        return None
    mean = np.mean(units, axis=0)
    return mean if np.linalg.norm(mean) > 0 else None


def cosine(first: Annotation, second: Annotation) -> float | None:
    """The cosine between two answers' directions (None when either has none)."""
    a, b = answer_direction(first), answer_direction(second)
    if a is None or b is None:
        return None
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


def _pair(first: str, second: str, shared: dict[int, dict[str, Annotation]]) -> PairAgreement:
    both = [(given[first], given[second]) for given in shared.values() if first in given and second in given]
    if not both:
        return PairAgreement((first, second), 0, None, None, None)
    a, b = ([answer.label for answer in side] for side in zip(*both))
    return PairAgreement((first, second), len(both), _mean([x.label == y.label for x, y in both]), _kappa(a, b),
                         _mean(_cosines(both)))


def _kappa(a: list[int], b: list[int]) -> float | None:
    if len(set(a) | set(b)) < 2:
        return None  # one class only: chance agreement is certain and kappa is not defined
    return float(cohen_kappa_score(a, b))


def _alpha(shared: dict[int, dict[str, Annotation]], names: list[str]) -> float | None:
    """Krippendorff's alpha (nominal) over the shared points: one row per annotator, NaN where missing."""
    values = {answer.label for given in shared.values() for answer in given.values()}
    if len(values) < 2:
        return None
    data = np.full((len(names), len(shared)), np.nan)
    for column, given in enumerate(shared.values()):
        for annotator, answer in given.items():
            data[names.index(annotator), column] = answer.label
    return float(krippendorff.alpha(reliability_data=data, level_of_measurement="nominal"))


def _standing(name: str, own: list[Annotation], newest: dict[tuple[str, int], Annotation],
              shared: dict[int, dict[str, Annotation]], model: ModelReading | None) -> AnnotatorStanding:
    answers = [a for a in own if a.annotator == name]
    times = np.array([a.created_at for a in answers])
    mine = [a for (annotator, _), a in newest.items() if annotator == name and not a.is_skip]
    with_others = [(given[name], other) for given in shared.values() if name in given
                   for annotator, other in given.items() if annotator != name]
    return AnnotatorStanding(
        annotator=name,
        labels=sum(1 for a in answers if not a.is_skip),
        skips=sum(1 for a in answers if a.is_skip),
        median_seconds=float(np.median(np.diff(times))) if len(times) > 1 else None,
        agreement_with_others=_mean([x.label == y.label for x, y in with_others]),
        direction_cosine_with_others=_mean(_cosines(with_others)),
        agreement_with_model=None if model is None or not mine else _with_model(mine, model),
        directions_model_agreed=None if model is None else _directions_agreed(mine, model),
    )


def _with_model(mine: list[Annotation], model: ModelReading) -> float:
    predicted = model.predict(model.X[[a.point_id for a in mine]])
    return float(np.mean(predicted == np.array([a.label for a in mine])))


def _directions_agreed(mine: list[Annotation], model: ModelReading) -> float | None:
    tips = [model.X[a.point_id] + model.direction_to_model(d) for a in mine for d in a.directions]
    if not tips:
        return None
    targets = [t for a in mine for t in a.targets]
    return float(np.mean(model.predict(np.array(tips)) == np.array(targets)))


def _cosines(pairs: list[tuple[Annotation, Annotation]]) -> list[float]:
    return [c for c in (cosine(x, y) for x, y in pairs) if c is not None]


def _mean(values: list) -> float | None:
    return float(np.mean(values)) if values else None
