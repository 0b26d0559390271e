"""Custom parts a researcher might bring (importable by name, so sessions built on them resume)."""

import numpy as np
from torch import nn

from nudge.estimators import DirectionClassifier


class TinyNet(nn.Module):
    """A custom torch module: one hidden layer of ``width`` units."""

    def __init__(self, n_features: int, n_classes: int = 2, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_classes))

    def forward(self, X):
        return self.body(X)


def farthest_from_origin(learner, X_pool, n_instances=1, *, available=None, random_state=None):
    """A custom strategy with modAL's contract: the available points of largest norm first."""
    rows = np.arange(len(X_pool)) if available is None else np.flatnonzero(available)
    norms = np.linalg.norm(X_pool[rows], axis=1)
    best = np.argsort(-norms, kind="stable")[:n_instances]
    return rows[best], norms[best]


def tiny_net_factory(n_features: int, n_classes: int, seed: int) -> DirectionClassifier:
    """A custom estimator factory."""
    return DirectionClassifier(module=TinyNet, max_epochs=5, random_state=seed,
                               classes=list(range(n_classes)), warm_start=True)
