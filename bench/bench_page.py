"""Enter -> the next point drawn, in a real browser: the annotation page against Gradio's own floor.

Run: ``.venv/bin/python bench/bench_page.py`` (moons and cad-imdb, from 0 and
from 200 labels, 50 rounds each: a few minutes once CAD's embeddings are
cached) or ``--quick`` (moons only, 10 rounds). A scripted person in
Playwright + Debian's chromium works the page that ``nudge serve`` serves (the
same app and a background-training session, in this process, on a free local
port): it types a new name into the name box (no Enter), then each round
presses the label key of the point's true class, clicks on the picture at once
(an arrow, away from the numbered examples) and presses Enter. Times are taken
in the page (``performance.now``): from the Enter keydown to the frame after
the next point is drawn (``#projection``'s ``data-point-id`` changes). The
session starts empty or pre-filled with 200 answers of the exact oracle
(bench/common.py), default settings (retrain after every answer).

Two trainers (``--trainers``, both by default, one after the other in the same run so their
ratio shares the load): ``in-process``, the page served in this process with a
:class:`SharedTrainer` on a thread beside it (as ``nudge serve --train-here``), and ``child``,
the real ``nudge serve`` as its own process over the pre-filled database, training in its child
``nudge train`` as it does by default (issue 18), so no retrain shares the page's interpreter.

In the same run, the floor: a trivial Gradio event (a button whose handler adds
one to a number in a text box), click to the frame after the DOM changes,
timed the same way; and a trivial server function (the page's way to the
server) for reference. Printed per row: median and p95 of Enter -> drawn, the
ratio to the floor's, how many next points were ready in advance (prepared
while the person looked, rather than chosen when the answer came), arrows
stored / clicked, answers carrying the typed name / answers, and the load average. Target (issue 10, quiet machine): p95 <= 100
ms on both data sets at 200 labels, every arrow and every name kept. Each row runs
with the garbage collector as ``nudge serve`` sets it once started (start-up
objects frozen out of its walks, loop/memory.py); ``--collectors frozen,unfrozen``
repeats each row without that, in the same run.

Text help (issue 14; on cad-imdb, from 200 labels; ``--text-reviews`` 30 by
default, none with ``--quick`` unless asked; ``--text-only`` skips the rows
above): a scripted person on the same page reads each review for
``--text-think`` seconds, clicks at the start of the rewrite box and types a
short phrase there (``--typing-ms`` between keys), waits for the model's
reading, then presses the label key of the review's true class and Enter (the
rewrite goes with the answer). Timed in the page: from a query shown (its
``data-point-id`` set) to the frame after its word highlights are drawn, and
from the last key typed (the pause) to the frame after the reading of that
text is shown; the reading waits for the page's debounce (300 ms) first, so
the part after it is printed too. Keys typed and kept are counted. Run twice:
as shipped (the highlights of each tab's prepared next query are computed
while the person works on the current one) and without that (a query's
highlights start only when it is handed out), to show what preparing buys.
"""

from __future__ import annotations

import gc
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path

import gradio as gr
import numpy as np
from common import (
    DATASET_LOADERS,
    MOONS_SAMPLES,
    ServeProcess,
    bench_parser,
    filled_session,
    load_average,
    median_p95,
    prefilled_session,
    print_end,
    start_run,
)
from playwright.sync_api import sync_playwright

from nudge.loop.compute.memory import freeze_startup_objects
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import load_dataset
from nudge.loop.service.service import AnnotationService
from nudge.loop.store.store import Store
from nudge.loop.training.shared import SharedTrainer
from nudge.ui.app import AnnotationApp, launch_app

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
LABELS = (0, 200)
TARGET_MS = 100.0
FLOOR_EVENTS = 40
TEXT_LABELS = 200
TRAINERS = ("in-process", "child")
PHRASE = "Not at all good. "  # typed at the start of each review, where the model reads
DEBOUNCE_MS = 300.0  # ui/page/text_help.js PREDICT_MS

# In-page clocks: Enter keydowns, and the frame after each change of the point shown.
CLOCKS = """() => {
  window.__bench = {enter: [], drawn: [], frame: []};
  window.addEventListener('keydown', (e) => { if (e.key === 'Enter') __bench.enter.push(performance.now()); }, true);
  const picture = document.querySelector('#projection');
  let shown = picture.dataset.pointId;
  new MutationObserver(() => {
    if (picture.dataset.pointId === shown) return;
    shown = picture.dataset.pointId;
    __bench.drawn.push(performance.now());
    requestAnimationFrame(() => __bench.frame.push(performance.now()));
  }).observe(picture, {attributes: true, attributeFilter: ['data-point-id']});
}"""

