"""Team serving: leases and answers checked in the database, sessions pinned to their data and
settings, no false acknowledgement, no hoarding — each probed as an attacker or an unlucky team would."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import defaultdict

import numpy as np
import pytest
from conftest import TINY_NET, child_processes, cpu_seconds, nudge_serve, wait_until
from gradio_client import Client
from sqlalchemy import event, select

from nudge.loop import Dataset, load_dataset
from nudge.loop.cli import build_parser
from nudge.loop.cli.args import requested_settings
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError, StoreError
from nudge.loop.session.opening import SessionPlan, open_session, plan_session
from nudge.loop.session.session import Session
from nudge.loop.store.lease_rules import LeaseLimits
from nudge.loop.store.publication import LEASE_SECONDS
from nudge.loop.store.schema import queries
from nudge.loop.store.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def new_session(db, dataset, **settings) -> Session:
    config = SessionConfig(estimator=TINY_NET, retrain_every=10**6, **settings)
    return Session.create(Store(db), config, session_id="s", dataset=dataset)


def overlapping_leases(store: Store, session_id: str = "s") -> list[tuple[int, str, str]]:
    """(point, first, second) for every point handed to someone while another's lease on it still ran."""
    with store.engine.connect() as connection:
        rows = connection.execute(
            select(queries.c.point_id, queries.c.annotator, queries.c.issued_at, queries.c.lease_until,
                   queries.c.closed_at).where(queries.c.session_id == session_id).order_by(queries.c.issued_at)
        ).all()
    by_point = defaultdict(list)
    for row in rows:
        by_point[row.point_id].append(row)
    overlaps = []
    for point, leases in by_point.items():
        for i, first in enumerate(leases):
            ends = min(first.lease_until, first.closed_at if first.closed_at is not None else float("inf"))
            overlaps += [(point, first.annotator, second.annotator) for second in leases[i + 1:]
                         if second.issued_at < ends]
    return overlaps


# --------------------------------------------------------------------------- leases


CLAIMER = textwrap.dedent("""
    import random, sys, threading, time
    from nudge.loop import load_dataset
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    db, tag, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    dataset = load_dataset("moons", n_samples=300, seed=0)
    session = Session.open(Store(db), "s", dataset=dataset)
    def annotate(name):
        rng, end = random.Random(name), time.time() + seconds
        while time.time() < end and (query := session.next_query(name)) is not None:
            if rng.random() < 0.3:
                session.skip(query.query_id, annotator=name)
            else:
                session.submit(query.query_id, int(dataset.y[query.point_id]), annotator=name)
    threads = [threading.Thread(target=annotate, args=(f"{tag}-{i}",)) for i in range(5)]
    [thread.start() for thread in threads]
    [thread.join() for thread in threads]
""")


def test_two_processes_on_one_sqlite_file_never_lease_a_point_twice(tmp_path):
    db = tmp_path / "shared.db"
    new_session(db, load_dataset("moons", n_samples=300, seed=0), strategy="random").close()
    script = tmp_path / "claimer.py"
    script.write_text(CLAIMER)
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    processes = [subprocess.Popen([sys.executable, str(script), str(db), tag, "8"], env=env) for tag in "AB"]
    assert [process.wait(timeout=300) for process in processes] == [0, 0]
    store = Store(db)
    labelled = [a.point_id for a in store.log("s").annotations() if a.label is not None]
    assert len(labelled) > 20 and len(labelled) == len(set(labelled))  # no point labelled twice
    assert {a.annotator[0] for a in store.log("s").annotations()} == {"A", "B"}  # both processes were served
    assert overlapping_leases(store) == []


def test_a_late_answer_counts_only_while_nobody_else_holds_the_point(tmp_path, moons):
    session = new_session(tmp_path / "late.db", moons, lease_seconds=0.3)
    first = session.next_query("alice")
    time.sleep(0.4)  # alice's lease ran out; nobody took the point: her answer still counts
    session.submit(first.query_id, 0, annotator="alice")
    second = session.next_query("alice")
    time.sleep(0.4)
    taken = session.next_query("bob")  # the point is free again: bob gets it (the best one left)
    assert taken.point_id == second.point_id
    with pytest.raises(SessionError, match="ran out and it went to someone else.*nothing was saved"):
        session.submit(second.query_id, 0, annotator="alice")
    session.submit(taken.query_id, 1, annotator="bob")
    assert [(a.annotator, a.point_id) for a in session.store.log("s").annotations()] == [
        ("alice", first.point_id), ("bob", taken.point_id)]


