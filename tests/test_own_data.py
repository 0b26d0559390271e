"""A team's own unlabelled data, end to end through real ``nudge serve`` processes and the API.

An unlabelled text CSV and an unlabelled numeric CSV with named columns (every pool label unknown:
nothing in the served session can lean on one): label 20 items through the API, add 50 rows
(some before the old ones, some after), see the server refuse the changed file (texts), resume it
with ``--add-rows``, and find all 20 answers on their items, measured by cross-validation (no test labels).
Then export the answers in every format and read them back with pandas and pyarrow (ids, texts or
features, class names), export the model and predict on new rows with ``nudge predict``.
"""

import csv
import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from conftest import free_port, nudge_serve, wait_for
from gradio_client import Client

from nudge.estimators import load_model
from nudge.loop.cli import main
from nudge.loop.datasets import Scaling, content_hash
from nudge.loop.store.items import SessionData
from nudge.loop.store.store import Store

pytestmark = pytest.mark.slow

ANSWERS = 20


def write_rows(path, header, rows):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def refused(db, *arguments) -> str:
    """The output of a ``nudge serve`` that must refuse to start (exit status 1)."""
    command = [sys.executable, "-m", "nudge.loop.cli", "serve", "--db", str(db), "--host", "127.0.0.1",
               "--port", str(free_port()), *arguments]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stdout + done.stderr
    return done.stderr


def nudge(*arguments: str) -> subprocess.CompletedProcess:
    """``nudge ARGUMENTS`` in a process of its own."""
    return subprocess.run([sys.executable, "-m", "nudge.loop.cli", *arguments], capture_output=True, text=True,
                          timeout=600)


def exported(tmp_path, db, session) -> dict[str, list[dict]]:
    """The session's answers exported in every format (``nudge export``), read back: format -> records
    (Label Studio: its tasks)."""
    files = {fmt: tmp_path / f"answers.{suffix}" for fmt, suffix in
             (("jsonl", "jsonl"), ("csv", "csv"), ("parquet", "parquet"), ("labelstudio", "json"))}
    for path in files.values():
        assert main(["export", "--db", str(db), "--session", session, "--out", str(path)]) == 0
    return {
        "jsonl": pd.read_json(files["jsonl"], lines=True, dtype=False).to_dict("records"),
        "csv": pd.read_csv(files["csv"], dtype={"item_id": str}, keep_default_na=False).to_dict("records"),
        "parquet": pq.read_table(files["parquet"]).to_pylist(),
        "labelstudio": json.loads(files["labelstudio"].read_text()),
    }


def check_predictions(tmp_path, db, session, new_file, *arguments) -> list[dict]:
    """Export the session's model (``nudge export-model``), predict on ``new_file`` with ``nudge predict``
    in a process of its own; its rows, checked against ``load_model``'s."""
    assert main(["export-model", "--db", str(db), "--session", session, "--out", str(tmp_path / "model")]) == 0
    done = nudge("predict", "--model", str(tmp_path / "model"), str(new_file), *arguments)
    assert done.returncode == 0, done.stderr
    return list(csv.DictReader(done.stdout.splitlines()))


def items_by_point(db, session):
    store = Store(db)
    try:
        points = {item.point_id: item.item_id for item in SessionData(store.db, session).items()}
        return points, store.log(session).annotations()
    finally:
        store.close()


REVIEW_WORDS = ["fine", "awful", "great", "dull", "moving", "tedious", "bright", "stale", "warm", "cold"]


def review(i: int) -> str:
    word = REVIEW_WORDS[i % len(REVIEW_WORDS)]
    return f"Review {i}: a {word} film with {REVIEW_WORDS[(i * 3) % 10]} acting."


