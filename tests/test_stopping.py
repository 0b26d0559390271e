"""Stopping criteria: each on tiny hand-made rounds with values worked out by hand, the specs, the
session's rule and its status, and `nudge simulate` / `nudge serve` with --stop."""

import csv
import json
import time
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from conftest import SMALL_NET, nudge_serve
from gradio_client import Client

from nudge.estimators.modules import MLP
from nudge.loop import apply_answer, load_dataset, make_oracle
from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.stopping.round import gradient_cosines
from nudge.loop.stopping.rule import StoppingRule
from nudge.loop.stopping.specs import parse_stop
from nudge.loop.store.store import Store


def judged(spec: str, rounds: list[dict], n_classes: int = 3) -> list[tuple[bool, float | None]]:
    """(met, value) of the criterion ``spec`` after each hand-made round (its attributes as a dict)."""
    criterion = parse_stop(spec, n_classes)
    seen = []
    for values in rounds:
        criterion.update(SimpleNamespace(**{"n_labeled": 50, **values}))
        seen.append((criterion.met, criterion.value))
    return seen


def predictions(*arrays) -> list[dict]:
    return [{"predictions": np.array(a)} for a in arrays]


def test_budget_is_met_at_the_number_of_labels():
    assert judged("budget=10", [{"n_labeled": 9}, {"n_labeled": 10}]) == [(False, 9.0), (True, 10.0)]


def test_kappa_average_over_the_window():
    """Rounds 1->2: agreement 5/6, chance (2*3 + 2*2 + 2*1)/36 = 1/3, kappa (5/6 - 1/3)/(2/3) = 3/4;
    rounds 2->3: identical, kappa 1; a window of 2 averages 7/8."""
    rounds = predictions([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 0], [0, 0, 1, 1, 2, 0])
    seen = judged("stable=0.8:window=2", rounds)
    assert [met for met, _ in seen] == [False, False, True]
    assert seen[0][1] is None and seen[1][1] == pytest.approx(0.75) and seen[2][1] == pytest.approx(0.875)
    assert judged("stable=0.9:window=2", rounds)[-1] == (False, pytest.approx(0.875))


def test_classification_change_counts_the_share_that_changed():
    rounds = predictions([0, 1, 1, 0, 2], [0, 1, 1, 0, 1])  # one of five changed
    assert judged("change=0.2", rounds) == [(False, None), (True, pytest.approx(0.2))]
    assert judged("change=0.1", rounds)[-1] == (False, pytest.approx(0.2))


def test_overall_uncertainty_is_the_mean_normalised_entropy_of_the_unlabelled_rows():
    probabilities = np.array([[1.0, 0.0, 0.0], [1 / 3, 1 / 3, 1 / 3]])  # normalised entropies 0 and 1
    both = {"probabilities": probabilities, "unlabelled_rows": np.array([0, 1])}
    assert judged("uncertainty=0.6", [both]) == [(True, pytest.approx(0.5))]
    assert judged("uncertainty=0.4", [both]) == [(False, pytest.approx(0.5))]
    uncertain_only = {"probabilities": probabilities, "unlabelled_rows": np.array([1])}
    assert judged("uncertainty=0.6", [uncertain_only]) == [(False, pytest.approx(1.0))]


def test_delta_f_score_on_the_positive_class():
    """Both positive 1, positive then negative 1, negative then positive 0: 1 - 2/(2 + 1) = 1/3."""
    rounds = predictions([1, 1, 0, 0], [1, 0, 0, 0])
    assert judged("delta-f=0.4:window=1", rounds, n_classes=2)[-1] == (True, pytest.approx(1 / 3))
    assert judged("delta-f=0.3:window=1", rounds, n_classes=2)[-1] == (False, pytest.approx(1 / 3))
    with pytest.raises(SessionError, match="delta-f is for two classes"):
        parse_stop("delta-f=0.1", 3)


def test_gradient_agreement_over_the_last_rounds():
    """cosine > 0.2: round 1 has 1 of 2 (too few: min 4); rounds 1-2, 3 of 5; rounds 2-3, 2 of 3 (too few)."""
    rounds = [{"fresh_direction_cosines": np.array(c)} for c in ([0.9, -0.2], [0.5, 0.1, 0.3], [])]
    assert judged("agreement=0.6:cosine=0.2:rounds=2:min=4", rounds) == [
        (False, 0.5), (True, pytest.approx(0.6)), (False, pytest.approx(2 / 3))]


