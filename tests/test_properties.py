"""Random payloads at ``submit``: each is stored whole or refused with a SessionError, and the
log stays consistent (one row per accepted answer, every row complete and trainable)."""

import math

import numpy as np
import pytest
from conftest import TINY_NET
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule
from test_ui_api import WordCountEncoder

from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.errors import SessionError
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.answers import MAX_REWRITE_CHARS
from nudge.loop.session.session import Session
from nudge.loop.store.schema import DIRECTION_SOURCES
from nudge.loop.store.store import Store

MOONS = load_dataset("moons", n_samples=120, seed=0)

floats = st.floats(allow_nan=True, allow_infinity=True, width=64)
scales = st.sampled_from([0.0, 1e-320, 1e-300, 1e-40, 1e-3, 1.0, 1e3, 1e19, 1e38, 3.5e38, 1e300])
good_vectors = st.lists(st.floats(-10, 10), min_size=2, max_size=2)
vectors = st.one_of(
    good_vectors,
    st.tuples(scales, scales).map(list),  # from tiny to huge: the float32 edge
    st.lists(floats, min_size=0, max_size=4),
    st.lists(st.lists(floats, max_size=2), max_size=2),  # nested / ragged
    st.text(max_size=5),
    st.integers(),
)
good_labels = st.sampled_from([0, 1, "0", "1"])
labels = st.one_of(
    good_labels, good_labels, good_labels, st.integers(-2, 3), st.text(max_size=4), floats, st.booleans(),
    st.none(),
)
point_ids = st.one_of(st.integers(-5, 130), st.integers(-5, 130), st.booleans(), floats, st.text(max_size=3))
annotators = st.one_of(st.just("ann"), st.just(" ann "), st.text(max_size=6), st.just("a\x00b"))
rewrites = st.one_of(
    st.text(max_size=40), st.just(""), st.just("  \n"), st.just("x" * (MAX_REWRITE_CHARS + 1)),
    st.just("great fun\x00"), st.just("great great fun"),
)
query_ids = st.one_of(st.text(max_size=70), st.integers(), st.none(), st.just("q\x00"), st.just("x" * 500))


