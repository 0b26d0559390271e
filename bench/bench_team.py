"""A team with overlap: does the agreement table single out a noisy annotator, and does overlap slow the page?

Run: ``.venv/bin/python bench/bench_team.py`` (moons, a pool of 2,000; 200 answers; 40 page rounds) or
``--quick`` (100 answers, 15 rounds). Two sessions run in turn, one with ``overlap=0.2`` (a fifth of
the items go to two annotators) and one without. In each, three scripted annotators answer through
the API (gradio_client, ``/next`` then ``/submit`` with a full direction) in turn until the session
holds ``--answers`` answers: two give the true label and the true direction (the exact oracle), the
third gives a wrong label 20% of the time and every direction turned by 45 degrees. The agreement
table of the overlap session is printed (as ``nudge agreement`` prints it) and whether it singles
out the noisy one (the lowest agreement with the others and the lowest direction cosine).

Then, in each session, a scripted person in Playwright + Debian's chromium works the page as
bench/bench_page.py's does (label key, a click on the picture, Enter; timed in the page from the
Enter keydown to the next point drawn) for ``--rounds`` rounds: median and p95 of each, the ratio of
the p95s (overlap / none) and the load average beside them. Target (issue 19): within 10%.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
from bench_page import CHROMIUM_ARGS, CLICK_SPOT, CLOCKS, free_port
from common import bench_parser, load_average, median_p95, print_end, start_run
from gradio_client import Client
from playwright.sync_api import sync_playwright

from nudge.loop.cli.agreement import agreement_table
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import load_dataset
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import make_oracle
from nudge.loop.store.store import Store
from nudge.loop.training.shared import SharedTrainer
from nudge.ui.app import AnnotationApp, launch_app

ANNOTATORS = ("careful-1", "careful-2", "noisy")
WRONG_LABELS = 0.2
TURN_DEGREES = 45.0
OVERLAP = 0.2
TARGET_RATIO = 1.10


def turned(direction: np.ndarray, degrees: float) -> np.ndarray:
    """A 2-D direction turned by ``degrees``."""
    angle = np.radians(degrees)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    return rotation @ direction


def answer_as(name: str, point: int, oracle, rng: np.random.Generator) -> tuple[str, list[float] | None]:
    """(label, direction or None where the truth has none) of annotator ``name`` for ``point``: the truth,
    or the noisy one's version of it."""
    truth = oracle.answer(point)
    label, direction = truth.label, truth.directions[0] if truth.directions else None
    if name == "noisy":
        if rng.random() < WRONG_LABELS:
            label = 1 - label
        direction = None if direction is None else turned(direction, TURN_DEGREES)
    return str(label), None if direction is None else [float(v) for v in direction]


def scripted_team(url: str, dataset, answers: int, seed: int) -> None:
    """The three annotators answer in turn through the API until ``answers`` answers are given."""
    oracle, rng = make_oracle("exact", dataset), np.random.default_rng(seed)
    clients = {name: Client(url, verbose=False) for name in ANNOTATORS}
    queries = {name: clients[name].predict(name, api_name="/next") for name in ANNOTATORS}
    given = 0
    while given < answers and any(queries.values()):
        for name in ANNOTATORS:
            query = queries[name]
            if not query or given >= answers:
                continue
            label, direction = answer_as(name, query["point_id"], oracle, rng)
            queries[name] = clients[name].predict(query["query_id"], label, direction, None, None, None, name,
                                                  api_name="/submit")
            given += 1


def page_rounds(browser, url: str, dataset, rounds: int) -> list[float]:
    """Enter -> next point drawn (ms) for a scripted person on the page, ``rounds`` times."""
    rng = np.random.default_rng(rounds)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#projection')?.dataset.pointId")
    page.evaluate(CLOCKS)
    page.locator("#annotator-name input").fill("person")
    page.locator("h2").first.click()
    for _ in range(rounds):
        point = int(page.locator("#projection").get_attribute("data-point-id"))
        x, y = page.evaluate(CLICK_SPOT, [float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.05, 0.95))])
        page.keyboard.press(str(int(dataset.y[point]) + 1))
        page.mouse.click(x, y)
        page.keyboard.press("Enter")
        page.wait_for_function("old => document.querySelector('#projection').dataset.pointId !== old",
                               arg=str(point), timeout=60_000)
    clocks = page.evaluate("() => window.__bench")
    page.close()
    return [min(d for d in clocks["drawn"] if d > e) - e for e in clocks["enter"]]


