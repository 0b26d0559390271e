"""The page's tabs (nudge.loop.service.tabs) and the page's server functions (nudge.ui.app), without a browser:
the next query is prepared without a lease and claimed at answer time, two tabs of one name get
two points, a name change or a reload keeps the point, and errors answer with one plain message."""

import logging
import time

import numpy as np
import pytest

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import load_dataset
from nudge.loop.errors import SessionError
from nudge.loop.service import handing
from nudge.loop.service.service import AnnotationService, Direction
from nudge.loop.service.tabs import Tabs
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store, StoreError
from nudge.ui.app import AnnotationApp
from nudge.ui.failures import INTERNAL_ERROR, USER_ERRORS

SMALL = {"max_epochs": 10, "module__hidden": (8,)}
SESSION = "tabs"


@pytest.fixture
def session(tmp_path):
    """A moons session in a SQLite file (the tabs' worker threads use it at once, as a server's do)."""
    dataset = load_dataset("moons", n_samples=200)
    config = SessionConfig(estimator=SMALL, retrain_every=10**6)  # no retrain unless a test asks
    session = Session.create(Store(tmp_path / "tabs.db"), config, dataset=dataset, session_id=SESSION)
    yield session
    session.close()
    session.store.close()


@pytest.fixture
def tabs(session):
    tabs = Tabs(AnnotationService(session))
    yield tabs
    tabs.close()


def open_leases(session, annotator=None):
    now = time.time()
    return [q for q in session.leases.queries.open_queries()
            if q.lease_until > now and (annotator is None or q.annotator == annotator)]


def prepared(tabs, token):
    """The tab's prepared next query, once it is ready."""
    future = tabs._tabs[token].prepared
    return future.result(timeout=30)


def label_of(session, point):
    return int(session.dataset.y[point])


# --------------------------------------------------------------------------- the session's primitives


def test_a_proposal_reserves_nothing_and_a_claim_leases_only_a_free_point(session):
    proposals = handing.propose(session, "ann", 3)
    assert len({p.point_id for p in proposals}) == 3 and open_leases(session) == []
    assert all(p.model_version == 0 for p in proposals)
    first = handing.claim(session, "ann", proposals[0].point_id, score=proposals[0].score)
    assert first.point_id == proposals[0].point_id and first.annotator == "ann"
    assert handing.claim(session, "bob", first.point_id) is None  # leased to ann
    assert proposals[0].point_id not in {p.point_id for p in handing.propose(session, "bob", 50)}
    assert handing.propose(session, "ann", 5, exclude=[proposals[1].point_id])[0].point_id != proposals[1].point_id
    session.submit(first.query_id, label_of(session, first.point_id), annotator="ann")
    assert handing.claim(session, "bob", first.point_id) is None  # labelled
    assert handing.claim(session, "ann", int(session.dataset.test[0])) is None  # not a pool point


def test_a_released_query_gives_its_point_back(session):
    query = session.next_query("ann")
    with pytest.raises(SessionError, match="belongs to 'ann'"):
        handing.release(session, query.query_id, annotator="bob")
    handing.release(session, query.query_id, annotator="ann")
    assert open_leases(session) == []
    assert handing.claim(session, "bob", query.point_id).annotator == "bob"


# --------------------------------------------------------------------------- prepared next queries


def test_the_next_query_is_prepared_without_a_lease_and_claimed_at_the_answer(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "ann").shown
    ready = prepared(tabs, token)
    assert ready.proposal.point_id != shown.query.point_id
    assert [q.point_id for q in open_leases(session)] == [shown.query.point_id]  # one lease: the shown point
    after = tabs.answer(token, "ann", shown.query.point_id, label_of(session, shown.query.point_id), [])
    assert after.note is None and after.shown.query.point_id == ready.proposal.point_id
    assert after.shown.picture is ready.picture  # drawn while the person looked
    assert [q.point_id for q in open_leases(session)] == [ready.proposal.point_id]
    (answer,) = session.store.log(SESSION).annotations()
    assert (answer.point_id, answer.annotator) == (shown.query.point_id, "ann")


