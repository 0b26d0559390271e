"""Bad input not covered elsewhere: values the network cannot train on, text the database cannot
hold, a click beside the plot, empty and huge rewrites over the API, and bad data or database files
given to ``nudge serve`` / ``nudge export`` (a one-line error and exit code 1, never a traceback)."""

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import TINY_NET
from gradio_client import Client
from gradio_client.exceptions import AppError
from store_helpers import hand_out
from test_ui_api import SESSION, submit, text_session  # noqa: F401  (text_session is a fixture)

from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.answers import MAX_REWRITE_CHARS, label_index
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

NUDGE = [sys.executable, "-m", "nudge.loop.cli"]
pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")



@pytest.fixture
def session(moons):
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET), dataset=moons, session_id="s")
    yield session
    session.close()


# --------------------------------------------------------------------------- answers


@pytest.mark.parametrize("direction, message", [
    ([1e300, 1.0], "too long to train on in float32"),  # finite in float64, infinite in float32
    ([1e20, 1e20], "too long to train on in float32"),  # its length overflows float32
    ([1e-300, 0.0], "too short to train on in float32"),  # zero in float32
])
def test_directions_the_network_cannot_train_on_are_refused(session, direction, message):
    """Accepting one would poison the log: every later retrain would fail on it."""
    query = session.next_query("ann")
    with pytest.raises(SessionError, match=message):
        session.submit(query.query_id, 0, [direction], annotator="ann")
    assert session.store.log("s").annotations() == []
    session.submit(query.query_id, 0, [[1e-30, 1e15]], annotator="ann")  # extreme, but fine in float32
    assert np.all(np.isfinite(session.model.learner.predict_proba(session.dataset.X)))


@pytest.mark.parametrize("options, message", [
    ({"label": float("inf")}, "not one of the classes"),
    ({"towards": float("inf")}, "must be a point id"),
    ({"towards": float("nan")}, "must be a point id"),
    ({"annotator": "ann\x00"}, "control characters"),
    ({"annotator": "ann\nroot"}, "control characters"),
    ({"plane_point": [1e-300, 0.0]}, "too short"),
])
def test_values_that_used_to_escape_as_crashes_are_refused(session, options, message):
    query = session.next_query("ann")
    arguments = {"label": 1, "annotator": "ann", **options}
    with pytest.raises(SessionError, match=message):
        AnnotationService(session).submit(query.query_id, arguments.pop("label"), **arguments)
    assert session.store.log("s").annotations() == []


@pytest.mark.parametrize("query_id", ["q\x00", "f" * 65, None, 12])
def test_impossible_query_ids_are_unknown(session, query_id):
    """Checked before the database sees them (PostgreSQL refuses NUL characters outright)."""
    with pytest.raises(SessionError, match="unknown query id"):
        session.submit(query_id, 0, annotator="ann")


