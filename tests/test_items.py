"""Items, data versions and scaling: exact small cases worked by hand.

The scaling: a pool column [0, 4] has mean 2 and standard deviation 2; a constant column [5, 5]
keeps scale 1. The layout: a session's items keep their point ids whatever the file's order;
new items take the next ids; a removed item keeps its id in no split, its answer stranded.
"""

import numpy as np
import pytest
from conftest import TINY_NET

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import UNKNOWN, Dataset, Scaling, aligned, item_changes
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.store.items import SessionData
from nudge.loop.store.store import Store

# ------------------------------------------------------------------------------------------ scaling


def test_standard_scaling_of_a_hand_worked_pool():
    scaling = Scaling.fit("standard", "table", np.array([[0.0, 5.0], [4.0, 5.0]]))
    np.testing.assert_array_equal(scaling.mean, [2.0, 5.0])
    np.testing.assert_array_equal(scaling.scale, [2.0, 1.0])  # the constant column keeps scale 1
    np.testing.assert_array_equal(scaling.to_model(np.array([[6.0, 8.0]])), [[2.0, 3.0]])
    np.testing.assert_array_equal(scaling.to_data(np.array([[2.0, 3.0]])), [[6.0, 8.0]])
    np.testing.assert_array_equal(scaling.direction_to_model(np.array([2.0, 3.0])), [1.0, 3.0])  # no shift
    np.testing.assert_array_equal(scaling.direction_to_data(np.array([1.0, 3.0])), [2.0, 3.0])
    assert Scaling.from_dict(scaling.as_dict()) == scaling
    assert scaling.as_dict() == {"kind": "standard", "mean": [2.0, 5.0], "scale": [2.0, 1.0]}


def test_auto_scaling_standardises_tables_only():
    pool = np.array([[0.0, 5.0], [4.0, 5.0]])
    assert Scaling.fit("auto", "table", pool).kind == "standard"
    for kind in ("points", "text", "image"):
        assert Scaling.fit("auto", kind, pool).is_identity
    assert Scaling.fit("none", "table", pool).is_identity
    with pytest.raises(ValueError, match="unknown scaling 'z'"):
        Scaling.fit("z", "table", pool)


def table(ids, rows, *, pool, test=(), y=None, digests=None):
    rows = np.asarray(rows, dtype=np.float32)
    y = np.full(len(rows), UNKNOWN) if y is None else np.asarray(y)
    return Dataset("table", rows, y, ["lo", "hi"], np.asarray(pool, dtype=np.int64), np.asarray(test, dtype=np.int64),
                   kind="table", item_ids=list(ids), item_digests=digests, feature_names=["a", "b"])


def test_a_data_set_scaled_on_its_pool_keeps_its_raw_units():
    data = table("pqr", [[0, 5], [4, 5], [6, 8]], pool=[0, 1], test=[2], y=[UNKNOWN, UNKNOWN, 1])
    scaled = data.with_scaling(Scaling.fit("auto", data.kind, data.raw[data.pool]))
    np.testing.assert_array_equal(scaled.X, [[-1, 0], [1, 0], [2, 3]])  # the test row scaled by the pool's numbers
    assert scaled.raw is data.raw and scaled.X.dtype == np.float32
    assert data.with_scaling(Scaling()) is data


# ------------------------------------------------------------------------------------------ layout


class Item:
    def __init__(self, point_id, item_id, digest, split="pool", removed=False):
        self.point_id, self.item_id, self.digest, self.split, self.removed = point_id, item_id, digest, split, removed


def test_changes_are_found_by_item_id_whatever_the_order():
    stored = [Item(0, "a", "da"), Item(1, "b", "db"), Item(2, "c", "dc", "test"), Item(3, "d", "dd")]
    loaded = table("ceab", np.zeros((4, 2)), pool=[1, 2, 3], digests=["dc", "de", "da", "db2"])
    changes = item_changes(stored, loaded)
    assert (changes.added, changes.removed, changes.changed) == (["e"], ["d"], ["b"])
    assert changes.describe() == "1 new item, 1 removed (id d), 1 changed (id b)"
    assert not item_changes(stored[:3], table("cab", np.zeros((3, 2)), pool=[0], digests=["dc", "da", "db"]))


