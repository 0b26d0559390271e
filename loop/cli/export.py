"""``nudge export``: a session's answers with their items as JSONL, CSV, Parquet or Label Studio JSON."""

from __future__ import annotations

import argparse

from nudge.loop.cli.args import add_db_argument, add_session_choice


def add_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a session's answers with their items (JSONL, CSV, Parquet, Label Studio)",
        description="Export every answer of a session with its item: the item id, its text or features by name, "
        "the label by class name, the annotator, the time (ISO 8601), the kind of answer (label, skip, undone) and "
        "its directions in the data's units (for texts: the rewrite and the example moved towards). "
        "Formats: jsonl, csv (safe to open in a spreadsheet), parquet (pandas, pyarrow, Hugging Face datasets), "
        "labelstudio (tasks with choices results to import into Label Studio; undone answers left out).",
    )
    add_db_argument(parser)
    add_session_choice(parser)
    parser.add_argument("--format", choices=("jsonl", "csv", "parquet", "labelstudio"),
                        help="default: from the suffix of --out (.jsonl, .csv, .parquet, .json for Label Studio)")
    parser.add_argument("--out", required=True, help="output file ('-' for standard output, JSONL unless told)")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from nudge.loop.export.annotations import export_annotations, export_format
    from nudge.loop.export.formats import label_studio_config
    from nudge.loop.export.items import session_items
    from nudge.loop.store.overview import resolve_session
    from nudge.loop.store.store import Store

    store = Store(args.db, create=False)
    count = export_annotations(store, args.out, session_id=args.session, fmt=args.format)
    if args.out != "-":
        print(f"wrote {count} answers to {args.out}")
        if export_format(args.out, args.format) == "labelstudio":
            items = session_items(store, resolve_session(store, args.session))
            print(f"a Label Studio labelling config they fit: {label_studio_config(items)}")
    return 0
