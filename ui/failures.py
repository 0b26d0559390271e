"""What a person or a client is told of a request that failed, and the one log line of it.

A person's mistake (a :class:`nudge.loop.errors.SessionError`, or a store that refuses) is answered
with its message and logged as a warning; anything else is an internal error, logged once with its
traceback and answered "internal error: nothing was saved". A request that fails after it committed
an answer (or an undo) says so: "your answer was saved, but ..." (:func:`nudge.loop.errors.what_was_saved`).
The page's server functions answer JSON (:func:`page_function`); the API raises ``gr.Error`` (:func:`api_call`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import gradio as gr
import orjson
from fastapi import Response

from nudge.loop.errors import SavedBut, SessionError, StoreError, forget_saved, saved_but, what_was_saved

logger = logging.getLogger(__name__)

USER_ERRORS = (SessionError, StoreError, SavedBut)
INTERNAL_ERROR = "internal error: nothing was saved"


def page_function(name: str, handler: Callable[[dict], dict]) -> Callable:
    """A server function for the page: takes the page's JSON, answers JSON (serialised here, fast),
    with refusals and internal errors as ``{"ok": false, "message": ...}``."""
    def call(data) -> Response:
        forget_saved()
        try:
            if not isinstance(data, dict):
                raise SessionError("the page sent a malformed request: reload the page")
            reply = handler(data)
        except Exception as error:
            reply = {"ok": False, "message": failure_message(name.removeprefix("nudge_"), error, "reload the page")}
        return Response(orjson.dumps(reply), media_type="application/json")

    call.__name__ = call.__qualname__ = name
    return call


def api_call(action: str, call: Callable):
    """Run an API request: a refusal or an internal error becomes a gr.Error with a plain message."""
    forget_saved()
    try:
        return call()
    except Exception as error:
        raise gr.Error(failure_message(action, error, "call /next"), print_exception=False) from None


def failure_message(action: str, error: Exception, remedy: str) -> str:
    """What a person is told of a request that failed, logged in one line (an internal error with its
    traceback): its refusal, or "<what it saved>, but ..." once it had committed something."""
    known, saved = isinstance(error, USER_ERRORS), what_was_saved()
    if not known:
        logger.exception("internal error in %s%s", action, "" if saved is None else " (after it was saved)")
    elif saved is None:
        logger.warning("refused %s: %s", action, error)
    else:
        logger.warning("%s failed after it was saved: %s", action, error)
    if saved is not None and not isinstance(error, SavedBut):  # a SavedBut says it all
        failed = "its point could not be handed back" if action == "undo" else "the next query could not be handed out"
        return saved_but(saved, failed, error if known else None, remedy)
    return str(error) if known else INTERNAL_ERROR
