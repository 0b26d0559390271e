"""Time every query strategy on growing pools, against one forward pass of the net.

Run: ``.venv/bin/python bench/bench_strategies.py`` (under a minute
on one thread) or ``--full`` for pools up to 10^6 2-D points and 5 * 10^4 384-d
embeddings. For each feature dimension and pool size it prints the median
time of ``select_queries(..., n_instances=10)`` per strategy, and its ratio to
the median time of one ``predict_proba`` over the same pool (skorch's forward
pass, what modAL's uncertainty measures pay). Two extra rows: "module pass",
the network alone on the whole pool as one tensor (no skorch DataLoader), and
"cold start", the k-means coverage queries of an unfitted learner.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from sklearn.base import clone
from threadpoolctl import threadpool_limits

from estimators import DirectionClassifier, pack_targets
from strategies import STRATEGIES, make_learner, select_queries

N_LABELLED = 20
N_QUERIES = 10
POOL_SIZES = {
    2: ([10**3, 10**4, 10**5], [10**3, 10**4, 10**5, 10**6]),
    384: ([10**3, 5 * 10**3, 2 * 10**4], [10**3, 5 * 10**3, 2 * 10**4, 5 * 10**4]),
}


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def labelled_points(n_features: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """N_LABELLED points and packed labels of a random linear concept, both classes present."""
    X = rng.normal(size=(N_LABELLED, n_features)).astype(np.float32)
    labels = (X[:, 0] > 0).astype(int)
    labels[:2] = [0, 1]
    return X, pack_targets(labels, None, n_features=n_features, classes=[0, 1])


def learners(n_features: int, rng: np.random.Generator) -> dict[str, object]:
    """A fitted learner per strategy (one shared net; a committee of 3 for "committee")."""
    estimator = DirectionClassifier(max_epochs=20, random_state=0, classes=[0, 1])
    X, y = labelled_points(n_features, rng)
    shared = make_learner(estimator, X_training=X, y_training=y)
    committee = make_learner(clone(estimator), "committee", X_training=X, y_training=y)
    return {name: committee if name == "committee" else shared for name in STRATEGIES}


def bench_pool(
    n_features: int, size: int, fitted: dict[str, object], repeats: int
) -> list[tuple[str, float]]:
    """(row name, median seconds) for the baselines and every strategy on one random pool."""
    X = np.random.default_rng(size).normal(size=(size, n_features)).astype(np.float32)
    estimator = fitted["boundary"].estimator
    rows = [("predict_proba", median_seconds(lambda: estimator.predict_proba(X), repeats))]
    with torch.no_grad():
        module_pass = partial(estimator.module_, torch.from_numpy(X))
        rows.append(("module pass", median_seconds(module_pass, repeats)))
    unfitted = make_learner(DirectionClassifier(classes=[0, 1]))
    for name, learner in [*fitted.items(), ("cold start", unfitted)]:
        strategy = "boundary" if name == "cold start" else name
        query = partial(select_queries, learner, X, N_QUERIES, strategy, random_state=0)
        rows.append((name, median_seconds(query, repeats)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true", help="also the largest pools")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (median)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    threadpool_limits(1)  # numpy / scikit-learn (k-means) on one thread too
    rng = np.random.default_rng(0)
    print(f"{N_QUERIES} queries per call, median of {args.repeats} runs, one thread")
    print(f"{'n':>4} {'pool':>8}  {'strategy':<14} {'seconds':>9}  {'x predict_proba':>15}")
    for n_features, (default_sizes, full_sizes) in POOL_SIZES.items():
        fitted = learners(n_features, rng)
        for size in full_sizes if args.full else default_sizes:
            rows = bench_pool(n_features, size, fitted, args.repeats)
            forward = rows[0][1]
            for name, seconds in rows:
                ratio = seconds / forward
                print(f"{n_features:>4} {size:>8}  {name:<14} {seconds:>9.4f}  {ratio:>15.2f}")


if __name__ == "__main__":
    main()
