"""One client cannot slow the rest: an annotator's latency while eight clients flood the help endpoints.

Run: ``.venv/bin/python bench/bench_flood.py`` (about 5 minutes: 40 rounds per phase) or
``--quick`` (16 rounds). It starts ``nudge serve`` on ``--reviews`` reviews (default 400) of the
CAD IMDb train split (``--data-dir``, default ``../shared/data/cad_sentiment``) as a text-csv, in a
subprocess with one torch thread, answers a few queries so a model reads the texts, then times one
annotator's rounds (``/next``, then ``/submit`` with a label
and an arrow) in the same run, in quiet blocks and flooded blocks in turn: flooded while
``--flooders`` clients (default 8), each from an address of its own and each keeping
``--in-flight`` requests (default 3) open at once, call ``/predict_text`` with a ~20,000-character
text and ``/explain`` without pause. The flooders run in a process of their own, so the timed
client does not share an interpreter with them.

Printed: median and p95 of ``/next`` and ``/submit`` in both phases, the flood / quiet ratio of
the p95s (the target: at most 1.5), how many help calls were served, refused ("too many requests
at once from this client") or failed otherwise, and the load average before and during the flood.
"""

from __future__ import annotations

import csv
import os
import statistics
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import FIRST_COMPLETED, wait
from multiprocessing import Event, Process, Queue
from pathlib import Path

from common import ServeProcess, bench_parser, load_average, median_p95, print_end, start_run, timed
from gradio_client import Client
from gradio_client.exceptions import AppError

ANNOTATOR = "bench-annotator"
SEED_ANSWERS = 6
TARGET_RATIO = 1.5
HELP_TEXT_CHARS = 19_900  # under the 20,000 a rewrite may hold
BLOCKS = 4  # quiet and flooded blocks of rounds, in turn
FLOOD_START_SECONDS = 2.0


def write_reviews(data_dir: str, count: int, out: Path) -> Path:
    """The first ``count`` reviews of the CAD train split as a text-csv (text, label)."""
    rows = [line.split("\t")[:2] for line in (Path(data_dir) / "train_paired.tsv").read_text().splitlines()[1:]]
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([text, sentiment] for sentiment, text in rows[:count])
    return out


def annotate_rounds(api: Client, rounds: int) -> tuple[list[float], list[float]]:
    """``rounds`` of /next then /submit (a label and an arrow); their seconds."""
    nexts, submits = [], []
    for number in range(rounds):
        query, seconds = timed(lambda: api.predict(ANNOTATOR, api_name="/next"))
        nexts.append(seconds)
        label = query["classes"][number % len(query["classes"])]
        submits.append(timed(lambda: api.predict(query["query_id"], label, None, [0.5, 0.5], None, None, ANNOTATOR,
                                                 api_name="/submit"))[1])
    return nexts, submits


def flood(api: Client, query_id: str, in_flight: int, stop: threading.Event, counts: Counter,
          lock: threading.Lock, text: str) -> None:
    """One client: /predict_text and /explain, ``in_flight`` at a time, until ``stop`` (then the
    requests in flight are waited for)."""
    jobs, sent = [], 0
    while jobs or not stop.is_set():
        while len(jobs) < in_flight and not stop.is_set():
            sent += 1
            jobs.append(api.submit(text, query_id, api_name="/predict_text") if sent % 2
                        else api.submit(query_id, api_name="/explain"))
        done, pending = wait(jobs, timeout=1.0, return_when=FIRST_COMPLETED)
        jobs = list(pending)
        for job in done:
            try:
                job.result()
                kind = "served"
            except AppError as error:
                kind = "refused" if "too many requests" in str(error) else f"failed: {str(error)[:80]}"
            with lock:
                counts[kind] += 1


def flooders(url: str, count: int, in_flight: int, text: str, flooding: Event, idle: Event, stop: Event,
             results: Queue) -> None:
    """The flooding clients, in a process of their own (their threads do not share the timed client's
    interpreter), each from an address of its own, connected once: they flood while ``flooding`` is
    set, then wait for their last requests and set ``idle``; at ``stop`` their counts go to ``results``."""
    clients = [Client(url, verbose=False, headers={"X-Forwarded-For": f"10.9.0.{i + 1}"}) for i in range(count)]
    query_ids = [api.predict(f"flooder-{i}", api_name="/next")["query_id"] for i, api in enumerate(clients)]
    counts, lock = Counter(), threading.Lock()
    idle.set()
    while not stop.is_set():
        if not flooding.wait(0.2):
            continue
        idle.clear()
        pause = threading.Event()
        threads = [threading.Thread(target=flood, args=(api, query_id, in_flight, pause, counts, lock, text))
                   for api, query_id in zip(clients, query_ids)]
        for thread in threads:
            thread.start()
        while flooding.is_set() and not stop.is_set():
            time.sleep(0.1)
        pause.set()
        for thread in threads:
            thread.join(timeout=300)
        idle.set()
    results.put(dict(counts))


