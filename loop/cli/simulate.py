"""``nudge simulate``: active-learning loops where an oracle answers, compared on identical seeds."""

from __future__ import annotations

import argparse

from nudge.loop.cli.args import (
    add_dataset_arguments,
    add_retrain_arguments,
    add_scaling_argument,
    add_stop_argument,
    comma_list,
    dataset_options,
    key_values,
    unique,
    yes_no,
)


def add_simulate(subparsers) -> None:
    from nudge.estimators import OBJECTIVES
    from nudge.loop.simulation.oracles import ORACLES
    from nudge.strategies import STRATEGIES

    parser = subparsers.add_parser(
        "simulate", help="run the loop with a simulated annotator, no UI",
        description="Run active-learning loops where an oracle answers. Several comma-separated "
        "--loss / --strategy / --augment values are compared on identical seeds and splits. "
        "Writes DIR/results.json, DIR/results.csv and DIR/learning_curves.png.",
    )
    add_dataset_arguments(parser)
    add_scaling_argument(parser)
    parser.add_argument("--loss", type=comma_list(), action="extend",
                        help=f"objective(s), comma-separated or repeated: {', '.join(OBJECTIVES)} (default direction)")
    parser.add_argument("--strategy", type=comma_list(), action="extend",
                        help=f"query strategy(ies), comma-separated or repeated: {', '.join(STRATEGIES)} "
                        "(default boundary)")
    parser.add_argument("--augment", type=comma_list(yes_no), action="extend",
                        help="add each rewrite as a labelled example too: no, yes or no,yes (default no)")
    parser.add_argument("--oracle", choices=ORACLES,
                        help="simulated annotator (default: exact where the data set knows its true directions, "
                        "else nearest-opposite)")
    parser.add_argument("--label-noise", type=float, default=0.0, help="probability of a wrong label")
    parser.add_argument("--angle-noise", type=float, default=0.0, help="angular noise on directions, degrees")
    parser.add_argument("--budget", type=int, default=50, help="labels per run (default 50)")
    parser.add_argument("--batch-size", type=int, default=1, help="queries per round (default 1)")
    parser.add_argument("--seeds", type=comma_list(int), default=[0], help="comma-separated seeds (default 0)")
    add_retrain_arguments(parser)
    add_stop_argument(parser, "end each run when one is met")
    parser.add_argument("--set", dest="estimator", action="append", metavar="PARAM=VALUE",
                        help="estimator parameter, e.g. --set criterion__alpha=0.3 (repeatable)")
    parser.add_argument("--out", required=True, help="output folder")
    parser.set_defaults(run=run_simulate)


def run_simulate(args: argparse.Namespace) -> int:
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.simulation.simulate import SimulationConfig, simulate, write_results

    config = SimulationConfig(
        dataset=args.dataset, dataset_options=dataset_options(args), losses=unique(args.loss or ["direction"]),
        strategies=unique(args.strategy or ["boundary"]), augment=unique(args.augment or [False]),
        oracle=args.oracle,
        label_noise=args.label_noise, angle_noise=args.angle_noise, budget=args.budget,
        batch_size=args.batch_size, seeds=args.seeds, estimator=key_values(args.estimator),
        full_refit_every=args.full_refit_every, warm_epochs=args.warm_epochs, stop=args.stop,
        scaling=args.scaling or SessionConfig.scaling,
    )
    results = simulate(config, progress=lambda message: print(message, flush=True))
    for path in write_results(results, args.out):
        print(f"wrote {path}")
    return 0