def test_an_unlabelled_text_csv_grows_and_keeps_every_answer_on_its_item(tmp_path, monkeypatch):
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    data, db = tmp_path / "reviews.csv", tmp_path / "own.db"
    write_rows(data, ["text"], [[review(i)] for i in range(120)])
    options = ["--dataset", f"text-csv:{data}", "--classes", "neg,pos", "--session", "own"]
    given = {}  # item id -> (label, text) as the API showed it
    with nudge_serve(db, *options, log=tmp_path / "first.log") as server:
        api = Client(server.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        first = query
        for i in range(ANSWERS):
            assert query["item_id"] == content_hash(query["text"])  # a text's id is its content's hash
            label = "pos" if REVIEW_WORDS.index(query["text"].split(" a ")[1].split()[0]) % 2 == 0 else "neg"
            towards = first["point_id"] if i % 5 == 4 else None
            given[query["item_id"]] = (label, query["text"])
            query = api.predict(query["query_id"], label, None, None, towards, None, "ann", api_name="/submit")
        # no test labels: cross-validated every few versions, after the version is published; the last one
        # sees at least 15 answers (it runs once 5 answers and a tenth more came since the one before)
        trained = lambda s: s["n_labeled"] == ANSWERS and (s["evaluation"]["n"] or 0) >= 15  # noqa: E731
        status = wait_for(api, trained, timeout=240)
        assert status["accuracy"] is None and status["evaluation"]["kind"] == "cross-validated"
        assert status["data"] == {"version": 1, "n_items": 120, "removed": 0, "stranded_answers": 0}

    new = [[review(1000 + i)] for i in range(50)]
    write_rows(data, ["text"], new[:25] + [[review(i)] for i in range(120)] + new[25:])
    message = refused(db, *options)
    assert "changed since its last data version: 50 new items" in message and "--add-rows" in message
    assert len(SessionData(Store(db).db, "own").versions()) == 1  # refused: nothing recorded

    with nudge_serve(db, *options, "--add-rows", log=tmp_path / "again.log") as server:
        assert "took the new data as version 2: 50 new items; every earlier answer stays on its item" in server.output()
        api = Client(server.url, verbose=False)
        status = wait_for(api, lambda s: s["n_labeled"] == ANSWERS, timeout=240)
        assert status["n_answers"] == ANSWERS and status["data"]["version"] == 2 and status["data"]["n_items"] == 170
        query = api.predict("bob", api_name="/next")
        api.predict(query["query_id"], "neg", None, None, None, None, "bob", api_name="/submit")
    points, answers = items_by_point(db, "own")
    assert len(answers) == ANSWERS + 1 and len(points) == 170
    for answer in answers[:ANSWERS]:  # every answer on the item it was given to
        label, text = given[points[answer.point_id]]
        assert ["neg", "pos"][answer.label] == label and points[answer.point_id] == content_hash(text)
    moved = [a for a in answers if a.towards]
    assert len(moved) == ANSWERS // 5 and all(a.towards == [first["item_id"]] for a in moved)

    given[points[answers[-1].point_id]] = ("neg", None)  # bob's answer
    formats = exported(tmp_path, db, "own")
    for fmt in ("jsonl", "csv", "parquet"):
        records = formats[fmt]
        assert [r["item_id"] for r in records] == [points[a.point_id] for a in answers], fmt
        for record in records:
            label, text = given[record["item_id"]]
            assert record["label"] == label and record["answer"] == "label", fmt
            assert record["item_id"] == content_hash(record["text"]) and text in (None, record["text"]), fmt
        towards = [r for r in records if "[]" not in str(r["towards_ids"])]
        assert len(towards) == ANSWERS // 5 and first["text"] in str(towards[0]["towards_texts"]), fmt
    tasks = formats["labelstudio"]
    assert [t["data"]["item_id"] for t in tasks] == [points[a.point_id] for a in answers]
    assert [t["annotations"][0]["result"][0]["value"]["choices"] for t in tasks] == [
        [given[t["data"]["item_id"]][0]] for t in tasks]

    texts = [review(2000 + i) for i in range(5)]
    write_rows(tmp_path / "new.csv", ["text"], [[text] for text in texts])
    rows = check_predictions(tmp_path, db, "own", tmp_path / "new.csv")
    assert [row["prediction"] for row in rows] == list(load_model(tmp_path / "model").predict(texts))
    write_rows(tmp_path / "bad.csv", ["review"], [[text] for text in texts])
    done = nudge("predict", "--model", str(tmp_path / "model"), str(tmp_path / "bad.csv"))
    assert done.returncode == 1 and done.stderr.count("\n") == 1 and "no text column 'text'" in done.stderr


def test_an_unlabelled_numeric_csv_with_named_columns_grows_and_keeps_its_scaling(tmp_path):
    rng = np.random.default_rng(0)
    rows = [[f"sku{i}", round(float(rng.normal(170, 10)), 1), round(float(rng.normal(70000, 15000)), 0),
             round(float(rng.normal(0.5, 0.1)), 3)] for i in range(150)]
    data, db = tmp_path / "items.csv", tmp_path / "own.db"
    header = ["sku", "height_cm", "price", "ratio"]
    write_rows(data, header, rows)
    options = ["--dataset", f"csv:{data}", "--id-column", "sku", "--classes", "cheap,dear", "--session", "shop",
               "--set", "max_epochs=20"]
    given = {}
    with nudge_serve(db, *options, log=tmp_path / "first.log") as server:
        api = Client(server.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        assert query["feature_names"] == ["height_cm", "price", "ratio"]
        clicked = None
        for i in range(ANSWERS):
            sku = query["item_id"]
            assert query["raw"] == pytest.approx(rows[int(sku[3:])][1:])  # the item in the file's own units
            label = "dear" if query["raw"][1] > 70000 else "cheap"
            given[sku] = label
            vector = [0.0, -5000.0 if label == "dear" else 5000.0, 0.0] if i % 4 == 1 else None
            plane = [0.5, 0.25] if i % 4 == 2 else None
            if plane is not None:
                clicked = (sku, np.array(query["projection"]["u1"]), np.array(query["projection"]["u2"]))
            query = api.predict(query["query_id"], label, vector, plane, None, None, "ann", api_name="/submit")
        wait_for(api, lambda s: s["n_labeled"] == ANSWERS, timeout=240)
    store = Store(db)
    scaling = Scaling.from_dict(SessionData(store.db, "shop").scaling())
    store.close()
    pool = np.array([row[1:] for row in rows])
    np.testing.assert_allclose(scaling.mean, pool.mean(axis=0))  # standardised on the pool
    np.testing.assert_allclose(scaling.scale, pool.std(axis=0))

    new = [[f"new{i}", 160.0 + i, 50000.0 + 1000 * i, 0.4] for i in range(50)]
    write_rows(data, header, new[:10] + rows[::-1] + new[10:])  # new rows before and after, the old ones reversed
    with nudge_serve(db, *options, "--add-rows", log=tmp_path / "again.log") as server:
        api = Client(server.url, verbose=False)
        status = wait_for(api, lambda s: s["n_labeled"] == ANSWERS, timeout=240)
        assert status["data"] == {"version": 2, "n_items": 200, "removed": 0, "stranded_answers": 0}
    store = Store(db)
    points = {item.point_id: item.item_id for item in SessionData(store.db, "shop").items()}
    answers = store.log("shop").annotations()
    assert Scaling.from_dict(SessionData(store.db, "shop").scaling()) == scaling  # kept, not refitted on new rows
    store.close()
    assert {points[a.point_id]: ["cheap", "dear"][a.label] for a in answers} == given
    vectors = [a for a in answers if a.sources == ["api"]]
    assert len(vectors) == ANSWERS // 4 and all(abs(a.directions[0][1]) == 5000.0 for a in vectors)  # data units
    (arrow,) = [a for a in answers if points[a.point_id] == clicked[0]]
    np.testing.assert_allclose(arrow.directions[0], scaling.direction_to_data(0.5 * clicked[1] + 0.25 * clicked[2]))

    by_sku = {row[0]: row[1:] for row in rows}
    formats = exported(tmp_path, db, "shop")
    for fmt in ("jsonl", "csv", "parquet"):
        records = formats[fmt]
        assert {r["item_id"]: r["label"] for r in records} == given, fmt
        for record in records:
            values = record["features"] if fmt == "jsonl" else record
            assert [values[name] for name in header[1:]] == pytest.approx(by_sku[record["item_id"]]), fmt
    assert {t["data"]["item_id"]: t["annotations"][0]["result"][0]["value"]["choices"][0]
            for t in formats["labelstudio"]} == given

    fresh = [[f"later{i}", 150.0 + 3 * i, 40000.0 + 4000 * i, 0.5] for i in range(10)]
    write_rows(tmp_path / "later.csv", header, fresh)
    predicted = check_predictions(tmp_path, db, "shop", tmp_path / "later.csv", "--id-column", "sku")
    model = load_model(tmp_path / "model")
    assert [row["id"] for row in predicted] == [row[0] for row in fresh]
    assert [row["prediction"] for row in predicted] == list(model.predict(np.array([row[1:] for row in fresh])))
