"""A session: its research API (:class:`Session`), the rules an answer follows, who may be
handed which point, and opening a session for a long-running process."""

from nudge.loop.session.callbacks import SessionCallback
from nudge.loop.session.records import Query
from nudge.loop.session.session import Session

__all__ = ["Query", "Session", "SessionCallback"]
