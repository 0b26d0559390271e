"""A session's stopping rule: its criteria, judged after every retrain."""

from __future__ import annotations

import threading
from collections.abc import Sequence

import numpy as np

from nudge.loop.datasets import Dataset
from nudge.loop.stopping.criteria import StoppingCriterion
from nudge.loop.stopping.round import Model, Round
from nudge.loop.stopping.specs import as_criterion
from nudge.loop.store.log import AnswerLog

STOPPING_SAMPLE = 1000


class StoppingRule:
    """A session's stopping criteria, judged after every retrain (:meth:`judge`); met as soon as
    any one is met.

    Built by the session from ``SessionConfig.stop``; :meth:`status` is what
    ``Session.status()`` reports under ``"stopping"``. Safe to read from any
    thread while a background trainer updates it. ``log``: the session's answers
    (the criteria that read them: which points are labelled, the fresh directions).
    """

    def __init__(self, criteria: Sequence[StoppingCriterion], dataset: Dataset, log: AnswerLog | None = None, *,
                 seed: int = 0, sample_size: int = STOPPING_SAMPLE) -> None:
        self.criteria = list(criteria)
        for criterion in self.criteria:
            criterion.use_classes(dataset.n_classes)
        self.X, self.log, self.scaling = dataset.X, log, dataset.scaling
        rng = np.random.default_rng(seed)
        pool = np.asarray(dataset.pool)
        self.sample = np.sort(rng.choice(pool, min(sample_size, len(pool)), replace=False))
        self.first_met: dict | None = None
        self._previous: Model | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_config(cls, stop: Sequence[object], dataset: Dataset, log: AnswerLog, *, seed: int = 0) -> StoppingRule:
        """The rule of ``SessionConfig.stop`` (specs or criterion objects, each copied fresh)."""
        return cls([as_criterion(item) for item in stop], dataset, log, seed=seed)

    def judge(self, snapshot: Model) -> None:
        """Show every criterion the new model ``snapshot`` (the one before it is remembered)."""
        with self._lock:
            previous = self._previous or snapshot
            self._previous = snapshot
            if not self.criteria or not snapshot.is_fitted:
                return
            round_ = Round(self.X, self.log, snapshot, previous, self.sample, self.scaling)
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
