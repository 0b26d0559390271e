"""DirectionClassifier as a scikit-learn classifier, inside modAL, and as a learner."""

import numpy as np
import pytest
import torch
from modAL.models import ActiveLearner
from modAL.uncertainty import uncertainty_sampling
from scipy.stats import wilcoxon
from sklearn.base import clone, is_classifier
from sklearn.datasets import make_blobs, make_moons
from sklearn.exceptions import NotFittedError
from sklearn.utils.validation import check_is_fitted
from skorch import NeuralNet
from skorch.dataset import ValidSplit

from nudge.estimators import OBJECTIVES, DirectionClassifier, pack_targets
from nudge.strategies import compat  # noqa: F401  (modAL shim)

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
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
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


@pytest.mark.slow
def test_directions_move_the_boundary_towards_the_true_one():
    """Paired over 20 seeds: labels + directions beat labels only (one-sided Wilcoxon)."""
    seeds = range(20)
    ce = np.array([boundary_agreement("ce", s) for s in seeds])
    direction = np.array([boundary_agreement("direction", s) for s in seeds])
    assert direction.mean() > ce.mean()
    assert wilcoxon(direction, ce, alternative="greater").pvalue < 0.05


# ------------------------------------------------- scikit-learn's contract, pinned exactly
def test_classes_and_predictions_keep_the_labels_dtype():
    ints = small_net(max_epochs=2).fit(X_MOONS, Y_MOONS)
    assert ints.classes_.dtype == Y_MOONS.dtype and ints.predict(X_MOONS).dtype == Y_MOONS.dtype
    words = np.where(Y_MOONS == 1, "pos", "neg")
    strings = small_net(max_epochs=2, criterion="ce").fit(X_MOONS, words)
    assert strings.classes_.tolist() == ["neg", "pos"] and strings.predict(X_MOONS).dtype.kind == "U"
    declared = small_net(max_epochs=2, classes=[0.0, 1.0]).fit(X_MOONS, Y_MOONS)
    assert declared.classes_.dtype == np.float64  # the classes parameter's dtype wins


def test_packed_labels_come_back_in_the_declared_classes_dtype():
    """A session packs int labels 0..C-1 (floats inside y) and declares classes=list(range(C))."""
    packed = moons_with_directions()
    declared = small_net(max_epochs=2, classes=[0, 1]).fit(X_MOONS, packed)
    assert declared.classes_.dtype.kind == "i" and declared.predict(X_MOONS).dtype.kind == "i"
    undeclared = small_net(max_epochs=2).fit(X_MOONS, packed)
    assert undeclared.classes_.dtype == np.float64  # a packed y holds floats only
    np.testing.assert_array_equal(declared.predict(X_MOONS), undeclared.predict(X_MOONS))


def test_saved_classes_keep_their_dtype(tmp_path):
    net = small_net(max_epochs=2, classes=[0, 1]).fit(X_MOONS, moons_with_directions())
    net.save_weights(tmp_path / "model.safetensors")
    restored = small_net().load_weights(tmp_path / "model.safetensors")
    assert restored.classes_.dtype.kind == "i" and restored.predict(X_MOONS[:3]).dtype.kind == "i"


def test_modal_teach_keeps_int_predictions():
    packed = moons_with_directions()
    learner = ActiveLearner(small_net(max_epochs=2, classes=[0, 1], warm_start=True),
                            X_training=X_MOONS[:4], y_training=packed[:4])
    learner.teach(X_MOONS[4:8], packed[4:8])
    assert learner.predict(X_MOONS).dtype.kind == "i"


class PlainCrossEntropy(torch.nn.Module):
    """A researcher's own criterion: skorch cannot infer a nonlinearity for it."""

    def forward(self, logits, y, X, module):
        return torch.nn.functional.cross_entropy(logits, y[:, 0].long())


def test_auto_nonlinearity_is_the_softmax_even_for_a_custom_criterion():
    net = small_net(max_epochs=2, criterion=PlainCrossEntropy).fit(X_MOONS, Y_MOONS)
    expected = torch.softmax(torch.from_numpy(net.logits(X_MOONS)), dim=-1).numpy()
    np.testing.assert_array_equal(net.predict_proba(X_MOONS), expected)
    # skorch's own predict_proba goes through the same choice (its "auto" would give logits)
    np.testing.assert_allclose(NeuralNet.predict_proba(net, X_MOONS.astype(np.float32)), expected, rtol=1e-6, atol=1e-7)


