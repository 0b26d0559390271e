"""The direction loss and gradient supervision, against hand-computed values.

On a logistic-regression module (one linear layer, two logits) the input
gradient is known in closed form: with w = W_1 - W_0 and b = b_1 - b_0,
f(x) = w.x + b, p = sigmoid(f), grad_x p = p (1 - p) w.
"""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nudge.estimators import MLP, DirectionObjective, direction_loss, gradient_supervision_loss, pack_targets


@pytest.fixture(autouse=True)
def double_precision():
    previous = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(previous)


def linear_module(w: list[float], b: float) -> MLP:
    """Two-logit linear model with f = z_1 - z_0 = w.x + b."""
    module = MLP(n_features=len(w), n_classes=2, hidden=()).double()
    with torch.no_grad():
        module.layers[0].weight.copy_(torch.tensor([[0.0] * len(w), w]))
        module.layers[0].bias.copy_(torch.tensor([0.0, b]))
    return module


def packed(labels, directions, n_features=2) -> torch.Tensor:
    return torch.as_tensor(pack_targets(labels, directions, n_features=n_features, classes=[0, 1]))


W, B = [2.0, -1.0], 0.3
X = torch.tensor([[0.5, 0.2], [-0.4, 0.9], [1.2, -0.3]], dtype=torch.float64)
LABELS = [1, 0, 1]
DIRECTIONS = [np.array([-1.0, 0.5]), np.array([3.0, 4.0]), np.array([0.0, -2.0])]


def closed_form_violation(derivative: str, normalize: bool = True) -> np.ndarray:
    """v_i = s_i * g_i . k_i with g = grad p (probability) or grad f (logit)."""
    w = np.array(W)
    f = X.numpy() @ w + B
    p = 1 / (1 + np.exp(-f))
    scale = p * (1 - p) if derivative == "probability" else np.ones_like(p)
    s = 2 * np.array(LABELS) - 1
    k = np.array(DIRECTIONS)
    if normalize:
        k = k / np.linalg.norm(k, axis=1, keepdims=True)
    return s * scale * (k @ w)


@pytest.mark.parametrize("derivative", ["probability", "logit"])
@pytest.mark.parametrize("normalize", [True, False])
def test_softplus_direction_loss_matches_closed_form(derivative, normalize):
    t = 10.0
    v = closed_form_violation(derivative, normalize)
    expected = np.mean(np.log1p(np.exp(t * v)) / t)
    loss = direction_loss(
        linear_module(W, B), X, packed(LABELS, DIRECTIONS),
        temperature=t, derivative=derivative, normalize=normalize,
    )
    assert loss.item() == pytest.approx(expected, rel=1e-10)


@pytest.mark.parametrize(
    "hinge, formula",
    [("relu", lambda v, t: np.maximum(v, 0)), ("tanh", lambda v, t: np.tanh(t * v) + 1)],
)
def test_hinge_variants_match_closed_form(hinge, formula):
    v = closed_form_violation("probability")
    loss = direction_loss(linear_module(W, B), X, packed(LABELS, DIRECTIONS), temperature=3.0, hinge=hinge)
    assert loss.item() == pytest.approx(np.mean(formula(v, 3.0)), rel=1e-10)


@pytest.mark.parametrize("margin", [0.0, 0.3, 1.0])
def test_cosine_derivative_with_margin_matches_closed_form(margin):
    """d = cos(-s w, k) (the gap's gradient is -s w); v = margin - d, relu hinge."""
    w, s, k = np.array(W), 2 * np.array(LABELS) - 1, np.array(DIRECTIONS)
    cos = (-s[:, None] * w * k).sum(1) / (np.linalg.norm(w) * np.linalg.norm(k, axis=1))
    loss = direction_loss(
        linear_module(W, B), X, packed(LABELS, DIRECTIONS), hinge="relu", derivative="cosine", margin=margin,
    )
    assert loss.item() == pytest.approx(np.mean(np.maximum(margin - cos, 0)), rel=1e-10)


def test_a_satisfied_cosine_hinge_costs_nothing_and_pushes_nothing():
    """A direction that crosses into the other class with cos above the margin: zero loss, zero gradient."""
    module = linear_module(W, B)
    k = -np.array(W)  # class 1 at x: moving along -w lowers f, cos = 1
    loss = direction_loss(module, X[:1], packed([1], [k]), hinge="relu", derivative="cosine", margin=0.5)
    loss.backward()
    assert loss.item() == 0.0
    assert not module.layers[0].weight.grad.any()


