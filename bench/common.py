"""What the benchmarks share: thread settings, machine facts, data sets, pre-filled sessions, timing.

Imported by the scripts in this folder (``python bench/<name>.py`` puts the
folder on ``sys.path``); not part of the product.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import skorch
import torch
from threadpoolctl import threadpool_limits

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import Answer, apply_answer, make_oracle
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import Trainer

ANNOTATOR = "bench"
MOONS_POOL = 10_000  # the 2D pool; moons holds out test_fraction 0.2 on top
MOONS_SAMPLES = MOONS_POOL * 5 // 4


# --------------------------------------------------------------------------- machine


def set_threads(threads: int) -> None:
    """Run torch, numpy and scikit-learn on ``threads`` threads."""
    torch.set_num_threads(threads)
    threadpool_limits(threads)


def load_average() -> str:
    """The 1, 5 and 15 minute load averages: how busy the other cores were."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def code_version() -> str:
    """The repository's commit, with "-dirty" when the work tree has uncommitted changes."""
    described = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                               cwd=Path(__file__).parent)
    return described.stdout.strip() or "unknown (not a git checkout)"


def print_machine(threads: int) -> None:
    """The facts a reader needs to compare runs: code, cores, threads, versions, load."""
    print(f"code: {code_version()}")
    print(
        f"machine: {os.cpu_count()} cores ({platform.machine()}), torch {torch.__version__} on "
        f"{torch.get_num_threads()} thread(s) (asked {threads}), skorch {skorch.__version__}, "
        f"python {platform.python_version()}"
    )
    print(f"load average at start (1/5/15 min): {load_average()}", flush=True)


def training_settings(estimator) -> str:
    """What sets a skorch net's training cost: epochs, batch size, optimiser, network."""
    module = estimator.get_params_for("module")
    return (
        f"max_epochs {estimator.max_epochs}, batch_size {estimator.batch_size}, "
        f"{estimator.optimizer.__name__} lr {estimator.lr}, {estimator.module.__name__} {module or '(defaults)'}"
    )


def bench_parser(doc: str, quick: str | None, datasets: str | None = "moons,cad-imdb") -> argparse.ArgumentParser:
    """A script's command line: its docstring's first line, ``--quick`` (``quick`` says what it does;
    None: the script adds its own), ``--datasets`` (default ``datasets``; None: no such option) and
    ``--threads``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    if quick:
        parser.add_argument("--quick", action="store_true", help=quick)
    if datasets:
        parser.add_argument("--datasets", default=datasets, help=f"comma-separated data sets (default {datasets})")
    parser.add_argument("--threads", type=int, default=1, help="torch / BLAS threads (default 1)")
    return parser


def start_run(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parse the command line, set the threads and print the machine facts."""
    args = parser.parse_args()
    set_threads(args.threads)
    print_machine(args.threads)
    return args


def print_end() -> None:
    print(f"load average at end (1/5/15 min): {load_average()}")


# --------------------------------------------------------------------------- data


def moons_pool() -> Dataset:
    """Moons with a pool of exactly MOONS_POOL points (and a quarter as many held out)."""
    dataset = load_dataset("moons", n_samples=MOONS_SAMPLES)
    assert len(dataset.pool) == MOONS_POOL, len(dataset.pool)
    return dataset


def cad_pool() -> Dataset:
    """The CAD IMDb set (pool: its train split), embedded once and cached."""
    return load_dataset("cad-imdb")


DATASET_LOADERS: dict[str, Callable[[], Dataset]] = {"moons": moons_pool, "cad-imdb": cad_pool}