# Where to click: a random spot of the plot box, away from the numbered examples (a click there picks one).
CLICK_SPOT = """([fx, fy]) => {
  const page = window.nudgePage, g = page.box(), rect = document.querySelector('#projection canvas').getBoundingClientRect();
  const examples = page.state.query.projection.candidates.map((c) => page.toPixel(c.a, c.b));
  const [sx, sy] = page.toPixel(0, 0);
  for (let i = 0; i < 50; i++) {
    const x = g.left + ((fx + 0.37 * i) % 1) * (g.right - g.left), y = g.top + ((fy + 0.61 * i) % 1) * (g.bottom - g.top);
    if (examples.every(([cx, cy]) => Math.hypot(cx - x, cy - y) > 20) && Math.hypot(sx - x, sy - y) > 20) {
      return [rect.left + x, rect.top + y];
    }
  }
  return [rect.left + g.left + 5, rect.top + g.top + 5];
}"""

FLOOR_LOOP = """async (n) => {
  const button = document.querySelector('#floor-button'), box = document.querySelector('#floor-out textarea');
  const events = [], functions = [];
  for (let i = 0; i < n; i++) {
    const old = box.value, start = performance.now();
    let changed = 0;
    const observer = new MutationObserver(() => { if (!changed && box.value !== old) changed = performance.now(); });
    observer.observe(box.parentElement, {attributes: true, childList: true, subtree: true, characterData: true});
    await new Promise((resolve) => {
      const wait = () => (box.value !== old ? requestAnimationFrame(resolve) : setTimeout(wait, 0));
      button.click(); wait();
    });
    observer.disconnect();
    events.push([(changed || performance.now()) - start, performance.now() - start]);
    const called = performance.now();
    await window.__floorServer.ping(i);
    const answered = performance.now();
    await new Promise((resolve) => requestAnimationFrame(resolve));
    functions.push([answered - called, performance.now() - called]);
  }
  return [events, functions];
}"""


# In-page clocks of the text help: each point shown, each drawing of highlights (point, model
# version, DOM change, next frame), each key typed in the rewrite box, each reading shown (edit
# number, DOM change, next frame).
TEXT_CLOCKS = """() => {
  window.__text = {shown: [], highlights: [], keys: [], readings: []};
  const picture = document.querySelector('#projection'), text = document.querySelector('#query-text');
  const feedback = document.querySelector('#rewrite-feedback');
  const framed = (list, entry) => {
    const changed = performance.now();
    requestAnimationFrame(() => list.push([...entry, changed, performance.now()]));
  };
  let shown = picture.dataset.pointId;
  new MutationObserver(() => {
    if (picture.dataset.pointId === shown) return;
    shown = picture.dataset.pointId;
    __text.shown.push([Number(shown), performance.now()]);
  }).observe(picture, {attributes: true, attributeFilter: ['data-point-id']});
  new MutationObserver(() => {
    const h = window.nudgePage.state.highlights;
    if (text.dataset.highlights !== undefined && h) framed(__text.highlights, [h.point_id, h.model_version]);
  }).observe(text, {attributes: true, attributeFilter: ['data-highlights']});
  document.querySelector('#rewrite').addEventListener('keydown', () => __text.keys.push(performance.now()), true);
  new MutationObserver(() => framed(__text.readings, [Number(feedback.dataset.edit)]))
    .observe(feedback, {attributes: true, attributeFilter: ['data-edit']});
}"""

