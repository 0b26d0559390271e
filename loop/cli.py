"""The ``nudge`` command: simulate, export, embed, and the subcommands other packages register
(``serve`` comes from ui/ through the ``nudge.commands`` entry point group)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from importlib.metadata import entry_points

from loop.embedding import add_embed
from loop.store import StoreError


def _comma_list(kind: Callable = str) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {kind.__name__}") from None
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        return values
    return parse


def _yes_no(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in ("yes", "on", "true", "1"):
        return True
    if lowered in ("no", "off", "false", "0"):
        return False
    raise ValueError(text)


def unique(values: list) -> list:
    """The values in their first order, each once (``--loss ce --loss ce,direction`` is ce, direction)."""
    return list(dict.fromkeys(values))


class SetOnce(argparse.Action):
    """An option that takes one value: giving it twice is refused, not silently the last one."""

    def __call__(self, parser, namespace, values, option_string=None):
        if getattr(namespace, self.dest + "_given", False):
            parser.error(f"{option_string} was given twice; a served session has one (use nudge simulate to compare)")
        setattr(namespace, self.dest + "_given", True)
        setattr(namespace, self.dest, values)


def key_values(items: list[str] | None) -> dict:
    """``key=value`` pairs; values parsed as int, float, tuple of ints, or left as text."""
    parsed: dict = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise argparse.ArgumentTypeError(f"expected key=value, got {item!r}")
        parsed[key.strip()] = _parse_value(value.strip())
    return parsed


def _parse_value(value: str):
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    if value.startswith("(") and value.endswith(")"):
        return tuple(int(v) for v in value[1:-1].split(",") if v.strip())
    return value


def add_dataset_arguments(parser: argparse.ArgumentParser, default: str | None = "moons") -> None:
    from loop.datasets import DATASETS

    parser.add_argument("--dataset", default=default,
                        help=f"data set: {', '.join(DATASETS)} (default {default or 'moons'})")
    parser.add_argument("--data-dir", help="folder holding the cad-imdb files (*_paired.tsv)")
    parser.add_argument("--n-samples", type=int, help="size of a synthetic 2D data set")
    parser.add_argument("--noise", type=float, help="noise of a synthetic 2D data set")
    parser.add_argument("--n-classes", type=int, help="classes of a synthetic set that can have several (gaussians)")


def add_retrain_arguments(parser: argparse.ArgumentParser, *, with_defaults: bool = True) -> None:
    """The retraining policy of a session, with :class:`loop.config.SessionConfig`'s defaults
    (filled in, or, ``with_defaults=False``, left None so a resumed session keeps its own)."""
    from loop.config import SessionConfig

    refit, warm = SessionConfig.full_refit_every, SessionConfig.warm_epochs
    parser.add_argument("--full-refit-every", type=int, default=refit if with_defaults else None,
                        help=f"re-initialise and refit from scratch every m retrains, 0 for never (default {refit})")
    parser.add_argument("--warm-epochs", type=int, default=warm if with_defaults else None,
                        help=f"epochs of a warm-started retrain (default {warm})")


def add_stop_argument(parser: argparse.ArgumentParser, effect: str) -> None:
    """``--stop``: stopping criteria (loop.stopping), comma-separated or repeated."""
    from loop.stopping import CRITERIA

    parser.add_argument("--stop", type=_comma_list(), action="extend", default=[], metavar="NAME=VALUE",
                        help=f"stopping criteria, e.g. --stop budget=200,stable=0.99 (repeatable; "
                        f"{', '.join(CRITERIA)}; options as stable=0.99:window=5): {effect}")


def dataset_options(args: argparse.Namespace) -> dict:
    options = {"data_dir": args.data_dir, "n_samples": args.n_samples, "noise": args.noise,
               "n_classes": args.n_classes}
    return {key: value for key, value in options.items() if value is not None}


def add_simulate(subparsers) -> None:
    from estimators import OBJECTIVES
    from loop.oracles import ORACLES
    from strategies import STRATEGIES

    parser = subparsers.add_parser(
        "simulate", help="run the loop with a simulated annotator, no UI",
        description="Run active-learning loops where an oracle answers. Several comma-separated "
        "--loss / --strategy / --augment values are compared on identical seeds and splits. "
        "Writes DIR/results.json, DIR/results.csv and DIR/learning_curves.png.",
    )
    add_dataset_arguments(parser)
    parser.add_argument("--loss", type=_comma_list(), action="extend",
                        help=f"objective(s), comma-separated or repeated: {', '.join(OBJECTIVES)} (default direction)")
    parser.add_argument("--strategy", type=_comma_list(), action="extend",
                        help=f"query strategy(ies), comma-separated or repeated: {', '.join(STRATEGIES)} "
                        "(default boundary)")
    parser.add_argument("--augment", type=_comma_list(_yes_no), action="extend",
                        help="add each rewrite as a labelled example too: no, yes or no,yes (default no)")
    parser.add_argument("--oracle", choices=ORACLES,
                        help="simulated annotator (default: exact where the data set knows its true directions, "
                        "else nearest-opposite)")
    parser.add_argument("--label-noise", type=float, default=0.0, help="probability of a wrong label")
    parser.add_argument("--angle-noise", type=float, default=0.0, help="angular noise on directions, degrees")
    parser.add_argument("--budget", type=int, default=50, help="labels per run (default 50)")
    parser.add_argument("--batch-size", type=int, default=1, help="queries per round (default 1)")
    parser.add_argument("--seeds", type=_comma_list(int), default=[0], help="comma-separated seeds (default 0)")
    add_retrain_arguments(parser)
    add_stop_argument(parser, "end each run when one is met")
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter, e.g. --set criterion__alpha=0.3 (repeatable)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from loop.simulate import SimulationConfig, simulate, write_results

    config = SimulationConfig(
        dataset=args.dataset, dataset_options=dataset_options(args), losses=unique(args.loss or ["direction"]),
        strategies=unique(args.strategy or ["boundary"]), augment=unique(args.augment or [False]),
        oracle=args.oracle,
        label_noise=args.label_noise, angle_noise=args.angle_noise, budget=args.budget,
        batch_size=args.batch_size, seeds=args.seeds, estimator=key_values(args.estimator),
        full_refit_every=args.full_refit_every, warm_epochs=args.warm_epochs, stop=args.stop,
    )
    results = simulate(config, progress=lambda message: print(message, flush=True))
    for path in write_results(results, args.out):
        print(f"wrote {path}")
    return 0


def add_export(subparsers) -> None:
    parser = subparsers.add_parser(
        "export", help="write a session's annotation log as JSONL or CSV",
        description="Export every annotation of a session (skips and undone ones included, flagged).",
    )
    parser.add_argument("--db", default="nudge.db", help="database file or URL (default nudge.db)")
    parser.add_argument("--session", help="session id (default: the only/most recent session)")
    parser.add_argument("--format", choices=("jsonl", "csv"), help="default: from the file suffix")
    parser.add_argument("--out", required=True, help="output file ('-' for standard output)")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    from loop.export import export_annotations
    from loop.store import Store

    count = export_annotations(Store(args.db, create=False), args.out, session_id=args.session, fmt=args.format)
    if args.out != "-":
        print(f"wrote {count} annotations to {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nudge",
        description="Active learning with counterfactual directions: "
        "label a point and say where its class would flip.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in entry_points(group="nudge.commands"):
        command.load()(subparsers)
    from loop.serving import add_train

    add_train(subparsers)
    add_simulate(subparsers)
    add_export(subparsers)
    add_embed(subparsers)
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


if __name__ == "__main__":
    sys.exit(main())
