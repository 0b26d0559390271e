"""Simulated annotators: exact, nearest-opposite and labels-only answers, with and without noise."""

import numpy as np
import pytest

from nudge.estimators import pack_targets
from nudge.loop.datasets import Dataset, load_dataset
from nudge.loop.simulation.oracles import Answer, make_oracle


def line_dataset():
    """Five points on a line; the last one (x = 2.9, class 1) is a test point."""
    return Dataset(
        "line", np.array([[0.0], [1.0], [3.0], [10.0], [2.9]], np.float32),
        np.array([0, 1, 0, 1, 1]), ["a", "b"], pool=np.arange(4), test=np.array([4]),
    )


def text_dataset(n_classes=2):
    X = np.arange(12, dtype=np.float32).reshape(4, 3)
    revised = X + np.array([[1, 0, 0], [0, 2, 0], [np.nan] * 3, [0, 0, -1]], np.float32)
    return Dataset(
        "texts", X, np.array([0, 1, 0, n_classes - 1]), [str(c) for c in range(n_classes)],
        pool=np.arange(3), test=np.array([3]), texts=list("abcd"),
        counterfactual_texts=["A", "B", None, "D"], counterfactual_X=revised,
    )


def angle_between(a, b):
    return np.degrees(np.arccos(np.clip(a @ b / np.linalg.norm(a) / np.linalg.norm(b), -1, 1)))


def test_exact_oracle_on_moons_points_to_the_true_boundary():
    data = load_dataset("moons", n_samples=300, seed=2)
    oracle = make_oracle("exact", data)
    truth = data.generator.truth(data.X)
    expected = data.generator.boundary_direction(data.X)
    for i in data.pool:
        answer = oracle.answer(i)
        assert (answer.label, answer.how, answer.source) == (data.y[i], "oracle-exact", "oracle")
        if truth[i] == data.y[i]:
            np.testing.assert_allclose(answer.directions[0], expected[i])
            assert answer.targets == [1 - data.y[i]]
        else:  # noise put it on the other side: no way to the boundary leaves its class
            assert answer.directions == [] and answer.targets == []
    assert 0 < np.sum(truth[data.pool] != data.y[data.pool]) < 30


def test_exact_oracle_on_text_gives_revision_minus_original():
    oracle = make_oracle("exact", text_dataset())
    np.testing.assert_array_equal(oracle.answer(1).directions[0], [0, 2, 0])
    assert oracle.answer(1).targets == [0] and oracle.answer(0).targets == [1]
    assert oracle.answer(2) == Answer(0, [], "oracle-exact", source="rewrite")  # no revision
    assert oracle.answer(1).source == "rewrite"
    np.testing.assert_array_equal(oracle.answer(3).directions[0], [0, 0, -1])


def test_exact_oracle_refuses_data_it_cannot_answer():
    with pytest.raises(ValueError, match="has neither: use the 'nearest-opposite' oracle"):
        make_oracle("exact", line_dataset())
    with pytest.raises(ValueError, match="needs two classes for revisions .*has 3"):
        make_oracle("exact", text_dataset(n_classes=3))


def test_exact_oracle_on_gaussians_names_the_class_beyond_the_nearest_boundary():
    data = load_dataset("gaussians", n_samples=300)
    oracle = make_oracle("exact", data)
    X = data.X.astype(float)
    for i in range(0, 300, 7):
        answer = oracle.answer(i)
        if data.generator.truth(X[i:i + 1])[0] != data.y[i]:
            assert answer.directions == []  # noise put it in another class's region
            continue
        np.testing.assert_allclose(answer.directions[0], data.generator.boundary_direction(X[i:i + 1])[0])
        assert answer.targets == [int(data.generator.boundary_target(X[i:i + 1])[0])] != [answer.label]


def test_nearest_opposite_uses_pool_points_of_another_class():
    oracle = make_oracle("nearest-opposite", line_dataset())
    first = oracle.answer(0)
    assert (first.label, first.targets, first.how) == (0, [1], "oracle-nearest-opposite")
    assert first.source == "towards-example"
    np.testing.assert_allclose(first.directions[0], [1.0])
    np.testing.assert_allclose(oracle.answer(2).directions[0], [-2.0])  # test point 4 is not used
    np.testing.assert_allclose(oracle.answer(4).directions[0], [0.1], rtol=1e-5)  # but may ask
    np.testing.assert_allclose(oracle.answer(3).directions[0], [-7.0])


def test_nearest_opposite_with_three_classes_names_the_target_class():
    X = np.array([[0, 0], [1, 0], [0, 3], [5, 5], [6, 5]], np.float32)
    y = np.array([0, 1, 2, 2, 1])
    data = Dataset("three", X, y, ["a", "b", "c"], np.arange(5), np.array([], int))
    oracle = make_oracle("nearest-opposite", data)
    answers = [oracle.answer(i) for i in range(5)]
    assert [a.targets for a in answers] == [[1], [0], [0], [1], [2]]
    np.testing.assert_allclose(answers[2].directions[0], [0, -3])
    packed = pack_targets([a.label for a in answers], [a.directions[0] for a in answers],
                          targets=[a.targets for a in answers], n_features=2)
    assert packed.shape == (5, 5)


