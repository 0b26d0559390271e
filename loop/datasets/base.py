"""The data set type and the helpers every loader shares (splitting, spreading, item ids)."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING

import numpy as np
from sklearn.model_selection import train_test_split

from nudge.estimators.scaling import NO_SCALING, Scaling

if TYPE_CHECKING:
    from nudge.estimators.encoders import TextEncoder
    from nudge.loop.datasets.known_truth import TwoDGenerator

UNKNOWN = -1  # the label of an item whose class nobody knows (yet)
KINDS = ("points", "table", "text", "image")
NOUNS = {"points": "points", "table": "rows", "text": "texts", "image": "images"}  # what describe() counts
ID_CHARS = 16  # hex characters of a content hash used as an item id or digest
MAX_ID_CHARS = 200


@dataclass
class Dataset:
    """The items of one data set (N items, n features, C classes): what they are, and what is known of them.

    Shapes and units:

    - ``X`` (N, n) float32: the model's inputs, ``scaling.to_model(raw)``; ``raw`` (N, n) the
      same items in the data's own units (a table's numbers, an image's pixel values, a text's
      embedding, a point's coordinates). Directions are stored, shown and exported in ``raw``'s
      units (:class:`~nudge.estimators.scaling.Scaling` converts). A loader returns data with
      no scaling (``X is raw``); a session applies its own (:meth:`with_scaling`).
    - ``y`` (N,) int64 class indices 0..C-1, :data:`UNKNOWN` (-1) where the class is not known: an
      unlabelled pool is all -1. Known labels serve the test split, the simulated annotators
      (:mod:`nudge.loop.simulation.oracles`) and benchmarks; **nothing that serves a session reads
      ``y[pool]``**.
    - ``class_names`` (C,): declared (``classes``) or read from the labels present.
    - ``pool``, ``test``, ``dev``: disjoint index arrays into X. An item in none of them is not
      part of the data any more (removed in a later data version: its ``raw`` row is NaN, its
      ``X`` row 0, see :attr:`present`).
    - ``item_ids`` (N,) str: each item's stable name (an id column, else a content hash; generated
      sets: the index); ``item_digests`` (N,) str: a hash of each item's content, to tell a changed
      item from the same one.
    - ``kind``: "points" (2-D coordinates), "table" (numeric features), "text", "image".
    - ``feature_names`` (n,) for tables and images (None for texts and points: "x1", ...).
    - ``image_shape`` (height, width) of an image's pixels (``n == height * width``, row-major);
      ``image_paths`` (N,) the file each image was read from (None: pixels came as columns).
    - ``texts`` (N,) for text sets; ``counterfactual_texts`` (N,) each text's revision where known
      (None otherwise) and ``counterfactual_X`` (N, n) its embedding in data units (NaN rows where none).
    - ``extra_tests``: further labelled test sets by name, (X in model units, y), e.g. CAD's "revised".
    - ``generator``: the generator of a generated 2-D set (its true boundary is known).
    - ``fingerprint``: what the data was made from that item ids do not capture (a generator and its
      options, a text encoder, the loader's options), so a session can refuse other data.
    - ``files``: the files read and their SHA-256 (recorded with each data version).
    - ``test_from_file``: the test items came from a file of their own (new ones join the test
      split when the data grows; otherwise new items join the pool).
    - ``encoder``: the encoder that embedded a text set (rewrites and highlights go through it).
    """

    name: str
    X: np.ndarray  # (N, n) float32
    y: np.ndarray  # (N,) int64 class indices 0..C-1, UNKNOWN (-1) where not known
    class_names: list[str]  # (C,)
    pool: np.ndarray  # indices that may be queried and labelled
    test: np.ndarray  # held-out labelled indices, disjoint from pool
    dev: np.ndarray | None = None
    texts: list[str] | None = None
    counterfactual_texts: list[str | None] | None = None
    counterfactual_X: np.ndarray | None = None  # (N, n) data units, NaN rows where no revision
    extra_tests: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    generator: TwoDGenerator | None = None
    fingerprint: dict = field(default_factory=dict)
    encoder: TextEncoder | None = field(default=None, repr=False)
    kind: str | None = None  # None: "text" when there are texts, else "points"
    item_ids: list[str] | None = None  # None: str(index)
    item_digests: list[str] | None = None  # None: a hash of each raw row
    feature_names: list[str] | None = None
    raw: np.ndarray | None = field(default=None, repr=False)  # None: X (no scaling)
    scaling: Scaling = NO_SCALING
    image_shape: tuple[int, int] | None = None
    image_paths: list[str | None] | None = None
    files: dict[str, str] = field(default_factory=dict)
    test_from_file: bool = False

    def __post_init__(self) -> None:
        n_points = len(self.X)
        self.y = np.asarray(self.y, dtype=np.int64)
        if self.X.ndim != 2 or self.y.shape != (n_points,):
            raise ValueError(f"X must be (N, n) and y (N,); got {self.X.shape} and {self.y.shape}")
        if len(self.y) and not UNKNOWN <= self.y.min() <= self.y.max() < len(self.class_names):
            raise ValueError(f"labels must be class indices 0..{len(self.class_names) - 1}, or {UNKNOWN} for unknown")
        splits = [s for s in (self.pool, self.test, self.dev) if s is not None]
        joined = np.concatenate(splits)
        if len(np.unique(joined)) != len(joined) or np.any((joined < 0) | (joined >= n_points)):
            raise ValueError("pool, test and dev must be disjoint indices into X")
        if self.test is not None and len(self.test) and np.any(self.y[self.test] == UNKNOWN):
            raise ValueError("every test item needs a known label")
        self.kind = self.kind or ("text" if self.texts is not None else "points")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.raw is None:
            self.raw = self.X
        if self.raw.shape != self.X.shape:
            raise ValueError(f"raw {self.raw.shape} and X {self.X.shape} must have one shape")
        self.item_ids = [str(i) for i in range(n_points)] if self.item_ids is None else list(self.item_ids)
        if self.item_digests is None:
            self.item_digests = [content_hash(row.tobytes()) for row in np.asarray(self.raw)]
        if not len(self.item_ids) == len(self.item_digests) == n_points:
            raise ValueError(f"{n_points} items need as many item ids and digests")
        if len(set(self.item_ids)) != n_points:
            raise ValueError("item ids must be unique")
        if self.feature_names is not None and len(self.feature_names) != self.n_features:
            raise ValueError(f"{len(self.feature_names)} feature names for {self.n_features} features")
        if self.image_shape is not None and math.prod(self.image_shape) != self.n_features:
            raise ValueError(f"an image shape {self.image_shape} holds {math.prod(self.image_shape)} pixels, "
                             f"not {self.n_features}")

    @property
    def n_features(self) -> int:
        return self.X.shape[1]

    @property
    def names_of_features(self) -> list[str] | None:
        """The feature names, x1, x2, ... where the data has none (generated points); None for texts
        (an embedding's dimensions have no names)."""
        if self.kind == "text":
            return None
        return list(self.feature_names or [f"x{index + 1}" for index in range(self.n_features)])

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @cached_property
    def present(self) -> np.ndarray:
        """(N,) bool: the item is in the data (in a split); False for items removed in a later version."""
        mask = np.zeros(len(self.X), dtype=bool)
        for split in (self.pool, self.test, self.dev):
            if split is not None:
                mask[split] = True
        return mask

    @property
    def has_test_labels(self) -> bool:
        """True when there is a labelled test split to measure accuracy on."""
        return len(self.test) > 0

    def with_scaling(self, scaling: Scaling) -> Dataset:
        """This data set with ``X = scaling.to_model(raw)`` (rows of removed items stay 0); itself
        when nothing changes. Extra test sets are scaled too; ``raw`` is shared."""
        if scaling == self.scaling:
            return self
        X = np.zeros(self.raw.shape, dtype=np.float32)
        X[self.present] = scaling.to_model(self.raw[self.present])
        extra = {name: (scaling.to_model(self.scaling.to_data(X_test)), y_test)
                 for name, (X_test, y_test) in self.extra_tests.items()}
        return replace(self, X=X, raw=self.raw, scaling=scaling, extra_tests=extra)

    def describe(self) -> str:
        """One line for the UI and the CLI."""
        labelled = int(np.sum(self.y[self.pool] != UNKNOWN))
        parts = [f"{len(self.pool)} in the pool"]
        parts.append(f"{len(self.test)} for testing" if self.has_test_labels else "no labelled test set")
        if self.dev is not None:
            parts.append(f"{len(self.dev)} for development")
        if self.counterfactual_X is not None:
            revised = int(np.sum(~np.isnan(self.counterfactual_X).any(axis=1)))
            parts.append(f"{revised} with a counterfactual revision")
        known = "" if labelled in (0, len(self.pool)) else f" ({labelled} of the pool's labels known)"
        return (
            f"{self.name}: {int(self.present.sum())} {NOUNS[self.kind]} with {self.n_features} features, "
            f"{self.n_classes} classes ({', '.join(self.class_names)}); {', '.join(parts)}{known}"
        )


def content_hash(content: bytes | str) -> str:
    """The first :data:`ID_CHARS` hex characters of the SHA-256 of ``content`` (text as UTF-8)."""
    data = content.encode("utf-8") if isinstance(content, str) else content
    return hashlib.sha256(data).hexdigest()[:ID_CHARS]


def split_pool_test(
    y: np.ndarray, test_fraction: float, seed: int, name: str
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded (pool, test) index arrays, stratified by class when every class allows it; a
    ``test_fraction`` of 0 holds out nothing."""
    if test_fraction == 0:
        return np.arange(len(y)), np.zeros(0, dtype=np.int64)
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
