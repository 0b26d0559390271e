"""The annotation store: exact round trips, one answer per query, refusal of foreign files."""

import sqlite3

import numpy as np
import pytest
from store_helpers import hand_out

from nudge.loop.errors import SessionError, StoreError
from nudge.loop.store.store import Store


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "log.db")
    store.create_session("s1", {"dataset": "moons"})
    yield store
    store.close()


def add_query(store, query_id="q1", point_id=7, annotator="ann"):
    return hand_out(store, "s1", query_id, point_id, annotator, 60.0, 0, 0.25)


def test_annotation_round_trip_is_exact(store):
    add_query(store)
    direction = np.array([0.1, -1 / 3, np.pi, 1e-300])
    written = store.log("s1").add_annotation(query_id="q1", point_id=7, label=1, directions=[direction], targets=[0],
        sources=["arrow"], annotator="ann", model_version=3, round=2,
    )
    (read,) = store.log("s1").annotations()
    assert read.id == written.id and read.label == 1 and read.point_id == 7
    np.testing.assert_array_equal(read.directions[0], direction)  # bit-exact
    assert read.targets == [0] and read.sources == ["arrow"] and read.annotator == "ann"
    assert (read.model_version, read.round, read.undone) == (3, 2, False)
    assert store.queries("s1").query("q1").status == "answered"


def test_a_query_is_answered_once(store):
    add_query(store)
    store.log("s1").add_annotation(query_id="q1", point_id=7, label=0, directions=[], targets=[],
                                   sources=[], annotator="ann", model_version=0, round=1)
    with pytest.raises(SessionError, match="already answered"):
        store.log("s1").add_annotation(query_id="q1", point_id=7, label=1, directions=[], targets=[],
                                       sources=[], annotator="ann", model_version=0, round=1)
    assert [a.label for a in store.log("s1").annotations()] == [0]


def test_unknown_query_and_unknown_source_write_nothing(store):
    with pytest.raises(SessionError, match="unknown"):
        store.log("s1").add_annotation(query_id="nope", point_id=1, label=0, directions=[], targets=[],
                                       sources=[], annotator="ann", model_version=0, round=1)
    add_query(store)
    with pytest.raises(StoreError, match="source"):
        store.log("s1").add_annotation(query_id="q1", point_id=7, label=0, directions=[np.ones(2)],
                                       targets=[1], sources=["telepathy"], annotator="ann", model_version=0, round=1)
    assert store.log("s1").annotations() == []
    assert store.queries("s1").query("q1").status == "open"


def test_skip_and_undo_the_last_active_answer(store):
    add_query(store, "q1", 1)
    add_query(store, "q2", 2)
    first = store.log("s1").add_annotation(query_id="q1", point_id=1, label=0, directions=[], targets=[],
                                           sources=[], annotator="ann", model_version=0, round=1)
    skip = store.log("s1").add_annotation(query_id="q2", point_id=2, label=None, directions=[], targets=[],
                                          sources=[], annotator="ann", model_version=0, round=1)
    assert skip.is_skip and store.queries("s1").query("q2").status == "skipped"
    undone, reopened = store.log("s1").undo_last("ann", lease_seconds=60, model_version=0)
    assert undone.id == skip.id and reopened.point_id == 2 and reopened.annotator == "ann"
    assert [a.id for a in store.log("s1").annotations(include_undone=False)] == [first.id]
    assert store.log("s1").undo_last("ann", lease_seconds=60, model_version=0)[0].id == first.id
    assert store.log("s1").annotations(include_undone=False) == []
    assert len(store.log("s1").annotations()) == 2  # undone answers stay in the log


def test_sqlite_runs_in_wal_mode(tmp_path):
    Store(tmp_path / "wal.db").close()
    with sqlite3.connect(tmp_path / "wal.db") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_reopening_keeps_everything(tmp_path):
    store = Store(tmp_path / "log.db")
    store.create_session("s1", {"a": 1})
    hand_out(store, "s1", "q1", 3, "ann", 60.0, 0, None)
    store.log("s1").add_annotation(query_id="q1", point_id=3, label=1, directions=[np.ones(2)], targets=[0],
                                   sources=["api"], annotator="ann", model_version=0, round=1)
    store.close()
    again = Store(tmp_path / "log.db", create=False)
    assert again.session_config("s1") == {"a": 1}
    assert [a.point_id for a in again.log("s1").annotations()] == [3]


