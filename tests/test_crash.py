"""kill -9 of a real ``nudge serve`` process while idle, while retraining and while writing.

After each kill the database is opened directly (its integrity is checked on open): every
acknowledged answer is there exactly once, nothing else but answers whose request was still in
flight, and a restarted server on the same database and session carries on where it stopped.
"""

import contextlib
import os
import random
import signal
import threading
import time

import pytest
from conftest import (
    child_processes,
    cpu_seconds,
    nudge_serve,
    stat_fields,
    wait_for,
    wait_until,
)
from gradio_client import Client
from store_helpers import hand_out

from nudge.loop.store.store import Store

SESSION = "crash"
SERVE = ("--dataset", "moons", "--session", SESSION)
pytestmark = [pytest.mark.slow, pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")]


def answer(api: Client, query: dict, annotator: str) -> dict:
    """Answer a query (a label and a direction); returns the next query."""
    label = query["point_id"] % 2
    return api.predict(query["query_id"], str(label), [0.0, 1.0 - 2 * label], None, None, None, annotator,
                       api_name="/submit")


def annotate(api: Client, annotator: str, count: int) -> tuple[list[tuple[str, int]], dict]:
    """``count`` acknowledged answers as (query id, point id), and the query handed out after them."""
    acknowledged = []
    query = api.predict(annotator, api_name="/next")
    for _ in range(count):
        following = answer(api, query, annotator)
        acknowledged.append((query["query_id"], query["point_id"]))
        query = following
    return acknowledged, query


def kill_and_wait(pids: list[int]) -> None:
    """kill -9 each of ``pids`` (not children of ours) and wait until each is gone or a zombie."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    wait_until(lambda: all(map(gone, pids)))


def gone(pid: int) -> bool:
    """Whether process ``pid`` has ended (gone, or a zombie: it holds no file open any more)."""
    try:
        return stat_fields(pid)[0] == "Z"
    except FileNotFoundError:
        return True


def wait_for_children(server) -> list[int]:
    """The processes the server started (its trainer), once there is one."""
    wait_until(lambda: child_processes(server.process.pid))
    return child_processes(server.process.pid)


def check_log(db, acknowledged, in_flight=()) -> list:
    """Every acknowledged answer exactly once, nothing but in-flight ones besides; the stored answers."""
    store = Store(db, create=False)  # runs the integrity check
    try:
        stored = store.log(SESSION).annotations()
        query_ids = [a.query_id for a in stored]
        assert len(query_ids) == len(set(query_ids)), "an answer was stored twice"
        assert len({a.point_id for a in stored}) == len(stored), "a point was answered twice"
        by_query = {a.query_id: a for a in stored}
        for query_id, point_id in acknowledged:
            assert query_id in by_query, f"acknowledged answer to {query_id} lost"
            kept = by_query[query_id]
            assert (kept.point_id, kept.label, len(kept.directions)) == (point_id, point_id % 2, 1)
        unexpected = set(query_ids) - {q for q, _ in acknowledged} - set(in_flight)
        assert not unexpected, f"answers nobody sent: {unexpected}"
        return stored
    finally:
        store.close()


def resume(db, n_answers: int, annotator: str, open_query: dict | None, *extra: str) -> list[tuple[str, int]]:
    """Restart on the same database and session: the counts continue, the open query comes back,
    and a new answer is taken. Returns that answer as (query id, point id)."""
    with nudge_serve(db, *SERVE, *extra) as server:
        api = Client(server.url, verbose=False)
        status = api.predict(api_name="/status")
        assert status["session"] == SESSION and status["n_answers"] == n_answers
        wait_for(api, lambda status: status["n_labeled"] == n_answers)  # the model catches up with the whole log
        query = api.predict(annotator, api_name="/next")
        if open_query is not None:
            assert query["query_id"] == open_query["query_id"]  # its lease survived the crash
        answer(api, query, annotator)
        assert api.predict(api_name="/status")["n_answers"] == n_answers + 1
    return [(query["query_id"], query["point_id"])]


def test_kill_9_while_idle(tmp_path):
    db = tmp_path / "x.db"
    with nudge_serve(db, *SERVE) as server:
        api = Client(server.url, verbose=False)
        acknowledged, open_query = annotate(api, "ann", 6)
        wait_for(api, lambda status: not status["retraining"] and status["n_labeled"] == 6)
        server.kill()
    check_log(db, acknowledged)
    acknowledged += resume(db, 6, "ann", open_query)
    assert len(check_log(db, acknowledged)) == 7


@pytest.mark.parametrize("trainer", ["child", "here"])
def test_kill_9_during_a_retrain(tmp_path, trainer):
    """The first retrain is a fit from scratch, made slow (1500 epochs, seconds) so the kill lands
    inside it (in the server's child trainer, the default, or in the server with --train-here); the
    interrupted retrain leaves no trace, and the restart learns from every answer."""
    db = tmp_path / "x.db"
    slow = ("--set", "max_epochs=1500", "--set", "module__hidden=(16,)")
    where = ("--train-here",) if trainer == "here" else ()
    with nudge_serve(db, *SERVE, *slow, *where) as server:
        api = Client(server.url, verbose=False)
        if trainer == "child":
            (child,) = wait_for_children(server)
            acknowledged, open_query = annotate(api, "ann", 1)
            spent = cpu_seconds(child)
            wait_until(lambda: cpu_seconds(child) > spent + 1.0)  # a second of CPU into the fit
            os.kill(child, signal.SIGKILL)  # a crash takes the server and its trainer
        else:
            acknowledged, open_query = annotate(api, "ann", 1)
            wait_for(api, lambda status: status["retraining"] and status["model_version"] == 0)
        server.kill()
    store = Store(db, create=False)
    finished = store.log(SESSION).evaluations.history()
    store.close()
    assert finished == [], "the retrain finished before the kill; nothing was tested"
    check_log(db, acknowledged)
    acknowledged += resume(db, 1, "ann", open_query, *slow, *where)
    assert len(check_log(db, acknowledged)) == 2


def test_kill_9_during_a_burst_of_writes(tmp_path):
    """Six annotators submit as fast as they can; the kill lands while several requests are in flight."""
    db = tmp_path / "x.db"
    names = [f"ann-{i}" for i in range(6)]
    lock = threading.Lock()
    acknowledged: list[tuple[str, int]] = []
    in_flight: dict[str, str] = {}  # annotator -> query id of the answer on its way
    failures_before_kill = []
    killed = threading.Event()

    def work(api: Client, name: str) -> None:
        query = api.predict(name, api_name="/next")
        while not killed.is_set():
            with lock:
                in_flight[name] = query["query_id"]
            try:
                following = answer(api, query, name)
            except Exception as error:  # the server is gone, or a real failure (checked below)
                if not killed.is_set():
                    failures_before_kill.append((name, repr(error)))
                return
            with lock:
                acknowledged.append((query["query_id"], query["point_id"]))
                del in_flight[name]
            query = following

    with nudge_serve(db, *SERVE) as server:
        clients = {name: Client(server.url, verbose=False) for name in names}
        threads = [threading.Thread(target=work, args=(clients[name], name)) for name in names]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 20
        while len(acknowledged) < 40 and time.monotonic() < deadline and not failures_before_kill:
            time.sleep(0.05)
        trainers = wait_for_children(server)
        with lock:  # no answer is recorded as acknowledged or sent while the server dies
            killed.set()
            server.kill()
            pending = dict(in_flight)
        # a crash takes the server and its trainer, so the log below is read with no connection of theirs
        # left open: as the restarted server reads it (seen once at load 12: the log read 42 answers while
        # the orphaned trainer still ran, the restarted server 43; an in-flight one, allowed either way)
        kill_and_wait(trainers)
        for thread in threads:
            thread.join(timeout=60)
    assert not failures_before_kill, failures_before_kill
    assert len(acknowledged) >= 20 and pending, "no write was in flight when the server died"
    stored = check_log(db, acknowledged, in_flight=pending.values())
    print(f"\n{len(acknowledged)} acknowledged, {len(pending)} in flight at the kill, "
          f"{len(stored) - len(acknowledged)} of those stored")

    store = Store(db, create=False)
    open_queries = {q.annotator: q.id for q in store.queries(SESSION).open_queries()}
    store.close()
    name = names[0]
    resumed = resume(db, len(stored), name, {"query_id": open_queries[name]} if name in open_queries else None)
    check_log(db, acknowledged + resumed, in_flight=pending.values())


def write_until_killed(db, first: int, report: int) -> None:
    """In a forked child: answer new queries one by one, reporting each id once add_annotation returned."""
    try:
        store = Store(db)
        for i in range(first, first + 10**6):
            hand_out(store, SESSION, f"q{i}", i, "writer", 60.0, 0, None)
            store.log(SESSION).add_annotation(query_id=f"q{i}", point_id=i, label=i % 2, directions=[[i, 1.0]],
                                              targets=[1 - i % 2], sources=["api"], annotator="writer",
                                              model_version=0, round=1)
            os.write(report, f"{i}\n".encode())
    finally:
        os._exit(1)


def test_kill_9_mid_commit_loses_no_acknowledged_write(tmp_path):
    """A writer process killed at random moments, eight times over (while opening the database,
    inside a transaction, during a commit, between writes): each time the database passes its
    integrity check and holds every acknowledged answer once, plus at most the one in flight."""
    db = tmp_path / "log.db"
    store = Store(db)
    store.create_session(SESSION, {})
    store.close()
    rng = random.Random(7)
    acknowledged: list[int] = []
    in_flight: set[int] = set()  # per cycle, the answer that was being written when the kill came
    for cycle in range(8):
        read, write = os.pipe()
        first = cycle * 10**6
        child = os.fork()
        if child == 0:
            os.close(read)
            write_until_killed(db, first, write)
        os.close(write)
        time.sleep(rng.uniform(0.3, 0.8))
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
        with os.fdopen(read) as reports:
            acked = [int(line) for line in reports.read().split()]
        acknowledged += acked
        store = Store(db, create=False)  # integrity check (and WAL recovery) on open
        stored = [a.point_id for a in store.log(SESSION).annotations()]
        store.close()
        in_flight.add(acked[-1] + 1 if acked else first)
        assert len(stored) == len(set(stored)), "an answer was stored twice"
        assert set(acknowledged) <= set(stored), "an acknowledged answer was lost"
        assert set(stored) - set(acknowledged) <= in_flight, "an answer nobody wrote"
    assert len(acknowledged) >= 40, "too few writes happened to test anything"
    print(f"\n{len(acknowledged)} acknowledged writes over 8 kills; "
          f"{len(set(stored) - set(acknowledged))} in-flight answers were committed")
