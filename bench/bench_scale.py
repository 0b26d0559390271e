"""Big pools: `/next` time against the pool's size, the ranking per model version, memory, start-up.

Run: ``.venv/bin/python bench/bench_scale.py`` (pools of 10^4, 10^5 and 10^6 points, 2-D and
384-d; tens of minutes, most of it building the 10^6-point HNSW graph and scoring), or
``--quick`` (10^4 and 10^5 only, 20 rounds).

For each kind and size, in a process of its own (so its peak RSS is its own):

- the pool: 2-D moons, or random unit 384-d vectors (what sentence embeddings look like
  to the code: ``--kinds``), labels from a fixed random hyperplane; 40 labels answered;
- a served session as ``nudge serve`` runs it (a SQLite file, the SharedTrainer that trains,
  publishes each model and ranks the pool for it), its neighbour index built;
- ``/next`` timed ``--rounds`` times, each a new annotator (a fresh lease): in the server
  (``AnnotationService.next_query`` + ``describe``, what the API handler does) and through
  the API (gradio_client against the app launched on a free port: HTTP, Gradio's queue,
  JSON), beside gradio_client's own floor (``/status``, which does nearly nothing);
- the ranking: how long scoring the pool and ranking its candidates took for a new model
  version (answer, retrain, then the trainer's ``Ranking.seconds``), and the index build;
- the process's peak RSS.

Targets (issue 13): ``/next`` p95 <= 50 ms at every size, within 1.5x from 10^4 to 10^6.

``--startup``: instead, ``nudge serve`` on a ``--texts`` (20,000) text CSV never embedded (a
fresh cache): seconds from the command to the port answering and to the page showing the
embedding's progress in chromium (target: <= 15 s), then it is stopped.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
from common import bench_parser, load_average, median_p95, print_end, set_threads, start_run

SIZES = (10_000, 100_000, 1_000_000)
QUICK_SIZES = (10_000, 100_000)
LABELS = 40
NEXT_TARGET_MS = 50.0
FLATNESS_TARGET = 1.5
STARTUP_TARGET_SECONDS = 15.0


def pool_of(kind: str, size: int, seed: int = 0):
    """A Dataset whose pool holds exactly ``size`` points (a fifth as many held out for testing)."""
    from loop.datasets import Dataset, load_dataset

    if kind == "2d":
        return load_dataset("moons", n_samples=size * 5 // 4, seed=seed)
    rng = np.random.default_rng(seed)
    n_points = size * 5 // 4
    X = rng.standard_normal((n_points, 384), dtype=np.float32)
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    y = (X @ rng.standard_normal(384).astype(np.float32) > 0).astype(np.int64)
    return Dataset(f"random-384d-{size}", X, y, ["0", "1"], np.arange(size), np.arange(size, n_points))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_one(kind: str, size: int, rounds: int) -> dict:
    """One pool: its session, index, ranking and `/next` times (see the module docstring)."""
    from gradio_client import Client

    from loop.config import SessionConfig
    from loop.service import AnnotationService
    from loop.session import Session
    from loop.shared_trainer import SharedTrainer
    from loop.store import Store
    from ui.app import AnnotationApp, launch_app

    started = time.perf_counter()
    dataset = pool_of(kind, size)
    made = time.perf_counter() - started
    folder = Path(tempfile.mkdtemp(prefix="nudge-scale-"))
    try:
        store = Store(folder / "scale.db")
        config = SessionConfig(dataset=dataset.name, retrain_every=10**6)  # no retrain while filling
        session = Session.create(store, config, session_id="scale", dataset=dataset)
        rng = np.random.default_rng(1)
        for point in rng.choice(dataset.pool, LABELS, replace=False):
            session.relabel(int(point), int(dataset.y[point]), annotator="filler")
        session.close()
        session = Session.open(store, "scale", dataset=dataset, trainer=SharedTrainer())  # trains, ranks
        assert session.wait_until_trained(timeout=3600)
        service = AnnotationService(session)
        index_seconds = 0.0
        if hasattr(service.pool_index, "wait"):
            waited = time.perf_counter()
            service.pool_index.wait()
            index_seconds = time.perf_counter() - waited
        first_ranking = session.trainer.ranking.seconds
        server_ms = []
        for r in range(rounds):
            begin = time.perf_counter()
            service.describe(service.next_query(f"server-{r}"))
            server_ms.append(1000 * (time.perf_counter() - begin))
        # a new model version: one answer, the retrain, and the pool ranked for it
        query = service.next_query("answerer")
        version = session.model.version
        session.submit(query.query_id, int(dataset.y[query.point_id]), annotator="answerer")
        session.trainer.request()
        deadline = time.monotonic() + 3600
        while session.trainer.ranking is None or session.trainer.ranking.version == version:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        new_ranking = session.trainer.ranking.seconds
        app = AnnotationApp(service)
        demo = launch_app(app.build(), server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                          quiet=True)
        try:
            client = Client(demo.local_url, verbose=False)
            client.predict("warm-up", api_name="/next")
            api_ms, floor_ms = [], []
            for r in range(rounds):
                begin = time.perf_counter()
                client.predict(f"api-{r}", api_name="/next")
                api_ms.append(1000 * (time.perf_counter() - begin))
                begin = time.perf_counter()
                client.predict(api_name="/status")  # gradio_client's own floor: a call that does nothing much
                floor_ms.append(1000 * (time.perf_counter() - begin))
        finally:
            app.close()
            demo.close()
            session.close()
        return {
            "kind": kind, "size": size, "made_seconds": made, "index_seconds": index_seconds,
            "ranking_seconds": [first_ranking, new_ranking], "server_ms": median_p95(server_ms),
            "api_ms": median_p95(api_ms), "floor_ms": median_p95(floor_ms), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load": load_average(),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def scale_table(args) -> None:
    sizes = QUICK_SIZES if args.quick else tuple(int(s) for s in args.sizes.split(","))
    rounds = 20 if args.quick else args.rounds
    rows = []
    for kind in args.kinds.split(","):
        for size in sizes:
            print(f"... {kind} pool of {size:,}", flush=True)
            done = subprocess.run([sys.executable, __file__, "--one", kind, str(size), "--rounds", str(rounds),
                                   "--threads", str(args.threads)], capture_output=True, text=True)
            if done.returncode != 0:
                print(done.stdout[-2000:], done.stderr[-4000:])
                raise SystemExit(f"the {kind} pool of {size} failed")
            rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"\n/next in ms (median / p95), {rounds} rounds; ranking and index in s; peak RSS in MiB")
    print("| pool | points | /next server | /next API | API floor (/status) | ranking (first / new version) "
          "| index build | peak RSS | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        (sm, sp), (am, ap), (fm, fp) = row["server_ms"], row["api_ms"], row["floor_ms"]
        first, new = row["ranking_seconds"]
        print(f"| {row['kind']} | {row['size']:,} | {sm:.1f} / {sp:.1f} | {am:.1f} / {ap:.1f} | {fm:.1f} / {fp:.1f} "
              f"| {first:.2f} / {new:.2f} | {row['index_seconds']:.1f} | {row['peak_rss_mib']:.0f} | {row['load']} |")
    for kind in args.kinds.split(","):
        of_kind = sorted((row["size"], row["api_ms"][1], row["server_ms"][1]) for row in rows if row["kind"] == kind)
        if len(of_kind) > 1:
            api_ratio, server_ratio = of_kind[-1][1] / of_kind[0][1], of_kind[-1][2] / of_kind[0][2]
            worst = max(p95 for _, p95, _ in of_kind)
            print(f"{kind}: /next p95 {of_kind[-1][0]:,} / {of_kind[0][0]:,} points = {api_ratio:.2f}x through the API, "
                  f"{server_ratio:.2f}x in the server (target {FLATNESS_TARGET}x); worst API p95 {worst:.1f} ms "
                  f"(target {NEXT_TARGET_MS:.0f} ms: {'met' if worst <= NEXT_TARGET_MS else 'missed'})")


def write_texts(path: Path, count: int) -> None:
    """``count`` distinct texts, each a CAD review sentence or two with a number (no cache holds them)."""
    from loop.datasets import SHARED_CAD_DIR, read_cad_pairs

    pairs = read_cad_pairs(SHARED_CAD_DIR / "train_paired.tsv")
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(count):
            pair = pairs[i % len(pairs)]
            writer.writerow([f"({i}) " + pair.original[:300], "pos" if pair.label else "neg"])


def startup(args) -> None:
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="nudge-startup-"))
    try:
        texts = folder / "texts.csv"
        write_texts(texts, args.texts)
        port = free_port()
        env = {**os.environ, "NUDGE_CACHE_DIR": str(folder / "cache"), "OMP_NUM_THREADS": str(args.threads),
               "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
        nudge = Path(sys.executable).with_name("nudge")
        log = (folder / "serve.log").open("w")
        began = time.perf_counter()
        server = subprocess.Popen([str(nudge), "serve", "--dataset", f"text-csv:{texts}", "--db",
                                   str(folder / "s.db"), "--host", "127.0.0.1", "--port", str(port)],
                                  stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as reply:
                        if reply.status == 200:
                            break
                except OSError:
                    pass
                if server.poll() is not None:
                    raise SystemExit((folder / "serve.log").read_text()[-3000:])
                time.sleep(0.05)
            port_open = time.perf_counter() - began
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True,
                                                     args=["--no-sandbox", "--disable-gpu",
                                                           "--disable-background-networking"])
                page = browser.new_page()
                page.goto(f"http://127.0.0.1:{port}/")
                page.wait_for_function("() => /of [0-9,]+ texts/.test(document.querySelector('#status-line')"
                                       "?.innerText ?? '')", timeout=120_000)
                shown = time.perf_counter() - began
                line = page.locator("#status-line").inner_text()
                browser.close()
        finally:
            server.send_signal(signal.SIGKILL)
            server.wait(timeout=30)
        print(f"\nnudge serve on {args.texts:,} texts never embedded: the port answered after {port_open:.1f} s, "
              f"the page showed the embedding's progress after {shown:.1f} s (target {STARTUP_TARGET_SECONDS:.0f} s: "
              f"{'met' if shown <= STARTUP_TARGET_SECONDS else 'missed'}); it read: {line!r}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = bench_parser(__doc__, quick="10^4 and 10^5 only, 20 rounds", datasets=None)
    parser.add_argument("--kinds", default="2d,384d", help="pool kinds: 2d, 384d (default both)")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="pool sizes (default 10^4,10^5,10^6)")
    parser.add_argument("--rounds", type=int, default=50, help="timed /next calls per pool and way (default 50)")
    parser.add_argument("--startup", action="store_true", help="time nudge serve's start on texts never embedded")
    parser.add_argument("--texts", type=int, default=20_000, help="texts for --startup (default 20,000)")
    parser.add_argument("--one", nargs=2, metavar=("KIND", "SIZE"), help=argparse.SUPPRESS)  # one pool, in a child
    if "--one" in sys.argv:
        args = parser.parse_args()
        set_threads(args.threads)
        print(json.dumps(run_one(args.one[0], int(args.one[1]), args.rounds)))
        return
    args = start_run(parser)
    if args.startup:
        startup(args)
    else:
        scale_table(args)
    print_end()


if __name__ == "__main__":
    main()