def test_an_answer_to_a_query_that_undo_released_is_refused(tmp_path, moons):
    session = new_session(tmp_path / "undo.db", moons)
    answered = session.next_query("ann")
    session.submit(answered.query_id, 0, annotator="ann")
    waiting = session.next_query("ann")
    reopened = session.undo("ann")  # releases the waiting query, hands the undone point back
    assert reopened.point_id == answered.point_id
    with pytest.raises(SessionError, match="already released"):
        session.submit(waiting.query_id, 1, annotator="ann")
    assert session.store.log("s").annotations(include_undone=False) == []


def test_undo_of_a_skip_whose_point_went_to_someone_else_hands_a_new_point(tmp_path, moons):
    session = new_session(tmp_path / "skip.db", moons, strategy="random")
    skipped = session.next_query("ann")
    session.skip(skipped.query_id, annotator="ann")
    other = session.leases.lease_point("bob", skipped.point_id, 0)
    again = session.undo("ann")
    assert again.point_id != skipped.point_id  # never two open leases on one point
    assert other.point_id == skipped.point_id and overlapping_leases(session.store) == []


def test_undo_of_a_skip_whose_point_someone_labelled_since_never_replaces_their_label(tmp_path, moons):
    session = new_session(tmp_path / "skip-label.db", moons, strategy="random")
    skipped = session.next_query("ann")
    session.skip(skipped.query_id, annotator="ann")
    bobs = session.leases.lease_point("bob", skipped.point_id, 0)
    session.submit(bobs.id, 1, annotator="bob")
    again = session.undo("ann")
    assert again is None or again.point_id != skipped.point_id  # not leased back to overwrite bob's label
    (label,) = [a for a in session.effective_annotations() if a.point_id == skipped.point_id]
    assert (label.annotator, label.label) == ("bob", 1)


def test_limits_on_open_points_per_annotator_and_per_address(tmp_path, moons):
    store = Store(tmp_path / "limits.db")
    session = Session.create(store, SessionConfig(estimator=TINY_NET), session_id="s", dataset=moons,
                             lease_limits=LeaseLimits(per_annotator=2, per_client=3))
    assert len(session.next_queries("ann", 2, client="10.0.0.1")) == 2
    assert len(session.next_queries("ann", 5, client="10.0.0.1")) == 2  # their own two come back
    session.next_query("made-up-1", client="10.0.0.1")
    with pytest.raises(SessionError, match="this address already holds 3 open points"):
        session.next_query("made-up-2", client="10.0.0.1")
    assert session.next_query("honest", client="10.0.0.2") is not None


# --------------------------------------------------------------------------- resume


def serve_arguments(*arguments: str) -> SessionPlan:
    """The session plan ``nudge serve`` makes from these arguments."""
    args = build_parser().parse_args(["serve", *arguments])
    return plan_session(args.db, requested_settings(args), args.session)


def test_resuming_on_a_changed_file_is_refused_and_says_what_changed_until_the_rows_are_added(tmp_path):
    points = tmp_path / "points.csv"
    rows = [f"p{i},{i * 0.1:.1f},{(i * 7 % 11) * 0.1:.1f},{'ab'[i % 2]}" for i in range(40)]
    points.write_text("id,x,y,label\n" + "\n".join(rows) + "\n")
    db = str(tmp_path / "pinned.db")
    options = ("--db", db, "--dataset", f"csv:{points}", "--id-column", "id", "--label-column", "label")
    session = open_session(serve_arguments(*options, "--set", "max_epochs=2"), say=lambda _: None)
    query = session.next_query("ann")
    item = session.dataset.item_ids[query.point_id]
    session.submit(query.query_id, 0, annotator="ann")
    session.close()
    points.write_text("id,x,y,label\n" + "\n".join(reversed(rows)) + "\n")  # the same rows, reversed: the same items
    session = open_session(serve_arguments(*options), say=lambda _: None)
    assert session.dataset.item_ids[query.point_id] == item and session.labelled_points() == {query.point_id: 0}
    session.close()
    edited = rows[2:-1] + ["p1,9.9,9.9,b", "p99,0.5,0.5,"]  # p0 and p39 gone, p1 edited, p99 new
    points.write_text("id,x,y,label\n" + "\n".join(edited) + "\n")
    with pytest.raises(SessionError, match=r"changed since its last data version: 1 new item, 2 removed "
                                           r"\(ids p0, p39\), 1 changed \(id p1\)\. To take the new data .*--add-rows"):
        open_session(serve_arguments(*options), say=lambda _: None)
    said = []
    session = open_session(serve_arguments(*options), accept_new_data=True, say=said.append)
    assert any(line.startswith("took the new data as version 2: 1 new item, 2 removed") for line in said)
    assert session.dataset.item_ids[query.point_id] == item and session.status()["data"]["version"] == 2
    session.close()


