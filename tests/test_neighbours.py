"""Neighbour indexes: exact answers on small cases (both kinds), recall of the HNSW graph on a larger
random case, exclusions, memory-mapped float16 points, and the choice by size."""

import numpy as np
import pytest

from nudge.loop.compute.neighbours import ExactIndex, ExactUntilBuilt, HnswIndex, neighbour_index


def brute_force(X, ids, query, k, exclude=()):
    ids = np.array([i for i in ids if i not in set(exclude)])
    distances = np.linalg.norm(X[ids].astype(np.float64) - query, axis=1)
    order = np.lexsort((np.arange(len(ids)), distances))[:k]
    return distances[order], ids[order]


def test_exact_index_on_a_line_with_ties_exclusions_and_too_few_points():
    X = np.array([[0.0], [1.0], [-1.0], [2.0], [5.0]], dtype=np.float32)
    index = ExactIndex(X, ids=np.array([4, 3, 1, 2, 0]))
    distances, ids = index.search([[0.0], [5.0]], 3)
    np.testing.assert_array_equal(ids, [[0, 1, 2], [4, 3, 1]])  # 1 and -1 tie: 1 comes first in ids
    np.testing.assert_allclose(distances, [[0, 1, 1], [0, 3, 4]])
    distances, ids = index.search([[0.0]], 4, exclude=np.array([0, 3, 99]))
    np.testing.assert_array_equal(ids, [[1, 2, 4, -1]])
    np.testing.assert_allclose(distances, [[1, 1, 5, np.inf]])
    with pytest.raises(ValueError, match=r"queries must be \(M, 1\)"):
        index.search(np.zeros((1, 2)), 1)


@pytest.mark.parametrize("kind", [ExactIndex, HnswIndex])
def test_both_kinds_find_the_exact_neighbours_of_a_small_pool(kind):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((400, 8)).astype(np.float32)
    ids = rng.permutation(400)[:300]
    index = kind(X, ids)
    for query in rng.standard_normal((5, 8)):
        exclude = ids[:7]
        distances, found = index.search(query, 6, exclude=exclude)
        expected_distances, expected = brute_force(X, ids, query, 6, exclude)
        np.testing.assert_array_equal(found[0], expected)
        np.testing.assert_allclose(distances[0], expected_distances, rtol=1e-5)


def test_exact_scan_in_chunks_agrees_with_one_pass(monkeypatch):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((1000, 16)).astype(np.float32)
    queries = rng.standard_normal((3, 16))
    whole = ExactIndex(X).search(queries, 20)
    monkeypatch.setattr("nudge.loop.compute.neighbours.SCAN_CHUNK", 37)
    chunked = ExactIndex(X).search(queries, 20)
    np.testing.assert_array_equal(chunked[1], whole[1])


def test_hnsw_recall_on_a_larger_random_pool():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((10_000, 64)).astype(np.float32)
    queries = rng.standard_normal((50, 64)).astype(np.float32)
    exact = ExactIndex(X).search(queries, 10)[1]
    approximate = HnswIndex(X).search(queries, 10)[1]
    recall = np.mean([len(set(a) & set(b)) / 10 for a, b in zip(exact, approximate)])
    assert recall >= 0.95, recall


def test_hnsw_over_a_float16_memory_map_honours_exclusions(tmp_path):
    rng = np.random.default_rng(4)
    path = tmp_path / "points.npy"
    np.save(path, rng.standard_normal((3000, 32)).astype(np.float16))
    X = np.load(path, mmap_mode="r")
    ids = np.arange(0, 3000, 3)
    index = HnswIndex(X, ids)
    query = np.asarray(X[ids[10]], dtype=np.float32)
    distances, found = index.search(query, 5)
    assert found[0, 0] == ids[10] and distances[0, 0] == pytest.approx(0, abs=1e-3)
    _, without = index.search(query, 5, exclude=np.array([ids[10], 1]))  # 1 is not indexed: ignored
    assert ids[10] not in without[0] and np.isin(without[0], ids).all()
    np.testing.assert_array_equal(without[0], brute_force(X, ids, query, 5, [ids[10]])[1])


def test_the_index_kind_follows_the_pool_size_and_a_graph_builds_in_the_background():
    X = np.random.default_rng(5).standard_normal((100, 4)).astype(np.float32)
    assert isinstance(neighbour_index(X, np.arange(50), exact_below=51), ExactIndex)
    big = neighbour_index(X, np.arange(50), exact_below=50)
    assert isinstance(big, ExactUntilBuilt)
    before = big.search(X[:3], 4)  # exact while building, or the graph: the same on a small case
    assert big.wait(30) and isinstance(big._graph, HnswIndex)
    np.testing.assert_array_equal(big.search(X[:3], 4)[1], before[1])
    np.testing.assert_array_equal(before[1], ExactIndex(X, np.arange(50)).search(X[:3], 4)[1])


def test_a_projection_through_a_graph_shows_the_points_an_exact_scan_shows():
    from nudge.loop.service.projection import project_query

    rng = np.random.default_rng(6)
    X = rng.standard_normal((600, 8)).astype(np.float32)
    pool = np.arange(500)
    labels = {int(i): int(i % 2) for i in rng.choice(pool, 30, replace=False)}
    for query in (3, 77, 410):
        exact = project_query(query, X, pool, labels, n_neighbours=10)
        graph = project_query(query, X, pool, labels, n_neighbours=10, neighbours=HnswIndex(X, pool))
        np.testing.assert_array_equal(graph.point_ids, exact.point_ids)
        assert query not in exact.point_ids and not np.isin(exact.point_ids, np.arange(500, 600)).any()
