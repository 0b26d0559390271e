"""``nudge train``: train a served session without serving a page."""

from __future__ import annotations

import argparse
import signal
import threading

from nudge.loop.cli.args import add_session_arguments, engine_of, requested_settings
from nudge.loop.session.opening import open_session, plan_session


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
    engine = engine_of(args)
    plan = plan_session(args.db, requested_settings(args), args.session, create=False)
    session = open_session(plan, engine=engine, accept_new_data=args.add_rows)
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
        if engine is not None:
            engine.close()
    return 0
