"""The local boundary projection: plane geometry, and for a linear model the true boundary."""

import tracemalloc

import numpy as np
import pytest

from nudge.loop.service import projection as projection_module
from nudge.loop.service.projection import Plane, choose_plane, project_query

RNG = np.random.default_rng(0)
W = RNG.normal(size=8)
C = 0.7


def proba(points):
    p1 = 1 / (1 + np.exp(-(points @ W + C)))
    return np.stack([1 - p1, p1], axis=1)


def margin_gradient(points):
    f = points @ W + C
    return np.abs(f), np.sign(f)[:, None] * W


def test_plane_coordinates_and_directions_are_consistent():
    plane = choose_plane(RNG.normal(size=8), RNG.normal(size=(20, 8)), RNG.normal(size=(3, 8)), margin_gradient)
    assert plane.u1 @ plane.u1 == pytest.approx(1) and plane.u2 @ plane.u2 == pytest.approx(1)
    assert plane.u1 @ plane.u2 == pytest.approx(0, abs=1e-12)
    k = plane.direction(0.3, -1.2)
    np.testing.assert_allclose(plane.to_plane(plane.origin + k), [[0.3, -1.2]], atol=1e-12)
    np.testing.assert_allclose(plane.to_space(np.array([0.3, -1.2])), plane.origin + k, atol=1e-12)


def test_u1_crosses_the_boundary_of_a_linear_model():
    x = RNG.normal(size=8)
    plane = choose_plane(x, RNG.normal(size=(20, 8)), RNG.normal(size=(3, 8)), margin_gradient)
    f = x @ W + C
    np.testing.assert_allclose(plane.u1, -np.sign(f) * W / np.linalg.norm(W), atol=1e-12)


def test_linear_model_contour_is_the_true_boundary():
    """Every point of the drawn p = 0.5 contour satisfies w.x + c = 0."""
    X = RNG.normal(size=(300, 8))
    labels = {int(i): int(X[i] @ W + C > 0) for i in range(5)}
    projection = project_query(10, X, np.arange(300), labels, predict_proba=proba,
                               margin_gradient=margin_gradient, grid_size=81)
    p1 = projection.probabilities[:, :, 1]  # rows: b, columns: a
    crossings = []
    for row, b in enumerate(projection.b):
        values = p1[row] - 0.5
        j = np.flatnonzero(np.sign(values[:-1]) != np.sign(values[1:]))
        assert len(j) == 1  # one crossing per row: the boundary is a line across the plane
        j = j[0]
        a0, a1 = projection.a[j], projection.a[j + 1]
        a = a0 + (a1 - a0) * values[j] / (values[j] - values[j + 1])  # linear interpolation
        crossings.append(projection.plane.to_space(np.array([a, b])))
    f = np.array(crossings) @ W + C
    np.testing.assert_allclose(f, 0, atol=5e-3)
    # and it lies where first-order geometry says: a = |f(x)| / |w| along u1, for every b
    a_star = abs(X[10] @ W + C) / np.linalg.norm(W)
    np.testing.assert_allclose(projection.plane.to_plane(np.array(crossings))[:, 0], a_star, atol=1e-3)


def test_two_dimensional_data_use_the_data_plane():
    X = RNG.uniform(-1, 1, size=(50, 2))
    projection = project_query(3, X, np.arange(50), {0: 1, 1: 0})
    assert projection.is_data_plane and projection.probabilities is None
    np.testing.assert_array_equal(projection.plane.u1, [1, 0])
    k = projection.plane.direction(*(X[7] - X[3]))  # a click on point 7 means "towards point 7"
    np.testing.assert_allclose(X[3] + k, X[7])
    assert projection.a[0] < X[:, 0].min() - X[3, 0] and projection.a[-1] > X[:, 0].max() - X[3, 0]
    shown = dict(zip(projection.point_ids, projection.classes))
    assert shown[0] == 1 and shown[1] == 0 and 3 not in shown
    assert projection.labelled[list(projection.point_ids).index(0)]


def test_shown_points_include_labelled_and_nearest_pool_points():
    X = RNG.normal(size=(200, 8))
    projection = project_query(0, X, np.arange(100), {150: 1}, predict_proba=proba,
                               margin_gradient=margin_gradient, n_neighbours=10)
    ids = set(projection.point_ids.tolist())
    assert 150 in ids and 0 not in ids
    nearest_pool = np.argsort(np.linalg.norm(X[1:100] - X[0], axis=1))[:10] + 1
    assert set(nearest_pool.tolist()) <= ids
    assert all(i < 100 or i == 150 for i in ids)  # test points (100..199) are never shown unlabelled
    described = projection.as_dict()
    assert len(described["points"]) == len(ids) and len(described["u1"]) == 8


def test_degenerate_neighbourhood_still_gives_an_orthonormal_plane():
    x = np.zeros(5)
    plane = choose_plane(x, np.zeros((3, 5)), np.zeros((0, 5)), None)
    assert plane.u1 @ plane.u2 == pytest.approx(0) and np.linalg.norm(plane.u2) == pytest.approx(1)
    assert isinstance(plane, Plane)


