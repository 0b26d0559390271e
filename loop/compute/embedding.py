"""Embedding a pool's texts: a chunked, resumable job whose progress other threads can poll.

:class:`EmbeddingJob` embeds the texts that the encoder's content-addressed
cache lacks, ``chunk_size`` texts at a time, through an engine
(:mod:`nudge.loop.compute.engine`: this process or a Dask cluster). Every finished chunk is
committed to the cache before the next is counted as done, so a run stopped in
any way (Ctrl+C, kill -9, a lost worker) loses at most the chunks in flight,
and the next run embeds only what is still missing.

``job.start()`` runs it on a background thread; ``job.progress()`` is a
consistent snapshot (:class:`EmbeddingProgress`: done, total, rate, time
left, error) that a page can poll while it waits for the pool.

:func:`embed_texts` runs a job for a data set loader and opens the vectors as
a memory-mapped matrix (:mod:`nudge.loop.compute.matrix`). Command line:
``nudge embed`` (:mod:`nudge.loop.cli.embed`).
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import closing
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from tqdm.auto import tqdm

from nudge.estimators.backends import DEFAULT_BACKEND, make_encoder
from nudge.estimators.encoder_registry import make_text_encoder
from nudge.estimators.encoders import SentenceEncoder, TextEncoder
from nudge.loop.compute.engine import Engine, Held, LocalEngine
from nudge.loop.compute.matrix import embedding_matrix, matrix_path

CHUNK_SIZE = 256  # texts per chunk: a few seconds of work for one worker thread
Stage = Literal["waiting", "checking", "embedding", "done", "failed", "cancelled"]


@dataclass(frozen=True)
class EmbeddingProgress:
    """A snapshot of an :class:`EmbeddingJob`.

    ``done`` of ``total`` distinct texts are in the cache (``cached`` of them
    were there when the job started, and count as done); ``rate`` is texts per second embedded by this
    run (None before its first chunk); ``seconds_left`` the estimate from it;
    ``error`` the one-line reason when ``stage`` is ``"failed"``.
    """

    stage: Stage
    done: int
    total: int
    cached: int = 0
    rate: float | None = None
    seconds_left: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.stage in ("done", "failed", "cancelled")

    def describe(self) -> str:
        """One line for a page or a log, e.g. ``embedding: 1,024 of 4,877 texts, 31.5/s, 2 min 2 s left``."""
        line = f"{self.stage}: {self.done:,} of {self.total:,} texts"
        if self.rate:
            line += f", {self.rate:.1f}/s"
        if self.seconds_left is not None and not self.finished:
            minutes, seconds = divmod(round(self.seconds_left), 60)
            line += f", {minutes} min {seconds} s left" if minutes else f", {seconds} s left"
        return line + (f" ({self.error})" if self.error else "")


@dataclass(frozen=True)
class EncoderSpec:
    """How a worker builds the client's encoder (picklable; a :class:`~nudge.loop.compute.engine.Held` builder).

    ``name``, a registered model (:mod:`nudge.estimators.encoder_registry`), is found or built on the
    worker itself, as is the shipped model when ``model`` is None; ``identity`` is the client's
    model identity: a worker whose files differ refuses to embed, so vectors of two models never
    meet in one cache.
    """

    backend: str
    model: str | None
    batch_size: int
    threads: int
    identity: str
    name: str | None = None
    dtype: str = "float32"

    @classmethod
    def of(cls, encoder: SentenceEncoder, threads: int = 1) -> EncoderSpec:
        model = None if encoder.model is None else str(encoder.model_path)
        return cls(encoder.backend, model, encoder.batch_size, threads, encoder.model_id, encoder.name, encoder.dtype)

    def __call__(self) -> SentenceEncoder:
        import torch

        torch.set_num_threads(self.threads)
        options = {"batch_size": self.batch_size, "threads": self.threads}
        if self.backend == DEFAULT_BACKEND:
            options["dtype"] = self.dtype
        if self.name is not None:
            encoder = make_text_encoder(self.name, backend=self.backend, **options)
        else:
            encoder = make_encoder(self.backend, model=self.model, **options)
        if encoder.model_id != self.identity:
            raise ValueError(
                f"worker {socket.gethostname()}: its {self.backend} model differs from the client's "
                f"(identity {encoder.model_id[:12]} against {self.identity[:12]}); install the same model there"
            )
        return encoder


def _embed_chunk(encoder: SentenceEncoder, texts: list[str]) -> np.ndarray:
    """A chunk's task: (len(texts), d) float32 vectors, computed by the worker's encoder."""
    return encoder.embed_uncached(texts)


class EmbeddingJob:
    """Embed ``texts`` into ``encoder``'s cache in chunks, through ``engine``; see the module docstring.

    Parameters
    ----------
    texts : the texts (duplicates are embedded once).
    encoder : a :class:`~nudge.estimators.encoders.SentenceEncoder` (any backend); its cache is written here.
    engine : where chunks run. Default None: :class:`~nudge.loop.compute.engine.LocalEngine`, with ``encoder`` itself.
    chunk_size : texts per chunk (the unit of resumption). Default 256.
    worker_threads : torch / ONNX Runtime threads on each cluster worker. Default 1.
    """

    def __init__(
        self,
        texts: Sequence[str],
        encoder: SentenceEncoder,
        *,
        engine: Engine | None = None,
        chunk_size: int = CHUNK_SIZE,
        worker_threads: int = 1,
    ) -> None:
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        self.texts = list(texts)
        self.encoder = encoder
        self.engine = engine or LocalEngine()
        self.chunk_size = chunk_size
        self.worker_threads = worker_threads
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._progress = EmbeddingProgress("waiting", 0, len(set(self.texts)))

    def progress(self) -> EmbeddingProgress:
        """The current snapshot; safe to call from any thread."""
        with self._lock:
            return self._progress

    def _update(self, **changes) -> EmbeddingProgress:
        with self._lock:
            self._progress = replace(self._progress, **changes)
            return self._progress

    def run(self, on_progress: Callable[[EmbeddingProgress], None] | None = None) -> EmbeddingProgress:
        """Embed every missing text, here and now; ``on_progress`` sees each snapshot.

        Raises ValueError (with the reason) when a chunk fails; the chunks
        finished before it stay in the cache.
        """
        notify = on_progress or (lambda progress: None)
        try:
            notify(self._update(stage="checking"))
            missing = list(self.encoder.missing(self.texts).items())
            cached = self.progress().total - len(missing)
            notify(self._update(stage="embedding", done=cached, cached=cached))
            self._embed(missing, notify)
        except Exception as error:
            notify(self._update(stage="failed", error=_one_line(error)))
            raise ValueError(f"embedding failed: {_one_line(error)}") from error
        stage = "cancelled" if self._stop.is_set() else "done"
        progress = self._update(stage=stage, seconds_left=None if stage == "cancelled" else 0.0)
        notify(progress)
        return progress

    def _embed(self, missing: list[tuple[bytes, str]], notify: Callable[[EmbeddingProgress], None]) -> None:
        chunks = [missing[start : start + self.chunk_size] for start in range(0, len(missing), self.chunk_size)]
        started, embedded, done = time.perf_counter(), 0, self.progress().done
        texts = ([text for _, text in chunk] for chunk in chunks)
        with closing(self.engine.map(_embed_chunk, texts, self._held())) as finished:
            for index, vectors in finished:
                keys = [key for key, _ in chunks[index]]
                self.encoder.store(keys, vectors)
                embedded, done = embedded + len(keys), done + len(keys)
                rate = embedded / max(time.perf_counter() - started, 1e-9)
                left = (len(missing) - embedded) / rate
                notify(self._update(done=done, rate=rate, seconds_left=left))
                if self._stop.is_set():
                    break

    def _held(self) -> Held:
        name = f"nudge-encoder-{self.encoder.backend}-{self.encoder.model_id[:16]}"
        if self.engine.distributed:
            return Held(name, EncoderSpec.of(self.encoder, self.worker_threads))
        return Held.of(name, self.encoder)

    def start(self) -> EmbeddingJob:
        """Run on a background thread (daemon); poll :meth:`progress`, or :meth:`wait`."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._run_quietly, name="nudge-embedding", daemon=True)
            self._thread.start()
        return self

    def _run_quietly(self) -> None:
        try:
            self.run()
        except ValueError:
            pass  # the error is in the progress snapshot

    def cancel(self) -> None:
        """Stop after the chunk that is finishing (what is done stays in the cache)."""
        self._stop.set()

    def wait(self, timeout: float | None = None) -> EmbeddingProgress:
        """Wait for a started job (at most ``timeout`` seconds); the snapshot then."""
        if self._thread is not None:
            self._thread.join(timeout)
        return self.progress()


