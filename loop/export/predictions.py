"""An exported model on new data (``nudge predict``): the file's rows read as the data loaders read
them (:func:`rows_to_predict`), and the predictions written as CSV or JSONL (:func:`write_predictions`)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO

import numpy as np

from nudge.estimators import SavedModel
from nudge.loop.datasets.reading import resolve_data_path
from nudge.loop.datasets.records import Records, cell_text, read_records
from nudge.loop.export.formats import spreadsheet_safe

RECORD_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".parquet": "parquet"}


def rows_to_predict(path: str | Path, model: SavedModel, *, text_column: str | None = None,
                    id_column: str | None = None) -> tuple[list[str], object]:
    """(each row's id, what ``model`` predicts on: texts, or an (N, n) array in data units) of the
    file ``path``: a .txt file of one text a line (text models), or a CSV, JSONL or Parquet file with
    the text column (``text_column``, default ``text``) or the model's feature columns by name. Ids
    come from ``id_column``, else they are the row numbers from 1. A ValueError names what is wrong."""
    resolved = resolve_data_path(path)
    if resolved.suffix.lower() == ".txt":
        if model.kind != "text":
            raise ValueError(f"{path}: a .txt file holds texts, and this model reads {model.kind} rows "
                             f"({len(model.feature_names or [])} features): give a CSV, JSONL or Parquet file")
        texts = _text_lines(resolved)
        return [str(i + 1) for i in range(len(texts))], texts
    form = RECORD_FORMATS.get(resolved.suffix.lower())
    if form is None:
        raise ValueError(f"{path}: a file to predict on is .txt, .csv, .jsonl or .parquet")
    records = read_records(resolved, form)
    ids = _ids(records, id_column)
    if model.kind == "text":
        column = records.column(text_column, what="text", option="--text-column", default="text", required=True)
        texts = []
        for where, cells in records.rows:
            text = cell_text(cells[column], where=f"{path}, {where}", what="text")
            if text is None:
                raise ValueError(f"{path}, {where}: the text is empty")
            texts.append(text)
        return ids, texts
    return ids, _features(records, model.feature_names, path)


def _text_lines(path: Path) -> list[str]:
    try:
        texts = [line.strip() for line in path.read_text(encoding="utf-8-sig").splitlines() if line.strip()]
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    if not texts:
        raise ValueError(f"{path} holds no texts")
    return texts


def _ids(records: Records, id_column: str | None) -> list[str]:
    if id_column is None:
        return [str(i + 1) for i in range(len(records.rows))]
    column = records.column(id_column, what="id", option="--id-column")
    return [str(cells[column]) for _, cells in records.rows]


def _features(records: Records, names: list[str], path: str | Path) -> np.ndarray:
    columns = [records.column(name, what="feature", option="the model's feature names", required=True)
               for name in names]
    rows = np.zeros((len(records.rows), len(names)))
    for row, (where, cells) in enumerate(records.rows):
        for index, (name, column) in enumerate(zip(names, columns)):
            value = cells[column]
            try:
                rows[row, index] = float(value)
            except (TypeError, ValueError):
                raise ValueError(f"{path}, {where}: the feature {name!r} holds {value!r}, not a number") from None
            if not np.isfinite(rows[row, index]):
                raise ValueError(f"{path}, {where}: the feature {name!r} holds {value!r}, not a finite number")
    return rows


def write_predictions(ids: list[str], model: SavedModel, data, handle: IO[str], fmt: str) -> int:
    """Each row's id, predicted class and class probabilities (``p_<class>``) as ``fmt`` ("csv" or
    "jsonl") to ``handle``; the number of rows."""
    proba = model.predict_proba(data)
    names = model.class_names
    rows = [{"id": item_id, "prediction": names[int(np.argmax(p))],
             **{f"p_{name}": round(float(value), 6) for name, value in zip(names, p)}}
            for item_id, p in zip(ids, proba)]
    if fmt == "jsonl":
        for row in rows:
            handle.write(json.dumps(row) + "\n")
    else:
        writer = csv.DictWriter(handle, fieldnames=["id", "prediction", *(f"p_{name}" for name in names)])
        writer.writeheader()
        writer.writerows({key: spreadsheet_safe(value) if isinstance(value, str) else value for key, value in row.items()}
                         for row in rows)
    return len(rows)
