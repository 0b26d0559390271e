"""Export a session's answers with their items (``nudge export``): :func:`export_annotations`."""

from __future__ import annotations

import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from nudge.loop.datasets import Dataset
from nudge.loop.export.formats import BINARY_FORMATS, SUFFIXES, WRITERS
from nudge.loop.export.items import session_items
from nudge.loop.export.records import answer_records
from nudge.loop.store.overview import resolve_session
from nudge.loop.store.store import Store

FORMATS = tuple(WRITERS)


def export_format(out: str | Path, fmt: str | None) -> str:
    """``fmt``, else the one the suffix of ``out`` names (:data:`~nudge.loop.export.formats.SUFFIXES`;
    JSONL for any other, and for standard output, "-")."""
    if fmt is None:
        fmt = "jsonl" if str(out) == "-" else SUFFIXES.get(Path(out).suffix.lower(), "jsonl")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    if fmt in BINARY_FORMATS and str(out) == "-":
        raise ValueError(f"{fmt} is written to a file, not to standard output: give --out NAME.{fmt}")
    return fmt


def export_annotations(store: Store, out: str | Path, *, session_id: str | None = None,
                       fmt: str | None = None, dataset: Dataset | None = None) -> int:
    """Write every answer of a session (skips and undone ones marked in ``answer``) with its item to
    ``out`` in the format ``fmt`` (:data:`FORMATS`; default: from the suffix of ``out``, see
    :func:`export_format`). ``dataset``: the session's own (``Session.dataset``), for a session on data
    built in code (else its data is read again, see :func:`nudge.loop.export.items.session_items`). Returns the number of answers written (Label Studio leaves out undone ones)."""
    session_id = resolve_session(store, session_id)
    fmt = export_format(out, fmt)
    items = session_items(store, session_id, dataset)
    if str(out) != "-" and items.is_data_file(out):
        raise ValueError(f"{out} is a data file of session {session_id!r}; write the export elsewhere")
    records = answer_records(session_id, store.log(session_id).annotations(), items)
    with _open_output(store, out, binary=fmt in BINARY_FORMATS) as handle:
        WRITERS[fmt](records, items, handle)
    return sum(1 for r in records if r["answer"] != "undone") if fmt == "labelstudio" else len(records)


@contextmanager
def _open_output(store: Store, out: str | Path, *, binary: bool = False) -> Iterator[IO]:
    """Standard output for "-", else the file ``out``, never the database or one of its files
    (:meth:`nudge.loop.store.database.Database.output_file` compares the files themselves, not their names)."""
    if str(out) == "-":
        yield sys.stdout
        return
    with store.db.output_file(out, binary=binary) as handle:
        yield handle