def test_predict_nonlinearity_is_applied_to_the_logits():
    net = small_net(max_epochs=2).fit(X_MOONS, Y_MOONS)
    logits = net.logits(X_MOONS)
    net.set_params(predict_nonlinearity=None)
    np.testing.assert_array_equal(net.predict_proba(X_MOONS), logits)
    net.set_params(predict_nonlinearity=torch.sigmoid)
    np.testing.assert_allclose(net.predict_proba(X_MOONS), 1 / (1 + np.exp(-logits)), rtol=1e-6)
    net.set_params(predict_nonlinearity=torch.neg)  # predict follows predict_proba's argmax
    np.testing.assert_array_equal(net.predict(X_MOONS), net.classes_[logits.argmin(axis=1)])
    net.set_params(predict_nonlinearity="softmax")
    with pytest.raises(TypeError, match="callable, 'auto' or None"):
        net.predict_proba(X_MOONS)


def test_partial_fit_needs_classes_on_the_first_call():
    with pytest.raises(ValueError, match="first call to partial_fit"):
        small_net(max_epochs=1).partial_fit(X_MOONS, Y_MOONS)
    with pytest.raises(ValueError, match="differs from the classes parameter"):
        small_net(max_epochs=1, classes=[0, 1]).partial_fit(X_MOONS, Y_MOONS, classes=[0, 1, 2])
    from_parameter = small_net(max_epochs=1, classes=[0, 1, 2]).partial_fit(X_MOONS, Y_MOONS)
    np.testing.assert_array_equal(from_parameter.classes_, [0, 1, 2])


def test_partial_fit_uses_the_first_classes_and_checks_them_afterwards():
    net = small_net(max_epochs=1)
    net.partial_fit(X_MOONS, Y_MOONS, classes=[0, 1, 2])  # class 2 not seen yet
    assert net.classes_.tolist() == [0, 1, 2] and net.predict_proba(X_MOONS).shape == (120, 3)
    trained = weights(net)
    net.set_params(lr=0.0)
    net.partial_fit(X_MOONS[:3], [2, 2, 0])  # no learning: continued, not re-initialised
    assert all(torch.equal(a, b) for a, b in zip(trained, weights(net)))
    net.partial_fit(X_MOONS[:3], [2, 2, 0], classes=[2, 1, 0])  # the same classes, any order
    with pytest.raises(ValueError, match="differs from the classes fitted so far"):
        net.partial_fit(X_MOONS, Y_MOONS, classes=[0, 1])
    with pytest.raises(ValueError, match="not one of the classes"):
        net.partial_fit(X_MOONS[:2], [0, 3])


def test_an_initialized_network_is_not_fitted():
    net = small_net(module__n_features=2).initialize()
    with pytest.raises(NotFittedError):
        check_is_fitted(net)  # scikit-learn's test, through skorch's __sklearn_is_fitted__
    with pytest.raises(NotFittedError):
        net.predict(X_MOONS)


def test_a_standardised_mlp_reads_x_scaled_and_keeps_gradients_in_x_units():
    """(X - center) / scale enters the first layer: the logit of a linear model is w . (x - c) / s + b,
    so its gradient with respect to x is w / s, in the units of x."""
    from nudge.estimators import MLP

    module = MLP(2, n_classes=1, hidden=(), center=[1.0, -2.0], scale=[2.0, 0.5])
    with torch.no_grad():
        module.layers[0].weight.copy_(torch.tensor([[3.0, 1.0]]))
        module.layers[0].bias.zero_()
    x = torch.tensor([[5.0, -1.0]], requires_grad=True)
    logit = module(x)[0, 0]
    assert logit.item() == pytest.approx(3.0 * (5 - 1) / 2 + 1.0 * (-1 + 2) / 0.5)  # 6 + 2
    (gradient,) = torch.autograd.grad(logit, x)
    assert gradient.tolist() == [[1.5, 2.0]]
    assert set(module.state_dict()) >= {"center", "scale"}  # saved and loaded with the weights
    with pytest.raises(ValueError, match="scale must be positive"):
        MLP(2, center=[0, 0], scale=[1.0, 0.0])
    with pytest.raises(ValueError, match="center and scale need 2 values, got shape \\(3,\\)"):
        MLP(2, center=[0, 0, 0])
