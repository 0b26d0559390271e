"""Wide data (issue 12, item 7): a query on 10,000 features, from choosing it to its JSON, in linear memory.

The projection's own geometry at 10,000 features is pinned in test_projection.py;
here the whole per-query path of the service (session.next_query -> strategy ->
projection -> describe) runs on a trained model. numpy's allocations are traced
(torch's are not: the network's activations are linear in n by construction).
"""

import gc
import json
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from conftest import SMALL_NET

from nudge.loop.compute.memory import release_freed_memory
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.service import service as service_module
from nudge.loop.service.service import AnnotationService
from nudge.loop.session.session import Session
from nudge.loop.store.store import Store

N_FEATURES = 10_000


def wide_dataset(rows: int = 120) -> Dataset:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(rows, N_FEATURES)).astype(np.float32)
    y = (X @ rng.normal(size=N_FEATURES) > 0).astype(np.int64)
    return Dataset("wide", X, y, ["0", "1"], np.arange(100), np.arange(100, rows))


def test_a_query_on_10000_features_is_chosen_drawn_and_described_in_linear_memory():
    dataset = wide_dataset()
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="wide", estimator=SMALL_NET), dataset=dataset)
    service = AnnotationService(session)
    while len(set(session.labelled_points().values())) < 2:  # then the boundary strategy and the model's plane
        query = service.next_query("wide")
        session.submit(query.query_id, int(dataset.y[query.point_id]), annotator="wide")
    assert session.model.is_fitted
    tracemalloc.start()
    try:
        described = service.describe(service.next_query("wide"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < N_FEATURES**2 * 8 / 20  # 40 MB; one n x n matrix is 800 MB (the old projection built two)
    projection = described["projection"]
    u1, u2 = np.array(projection["u1"]), np.array(projection["u2"])
    assert u1.shape == u2.shape == (N_FEATURES,) and abs(u1 @ u2) < 1e-9 and not projection["is_data_plane"]
    payload = len(json.dumps(described))  # x, raw (the data's units), origin, u1 and u2: five numbers a feature
    assert 5 * N_FEATURES * 10 < payload < 5 * N_FEATURES * 26


def test_the_planes_of_shown_queries_are_bounded_in_memory_and_kept_in_the_database(monkeypatch, tmp_path):
    """Each remembered plane is 3n numbers: at n = 10,000, 4096 of them would be 1 GB. Memory keeps the
    most recent; every shown query's plane is in the database, so a click is read in the plane shown."""
    rng = np.random.default_rng(1)
    X = rng.normal(size=(60, 8)).astype(np.float32)
    dataset = Dataset("small", X, (X[:, 0] > 0).astype(np.int64), ["0", "1"], np.arange(50), np.arange(50, 60))
    session = Session.create(Store(tmp_path / "planes.db"), SessionConfig(dataset="small", estimator=SMALL_NET),
                             dataset=dataset)
    service = AnnotationService(session)
    queries = [service.next_query(f"annotator {i}") for i in range(30)]
    plane = service.query_picture(queries[0]).plane
    monkeypatch.setattr(service_module, "PLANE_CACHE_BYTES", 20 * (plane.origin.nbytes + 2 * plane.u1.nbytes))
    shown = {query.query_id: service.query_picture(query).plane for query in queries}
    assert list(service._planes) == [q.query_id for q in queries[-20:]]  # the 20 most recently shown
    first = queries[0]  # evicted from memory, kept in the database
    annotation = service.submit(first.query_id, 0, annotator=first.annotator, plane_point=[0.5, -0.5])
    np.testing.assert_allclose(annotation.directions[0], shown[first.query_id].direction(0.5, -0.5))
    other = AnnotationService(Session.open(Store(tmp_path / "planes.db"), session.session_id, dataset=dataset))
    second = queries[1]  # another server reads the click in the plane this one showed
    annotation = other.submit(second.query_id, 1, annotator=second.annotator, plane_point=[-1.0, 2.0])
    np.testing.assert_allclose(annotation.directions[0], shown[second.query_id].direction(-1.0, 2.0))


def tensors_tracked() -> int:
    return sum(issubclass(type(o), torch.Tensor) for o in gc.get_objects())


def test_a_retrain_leaves_no_copy_of_the_network_for_the_cycle_collector():
    """Each warm retrain deep-copies the learner, which goes through torch.load (skorch); its
    unpickler's reference cycle held a copy of the weights until a full collection: at 10,000
    features that grew a server by about 10 MB an answer."""
    dataset = wide_dataset()
    session = Session.create(Store("sqlite://"), SessionConfig(dataset="wide", estimator=SMALL_NET), dataset=dataset)
    for _ in range(3):
        query = session.next_query("wide")
        session.submit(query.query_id, int(dataset.y[query.point_id]), annotator="wide")
    gc.collect()
    live = tensors_tracked()
    for _ in range(3):
        session.retrain()  # warm: a deep copy of the published learner
    assert tensors_tracked() <= live


def resident_mib() -> float:
    status = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return int(status["VmRSS"].split()[0]) / 1024


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads the resident size from /proc")
def test_freed_heap_memory_goes_back_to_the_system():
    """200 MiB in 64 KiB blocks (glibc's heap, not mmap), 9 in 10 freed: the heap keeps it until trimmed."""
    blocks = [np.ones(8192) for _ in range(3200)]
    kept = blocks[::10]
    del blocks
    before = resident_mib()
    if not release_freed_memory():
        pytest.skip("this C library cannot trim its heap")
    assert before - resident_mib() > 100 and len(kept) == 320
