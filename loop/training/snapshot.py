"""A published model: :class:`ModelSnapshot`."""

from __future__ import annotations

from dataclasses import dataclass

from nudge.loop.training.evaluation import Evaluation
from nudge.strategies import estimators_of


@dataclass(frozen=True)
class ModelSnapshot:
    """A trained learner and the annotations it was trained on; never mutated once published."""

    learner: object  # modAL ActiveLearner or Committee
    version: int
    annotation_ids: tuple[int, ...]
    n_labeled: int
    n_directions: int
    accuracy: float | None  # on the labelled test set (None without one)
    evaluation: Evaluation | None = None  # its test evaluation when it was trained here (None: none)

    @classmethod
    def untrained(cls, learner) -> ModelSnapshot:
        """Version 0: ``learner`` before any answer."""
        return cls(learner, 0, (), 0, 0, None)

    @property
    def is_fitted(self) -> bool:
        """Trained on at least one answer (a retrain after the last answer was undone is not)."""
        return self.n_labeled > 0

    @property
    def estimator(self):
        """The network (a committee's first member stands for the committee)."""
        return estimators_of(self.learner)[0]
