"""Sessions: the log is the truth, the model is derived, nothing acknowledged is lost."""

import threading

import numpy as np
import pytest
from conftest import SMALL_NET

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import BackgroundTrainer, RoundRequests


@pytest.fixture(scope="module")
def moons():  # 300 points: the restart test compares accuracies
    return load_dataset("moons", n_samples=300, seed=0)


def new_session(moons, db="sqlite://", **config):
    settings = {"estimator": SMALL_NET, **config}
    return Session.create(Store(db), SessionConfig(**settings), dataset=moons, session_id="s")


def answer(session, annotator="ann", direction=True):
    query = session.next_query(annotator)
    label = int(session.dataset.y[query.point_id])
    directions = [np.array([0.0, 2.0 * label - 1.0])] if direction else []
    return query, session.submit(query.query_id, label, directions, annotator=annotator)


def test_answers_are_stored_and_the_model_follows_the_log(moons):
    session = new_session(moons)
    for _ in range(6):
        answer(session)
    status = session.status()
    assert status["n_answers"] == 6 and status["n_labeled"] == 6 and status["n_directions"] == 6
    assert status["model_version"] == 6  # retrain_every=1
    assert session.model.accuracy is not None
    stored = session.store.log("s").annotations()
    assert [a.sources for a in stored] == [["api"]] * 6
    assert all(a.targets == [1 - a.label] for a in stored)


def test_retrain_every_k_answers_and_full_refit_period(moons):
    session = new_session(moons, retrain_every=3, full_refit_every=2)
    for _ in range(2):
        answer(session)
    assert session.model.version == 0
    answer(session)
    assert session.model.version == 1
    for _ in range(3):
        answer(session)
    assert session.model.version == 2 and session.model.n_labeled == 6


def test_restart_rebuilds_the_model_from_the_log_and_continues(moons, tmp_path):
    db = tmp_path / "log.db"
    session = new_session(moons, db=db)
    answered = [answer(session)[1] for _ in range(5)]
    open_query = session.next_query("ann")  # handed out, not answered: must survive too
    accuracy = session.model.accuracy
    session.close()
    session.store.close()

    again = Session.open(Store(db), "s", dataset=moons)
    assert [a.id for a in again.store.log("s").annotations()] == [a.id for a in answered]
    assert again.model.n_labeled == 5 and again.model.accuracy is not None
    resumed = again.next_query("ann")
    assert resumed.query_id == open_query.query_id  # the same lease is handed back
    labelled = set(again.labelled_points())
    assert resumed.point_id not in labelled
    answer(again)
    assert again.status()["n_answers"] == 6
    assert abs(again.model.accuracy - accuracy) < 0.25


def test_points_are_not_handed_out_twice(moons):
    session = new_session(moons)
    first = session.next_queries("a", 5)
    second = session.next_queries("b", 5)
    assert len({q.point_id for q in first + second}) == 10
    again = session.next_queries("a", 5)  # open leases are handed back, not new points
    assert [q.query_id for q in again] == [q.query_id for q in first]


def test_skip_undo_and_relabel(moons):
    session = new_session(moons)
    query, first = answer(session)
    skipped = session.next_query("ann")
    session.skip(skipped.query_id, annotator="ann")
    assert session.next_query("ann").point_id != skipped.point_id  # not offered again to its skipper
    reopened = session.undo("ann")  # undoes the skip
    assert reopened.point_id == skipped.point_id
    assert session.status()["n_skips"] == 0 and session.status()["n_undone"] == 1
    session.relabel(query.point_id, 1 - first.label, annotator="ann")
    assert session.labelled_points()[query.point_id] == 1 - first.label  # the newest answer counts
    assert len(session.store.log("s").annotations()) == 3  # nothing is deleted


def test_undo_with_nothing_to_undo(moons):
    assert new_session(moons).undo("nobody") is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"label": 5}, "not one of the classes"),
        ({"label": "cat"}, "not one of the classes"),
        ({"label": 1.5}, "not one of the classes"),
        ({"directions": [[1.0, 2.0, 3.0]]}, "needs 2 numbers"),
        ({"directions": [[0.0, 0.0]]}, "zero length"),
        ({"directions": [[np.nan, 1.0]]}, "NaN or infinite"),
        ({"directions": [[np.inf, 1.0]]}, "NaN or infinite"),
        ({"directions": [["a", "b"]]}, "not a list of numbers"),
        ({"directions": [[1.0, 0.0]] * 5}, "at most 4"),
        ({"rewrite": "a different text"}, "text data sets"),
        ({"annotator": "someone else"}, "belongs to"),
        ({"annotator": "  "}, "annotator name"),
        ({"sources": ["dream"], "directions": [[1.0, 0.0]]}, "unknown direction source"),
        ({"targets": [1], "directions": [[1.0, 0.0]], "label": 1}, "another class"),
    ],
)
def test_bad_answers_are_refused_and_nothing_is_stored(moons, kwargs, message):
    session = new_session(moons)
    query = session.next_query("ann")
    arguments = {"label": 0, "directions": [], "annotator": "ann", **kwargs}
    label, directions = arguments.pop("label"), arguments.pop("directions")
    with pytest.raises(SessionError, match=message):
        session.submit(query.query_id, label, directions, **arguments)
    assert session.store.log("s").annotations() == []
    session.submit(query.query_id, 0, annotator="ann")  # the query is still answerable
    with pytest.raises(SessionError, match="already answered"):
        session.submit(query.query_id, 0, annotator="ann")
    with pytest.raises(SessionError, match="unknown query"):
        session.submit("no-such-query", 0, annotator="ann")
    assert len(session.store.log("s").annotations()) == 1


