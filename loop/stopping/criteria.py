"""The stopping criteria, one class each (see :mod:`nudge.loop.stopping` for the table)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import deque
from typing import ClassVar

import numpy as np

from nudge.loop.errors import SessionError
from nudge.loop.stopping.round import Round

CRITERIA: dict[str, type[StoppingCriterion]] = {}  # every registered kind, by the name its specs use
WHOLE_OPTIONS = {"after": 0, "window": 1, "rounds": 1, "min": 1}  # options that count something: their least value


def as_text(number: float) -> str:
    """A number as a spec writes it: 200, not 200.0; 0.999 as it is."""
    return str(int(number)) if number == int(number) else repr(float(number))


def register_criterion(kind: type[StoppingCriterion]) -> type[StoppingCriterion]:
    """Make a criterion class a spec (``kind.name=THRESHOLD[:OPTION=VALUE...]``): a class decorator.
    A name is registered once."""
    if not getattr(kind, "name", "") or any(c in kind.name for c in "=:,"):
        raise ValueError(f"a stopping criterion needs a name without '=', ':' or ',', got {kind.name!r}")
    if kind.name in CRITERIA:
        raise ValueError(f"a stopping criterion named {kind.name!r} is already registered")
    CRITERIA[kind.name] = kind
    return kind


class StoppingCriterion(ABC):
    """One criterion: shown each new model (:meth:`update`), it says whether it is met and why.

    ``threshold`` is the number after ``NAME=``; ``options`` are those of
    :attr:`OPTIONS` (their defaults otherwise). A session tells it the number of
    classes (:meth:`use_classes`) before the first round. Subclasses set
    :attr:`name` and :attr:`OPTIONS`, check their threshold in :meth:`check` (and
    the classes in :meth:`use_classes`) and judge a round in :meth:`judge`;
    :func:`register_criterion` makes one a spec (``name=threshold``). Given as an
    object in ``SessionConfig.stop``, a criterion is stored by its class and
    :meth:`get_params`, and each session gets a fresh copy (:meth:`fresh`).
    """

    name: ClassVar[str]
    OPTIONS: ClassVar[dict[str, float]] = {"after": 0}

    def __init__(self, threshold: float, **options: float) -> None:
        unknown = set(options) - set(self.OPTIONS)
        if unknown:
            raise SessionError(f"{self.name}: unknown option(s) {sorted(unknown)}; "
                               f"it takes {', '.join(self.OPTIONS) or 'none'}")
        self.threshold = threshold
        self.n_classes: int | None = None
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

    def get_params(self) -> dict[str, float]:
        """What makes the criterion (scikit-learn style): ``type(self)(**get_params())`` is a fresh copy."""
        return {"threshold": self.threshold, **{k: v for k, v in self.options.items() if v != self.OPTIONS[k]}}

    def fresh(self) -> StoppingCriterion:
        """A copy that has judged no round yet."""
        return type(self)(**self.get_params())

    def use_classes(self, n_classes: int) -> None:
        """Judge models of ``n_classes`` classes from now on (SessionError when the criterion cannot)."""
        self.n_classes = n_classes

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


@register_criterion
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
    """A criterion judged by one of small-text's stopping criteria (built in :meth:`library_criterion`
    once the number of classes is known)."""

    def use_classes(self, n_classes: int) -> None:
        super().use_classes(n_classes)
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


@register_criterion
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


@register_criterion
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


@register_criterion
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


@register_criterion
class DeltaFScore(WindowedCriterion):
    """``delta-f=D``: the F-score's estimated change stays below D (two classes; small-text's ``DeltaFScore``)."""

    name = "delta-f"
    history = "delta_history"
    summary = staticmethod(np.max)  # met when every change in the window is below D

    def check(self) -> None:
        self._check_range(0, 1, "the change of the F-score")

    def use_classes(self, n_classes: int) -> None:
        if n_classes != 2:
            raise SessionError(f"delta-f is for two classes (small-text's DeltaFScore); this data set has "
                               f"{n_classes}: use stable= or change=")
        super().use_classes(n_classes)

    def library_criterion(self):
        from small_text.stopping_criteria import DeltaFScore as Library

        return Library(self.n_classes, window_size=int(self.options["window"]), threshold=self.threshold)


@register_criterion
class GradientAgreement(StoppingCriterion):
    """``agreement=A``: fresh directions already agree with the model's input gradients (see the module doc)."""

    name = "agreement"
    OPTIONS: ClassVar[dict[str, float]] = {"cosine": 0.0, "rounds": 3, "min": 10, "after": 0}

    def __init__(self, threshold: float, **options: float) -> None:
        super().__init__(threshold, **options)
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
