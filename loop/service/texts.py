"""How a text is shown to a person and how their edit of it is read back.

IMDb reviews (and so the CAD data) break lines with the HTML tag ``<br />``.
A person reads and edits the text with real line breaks (:func:`readable`);
their edit is put back into the original's conventions (:func:`as_written_in`)
before it is embedded, so a rewrite's direction holds only the words changed.
The page and the API both go through these, so they accept the same rewrites; a
rewrite is compared with its text as the person reads both.
Character spans found in a stored text (word highlights, a word diff) are moved
into the readable text by :func:`readable_spans`.
"""

from __future__ import annotations

import numpy as np

from nudge.loop.session.answers import same_text

HTML_BREAK = "<br />"
# How a stored text is shown: each (stored, shown) pair replaced in turn (readable_spans knows this one).
# The page reads an edit back with the same table, sent with its rules (see is_rewrite).
SHOWN_AS = ((HTML_BREAK, "\n"),)


def readable(text: str) -> str:
    """A text as a person should read it: HTML line breaks shown as line breaks."""
    for stored, shown in SHOWN_AS:
        text = text.replace(stored, shown)
    return text


def is_rewrite(edited: str, original: str) -> bool:
    """Whether a person's edit of ``original`` (typed as :func:`readable` shows it) rewrites it: it is
    not the same text once both are read as shown and the spaces around them are set aside
    (:func:`nudge.loop.session.answers.same_text`). The page reads its rewrite box so, with
    :data:`SHOWN_AS` and the spaces sent as its rules: a line break typed after the text is no rewrite."""
    return not same_text(readable(edited), readable(original))


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