def test_after_holds_a_criterion_back_until_enough_labels():
    rounds = [{"n_labeled": n, "predictions": np.array([0, 1])} for n in (4, 8, 12)]
    assert [met for met, _ in judged("change=0:after=10", rounds)] == [False, False, True]


def test_gradient_cosines_of_a_linear_network_are_the_weight_differences():
    """z = W x + b: grad_x (z_c - z_y) = W_c - W_y everywhere."""
    module = MLP(n_features=2, n_classes=3, hidden=())
    weights = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    with torch.no_grad():
        module.layers[0].weight.copy_(weights)
    network = SimpleNamespace(module_=module)
    X = np.array([[0.3, -0.2], [1.0, 1.0], [0.0, 0.5]])
    labels, targets = np.array([0, 0, 2]), np.array([1, 2, 1])
    directions = np.array([[-1.0, 2.0], [1.0, 0.0], [0.0, -1.0]])
    expected = []
    for y, c, k in zip(labels, targets, directions):
        g = (weights[c] - weights[y]).numpy()
        expected.append(g @ k / np.linalg.norm(g) / np.linalg.norm(k))
    np.testing.assert_allclose(gradient_cosines(network, X, labels, targets, directions), expected, rtol=1e-6)
    with pytest.raises(SessionError, match="needs a torch network"):
        gradient_cosines(SimpleNamespace(), X, labels, targets, directions)


@pytest.mark.parametrize(
    "spec, message",
    [
        ("stable", "is not NAME=THRESHOLD"),
        ("patience=3", "unknown stopping criterion 'patience'; choose one of budget, stable"),
        ("stable=high", "'high' is not a number"),
        ("stable=0.99:window", "option 'window' is not OPTION=VALUE"),
        ("stable=0.99:size=3", r"unknown option\(s\) \['size'\]; it takes window, after"),
        ("stable=0.99:window=0", "window must be a whole number, at least 1"),
        ("stable=2", "kappa must be between -1 and 1"),
        ("budget=2.5", "the budget is a whole number"),
        ("budget=10:after=3", r"unknown option\(s\) \['after'\]; it takes none"),
        ("uncertainty=1", r"must be in \[0, 1\)"),
        ("agreement=0.9:cosine=2", "cosine must be between -1 and 1"),
        ("change=nan", "is not a finite number"),
        ("agreement=0.9:after=-1", "after must be a whole number, at least 0"),
    ],
)
def test_bad_specs_are_refused_with_a_message(spec, message):
    with pytest.raises(SessionError, match=message):
        SessionConfig(stop=[spec])


def test_stop_must_be_a_list_and_a_spec_reads_back():
    with pytest.raises(SessionError, match="stop is a list of criteria"):
        SessionConfig(stop="budget=10")
    assert parse_stop("stable=0.99:window=5").spec == "stable=0.99:window=5"
    assert parse_stop("budget=200.0").spec == "budget=200" and parse_stop("change=0.125").spec == "change=0.125"
    assert parse_stop("agreement=0.8:rounds=3").spec == "agreement=0.8"  # defaults are not repeated


def test_the_rule_is_met_when_any_criterion_is_and_remembers_the_first_time():
    dataset = load_dataset("gaussians", n_samples=60)
    rule = StoppingRule([parse_stop("budget=3"), parse_stop("budget=5")], dataset, sample_size=10)
    assert len(rule.sample) == 10 and set(rule.sample) <= set(dataset.pool)
    for n_labeled, version in ((2, 1), (3, 2), (6, 3)):
        rule.judge(SimpleNamespace(is_fitted=True, n_labeled=n_labeled, version=version))
    status = rule.status()
    assert status["met"] and status["reason"] == "budget=3, budget=5"
    assert status["first_met"] == {"model_version": 2, "n_labeled": 3, "reason": "budget=3"}
    assert [c["met"] for c in status["criteria"]] == [True, True]


