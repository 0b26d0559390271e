"""The limits on what people and programs send, in one place, and how a refused value is quoted.

The same limits hold whatever the database (PostgreSQL enforces its column
sizes, SQLite does not): a value past one is refused with a message that says
the limit. A message about a bad value quotes at most a short prefix of it
(:func:`quoted`): a 1 MB label comes back as some 60 characters and its length,
in the reply and in the log. A leaf: anyone may import it.
"""

from __future__ import annotations

import re
import reprlib
import unicodedata

from nudge.loop.errors import SessionError

MAX_ANNOTATOR_CHARS = 200  # the annotator columns hold 200
MAX_SESSION_NAME_CHARS = 64  # the sessions.id column holds 64
MAX_QUERY_ID_CHARS = 64  # the queries.id column holds 64
MAX_CLIENT_CHARS = 200  # the queries.client column holds 200
MAX_REWRITE_CHARS = 20_000
QUOTE_CHARS = 60  # of a bad value, at most this much is quoted back
SESSION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
SESSION_NAME_RULE = (f"a session name is 1 to {MAX_SESSION_NAME_CHARS} characters: letters A-Z and a-z, "
                     "digits, '.', '-' and '_', beginning with a letter or a digit")
# shown as nothing although not white space: the Hangul and Braille blanks, the Mongolian vowel separator
BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")
INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, zero-width formats, spaces

_short = reprlib.Repr()
_short.maxstring = _short.maxother = QUOTE_CHARS
_short.maxlist = _short.maxtuple = _short.maxdict = _short.maxset = 6
_short.maxlevel = 3


def quoted(value: object) -> str:
    """``repr(value)`` cut to about :data:`QUOTE_CHARS` characters, with the length of a long text or list."""
    shown = _short.repr(value)
    if isinstance(value, (str, bytes)) and len(value) > QUOTE_CHARS:
        return f"{shown} ({len(value):,} characters)"
    if isinstance(value, (list, tuple, dict)) and len(shown) >= QUOTE_CHARS:
        return f"{shown[:QUOTE_CHARS]}… ({len(value):,} items)"
    return shown if len(shown) <= 2 * QUOTE_CHARS else shown[: 2 * QUOTE_CHARS] + "…"


def is_blank(text: str) -> bool:
    """True when ``text`` shows nothing: only white space, zero-width and other invisible characters."""
    return all(unicodedata.category(c) in INVISIBLE_CATEGORIES or c in BLANK_CHARACTERS for c in text)


def blank_pattern() -> str:
    """:func:`is_blank`'s characters as a JavaScript ``u``-flag character class (Unicode categories
    and the blank characters), so a page tells a blank name the way the server does."""
    categories = "".join(f"\\p{{{category}}}" for category in sorted(INVISIBLE_CATEGORIES))
    return "[" + categories + "".join(f"\\u{{{ord(c):x}}}" for c in sorted(BLANK_CHARACTERS)) + "]"


def check_session_name(name: object) -> str:
    """``name`` if it is a session name (see :data:`SESSION_NAME_RULE`), else a SessionError saying the rule."""
    if not isinstance(name, str) or len(name) > MAX_SESSION_NAME_CHARS or not SESSION_NAME.fullmatch(name):
        raise SessionError(f"{SESSION_NAME_RULE}; got {quoted(name)}")
    return name
