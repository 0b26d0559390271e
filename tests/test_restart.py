"""A PostgreSQL server that restarts under a team: every answer acknowledged as saved is stored, every
one refused is not, and neither the people nor the logs see a traceback. And the mechanism beneath:
a commit whose outcome was lost with its connection is looked up (the query id), never run twice."""

import contextlib
import threading
import time
from collections import Counter, defaultdict

import psycopg
import pytest
from conftest import nudge_serve
from gradio_client import Client
from gradio_client.exceptions import AppError
from sqlalchemy.exc import OperationalError
from store_helpers import hand_out

import nudge.loop.store.database
from nudge.loop.errors import SaveUnconfirmed, StoreError
from nudge.loop.store.store import Store

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")

CLIENTS = 6
RESTARTS = 3
SERVE = ("--session", "restart", "--n-samples", "2000", "--set", "max_epochs=5", "--warm-epochs", "2")


def answer(store: Store, annotator: str = "ann"):
    return store.log("s").add_annotation(query_id="q1", point_id=3, label=1, directions=[], targets=[], sources=[],
                                         annotator=annotator, model_version=0, round=1)


@pytest.fixture
def store(database):
    store = Store(database)
    store.create_session("s", {})
    hand_out(store, "s", "q1", 3, "ann", 60.0, 0, None)
    yield store
    store.close()


def lose_the_connection_at_commit(monkeypatch, store: Store, *, after_committing: bool) -> list:
    """The next commit loses its connection, after or before the server committed it; returns the
    list of commits so failed (one, once it happened)."""
    dialect, real, lost = store.engine.dialect, store.engine.dialect.do_commit, []

    def commit(dbapi_connection) -> None:
        if not lost:
            lost.append(after_committing)
            if after_committing:
                real(dbapi_connection)
            dbapi_connection.dbapi_connection.close()  # the driver's connection, under the pool's wrapper
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        real(dbapi_connection)

    monkeypatch.setattr(dialect, "do_commit", commit)
    return lost


@pytest.mark.parametrize("after_committing", [True, False])
def test_an_answer_whose_commit_lost_its_connection_is_stored_once(store, monkeypatch, after_committing):
    lost = lose_the_connection_at_commit(monkeypatch, store, after_committing=after_committing)
    stored = answer(store)
    assert lost == [after_committing]  # the commit did fail as planned
    (kept,) = store.log("s").annotations()
    assert (kept.id, kept.query_id, kept.label) == (stored.id, "q1", 1)
    assert store.queries("s").query("q1").status == "answered"


def test_an_unconfirmed_answer_that_cannot_be_looked_up_is_not_called_lost(store, monkeypatch):
    """The commit landed, the connection went, and the server stays away: "not known", never "not saved"."""
    monkeypatch.setattr(nudge.loop.store.database, "RECONNECT_SECONDS", 0.5)
    lose_the_connection_at_commit(monkeypatch, store, after_committing=True)
    real_connect = store.engine.connect
    commits = Counter()

    def connect():
        commits["calls"] += 1
        if commits["calls"] > 1:  # the first attempt's connection, then the server is away
            raise OperationalError(None, None, psycopg.OperationalError("connection refused"))
        return real_connect()

    monkeypatch.setattr(store.engine, "connect", connect)
    with pytest.raises(SaveUnconfirmed, match="^not known whether it was saved") as unknown:
        answer(store)
    assert "not saved" not in str(unknown.value)
    monkeypatch.setattr(store.engine, "connect", real_connect)
    assert [a.query_id for a in store.log("s").annotations()] == ["q1"]


