"""Checks of what the page sends (its JSON): a malformed field is refused with "reload the page"."""

from __future__ import annotations

from nudge.loop.errors import SessionError


def who(data: dict) -> tuple[str, str]:
    """(the tab's token, the typed name) of a page request."""
    return text_field(data.get("token"), "token"), text_field(data.get("name", ""), "name")


def text_field(value, what: str, *, optional: bool = False) -> str | None:
    """``value`` when it is a string (or None when ``optional``)."""
    if value is None and optional:
        return None
    if not isinstance(value, str):
        raise SessionError(f"the page sent a malformed {what}: reload the page")
    return value


def point_of(data: dict) -> int:
    """The point id a page request is about (a whole number, not a boolean)."""
    point = data.get("point_id")
    if not isinstance(point, int) or isinstance(point, bool):
        raise SessionError("the page sent no point id: reload the page")
    return point


def list_of_dicts(value, what: str) -> list[dict]:
    """``value`` when it is a list of objects (None: none)."""
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise SessionError(f"the page sent malformed {what}: reload the page")
    return value
