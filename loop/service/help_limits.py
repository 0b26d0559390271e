"""The help calls (highlights, the reading of a rewrite) come after the annotators, and one client cannot flood them.

A help call is expensive (the sentence model runs over a text) and runs on the
explainer's one worker thread (:class:`nudge.loop.service.explain.Explainer`), never on the
threads that serve annotations. :class:`AnnotationsFirst` makes each help job
wait while an annotation request is being served, so the two seldom share the
CPU. :class:`PerClientLimit` bounds the calls one client (a login, else an
address) may have waiting or running at once: one more is refused at once with
:data:`TOO_MANY`, a plain message; nothing is queued for it.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from nudge.loop.errors import SessionError

TOO_MANY = "too many requests at once from this client; try again in a moment"


class PerClientLimit:
    """At most ``limit`` calls per client at once (see the module docstring). Safe from any thread."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError("a client may have at least one call at once")
        self.limit = limit
        self._calls: Counter[str | None] = Counter()
        self._lock = threading.Lock()

    @contextmanager
    def admitted(self, client: str | None) -> Iterator[None]:
        """Inside: one of ``client``'s calls (None: a client that cannot be told apart). Refused
        (SessionError, :data:`TOO_MANY`) when the client already has ``limit``."""
        with self._lock:
            if self._calls[client] >= self.limit:
                raise SessionError(TOO_MANY)
            self._calls[client] += 1
        try:
            yield
        finally:
            with self._lock:
                self._calls[client] -= 1
                if not self._calls[client]:
                    del self._calls[client]

    def calls(self, client: str | None) -> int:
        """How many calls ``client`` has now."""
        with self._lock:
            return self._calls[client]


class AnnotationsFirst:
    """Help waits while annotators are served: a help job starts only when no annotation request (an
    answer, a skip, an undo, a next query) is being served, or once it has waited ``patience``
    seconds (so help is slowed by a busy team, never stopped). Safe from any thread."""

    def __init__(self, patience: float = 2.0) -> None:
        self.patience = patience
        self._serving = 0
        self._changed = threading.Condition()

    @contextmanager
    def serving(self) -> Iterator[None]:
        """Inside: an annotation request is being served."""
        with self._changed:
            self._serving += 1
        try:
            yield
        finally:
            with self._changed:
                self._serving -= 1
                self._changed.notify_all()

    def wait_turn(self) -> None:
        """Before a help job: wait until no annotation request is being served (at most ``patience`` s)."""
        with self._changed:
            self._changed.wait_for(lambda: self._serving == 0, self.patience)