def test_resuming_with_other_settings_refuses_what_defines_the_session_and_applies_the_rest(tmp_path):
    db = str(tmp_path / "flags.db")
    open_session(serve_arguments("--db", db, "--session", "s", "--n-samples", "200", "--set", "max_epochs=2"),
                 say=lambda _: None).close()
    with pytest.raises(SessionError, match="made with dataset moons \\(asked: circles\\); loss direction "
                                           "\\(asked: ce\\).*cannot change on resume"):
        open_session(serve_arguments("--db", db, "--session", "s", "--dataset", "circles", "--loss", "ce"),
                     say=lambda _: None)
    said = []
    session = open_session(serve_arguments("--db", db, "--session", "s", "--strategy", "random",
                                           "--warm-epochs", "5"), say=said.append)
    assert session.config.strategy == "random" and session.config.warm_epochs == 5
    assert "applied to the resumed session: strategy boundary -> random; warm_epochs 20 -> 5" in said
    session.close()
    assert Store(db).session_config("s")["strategy"] == "random"  # and remembered


# ------------------------------------------------------------------- acknowledgements


def test_a_full_disk_is_not_acknowledged_and_says_why(tmp_path):
    rng = np.random.default_rng(0)
    wide = Dataset("wide", rng.normal(size=(40, 3000)).astype(np.float32), np.arange(40) % 2, ["a", "b"],
                   np.arange(30), np.arange(30, 40))
    session = new_session(tmp_path / "full.db", wide)
    query = session.next_query("ann")

    @event.listens_for(session.store.engine, "connect")
    def cap_pages(dbapi_connection, _record):  # SQLite's own "database or disk is full" once it must grow
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    session.store.engine.dispose()
    directions = rng.normal(size=(4, 3000))  # about 300 kB of JSON: the file must grow
    with pytest.raises(StoreError, match="^not saved: the disk holding the database is full"):
        session.submit(query.query_id, 0, directions, annotator="ann")
    event.remove(session.store.engine, "connect", cap_pages)
    session.store.engine.dispose()
    assert session.log.annotations() == [] and session.leases.queries.query(query.query_id).status == "open"
    session.submit(query.query_id, 0, directions, annotator="ann")  # room again: the same answer is taken