# ------------------------------------------------------------------- wide data: linear memory
WIDE = 10_000


def wide_linear_model(n):
    """A linear model on R^n (weights of norm ~1, so logits stay moderate): (proba, margin_gradient, w)."""
    w = np.random.default_rng(1).normal(size=n) / np.sqrt(n)

    def wide_proba(points):
        p1 = 1 / (1 + np.exp(-(points.astype(float) @ w + C)))
        return np.stack([1 - p1, p1], axis=1)

    def wide_margin_gradient(points):
        f = points @ w + C
        return np.abs(f), np.sign(f)[:, None] * w

    return wide_proba, wide_margin_gradient, w


def traced_peak(run):
    """(what ``run`` returned, peak bytes numpy and Python allocated while it ran)."""
    tracemalloc.start()
    try:
        result = run()
        return result, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fitted", [True, False])
def test_a_wide_plane_is_found_in_linear_memory(fitted):
    """At n = 10,000 an n x n matrix is 800 MB; the plane needs a few vectors and the neighbours' SVD."""
    rng = np.random.default_rng(2)
    _, margin_gradient, w = wide_linear_model(WIDE)
    if fitted:
        x, neighbours, others = rng.normal(size=WIDE), rng.normal(size=(20, WIDE)), rng.normal(size=(5, WIDE))
    else:  # nothing to go by: the plane falls back to the coordinate axes (where np.eye(n) was built)
        x, neighbours, others = np.zeros(WIDE), np.zeros((3, WIDE)), np.zeros((0, WIDE))
    plane, peak = traced_peak(lambda: choose_plane(x, neighbours, others, margin_gradient if fitted else None))
    assert peak < 3 * neighbours.nbytes + 16 * WIDE * 8 < WIDE**2 * 8 / 100
    assert plane.u1 @ plane.u2 == pytest.approx(0, abs=1e-12) and np.linalg.norm(plane.u2) == pytest.approx(1)
    if fitted:
        np.testing.assert_allclose(plane.u1, -np.sign(x @ w + C) * w / np.linalg.norm(w), atol=1e-12)
    else:
        assert plane.u1[0] == 1 and plane.u2[1] == 1  # the first two axes


def test_a_wide_projection_with_its_probability_grid_stays_linear_in_memory():
    proba_wide, margin_gradient, _ = wide_linear_model(WIDE)
    X = np.random.default_rng(3).normal(size=(300, WIDE)).astype(np.float32)
    projection, peak = traced_peak(lambda: project_query(
        0, X, np.arange(240), {1: 0, 2: 1}, predict_proba=proba_wide, margin_gradient=margin_gradient))
    assert peak < 4 * X.nbytes < WIDE**2 * 8 / 10  # a few copies of the data; the grid alone would be 330 MB
    assert projection.probabilities.shape == (64, 64, 2) and len(projection.plane.u1) == WIDE


def test_the_grid_scored_in_chunks_equals_the_grid_scored_at_once(monkeypatch):
    X = RNG.normal(size=(100, 8))
    options = dict(predict_proba=proba, margin_gradient=margin_gradient, grid_size=20)
    at_once = project_query(4, X, np.arange(100), {}, **options)
    monkeypatch.setattr(projection_module, "GRID_CHUNK_VALUES", 3 * 20 * 8)  # 3 grid rows per batch, 7 batches
    chunked = project_query(4, X, np.arange(100), {}, plane=at_once.plane, **options)
    np.testing.assert_array_equal(chunked.probabilities, at_once.probabilities)
    grid = np.stack(np.meshgrid(at_once.a, at_once.b), axis=-1).reshape(-1, 2)  # b-major, as drawn
    expected = proba(at_once.plane.to_space(grid).astype(np.float32)).reshape(20, 20, 2)
    np.testing.assert_allclose(chunked.probabilities, expected, rtol=1e-6)


def test_a_data_plane_shows_all_labelled_points_and_a_fixed_sample_of_the_rest():
    from nudge.loop.service.projection import SAMPLE_SPARE, DataPlane

    X = np.random.default_rng(3).normal(size=(5000, 2))
    pool = np.arange(4000)
    plane = DataPlane.of(X, pool, max_points=100, seed=7)
    assert len(plane.sample) == 100 + SAMPLE_SPARE and set(plane.sample) <= set(pool)
    np.testing.assert_array_equal(plane.low, X.min(axis=0))
    labelled = plane.sample[:30]  # labelling sampled points: the rest of the sample fills in
    shown = plane.shown(labelled, query=int(plane.sample[40]))
    assert shown[:30].tolist() == labelled.tolist() and len(shown) == 130
    assert int(plane.sample[40]) not in shown and set(shown[30:]) <= set(plane.sample[30:])
    small = DataPlane.of(X, np.arange(50), max_points=100, seed=7)  # a small pool: all of it
    assert len(small.shown(np.array([1, 2]), query=3)) == 49