def test_full_label_noise_flips_every_label_and_keeps_directions_consistent():
    exact = make_oracle("exact", text_dataset(), label_noise=1.0)
    assert [exact.answer(i).label for i in range(4)] == [1, 0, 1, 0]
    assert all(exact.answer(i).directions == [] for i in range(4))
    nearest = make_oracle("nearest-opposite", line_dataset(), label_noise=1.0)
    flipped = nearest.answer(0)  # said "b": the way leads to the nearest other "a", not to itself
    assert (flipped.label, flipped.targets) == (1, [0])
    np.testing.assert_allclose(flipped.directions[0], [3.0])


def test_nearest_opposite_never_picks_the_point_itself_in_many_dimensions():
    """float32 distances from a point to itself come out near 1e-6, not 0."""
    rng = np.random.default_rng(1)
    data = Dataset("wide", rng.standard_normal((60, 384)).astype(np.float32), np.arange(60) % 2,
                   ["a", "b"], np.arange(60), np.array([], int))
    for noise in (0.0, 1.0):
        oracle = make_oracle("nearest-opposite", data, label_noise=noise)
        lengths = [np.linalg.norm(oracle.answer(i).directions[0]) for i in range(60)]
        assert min(lengths) > 10  # random 384-D points lie about 27 apart


def test_label_noise_flips_at_its_rate_to_any_other_class():
    data = Dataset("many", np.zeros((3000, 2), np.float32), np.zeros(3000, dtype=np.int64),
                   ["a", "b", "c"], np.arange(3000), np.array([], int))
    labels = np.array([make_oracle("labels-only", data, label_noise=0.3).answer(i).label
                       for i in range(3000)])
    assert abs(np.mean(labels != 0) - 0.3) < 0.03
    assert abs(np.mean(labels == 1) - np.mean(labels == 2)) < 0.04


@pytest.mark.parametrize("n_features", [2, 384])
def test_angle_noise_rotates_by_the_given_spread_and_keeps_length(n_features):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, n_features)).astype(np.float32)
    revised = X + rng.standard_normal(X.shape).astype(np.float32)
    data = Dataset("noisy", X, np.arange(400) % 2, ["a", "b"], np.arange(400), np.array([], int),
                   counterfactual_X=revised)
    oracle = make_oracle("exact", data, angle_noise=20.0, seed=5)
    true = revised.astype(float) - X
    given = np.array([oracle.answer(i).directions[0] for i in range(400)])
    np.testing.assert_allclose(np.linalg.norm(given, axis=1), np.linalg.norm(true, axis=1),
                               rtol=1e-6)
    angles = [angle_between(g, t) for g, t in zip(given, true)]
    assert abs(np.mean(angles) - 20.0 * np.sqrt(2 / np.pi)) < 1.5  # mean of |N(0, 20 degrees)|


def test_answers_depend_on_seed_and_index_not_on_the_order_of_questions():
    data = load_dataset("blobs", n_samples=100)
    options = dict(label_noise=0.2, angle_noise=10.0, seed=7)
    forward = [make_oracle("nearest-opposite", data, **options).answer(i) for i in range(100)]
    backward_oracle = make_oracle("nearest-opposite", data, **options)
    backward = [backward_oracle.answer(i) for i in reversed(range(100))][::-1]
    reseeded = make_oracle("nearest-opposite", data, **{**options, "seed": 8})
    other = [reseeded.answer(i) for i in range(100)]
    for a, b in zip(forward, backward):
        assert (a.label, a.targets) == (b.label, b.targets)
        np.testing.assert_array_equal(a.directions[0], b.directions[0])
    assert [a.label for a in forward] != [a.label for a in other]


def test_labels_only_gives_no_directions():
    data = load_dataset("xor", n_samples=50)
    answers = [make_oracle("labels-only", data).answer(i) for i in range(50)]
    assert [a.label for a in answers] == list(data.y)
    assert all(a.directions == [] and a.how == "oracle-labels-only" for a in answers)


@pytest.mark.parametrize(
    "kind, options, message",
    [
        ("psychic", {}, "unknown oracle 'psychic'; choose one of: exact, nearest-opposite, labels"),
        ("labels-only", {"label_noise": 1.5}, r"label_noise is a probability in \[0, 1\]"),
        ("labels-only", {"angle_noise": -1.0}, "angle_noise is a standard deviation in degrees"),
        ("labels-only", {"seed": -1}, "seed must be a non-negative integer"),
        ("nearest-opposite", {"angle_noise": 5.0}, "needs at least two features"),
    ],
)
def test_bad_oracle_options_are_refused(kind, options, message):
    with pytest.raises(ValueError, match=message):
        make_oracle(kind, line_dataset(), **options)


def test_bad_indices_are_refused():
    oracle = make_oracle("labels-only", line_dataset())
    with pytest.raises(ValueError, match="index 5 is outside the data set's 5 points"):
        oracle.answer(5)
    with pytest.raises(ValueError, match="index must be an integer"):
        oracle.answer(1.0)
    assert oracle.answer(np.int64(1)).label == 1
