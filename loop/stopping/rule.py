"""A session's stopping rule: its criteria, judged after every retrain."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from nudge.loop.callbacks import SessionCallback
from nudge.loop.stopping.criteria import StoppingCriterion
from nudge.loop.stopping.round import Round
from nudge.loop.stopping.specs import parse_stop

if TYPE_CHECKING:
    from nudge.loop.datasets import Dataset
    from nudge.loop.session.session import Session
    from nudge.loop.training.trainer import ModelSnapshot

STOPPING_SAMPLE = 1000


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
