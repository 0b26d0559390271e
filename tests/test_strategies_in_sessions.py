"""Every query strategy with every objective runs in a session: scripted (simulate) and served."""

import numpy as np
import pytest
from conftest import TINY_NET, nudge_serve
from gradio_client import Client

from nudge.estimators import OBJECTIVES
from nudge.loop import load_dataset, make_oracle
from nudge.loop.config.settings import SessionConfig
from nudge.loop.session.session import Session
from nudge.loop.simulation.oracles import apply_answer
from nudge.loop.simulation.simulate import SimulationConfig, simulate
from nudge.loop.store.store import Store
from nudge.loop.training.trainer import BackgroundTrainer
from nudge.strategies import STRATEGIES

MOONS = load_dataset("moons", n_samples=150, seed=0)


@pytest.mark.parametrize("loss", sorted(OBJECTIVES))
@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_with_every_loss_runs_a_simulated_session(strategy, loss):
    config = SimulationConfig(dataset="moons", dataset_options={"n_samples": 150}, losses=[loss],
                              strategies=[strategy], budget=6, batch_size=2, estimator=TINY_NET)
    (run,) = simulate(config)["runs"]
    assert [r["n_labeled"] for r in run["rounds"]] == [2, 4, 6]  # three rounds: two retrains on a model
    assert all(0 <= r["accuracy"] <= 1 for r in run["rounds"])
    expected_directions = 0 if loss == "ce" else None  # ce keeps the directions in the log, unused
    assert run["loss"] == loss and (expected_directions is None or run["rounds"][-1]["n_directions"] >= 0)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_serves_queries_with_a_background_trainer(strategy):
    session = Session.create(Store("sqlite://"), SessionConfig(strategy=strategy, estimator=TINY_NET),
                             dataset=MOONS, trainer=BackgroundTrainer())
    oracle = make_oracle("exact", MOONS)
    try:
        seen = set()
        for _ in range(4):
            query = session.next_query("ann")
            assert query.point_id not in seen
            seen.add(query.point_id)
            apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="ann")
            assert session.wait_until_trained(timeout=60)
        assert session.model.version == 4 and session.model.n_labeled == 4
        assert np.isfinite(session.next_query("ann").probabilities).all()
    finally:
        session.close()


def test_nudge_serve_with_a_committee_answers_round_after_round(tmp_path):
    with nudge_serve(tmp_path / "c.db", "--strategy", "committee", "--n-samples", "150",
                     "--set", "max_epochs=5", "--set", "module__hidden=(8,)") as server:
        api = Client(server.url, verbose=False)
        query = api.predict("ann", api_name="/next")
        for _ in range(3):
            label = MOONS.class_names[int(query["x"][1] < 0.25)]
            query = api.predict(query["query_id"], label, None, None, None, None, "ann", api_name="/submit")
            assert query["query_id"]
        status = api.predict(api_name="/status")
        assert status["strategy"] == "committee" and status["n_answers"] == 3
    assert "Traceback" not in server.output()
