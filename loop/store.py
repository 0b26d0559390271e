"""The annotation log: the source of truth of a session.

One SQLite file by default (WAL mode, synchronous writes, integrity-checked on
open), or any SQLAlchemy database URL (e.g. ``postgresql+psycopg://...``) so a
team can share a server. Every write happens in its own transaction and is
committed before the call returns: once ``add_annotation`` returns, the
annotation survives a kill -9.

Tables
------
sessions     one row per session: its configuration (JSON).
queries      every point handed to an annotator: who, when, lease, status.
annotations  every answer (label + directions, or a skip), never deleted:
             undo marks a row ``undone``; a newer answer on the same point
             supersedes an older one (relabel).
evaluations  held-out accuracy after each retrain (derived, for progress plots).
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import ArgumentError, DatabaseError, OperationalError
from sqlalchemy.pool import StaticPool

SCHEMA_VERSION = 1
DIRECTION_SOURCES = ("arrow", "towards-example", "rewrite", "api", "oracle")

metadata = MetaData()

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("config", JSON, nullable=False),
    Column("schema_version", Integer, nullable=False),
)

queries = Table(
    "queries",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("point_id", Integer, nullable=False),
    Column("annotator", String(200), nullable=False),
    Column("issued_at", Float, nullable=False),
    Column("lease_until", Float, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("score", Float),
    Column("status", String(16), nullable=False),  # open | answered | skipped | released
)

annotations = Table(
    "annotations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("query_id", String(64), ForeignKey("queries.id")),
    Column("point_id", Integer, nullable=False),
    Column("label", Integer),  # NULL for a skip
    Column("directions", JSON, nullable=False),  # list of vectors (lists of floats)
    Column("targets", JSON, nullable=False),  # the class index each direction leads to
    Column("sources", JSON, nullable=False),  # how each direction was given
    Column("rewrite", Text),  # the rewritten text, when a direction came from one
    Column("annotator", String(200), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("model_version", Integer, nullable=False),
    Column("round", Integer, nullable=False),
    Column("undone", Boolean, nullable=False, default=False),
)

evaluations = Table(
    "evaluations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False, index=True),
    Column("model_version", Integer, nullable=False),
    Column("n_labeled", Integer, nullable=False),
    Column("n_directions", Integer, nullable=False),
    Column("accuracy", Float),
    Column("train_seconds", Float, nullable=False),
    Column("created_at", Float, nullable=False),
)


class StoreError(RuntimeError):
    """The database cannot be used (unreadable, foreign, corrupt) or a request is invalid."""


@dataclass(frozen=True)
class Annotation:
    """One stored answer. ``label`` is None for a skip; directions are (n,) arrays."""

    id: int
    query_id: str | None
    point_id: int
    label: int | None
    directions: list[np.ndarray] = field(repr=False)
    targets: list[int]
    sources: list[str]
    rewrite: str | None
    annotator: str
    created_at: float
    model_version: int
    round: int
    undone: bool

    @property
    def is_skip(self) -> bool:
        return self.label is None

    def to_record(self) -> dict:
        """A JSON-ready dict (directions as lists of floats)."""
        return {
            "id": self.id,
            "query_id": self.query_id,
            "point_id": self.point_id,
            "label": self.label,
            "directions": [d.tolist() for d in self.directions],
            "targets": self.targets,
            "sources": self.sources,
            "rewrite": self.rewrite,
            "annotator": self.annotator,
            "created_at": self.created_at,
            "model_version": self.model_version,
            "round": self.round,
            "undone": self.undone,
        }


@dataclass(frozen=True)
class QueryRecord:
    id: str
    point_id: int
    annotator: str
    issued_at: float
    lease_until: float
    model_version: int
    score: float | None
    status: str


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


class Store:
    """Access to one annotation database (which may hold several sessions)."""

    def __init__(self, db: str | Path = "nudge.db", *, create: bool = True) -> None:
        """Open (or, with ``create``, make) the database at a path or URL."""
        url = database_url(db, create=create)
        self.url = url.render_as_string(hide_password=True)  # for messages: never shows a password
        self.engine = self._connect(url, self.url)

    @staticmethod
    def _connect(url: URL, shown: str) -> Engine:
        is_sqlite = url.get_backend_name() == "sqlite"
        in_memory = is_sqlite and url.database in (None, "", ":memory:")
        try:
            engine = create_engine(
                url,
                connect_args={"check_same_thread": False, "timeout": 30} if is_sqlite else {},
                # one shared connection, or every thread would see its own empty database
                poolclass=StaticPool if in_memory else None,
                # a server may restart under a long-running session: test pooled connections before use
                pool_pre_ping=not is_sqlite,
            )
        except (ArgumentError, ImportError) as error:  # an unknown scheme, or its driver is not installed
            raise StoreError(f"cannot use {shown} as a nudge database: {error}") from None
        if is_sqlite:
            event.listen(engine, "connect", _configure_sqlite)
        try:
            with engine.begin() as connection:
                if is_sqlite and not in_memory:
                    connection.exec_driver_sql("PRAGMA journal_mode = WAL")
                    result = connection.exec_driver_sql("PRAGMA integrity_check").scalar()
                    if result != "ok":
                        problems = [line for line in result.splitlines() if line.strip()]
                        raise StoreError(
                            f"the database failed its integrity check ({len(problems)} problem lines, e.g. "
                            f"{'; '.join(problems[:2])}); restore it from a backup"
                        )
            metadata.create_all(engine)
            Store._check_schema(engine)
        except (DatabaseError, OperationalError, sqlite3.DatabaseError) as error:
            raise StoreError(
                f"cannot use {shown} as a nudge database: {error.__class__.__name__}: "
                f"{getattr(error, 'orig', error)}"
            ) from None
        return engine

    @property
    def path(self) -> Path | None:
        """The SQLite database file (None for an in-memory or a server database)."""
        url = self.engine.url
        if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
            return None
        return Path(url.database)

    @staticmethod
    def _check_schema(engine: Engine) -> None:
        """Refuse a database whose tables exist but are not nudge's (a foreign file)."""
        inspector = inspect(engine)
        for table in metadata.sorted_tables:
            expected = {column.name for column in table.columns}
            found = {column["name"] for column in inspector.get_columns(table.name)}
            if not expected <= found:
                raise StoreError(
                    f"the database has a table {table.name!r} that is not nudge's "
                    f"(missing columns {sorted(expected - found)})"
                )

    # ----------------------------------------------------------------- sessions
    def create_session(self, session_id: str, config: dict) -> None:
        with self.engine.begin() as connection:
            if connection.execute(select(sessions.c.id).where(sessions.c.id == session_id)).first():
                raise StoreError(f"a session named {session_id!r} already exists")
            connection.execute(
                sessions.insert().values(
                    id=session_id, created_at=time.time(), config=config,
                    schema_version=SCHEMA_VERSION,
                )
            )

    def session_config(self, session_id: str) -> dict | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(sessions.c.config).where(sessions.c.id == session_id)
            ).first()
        return None if row is None else dict(row.config)

    def session_ids(self) -> list[str]:
        with self.engine.connect() as connection:
            return list(connection.execute(select(sessions.c.id).order_by(sessions.c.created_at)).scalars())

    # ------------------------------------------------------------------ queries
    def add_query(
        self,
        session_id: str,
        query_id: str,
        point_id: int,
        annotator: str,
        lease_seconds: float,
        model_version: int,
        score: float | None,
    ) -> QueryRecord:
        now = time.time()
        record = QueryRecord(
            query_id, int(point_id), annotator, now, now + lease_seconds, model_version,
            None if score is None else float(score), "open",
        )
        with self.engine.begin() as connection:
            connection.execute(
                queries.insert().values(
                    id=record.id, session_id=session_id, point_id=record.point_id,
                    annotator=annotator, issued_at=now, lease_until=record.lease_until,
                    model_version=model_version, score=record.score, status="open",
                )
            )
        return record

    def query(self, session_id: str, query_id: str) -> QueryRecord | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(queries).where(queries.c.session_id == session_id, queries.c.id == query_id)
            ).first()
        return None if row is None else _query_from_row(row)

    def open_queries(self, session_id: str) -> list[QueryRecord]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(queries).where(queries.c.session_id == session_id, queries.c.status == "open")
            )
            return [_query_from_row(row) for row in rows]

    def release_query(self, session_id: str, query_id: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(queries)
                .where(queries.c.session_id == session_id, queries.c.id == query_id,
                       queries.c.status == "open")
                .values(status="released")
            )

    # -------------------------------------------------------------- annotations
    def add_annotation(
        self,
        session_id: str,
        *,
        query_id: str | None,
        point_id: int,
        label: int | None,
        directions: Sequence[np.ndarray],
        targets: Sequence[int],
        sources: Sequence[str],
        annotator: str,
        model_version: int,
        round: int,
        rewrite: str | None = None,
    ) -> Annotation:
        """Write one answer and close its query, in one committed transaction.

        A query can be answered once: a second answer raises StoreError and
        writes nothing.
        """
        unknown = set(sources) - set(DIRECTION_SOURCES)
        if unknown:
            raise StoreError(f"unknown direction source(s) {sorted(unknown)}; use {DIRECTION_SOURCES}")
        if not len(sources) == len(targets) == len(directions):
            raise StoreError(
                f"{len(directions)} directions, {len(targets)} targets and {len(sources)} sources"
            )
        values = dict(
            session_id=session_id, query_id=query_id, point_id=int(point_id),
            label=None if label is None else int(label),
            directions=[np.asarray(d, dtype=float).tolist() for d in directions],
            targets=[int(t) for t in targets],
            sources=list(sources), rewrite=rewrite, annotator=annotator,
            created_at=time.time(), model_version=model_version, round=round, undone=False,
        )
        with self.engine.begin() as connection:
            if query_id is not None:
                closed = connection.execute(
                    update(queries)
                    .where(queries.c.session_id == session_id, queries.c.id == query_id,
                           queries.c.status.in_(("open", "released")))
                    .values(status="skipped" if label is None else "answered")
                )
                if closed.rowcount != 1:
                    raise StoreError(f"query {query_id} is unknown or was already answered")
            new_id = connection.execute(annotations.insert().values(**values)).inserted_primary_key[0]
        return _annotation_from_values(new_id, values)

    def annotations(self, session_id: str, *, include_undone: bool = True) -> list[Annotation]:
        """All answers of a session in the order they were made."""
        statement = select(annotations).where(annotations.c.session_id == session_id)
        if not include_undone:
            statement = statement.where(annotations.c.undone.is_(False))
        with self.engine.connect() as connection:
            rows = connection.execute(statement.order_by(annotations.c.id))
            return [_annotation_from_values(row.id, row._mapping) for row in rows]

    def answered_points(self, session_id: str) -> list[tuple[int, int | None, str]]:
        """(point_id, label or None for a skip, annotator) of every answer not undone, oldest first.

        The light form of :meth:`annotations` for the per-query bookkeeping: it
        does not decode the stored direction vectors.
        """
        statement = (
            select(annotations.c.point_id, annotations.c.label, annotations.c.annotator)
            .where(annotations.c.session_id == session_id, annotations.c.undone.is_(False))
            .order_by(annotations.c.id)
        )
        with self.engine.connect() as connection:
            return [tuple(row) for row in connection.execute(statement)]

    def mark_undone(self, session_id: str, annotation_id: int) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                update(annotations)
                .where(annotations.c.session_id == session_id, annotations.c.id == annotation_id)
                .values(undone=True)
            )

    def last_active_annotation(self, session_id: str, annotator: str) -> Annotation | None:
        with self.engine.connect() as connection:
            row = connection.execute(
                select(annotations)
                .where(annotations.c.session_id == session_id, annotations.c.annotator == annotator,
                       annotations.c.undone.is_(False))
                .order_by(annotations.c.id.desc())
                .limit(1)
            ).first()
        return None if row is None else _annotation_from_values(row.id, row._mapping)

    def count_annotations(self, session_id: str) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                select(func.count()).select_from(annotations).where(annotations.c.session_id == session_id)
            ).scalar_one()

    # -------------------------------------------------------------- evaluations
    def add_evaluation(
        self, session_id: str, *, model_version: int, n_labeled: int, n_directions: int,
        accuracy: float | None, train_seconds: float,
    ) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                evaluations.insert().values(
                    session_id=session_id, model_version=model_version, n_labeled=n_labeled,
                    n_directions=n_directions, accuracy=accuracy, train_seconds=train_seconds,
                    created_at=time.time(),
                )
            )

    def evaluation_history(self, session_id: str) -> list[dict]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                select(evaluations).where(evaluations.c.session_id == session_id).order_by(evaluations.c.id)
            )
            return [dict(row._mapping) for row in rows]

    def close(self) -> None:
        self.engine.dispose()


def _query_from_row(row) -> QueryRecord:
    return QueryRecord(
        row.id, row.point_id, row.annotator, row.issued_at, row.lease_until,
        row.model_version, row.score, row.status,
    )


def _annotation_from_values(annotation_id: int, values) -> Annotation:
    directions = values["directions"]
    if isinstance(directions, str):  # some drivers hand JSON back as text
        directions = json.loads(directions)
    return Annotation(
        id=int(annotation_id),
        query_id=values["query_id"],
        point_id=int(values["point_id"]),
        label=values["label"],
        directions=[np.asarray(d, dtype=float) for d in directions],
        targets=[int(t) for t in values["targets"]],
        sources=list(values["sources"]),
        rewrite=values["rewrite"],
        annotator=values["annotator"],
        created_at=float(values["created_at"]),
        model_version=int(values["model_version"]),
        round=int(values["round"]),
        undone=bool(values["undone"]),
    )
