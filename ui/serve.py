"""``nudge serve``: start (or resume) a session and serve the annotation UI.

The subcommand is registered with ``nudge.loop.cli`` through the ``nudge.commands``
entry point group, so the loop package never imports the UI.

Serving safely: ``--auth user:password`` (repeatable) puts a login in front of
the page and of every API route, and the login then names the annotator;
failed logins are throttled per user name and per client address
(:mod:`nudge.ui.throttle`: after 5 failures on a name or 20 from an address, HTTP
429 for a delay doubling from 1 s to at most 60 s); ``--share`` without
``--auth`` warns. Nothing path-like is taken over the web: data files come
from the command line (or from the stored settings of the session resumed,
i.e. from whoever chose that database), are parsed as text and never executed
or unpickled, and Gradio serves no file the app did not make.
A database URL's password is never printed.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from nudge.loop.cli.args import add_session_arguments, requested_settings
from nudge.loop.cli.train import TrainerProcess
from nudge.loop.compute.engine import Engine
from nudge.loop.compute.engines import make_engine
from nudge.loop.compute.memory import freeze_startup_objects
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.opening import SessionPlan, open_session, pending_embedding, plan_session
from nudge.loop.store.lease_rules import LeaseLimits

MAX_OPEN_PER_ANNOTATOR = 4  # a few tabs, or a batch of queries
MAX_OPEN_PER_ADDRESS = 16  # without --auth, the cap of one client under made-up names

if TYPE_CHECKING:
    from nudge.loop.session.session import Session
    from nudge.ui.throttle import LoginThrottle


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


def add_serve(subparsers) -> None:
    parser = subparsers.add_parser(
        "serve", help="serve the annotation UI (the main job)",
        description="Start or resume an annotation session and serve its web UI and API. "
        "With no arguments: the moons data set, stored in ./nudge.db. Several servers may serve one "
        "session from one database (a PostgreSQL URL, or one SQLite file on one host): one of them trains.",
    )
    add_session_arguments(parser)
    training = parser.add_mutually_exclusive_group()
    training.add_argument("--no-train", action="store_true",
                        help="serve without ever training (another process trains: nudge train, or a server)")
    training.add_argument("--train-here", action="store_true",
                        help="train in this process, beside the page (default: a child process, nudge train, "
                        "so a retrain never slows the page; an in-memory database always trains here)")
    parser.add_argument("--max-open", type=int, default=MAX_OPEN_PER_ANNOTATOR, metavar="N",
                        help=f"open points one annotator may hold at once (default {MAX_OPEN_PER_ANNOTATOR})")
    parser.add_argument("--max-open-per-address", type=int, default=MAX_OPEN_PER_ADDRESS, metavar="N",
                        help="without --auth: open points one client address may hold under any names "
                        f"(default {MAX_OPEN_PER_ADDRESS})")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: Gradio's, 7860 or the next free one)")
    parser.add_argument("--share", action="store_true", help="ask Gradio for a public share link")
    parser.add_argument("--auth", action="append", metavar="USER:PASSWORD",
                        help="require a login (repeat for several annotators)")
    parser.add_argument("--auth-file", metavar="PATH",
                        help="require a login: one user:password per line (keeps passwords out of ps)")
    parser.add_argument("--lead", metavar="NAME",
                        help="the login that sees the team's page (/team: progress, agreement, disagreements) and "
                        "resolves disagreements (needs --auth)")
    parser.set_defaults(run=run_serve)


def lease_limits(args: argparse.Namespace, with_logins: bool) -> LeaseLimits:
    """Per annotator always; per client address only without logins (behind a login, many
    people may share one address, and names cannot be made up)."""
    for option, value in (("--max-open", args.max_open), ("--max-open-per-address", args.max_open_per_address)):
        if value < 1:
            raise ValueError(f"{option} must be at least 1")
    return LeaseLimits(per_annotator=args.max_open, per_client=None if with_logins else args.max_open_per_address)


def login_message(throttle: LoginThrottle) -> str:
    """What the login form says: Gradio's form shows nothing for a refused (429) attempt."""
    return (f"nudge: log in to annotate. After several wrong passwords logins pause for up to "
            f"{throttle.longest_block:.0f} s: if Login seems to do nothing, wait and try again.")


