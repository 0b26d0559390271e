"""Peak memory of ``nudge serve``: a real server process driven through its API.

Run: ``.venv/bin/python bench/bench_memory.py`` (under a minute; 20 rounds)
or ``--quick`` (5 rounds). For each data set (default the CAD IMDb set) it
starts ``nudge serve --dataset NAME`` in a subprocess (Gradio picks a free
local port) with a fresh SQLite file and one torch thread
(``OMP_NUM_THREADS``, default 1), waits until it serves, answers ``--rounds``
queries through ``gradio_client`` (``/next``, then ``/submit`` with a label
and an arrow on the projection), waits for the background trainer, then, for
text, answers once more with a rewrite (which loads the sentence encoder),
and stops the server.

Memory is read from ``/proc/PID/status``: VmRSS (resident now) at each
stage, and VmHWM, the kernel's record of the process's peak resident set
over its whole life. Printed per stage: seconds since the start, RSS and
peak so far (MiB).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from common import bench_parser, print_end, start_run, timed
from gradio_client import Client

READY_LINE = "annotate at "
START_TIMEOUT = 600.0  # seconds; the first run of cad-imdb may embed its texts
TRAIN_TIMEOUT = 300.0
ANNOTATOR = "bench-memory"
# Prepended: the encoder reads the first 256 tokens only, so an edit at the end of a long review
# would not move its embedding (the server refuses a zero direction).
REWRITE_HEAD = "Forget what follows: this film left me cold. "


def memory_mib(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a live process in MiB, from /proc/PID/status."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024  # kB -> MiB
    return fields["VmRSS"], fields["VmHWM"]


class Server:
    """``nudge serve`` in a subprocess; its output is collected by a thread so it never blocks."""

    def __init__(self, dataset: str, db: Path, threads: int, *arguments: str) -> None:
        """``arguments``: more of ``nudge serve``'s (how to read the data set's file, e.g. ``--label-column``)."""
        nudge = Path(sys.executable).with_name("nudge")
        command = [str(nudge), "serve", "--dataset", dataset, *arguments, "--db", str(db), "--host", "127.0.0.1"]
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

    def memory(self) -> tuple[float, float]:
        return memory_mib(self.process.pid)

    def stop(self) -> None:
        """Terminate the server (and kill it if it does not stop within 20 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def wait_trained(api: Client) -> None:
    """Poll /status until the background trainer is idle."""
    deadline = time.monotonic() + TRAIN_TIMEOUT
    while api.predict(api_name="/status")["retraining"] and time.monotonic() < deadline:
        time.sleep(0.2)


def answer(api: Client, query: dict, round_number: int, rewrite: bool = False) -> tuple[dict, float]:
    """Submit a label and an arrow (or a rewrite) for ``query``: (the next query, seconds)."""
    label = query["classes"][round_number % len(query["classes"])]
    text = REWRITE_HEAD + query["text"] if rewrite else None
    plane = None if rewrite else [0.5, 0.5]
    return timed(lambda: api.predict(query["query_id"], label, None, plane, None, text, ANNOTATOR,
                                     api_name="/submit"))


def measure(dataset: str, rounds: int, threads: int) -> None:
    """Start, drive and stop one server, printing its memory at each stage."""
    with tempfile.TemporaryDirectory() as folder:
        server = Server(dataset, Path(folder) / "memory.db", threads)
        try:
            url = server.wait_ready()
            stages = [("serving", time.perf_counter() - server.started, server.memory())]
            api = Client(url, verbose=False)
            query = api.predict(ANNOTATOR, api_name="/next")
            text = query.get("text") is not None
            submits = []
            for round_number in range(rounds):
                query, seconds = answer(api, query, round_number)
                submits.append(seconds)
            wait_trained(api)
            stages.append((f"{rounds} answers, trained", time.perf_counter() - server.started, server.memory()))
            if text:
                answer(api, query, rounds, rewrite=True)
                wait_trained(api)
                stages.append(("+1 with a rewrite", time.perf_counter() - server.started, server.memory()))
            status = api.predict(api_name="/status")
        finally:
            server.stop()
    print(f"\n{dataset}: pool {status['pool_size']} points, {status['n_labeled']} labelled, model version "
          f"{status['model_version']}; /submit (answer -> next query described) median "
          f"{statistics.median(submits):.3f} s")
    print(f"{'stage':<24} {'seconds':>7} {'RSS MiB':>8} {'peak MiB':>9}")
    for stage, seconds, (rss, peak) in stages:
        print(f"{stage:<24} {seconds:>7.1f} {rss:>8.0f} {peak:>9.0f}")
    print(f"peak RSS of nudge serve on {dataset}: {stages[-1][2][1]:.0f} MiB")


def main() -> None:
    parser = bench_parser(__doc__, quick="5 rounds", datasets="cad-imdb")
    parser.add_argument("--rounds", type=int, help="answers through the API (default 20)")
    args = start_run(parser)
    rounds = args.rounds or (5 if args.quick else 20)
    for dataset in args.datasets.split(","):
        measure(dataset, rounds, args.threads)
    print_end()


if __name__ == "__main__":
    main()
