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

import statistics
import tempfile
import time
from pathlib import Path

from common import ServeProcess, bench_parser, print_end, start_run, timed
from gradio_client import Client

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
        server = ServeProcess(["--dataset", dataset, "--db", str(Path(folder) / "memory.db")], threads)
        try:
            url = server.wait_ready()
            stages = [("serving", time.perf_counter() - server.started, memory_mib(server.process.pid))]
            api = Client(url, verbose=False)
            query = api.predict(ANNOTATOR, api_name="/next")
            text = query.get("text") is not None
            submits = []
            for round_number in range(rounds):
                query, seconds = answer(api, query, round_number)
                submits.append(seconds)
            wait_trained(api)
            stages.append((f"{rounds} answers, trained", time.perf_counter() - server.started, memory_mib(server.process.pid)))
            if text:
                answer(api, query, rounds, rewrite=True)
                wait_trained(api)
                stages.append(("+1 with a rewrite", time.perf_counter() - server.started, memory_mib(server.process.pid)))
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
