"""``nudge export``: a session's annotation log as JSONL or CSV."""

from __future__ import annotations

import argparse

from nudge.loop.cli.args import add_db_argument


def add_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a session's annotation log as JSONL or CSV",
        description="Export every annotation of a session (skips and undone ones included, flagged).",
    )
    add_db_argument(parser)
    parser.add_argument("--session", help="session id (default: the only/most recent session)")
    parser.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file suffix")
    parser.add_argument("--out", required=True, help="output file ('-' for standard output)")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from nudge.loop.export.annotations import export_annotations
    from nudge.loop.store.store import Store

    count = export_annotations(Store(args.db, create=False), args.out, session_id=args.session, fmt=args.format)
    if args.out != "-":
        print(f"wrote {count} annotations to {args.out}")
    return 0
