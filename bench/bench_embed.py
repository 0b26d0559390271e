"""Embedding throughput on CAD reviews: torch on 1 and 2 threads, int8 ONNX, and the Dask engine
with 1 and 2 workers, in one run; and how far the int8 vectors are from torch's.

Run: ``.venv/bin/python bench/bench_embed.py`` (512 train reviews, evenly spread;
``--quick``: 64; ``--texts N``). Every row embeds the same reviews with
nothing cached (``embed_uncached``, or an :class:`~nudge.loop.compute.embedding.EmbeddingJob`
on an empty cache for the engine rows), after a warm-up that loads the model,
so model loading is not counted; texts/s is the median of ``--repeats`` runs,
taken in rounds that run every in-process encoder in turn, and beside it the
texts per CPU second of this process (what a text costs, whatever else runs).
The engine rows start a real loopback Dask cluster (scheduler and workers as
processes, one thread each) and stop it after. Prints the load average at
start and end: on this shared 2-core machine the 2-thread and 2-worker rows
can only gain when the other core is free.
"""

from __future__ import annotations

import statistics
import tempfile
import time

import numpy as np
import torch
from common import bench_parser, load_average, print_end, start_run

from nudge.estimators.backends import make_encoder
from nudge.loop.compute.embedding import EmbeddingJob
from nudge.loop.compute.engines import make_engine
from nudge.loop.datasets import find_cad_dir, read_cad_pairs, spread

IN_PROCESS = (("torch", 1), ("torch", 2), ("onnx-int8", 1), ("onnx-int8", 2))


def timed_run(run, texts: list[str]) -> tuple[float, float, object]:
    """(wall seconds, this process's CPU seconds, result) of ``run(texts)``."""
    wall, cpu = time.perf_counter(), time.process_time()
    result = run(texts)
    return time.perf_counter() - wall, time.process_time() - cpu, result


def in_process(texts: list[str], repeats: int) -> tuple[dict, dict]:
    """Per (backend, threads): median texts/s (wall) and texts per CPU second, over ``repeats``
    rounds that take the encoders in turn (so a change of load hits them all alike); and vectors."""
    encoders = {}
    for backend, threads in IN_PROCESS:
        torch.set_num_threads(threads)
        encoders[backend, threads] = make_encoder(backend, threads=threads, cache_dir=tempfile.mkdtemp())
        encoders[backend, threads].embed_uncached(texts[:8])  # warm-up: load the model
    walls = {key: [] for key in encoders}
    cpus = {key: [] for key in encoders}
    vectors = {}
    for _ in range(repeats):
        for (backend, threads), encoder in encoders.items():
            torch.set_num_threads(threads)
            wall, cpu, vectors[backend, threads] = timed_run(encoder.embed_uncached, texts)
            walls[backend, threads].append(wall)
            cpus[backend, threads].append(cpu)
    speeds = {key: (len(texts) / statistics.median(walls[key]), len(texts) / statistics.median(cpus[key]))
              for key in encoders}
    return speeds, vectors


def on_cluster(workers: int, texts: list[str], repeats: int, chunk_size: int) -> float:
    from nudge.loop.compute.dask_engine import loopback_cluster

    with loopback_cluster(workers=workers, threads=1) as address:
        engine = make_engine("dask", address)
        try:
            def job(batch: list[str]) -> None:
                EmbeddingJob(batch, make_encoder("torch", cache_dir=tempfile.mkdtemp()), engine=engine,
                             chunk_size=chunk_size).run()

            job([f"warm-up {i}" for i in range(2 * workers * chunk_size)])  # every worker loads the model
            walls = [timed_run(job, texts)[0] for _ in range(repeats)]
            return len(texts) / statistics.median(walls)
        finally:
            engine.close()


def main() -> None:
    parser = bench_parser(__doc__, "64 reviews, one repeat", datasets=None)
    parser.add_argument("--texts", type=int, default=512, help="reviews to embed (default 512)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (default 3)")
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    args = start_run(parser)
    count, repeats = (64, 1) if args.quick else (args.texts, args.repeats)
    pairs = spread(read_cad_pairs(find_cad_dir(args.data_dir) / "train_paired.tsv"), count)
    texts = [pair.original for pair in pairs]
    chunk_size = max(8, count // 16)
    print(f"{len(texts)} CAD train reviews, mean {np.mean([len(t) for t in texts]):.0f} characters; "
          f"batch 32; engine chunks of {chunk_size}", flush=True)
    speeds, vectors = in_process(texts, repeats)
    rows = [(f"{backend}, {threads} thread(s), this process", *speeds[backend, threads], load_average())
            for backend, threads in IN_PROCESS]
    torch.set_num_threads(args.threads)
    for workers in (1, 2):
        speed = on_cluster(workers, texts, repeats, chunk_size)
        rows.append((f"dask engine, {workers} worker(s) x 1 thread, torch", speed, None, load_average()))
    base = rows[0][1]
    print("\n| encoder | texts/s | x torch 1 thread | texts per CPU second here | load (1/5/15 min) after |")
    print("| --- | ---: | ---: | ---: | --- |")
    for name, speed, per_cpu, load in rows:
        cpu = "" if per_cpu is None else f"{per_cpu:.1f}"
        print(f"| {name} | {speed:.1f} | {speed / base:.2f} | {cpu} | {load} |")
    reference, int8 = vectors["torch", 1], vectors["onnx-int8", 1]
    cosine = np.einsum("ij,ij->i", reference, int8)
    print(f"\ncosine(torch, onnx-int8) over these {len(texts)} reviews: mean {cosine.mean():.4f}, "
          f"min {cosine.min():.4f}; torch 1 vs 2 threads: max |difference| "
          f"{np.abs(vectors['torch', 1] - vectors['torch', 2]).max():.1e}")
    print_end()


if __name__ == "__main__":
    main()