def test_a_prepared_point_taken_meanwhile_is_replaced_by_a_fresh_one(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "ann").shown
    ready = prepared(tabs, token)
    handing.claim(session, "bob", ready.proposal.point_id)
    after = tabs.answer(token, "ann", shown.query.point_id, 0, [])
    point = after.shown.query.point_id
    assert point not in (ready.proposal.point_id, shown.query.point_id)
    assert {q.point_id: q.annotator for q in open_leases(session)} == {ready.proposal.point_id: "bob", point: "ann"}


def test_the_next_query_is_chosen_by_the_newest_model(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "ann").shown
    for point in session.dataset.pool[:6]:
        session.relabel(int(point), label_of(session, point), annotator="seed")
    assert prepared(tabs, token).proposal.model_version == 0
    session.retrain(full=True)  # published while ann looks at the point
    after = tabs.answer(token, "ann", shown.query.point_id, 0, [])
    newest = session.model.version
    assert newest >= 1 and after.shown.query.model_version == newest
    assert after.shown.picture.model_version == newest  # and drawn by it


def test_a_new_model_gets_the_prepared_query_prepared_again(session, tabs):
    token = tabs.open(None)
    tabs.begin(token, "ann")
    assert prepared(tabs, token).proposal.model_version == 0
    for point in session.dataset.pool[:6]:
        session.relabel(int(point), label_of(session, point), annotator="seed")
    session.retrain(full=True)
    deadline = time.monotonic() + 30
    while prepared(tabs, token).proposal.model_version != session.model.version:
        assert time.monotonic() < deadline, "the prepared query was not prepared again"
        time.sleep(0.02)


def test_a_tab_heard_from_again_gets_a_prepared_query_by_the_newest_model(session, tabs, monkeypatch):
    """A tab silent for LIVE_SECONDS is left alone while models come; its first poll after that has
    its prepared query prepared again by the newest one (not only at the watcher's next full look)."""
    from nudge.loop.service import tabs as tabs_module

    monkeypatch.setattr(tabs_module, "FORGET_CHECK_SECONDS", 3600.0)  # no full look meanwhile
    token = tabs.open(None)
    tabs.begin(token, "ann")
    assert prepared(tabs, token).proposal.model_version == 0
    tabs._tabs[token].seen -= 2 * tabs_module.LIVE_SECONDS  # the tab fell silent
    for point in session.dataset.pool[:6]:
        session.relabel(int(point), label_of(session, point), annotator="seed")
    session.retrain(full=True)
    time.sleep(0.3)  # the watcher settles on the new model without the silent tab
    assert prepared(tabs, token).proposal.model_version == 0
    tabs.seen(token, "ann")  # its status poll
    deadline = time.monotonic() + 30
    while prepared(tabs, token).proposal.model_version != session.model.version:
        assert time.monotonic() < deadline, "the prepared query of the tab heard from again was not prepared again"
        time.sleep(0.02)


# --------------------------------------------------------------------------- who is annotating


def test_two_tabs_of_one_name_get_two_points(session, tabs):
    first, second = tabs.open(None), tabs.open(None)
    one = tabs.begin(first, "ann").shown.query
    two = tabs.begin(second, "ann").shown.query
    assert one.point_id != two.point_id and {q.annotator for q in open_leases(session)} == {"ann"}
    after_one = tabs.answer(first, "ann", one.point_id, 0, []).shown.query
    after_two = tabs.answer(second, "ann", two.point_id, 1, []).shown.query
    assert len({one.point_id, two.point_id, after_one.point_id, after_two.point_id}) == 4
    assert [(a.point_id, a.label) for a in session.log.annotations()] == [(one.point_id, 0), (two.point_id, 1)]


def test_a_new_name_takes_over_the_shown_point(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "guest-1").shown
    again = tabs.begin(token, "alice").shown  # the name changed while the point was shown
    assert again.query.point_id == shown.query.point_id and again.picture is shown.picture
    assert [(q.point_id, q.annotator) for q in open_leases(session)] == [(shown.query.point_id, "alice")]
    tabs.answer(token, "bob", shown.query.point_id, 1, [])  # and again, right in the answer
    (answer,) = session.store.log(SESSION).annotations()
    assert (answer.point_id, answer.annotator) == (shown.query.point_id, "bob")


