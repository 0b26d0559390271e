"""Scripted loops end to end: accuracy within a budget, nudge simulate's files, kill -9 safety."""

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from modAL.uncertainty import margin_sampling
from research_parts import TinyNet, farthest_from_origin, tiny_net_factory

from nudge.estimators import DirectionClassifier
from nudge.loop import apply_answer, load_dataset, make_oracle
from nudge.loop.cli import main
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.simulation.simulate import SimulationConfig, simulate
from nudge.loop.store.store import Store

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_simulated_session_on_moons_reaches_85_percent_within_40_labels(seed):
    dataset = load_dataset("moons", seed=seed)
    session = Session.create(Store("sqlite://"), SessionConfig(seed=seed), dataset=dataset)
    oracle = make_oracle("exact", dataset, seed=seed)
    for _ in range(40):
        query = session.next_query("oracle")
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="oracle")
    assert session.model.n_labeled == 40
    assert session.model.accuracy >= 0.85


def test_readme_python_example_runs():
    readme = (REPO / "README.md").read_text()
    start = readme.index("```python\nfrom nudge.loop import")
    code = readme[start + len("```python\n"): readme.index("```", start + 10)]
    namespace: dict = {}
    exec(compile(code.replace("range(30)", "range(4)"), "README example", "exec"), namespace)
    assert namespace["session"].status()["n_answers"] == 4