CLASS_KEY = "k => window.nudgePage.keys[k]"  # the key the page shows beside class k
READING_READY = """() => document.querySelector('#rewrite-feedback').dataset.edit === String(window.nudgePage.state.edits)"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def ping(value):
    return value


def floor_app() -> gr.Blocks:
    """The trivial Gradio event and server function the page is compared with."""
    with gr.Blocks() as demo:
        gr.HTML("", js_on_load="window.__floorServer = server;", server_functions=[ping])
        button = gr.Button("go", elem_id="floor-button")
        out = gr.Textbox("0", elem_id="floor-out")
        button.click(lambda value: str(int(value) + 1), out, out, show_progress="hidden")
    return demo


def measure_floor(browser, events: int) -> tuple[list[float], list[float]]:
    demo = launch_app(floor_app(), server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                      quiet=True)
    try:
        page = browser.new_page()
        page.goto(demo.local_url)
        page.wait_for_function("() => window.__floorServer && document.querySelector('#floor-button')"
                               " && document.querySelector('#floor-out textarea')")
        event_ms, function_ms = page.evaluate(FLOOR_LOOP, events + 5)
        page.close()
        return event_ms[5:], function_ms[5:]  # the first calls warm the connection up
    finally:
        demo.close()


def run_page(browser, dataset, n_labels: int, rounds: int, think: float, folder: Path, frozen: bool) -> dict:
    """The scripted person on a fresh page over a session pre-filled with n_labels answers, served in this
    process with a SharedTrainer; ``frozen``: the collector set as ``nudge serve`` sets it once started
    (nudge.loop.compute.memory.freeze_startup_objects)."""
    session = prefilled_session(dataset, n_labels, db=str(folder / f"{dataset.name}-{n_labels}-{frozen}.db"),
                                trainer=SharedTrainer())  # as nudge serve --train-here trains and publishes
    app = AnnotationApp(AnnotationService(session))
    demo = launch_app(app.build(), server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                      quiet=True)
    if frozen:
        freeze_startup_objects()
    already = len(session.log.annotations())
    try:
        clocks, name = person_rounds(browser, demo.local_url, dataset, n_labels, rounds, think)
        store_answers = session.log.annotations()[already:]
        found = dict(app.tabs.found)
    finally:
        gc.unfreeze()  # the next row starts as this one did
        demo.close()
        app.close()
        session.close()
        session.store.close()
    return {**counted(clocks, store_answers, name, rounds), "prepared": found.get("prepared", 0)}


def run_served(browser, dataset, options: dict, n_labels: int, rounds: int, think: float, folder: Path,
               threads: int) -> dict:
    """The scripted person on the page of a real ``nudge serve`` process (its trainer a child ``nudge train``)
    over a database pre-filled with n_labels answers; retrain after every answer, as in :func:`run_page`.
    ``options``: the data set's loading options, as ``nudge serve`` takes them (``--n-samples`` ...)."""
    db = folder / f"{dataset.name}-{n_labels}-served.db"
    filler = filled_session(dataset, n_labels, config=SessionConfig(dataset=dataset.name, dataset_options=options),
                            db=str(db))
    session_id, already = filler.session_id, len(filler.log.annotations())
    filler.close()
    filler.store.close()
    arguments = [item for key, value in options.items() for item in (f"--{key.replace('_', '-')}", str(value))]
    server = ServeProcess(["--dataset", dataset.name, *arguments, "--db", str(db), "--session", session_id,
                           "--retrain-every", "1"], threads)
    try:
        clocks, name = person_rounds(browser, server.wait_ready(), dataset, n_labels, rounds, think)
    finally:
        server.stop()
    store = Store(str(db))
    try:
        store_answers = store.log(session_id).annotations()[already:]
    finally:
        store.close()
    return {**counted(clocks, store_answers, name, rounds), "prepared": None}


def person_rounds(browser, url: str, dataset, n_labels: int, rounds: int, think: float) -> tuple[dict, str]:
    """The scripted person's ``rounds`` on the page at ``url``: (the in-page clocks, the name typed)."""
    name = f"typed-{dataset.name}-{n_labels}"
    rng = np.random.default_rng(n_labels)
    page = browser.new_page(viewport={"width": 1280, "height": 1100})
    page.goto(url)
    page.wait_for_function("() => document.querySelector('#projection')?.dataset.pointId", timeout=120_000)
    page.evaluate(CLOCKS)
    page.locator("#annotator-name input").fill(name)  # typed, no Enter
    page.locator("h2").first.click()  # the focus leaves the name box, as a person's would
    for _ in range(rounds):
        point = int(page.locator("#projection").get_attribute("data-point-id"))
        x, y = page.evaluate(CLICK_SPOT, [float(rng.uniform(0.05, 0.95)), float(rng.uniform(0.05, 0.95))])
        page.keyboard.press(page.evaluate(CLASS_KEY, int(dataset.y[point])))
        page.mouse.click(x, y)
        page.keyboard.press("Enter")
        page.wait_for_function("old => document.querySelector('#projection').dataset.pointId !== old",
                               arg=str(point), timeout=60_000)
        if think:
            time.sleep(think)
    clocks = page.evaluate("() => window.__bench")
    page.close()
    return clocks, name


