"""``nudge serve``: start (or resume) a session and serve the annotation UI.

The subcommand is registered with ``loop.cli`` through the ``nudge.commands``
entry point group, so the loop package never imports the UI.

Serving safely: ``--auth user:password`` (repeatable) puts a login in front of
the page and of every API route, and the login then names the annotator;
failed logins are throttled per user name and per client address
(:mod:`ui.throttle`: after 5 failures on a name or 20 from an address, HTTP
429 for a delay doubling from 1 s to at most 60 s); ``--share`` without
``--auth`` warns. Nothing path-like is taken over the web: data files come
from the command line (or from the stored settings of the session resumed,
i.e. from whoever chose that database), are parsed as text and never executed
or unpickled, and Gradio serves no file the app did not make.
A database URL's password is never printed.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from loop.cli import add_dataset_arguments, add_retrain_arguments, dataset_options, key_values
from loop.service import AnnotationService
from loop.session import Session, SessionConfig
from loop.store import Store

if TYPE_CHECKING:
    from ui.throttle import LoginThrottle


def parse_auth(pairs: list[str] | None) -> list[tuple[str, str]] | None:
    """``user:password`` strings -> Gradio's auth list (None when no pairs)."""
    if not pairs:
        return None
    credentials = []
    for number, pair in enumerate(pairs, 1):
        user, sep, password = pair.partition(":")
        if not sep or not user.strip() or not password:  # the value is not echoed: it may hold a password
            raise ValueError(f"--auth takes user:password (a name and a password); "
                             f"login {number} is not user:password")
        credentials.append((user.strip(), password))
    return credentials


def read_auth_file(path: str | None) -> list[str]:
    """The ``user:password`` lines of an --auth-file (blank lines and # comments skipped).

    A file keeps passwords off the command line, where ``ps`` shows them to
    every local user.
    """
    if path is None:
        return []
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"cannot read --auth-file {path}: {error}") from None
    lines = [line.strip() for line in text.splitlines()]
    pairs = [line for line in lines if line and not line.startswith("#")]
    if not pairs:
        raise ValueError(f"--auth-file {path} holds no user:password line")
    return pairs  # checked, with the --auth logins, by parse_auth


def default_session_name(dataset: str) -> str:
    """A readable session id for a data set spec, e.g. 'moons' or 'csv-points'."""
    kind, _, path = dataset.partition(":")
    stem = re.sub(r"\.[A-Za-z0-9]+$", "", path.rstrip("/").split("/")[-1]) if path else ""
    return re.sub(r"[^A-Za-z0-9_-]+", "-", f"{kind}-{stem}" if stem else kind).strip("-") or "session"


def add_serve(subparsers) -> None:
    from estimators import OBJECTIVES
    from strategies import STRATEGIES

    parser = subparsers.add_parser(
        "serve", help="serve the annotation UI (the main job)",
        description="Start or resume an annotation session and serve its web UI and API. "
        "With no arguments: the moons data set, stored in ./nudge.db.",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--db", default="nudge.db", help="database file or URL (default nudge.db)")
    parser.add_argument("--session", help="session id (default: derived from the data set); resumed if it exists")
    parser.add_argument("--loss", default="direction", choices=sorted(OBJECTIVES), help="objective (default direction)")
    parser.add_argument("--strategy", default="boundary", choices=sorted(STRATEGIES),
                        help="query strategy (default boundary)")
    parser.add_argument("--retrain-every", type=int, default=1, help="retrain after every k answers (default 1)")
    add_retrain_arguments(parser)
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter of a new session, e.g. --set max_epochs=50 (repeatable)")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--auth", action="append", metavar="USER:PASSWORD",
                        help="require a login (repeat for several annotators)")
    parser.add_argument("--auth-file", metavar="PATH",
                        help="require a login: one user:password per line (keeps passwords out of ps)")
    parser.set_defaults(run=run_serve)


def open_session(args: argparse.Namespace) -> Session:
    """Resume the named session, or create it from the command-line settings.

    The settings are checked first, so a bad one leaves no database file behind.
    """
    config = SessionConfig(
        dataset=args.dataset, dataset_options=dataset_options(args), loss=args.loss,
        strategy=args.strategy, retrain_every=args.retrain_every, estimator=key_values(args.estimator),
        full_refit_every=args.full_refit_every, warm_epochs=args.warm_epochs,
    )
    store = Store(args.db)
    name = args.session or default_session_name(args.dataset)
    if store.session_config(name) is not None:
        session = Session.open(store, name, background=True)
        print(f"resuming session {name!r} ({session.status()['n_answers']} answers so far) from {store.url}")
        return session
    session = Session.create(store, config, session_id=name, background=True)
    print(f"new session {name!r} on {args.dataset}, stored in {store.url}")
    return session


def login_message(throttle: LoginThrottle) -> str:
    """What the login form says: Gradio's form shows nothing for a refused (429) attempt."""
    return (f"nudge: log in to annotate. After several wrong passwords logins pause for up to "
            f"{throttle.longest_block:.0f} s: if Login seems to do nothing, wait and try again.")


def run_serve(args: argparse.Namespace) -> int:
    from starlette.middleware import Middleware

    from ui.app import build_app, launch_app
    from ui.throttle import LoginThrottle, LoginThrottleMiddleware

    auth = parse_auth([*(args.auth or []), *read_auth_file(args.auth_file)])
    if args.share and auth is None:
        print("warning: --share without --auth makes the UI public to anyone with the link; "
              "add --auth user:password or --auth-file", file=sys.stderr)
    session = open_session(args)
    demo = build_app(AnnotationService(session))
    throttle = LoginThrottle()
    throttled_logins = Middleware(LoginThrottleMiddleware, throttle=throttle)
    try:
        launch_app(
            demo, server_name=args.host, server_port=args.port, share=args.share, auth=auth,
            auth_message=login_message(throttle) if auth else None,
            app_kwargs={"middleware": [throttled_logins]} if auth else None,
            prevent_thread_lock=True, quiet=True,
        )
        if args.share and not demo.share_url:
            print(f"no share link could be made (this machine seems offline): "
                  f"serving locally only, at {demo.local_url}", file=sys.stderr)
        print(f"annotate at {demo.share_url or demo.local_url}  (Ctrl+C to stop)", flush=True)
        demo.block_thread()
    finally:
        session.close()
    return 0
