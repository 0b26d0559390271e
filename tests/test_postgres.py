"""The PostgreSQL option, against a real server (Debian's package) started for these tests.

Skipped, with the reason, where no server can start (no binaries, no unprivileged user to run
it as root, or it fails to come up).
"""

import threading
import time

import numpy as np
import pytest
from conftest import SMALL_NET, free_port, nudge_serve
from gradio_client import Client
from store_helpers import hand_out

from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError, StoreError
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]


def answer(session, annotator="ann"):
    query = session.next_query(annotator)
    label = int(session.dataset.y[query.point_id])
    return session.submit(query.query_id, label, [[0.0, 1.0 - 2 * label]], annotator=annotator)


def test_store_round_trip_is_exact(database):
    store = Store(database)
    assert store.url.startswith("postgresql+psycopg://") and store.path is None
    store.create_session("s", {"dataset": "moons", "nested": {"a": [1, 2]}})
    hand_out(store, "s", "q1", 7, "ann", 60.0, 0, 0.25)
    direction = np.array([0.1, -1 / 3, np.pi, 1e-300, 5e-324])
    written = store.log("s").add_annotation(query_id="q1", point_id=7, label=1, directions=[direction], targets=[0],
                                            sources=["arrow"], annotator="ann", model_version=3, round=2,
                                            rewrite="é ✓")
    with pytest.raises(SessionError, match="already answered"):
        store.log("s").add_annotation(query_id="q1", point_id=7, label=0, directions=[], targets=[], sources=[],
                                      annotator="ann", model_version=3, round=2)
    store.close()
    again = Store(database, create=False)
    (read,) = again.log("s").annotations()
    assert read.id == written.id and read.rewrite == "é ✓" and (read.label, read.targets) == (1, [0])
    np.testing.assert_array_equal(read.directions[0], direction)  # bit-exact, subnormals included
    assert again.session_config("s") == {"dataset": "moons", "nested": {"a": [1, 2]}}
    assert again.queries("s").query("q1").status == "answered"
    again.close()


def test_one_answer_per_query_under_concurrent_writers(database):
    store = Store(database)
    store.create_session("s", {})
    hand_out(store, "s", "q1", 3, "ann", 60.0, 0, None)
    barrier = threading.Barrier(8)
    outcomes = []

    def write(label: int) -> None:
        barrier.wait()
        try:
            store.log("s").add_annotation(query_id="q1", point_id=3, label=label % 2, directions=[], targets=[],
                                          sources=[], annotator="ann", model_version=0, round=1)
            outcomes.append("stored")
        except SessionError:  # "already answered"
            outcomes.append("refused")

    threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(outcomes) == ["refused"] * 7 + ["stored"]
    assert store.log("s").count() == 1
    store.close()


def test_session_survives_a_restart_and_a_server_crash(postgres, database, moons):
    config = SessionConfig(estimator=SMALL_NET)
    session = Session.create(Store(database), config, dataset=moons, session_id="pg")
    answered = [answer(session) for _ in range(5)]
    open_query = session.next_query("ann")
    session.close()

    postgres.crash()
    postgres.start()
    # an open store reconnects: the pool's dead connections are replaced, not handed out
    assert session.store.log("pg").count() == 5
    session.store.close()

    again = Session.open(Store(database), "pg", dataset=moons)
    stored = again.store.log("pg").annotations()
    assert [(a.id, a.query_id, a.label) for a in stored] == [(a.id, a.query_id, a.label) for a in answered]
    for before, after in zip(answered, stored):
        np.testing.assert_array_equal(before.directions[0], after.directions[0])
    assert again.model.n_labeled == 5 and again.model.accuracy is not None
    assert again.next_query("ann").query_id == open_query.query_id
    answer(again)
    assert again.status()["n_answers"] == 6
    with pytest.raises(SessionError, match="unknown query id"):  # a NUL would be a database error here
        again.submit("q\x00", 0, annotator="ann")
    with pytest.raises(SessionError, match="control characters"):
        again.next_query("ann\x00")
    again.close()
    again.store.close()


