"""Training objectives: labels only, labels + directions, gradient supervision.

Each objective is a torch module that :class:`nudge.estimators.DirectionClassifier`
calls as ``objective(logits, y, X, module)``:

- ``logits``: (B, C) module output for the batch,
- ``y``: (B, 1 + m * (2 + n)) the batch's packed targets with labels and
  target classes already encoded as class indices (see ``nudge.estimators.targets``),
- ``X``: (B, n) the batch inputs, ``module``: the network, so the objective can
  take input gradients at the annotated points (double back-propagation).

Notation (docs/method.md section 2): for a point x of class y and a direction k
towards class c, the *gap* h(x) compares c with y, and d = grad_x h(x) . k is
its directional derivative; d > 0 means "moving along k heads to c", the
annotation's claim. The violation is v = -d.

- ``derivative="probability"``: h = (p_c - p_y) / 2. For two classes this is
  exactly -grad p_y . k, the paper's form (g = grad_x p).
- ``derivative="logit"``: h = z_c - z_y = log p_c - log p_y, the multiclass form.
- ``derivative="cosine"``: d = cos(grad_x (z_c - z_y), k), the logit form made
  scale-free and bounded in [-1, 1]. With ``margin`` m the violation is m - d;
  m = 1 and the relu hinge give exactly 1 - cos, gradient supervision's term.

Why the bounded form is the default: an unbounded d (probability or logit
derivative) keeps paying the network for ever steeper slopes at the annotated
points, against cross-entropy; on the CAD reviews that costs accuracy once
labels are plentiful (``bench/bench_quality.py``; bench/README.md, "Learning quality").
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nudge.estimators.targets import SLOT_HEAD, check_directions

HINGES: dict[str, Callable[[Tensor, float], Tensor]] = {
    "softplus": lambda v, t: F.softplus(t * v) / t,
    "relu": lambda v, t: F.relu(v),
    "tanh": lambda v, t: torch.tanh(t * v) + 1.0,
}
DERIVATIVES = ("probability", "logit", "cosine")


def split_packed(y: Tensor, n_features: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Encoded packed targets -> labels (B,), mask (B, m), targets (B, m), directions (B, m, n).

    Empty slots get their point's own label as target (a zero gap, zero gradient).
    """
    if y.ndim == 1:
        y = y[:, None]
    slots = (y.shape[1] - 1) // (SLOT_HEAD + n_features)
    slot_view = y[:, 1:].reshape(len(y), slots, SLOT_HEAD + n_features)
    labels = y[:, 0].long()
    mask = slot_view[:, :, 0] == 1
    targets = torch.where(mask, slot_view[:, :, 1].long(), labels[:, None])
    return labels, mask, targets, slot_view[:, :, SLOT_HEAD:]


def _class_scores(logits: Tensor, derivative: str) -> Tensor:
    if derivative == "probability":
        return torch.softmax(logits, dim=-1) / 2
    if derivative in ("logit", "cosine"):
        return logits
    raise ValueError(f"derivative must be one of {DERIVATIVES}, got {derivative!r}")


def gap_gradients(
    module: nn.Module,
    X: Tensor,
    labels: Tensor,
    targets: Tensor,
    derivative: str = "probability",
) -> Tensor:
    """Input gradients of the gap h = s_c - s_y for every slot.

    X: (A, n) points, labels: (A,) class indices, targets: (A, m) target class
    indices (a slot whose target is the label itself has a zero gradient).
    Returns (A, m, n). The graph is kept (for back-propagating a loss through the
    gradients) whenever gradients were enabled by the caller; it is computed
    even under ``torch.no_grad()``, as in skorch's validation step.
    """
    keep_graph = torch.is_grad_enabled()
    with torch.enable_grad():
        x = X.detach().requires_grad_(True)
        scores = _class_scores(module(x), derivative)
        own = scores.gather(1, labels[:, None])
        gradients = []
        for slot in range(targets.shape[1]):
            gap = scores.gather(1, targets[:, slot : slot + 1]) - own
            (gradient,) = torch.autograd.grad(
                gap.sum(), x, create_graph=keep_graph, retain_graph=True
            )
            gradients.append(gradient)
    if not gradients:
        return X.new_zeros(len(X), 0, X.shape[1])
    return torch.stack(gradients, dim=1)


def _reduce_per_point(values: Tensor, mask: Tensor, per_point: str) -> Tensor:
    """(A, m) per-pair values -> mean over annotated points of the per-point sum/mean."""
    values = torch.where(mask, values, torch.zeros_like(values))
    per_point_total = values.sum(dim=1)
    if per_point == "mean":
        per_point_total = per_point_total / mask.sum(dim=1)
    elif per_point != "sum":
        raise ValueError(f"per_point must be 'mean' or 'sum', got {per_point!r}")
    return per_point_total.mean()


def _annotated(X: Tensor, y: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor]:
    """The annotated rows of a batch: X, labels, targets, directions, mask."""
    labels, mask, targets, directions = split_packed(y, X.shape[1])
    rows = mask.any(dim=1)
    return X[rows], labels[rows], targets[rows], directions[rows], mask[rows]


