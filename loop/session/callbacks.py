"""Callbacks: code of your own that runs at the session's events.

Subclass :class:`SessionCallback` and override the hooks you need; pass
instances to ``Session.create(..., callbacks=[...])`` (or ``Session.open``).
Each hook gets the session and what just happened::

    class LearningCurve(SessionCallback):
        def __init__(self):
            self.points = []

        def on_retrain(self, session, snapshot):
            self.points.append((snapshot.n_labeled, snapshot.accuracy))

A hook runs in the thread that caused the event (a background trainer's
thread for ``on_retrain`` in the UI). The event has already happened when it
runs (the answer is stored, the model published), so a hook that raises is
logged with its traceback and does not undo it.
"""

from __future__ import annotations

from typing import Protocol

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.session.records import Query
from nudge.loop.store.log import Annotation
from nudge.loop.training.snapshot import ModelSnapshot

HOOKS = ("on_query", "on_answer", "on_retrain")


class SessionView(Protocol):
    """What a callback may read of its session (a :class:`nudge.loop.Session` is one)."""

    session_id: str
    config: SessionConfig
    dataset: Dataset

    @property
    def model(self) -> ModelSnapshot: ...

    def status(self) -> dict: ...

    def labelled_points(self) -> dict[int, int]: ...

    def effective_annotations(self) -> list[Annotation]: ...


class SessionCallback:
    """Hooks called by a session; each does nothing unless overridden."""

    def on_query(self, session: SessionView, queries: list[Query]) -> None:
        """Points were handed to an annotator (``queries``, newly leased or handed back)."""

    def on_answer(self, session: SessionView, annotation: Annotation) -> None:
        """An answer (a label with its directions, or a skip) was stored."""

    def on_retrain(self, session: SessionView, snapshot: ModelSnapshot) -> None:
        """A retrained model was published (``snapshot.version``, ``.accuracy``, ``.n_labeled``); on a
        server that does not train, when it loads the model another process published."""
