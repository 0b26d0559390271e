"""Opening a session for a long-running process: ``nudge serve`` (in ui/) and ``nudge train``.

Both take the same session arguments. A session that exists is resumed with
the settings it was made with: settings given on the command line that define
its data or model are refused with the differences listed, those that only
change how it runs are applied and said (:mod:`loop.resume`). A new session is
made from the arguments. Either way the session gets a
:class:`~loop.shared_trainer.SharedTrainer`, so several processes on one
database share one model.
"""

from __future__ import annotations

import argparse
import re
import signal
import threading
from dataclasses import dataclass

from estimators.backends import make_encoder
from loop.cli import (
    SetOnce,
    add_dataset_arguments,
    add_retrain_arguments,
    add_stop_argument,
    dataset_options,
    key_values,
)
from loop.config import SessionConfig
from loop.datasets import load_dataset
from loop.embedding import EmbeddingJob, TextCollector, matrix_path
from loop.engine import ENGINES, Engine, make_engine
from loop.errors import SessionError
from loop.resume import resumed_settings
from loop.session import Session
from loop.shared_trainer import SharedTrainer
from loop.store import LeaseLimits, Store

DEFAULT_DATASET = "moons"


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """--db, --session, the data set and the settings of a new session (each given only when wanted)."""
    from estimators import OBJECTIVES
    from strategies import STRATEGIES

    add_dataset_arguments(parser, default=None)
    parser.add_argument("--db", default="nudge.db", help="database file or URL (default nudge.db)")
    parser.add_argument("--session", help="session id (default: derived from the data set); resumed if it exists")
    parser.add_argument("--loss", choices=sorted(OBJECTIVES), action=SetOnce,
                        help="objective of a new session (default direction)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), action=SetOnce,
                        help="query strategy (default boundary)")
    parser.add_argument("--retrain-every", type=int, help="retrain after every k answers (default 1)")
    add_retrain_arguments(parser, with_defaults=False)
    add_stop_argument(parser, "the status says when one is met")
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter of a new session, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--engine", choices=ENGINES, default="local",
                        help="where the trainer scores the pool for each new model: here, or a Dask cluster "
                        "(default local)")
    parser.add_argument("--address", help="the Dask scheduler, e.g. tcp://10.0.0.5:8786 (--engine dask)")


def requested_settings(args: argparse.Namespace) -> dict:
    """The session settings given on the command line (those left out are not in the dict)."""
    given = {
        "dataset": args.dataset, "loss": args.loss, "strategy": args.strategy,
        "retrain_every": args.retrain_every, "full_refit_every": args.full_refit_every,
        "warm_epochs": args.warm_epochs,
    }
    requested = {name: value for name, value in given.items() if value is not None}
    if dataset_options(args):
        requested["dataset_options"] = dataset_options(args)
    if args.estimator:
        requested["estimator"] = key_values(args.estimator)
    if args.stop:
        requested["stop"] = list(args.stop)
    return requested


def default_session_name(dataset: str) -> str:
    """A readable session id for a data set spec, e.g. 'moons' or 'csv-points'."""
    kind, _, path = dataset.partition(":")
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", path.rstrip("/").split("/")[-1]) if path else ""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{kind}-{stem}" if stem else kind).strip("-") or "session"


@dataclass(frozen=True)
class SessionPlan:
    """What opening a session from the command line will do, decided before anything is loaded."""

    store: Store
    name: str
    config: SessionConfig  # the stored settings with the applicable changes, or the new session's
    resumed: bool
    applied: tuple[str, ...]  # the changes applied to a resumed session's settings, described


def plan_session(args: argparse.Namespace, *, create: bool = True) -> SessionPlan:
    """Which session the arguments name, and with which settings (see the module docstring).

    Every setting is checked here, before anything is written, so a bad one leaves no session behind.
    """
    requested = requested_settings(args)
    new_config = SessionConfig(**{"dataset": DEFAULT_DATASET, **requested})
    store = Store(args.db)
    name = args.session or default_session_name(new_config.dataset)
    stored = store.session_config(name)
    if stored is not None:
        config, applied = resumed_settings(name, SessionConfig.from_dict(stored), requested)
        return SessionPlan(store, name, config, True, tuple(applied))
    if not create:
        known = store.session_ids()
        raise SessionError(f"no session {name!r} in {store.url} (sessions there: {', '.join(known) or 'none'})")
    return SessionPlan(store, name, new_config, False, ())


def pending_embedding(plan: SessionPlan, engine: Engine | None = None) -> EmbeddingJob | None:
    """The embedding the plan's data set still needs before its session can start (None: none needed).

    The data set is read and checked through its own loader (without embedding); a text set
    whose vectors are not all ready needs an :class:`~loop.embedding.EmbeddingJob` (run through
    ``engine``: here by default, or on a Dask cluster).
    """
    collector = TextCollector()
    load_dataset(plan.config.dataset, encoder=collector, **plan.config.dataset_options)
    if not collector.texts:
        return None
    encoder = make_encoder()
    if matrix_path(encoder, collector.texts).is_file():
        return None
    return EmbeddingJob(collector.texts, encoder, engine=engine)


def open_session(args: argparse.Namespace | SessionPlan, *, train: bool = True,
                 lease_limits: LeaseLimits = LeaseLimits(), create: bool = True, engine: Engine | None = None,
                 say=print) -> Session:
    """Resume the named session, or (with ``create``) make it from the command-line settings
    (``args``, or a :class:`SessionPlan` made from them). ``engine``: where its trainer scores the
    pool (default: here; with ``args``, the one ``--engine`` names)."""
    plan = args if isinstance(args, SessionPlan) else plan_session(args, create=create)
    if engine is None and not isinstance(args, SessionPlan) and args.engine != "local":
        engine = make_engine(args.engine, args.address)
    trainer = SharedTrainer(train=train, engine=engine)
    if plan.resumed:
        session = Session.open(plan.store, plan.name, trainer=trainer, lease_limits=lease_limits, config=plan.config)
        if plan.applied:
            plan.store.update_session(plan.name, config=plan.config.to_dict())
            say(f"applied to the resumed session: {'; '.join(plan.applied)}")
        say(f"resuming session {plan.name!r} ({session.status()['n_answers']} answers so far) from {plan.store.url}")
        return session
    session = Session.create(plan.store, plan.config, session_id=plan.name, trainer=trainer,
                             lease_limits=lease_limits)
    say(f"new session {plan.name!r} on {plan.config.dataset}, stored in {plan.store.url}")
    return session


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a served session without serving a page",
        description="Train the session SESSION stored in DB, for servers started with `nudge serve --no-train` "
        "(or beside them: one process trains a session at a time; this one takes over when the trainer "
        "stops). Runs until Ctrl+C.",
    )
    add_session_arguments(parser)
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    engine = make_engine(args.engine, args.address)
    session = open_session(args, create=False, engine=None if args.engine == "local" else engine)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    version = session.model.version
    print(f"training session {session.session_id!r} (model v{version}); Ctrl+C to stop", flush=True)
    try:
        while not stop.wait(0.5):
            if session.model.version != version:
                version = session.model.version
                accuracy = session.model.accuracy
                shown = "n/a" if accuracy is None else f"{accuracy:.3f}"
                print(f"model v{version}: {session.model.n_labeled} labels, accuracy {shown}", flush=True)
    finally:
        session.close()
        engine.close()
    return 0
