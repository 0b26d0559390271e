"""What every file loader does once it has read its rows: name the items, read the labels, and
split off the test set (:func:`assemble`).

Item ids come from the id column, else from a hash of each item's content (its text, its feature
values, its pixels): the same item keeps its id however the file is reordered or grows. Two rows
with the same id (the same content, without an id column) are refused with both lines, as is an
item of the test file that is also in the data. The digest of an item hashes all of its row that
matters (content, label, revision), so a session can tell an item that changed from the same one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from nudge.loop.datasets.base import MAX_ID_CHARS, content_hash
from nudge.loop.datasets.labels import class_indices, class_names_of, held_out
from nudge.loop.datasets.registry import LoadOptions


@dataclass
class FileRows:
    """What a loader read of one file, per row: where it is, its id (from an id column, else None),
    its label (None: unknown), and hashes of its content (what the item is: its text, its feature
    values, its pixels) and of its whole row that matters (content, label, revision). Only the hashes
    are kept, so a wide file is not held twice."""

    path: Path
    where: list[str] = field(default_factory=list)  # "line 3", "row 3"
    ids: list[str | None] = field(default_factory=list)
    labels: list[str | None] = field(default_factory=list)
    content_hashes: list[str] = field(default_factory=list)
    digests: list[str] = field(default_factory=list)

    def add(self, where: str, item_id: str | None, label: str | None, content: bytes, extra: str = "") -> None:
        if item_id is not None and len(item_id) > MAX_ID_CHARS:
            raise ValueError(f"{self.path}, {where}: the id is longer than {MAX_ID_CHARS} characters")
        self.where.append(where)
        self.ids.append(item_id)
        self.labels.append(label)
        self.content_hashes.append(content_hash(content))
        self.digests.append(content_hash(content + b"\0" + f"{label}\0{extra}".encode()))

    def __len__(self) -> int:
        return len(self.where)

    def places(self) -> list[str]:
        return [f"{self.path}, {where}" for where in self.where]


@dataclass(frozen=True)
class Assembled:
    """The items of a data file (and of its test file, after them): ids, digests, labels and splits."""

    item_ids: list[str]
    item_digests: list[str]
    y: np.ndarray
    class_names: list[str]
    pool: np.ndarray
    test: np.ndarray
    test_from_file: bool


def assemble(main: FileRows, test: FileRows | None, options: LoadOptions, source: str,
             what: str = "content") -> Assembled:
    """The items of ``main`` then ``test`` (a labelled test file, or None: a share of ``main``'s labelled
    rows is held out, see :func:`nudge.loop.datasets.labels.held_out`). ``what`` names an item's content
    in the message about two identical items ("text", "feature values", ...)."""
    parts = [main] if test is None else [main, test]
    missing = None if test is None else next((p for p, label in zip(test.places(), test.labels) if label is None), None)
    if missing is not None:
        raise ValueError(f"{missing}: every item of the test file needs a label")
    item_ids, digests = _names(parts, what)
    labels = [label for part in parts for label in part.labels]
    places = [place for part in parts for place in part.places()]
    class_names = class_names_of(labels, options.classes, source)
    y = class_indices(labels, class_names, places)
    if test is None:
        pool, test_rows = held_out(y, len(class_names), options.test_fraction, options.seed, source)
        return Assembled(item_ids, digests, y, class_names, pool, test_rows, False)
    pool, test_rows = np.arange(len(main)), np.arange(len(main), len(main) + len(test))
    return Assembled(item_ids, digests, y, class_names, pool, test_rows, True)


def _names(parts: list[FileRows], what: str) -> tuple[list[str], list[str]]:
    """(item ids, digests) of every row of ``parts``; a repeated id is refused naming both places."""
    item_ids, digests, first_place = [], [], {}
    for part in parts:
        for where, item_id, hashed in zip(part.where, part.ids, part.content_hashes):
            name = item_id if item_id is not None else hashed
            if name in first_place:
                raise ValueError(_duplicate(first_place[name], (part.path, where), name, item_id is None, what))
            first_place[name] = (part.path, where)
            item_ids.append(name)
        digests += part.digests
    return item_ids, digests


def _duplicate(first: tuple[Path, str], second: tuple[Path, str], name: str, hashed: bool, what: str) -> str:
    """One line naming both places of a repeated item (in one file: "data.csv: line 2 and line 9")."""
    places = (f"{first[0]}: {first[1]} and {second[1]}" if first[0] == second[0]
              else f"{first[0]}, {first[1]} and {second[0]}, {second[1]}")
    if hashed:
        return (f"{places} hold the same {what}: remove the copy, or name each item with an id column "
                "(--id-column NAME)")
    return f"{places} have the same id {name!r}: item ids must be unique"

