"""Query strategies on hand-built pools whose right answers are known."""

import numpy as np
import pytest
import torch
from modAL.disagreement import max_disagreement_sampling
from modAL.disagreement import vote_entropy as modal_vote_entropy
from modAL.models import ActiveLearner, Committee
from modAL.uncertainty import entropy_sampling as modal_entropy_sampling
from modAL.uncertainty import margin_sampling as modal_margin_sampling
from modAL.uncertainty import uncertainty_sampling as modal_uncertainty_sampling
from sklearn.linear_model import LogisticRegression

from nudge.estimators import DirectionClassifier, pack_targets
from nudge.strategies import (
    STRATEGIES,
    boundary_distance,
    get_strategy,
    make_learner,
    needs_committee,
    select_queries,
)
from nudge.strategies.sampling import vote_entropy

# The linear boundary f(x) = w.x + b = 3 x1 + 4 x2 - 5, ||w|| = 5.
W, B = np.array([3.0, 4.0]), -5.0
NORMAL = W / np.linalg.norm(W)
TANGENT = np.array([-NORMAL[1], NORMAL[0]])
ON_BOUNDARY = np.array([0.6, 0.8])
MODEL_BASED = sorted(set(STRATEGIES) - {"random"})


def linear_net(weights, biases) -> DirectionClassifier:
    """A linear DirectionClassifier whose logits are X @ weights.T + biases (one row per class)."""
    weights = np.asarray(weights, dtype=np.float32)
    n_classes, n_features = weights.shape
    net = DirectionClassifier(
        module__hidden=(), criterion="ce", max_epochs=1, random_state=0, classes=list(range(n_classes))
    )
    net.fit(np.zeros((2, n_features)), np.zeros(2))
    with torch.no_grad():
        net.module_.layers[0].weight.copy_(torch.from_numpy(weights))
        net.module_.layers[0].bias.copy_(torch.tensor(biases, dtype=torch.float32))
    return net


def binary_linear_net(w=W, b=B) -> DirectionClassifier:
    """Two classes with logit difference z_1 - z_0 = w.x + b."""
    return linear_net([np.zeros_like(w), w], [0.0, b])


def pool_at(signed_distances, along=None) -> np.ndarray:
    """Points at the given signed distances from the boundary, spread along it."""
    t = np.asarray(signed_distances, dtype=float)
    along = np.arange(len(t), dtype=float) if along is None else np.asarray(along, dtype=float)
    return ON_BOUNDARY + t[:, None] * NORMAL + along[:, None] * TANGENT


DISTANCES = np.array([2.0, -0.3, 0.1, -1.0, 0.5, -0.05, -4.0, 0.7])
POOL = pool_at(DISTANCES)
BY_DISTANCE = np.argsort(np.abs(DISTANCES))  # [5, 2, 1, 4, 7, 3, 0, 6]


def probability_of_class_1(X) -> np.ndarray:
    return 1 / (1 + np.exp(-(X @ W + B)))


# ------------------------------------------------------------- known answers


def test_boundary_gives_the_exact_distance_to_a_linear_boundary():
    indices, scores = select_queries(make_learner(binary_linear_net()), POOL, 4, "boundary")
    np.testing.assert_array_equal(indices, BY_DISTANCE[:4])
    np.testing.assert_allclose(scores, np.abs(DISTANCES[BY_DISTANCE[:4]]), rtol=1e-5)
    np.testing.assert_allclose(
        boundary_distance(binary_linear_net(), POOL), np.abs(POOL @ W + B) / 5.0, rtol=1e-5
    )


@pytest.mark.parametrize(
    "name, formula",
    [
        ("uncertainty", lambda p: 1 - np.maximum(p, 1 - p)),
        ("margin", lambda p: np.abs(2 * p - 1)),
        ("entropy", lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))),
    ],
)
def test_modal_measures_pick_the_points_nearest_p_one_half(name, formula):
    indices, scores = select_queries(make_learner(binary_linear_net()), POOL, 3, name)
    np.testing.assert_array_equal(indices, BY_DISTANCE[:3])
    np.testing.assert_allclose(scores, formula(probability_of_class_1(POOL[indices])), rtol=1e-4)


