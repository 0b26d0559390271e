"""Where a neighbour graph beats an exact scan: search time against pool size, exact and HNSW.

Run: ``.venv/bin/python bench/bench_neighbours.py`` (pools of 10^3..3*10^5 384-d
points; ``--quick``: up to 3*10^4). Two kinds of points: ``random``, unit
vectors drawn uniformly (the scan's cost does not depend on the values; the
graph's recall is at its worst on them) and ``cad-like``, the 4,880 real CAD
embeddings (MiniLM, torch) each repeated with small Gaussian noise and
renormalised, so the pool has the clustered structure of real text. Per kind and pool size: the median time of one
query for 40 neighbours (what a projection asks), the exact scan
(:class:`nudge.loop.compute.neighbours.ExactIndex`) against FAISS HNSW
(:class:`nudge.loop.compute.neighbours.HnswIndex`, built once: its build time is printed
apart, and is paid once per pool); the HNSW recall against the exact answer;
and which is faster. ``nudge.loop.compute.neighbours.EXACT_BELOW`` is set from this table.
"""

from __future__ import annotations

import faiss
import numpy as np
from common import bench_parser, median_seconds, print_end, start_run, timed

from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.compute.neighbours import EXACT_BELOW, ExactIndex, HnswIndex
from nudge.loop.datasets import load_dataset

DIMENSION = 384
K = 40
QUERIES = 20


def unit_rows(rng: np.random.Generator, n: int) -> np.ndarray:
    rows = rng.standard_normal((n, DIMENSION)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def cad_like(rng: np.random.Generator, n: int, data_dir: str | None) -> np.ndarray:
    """n points around the real CAD embeddings: each a real one plus noise, renormalised."""
    data = load_dataset("cad-imdb", encoder=SentenceEncoder(), **({"data_dir": data_dir} if data_dir else {}))
    real = np.concatenate([data.X, data.counterfactual_X])
    rows = real[rng.integers(0, len(real), n)] + 0.02 * rng.standard_normal((n, real.shape[1])).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def main() -> None:
    parser = bench_parser(__doc__, "pools up to 3*10^4", datasets="random,cad-like")
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    args = start_run(parser)
    faiss.omp_set_num_threads(args.threads)
    sizes = (1_000, 10_000, 30_000) if args.quick else (1_000, 10_000, 30_000, 100_000, 300_000)
    rng = np.random.default_rng(0)
    print(f"{DIMENSION}-d unit vectors, k = {K}, median of {QUERIES} single queries; EXACT_BELOW = {EXACT_BELOW:,}")
    print(f"| points | pool | exact ms | HNSW ms | HNSW build s | recall@{K} | faster |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | --- |")
    for kind, size in ((kind, size) for kind in args.datasets.split(",") for size in sizes):
        X = unit_rows(rng, size) if kind == "random" else cad_like(rng, size, args.data_dir)
        queries = X[rng.choice(size, QUERIES, replace=False)] + 0.05 * unit_rows(rng, QUERIES)
        exact = ExactIndex(X)
        graph, build = timed(lambda: HnswIndex(X))
        exact_ms = 1000 * median_seconds(lambda: exact.search(queries[0], K), 3)
        found = [exact.search(q, K)[1][0] for q in queries[:5]]
        graph_times = [timed(lambda q=q: graph.search(q, K))[1] for q in queries]
        approximate = [graph.search(q, K)[1][0] for q in queries[:5]]
        recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(found, approximate)])
        graph_ms = 1000 * float(np.median(graph_times))
        faster = "HNSW" if graph_ms < exact_ms else "exact"
        print(f"| {kind} | {size:,} | {exact_ms:.2f} | {graph_ms:.2f} | {build:.1f} | {recall:.3f} | {faster} |", flush=True)
    print_end()


if __name__ == "__main__":
    main()
