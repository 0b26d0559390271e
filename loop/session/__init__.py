"""A session: its research API (:class:`Session`), the rules an answer follows, who may be
handed which point, and opening a session for a long-running process."""

from nudge.loop.session.session import Proposal, Query, Session

__all__ = ["Proposal", "Query", "Session"]
