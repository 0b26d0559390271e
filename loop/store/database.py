"""Opening a nudge database, and reading and writing it safely from several processes.

A path is a SQLite file (WAL mode, synchronous writes, integrity-checked on
open); a URL (``postgresql://...``) a server a team shares. Every access is a
function run in one transaction (:meth:`Database.read`, :meth:`Database.write`)
and given a :class:`Transaction`: its connection, and the one time (``now``)
it judges leases by, read once the transaction holds its lock (on PostgreSQL
from the server's clock, so servers whose clocks disagree still agree on
which lease ran out). Writes that must not interleave across processes
(handing out a point, storing an answer) are session-locked: on PostgreSQL
the session's row lock (``SELECT ... FOR UPDATE``), on SQLite the database's
write lock from the first statement (``BEGIN IMMEDIATE``), so the checks a
write makes still hold when it commits.

No write is acknowledged that did not reach the database: a write that fails
(read-only file, full disk, lost connection) raises ``StoreError("not saved:
...")``, and for a SQLite file each write checks, before and after it
commits, that the file at the path is still the one opened (a deleted or
replaced file would take acknowledged answers with it).

A server's connections can be lost (it restarts, the network drops): a
transaction that fails for that reason before its commit is run again on a
new connection, for at most :data:`RECONNECT_SECONDS`. A commit whose outcome
is unknown (the connection died while committing) is never blindly run again:
the write's ``landed`` check asks the database whether it was stored (an
answer by its query id, which is answered once), and only a write that did not
land runs again. Failures reach callers as one-line :class:`StoreError`\\ s.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from typing import IO, TypeVar

from sqlalchemy import Connection, create_engine, event, func, select, text
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, DBAPIError, InterfaceError, OperationalError
from sqlalchemy.pool import StaticPool

from nudge.loop.errors import SaveUnconfirmed, StoreError
from nudge.loop.store.limits import quoted
from nudge.loop.store.schema import check_and_upgrade, sessions

WRITE = "nudge_write"  # execution option: this transaction writes (SQLite: BEGIN IMMEDIATE)
RECONNECT_SECONDS = 20.0  # a lost server is waited for this long (a restart takes a few seconds)
FIRST_PAUSE, LONGEST_PAUSE = 0.05, 1.0  # between attempts to reach it, doubling
SCHEMA_LOCK = 0x6E75646765  # PostgreSQL advisory lock held while the tables are checked and made ("nudge")
SIDE_FILES = ("", "-wal", "-shm", "-journal")  # a SQLite database's file and the files beside it

T = TypeVar("T")


def database_url(db: str | Path, *, create: bool = True) -> URL:
    """A path becomes a SQLite URL; a URL (``scheme://...``) is used as given,
    except that a bare ``postgresql://`` gets the psycopg (3) driver."""
    text_ = str(db)
    if "://" in text_:
        try:
            url = make_url(text_)
        except ArgumentError:  # not echoed: it may hold a password
            raise StoreError("the database URL cannot be parsed; use e.g. "
                             "postgresql://user:password@host:5432/database") from None
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url
    path = Path(text_).expanduser().resolve()
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


class Transaction:
    """One transaction: its connection, and the time it judges by (see the module docstring)."""

    def __init__(self, connection: Connection, clock: Callable[[Connection], float]) -> None:
        self.connection = connection
        self._clock = clock

    def execute(self, statement, *parameters):
        return self.connection.execute(statement, *parameters)

    @cached_property
    def now(self) -> float:
        """Seconds since the epoch, read once, when first asked: in a session-locked write, after the
        lock is held (a time read before waiting for the lock would be stale by the wait)."""
        return self._clock(self.connection)


class _Unconfirmed(Exception):
    """A commit failed with the connection: whether it landed is unknown."""

    def __init__(self, result, error: DBAPIError) -> None:
        super().__init__(str(error))
        self.result, self.error = result, error


class Database:
    """One open nudge database: its engine, and safe transactions."""

    def __init__(self, db: str | Path, *, create: bool = True) -> None:
        url = database_url(db, create=create)
        self.url = url.render_as_string(hide_password=True)  # for messages: never shows a password
        self.is_sqlite = url.get_backend_name() == "sqlite"
        self.path = Path(url.database) if self.is_sqlite and url.database not in (None, "", ":memory:") else None
        self.in_memory = self.is_sqlite and self.path is None  # gone with this process
        # an in-memory database is one connection that every thread shares: one thread at a time
        self._one_at_a_time = threading.RLock() if self.in_memory else None
        self.engine = self._connect(url)
        self._identity = self._file_identity()

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
            with engine.connect() as connection, connection.execution_options(**{WRITE: True}).begin():
                if not self.is_sqlite:  # two servers starting on a new database must not both create tables
                    connection.execute(select(func.pg_advisory_xact_lock(SCHEMA_LOCK)))
                check_and_upgrade(connection)
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as error:
            raise StoreError(
                f"cannot use {self.url} as a nudge database: {error.__class__.__name__}: "
                f"{_first_line(getattr(error, 'orig', error))}"
            ) from None
        return engine

    # ------------------------------------------------------------------ the file
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

    def is_own_file(self, path: Path, opened: os.stat_result | None = None) -> bool:
        """True when ``path`` (or the file ``opened``, its status) is this SQLite database or one of the
        files beside it (-wal, -shm, -journal): compared by device and inode, so a hard link, a symlink
        or a ``..`` path to it counts; one not made yet counts by its resolved name."""
        if self.path is None:
            return False
        database = self.path.resolve()
        own = [database.with_name(database.name + suffix) for suffix in SIDE_FILES]
        if Path(path).expanduser().resolve() in own:
            return True
        status = opened or _status(path)
        if status is None:
            return False
        return any((status.st_dev, status.st_ino) == (found.st_dev, found.st_ino)
                   for found in map(_status, own) if found is not None)

    @contextmanager
    def output_file(self, path: str | Path, *, binary: bool = False) -> Iterator[IO]:
        """``path`` opened to write text (``binary``: bytes), refused (ValueError) when it is a folder or this database or
        one of its files (see :meth:`is_own_file`). The file opened is the one checked: it is
        emptied only after its identity was compared."""
        path = Path(path).expanduser()
        if path.is_dir():
            raise ValueError(f"{path} is a folder; give a file name such as annotations.jsonl")
        if not path.resolve().parent.is_dir():
            raise ValueError(f"the folder {path.resolve().parent} does not exist")
        refusal = f"{path} is the database {self.path} (or one of its files); write elsewhere"
        if self.is_own_file(path):
            raise ValueError(refusal)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT, 0o666)
        if self.is_own_file(path, os.fstat(descriptor)):  # replaced by a link to it meanwhile
            os.close(descriptor)
            raise ValueError(refusal)
        os.ftruncate(descriptor, 0)
        if binary:
            with open(descriptor, "wb") as handle:
                yield handle
            return
        with open(descriptor, "w", newline="", encoding="utf-8") as handle:
            yield handle

    # ------------------------------------------------------------ transactions
    def read(self, work: Callable[[Transaction], T]) -> T:
        """``work(transaction)`` in a reading transaction (run again on a new connection when the
        server's connection was lost); its result."""
        try:
            return self._retrying(lambda: self._run(work, write=False))
        except (DBAPIError, sqlite3.Error) as error:
            raise StoreError(f"the database cannot be read: {_reason(error)}", _reason(error)) from None

    def write(self, work: Callable[[Transaction], T], *, lock: str | None = None,
              landed: Callable[[Transaction, T], T | None] | None = None) -> T:
        """``work(transaction)`` in a write transaction, committed before this returns; its result.

        ``lock``: a session id; no other session-locked transaction of that session interleaves.
        ``landed(transaction, result)``, for a write that must not run twice: after a commit whose
        outcome is unknown, whether it was stored (the stored result, else None: it is run
        again). Without it the write is taken to be idempotent (running it again does no harm).
        A failure raises ``StoreError("not saved: ...")`` (or :class:`SaveUnconfirmed` when the
        database could not be asked whether the commit landed).
        """
        unconfirmed: list = []  # the result of the attempt whose commit may have landed

        def attempt() -> T:
            if unconfirmed:
                stored = self._run(lambda transaction: landed(transaction, unconfirmed[0]), write=False)
                if stored is not None:
                    return stored
                unconfirmed.clear()
            try:
                return self._run(work, write=True, lock=lock)
            except _Unconfirmed as unknown:
                if landed is not None:
                    unconfirmed.append(unknown.result)
                raise unknown.error from None

        with self.saving():
            try:
                return self._retrying(attempt)
            except (DBAPIError, sqlite3.Error) as error:
                if unconfirmed:
                    raise SaveUnconfirmed(
                        f"not known whether it was saved: the connection to the database was lost as it was "
                        f"being saved, and the database cannot be asked ({_reason(error)}); look before redoing it",
                        _reason(error)) from None
                raise

    def _run(self, work: Callable[[Transaction], T], *, write: bool, lock: str | None = None) -> T:
        """One attempt: a connection, a transaction, ``work``, its commit (a write) or rollback (a read)."""
        with self._turn():
            if write:
                self.check_same_file()
            with self.engine.connect() as connection:
                if write:
                    connection.execution_options(**{WRITE: True})
                transaction = Transaction(connection, self._clock)
                connection.begin()
                try:
                    if lock is not None:
                        self._lock(transaction, lock)
                    result = work(transaction)
                except BaseException:
                    _quietly(connection.rollback)
                    raise
                if not write:
                    _quietly(connection.rollback)
                    return result
                try:
                    connection.commit()
                except DBAPIError as error:
                    if error.connection_invalidated and not self.is_sqlite:
                        raise _Unconfirmed(result, error) from None
                    raise
            self.check_same_file()
            return result

    def _lock(self, transaction: Transaction, session_id: str) -> None:
        held = transaction.execute(
            select(sessions.c.id).where(sessions.c.id == session_id).with_for_update()
        ).first()
        if held is None:
            raise StoreError(f"not saved: there is no session {quoted(session_id)} in {self.url} (was it deleted?)")

    def _clock(self, connection: Connection) -> float:
        if self.is_sqlite:  # one host: its clock is every writer's
            return time.time()
        return float(connection.execute(text("SELECT EXTRACT(EPOCH FROM clock_timestamp())")).scalar())

    def _retrying(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, again after a pause while it fails because the server's connection was lost,
        for at most :data:`RECONNECT_SECONDS`."""
        deadline, pause = None, FIRST_PAUSE
        while True:
            try:
                return attempt()
            except (DBAPIError, sqlite3.Error) as error:
                if not self._lost(error):
                    raise
                now = time.monotonic()
                deadline = deadline or now + RECONNECT_SECONDS
                if now + pause > deadline:
                    raise
                time.sleep(pause)
                pause = min(2 * pause, LONGEST_PAUSE)

    def _lost(self, error: Exception) -> bool:
        """A failure a new connection may not meet: a server restarting, a dropped connection, a
        transaction the server rolled back (deadlock). A SQLite file has no connection to lose."""
        if self.is_sqlite:
            return False
        return isinstance(error, (OperationalError, InterfaceError)) or (
            isinstance(error, DBAPIError) and error.connection_invalidated)

    @contextmanager
    def _turn(self) -> Iterator[None]:
        """Wait for this thread's turn where the connection is shared (in memory); else at once."""
        if self._one_at_a_time is None:
            yield
            return
        with self._one_at_a_time:
            yield

    @contextmanager
    def saving(self) -> Iterator[None]:
        """Turn a database failure during a write into ``StoreError("not saved: <reason>")``."""
        try:
            yield
        except (DBAPIError, sqlite3.Error) as error:
            raise StoreError(f"not saved: {_reason(error)}", _reason(error)) from None
        except OSError as error:
            raise StoreError(f"not saved: {error.strerror or error}", error.strerror or str(error)) from None

    def dispose(self) -> None:
        self.engine.dispose()


def _quietly(end: Callable[[], None]) -> None:
    """End a transaction whose connection may be gone (it is then invalidated, and its transaction with it)."""
    try:
        end()
    except (DBAPIError, sqlite3.Error):
        pass


def _status(path: str | Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except OSError:
        return None


def _first_line(error: object) -> str:
    message = str(error).strip()
    return message.splitlines()[0] if message else type(error).__name__


def _reason(error: Exception) -> str:
    """A database failure in words a person can act on (never the SQL or its parameters)."""
    original = getattr(error, "orig", error)
    message = _first_line(original)
    lowered = message.lower()
    if "readonly" in lowered or "read-only" in lowered:
        return "the database is read-only (check the file's permissions and the disk)"
    if "disk is full" in lowered or "no space" in lowered or "database or disk is full" in lowered:
        return "the disk holding the database is full"
    if isinstance(error, DBAPIError) and error.connection_invalidated:
        return "the connection to the database server was lost; try again"
    if "could not connect" in lowered or "connection" in lowered and ("closed" in lowered or "refused" in lowered):
        return "the database server cannot be reached; try again"
    if "shutting down" in lowered or "starting up" in lowered or "terminating connection" in lowered:
        return "the database server is restarting; try again"
    return f"{type(original).__name__}: {message[:200]}"
