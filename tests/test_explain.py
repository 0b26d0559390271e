"""nudge.loop.service.explain: highlights and live predictions of a real text session (MiniLM), and their bad inputs.

These are the functions behind the API routes /explain and /predict_text."""

import sqlite3
import threading
from contextlib import closing

import numpy as np
import pytest

from nudge.estimators.concatenated import ConcatenatedEncoder
from nudge.estimators.encoders import SentenceEncoder
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.errors import SessionError
from nudge.loop.service.explain import Explainer, word_changes
from nudge.loop.session.answers import MAX_REWRITE_CHARS
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

GOOD = ("wonderful", "brilliant", "delightful", "superb")
BAD = ("terrible", "dreadful", "awful", "horrible")
SUBJECTS = ("film", "movie", "story", "cast")
LONG = " ".join(["the plot goes on and on"] * 60) + " and it was wonderful"  # the verdict past word 256


def review(i: int) -> str:
    words = GOOD if i % 2 else BAD
    return f"The {SUBJECTS[(i // 2 + i // 8) % 4]} was {words[i // 2 % 4]}."  # 8-15 unlike 0-7


@pytest.fixture(scope="module")
def encoder(tmp_path_factory):
    return SentenceEncoder(cache_dir=tmp_path_factory.mktemp("embeddings"))


@pytest.fixture(scope="module")
def reviews(encoder):
    texts = [review(i) for i in range(16)] + [LONG]
    y = np.array([i % 2 for i in range(16)] + [1])
    return Dataset("reviews", encoder.encode(texts), y, ["Negative", "Positive"],
                   np.array([*range(12), 16]), np.arange(12, 16), texts=texts)


def trained_session(dataset, encoder, labelled: int = 8) -> Session:
    config = SessionConfig(dataset=dataset.name, estimator={"max_epochs": 60}, strategy="random")
    session = Session.create(Store("sqlite://"), config, dataset=dataset, encoder=encoder)
    for point in range(labelled):
        session.relabel(point, int(dataset.y[point]), annotator="ann")
    return session


@pytest.fixture(scope="module")
def explainer(reviews, encoder):
    explainer = Explainer(trained_session(reviews, encoder), encoder)
    yield explainer
    explainer.close()


def query_at(session: Session, point_id: int) -> str:
    """A query for ``point_id`` (opened by answering it anew and undoing: the undo re-opens it)."""
    session.relabel(point_id, int(session.dataset.y[point_id]), annotator="reader")
    return session.undo("reader").query_id


def test_the_sentiment_word_pushes_towards_its_class(explainer):
    session = explainer.session
    for point in (8, 9):  # a negative and a positive review, not trained on
        result = explainer.explain(query_at(session, point))
        label = session.dataset.y[point]
        assert result["text"] == review(point) and result["point_id"] == point
        assert [w["word"] for w in result["words"]] == review(point).rstrip(".").split()
        strongest = max(result["words"], key=lambda w: w["weights"][label])
        assert strongest["word"] in GOOD + BAD
        for word in result["words"]:
            assert review(point)[word["start"]:word["end"]] == word["word"]
            assert word["read"] and word["weights"][0] == pytest.approx(-word["weights"][1])
        assert result["prediction"] == session.dataset.class_names[label]
        assert result["unread_words"] == 0 and result["read_chars"] == len(review(point))
        assert result["max_weight"] == max(abs(w["weights"][1]) for w in result["words"])


def test_a_session_on_two_encoders_side_by_side_is_highlighted_and_read_through_both(tmp_path):
    parts = [SentenceEncoder(cache_dir=tmp_path), SentenceEncoder(cache_dir=tmp_path, dtype="bfloat16")]
    pair = ConcatenatedEncoder(parts, cache_dir=tmp_path)
    texts = [review(i) for i in range(16)]
    dataset = Dataset("reviews", pair.encode(texts), np.arange(16) % 2, ["Negative", "Positive"], np.arange(12),
                      np.arange(12, 16), texts=texts)
    explainer = Explainer(trained_session(dataset, pair), pair)
    try:
        result = explainer.explain_point(9)  # a positive review, not trained on
        strongest = max(result["words"], key=lambda w: w["weights"][1])
        assert strongest["word"] in GOOD and result["prediction"] == "Positive"
        reading = explainer.predict_text(review(9))
        assert reading["probabilities"] == pytest.approx(result["probabilities"], abs=1e-4)  # one vector, two ways
    finally:
        explainer.close()


def test_highlights_are_computed_once_per_model_version_and_point(explainer, monkeypatch):
    session = explainer.session
    query_id = query_at(session, 10)
    explainer.prefetch(query_id)
    first = explainer.explain(query_id)
    calls = []
    monkeypatch.setattr(explainer, "_compute", lambda *args: calls.append(args))
    again = explainer.explain(query_id)
    assert again == first and calls == []  # from the cache
    assert explainer.explain_point(10) == {k: v for k, v in first.items() if k != "query_id"}
    assert first["model_version"] == session.model.version


def test_a_long_reviews_unread_words_are_marked(explainer):
    result = explainer.explain_point(16)
    unread = [w for w in result["words"] if not w["read"]]
    assert result["unread_words"] == len(unread) > 0 and unread[-1]["word"] == "wonderful"
    assert all(w["weights"] == [0.0, 0.0] for w in unread)
    assert result["read_chars"] <= unread[0]["start"]


