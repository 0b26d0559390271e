"""The errors a session reports to the person (or program) that asked, and what a request saved.

A request that stores something (an answer, an undo) and then fails must say so:
:func:`record_saved` notes, for the request being served (a context variable,
so each request's thread sees its own), what was committed; whoever reports
the failure asks :func:`what_was_saved` and says "<saved>, but ..." instead of
"nothing was saved".
"""

from __future__ import annotations

from contextvars import ContextVar

_saved: ContextVar[str | None] = ContextVar("nudge_saved", default=None)


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


class SavedBut(RuntimeError):
    """What was asked was stored (an answer, an undo), but a step after it failed: the message says
    both (see :func:`saved_but`), never that nothing was saved."""


def saved_but(saved: str, failed: str, error: BaseException | None, remedy: str) -> str:
    """"<saved>, but <failed> (<why>): <remedy>" — what a person is told when a step after a commit fails
    (``error`` None: an internal error, whose details go to the log only)."""
    why = "internal error" if error is None else getattr(error, "reason", None) or str(error)
    return f"{saved}, but {failed} ({why}): {remedy}"


def record_saved(what: str) -> None:
    """Note that the request being served has committed ``what`` (e.g. "your answer was saved")."""
    _saved.set(what)


def forget_saved() -> None:
    """A new request begins: nothing is saved yet."""
    _saved.set(None)


def what_was_saved() -> str | None:
    """What the request being served has committed (the latest :func:`record_saved`), None: nothing."""
    return _saved.get()