def test_session_status_reports_each_criterion_and_a_resumed_session_keeps_them(tmp_path):
    dataset = load_dataset("gaussians", n_samples=150)
    store = Store(tmp_path / "s.db")
    config = SessionConfig(dataset="gaussians", dataset_options={"n_samples": 150}, estimator=SMALL_NET,
                           strategy="random", stop=["budget=6", "stable=0.5:window=1", "agreement=0.5:min=1"])
    session = Session.create(store, config, dataset=dataset, session_id="stop")
    oracle = make_oracle("nearest-opposite", dataset)
    assert session.status()["stopping"]["met"] is False
    for _ in range(6):
        query = session.next_query("bot")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="bot")
    stopping = session.status()["stopping"]
    by_spec = {c["criterion"]: c for c in stopping["criteria"]}
    assert set(by_spec) == {"budget=6", "stable=0.5:window=1", "agreement=0.5:min=1"}
    assert by_spec["budget=6"]["met"] and by_spec["budget=6"]["value"] == 6.0
    assert -1 <= by_spec["stable=0.5:window=1"]["value"] <= 1  # kappa of models 5 and 6 on the sample
    assert 0 <= by_spec["agreement=0.5:min=1"]["value"] <= 1  # the last directions under the models before
    assert stopping["met"] and "budget=6" in stopping["reason"]
    again = Session.open(store, "stop")
    assert again.config.stop == config.stop and again.status()["stopping"]["criteria"][0]["value"] == 6.0


def test_a_criterion_the_data_cannot_have_is_refused_before_anything_is_stored(tmp_path):
    store = Store(tmp_path / "s.db")
    with pytest.raises(SessionError, match="delta-f is for two classes"):
        Session.create(store, SessionConfig(dataset="gaussians", stop=["delta-f=0.05"]), session_id="x")
    assert store.session_config("x") is None


def test_simulate_stops_each_run_when_its_rule_is_met(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["simulate", "--dataset", "gaussians", "--n-samples", "200", "--oracle", "nearest-opposite",
                 "--budget", "40", "--batch-size", "4", "--seeds", "0,1", "--set", "max_epochs=20",
                 "--warm-epochs", "5", "--stop", "stable=0.9:window=2:after=8", "--stop", "budget=24",
                 "--out", str(out)])
    assert code == 0
    runs = json.loads((out / "results.json").read_text())["runs"]
    for run in runs:
        stopped, rounds = run["stopped"], run["rounds"]
        assert stopped is not None and stopped["round"] == len(rounds) == rounds[-1]["round"]
        assert stopped["n_labeled"] == rounds[-1]["n_labeled"] <= 24 and stopped["n_labeled"] >= 8
        assert stopped["reason"] == rounds[-1]["stop"] and all(r["stop"] == "" for r in rounds[:-1])
        if "stable" in stopped["reason"]:
            assert rounds[-1]["stop stable=0.9:window=2:after=8"] >= 0.9
        else:
            assert stopped["reason"] == "budget=24"
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {"round", "stop", "stop budget=24", "stop stable=0.9:window=2:after=8"} <= set(rows[0])
    assert sum(1 for row in rows if row["stop"]) == len(runs)
    assert "stopped at round" in capsys.readouterr().out


def test_simulate_refuses_a_bad_stop_spec(tmp_path, capsys):
    code = main(["simulate", "--stop", "stable=x", "--out", str(tmp_path / "r")])
    assert code == 1
    assert "nudge simulate: error: stopping criterion 'stable=x': 'x' is not a number" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")
def test_serve_reports_the_stopping_rule_in_its_status(tmp_path):
    arguments = ("--dataset", "gaussians", "--n-samples", "150", "--session", "stop", "--set", "max_epochs=10",
                 "--stop", "budget=3,change=0.5")
    with nudge_serve(tmp_path / "s.db", *arguments) as server:
        api = Client(server.url, verbose=False)
        stopping = api.predict(api_name="/status")["stopping"]
        assert stopping["met"] is False and [c["criterion"] for c in stopping["criteria"]] == ["budget=3", "change=0.5"]
        query = api.predict("ann", api_name="/next")
        for _ in range(3):
            x = np.array(query["x"])
            label = int(np.argmin([np.linalg.norm(x - c) for c in ((3, 0), (-1.5, 2.6), (-1.5, -2.6))]))
            query = api.predict(query["query_id"], str(label), None, None, None, None, "ann", api_name="/submit")
        deadline = time.monotonic() + 60
        status = api.predict(api_name="/status")
        while (status["n_labeled"] < 3 or status["retraining"]) and time.monotonic() < deadline:
            time.sleep(0.05)
            status = api.predict(api_name="/status")
        assert status["stopping"]["met"] and status["stopping"]["reason"].startswith("budget=3")