def test_a_rewrite_that_flips_is_read_as_the_other_class_with_its_word_diff(explainer):
    session = explainer.session
    query_id = query_at(session, 9)
    original = review(9)
    assert original == "The movie was wonderful."
    rewrite = original.replace("wonderful", "dreadful")
    reading = explainer.predict_text(rewrite, query_id)
    assert reading["prediction"] == "Negative" and reading["original_prediction"] == "Positive"
    assert reading["flips"] and reading["warning"] is None and reading["changed_words"] == 1
    (change,) = reading["changes"]
    assert change["op"] == "replace"
    assert original[slice(*change["original"])] == "wonderful" and rewrite[slice(*change["rewrite"])] == "dreadful"
    assert sum(reading["probabilities"]) == pytest.approx(1.0)
    plain = explainer.predict_text(rewrite)
    assert plain["probabilities"] == pytest.approx(reading["probabilities"]) and "flips" not in plain


def test_unchanged_and_trivial_rewrites_are_flagged(explainer):
    session = explainer.session
    query_id = query_at(session, 9)
    original = review(9)
    assert "same as the text" in explainer.predict_text(original + "  ", query_id)["warning"]
    trivial = explainer.predict_text(original.upper().replace(".", "!"), query_id)
    assert "same words" in trivial["warning"] and trivial["changes"] == [] and not trivial["flips"]
    long_query = query_at(session, 16)
    late = explainer.predict_text(LONG.replace("wonderful", "awful"), long_query)
    assert "past the first ~200 words" in late["warning"] and late["changed_words"] == 1
    assert "past the first" in explainer.predict_text(LONG + " Not really.", long_query)["warning"]
    assert explainer.predict_text(original + " Not really.", query_id)["warning"] is None  # read: short


def test_drafts_are_not_stored_in_the_embedding_cache(explainer, encoder):
    def stored() -> int:
        with closing(sqlite3.connect(encoder.cache.path)) as connection:
            return connection.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]

    before = stored()
    explainer.predict_text("A draft nobody will ever submit, about a superb cast.")
    assert stored() == before


def test_word_changes_insertions_and_deletions():
    before, after, changes = word_changes("it was good fun", "it was not good")
    assert [(c.op, c.i1, c.i2, c.j1, c.j2) for c in changes] == [("insert", 2, 2, 2, 3), ("delete", 3, 4, 4, 4)]
    assert before.tolist()[3] == [12, 15] and after.tolist()[2] == [7, 10]


# ------------------------------------------------------------------ bad input (the API's)

@pytest.mark.parametrize("text, reason", [
    ("", "empty"), ("   \n", "empty"), (None, "empty"), (42, "empty"), (["a text"], "empty"),
    ("x" * (MAX_REWRITE_CHARS + 1), f"longer than {MAX_REWRITE_CHARS}"), ("a\x00b", "NUL"),
])
def test_predict_text_refuses_bad_text(explainer, text, reason):
    with pytest.raises(SessionError, match=reason):
        explainer.predict_text(text)


@pytest.mark.parametrize("query_id", ["no-such-query", "q" * 10_000, "a\x00b", "", None, 7])
def test_unknown_query_ids_are_refused(explainer, query_id):
    with pytest.raises(SessionError, match="unknown query|query id is required"):
        explainer.explain(query_id)
    if query_id is not None:  # predict_text without a query id reads the text alone
        with pytest.raises(SessionError, match="unknown query|query id is required"):
            explainer.predict_text("The film was superb.", query_id)


@pytest.mark.parametrize("point_id", [-1, 17, True, "3", 2.0, None])
def test_unknown_points_are_refused(explainer, point_id):
    with pytest.raises(SessionError, match="point"):
        explainer.explain_point(point_id)


def test_a_data_set_without_texts_is_refused():
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="moons", dataset_options={"n_samples": 60},
                                                              estimator={"max_epochs": 5}))
    first, second = (int(p) for p in session.dataset.pool[:2])
    session.relabel(first, int(session.dataset.y[first]), annotator="ann")
    query_id = query_at(session, second)
    explainer = Explainer(session)
    for call in (lambda: explainer.explain(query_id), lambda: explainer.predict_text("some text"),
                 lambda: explainer.predict_text("some text", query_id), lambda: explainer.explain_point(second)):
        with pytest.raises(SessionError, match="text data sets"):
            call()
    explainer.close()


def test_an_untrained_model_is_refused(reviews, encoder):
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="reviews"), dataset=reviews, encoder=encoder)
    explainer = Explainer(session, encoder)
    query_id = session.next_query("ann").query_id
    explainer.prefetch(query_id)  # refused quietly: nothing to compute yet
    with pytest.raises(SessionError, match="not trained"):
        explainer.explain(query_id)
    with pytest.raises(SessionError, match="not trained"):
        explainer.predict_text("The film was superb.")
    explainer.close()


def test_highlights_still_waited_for_when_the_server_closes_are_refused_with_a_reason(reviews, encoder):
    """Closing the text help cancels the jobs not started: their callers hear that it stopped, not an
    internal error."""
    explainer = Explainer(trained_session(reviews, encoder), encoder)
    started, release = threading.Event(), threading.Event()

    def first_job_holds_the_worker():
        started.set()
        release.wait(30)

    explainer.before_each = first_job_holds_the_worker
    explainer.prefetch_point(0)  # runs first and holds the worker until released
    assert started.wait(30)
    explainer.before_each = None
    explainer.prefetch_point(1)  # queued behind the first
    closing = threading.Thread(target=explainer.close)  # cancels the queued job, then waits for the first
    closing.start()
    try:
        with pytest.raises(SessionError) as refused:
            explainer.explain_point(1)  # the queued job's result: cancelled before or while it is waited for
    finally:
        release.set()
        closing.join(30)
    assert str(refused.value) == "the text help has stopped: the server is shutting down"