def counted(clocks: dict, store_answers: list, name: str, rounds: int) -> dict:
    """A row's latencies (ms) and what was stored of the person's inputs."""
    return {
        "latencies": [min(f for f in clocks["frame"] if f > e) - e for e in clocks["enter"]],
        "drawn": [min(d for d in clocks["drawn"] if d > e) - e for e in clocks["enter"]],
        # a click on the picture is an arrow, or the example whose marker it lands on (towards-example)
        "arrows": sum(a.sources.count("arrow") + a.sources.count("towards-example") for a in store_answers),
        "answers": len(store_answers),
        "named": sum(a.annotator == name for a in store_answers),
        "clicks": rounds,
    }


def run_text_help(browser, dataset, reviews: int, think: float, typing_ms: float, folder: Path,
                  prepared: bool) -> dict:
    """The scripted person writing a rewrite of each of ``reviews`` CAD reviews (after a first, unmeasured one);
    ``prepared``: the prepared next queries' highlights are computed in advance (as shipped)."""
    session = prefilled_session(dataset, TEXT_LABELS, db=str(folder / f"text-help-{prepared}.db"),
                                trainer=SharedTrainer())  # as nudge serve trains and publishes
    app = AnnotationApp(AnnotationService(session))
    if not prepared:
        app.tabs.on_prepared = None
    demo = launch_app(app.build(), server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                      quiet=True)
    kept, rounds = 0, []
    try:
        page = browser.new_page(viewport={"width": 1280, "height": 1100})
        page.goto(demo.local_url)
        page.wait_for_function("() => document.querySelector('#projection')?.dataset.pointId")
        page.evaluate(TEXT_CLOCKS)
        for review in range(reviews + 1):  # the first loads the sentence model: not measured
            point = int(page.locator("#projection").get_attribute("data-point-id"))
            page.wait_for_function("p => window.nudgePage.state.highlights?.point_id === p", arg=point,
                                   timeout=120_000)
            time.sleep(think)  # reading the review
            before = page.locator("#rewrite").input_value()
            page.locator("#rewrite").focus()
            page.keyboard.press("Control+Home")
            page.keyboard.type(PHRASE, delay=typing_ms)
            kept += page.locator("#rewrite").input_value() == PHRASE + before
            page.wait_for_function(READING_READY, timeout=60_000)
            edit = page.evaluate("() => window.nudgePage.state.edits")
            if review:
                rounds.append((point, edit))
            page.locator("h2").first.click()  # out of the box, then the label key and Enter
            page.keyboard.press(page.evaluate(CLASS_KEY, int(dataset.y[point])))
            page.keyboard.press("Enter")
            page.wait_for_function("old => document.querySelector('#projection').dataset.pointId !== old",
                                   arg=str(point), timeout=60_000)
        clocks = page.evaluate("() => window.__text")
        page.close()
        stored = session.log.annotations()[TEXT_LABELS:]
    finally:
        demo.close()
        app.close()
        session.close()
        session.store.close()
    highlights, readings = [], []
    for point, edit in rounds:
        shown = max(t for p, t in clocks["shown"] if p == point)
        highlights.append(min(f for p, _, _, f in clocks["highlights"] if p == point and f > shown) - shown)
        drawn = min(f for e, _, f in clocks["readings"] if e == edit)
        readings.append(drawn - max(k for k in clocks["keys"] if k < drawn))
    return {"highlights": highlights, "readings": readings, "kept": kept, "typed": reviews + 1,
            "rewrites": sum(a.sources == ["rewrite"] for a in stored), "answers": len(stored)}


def print_text_help(rows: list[dict]) -> None:
    print(f"\ntext help on cad-imdb from {TEXT_LABELS} labels, {len(rows[0]['highlights'])} reviews (ms):")
    print("\n| next queries' highlights | from | to | median | p95 | load (1 min) |")
    print("| --- | --- | --- | ---: | ---: | ---: |")
    for row in rows:
        (h_median, h_p95), (r_median, r_p95) = median_p95(row["highlights"]), median_p95(row["readings"])
        how, load = "prepared" if row["prepared"] else "not prepared", row["load"].split()[0]
        print(f"| {how} | a query shown | its word highlights drawn | {h_median:.0f} | {h_p95:.0f} | {load} |")
        print(f"| {how} | the last key typed in the rewrite (a pause) | the model's reading of it shown | "
              f"{r_median:.0f} | {r_p95:.0f} | {load} |")
        print(f"| {how} | the same, after the page's {DEBOUNCE_MS:.0f} ms debounce | | {r_median - DEBOUNCE_MS:.0f} | "
              f"{r_p95 - DEBOUNCE_MS:.0f} | {load} |")
    for row in rows:
        print(f"{'prepared' if row['prepared'] else 'not prepared'}: rewrites typed with every key kept "
              f"{row['kept']} / {row['typed']}; answers stored with their rewrite {row['rewrites']} / {row['answers']}")


