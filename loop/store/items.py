"""A session's data as the database keeps it: its items, their versions, its scaling (:class:`SessionData`).

The ``items`` table numbers a session's items for good: ``point_id`` is the row of the session's X
that every query and answer names. A new data version adds items with the next point ids, marks
removed ones (their point ids are never reused, their answers stay in the log) and records the
new digest of changed ones; the ``data_versions`` table says what each version did. Each change is
one session-locked transaction, which also releases the open queries on removed items.

Every access is a function of one connection (``_read`` / ``_write`` run it in a transaction).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple, TypeVar

from sqlalchemy import func, select, text, update

from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.schema import annotations, data_versions, from_json, items, queries, sessions

T = TypeVar("T")


class ItemRecord(NamedTuple):
    """One item of a session: its point id for good, its id, its content digest and split, and the
    data versions that added and (when it is gone) removed it. (A named tuple: a session may have
    millions.)"""

    point_id: int
    item_id: str
    digest: str
    split: str
    added_in: int
    removed_in: int | None

    @property
    def removed(self) -> bool:
        return self.removed_in is not None


@dataclass(frozen=True)
class DataVersion:
    """One version of a session's data (a row of ``data_versions``)."""

    version: int
    created_at: float
    n_items: int
    added: int
    removed: int
    changed: int
    source: dict


# many rows at once: a textual INSERT runs ~3x faster than a compiled one (no per-row compilation)
INSERT_ITEMS = text("INSERT INTO items (session_id, point_id, item_id, digest, split, added_in) "
                    "VALUES (:session_id, :point_id, :item_id, :digest, :split, :added_in)")


class SessionData:
    """The items, data versions and feature scaling of the session ``session_id`` in ``db``."""

    def __init__(self, db: Database, session_id: str) -> None:
        self.db = db
        self.session_id = session_id

    def _read(self, work: Callable[[Transaction], T]) -> T:
        return self.db.read(work)

    def _write(self, work: Callable[[Transaction], T]) -> T:
        return self.db.write(work, lock=self.session_id)

    # ------------------------------------------------------------------ items
    def items(self) -> list[ItemRecord]:
        """Every item the session ever had (removed ones too), by point id."""
        def read(connection: Transaction) -> list[ItemRecord]:
            rows = connection.execute(
                select(items.c.point_id, items.c.item_id, items.c.digest, items.c.split, items.c.added_in,
                       items.c.removed_in).where(items.c.session_id == self.session_id).order_by(items.c.point_id))
            return [ItemRecord(*row) for row in rows]
        return self._read(read)

    def versions(self) -> list[DataVersion]:
        """Every data version, oldest first."""
        def read(connection: Transaction) -> list[DataVersion]:
            rows = connection.execute(select(data_versions).where(data_versions.c.session_id == self.session_id)
                                      .order_by(data_versions.c.version))
            return [DataVersion(int(r.version), float(r.created_at), int(r.n_items), int(r.added), int(r.removed),
                                int(r.changed), from_json(r.source)) for r in rows]
        return self._read(read)

    def record_version(self, *, added: Sequence[tuple[str, str, str]], removed: Sequence[str],
                       changed: dict[str, str], source: dict) -> DataVersion:
        """Store a new data version: ``added`` items as (item id, digest, split) (new ones get the next
        point ids; an item back after a removal gets its old one), ``removed`` item ids, ``changed``
        item id -> new digest. Open queries on removed items are released. Returns the version recorded."""
        def write(connection: Transaction) -> DataVersion:
            version = 1 + (connection.execute(select(func.max(data_versions.c.version))
                                              .where(data_versions.c.session_id == self.session_id)).scalar() or 0)
            known = {row.item_id: row.point_id for row in connection.execute(
                select(items.c.item_id, items.c.point_id).where(items.c.session_id == self.session_id))}
            next_point = 1 + max(known.values(), default=-1)
            fresh = []
            for item_id, digest, split in added:
                if item_id in known:  # back after a removal: its point id, its answers
                    connection.execute(self._item(item_id).values(removed_in=None, digest=digest))
                else:
                    fresh.append({"session_id": self.session_id, "point_id": next_point, "item_id": item_id,
                                  "digest": digest, "split": split, "added_in": version})
                    next_point += 1
            if fresh:
                connection.execute(INSERT_ITEMS, fresh)
            gone = [known[item_id] for item_id in removed]
            for item_id in removed:
                connection.execute(self._item(item_id).values(removed_in=version))
            for item_id, digest in changed.items():
                connection.execute(self._item(item_id).values(digest=digest))
            if gone:
                connection.execute(
                    update(queries).where(queries.c.session_id == self.session_id, queries.c.status == "open",
                                          queries.c.point_id.in_(gone))
                    .values(status="released", closed_at=connection.now))
            n_items = connection.execute(select(func.count()).select_from(items).where(
                items.c.session_id == self.session_id, items.c.removed_in.is_(None))).scalar_one()
            recorded = DataVersion(version, connection.now, int(n_items), len(added), len(removed), len(changed), source)
            connection.execute(data_versions.insert().values(
                session_id=self.session_id, version=version, created_at=recorded.created_at, n_items=recorded.n_items,
                added=recorded.added, removed=recorded.removed, changed=recorded.changed, source=source))
            return recorded
        return self._write(write)

    def _item(self, item_id: str):
        return update(items).where(items.c.session_id == self.session_id, items.c.item_id == item_id)

    def stranded_answers(self) -> int:
        """Answers (not undone) on items no longer in the data: kept in the log, never trained on."""
        def read(connection: Transaction) -> int:
            removed = select(items.c.point_id).where(items.c.session_id == self.session_id,
                                                     items.c.removed_in.is_not(None))
            return int(connection.execute(select(func.count()).select_from(annotations).where(
                annotations.c.session_id == self.session_id, annotations.c.undone.is_(False),
                annotations.c.point_id.in_(removed))).scalar_one())
        return self._read(read)

    # ---------------------------------------------------------------- scaling
    def scaling(self) -> dict | None:
        """The stored scaling of the session's features (``Scaling.as_dict()``; None: not recorded)."""
        def read(connection: Transaction) -> dict | None:
            value = connection.execute(select(sessions.c.scaling).where(sessions.c.id == self.session_id)).scalar()
            return None if value is None else from_json(value)
        return self._read(read)

    def keep_scaling(self, scaling: dict) -> None:
        """Store the scaling (once: the session's model inputs depend on it for good)."""
        def write(connection: Transaction) -> None:
            stored = connection.execute(select(sessions.c.scaling).where(sessions.c.id == self.session_id)).scalar()
            if stored is None or from_json(stored) is None:
                connection.execute(update(sessions).where(sessions.c.id == self.session_id).values(scaling=scaling))
        self._write(write)
