"""The factory of a session's estimator and learner, from its :class:`~nudge.loop.config.settings.SessionConfig`."""

from __future__ import annotations

import numpy as np
from sklearn.base import clone

from nudge.estimators import DirectionClassifier
from nudge.loop.config.settings import SessionConfig
from nudge.loop.datasets import Dataset
from nudge.loop.errors import SessionError
from nudge.strategies import estimators_of, make_learner

# Sentence embeddings get a linear model: on the CAD dev split it beat MLPs at every
# budget once revisions are added as examples (an MLP overfits the near-identical
# pairs); see bench/tune_direction_loss.py. 2-D sets need the default MLP's bends.
TEXT_ESTIMATOR = {"module__hidden": ()}
# The objectives that read directions also see the features centred on the pool's mean and divided
# by one spread, the pool's root-mean-square standard deviation (a fixed first layer, so directions
# stay in the embedding's units). e5's texts all lie close together: without the division the
# direction loss lost 8-14 points at 10-20 labels (CAD dev split). One spread for all features, not
# one per feature: per feature, the cosine between the input gradient and a direction is taken in a
# rescaled geometry, and on e5+mpnet the loop's direction loss collapsed with boundary querying (69.1%
# original at 50 labels, 3 seeds) where one spread gave 90.0 (e5 alone: 88.8 against 87.9);
# bench/README.md, "Learning quality". Labels only lost 1-2 points at 50-200 with per-feature
# standardisation (it overfits the rescaled noise), so "ce" reads the features as they are.
STANDARDISED_OBJECTIVES = ("direction", "gradient-supervision")
STATISTICS_SAMPLE = 10_000  # pool points the mean and standard deviation are taken over, evenly spread


def new_estimator(config: SessionConfig, dataset: Dataset):
    """A fresh, unfitted estimator for a session on ``dataset`` (see :class:`SessionConfig`).

    An estimator given as an object (cloned) or made by a factory gets the data set's ``classes``
    when it leaves them None, and ``warm_start=True`` where it takes one: the session's retrains
    continue from the last model (``warm_epochs``), and ``full_refit_every`` says when to start
    afresh. One without ``warm_start`` fits from scratch at every retrain (see :func:`training_report`).
    """
    spec = config.estimator
    if isinstance(spec, dict):
        params = {"criterion": config.loss, "random_state": config.seed,
                  "classes": list(range(dataset.n_classes)), "warm_start": True}
        if dataset.texts is not None:
            params.update(TEXT_ESTIMATOR)
            if config.loss in STANDARDISED_OBJECTIVES:
                params["module__center"], params["module__scale"] = pool_statistics(dataset)
        return DirectionClassifier(**{**params, **spec})
    if hasattr(spec, "get_params"):
        estimator = clone(spec)
    else:
        estimator = spec(n_features=dataset.n_features, n_classes=dataset.n_classes, seed=config.seed)
    params = estimator.get_params(deep=False)
    if "classes" in params and params["classes"] is None:
        estimator.set_params(classes=list(range(dataset.n_classes)))
    if "warm_start" in params:
        estimator.set_params(warm_start=True)
    return estimator


def training_report(learner) -> dict:
    """What the session's retrains do, read from the estimator behind ``learner`` (not from the settings).

    ``loss``: its ``criterion`` (a name, or a custom criterion's class name; None for an estimator
    without one). ``retrains``: "warm" (each retrain continues from the last model for
    ``warm_epochs`` epochs; every ``full_refit_every``-th starts afresh) or "from scratch" (the
    estimator has no ``warm_start``, or it is off: every retrain is a fit from scratch).
    """
    params = estimators_of(learner)[0].get_params(deep=False)
    criterion = params.get("criterion")
    loss = criterion if criterion is None or isinstance(criterion, str) else getattr(
        criterion, "__qualname__", type(criterion).__name__)
    return {"loss": loss, "retrains": "warm" if params.get("warm_start") else "from scratch"}


def pool_statistics(dataset: Dataset) -> tuple[np.ndarray, np.ndarray]:
    """((n,) mean, (n,) spread) of the pool's features, over at most :data:`STATISTICS_SAMPLE` points,
    evenly spread. The spread is one number for every feature, the root-mean-square of their standard
    deviations (1 when every feature is constant): it rescales the features without changing their
    geometry (see :data:`STANDARDISED_OBJECTIVES`)."""
    pool = dataset.pool[np.linspace(0, len(dataset.pool) - 1, min(len(dataset.pool), STATISTICS_SAMPLE)).astype(int)]
    rows = np.asarray(dataset.X[np.sort(pool)], dtype=np.float64)
    spread = float(np.sqrt(rows.var(axis=0).mean()))
    return rows.mean(axis=0).astype(np.float32), np.full(rows.shape[1], spread if spread > 0 else 1.0, np.float32)


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
