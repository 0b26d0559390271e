"""DirectionClassifier as a scikit-learn classifier, inside modAL, and as a learner."""

import numpy as np
import pytest
import torch
from scipy.stats import wilcoxon
from skorch.dataset import ValidSplit
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_blobs, make_moons

from estimators import OBJECTIVES, DirectionClassifier, pack_targets
from strategies import compat  # noqa: F401  (modAL shim)
from modAL.models import ActiveLearner
from modAL.uncertainty import uncertainty_sampling

X_MOONS, Y_MOONS = make_moons(120, noise=0.1, random_state=0)


def moons_with_directions(every: int = 2) -> np.ndarray:
    directions = [np.array([0.0, 2.0 * label - 1.0]) if i % every == 0 else None
                  for i, label in enumerate(Y_MOONS)]
    return pack_targets(Y_MOONS, directions, n_features=2, classes=[0, 1])


def small_net(**kwargs) -> DirectionClassifier:
    defaults = dict(max_epochs=30, random_state=0, module__hidden=(16,))
    return DirectionClassifier(**{**defaults, **kwargs})


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_every_objective_fits_and_gives_probabilities(objective):
    net = small_net(criterion=objective).fit(X_MOONS, moons_with_directions())
    proba = net.predict_proba(X_MOONS)
    assert proba.shape == (len(X_MOONS), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert np.all((proba >= 0) & (proba <= 1))
    assert set(net.predict(X_MOONS)) <= {0, 1}
    assert net.score(X_MOONS, Y_MOONS) > 0.8
    assert is_classifier(net)
    np.testing.assert_array_equal(net.classes_, [0, 1])


@pytest.mark.parametrize("objective", sorted(OBJECTIVES))
def test_multiclass_probabilities_sum_to_one(objective):
    X, y = make_blobs(90, centers=3, random_state=1)
    directions = [None] * 90
    directions[0] = np.array([1.0, 0.0])
    packed = pack_targets(y, directions, targets=[(y[0] + 1) % 3] + [None] * 89, n_features=2)
    net = small_net(criterion=objective).fit(X, packed)
    proba = net.predict_proba(X)
    assert proba.shape == (90, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    assert net.score(X, y) > 0.9


def test_plain_labels_and_string_labels_work():
    labels = np.where(Y_MOONS == 1, "pos", "neg")
    net = small_net(criterion="ce").fit(X_MOONS, labels)
    assert set(net.predict(X_MOONS)) <= {"pos", "neg"}
    assert net.score(X_MOONS, labels) > 0.8


def test_same_seed_same_model_and_other_seed_other_model():
    y = moons_with_directions()
    a = small_net(random_state=3).fit(X_MOONS, y).predict_proba(X_MOONS)
    b = small_net(random_state=3).fit(X_MOONS, y).predict_proba(X_MOONS)
    c = small_net(random_state=4).fit(X_MOONS, y).predict_proba(X_MOONS)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_seeding_leaves_the_global_rng_alone():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    small_net().fit(X_MOONS, Y_MOONS)
    assert torch.equal(torch.rand(1), expected)


def weights(net):
    return [p.detach().clone() for p in net.module_.parameters()]


def test_warm_start_continues_from_previous_weights():
    net = small_net(warm_start=True).fit(X_MOONS, Y_MOONS)
    trained = weights(net)
    net.set_params(lr=0.0)
    net.fit(X_MOONS, Y_MOONS)  # no learning: a warm start must keep the weights
    assert all(torch.equal(a, b) for a, b in zip(trained, weights(net)))
    net.set_params(warm_start=False)
    net.fit(X_MOONS, Y_MOONS)  # cold: re-initialised, not trained
    assert not all(torch.equal(a, b) for a, b in zip(trained, weights(net)))


def test_save_and_load_weights_round_trip(tmp_path):
    net = small_net().fit(X_MOONS, moons_with_directions())
    path = tmp_path / "model.safetensors"
    net.save_weights(path)
    restored = small_net().load_weights(path)
    np.testing.assert_array_equal(restored.predict_proba(X_MOONS), net.predict_proba(X_MOONS))
    np.testing.assert_array_equal(restored.classes_, net.classes_)


def test_loading_a_foreign_file_is_a_clear_error(tmp_path):
    path = tmp_path / "not-weights.bin"
    path.write_bytes(b"\x80\x04garbage pickle")
    with pytest.raises(ValueError, match="not a nudge weights file"):
        small_net().load_weights(path)


def test_clone_keeps_settings():
    net = small_net(criterion="gradient-supervision", criterion__lam=2.0, classes=[0, 1])
    copy = clone(net)
    assert copy.get_params()["criterion__lam"] == 2.0
    assert copy.classes == [0, 1]
    assert copy.criterion == "gradient-supervision"


def test_validation_split_works_with_the_direction_loss():
    net = small_net(train_split=ValidSplit(0.25, random_state=0)).fit(X_MOONS, moons_with_directions(every=1))
    valid = net.history[:, "valid_loss"]
    assert len(valid) == 30 and np.all(np.isfinite(valid))
    ce_only = small_net(train_split=ValidSplit(0.25, random_state=0), criterion="ce")
    ce_only.fit(X_MOONS, moons_with_directions(every=1))
    # same data and seed: the validation losses differ because the direction term counts
    assert valid[0] != ce_only.history[0, "valid_loss"]


def test_bad_inputs_are_rejected_with_clear_errors():
    net = small_net()
    X = X_MOONS.copy()
    X[3, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.fit(X, Y_MOONS)
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity|inf"):
        net.fit(X, Y_MOONS)
    with pytest.raises(ValueError, match="one class only"):
        net.fit(X_MOONS, np.zeros(len(X_MOONS)))
    with pytest.raises(ValueError, match="rows"):
        net.fit(X_MOONS, Y_MOONS[:-1])
    packed = moons_with_directions()
    packed[0, 3:] = 0.0  # zero-length direction in a used slot
    with pytest.raises(ValueError, match="zero length"):
        net.fit(X_MOONS, packed)
    net.fit(X_MOONS, Y_MOONS)
    with pytest.raises(ValueError, match="features"):
        net.predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="NaN"):
        net.predict_proba(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="not one of the classes"):
        net.set_params(warm_start=True).fit(X_MOONS[:2], [0, 5])


def test_one_class_is_fine_when_classes_are_declared():
    net = small_net(classes=[0, 1]).fit(X_MOONS[:3], [1, 1, 1])
    assert net.predict_proba(X_MOONS).shape == (len(X_MOONS), 2)
    assert set(net.predict(X_MOONS)) == {1}


def test_inside_modal_active_learner_query_and_teach():
    packed = moons_with_directions()
    learner = ActiveLearner(
        small_net(classes=[0, 1], warm_start=True), uncertainty_sampling,
        X_training=X_MOONS[:4], y_training=packed[:4],
    )
    indices, _ = learner.query(X_MOONS[4:], n_instances=3)
    assert len(set(indices)) == 3
    learner.teach(X_MOONS[4:][indices], packed[4:][indices])
    assert learner.y_training.shape == (7, packed.shape[1])
    assert learner.predict_proba(X_MOONS).shape == (len(X_MOONS), 2)


def test_margin_and_gradient_match_autograd_per_row():
    net = small_net().fit(X_MOONS, Y_MOONS)
    margin, gradient = net.margin_and_gradient(X_MOONS, batch_size=7)
    np.testing.assert_allclose(margin, np.abs(net.decision_function(X_MOONS)), rtol=1e-5, atol=1e-6)
    for i in (0, 50, 119):
        x = torch.tensor(X_MOONS[i : i + 1], dtype=torch.float32, requires_grad=True)
        logits = net.module_(x)[0]
        f = logits[1] - logits[0]
        (expected,) = torch.autograd.grad(f.abs(), x)
        np.testing.assert_allclose(gradient[i], expected[0].numpy(), rtol=1e-4, atol=1e-6)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_cuda_device():
    net = small_net(device="cuda").fit(X_MOONS, moons_with_directions())
    assert net.predict_proba(X_MOONS).shape == (len(X_MOONS), 2)


def boundary_agreement(objective: str, seed: int) -> float:
    """Accuracy against a known tilted linear boundary after training on 6 labels.

    The true class is 1 where x2 > 0.5 x1. Each labelled point also gets the
    exact direction: the boundary normal, pointing to the other class.
    """
    rng = np.random.default_rng(seed)
    normal = np.array([-0.5, 1.0]) / np.linalg.norm([-0.5, 1.0])
    def truth(points):
        return (points @ normal > 0).astype(int)
    X_train = rng.uniform(-2, 2, size=(6, 2))
    y_train = truth(X_train)
    while len(set(y_train)) < 2:
        X_train = rng.uniform(-2, 2, size=(6, 2))
        y_train = truth(X_train)
    directions = [normal * (1.0 - 2.0 * label) for label in y_train]
    packed = pack_targets(y_train, directions, n_features=2, classes=[0, 1])
    net = DirectionClassifier(criterion=objective, max_epochs=150, random_state=seed, module__hidden=(16,))
    net.fit(X_train, packed)
    X_test = rng.uniform(-2, 2, size=(4000, 2))
    return float((net.predict(X_test) == truth(X_test)).mean())


def test_directions_move_the_boundary_towards_the_true_one():
    """Paired over 20 seeds: labels + directions beat labels only (one-sided Wilcoxon)."""
    seeds = range(20)
    ce = np.array([boundary_agreement("ce", s) for s in seeds])
    direction = np.array([boundary_agreement("direction", s) for s in seeds])
    assert direction.mean() > ce.mean()
    assert wilcoxon(direction, ce, alternative="greater").pvalue < 0.05