def test_simulate_cli_writes_results_csv_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(["simulate", "--dataset", "moons", "--n-samples", "300", "--loss", "ce,direction",
                 "--strategy", "random,boundary", "--budget", "6", "--batch-size", "3",
                 "--seeds", "0,1", "--set", "max_epochs=10", "--out", str(out)])
    assert code == 0
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["budget"] == 6 and results["config"]["seeds"] == [0, 1]
    assert len(results["runs"]) == 2 * 2 * 2
    for run in results["runs"]:
        assert set(run) >= {"seed", "dataset", "loss", "strategy", "rounds"}
        assert [r["n_labeled"] for r in run["rounds"]] == [3, 6]
        for round_ in run["rounds"]:
            assert set(round_) >= {"n_labeled", "n_directions", "accuracy", "train_seconds", "query_seconds"}
            assert 0 <= round_["accuracy"] <= 1 and round_["train_seconds"] >= 0
        assert 0 < run["rounds"][-1]["n_directions"] <= 6  # the exact oracle's arrows, every loss keeps them
    # the same seed means the same cold-start queries, whatever the loss; another seed other ones
    firsts = {}
    for run in results["runs"]:
        firsts.setdefault((run["seed"], run["strategy"]), set()).add(tuple(run["rounds"][0]["queried"]))
    assert all(len(queried) == 1 for queried in firsts.values())
    assert firsts[(0, "boundary")] != firsts[(1, "boundary")]
    with (out / "results.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8 * 2 and {"configuration", "seed", "accuracy", "queried"} <= set(rows[0])
    assert (out / "learning_curves.png").read_bytes()[:4] == b"\x89PNG"
    assert "wrote" in capsys.readouterr().out


def test_simulate_cli_reports_bad_input_clearly(tmp_path, capsys):
    assert main(["simulate", "--dataset", "nope", "--out", str(tmp_path)]) == 1
    assert "nope" in capsys.readouterr().err
    assert main(["simulate", "--strategy", "psychic", "--out", str(tmp_path)]) == 1
    assert "psychic" in capsys.readouterr().err
    assert main(["simulate", "--budget", "0", "--out", str(tmp_path)]) == 1
    assert "budget" in capsys.readouterr().err
    assert main(["simulate", "--n-samples", "100", "--warm-epochs", "0", "--out", str(tmp_path)]) == 1
    assert "warm_epochs must be at least 1" in capsys.readouterr().err


def test_simulate_cli_adds_repeated_options_and_picks_an_oracle_that_works(tmp_path, capsys):
    points = tmp_path / "points.csv"
    rows = [f"{i % 7 * 0.3},{i % 5 * 0.2 + (i % 3)},{'abc'[i % 3]}" for i in range(60)]
    points.write_text("x1,x2,kind\n" + "\n".join(rows) + "\n")
    out = tmp_path / "csv"
    assert main(["simulate", "--dataset", f"csv:{points}", "--label-column", "kind",
                 "--loss", "ce", "--loss", "direction,ce",
                 "--budget", "4", "--batch-size", "2", "--set", "max_epochs=3", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nearest-opposite oracle" in printed
    results = json.loads((out / "results.json").read_text())
    assert [run["loss"] for run in results["runs"]] == ["ce", "direction"]
    assert {run["oracle"] for run in results["runs"]} == {"nearest-opposite"}
    stored = results["runs"][1]["rounds"][-1]
    assert stored["n_labeled"] == 4 and stored["n_directions"] == 4  # three classes: targets came along


def test_serve_refuses_a_repeated_loss_or_strategy(capsys):
    for option, values in (("--loss", ("ce", "direction")), ("--strategy", ("random", "boundary"))):
        with pytest.raises(SystemExit):
            main(["serve", option, values[0], option, values[1]])
        assert f"{option} was given twice" in capsys.readouterr().err


def test_simulate_cli_takes_the_retraining_policy(tmp_path):
    out = tmp_path / "policy"
    assert main(["simulate", "--n-samples", "200", "--budget", "4", "--batch-size", "2", "--set", "max_epochs=5",
                 "--full-refit-every", "0", "--warm-epochs", "3", "--out", str(out)]) == 0
    config = json.loads((out / "results.json").read_text())["config"]
    assert (config["full_refit_every"], config["warm_epochs"]) == (0, 3)


@pytest.mark.parametrize("estimator, loss", [
    (DirectionClassifier(module=TinyNet, criterion="ce", max_epochs=3), "ce"),
    (tiny_net_factory, "direction"),
], ids=["estimator-object", "factory"])
def test_a_simulation_takes_what_a_session_takes(estimator, loss):
    config = SimulationConfig(dataset_options={"n_samples": 150}, estimator=estimator, losses=["gradient-supervision"],
                              strategies=[farthest_from_origin, margin_sampling], budget=6, batch_size=2,
                              max_directions=1, warm_epochs=2, full_refit_every=0, stop=["budget=4"])
    session_config = config.session_config(loss="gradient-supervision", strategy=margin_sampling, augment=False,
                                           seed=3)
    assert session_config.estimator is estimator and session_config.strategy is margin_sampling
    assert (session_config.max_directions, session_config.warm_epochs, session_config.full_refit_every,
            session_config.stop, session_config.retrain_every, session_config.seed) == (1, 2, 0, ["budget=4"], 2, 3)
    results = simulate(config)
    assert [(run["loss"], run["strategy"]) for run in results["runs"]] == [
        (loss, "farthest_from_origin"), (loss, "margin_sampling")]  # the estimator's own criterion
    assert [run["stopped"]["n_labeled"] for run in results["runs"]] == [4, 4]
    assert results["config"]["strategies"][1] == {"$ref": "modAL.uncertainty:margin_sampling"}


def test_a_simulation_checks_its_settings_as_a_session_does():
    with pytest.raises(SessionError, match="warm_epochs must be at least 1"):
        SimulationConfig(warm_epochs=0)
    with pytest.raises(SessionError, match="max_directions must be at least 1"):
        SimulationConfig(max_directions=0)
    with pytest.raises(SessionError, match="unknown strategy 'psychic'"):
        SimulationConfig(strategies=["boundary", "psychic"])
    with pytest.raises(SessionError, match="lambda"):
        SimulationConfig(strategies=[lambda learner, X, n_instances: [0]])
    with pytest.raises(ValueError, match=r"losses \['ce', 'direction'\] .* brings its own criterion: give one loss"):
        SimulationConfig(estimator=tiny_net_factory, losses=["ce", "direction"])
    with pytest.raises(ValueError, match="brings its own criterion"):
        SimulationConfig(estimator={"criterion": "ce"}, losses=["ce", "direction"])


SCRIPTED_ANNOTATOR = textwrap.dedent("""
    import sys
    from nudge.loop import apply_answer, load_dataset, make_oracle
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    db, resume = sys.argv[1], sys.argv[2] == "resume"
    dataset = load_dataset("moons", n_samples=300)
    store = Store(db)
    config = SessionConfig(estimator={"max_epochs": 10, "module__hidden": (8,)})
    session = Session.open(store, "s", dataset=dataset) if resume else Session.create(
        store, config, session_id="s", dataset=dataset)
    oracle = make_oracle("exact", dataset)
    while True:
        query = session.next_query("bot")
        stored = apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator="bot")
        print(stored.id, flush=True)  # acknowledged
""")


def test_kill_9_mid_session_loses_no_acknowledged_annotation(tmp_path):
    script = tmp_path / "annotate.py"
    script.write_text(SCRIPTED_ANNOTATOR)
    db = tmp_path / "log.db"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    process = subprocess.Popen([sys.executable, str(script), str(db), "new"], stdout=subprocess.PIPE,
                               text=True, env=env)
    acknowledged = []
    deadline = time.monotonic() + 120
    while len(acknowledged) < 8 and time.monotonic() < deadline:
        acknowledged.append(int(process.stdout.readline()))
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert len(acknowledged) >= 8

    dataset = load_dataset("moons", n_samples=300)
    session = Session.open(Store(db), "s", dataset=dataset)
    stored = [a.id for a in session.store.log("s").annotations()]
    assert set(acknowledged) <= set(stored)
    assert len(stored) == len(set(stored))
    assert len(set(a.point_id for a in session.store.log("s").annotations())) == len(stored)  # no point twice
    assert session.model.n_labeled == len(stored)
    query = session.next_query("bot")
    assert query.point_id not in session.labelled_points()
    apply_answer(session, query.query_id, make_oracle("exact", dataset).answer(query.point_id), annotator="bot")
    assert session.status()["n_answers"] == len(stored) + 1
