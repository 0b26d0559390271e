"""``nudge sessions``: the sessions of a database, one line each."""

from __future__ import annotations

import argparse

from nudge.loop.cli.args import add_db_argument


def add_sessions(subparsers) -> None:
    parser = subparsers.add_parser(
        "sessions", help="list the sessions of a database",
        description="One line per session of the database: its name, data, items, answers (labels and skips "
        "standing), newest model version and last activity. Commands that work on one session take its name "
        "with --session.",
    )
    add_db_argument(parser)
    parser.set_defaults(run=run_sessions)


def run_sessions(args: argparse.Namespace) -> int:
    from nudge.loop.store.overview import session_summaries
    from nudge.loop.store.store import Store

    summaries = session_summaries(Store(args.db, create=False))
    if not summaries:
        print(f"{args.db} holds no sessions")
    for summary in summaries:
        print(summary.describe())
    return 0
