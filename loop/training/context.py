"""What a trainer needs of its session, and nothing more: a :class:`TrainingContext`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.store.log import Annotation, AnswerLog
from nudge.loop.training.snapshot import ModelSnapshot


@dataclass(frozen=True)
class TrainingContext:
    """A session as its trainer sees it.

    name : the session's id (for logs, and the trainer lease of a shared trainer).
    dataset, config : what the session is.
    log : its answers (read) and evaluations (written).
    new_learner : a fresh, unfitted learner.
    evaluate : ``evaluate(learner) -> accuracy or None``, how a new model measures.
    published : called with each new model once it is the session's (its callbacks hear of it).
    unlabelled : ``unlabelled() -> (N,) bool``, the pool points nobody labelled (what a ranking ranks).

    :meth:`answers` are what a model is trained on: the log's standing answers on items still in the data.
    """

    name: str
    dataset: Dataset
    config: SessionConfig
    log: AnswerLog
    new_learner: Callable[[], Any]
    evaluate: Callable[[Any], float | None]
    published: Callable[[ModelSnapshot], None]
    unlabelled: Callable[[], np.ndarray]

    def answers(self) -> list[Annotation]:
        """The log's effective answers on items in the data (not on items a later data version removed,
        nor on items this process does not know: another server took new data meanwhile)."""
        present = self.dataset.present
        return [a for a in self.log.effective() if a.point_id < len(present) and present[a.point_id]]
