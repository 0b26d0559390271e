"""``nudge export-model`` and ``nudge predict`` (issue 17, item 5): a session's newest trained model
leaves the tool as a folder (weights, class and feature names, scaling, network settings) that
``nudge.estimators.load_model`` reads back and predicts with as the session did; a damaged folder or
a bad file to predict on is refused in one line."""

import csv
import json
import threading
from pathlib import Path

import numpy as np
import pytest
from conftest import SMALL_NET

from nudge.estimators import load_model
from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.export.model import export_model
from nudge.loop.session.callbacks import SessionCallback
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.loop.training.shared import SharedTrainer
from nudge.strategies import estimators_of

FEATURES = ["area", "rooms", "rent"]


def write_flats(path: Path, first: int, count: int, columns=("flat", *FEATURES)) -> Path:
    """Flats ``first``.. as a CSV: an id, area (m2), rooms and rent (euros), columns in the order given."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(columns)
        for i in range(first, first + count):
            values = {"flat": f"f{i:02d}", "area": 30 + 4 * i, "rooms": 1 + i % 4, "rent": 500 + 37 * i}
            writer.writerow([values[column] for column in columns])
    return path


def nudge(capsys, *arguments: str) -> tuple[int, str, str]:
    """``nudge ARGUMENTS`` run in this process (a new one spends its time importing): (exit status, output, errors)."""
    capsys.readouterr()
    status = main(list(arguments))
    out, err = capsys.readouterr()
    return status, out, err


class Published(SessionCallback):
    """Set when a model trained on ``n`` answers is published."""

    def __init__(self, n: int) -> None:
        self.n, self.event = n, threading.Event()

    def on_retrain(self, session, snapshot) -> None:
        if snapshot.n_labeled == self.n:
            self.event.set()


@pytest.fixture
def trained(tmp_path):
    """A flats session whose trainer published a model trained on 8 answers (rent above 1000: dear)."""
    config = SessionConfig(dataset=f"csv:{write_flats(tmp_path / 'flats.csv', 0, 30)}", estimator=SMALL_NET,
                           dataset_options={"id_column": "flat", "classes": ["cheap", "dear"]}, retrain_every=8)
    store = Store(tmp_path / "flats.db")
    published = Published(8)
    session = Session.create(store, config, session_id="flats", trainer=SharedTrainer(poll_seconds=0.05),
                             callbacks=[published])
    for _ in range(8):
        query = session.next_query("ann")
        session.submit(query.query_id, "dear" if session.dataset.raw[query.point_id][2] > 1000 else "cheap",
                       annotator="ann")
    assert published.event.wait(timeout=120), "no model trained on the 8 answers was published"
    yield session, tmp_path
    session.close()
    store.close()


def test_the_exported_model_predicts_as_the_session_does(trained, capsys):
    session, tmp_path = trained
    exported = export_model(session.store, tmp_path / "model")
    assert (exported.session_id, exported.version) == ("flats", session.model.version)
    model = load_model(tmp_path / "model")
    assert (model.class_names, model.feature_names, model.kind) == (["cheap", "dear"], FEATURES, "table")
    network = estimators_of(session.model.learner)[0]
    np.testing.assert_allclose(model.predict_proba(session.dataset.raw), network.predict_proba(session.dataset.X),
                               rtol=1e-5, atol=1e-6)  # the scaling goes with the model: rows in the data's units
    expected = np.array(["cheap", "dear"])[network.predict(session.dataset.X)]
    assert list(model.predict(session.dataset.raw)) == list(expected)

    new = write_flats(tmp_path / "new.csv", 30, 5, columns=("rent", "flat", "rooms", "area"))
    status, out, err = nudge(capsys, "predict", "--model", str(tmp_path / "model"), str(new), "--id-column", "flat")
    assert status == 0, err
    rows = list(csv.DictReader(out.splitlines()))
    new_rows = np.array([[30 + 4 * i, 1 + i % 4, 500 + 37 * i] for i in range(30, 35)], dtype=float)
    assert [row["id"] for row in rows] == [f"f{i}" for i in range(30, 35)]
    assert [row["prediction"] for row in rows] == list(model.predict(new_rows))
    assert [float(row["p_dear"]) for row in rows] == pytest.approx(model.predict_proba(new_rows)[:, 1], abs=1e-6)


def bad_folder(folder: Path, damage: str) -> None:
    manifest = folder / "nudge-model.json"
    if damage == "cut weights":
        weights = folder / "weights-0.safetensors"
        weights.write_bytes(weights.read_bytes()[:100])
    elif damage == "no manifest":
        manifest.unlink()
    elif damage == "garbled manifest":
        manifest.write_text("{not json")
    elif damage == "wrong network":
        card = json.loads(manifest.read_text())
        card["network"]["hidden"] = [3, 3]
        manifest.write_text(json.dumps(card))


@pytest.mark.parametrize("damage, said", [
    ("cut weights", "were changed or cut short"), ("no manifest", "holds no nudge-model.json"),
    ("garbled manifest", "cannot be read"), ("wrong network", "does not fit the network"),
])
def test_a_damaged_model_folder_is_refused_in_one_line(trained, capsys, damage, said):
    session, tmp_path = trained
    export_model(session.store, tmp_path / "model")
    bad_folder(tmp_path / "model", damage)
    status, out, err = nudge(capsys, "predict", "--model", str(tmp_path / "model"), str(tmp_path / "flats.csv"))
    assert status == 1 and out == "" and err.count("\n") == 1 and said in err, err


def test_a_file_without_the_model_features_is_refused_in_one_line(trained, capsys):
    session, tmp_path = trained
    export_model(session.store, tmp_path / "model")
    new = write_flats(tmp_path / "new.csv", 30, 3, columns=("flat", "area", "rent"))
    status, out, err = nudge(capsys, "predict", "--model", str(tmp_path / "model"), str(new))
    assert status == 1 and out == "" and err.count("\n") == 1 and "'rooms'" in err, err


def test_a_session_without_a_trained_model_has_none_to_export(tmp_path):
    config = SessionConfig(dataset=f"csv:{write_flats(tmp_path / 'flats.csv', 0, 30)}", estimator=SMALL_NET,
                           dataset_options={"id_column": "flat", "classes": ["cheap", "dear"]})
    store = Store(tmp_path / "flats.db")
    Session.create(store, config, session_id="flats").close()
    with pytest.raises(SessionError, match="no trained model to export yet"):
        export_model(store, tmp_path / "model")
    assert not (tmp_path / "model").exists()
    store.close()