@pytest.mark.slow
def test_a_deleted_database_is_never_acknowledged(tmp_path):
    db = tmp_path / "gone.db"
    with nudge_serve(db, "--n-samples", "200", "--set", "max_epochs=2") as server:
        api = Client(server.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        query = api.predict(query["query_id"], "0", None, None, None, None, "ann", api_name="/submit")
        db.unlink()
        with pytest.raises(Exception, match="not saved: the database file .* was deleted or replaced"):
            api.predict(query["query_id"], "1", None, None, None, None, "ann", api_name="/submit")
    assert "Traceback" not in server.output()


@pytest.mark.slow
def test_hoarding_from_one_address_leaves_points_for_the_others(tmp_path):
    with nudge_serve(tmp_path / "hoard.db", "--n-samples", "200", "--set", "max_epochs=2",
                     "--max-open-per-address", "5") as server:
        hoarder = Client(server.url, verbose=False, headers={"X-Forwarded-For": "203.0.113.7"})
        held = [hoarder.predict(f"fake-{i}", api_name="/next")["point_id"] for i in range(5)]
        with pytest.raises(Exception, match="this address already holds 5 open points"):
            hoarder.predict("fake-5", api_name="/next")
        honest = Client(server.url, verbose=False, headers={"X-Forwarded-For": "198.51.100.2"})
        assert honest.predict("honest", api_name="/next")["point_id"] not in held


# --------------------------------------------------------------------------- a team on several servers

TEAM_SECONDS = float(os.environ.get("NUDGE_LOAD_SECONDS", "30"))
TEAM = 30
SERVE = ("--session", "team", "--n-samples", "3000", "--set", "max_epochs=20", "--warm-epochs", "5")
# A killed trainer's lease runs out at most LEASE_SECONDS later; a trainer that waits for it tries to take it
# every third of that (SharedTrainer's heartbeat); then it trains one round and publishes it: ROUND_SECONDS
# on a busy machine.
ROUND_SECONDS = 4.0
RESUMED_SECONDS = LEASE_SECONDS + LEASE_SECONDS / 3 + ROUND_SECONDS


def annotate_across(urls: list[str], seconds: float, stop_at: float, served: dict) -> tuple[list, list]:
    """TEAM gradio_client annotators spread over ``urls`` answer (and skip some) until ``stop_at``.

    A client whose server stops answering moves on to the next one, as behind a proxy.
    Counts each server's answers in ``served`` as they come. Returns (acknowledged answers
    (annotator, query id, point id, label or None), requests that failed (annotator, url, error)).
    """
    import threading

    moons = load_dataset("moons", n_samples=3000, seed=0)
    lock = threading.Lock()
    acknowledged, failed = [], []

    def annotator(number: int) -> None:
        name, at = f"member-{number:02d}", number % len(urls)
        rng = np.random.default_rng(number)
        query = None
        while time.monotonic() < stop_at:
            url = urls[at]
            try:
                # each member on an address of their own, as a proxy in front of the servers forwards it
                api = Client(url, verbose=False, headers={"X-Forwarded-For": f"10.0.0.{number + 1}"})
                query = query if query is not None else api.predict(name, api_name="/next")
                while query and time.monotonic() < stop_at:
                    label = None if rng.random() < 0.1 else int(moons.y[query["point_id"]])
                    if label is None:
                        following = api.predict(query["query_id"], name, api_name="/skip")
                    else:
                        following = api.predict(query["query_id"], str(label), [0.0, 1.0 - 2 * label], None,
                                                None, None, name, api_name="/submit")
                    with lock:
                        acknowledged.append((name, query["query_id"], query["point_id"], label))
                        served[url] += 1
                    query = following
                return
            except Exception as error:  # this server is gone (killed): try the next one
                with lock:
                    failed.append((name, url, repr(error)[:200]))
                query, at = None, (at + 1) % len(urls)
                time.sleep(0.2)

    threads = [threading.Thread(target=annotator, args=(i,)) for i in range(TEAM)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=seconds + 300)
    assert not any(thread.is_alive() for thread in threads), "an annotator hung"
    return acknowledged, failed


def trainer_pid(store: Store) -> int | None:
    from nudge.loop.store.schema import trainer_leases

    with store.engine.connect() as connection:
        row = connection.execute(select(trainer_leases.c.holder, trainer_leases.c.expires_at)).first()
    return int(row.holder.split(":")[1]) if row is not None and row.expires_at > time.time() else None


def wait_until_idle(pids: list[int], timeout: float = 180.0) -> None:
    """Until none of ``pids`` used a tenth of a second of processor time in the last second: how a test
    sees that the servers' child trainers are up (one imports and opens its session without a pause, then
    waits for answers). On a busy machine that can take half a minute."""
    deadline = time.monotonic() + timeout
    used = {pid: cpu_seconds(pid) for pid in pids}
    while True:
        time.sleep(1.0)
        now = {pid: cpu_seconds(pid) for pid in pids}
        if all(now[pid] - used[pid] < 0.1 for pid in pids):
            return
        assert time.monotonic() < deadline, f"the trainers {pids} were still busy after {timeout:.0f} s"
        used = now


def published_versions(store: Store) -> list[tuple[int, str, float]]:
    from nudge.loop.store.schema import models

    with store.engine.connect() as connection:
        return [tuple(row) for row in connection.execute(
            select(models.c.version, models.c.trainer, models.c.created_at).order_by(models.c.id))]


@pytest.mark.slow
@pytest.mark.parametrize("backend, n_servers", [("postgresql", 3), ("sqlite", 2)])
def test_a_team_on_several_servers_shares_one_model_and_survives_the_trainer_dying(
        backend, n_servers, tmp_path, request):
    import contextlib
    import threading

    db = request.getfixturevalue("database") if backend == "postgresql" else str(tmp_path / "team.db")
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(nudge_serve(db, *SERVE, log=tmp_path / f"serve-{i}.log"))
                   for i in range(n_servers)]
        # the trainer that takes over must be up already: else the test would time its start-up, not the lease
        trainers = [pid for server in servers for pid in child_processes(server.process.pid)]
        assert len(trainers) == n_servers
        wait_until_idle(trainers)
        store = Store(db)
        start = time.monotonic()
        stop_at = start + TEAM_SECONDS
        killed: dict = {}
        served: dict = defaultdict(int)

        def kill_the_trainer() -> None:  # once every server has answered a few, at most halfway in
            while time.monotonic() < start + TEAM_SECONDS / 2 and not (
                    len(served) == n_servers and min(served.values()) >= 3):
                time.sleep(0.1)
            pid = wait_until(lambda: trainer_pid(store))  # between two holders (a starved one let its lease run out)
            victim = next(server for server in servers if pid in child_processes(server.process.pid))
            os.kill(pid, signal.SIGKILL)  # the machine dies: the trainer and its server, kill -9
            victim.kill()  # and waited for: nothing of it runs after this
            killed.update(pid=pid, url=victim.url, at=time.time(), versions=len(published_versions(store)))
            while trainer_pid(store) in (None, pid) and time.time() < killed["at"] + 30:
                time.sleep(0.05)
            killed["taken_over"] = time.time() - killed["at"]

        killer = threading.Thread(target=kill_the_trainer)
        killer.start()
        acknowledged, failed = annotate_across([server.url for server in servers], TEAM_SECONDS, stop_at, served)
        killer.join()

    assert {url for _, url, _ in failed} <= {killed["url"]}, failed[:3]  # only the dead server failed
    assert overlapping_leases(store, "team") == []
    stored = store.log("team").annotations()
    by_query = defaultdict(list)
    for answer in stored:
        by_query[answer.query_id].append(answer)
    assert all(len(answers) == 1 for answers in by_query.values()), "an answer was stored twice"
    for name, query_id, point_id, label in acknowledged:  # every acknowledged answer, as it was sent
        (kept,) = by_query[query_id]
        assert (kept.annotator, kept.point_id, kept.label) == (name, point_id, label)
    in_flight = set(by_query) - {query_id for _, query_id, _, _ in acknowledged}
    assert len(in_flight) <= TEAM  # at most one unacknowledged answer per annotator (to the killed server)
    labelled = [a.point_id for a in stored if a.label is not None]
    assert len(labelled) == len(set(labelled)), "a point was labelled by two annotators"
    versions = published_versions(store)
    assert [v for v, _, _ in versions] == list(range(1, len(versions) + 1))  # one increasing sequence
    assert [t for _, _, t in versions] == sorted(t for _, _, t in versions)
    after = [(v, trainer, t) for v, trainer, t in versions if t > killed["at"]]
    assert after and all(int(trainer.split(":")[1]) != killed["pid"] for _, trainer, _ in after)
    resumed = after[0][2] - killed["at"]
    assert killed["taken_over"] <= RESUMED_SECONDS and resumed <= RESUMED_SECONDS, (
        f"lease taken over after {killed['taken_over']:.1f} s, next version after {resumed:.1f} s: "
        f"not within {RESUMED_SECONDS:.0f} s")
    assert len(served) == n_servers
    print(f"\n{backend}: {n_servers} servers, {TEAM} annotators, {len(acknowledged)} answers in {TEAM_SECONDS:.0f} s "
          f"({dict(served)}); {len(versions)} model versions; trainer killed after {killed['versions']} versions, "
          f"next version {resumed:.1f} s later (lease taken over after "
          f"{killed['taken_over']:.1f} s); {len(failed)} requests to the dead server failed")


