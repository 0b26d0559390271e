"""Training time of one round against the labelled-set size, for each loss.

Run: ``.venv/bin/python bench/bench_training.py`` (about 3 minutes on one
thread) or ``--quick``. For moons (2-D) and the CAD embeddings (384-d), a
session with the default settings but ``loss`` (synchronous, in-memory
store) is pre-filled with the exact oracle's answers at N random pool points
(half per class); the script times the session's own retrains
(``Session.last_train_seconds``: the fit only, not the test-set score), with
its own estimator and training set (on CAD each answer's rewrite is also a
labelled example of the other class, so N answers train on 2N rows):

- ``full``: a fresh net fitted on the N answers (the first training of the
  session, then ``retrain(full=True)``; every ``full_refit_every``-th retrain);
- ``warm``: the retrain after each of the next answers (N + 1, N + 2, ...):
  modAL's ``teach``, all rows, continuing from the published weights.

Printed: median seconds over ``--repeats`` retrains of each kind,
milliseconds per optimiser step (epochs * ceil(rows / batch_size) steps),
and the ratio of each direction loss to ``ce`` at the same N, measured in
this run: the direction loss and gradient supervision differentiate the
input gradient once more (double backprop), which ``ce`` does not.
"""

from __future__ import annotations

import math
import statistics
from typing import NamedTuple

from common import (
    ANNOTATOR,
    DATASET_LOADERS,
    bench_parser,
    prefilled_session,
    print_end,
    start_run,
    submit_answer,
    training_settings,
)

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.simulation.oracles import make_oracle

LOSSES = ("ce", "direction", "gradient-supervision")
SHORT = {"ce": "ce", "direction": "dir", "gradient-supervision": "gs"}
KINDS = ("warm", "full")
SIZES = (20, 50, 100, 200, 500)
QUICK_SIZES = (20, 200)


class Cell(NamedTuple):
    rows: int  # training rows at N answers (answers plus rewrite examples)
    seconds: dict[str, float]  # median seconds of a retrain, by kind
    epochs: dict[str, int]  # epochs of a retrain, by kind
    batch_size: int
    settings: str  # the estimator's training settings


def time_retrains(dataset: Dataset, n_answers: int, loss: str, repeats: int) -> Cell:
    """Time ``repeats`` full and ``repeats`` warm retrains of a default session with ``loss``."""
    session = prefilled_session(dataset, n_answers, config=SessionConfig(dataset=dataset.name, loss=loss))
    rows = len(session.trainer.training_rows(session.effective_annotations())[0])
    settings = training_settings(session.model.estimator)
    seconds = {kind: [] for kind in KINDS}
    seconds["full"].append(session.last_train_seconds)  # the session's first training
    for _ in range(repeats - 1):
        session.retrain(full=True)
        seconds["full"].append(session.last_train_seconds)
    epochs = {"full": session.model.estimator.max_epochs}
    oracle = make_oracle("exact", dataset)
    for _ in range(repeats):
        query = session.next_query(ANNOTATOR)
        submit_answer(session, query.query_id, oracle.answer(query.point_id))  # retrains, warm
        seconds["warm"].append(session.last_train_seconds)
    epochs["warm"] = session.model.estimator.max_epochs
    session.store.close()
    return Cell(rows, {kind: statistics.median(values) for kind, values in seconds.items()}, epochs,
                session.model.estimator.batch_size, settings)


def main() -> None:
    parser = bench_parser(__doc__, quick=f"sizes {QUICK_SIZES}, one repeat")
    parser.add_argument("--sizes", help=f"comma-separated labelled-set sizes (default {SIZES})")
    parser.add_argument("--repeats", type=int, help="timed retrains of each kind per cell (median; default 3)")
    args = start_run(parser)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    print(f"median of {repeats} retrain(s) of each kind per cell; the default session's estimator")
    print(f"{'data':<9} {'N':>4} {'rows':>5} {'fit':<5} "
          + " ".join(f"{SHORT[loss] + ' s':>8} {'ms/step':>7}" for loss in LOSSES) + f"  {'dir/ce':>6} {'gs/ce':>6}")
    for name in args.datasets.split(","):
        dataset = DATASET_LOADERS[name]()
        for n_answers in sizes:
            cells = {loss: time_retrains(dataset, n_answers, loss, repeats) for loss in LOSSES}
            rows, _, epochs, batch_size, settings = cells["ce"]
            if n_answers == sizes[0]:
                print(f"{name}: {settings}; epochs per retrain: warm {epochs['warm']}, full {epochs['full']}")
            for kind in KINDS:
                seconds = {loss: cells[loss].seconds[kind] for loss in LOSSES}
                steps = epochs[kind] * math.ceil(rows / batch_size)
                columns = " ".join(f"{seconds[loss]:>8.3f} {1000 * seconds[loss] / steps:>7.2f}" for loss in LOSSES)
                ratios = " ".join(f"{seconds[loss] / seconds['ce']:>6.2f}" for loss in LOSSES[1:])
                print(f"{name:<9} {n_answers:>4} {rows:>5} {kind:<5} {columns}  {ratios}", flush=True)
    print_end()


if __name__ == "__main__":
    main()