def test_a_reload_keeps_the_point_and_a_new_tab_resumes_a_point_no_tab_shows(session, tabs):
    old = tabs.open(None)
    shown = tabs.begin(old, "ann").shown
    new = tabs.open(None)
    assert tabs.begin(new, "ann", previous=old).shown.query.query_id == shown.query.query_id
    with pytest.raises(SessionError, match="reload the page"):
        tabs.begin(old, "ann")
    api_query = session.next_query("bob")  # handed out over the API: no tab shows it
    assert tabs.begin(tabs.open(None), "bob").shown.query.query_id == api_query.query_id


def test_the_login_names_the_annotator_whatever_is_typed(session, tabs):
    token = tabs.open("alice")
    shown = tabs.begin(token, "mallory").shown
    assert shown.query.annotator == "alice"
    tabs.answer(token, "mallory", shown.query.point_id, 0, [])
    assert session.store.log(SESSION).annotations()[0].annotator == "alice"


def test_an_empty_name_is_refused_with_a_plain_message(tabs):
    with pytest.raises(SessionError, match="enter your name"):
        tabs.begin(tabs.open(None), "  ")


# --------------------------------------------------------------------------- answers that cannot be stored


def test_an_answer_for_a_point_the_tab_does_not_show_is_not_saved(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "ann").shown
    outcome = tabs.answer(token, "ann", shown.query.point_id + 1, 0, [])
    assert "nothing was saved" in outcome.note and outcome.shown.query.point_id == shown.query.point_id
    assert session.store.log(SESSION).annotations() == []


def test_after_an_undo_in_another_tab_the_answer_still_lands_on_its_point(session, tabs):
    a, b = tabs.open(None), tabs.open(None)
    first = tabs.begin(a, "ann").shown.query
    tabs.answer(a, "ann", first.point_id, 0, [])
    other = tabs.begin(b, "ann").shown.query
    undone = tabs.undo(a, "ann")  # releases every open query of ann, the one tab b shows too
    assert undone.shown.query.point_id == first.point_id and undone.undone.point_id == first.point_id
    assert other.point_id not in {q.point_id for q in open_leases(session)}
    outcome = tabs.answer(b, "ann", other.point_id, 1, [])
    assert outcome.note is None
    assert session.store.log(SESSION).annotations()[-1].point_id == other.point_id


def test_undo_with_nothing_to_undo_keeps_the_tab_as_it_is(session, tabs):
    token = tabs.open(None)
    shown = tabs.begin(token, "ann").shown
    assert tabs.undo(token, "ann") is None
    assert [q.id for q in open_leases(session)] == [shown.query.query_id]


# --------------------------------------------------------------------------- the page's server functions


@pytest.fixture
def app(session):
    app = AnnotationApp(AnnotationService(session))
    yield app
    app.close()


def page(app, token, name="ann", **data):
    return {"token": token, "name": name, **data}


def test_undo_brings_the_answer_back_and_says_what_was_undone(app, session):
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    arrows = [{"a": 0.5, "b": -0.25, "target": None}, {"a": -0.1, "b": 0.3, "target": None}]
    target = next(c for c in query["projection"]["points"] if c["class"] == -1)["point_id"]
    reply = app.page_answer(page(app, token, point_id=query["point_id"], label="1", arrows=arrows,
                                 towards={"point_id": target, "target": None}))
    assert reply["ok"] and reply["query"]["point_id"] != query["point_id"]
    undone = app.page_undo(page(app, token))
    assert undone["query"]["point_id"] == query["point_id"]
    restore = undone["restore"]
    assert restore["label"] == "1" and restore["rewrite"] is None
    assert restore["towards"] == {"point_id": target, "target": "0"}
    for given, back in zip(arrows, restore["arrows"]):
        assert back["a"] == pytest.approx(given["a"]) and back["b"] == pytest.approx(given["b"])
        assert back["target"] == "0"
    assert undone["message"] == (f"Undid your answer to point {query['point_id']} (label 1, 2 arrows, 1 example): "
                                 "correct it and submit again")
    assert app.page_undo(page(app, token)) == {"ok": True, "message": "nothing to undo"}  # no "query": the page stays


