"""Does concatenating e5-small and mpnet embeddings beat e5-small alone on CAD IMDb (logistic regression)?

Run: ``OMP_NUM_THREADS=1 .venv/bin/python bench/bench_encoder_pairs.py`` (a few minutes once both
encoders' CAD embeddings are cached; embedding CAD with mpnet takes about an hour of one core the
first time). ``--encoders e5-small`` for a quick check of one encoder.

Features: each encoder's vectors (originals and revisions) L2-normalised; "concat" = [e5 | mpnet].
LogisticRegression, C from {0.1, 1, 10, 100, 1000} chosen per configuration (encoder x training
set) by mean accuracy on the dev originals over the seeds (ties: smaller C). Test accuracy on the
original test reviews and on their revisions (label flipped; = data.extra_tests["revised"]).
Settings: all train originals; 200 / 50 random train originals (seed s:
np.random.default_rng(s).permutation(data.pool)[:n]), 10 seeds, with and without their revisions
as extra examples of the opposite class. Mean +- 95% t half-width over seeds; also the paired
difference concat - e5 (same seeds, same points). Then one-thread embedding speed of the two
encoders on the same 64 texts (after warm-up; uncached).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from bench_quality import interval
from common import load_average, set_threads
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from nudge.loop.datasets import load_dataset
from nudge.loop.datasets.texts import text_encoder

CS = (0.1, 1, 10, 100, 1000)


def l2(a: np.ndarray) -> np.ndarray:
    return a / np.linalg.norm(a, axis=1, keepdims=True).clip(1e-12)


def training_set(X, CX, y, index, augment):
    rows, labels = [X[index]], [y[index]]
    if augment:
        revised = CX[index]
        has = np.isfinite(revised).all(axis=1)
        rows.append(revised[has])
        labels.append(1 - y[index][has])
    return np.concatenate(rows), np.concatenate(labels)


def half_width(values: np.ndarray) -> float:
    return interval(np.asarray(values, dtype=float))[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoders", default="e5-small,mpnet", help="one or two, the first e5-small")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3, help="timing rounds")
    args = parser.parse_args()
    encoders_named, seeds_used, rounds = args.encoders.split(","), range(args.seeds), args.rounds
    set_threads(1)
    warnings.filterwarnings("ignore", category=ConvergenceWarning)
    start = time.time()
    data = {enc: load_dataset("cad-imdb", encoder=enc) for enc in encoders_named}
    e5 = data[encoders_named[0]]
    for other in data.values():
        assert e5.item_ids == other.item_ids and (e5.y == other.y).all()
        assert all((getattr(e5, s) == getattr(other, s)).all() for s in ("pool", "dev", "test"))
    y, pool, dev, test = e5.y, e5.pool, e5.dev, e5.test
    feats = {enc: (l2(d.X), l2(d.counterfactual_X)) for enc, d in data.items()}
    if len(feats) == 2:
        feats["concat"] = tuple(np.hstack([feats["e5-small"][i], feats["mpnet"][i]]) for i in range(2))
    # revised test set as the loader defines it
    rx, ry = e5.extra_tests["revised"]
    assert np.allclose(rx, e5.counterfactual_X[test]) and (ry == 1 - y[test]).all()
    print(f"CAD IMDb: {len(pool)} train originals, {len(dev)} dev, {len(test)} test "
          f"(+ {np.isfinite(e5.counterfactual_X[test]).all(axis=1).sum()} revised test); "
          f"dims {', '.join(f'{k} {d.X.shape[1]}' for k, d in data.items())}; loaded in {time.time() - start:.0f}s", flush=True)

    settings = [("all originals", None, False, [0]),
                ("200", 200, False, seeds_used), ("200 + revisions", 200, True, seeds_used),
                ("50", 50, False, seeds_used), ("50 + revisions", 50, True, seeds_used)]
    results = {}  # (setting, encoder) -> dict(C, orig list, rev list)
    for name, n, augment, seeds in settings:
        for enc, (X, CX) in feats.items():
            dev_acc = {C: [] for C in CS}
            test_acc = {C: ([], []) for C in CS}
            for seed in seeds:
                index = pool if n is None else np.random.default_rng(seed).permutation(pool)[:n]
                Xt, yt = training_set(X, CX, y, index, augment)
                for C in CS:
                    model = LogisticRegression(C=C, max_iter=5000).fit(Xt, yt)
                    dev_acc[C].append(np.mean(model.predict(X[dev]) == y[dev]))
                    test_acc[C][0].append(np.mean(model.predict(X[test]) == y[test]))
                    test_acc[C][1].append(np.mean(model.predict(CX[test]) == 1 - y[test]))
            best = max(CS, key=lambda C: (np.mean(dev_acc[C]), -C))
            results[name, enc] = {"C": best, "dev": np.mean(dev_acc[best]),
                                  "orig": np.array(test_acc[best][0]) * 100,
                                  "rev": np.array(test_acc[best][1]) * 100}
            r = results[name, enc]
            print(f"  done {name:16} {enc:9} C={best:<6} dev {100 * r['dev']:.1f} "
                  f"[{time.time() - start:.0f}s]", file=sys.stderr, flush=True)

    def cell(v):
        return f"{v.mean():5.1f} ± {half_width(v):3.1f}" if len(v) > 1 else f"{v.mean():5.1f}      "

    print(f"\nTest accuracy, % (mean ± 95% t half-width over {len(seeds_used)} seeds; 'all originals' is one fit). "
          "C chosen per row on mean dev-original accuracy.")
    print(f"{'training set':17} {'encoder':9} {'C':>6} {'dev':>5}   {'original test':>13}   {'revised test':>12}")
    for name, *_ in settings:
        for enc in feats:
            r = results[name, enc]
            print(f"{name:17} {enc:9} {r['C']:>6} {100 * r['dev']:5.1f}   {cell(r['orig']):>13}   {cell(r['rev']):>12}")
        print()
    if "concat" not in feats:
        return
    print("Paired difference concat - e5-small (same seeds), percentage points, mean ± 95% t half-width:")
    for name, *_ in settings:
        a, b = results[name, "concat"], results[name, "e5-small"]
        do, dr = a["orig"] - b["orig"], a["rev"] - b["rev"]
        wins = f"  (concat better on orig in {int((do > 0).sum())}/{len(do)} seeds, worse in {int((do < 0).sum())})" \
            if len(do) > 1 else ""
        print(f"  {name:17} original {do.mean():+5.1f} ± {half_width(do):3.1f}   revised {dr.mean():+5.1f} ± "
              f"{half_width(dr):3.1f}{wins}")

    # timing: the same 64 texts (test originals), uncached, one thread, after warm-up; alternate 3 rounds
    texts = [e5.texts[i] for i in test[:64]]
    encoders = {"e5-small": text_encoder("e5-small"), "mpnet": text_encoder("mpnet")}
    for enc in encoders.values():
        enc.embed_uncached(texts[:8])  # warm-up
    times = {k: [] for k in encoders}
    for _ in range(rounds):
        for k, enc in encoders.items():
            t0 = time.perf_counter()
            enc.embed_uncached(texts)
            times[k].append(time.perf_counter() - t0)
    print(f"\nEmbedding speed, one thread, 64 test originals "
          f"(mean {np.mean([len(t) for t in texts]):.0f} chars), best of {rounds} alternating rounds "
          f"(all rounds in s): ")
    for k in encoders:
        print(f"  {k:9} dtype {encoders[k].dtype:9} {64 / min(times[k]):5.1f} texts/s   "
              f"rounds {', '.join(f'{t:.1f}' for t in times[k])}")
    ratio = min(times["mpnet"]) / min(times["e5-small"])
    print(f"  mpnet costs {ratio:.2f}x e5-small per text; concat costs {1 + ratio:.2f}x e5-small alone")
    print(f"load average at end: {load_average()}")


if __name__ == "__main__":
    main()
