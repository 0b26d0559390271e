"""The export's file formats: JSONL, CSV, Parquet and Label Studio JSON, each a writer of the
records of :mod:`nudge.loop.export.records` to an open file (:data:`WRITERS`)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from typing import IO
from xml.sax.saxutils import quoteattr

from nudge.loop.export.items import SessionItems
from nudge.loop.export.records import flat

# What makes a spreadsheet read a cell as a formula (OWASP "CSV Injection"; ASVS 1.2.10 adds NUL).
FORMULA_STARTS = ("=", "+", "-", "@")
FORMULA_CONTROL_STARTS = ("\t", "\r", "\0")
LABEL_STUDIO_CHOICES = "label"  # the Choices tag's name in the Label Studio labelling config


def write_jsonl(records: list[dict], items: SessionItems, handle: IO[str]) -> None:
    """One JSON object per line, exact (features as an object by name)."""
    for record in records:
        handle.write(json.dumps(record) + "\n")


def write_csv(records: list[dict], items: SessionItems, handle: IO[str]) -> None:
    """The records as CSV with one column per feature, safe to open in a spreadsheet.

    List-valued columns (``directions``, ``direction_targets``, ``direction_sources``,
    ``towards_ids``, ``towards_texts``) are JSON cells (they start with ``[`` and stay parseable).
    Every text cell (names people typed: ``annotator``, ``rewrite``, a text, a class name) goes
    through :func:`spreadsheet_safe`, so ``=HYPERLINK(...)`` is shown, not run. Numbers (ids,
    feature values, versions) are written as numbers: a number is never a formula, and -0.5 stays
    -0.5. The JSONL export is exact.
    """
    rows = [flat(record, items.feature_names) for record in records]
    columns = list(dict.fromkeys(column for row in rows for column in row))
    writer = csv.DictWriter(handle, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({column: _csv_cell(row.get(column)) for column in columns})


def _csv_cell(value: object) -> object:
    if isinstance(value, (list, dict)):
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


def write_parquet(records: list[dict], items: SessionItems, handle: IO[bytes]) -> None:
    """One Parquet table, a column per field and per feature (lists stay lists), readable by
    pandas, pyarrow and ``datasets.load_dataset("parquet", data_files=...)``."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([flat(record, items.feature_names) for record in records]), handle)


def write_label_studio(records: list[dict], items: SessionItems, handle: IO[str]) -> None:
    """Label Studio tasks (a JSON list to import into a project): one task per item answered, its
    ``data`` (``item_id`` and ``text``, or ``features`` by name) and one annotation per answer whose
    ``result`` is a ``choices`` result naming the class; a skip is an annotation with
    ``was_cancelled`` and no result; undone answers are left out (Label Studio has no such state).
    The labelling config they fit: :func:`label_studio_config`. Who answered, and nudge's own
    fields (directions, rewrites) per answer, are in each task's ``meta``."""
    tasks: dict[str, dict] = {}
    for record in records:
        if record["answer"] == "undone":
            continue
        task = tasks.setdefault(record["item_id"], _task(record, items))
        task["annotations"].append(_annotation(record, items))
        task["meta"]["answers"].append({key: record.get(key) for key in _META_FIELDS if key in record})
    json.dump(list(tasks.values()), handle, indent=1)
    handle.write("\n")


_META_FIELDS = ("annotation_id", "annotator", "time", "answer", "label", "model_version", "directions",
                "direction_targets", "direction_sources", "rewrite", "towards_ids", "towards_texts")


def _object_name(items: SessionItems) -> str:
    return "text" if items.kind == "text" else "features"


def _task(record: dict, items: SessionItems) -> dict:
    data = {"item_id": record["item_id"]}
    for key in ("text", "features", "image_path"):
        if key in record:
            data[key] = record[key]
    return {"data": data, "annotations": [], "meta": {"session": record["session"], "answers": []}}


def _annotation(record: dict, items: SessionItems) -> dict:
    skipped = record["answer"] == "skip"
    result = [] if skipped else [{
        "from_name": LABEL_STUDIO_CHOICES, "to_name": _object_name(items), "type": "choices",
        "value": {"choices": [record["label"]]},
    }]
    return {"result": result, "was_cancelled": skipped, "created_at": record["time"]}


def label_studio_config(items: SessionItems) -> str:
    """The Label Studio labelling config the exported tasks fit (a text, or a table of features,
    and one choice per class)."""
    shown = ('<Text name="text" value="$text"/>' if items.kind == "text"
             else '<Table name="features" value="$features"/>')
    choices = "".join(f'<Choice value={quoteattr(name)}/>' for name in items.class_names)
    return (f'<View>{shown}<Choices name="{LABEL_STUDIO_CHOICES}" toName="{_object_name(items)}" '
            f'choice="single">{choices}</Choices></View>')


Writer = Callable[[list[dict], SessionItems, IO], None]
WRITERS: dict[str, Writer] = {
    "jsonl": write_jsonl, "csv": write_csv, "parquet": write_parquet, "labelstudio": write_label_studio,
}
BINARY_FORMATS = ("parquet",)
SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet", ".json": "labelstudio"}
