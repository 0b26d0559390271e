"""The data set type and the helpers every loader shares (splitting, spreading)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import train_test_split

if TYPE_CHECKING:
    from nudge.estimators.encoders import TextEncoder
    from nudge.loop.datasets.known_truth import TwoDGenerator


@dataclass
class Dataset:
    """Points, labels and splits of one data set (N points, n features, C classes).

    ``X`` holds every split; ``pool``, ``test`` and ``dev`` are disjoint index
    arrays into it. Text sets also carry their texts and, where known, each
    text's counterfactual revision and its embedding (NaN rows where none).
    ``extra_tests`` holds further labelled test sets by name, e.g. CAD's
    ``"revised"`` test set. ``generator`` is set for generated 2D sets.
    ``fingerprint`` says what the data was made from (the generator and its
    options, or the files' content hashes, and the text encoder), so a session
    can refuse to resume on other data (empty: not known). ``encoder`` is the
    encoder that embedded a text set's texts, kept so that rewrites and word
    highlights go through the same (already loaded) model.
    """

    name: str
    X: np.ndarray  # (N, n) float32
    y: np.ndarray  # (N,) int64 class indices 0..C-1
    class_names: list[str]  # (C,)
    pool: np.ndarray  # indices that may be queried and labelled
    test: np.ndarray  # held-out indices, disjoint from pool
    dev: np.ndarray | None = None
    texts: list[str] | None = None
    counterfactual_texts: list[str | None] | None = None
    counterfactual_X: np.ndarray | None = None  # (N, n), NaN rows where no revision
    extra_tests: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    generator: TwoDGenerator | None = None
    fingerprint: dict = field(default_factory=dict)
    encoder: TextEncoder | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        n_points = len(self.X)
        if self.X.ndim != 2 or self.y.shape != (n_points,):
            raise ValueError(f"X must be (N, n) and y (N,); got {self.X.shape} and {self.y.shape}")
        if len(self.y) and not 0 <= self.y.min() <= self.y.max() < len(self.class_names):
            raise ValueError(f"labels must be class indices 0..{len(self.class_names) - 1}")
        splits = [s for s in (self.pool, self.test, self.dev) if s is not None]
        joined = np.concatenate(splits)
        if len(np.unique(joined)) != len(joined) or np.any((joined < 0) | (joined >= n_points)):
            raise ValueError("pool, test and dev must be disjoint indices into X")

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def describe(self) -> str:
        """One line for the UI and the CLI."""
        parts = [f"{len(self.pool)} in the pool", f"{len(self.test)} for testing"]
        if self.dev is not None:
            parts.append(f"{len(self.dev)} for development")
        if self.counterfactual_X is not None:
            revised = int(np.sum(~np.isnan(self.counterfactual_X).any(axis=1)))
            parts.append(f"{revised} with a counterfactual revision")
        return (
            f"{self.name}: {len(self.X)} points with {self.n_features} features, "
            f"{self.n_classes} classes ({', '.join(self.class_names)}); {', '.join(parts)}"
        )


def split_pool_test(
    y: np.ndarray, test_fraction: float, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (pool, test) index arrays, stratified by class when every class allows it."""
    n_test = math.ceil(test_fraction * len(y))
    if not 0 < n_test < len(y):
        raise ValueError(
            f"{name} has {len(y)} points: too few to hold out a test fraction of {test_fraction}"
        )
    counts = np.bincount(y)
    stratify = y if counts.min() >= 2 and min(n_test, len(y) - n_test) >= len(counts) else None
    pool, test = train_test_split(
        np.arange(len(y)), test_size=n_test, random_state=seed, stratify=stratify
    )
    return np.sort(pool), np.sort(test)


def spread(items: list, limit: int | None) -> list:
    """``limit`` items evenly spread through ``items`` (in order), or all of them.

    Not the first ``limit``: data files are often sorted by label (the CAD
    files are: negative reviews first), and the first rows would be one class.
    """
    if limit is None or limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]