def test_empty_huge_and_nul_rewrites_are_refused_over_the_api(text_session, launch_ui):  # noqa: F811
    with launch_ui(text_session) as running:
        api = Client(running.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        for rewrite, message in (("", "the rewrite is empty"), ("  \n ", "the rewrite is empty"),
                                 ("great " * (MAX_REWRITE_CHARS // 5), f"longer than {MAX_REWRITE_CHARS}"),
                                 (query["text"], "the same as the text"), ("great\x00fun", "NUL")):
            with pytest.raises(AppError, match=message):
                submit(api, query["query_id"], "Positive", rewrite=rewrite)
        assert text_session.store.log(SESSION).annotations() == []
        submit(api, query["query_id"], "Positive", rewrite=query["text"] + " and great fun")
    (stored,) = text_session.store.log(SESSION).annotations()
    assert stored.sources == ["rewrite"] and stored.rewrite.endswith("and great fun")


@pytest.mark.parametrize("label", [True, False, 1.0, "1.0", [1], "", " ", "-1"])
def test_a_label_is_a_class_name_or_index_and_nothing_else(session, label):
    """JSON's true is not class 1, nor 1.0 class 1: a label is a class name, or an index (a whole
    number, or its digits)."""
    query = session.next_query("ann")
    with pytest.raises(SessionError, match=r"is not one of the classes .*give a class name.*\(0..1\)"):
        session.submit(query.query_id, label, annotator="ann")
    assert session.store.log("s").annotations() == []
    session.submit(query.query_id, " 1", annotator="ann")  # the digits of an index
    assert [a.label for a in session.store.log("s").annotations()] == [1]


@pytest.mark.parametrize("names, label, index", [
    (["negative", "positive"], "positive", 1), (["negative", "positive"], "1", 1), (["negative", "positive"], 1, 1),
    (["negative", "positive"], " 0", 0),  # an index: a whole number or its digits
    (["1", "2"], "1", 0), (["1", "2"], " 2", 1),  # names that are numbers: the name wins
    (["1", "2"], 1, 1),  # a whole number is an index
])
def test_one_rule_reads_a_label_as_a_class_name_or_an_index(names, label, index):
    assert label_index(label, names) == index


@pytest.mark.parametrize("names, label, said", [
    (["negative", "positive"], "2", "give a class name, or an index as a whole number or its digits (0..1)"),
    (["1", "2"], "0", "the class names here are numbers, so a string of digits is read as a name"),
    (["1", "2"], 2, "the class names here are numbers"),
])
def test_a_label_that_is_no_class_is_refused_saying_the_rule(names, label, said):
    with pytest.raises(SessionError, match=re.escape(said)):
        label_index(label, names)


def test_a_huge_bad_value_is_quoted_by_a_short_prefix_in_the_reply_and_the_log(running_app, caplog):
    from test_ui_api import raw_submit

    api = Client(running_app.url, verbose=False)
    query = api.predict("ann", api_name="/next")
    huge = "x" * 1_000_000
    with caplog.at_level("WARNING"), pytest.raises(AppError) as refused:
        submit(api, query["query_id"], huge)
    message = str(refused.value)
    assert message.startswith("label 'xxxx") and "(1,000,000 characters)" in message and len(message) < 300
    logged = [r.getMessage() for r in caplog.records if r.name == "nudge.ui.failures"]
    assert logged and all(len(line) < 400 for line in logged)
    event, data = raw_submit(running_app, f'{{"data": ["{query["query_id"]}", true, null, null, null, null, "ann"]}}')
    assert event == "error" and "label True is not one of the classes" in json.dumps(data)
    event, data = raw_submit(running_app, f'{{"data": ["{query["query_id"]}", "1", null, null, null, null]}}')
    assert (event, data["error"]) == ("error", "/submit takes 7 arguments (query_id, label, direction, plane, "
                                               "towards, rewrite, annotator), in order; got 6: give null for those "
                                               "not used")
    assert running_app.session.store.log(SESSION).annotations() == []


@pytest.mark.parametrize("blank", ["\u200b\u200b", "\ufeff \u2060\u200d", "\u3164", "\u00a0\u2800\n"])
def test_a_rewrite_or_a_name_of_invisible_characters_is_empty(text_session, blank):  # noqa: F811
    query = text_session.next_query("ann")
    with pytest.raises(SessionError, match="the rewrite is empty"):
        text_session.submit(query.query_id, 1, annotator="ann", rewrite=blank)
    with pytest.raises(SessionError, match="an annotator name is required"):
        text_session.next_query(blank)
    assert text_session.store.log(SESSION).annotations() == []


@pytest.mark.parametrize("name", ["x" * 65, "a b", "émile", "../up", "-leading", ".hidden", "", "semi;colon"])
def test_a_session_name_has_one_rule_said_plainly(tmp_path, capsys, name):
    store = Store(tmp_path / "names.db")
    with pytest.raises(SessionError, match=r"^a session name is 1 to 64 characters: letters A-Z and a-z, digits"):
        store.create_session(name, {})
    assert main(["serve", f"--session={name}", "--db", str(tmp_path / "names.db")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("nudge serve: error: a session name is 1 to 64 characters") and len(error) < 300
    assert store.session_ids() == []
    store.create_session("Team_2.batch-1", {})  # letters, digits, '.', '-', '_'
    long_name = "y" * 10_000
    with pytest.raises(SessionError, match=r"got 'y+\.\.\.y+' \(10,000 characters\)$"):
        store.create_session(long_name, {})


# --------------------------------------------------------------------------- files given to the commands


def nudge_db(path: Path) -> Path:
    store = Store(path)
    store.create_session("s", {"dataset": "moons"})
    for i in range(150):
        hand_out(store, "s", f"q{i}", i, "ann", 60.0, 0, None)
        store.log("s").add_annotation(query_id=f"q{i}", point_id=i, label=1, directions=[np.ones(2)], targets=[0],
                                      sources=["api"], annotator="ann", model_version=0, round=1)
    store.close()
    return path


def bad_databases(folder: Path) -> dict[str, tuple[str, str]]:
    """name -> (--db value, expected message) for files and URLs no command may use."""
    garbage = folder / "garbage.db"
    garbage.write_bytes(b"not a database at all " * 300)
    foreign = folder / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE queries (id TEXT, owner TEXT)")
    damaged = nudge_db(folder / "damaged.db")
    data = bytearray(damaged.read_bytes())
    for page in range(2, 8):  # b-tree pages of the queries and annotations
        data[4096 * page + 100: 4096 * page + 300] = b"\xff" * 200
    damaged.write_bytes(bytes(data))
    truncated = nudge_db(folder / "truncated.db")
    truncated.write_bytes(truncated.read_bytes()[: 4096 * 3 + 1000])
    (folder / "folder.db").mkdir()
    return {
        "garbage": (str(garbage), "file is not a database"),
        "foreign": (str(foreign), "not nudge's"),
        "damaged": (str(damaged), "failed its integrity check .*restore it from a backup"),
        "truncated": (str(truncated), "cannot use|integrity check"),
        "folder": (str(folder / "folder.db"), "is not a file"),
        "unknown scheme": ("nosuchdb://host/db", "cannot use nosuchdb://host/db"),
        "no server": ("postgresql://bob:hunter2@127.0.0.1:1/db", r"postgresql\+psycopg://bob:\*\*\*@127.0.0.1:1/db"),
    }


@pytest.mark.parametrize("command", ["export", "serve"])
def test_bad_database_files_and_urls_are_a_one_line_error(tmp_path, capsys, command):
    out = tmp_path / "out.jsonl"
    for name, (db, message) in bad_databases(tmp_path).items():
        arguments = ["export", "--db", db, "--out", str(out)] if command == "export" else ["serve", "--db", db]
        assert main(arguments) == 1, name
        error = capsys.readouterr().err
        assert error.startswith(f"nudge {command}: error: ") and len(error.splitlines()) <= 2, (name, error)
        assert re.search(message, error), (name, error)
        assert "hunter2" not in error  # a password in a URL is never shown
    assert not out.exists()


def test_the_command_itself_prints_no_traceback(tmp_path):
    """The same through the installed entry point, in a process of its own."""
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"\x00\x01 no sqlite here" * 100)
    done = subprocess.run(NUDGE + ["export", "--db", str(garbage), "--out", "-"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("nudge export: error: cannot use") and done.stdout == ""


def test_export_refuses_to_overwrite_its_own_database_however_it_is_named(tmp_path, capsys):
    """Compared by file (device and inode), not by name: a hard link is the database too."""
    db = nudge_db(tmp_path / "log.db")
    before = db.read_bytes()
    (tmp_path / "sub").mkdir()
    os.link(db, tmp_path / "hard-link.jsonl")
    (tmp_path / "symlink.jsonl").symlink_to(db)
    (tmp_path / "to-wal.jsonl").symlink_to(tmp_path / "log.db-wal")  # a side file not made yet
    (tmp_path / "folder-link").symlink_to(tmp_path)
    for out in (db, tmp_path / "." / "log.db", tmp_path / "sub" / ".." / "log.db", tmp_path / "hard-link.jsonl",
                tmp_path / "symlink.jsonl", tmp_path / "folder-link" / "log.db", tmp_path / "log.db-wal",
                tmp_path / "log.db-journal", tmp_path / "to-wal.jsonl"):
        assert main(["export", "--db", str(db), "--out", str(out)]) == 1, out
        error = capsys.readouterr().err
        assert error == f"nudge export: error: {out} is the database {db} (or one of its files); write elsewhere\n"
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "sub")]) == 1
    assert "is a folder" in capsys.readouterr().err
    wal = tmp_path / "log.db-wal"
    assert not wal.exists() or b'"session"' not in wal.read_bytes()  # no export went into a side file
    assert db.read_bytes() == before and Store(db).log("s").count() == 150
    assert main(["export", "--db", str(db), "--out", str(tmp_path / "fine.jsonl")]) == 0
    assert len((tmp_path / "fine.jsonl").read_text().splitlines()) == 150


@pytest.mark.parametrize("content, options, message", [
    ("x,y,label\n1,2\n3,4,b\n", ["--label-column", "label"], "line 2: 2 cells where 3 were expected"),
    ("x,y,label\n1,two,a\n3,4,b\n", ["--label-column", "label"], "line 2: column 'y' holds 'two', not a number"),
    ("x,y,label\n1,2,a\n3,4,a\n5,6,a\n", ["--label-column", "label"], "only one class"),
    ("x,y\n1,2\n3,4\n", [], "has no labels: name the classes, e.g. --classes"),  # unlabelled, classes not named
    ("1,2\n3,4\n", ["--classes", "a,b"], "the first row (1, 2) holds numbers; a numeric CSV needs a header row"),
    ("name,label\nx,a\ny,b\n", ["--id-column", "name", "--label-column", "label"], "has no feature columns left"),
    ("x,y\n1,2\n3,4\n", ["--label-column", "grade"], "has no label column 'grade' (--label-column); its columns"),
    ("id,x\nr1,1\nr2,2\nr1,3\n", ["--id-column", "id", "--classes", "a,b"],
     "line 2 and line 4 have the same id 'r1': item ids must be unique"),
    ("x,y\n1,2\n3,4\n1,2\n", ["--classes", "a,b"], "line 2 and line 4 hold the same feature values"),
    ("path\ngone.png\n", ["--image-column", "path", "--classes", "a,b"],
     "line 2: the image 'gone.png' cannot be used"),
    ("p0,p1,p2\n1,2,3\n", ["--image-shape", "2x2", "--classes", "a,b"],
     "--image-shape 2x2 is 4 pixels, but the file has 3 feature columns"),
])
def test_serve_refuses_a_bad_data_file_and_creates_no_session(tmp_path, capsys, content, options, message):
    """Every bad file: one clear line, and nothing stored (the issue's list, through the command line)."""
    data = tmp_path / "points.csv"
    data.write_text(content)
    assert main(["serve", "--dataset", f"csv:{data}", *options, "--db", str(tmp_path / "s.db")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("nudge serve: error: ") and message in error and error.count("\n") == 1
    assert Store(tmp_path / "s.db").session_ids() == []


@pytest.mark.parametrize("setting, message", [
    ("foo=1", "unexpected argument"), ("module__foo=1", "unexpected keyword"), ("lr=-1", "Invalid learning rate"),
])
def test_serve_refuses_bad_estimator_settings_before_storing_a_session(tmp_path, capsys, setting, message):
    """Stored, such a session would fail every retrain, forever."""
    assert main(["serve", "--set", setting, "--db", str(tmp_path / "s.db")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("nudge serve: error: bad estimator settings") and message in error
    assert Store(tmp_path / "s.db").session_ids() == []


@pytest.mark.parametrize("option, message", [
    (["--warm-epochs", "0"], "warm_epochs must be at least 1"),
    (["--full-refit-every", "-1"], "full_refit_every must be 0 (never) or positive"),
    (["--retrain-every", "0"], "retrain_every must be at least 1"),
])
def test_serve_refuses_a_bad_retraining_policy_before_touching_the_database(tmp_path, capsys, option, message):
    assert main(["serve", *option, "--db", str(tmp_path / "s.db")]) == 1
    assert message in capsys.readouterr().err
    assert not (tmp_path / "s.db").exists()
