"""nudge's loop side by side with the plain way today: modAL + skorch, full refit each round.

Run: ``.venv/bin/python bench/bench_baseline.py`` (about 5 minutes on one
thread) or ``--quick`` (20 rounds, under a minute). On the same data (10,000 moons points; the CAD IMDb
train set), from the same ``--start`` random labelled points (half per
class), both loops run ``--rounds`` rounds of one query each, the exact
oracle answering:

- ``plain``: a modAL ``ActiveLearner`` (uncertainty sampling, modAL's own)
  over a skorch ``NeuralNetClassifier`` with cross-entropy, the same network
  and the same optimiser, learning rate, epochs and batch size as the
  session's estimator (``nudge.loop.config.new_estimator``); each
  round ``teach`` refits it from scratch on every label, and the labelled
  point is deleted from the pool array (modAL's tutorials). Labels only.
- ``nudge``: a ``Session`` with its defaults (direction loss, boundary
  strategy, warm-started retrain after each answer, full refit every 20,
  in-memory store, synchronous), the oracle giving labels and directions.
- ``nudge-ce``: the same session with ``loss="ce"`` (informative: the loop's
  own cost without the direction term).

One round = from the answer to the next query being ready (plain: ``teach``
+ ``query``; nudge: ``submit`` + ``next_query``). Printed: per-round median
and p95, the median of the first and of the last 10 rounds (the cost grows
with the labelled set), the total, the ratios of median and total to
``plain`` measured in this run, and the test accuracy each reached
(informative; one seed).
"""

from __future__ import annotations

import dataclasses
import statistics

import numpy as np
import torch
from common import (
    ANNOTATOR,
    DATASET_LOADERS,
    balanced_sample,
    bench_parser,
    median_p95,
    prefilled_session,
    print_end,
    start_run,
    submit_answer,
    timed,
    training_settings,
)
from modAL.models import ActiveLearner
from modAL.uncertainty import uncertainty_sampling
from skorch import NeuralNetClassifier

import nudge.strategies  # noqa: F401  (the modAL shim, before any ActiveLearner use)
from nudge.estimators import DirectionClassifier
from nudge.loop.config.factory import new_estimator
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.simulation.oracles import make_oracle

PHASE = 10  # rounds in the "first" and "last" columns


@dataclasses.dataclass
class LoopResult:
    seconds: list[float]
    accuracy: float


def plain_net(template: DirectionClassifier, n_features: int) -> NeuralNetClassifier:
    """A skorch classifier a user would write today, with the network and training settings
    (module, optimiser, learning rate, epochs, batch size) of ``template`` but cross-entropy on labels."""
    settings = {f"{prefix}__{key}": value for prefix in ("module", "optimizer")
                for key, value in template.get_params_for(prefix).items()}
    return NeuralNetClassifier(
        template.module, module__n_features=n_features, criterion=torch.nn.CrossEntropyLoss,
        optimizer=template.optimizer, lr=template.lr, max_epochs=template.max_epochs,
        batch_size=template.batch_size, train_split=None, iterator_train__shuffle=True, verbose=0,
        **settings,
    )


def run_plain(dataset: Dataset, template: DirectionClassifier, start: np.ndarray, rounds: int) -> LoopResult:
    """modAL over skorch: uncertainty sampling, refit from scratch on all labels each round."""
    torch.manual_seed(0)
    X, y = dataset.X.astype(np.float32), dataset.y.astype(np.int64)
    learner = ActiveLearner(plain_net(template, dataset.n_features), uncertainty_sampling,
                            X_training=X[start], y_training=y[start])
    pool = np.setdiff1d(dataset.pool, start)
    X_pool, y_pool = X[pool], y[pool]
    index, _ = learner.query(X_pool)
    seconds = []
    for _ in range(rounds):
        label = y_pool[index]  # the oracle's label (the exact oracle answers the true label)

        def step(index=index, label=label):
            nonlocal X_pool, y_pool
            learner.teach(X_pool[index], label)
            X_pool, y_pool = np.delete(X_pool, index, axis=0), np.delete(y_pool, index, axis=0)
            return learner.query(X_pool)[0]

        index, elapsed = timed(step)
        seconds.append(elapsed)
    return LoopResult(seconds, float(learner.score(X[dataset.test], y[dataset.test])))


def run_nudge(dataset: Dataset, start: np.ndarray, rounds: int, loss: str) -> LoopResult:
    """A default Session (synchronous retrain), the exact oracle giving labels and directions."""
    config = SessionConfig(dataset=dataset.name, loss=loss)
    session = prefilled_session(dataset, len(start), config=config)
    assert set(session.labelled_points()) == set(start.tolist())
    oracle = make_oracle("exact", dataset)
    query = session.next_query(ANNOTATOR)
    seconds = []
    for _ in range(rounds):
        answer = oracle.answer(query.point_id)

        def step(query=query, answer=answer):
            submit_answer(session, query.query_id, answer)
            return session.next_query(ANNOTATOR)

        query, elapsed = timed(step)
        seconds.append(elapsed)
    return LoopResult(seconds, session.model.accuracy)


def print_results(name: str, results: dict[str, LoopResult]) -> None:
    """One row per loop; ratios are to the plain loop's median round and total, in this run."""
    plain = results["plain"].seconds
    for loop, result in results.items():
        seconds = result.seconds
        median, p95 = median_p95(seconds)
        first, last = statistics.median(seconds[:PHASE]), statistics.median(seconds[-PHASE:])
        print(f"{name:<9} {loop:<9} {median:>7.3f} {p95:>7.3f} {first:>7.3f} {last:>7.3f} "
              f"{median / statistics.median(plain):>7.2f} {sum(seconds):>8.2f} {sum(seconds) / sum(plain):>7.2f} "
              f"{result.accuracy:>8.3f}", flush=True)


def main() -> None:
    parser = bench_parser(__doc__, quick="20 rounds")
    parser.add_argument("--start", type=int, default=10, help="labelled points before the first round")
    parser.add_argument("--rounds", type=int, help="rounds per loop (default 150)")
    args = start_run(parser)
    rounds = args.rounds or (20 if args.quick else 150)
    print(f"{rounds} rounds from {args.start} labels; seconds per round (answer -> next query ready); "
          f"first / last: median of the first / last {PHASE} rounds; x plain: ratio to plain's median / total")
    print(f"{'data':<9} {'loop':<9} {'median':>7} {'p95':>7} {'first':>7} {'last':>7} {'x plain':>7} "
          f"{'total':>8} {'x plain':>7} {'accuracy':>8}")
    for name in args.datasets.split(","):
        dataset = DATASET_LOADERS[name]()
        start = balanced_sample(dataset, args.start)
        template = new_estimator(SessionConfig(dataset=name), dataset)  # the session's network
        print(f"{name}: {training_settings(template)}")
        print_results(name, {
            "plain": run_plain(dataset, template, start, rounds),
            "nudge": run_nudge(dataset, start, rounds, SessionConfig().loss),
            "nudge-ce": run_nudge(dataset, start, rounds, "ce"),
        })
    print_end()


if __name__ == "__main__":
    main()