def main() -> None:
    parser = bench_parser(__doc__, quick="moons only, 10 rounds (no text help unless --text-reviews)")
    parser.add_argument("--rounds", type=int, help="rounds per row (default 50)")
    parser.add_argument("--labels", help=f"comma-separated pre-filled labels (default {LABELS})")
    parser.add_argument("--think", type=float, default=0.0, help="seconds the person waits after each point is drawn")
    parser.add_argument("--data-dir", help="the CAD files' folder (default: found as load_dataset finds it)")
    parser.add_argument("--text-reviews", type=int, help="reviews rewritten on cad-imdb (default 30; 0: none)")
    parser.add_argument("--text-think", type=float, default=2.0, help="seconds spent reading each review (default 2)")
    parser.add_argument("--typing-ms", type=float, default=100.0, help="ms between keys typed (default 100)")
    parser.add_argument("--text-only", action="store_true", help="only the text help, not the Enter rows")
    parser.add_argument("--trainers", default=",".join(TRAINERS),
                        help="in-process (SharedTrainer beside the page, this process), child (nudge serve as a "
                        "process, training in its child), or both (default)")
    parser.add_argument("--encoder", help="the text encoder of cad-imdb (default: the text default)")
    parser.add_argument("--limit", type=int, help="cad-imdb: only this many pairs of each split (pool included), "
                        "so a slow encoder embeds fewer texts (default all)")
    parser.add_argument("--collectors", default="frozen", help="frozen (start-up objects out of the garbage "
                        "collector's walks, as nudge serve runs), unfrozen, or both: frozen,unfrozen")
    args = start_run(parser)
    collectors = args.collectors.split(",")
    if not set(collectors) <= {"frozen", "unfrozen"}:
        raise SystemExit("--collectors takes frozen, unfrozen or frozen,unfrozen")
    trainers = args.trainers.split(",")
    if not set(trainers) <= set(TRAINERS):
        raise SystemExit(f"--trainers takes {', '.join(TRAINERS)} or both, comma-separated")
    rounds = args.rounds or (10 if args.quick else 50)
    names = [] if args.text_only else ["moons"] if args.quick else args.datasets.split(",")
    reviews = args.text_reviews if args.text_reviews is not None else 0 if args.quick else 30
    sizes = [int(n) for n in args.labels.split(",")] if args.labels else LABELS
    chromium = shutil.which("chromium")
    if chromium is None:
        raise SystemExit("Debian's chromium is not installed (apt-get install chromium)")
    loaded = {}

    def dataset(name: str):
        if name not in loaded:
            custom = args.data_dir or args.encoder or args.limit
            loaded[name] = (load_dataset("cad-imdb", data_dir=args.data_dir, encoder=args.encoder, limit=args.limit)
                            if name == "cad-imdb" and custom else DATASET_LOADERS[name]())
        return loaded[name]

    def served_options(name: str) -> dict:
        """The options with which ``nudge serve`` loads the same data set as :func:`dataset`."""
        if name == "moons":
            return {"n_samples": MOONS_SAMPLES}
        options = {"data_dir": args.data_dir, "encoder": args.encoder, "limit": args.limit}
        return {key: value for key, value in options.items() if value is not None}

    results, text_help = [], []
    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        if names:
            print(f"{rounds} rounds per row, think time {args.think} s; milliseconds, Enter -> next point drawn")
            floor_events, floor_functions = measure_floor(browser, FLOOR_EVENTS)
        for name in names:
            for n_labels in sizes:
                for trainer in trainers:
                    for collector in collectors if trainer == "in-process" else ["frozen"]:  # as nudge serve runs
                        load = load_average()
                        if trainer == "in-process":
                            row = run_page(browser, dataset(name), n_labels, rounds, args.think, Path(folder),
                                           frozen=collector == "frozen")
                        else:
                            row = run_served(browser, dataset(name), served_options(name), n_labels, rounds,
                                             args.think, Path(folder), args.threads)
                        row.update(dataset=name, labels=n_labels, trainer=trainer, collector=collector,
                                   load=f"{load} -> {load_average()}")
                        results.append(row)
                        print(f"  {name} from {n_labels} labels, {trainer} trainer, collector {collector}, done "
                              f"(load {row['load']})", flush=True)
        if names:
            more_events, more_functions = measure_floor(browser, FLOOR_EVENTS)
        if reviews:
            print(f"text help: {reviews} reviews, reading {args.text_think} s each, {args.typing_ms:.0f} ms between keys",
                  flush=True)
            for prepared in (True, False):
                row = run_text_help(browser, dataset("cad-imdb"), reviews, args.text_think, args.typing_ms,
                                    Path(folder), prepared)
                row.update(prepared=prepared, load=load_average())
                text_help.append(row)
                print(f"  {'prepared' if prepared else 'not prepared'} done (load {row['load']})", flush=True)
        browser.close()
    if text_help:
        print_text_help(text_help)
    if names:
        print_rows(results, floor_events + more_events, floor_functions + more_functions)
    print_end()


