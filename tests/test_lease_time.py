"""The time a lease is judged by: read inside the locked transaction (after any wait for the lock),
and on PostgreSQL from the server's clock, so a slow lock or a skewed server clock never lets two
people answer one point through an expired lease."""

import contextlib
import sqlite3
import time

import pytest
from conftest import TINY_NET, nudge_serve
from gradio_client import Client
from gradio_client.exceptions import AppError
from gradio_client.utils import Status
from store_helpers import hand_out

from nudge.loop import Session, SessionConfig, Store, load_dataset

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

LEASE_SECONDS = 3.0
ROUNDS = 4


def wait_until_running(job, timeout: float = 60.0) -> None:
    """Until the server runs the job's function (it then waits for the database lock at once)."""
    deadline = time.monotonic() + timeout
    while job.status().code not in (Status.PROCESSING, Status.FINISHED):
        assert time.monotonic() < deadline, f"the job never started: {job.status()}"
        time.sleep(0.01)


@contextlib.contextmanager
def write_lock_held(db):
    """The SQLite file's write lock, held by this test until the block ends (every writer waits)."""
    connection = sqlite3.connect(db, isolation_level=None, timeout=30)
    connection.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        connection.execute("ROLLBACK")
        connection.close()


@pytest.mark.slow
def test_a_lease_that_runs_out_while_its_answer_waits_for_the_lock_never_gives_two_answers(tmp_path):
    """Each round: alice's answer waits for the write lock (held by the test) until her lease ran out,
    and bob asks, on another server, for the one point left free; the lock is let go and the two
    race. Whoever wins, at most one of them answers the point."""
    db = tmp_path / "race.db"
    dataset = load_dataset("moons", n_samples=60, seed=0)
    config = SessionConfig(dataset_options={"n_samples": 60}, estimator=TINY_NET, lease_seconds=LEASE_SECONDS)
    Session.create(Store(db), config, session_id="s", dataset=dataset).close()
    store = Store(db)
    outcomes = []
    with nudge_serve(db, "--session", "s", log=tmp_path / "a.log") as first, \
            nudge_serve(db, "--session", "s", log=tmp_path / "b.log") as second:
        alice, bob = Client(first.url, verbose=False), Client(second.url, verbose=False)
        for round_ in range(ROUNDS):
            query = alice.predict("alice", api_name="/next")
            point = query["point_id"]
            label = str(int(dataset.y[point]))
            labelled = {a.point_id for a in store.log("s").annotations() if a.label is not None}
            carol = [hand_out(store, "s", f"carol-{round_}-{p}", p, "carol", 600.0, 0, None).id
                     for p in dataset.pool.tolist() if p != point and p not in labelled]  # p alone is left
            with write_lock_held(db):
                late = alice.submit(query["query_id"], label, None, None, None, None, "alice", api_name="/submit")
                wait_until_running(late)
                time.sleep(max(0.0, store.queries("s").query(query["query_id"]).lease_until - time.time()) + 0.2)
                asking = bob.submit("bob", api_name="/next")
                wait_until_running(asking)
                time.sleep(0.5)  # bob's claim is sent and waits for the lock too
            try:
                late.result()
                alice_answered = True
            except AppError as refused:
                assert "ran out and it went to someone else" in str(refused)
                alice_answered = False
            bobs = asking.result()
            bob_answered = False
            if bobs and bobs["point_id"] == point:
                bob.predict(bobs["query_id"], label, None, None, None, None, "bob", api_name="/submit")
                bob_answered = True
            outcomes.append((alice_answered, bob_answered))
            for query_id in carol:
                store.queries("s").release_query(query_id)
    labels = [a.point_id for a in store.log("s").annotations() if a.label is not None]
    assert len(labels) == len(set(labels)), f"a point was answered twice: {outcomes}"
    assert all(alice or bob for alice, bob in outcomes) and not any(alice and bob for alice, bob in outcomes)
    assert "Traceback" not in first.output() + second.output()
    print(f"\n(alice answered, bob answered) per round: {outcomes}")


def test_on_postgresql_leases_are_judged_by_the_servers_clock_not_the_processes(database, monkeypatch):
    """A process whose clock runs 100 s ahead neither takes a point whose lease runs nor refuses an
    answer in time: both judge by the database server's clock."""
    here, ahead = Store(database), Store(database)
    here.create_session("s", {})
    (alices,) = here.queries("s").claim_queries("alice", [(7, None)], 1, lease_seconds=60.0, model_version=0)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 100.0)
    assert ahead.queries("s").claim_queries("bob", [(7, None)], 1, lease_seconds=60.0, model_version=0) == []
    assert ahead.queries("s").free_points("bob", [(7, None)], 1) == []
    assert [q.id for q in ahead.queries("s").open_queries("alice", unexpired=True)] == [alices.id]
    stored = ahead.log("s").add_annotation(query_id=alices.id, point_id=7, label=1, directions=[], targets=[],
                                           sources=[], annotator="alice", model_version=0, round=1)
    assert abs(stored.created_at - real()) < 5  # stamped by the server's clock too
    here.close()
    ahead.close()
