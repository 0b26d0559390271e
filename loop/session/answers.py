"""The rules an answer must follow, as plain functions (the page and the API share them).

Each function checks one part of an answer and returns it in the form the
session stores, or raises :class:`nudge.loop.errors.SessionError` with a message for
the person who answered. None of them stores anything. The rules a page applies
while a person composes an answer go to it as data (:func:`answer_rules`), so its
script holds no second copy of them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence

import numpy as np

from nudge.estimators.targets import check_directions
from nudge.loop.errors import SessionError
from nudge.loop.store.limits import MAX_ANNOTATOR_CHARS, MAX_REWRITE_CHARS, blank_pattern, is_blank, quoted
from nudge.loop.store.schema import DIRECTION_SOURCES

NAME_NEEDED = "enter your name (top of the page) before annotating"
UNCHANGED_REWRITE = "the rewrite is the same as the text; change it so the label flips"
# What is set aside around a rewrite or a name when it is read: exactly what str.strip() removes
# (none lies past U+FFFF, tested). JavaScript's trim() removes other characters (it keeps U+001C to
# U+001F and U+0085, and removes U+FEFF), so the page is sent these rather than trimming its own way.
SPACES = "".join(chr(code) for code in range(0x10000) if chr(code).isspace())


def answer_rules(n_classes: int, max_directions: int) -> dict:
    """The rules a page applies while a person composes an answer, as JSON-ready data: the
    directions an answer may carry, whether each must say which class it leads to
    (:func:`asks_targets`), the characters set aside around a rewrite or a name (:data:`SPACES`,
    as :func:`same_text` and :func:`who_annotates` read them), the characters that leave a name
    blank, the longest name and the message for a missing one. The server applies the same rules
    again to whatever is sent."""
    return {"max_directions": max_directions, "asks_targets": asks_targets(n_classes), "spaces": SPACES,
            "blank": blank_pattern(),
            "max_name_chars": MAX_ANNOTATOR_CHARS, "name_needed": NAME_NEEDED}


def who_annotates(login: str | None, typed: object) -> str:
    """The login name when there is one, else the name typed (stripped); refused when there is neither."""
    if login:
        return login
    name = typed.strip(SPACES) if isinstance(typed, str) else ""
    if is_blank(name):
        raise SessionError(NAME_NEEDED)
    return name


def check_annotator(annotator: object) -> str:
    """The annotator's name, stripped; refused when empty, too long or holding control characters."""
    if not isinstance(annotator, str) or is_blank(annotator):
        raise SessionError("an annotator name is required")
    annotator = annotator.strip()
    if len(annotator) > MAX_ANNOTATOR_CHARS:
        raise SessionError(f"annotator names are at most {MAX_ANNOTATOR_CHARS} characters")
    if any(unicodedata.category(c) == "Cc" for c in annotator):
        raise SessionError("annotator names cannot hold control characters")
    return annotator


def label_index(label: object, class_names: Sequence[str]) -> int:
    """The class index of ``label``, by one rule: a string equal to a class name is that class; a whole number,
    or its digits in a string, is an index 0..C-1. Where class names are themselves numbers, the name wins: a
    string of digits is read as a name only (an index is given as a whole number). Anything else (true/false,
    1.0, a list) is refused, not read as a number."""
    names = list(class_names)
    if isinstance(label, str) and label in names:
        return names.index(label)
    numbered = any(name.strip().isdecimal() for name in names)
    index = None
    if isinstance(label, (int, np.integer)) and not isinstance(label, (bool, np.bool_)):
        index = int(label)
    elif isinstance(label, str) and label.strip().isdecimal() and len(label) < 20:
        digits = label.strip()
        if numbered and digits in names:
            return names.index(digits)
        index = None if numbered else int(digits)
    if index is None or not 0 <= index < len(names):
        how = ("the class names here are numbers, so a string of digits is read as a name; give a class name, "
               "or an index as a whole number" if numbered else "give a class name, or an index as a whole number "
               "or its digits")
        raise SessionError(f"label {quoted(label)} is not one of the classes {quoted(names)}: {how} "
                           f"(0..{len(names) - 1})")
    return index


