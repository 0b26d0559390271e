"""Model weights are checked where they are loaded and where they are trained: damaged or non-finite
(NaN, infinity) weights are refused with one line that says what happens instead, a bad published
version is skipped for the last good one (or the model is retrained from the log), and a round that
trains non-finite weights publishes nothing."""

import time

import numpy as np
import pytest
import safetensors.torch
import torch
from conftest import TINY_NET, nudge_serve
from gradio_client import Client
from sqlalchemy import update

from nudge.estimators import DirectionClassifier
from nudge.estimators.classifier import safetensors_metadata
from nudge.loop import Session, SessionConfig, Store, load_dataset
from nudge.loop.store.publication import ModelRegistry, _join, _split
from nudge.loop.store.schema import models
from nudge.loop.training.shared import SharedTrainer
from nudge.loop.training.trainer import InlineTrainer

pytestmark = pytest.mark.filterwarnings("ignore::pandas.errors.Pandas4Warning")


def nan_weights(blob: bytes) -> bytes:
    """The same safetensors blob with every floating-point tensor set to NaN."""
    state = {name: torch.full_like(tensor, float("nan")) for name, tensor in safetensors.torch.load(blob).items()}
    return safetensors.torch.save(state, metadata=safetensors_metadata(blob))


@pytest.fixture
def fitted(moons):
    estimator = DirectionClassifier(**TINY_NET)
    return estimator.fit(moons.X[:40].astype(np.float32), moons.y[:40])


def test_non_finite_and_cut_short_weights_are_refused_and_the_estimator_is_left_as_it_was(fitted, tmp_path):
    before = fitted.predict_proba(np.zeros((1, 2), dtype=np.float32))
    good = fitted.weights_bytes()
    with pytest.raises(ValueError, match=r"^model x holds non-finite weights \(NaN or infinity\) in "):
        fitted.load_weights_bytes(nan_weights(good), source="model x")
    with pytest.raises(ValueError, match=r"^model x is not a nudge weights file \(damaged or cut short"):
        fitted.load_weights_bytes(good[: len(good) // 2], source="model x")
    np.testing.assert_array_equal(fitted.predict_proba(np.zeros((1, 2), dtype=np.float32)), before)
    (tmp_path / "nan.safetensors").write_bytes(nan_weights(good))
    with pytest.raises(ValueError, match="non-finite weights .*; save the weights again from a good model, or train"):
        fitted.load_weights(tmp_path / "nan.safetensors")
    assert fitted.non_finite_weights() == [] and DirectionClassifier().non_finite_weights() == []


class Diverging(InlineTrainer):
    """A trainer whose rounds train NaN weights: every one (``always``), or only warm-started ones."""

    def __init__(self, always: bool) -> None:
        super().__init__()
        self.always, self.poison = always, False

    def fit(self, learner, answers, previous, *, full):
        learner = super().fit(learner, answers, previous, full=full)
        if self.poison and (self.always or not full):
            for parameter in learner.estimator.module_.parameters():
                parameter.data.fill_(float("nan"))
        return learner


def answer(session, annotator="ann"):
    query = session.next_query(annotator)
    session.submit(query.query_id, int(session.dataset.y[query.point_id]), annotator=annotator)


def test_a_round_that_trains_non_finite_weights_publishes_nothing_and_says_so(moons):
    trainer = Diverging(always=True)
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET), dataset=moons, trainer=trainer)
    answer(session)
    good = session.model
    trainer.poison = True
    answer(session)
    assert session.model is good and session.model.version == 1  # the previous model stays
    assert session.status()["model_problem"] == ("training model v2 gave non-finite weights (NaN or infinity), so "
                                                 "it was not published: model v1 stays")
    assert np.all(np.isfinite(session.model.learner.predict_proba(moons.X[:5])))
    trainer.poison = False
    answer(session)
    assert session.model.version == 2 and session.status()["model_problem"] is None


def test_a_warm_start_that_diverges_is_trained_again_from_scratch(moons):
    trainer = Diverging(always=False)
    session = Session.create(Store("sqlite://"), SessionConfig(estimator=TINY_NET), dataset=moons, trainer=trainer)
    answer(session)
    trainer.poison = True
    answer(session)
    assert session.model.version == 2 and session.model.n_labeled == 2 and session.status()["model_problem"] is None
    assert np.all(np.isfinite(session.model.learner.predict_proba(moons.X[:5])))


def published_session(db, versions: int = 3) -> ModelRegistry:
    """A moons session whose trainer published ``versions`` models (one per answer)."""
    dataset = load_dataset("moons", n_samples=200, seed=0)
    config = SessionConfig(dataset_options={"n_samples": 200}, estimator=TINY_NET)
    session = Session.create(Store(db), config, session_id="s", dataset=dataset,
                             trainer=SharedTrainer(poll_seconds=0.05))
    try:
        for _ in range(versions):
            version = session.model.version
            answer(session)
            deadline = time.monotonic() + 60
            while session.model.version == version:
                assert time.monotonic() < deadline, "the trainer published nothing"
                time.sleep(0.05)
    finally:
        session.close()
    return ModelRegistry(session.store.db, "s")


@pytest.mark.slow
@pytest.mark.parametrize("damage", ["nan", "cut short"])
def test_a_damaged_published_model_is_skipped_for_the_last_good_one_and_retrained(tmp_path, damage):
    db = tmp_path / "published.db"
    registry = published_session(db)
    newest = registry.newest()
    blobs = _split(_join(newest.weights))
    bad = _join(tuple(nan_weights(blob) for blob in blobs)) if damage == "nan" else _join(blobs)[:-100]
    registry.db.write(lambda tx: tx.execute(update(models).where(models.c.version == newest.version)
                                            .values(weights=bad)))
    registry.db.dispose()
    said = ("holds non-finite weights (NaN or infinity)" if damage == "nan"
            else "is not a nudge weights file (damaged or cut short")
    with nudge_serve(db, "--session", "s", "--no-train", log=tmp_path / "follower.log") as follower:
        api = Client(follower.url, verbose=False)
        status = api.predict(api_name="/status")
        assert status["model_version"] == newest.version - 1
        assert f"published model v{newest.version} {said}" in status["model_problem"]
        assert f"skipped, serving model v{newest.version - 1}" in status["model_problem"]
        query = api.predict("ann", api_name="/next")
        assert all(np.isfinite(query["probabilities"]))
        with nudge_serve(db, "--session", "s", log=tmp_path / "trainer.log") as trainer:
            deadline = time.monotonic() + 120
            while (status := api.predict(api_name="/status"))["model_version"] <= newest.version:
                assert time.monotonic() < deadline, "no new model was published"
                time.sleep(0.2)
            assert status["model_problem"] is None and status["n_labeled"] == 3  # retrained on every answer
            assert all(np.isfinite(api.predict("ann", api_name="/next")["probabilities"]))
    for server, processes in ((follower, 1), (trainer, 2)):  # the trainer's page and its training child say it
        lines = [line for line in server.output().splitlines() if said in line]
        assert len(lines) == processes and "Traceback" not in server.output(), server.output()
