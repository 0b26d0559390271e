"""Throttling failed logins: the policy (:class:`LoginThrottle`) and where it sits (:class:`LoginThrottleMiddleware`).

Gradio's ``auth=`` login (``POST /login``, a FastAPI route; gradio_client logs in
there too) checks any number of passwords at full speed, and an ``auth``
callable would not see the client's address. So the throttle is an ASGI
middleware in front of the whole app: it reads the user name from the login
form and the address from the connection, refuses a blocked attempt with HTTP
429 and ``Retry-After`` before the password is checked, and learns from
Gradio's answer (200: right password, 400: wrong) afterwards.

The policy, per user name and per client address (defaults):

- a user name may fail 5 times without waiting, an address 20 (several
  annotators may share one address behind a NAT or a proxy); from then on each
  failure blocks the name (or address) for 1 s, 2 s, 4 s, ... doubling up to 60 s;
- an attempt while the name *or* the address is blocked is refused unchecked
  and does not extend the block: **a block ends at most 60 s after the last
  checked failure**, so the right password works again then;
- a right password clears its user name's failures (not its address's, so an
  attacker's own valid login does not reset the per-address rule); failures
  are forgotten after 15 minutes without one;
- an attacker failing on one name from an address blocks that name everywhere,
  but another user at the same address only once the address itself is past its
  20 free failures.

Behind a reverse proxy the address is the proxy's unless it passes
``X-Forwarded-For`` (uvicorn, under Gradio, trusts that header from 127.0.0.1
only; set ``FORWARDED_ALLOW_IPS`` for a proxy elsewhere); through ``--share``
every visitor comes from the local tunnel, one address.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOGIN_FAILED = (400, 401)  # what Gradio's /login answers to a wrong user name or password
LOGIN_SUCCEEDED = 200
MAX_LOGIN_BODY = 64 * 1024  # bytes: the form is read here before Gradio sees it, so it is bounded


@dataclass(frozen=True)
class Backoff:
    """How failures of one kind of key (a user name, an address) turn into a block."""

    free_failures: int  # failures allowed before any block
    first_delay: float = 1.0  # seconds blocked after the first failure past the free ones
    max_delay: float = 60.0  # the longest block: the right password works again after this

    def delay(self, failures: int) -> float:
        """Seconds an attempt must wait after the ``failures``-th failure: 0, then doubling to max_delay."""
        if failures < self.free_failures:
            return 0.0
        return min(self.max_delay, self.first_delay * 2.0 ** min(failures - self.free_failures, 64))


@dataclass
class _Failures:
    count: int
    last: float  # clock time of the latest checked failure


@dataclass
class LoginThrottle:
    """Failed logins per user name and per client address (see the module docstring).

    ``clock`` is a monotonic time in seconds (tests give a fake one); at most
    ``max_keys`` names and addresses are remembered, the least recently failed
    forgotten first. Safe to call from several threads.
    """

    per_user: Backoff = field(default_factory=lambda: Backoff(free_failures=5))
    per_address: Backoff = field(default_factory=lambda: Backoff(free_failures=20))
    forget_after: float = 900.0
    max_keys: int = 100_000
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[tuple[str, str], _Failures] = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def longest_block(self) -> float:
        """Seconds after the last checked failure by which any block has ended."""
        return max(self.per_user.max_delay, self.per_address.max_delay)

    def retry_after(self, user: str, address: str) -> float:
        """Seconds until a login as ``user`` from ``address`` may be checked (0: now)."""
        now = self.clock()
        with self._lock:
            waits = [self._wait(("user", user), self.per_user, now),
                     self._wait(("address", address), self.per_address, now)]
        return max(waits)

    def failed(self, user: str, address: str) -> None:
        """Record a checked login that was refused."""
        now = self.clock()
        with self._lock:
            for key in (("user", user), ("address", address)):
                record = self._current(key, now)
                self._failures[key] = _Failures(1 if record is None else record.count + 1, now)
                self._failures.move_to_end(key)
            while len(self._failures) > self.max_keys:
                self._failures.popitem(last=False)

    def succeeded(self, user: str, address: str) -> None:
        """Record a right password: the user name's failures are cleared."""
        with self._lock:
            self._failures.pop(("user", user), None)

    def _current(self, key: tuple[str, str], now: float) -> _Failures | None:
        record = self._failures.get(key)
        if record is not None and now - record.last >= self.forget_after:
            del self._failures[key]
            return None
        return record

    def _wait(self, key: tuple[str, str], backoff: Backoff, now: float) -> float:
        record = self._current(key, now)
        return 0.0 if record is None else max(0.0, record.last + backoff.delay(record.count) - now)


class LoginThrottleMiddleware:
    """ASGI middleware: applies a :class:`LoginThrottle` to ``POST .../login``; other requests pass untouched.

    Give it to Gradio as ``launch(app_kwargs={"middleware": [Middleware(LoginThrottleMiddleware,
    throttle=...)]})``: FastAPI builds it in when the app is made, before it serves.
    """

    def __init__(self, app: ASGIApp, throttle: LoginThrottle) -> None:
        self.app = app
        self.throttle = throttle

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not _is_login(scope):
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive, MAX_LOGIN_BODY)
        if body is None:
            await _refuse(scope, receive, send, 413, "A login form is a user name and a password; this is too large.")
            return
        try:
            form = await Request(scope, _replay(body, receive)).form()
        except (HTTPException, MultiPartException):
            await _refuse(scope, receive, send, 400, "The login form cannot be read.")
            return
        user = str(form.get("username", "")).strip()  # Gradio strips it too
        address = scope["client"][0] if scope.get("client") else "unknown"
        wait = self.throttle.retry_after(user, address)
        if wait > 0:
            seconds = math.ceil(wait)
            await _refuse(scope, receive, send, 429, f"Too many failed logins: try again in {seconds} s.",
                          {"Retry-After": str(seconds)})
            return
        status = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, _replay(body, receive), watch)
        if status in LOGIN_FAILED:
            self.throttle.failed(user, address)
        elif status == LOGIN_SUCCEEDED:
            self.throttle.succeeded(user, address)


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The request body, or None when it exceeds ``limit`` bytes or the client went away."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > limit:
            return None
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive channel that yields ``body`` once, then whatever the client sends (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


async def _refuse(scope: Scope, receive: Receive, send: Send, status: int, detail: str,
                  headers: dict[str, str] | None = None) -> None:
    await JSONResponse({"detail": detail}, status_code=status, headers=headers)(scope, receive, send)


def _is_login(scope: Scope) -> bool:
    return scope["type"] == "http" and scope["method"] == "POST" and scope["path"].rstrip("/").endswith("/login")
