"""Stopping criteria: when more answers no longer pay.

Each criterion is an object with one job, as small-text's stopping criteria
are: after every retrain it is shown the new model (:meth:`StoppingCriterion.update`)
and says whether it is met and the value it judges by. A session's criteria
come from its setting ``SessionConfig.stop``, a list of specs
``NAME=THRESHOLD[:OPTION=VALUE...]``; its :class:`StoppingRule` is met as soon
as any of them is met. The criteria:

==============  ========================================================  ====================
spec            met when                                                  options (default)
==============  ========================================================  ====================
budget=N        at least N points are labelled                            --
stable=K        the mean Cohen's kappa between successive models'         window (3), after (0)
                predictions on a fixed sample of the pool, over the last
                ``window`` retrains, is at least K (small-text
                ``KappaAverage``)
change=F        at most a share F of the sample's predictions changed     after (0)
                since the previous model (small-text ``ClassificationChange``)
uncertainty=U   the mean normalised entropy of the predictions on the     after (0)
                sample's unlabelled points is below U (small-text
                ``OverallUncertainty``)
delta-f=D       the estimated change of the F-score stayed below D over   window (3), after (0)
                ``window`` retrains; two classes only (small-text
                ``DeltaFScore``)
agreement=A     of the directions given in the last ``rounds`` retrains   cosine (0), rounds (3),
                (at least ``min``), a share of at least A agreed with     min (10), after (0)
                the model they were given to: the cosine between the
                model's input gradient towards the direction's target
                class, grad_x (z_c - z_y), and the direction is above
                ``cosine``
==============  ========================================================  ====================

``after=N``: the criterion cannot be met before N points are labelled (early
models that predict one class everywhere look perfectly stable).

Why ``agreement`` asks the model *before* it trained on the directions: the
direction loss pushes the gradient of a trained-on point along its direction,
so agreement with directions already learnt says little; agreement with fresh
ones says the annotators no longer tell the model anything it does not
already believe. The fixed sample holds up to :data:`STOPPING_SAMPLE` pool
points drawn with the session's seed. Criteria keep their history in memory:
a resumed session starts their windows again.

small-text imports transformers when it is imported, which takes seconds, so
it is imported only when a criterion that uses it is built.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np
import torch

from estimators.losses import gap_gradients
from loop.callbacks import SessionCallback
from loop.errors import SessionError

if TYPE_CHECKING:
    from loop.datasets import Dataset
    from loop.session import Session
    from loop.training import ModelSnapshot

STOPPING_SAMPLE = 1000
WHOLE_OPTIONS = {"after": 0, "window": 1, "rounds": 1, "min": 1}  # options that count something: their least value
SPEC_FORM = "NAME=THRESHOLD[:OPTION=VALUE...], e.g. budget=200 or stable=0.99:window=3"


# --------------------------------------------------------------------------- what a criterion sees


@dataclass
class Round:
    """What the criteria see after a retrain: the new model, the one before it, and the session.

    The predictions on the fixed sample and the fresh directions are computed
    once per round, when a criterion first asks for them.
    """

    session: Session
    snapshot: ModelSnapshot
    previous: ModelSnapshot
    sample: np.ndarray  # (S,) indices into the data set: the fixed sample of the pool

    @property
    def n_labeled(self) -> int:
        return self.snapshot.n_labeled

    @cached_property
    def probabilities(self) -> np.ndarray:
        """(S, C) the new model's class probabilities on the sample."""
        return self.snapshot.learner.predict_proba(self.session.dataset.X[self.sample])

    @cached_property
    def predictions(self) -> np.ndarray:
        """(S,) the new model's predicted class indices on the sample."""
        return np.argmax(self.probabilities, axis=1)

    @cached_property
    def unlabelled_rows(self) -> np.ndarray:
        """Rows of the sample (indices into it) whose points are not labelled."""
        labelled = np.fromiter(self.session.labelled_points(), dtype=np.int64)
        return np.flatnonzero(~np.isin(self.sample, labelled))

    @cached_property
    def fresh_direction_cosines(self) -> np.ndarray:
        """(P,) for each direction new in this round, the cosine between the previous model's
        gradient grad_x (z_c - z_y) at its point and the direction (empty before any model)."""
        if not self.previous.is_fitted:
            return np.zeros(0)
        new_ids = set(self.snapshot.annotation_ids) - set(self.previous.annotation_ids)
        fresh = [a for a in self.session.effective_annotations() if a.id in new_ids and a.directions]
        pairs = [(a.point_id, a.label, target, k) for a in fresh for k, target in zip(a.directions, a.targets)]
        if not pairs:
            return np.zeros(0)
        points, labels, targets, directions = zip(*pairs)
        return gradient_cosines(self.previous.estimator, self.session.dataset.X[list(points)],
                                np.array(labels), np.array(targets), np.array(directions))


