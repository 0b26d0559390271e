"""Byte-level checks of a text data file, by line, before the csv module reads it.

The csv reader stops at the first byte that is not UTF-8 or at a NUL with a
message that names neither the line nor the place; :func:`check_text_file`
reads the raw bytes line by line and names both, for every bad line (up to
:data:`MAX_REPORTED`).
"""

from __future__ import annotations

from pathlib import Path

MAX_REPORTED = 5


def line_problem(raw: bytes) -> str | None:
    """Why one raw line (bytes, without its end) cannot be text, or None."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"byte {raw[error.start]:#04x} at column {error.start + 1} is not UTF-8 ({error.reason})"
    if "\0" in text:
        return f"a NUL character at column {text.index(chr(0)) + 1}"
    return None


def check_text_file(path: str | Path) -> None:
    """Raise ValueError naming each line of ``path`` that is not UTF-8 text or holds a NUL."""
    from nudge.loop.datasets import resolve_data_path

    path = resolve_data_path(path)
    problems = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if number == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte order mark
            problem = line_problem(raw.rstrip(b"\r\n"))
            if problem:
                problems.append(f"line {number}: {problem}")
    if problems:
        shown = "; ".join(problems[:MAX_REPORTED])
        more = f"; and {len(problems) - MAX_REPORTED} more bad lines" if len(problems) > MAX_REPORTED else ""
        raise ValueError(f"{path}: {shown}{more}")
