"""The errors a session reports to the person (or program) that asked."""

from __future__ import annotations


class SessionError(ValueError):
    """A request the session refuses (bad input, unknown query, ...); nothing was stored.

    Its message is for the person who made the request: it says what was wrong
    and, where there is one, the way out.
    """


class StoreError(RuntimeError):
    """The database cannot be used (unreadable, foreign, corrupt, gone) or refused a write.

    A refused write says "not saved: <reason>"; nothing was stored. ``reason`` is the cause
    alone (no "not saved"), for a caller that reports it after something else *was* saved.
    """

    def __init__(self, message: str, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason or message


class SaveUnconfirmed(StoreError):
    """The connection was lost while a write committed and the database could not be asked since:
    the write may or may not have been saved (never reported as "not saved")."""