def run(browser, dataset, overlap: float, answers: int, rounds: int, folder: Path) -> dict:
    """One session (``overlap``): the scripted team, its agreement, then the page's rounds."""
    config = SessionConfig(dataset=dataset.name, overlap=overlap)
    session = Session.create(Store(folder / f"team-{overlap}.db"), config, dataset=dataset, trainer=SharedTrainer())
    app = AnnotationApp(AnnotationService(session))
    demo = launch_app(app.build(), server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                      quiet=True)
    try:
        scripted_team(demo.local_url, dataset, answers, seed=int(overlap * 100))
        session.wait_until_trained(600)
        report = session.agreement()
        load_before = load_average()
        times = page_rounds(browser, demo.local_url, dataset, rounds)
        return {"report": report, "times": times, "load": f"{load_before} / {load_average()}"}
    finally:
        demo.close()
        app.close()
        session.close()
        session.store.close()


def lowest_on(report, key: str) -> str | None:
    """The scripted annotator lowest on ``key`` (None: no one has that number yet)."""
    known = [row for row in report.annotators if row.annotator in ANNOTATORS and getattr(row, key) is not None]
    return min(known, key=lambda row: getattr(row, key)).annotator if known else None


def main() -> None:
    parser = bench_parser(__doc__, quick="100 answers, 15 page rounds", datasets=None)
    parser.add_argument("--answers", type=int, help="answers of the scripted team per session (default 200)")
    parser.add_argument("--rounds", type=int, help="page rounds per session (default 40)")
    parser.add_argument("--pool", type=int, default=2000, help="moons pool size (default 2000)")
    args = start_run(parser)
    answers = args.answers or (100 if args.quick else 200)
    rounds = args.rounds or (15 if args.quick else 40)
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    dataset = load_dataset("moons", n_samples=args.pool * 5 // 4)
    rows = {}
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        for overlap in (OVERLAP, 0.0):
            rows[overlap] = run(browser, dataset, overlap, answers, rounds, Path(folder))
            print(f"  overlap {overlap}: done (load {rows[overlap]['load']})", flush=True)
        browser.close()
    report = rows[OVERLAP]["report"]
    print(f"\noverlap {OVERLAP}, {answers} answers by {', '.join(ANNOTATORS)} (noisy: {WRONG_LABELS:.0%} wrong "
          f"labels, directions turned {TURN_DEGREES:.0f} degrees)\n")
    print(agreement_table(report))
    lowest = {key: lowest_on(report, key) for key in ("agreement_with_others", "direction_cosine_with_others")}
    print(f"\nlowest agreement with the others: {lowest['agreement_with_others']}; lowest direction cosine: "
          f"{lowest['direction_cosine_with_others']} (singled out: "
          f"{'yes' if set(lowest.values()) == {'noisy'} else 'no'})")
    print("\n| session | Enter -> next drawn, median ms | p95 ms | p95 / no-overlap p95 "
          "| load (1/5/15 min, before / after) |")
    print("| --- | --- | --- | --- | --- |")
    base = median_p95(rows[0.0]["times"])[1]
    for overlap, row in rows.items():
        median, p95 = median_p95(row["times"])
        print(f"| overlap {overlap} | {median:.0f} | {p95:.0f} | {p95 / base:.2f} | {row['load']} |")
    ratio = median_p95(rows[OVERLAP]["times"])[1] / base
    print(f"\np95 ratio {ratio:.2f} (target <= {TARGET_RATIO:.2f}: {'met' if ratio <= TARGET_RATIO else 'not met'})")
    print_end()


if __name__ == "__main__":
    main()