def test_boundary_is_geometric_where_probabilities_are_not():
    """Three classes: a small logit gap between two nearly identical classes is far in x."""
    net = linear_net([[0.0, 0.0], [0.1, 0.0], [-10.0, 0.0]], [0.0, 0.0, 0.0])
    X = np.array([[1.0, 0.0], [0.05, 3.0]])  # margins 0.1 (over ||(0.1, 0)||) and 0.005
    np.testing.assert_allclose(boundary_distance(net, X), [1.0, 0.05], rtol=1e-4)
    X = np.array([[1.0, 0.0], [-0.28, 0.0]])  # the second sits near the 0 / 2 boundary x = 0
    uncertainty_pick, _ = select_queries(make_learner(net), X, 1, "uncertainty")
    boundary_pick, _ = select_queries(make_learner(net), X, 1, "boundary")
    assert uncertainty_pick.tolist() == [0] and boundary_pick.tolist() == [1]


def test_zero_gradient_counts_as_infinitely_far():
    flat = binary_linear_net(w=np.zeros(2), b=1.0)
    assert np.all(np.isinf(boundary_distance(flat, POOL)))
    indices, scores = select_queries(make_learner(flat), POOL, 3, "boundary")
    assert len(set(indices.tolist())) == 3 and np.all(np.isinf(scores))


def committee_of_shifted_boundaries() -> Committee:
    """Three linear members with boundaries x1 = -1, 0, 1 (logit difference x1 - c)."""
    x1 = np.array([1.0, 0.0])
    members = [ActiveLearner(binary_linear_net(w=x1, b=-shift)) for shift in [-1.0, 0.0, 1.0]]
    return Committee(members, query_strategy=STRATEGIES["committee"])


COMMITTEE_POOL = np.array([[-2.5, 0.0], [-0.5, 0.0], [0.4, 0.0], [3.0, 0.0], [1.6, 0.0]])


def test_committee_scores_the_spread_of_its_members():
    committee = committee_of_shifted_boundaries()
    p1 = 1 / (1 + np.exp(-(COMMITTEE_POOL[:, :1] - [-1.0, 0.0, 1.0])))  # (points, members)
    members = np.stack([1 - p1, p1], axis=-1)
    consensus = members.mean(axis=1, keepdims=True)
    kl_max = (members * np.log(members / consensus)).sum(axis=-1).max(axis=1)
    indices, scores = select_queries(committee, COMMITTEE_POOL, 5, "committee")
    np.testing.assert_array_equal(indices, np.argsort(-kl_max))
    np.testing.assert_allclose(scores, kl_max[indices], rtol=1e-4)


def test_vote_entropy_is_modals_without_the_loop():
    committee = committee_of_shifted_boundaries()
    third = -(np.log(1 / 3) / 3 + 2 * np.log(2 / 3) / 3)
    expected = [0.0, third, third, 0.0, 0.0]
    np.testing.assert_allclose(vote_entropy(committee, COMMITTEE_POOL), expected, atol=1e-12)
    np.testing.assert_allclose(modal_vote_entropy(committee, COMMITTEE_POOL), expected, atol=1e-12)
    indices, _ = select_queries(committee, COMMITTEE_POOL, 2, "committee", measure="vote_entropy")
    assert set(indices.tolist()) == {1, 2}


def test_diverse_takes_one_point_from_each_stretch_of_the_boundary():
    near_a = pool_at([0.01, 0.02, 0.03, 0.04], along=10 + np.arange(4) * 0.01)
    near_b = pool_at([0.06, 0.07, 0.08], along=-10 - np.arange(3) * 0.01)
    far = pool_at([3.0, -2.0], along=[30.0, -30.0])  # far along the boundary, but far from it too
    X = np.vstack([near_a, near_b, far])
    learner = make_learner(binary_linear_net())
    boundary_pick, _ = select_queries(learner, X, 2, "boundary")
    assert boundary_pick.tolist() == [0, 1]  # two near-duplicates
    indices, scores = select_queries(learner, X, 2, "diverse", candidates_per_query=3)
    assert indices.tolist() == [0, 5]  # the best, then the farthest of the other 5 candidates
    np.testing.assert_allclose(scores, [0.01, 0.07], rtol=1e-4)