def test_integrity_checks_refuse_foreign_and_unreachable_databases(postgres, database):
    postgres.execute("CREATE TABLE annotations (who TEXT, what TEXT)", database=database.rsplit("/", 1)[1])
    with pytest.raises(StoreError, match="not nudge's"):
        Store(database)
    with pytest.raises(StoreError, match="cannot use .*OperationalError.*does not exist"):
        Store(postgres.url.rsplit("/", 1)[0] + "/no_such_database")
    unreachable = f"postgresql://nudge:hunter2@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(StoreError, match=r"nudge:\*\*\*@") as refused:
        Store(unreachable)
    assert "hunter2" not in str(refused.value)


def test_nudge_serve_on_postgres_keeps_answers_through_kill_9(database, tmp_path):
    acknowledged = []
    with nudge_serve(database, "--session", "served", log=tmp_path / "serve.log") as server:
        api = Client(server.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        for _ in range(3):
            following = api.predict(query["query_id"], "1", [0.0, -1.0], None, None, None, "ann", api_name="/submit")
            acknowledged.append(query["query_id"])
            query = following
        server.kill()
    store = Store(database)
    assert [a.query_id for a in store.log("served").annotations()] == acknowledged
    store.close()
    with nudge_serve(database, "--session", "served", log=tmp_path / "again.log") as server:
        api = Client(server.url, verbose=False)
        assert api.predict(api_name="/status")["n_answers"] == 3
        deadline = time.monotonic() + 120  # the trainer (a child of the server) retrains from the log
        while api.predict(api_name="/status")["n_labeled"] < 3:
            assert time.monotonic() < deadline, "no model was trained on the 3 answers kept"
            time.sleep(0.2)


def test_servers_that_start_together_on_a_new_database_make_its_tables_and_session_once(database):
    """Eight processes' worth of threads open one new database and create one session at the same
    moment: the tables are made once (a lock, not a raw duplicate-key error), one session is created
    and every other creator is told, in plain words, that it exists."""
    from nudge.loop.store.store import SessionExists

    barrier, outcomes = threading.Barrier(8), []

    def start() -> None:
        barrier.wait()
        store = Store(database)
        try:
            barrier.wait()
            store.create_session("raced", {"dataset": "moons"})
            outcomes.append("created")
        except SessionExists as exists:
            outcomes.append(str(exists))
        finally:
            store.close()

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(outcomes) == ["a session named 'raced' already exists"] * 7 + ["created"]


def test_a_session_name_past_the_limit_is_refused_as_on_sqlite_not_by_the_database(database, tmp_path):
    for db in (database, str(tmp_path / "same.db")):
        store = Store(db)
        with pytest.raises(SessionError, match=r"^a session name is 1 to 64 characters.*\(10,000 characters\)$"):
            store.create_session("n" * 10_000, {})
        store.create_session("n" * 64, {})
        assert store.session_ids() == ["n" * 64]
        store.close()


def test_two_servers_started_together_on_a_new_database_both_serve_its_one_session(database, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    starting = [nudge_serve(database, "--session", "together", "--n-samples", "200", log=tmp_path / f"{i}.log")
                for i in range(2)]
    with ThreadPoolExecutor(2) as pool:
        servers = list(pool.map(lambda context: context.__enter__(), starting))
    try:
        statuses = [Client(server.url, verbose=False).predict(api_name="/status") for server in servers]
        assert [status["session"] for status in statuses] == ["together", "together"]
        outputs = "".join(server.output() for server in servers)
        assert "DETAIL" not in outputs and "Traceback" not in outputs and "error" not in outputs
    finally:
        for context in starting:
            context.__exit__(None, None, None)
    store = Store(database)
    assert store.session_ids() == ["together"]
    store.close()
