"""Custom parts a researcher might bring (importable by name, so sessions built on them resume)."""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.neighbors import KNeighborsClassifier
from torch import nn

from nudge.estimators import DirectionClassifier, unpack_targets


class TinyNet(nn.Module):
    """A custom torch module: one hidden layer of ``width`` units."""

    def __init__(self, n_features: int, n_classes: int = 2, width: int = 8) -> None:
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features, width), nn.Tanh(), nn.Linear(width, n_classes))

    def forward(self, X):
        return self.body(X)


def farthest_from_origin(learner, X_pool, n_instances=1, *, available=None, random_state=None):
    """A custom strategy that takes nudge's keywords: the available points of largest norm first."""
    rows = np.arange(len(X_pool)) if available is None else np.flatnonzero(available)
    norms = np.linalg.norm(X_pool[rows], axis=1)
    best = np.argsort(-norms, kind="stable")[:n_instances]
    return rows[best], norms[best]


def tiny_net_factory(n_features: int, n_classes: int, seed: int) -> DirectionClassifier:
    """A custom estimator factory (its network leaves skorch's warm_start=False)."""
    return DirectionClassifier(module=TinyNet, max_epochs=5, random_state=seed, classes=list(range(n_classes)))


class NearestLabelled(ClassifierMixin, BaseEstimator):
    """A plain scikit-learn estimator without warm_start: the label of the nearest labelled point
    (directions in packed targets are ignored)."""

    def __init__(self, n_neighbors: int = 1) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, X, y):
        labels = unpack_targets(y, X.shape[1]).labels.astype(int)
        self.model_ = KNeighborsClassifier(self.n_neighbors).fit(X, labels)
        self.classes_ = self.model_.classes_
        return self

    def predict_proba(self, X):
        return self.model_.predict_proba(X)

    def predict(self, X):
        return self.model_.predict(X)
