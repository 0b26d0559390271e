"""``nudge train``: train a served session without serving a page; and :class:`TrainerProcess`, the
``nudge train`` that ``nudge serve`` starts as its child, so a retrain never shares the page's
interpreter."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from nudge.loop.cli.args import DB_VARIABLE, add_session_arguments, engine_of, requested_settings
from nudge.loop.session.opening import open_session, plan_session

logger = logging.getLogger(__name__)

PARENT_CHECK_SECONDS = 1.0  # how often a child trainer looks whether its server still runs
RESTARTS = 5  # a child trainer that dies is started again this many times at most
RESTART_PAUSE_SECONDS = 2.0  # ... after a pause that doubles each time
STOP_SECONDS = 10.0  # a child trainer asked to stop is killed when it has not after this long


def add_train(subparsers) -> None:
    parser = subparsers.add_parser(
        "train", help="train a served session without serving a page",
        description="Train the session SESSION stored in DB, for servers started with `nudge serve --no-train` "
        "(or beside them: one process trains a session at a time; this one takes over when the trainer "
        "stops). Runs until Ctrl+C. `nudge serve` runs one as its child (see --train-here).",
    )
    add_session_arguments(parser)
    parser.add_argument("--parent", type=int, metavar="PID",
                        help="stop when the process PID ends, and print only problems (how nudge serve runs it)")
    parser.set_defaults(run=run_train)


def run_train(args: argparse.Namespace) -> int:
    stop, opened = threading.Event(), threading.Event()
    if args.parent:
        threading.Thread(target=_end_with_parent, args=(args.parent, stop, opened), daemon=True).start()
    engine = engine_of(args)
    plan = plan_session(args.db, requested_settings(args), args.session, create=False)
    say = (lambda _: None) if args.parent else print
    session = open_session(plan, engine=engine, accept_new_data=args.add_rows, say=say)
    opened.set()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    version = session.model.version
    say(f"training session {session.session_id!r} (model v{version}); Ctrl+C to stop")
    try:
        while not stop.wait(0.5):
            if session.model.version != version:
                version = session.model.version
                accuracy = session.model.accuracy
                shown = "n/a" if accuracy is None else f"{accuracy:.3f}"
                say(f"model v{version}: {session.model.n_labeled} labels, accuracy {shown}")
    finally:
        session.close()
        if engine is not None:
            engine.close()
    return 0


def _end_with_parent(parent: int, stop: threading.Event, opened: threading.Event) -> None:
    """Stop this trainer when the process ``parent`` ends (even by kill -9): at once while the session
    is still being opened (nothing to close yet), else through ``stop`` (the trainer lease is released)."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    if not opened.is_set():
        os._exit(0)
    stop.set()


class TrainerProcess:
    """A ``nudge train`` child of this process for one session: it trains and publishes each model
    version through the database, which this process's follower loads (see
    :class:`nudge.loop.training.SharedTrainer`). Started again (at most :data:`RESTARTS` times, after
    a growing pause) when it dies; stopped with :meth:`stop`, or by itself when this process ends.

    ``db_url``: the database (given to the child in its environment, so a password in it never shows
    in ps); ``engine``: the ``--engine``/``--address`` arguments to pass on.
    """

    def __init__(self, db_url: str, session_id: str, engine: list[str] = ()) -> None:
        self.command = [sys.executable, "-m", "nudge.loop.cli", "train", "--session", session_id,
                        "--parent", str(os.getpid()), *engine]
        self.environment = {**os.environ, DB_VARIABLE: db_url}
        self.session_id = session_id
        self.process: subprocess.Popen | None = None
        self.restarts = 0
        self._stopping = threading.Event()
        self._watcher = threading.Thread(target=self._watch, daemon=True, name=f"trainer-{session_id}")

    def start(self) -> TrainerProcess:
        self._launch()
        self._watcher.start()
        return self

    def _launch(self) -> None:
        # stdout and stderr are the server's: the child's problems show where the server's do
        self.process = subprocess.Popen(self.command, env=self.environment, stdin=subprocess.DEVNULL)

    def _watch(self) -> None:
        pause = RESTART_PAUSE_SECONDS
        while not self._stopping.is_set():
            code = self.process.wait()
            if self._stopping.is_set():
                return
            if self.restarts >= RESTARTS:
                logger.error("the trainer of session %s ended (exit code %s) %d times; no model will be trained "
                             "until this server restarts (or run nudge train beside it)",
                             self.session_id, code, self.restarts + 1)
                return
            logger.error("the trainer of session %s ended (exit code %s); starting it again in %.0f s",
                         self.session_id, code, pause)
            if self._stopping.wait(pause):
                return
            self.restarts += 1
            pause *= 2
            self._launch()

    def stop(self) -> None:
        """Stop the child (SIGTERM, then SIGKILL after :data:`STOP_SECONDS`) and wait for it."""
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None