def print_trainer_ratios(results: list[dict]) -> None:
    """p95 with the child trainer over p95 with the in-process one, per data set and labels (same run)."""
    p95 = {(r["dataset"], r["labels"], r["trainer"]): median_p95(r["latencies"])[1] for r in results
           if r["collector"] == "frozen"}
    for (name, labels, trainer), child in p95.items():
        in_process = p95.get((name, labels, "in-process"))
        if trainer == "child" and in_process:
            print(f"  {name} from {labels} labels: p95 child trainer / in-process trainer = "
                  f"{child:.1f} / {in_process:.1f} ms = {child / in_process:.2f}")


def print_rows(results: list[dict], floor_events: list, floor_functions: list) -> None:
    """The Enter rows against the floor."""
    event_median, event_p95 = median_p95([frame for _, frame in floor_events])
    print(f"\nfloor ({len(floor_events)} each, before and after the rows), median / p95 ms, to the DOM change "
          "(or the reply) and to the next frame:")
    for what, times in (("trivial Gradio event", floor_events), ("trivial server function", floor_functions)):
        (dom_median, dom_p95), (frame_median, frame_p95) = (median_p95(column) for column in zip(*times))
        print(f"  {what:<24} {dom_median:6.1f} / {dom_p95:6.1f}   frame {frame_median:6.1f} / {frame_p95:6.1f}")
    print("page, Enter -> next point drawn (before the frame), median / p95 ms:")
    for row in results:
        print(f"  {row['dataset']:<9} {row['labels']:>4} labels {row['trainer']:>10} {row['collector']:>8}  "
              f"{median_p95(row['drawn'])[0]:6.1f} / {median_p95(row['drawn'])[1]:6.1f}")
    print("\nEnter -> the frame after the next point is drawn (ms):")
    print("\n| pool | labels | trainer | collector | median | p95 | p95 / floor p95 | next point ready "
          "| directions stored / clicked | names stored / typed | load (1 min, start -> end) |")
    print("| --- | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        median, p95 = median_p95(row["latencies"])
        ready = "n/a" if row["prepared"] is None else f"{row['prepared']} / {row['answers']}"
        start, _, end = row["load"].partition(" -> ")
        print(f"| {row['dataset']} | {row['labels']} | {row['trainer']} | {row['collector']} | {median:.1f} | "
              f"{p95:.1f} | {p95 / event_p95:.2f} | {ready} | {row['arrows']} / {row['clicks']} | "
              f"{row['named']} / {row['answers']} | {start.split()[0]} -> {end.split()[0]} |")
    print_trainer_ratios(results)
    print(f"\ntarget: p95 <= {TARGET_MS:.0f} ms at 200 labels, every arrow and name kept")
    for row in results:
        if row["labels"] != 200:
            continue
        p95 = median_p95(row["latencies"])[1]
        kept = row["arrows"] == row["clicks"] and row["named"] == row["answers"] == row["clicks"]
        verdict = "pass" if p95 <= TARGET_MS and kept else "MISS"
        print(f"  {row['dataset']:<9} ({row['trainer']}, {row['collector']}) p95 {p95:6.1f} ms ({p95 / TARGET_MS:.2f}x the target), "
              f"inputs {'all kept' if kept else 'LOST'}: {verdict}")
    print(f"mean Enter -> drawn over all rows: {statistics.mean(l for r in results for l in r['latencies']):.1f} ms")


if __name__ == "__main__":
    main()
