"""The user's numeric tables and images: ``csv:PATH``.

Comma separated, one item per row, with a **header row naming the columns** (a first row of numbers
is refused: the columns need names). Every column is a feature (numbers; every cell filled) except:

- the label column, named with ``label_column`` (``--label-column``): known labels, empty cells
  unknown; a table without one is an unlabelled pool (never "the last column");
- the id column (``id_column``): each item's name; default a hash of its feature values;
- columns listed in ``ignore_columns``; any other column that is not numeric is refused, naming it;
- an image column (``image_column``): paths of image files (relative to the CSV's folder), read
  with Pillow (:mod:`nudge.loop.datasets.images`); the pixels are the features.

Pixel columns make an image when ``image_shape`` (``--image-shape 8x8``) says how they are laid out.
The test set: ``test_file`` (same columns, every row labelled) or a share of the labelled rows.
Paths are checked by :func:`nudge.loop.datasets.reading.resolve_data_path`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nudge.loop.datasets.assembly import FileRows, assemble
from nudge.loop.datasets.base import Dataset
from nudge.loop.datasets.images import pixel_names, read_image
from nudge.loop.datasets.labels import label_order
from nudge.loop.datasets.reading import check_width, file_digest, resolve_data_path, table_rows
from nudge.loop.datasets.registry import LoadOptions, register_dataset

NOT_A_FEATURE = "if it is not a feature, name it with --label-column, --id-column or --ignore-columns"


@dataclass
class Table:
    """What was read of one numeric CSV: its rows as items, their features, the images' paths."""

    header: list[str]
    feature_names: list[str]
    rows: FileRows
    features: list[np.ndarray] = field(default_factory=list)
    image_paths: list[str] | None = None


def _number(cell: str, path: Path, line: int, column: str) -> float:
    if not cell:
        raise ValueError(f"{path}, line {line}: column {column!r} is empty; every feature cell needs a number")
    try:
        value = float(cell)
    except ValueError:
        raise ValueError(f"{path}, line {line}: column {column!r} holds {cell!r}, not a number; "
                         f"{NOT_A_FEATURE}") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}: column {column!r} holds {cell!r}, not a finite number")
    return value


def _feature_row(cells: list[str], path: Path, line: int, columns: list[str]) -> np.ndarray:
    """(n,) float32 features of one row; numpy parses a clean row, :func:`_number` explains a bad one."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        values = np.array([_number(c, path, line, columns[j]) for j, c in enumerate(cells)])
    return values.astype(np.float32)


def _column(header: list[str], name: str | None, path: Path, what: str, option: str) -> int | None:
    if name is None:
        return None
    if name not in header:
        raise ValueError(f"{path} has no {what} column {name!r} ({option}); its columns are: {', '.join(header)}")
    return header.index(name)


def _layout(header: list[str], path: Path, options: LoadOptions) -> tuple[dict[str, int | None], list[int]]:
    """(the special columns' indices, the feature columns' indices) of a header row."""
    repeated = sorted({name for name in header if header.count(name) > 1})
    if repeated:
        raise ValueError(f"{path}: the header names the column(s) {', '.join(map(repr, repeated))} more than once")
    special = {
        "label": _column(header, options.label_column, path, "label", "--label-column"),
        "id": _column(header, options.id_column, path, "id", "--id-column"),
        "image": _column(header, options.image_column, path, "image", "--image-column"),
    }
    ignored = {_column(header, name, path, "ignored", "--ignore-columns") for name in options.ignore_columns}
    taken = {at for at in special.values() if at is not None} | ignored
    features = [j for j in range(len(header)) if j not in taken]
    if special["image"] is not None and features:
        names = ", ".join(repr(header[j]) for j in features)
        raise ValueError(f"{path}: with an image column, the pixels are the features; the column(s) {names} must be "
                         "the label (--label-column), the id (--id-column) or ignored (--ignore-columns)")
    if special["image"] is None and not features:
        raise ValueError(f"{path} has no feature columns left (its columns: {', '.join(header)})")
    if options.image_shape is not None and len(features) != math.prod(options.image_shape):
        height, width = options.image_shape
        raise ValueError(f"{path}: --image-shape {height}x{width} is {height * width} pixels, but the file has "
                         f"{len(features)} feature columns")
    return special, features


def _read_table(path: Path, options: LoadOptions, header_wanted: list[str] | None = None) -> Table:
    """A numeric CSV's rows (see the module docstring), read one at a time into float32."""
    rows = table_rows(path, ",")
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path} is empty")
    header = first[1]
    if all(cell and label_order(cell)[0] == 0 for cell in header):
        raise ValueError(f"{path}: the first row ({', '.join(header[:4])}{', …' if len(header) > 4 else ''}) holds "
                         "numbers; a numeric CSV needs a header row naming its columns")
    if header_wanted is not None and header != header_wanted:
        raise ValueError(f"{path}: a test file needs the data file's columns ({', '.join(header_wanted)}); "
                         f"it has {', '.join(header)}")
    special, features = _layout(header, path, options)
    names = [header[j] for j in features]
    image_at = special["image"]
    table = Table(header, pixel_names(options.image_size) if image_at is not None else names, FileRows(path),
                  image_paths=[] if image_at is not None else None)
    for line, cells in rows:
        check_width(path, line, cells, len(header))
        place = f"{path}, line {line}"
        item_id = None if special["id"] is None else cells[special["id"]]
        if item_id == "":
            raise ValueError(f"{place}: the id is empty (every item needs one in the id column)")
        if image_at is not None:
            values, image_path = read_image(cells[image_at], path.parent, options.image_size, place, options.data_root)
            table.image_paths.append(image_path)
        else:
            values = _feature_row([cells[j] for j in features], path, line, names)
        label = None if special["label"] is None else cells[special["label"]] or None
        table.rows.add(f"line {line}", item_id, label, values.tobytes())
        table.features.append(values)
    if not table.features:
        raise ValueError(f"{path} has a header row but no data rows")
    return table


@register_dataset("csv", takes_path=True, summary="your numeric table (or images): a header row naming its columns")
def load_feature_csv(spec_path: str, options: LoadOptions) -> Dataset:
    """csv:PATH, see the module docstring. Read row by row into float32, so a wide file costs about
    its numbers' size in memory, not that of its text."""
    path = resolve_data_path(spec_path, data_root=options.data_root)
    main = _read_table(path, options)
    test_path = None if options.test_file is None else resolve_data_path(options.test_file, data_root=options.data_root)
    test = None if test_path is None else _read_table(test_path, options, main.header)
    name = f"csv:{path}"
    images = options.image_column is not None
    items = assemble(main.rows, None if test is None else test.rows, options, name,
                     what="image" if images else "feature values")
    X = np.stack(main.features + ([] if test is None else test.features))
    image_shape = options.image_size if images else options.image_shape
    files = {str(path): file_digest(path)} | ({} if test_path is None else {str(test_path): file_digest(test_path)})
    return Dataset(
        name, X, items.y, items.class_names, items.pool, items.test,
        fingerprint={"kind": "csv"}, kind="image" if image_shape is not None else "table",
        item_ids=items.item_ids, item_digests=items.item_digests, feature_names=main.feature_names,
        image_shape=image_shape,
        image_paths=None if not images else main.image_paths + (test.image_paths if test else []),
        files=files, test_from_file=items.test_from_file,
    )
