"""One session's answer log: the narrow view that trainers, stopping criteria and pages read."""

from __future__ import annotations

from dataclasses import dataclass

from nudge.loop.store.overlap import Mark, Overlap
from nudge.loop.store.store import Annotation, Store


@dataclass(frozen=True)
class AnswerLog:
    """The answers (and evaluations) of the session ``session_id`` in ``store``; ``overlap`` says which
    points go to several annotators, and so when a point's answers settle it (:mod:`nudge.loop.store.overlap`)."""

    store: Store
    session_id: str
    overlap: Overlap = Overlap()

    def annotations(self, *, include_undone: bool = True) -> list[Annotation]:
        """Every answer, in the order they were made."""
        return self.store.annotations(self.session_id, include_undone=include_undone)

    def effective(self) -> list[Annotation]:
        """Per settled point, the answer training takes (its latest label; on a shared point, the
        agreeing or resolved one: :meth:`Overlap.settled`); by annotation id."""
        settled = self.overlap.settled(self.annotations(include_undone=False))
        return sorted(settled.values(), key=lambda a: a.id)

    def labelled_points(self) -> dict[int, int]:
        """Point id -> class index of every settled point (see :meth:`effective`)."""
        return {point_id: mark.label for point_id, mark in self.overlap.settled(self.answered_points()).items()}

    def disagreements(self) -> dict[int, list[Annotation]]:
        """Shared points whose annotators' labels differ and that no one resolved: point id -> each
        annotator's newest label, oldest first (:meth:`Overlap.disagreements`)."""
        return self.overlap.disagreements(self.annotations(include_undone=False))

    def answered_points(self) -> list[Mark]:
        """(point_id, label or None for a skip, annotator, resolved_by) of every answer not undone, oldest first."""
        return self.store.answered_points(self.session_id)

    def state(self) -> tuple[int, int, int]:
        """(answers, answers undone, newest answer id): changes whenever the log does (cheap to poll)."""
        return self.store.log_state(self.session_id)

    def last_round(self) -> int:
        """The highest round an answer was stored with (0: none yet)."""
        return self.store.last_round(self.session_id)

    def count(self) -> int:
        """Answers ever given, undone ones included."""
        return self.store.count_annotations(self.session_id)

    def add_evaluation(self, *, model_version: int, n_labeled: int, n_directions: int,
                       accuracy: float | None, train_seconds: float, kind: str | None = None,
                       n_evaluated: int | None = None) -> None:
        """Record how a new model version measured (``kind`` "test" or "cross-validated"; None: not measured)."""
        self.store.add_evaluation(self.session_id, model_version=model_version, n_labeled=n_labeled,
                                  n_directions=n_directions, accuracy=accuracy, train_seconds=train_seconds,
                                  kind=kind, n_evaluated=n_evaluated)

    def evaluations(self) -> list[dict]:
        """Every recorded evaluation, oldest first."""
        return self.store.evaluation_history(self.session_id)

    def latest_evaluation(self) -> dict:
        """The newest measured evaluation (see :meth:`nudge.loop.store.store.Store.latest_evaluation`)."""
        return self.store.latest_evaluation(self.session_id)
