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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nudge.loop.session.session import Query, Session
    from nudge.loop.store.store import Annotation
    from nudge.loop.training.trainer import ModelSnapshot

HOOKS = ("on_query", "on_answer", "on_retrain")


class SessionCallback:
    """Hooks called by a session; each does nothing unless overridden."""

    def on_query(self, session: Session, queries: list[Query]) -> None:
        """Points were handed to an annotator (``queries``, newly leased or handed back)."""

    def on_answer(self, session: Session, annotation: Annotation) -> None:
        """An answer (a label with its directions, or a skip) was stored."""

    def on_retrain(self, session: Session, snapshot: ModelSnapshot) -> None:
        """A retrained model was published (``snapshot.version``, ``.accuracy``, ``.n_labeled``); on a
        server that does not train, when it loads the model another process published."""
