"""Every piece of the ``nudge`` command line that several commands share, in one place."""

from __future__ import annotations

import argparse
import os
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


def image_shape(text: str) -> tuple[int, int]:
    from nudge.loop.datasets import parse_shape

    try:
        return parse_shape(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_dataset_arguments(parser: argparse.ArgumentParser, default: str | None = "moons") -> None:
    """The data set and how its file is read (every command that opens data: serve, train, simulate, embed)."""
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
    files = parser.add_argument_group("your own files (csv:, text-csv:, jsonl:, parquet:)")
    files.add_argument("--label-column", metavar="NAME",
                       help="the column of known labels, empty where not known (texts: default 'label' when "
                       "present; a numeric csv has none unless named: its rows are unlabelled)")
    files.add_argument("--id-column", metavar="NAME",
                       help="the column naming each item (default: a hash of its content)")
    files.add_argument("--text-column", metavar="NAME", help="the column of texts (default 'text')")
    files.add_argument("--classes", type=comma_list(), metavar="A,B,...",
                       help="the class names, in order (default: the labels present); needed when no row has a label")
    files.add_argument("--test-file", metavar="PATH", help="a labelled file of the same format to test on")
    files.add_argument("--test-fraction", type=float, metavar="F",
                       help="share of the labelled rows held out for testing (default 0.2 with at least 10 labelled "
                       "rows of each class, else none; 0: none)")
    files.add_argument("--ignore-columns", type=comma_list(), metavar="A,B,...",
                       help="columns of a numeric csv that are neither features, label nor id")
    files.add_argument("--image-shape", type=image_shape, metavar="HxW",
                       help="the feature columns are an image's pixels, row by row, e.g. 8x8")
    files.add_argument("--image-column", metavar="NAME",
                       help="a column of image file paths (relative to the csv), read as grayscale")
    files.add_argument("--image-size", type=image_shape, metavar="HxW",
                       help="the size images from --image-column are read at (default 28x28)")
    files.add_argument("--limit", type=int, help="only this many rows (text files) or pairs per split (cad-imdb), "
                       "evenly spread")


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


DATASET_OPTIONS = ("data_dir", "n_samples", "noise", "n_classes", "label_column", "id_column", "text_column", "classes",
                   "test_file", "test_fraction", "ignore_columns", "image_shape", "image_column", "image_size", "limit",
                   "encoder")


def dataset_options(args: argparse.Namespace) -> dict:
    """The data set options given on the command line (:class:`nudge.loop.datasets.LoadOptions` fields)."""
    options = {name: getattr(args, name) for name in DATASET_OPTIONS}
    return {key: value for key, value in options.items() if value is not None}


def add_scaling_argument(parser: argparse.ArgumentParser) -> None:
    from nudge.loop.datasets import SCALINGS

    parser.add_argument("--scaling", choices=SCALINGS,
                        help="how features become the model's inputs: auto (standardised on the pool for numeric "
                        "tables, as they are otherwise), standard or none (default auto)")


DB_VARIABLE = "NUDGE_DB"  # a database URL kept out of the command line, where ps shows it to every user


def add_db_argument(parser: argparse.ArgumentParser) -> None:
    """``--db``: the database file or URL (default: $NUDGE_DB, else nudge.db)."""
    parser.add_argument("--db", default=os.environ.get(DB_VARIABLE, "nudge.db"),
                        help=f"database file or URL (default: ${DB_VARIABLE}, else nudge.db; a URL with a password "
                        f"is better given in ${DB_VARIABLE}, which ps does not show)")


def add_session_choice(parser: argparse.ArgumentParser) -> None:
    """``--session`` of a command that works on one stored session."""
    parser.add_argument("--session", help="session id (needed when the database holds several: nudge sessions "
                        "lists them)")


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
    add_scaling_argument(parser)
    add_db_argument(parser)
    parser.add_argument("--session", help="session id (default: derived from the data set); resumed if it exists")
    parser.add_argument("--add-rows", action="store_true",
                        help="resume on data that changed (new, removed or edited rows) as a new data version; "
                        "every earlier answer stays on its item (without it, a changed file is refused)")
    parser.add_argument("--loss", choices=sorted(OBJECTIVES), action=SetOnce,
                        help="objective of a new session (default direction)")
    parser.add_argument("--strategy", choices=sorted(STRATEGIES), action=SetOnce,
                        help="query strategy (default boundary)")
    parser.add_argument("--retrain-every", type=int, help="retrain after every k answers (default 1)")
    add_retrain_arguments(parser, with_defaults=False)
    add_stop_argument(parser, "the status says when one is met")
    team = parser.add_argument_group("a team: items given to several annotators, to measure agreement")
    team.add_argument("--overlap", type=float, metavar="SHARE",
                      help="a new session gives this share of its items (e.g. 0.1) to several annotators, never "
                      "twice to one; they train once their labels agree or the lead resolves them")
    team.add_argument("--overlap-every", type=int, metavar="N", help="... or every N-th item (instead of --overlap)")
    team.add_argument("--annotators-per-item", type=int, metavar="K",
                      help="how many different annotators an overlapping item goes to (default 2)")
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter of a new session, e.g. --set max_epochs=50 (repeatable)")
    add_engine_arguments(parser, "where the trainer scores the pool for each new model: here, or a Dask cluster")


def requested_settings(args: argparse.Namespace) -> dict:
    """The session settings given on the command line (those left out are not in the dict)."""
    given = {
        "dataset": args.dataset, "scaling": args.scaling, "loss": args.loss, "strategy": args.strategy,
        "retrain_every": args.retrain_every, "full_refit_every": args.full_refit_every,
        "warm_epochs": args.warm_epochs, "overlap": args.overlap, "overlap_every": args.overlap_every,
        "annotators_per_item": args.annotators_per_item,
    }
    requested = {name: value for name, value in given.items() if value is not None}
    if dataset_options(args):
        requested["dataset_options"] = dataset_options(args)
    if args.estimator:
        requested["estimator"] = key_values(args.estimator)
    if args.stop:
        requested["stop"] = list(args.stop)
    return requested