def test_direction_loss_parameter_gradient_matches_closed_form():
    """dL/dw for L = softplus(t v)/t, v = s p(1-p) w.k (one point, unit k)."""
    t, x, k = 10.0, np.array([0.5, 0.2]), np.array([0.6, 0.8])
    w, b, s = np.array(W), B, 1.0
    p = 1 / (1 + np.exp(-(x @ w + b)))
    v = s * p * (1 - p) * (w @ k)
    dv_dw = s * ((1 - 2 * p) * p * (1 - p) * (w @ k) * x + p * (1 - p) * k)
    dv_db = s * (1 - 2 * p) * p * (1 - p) * (w @ k)
    dL_dv = 1 / (1 + np.exp(-t * v))  # derivative of softplus(t v)/t

    module = linear_module(W, B)
    loss = direction_loss(module, torch.tensor(x[None]), packed([1], [k]), temperature=t)
    loss.backward()
    weight_grad = module.layers[0].weight.grad.numpy()
    bias_grad = module.layers[0].bias.grad.numpy()
    # w = W_1 - W_0: the class-1 row gets +dL/dw, the class-0 row -dL/dw.
    np.testing.assert_allclose(weight_grad[1], dL_dv * dv_dw, rtol=1e-10)
    np.testing.assert_allclose(weight_grad[0], -dL_dv * dv_dw, rtol=1e-10)
    np.testing.assert_allclose(bias_grad, [-dL_dv * dv_db, dL_dv * dv_db], rtol=1e-10)


def test_gradient_supervision_matches_closed_form():
    """g_y = -s grad f = -s w; L_gs = mean 1 - cos(g_y, k); its w-gradient too."""
    w = np.array(W)
    s = 2 * np.array(LABELS) - 1
    k = np.array(DIRECTIONS)
    g = -s[:, None] * w
    cos = (g * k).sum(1) / (np.linalg.norm(g, axis=1) * np.linalg.norm(k, axis=1))
    module = linear_module(W, B)
    loss = gradient_supervision_loss(module, X, packed(LABELS, DIRECTIONS))
    assert loss.item() == pytest.approx(np.mean(1 - cos), rel=1e-10)

    # dL/dw = -dcos/dg . dg/dw = s dcos/dg, with dcos/dg = k/(|g||k|) - (g.k) g/(|g|^3 |k|)
    def point_loss_grad(si, ki):
        gi = -si * w
        ng, nk = np.linalg.norm(gi), np.linalg.norm(ki)
        dcos_dg = ki / (ng * nk) - (gi @ ki) * gi / (ng**3 * nk)
        return si * dcos_dg

    expected = np.mean([point_loss_grad(si, ki) for si, ki in zip(s, k)], axis=0)
    loss.backward()
    np.testing.assert_allclose(module.layers[0].weight.grad.numpy()[1], expected, rtol=1e-9)


def test_direction_into_other_class_is_free_and_deeper_into_own_is_penalised():
    """With f = w.x + b and a class-1 point, -w leads to class 0, +w deeper into class 1."""
    module, x = linear_module(W, B), torch.tensor([[0.5, 0.2]])
    towards_other = direction_loss(module, x, packed([1], [-np.array(W)]), hinge="relu")
    deeper_own = direction_loss(module, x, packed([1], [np.array(W)]), hinge="relu")
    assert towards_other.item() == 0.0
    assert deeper_own.item() > 0.0
    soft_other = direction_loss(module, x, packed([1], [-np.array(W)]), temperature=10.0)
    soft_own = direction_loss(module, x, packed([1], [np.array(W)]), temperature=10.0)
    assert soft_other.item() < math.log(2) / 10 < soft_own.item()
    # and symmetrically for a class-0 point: +w leads to class 1
    assert direction_loss(module, x, packed([0], [np.array(W)]), hinge="relu").item() == 0.0
    assert direction_loss(module, x, packed([0], [-np.array(W)]), hinge="relu").item() > 0.0


def test_masked_points_contribute_exactly_zero():
    module = MLP(n_features=2, hidden=(8,)).double()
    annotated = direction_loss(module, X[:1], packed([1], DIRECTIONS[:1]))
    with_unannotated = torch.cat([X[:1], torch.randn(5, 2)])
    y = packed([1, 0, 1, 0, 1, 0], [DIRECTIONS[0]] + [None] * 5)
    mixed_x = with_unannotated.clone().requires_grad_(True)
    mixed = direction_loss(module, mixed_x, y)
    assert mixed.item() == annotated.item()
    # and no gradient flows from the unannotated points
    params = list(module.parameters())
    g_annotated = torch.autograd.grad(annotated, params)
    g_mixed = torch.autograd.grad(direction_loss(module, with_unannotated, y), params)
    for a, b in zip(g_annotated, g_mixed):
        assert torch.equal(a, b)
    assert direction_loss(module, X, packed(LABELS, [None] * 3)).item() == 0.0


def test_several_directions_per_point_mean_and_sum():
    module = linear_module(W, B)
    x = X[:1]
    single = [direction_loss(module, x, packed([1], [d])).item() for d in (DIRECTIONS[0], DIRECTIONS[2])]
    both = packed([1], [np.stack([DIRECTIONS[0], DIRECTIONS[2]])])
    assert direction_loss(module, x, both).item() == pytest.approx(np.mean(single), rel=1e-12)
    assert direction_loss(module, x, both, per_point="sum").item() == pytest.approx(sum(single), rel=1e-12)