def main() -> None:
    parser = bench_parser(__doc__, quick="16 rounds per phase", datasets=None)
    parser.add_argument("--rounds", type=int, help="annotator rounds per phase (default 40)")
    parser.add_argument("--flooders", type=int, default=8, help="flooding clients (default 8)")
    parser.add_argument("--in-flight", type=int, default=3, help="requests each flooder keeps open (default 3)")
    parser.add_argument("--data-dir", default="../shared/data/cad_sentiment", help="the CAD IMDb files")
    parser.add_argument("--reviews", type=int, default=400, help="reviews in the pool (default 400)")
    args = start_run(parser)
    rounds = args.rounds or (16 if args.quick else 40)
    with tempfile.TemporaryDirectory() as folder:
        reviews = write_reviews(args.data_dir, args.reviews, Path(folder) / "reviews.csv")
        server = ServeProcess(["--dataset", f"text-csv:{reviews}", "--db", str(Path(folder) / "flood.db"),
                               "--session", "flood"], args.threads)
        try:
            url = server.wait_ready()
            api = Client(url, verbose=False)
            annotate_rounds(api, SEED_ANSWERS)  # a model that reads texts, for /explain
            while not api.predict(api_name="/status")["n_labeled"]:
                time.sleep(0.2)
            text = " ".join([api.predict(ANNOTATOR, api_name="/next")["text"]] * 100)[:HELP_TEXT_CHARS]
            flooding, idle, stop, results = Event(), Event(), Event(), Queue()
            crowd = Process(target=flooders, args=(url, args.flooders, args.in_flight, text, flooding, idle, stop,
                                                   results))
            crowd.start()
            idle.wait(300)  # the flooders are connected
            quiet, flooded, loads = ([], []), ([], []), {}
            for block in range(BLOCKS):  # quiet and flooded blocks in turn: a drifting load hits both alike
                for phase, times in (("quiet", quiet), ("flood", flooded)):
                    if phase == "flood":
                        flooding.set()
                        time.sleep(FLOOD_START_SECONDS)  # the flooders fill the help queue
                    nexts, submits = annotate_rounds(api, rounds // BLOCKS)
                    times[0].extend(nexts)
                    times[1].extend(submits)
                    loads[phase] = load_average()
                    flooding.clear()
                    idle.wait(300)  # the flood's last requests are answered before a quiet block
            stop.set()
            counts = results.get(timeout=300)
            crowd.join(timeout=120)
        finally:
            server.stop()
    print(f"\n{rounds} annotator rounds per phase, in {BLOCKS} blocks each, quiet and flooded in turn; "
          f"{args.flooders} flooders x {args.in_flight} requests in flight (/predict_text with {len(text):,} characters, /explain); server on {args.threads} torch thread(s)")
    print(f"load average (1/5/15 min) after the last block: quiet {loads['quiet']}; under the flood {loads['flood']}")
    print(f"{'call':<8} {'quiet median':>12} {'quiet p95':>10} {'flood median':>12} {'flood p95':>10} {'p95 ratio':>9}")
    ratios = []
    for name, calm, busy in (("/next", quiet[0], flooded[0]), ("/submit", quiet[1], flooded[1])):
        (calm_median, calm_p95), (busy_median, busy_p95) = median_p95(calm), median_p95(busy)
        ratios.append(busy_p95 / calm_p95)
        print(f"{name:<8} {calm_median:>12.3f} {calm_p95:>10.3f} {busy_median:>12.3f} {busy_p95:>10.3f} "
              f"{ratios[-1]:>9.2f}")
    print(f"help calls during the flood: {dict(counts)}")
    verdict = "pass" if max(ratios) <= TARGET_RATIO else "miss"
    print(f"target: p95 under the flood within {TARGET_RATIO}x of quiet -> {verdict} "
          f"(worst {max(ratios):.2f}x; medians {statistics.median(flooded[1]) / statistics.median(quiet[1]):.2f}x "
          f"for /submit)")
    print_end()


if __name__ == "__main__":
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    main()