def test_the_trainer_lease_is_held_by_one_process_until_it_runs_out(tmp_path, moons):
    from nudge.loop.store.publication import TrainerLease

    session = new_session(tmp_path / "lease.db", moons)
    elsewhere = TrainerLease(session.store.db, "s", "another-host:4242:abc", seconds=0.5)
    here = TrainerLease(session.store.db, "s", "this-host:1:def", seconds=0.5)
    assert elsewhere.acquire() and not here.acquire()  # a live holder (another host: not checkable) wins
    assert elsewhere.acquire()  # and renews
    time.sleep(0.6)
    assert here.acquire() and here.current_holder() == "this-host:1:def"  # it ran out: taken over
    assert not elsewhere.acquire()


def test_the_trainer_counts_answers_from_other_servers_since_its_last_round_not_its_last_look(tmp_path, moons):
    """retrain_every=2, two answers given one at a time on a server that does not train: the
    trainer, elsewhere, looks between them (one new answer each time) and still trains on both."""
    from nudge.loop.training.shared import SharedTrainer

    db = tmp_path / "slow.db"
    config = SessionConfig(estimator=TINY_NET, retrain_every=2)
    trainer = Session.create(Store(db), config, session_id="s", dataset=moons,
                             trainer=SharedTrainer(poll_seconds=0.05))
    server = Session.open(Store(db), "s", dataset=moons, trainer=SharedTrainer(train=False, poll_seconds=0.05))
    try:
        for label in (0, 1):
            query = server.next_query("ann")
            server.submit(query.query_id, label, annotator="ann")
            time.sleep(0.5)  # ten looks of the trainer, each after one new answer at most
        answers = {a.id for a in trainer.effective_annotations()}
        deadline = time.monotonic() + 30
        while set(trainer.trainer.snapshot.annotation_ids) != answers and time.monotonic() < deadline:
            time.sleep(0.05)
        assert set(trainer.trainer.snapshot.annotation_ids) == answers and len(answers) == 2
    finally:
        server.close()
        trainer.close()


