"""A session's data across restarts: its items laid out in its point ids, its data versions, its scaling.

When a session begins, every item of its data set is recorded (version 1, point id = row) and its
feature scaling is fitted on the pool and stored (:func:`begin_data`). When it is opened again
(:func:`resumed_data`) the freshly loaded data is compared with the recorded items by item id:

- nothing changed: the data is laid out in the recorded point ids, as before;
- items were added, removed or changed: refused with one message saying what changed, unless the
  session is opened with ``accept_new_data`` (``nudge serve --add-rows``), which records a new data
  version: new items get the next point ids, removed ones keep theirs in no split (never handed
  out, never trained on; their answers stay in the log), changed ones keep their answers. Every
  earlier answer stays on its item.

Generated sets and the loader's options (a generator, a text encoder) are still checked by their
fingerprint (:func:`nudge.loop.config.resume.check_same_data`); for files the item ids replace the
old whole-file hash (a session made before items were kept is checked by that hash once, then its
items are recorded).
"""

from __future__ import annotations

from dataclasses import dataclass

from nudge.loop.config.resume import check_same_data, fingerprint_changes
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, Scaling, aligned, item_changes
from nudge.loop.datasets.items import new_item_split, split_of
from nudge.loop.errors import SessionError
from nudge.loop.store.items import SessionData
from nudge.loop.store.store import Store


@dataclass(frozen=True)
class DataState:
    """What ``Session.status()`` reports of a session's data (fixed while it is open)."""

    version: int
    n_items: int  # items in the data now
    removed: int  # items removed in some version (their point ids stay unused)
    stranded_answers: int  # answers on removed items: kept, never trained on
    report: str | None  # what opening it did to the data (a new version), else None

    def as_dict(self) -> dict:
        return {"version": self.version, "n_items": self.n_items, "removed": self.removed,
                "stranded_answers": self.stranded_answers}


def new_scaling(config: SessionConfig, dataset: Dataset) -> Scaling:
    """The scaling a new session takes (``config.scaling`` fitted on the pool); a SessionError when
    it does not suit the data."""
    try:
        return Scaling.fit(config.scaling, dataset.kind, dataset.raw[dataset.pool])
    except ValueError as error:
        raise SessionError(str(error)) from None


def begin_data(store: Store, session_id: str, dataset: Dataset, scaling: Scaling) -> tuple[Dataset, DataState]:
    """Record a new session's items (version 1) and its ``scaling`` (:func:`new_scaling`); the data set scaled."""
    data = SessionData(store.db, session_id)
    version = _record_first_version(data, dataset)
    data.keep_scaling(scaling.as_dict())
    return dataset.with_scaling(scaling), DataState(version, len(dataset.item_ids), 0, 0, None)


def resumed_data(store: Store, session_id: str, dataset: Dataset, *,
                 accept_new_data: bool = False) -> tuple[Dataset, DataState]:
    """The freshly loaded ``dataset`` as the session ``session_id`` knows it (see the module docstring)."""
    data = SessionData(store.db, session_id)
    stored, recorded = data.items(), store.session_fingerprint(session_id)
    report = None
    if not stored:  # a session made before items were kept
        _check_unchanged_file(session_id, recorded, dataset)
        _record_first_version(data, dataset)
        if dataset.fingerprint and recorded != dataset.fingerprint:
            store.update_session(session_id, fingerprint=dataset.fingerprint)
        stored = data.items()
    else:
        check_same_data(session_id, recorded, dataset.fingerprint)
        changes = item_changes(stored, dataset)
        if changes:
            if not accept_new_data:
                raise SessionError(
                    f"the data of session {session_id!r} changed since its last data version: {changes.describe()}. "
                    "To take the new data (every answer stays on its item): --add-rows; to keep the old data, "
                    "restore the file it was made on"
                )
            version = _record_changes(data, dataset, changes)
            stored = data.items()
            report = (f"took the new data as version {version}: {changes.describe()}; "
                      "every earlier answer stays on its item")
    laid_out = aligned(dataset, stored)
    stored_scaling = data.scaling()
    if stored_scaling is None:  # a session older than scalings trained on the data's own units
        stored_scaling = Scaling().as_dict()
        data.keep_scaling(stored_scaling)
    versions = data.versions()
    removed = sum(item.removed for item in stored)
    state = DataState(versions[-1].version if versions else 1, len(stored) - removed, removed,
                      data.stranded_answers() if removed else 0, report)
    return laid_out.with_scaling(Scaling.from_dict(stored_scaling)), state


def _source(dataset: Dataset, changed: list[str] | None = None) -> dict:
    return {"dataset": dataset.name, "files": dict(dataset.files), "changed": list(changed or [])}


def _record_first_version(data: SessionData, dataset: Dataset) -> int:
    splits = [split or "none" for split in split_of(dataset)]
    added = list(zip(dataset.item_ids, dataset.item_digests, splits))
    return data.record_version(added=added, removed=[], changed={}, source=_source(dataset)).version


def _record_changes(data: SessionData, dataset: Dataset, changes) -> int:
    splits = split_of(dataset)
    row_of = {item_id: row for row, item_id in enumerate(dataset.item_ids)}
    added = [(item_id, dataset.item_digests[row_of[item_id]], new_item_split(dataset, splits, row_of[item_id]))
             for item_id in changes.added]
    changed = {item_id: dataset.item_digests[row_of[item_id]] for item_id in changes.changed}
    return data.record_version(added=added, removed=changes.removed, changed=changed,
                               source=_source(dataset, changes.changed)).version


def _check_unchanged_file(session_id: str, recorded: dict | None, dataset: Dataset) -> None:
    """A session made before items were kept recorded its file's SHA-256: it resumes on that file only."""
    if not recorded or not isinstance(recorded.get("sha256"), str) or not dataset.files:
        check_same_data(session_id, recorded, dataset.fingerprint)
        return
    if recorded.get("kind") == "csv":
        raise SessionError(
            f"session {session_id!r} was made when a numeric CSV's last column was its label; a CSV's label "
            "column is named now (--label-column NAME), so its data would not be the same: start a new session "
            "(--session NEW_NAME)"
        )
    was = {key: recorded.get(key) for key in ("sha256", "encoder") if key in recorded}
    now = {"sha256": next(iter(dataset.files.values())), "encoder": dataset.fingerprint.get("encoder")}
    changes = fingerprint_changes(was, {key: now[key] for key in was})
    if changes:
        raise SessionError(
            f"session {session_id!r} was made on other data than this ({'; '.join(changes)}) before nudge kept "
            "item ids, so its answers name rows of the old file. Restore the file it was made on (open it once "
            "and its items are recorded; it may grow after that), or start a new session (--session NEW_NAME)"
        )
