"""More than two classes through the whole loop: an oracle's target classes reach the store, the
packed rows and the direction loss; every strategy and the projection work with C > 2; nudge simulate
runs on the 3-blob set and on digits."""

import json

import numpy as np
import pytest
import torch
from conftest import SMALL_NET

from nudge.estimators.losses import direction_loss
from nudge.estimators.targets import unpack_targets
from nudge.loop import apply_answer, load_dataset, make_oracle
from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.strategies import STRATEGIES, select_queries

LINEAR = {"module__hidden": (), "max_epochs": 30}


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


def answered_session(dataset, n_answers: int, *, estimator=LINEAR, strategy="boundary", oracle="nearest-opposite"):
    session = Session.create(Store("sqlite://"), SessionConfig(dataset=dataset.name, estimator=estimator,
                                                               strategy=strategy, retrain_every=n_answers),
                             dataset=dataset)
    answers = {}
    simulated = make_oracle(oracle, dataset)
    for query in session.next_queries("bot", n_answers):
        answers[query.point_id] = simulated.answer(query.point_id)
        apply_answer(session, query.query_id, answers[query.point_id], annotator="bot")
    return session, answers


@pytest.mark.parametrize("oracle", ["nearest-opposite", "exact"])
def test_target_classes_travel_from_the_oracle_to_the_direction_loss(oracle):
    """The loss on the session's own packed rows equals relu(1 - cos(W_c - W_y, k)) with the oracle's
    targets c: the shipped cosine form on a linear network, whose gap gradient is W_c - W_y."""
    dataset = load_dataset("gaussians", n_samples=300)
    session, answers = answered_session(dataset, 12, oracle=oracle)
    stored = session.effective_annotations()
    assert {a.point_id: list(a.targets) for a in stored} == {p: a.targets for p, a in answers.items()}
    assert len({t for a in answers.values() for t in a.targets}) == 3  # every class is a target somewhere
    X, y = session.trainer.training_rows(stored)
    unpacked = unpack_targets(y, 2)
    assert [list(unpacked.targets[i][unpacked.mask[i]]) for i in range(len(stored))] == \
        [answers[a.point_id].targets for a in stored]
    module = session.model.estimator.module_
    weights = module.layers[0].weight.detach().numpy().astype(float)
    expected = []
    for label, targets, directions, mask in zip(unpacked.labels.astype(int), unpacked.targets.astype(int),
                                                unpacked.directions, unpacked.mask):
        per_point = [1 - (weights[c] - weights[label]) @ k / np.linalg.norm(weights[c] - weights[label])
                     / np.linalg.norm(k) for c, k, used in zip(targets, directions, mask) if used]
        if per_point:
            expected.append(np.mean(per_point))
    loss = direction_loss(module, torch.as_tensor(X), torch.as_tensor(y, dtype=torch.float32), hinge="relu",
                          derivative="cosine", margin=1.0)
    assert loss.item() == pytest.approx(np.mean(expected), rel=1e-4)


@pytest.mark.parametrize("strategy", sorted(STRATEGIES))
def test_every_strategy_asks_distinct_free_points_of_a_ten_class_pool(strategy, digits):
    session, _ = answered_session(digits, 20, estimator={**SMALL_NET, "max_epochs": 5}, strategy=strategy)
    available = session.leases.available("bot")
    indices, scores = select_queries(session.model.learner, digits.X, 5, strategy, available=available)
    assert len(set(indices.tolist())) == 5 and np.all(available[indices]) and np.all(np.isfinite(scores))


def test_boundary_distance_with_ten_classes_is_the_gap_of_the_top_two_logits(digits):
    """Linear network: z_top - z_second over ||W_top - W_second||; a step of that length along u1
    of the projection makes the two logits equal."""
    session, _ = answered_session(digits, 20)
    estimator = session.model.estimator
    X = digits.X[digits.pool[:50]]
    logits = estimator.logits(X)
    top, second = np.argsort(-logits, axis=1)[:, :2].T
    weights = estimator.module_.layers[0].weight.detach().numpy().astype(float)
    rows = np.arange(len(X))
    expected = (logits[rows, top] - logits[rows, second]) / np.linalg.norm(weights[top] - weights[second], axis=1)
    available = np.zeros(len(digits.X), bool)
    available[digits.pool[:50]] = True
    indices, scores = select_queries(session.model.learner, digits.X, 50, "boundary", available=available)
    order = np.searchsorted(digits.pool[:50], indices)
    np.testing.assert_allclose(scores, expected[order], rtol=1e-4)

    query = session.next_query("bot")
    picture = AnnotationService(session).query_picture(query)
    assert len(picture.probabilities) == 10 and not picture.data["is_data_plane"]
    margin, gradient = estimator.margin_and_gradient(query.x[None])
    step = margin[0] / np.linalg.norm(gradient[0])
    moved = estimator.logits((query.x + step * picture.plane.u1)[None].astype(np.float32))[0]
    assert np.sort(moved)[-1] == pytest.approx(np.sort(moved)[-2], abs=1e-3)


def test_a_click_on_a_ten_class_projection_leads_to_the_likeliest_other_class_at_its_tip(digits):
    session, _ = answered_session(digits, 20)
    service = AnnotationService(session)
    query = session.next_query("bot")
    service.query_picture(query)
    annotation = service.submit(query.query_id, label=int(digits.y[query.point_id]), plane_point=[2.0, 0.0],
                                annotator="bot")
    tip = query.x + annotation.directions[0]
    probabilities = session.model.learner.predict_proba(tip[None].astype(np.float32))[0]
    probabilities[annotation.label] = -1
    assert annotation.targets == [int(np.argmax(probabilities))] and annotation.sources == ["arrow"]


@pytest.mark.parametrize("arguments", [
    ["--dataset", "gaussians", "--n-samples", "300"],  # the exact oracle, the default, knows three classes
    ["--dataset", "digits", "--oracle", "nearest-opposite"],
])
def test_simulate_runs_on_multiclass_sets(arguments, tmp_path):
    out = tmp_path / "run"
    code = main(["simulate", *arguments, "--loss", "ce,direction", "--budget", "20", "--batch-size", "10",
                 "--set", "max_epochs=20", "--out", str(out)])
    assert code == 0
    runs = json.loads((out / "results.json").read_text())["runs"]
    for run in runs:
        assert [r["n_labeled"] for r in run["rounds"]] == [10, 20]
        assert all(0 < r["accuracy"] <= 1 for r in run["rounds"])
        assert run["rounds"][-1]["n_directions"] >= 15  # nearly every answer carries a direction
