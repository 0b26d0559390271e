"""How a text is shown to a person and how their edit of it is read back.

IMDb reviews (and so the CAD data) break lines with the HTML tag ``<br />``.
A person reads and edits the text with real line breaks (:func:`readable`);
their edit is put back into the original's conventions (:func:`as_written_in`)
before it is embedded, so a rewrite's direction holds only the words changed.
The page and the API both go through these, so they accept the same rewrites.
"""

from __future__ import annotations

HTML_BREAK = "<br />"


def readable(text: str) -> str:
    """A text as a person should read it: HTML line breaks shown as line breaks."""
    return text.replace(HTML_BREAK, "\n")


def as_written_in(edited: str, original: str) -> str:
    """An edited :func:`readable` text back in the original's conventions: its line
    breaks become HTML breaks when the original uses them, and only then."""
    return edited.replace("\n", HTML_BREAK) if HTML_BREAK in original else edited
