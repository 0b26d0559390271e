"""What a stopping criterion sees after a retrain: a :class:`Round`."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any, Protocol

import numpy as np
import torch

from nudge.estimators.losses import gap_gradients
from nudge.estimators.scaling import NO_SCALING, Scaling
from nudge.loop.errors import SessionError
from nudge.loop.store.log import AnswerLog


class Model(Protocol):
    """What a criterion reads of a model (a :class:`nudge.loop.training.ModelSnapshot` is one)."""

    learner: Any  # predict_proba(X) -> (N, C)
    version: int
    annotation_ids: tuple[int, ...]  # the answers it was trained on
    n_labeled: int

    @property
    def is_fitted(self) -> bool: ...

    @property
    def estimator(self) -> Any: ...  # the network: module_ is its torch module


@dataclass
class Round:
    """What the criteria see after a retrain: the new model, the one before it, the points and the answers.

    The predictions on the fixed sample and the fresh directions are computed
    once per round, when a criterion first asks for them.
    """

    X: np.ndarray  # (N, n) the data set's points
    log: AnswerLog
    snapshot: Model
    previous: Model
    sample: np.ndarray  # (S,) indices into the data set: the fixed sample of the pool
    scaling: Scaling = NO_SCALING  # stored directions are in the data's units; the model's are scaled

    @property
    def n_labeled(self) -> int:
        return self.snapshot.n_labeled

    @cached_property
    def probabilities(self) -> np.ndarray:
        """(S, C) the new model's class probabilities on the sample."""
        return self.snapshot.learner.predict_proba(self.X[self.sample])

    @cached_property
    def predictions(self) -> np.ndarray:
        """(S,) the new model's predicted class indices on the sample."""
        return np.argmax(self.probabilities, axis=1)

    @cached_property
    def unlabelled_rows(self) -> np.ndarray:
        """Rows of the sample (indices into it) whose points are not labelled."""
        labelled = np.fromiter(self.log.labelled_points(), dtype=np.int64)
        return np.flatnonzero(~np.isin(self.sample, labelled))

    @cached_property
    def fresh_direction_cosines(self) -> np.ndarray:
        """(P,) for each direction new in this round, the cosine between the previous model's
        gradient grad_x (z_c - z_y) at its point and the direction (empty before any model)."""
        if not self.previous.is_fitted:
            return np.zeros(0)
        new_ids = set(self.snapshot.annotation_ids) - set(self.previous.annotation_ids)
        fresh = [a for a in self.log.effective() if a.id in new_ids and a.directions]
        pairs = [(a.point_id, a.label, target, k) for a in fresh for k, target in zip(a.directions, a.targets)]
        if not pairs:
            return np.zeros(0)
        points, labels, targets, directions = zip(*pairs)
        return gradient_cosines(self.previous.estimator, self.X[list(points)], np.array(labels), np.array(targets),
                                self.scaling.direction_to_model(np.array(directions)))


def gradient_cosines(estimator, X: np.ndarray, labels: np.ndarray, targets: np.ndarray,
                     directions: np.ndarray) -> np.ndarray:
    """(P,) cos(grad_x (z_target - z_label)(x), k) for P pairs: X (P, n), labels and targets (P,)
    class indices, directions (P, n). A zero gradient gives 0. ``estimator`` is a skorch-style
    network with a fitted torch ``module_`` (a committee is judged by its first member)."""
    module = getattr(estimator, "module_", None)
    if not isinstance(module, torch.nn.Module):
        raise SessionError(f"the agreement criterion needs a torch network (module_); "
                           f"{type(estimator).__name__} has none")
    module.eval()
    parameter = next(module.parameters())
    x = torch.as_tensor(np.asarray(X), dtype=parameter.dtype, device=parameter.device)
    with torch.no_grad():
        gradients = gap_gradients(module, x, torch.as_tensor(labels, device=parameter.device),
                                  torch.as_tensor(targets, device=parameter.device)[:, None],
                                  derivative="logit")[:, 0].cpu().numpy().astype(np.float64)
    directions = np.asarray(directions, dtype=np.float64)
    lengths = np.linalg.norm(gradients, axis=1) * np.linalg.norm(directions, axis=1)
    dots = np.einsum("ij,ij->i", gradients, directions)
    return np.divide(dots, lengths, out=np.zeros(len(dots)), where=lengths > 0)
