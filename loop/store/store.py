"""A nudge database (:class:`Store`): its sessions, and each session's answer log and queries.

A database holds several sessions. :class:`Store` opens it (:mod:`nudge.loop.store.database`) and
keeps the ``sessions`` table; a session's answers are its :meth:`Store.log`
(:mod:`nudge.loop.store.log`), the points handed out its :meth:`Store.queries`
(:mod:`nudge.loop.store.queries`). The tables are described in :mod:`nudge.loop.store.schema`.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from nudge.loop.errors import StoreError
from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.limits import check_session_name
from nudge.loop.store.log import AnswerLog
from nudge.loop.store.overlap import Overlap
from nudge.loop.store.queries import QueryLeases
from nudge.loop.store.schema import SCHEMA_VERSION, sessions, stored_json

__all__ = ["SessionExists", "Store", "StoreError"]


class SessionExists(StoreError):
    """A session of that name is in the database already (made by another process, perhaps just now)."""


class Store:
    """Access to one annotation database (which may hold several sessions)."""

    def __init__(self, db: str | Path = "nudge.db", *, create: bool = True) -> None:
        """Open (or, with ``create``, make) the database at a path or URL."""
        self.db = Database(db, create=create)
        self.url = self.db.url
        self.engine = self.db.engine

    @property
    def path(self) -> Path | None:
        """The SQLite database file (None for an in-memory or a server database)."""
        return self.db.path

    @property
    def in_memory(self) -> bool:
        """True for an in-memory database: it and its sessions end with this process."""
        return self.db.in_memory

    def create_session(self, session_id: str, config: dict, fingerprint: dict | None = None) -> None:
        """Store a new session; :class:`SessionExists` when one of that name exists (or another process
        made it at the same moment)."""
        check_session_name(session_id)
        exists_already = SessionExists(f"a session named {session_id!r} already exists")

        def create(tx: Transaction) -> bool:
            if tx.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first():
                raise exists_already
            try:
                tx.execute(sessions.insert().values(
                    id=session_id, created_at=tx.now, config=config,
                    schema_version=SCHEMA_VERSION, fingerprint=fingerprint,
                ))
            except IntegrityError:  # PostgreSQL: another process inserted it since the check
                raise exists_already from None
            return True

        def landed(tx: Transaction, _) -> bool | None:
            row = tx.execute(select(sessions.c.config).where(sessions.c.id == session_id)).first()
            return True if row is not None and stored_json(row.config) == config else None

        self.db.write(create, landed=landed)

    def session_config(self, session_id: str) -> dict | None:
        row = self._session_row(session_id)
        return None if row is None else dict(stored_json(row.config))

    def session_fingerprint(self, session_id: str) -> dict | None:
        """The fingerprint of the session's data, as stored when it began (None: not recorded)."""
        row = self._session_row(session_id)
        return None if row is None or row.fingerprint is None else dict(stored_json(row.fingerprint))

    def _session_row(self, session_id: str):
        return self.db.read(lambda tx: tx.execute(
            select(sessions.c.config, sessions.c.fingerprint).where(sessions.c.id == session_id)).first())

    def update_session(self, session_id: str, *, config: dict | None = None,
                       fingerprint: dict | None = None) -> None:
        """Store new settings (changes that are safe to apply) or the data's fingerprint."""
        values = {key: value for key, value in (("config", config), ("fingerprint", fingerprint))
                  if value is not None}
        self.db.write(lambda tx: tx.execute(update(sessions).where(sessions.c.id == session_id).values(**values)),
                      lock=session_id)

    def session_ids(self) -> list[str]:
        return self.db.read(lambda tx: list(tx.execute(select(sessions.c.id).order_by(sessions.c.created_at))
                                            .scalars()))

    def log(self, session_id: str, overlap: Overlap = Overlap()) -> AnswerLog:
        """The answer log (and evaluations) of a session; ``overlap``: its points given to several annotators."""
        return AnswerLog(self.db, session_id, overlap)

    def queries(self, session_id: str, overlap: Overlap = Overlap()) -> QueryLeases:
        """The queries (points handed out, their leases) of a session; ``overlap`` as for :meth:`log`."""
        return QueryLeases(self.db, session_id, overlap)

    def close(self) -> None:
        self.db.dispose()