def test_diverse_never_repeats_a_point_even_among_duplicates():
    X = np.vstack([POOL, POOL, POOL])
    for base in ["boundary", "uncertainty"]:
        indices, _ = select_queries(make_learner(binary_linear_net()), X, len(X), "diverse", base=base)
        assert sorted(indices.tolist()) == list(range(len(X)))


# ---------------------------------------------------------------- the pool


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_unavailable_points_are_never_asked(name):
    if name == "committee":
        learner, X = committee_of_shifted_boundaries(), np.vstack([COMMITTEE_POOL, -COMMITTEE_POOL])
    else:
        learner, X = make_learner(binary_linear_net()), POOL
    rng = np.random.default_rng(0)
    for _ in range(5):
        available = rng.random(len(X)) < 0.6
        k = int(available.sum())
        if k == 0:
            continue
        indices, scores = select_queries(learner, X, k, name, available=available, random_state=0)
        assert indices.dtype.kind == "i" and scores.dtype == float
        assert sorted(indices.tolist()) == np.flatnonzero(available).tolist()


def test_unavailable_best_points_give_way_to_the_next_best():
    available = np.ones(len(POOL), bool)
    available[BY_DISTANCE[:2]] = False
    indices, _ = select_queries(make_learner(binary_linear_net()), POOL, 2, available=available)
    np.testing.assert_array_equal(indices, BY_DISTANCE[2:4])


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_asking_for_more_than_is_available_says_how_many_are(name):
    available = np.zeros(len(POOL), bool)
    available[:2] = True
    with pytest.raises(ValueError, match="asked for 3 queries but only 2 pool points are available"):
        select_queries(make_learner(binary_linear_net()), POOL, 3, name, available=available)


@pytest.mark.parametrize("bad", [0, -1, 1.5, True])
def test_n_instances_must_be_a_positive_integer(bad):
    with pytest.raises(ValueError, match="n_instances must be a positive integer"):
        select_queries(make_learner(binary_linear_net()), POOL, bad)


def test_bad_requests_get_clear_errors():
    learner = make_learner(binary_linear_net())
    with pytest.raises(ValueError, match="boolean mask .* shape \\(8,\\)"):
        select_queries(learner, POOL, 1, available=np.ones(7, bool))
    with pytest.raises(ValueError, match="boolean mask"):
        select_queries(learner, POOL, 1, available=np.ones(8))
    with pytest.raises(ValueError, match="unknown strategy 'closest'.*'boundary'"):
        get_strategy("closest")
    with pytest.raises(ValueError, match="needs a modAL Committee"):
        select_queries(learner, POOL, 1, "committee")
    with pytest.raises(ValueError, match="unknown committee measure"):
        select_queries(committee_of_shifted_boundaries(), POOL, 1, "committee", measure="vote")
    with pytest.raises(ValueError, match="unknown base 'nearest'"):
        select_queries(learner, POOL, 1, "diverse", base="nearest")
    with pytest.raises(ValueError, match="needs an estimator with margin_and_gradient"):
        logistic = LogisticRegression().fit(POOL, DISTANCES > 0)
        select_queries(ActiveLearner(logistic), POOL, 1, "boundary")
    with pytest.raises(ValueError, match="at least 2 members"):
        make_learner(binary_linear_net(), "committee", committee_size=1)


def test_random_is_seeded_and_ignores_the_model():
    unfitted = make_learner(DirectionClassifier())
    first = select_queries(unfitted, POOL, 5, "random", random_state=3)
    again = select_queries(make_learner(binary_linear_net()), POOL, 5, "random", random_state=3)
    np.testing.assert_array_equal(first[0], again[0])
    assert len(set(first[0].tolist())) == 5 and np.all(first[1] == 0)


# --------------------------------------------------------------- cold start

CENTRES = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
SIZES = [50, 30, 20]
CLUSTERS = np.vstack(
    [c + np.random.default_rng(i).normal(size=(s, 2)) for i, (c, s) in enumerate(zip(CENTRES, SIZES))]
)
CLUSTER_OF = np.repeat([0, 1, 2], SIZES)


