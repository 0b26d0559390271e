"""``nudge export-model``: a session's trained model as a folder; ``nudge predict``: that model on new data."""

from __future__ import annotations

import argparse
import sys

from nudge.loop.cli.args import add_db_argument, add_session_choice


def add_export_model(subparsers) -> None:
    parser = subparsers.add_parser(
        "export-model", help="write a session's trained model to a folder, to use without nudge serve",
        description="Write the newest trained model of a session (its newest published version whose weights "
        "load) into the folder OUT, with what using it needs: class names, feature names, the scaling of "
        "features, the text encoder's name and identity, the network's settings. Use it with nudge predict, "
        "or in Python: nudge.estimators.load_model(OUT).predict([...]).",
    )
    add_db_argument(parser)
    add_session_choice(parser)
    parser.add_argument("--out", required=True, metavar="DIR", help="the folder to write (made when missing)")
    parser.set_defaults(run=run_export_model)


def run_export_model(args: argparse.Namespace) -> int:
    from nudge.loop.export.model import export_model
    from nudge.loop.store.store import Store

    exported = export_model(Store(args.db, create=False), args.out, session_id=args.session)
    for problem in exported.skipped:
        print(f"skipped a newer version: {problem}", file=sys.stderr)
    print(f"wrote model v{exported.version} of session {exported.session_id!r} ({exported.n_labeled} labels) "
          f"to {exported.folder}")
    return 0


def add_predict(subparsers) -> None:
    parser = subparsers.add_parser(
        "predict", help="predict the classes of new items with a model from nudge export-model",
        description="Read FILE (texts: .txt one a line, or a CSV, JSONL or Parquet file with a text column; rows "
        "of numbers: a CSV, JSONL or Parquet file with the model's feature columns by name) and write each row's "
        "id, predicted class and class probabilities as CSV (or JSONL: --out NAME.jsonl).",
    )
    parser.add_argument("--model", required=True, metavar="DIR", help="a folder written by nudge export-model")
    parser.add_argument("file", metavar="FILE", help="the items to predict on")
    parser.add_argument("--text-column", metavar="NAME", help="the column of texts (default 'text')")
    parser.add_argument("--id-column", metavar="NAME", help="the column naming each row (default: row numbers)")
    parser.add_argument("--out", default="-", help="output file, .csv or .jsonl (default: standard output, CSV)")
    parser.set_defaults(run=run_predict)


def run_predict(args: argparse.Namespace) -> int:
    from pathlib import Path

    from nudge.estimators import load_model
    from nudge.loop.export.predictions import rows_to_predict, write_predictions

    model = load_model(args.model)
    ids, data = rows_to_predict(args.file, model, text_column=args.text_column, id_column=args.id_column)
    fmt = "jsonl" if args.out.lower().endswith((".jsonl", ".ndjson")) else "csv"
    if args.out == "-":
        write_predictions(ids, model, data, sys.stdout, fmt)
        return 0
    out = Path(args.out).expanduser()
    if out.resolve().parent == Path(args.model).expanduser().resolve():
        raise ValueError(f"{out} is inside the model folder {args.model}; write the predictions elsewhere")
    with out.open("w", newline="", encoding="utf-8") as handle:
        count = write_predictions(ids, model, data, handle, fmt)
    print(f"wrote {count} predictions to {out}")
    return 0