def test_after_a_restart_the_undone_answer_comes_back_with_its_point(app, session, tmp_path):
    """The server stops between an undo and the correction: the reopened point, handed to the same person by
    the next server, still brings their undone answer back, its arrows where they drew them."""
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    arrows = [{"a": 0.5, "b": -0.25, "target": None}]
    app.page_answer(page(app, token, point_id=query["point_id"], label="1", arrows=arrows))
    assert app.page_undo(page(app, token))["query"]["point_id"] == query["point_id"]
    app.close()
    session.close()

    restarted = Session.open(Store(tmp_path / "tabs.db"), SESSION, dataset=load_dataset("moons", n_samples=200))
    again = AnnotationApp(AnnotationService(restarted))
    try:
        reply = again.page_begin(page(again, again.open_tab()["token"]))
        assert reply["query"]["point_id"] == query["point_id"]
        restore = reply["restore"]
        assert restore["label"] == "1"
        assert restore["arrows"][0]["a"] == pytest.approx(0.5) and restore["arrows"][0]["b"] == pytest.approx(-0.25)
        assert reply["message"].startswith(f"Your undone answer to point {query['point_id']} is back")
    finally:
        again.close()
        restarted.close()
        restarted.store.close()


def test_a_refusal_is_one_message_and_one_log_line(app, session, caplog):
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    call = app.build().blocks  # the server functions are plain functions on the page's component
    functions = {f.__name__: f for block in call.values() for f in getattr(block, "server_fns", [])}
    with caplog.at_level(logging.WARNING):
        reply = functions["nudge_answer"](page(app, token, point_id=query["point_id"], label="cat"))
    assert orjson_loads(reply) == {"ok": False, "message": "label 'cat' is not one of the classes ['0', '1']: "
                                                          "the class names here are numbers, so a string of digits "
                                                          "is read as a name; give a class name, or an index as a "
                                                          "whole number (0..1)"}
    (record,) = [r for r in caplog.records if r.name == "nudge.ui.failures"]
    assert record.levelno == logging.WARNING and record.exc_info is None and "refused answer" in record.getMessage()
    assert session.store.log(SESSION).annotations() == []


def test_an_internal_error_is_logged_once_with_its_traceback_and_saves_nothing(app, session, caplog, monkeypatch):
    assert ValueError not in USER_ERRORS  # a bug is not the annotator's mistake
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    functions = {f.__name__: f for block in app.build().blocks.values() for f in getattr(block, "server_fns", [])}

    def broken(*args, **kwargs):
        raise ValueError("a bug")

    monkeypatch.setattr(session, "submit", broken)
    with caplog.at_level(logging.WARNING):
        reply = orjson_loads(functions["nudge_answer"](page(app, token, point_id=query["point_id"], label="0")))
    assert reply == {"ok": False, "message": INTERNAL_ERROR}
    (record,) = [r for r in caplog.records if r.name == "nudge.ui.failures"]
    assert record.levelno == logging.ERROR and record.exc_info is not None
    assert session.store.log(SESSION).annotations() == []


@pytest.mark.parametrize("failure, why", [
    (RuntimeError("a bug"), "internal error"),
    (StoreError("not saved: the database server cannot be reached; try again",
                "the database server cannot be reached; try again"), "the database server cannot be reached; try again"),
])
def test_an_error_after_the_answer_was_stored_says_it_was_saved(app, session, monkeypatch, failure, why):
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]

    def broken(*args, **kwargs):
        raise failure

    monkeypatch.setattr(app.tabs, "_next", broken)
    reply = app.page_answer(page(app, token, point_id=query["point_id"], label="0"))
    assert reply["query"] is None
    assert reply["message"] == f"your answer was saved, but the next point could not be chosen ({why}): reload the page"
    assert len(session.store.log(SESSION).annotations()) == 1


def test_an_undo_whose_point_cannot_be_shown_says_it_was_undone(app, session, monkeypatch):
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    app.page_answer(page(app, token, point_id=query["point_id"], label="0"))
    functions = {f.__name__: f for block in app.build().blocks.values() for f in getattr(block, "server_fns", [])}

    def unreachable(*args, **kwargs):
        raise StoreError("not saved: the database server cannot be reached; try again",
                         "the database server cannot be reached; try again")

    monkeypatch.setattr(app.service, "query_picture", unreachable)
    reply = orjson_loads(functions["nudge_undo"](page(app, token)))
    assert reply == {"ok": False, "message": "your last answer was undone, but its point could not be handed back "
                                             "(the database server cannot be reached; try again): reload the page"}
    assert [a.undone for a in session.store.log(SESSION).annotations()] == [True]


