"""How a text is shown to a person and how their edit of it is read back.

IMDb reviews (and so the CAD data) break lines with the HTML tag ``<br />``.
A person reads and edits the text with real line breaks (:func:`readable`);
their edit is put back into the original's conventions (:func:`as_written_in`)
before it is embedded, so a rewrite's direction holds only the words changed.
The page and the API both go through these, so they accept the same rewrites.
Character spans found in a stored text (word highlights, a word diff) are moved
into the readable text by :func:`readable_spans`.
"""

from __future__ import annotations

import numpy as np

HTML_BREAK = "<br />"


def readable(text: str) -> str:
    """A text as a person should read it: HTML line breaks shown as line breaks."""
    return text.replace(HTML_BREAK, "\n")


def as_written_in(edited: str, original: str) -> str:
    """An edited :func:`readable` text back in the original's conventions: its line
    breaks become HTML breaks when the original uses them, and only then."""
    return edited.replace("\n", HTML_BREAK) if HTML_BREAK in original else edited


def readable_spans(text: str, spans) -> np.ndarray:
    """Character spans (…, 2) of ``text`` as spans of :func:`readable` (text), int64.

    Each HTML break wholly before an offset shortens it by the break's length less one
    (the line break it becomes); offsets are expected outside the breaks (words are).
    """
    offsets = np.asarray(spans, dtype=np.int64)
    breaks, start = [], text.find(HTML_BREAK)
    while start >= 0:  # as str.replace finds them: left to right, not overlapping
        breaks.append(start + len(HTML_BREAK))
        start = text.find(HTML_BREAK, start + len(HTML_BREAK))
    before = np.searchsorted(np.array(breaks, dtype=np.int64), offsets, side="right")
    return offsets - before * (len(HTML_BREAK) - 1)