@pytest.mark.parametrize("name", MODEL_BASED)
def test_cold_start_covers_the_pool_and_repeats_for_a_seed(name):
    estimator = DirectionClassifier(max_epochs=1, random_state=0)
    learner = make_learner(estimator, name, committee_size=2)
    indices, scores = select_queries(learner, CLUSTERS, 3, name, random_state=0)
    assert CLUSTER_OF[indices].tolist() == [0, 1, 2]  # one per cluster, largest first
    np.testing.assert_allclose(scores, [0.5, 0.3, 0.2])
    np.testing.assert_array_equal(select_queries(learner, CLUSTERS, 3, name, random_state=0)[0], indices)
    np.testing.assert_array_equal(learner.query(CLUSTERS, n_instances=3, random_state=0)[0], indices)


def test_cold_start_on_fewer_distinct_points_than_queries():
    X = np.repeat([[0.0, 0.0], [5.0, 5.0]], 4, axis=0)
    learner = make_learner(DirectionClassifier())
    indices, scores = select_queries(learner, X, 3, random_state=0)
    assert len(set(indices.tolist())) == 3 and sorted(X[indices[:2], 0]) == [0.0, 5.0]
    np.testing.assert_allclose(scores, [0.5, 0.5, 0.0])


@pytest.mark.parametrize("name", MODEL_BASED)
def test_one_class_labelled_explores_far_from_the_labels(name):
    estimator = DirectionClassifier(classes=[0, 1], max_epochs=5, random_state=0, module__hidden=(4,))
    labelled = np.array([[0.0, 0.0]])
    learner = make_learner(
        estimator, name, committee_size=2, X_training=labelled, y_training=np.zeros(1)
    )
    X = np.array([[10.0, 0.0], [-3.0, 0.0], [0.0, 2.0], [1.0, 0.0], [0.0, 0.0]])
    available = np.array([True, True, True, True, False])
    indices, scores = select_queries(learner, X, 2, name, available=available)
    assert indices.tolist() == [0, 1]  # farthest from (0, 0), then farthest from both
    np.testing.assert_allclose(scores, [10.0, 3.0])


# ------------------------------------------------------------ modAL learners


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_strategy_works_through_modal_query_and_teach(name):
    X = pool_at(np.linspace(-2, 2, 40), along=np.sin(np.arange(40)) * 3)
    y = (X @ W + B > 0).astype(int)
    packed = pack_targets(y, [NORMAL * (1 - 2 * label) for label in y], n_features=2, classes=[0, 1])
    estimator = DirectionClassifier(max_epochs=3, random_state=7, module__hidden=(4,))
    learner = make_learner(estimator, name, X_training=X[::4], y_training=packed[::4])
    indices, rows, scores = learner.query(X, n_instances=3, return_metrics=True)
    assert len(set(indices.tolist())) == 3 and scores.shape == (3,)
    np.testing.assert_array_equal(rows, X[indices])
    learner.teach(X[indices], packed[indices])
    for member in getattr(learner, "learner_list", [learner]):
        assert member.X_training.shape == (13, 2) and member.y_training.shape == (13, packed.shape[1])
        np.testing.assert_array_equal(member.estimator.classes_, [0, 1])
    assert learner.predict(X).shape == (40,)


def test_committee_members_are_clones_with_successive_seeds():
    estimator = DirectionClassifier(max_epochs=1, random_state=7, module__hidden=(4,))
    committee = make_learner(estimator, "committee", committee_size=3)
    assert [member.estimator.random_state for member in committee] == [7, 8, 9]
    assert all(member.estimator is not estimator for member in committee)
    committee.teach(POOL, pack_targets(DISTANCES > 0, None, n_features=2, classes=[0, 1]))
    first, second = (member.estimator.module_.layers[0].weight for member in list(committee)[:2])
    assert not torch.equal(first, second)
    assert estimator.random_state == 7


def test_a_single_cold_start_query_is_the_point_nearest_the_mean():
    learner = make_learner(DirectionClassifier())
    indices, scores = select_queries(learner, CLUSTERS, 1, random_state=0)
    nearest_mean = np.argmin(np.linalg.norm(CLUSTERS - CLUSTERS.mean(axis=0), axis=1))
    assert indices.tolist() == [nearest_mean] and scores.tolist() == [1.0]
    available = np.arange(len(CLUSTERS)) >= 50  # the big cluster taken: the mean of the other two
    indices, _ = select_queries(learner, CLUSTERS, 1, available=available, random_state=0)
    rest = CLUSTERS[50:]
    assert indices.tolist() == [50 + np.argmin(np.linalg.norm(rest - rest.mean(axis=0), axis=1))]