def _one_line(error: BaseException) -> str:
    text = " ".join(str(error).split()) or type(error).__name__
    return text if isinstance(error, ValueError) else f"{type(error).__name__}: {text}"


def embed_texts(encoder: TextEncoder, texts: Sequence[str]) -> np.ndarray:
    """(N, d) vectors of ``texts``: for a :class:`SentenceEncoder`, embedded by an
    :class:`EmbeddingJob` (with a console bar when more than a chunk is missing)
    and memory-mapped from :func:`embedding_matrix`; any other encoder's ``encode``."""
    if not isinstance(encoder, SentenceEncoder):
        return encoder.encode(texts)
    if not texts:
        return encoder.encode(texts)
    if not matrix_path(encoder, texts).is_file():
        run_with_bar(EmbeddingJob(texts, encoder), quiet_below=CHUNK_SIZE)
    return embedding_matrix(encoder, texts)


def run_with_bar(job: EmbeddingJob, quiet_below: int = 0) -> EmbeddingProgress:
    """Run ``job`` here with a tqdm bar (texts done, rate, time left); no bar for fewer than
    ``quiet_below`` missing texts."""
    bar: tqdm | None = None

    def show(progress: EmbeddingProgress) -> None:
        nonlocal bar
        if progress.stage == "embedding" and bar is None:
            left = progress.total - progress.done
            bar = tqdm(total=progress.total, initial=progress.done, desc="Embedding texts", unit="text",
                       disable=left < max(quiet_below, 1), smoothing=0.1)
        elif bar is not None:
            bar.update(progress.done - bar.n)

    try:
        return job.run(show)
    finally:
        if bar is not None:
            bar.close()
