"""Training time of one round against the labelled-set size, for each loss.

Run: ``.venv/bin/python bench/bench_training.py`` (about 5 minutes on one
thread) or ``--quick``. For moons (2-D) and the CAD embeddings (384-d), a
session with the default settings but ``loss`` holds the exact oracle's
answers at N random pool points (half per class); the script times what its
retrain costs, with the session's own estimator and training set (on CAD
each answer's rewrite is also a labelled example of the other class, so N
answers train on 2N rows):

- ``warm``: a net fitted on the first N - 1 answers is fitted on all N (what
  ``ActiveLearner.teach`` does after each answer: all rows, max_epochs epochs,
  continuing from the weights);
- ``full``: a fresh net fitted on the N answers (every ``full_refit_every``-th retrain).

Printed: median seconds over ``--repeats`` fits, milliseconds per optimiser
step (max_epochs * ceil(rows / batch_size) steps), and the ratio of each
direction loss to ``ce`` at the same N, measured in this run: the direction
loss and gradient supervision differentiate the input gradient once more
(double backprop), which ``ce`` does not.
"""

from __future__ import annotations

import argparse
import copy
import math
from typing import NamedTuple

from common import (
    DATASET_LOADERS,
    filled_session,
    median_seconds,
    print_end,
    print_machine,
    set_threads,
    training_settings,
)
from sklearn.base import clone

from loop.datasets import Dataset
from loop.session import SessionConfig

LOSSES = ("ce", "direction", "gradient-supervision")
SHORT = {"ce": "ce", "direction": "dir", "gradient-supervision": "gs"}
SIZES = (20, 50, 100, 200, 500)
QUICK_SIZES = (20, 200)


class Cell(NamedTuple):
    rows: int  # training rows (answers plus rewrite examples)
    steps: int  # optimiser steps per fit
    seconds: dict[str, float]  # median seconds of a fit, by kind ("warm", "full")
    settings: str  # the estimator's training settings


def time_fits(dataset: Dataset, n_answers: int, loss: str, repeats: int, estimator: dict) -> Cell:
    """Time the fits of a default session with ``loss`` (and ``estimator`` settings) holding
    n_answers answers."""
    config = SessionConfig(dataset=dataset.name, loss=loss, estimator=estimator)
    session = filled_session(dataset, n_answers, config=config)
    answers = session.store.annotations(session.session_id)
    X, y = session.training_set(answers)
    template = session.model.estimator  # unfitted, with the session's settings
    warm_start = clone(template).fit(*session.training_set(answers[:-1]))
    session.store.close()

    def warm():
        copy.deepcopy(warm_start).fit(X, y)

    def full():
        clone(template).fit(X, y)

    steps = template.max_epochs * math.ceil(len(X) / template.batch_size)
    seconds = {"warm": median_seconds(warm, repeats), "full": median_seconds(full, repeats)}
    return Cell(len(X), steps, seconds, training_settings(template))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, one repeat")
    parser.add_argument("--datasets", default="moons,cad-imdb", help="comma-separated (moons, cad-imdb)")
    parser.add_argument("--sizes", help=f"comma-separated labelled-set sizes (default {SIZES})")
    parser.add_argument("--repeats", type=int, help="timed fits per cell (median; default 3)")
    parser.add_argument("--max-epochs", type=int, help="what-if: the session's estimator with this max_epochs")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    args = parser.parse_args()
    set_threads(args.threads)
    print_machine(args.threads)
    repeats = args.repeats or (1 if args.quick else 3)
    sizes = [int(n) for n in args.sizes.split(",")] if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    estimator = {} if args.max_epochs is None else {"max_epochs": args.max_epochs}
    print(f"median of {repeats} fit(s) per cell; the session's estimator, with {estimator or 'its defaults'}")
    print(f"{'data':<9} {'N':>4} {'rows':>5} {'fit':<5} "
          + " ".join(f"{SHORT[loss] + ' s':>8} {'ms/step':>7}" for loss in LOSSES) + f"  {'dir/ce':>6} {'gs/ce':>6}")
    for name in args.datasets.split(","):
        dataset = DATASET_LOADERS[name]()
        for n_answers in sizes:
            cells = {loss: time_fits(dataset, n_answers, loss, repeats, estimator) for loss in LOSSES}
            rows, steps, _, settings = cells["ce"]
            if n_answers == sizes[0]:
                print(f"{name}: {settings}")
            for kind in ("warm", "full"):
                seconds = {loss: cells[loss].seconds[kind] for loss in LOSSES}
                columns = " ".join(f"{seconds[loss]:>8.3f} {1000 * seconds[loss] / steps:>7.2f}" for loss in LOSSES)
                ratios = " ".join(f"{seconds[loss] / seconds['ce']:>6.2f}" for loss in LOSSES[1:])
                print(f"{name:<9} {n_answers:>4} {rows:>5} {kind:<5} {columns}  {ratios}", flush=True)
    print_end()


if __name__ == "__main__":
    main()
