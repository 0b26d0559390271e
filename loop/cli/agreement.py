"""``nudge agreement``: how far a session's annotators agree, as a table (the lead's page shows the same)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from nudge.loop.cli.args import add_db_argument

if TYPE_CHECKING:
    from nudge.loop.session.agreement import AgreementReport

NONE = "-"  # a number that is not defined (nothing shared, one class only, no model yet)


def add_agreement(subparsers) -> None:
    parser = subparsers.add_parser(
        "agreement", help="print how far a session's annotators agree (labels, directions, the model)",
        description="Per annotator: labels, skips, median seconds between answers, agreement with the others "
        "and with the current model, share of their directions the model already agreed with; per pair: "
        "shared items, share equal, Cohen's kappa and direction cosine; overall: Krippendorff's alpha. "
        "Items are shared when a session gives them to several annotators (--overlap).",
    )
    add_db_argument(parser)
    parser.add_argument("--session", help="session id (default: the only/most recent session)")
    parser.add_argument("--no-model", action="store_true",
                        help="leave out the agreement with the model (the data set is not loaded)")
    parser.set_defaults(run=run_agreement)


def run_agreement(args: argparse.Namespace) -> int:
    from nudge.loop.export.annotations import resolve_session
    from nudge.loop.session.agreement import agreement
    from nudge.loop.session.opening import open_session, plan_session
    from nudge.loop.store.store import Store

    store = Store(args.db, create=False)
    session_id = resolve_session(store, args.session)
    if args.no_model:
        report = agreement(store.log(session_id).annotations(include_undone=False))
    else:
        session = open_session(plan_session(args.db, {}, session_id, create=False), train=False, say=lambda _: None)
        try:
            report = session.agreement()
        finally:
            session.close()
    print(agreement_table(report))
    return 0


def agreement_table(report: AgreementReport) -> str:
    """The report as aligned plain-text tables."""
    annotators = table(
        ("annotator", "labels", "skips", "median s", "with others", "cosine others", "with model",
         "directions model agreed"),
        [(row.annotator, row.labels, row.skips, row.median_seconds, row.agreement_with_others,
          row.direction_cosine_with_others, row.agreement_with_model, row.directions_model_agreed)
         for row in report.annotators])
    pairs = table(("pair", "items", "equal", "kappa", "cosine"),
                  [(" & ".join(pair.annotators), pair.n_items, pair.share_equal, pair.kappa, pair.direction_cosine)
                   for pair in report.pairs])
    overall = (f"overall: {report.shared_items} shared items, equal labels {cell(report.share_equal)}, "
               f"Krippendorff's alpha {cell(report.alpha)}, direction cosine {cell(report.direction_cosine)}")
    return "\n\n".join((annotators, pairs or "no items shared by two annotators yet", overall))


def table(header: tuple[str, ...], rows: list[tuple]) -> str:
    if not rows:
        return ""
    cells = [header, *[tuple(cell(value) for value in row) for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    return "\n".join("  ".join(text.ljust(width) for text, width in zip(row, widths)).rstrip() for row in cells)


def cell(value) -> str:
    if value is None:
        return NONE
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
