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
  the API on the app launched on a free port, two ways: plain HTTP on one kept connection
  (Gradio's documented ``POST /gradio_api/call/next`` then its event stream, what curl or a
  script with httpx meets: HTTP, Gradio's queue, JSON) and gradio_client, each beside its
  own floor (``/status``, which does nearly nothing); plain HTTP first with the garbage
  collector as it starts, then (and gradio_client) with start-up objects frozen out of its
  walks, as ``nudge serve`` runs once started (loop/memory.py);
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
    from nudge.loop.datasets import Dataset, load_dataset

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


class PlainHttpApi:
    """Calls the app's API the way curl or httpx does, on one kept connection: ``POST
    /gradio_api/call/<name>`` gives an event id, its event stream the result."""

    def __init__(self, url: str) -> None:
        import httpx

        self.url, self.http = url, httpx.Client(timeout=60)

    def call(self, name: str, *data) -> object:
        posted = self.http.post(f"{self.url}gradio_api/call/{name}", json={"data": list(data)})
        posted.raise_for_status()
        event_id = posted.json()["event_id"]
        with self.http.stream("GET", f"{self.url}gradio_api/call/{name}/{event_id}") as stream:
            body = "".join(stream.iter_text())
        event, _, payload = body.partition("\ndata: ")
        if event.strip() != "event: complete":
            raise RuntimeError(f"/{name} answered {body[:300]!r}")
        return json.loads(payload)[0]

    def close(self) -> None:
        self.http.close()


def timed_ms(call) -> float:
    begin = time.perf_counter()
    call()
    return 1000 * (time.perf_counter() - begin)


def run_one(kind: str, size: int, rounds: int) -> dict:
    """One pool: its session, index, ranking and `/next` times (see the module docstring)."""
    from gradio_client import Client

    from nudge.loop.compute.memory import freeze_startup_objects
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.service.service import AnnotationService
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    from nudge.loop.training.shared import SharedTrainer
    from nudge.ui.app import AnnotationApp, launch_app

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
        http = PlainHttpApi(demo.local_url)
        try:
            assert http.call("next", "warm-up")["query_id"]
            unfrozen_ms = [timed_ms(lambda r=r: http.call("next", f"unfrozen-{r}")) for r in range(rounds)]
            freeze_startup_objects()  # as nudge serve does once started
            http_ms, http_floor_ms = [], []
            for r in range(rounds):
                http_ms.append(timed_ms(lambda r=r: http.call("next", f"http-{r}")))
                http_floor_ms.append(timed_ms(lambda: http.call("status")))
            client = Client(demo.local_url, verbose=False)
            client.predict("warm-up", api_name="/next")
            api_ms, floor_ms = [], []
            for r in range(rounds):
                api_ms.append(timed_ms(lambda r=r: client.predict(f"api-{r}", api_name="/next")))
                floor_ms.append(timed_ms(lambda: client.predict(api_name="/status")))
        finally:
            http.close()
            app.close()
            demo.close()
            session.close()
        return {
            "kind": kind, "size": size, "made_seconds": made, "index_seconds": index_seconds,
            "ranking_seconds": [first_ranking, new_ranking], "server_ms": median_p95(server_ms),
            "unfrozen_ms": median_p95(unfrozen_ms), "http_ms": median_p95(http_ms), "http_floor_ms": median_p95(http_floor_ms), "api_ms": median_p95(api_ms), "floor_ms": median_p95(floor_ms), "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load": load_average(),
        }
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def ms_pair(times: list[float]) -> str:
    return f"{times[0]:.1f} / {times[1]:.1f}"


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
    print("| pool | points | /next server | /next HTTP, collector not frozen | /next HTTP | HTTP floor (/status) | /next gradio_client "
          "| gradio_client floor (/status) | ranking (first / new version) | index build | peak RSS | load |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for row in rows:
        first, new = row["ranking_seconds"]
        print(f"| {row['kind']} | {row['size']:,} | {ms_pair(row['server_ms'])} | {ms_pair(row['unfrozen_ms'])} | {ms_pair(row['http_ms'])} "
              f"| {ms_pair(row['http_floor_ms'])} | {ms_pair(row['api_ms'])} | {ms_pair(row['floor_ms'])} "
              f"| {first:.2f} / {new:.2f} | {row['index_seconds']:.1f} | {row['peak_rss_mib']:.0f} | {row['load']} |")
    for kind in args.kinds.split(","):
        of_kind = sorted((row for row in rows if row["kind"] == kind), key=lambda row: row["size"])
        if len(of_kind) < 2:
            continue
        for way, key in (("in the server", "server_ms"), ("through plain HTTP", "http_ms"),
                         ("through gradio_client", "api_ms")):
            ratio = of_kind[-1][key][1] / of_kind[0][key][1]
            worst = max(row[key][1] for row in of_kind)
            print(f"{kind} {way}: /next p95 {of_kind[-1]['size']:,} / {of_kind[0]['size']:,} points = {ratio:.2f}x "
                  f"(target {FLATNESS_TARGET}x: {'met' if ratio <= FLATNESS_TARGET else 'missed'}); worst p95 "
                  f"{worst:.1f} ms (target {NEXT_TARGET_MS:.0f} ms: {'met' if worst <= NEXT_TARGET_MS else 'missed'})")


def write_texts(path: Path, count: int) -> None:
    """``count`` distinct texts, each a CAD review sentence or two with a number (no cache holds them)."""
    from nudge.loop.datasets import SHARED_CAD_DIR, read_cad_pairs

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
