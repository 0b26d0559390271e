"""A real Dask cluster on loopback (a scheduler and a worker, each its own process, started once for
this module): embedding and scoring through it give what this process computes, and ``nudge embed
--engine dask --address`` fills the cache from it."""

import socket
import time

import numpy as np
import pytest

pytest.importorskip("distributed", reason="the cluster extra is not installed")

from conftest import SMALL_NET, free_port  # noqa: E402

from nudge.estimators import DirectionClassifier, pack_targets  # noqa: E402
from nudge.estimators.encoders import SentenceEncoder  # noqa: E402
from nudge.loop.cli import main  # noqa: E402
from nudge.loop.compute.embedding import EmbeddingJob  # noqa: E402
from nudge.loop.compute.engine import LocalEngine  # noqa: E402
from nudge.loop.compute.engines import make_engine
from nudge.loop.compute.matrix import embedding_matrix
from nudge.loop.compute.scoring import score_pool  # noqa: E402

TEXTS = [f"Review {i}: the film is {'wonderful' if i % 2 else 'a dreadful bore'}." for i in range(20)]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """The scheduler's address: a scheduler and a worker process, stopped (by their handles) after."""
    from nudge.loop.compute.dask_engine import loopback_cluster

    with loopback_cluster(workers=1, log_dir=tmp_path_factory.mktemp("cluster")) as address:
        yield address
    with socket.socket() as probe:  # the scheduler is gone
        assert probe.connect_ex(("127.0.0.1", int(address.rsplit(":", 1)[1]))) != 0


@pytest.fixture(scope="module")
def engine(cluster):
    engine = make_engine("dask", cluster)
    yield engine
    engine.close()


def test_the_cluster_embeds_what_this_process_embeds(engine, tmp_path):
    assert engine.workers() == 1
    encoder = SentenceEncoder(cache_dir=tmp_path / "cache")
    progress = EmbeddingJob(TEXTS, encoder, engine=engine, chunk_size=6).run()
    assert (progress.stage, progress.done, progress.total) == ("done", 20, 20)
    here = SentenceEncoder(cache_dir=tmp_path / "here").embed_uncached(TEXTS)
    np.testing.assert_allclose(embedding_matrix(encoder, TEXTS), here, atol=1e-5)
    assert encoder._model is None  # this process never loaded the model: the worker did


def test_the_cluster_scores_a_pool_as_this_process_does(engine):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 5)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    net = DirectionClassifier(criterion="ce", random_state=0, **SMALL_NET)
    net.fit(X, pack_targets(y, [None] * 40, n_features=5, classes=[0, 1]))
    pool = rng.standard_normal((1000, 5)).astype(np.float16)  # a float16 pool is cast per chunk
    seen = []
    remote = score_pool(net, pool, "boundary", engine=engine, chunk_size=128, on_chunk=lambda d, n: seen.append(d))
    local = score_pool(net, pool, "boundary", engine=LocalEngine(), chunk_size=1000)
    np.testing.assert_allclose(remote, local, rtol=1e-5)
    assert sorted(seen) == seen and seen[-1] == 1000 and len(seen) == 8
    uncertainty = score_pool(net, pool, "uncertainty", engine=engine, chunk_size=300)
    np.testing.assert_allclose(uncertainty, 1 - net.predict_proba(pool.astype(np.float32)).max(axis=1), rtol=1e-5)


def test_nudge_embed_on_the_cluster(cluster, tmp_path, monkeypatch, capsys):
    path = tmp_path / "texts.csv"
    path.write_text("text,label\n" + "".join(f'"{t}",{i % 2}\n' for i, t in enumerate(TEXTS[:8])))
    monkeypatch.setenv("NUDGE_CACHE_DIR", str(tmp_path / "cache"))
    arguments = ["--encoder", "minilm", "--engine", "dask", "--address", cluster, "--backend", "torch"]
    assert main(["embed", "--dataset", f"text-csv:{path}", *arguments]) == 0
    output = capsys.readouterr().out
    assert "dask engine (1 worker(s))" in output and "8 embedded in" in output
    cached = SentenceEncoder(cache_dir=tmp_path / "cache" / "embeddings")
    assert cached.missing(TEXTS[:8]) == {}


def test_an_unreachable_scheduler_is_one_clear_error(capsys):
    address = f"tcp://127.0.0.1:{free_port()}"
    started = time.monotonic()
    assert main(["embed", "--dataset", "text-csv:/nonexistent.csv", "--engine", "dask", "--address", address]) == 1
    assert "no such file" in capsys.readouterr().err  # the data is checked before any connection
    from nudge.loop.compute.dask_engine import DaskEngine

    with pytest.raises(ValueError, match=f"cannot reach the Dask scheduler at {address}"):
        DaskEngine(address, timeout=2)
    assert time.monotonic() - started < 30


def test_a_served_session_ranks_its_pool_on_the_cluster_as_it_would_here(engine, tmp_path):
    from nudge.loop import load_dataset
    from nudge.loop.config.settings import SessionConfig
    from nudge.loop.session.session import Session
    from nudge.loop.store.store import Store
    from nudge.loop.training.shared import SharedTrainer

    moons = load_dataset("moons", n_samples=400, seed=0)
    rankings = []
    for where, on in (("here", None), ("cluster", engine)):
        store = Store(tmp_path / f"{where}.db")
        # every round a full refit: the model after the six answers is then the same whichever rounds the
        # background trainer happened to run on the way (a warm start from a round on fewer answers is not)
        config = SessionConfig(estimator=SMALL_NET, strategy="uncertainty", full_refit_every=1)
        session = Session.create(store, config, session_id="s", dataset=moons, trainer=SharedTrainer(engine=on))
        try:
            for point in moons.pool[:6]:
                session.relabel(int(point), int(moons.y[point]), annotator="ann")
            deadline = time.monotonic() + 120
            while not (session.model.n_labeled == 6 and session.trainer.ranking is not None
                       and session.trainer.ranking.version == session.model.version):
                assert time.monotonic() < deadline
                time.sleep(0.05)
            rankings.append(session.trainer.ranking)
        finally:
            session.close()
    here, there = rankings
    np.testing.assert_allclose(there.scores, here.scores, atol=1e-6)
    assert there.point_ids[:20].tolist() == here.point_ids[:20].tolist()
