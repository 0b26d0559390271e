"""The errors a session reports to the person (or program) that asked."""

from __future__ import annotations


class SessionError(ValueError):
    """A request the session refuses (bad input, unknown query, ...); nothing was stored.

    Its message is for the person who made the request: it says what was wrong
    and, where there is one, the way out.
    """


class StoreError(RuntimeError):
    """The database cannot be used (unreadable, foreign, corrupt, gone) or refused a write.

    A refused write says "not saved: <reason>"; nothing was stored.
    """
