"""The items a session's answers are on, as an export shows them: each point id's item id, text or
feature values in the data's own units, and the class names (:func:`session_items`).

The session's data is read again through its own loader, as the session was opened on it, but a
text set's texts are not embedded (the export needs the texts, not their vectors). Items are found
by item id (the ``items`` table maps point ids to item ids), so a file that grew since still
exports every answer on its item; an item no longer in the file is exported without its data.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.datasets.texts import TextCollector
from nudge.loop.errors import SessionError
from nudge.loop.store.items import SessionData
from nudge.loop.store.store import Store


@dataclass(frozen=True)
class SessionItems:
    """A session's items for an export: ``item_ids`` by point id, and what each item is."""

    kind: str  # a Dataset.kind: "points", "table", "text", "image"
    class_names: list[str]
    feature_names: list[str] | None  # None for texts
    item_ids: dict[int, str]  # point id -> item id
    texts: dict[str, str]  # item id -> text (text sets)
    features: dict[str, np.ndarray]  # item id -> (n,) values in data units (tables, images, points)
    image_paths: dict[str, str]  # item id -> the image file it was read from (images read from files)
    files: tuple[str, ...] = ()  # the data files read

    def is_data_file(self, path: str | Path) -> bool:
        """True when ``path`` is one of the data files (by name, or the same file by another name)."""
        path = Path(path).expanduser()
        for name in self.files:
            if path.resolve() == Path(name).resolve() or (path.exists() and Path(name).exists()
                                                          and os.path.samefile(path, name)):
                return True
        return False

    def item_id(self, point_id: int) -> str:
        return self.item_ids.get(point_id, str(point_id))


def session_items(store: Store, session_id: str, dataset: Dataset | None = None) -> SessionItems:
    """The items of ``session_id`` as its data file holds them now (see the module docstring); a
    SessionError saying which data could not be read when its file is gone or broken. ``dataset``:
    the session's own (``Session.dataset``, laid out in its point ids), for data built in code."""
    if dataset is not None:
        return _items_of(dataset, dict(enumerate(dataset.item_ids)))
    config = SessionConfig.from_dict(store.session_config(session_id))
    options = {key: value for key, value in config.dataset_options.items() if key != "encoder"}
    try:
        dataset = load_dataset(config.dataset, encoder=TextCollector(), **options)
    except (ValueError, OSError) as error:
        raise SessionError(f"the data of session {session_id!r} ({config.dataset}) cannot be read, and the export "
                           f"names each answer's item with its data: {error}") from None
    stored = SessionData(store.db, session_id).items()
    item_ids = ({item.point_id: item.item_id for item in stored} if stored  # sessions older than kept items: rows
                else dict(enumerate(dataset.item_ids)))
    return _items_of(dataset, item_ids)


def _items_of(dataset: Dataset, item_ids: dict[int, str]) -> SessionItems:
    texts, features, paths = {}, {}, {}
    for row, item_id in enumerate(dataset.item_ids):
        if dataset.texts is not None:
            texts[item_id] = dataset.texts[row]
        elif np.all(np.isfinite(dataset.raw[row])):  # a removed item's row is NaN: no data
            features[item_id] = np.asarray(dataset.raw[row], dtype=np.float64)
        if dataset.image_paths is not None and dataset.image_paths[row] is not None:
            paths[item_id] = dataset.image_paths[row]
    return SessionItems(dataset.kind, list(dataset.class_names), dataset.names_of_features, item_ids, texts,
                        features, paths, tuple(dataset.files))