def check_direction(direction: object, i: int, n_features: int) -> np.ndarray:
    """Direction ``i`` as an (n,) float array: finite, non-zero, and trainable in float32."""
    try:
        vector = np.asarray(direction, dtype=float)
    except (TypeError, ValueError):
        raise SessionError(f"direction {i} is not a list of numbers") from None
    if vector.shape != (n_features,):
        raise SessionError(
            f"direction {i} has shape {vector.shape}; this data set needs {n_features} numbers"
        )
    try:
        check_directions(vector, where=f"direction {i}")
    except ValueError as error:
        raise SessionError(str(error)) from None
    with np.errstate(over="ignore"):  # the network trains in float32: the length must not overflow nor vanish
        length = float(np.linalg.norm(vector.astype(np.float32)))
    if not (np.isfinite(length) and length > 0):
        raise SessionError(
            f"direction {i} is too {'long' if length > 0 else 'short'} to train on in float32; scale it"
        )
    return vector


def check_sources(sources: Sequence[str] | None, n_directions: int) -> list[str]:
    """How each direction was given (default "api" for all), one known source per direction."""
    sources = list(sources) if sources is not None else ["api"] * n_directions
    if len(sources) != n_directions:
        raise SessionError(f"{n_directions} directions but {len(sources)} sources")
    unknown = set(sources) - set(DIRECTION_SOURCES)
    if unknown:
        raise SessionError(f"unknown direction source(s) {sorted(unknown)}; use {list(DIRECTION_SOURCES)}")
    return sources


def asks_targets(n_classes: int) -> bool:
    """Whether a person says which class each direction leads to: with two classes it is the other one."""
    return n_classes > 2


def direction_targets(
    label: int,
    n_directions: int,
    class_names: Sequence[str],
    targets: Sequence[int | str] | None,
    likeliest_other: Callable[[int], int] | None,
) -> list[int]:
    """The class each direction leads to, as class indices.

    Given ``targets`` (names or indices) are checked: one per direction, never
    the label itself. Without them: the other class for two classes; for more,
    ``likeliest_other(j)`` (the model's likeliest other class at direction j's
    tip), which is None before any model exists.
    """
    if targets is not None:
        if len(targets) != n_directions:
            raise SessionError(f"{n_directions} directions but {len(targets)} targets")
        indices = [label_index(t, class_names) for t in targets]
        if label in indices:
            raise SessionError("a direction must lead to another class than the label")
        return indices
    if not asks_targets(len(class_names)):
        return [1 - label] * n_directions
    if n_directions and likeliest_other is None:
        raise SessionError("with more than two classes, say which class each direction leads to")
    return [likeliest_other(j) for j in range(n_directions)]


def check_text(text: object, what: str = "the text") -> str:
    """``text`` if it is text the session would read (a rewrite, a draft), else a SessionError saying why."""
    if not isinstance(text, str) or is_blank(text):
        raise SessionError(f"{what} is empty")
    if len(text) > MAX_REWRITE_CHARS:
        raise SessionError(f"{what} is longer than {MAX_REWRITE_CHARS} characters ({len(text):,} given)")
    if "\x00" in text:
        raise SessionError(f"{what} holds a NUL character; send plain text")
    return text


def same_text(rewrite: str, text: str) -> bool:
    """Whether a rewrite is the text itself: the same once the :data:`SPACES` around each are set aside."""
    return rewrite.strip(SPACES) == text.strip(SPACES)


def check_rewrite(rewrite: object, text: str | None) -> str:
    """A rewrite of the query's ``text`` (None: the data set has no texts), checked as text."""
    if text is None:
        raise SessionError("rewrites are for text data sets; this one has no texts")
    rewrite = check_text(rewrite, "the rewrite")
    if same_text(rewrite, text):
        raise SessionError(UNCHANGED_REWRITE)
    return rewrite


def rewrite_direction(embedded_rewrite: np.ndarray, x: np.ndarray) -> np.ndarray:
    """k = E(rewrite) - E(text), refused when it is zero or not finite."""
    direction = np.asarray(embedded_rewrite, dtype=float) - x
    if not np.any(direction):
        raise SessionError(
            "the rewrite embeds exactly as the text: the sentence model reads only the first "
            "~200 words, so change something there"
        )
    try:
        check_directions(direction, where="the rewrite's direction")
    except ValueError as error:
        raise SessionError(str(error)) from None
    return direction
