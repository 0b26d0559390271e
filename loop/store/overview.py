"""What a database holds: its sessions at a glance (``nudge sessions``), and the one rule for
choosing a session when a command is given none (:func:`resolve_session`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import func, select

from nudge.loop.errors import StoreError
from nudge.loop.store.database import Transaction
from nudge.loop.store.schema import annotations, items, models, sessions, stored_json
from nudge.loop.store.store import Store


@dataclass(frozen=True)
class SessionSummary:
    """One session of a database: its data, items, answers (not undone), newest model, last activity."""

    session_id: str
    dataset: str
    created_at: float
    n_items: int  # items in its data now (0: a session older than kept items)
    n_answers: int  # answers standing (labels and skips, not undone)
    model_version: int  # the newest published model (0: none)
    last_activity: float  # the newest answer, else its creation

    def describe(self) -> str:
        """One line: ``name  data  items  answers  model  last activity``."""
        return (f"{self.session_id}  {self.dataset}  {self.n_items} items  {self.n_answers} answers  "
                f"model v{self.model_version}  last active {_when(self.last_activity)}")


def _when(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def session_summaries(store: Store) -> list[SessionSummary]:
    """Every session of ``store``, oldest first."""
    def read(tx: Transaction) -> list[SessionSummary]:
        answers = {row[0]: (row[1], row[2]) for row in tx.execute(
            select(annotations.c.session_id, func.count(), func.max(annotations.c.created_at))
            .where(annotations.c.undone.is_(False)).group_by(annotations.c.session_id))}
        in_data = dict(tx.execute(select(items.c.session_id, func.count()).where(items.c.removed_in.is_(None))
                                  .group_by(items.c.session_id)).all())
        newest = dict(tx.execute(select(models.c.session_id, func.max(models.c.version))
                                 .group_by(models.c.session_id)).all())
        summaries = []
        for row in tx.execute(select(sessions.c.id, sessions.c.created_at, sessions.c.config)
                              .order_by(sessions.c.created_at)):
            count, last = answers.get(row.id, (0, None))
            config = stored_json(row.config) or {}
            summaries.append(SessionSummary(row.id, str(config.get("dataset", "?")), float(row.created_at),
                                            int(in_data.get(row.id, 0)), int(count), int(newest.get(row.id) or 0),
                                            float(last if last is not None else row.created_at)))
        return summaries

    return store.db.read(read)


def resolve_session(store: Store, session_id: str | None) -> str:
    """The given session, or the only one in the store; else a StoreError naming the sessions
    there and how to choose one."""
    known = store.session_ids()
    if session_id is not None:
        if session_id not in known:
            raise StoreError(f"no session {session_id!r} in {store.url}; sessions: {', '.join(known) or 'none'}")
        return session_id
    if not known:
        raise StoreError(f"{store.url} holds no sessions")
    if len(known) > 1:
        listed = "; ".join(summary.describe() for summary in session_summaries(store))
        raise StoreError(f"{store.url} holds {len(known)} sessions ({listed}): choose one with --session NAME "
                         f"(nudge sessions --db ... lists them)")
    return known[0]
