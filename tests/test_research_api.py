"""The Python API for research: custom networks, estimators, factories, strategies and callbacks."""

import importlib
import logging
import os
import subprocess
import sys

import numpy as np
import pytest
from modAL.uncertainty import entropy_sampling, margin_sampling, uncertainty_sampling
from research_parts import NearestLabelled, TinyNet, farthest_from_origin, tiny_net_factory

from nudge.estimators import DirectionClassifier
from nudge.loop import SessionCallback, apply_answer, load_dataset, make_oracle
from nudge.loop.config.settings import SessionConfig
from nudge.loop.errors import SessionError
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store
from nudge.strategies import make_learner, select_queries

MOONS = load_dataset("moons", n_samples=200, seed=0)


def run(session, rounds=4, annotator="bot"):
    oracle = make_oracle("exact", session.dataset)
    for _ in range(rounds):
        query = session.next_query(annotator)
        apply_answer(session, query.query_id, oracle.answer(query.point_id), annotator=annotator)


@pytest.mark.parametrize("estimator", [
    {"module": TinyNet, "module__width": 4, "max_epochs": 5},
    DirectionClassifier(module=TinyNet, max_epochs=5),
    tiny_net_factory,
], ids=["module-in-settings", "estimator-object", "factory"])
def test_a_session_on_a_custom_network_trains_and_resumes_by_name(tmp_path, estimator):
    store = Store(tmp_path / "s.db")
    session = Session.create(store, SessionConfig(estimator=estimator), session_id="s", dataset=MOONS)
    run(session)
    assert session.model.version == 4 and isinstance(session.model.estimator.module_, TinyNet)
    assert "research_parts:TinyNet" in str(store.session_config("s")) or "tiny_net_factory" in str(
        store.session_config("s"))
    resumed = Session.open(store, "s", dataset=MOONS)
    assert resumed.model.n_labeled == 4 and isinstance(resumed.model.estimator.module_, TinyNet)
    assert resumed.model.accuracy is not None


def test_a_session_whose_parts_cannot_be_imported_says_so(tmp_path):
    module = tmp_path / "vanishing_parts.py"
    module.write_text("from research_parts import TinyNet\n\n\nclass Net(TinyNet):\n    pass\n")
    sys.path.insert(0, str(tmp_path))
    try:
        parts = importlib.import_module("vanishing_parts")
        store = Store(tmp_path / "s.db")
        Session.create(store, SessionConfig(estimator={"module": parts.Net, "max_epochs": 3}),
                       session_id="s", dataset=MOONS)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("vanishing_parts", None)
    module.unlink()
    with pytest.raises(SessionError, match=r"vanishing_parts:Net, which cannot be imported.*PYTHONPATH"):
        Session.open(store, "s", dataset=MOONS)


def test_objects_that_cannot_be_stored_are_refused_before_anything_is_stored(tmp_path):
    store = Store(tmp_path / "s.db")
    with pytest.raises(SessionError, match="lambda"):
        Session.create(store, SessionConfig(strategy=lambda learner, X, n, **kwargs: None), dataset=MOONS)
    with pytest.raises(SessionError, match="is a set, which cannot be stored"):
        SessionConfig(estimator={"module__hidden": {8}})
    assert store.session_ids() == []


def test_a_custom_strategy_chooses_the_queries():
    session = Session.create(Store("sqlite://"), SessionConfig(strategy=farthest_from_origin,
                                                               estimator={"max_epochs": 5}), dataset=MOONS)
    run(session, rounds=2)
    available = session.leases.available("bot")
    query = session.next_query("bot")
    norms = np.where(available, np.linalg.norm(MOONS.X, axis=1), -np.inf)
    assert query.point_id == int(np.argmax(norms))
    assert session.status()["strategy"] == "farthest_from_origin"


@pytest.mark.parametrize("strategy", [uncertainty_sampling, margin_sampling, entropy_sampling],
                         ids=lambda strategy: strategy.__name__)
def test_modals_own_strategies_serve_a_session_as_they_are(tmp_path, strategy):
    store = Store(tmp_path / "s.db")
    session = Session.create(store, SessionConfig(strategy=strategy, estimator={"max_epochs": 5}),
                             session_id="s", dataset=MOONS)
    run(session, rounds=3)
    leased = {query.point_id for query in session.next_queries("someone", 4)}
    labelled = {answer.point_id for answer in session.effective_annotations()}
    asked = [query.point_id for query in session.next_queries("bot", 5)]
    assert len(labelled) == 3 and len(leased) == 4 and len(set(asked)) == 5
    assert not set(asked) & (leased | labelled)
    assert session.status()["strategy"] == strategy.__name__
    assert Session.open(store, "s", dataset=MOONS).config.strategy is strategy