def test_loaded_rows_are_laid_out_in_the_session_point_ids():
    loaded = table("ceab", [[30, 3], [50, 5], [10, 1], [20, 2]], pool=[1, 2, 3], y=[1, UNKNOWN, 0, UNKNOWN])
    stored = [Item(0, "a", "x"), Item(1, "b", "x"), Item(2, "c", "x", "test"), Item(3, "d", "x", removed=True),
              Item(4, "e", "x")]
    laid = aligned(loaded, stored)
    np.testing.assert_array_equal(laid.X, [[10, 1], [20, 2], [30, 3], [0, 0], [50, 5]])
    assert np.isnan(laid.raw[3]).all() and laid.item_ids == ["a", "b", "c", "d", "e"]
    np.testing.assert_array_equal(laid.y, [0, UNKNOWN, 1, UNKNOWN, UNKNOWN])
    np.testing.assert_array_equal(laid.pool, [0, 1, 4])
    np.testing.assert_array_equal(laid.test, [2])
    np.testing.assert_array_equal(laid.present, [True, True, True, False, True])
    same = table("ab", [[1, 1], [2, 2]], pool=[0, 1])
    assert aligned(same, [Item(0, "a", "x"), Item(1, "b", "x")]) is same  # nothing moves: nothing is copied


# ------------------------------------------------------------------------- sessions across versions


def reviews(ids, values, digests=None):
    return table(ids, [[v, 10 * v] for v in values], pool=range(len(ids)), digests=digests)


def test_answers_stay_on_their_items_through_reordering_growth_and_removal(tmp_path):
    store = Store(tmp_path / "items.db")
    config = SessionConfig(dataset="table", estimator=TINY_NET, strategy="random")
    first = reviews("abcd", [1.0, 2.0, 3.0, 4.0])
    session = Session.create(store, config, dataset=first, session_id="s")
    np.testing.assert_allclose(session.dataset.scaling.mean, [2.5, 25.0])  # standardised on the pool
    session.relabel(0, "lo", annotator="ann")  # item a
    session.relabel(3, "hi", [[2.0, 0.0]], annotator="ann")  # item d, a direction in the data's units
    session.close()

    with pytest.raises(SessionError, match=r"changed since its last data version: 1 new item, 1 removed \(id a\), "
                                           r"1 changed \(id c\)\. To take the new data .*--add-rows"):
        Session.open(store, "s", dataset=reviews("dcbe", [4.0, 9.0, 2.0, 5.0]))
    assert len(SessionData(store.db, "s").versions()) == 1  # refused: nothing recorded

    grown = Session.open(store, "s", dataset=reviews("dcbe", [4.0, 9.0, 2.0, 5.0]), accept_new_data=True)
    assert grown.data.report.startswith("took the new data as version 2: 1 new item, 1 removed (id a)")
    assert grown.dataset.item_ids == ["a", "b", "c", "d", "e"]
    np.testing.assert_array_equal(grown.dataset.raw[[1, 2, 3, 4], 0], [2.0, 9.0, 4.0, 5.0])
    np.testing.assert_allclose(grown.dataset.scaling.mean, [2.5, 25.0])  # the stored scaling, not refitted
    assert grown.labelled_points() == {0: 0, 3: 1}  # both answers where they were given
    assert grown.model.n_labeled == 1  # the answer on the removed item a is kept, not trained on
    assert grown.status()["data"] == {"version": 2, "n_items": 4, "removed": 1, "stranded_answers": 1}
    np.testing.assert_array_equal(grown.store.log("s").annotations()[1].directions[0], [2.0, 0.0])
    with pytest.raises(SessionError, match="not in the pool"):
        grown.relabel(0, "hi", annotator="ann")
    handed = {grown.next_query(f"ann{i}").point_id for i in range(3)}
    assert handed == {1, 2, 4}  # never the removed item a (point 0), nor d (labelled)
    grown.close()


def test_a_direction_in_data_units_is_trained_in_model_units(tmp_path):
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="table", estimator=TINY_NET),
                             dataset=reviews("abcd", [1.0, 2.0, 3.0, 4.0]), session_id="s")
    session.relabel(1, "lo", [[2.0, -10.0]], annotator="ann")
    X, y = session.trainer.training_rows(session.effective_annotations())
    scale = session.dataset.scaling.scale
    np.testing.assert_allclose(X[0], (np.array([2.0, 20.0]) - [2.5, 25.0]) / scale, rtol=1e-6)
    np.testing.assert_allclose(y[0, 3:5], np.array([2.0, -10.0]) / scale, rtol=1e-6)  # packed: label, used, target, k


