"""Opening a session for a long-running process: ``nudge serve`` (in ui/) and ``nudge train``.

A session that exists is resumed with the settings it was made with: requested
settings that define its data or model are refused with the differences
listed, those that only change how it runs are applied and said
(:mod:`nudge.loop.config.resume`). A new session is made from the requested
settings. Either way the session gets a
:class:`~nudge.loop.training.shared.SharedTrainer`, so several processes on one
database share one model. The command line's side is :mod:`nudge.loop.cli.args`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from nudge.loop.compute.embedding import EmbeddingJob
from nudge.loop.compute.engine import Engine
from nudge.loop.compute.matrix import matrix_path
from nudge.loop.config.resume import resumed_settings, with_text_encoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets.texts import text_encoder, texts_to_embed
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.store.lease_rules import LeaseLimits
from nudge.loop.store.limits import MAX_SESSION_NAME_CHARS, check_session_name, quoted
from nudge.loop.store.store import SessionExists, Store
from nudge.loop.training.shared import SharedTrainer

DEFAULT_DATASET = "moons"


def default_session_name(dataset: str) -> str:
    """A readable session id for a data set spec, e.g. 'moons' or 'csv-points'."""
    kind, _, path = dataset.partition(":")
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", path.rstrip("/").split("/")[-1]) if path else ""
    name = re.sub(r"[^A-Za-z0-9_-]+", "-", f"{kind}-{stem}" if stem else kind)[:MAX_SESSION_NAME_CHARS]
    return name.strip("-_") or "session"


@dataclass(frozen=True)
class SessionPlan:
    """What opening a session from the command line will do, decided before anything is loaded."""

    store: Store
    name: str
    config: SessionConfig  # the stored settings with the applicable changes, or the new session's
    resumed: bool
    applied: tuple[str, ...]  # the changes applied to a resumed session's settings, described


def plan_session(db: str, requested: dict, session: str | None = None, *, create: bool = True) -> SessionPlan:
    """Which session to open on the database ``db`` (a path or URL), and with which settings
    (see the module docstring): ``session`` by name (default: named after the data set), with the
    ``requested`` settings (:class:`~nudge.loop.config.settings.SessionConfig` fields; those left out keep the
    stored or default value).

    Every setting is checked here, before anything is written, so a bad one leaves no session behind.
    """
    new_config = SessionConfig(**{"dataset": DEFAULT_DATASET, **requested})
    store = Store(db)
    name = default_session_name(new_config.dataset) if session is None else session
    stored = store.session_config(name)
    if stored is not None:
        stored_config = with_text_encoder(SessionConfig.from_dict(stored), store.session_fingerprint(name))
        config, applied = resumed_settings(name, stored_config, requested)
        return SessionPlan(store, name, config, True, tuple(applied))
    if not create:
        known = store.session_ids()
        choose = "; choose one with --session NAME (nudge sessions lists them)" if known else ""
        raise SessionError(f"no session {quoted(name)} in {store.url} (sessions there: {', '.join(known) or 'none'}"
                           f"{choose})")
    check_session_name(name)
    return SessionPlan(store, name, new_config, False, ())


def pending_embedding(plan: SessionPlan, engine: Engine | None = None) -> EmbeddingJob | None:
    """The embedding the plan's data set still needs before its session can start (None: none needed).

    The data set is read and checked through its own loader (without embedding); a text set
    whose vectors are not all ready needs an :class:`~nudge.loop.compute.embedding.EmbeddingJob` (run through
    ``engine``: here by default, or on a Dask cluster).
    """
    _, texts = texts_to_embed(plan.config.dataset, **plan.config.dataset_options)
    if not texts:
        return None
    encoder = text_encoder(plan.config.dataset_options.get("encoder"))
    if matrix_path(encoder, texts).is_file():
        return None
    return EmbeddingJob(texts, encoder, engine=engine)


def open_session(plan: SessionPlan, *, train: bool = True, lease_limits: LeaseLimits = LeaseLimits(),
                 engine: Engine | None = None, accept_new_data: bool = False, say=print) -> Session:
    """Resume the planned session, or make it (see :func:`plan_session`). ``engine``: where its
    trainer scores the pool (default: here); ``accept_new_data``: a resumed session whose data
    changed takes it as a new data version (``--add-rows``) instead of being refused."""
    trainer = SharedTrainer(train=train, engine=engine)
    if not plan.resumed:
        try:
            session = Session.create(plan.store, plan.config, session_id=plan.name, trainer=trainer,
                                     lease_limits=lease_limits)
        except SessionExists:  # another process made it since the plan (two servers started together)
            if plan.store.session_config(plan.name) != plan.config.to_dict():
                raise SessionError(f"another process created session {plan.name!r} at the same moment, with other "
                                   "settings; start again to resume it with its settings") from None
            say(f"session {plan.name!r} was created by another process at the same moment: resuming it")
        else:
            say(f"new session {plan.name!r} on {plan.config.dataset}, stored in {plan.store.url}")
            return session
    session = Session.open(plan.store, plan.name, trainer=trainer, lease_limits=lease_limits, config=plan.config,
                           accept_new_data=accept_new_data)
    if plan.applied:  # Session.open stored them
        say(f"applied to the resumed session: {'; '.join(plan.applied)}")
    if session.data.report:
        say(session.data.report)
    if session.data.stranded_answers:
        say(f"{session.data.stranded_answers} answers are on items no longer in the data: kept in the log "
            "and the export, not trained on")
    say(f"resuming session {plan.name!r} ({session.status()['n_answers']} answers so far) from {plan.store.url}")
    return session
