"""The user's own files: ``csv:PATH`` (numeric features) and ``text-csv:PATH`` (texts).

- ``csv:PATH``: the user's own numeric data, any number of features. Comma
  separated, one point per row: feature columns, then the label column. A
  header row is optional: the first row is taken as a header when one of its
  feature cells is not a number. Labels may be numbers or words; classes are
  sorted (numbers by value, before words).
- ``text-csv:PATH``: the user's own texts. Comma separated with a header row
  naming the columns ``text`` and ``label`` and, optionally,
  ``counterfactual`` (a rewrite of the text with another label; may be empty).
  Other columns are ignored.

Paths are checked by :func:`nudge.loop.datasets.reading.resolve_data_path`.
"""

from __future__ import annotations

import math
from itertools import chain
from pathlib import Path

import numpy as np

from nudge.loop.datasets.base import Dataset, split_pool_test, spread
from nudge.loop.datasets.reading import check_width, file_digest, read_table, resolve_data_path, table_rows
from nudge.loop.datasets.registry import LoadOptions, register_dataset
from nudge.loop.datasets.texts import embed_texts, encoder_identity, text_encoder


def _class_indices(labels: list[str], source: str) -> tuple[np.ndarray, list[str]]:
    """(y as int64 class indices, sorted class names) from label strings."""
    names = sorted(set(labels), key=_label_order)
    if len(names) < 2:
        raise ValueError(
            f"{source} has only one class ({names[0]!r}); a classifier needs at least two"
        )
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[label] for label in labels], dtype=np.int64), names


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers first, by value; then words, alphabetically."""
    try:
        value = float(label)
    except ValueError:
        return (1, 0.0, label)
    return (0, value, label) if math.isfinite(value) else (1, 0.0, label)


def _number(cell: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        where = f"{path}, line {line}, column {column}"
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}, column {column}: {cell!r} is not a finite number")
    return value


@register_dataset("csv", takes_path=True, summary="your numeric features, label in the last column")
def load_feature_csv(spec_path: str, options: LoadOptions) -> Dataset:
    """csv:PATH, numeric features then a label per row; see the module docstring.

    Read row by row into float32, so a wide file costs about its numbers' size
    in memory, not that of its text.
    """
    path = resolve_data_path(spec_path, data_root=options.data_root)
    rows = table_rows(path, ",")
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path} is empty")
    width = len(first[1])
    if width < 2:
        raise ValueError(f"{path} needs at least two columns (features..., label); it has {width}")
    has_header = not all(_label_order(cell)[0] == 0 for cell in first[1][:-1])
    columns = first[1] if has_header else [str(j + 1) for j in range(width)]
    features, labels = [], []
    for line, cells in rows if has_header else chain([first], rows):
        check_width(path, line, cells, width)
        features.append(_feature_row(cells[:-1], path, line, columns))
        if not cells[-1]:
            raise ValueError(f"{path}, line {line}: the label (last column) is empty")
        labels.append(cells[-1])
    if not features:
        raise ValueError(f"{path} has a header row but no data rows")
    name = f"csv:{path}"
    y, class_names = _class_indices(labels, name)
    pool, test = split_pool_test(y, options.test_fraction, options.seed, name)
    fingerprint = {"kind": "csv", "sha256": file_digest(path),
                   "seed": options.seed, "test_fraction": options.test_fraction}
    return Dataset(name, np.stack(features), y, class_names, pool, test, fingerprint=fingerprint)


def _feature_row(cells: list[str], path: Path, line: int, columns: list[str]) -> np.ndarray:
    """(n,) float32 features of one row; numpy parses a clean row, :func:`_number` explains a bad one."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        values = np.array([_number(c, path, line, repr(columns[j])) for j, c in enumerate(cells)])
    return values.astype(np.float32)


@register_dataset("text-csv", takes_path=True, summary="your texts: columns text, label, optional counterfactual")
def load_text_csv(spec_path: str, options: LoadOptions) -> Dataset:
    """text-csv:PATH: columns text, label, optionally counterfactual (see the module docstring)."""
    path = resolve_data_path(spec_path, data_root=options.data_root)
    rows = read_table(path, ",")
    header = [cell.lower() for cell in rows[0][1]]
    if "text" not in header or "label" not in header:
        raise ValueError(
            f"{path} needs a header row naming the columns 'text' and 'label' (and optionally "
            f"'counterfactual'); its first row is {rows[0][1]}"
        )
    text_at, label_at = header.index("text"), header.index("label")
    revision_at = header.index("counterfactual") if "counterfactual" in header else None
    body = spread(rows[1:], options.limit)
    if not body:
        raise ValueError(f"{path} has a header row but no data rows")
    texts, labels, revisions = [], [], []
    for line, cells in body:
        check_width(path, line, cells, len(header))
        for column, at in (("text", text_at), ("label", label_at)):
            if not cells[at]:
                raise ValueError(f"{path}, line {line}: the {column} is empty")
        texts.append(cells[text_at])
        labels.append(cells[label_at])
        revisions.append(None if revision_at is None else cells[revision_at] or None)
    name = f"text-csv:{path}"
    y, class_names = _class_indices(labels, name)
    pool, test = split_pool_test(y, options.test_fraction, options.seed, name)
    encoder = text_encoder(options.encoder)
    X, revised_X = embed_texts(encoder, texts, revisions)
    fingerprint = {"kind": "text-csv", "sha256": file_digest(path), "seed": options.seed,
                   "test_fraction": options.test_fraction, "limit": options.limit,
                   "encoder": encoder_identity(encoder)}
    has_revisions = revision_at is not None
    return Dataset(
        name, X, y, class_names, pool, test,
        texts=texts,
        counterfactual_texts=revisions if has_revisions else None,
        counterfactual_X=revised_X if has_revisions else None,
        fingerprint=fingerprint,
        encoder=encoder,
    )
