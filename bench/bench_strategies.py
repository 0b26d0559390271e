"""Query scoring time against pool size, for every strategy, against one bare forward pass.

Run: ``.venv/bin/python bench/bench_strategies.py`` (under a minute on one
thread), ``--quick`` (seconds) or ``--full`` (pools of 10^3 .. 10^6 2-D points
and 10^3 .. 5 * 10^4 384-d embeddings; a few minutes). For each feature
dimension and pool size (random normal points; the cost does not depend on
the values) it prints the time of ``select_queries(..., n_instances=10)``
per strategy (the fastest of ``--repeats`` runs, the least disturbed by other
processes), with a net trained on 20 labelled points, and its ratio to the
floor: "module pass", the network alone over the pool under ``no_grad``, in
the 65,536-row chunks ``DirectionClassifier`` predicts in. Two extra rows: ``predict_proba`` (what modAL's uncertainty
measures call) and "cold start" (the k-means coverage queries of an unfitted
learner).

Then, per dimension, the growth check: milliseconds per 1000 pool points at
each size (constant = linear growth; the smallest pools are dominated by
fixed costs) and the ratio of the largest pool's to the second size's, and
the target: scoring within 3x of the bare forward pass at the largest pool.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch
from common import bench_parser, print_end, start_run, timed
from sklearn.base import clone

from nudge.estimators import DirectionClassifier, pack_targets
from nudge.strategies import STRATEGIES, make_learner, select_queries

N_LABELLED = 20
N_QUERIES = 10
FLOOR = "module pass"
CHUNK = 65536  # rows per forward pass, as DirectionClassifier.logits
TARGET_RATIO = 3.0  # the target: scoring within 3x of a bare forward pass
POOL_SIZES = {  # n_features -> pool sizes by run length
    2: {"quick": [10**3, 10**4], "default": [10**3, 10**4, 10**5], "full": [10**3, 10**4, 10**5, 10**6]},
    384: {"quick": [10**3, 5 * 10**3], "default": [10**3, 5 * 10**3, 2 * 10**4],
          "full": [10**3, 5 * 10**3, 2 * 10**4, 5 * 10**4]},
}


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


def bare_forward(module: torch.nn.Module, X: np.ndarray) -> None:
    """The floor: the network alone over the pool, in CHUNK-row pieces under no_grad (one tensor
    of 10^6 rows is slower: its (N, hidden) activations leave the cache)."""
    with torch.no_grad():
        for start in range(0, len(X), CHUNK):
            module(torch.from_numpy(X[start : start + CHUNK]))


def fastest_seconds(run, repeats: int) -> float:
    """The fastest of ``repeats`` runs: the least disturbed by other processes on the machine."""
    return min(timed(run)[1] for _ in range(repeats))


def bench_pool(n_features: int, size: int, fitted: dict[str, object], repeats: int) -> dict[str, float]:
    """Median seconds per row name (the floor, predict_proba, every strategy, cold start) on one pool."""
    X = np.random.default_rng(size).normal(size=(size, n_features)).astype(np.float32)
    estimator = fitted["boundary"].estimator
    seconds = {FLOOR: fastest_seconds(partial(bare_forward, estimator.module_, X), repeats)}
    seconds["predict_proba"] = fastest_seconds(partial(estimator.predict_proba, X), repeats)
    unfitted = make_learner(DirectionClassifier(classes=[0, 1]))
    for name, learner in [*fitted.items(), ("cold start", unfitted)]:
        strategy = "boundary" if name == "cold start" else name
        query = partial(select_queries, learner, X, N_QUERIES, strategy, random_state=0)
        seconds[name] = fastest_seconds(query, repeats)
    return seconds


def print_growth(n_features: int, by_size: dict[int, dict[str, float]]) -> None:
    """Milliseconds per 1000 points per size, the growth ratio and the 3x target at the largest pool."""
    sizes = sorted(by_size)
    largest, reference = sizes[-1], sizes[min(1, len(sizes) - 2)]
    print(f"\ngrowth, n = {n_features}: ms per 1000 pool points; 'growth' = per-1000 cost at "
          f"{largest} / at {reference} (1.0 = linear); target at {largest}: within {TARGET_RATIO:g}x the {FLOOR}")
    print(f"{'strategy':<14} " + " ".join(f"{size:>9}" for size in sizes) + f"  {'growth':>6}  target")
    for name in by_size[largest]:
        per_1000 = [1000 * by_size[size][name] / size * 1000 for size in sizes]
        growth = per_1000[-1] / per_1000[sizes.index(reference)]
        ratio = by_size[largest][name] / by_size[largest][FLOOR]
        verdict = "pass" if ratio <= TARGET_RATIO else f"MISS by {ratio - TARGET_RATIO:.2f}x"
        print(f"{name:<14} " + " ".join(f"{ms:>9.3f}" for ms in per_1000) + f"  {growth:>6.2f}  {ratio:5.2f}x {verdict}")


def main() -> None:
    parser = bench_parser(__doc__, quick=None, datasets=None)
    length = parser.add_mutually_exclusive_group()
    length.add_argument("--quick", action="store_true", help="the two smallest pools of each dimension")
    length.add_argument("--full", action="store_true", help="pools up to 10^6 2-D points, 5 * 10^4 embeddings")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per row (the fastest counts; default 5)")
    args = start_run(parser)
    run_length = "quick" if args.quick else "full" if args.full else "default"
    rng = np.random.default_rng(0)
    print(f"{N_QUERIES} queries per call, fastest of {args.repeats} run(s), net trained on {N_LABELLED} points")
    print(f"{'n':>4} {'pool':>8}  {'row':<14} {'seconds':>9}  {'x ' + FLOOR:>13}")
    for n_features, sizes in POOL_SIZES.items():
        fitted = learners(n_features, rng)
        by_size = {}
        for size in sizes[run_length]:
            by_size[size] = seconds = bench_pool(n_features, size, fitted, args.repeats)
            for name, value in seconds.items():
                print(f"{n_features:>4} {size:>8}  {name:<14} {value:>9.4f}  {value / seconds[FLOOR]:>13.2f}",
                      flush=True)
        print_growth(n_features, by_size)
        print()
    print_end()


if __name__ == "__main__":
    main()
