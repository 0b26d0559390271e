"""Items across data versions: what changed between a session's items and a freshly loaded data set
(:func:`item_changes`), and the loaded data set laid out in the session's point ids (:func:`aligned`).

A session numbers its items once (``point_id``: the row of its X) and keeps the numbers for good:
new items get the next numbers, a removed item keeps its number with a row that is in no split
(never handed out, never trained on). So every stored answer, which names a point id, stays on its
item, whatever order the file lists them in and however it grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np

from nudge.loop.datasets.base import UNKNOWN, Dataset

SPLITS = ("pool", "test", "dev")
SHOWN_IDS = 5  # ids named in a message, per kind of change


class StoredItem(Protocol):
    """An item as a session recorded it (a row of the store's ``items`` table)."""

    point_id: int
    item_id: str
    digest: str
    split: str
    removed: bool


@dataclass(frozen=True)
class ItemChanges:
    """How a loaded data set differs from a session's items, by item id."""

    added: list[str]  # ids new to the session (or back after a removal)
    removed: list[str]  # ids the session has and the data no longer does
    changed: list[str]  # ids whose content (digest) is not what the session recorded

    def __bool__(self) -> bool:
        return bool(self.added or self.removed or self.changed)

    def describe(self) -> str:
        """E.g. "3 new items, 1 removed (id a1), 2 changed (ids b2, c3)"."""
        parts = []
        if self.added:
            parts.append(f"{len(self.added)} new item{'s' if len(self.added) != 1 else ''}")
        for word, ids in (("removed", self.removed), ("changed", self.changed)):
            if ids:
                shown = ", ".join(ids[:SHOWN_IDS]) + (", …" if len(ids) > SHOWN_IDS else "")
                parts.append(f"{len(ids)} {word} (id{'s' if len(ids) != 1 else ''} {shown})")
        return ", ".join(parts) or "no changes"


def split_of(dataset: Dataset) -> list[str | None]:
    """(N,) each item's split name ("pool", "test", "dev"), None for an item in none."""
    names: list[str | None] = [None] * len(dataset.X)
    for name, indices in (("pool", dataset.pool), ("test", dataset.test), ("dev", dataset.dev)):
        for index in [] if indices is None else indices.tolist():
            names[index] = name
    return names


def item_changes(stored: Sequence[StoredItem], dataset: Dataset) -> ItemChanges:
    """What ``dataset`` (freshly loaded) adds, removes and changes relative to the ``stored`` items."""
    current = {item.item_id: item for item in stored if not item.removed}
    loaded = dict(zip(dataset.item_ids, dataset.item_digests))
    added = [item_id for item_id in dataset.item_ids if item_id not in current]
    removed = [item_id for item_id in current if item_id not in loaded]
    changed = [item_id for item_id, item in current.items()
               if item_id in loaded and loaded[item_id] != item.digest]
    return ItemChanges(added, removed, changed)


def new_item_split(dataset: Dataset, splits: list[str | None], row: int) -> str:
    """The split an item new to a session joins: the test split when the data set's test items come
    from a file of their own and this is one, else the pool (the held-out share of a file's labelled
    rows is drawn once, when the session begins)."""
    return "test" if dataset.test_from_file and splits[row] == "test" else "pool"


def aligned(dataset: Dataset, stored: Sequence[StoredItem]) -> Dataset:
    """``dataset`` (freshly loaded, every stored item present by id unless removed) laid out in the
    session's point ids: row ``point_id`` of X is that item; a removed item's row is 0 in X, NaN in
    ``raw``, unlabelled and in no split; splits are the stored ones. Itself when nothing moves."""
    n_points = 1 + max(item.point_id for item in stored)
    row_of = {item_id: row for row, item_id in enumerate(dataset.item_ids)}
    order = np.full(n_points, -1, dtype=np.int64)
    split_rows: dict[str, list[int]] = {name: [] for name in SPLITS}
    for item in stored:
        if not item.removed:
            order[item.point_id] = row_of[item.item_id]
            if item.split in split_rows:  # "none": an item a data set built in code left out of every split
                split_rows[item.split].append(item.point_id)
    pool, test, dev = (np.array(sorted(split_rows[name]), dtype=np.int64) for name in SPLITS)
    dev = dev if len(dev) or dataset.dev is not None else None
    if np.array_equal(order, np.arange(len(dataset.X))):  # same rows in the same order: share the arrays
        if _same_split(dataset, pool, test, dev):
            return dataset
        return replace(dataset, pool=pool, test=test, dev=dev)
    return _reordered(dataset, order, stored, pool, test, dev)


def _same_split(dataset: Dataset, pool: np.ndarray, test: np.ndarray, dev: np.ndarray | None) -> bool:
    same_dev = (dev is None and dataset.dev is None) or (
        dev is not None and dataset.dev is not None and np.array_equal(np.sort(dataset.dev), dev))
    return same_dev and np.array_equal(np.sort(dataset.pool), pool) and np.array_equal(np.sort(dataset.test), test)


def _reordered(dataset: Dataset, order: np.ndarray, stored: Sequence[StoredItem], pool: np.ndarray,
               test: np.ndarray, dev: np.ndarray | None) -> Dataset:
    present = order >= 0
    rows = order[present]

    def laid_out(values: np.ndarray | None, fill: float) -> np.ndarray | None:
        if values is None:
            return None
        out = np.full((len(order), *values.shape[1:]), fill, dtype=values.dtype)
        out[present] = values[rows]
        return out

    def listed(values: list | None, fill) -> list | None:
        if values is None:
            return None
        out = [fill] * len(order)
        for point_id, row in zip(np.flatnonzero(present).tolist(), rows.tolist()):
            out[point_id] = values[row]
        return out

    by_point = {item.point_id: item for item in stored}
    raw = dataset.raw.astype(np.float32, copy=False)
    return replace(
        dataset,
        X=laid_out(dataset.X, 0.0), raw=laid_out(raw, np.nan), y=laid_out(dataset.y, UNKNOWN),
        pool=pool, test=test, dev=dev,
        texts=listed(dataset.texts, ""),
        counterfactual_texts=listed(dataset.counterfactual_texts, None),
        counterfactual_X=laid_out(dataset.counterfactual_X, np.nan),
        item_ids=[by_point[p].item_id for p in range(len(order))],
        item_digests=[by_point[p].digest for p in range(len(order))],
        image_paths=listed(dataset.image_paths, None),
    )
