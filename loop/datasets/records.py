"""A text file's rows as records, whatever its format: CSV (a header row), JSON Lines (one object a
line) or Parquet (read with pyarrow). Every loader of texts reads through :func:`read_records`, so
the three formats accept the same columns and refuse the same mistakes, each with the line (or row)
it is on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from nudge.loop.datasets.reading import check_width, read_table

FORMATS = ("csv", "jsonl", "parquet")


@dataclass(frozen=True)
class Records:
    """Column names, and per row where it is ("line 3", "row 3") and its cells in column order
    (None where a row has no value)."""

    path: Path
    columns: list[str]
    rows: list[tuple[str, list]]

    def column(self, name: str | None, *, what: str, option: str, default: str | None = None,
               required: bool = False) -> int | None:
        """The index of the column ``name`` (``default`` when None; matched exactly, else ignoring
        case). A named column that is missing is refused; so is a required one."""
        wanted = name if name is not None else default
        if wanted is not None:
            for candidates in (self.columns, [c.lower() for c in self.columns]):
                key = wanted if candidates is self.columns else wanted.lower()
                if key in candidates:
                    return candidates.index(key)
        if name is not None or required:
            raise ValueError(f"{self.path} has no {what} column {wanted!r} ({option} NAME names it); its columns "
                             f"are: {', '.join(self.columns) or 'none'}")
        return None


def read_records(path: Path, form: str) -> Records:
    """The records of ``path`` in ``form`` (one of :data:`FORMATS`); ValueError for a bad file."""
    if form == "csv":
        return _csv_records(path)
    if form == "jsonl":
        return _jsonl_records(path)
    if form == "parquet":
        return _parquet_records(path)
    raise ValueError(f"unknown record format {form!r}")


def _csv_records(path: Path) -> Records:
    rows = read_table(path, ",")
    header = rows[0][1]
    if not rows[1:]:
        raise ValueError(f"{path} has a header row but no data rows")
    body = []
    for line, cells in rows[1:]:
        check_width(path, line, cells, len(header))
        body.append((f"line {line}", [cell if cell else None for cell in cells]))
    return Records(path, header, body)


def _jsonl_records(path: Path) -> Records:
    columns: dict[str, None] = {}
    objects = []
    try:
        with path.open(encoding="utf-8-sig") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as error:
                    raise ValueError(f"{path}, line {number}: not JSON ({error.msg})") from None
                if not isinstance(value, dict):
                    raise ValueError(f"{path}, line {number}: a JSON Lines data file holds one object a line, "
                                     f"e.g. {{\"text\": \"...\"}}; this line holds a {type(value).__name__}")
                columns.update(dict.fromkeys(value))
                objects.append((f"line {number}", value))
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    if not objects:
        raise ValueError(f"{path} holds no records")
    names = list(columns)
    return Records(path, names, [(where, [value.get(name) for name in names]) for where, value in objects])


def _parquet_records(path: Path) -> Records:
    try:
        import pyarrow.parquet as parquet
    except ImportError:  # pragma: no cover - pyarrow is a dependency
        raise ValueError("reading Parquet needs pyarrow: pip install pyarrow") from None
    try:
        table = parquet.read_table(path)
    except Exception as error:  # pyarrow raises several kinds for a file that is not Parquet
        raise ValueError(f"{path} cannot be read as Parquet: {str(error).splitlines()[0]}") from None
    if table.num_rows == 0:
        raise ValueError(f"{path} holds no records")
    columns = table.column_names
    values = [table.column(name).to_pylist() for name in columns]
    return Records(path, columns, [(f"row {i + 1}", [column[i] for column in values]) for i in range(table.num_rows)])


def cell_text(value: object, *, where: str, what: str) -> str | None:
    """A cell as text: None when missing or blank; numbers as written; anything else refused."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError(f"{where}: the {what} is a {type(value).__name__}, not text or a number")
    text = value.strip() if isinstance(value, str) else str(value)
    return text or None