def test_opposite_directions_do_not_cancel():
    """Each direction passes the hinge on its own (unlike summing directions first)."""
    module, x = linear_module(W, B), X[:1]
    k = np.array([1.0, 0.0])
    both = direction_loss(module, x, packed([1], [np.stack([k, -k])]), hinge="relu")
    assert both.item() > 0.0


def test_zero_length_direction_is_rejected_not_nan():
    with pytest.raises(ValueError, match="zero length"):
        pack_targets([1], [np.zeros(2)], n_features=2, classes=[0, 1])
    y = packed([1], [DIRECTIONS[0]])
    y[0, 3:] = 0.0  # a zero vector smuggled into a used slot
    with pytest.raises(ValueError, match="zero length"):
        direction_loss(linear_module(W, B), X[:1], y)
    with pytest.raises(ValueError, match="zero length"):
        gradient_supervision_loss(linear_module(W, B), X[:1], y)


def test_nan_and_infinite_directions_are_rejected():
    for bad in (np.array([np.nan, 1.0]), np.array([np.inf, 0.0])):
        with pytest.raises(ValueError, match="NaN or infinite"):
            pack_targets([1], [bad], n_features=2, classes=[0, 1])


def test_gradcheck_double_backpropagated_loss():
    """The loss differentiates through input gradients correctly (first and second order)."""
    torch.manual_seed(0)
    x = torch.randn(4, 3)
    y = torch.as_tensor(
        pack_targets([0, 1, 1, 0], [np.array([1.0, 0.0, 2.0]), None, np.array([0.5, -1, 1]), np.array([0, 1.0, 0])],
                     n_features=3, classes=[0, 1])
    )
    params = [torch.randn(5, 3, requires_grad=True), torch.randn(5, requires_grad=True),
              torch.randn(2, 5, requires_grad=True), torch.randn(2, requires_grad=True)]

    def loss(W1, b1, W2, b2, derivative):
        module = lambda inputs: torch.tanh(inputs @ W1.T + b1) @ W2.T + b2  # noqa: E731
        return direction_loss(module, x, y, temperature=2.0, derivative=derivative)

    for derivative in ("probability", "logit"):
        assert torch.autograd.gradcheck(lambda *p: loss(*p, derivative), params)
        assert torch.autograd.gradgradcheck(lambda *p: loss(*p, derivative), params)


def test_loss_is_the_same_with_and_without_grad_mode():
    """skorch validates under no_grad; the direction term must still be computed there."""
    module = MLP(n_features=2, hidden=(8,)).double()
    y = packed(LABELS, DIRECTIONS)
    with_grad = direction_loss(module, X, y)
    with torch.no_grad():
        without_grad = direction_loss(module, X, y)
    assert without_grad.item() == pytest.approx(with_grad.item(), rel=1e-12)
    assert without_grad.item() > 0


def test_multiclass_logit_form_matches_closed_form():
    """Three classes, linear logits z = V x: d = (v_c - v_y).k, penalty softplus(-t d)/t."""
    module = MLP(n_features=2, n_classes=3, hidden=()).double()
    V = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]])
    with torch.no_grad():
        module.layers[0].weight.copy_(V)
        module.layers[0].bias.zero_()
    k = np.array([[1.0, 1.0], [2.0, -1.0]])
    y = torch.as_tensor(pack_targets([0, 2], [k[0], k[1]], targets=[1, 0], n_features=2))
    t = 4.0
    kn = k / np.linalg.norm(k, axis=1, keepdims=True)
    d = np.array([(V[1] - V[0]).numpy() @ kn[0], (V[0] - V[2]).numpy() @ kn[1]])
    expected = np.mean(np.log1p(np.exp(-t * d)) / t)
    loss = direction_loss(module, X[:2], y, temperature=t, derivative="logit")
    assert loss.item() == pytest.approx(expected, rel=1e-10)


def test_combined_objective_weights_ce_and_direction_term():
    module = MLP(n_features=2, hidden=(8,)).double()
    y = packed(LABELS, DIRECTIONS)
    logits = module(X)
    ce = F.cross_entropy(logits, torch.tensor(LABELS))
    l_dir = direction_loss(module, X, y, hinge="relu", derivative="cosine", margin=1.0)
    total = DirectionObjective(alpha=0.3)(logits, y, X, module)  # the shipped defaults otherwise
    assert total.item() == pytest.approx(0.7 * ce.item() + 0.3 * l_dir.item(), rel=1e-12)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"alpha": 1.5}, "alpha"), ({"temperature": 0}, "temperature"),
     ({"hinge": "square"}, "hinge"), ({"derivative": "log"}, "derivative")],
)
def test_objective_rejects_bad_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        DirectionObjective(**kwargs)