def test_select_queries_and_make_learner_take_a_function():
    learner = make_learner(DirectionClassifier(max_epochs=2), farthest_from_origin)
    indices, scores = select_queries(learner, MOONS.X, 3, farthest_from_origin)
    norms = np.linalg.norm(MOONS.X, axis=1)
    assert indices.tolist() == np.argsort(-norms, kind="stable")[:3].tolist()
    np.testing.assert_allclose(scores, norms[indices])
    assert learner.query_strategy is farthest_from_origin


class Recorder(SessionCallback):
    def __init__(self):
        self.events = []

    def on_query(self, session, queries):
        self.events.append(("query", [q.point_id for q in queries]))

    def on_answer(self, session, annotation):
        self.events.append(("answer", annotation.point_id))

    def on_retrain(self, session, snapshot):
        self.events.append(("retrain", snapshot.version, snapshot.n_labeled))


class Broken(SessionCallback):
    def on_answer(self, session, annotation):
        raise RuntimeError("a bug in my callback")


def test_callbacks_hear_every_event_in_order_and_a_failing_one_is_logged(caplog):
    recorder = Recorder()
    session = Session.create(Store("sqlite://"), SessionConfig(estimator={"max_epochs": 5}), dataset=MOONS,
                             callbacks=[recorder, Broken()])
    with caplog.at_level(logging.ERROR):
        run(session, rounds=2)
    kinds = [event[0] for event in recorder.events]
    assert kinds == ["query", "answer", "retrain", "query", "answer", "retrain"]
    assert recorder.events[1][1] == recorder.events[0][1][0]  # the answer is to the queried point
    assert [event[1:] for event in recorder.events if event[0] == "retrain"] == [(1, 1), (2, 2)]
    assert session.status()["n_answers"] == 2  # the broken callback undid nothing
    failures = [r for r in caplog.records if "failed in on_answer" in r.getMessage()]
    assert len(failures) == 2 and all("a bug in my callback" in str(r.exc_info[1]) for r in failures)


@pytest.mark.parametrize("estimator, loss", [
    (DirectionClassifier(module=TinyNet, criterion="ce", max_epochs=5), "ce"),
    (tiny_net_factory, "direction"),
    ({"module": TinyNet, "criterion": "gradient-supervision", "max_epochs": 5}, "gradient-supervision"),
], ids=["estimator-object", "factory", "settings-naming-a-criterion"])
def test_every_way_to_give_an_estimator_keeps_warm_starts_and_reports_its_own_loss(estimator, loss):
    config = SessionConfig(loss="ce" if loss == "direction" else "direction", estimator=estimator,
                           warm_epochs=2, full_refit_every=0)
    session = Session.create(Store("sqlite://"), config, dataset=MOONS)
    run(session, rounds=3)
    history = session.model.estimator.history
    assert len(history) == 5 + 2 + 2  # one fit from scratch, then two retrains that continue it
    assert session.model.estimator.warm_start and session.status()["retrains"] == "warm"
    assert session.status()["loss"] == loss != config.loss


def test_an_estimator_without_warm_start_retrains_from_scratch_and_says_so():
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=NearestLabelled(), strategy="uncertainty"),
                             dataset=MOONS)
    run(session, rounds=3)
    status = session.status()
    assert status["retrains"] == "from scratch" and status["loss"] is None
    assert status["n_labeled"] == 3 and status["accuracy"] is not None


SCRIPT = '''
import sys
from torch import nn
from nudge.estimators import DirectionClassifier
from nudge.loop import Session, SessionConfig, Store
from nudge.loop.errors import SessionError

class NetInScript(nn.Module):
    def __init__(self, n_features, n_classes=2):
        super().__init__()
        self.layer = nn.Linear(n_features, n_classes)

    def forward(self, X):
        return self.layer(X)

def strategy_in_script(learner, X, n_instances):
    return list(range(n_instances))

def factory_in_script(n_features, n_classes, seed):
    return DirectionClassifier(module=NetInScript, max_epochs=2, random_state=seed)

for settings in ({"estimator": {"module": NetInScript, "max_epochs": 2}}, {"strategy": strategy_in_script},
                 {"estimator": factory_in_script}):
    config = SessionConfig(**settings)
    Session.create(Store("sqlite://"), config)  # in memory: nothing can resume it, so it is taken
    try:
        Session.create(Store(sys.argv[1]), config)
    except SessionError as error:
        print(error)
print("stored sessions:", Store(sys.argv[1]).session_ids())
'''


def test_parts_defined_in_the_script_being_run_are_refused_for_a_stored_session(tmp_path):
    script = tmp_path / "my_run.py"
    script.write_text(SCRIPT)
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "s.db")], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    refusals = done.stdout.splitlines()
    for line, name in zip(refusals, ["NetInScript", "strategy_in_script", "factory_in_script"]):
        assert f"is {name}, defined in the script being run (__main__:{name})" in line
        assert "nudge serve` or any other process could never import it" in line
        assert f"Put {name} in a module (a .py file beside the script" in line
    assert refusals[3:] == ["stored sessions: []"]
