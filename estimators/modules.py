"""Networks for feature vectors (2-D points, 384-d sentence embeddings, ...)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor, nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "tanh": nn.Tanh,
    "silu": nn.SiLU,
    "gelu": nn.GELU,
    "softplus": nn.Softplus,
    "elu": nn.ELU,
    "relu": nn.ReLU,
}


class MLP(nn.Module):
    """A multilayer perceptron returning one logit per class.

    Parameters
    ----------
    n_features : input dimension n; (N, n) in, (N, n_classes) out.
    n_classes : number of outputs (default 2).
    hidden : sizes of the hidden layers (default (64, 64)); () gives a linear
        model (multinomial logistic regression).
    activation : one of ``ACTIVATIONS`` (default "tanh"). Smooth activations
        suit losses on input gradients: with "relu" the input gradient is
        piecewise constant in x.
    dropout : dropout probability after each hidden layer (default 0).
    center, scale : (n,) arrays: the network reads (X - center) / scale, a fixed standardisation
        (e.g. the pool's mean and standard deviation, see ``nudge.loop.config.factory.new_estimator``). Input
        gradients, hence directions, stay in the units of X. Default None: X as it is.
    """

    def __init__(
        self,
        n_features: int,
        n_classes: int = 2,
        hidden: Sequence[int] = (64, 64),
        activation: str = "tanh",
        dropout: float = 0.0,
        center: Sequence[float] | None = None,
        scale: Sequence[float] | None = None,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        self.register_buffer("center", torch.zeros(n_features) if center is None else _vector(center, n_features))
        self.register_buffer("scale", torch.ones(n_features) if scale is None else _vector(scale, n_features))
        if not bool(torch.all(self.scale > 0)):
            raise ValueError("scale must be positive")
        layers: list[nn.Module] = []
        width = n_features
        for size in hidden:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, n_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, X: Tensor) -> Tensor:
        return self.layers((X - self.center) / self.scale)


def _vector(values: Sequence[float], n_features: int) -> Tensor:
    vector = torch.as_tensor(np.asarray(values, dtype=np.float32))
    if vector.shape != (n_features,):
        raise ValueError(f"center and scale need {n_features} values, got shape {tuple(vector.shape)}")
    return vector