def run_serve(args: argparse.Namespace) -> int:
    from starlette.middleware import Middleware

    from nudge.ui.throttle import LoginThrottle, LoginThrottleMiddleware

    auth = parse_auth([*(args.auth or []), *read_auth_file(args.auth_file)])
    if args.share and auth is None:
        print("warning: --share without --auth makes the UI public to anyone with the link; "
              "add --auth user:password or --auth-file", file=sys.stderr)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    throttle = LoginThrottle()
    launch = dict(
        server_name=args.host, share=args.share, auth=auth, auth_message=login_message(throttle) if auth else None,
        app_kwargs={"middleware": [Middleware(LoginThrottleMiddleware, throttle=throttle)]} if auth else None,
        prevent_thread_lock=True, quiet=True,
    )
    limits = lease_limits(args, auth is not None)  # refused before any embedding, not after it
    check_lead_login(args.lead, auth)
    plan = plan_session(args.db, requested_settings(args), args.session)
    engine = make_engine(args.engine, args.address)
    try:
        port = wait_for_the_pool(plan, launch, args.port, engine)
        in_child = not (args.no_train or args.train_here or plan.store.db.in_memory)
        session = open_session(plan, train=not (args.no_train or in_child), lease_limits=limits,
                               engine=None if args.engine == "local" else engine, accept_new_data=args.add_rows)
        trainer = trainer_process(plan, args) if in_child else None
        try:
            serve_session(session, port, launch, share=args.share, lead=args.lead)
        finally:
            if trainer is not None:
                trainer.stop()
            session.close()
    finally:
        engine.close()
    return 0


def trainer_process(plan: SessionPlan, args: argparse.Namespace) -> TrainerProcess:
    """The session's trainer, started as a child process (``nudge train --parent``)."""
    engine = [] if args.engine == "local" else ["--engine", args.engine, "--address", args.address]
    url = plan.store.engine.url.render_as_string(hide_password=False)
    return TrainerProcess(url, plan.name, engine).start()


def check_lead_login(lead: str | None, auth) -> None:
    """``--lead`` names one of the logins (ValueError otherwise)."""
    if lead is None:
        return
    names = [] if auth is None else [name for name, _ in auth]
    if lead not in names:
        raise ValueError(f"--lead {lead!r} is not one of the logins given with --auth: "
                         f"{', '.join(names) or 'none'}")


def serve_session(session: Session, port: int | None, launch: dict, *, share: bool, lead: str | None = None) -> None:
    """Serve the annotation page of ``session`` until Ctrl+C (``lead``: the login that sees /team)."""
    from nudge.ui.app import AnnotationApp, launch_app

    app = AnnotationApp(AnnotationService(session), lead=lead)
    try:
        demo = app.build()
        launch_app(demo, server_port=port, **launch)
        if share and not demo.share_url:
            print(f"no share link could be made (this machine seems offline): "
                  f"serving locally only, at {demo.local_url}", file=sys.stderr)
        freeze_startup_objects()
        print(f"annotate at {demo.share_url or demo.local_url}  (Ctrl+C to stop)", flush=True)
        demo.block_thread()
    finally:
        app.close()


def wait_for_the_pool(plan: SessionPlan, launch: dict, port: int | None, engine: Engine) -> int | None:
    """Embed what the session's texts still need (through ``engine``), behind a page that shows the
    progress (served at once); returns the port that page used, for the annotation page (``port``
    when none was needed)."""
    from nudge.ui.app import PAGE_TITLE, launch_app
    from nudge.ui.preparing import preparing_page

    job = pending_embedding(plan, engine)
    if job is None:
        return port
    job.start()
    page = launch_app(preparing_page(job, plan.config.dataset, PAGE_TITLE), server_port=port, **launch)
    print(f"preparing the pool at {page.share_url or page.local_url}: embedding {job.progress().total:,} texts "
          "once (the page shows the progress and opens the annotation page when they are ready)", flush=True)
    try:
        progress = job.wait()
    except KeyboardInterrupt:
        job.cancel()
        raise
    finally:
        page.close()
    if progress.stage != "done":
        raise ValueError(f"the pool could not be embedded: {progress.error or progress.stage}")
    return urlparse(page.local_url).port