def annotate(urls: list[str], number: int, stop: threading.Event, outcomes: dict, lock: threading.Lock) -> None:
    """One annotator on its own address: next, submit, next, ... until ``stop``. Every submit carries a
    tag of its own (the first number of its direction), and goes to ``outcomes`` as (query id, tag,
    message) under "acknowledged", "saved, but", "refused" or "unknown"; a refused one is sent again."""
    api = Client(urls[number % len(urls)], verbose=False, headers={"X-Forwarded-For": f"10.0.1.{number + 1}"})
    name, query, tag = f"member-{number}", None, number * 100_000
    while not stop.is_set():
        if query is None:
            try:
                query = api.predict(name, api_name="/next")
            except AppError as error:
                with lock:
                    outcomes["next refused"].append(str(error))
                time.sleep(0.2)
                continue
            if not query:
                return
        tag += 1
        try:
            following = api.predict(query["query_id"], str(query["point_id"] % 2), [float(tag), 1.0], None, None,
                                    None, name, api_name="/submit")
            kind, message = "acknowledged", None
        except AppError as error:
            message, following = str(error), None
            kind = ("saved, but" if "saved, but" in message else "unknown" if "not known" in message
                    else "refused")
        with lock:
            outcomes[kind].append((query["query_id"], tag, message))
        query = following or None


@pytest.mark.slow
def test_every_answer_acknowledged_across_postgresql_restarts_is_stored_and_every_refused_one_is_not(
        postgres, database, tmp_path):
    outcomes: dict = defaultdict(list)
    lock, stop = threading.Lock(), threading.Event()
    with contextlib.ExitStack() as stack:
        servers = [stack.enter_context(nudge_serve(database, *SERVE, log=tmp_path / f"serve-{i}.log"))
                   for i in range(2)]
        urls = [server.url for server in servers]
        team = [threading.Thread(target=annotate, args=(urls, i, stop, outcomes, lock)) for i in range(CLIENTS)]
        for thread in team:
            thread.start()
        for _ in range(RESTARTS):
            time.sleep(3)  # a few seconds of answers between restarts
            postgres.restart()
        time.sleep(3)  # and after the last: both servers answer again without being restarted
        stop.set()
        for thread in team:
            thread.join(timeout=120)
        assert not any(thread.is_alive() for thread in team), "an annotator hung"
        served_after = [Client(url, verbose=False).predict(api_name="/status")["n_answers"] for url in urls]
    store = Store(database)
    answers = store.log("restart").annotations()
    store.close()
    stored = {a.query_id: int(a.directions[0][0]) for a in answers}  # query id -> tag of the answer kept
    assert len(stored) == len(answers), "a query was answered twice"
    acknowledged = outcomes["acknowledged"] + outcomes["saved, but"]
    assert [(q, tag) for q, tag, _ in acknowledged if stored.get(q) != tag] == [], "an acknowledged answer was lost"
    refused = outcomes["refused"]
    assert [(q, m) for q, tag, m in refused if stored.get(q) == tag] == [], "an answer said to be refused was stored"
    assert not outcomes["unknown"], outcomes["unknown"]
    logs = "".join(server.output() for server in servers)
    assert "Traceback" not in logs
    assert min(served_after) > 0
    print(f"\n{RESTARTS} restarts, {CLIENTS} clients on 2 servers: {len(outcomes['acknowledged'])} acknowledged, "
          f"{len(outcomes['saved, but'])} 'saved, but' (all {len(acknowledged)} stored); {len(refused)} refused "
          f"(none stored); {len(outcomes['next refused'])} /next refused; {len(logs.splitlines())} log lines")
    for kind in ("saved, but", "refused"):
        for _, _, message in outcomes[kind][:3]:
            print(f"  {kind}: {message}")
    for message in outcomes["next refused"][:3]:
        print(f"  /next refused: {message}")


@pytest.mark.parametrize("failure, why", [
    (StoreError("not saved: the database server cannot be reached; try again",
                "the database server cannot be reached; try again"), "the database server cannot be reached; try again"),
    (RuntimeError("a bug"), "internal error"),
])
def test_an_api_answer_saved_before_a_failure_is_said_to_be_saved(running_app, monkeypatch, failure, why):
    api = Client(running_app.url, verbose=False)
    query = api.predict("ann", api_name="/next")

    def failing(*args, **kwargs):
        raise failure

    monkeypatch.setattr(running_app.service, "next_query", failing)
    with pytest.raises(AppError) as said:
        api.predict(query["query_id"], "1", None, None, None, None, "ann", api_name="/submit")
    assert str(said.value) == f"your answer was saved, but the next query could not be handed out ({why}): call /next"
    assert [a.query_id for a in running_app.session.store.log("ui-test").annotations()] == [query["query_id"]]