def test_duplicate_session_name_is_refused(store):
    with pytest.raises(StoreError, match="already exists"):
        store.create_session("s1", {})


def test_foreign_and_unreadable_files_are_refused(tmp_path):
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(StoreError, match="cannot use"):
        Store(garbage)
    foreign = tmp_path / "foreign.db"
    with sqlite3.connect(foreign) as connection:
        connection.execute("CREATE TABLE annotations (who TEXT, what TEXT)")
    with pytest.raises(StoreError, match="not nudge's"):
        Store(foreign)
    with pytest.raises(StoreError, match="not a file"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="no database"):
        Store(tmp_path / "missing.db", create=False)
    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "such" / "folder.db")


def test_in_memory_store_is_shared_across_threads():
    import threading

    store = Store("sqlite://")
    store.create_session("s", {})
    seen = []
    thread = threading.Thread(target=lambda: seen.append(store.session_ids()))
    thread.start()
    thread.join()
    assert seen == [["s"]]


def test_a_claim_passes_over_leased_labelled_and_passed_on_points_in_batches(store):
    """Candidates are checked a batch at a time: the free ones come back in their order, each once,
    across batch boundaries, whatever is taken in each batch."""
    for point in range(0, 150, 2):  # every even point below 150 leased to someone else
        add_query(store, f"other-{point}", point, "other")
    hand_out(store, "s1", "done", 151, "other", 60.0, 0, None)
    store.log("s1").add_annotation(query_id="done", point_id=151, label=0, directions=[], targets=[], sources=[],
                                   annotator="other", model_version=0, round=0)  # 151 labelled
    hand_out(store, "s1", "passed", 153, "ann", 60.0, 0, None)
    store.log("s1").add_annotation(query_id="passed", point_id=153, label=None, directions=[], targets=[],
                                   sources=[], annotator="ann", model_version=0, round=0)  # 153 passed on by ann
    candidates = [(point, float(-point)) for point in range(160)] + [(155, 0.0), (157, 0.0)]  # 155, 157 twice
    expected = [point for point in range(160) if (point % 2 or point >= 150) and point not in (151, 153)]
    assert [p for p, _ in store.queries("s1").free_points("ann", candidates, 1000)] == expected
    claimed = store.queries("s1").claim_queries("ann", candidates, 1000, lease_seconds=60.0, model_version=1)
    assert [q.point_id for q in claimed] == expected and claimed[0].score == -1.0
    third = store.queries("s1").claim_queries("third", candidates, 5, lease_seconds=60.0, model_version=1)
    assert [q.point_id for q in third] == [153]  # passed on by ann only
    assert store.queries("s1").free_points("ann", candidates, 3) == []


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_from_before_the_added_columns_is_brought_up_to_date(kind, tmp_path, request):
    """A schema-1 database (no fingerprint, client, closed_at, plane or resolved_by) gains them, in the types
    of its own dialect, and keeps what it held."""
    from sqlalchemy import text

    from nudge.loop.store.schema import ADDED_COLUMNS

    url = str(tmp_path / "old.db") if kind == "sqlite" else request.getfixturevalue("database")
    old = Store(url)
    old.create_session("s1", {"dataset": "moons"})
    hand_out(old, "s1", "q1", 7, "ann", 60.0, 0, 0.25)
    with old.engine.begin() as connection:
        for table, columns in ADDED_COLUMNS.items():
            for column in columns:
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    old.close()
    store = Store(url)
    try:
        assert store.queries("s1").query("q1").point_id == 7 and store.session_config("s1") == {"dataset": "moons"}
        (claimed,) = store.queries("s1").claim_queries("bob", [(8, 0.5)], 1, lease_seconds=60.0, model_version=1,
                                                       client="10.0.0.1", plane=b"\x00\x01" * 8)
        assert store.queries("s1").keep_plane(claimed.id, b"other") == b"\x00\x01" * 8  # the binary column holds bytes
        store.log("s1").add_annotation(query_id=None, point_id=7, label=1, directions=[], targets=[], sources=[],
                                       annotator="lead", model_version=1, round=1, resolved_by="lead")  # schema 4
        assert store.log("s1").annotations()[-1].resolved_by == "lead"
    finally:
        store.close()
