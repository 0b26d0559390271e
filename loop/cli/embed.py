"""``nudge embed``: embed a text data set into the cache ahead of serving, resumably."""

from __future__ import annotations

import argparse
import time

from nudge.estimators.backends import DEFAULT_BACKEND, ENCODER_BACKENDS
from nudge.estimators.encoder_registry import make_text_encoder
from nudge.loop.cli.args import add_dataset_arguments, add_engine_arguments, dataset_options
from nudge.loop.compute.embedding import CHUNK_SIZE, EmbeddingJob, run_with_bar
from nudge.loop.compute.engines import make_engine
from nudge.loop.compute.matrix import embedding_matrix, matrix_path
from nudge.loop.datasets.text_checks import check_text_file
from nudge.loop.datasets.texts import texts_to_embed


def add_embed(subparsers) -> None:
    """``nudge embed``: the command line of :func:`run_embed`."""
    parser = subparsers.add_parser(
        "embed", help="embed a text data set into the cache ahead of serving, resumably",
        description="Embed every text of a data set (texts and counterfactual revisions) into nudge's "
        "embedding cache, in chunks: an interrupted run resumes where it stopped. Then writes the "
        "memory-mapped matrix that loading the data set opens.",
    )
    add_dataset_arguments(parser, default="cad-imdb")
    parser.add_argument("--backend", choices=tuple(ENCODER_BACKENDS), default=DEFAULT_BACKEND,
                        help=f"how the text encoder runs (default {DEFAULT_BACKEND})")
    add_engine_arguments(parser, "where to embed: this process, or a Dask cluster")
    parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE, help=f"texts per chunk (default {CHUNK_SIZE})")
    parser.add_argument("--threads", type=int, default=1, help="encoder threads here and on each worker (default 1)")
    parser.set_defaults(run=run_embed)


def run_embed(args: argparse.Namespace) -> int:
    import torch

    if args.threads < 1:
        raise ValueError(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    kind, _, path = args.dataset.partition(":")
    if kind == "text-csv" and path.strip():
        check_text_file(path)
    options = dataset_options(args)
    name, texts = texts_to_embed(args.dataset, **options)
    if not texts:
        raise ValueError(f"{name} has no texts to embed (only text data sets do)")
    encoder = make_text_encoder(options.get("encoder"), backend=args.backend, threads=args.threads)
    engine = make_engine(args.engine, args.address)
    try:
        started = time.perf_counter()
        job = EmbeddingJob(texts, encoder, engine=engine, chunk_size=args.chunk_size,
                           worker_threads=args.threads)
        print(f"{name}: {len(set(texts)):,} distinct texts; encoder {encoder.name} ({args.backend}"
              f"{', ' + encoder.dtype if args.backend == DEFAULT_BACKEND else ''}), "
              f"{engine.name} engine ({engine.workers()} worker(s))", flush=True)
        progress = run_with_bar(job)
    finally:
        engine.close()
    matrix = embedding_matrix(encoder, texts)
    print(f"{progress.describe()}: {progress.done - progress.cached:,} embedded in "
          f"{time.perf_counter() - started:.1f} s, {progress.cached:,} were already in the cache; "
          f"matrix {matrix.shape[0]:,} x {matrix.shape[1]} float32 at {matrix_path(encoder, texts)}")
    return 0
