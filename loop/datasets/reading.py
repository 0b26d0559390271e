"""Reading the user's files safely: path checks and delimited UTF-8 text.

Paths (``csv:``, ``text-csv:``, ``data_dir``) go through
:func:`resolve_data_path`: they are resolved (``~``, ``..`` and symbolic links
taken apart), must name an existing regular file (or folder for
``data_dir``), and, when ``data_root`` is given, must lie inside it after
resolution, so no link or ``..`` leads elsewhere. Files are only parsed as
text (UTF-8): nothing in them is executed or unpickled. Every problem is a
ValueError with a message for the user.
"""

from __future__ import annotations

import csv
import hashlib
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Literal


def resolve_data_path(
    path: str | Path,
    *,
    want: Literal["file", "folder"] = "file",
    data_root: str | Path | None = None,
) -> Path:
    """The resolved form of a user-given data path, checked before anything reads it.

    ``~`` is expanded and ``..`` and symbolic links are resolved; the result
    must be an existing regular file (``want="file"``; not a folder, device or
    pipe) or folder (``want="folder"``), and, with ``data_root``, lie inside
    that folder (after resolving it too). Raises ValueError otherwise.
    """
    text = str(path).strip()
    if not text:
        raise ValueError(f"no path given: name a data {want}")
    try:
        resolved = Path(text).expanduser().resolve()
        root = None if data_root is None else Path(data_root).expanduser().resolve()
        if root is not None and not resolved.is_relative_to(root):
            raise ValueError(f"{text} is outside the allowed data folder {root}")
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise ValueError(f"{text}: no such {want}") from None
    except (OSError, RuntimeError) as error:
        raise ValueError(f"{text} cannot be used as a data {want}: {error}") from None
    if want == "file" and not stat.S_ISREG(mode):
        raise ValueError(f"{text} is not a regular file (folders, devices and pipes are refused)")
    if want == "folder" and not stat.S_ISDIR(mode):
        raise ValueError(f"{text} is not a folder")
    return resolved


def read_table(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a delimited UTF-8 file as (line number, stripped cells)."""
    rows = list(table_rows(path, delimiter))
    if not rows:
        raise ValueError(f"{path} is empty")
    return rows


def table_rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """:func:`read_table`'s rows one at a time (a wide file is never held as text), empty or not."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            for row in reader:
                cells = [cell.strip() for cell in row]
                if any(cells):
                    yield reader.line_num, cells
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except csv.Error as error:
        raise ValueError(f"{path} cannot be read as delimited text: {error}") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror}") from None


def check_width(path: Path, line: int, cells: list[str], width: int) -> None:
    if len(cells) != width:
        raise ValueError(f"{path}, line {line}: {len(cells)} cells where {width} were expected")


def file_digest(path: Path) -> str:
    """The SHA-256 of a file's content, in hex (what a data set's fingerprint records)."""
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
