"""Every piece of the ``nudge`` command line that several commands share, in one place."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from nudge.loop.compute.engine import Engine
from nudge.loop.compute.engines import ENGINES, make_engine


def comma_list(kind: Callable = str) -> Callable[[str], list]:
    def parse(text: str) -> list:
        try:
            values = [kind(part.strip()) for part in text.split(",") if part.strip()]
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of {kind.__name__}") from None
        if not values:
            raise argparse.ArgumentTypeError("give at least one value")
        return values
    return parse


def yes_no(text: str) -> bool:
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
    from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, TEXT_ENCODERS
    from nudge.loop.datasets import DATASETS

    parser.add_argument("--dataset", default=default,
                        help=f"data set: {', '.join(DATASETS)} (default {default or 'moons'})")
    parser.add_argument("--encoder", choices=tuple(TEXT_ENCODERS),
                        help=f"text encoder of a text data set (default {DEFAULT_TEXT_ENCODER}; "
                        "bench/README.md compares them)")
    parser.add_argument("--data-dir", help="folder holding the cad-imdb files (*_paired.tsv)")
    parser.add_argument("--n-samples", type=int, help="size of a synthetic 2D data set")
    parser.add_argument("--noise", type=float, help="noise of a synthetic 2D data set")
    parser.add_argument("--n-classes", type=int, help="classes of a synthetic set that can have several (gaussians)")


def add_retrain_arguments(parser: argparse.ArgumentParser, *, with_defaults: bool = True) -> None:
    """The retraining policy of a session, with :class:`nudge.loop.config.settings.SessionConfig`'s defaults
    (filled in, or, ``with_defaults=False``, left None so a resumed session keeps its own)."""
    from nudge.loop.config.settings import SessionConfig

    refit, warm = SessionConfig.full_refit_every, SessionConfig.warm_epochs
    parser.add_argument("--full-refit-every", type=int, default=refit if with_defaults else None,
                        help=f"re-initialise and refit from scratch every m retrains, 0 for never (default {refit})")
    parser.add_argument("--warm-epochs", type=int, default=warm if with_defaults else None,
                        help=f"epochs of a warm-started retrain (default {warm})")


def add_stop_argument(parser: argparse.ArgumentParser, effect: str) -> None:
    """``--stop``: stopping criteria (nudge.loop.stopping.criteria), comma-separated or repeated."""
    from nudge.loop.stopping.criteria import CRITERIA

    parser.add_argument("--stop", type=comma_list(), action="extend", default=[], metavar="NAME=VALUE",
                        help=f"stopping criteria, e.g. --stop budget=200,stable=0.99 (repeatable; "
                        f"{', '.join(CRITERIA)}; options as stable=0.99:window=5): {effect}")


def dataset_options(args: argparse.Namespace) -> dict:
    options = {"data_dir": args.data_dir, "n_samples": args.n_samples, "noise": args.noise,
               "n_classes": args.n_classes, "encoder": args.encoder}
    return {key: value for key, value in options.items() if value is not None}


def add_engine_arguments(parser: argparse.ArgumentParser, what: str) -> None:
    """``--engine`` and ``--address``: where heavy work runs (``what`` it is, for the help)."""
    parser.add_argument("--engine", choices=ENGINES, default="local", help=f"{what} (default local)")
    parser.add_argument("--address", help="the Dask scheduler, e.g. tcp://10.0.0.5:8786 (--engine dask)")


def engine_of(args: argparse.Namespace) -> Engine | None:
    """The engine ``--engine``/``--address`` name (None: this process)."""
    return None if args.engine == "local" else make_engine(args.engine, args.address)


def add_session_arguments(parser: argparse.ArgumentParser) -> None:
    """--db, --session, the data set and the settings of a new session (each given only when wanted)."""
    from nudge.estimators import OBJECTIVES
    from nudge.strategies import STRATEGIES

    add_dataset_arguments(parser, default=None)
    parser.add_argument("--db", default="nudge.db", help="database file or URL (default nudge.db)")
    parser.add_argument("--session", help="session id (default: derived from the data set); resumed if it exists")
    parser.add_argument("--loss", choices=sorted(OBJECTIVES), action=SetOnce,
                        help="objective of a new session (default direction)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), action=SetOnce,
                        help="query strategy (default boundary)")
    parser.add_argument("--retrain-every", type=int, help="retrain after every k answers (default 1)")
    add_retrain_arguments(parser, with_defaults=False)
    add_stop_argument(parser, "the status says when one is met")
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter of a new session, e.g. --set max_epochs=50 (repeatable)")
    add_engine_arguments(parser, "where the trainer scores the pool for each new model: here, or a Dask cluster")


def requested_settings(args: argparse.Namespace) -> dict:
    """The session settings given on the command line (those left out are not in the dict)."""
    given = {
        "dataset": args.dataset, "loss": args.loss, "strategy": args.strategy,
        "retrain_every": args.retrain_every, "full_refit_every": args.full_refit_every,
        "warm_epochs": args.warm_epochs,
    }
    requested = {name: value for name, value in given.items() if value is not None}
    if dataset_options(args):
        requested["dataset_options"] = dataset_options(args)
    if args.estimator:
        requested["estimator"] = key_values(args.estimator)
    if args.stop:
        requested["stop"] = list(args.stop)
    return requested
