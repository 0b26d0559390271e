"""Opening a nudge database, and writing to it safely from several processes.

A path is a SQLite file (WAL mode, synchronous writes, integrity-checked on
open); a URL (``postgresql://...``) a server a team shares. Writes that must
not interleave across processes (handing out a point, storing an answer)
run in a :meth:`Database.locked` transaction: on PostgreSQL it holds the
session's row lock (``SELECT ... FOR UPDATE``), on SQLite the database's
write lock from its first statement (``BEGIN IMMEDIATE``), so the checks it
makes still hold when it commits.

No write is acknowledged that did not reach the database: a write that fails
(read-only file, full disk, lost connection) raises ``StoreError("not saved:
...")``, and for a SQLite file each write checks, before and after it
commits, that the file at the path is still the one opened (a deleted or
replaced file would take acknowledged answers with it).
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, create_engine, event, select
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, OperationalError
from sqlalchemy.pool import StaticPool

from nudge.loop.errors import StoreError
from nudge.loop.store.schema import check_and_upgrade, sessions

WRITE = "nudge_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)


def database_url(db: str | Path, *, create: bool = True) -> URL:
    """A path becomes a SQLite URL; a URL (``scheme://...``) is used as given,
    except that a bare ``postgresql://`` gets the psycopg (3) driver."""
    text = str(db)
    if "://" in text:
        try:
            url = make_url(text)
        except ArgumentError:  # not echoed: it may hold a password
            raise StoreError("the database URL cannot be parsed; use e.g. "
                             "postgresql://user:password@host:5432/database") from None
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    path = Path(text).expanduser().resolve()
    if path.exists() and not path.is_file():
        raise StoreError(f"{path} is not a file; give a database file path or a URL")
    if not path.exists() and not create:
        raise StoreError(f"there is no database at {path}")
    if not path.parent.is_dir():
        raise StoreError(f"the folder {path.parent} does not exist")
    return URL.create("sqlite", database=str(path))


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout = 30000")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.close()


def _configure_sqlite_file(dbapi_connection, _record) -> None:
    dbapi_connection.isolation_level = None  # the driver begins nothing: _begin_sqlite does
    dbapi_connection.execute("PRAGMA journal_mode = WAL")  # outside any transaction, as SQLite requires


def _begin_sqlite(connection: Connection) -> None:
    """A writing transaction takes SQLite's write lock at once, so no other process writes between
    its checks and its commit; a reading one takes no lock (WAL readers never wait)."""
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(WRITE) else "BEGIN")


class Database:
    """One open nudge database: its engine, and safe write transactions."""

    def __init__(self, db: str | Path, *, create: bool = True) -> None:
        url = database_url(db, create=create)
        self.url = url.render_as_string(hide_password=True)  # for messages: never shows a password
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.path = Path(url.database) if self.is_sqlite and url.database not in (None, "", ":memory:") else None
        self.in_memory = self.is_sqlite and self.path is None  # gone with this process
        self.engine = self._connect(url)
        self._identity = self._file_identity()
        # an in-memory database is one connection that every thread shares: one thread at a time
        self._one_at_a_time = threading.RLock() if self.in_memory else None

    def _connect(self, url: URL) -> Engine:
        try:
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30} if self.is_sqlite else {},
                # one shared connection, or every thread would see its own empty database
                poolclass=StaticPool if self.in_memory else None,
                # a server may restart under a long-running session: test pooled connections before use
                pool_pre_ping=not self.is_sqlite,
            )
        except (ArgumentError, ImportError) as error:  # an unknown scheme, or its driver is not installed
            raise StoreError(f"cannot use {self.url} as a nudge database: {error}") from None
        if self.is_sqlite:
            event.listen(engine, "connect", _configure_sqlite)
        if self.path is not None:  # a file other processes may open too (in memory: one process, one connection)
            event.listen(engine, "connect", _configure_sqlite_file)
            event.listen(engine, "begin", _begin_sqlite)
        try:
            if self.path is not None:
                with engine.connect() as connection:
                    result = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
                if result != "ok":
                    problems = [line for line in result.splitlines() if line.strip()]
                    raise StoreError(
                        f"the database failed its integrity check ({len(problems)} problem lines, e.g. "
                        f"{'; '.join(problems[:2])}); restore it from a backup"
                    )
            check_and_upgrade(engine)
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as error:
            raise StoreError(
                f"cannot use {self.url} as a nudge database: {error.__class__.__name__}: "
                f"{getattr(error, 'orig', error)}"
            ) from None
        return engine

    def _file_identity(self) -> tuple[int, int] | None:
        if self.path is None:
            return None
        status = os.stat(self.path)
        return status.st_dev, status.st_ino

    def check_same_file(self) -> None:
        """Raise "not saved" when the SQLite file at the path is gone or another one."""
        if self._identity is None:
            return
        try:
            now = self._file_identity()
        except FileNotFoundError:
            now = None
        if now != self._identity:
            raise StoreError(
                f"not saved: the database file {self.path} was deleted or replaced while nudge was using it; "
                "restore it (or restart nudge on the new file)"
            )

    @contextmanager
    def reading(self) -> Iterator[Connection]:
        """A connection to read with."""
        with self._turn(), self.engine.connect() as connection:
            yield connection

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """A write transaction; a failed write becomes ``StoreError("not saved: ...")``."""
        with self.saving(), self._turn():
            self.check_same_file()
            with self.engine.connect().execution_options(**{WRITE: True}) as connection, connection.begin():
                yield connection
            self.check_same_file()

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Wait for this thread's turn where the connection is shared (in memory); else at once."""
        if self._one_at_a_time is None:
            yield
            return
        with self._one_at_a_time:
            yield

    @contextmanager
    def locked(self, session_id: str) -> Iterator[Connection]:
        """A write transaction that no other transaction of this session interleaves with."""
        with self.writing() as connection:
            held = connection.execute(
                select(sessions.c.id).where(sessions.c.id == session_id).with_for_update()
            ).first()
            if held is None:
                raise StoreError(f"not saved: there is no session {session_id!r} in {self.url} (was it deleted?)")
            yield connection

    @contextmanager
    def saving(self) -> Iterator[None]:
        """Turn a database failure during a write into ``StoreError("not saved: <reason>")``."""
        try:
            yield
        except (DBAPIError, sqlite3.Error) as error:
            raise StoreError(f"not saved: {_reason(error)}") from None
        except OSError as error:
            raise StoreError(f"not saved: {error.strerror or error}") from None

    def dispose(self) -> None:
        self.engine.dispose()


def _reason(error: Exception) -> str:
    """A database failure in words a person can act on (never the SQL or its parameters)."""
    original = getattr(error, "orig", error)
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return "the database is read-only (check the file's permissions and the disk)"
    if "disk is full" in lowered or "no space" in lowered or "database or disk is full" in lowered:
        return "the disk holding the database is full"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "the connection to the database server was lost; try again"
    if "could not connect" in lowered or "connection" in lowered and "closed" in lowered:
        return "the database server cannot be reached; try again"
    return f"{type(original).__name__}: {message}"