def test_a_server_that_does_not_train_tells_its_callbacks_of_each_model_it_loads(tmp_path, moons):
    from nudge.loop.session.callbacks import SessionCallback
    from nudge.loop.training.shared import SharedTrainer

    class Versions(SessionCallback):
        def __init__(self):
            self.seen = []

        def on_retrain(self, session, snapshot):
            self.seen.append(snapshot.version)

    db = tmp_path / "follow.db"
    config = SessionConfig(estimator=TINY_NET, retrain_every=1, stop=["budget=1"])
    trainer = Session.create(Store(db), config, session_id="s", dataset=moons,
                             trainer=SharedTrainer(poll_seconds=0.05))
    versions = Versions()
    server = Session.open(Store(db), "s", dataset=moons, trainer=SharedTrainer(train=False, poll_seconds=0.05),
                          callbacks=[versions])
    try:
        query = server.next_query("ann")
        server.submit(query.query_id, 0, annotator="ann")
        deadline = time.monotonic() + 30
        while server.model.version < 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.model.version >= 1 and versions.seen[-1] == server.model.version
        assert server.status()["stopping"] == trainer.status()["stopping"]  # the follower's verdict is current
        assert server.status()["stopping"]["met"]
    finally:
        server.close()
        trainer.close()


@pytest.mark.slow
def test_a_server_that_does_not_train_follows_the_model_of_nudge_train(tmp_path):
    db = tmp_path / "split.db"
    settings = ("--session", "split", "--n-samples", "200", "--set", "max_epochs=5")
    with nudge_serve(db, *settings, "--no-train") as server:
        env = {**os.environ, "OMP_NUM_THREADS": "1"}
        trainer = subprocess.Popen([sys.executable, "-m", "nudge.loop.cli", "train", "--db", str(db), "--session", "split"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
        try:
            api = Client(server.url, verbose=False)
            query = api.predict("ann", api_name="/next")
            for label in (0, 1, 0):
                query = api.predict(query["query_id"], str(label), None, None, None, None, "ann", api_name="/submit")
            deadline = time.monotonic() + 60
            while api.predict(api_name="/status")["n_labeled"] < 3 and time.monotonic() < deadline:
                time.sleep(0.2)
            status = api.predict(api_name="/status")
            assert status["n_labeled"] == 3 and status["model_version"] >= 1  # trained elsewhere, served here
        finally:
            trainer.send_signal(signal.SIGINT)
            output = trainer.communicate(timeout=60)[0]
    assert "training session 'split'" in output and "model v" in output and "Traceback" not in output
    with pytest.raises(SystemExit):
        build_parser().parse_args(["train", "--no-such-flag"])
    missing = subprocess.run([sys.executable, "-m", "nudge.loop.cli", "train", "--db", str(db), "--session", "nope"],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode == 1 and "no session 'nope'" in missing.stderr and "Traceback" not in missing.stderr
