"""Wide data: `/next` time and peak memory of a real ``nudge serve`` on a 500 x 10,000 CSV.

Run: ``.venv/bin/python bench/bench_wide.py`` (20 rounds, about a minute) or
``--quick`` (5 rounds). It writes a seeded CSV of ``--rows`` points (default
500) with ``--features`` features (default 10,000; two classes by a random
hyperplane) to a temporary folder, starts ``nudge serve --dataset csv:FILE``
on it (fresh SQLite file, one torch thread, Gradio's free port) and drives it
through ``gradio_client`` as an API client does: the first ``/next`` (no
model yet), then per round ``/submit`` (a label and an arrow on the
projection; it returns the next query, described) and, once the trainer is
idle, a repeated ``/next`` of the same open query drawn with the new model.
Each ``/next`` is timed at the client, so it includes HTTP, Gradio and the
JSON of the answer (its size is printed: the features, the projection's
origin and two basis vectors, about 4n numbers).

Memory: VmRSS and VmHWM (the peak over the process's life) of the server
from ``/proc/PID/status``. Targets (issue 12): ``/next`` <= 0.5 s and peak
RSS <= 1 GiB.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

import numpy as np
from bench_memory import memory_mib, wait_trained
from common import ServeProcess, bench_parser, median_p95, print_end, start_run, timed
from gradio_client import Client

ANNOTATOR = "bench-wide"
NEXT_TARGET_SECONDS = 0.5
PEAK_TARGET_MIB = 1024.0


def write_wide_csv(path: Path, rows: int, features: int, seed: int = 0) -> None:
    """rows x features standard normal values (4 decimals) and a label from a random hyperplane."""
    rng = np.random.default_rng(seed)
    normal = rng.normal(size=features)
    with path.open("w") as handle:
        handle.write(",".join([*(f"f{j}" for j in range(features)), "label"]) + "\n")
        for _ in range(rows):
            x = rng.normal(size=features)
            handle.write(",".join(f"{v:.4f}" for v in x) + f",{int(x @ normal > 0)}\n")


def verdict(value: float, target: float, unit: str) -> str:
    margin = target / value if value > 0 else float("inf")
    return f"{'pass' if value <= target else 'FAIL'} ({value:.3f} {unit} against {target:g}: {margin:.2f}x margin)"


def measure(rows: int, features: int, rounds: int, threads: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "wide.csv"
        seconds_to_write = timed(lambda: write_wide_csv(data, rows, features))[1]
        print(f"data: {rows} rows x {features} features, {data.stat().st_size / 2**20:.1f} MiB of CSV "
              f"(written in {seconds_to_write:.1f} s)", flush=True)
        server = ServeProcess(["--dataset", f"csv:{data}", "--label-column", "label", "--db", str(Path(folder) / "wide.db")], threads)
        try:
            url = server.wait_ready()
            serving = memory_mib(server.process.pid)
            api = Client(url, verbose=False)
            query, first_next = timed(lambda: api.predict(ANNOTATOR, api_name="/next"))
            payload = len(json.dumps(query))
            submits, nexts = [], []
            for round_number in range(rounds):
                label = query["classes"][round_number % 2]
                query, seconds = timed(lambda: api.predict(query["query_id"], label, None, [0.5, 0.5], None,
                                                           None, ANNOTATOR, api_name="/submit"))
                submits.append(seconds)
                wait_trained(api)
                again, seconds = timed(lambda: api.predict(ANNOTATOR, api_name="/next"))
                assert again["query_id"] == query["query_id"], "the open query is handed out again"
                nexts.append(seconds)
            status = api.predict(api_name="/status")
            rss, peak = memory_mib(server.process.pid)
        finally:
            server.stop()
    next_median, next_p95 = median_p95(nexts)
    print(f"\npool {status['pool_size']} points, {status['n_labeled']} labelled, model version "
          f"{status['model_version']}; one /next answer is {payload / 2**10:.0f} KiB of JSON")
    print(f"first /next (no model yet): {first_next:.3f} s")
    print(f"/next with a model, {rounds} rounds: median {next_median:.3f} s, p95 {next_p95:.3f} s")
    print(f"/submit (answer -> next query described): median {statistics.median(submits):.3f} s")
    print(f"server RSS: {serving[0]:.0f} MiB serving, {rss:.0f} MiB at the end; peak {peak:.0f} MiB")
    print(f"target /next p95 <= {NEXT_TARGET_SECONDS} s: {verdict(max(next_p95, first_next), NEXT_TARGET_SECONDS, 's')}")
    print(f"target peak RSS <= {PEAK_TARGET_MIB:.0f} MiB: {verdict(peak, PEAK_TARGET_MIB, 'MiB')}")


def main() -> None:
    parser = bench_parser(__doc__, quick="5 rounds", datasets=None)
    parser.add_argument("--rows", type=int, default=500, help="points in the CSV (default 500)")
    parser.add_argument("--features", type=int, default=10_000, help="features per point (default 10,000)")
    parser.add_argument("--rounds", type=int, help="answers through the API (default 20)")
    args = start_run(parser)
    measure(args.rows, args.features, args.rounds or (5 if args.quick else 20), args.threads)
    print_end()


if __name__ == "__main__":
    main()
