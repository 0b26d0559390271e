"""Published models and the trainer's lease: how several servers share one model per session.

Exactly one process trains a session: the holder of its row in
``trainer_leases``, which it renews while it lives (:class:`TrainerLease`);
when it dies, the lease runs out and another process takes it over. The
trainer publishes every model version to the ``models`` table — the weights
as safetensors (one block per estimator, so a committee's members travel
together), the answers it was trained on, its accuracy — and every server
answers from the newest version it has loaded (:class:`ModelRegistry`).
Versions form one increasing sequence: a version is written only by the
current lease holder, and (session, version) is unique.
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, insert, select, update

from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.schema import models, stored_json, trainer_leases

LEASE_SECONDS = 6.0  # a dead trainer is replaced within this (plus one poll)


def process_name() -> str:
    """A name for this process in trainer leases and published models: host, pid and a nonce."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class TrainerLease:
    """The right to train one session, held by at most one process at a time."""

    def __init__(self, db: Database, session_id: str, holder: str, seconds: float = LEASE_SECONDS) -> None:
        self.db = db
        self.session_id = session_id
        self.holder = holder
        self.seconds = seconds

    def acquire(self) -> bool:
        """Take the lease if it is free or ran out, or renew it if it is ours. True when we hold it.
        Judged by the transaction's time (the database server's clock on PostgreSQL)."""
        def take(tx: Transaction) -> bool:
            row = tx.execute(select(trainer_leases).where(trainer_leases.c.session_id == self.session_id)).first()
            values = {"holder": self.holder, "expires_at": tx.now + self.seconds}
            if row is None:
                tx.execute(insert(trainer_leases).values(session_id=self.session_id, **values))
                return True
            if row.holder != self.holder and row.expires_at > tx.now and not _dead_here(row.holder):
                return False
            tx.execute(update(trainer_leases).where(trainer_leases.c.session_id == self.session_id).values(**values))
            return True

        return self.db.write(take, lock=self.session_id)  # run again, it renews: no harm

    def holds(self, tx: Transaction) -> bool:
        """Inside a transaction: do we still hold an unexpired lease?"""
        return self.current_holder(tx) == self.holder

    def release(self) -> None:
        """Give the lease up at once (a clean shutdown), so another process need not wait."""
        self.db.write(lambda tx: tx.execute(delete(trainer_leases).where(
            trainer_leases.c.session_id == self.session_id, trainer_leases.c.holder == self.holder)),
            lock=self.session_id)

    def current_holder(self, tx: Transaction | None = None) -> str | None:
        """Who holds an unexpired lease (None: nobody); in ``tx`` when given."""
        def read(tx: Transaction) -> str | None:
            row = tx.execute(select(trainer_leases.c.holder, trainer_leases.c.expires_at)
                             .where(trainer_leases.c.session_id == self.session_id)).first()
            return row.holder if row is not None and row.expires_at > tx.now else None

        return read(tx) if tx is not None else self.db.read(read)


def _dead_here(holder: str) -> bool:
    """True when ``holder`` names a process of this host that no longer runs (its lease need not
    be waited out: a restarted server takes over at once)."""
    host, _, rest = holder.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:  # alive, another user's
        return False
    return False


@dataclass(frozen=True)
class PublishedModel:
    """One row of ``models``: a model version and what it was trained on."""

    version: int
    trainer: str
    annotation_ids: tuple[int, ...]
    n_labeled: int
    n_directions: int
    accuracy: float | None
    weights: tuple[bytes, ...]  # one safetensors blob per estimator


class ModelRegistry:
    """The published model versions of one session."""

    def __init__(self, db: Database, session_id: str) -> None:
        self.db = db
        self.session_id = session_id

    def newest_version(self) -> int:
        versions = self.versions()
        return versions[0] if versions else 0

    def versions(self) -> list[int]:
        """The published version numbers, newest first."""
        return self.db.read(lambda tx: [int(v) for v in tx.execute(
            select(models.c.version).where(models.c.session_id == self.session_id)
            .order_by(models.c.version.desc())).scalars()])

    def published(self, version: int) -> PublishedModel | None:
        """One published version (None: there is no such version)."""
        row = self.db.read(lambda tx: tx.execute(
            select(models).where(models.c.session_id == self.session_id, models.c.version == version)).first())
        return None if row is None else _published(row)

    def newest(self) -> PublishedModel | None:
        versions = self.versions()
        return self.published(versions[0]) if versions else None

    def publish(self, lease: TrainerLease, model: PublishedModel) -> bool:
        """Store ``model`` as the next version, if ``lease`` is still held. False when it was lost
        (another process trains now: this model is dropped) or the version exists already."""
        def store(tx: Transaction) -> bool:
            if not lease.holds(tx):
                return False
            newest = tx.execute(
                select(models.c.version).where(models.c.session_id == self.session_id)
                .order_by(models.c.version.desc()).limit(1)
            ).scalar()
            if newest is not None and newest >= model.version:
                return False
            tx.execute(insert(models).values(
                session_id=self.session_id, version=model.version, created_at=tx.now,
                trainer=model.trainer, annotation_ids=list(model.annotation_ids), n_labeled=model.n_labeled,
                n_directions=model.n_directions, accuracy=model.accuracy, weights=_join(model.weights),
            ))
            return True

        def landed(tx: Transaction, _) -> bool | None:
            trainer = tx.execute(select(models.c.trainer).where(
                models.c.session_id == self.session_id, models.c.version == model.version)).scalar()
            return True if trainer == model.trainer else None

        return self.db.write(store, lock=self.session_id, landed=landed)


def _join(blobs: tuple[bytes, ...]) -> bytes:
    """Blobs as one: each prefixed by its 8-byte little-endian length."""
    return b"".join(len(blob).to_bytes(8, "little") + blob for blob in blobs)


def _split(data: bytes) -> tuple[bytes, ...]:
    blobs, at = [], 0
    while at < len(data):
        length = int.from_bytes(data[at : at + 8], "little")
        blobs.append(bytes(data[at + 8 : at + 8 + length]))
        at += 8 + length
    return tuple(blobs)


def _published(row) -> PublishedModel:
    ids = stored_json(row.annotation_ids)
    return PublishedModel(
        int(row.version), row.trainer, tuple(int(i) for i in ids), int(row.n_labeled),
        int(row.n_directions), row.accuracy, _split(bytes(row.weights)),
    )
