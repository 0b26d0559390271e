"""A session's settings and the factory of its estimator and learner.

:class:`SessionConfig` is everything that defines a session; it is stored with
the session as JSON (custom classes and functions by their import name, see
:mod:`loop.references`), so a restarted server rebuilds the same session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
from sklearn.base import clone

from estimators import DirectionClassifier
from loop.datasets import Dataset
from loop.errors import SessionError
from loop.references import decode, encode
from loop.stopping import check_stop_specs
from strategies import get_strategy, make_learner

# Sentence embeddings get a linear model: on the CAD dev split it beat MLPs at every
# budget once revisions are added as examples (an MLP overfits the near-identical
# pairs); see bench/tune_direction_loss.py. 2-D sets need the default MLP's bends.
TEXT_ESTIMATOR = {"module__hidden": ()}

EstimatorFactory = Callable[..., Any]  # factory(n_features=, n_classes=, seed=) -> estimator


@dataclass
class SessionConfig:
    """Everything that defines a session.

    dataset / dataset_options : passed to :func:`loop.datasets.load_dataset`.
    loss : the objective of the default network ("ce", "direction", "gradient-supervision").
    estimator : one of
        - a dict of further :class:`estimators.DirectionClassifier` parameters, e.g.
          ``{"criterion__alpha": 0.3}`` or ``{"module": MyTorchModule}``; they override
          the defaults (for text data sets, :data:`TEXT_ESTIMATOR`);
        - an estimator object (e.g. ``DirectionClassifier(module=MyNet, ...)``), cloned for
          every fit from scratch; it must take packed targets (``estimators.pack_targets``);
        - a factory ``factory(n_features=, n_classes=, seed=) -> estimator``.
    strategy : a name from ``strategies.STRATEGIES`` or a function with modAL's contract
        ``(learner, X_pool, n_instances, *, available=None, random_state=None) -> (indices, scores)``.
    retrain_every : retrain (warm-started) after every k answers.
    full_refit_every : re-initialise and refit from scratch every m retrains (0: never).
    warm_epochs : epochs of a warm-started retrain (a refit from scratch runs the
        estimator's ``max_epochs``, default 100). Continuing from trained weights
        needs far fewer, and the retrain is what the next answer waits for.
    lease_seconds : how long a handed-out point stays reserved for its annotator.
    max_directions : directions one answer may carry.
    augment_rewrites : a rewrite also adds its text as a labelled example of the other class.
    stop : stopping criteria, specs such as ``["budget=200", "stable=0.99"]``; the session's
        stopping rule is met when any one is (see :mod:`loop.stopping`). It is reported by
        ``Session.status()``; nothing stops by itself (``nudge simulate`` stops its runs).

    Custom classes and functions are stored by import name and must be importable
    again to resume the session (a lambda is refused at once).
    """

    dataset: str = "moons"
    dataset_options: dict = field(default_factory=dict)
    loss: str = "direction"
    estimator: dict | Any = field(default_factory=dict)
    strategy: str | Callable = "boundary"
    seed: int = 0
    retrain_every: int = 1
    full_refit_every: int = 20
    warm_epochs: int = 20
    lease_seconds: float = 600.0
    max_directions: int = 4
    augment_rewrites: bool = True
    stop: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        try:
            get_strategy(self.strategy)
        except ValueError as error:
            raise SessionError(str(error)) from None
        if self.retrain_every < 1:
            raise SessionError("retrain_every must be at least 1")
        if self.full_refit_every < 0:
            raise SessionError("full_refit_every must be 0 (never) or positive")
        if self.warm_epochs < 1:
            raise SessionError("warm_epochs must be at least 1")
        if self.lease_seconds <= 0:
            raise SessionError("lease_seconds must be positive")
        if self.max_directions < 1:
            raise SessionError("max_directions must be at least 1")
        self.stop = check_stop_specs(self.stop)
        self.to_dict()  # anything that cannot be stored is refused now, not at resume

    def to_dict(self) -> dict:
        """The settings as JSON-ready data (custom objects by import name)."""
        return {f.name: self.encode_setting(getattr(self, f.name), f.name) for f in fields(self)}

    @staticmethod
    def encode_setting(value: Any, name: str = "") -> Any:
        """One setting as it is stored (JSON-ready)."""
        return encode(value, f"the setting {name}".rstrip())

    @classmethod
    def from_dict(cls, values: dict) -> SessionConfig:
        """Settings stored by :meth:`to_dict`; custom objects are imported again by name."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SessionError(f"unknown session settings {sorted(unknown)}")
        return cls(**{key: decode(value, f"setting {key}") for key, value in values.items()})

    @property
    def strategy_name(self) -> str:
        """The strategy as people read it: its registered name, or the function's name."""
        return self.strategy if isinstance(self.strategy, str) else self.strategy.__name__


def new_estimator(config: SessionConfig, dataset: Dataset):
    """A fresh, unfitted estimator for a session on ``dataset`` (see :class:`SessionConfig`)."""
    spec = config.estimator
    if isinstance(spec, dict):
        params = {"criterion": config.loss, "random_state": config.seed,
                  "classes": list(range(dataset.n_classes)), "warm_start": True}
        if dataset.texts is not None:
            params.update(TEXT_ESTIMATOR)
        return DirectionClassifier(**{**params, **spec})
    if hasattr(spec, "get_params"):
        estimator = clone(spec)
        if "classes" in estimator.get_params() and estimator.get_params()["classes"] is None:
            estimator.set_params(classes=list(range(dataset.n_classes)))
        return estimator
    return spec(n_features=dataset.n_features, n_classes=dataset.n_classes, seed=config.seed)


def new_learner(config: SessionConfig, dataset: Dataset):
    """A modAL learner (or committee) around a fresh estimator, querying with the session's strategy."""
    return make_learner(new_estimator(config, dataset), config.strategy)


def check_estimator(config: SessionConfig, dataset: Dataset) -> None:
    """Build the network once, so a bad estimator setting fails now and not in every retrain."""
    try:
        estimator = new_estimator(config, dataset)
        if isinstance(estimator, DirectionClassifier):  # sized as fit would size it
            estimator.n_features_in_ = dataset.n_features
            estimator.classes_ = np.arange(dataset.n_classes)
            estimator.initialize()
    except (TypeError, ValueError) as error:
        raise SessionError(f"bad estimator settings {describe_estimator(config)}: {error}") from None


def describe_estimator(config: SessionConfig) -> str:
    """The estimator setting in a line of text (for messages)."""
    spec = config.estimator
    if isinstance(spec, dict):
        return repr(spec)
    if hasattr(spec, "get_params"):
        return type(spec).__name__
    return getattr(spec, "__qualname__", repr(spec))