def test_a_page_answer_and_an_api_answer_go_through_the_same_rules(app, session):
    """The service builds the same Direction values from the page's arrows and the API's plane point."""
    token = app.open_tab()["token"]
    query = app.page_begin(page(app, token))["query"]
    app.page_answer(page(app, token, point_id=query["point_id"], label="0",
                         arrows=[{"a": 0.25, "b": 0.5, "target": None}]))
    api_query = session.next_query("api")
    app.service.submit(api_query.query_id, "0", annotator="api", plane_point=[0.25, 0.5])
    from_page, from_api = session.store.log(SESSION).annotations()
    assert from_page.sources == from_api.sources == ["arrow"] and from_page.targets == from_api.targets == [1]
    np.testing.assert_allclose(from_page.directions[0], from_api.directions[0])
    with pytest.raises(SessionError, match="one of"):
        Direction(plane=(1.0, 2.0), towards=3)
    for bad, message in (([{"a": "x", "b": 0}], "two numbers"), ([{"a": 1e400, "b": 0}], "finite"),
                         ("up", "malformed arrows")):
        query = app.page_begin(page(app, token))["query"]
        with pytest.raises(SessionError, match=message):
            app.page_answer(page(app, token, point_id=query["point_id"], label="0", arrows=bad))


def orjson_loads(response):
    import orjson

    return orjson.loads(response.body)


def test_with_three_classes_each_direction_of_a_page_answer_keeps_its_target(tmp_path):
    from test_ui_api import WordCountEncoder

    from nudge.loop.datasets import Dataset

    words = ("good great", "bad awful", "boring fun")
    texts = [f"review {i}: {words[i % 3]}" for i in range(45)]
    encoder = WordCountEncoder()
    dataset = Dataset("three", encoder.encode(texts), np.arange(45) % 3, ["pos", "neg", "meh"], np.arange(36),
                      np.arange(36, 45), texts=texts)
    session = Session.create(Store(tmp_path / "three.db"), SessionConfig(estimator=SMALL, retrain_every=10**6),
                             dataset=dataset, session_id=SESSION, encoder=encoder)
    app = AnnotationApp(AnnotationService(session))
    try:
        token = app.open_tab()["token"]
        query = app.page_begin(page(app, token))["query"]
        base = page(app, token, point_id=query["point_id"], label="pos")
        with pytest.raises(SessionError, match="for none of them"):
            app.page_answer({**base, "arrows": [{"a": 0.3, "b": 0.1, "target": "meh"}],
                             "rewrite": query["readable_text"] + " and boring"})
        app.page_answer({**base, "arrows": [{"a": 0.3, "b": 0.1, "target": "meh"}],
                         "rewrite": query["readable_text"] + " and bad", "rewrite_target": "neg"})
        (answer,) = session.store.log(SESSION).annotations()
        assert (answer.label, answer.sources, answer.targets) == (0, ["arrow", "rewrite"], [2, 1])
    finally:
        app.close()
        session.close()
        session.store.close()


def test_the_status_line_and_the_progress_plot_say_how_accuracy_was_measured(tmp_path):
    """Without test labels the session is measured by cross-validation on its answers, and the page says so."""
    from nudge.loop.datasets import UNKNOWN, Dataset

    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    unlabelled = Dataset("rows", X, np.full(40, UNKNOWN), ["lo", "hi"], np.arange(40), np.zeros(0, np.int64),
                         kind="table", feature_names=["a", "b", "c"])
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="rows", estimator={"max_epochs": 5}),
                             dataset=unlabelled)
    app = AnnotationApp(AnnotationService(session))
    try:
        token = app.open_tab()["token"]
        assert "accuracy n/a" in app.page_status(page(app, token))["line"]
        for point in range(6):
            session.relabel(point, "hi" if X[point, 0] > 0 else "lo", annotator="ann")
        app._status = None  # read afresh, not the status of a second ago
        reply = app.page_status(page(app, token))
        assert "accuracy" in reply["line"] and "(cross-validated on 5 answers)" in reply["line"]
        assert reply["measured"] == "accuracy cross-validated on the answers" and reply["history"][0][0] == 5
    finally:
        app.close()
        session.close()
