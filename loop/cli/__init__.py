"""The ``nudge`` command: one module per subcommand (simulate, sessions, export, export-model and predict,
embed, train, agreement), and the
subcommands other packages register (``serve`` comes from ui/ through the ``nudge.commands``
entry point group, so loop/ never imports ui/). The shared argparse pieces: :mod:`nudge.loop.cli.args`."""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from nudge.loop.cli.agreement import add_agreement
from nudge.loop.cli.embed import add_embed
from nudge.loop.cli.export import add_export
from nudge.loop.cli.model import add_export_model, add_predict
from nudge.loop.cli.sessions import add_sessions
from nudge.loop.cli.simulate import add_simulate
from nudge.loop.cli.train import add_train
from nudge.loop.errors import StoreError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nudge",
        description="Active learning with counterfactual directions: "
        "label a point and say where its class would flip.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in entry_points(group="nudge.commands"):
        command.load()(subparsers)
    for add in (add_train, add_simulate, add_sessions, add_export, add_export_model, add_predict, add_embed,
                add_agreement):
        add(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (ValueError, StoreError, FileNotFoundError, argparse.ArgumentTypeError) as error:  # SessionError too
        print(f"nudge {args.command}: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"nudge {args.command}: interrupted", file=sys.stderr)
        return 130


