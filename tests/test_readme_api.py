"""The README's gradio_client example, run verbatim by a user's Python against a real ``nudge serve``: on
2-D data and on a text CSV (its one line that names the server, ``URL = ...``, pointed at the test's)."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import nudge_serve, write_reviews_csv

from nudge.loop.store.store import Store

README = Path(__file__).resolve().parents[1] / "README.md"
EXAMPLE_URL = 'URL = "http://127.0.0.1:7860/"'
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def api_example() -> str:
    """The python block of the README's section on the API."""
    section = README.read_text().split("\n### The API\n", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def run_against(url: str) -> subprocess.CompletedProcess:
    example = api_example()
    assert example.count(EXAMPLE_URL) == 1  # the one place that names the server
    return subprocess.run([sys.executable, "-c", example.replace(EXAMPLE_URL, f"URL = {url!r}")],
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("data", [
    "moons",
    pytest.param("reviews", marks=pytest.mark.slow),  # a sentence model in the server
])
def test_the_readme_api_example_runs_verbatim(tmp_path, monkeypatch, data):
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    spec = "moons" if data == "moons" else f"text-csv:{write_reviews_csv(tmp_path / 'reviews.csv')}"
    db = tmp_path / "readme.db"
    with nudge_serve(db, "--dataset", spec, "--session", "readme", "--auth", "alice:secret") as server:
        done = run_against(server.url)
        assert done.returncode == 0, done.stderr[-3000:]
        assert "Traceback" not in server.output()
    (answer,) = Store(db).log("readme").annotations()  # answered with label "1" (class 1 either way), then undone
    assert (answer.label, answer.annotator, answer.sources, answer.undone) == (1, "alice", ["arrow"], True)
