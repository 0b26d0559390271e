"""How each model version of a session measured (derived from the answers: for status and progress plots)."""

from __future__ import annotations

from sqlalchemy import select

from nudge.loop.store.database import Database, Transaction
from nudge.loop.store.schema import evaluations


class Evaluations:
    """The evaluations of the session ``session_id`` in the database ``db``."""

    def __init__(self, db: Database, session_id: str) -> None:
        self.db = db
        self.session_id = session_id

    def add(self, *, model_version: int, n_labeled: int, n_directions: int, accuracy: float | None,
            train_seconds: float, kind: str | None = None, n_evaluated: int | None = None) -> None:
        """Record how a new model version measured (``kind`` "test" or "cross-validated"; None: not measured)."""
        version = (evaluations.c.session_id == self.session_id) & (evaluations.c.model_version == model_version)

        def add(tx: Transaction) -> bool:
            tx.execute(evaluations.insert().values(
                session_id=self.session_id, model_version=model_version, n_labeled=n_labeled,
                n_directions=n_directions, accuracy=accuracy, train_seconds=train_seconds, created_at=tx.now,
                kind=kind, n_evaluated=n_evaluated,
            ))
            return True

        self.db.write(add, landed=lambda tx, _: tx.execute(select(evaluations.c.id).where(version)).first() and True)

    def latest(self) -> dict:
        """The newest measured evaluation: {"kind", "accuracy", "n", "model_version", "n_labeled"}
        ({"kind": "none", ...} when no model was measured yet)."""
        row = self.db.read(lambda tx: tx.execute(
            select(evaluations)
            .where(evaluations.c.session_id == self.session_id, evaluations.c.accuracy.is_not(None))
            .order_by(evaluations.c.id.desc()).limit(1)
        ).first())
        if row is None:
            return {"kind": "none", "accuracy": None, "n": 0, "model_version": None, "n_labeled": 0}
        return {"kind": row.kind or "test", "accuracy": row.accuracy, "n": row.n_evaluated,
                "model_version": row.model_version, "n_labeled": row.n_labeled}

    def history(self) -> list[dict]:
        """Every recorded evaluation, oldest first."""
        return self.db.read(lambda tx: [dict(row._mapping) for row in tx.execute(
            select(evaluations).where(evaluations.c.session_id == self.session_id).order_by(evaluations.c.id))])
