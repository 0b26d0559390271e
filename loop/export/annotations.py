"""Export a session's annotation log (``nudge export``)."""

from __future__ import annotations

import csv
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Iterator

from nudge.loop.errors import StoreError
from nudge.loop.store.store import Store

FORMATS = ("jsonl", "csv")
CSV_COLUMNS = ("session", "id", "query_id", "point_id", "label", "directions", "targets", "sources",
               "rewrite", "annotator", "created_at", "model_version", "round", "undone", "resolved_by")
CSV_JSON_COLUMNS = ("directions", "targets", "sources")
# What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"; ASVS 1.2.10 adds NUL).
FORMULA_STARTS = ("=", "+", "-", "@")
FORMULA_CONTROL_STARTS = ("\t", "\r", "\0")


def resolve_session(store: Store, session_id: str | None) -> str:
    """The given session, or the only one in the store; a clear error otherwise."""
    known = store.session_ids()
    if session_id is not None:
        if session_id not in known:
            raise StoreError(f"no session {session_id!r} in {store.url}; sessions: {known or 'none'}")
        return session_id
    if not known:
        raise StoreError(f"{store.url} holds no sessions")
    if len(known) > 1:
        raise StoreError(f"{store.url} holds several sessions {known}: choose one with --session")
    return known[0]


def export_annotations(store: Store, out: str | Path, *, session_id: str | None = None,
                       fmt: str | None = None) -> int:
    """Write every annotation of a session (skips and undone ones flagged) to ``out``.

    ``fmt`` is "jsonl" or "csv" (default: the suffix of ``out``; "-" means
    standard output, JSONL unless told). Returns the number of annotations.
    """
    session_id = resolve_session(store, session_id)
    fmt = fmt or ("csv" if str(out).lower().endswith(".csv") else "jsonl")
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; use one of {FORMATS}")
    records = [{"session": session_id, **a.to_record()} for a in store.annotations(session_id)]
    with _open_output(store, out) as handle:
        if fmt == "jsonl":
            for record in records:
                handle.write(json.dumps(record) + "\n")
        else:
            _write_csv(records, handle)
    return len(records)


def _write_csv(records: list[dict], handle: IO[str]) -> None:
    """The records as CSV, safe to open in a spreadsheet.

    Text columns hold what people typed or chose: ``session``, ``query_id``,
    ``annotator``, ``rewrite``, and ``directions``, ``targets``, ``sources`` as
    JSON. Each text cell goes through :func:`spreadsheet_safe`, so a name such as
    ``=HYPERLINK(...)`` is shown, not run (JSON cells start with ``[`` and stay
    parseable). Numeric columns, ``id``, ``point_id``, ``label``, ``created_at``,
    ``model_version``, ``round`` and ``undone``, are the store's numbers and are
    written as numbers: a number is never a formula, and -0.5 stays -0.5. Any
    string, in whatever column, is neutralised. The JSONL export is exact.
    """
    writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    for record in records:
        writer.writerow({column: _csv_cell(column, record[column]) for column in CSV_COLUMNS})


def _csv_cell(column: str, value: object) -> object:
    if column in CSV_JSON_COLUMNS:
        value = json.dumps(value)
    return spreadsheet_safe(value) if isinstance(value, str) else value


def spreadsheet_safe(cell: str) -> str:
    """``cell`` with a leading single quote when a spreadsheet would run it as a formula.

    OWASP's CSV-injection rule: a cell starting with ``=``, ``+``, ``-``, ``@``,
    tab, carriage return (or NUL) is prefixed with ``'``, so a spreadsheet reads
    the cell as text. Cells whose formula character comes after
    leading white space are prefixed too, since some spreadsheets trim it. (The
    ``defusedcsv`` package misses tab and carriage return and rewrites ``|``
    inside cells, so it is not used.)
    """
    if cell.startswith(FORMULA_CONTROL_STARTS) or cell.lstrip().startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


@contextmanager
def _open_output(store: Store, out: str | Path) -> Iterator[IO[str]]:
    """Standard output for "-", else the file ``out``, never the database or one of its files
    (:meth:`nudge.loop.store.database.Database.output_file` compares the files themselves, not their names)."""
    if str(out) == "-":
        yield sys.stdout
        return
    with store.db.output_file(out) as handle:
        yield handle