def test_class_names_are_accepted_as_labels(moons):
    session = new_session(moons)
    query = session.next_query("ann")
    stored = session.submit(query.query_id, moons.class_names[1], annotator="ann")
    assert stored.label == 1


def test_background_training_publishes_new_versions(moons):
    background = Session.create(Store("sqlite://"), SessionConfig(estimator=SMALL_NET), dataset=moons,
                                trainer=BackgroundTrainer())
    try:
        for _ in range(3):
            answer(background)
        assert background.wait_until_trained(timeout=60)
        assert background.model.n_labeled == 3
    finally:
        background.close()


def test_pool_exhaustion_returns_nothing():
    tiny = load_dataset("moons", n_samples=20, seed=1)
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=SMALL_NET), dataset=tiny)
    handed = session.next_queries("a", 100)
    assert len(handed) == len(tiny.pool)
    assert session.next_queries("b", 1) == []


def test_a_retrain_with_nothing_new_keeps_the_weights(moons):
    session = new_session(moons, full_refit_every=0)
    for _ in range(3):
        answer(session)
    before = session.model
    after = session.retrain()
    assert after.version == before.version + 1 and after.annotation_ids == before.annotation_ids
    assert np.allclose(after.learner.predict_proba(moons.X), before.learner.predict_proba(moons.X))


def test_round_requests_merge_until_taken_and_closing_wakes_the_taker():
    requests = RoundRequests()
    assert requests.take(timeout=0.01) is False  # nothing asked: waits out its timeout
    requests.ask()
    requests.ask()  # asked twice before the trainer looked: one round
    assert requests.asked and requests.take() is True and not requests.asked
    assert requests.take(timeout=0.01) is False
    taken = []
    taker = threading.Thread(target=lambda: taken.append(requests.take()))
    taker.start()
    requests.close()  # wakes a taker waiting with no timeout
    taker.join(timeout=10)
    assert not taker.is_alive() and taken == [False] and requests.closed


def test_on_texts_the_direction_objectives_read_features_centred_and_scaled_by_one_spread_and_labels_only_does_not():
    from nudge.loop.config.factory import new_estimator, pool_statistics

    rng = np.random.default_rng(0)
    X = rng.normal(3.0, [0.5, 2.0, 1.0], size=(40, 3)).astype(np.float32)
    X[:, 2] = 7.0  # a constant feature keeps scale 1
    texts = Dataset("texts", X, np.arange(40) % 2, ["a", "b"], np.arange(30), np.arange(30, 40),
                    texts=[f"text {i}" for i in range(40)])
    center, scale = pool_statistics(texts)
    np.testing.assert_allclose(center, X[:30].mean(axis=0), rtol=1e-6)
    # one spread for all features: the root-mean-square of (0.5, 2.0, 0) in expectation; exactly, of the sample's
    np.testing.assert_allclose(scale, np.sqrt((X[:30].std(axis=0) ** 2).mean()), rtol=1e-5)
    assert scale.shape == (3,) and 0.9 < scale[0] < 1.4
    constant = Dataset("flat", np.full((40, 3), 7.0, np.float32), np.arange(40) % 2, ["a", "b"], np.arange(30),
                       np.arange(30, 40), texts=[f"text {i}" for i in range(40)])
    assert (pool_statistics(constant)[1] == 1.0).all()
    for loss in ("direction", "gradient-supervision"):
        params = new_estimator(SessionConfig(dataset="texts", loss=loss), texts).get_params()
        assert params["module__hidden"] == () and params["module__center"] is not None
    assert "module__center" not in new_estimator(SessionConfig(dataset="texts", loss="ce"), texts).get_params()
    points = Dataset("points", X, np.arange(40) % 2, ["a", "b"], np.arange(30), np.arange(30, 40))
    assert "module__center" not in new_estimator(SessionConfig(dataset="points"), points).get_params()
