"""``nudge serve`` on texts never embedded: the page opens at once, shows the embedding's progress,
and becomes the annotation page by itself when the pool is ready (a real server, a real browser)."""

import csv
import os
import shutil
import signal
import subprocess
import sys
import time

import pytest
from conftest import free_port

sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")
CHROMIUM = shutil.which("chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]

WORDS = ["fine", "awful", "great", "dull", "moving", "tedious", "bright", "stale", "warm", "cold"]


def write_reviews(path, count: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(count):  # distinct texts, so none is in a cache
            word = WORDS[i % len(WORDS)]
            writer.writerow([f"Review {i}: a {word} film, {word} acting and a {WORDS[(i * 3) % 10]} end.",
                             "pos" if i % 2 else "neg"])


def test_the_page_shows_the_embedding_and_then_the_session(tmp_path):
    reviews = tmp_path / "reviews.csv"
    write_reviews(reviews, 400)
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "NUDGE_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1",
           "GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, "-m", "nudge.loop.cli", "serve", "--dataset", f"text-csv:{reviews}",
               "--db", str(tmp_path / "t.db"), "--host", "127.0.0.1", "--port", str(port)]
    with log.open("w") as handle:
        server = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, env=env)
    try:
        deadline = time.monotonic() + 120
        while "preparing the pool at" not in log.read_text():
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()[-2000:]
            time.sleep(0.1)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            page.wait_for_function("() => /Embedding the texts/.test(document.querySelector('#status-line')"
                                   "?.innerText ?? '')", timeout=30_000)
            seen = page.locator("#status-line").inner_text()
            assert "of 400 texts" in seen
            # by itself, once the pool is ready: the annotation page with its first query
            page.wait_for_function("() => /Point \\d+/.test(document.querySelector('#prediction')?.innerText ?? '')",
                                   timeout=240_000)
            browser.close()
        assert "annotate at" in log.read_text() and "Traceback" not in log.read_text()
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