def gradient_cosines(estimator, X: np.ndarray, labels: np.ndarray, targets: np.ndarray,
                     directions: np.ndarray) -> np.ndarray:
    """(P,) cos(grad_x (z_target - z_label)(x), k) for P pairs: X (P, n), labels and targets (P,)
    class indices, directions (P, n). A zero gradient gives 0. ``estimator`` is a skorch-style
    network with a fitted torch ``module_`` (a committee is judged by its first member)."""
    module = getattr(estimator, "module_", None)
    if not isinstance(module, torch.nn.Module):
        raise SessionError(f"the agreement criterion needs a torch network (module_); "
                           f"{type(estimator).__name__} has none")
    module.eval()
    parameter = next(module.parameters())
    x = torch.as_tensor(np.asarray(X), dtype=parameter.dtype, device=parameter.device)
    with torch.no_grad():
        gradients = gap_gradients(module, x, torch.as_tensor(labels, device=parameter.device),
                                  torch.as_tensor(targets, device=parameter.device)[:, None],
                                  derivative="logit")[:, 0].cpu().numpy().astype(np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    lengths = np.linalg.norm(gradients, axis=1) * np.linalg.norm(directions, axis=1)
    dots = np.einsum("ij,ij->i", gradients, directions)
    return np.divide(dots, lengths, out=np.zeros(len(dots)), where=lengths > 0)


# --------------------------------------------------------------------------- the criteria


def as_text(number: float) -> str:
    """A number as a spec writes it: 200, not 200.0; 0.999 as it is."""
    return str(int(number)) if number == int(number) else repr(float(number))


class StoppingCriterion(ABC):
    """One criterion: shown each new model (:meth:`update`), it says whether it is met and why.

    ``threshold`` is the number after ``NAME=``; ``options`` are those of
    :attr:`OPTIONS` (their defaults otherwise); ``n_classes`` is the data set's.
    Subclasses set :attr:`name`, :attr:`OPTIONS`, check their threshold in
    :meth:`check` and judge a round in :meth:`judge`.
    """

    name: ClassVar[str]
    OPTIONS: ClassVar[dict[str, float]] = {"after": 0}

    def __init__(self, threshold: float, *, n_classes: int, **options: float) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise SessionError(f"{self.name}: unknown option(s) {sorted(unknown)}; "
                               f"it takes {', '.join(self.OPTIONS) or 'none'}")
        self.threshold = threshold
        self.n_classes = n_classes
        self.options = {**self.OPTIONS, **options}
        for option, least in WHOLE_OPTIONS.items():
            value = self.options.get(option, least)
            if value != int(value) or value < least:
                raise SessionError(f"{self.name}: {option} must be a whole number, at least {least}")
        self.check()
        self.value: float | None = None
        self.error: str | None = None  # why the last round could not be judged
        self._judged_met = False
        self._n_labeled = 0

    @property
    def spec(self) -> str:
        """The criterion as it is written: ``name=threshold`` and the options that differ from the defaults."""
        changed = [f":{k}={as_text(v)}" for k, v in self.options.items() if v != self.OPTIONS[k]]
        return f"{self.name}={as_text(self.threshold)}{''.join(changed)}"

    @property
    def met(self) -> bool:
        return self._judged_met and self._n_labeled >= self.options.get("after", 0)

    def check(self) -> None:
        """Refuse a threshold out of range (SessionError)."""

    def update(self, round_: Round) -> None:
        """Judge the new model of ``round_``: sets :attr:`value` and whether it is met."""
        self._n_labeled = round_.n_labeled
        try:
            self._judged_met, self.error = bool(self.judge(round_)), None
        except SessionError as error:
            self._judged_met, self.value, self.error = False, None, str(error)

    @abstractmethod
    def judge(self, round_: Round) -> bool:
        """Whether the criterion holds after this round; sets ``self.value``."""

    def describe(self) -> dict:
        """The criterion's state as JSON-ready data."""
        return {"criterion": self.spec, "met": self.met, "value": self.value, "threshold": self.threshold,
                "error": self.error}

    def _check_range(self, low: float, high: float, what: str) -> None:
        if not low <= self.threshold <= high:
            raise SessionError(f"{self.name}={self.threshold:g}: {what} must be between {low:g} and {high:g}")


class LabelBudget(StoppingCriterion):
    """``budget=N``: at least N points are labelled."""

    name = "budget"
    OPTIONS: ClassVar[dict[str, float]] = {}

    def check(self) -> None:
        if self.threshold != int(self.threshold) or self.threshold < 1:
            raise SessionError(f"budget={self.threshold:g}: the budget is a whole number of labels, at least 1")

    def judge(self, round_: Round) -> bool:
        self.value = float(round_.n_labeled)
        return round_.n_labeled >= self.threshold


class SmallTextCriterion(StoppingCriterion):
    """A criterion judged by one of small-text's stopping criteria (built in :meth:`library_criterion`)."""

    def __init__(self, threshold: float, *, n_classes: int, **options: float) -> None:
        super().__init__(threshold, n_classes=n_classes, **options)
        self.library = self.library_criterion()

    @abstractmethod
    def library_criterion(self):
        """The small-text criterion this one asks."""


class WindowedCriterion(SmallTextCriterion):
    """A small-text criterion judged on a window of successive models' predictions; its value sums
    up the library's history (:attr:`history`, reduced by :meth:`summary`)."""

    OPTIONS: ClassVar[dict[str, float]] = {"window": 3, "after": 0}
    history: ClassVar[str]

    @staticmethod
    @abstractmethod
    def summary(history: list[float]) -> float:
        """The value shown for the window's history."""

    def judge(self, round_: Round) -> bool:
        met = self.library.stop(predictions=round_.predictions)
        history = getattr(self.library, self.history)
        self.value = float(self.summary(history)) if history else None
        return met


class KappaAverage(WindowedCriterion):
    """``stable=K``: successive models agree (mean Cohen's kappa over a window; small-text's ``KappaAverage``)."""

    name = "stable"
    history = "kappa_history"
    summary = staticmethod(np.mean)

    def check(self) -> None:
        self._check_range(-1, 1, "kappa")

    def library_criterion(self):
        from small_text.stopping_criteria import KappaAverage as Library

        return Library(self.n_classes, window_size=int(self.options["window"]), kappa=self.threshold)


class ClassificationChange(SmallTextCriterion):
    """``change=F``: at most a share F of the sample's predictions changed (small-text's ``ClassificationChange``)."""

    name = "change"

    def check(self) -> None:
        self._check_range(0, 1, "the share of changed predictions")

    def library_criterion(self):
        from small_text.stopping_criteria import ClassificationChange as Library

        return Library(self.n_classes, threshold=self.threshold)

    def judge(self, round_: Round) -> bool:
        before = self.library.last_predictions
        met = self.library.stop(predictions=round_.predictions)
        self.value = None if before is None else float(np.mean(before != round_.predictions))
        return met


class OverallUncertainty(SmallTextCriterion):
    """``uncertainty=U``: the model is sure about the unlabelled sample (small-text's ``OverallUncertainty``)."""

    name = "uncertainty"

    def check(self) -> None:
        if not 0 <= self.threshold < 1:
            raise SessionError(f"uncertainty={self.threshold:g}: the normalised entropy threshold must be in [0, 1)")

    def library_criterion(self):
        from small_text.stopping_criteria import OverallUncertainty as Library

        return Library(self.n_classes, threshold=self.threshold)

    def judge(self, round_: Round) -> bool:
        rows = round_.unlabelled_rows
        if len(rows) == 0:
            self.value = None
            return False
        probabilities = np.clip(round_.probabilities[rows], 1e-12, 1.0)
        self.value = float(np.mean(-np.sum(probabilities * np.log(probabilities), axis=1)) / np.log(self.n_classes))
        return self.library.stop(proba=round_.probabilities, indices_stopping=rows)


class DeltaFScore(WindowedCriterion):
    """``delta-f=D``: the F-score's estimated change stays below D (two classes; small-text's ``DeltaFScore``)."""

    name = "delta-f"
    history = "delta_history"
    summary = staticmethod(np.max)  # met when every change in the window is below D

    def check(self) -> None:
        if self.n_classes != 2:
            raise SessionError(f"delta-f is for two classes (small-text's DeltaFScore); this data set has "
                               f"{self.n_classes}: use stable= or change=")
        self._check_range(0, 1, "the change of the F-score")

    def library_criterion(self):
        from small_text.stopping_criteria import DeltaFScore as Library

        return Library(self.n_classes, window_size=int(self.options["window"]), threshold=self.threshold)


class GradientAgreement(StoppingCriterion):
    """``agreement=A``: fresh directions already agree with the model's input gradients (see the module doc)."""

    name = "agreement"
    OPTIONS: ClassVar[dict[str, float]] = {"cosine": 0.0, "rounds": 3, "min": 10, "after": 0}

    def __init__(self, threshold: float, *, n_classes: int, **options: float) -> None:
        super().__init__(threshold, n_classes=n_classes, **options)
        self._recent: deque[np.ndarray] = deque(maxlen=int(self.options["rounds"]))

    def check(self) -> None:
        self._check_range(0, 1, "the share of agreeing directions")
        if not -1 <= self.options["cosine"] <= 1:
            raise SessionError(f"agreement: cosine must be between -1 and 1, got {self.options['cosine']:g}")

    def judge(self, round_: Round) -> bool:
        self._recent.append(round_.fresh_direction_cosines)
        cosines = np.concatenate(list(self._recent))
        self.value = float(np.mean(cosines > self.options["cosine"])) if len(cosines) else None
        return len(cosines) >= self.options["min"] and self.value >= self.threshold


CRITERIA: dict[str, type[StoppingCriterion]] = {
    criterion.name: criterion
    for criterion in (LabelBudget, KappaAverage, ClassificationChange, OverallUncertainty, DeltaFScore,
                      GradientAgreement)
}


# --------------------------------------------------------------------------- specs


def _number(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SessionError(f"stopping criterion {where!r}: {text!r} is not a number") from None
    if not np.isfinite(value):
        raise SessionError(f"stopping criterion {where!r}: {text!r} is not a finite number")
    return value


def parse_stop(spec: object, n_classes: int = 2) -> StoppingCriterion:
    """The criterion a spec ``NAME=THRESHOLD[:OPTION=VALUE...]`` names (SessionError with the way out)."""
    if not isinstance(spec, str) or "=" not in spec:
        raise SessionError(f"stopping criterion {spec!r} is not {SPEC_FORM}")
    head, *option_texts = spec.strip().split(":")
    name, _, threshold = head.partition("=")
    name = name.strip()
    if name not in CRITERIA:
        raise SessionError(f"unknown stopping criterion {name!r}; choose one of {', '.join(CRITERIA)}")
    options = {}
    for text in option_texts:
        key, sep, value = text.partition("=")
        if not sep or not key.strip():
            raise SessionError(f"stopping criterion {spec!r}: option {text!r} is not OPTION=VALUE")
        options[key.strip()] = _number(value.strip(), spec)
    return CRITERIA[name](_number(threshold.strip(), spec), n_classes=n_classes, **options)


def check_stop_specs(specs: Sequence[str], n_classes: int = 2) -> list[str]:
    """The specs as a list, each checked (SessionError naming the first bad one)."""
    if isinstance(specs, str):
        raise SessionError(f"stop is a list of criteria, e.g. ['budget=200', 'stable=0.99']; got the text {specs!r}")
    specs = list(specs)
    for spec in specs:
        parse_stop(spec, n_classes)
    return specs


# --------------------------------------------------------------------------- the session's rule


class StoppingRule(SessionCallback):
    """A session's stopping criteria, judged after every retrain; met as soon as any one is met.

    Built by the session from ``SessionConfig.stop``; :meth:`status` is what
    ``Session.status()`` reports under ``"stopping"``. Safe to read from any
    thread while a background trainer updates it.
    """

    def __init__(self, criteria: Sequence[StoppingCriterion], dataset: Dataset, *, seed: int = 0,
                 sample_size: int = STOPPING_SAMPLE) -> None:
        self.criteria = list(criteria)
        rng = np.random.default_rng(seed)
        pool = np.asarray(dataset.pool)
        self.sample = np.sort(rng.choice(pool, min(sample_size, len(pool)), replace=False))
        self.first_met: dict | None = None
        self._previous: ModelSnapshot | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_specs(cls, specs: Sequence[str], dataset: Dataset, *, seed: int = 0) -> StoppingRule:
        return cls([parse_stop(spec, dataset.n_classes) for spec in specs], dataset, seed=seed)

    def on_retrain(self, session: Session, snapshot: ModelSnapshot) -> None:
        with self._lock:
            previous = self._previous or snapshot
            self._previous = snapshot
            if not self.criteria or not snapshot.is_fitted:
                return
            round_ = Round(session, snapshot, previous, self.sample)
            for criterion in self.criteria:
                criterion.update(round_)
            if self.met and self.first_met is None:
                self.first_met = {"model_version": snapshot.version, "n_labeled": snapshot.n_labeled,
                                  "reason": self.reason}

    @property
    def met(self) -> bool:
        """True while any criterion is met."""
        return any(criterion.met for criterion in self.criteria)

    @property
    def reason(self) -> str | None:
        """The specs of the criteria met now, joined with ", " (None when none is)."""
        met = [criterion.spec for criterion in self.criteria if criterion.met]
        return ", ".join(met) if met else None

    def status(self) -> dict:
        """{"met", "reason", "first_met" ({model_version, n_labeled, reason} or None), "criteria": [...]}."""
        with self._lock:
            return {"met": self.met, "reason": self.reason, "first_met": self.first_met,
                    "criteria": [criterion.describe() for criterion in self.criteria]}