def direction_loss(
    module: nn.Module,
    X: Tensor,
    y: Tensor,
    *,
    temperature: float = 10.0,
    hinge: str = "softplus",
    derivative: str = "probability",
    margin: float = 0.0,
    normalize: bool = True,
    per_point: str = "mean",
) -> Tensor:
    """L_dir: mean over annotated points of hinge(v) with v = margin - d.

    The defaults are the paper's form (docs/method.md section 2); the objective
    :class:`DirectionObjective` ships tuned ones. d is the derivative of the gap along the direction (see the module doc);
    ``normalize`` scales directions to unit length first (no effect on the
    cosine). Points without a direction contribute exactly zero; a batch with
    none gives 0.
    """
    if hinge not in HINGES:
        raise ValueError(f"hinge must be one of {sorted(HINGES)}, got {hinge!r}")
    X, labels, targets, directions, mask = _annotated(X, y)
    if len(X) == 0:
        return y.new_zeros(())
    check_directions(directions[mask].detach().cpu().numpy())
    gradients = gap_gradients(module, X, labels, targets, derivative)
    if derivative == "cosine":
        slope = F.cosine_similarity(gradients, directions, dim=-1, eps=1e-12)
    else:
        if normalize:
            directions = directions / directions.norm(dim=-1, keepdim=True).clamp_min(1e-12)
        slope = (gradients * directions).sum(dim=-1)
    return _reduce_per_point(HINGES[hinge](margin - slope, temperature), mask, per_point)


def gradient_supervision_loss(
    module: nn.Module, X: Tensor, y: Tensor, *, per_point: str = "mean"
) -> Tensor:
    """L_gs (Teney et al. 2020): mean over annotated points of 1 - cos(grad_x (z_c - z_y), k)."""
    return direction_loss(
        module, X, y, hinge="relu", derivative="cosine", margin=1.0, per_point=per_point
    )


class CrossEntropyObjective(nn.Module):
    """``ce``: cross-entropy on the labels; directions are ignored."""

    def forward(self, logits: Tensor, y: Tensor, X: Tensor, module: nn.Module) -> Tensor:
        labels = split_packed(y, X.shape[1])[0]
        return F.cross_entropy(logits, labels)


class DirectionObjective(nn.Module):
    """``direction``: (1 - alpha) CE + alpha L_dir (see :func:`direction_loss`).

    The defaults are the best of those measured on the CAD dev split
    (``bench/tune_direction_loss.py``); the paper's form is
    ``hinge="softplus", derivative="probability", margin=0``.

    Parameters: alpha in [0, 1] (default 0.5); temperature t of the softplus and
    tanh hinges (default 10); hinge "softplus" | "relu" | "tanh" (default
    "relu"); derivative "probability" | "logit" | "cosine" (default "cosine");
    margin m, the violation being m - d (default 1: the gradient should point
    along the direction, not merely have the right sign); normalize directions to unit length (default True;
    un-normalised, a longer arrow weighs more); per_point "mean" | "sum" over a
    point's several directions.
    """

    def __init__(
        self,
        alpha: float = 0.5,
        temperature: float = 10.0,
        hinge: str = "relu",
        derivative: str = "cosine",
        margin: float = 1.0,
        normalize: bool = True,
        per_point: str = "mean",
    ) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        if hinge not in HINGES:
            raise ValueError(f"hinge must be one of {sorted(HINGES)}, got {hinge!r}")
        if derivative not in DERIVATIVES:
            raise ValueError(f"derivative must be one of {DERIVATIVES}, got {derivative!r}")
        self.alpha = alpha
        self.temperature = temperature
        self.hinge = hinge
        self.derivative = derivative
        self.margin = margin
        self.normalize = normalize
        self.per_point = per_point

    def forward(self, logits: Tensor, y: Tensor, X: Tensor, module: nn.Module) -> Tensor:
        labels = split_packed(y, X.shape[1])[0]
        cross_entropy = F.cross_entropy(logits, labels)
        if self.alpha == 0:
            return cross_entropy
        penalty = direction_loss(
            module,
            X,
            y,
            temperature=self.temperature,
            hinge=self.hinge,
            derivative=self.derivative,
            margin=self.margin,
            normalize=self.normalize,
            per_point=self.per_point,
        )
        return (1 - self.alpha) * cross_entropy + self.alpha * penalty


class GradientSupervisionObjective(nn.Module):
    """``gradient-supervision``: CE + lam * L_gs (see :func:`gradient_supervision_loss`)."""

    def __init__(self, lam: float = 1.0, per_point: str = "mean") -> None:
        super().__init__()
        if lam < 0:
            raise ValueError(f"lam must be non-negative, got {lam}")
        self.lam = lam
        self.per_point = per_point

    def forward(self, logits: Tensor, y: Tensor, X: Tensor, module: nn.Module) -> Tensor:
        labels = split_packed(y, X.shape[1])[0]
        penalty = gradient_supervision_loss(module, X, y, per_point=self.per_point)
        return F.cross_entropy(logits, labels) + self.lam * penalty


OBJECTIVES: dict[str, type[nn.Module]] = {
    "ce": CrossEntropyObjective,
    "direction": DirectionObjective,
    "gradient-supervision": GradientSupervisionObjective,
}
