"""A session's settings.

:class:`SessionConfig` is everything that defines a session (its :class:`SharedSettings`
part is what a simulation's sessions share); it is stored with the session as JSON (custom classes and functions by their import name, see
:mod:`nudge.loop.config.references`), so a restarted server rebuilds the same session.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any

from nudge.estimators.scaling import SCALINGS
from nudge.loop.config.references import decode, encode
from nudge.loop.errors import SessionError
from nudge.loop.stopping.specs import check_stop_specs
from nudge.loop.store.overlap import Overlap
from nudge.strategies import get_strategy

EstimatorFactory = Callable[..., Any]  # factory(n_features=, n_classes=, seed=) -> estimator


@dataclass
class SharedSettings:
    """The settings a session shares with a simulation of sessions
    (:class:`nudge.loop.simulation.SimulationConfig`, which runs each of its sessions with them):
    one definition, default and check of each, for both.

    dataset / dataset_options : passed to :func:`nudge.loop.datasets.load_dataset`.
    scaling : how the data's units become the model's inputs: "auto" (standardised on the pool for
        tables, none for points, texts and images), "standard" or "none"; fitted when the session
        begins and stored with it (:mod:`nudge.estimators.scaling`).
    estimator : one of
        - a dict of further :class:`nudge.estimators.DirectionClassifier` parameters, e.g.
          ``{"criterion__alpha": 0.3}`` or ``{"module": MyTorchModule}``; they override
          the defaults (for text data sets, :data:`TEXT_ESTIMATOR`);
        - an estimator object (e.g. ``DirectionClassifier(module=MyNet, ...)``), cloned for
          every fit from scratch; it must take packed targets (``nudge.estimators.pack_targets``);
        - a factory ``factory(n_features=, n_classes=, seed=) -> estimator``.
        An object or a factory's estimator keeps its own criterion (``loss`` is the default
        network's) and gets ``warm_start=True`` where it takes one
        (:func:`nudge.loop.config.factory.new_estimator`); ``Session.status()`` reports both.
    full_refit_every : re-initialise and refit from scratch every m retrains (0: never).
    warm_epochs : epochs of a warm-started retrain (a refit from scratch runs the
        estimator's ``max_epochs``, default 100). Continuing from trained weights
        needs far fewer, and the retrain is what the next answer waits for.
    max_directions : directions one answer may carry.
    stop : stopping criteria, specs such as ``["budget=200", "stable=0.99"]`` or
        :class:`nudge.loop.stopping.StoppingCriterion` objects (your own among them); the session's
        stopping rule is met when any one is (see :mod:`nudge.loop.stopping`). It is reported by
        ``Session.status()``; nothing stops by itself (``nudge simulate`` stops its runs).
    """

    dataset: str = "moons"
    dataset_options: dict = field(default_factory=dict)
    scaling: str = "auto"
    estimator: dict | Any = field(default_factory=dict)
    full_refit_every: int = 20
    warm_epochs: int = 20
    max_directions: int = 4
    stop: list = field(default_factory=list)  # specs (str) or StoppingCriterion objects

    def __post_init__(self) -> None:
        if self.scaling not in SCALINGS:
            raise SessionError(f"unknown scaling {self.scaling!r}; choose one of: {', '.join(SCALINGS)}")
        if self.full_refit_every < 0:
            raise SessionError("full_refit_every must be 0 (never) or positive")
        if self.warm_epochs < 1:
            raise SessionError("warm_epochs must be at least 1")
        if self.max_directions < 1:
            raise SessionError("max_directions must be at least 1")
        self.stop = check_stop_specs(self.stop)

    def shared_settings(self) -> dict[str, Any]:
        """The shared settings by name (e.g. to make a :class:`SessionConfig` with them)."""
        return {f.name: getattr(self, f.name) for f in fields(SharedSettings)}


@dataclass
class SessionConfig(SharedSettings):
    """Everything that defines a session: the :class:`SharedSettings` and these.

    loss : the objective of the default network ("ce", "direction", "gradient-supervision").
    strategy : a name from ``nudge.strategies.STRATEGIES`` or a function with modAL's query-strategy
        contract, ``(learner, X, n_instances) -> indices`` or ``(indices, scores)``; modAL's own work
        as they are (:func:`nudge.strategies.select_queries` says what nudge adds).
    seed : the network's initialisation and the strategies' random choices.
    retrain_every : retrain (warm-started) after every k answers.
    lease_seconds : how long a handed-out point stays reserved for its annotator.
    augment_rewrites : a rewrite also adds its text as a labelled example of the other class.
    overlap / overlap_every : a share of the items (0..1), or every n-th item, given to
        ``annotators_per_item`` different annotators (never twice to one) so that their agreement can
        be measured; such an item trains once its labels agree or the lead resolved them. Which items
        follows from the seed (:mod:`nudge.loop.store.overlap`). 0: none (every item to one annotator).

    Custom classes and functions are stored by import name and must be importable
    again to resume the session: a lambda is refused at once, and one defined in the
    script being run (``__main__``) when the session is stored in a database.
    """

    loss: str = "direction"
    strategy: str | Callable = "boundary"
    seed: int = 0
    retrain_every: int = 1
    lease_seconds: float = 600.0
    augment_rewrites: bool = True
    overlap: float = 0.0
    overlap_every: int = 0
    annotators_per_item: int = 2

    def __post_init__(self) -> None:
        super().__post_init__()
        self.overlap_rule()  # a bad overlap is refused now
        try:
            get_strategy(self.strategy)
        except ValueError as error:
            raise SessionError(str(error)) from None
        if self.retrain_every < 1:
            raise SessionError("retrain_every must be at least 1")
        if self.lease_seconds <= 0:
            raise SessionError("lease_seconds must be positive")
        self.to_dict()  # anything that cannot be stored is refused now, not at resume

    def to_dict(self, *, portable: bool = False) -> dict:
        """The settings as JSON-ready data (custom objects by import name; ``portable``: names that
        another process can import too, for a session stored where one may resume it)."""
        return {f.name: self.encode_setting(getattr(self, f.name), f.name, portable=portable) for f in fields(self)}

    @staticmethod
    def encode_setting(value: Any, name: str = "", *, portable: bool = False) -> Any:
        """One setting as it is stored (JSON-ready)."""
        return encode(value, f"the setting {name}".rstrip(), portable=portable)

    @classmethod
    def from_dict(cls, values: dict) -> SessionConfig:
        """Settings stored by :meth:`to_dict`; custom objects are imported again by name."""
        known = {f.name for f in fields(cls)}
        unknown = set(values) - known
        if unknown:
            raise SessionError(f"unknown session settings {sorted(unknown)}")
        return cls(**{key: decode(value, f"setting {key}") for key, value in values.items()})

    def overlap_rule(self) -> Overlap:
        """Which items go to several annotators (none unless ``overlap`` or ``overlap_every`` is set)."""
        return Overlap(share=self.overlap, every=self.overlap_every, per_item=self.annotators_per_item, seed=self.seed)

    @property
    def strategy_name(self) -> str:
        """The strategy as people read it: its registered name, or the function's name."""
        return self.strategy if isinstance(self.strategy, str) else self.strategy.__name__