class SubmitMachine(RuleBasedStateMachine):
    """One moons session; rules send answers with random forms of direction through the service."""

    @initialize()
    def start(self):
        config = SessionConfig(dataset="moons", estimator=TINY_NET, retrain_every=10**6)
        self.session = Session.create(Store("sqlite://"), config, dataset=MOONS, session_id="p")
        self.service = AnnotationService(self.session)
        self.accepted: list = []

    def open_query(self):
        return self.session.next_query("ann")

    def attempt(self, call, query):
        """Run one submit; it must succeed or raise a SessionError with a message, storing nothing."""
        before = self.session.store.log("p").count()
        try:
            annotation = call()
        except SessionError as error:
            event(str(error)[:30])
            assert str(error).strip()
            assert self.session.store.log("p").count() == before
            if query is not None:
                assert self.session.store.queries("p").query(query.query_id).status == "open"
            return None
        self.accepted.append(annotation)
        event("accepted")
        return annotation

    @rule(label=labels, direction=st.one_of(st.none(), vectors), plane=st.one_of(st.none(), st.none(), vectors),
          towards=st.one_of(st.none(), point_ids), annotator=annotators,
          rewrite=st.one_of(st.none(), rewrites))
    def service_submit(self, label, direction, plane, towards, annotator, rewrite):
        query = self.open_query()
        answer = self.attempt(lambda: self.service.submit(
            query.query_id, label, annotator=annotator, direction=direction, plane_point=plane,
            towards=towards, rewrite=rewrite), query)
        if answer is not None:
            forms = [form for form in (direction, plane, towards) if form is not None]
            assert len(answer.directions) == len(forms) and answer.annotator == "ann"
            if direction is not None:
                np.testing.assert_array_equal(answer.directions[0], np.asarray(direction, dtype=float))
            if towards is not None:
                expected = MOONS.X[int(towards)].astype(float) - MOONS.X[query.point_id]
                np.testing.assert_array_equal(answer.directions[-1], expected)

    @rule(query_id=query_ids, label=labels)
    def submit_to_an_unknown_query(self, query_id, label):
        assert self.attempt(lambda: self.session.submit(query_id, label, annotator="ann"), None) is None

    @rule(label=labels, directions=st.lists(vectors, max_size=3),
          sources=st.one_of(st.none(), st.lists(st.sampled_from([*DIRECTION_SOURCES, "dream"]), max_size=3)),
          leads_to=st.one_of(st.none(), st.lists(labels, max_size=3)))
    def session_submit(self, label, directions, sources, leads_to):
        query = self.open_query()
        self.attempt(lambda: self.session.submit(
            query.query_id, label, directions, annotator="ann", sources=sources, targets=leads_to), query)

    @rule()
    def answer_twice(self):
        if self.accepted:
            last = self.accepted[-1]
            assert self.attempt(lambda: self.session.submit(last.query_id, 0, annotator="ann"), None) is None

    @invariant()
    def the_log_holds_exactly_the_accepted_answers(self):
        if not hasattr(self, "session"):
            return
        stored = self.session.store.log("p").annotations()
        assert [a.id for a in stored] == [a.id for a in self.accepted]
        for answer in stored:
            assert answer.label in (0, 1) and self.session.leases.queries.query(answer.query_id).status == "answered"
            assert len(answer.directions) == len(answer.targets) == len(answer.sources) <= 4
            for direction, target in zip(answer.directions, answer.targets):
                as_trained = direction.astype(np.float32)
                assert direction.shape == (2,) and target == 1 - answer.label
                assert np.all(np.isfinite(as_trained)) and np.any(as_trained != 0)
                assert math.isfinite(float(np.linalg.norm(as_trained)))

    def teardown(self):
        if hasattr(self, "session") and self.accepted:
            model = self.session.retrain(full=True)  # whatever was accepted, the network can learn from
            assert np.all(np.isfinite(model.learner.predict_proba(MOONS.X)))


SubmitMachine.TestCase.settings = settings(
    max_examples=100, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_random_submits_keep_the_log_consistent = SubmitMachine.TestCase


# --------------------------------------------------------------------------- rewrites (text data)


@pytest.fixture(scope="module")
def text_session():
    texts = [f"review {i}: it was {'good fun' if i % 2 else 'bad and boring'}" for i in range(150)]
    encoder = WordCountEncoder()
    dataset = Dataset("reviews", encoder.encode(texts), np.arange(150) % 2, ["Negative", "Positive"],
                      np.arange(120), np.arange(120, 150), texts=texts)
    config = SessionConfig(dataset="reviews", estimator=TINY_NET, retrain_every=10**6)
    return Session.create(Store("sqlite://"), config, dataset=dataset, session_id="t", encoder=encoder)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rewrite=rewrites, label=st.sampled_from(["Negative", "Positive"]))
def test_random_rewrites_are_stored_whole_or_refused(text_session, rewrite, label):
    query = text_session.next_query("ann")
    assume(query is not None)
    before = text_session.store.log("t").count()
    try:
        answer = AnnotationService(text_session).submit(query.query_id, label, annotator="ann", rewrite=rewrite)
    except SessionError as error:
        assert str(error).strip() and text_session.store.log("t").count() == before
        assert text_session.store.queries("t").query(query.query_id).status == "open"
        text_session.skip(query.query_id, annotator="ann")  # keep the pool from running dry on refusals
        return
    assert answer.rewrite == rewrite and answer.sources == ["rewrite"]
    assert 0 < len(rewrite.strip()) <= MAX_REWRITE_CHARS and "\x00" not in rewrite
    assert text_session.store.log("t").count() == before + 1