# ------------------------------------------ modAL's own strategies, functions of yours

P_ONE_HALF = [
    (modal_uncertainty_sampling, lambda p: 1 - np.maximum(p, 1 - p)),
    (modal_margin_sampling, lambda p: np.abs(2 * p - 1)),
    (modal_entropy_sampling, lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))),
]


@pytest.mark.parametrize("strategy, formula", P_ONE_HALF, ids=lambda f: getattr(f, "__name__", ""))
def test_modals_own_strategies_choose_among_the_available_points_only(strategy, formula):
    available = np.ones(len(POOL), bool)
    available[BY_DISTANCE[:2]] = False  # the two nearest p = 1/2 are leased or labelled
    indices, scores = select_queries(make_learner(binary_linear_net(), strategy), POOL, 3, strategy,
                                     available=available, random_state=0)
    assert sorted(indices.tolist()) == sorted(BY_DISTANCE[2:5].tolist())  # modAL's order: a partial sort
    np.testing.assert_allclose(scores, formula(probability_of_class_1(POOL[indices])), rtol=1e-4)


def test_modals_disagreement_strategies_get_a_committee_and_the_available_points():
    assert needs_committee(max_disagreement_sampling)
    assert isinstance(make_learner(DirectionClassifier(random_state=0), max_disagreement_sampling), Committee)
    available = np.array([True, False, True, True, True])  # point 1 disagrees most, point 2 next
    indices, _ = select_queries(committee_of_shifted_boundaries(), COMMITTEE_POOL, 1, max_disagreement_sampling,
                                available=available)
    assert indices.tolist() == [2]


def test_a_function_gets_nudges_keywords_only_when_it_names_them():
    seen = []

    def modal_style(learner, X, n_instances=1, **predict_kwargs):
        seen.append((len(X), predict_kwargs))
        return np.arange(n_instances)

    def with_keywords(learner, X_pool, n_instances=1, *, available=None, random_state=None):
        seen.append((len(X_pool), {"available": available, "random_state": random_state}))
        return np.flatnonzero(available)[:n_instances], np.ones(n_instances)

    available = np.array([False, True, False, True, True, False, True, True])
    indices, scores = select_queries(None, POOL, 2, modal_style, available=available, random_state=3)
    assert seen.pop() == (5, {}) and indices.tolist() == [1, 3]  # rows 0, 1 of the available ones
    assert np.isnan(scores).all() and scores.shape == (2,)  # indices alone: no scores
    indices, scores = select_queries(None, POOL, 2, with_keywords, available=available, random_state=3)
    size, keywords = seen.pop()
    assert size == 8 and keywords["random_state"] == 3 and keywords["available"] is available
    assert indices.tolist() == [1, 3] and scores.tolist() == [1.0, 1.0]


@pytest.mark.parametrize("answer, message", [
    (([0, 0], [1.0, 1.0]), r"returned \[0, 0\]; expected 2 distinct indices from 0 to 7"),
    (([0, 8], [1.0, 1.0]), r"returned \[0, 8\]; expected 2 distinct indices from 0 to 7"),
    (([0], [1.0]), r"returned int64 indices of shape \(1,\); expected 2 integer indices"),
    (([0.0, 1.0], [1.0, 1.0]), r"returned float64 indices"),
    (([0, 1], [1.0]), r"returned scores of shape \(1,\); expected one per query"),
    (([0, 2], [1.0, 1.0]), r"chose points marked unavailable: \[2\]"),
])
def test_a_function_that_breaks_the_contract_is_named_and_nothing_is_asked(answer, message):
    def careless(learner, X_pool, n_instances=1, *, available=None):
        return tuple(np.asarray(part) for part in answer)

    available = np.array([True, True, False, True, True, True, True, True])
    with pytest.raises(ValueError, match="the strategy .*careless " + message):
        select_queries(None, POOL, 2, careless, available=available)