def balanced_sample(dataset: Dataset, n: int, seed: int = 0) -> np.ndarray:
    """n pool indices drawn at random, half from each class (both classes always present)."""
    rng = np.random.default_rng(seed)
    pool = dataset.pool
    per_class = [rng.permutation(pool[dataset.y[pool] == c]) for c in range(dataset.n_classes)]
    counts = [n // dataset.n_classes + (c < n % dataset.n_classes) for c in range(dataset.n_classes)]
    picked = np.concatenate([members[:count] for members, count in zip(per_class, counts)])
    return rng.permutation(picked)


def filled_session(
    dataset: Dataset, n_labels: int, *, config: SessionConfig | None = None, db: str = "sqlite://",
) -> Session:
    """An untrained session (default settings unless ``config``) holding the exact oracle's answers
    at ``n_labels`` random pool points (:func:`balanced_sample`), in that order."""
    config = config or SessionConfig(dataset=dataset.name)
    quiet = dataclasses.replace(config, retrain_every=n_labels + 1)  # no retrain while filling
    session = Session.create(Store(db), quiet, dataset=dataset)
    oracle = make_oracle("exact", dataset)
    for point in balanced_sample(dataset, n_labels):
        session.relabel(int(point), annotator=ANNOTATOR, **oracle.answer(int(point)).submission())
    return session


def submit_answer(session: Session, query_id: str, answer: Answer) -> None:
    """Submit a simulated annotator's answer to a query as the bench's annotator."""
    apply_answer(session, query_id, answer, annotator=ANNOTATOR)


def prefilled_session(
    dataset: Dataset, n_labels: int, *, config: SessionConfig | None = None,
    db: str = "sqlite://", trainer: Trainer | None = None,
) -> Session:
    """:func:`filled_session` reopened with ``config`` (retrain after every answer by default),
    trained once from scratch on its answers."""
    config = config or SessionConfig(dataset=dataset.name)
    filler = filled_session(dataset, n_labels, config=config, db=db)
    return Session(filler.store, filler.session_id, config, dataset, trainer=trainer)


# --------------------------------------------------------------------------- a server


READY_LINE = "annotate at "
START_TIMEOUT = 600.0  # seconds; the first run of cad-imdb may embed its texts


class ServeProcess:
    """``nudge serve`` in a subprocess; its output is collected by a thread so it never blocks."""

    def __init__(self, arguments: Sequence[str], threads: int) -> None:
        """``nudge serve ARGUMENTS`` on 127.0.0.1 (Gradio picks a free port), ``threads`` torch threads."""
        nudge = Path(sys.executable).with_name("nudge")
        command = [str(nudge), "serve", *arguments, "--host", "127.0.0.1"]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads),
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1"}
        self.started = time.perf_counter()
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, env=env)
        self.lines: list[str] = []
        self._ready = threading.Event()
        threading.Thread(target=self._read_output, daemon=True).start()

    def _read_output(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip())
            if READY_LINE in line:
                self._ready.set()
        self._ready.set()  # the process ended: wake the waiter

    def wait_ready(self) -> str:
        """The served URL, once the server says it listens; raises if it dies or takes too long."""
        if not self._ready.wait(START_TIMEOUT) or self.process.poll() is not None:
            output = "\n".join(self.lines[-20:])
            raise RuntimeError(f"nudge serve did not come up (exit code {self.process.poll()}):\n{output}")
        ready = next(line for line in self.lines if READY_LINE in line)
        return ready.split(READY_LINE)[1].split()[0]

    def stop(self) -> None:
        """Terminate the server (and kill it if it does not stop within 20 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --------------------------------------------------------------------------- timing


def timed(run: Callable[[], object]) -> tuple[object, float]:
    """(what ``run`` returned, seconds it took)."""
    start = time.perf_counter()
    result = run()
    return result, time.perf_counter() - start


def median_seconds(run: Callable[[], object], repeats: int) -> float:
    """Median wall time of ``repeats`` calls of ``run``."""
    return statistics.median(timed(run)[1] for _ in range(repeats))


def median_p95(seconds: Sequence[float]) -> tuple[float, float]:
    """Median and 95th percentile (linear interpolation) of the timings."""
    return statistics.median(seconds), float(np.percentile(seconds, 95))