# ------------------------------------------------------------------------------- an older database


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_session_stored_before_items_and_scaling_resumes_on_the_upgraded_database(kind, tmp_path, request, moons):
    """A schema-2 database (no items, data versions, scaling, towards, evaluation kind) with a session and its
    answers: opened now, the tables and columns are added, the session's items recorded as its first version
    (by row, as its answers were given), its scaling recorded as none (it trained on the data's units)."""
    from sqlalchemy import inspect, text

    from nudge.loop.store.schema import ADDED_COLUMNS

    url = str(tmp_path / "old.db") if kind == "sqlite" else request.getfixturevalue("database")
    session = Session.create(Store(url), SessionConfig(estimator=TINY_NET), dataset=moons, session_id="old")
    given = [session.relabel(int(p), int(moons.y[p]), [[0.5, -0.5]], annotator="ann") for p in moons.pool[:5]]
    session.close()
    with session.store.engine.begin() as connection:
        connection.execute(text("DROP TABLE items"))
        connection.execute(text("DROP TABLE data_versions"))
        for table, columns in {"sessions": ["scaling"], "annotations": ["towards"],
                               "evaluations": ["kind", "n_evaluated"]}.items():
            assert set(columns) <= set(ADDED_COLUMNS[table])
            for column in columns:
                connection.execute(text(f"ALTER TABLE {table} DROP COLUMN {column}"))
    session.store.close()

    store = Store(url)
    assert {"items", "data_versions"} <= set(inspect(store.engine).get_table_names())
    again = Session.open(store, "old", dataset=moons)
    try:
        assert [(a.id, a.point_id, a.label) for a in store.log("old").annotations()] == [(a.id, a.point_id, a.label)
                                                                                         for a in given]
        assert again.model.n_labeled == 5 and again.dataset.scaling.is_identity
        assert again.status()["data"] == {"version": 1, "n_items": 200, "removed": 0, "stranded_answers": 0}
        assert [item.item_id for item in SessionData(store.db, "old").items()] == moons.item_ids
        query = again.next_query("bob")
        towards = int(moons.pool[0])
        stored = again.submit(query.query_id, 0, [moons.raw[towards] - moons.raw[query.point_id]], annotator="bob",
                              sources=["towards-example"], towards=[moons.item_ids[towards]])
        assert store.log("old").annotations()[-1].towards == [moons.item_ids[towards]] == stored.towards
        assert stored.round > max(a.round for a in given)  # rounds count on across restarts
    finally:
        again.close()
        store.close()


def test_a_file_session_from_before_items_resumes_only_on_the_file_it_was_made_on(tmp_path):
    """Such a session recorded its file's SHA-256, and its answers name rows: on that file its items are
    recorded (and it may grow after that); on another file it is refused, saying why."""
    from sqlalchemy import delete
    from test_files import HashEncoder

    from nudge.loop.datasets.reading import file_digest
    from nudge.loop.store.schema import data_versions, items

    path = tmp_path / "texts.csv"
    path.write_text("text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(8)))
    spec = f"text-csv:{path}"
    store = Store(tmp_path / "legacy.db")
    Session.create(store, SessionConfig(dataset=spec, estimator=TINY_NET), session_id="s",
                   encoder=HashEncoder()).relabel(2, "a", annotator="ann")

    def made_before_items():
        with store.engine.begin() as connection:
            connection.execute(delete(items))
            connection.execute(delete(data_versions))
        store.update_session("s", fingerprint={"kind": "text-csv", "sha256": file_digest(path), "seed": 0,
                                               "test_fraction": 0.2, "limit": None, "encoder": "HashEncoder"})

    made_before_items()
    resumed = Session.open(store, "s", encoder=HashEncoder())
    assert resumed.labelled_points() == {2: 0} and resumed.dataset.texts[2] == "text 2"
    assert len(SessionData(store.db, "s").items()) == 8
    assert store.session_fingerprint("s") == resumed.dataset.fingerprint
    resumed.close()
    made_before_items()
    path.write_text("text,label\n" + "".join(f"text {i},{'ab'[i % 2]}\n" for i in range(1, 9)))
    with pytest.raises(SessionError, match=r"made on other data than this \(sha256: .*\) before nudge kept item ids"):
        Session.open(store, "s", encoder=HashEncoder())
    store.close()
