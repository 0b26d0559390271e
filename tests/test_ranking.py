"""A served session ranks its pool once per model version; requests hand out ranked candidates."""

import numpy as np
import pytest
from conftest import TINY_NET

from nudge.loop import apply_answer, make_oracle
from nudge.loop.config.settings import SessionConfig
from nudge.loop.session import session as session_module
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.loop.training import ranking as ranking_module
from nudge.loop.training.trainer import BackgroundTrainer, InlineTrainer


def served(moons, **settings) -> Session:
    return Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET, **settings), dataset=moons,
                          trainer=BackgroundTrainer())


def answer(session, annotator="ann", count=1):
    oracle = make_oracle("exact", session.dataset)
    for _ in range(count):
        query = session.next_query(annotator)
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator=annotator)
    assert session.wait_until_trained(timeout=60)


def no_scoring(*args, **kwargs):
    raise AssertionError("a request scored the pool")


def test_requests_hand_out_the_ranked_candidates_without_scoring_the_pool(moons, monkeypatch):
    session = served(moons)
    try:
        answer(session, count=3)
        ranking = session.trainer.ranking
        assert ranking.version == session.model.version and session.model.n_labeled == 3
        assert len(ranking.point_ids) == min(ranking_module.RANKING_SIZE, len(moons.pool) - 3)
        monkeypatch.setattr(session_module, "choose_queries", no_scoring)
        first = session.next_queries("a", 3)
        second = session.next_queries("b", 2)
        assert [q.point_id for q in first + second] == ranking.point_ids[:5].tolist()  # best free first
    finally:
        session.close()


def test_a_new_model_version_replaces_the_ranking_at_once(moons):
    session = served(moons)
    try:
        answer(session, count=2)
        before = session.trainer.ranking
        answer(session)
        after = session.trainer.ranking
        assert after.version > before.version and after.version == session.model.version
        assert before.point_ids.tolist() != after.point_ids.tolist()
    finally:
        session.close()


def test_when_the_ranking_runs_out_requests_choose_afresh(moons, monkeypatch):
    monkeypatch.setattr(ranking_module, "RANKING_SIZE", 3)
    session = served(moons, strategy="uncertainty")
    try:
        answer(session, count=2)
        ranked = session.trainer.ranking.point_ids.tolist()
        handed = [q.point_id for q in session.next_queries("a", 5)]
        assert handed[:3] == ranked and len(set(handed)) == 5
    finally:
        session.close()


def test_a_cold_start_ranking_covers_the_pool(moons):
    session = served(moons)
    try:
        assert session.wait_until_trained(timeout=60)
        ranking = session.trainer.ranking
        assert ranking is not None and ranking.version == 0
        spread = np.linalg.norm(moons.X[ranking.point_ids[:8]][:, None] - moons.X[ranking.point_ids[:8]][None], axis=2)
        assert spread[np.triu_indices(8, 1)].min() > 0.1  # coverage queries: no two of the first side by side
    finally:
        session.close()


@pytest.mark.parametrize("strategy", ["random", "diverse", "committee"])
def test_every_kind_of_ranking_is_handed_out_in_order(moons, strategy, monkeypatch):
    session = served(moons, strategy=strategy)
    try:
        answer(session, count=2)
        ranking = session.trainer.ranking
        monkeypatch.setattr(session_module, "choose_queries", no_scoring)
        assert [q.point_id for q in session.next_queries("x", 4)] == ranking.point_ids[:4].tolist()
    finally:
        session.close()


def test_scripted_sessions_choose_per_request_as_before(moons):
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET), dataset=moons,
                             trainer=InlineTrainer())
    answer(session, count=2)
    assert session.trainer.ranking is None


@pytest.mark.parametrize("strategy", ["boundary", "uncertainty", "committee"])
def test_a_ranking_scored_in_chunks_is_the_strategy_s_own_choice(moons, strategy, monkeypatch):
    from nudge.loop.training.ranking import rank_pool
    from nudge.strategies import select_queries

    session = Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET, strategy=strategy), dataset=moons)
    answer(session, count=6)
    assert len(set(session.labelled_points().values())) == 2  # the model ranks (no cold start)
    from nudge.loop.compute import scoring

    chunks = []
    measure = scoring._Measure.__call__
    monkeypatch.setattr(scoring, "SCORE_CHUNK", 17)
    monkeypatch.setattr(scoring._Measure, "__call__", lambda self, learner, rows: chunks.append(len(rows))
                        or measure(self, learner, rows))
    available = session.leases.unlabelled()
    ranking = rank_pool(session.model, moons.X, available, strategy, session.config.seed, size=20)
    assert len(chunks) > 5 and max(chunks) == 17  # scored 17 rows at a time
    indices, scores = select_queries(session.model.learner, moons.X, 20, strategy, available=available)
    assert ranking.point_ids.tolist() == indices.tolist()
    np.testing.assert_allclose(ranking.scores, scores, rtol=1e-5)
