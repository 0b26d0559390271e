"""The tables of a nudge database (SQLAlchemy Core), and how an older file is brought up to date.

sessions        one row per session: its settings (JSON), the fingerprint of its data and the
                scaling of its features (JSON, fitted on the pool when it began).
queries         every point handed to an annotator: who, from which address, lease, status.
annotations     every answer (label + directions in the data's units, or a skip), never deleted:
                undo marks a row ``undone``; a newer answer on the same point supersedes an older
                one. ``towards``: per direction, the item id it moves towards (or null). ``resolved_by``: the
                lead who settled a disagreement with this answer (null for an annotator's own answer).
evaluations     accuracy after each retrain (derived, for progress plots): ``kind`` "test" (on the
                labelled test set) or "cross-validated" (on the answers), ``n_evaluated`` items.
items           one row per item of a session's data: its point id (the row of the session's X,
                for good), item id, content digest, split, the data version that added it and the
                one that removed it (null while it is in the data).
data_versions   each version of a session's data: when, how many items, what it added, removed
                and changed, and what it was read from.
models          every published model version of a session: its weights (safetensors)
                and the answers it was trained on; the servers answer from the newest.
trainer_leases  which process trains a session, until when (renewed while it lives).
"""

from __future__ import annotations

import json

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    inspect,
    text,
)

from nudge.loop.errors import StoreError

SCHEMA_VERSION = 4
DIRECTION_SOURCES = ("arrow", "towards-example", "rewrite", "api", "oracle")

metadata = MetaData()


def stored_json(value):
    """A JSON column's value as Python (some drivers hand JSON back as text)."""
    return json.loads(value) if isinstance(value, str) else value

sessions = Table(
    "sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("created_at", Float, nullable=False),
    Column("config", JSON, nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("fingerprint", JSON),  # what the data was when the session began (None: not recorded)
    Column("scaling", JSON),  # Scaling.as_dict() of its features (None: a session older than scalings: none)
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
    Column("client", String(200)),  # the address the point was handed to (for per-address limits)
    Column("closed_at", Float),  # when it was answered, skipped or released (None while open)
    Column("plane", LargeBinary),  # the basis of the plane it was first shown in (u1, u2 as float64)
    Column("reopens", Integer),  # the undone answer (annotation id) this query gives back to its annotator
    Index("ix_queries_point", "session_id", "point_id"),
    Index("ix_queries_status", "session_id", "status"),
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
    Column("towards", JSON),  # per direction the item id it moves towards, or null (None: none recorded)
    Column("resolved_by", String(200)),  # the lead whose review this answer is (None: an annotator's answer)
    Index("ix_annotations_point", "session_id", "point_id"),
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
    Column("kind", String(32)),  # how accuracy was measured: "test" | "cross-validated" (None: not measured)
    Column("n_evaluated", Integer),  # the test items, or the answers cross-validated
)

models = Table(
    "models",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("session_id", String(64), ForeignKey("sessions.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("trainer", String(200), nullable=False),  # the process that trained it
    Column("annotation_ids", JSON, nullable=False),  # the answers it saw, in training order
    Column("n_labeled", Integer, nullable=False),
    Column("n_directions", Integer, nullable=False),
    Column("accuracy", Float),
    Column("weights", LargeBinary, nullable=False),  # safetensors, one block per estimator
    UniqueConstraint("session_id", "version", name="uq_models_version"),
)

trainer_leases = Table(
    "trainer_leases",
    metadata,
    Column("session_id", String(64), ForeignKey("sessions.id"), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", Float, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("session_id", String(64), ForeignKey("sessions.id"), primary_key=True),
    Column("point_id", Integer, primary_key=True, autoincrement=False),
    Column("item_id", String(200), nullable=False),
    Column("digest", String(64), nullable=False),
    Column("split", String(8), nullable=False),  # pool | test | dev
    Column("added_in", Integer, nullable=False),
    Column("removed_in", Integer),
    UniqueConstraint("session_id", "item_id", name="uq_items_item"),
)

data_versions = Table(
    "data_versions",
    metadata,
    Column("session_id", String(64), ForeignKey("sessions.id"), primary_key=True),
    Column("version", Integer, primary_key=True, autoincrement=False),
    Column("created_at", Float, nullable=False),
    Column("n_items", Integer, nullable=False),  # items in the data at this version
    Column("added", Integer, nullable=False),
    Column("removed", Integer, nullable=False),
    Column("changed", Integer, nullable=False),
    Column("source", JSON, nullable=False),  # {"dataset", "files": {path: sha256}, "changed": [item ids]}
)

# Columns added since schema 1, added to an older database when it is opened (their types are the
# tables' own, compiled for the database's dialect: BLOB on SQLite is BYTEA on PostgreSQL).
ADDED_COLUMNS = {
    "sessions": ["fingerprint", "scaling"],
    "queries": ["client", "closed_at", "plane", "reopens"],
    "annotations": ["towards", "resolved_by"],
    "evaluations": ["kind", "n_evaluated"],
}


def check_and_upgrade(connection: Connection) -> None:
    """Refuse a database whose tables exist but are not nudge's (a foreign file); then bring a
    nudge database up to date: missing tables, indexes and the columns added since schema 1.

    Runs in the caller's transaction, which must keep other processes from doing the same at the
    same time (two servers starting on a new database would both create the tables)."""
    inspector = inspect(connection)
    existing = set(inspector.get_table_names())
    missing_columns: list[Column] = []
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        found = {column["name"] for column in inspector.get_columns(table.name)}
        added = ADDED_COLUMNS.get(table.name, [])
        required = {column.name for column in table.columns} - set(added)
        if not required <= found:
            raise StoreError(
                f"the database has a table {table.name!r} that is not nudge's "
                f"(missing columns {sorted(required - found)})"
            )
        missing_columns += [table.c[name] for name in added if name not in found]
    for column in missing_columns:
        sql_type = column.type.compile(dialect=connection.dialect)
        connection.execute(text(f"ALTER TABLE {column.table.name} ADD COLUMN {column.name} {sql_type}"))
    metadata.create_all(connection)
    for table in metadata.sorted_tables:
        for index in table.indexes:
            index.create(connection, checkfirst=True)
