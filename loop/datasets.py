"""Data sets by name: 2D generators, the user's CSV files, and text.

:func:`load_dataset` takes a spec (the names in :data:`DATASETS`):

- ``moons``, ``circles``, ``blobs``, ``xor``: two-class 2D sets drawn from a
  :class:`TwoDGenerator`, which also knows every point's noise-free class and
  the way to the true boundary (the simulated annotators use it). Options:
  ``n_samples`` (default 1000), ``noise`` (default per generator), ``seed``.
- ``csv:PATH``: the user's own numeric data, any number of features. Comma
  separated, one point per row: feature columns, then the label column. A
  header row is optional: the first row is taken as a header when one of its
  feature cells is not a number. Labels may be numbers or words; classes are
  sorted (numbers by value, before words).
- ``text-csv:PATH``: the user's own texts. Comma separated with a header row
  naming the columns ``text`` and ``label`` and, optionally,
  ``counterfactual`` (a rewrite of the text with another label; may be empty).
  Other columns are ignored.
- ``cad-imdb``: the counterfactually-augmented IMDb reviews of Kaushik et al.
  (2020): each original review with its human revision of opposite sentiment
  (see :func:`load_cad_imdb`).

Generated and CSV sets are split at random (seeded) into a pool (the points
that may be queried) and a test part (``test_fraction``, default 0.2),
stratified by class when every class allows it. Texts are embedded with a
:class:`estimators.encoders.SentenceEncoder` unless another encoder is given.

Paths (``csv:``, ``text-csv:``, ``data_dir``) go through
:func:`resolve_data_path`: they are resolved (``~``, ``..`` and symbolic links
taken apart), must name an existing regular file (or folder for
``data_dir``), and, when ``data_root`` is given, must lie inside it after
resolution, so no link or ``..`` leads elsewhere. Files are only parsed as
text (UTF-8): nothing in them is executed or unpickled. Every problem is a
ValueError with a message for the user.
"""

from __future__ import annotations

import csv
import math
import os
import stat
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import Literal

import numpy as np
from contourpy import contour_generator
from sklearn.datasets import make_blobs, make_circles, make_moons
from sklearn.model_selection import train_test_split
from sklearn.neighbors import NearestNeighbors

from estimators.encoders import SentenceEncoder, TextEncoder, nudge_cache_dir

GENERATED = ("moons", "circles", "blobs", "xor")
DATASETS = (*GENERATED, "cad-imdb", "csv:PATH", "text-csv:PATH")

TWO_D_CLASSES = ["0", "1"]
CAD_CLASSES = ["Negative", "Positive"]
CAD_FILES = {split: f"{split}_paired.tsv" for split in ("train", "dev", "test")}
CAD_COLUMNS = ("Sentiment", "Text", "batch_id")
CAD_URL = (
    "https://raw.githubusercontent.com/acmi-lab/counterfactually-augmented-data/"
    "master/sentiment/combined/paired/{file}"
)
CAD_MAX_BYTES = 20_000_000  # the largest file is 3.2 MB
# The copy beside the project (tests and CI): ../shared/data/cad_sentiment from the repository root.
SHARED_CAD_DIR = Path(__file__).resolve().parents[2] / "shared" / "data" / "cad_sentiment"


# --------------------------------------------------------------------------- data set


@dataclass
class Dataset:
    """Points, labels and splits of one data set (N points, n features, C classes).

    ``X`` holds every split; ``pool``, ``test`` and ``dev`` are disjoint index
    arrays into it. Text sets also carry their texts and, where known, each
    text's counterfactual revision and its embedding (NaN rows where none).
    ``extra_tests`` holds further labelled test sets by name, e.g. CAD's
    ``"revised"`` test set. ``generator`` is set for generated 2D sets.
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


# --------------------------------------------------------------------------- 2D generators


class TwoDGenerator(ABC):
    """A two-class 2D data generator whose noise-free classes are known everywhere.

    The true class of a point (:meth:`truth`) is the class of the nearer
    noise-free generating set: the nearer moon arc, the nearer circle, the
    nearer blob centre, the quadrant for xor. Its boundary is the true
    boundary that the UI draws and that the exact oracle points to. It is the
    Bayes boundary for blobs and xor, and its small-noise limit for moons and
    circles. ``noise`` is the standard deviation of the Gaussian noise added to
    the points (for blobs, the spread of each blob).
    """

    noise: float

    @abstractmethod
    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        """(X (n_samples, 2) float64, y (n_samples,) int64), the same for the same seed."""

    @abstractmethod
    def score(self, points: np.ndarray) -> np.ndarray:
        """(N,) a continuous score, positive where the true class is 1 and negative for 0."""

    @abstractmethod
    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        """(N, 2) the vector from each point to the nearest point of the true boundary."""

    def truth(self, points: np.ndarray) -> np.ndarray:
        """(N,) int64, the noise-free class of each point in ``points`` (N, 2)."""
        return (self.score(_as_points(points)) > 0).astype(np.int64)

    def boundary_direction(
        self, points: np.ndarray, labels: np.ndarray | None = None
    ) -> np.ndarray:
        """(N, 2) the vector from each point to the nearest point of the true boundary.

        ``x + direction`` lies on the boundary, and any step beyond it lies in
        the other class. With ``labels`` (N,), rows whose label is not the
        point's true class (noise put it on the other side) are NaN: from
        there, no way to the boundary leads out of the labelled class.
        """
        points = _as_points(points)
        directions = self._to_boundary(points)
        if labels is not None:
            labels = np.asarray(labels)
            if labels.shape != (len(points),):
                raise ValueError(f"labels must have shape ({len(points)},), got {labels.shape}")
            directions[labels != self.truth(points)] = np.nan
        return directions


def _as_points(points: np.ndarray) -> np.ndarray:
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(f"points must be an (N, 2) array, got shape {points.shape}")
    return points


def _distance_to_half_circle(
    points: np.ndarray, centre: tuple[float, float], upper: bool
) -> np.ndarray:
    """Distance from each point to the upper (or lower) half of the unit circle at ``centre``."""
    offset = points - np.asarray(centre)
    facing_arc = offset[:, 1] >= 0 if upper else offset[:, 1] <= 0
    to_circle = np.abs(np.linalg.norm(offset, axis=1) - 1.0)
    to_ends = np.minimum(
        np.linalg.norm(offset - (1.0, 0.0), axis=1), np.linalg.norm(offset + (1.0, 0.0), axis=1)
    )
    return np.where(facing_arc, to_circle, to_ends)


@dataclass
class MoonsGenerator(TwoDGenerator):
    """scikit-learn's two moons: class 0 on the upper arc, class 1 on the lower one.

    The true boundary (points as far from one arc as from the other) has no
    simple closed form: :meth:`boundary_direction` finds the nearest point of
    its contour on a 0.01 grid, then moves along that ray to where the true
    class changes (bisection), so ``x + direction`` is on the boundary to
    within 1e-12. Beyond the grid (1 + 4 * noise around the arcs) the
    direction leads to the nearest boundary point inside it.
    """

    noise: float = 0.2
    grid_step: float = 0.01

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_moons(n_samples, noise=self.noise, random_state=seed)
        return X, y.astype(np.int64)

    def score(self, points: np.ndarray) -> np.ndarray:
        points = _as_points(points)
        upper = _distance_to_half_circle(points, (0.0, 0.0), upper=True)
        lower = _distance_to_half_circle(points, (1.0, 0.5), upper=False)
        return upper - lower

    @cached_property
    def _boundary_index(self) -> tuple[np.ndarray, NearestNeighbors]:
        margin = 1.0 + 4.0 * self.noise
        xs = np.arange(-1.0 - margin, 2.0 + margin, self.grid_step)
        ys = np.arange(-0.5 - margin, 1.0 + margin, self.grid_step)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        scores = self.score(grid).reshape(len(ys), len(xs))
        vertices = np.concatenate(contour_generator(xs, ys, scores).lines(0.0))
        return vertices, NearestNeighbors(n_neighbors=1).fit(vertices)

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        vertices, index = self._boundary_index
        nearest = index.kneighbors(points, return_distance=False)[:, 0]
        return self._walk_to_boundary(points, vertices[nearest] - points)

    def _walk_to_boundary(
        self, points: np.ndarray, rays: np.ndarray, steps: int = 45
    ) -> np.ndarray:
        """Scale each ray so that it ends just across the boundary (bisection on [0, 2])."""
        side = self.truth(points)

        def crosses(scale: np.ndarray) -> np.ndarray:
            return self.truth(points + scale[:, None] * rays) != side

        inside, across = np.zeros(len(points)), np.full(len(points), 2.0)
        found = crosses(across)
        for _ in range(steps):
            middle = (inside + across) / 2
            beyond = crosses(middle)
            across = np.where(beyond, middle, across)
            inside = np.where(beyond, inside, middle)
        return np.where(found[:, None], across[:, None] * rays, rays)


@dataclass
class CirclesGenerator(TwoDGenerator):
    """scikit-learn's two circles: class 0 on the unit circle, class 1 on radius ``factor``.

    The true boundary is the circle halfway between them; directions are radial.
    """

    noise: float = 0.1
    factor: float = 0.5

    @property
    def boundary_radius(self) -> float:
        return (1.0 + self.factor) / 2

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_circles(n_samples, noise=self.noise, factor=self.factor, random_state=seed)
        return X, y.astype(np.int64)

    def score(self, points: np.ndarray) -> np.ndarray:
        return self.boundary_radius - np.linalg.norm(_as_points(points), axis=1)

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        radius = np.linalg.norm(points, axis=1, keepdims=True)
        at_origin = np.tile([1.0, 0.0], (len(points), 1))
        unit = np.divide(points, radius, out=at_origin, where=radius > 0)
        return unit * (self.boundary_radius - radius)


@dataclass
class BlobsGenerator(TwoDGenerator):
    """Two Gaussian blobs of equal spread ``noise`` around ``centres`` (class 0, class 1).

    The true boundary is the perpendicular bisector of the centres.
    """

    noise: float = 0.7
    centres: tuple[tuple[float, float], tuple[float, float]] = ((-1.0, -1.0), (1.0, 1.0))

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        X, y = make_blobs(
            n_samples, centers=np.asarray(self.centres), cluster_std=self.noise, random_state=seed
        )
        return X, y.astype(np.int64)

    @property
    def _normal(self) -> np.ndarray:
        towards_one = np.subtract(self.centres[1], self.centres[0])
        return towards_one / np.linalg.norm(towards_one)

    def score(self, points: np.ndarray) -> np.ndarray:
        middle = np.mean(self.centres, axis=0)
        return (_as_points(points) - middle) @ self._normal

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        return -self.score(points)[:, None] * self._normal


@dataclass
class XorGenerator(TwoDGenerator):
    """Uniform points in [-1, 1]^2, class 1 where x1 * x2 > 0, then Gaussian noise.

    The true boundary is the two axes; the direction goes straight to the nearer one.
    """

    noise: float = 0.05

    def sample(self, n_samples: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
        rng = np.random.default_rng(seed)
        clean = rng.uniform(-1.0, 1.0, size=(n_samples, 2))
        return clean + rng.normal(0.0, self.noise, size=clean.shape), self.truth(clean)

    def score(self, points: np.ndarray) -> np.ndarray:
        points = _as_points(points)
        return points[:, 0] * points[:, 1]

    def _to_boundary(self, points: np.ndarray) -> np.ndarray:
        nearer_axis = np.argmin(np.abs(points), axis=1)
        rows = np.arange(len(points))
        directions = np.zeros_like(points)
        directions[rows, nearer_axis] = -points[rows, nearer_axis]
        return directions


GENERATORS: dict[str, type[TwoDGenerator]] = {
    "moons": MoonsGenerator,
    "circles": CirclesGenerator,
    "blobs": BlobsGenerator,
    "xor": XorGenerator,
}


# --------------------------------------------------------------------------- loading


def load_dataset(
    spec: str,
    *,
    n_samples: int = 1000,
    noise: float | None = None,
    seed: int = 0,
    test_fraction: float = 0.2,
    data_dir: str | Path | None = None,
    encoder: TextEncoder | None = None,
    limit: int | None = None,
    data_root: str | Path | None = None,
) -> Dataset:
    """Load the data set named by ``spec`` (one of :data:`DATASETS`).

    Parameters
    ----------
    spec : ``moons``, ``circles``, ``blobs``, ``xor``, ``cad-imdb``,
        ``csv:PATH`` or ``text-csv:PATH``.
    n_samples : points drawn by a generator (generated sets only). Default 1000.
    noise : the generator's noise (generated sets only). Default: the
        generator's own (moons 0.2, circles 0.1, blobs 0.7, xor 0.05).
    seed : seeds the generator and the pool/test split. Default 0.
    test_fraction : share of points held out for testing (generated and CSV
        sets; CAD has its own splits). Default 0.2.
    data_dir : the folder of the CAD files (``cad-imdb`` only); see :func:`find_cad_dir`.
    encoder : embeds texts (text sets only). Default: a :class:`SentenceEncoder`
        with the shipped model and the default cache.
    limit : keep only ``limit`` rows (``text-csv``) or pairs per split
        (``cad-imdb``), evenly spread through the file (see :func:`spread`),
        for quick runs. Default: all.
    data_root : when given, every path must resolve inside this folder.
    """
    kind, has_path, argument = spec.strip().partition(":")
    _check_options(n_samples, noise, test_fraction, limit)
    if kind in GENERATED and not has_path:
        return _generated(kind, n_samples, noise, seed, test_fraction)
    if kind == "cad-imdb" and not has_path:
        folder = find_cad_dir(data_dir, data_root=data_root)
        return load_cad_imdb(folder, encoder=encoder, limit=limit)
    if kind in ("csv", "text-csv") and argument.strip():
        path = resolve_data_path(argument, data_root=data_root)
        if kind == "csv":
            return _load_feature_csv(path, test_fraction, seed)
        return _load_text_csv(path, test_fraction, seed, encoder, limit)
    if kind in ("csv", "text-csv"):
        raise ValueError(f"{kind} needs a path to a file: {kind}:PATH, e.g. {kind}:my_data.csv")
    raise ValueError(f"unknown data set {spec!r}; choose one of: {', '.join(DATASETS)}")


def _check_options(
    n_samples: int, noise: float | None, test_fraction: float, limit: int | None
) -> None:
    if n_samples < 4:
        raise ValueError(f"n_samples must be at least 4, got {n_samples}")
    if noise is not None and not noise >= 0:
        raise ValueError(f"noise must be 0 or more, got {noise}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1 (exclusive), got {test_fraction}")
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")


def _generated(
    kind: str, n_samples: int, noise: float | None, seed: int, test_fraction: float
) -> Dataset:
    generator = GENERATORS[kind]() if noise is None else GENERATORS[kind](noise=noise)
    X, y = generator.sample(n_samples, seed)
    pool, test = _split(y, test_fraction, seed, kind)
    return Dataset(
        kind, X.astype(np.float32), y, list(TWO_D_CLASSES), pool, test, generator=generator
    )


def _split(
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


def resolve_data_path(
    path: str | Path,
    *,
    want: Literal["file", "folder"] = "file",
    data_root: str | Path | None = None,
) -> Path:
    """The resolved form of a user-given data path, checked before anything reads it.

    ``~`` is expanded and ``..`` and symbolic links are resolved; the result
    must be an existing regular file (``want="file"``; not a folder, device or
    pipe) or folder (``want="folder"``), and, with ``data_root``, lie inside
    that folder (after resolving it too). Raises ValueError otherwise.
    """
    text = str(path).strip()
    if not text:
        raise ValueError(f"no path given: name a data {want}")
    try:
        resolved = Path(text).expanduser().resolve()
        root = None if data_root is None else Path(data_root).expanduser().resolve()
        if root is not None and not resolved.is_relative_to(root):
            raise ValueError(f"{text} is outside the allowed data folder {root}")
        mode = resolved.stat().st_mode
    except FileNotFoundError:
        raise ValueError(f"{text}: no such {want}") from None
    except (OSError, RuntimeError) as error:
        raise ValueError(f"{text} cannot be used as a data {want}: {error}") from None
    if want == "file" and not stat.S_ISREG(mode):
        raise ValueError(f"{text} is not a regular file (folders, devices and pipes are refused)")
    if want == "folder" and not stat.S_ISDIR(mode):
        raise ValueError(f"{text} is not a folder")
    return resolved


def _read_table(path: Path, delimiter: str) -> list[tuple[int, list[str]]]:
    """The non-blank rows of a delimited UTF-8 file as (line number, stripped cells)."""
    rows = list(_table_rows(path, delimiter))
    if not rows:
        raise ValueError(f"{path} is empty")
    return rows


def _table_rows(path: Path, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """:func:`_read_table`'s rows one at a time (a wide file is never held as text), empty or not."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle, delimiter=delimiter)
            for row in reader:
                cells = [cell.strip() for cell in row]
                if any(cells):
                    yield reader.line_num, cells
    except UnicodeDecodeError as error:
        raise ValueError(f"{path} is not UTF-8 text (byte {error.start}: {error.reason})") from None
    except csv.Error as error:
        raise ValueError(f"{path} cannot be read as delimited text: {error}") from None
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror}") from None


def _check_width(path: Path, line: int, cells: list[str], width: int) -> None:
    if len(cells) != width:
        raise ValueError(f"{path}, line {line}: {len(cells)} cells where {width} were expected")


def _class_indices(labels: list[str], source: str) -> tuple[np.ndarray, list[str]]:
    """(y as int64 class indices, sorted class names) from label strings."""
    names = sorted(set(labels), key=_label_order)
    if len(names) < 2:
        raise ValueError(
            f"{source} has only one class ({names[0]!r}); a classifier needs at least two"
        )
    index = {name: i for i, name in enumerate(names)}
    return np.array([index[label] for label in labels], dtype=np.int64), names


def _label_order(label: str) -> tuple[int, float, str]:
    """Numbers first, by value; then words, alphabetically."""
    try:
        value = float(label)
    except ValueError:
        return (1, 0.0, label)
    return (0, value, label) if math.isfinite(value) else (1, 0.0, label)


def _number(cell: str, path: Path, line: int, column: str) -> float:
    try:
        value = float(cell)
    except ValueError:
        where = f"{path}, line {line}, column {column}"
        raise ValueError(f"{where}: {cell!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{path}, line {line}, column {column}: {cell!r} is not a finite number")
    return value


def _load_feature_csv(path: Path, test_fraction: float, seed: int) -> Dataset:
    """csv:PATH, numeric features then a label per row; see the module docstring.

    Read row by row into float32, so a wide file costs about its numbers' size
    in memory, not that of its text.
    """
    rows = _table_rows(path, ",")
    first = next(rows, None)
    if first is None:
        raise ValueError(f"{path} is empty")
    width = len(first[1])
    if width < 2:
        raise ValueError(f"{path} needs at least two columns (features..., label); it has {width}")
    has_header = not all(_label_order(cell)[0] == 0 for cell in first[1][:-1])
    columns = first[1] if has_header else [str(j + 1) for j in range(width)]
    features, labels = [], []
    for line, cells in rows if has_header else chain([first], rows):
        _check_width(path, line, cells, width)
        features.append(_feature_row(cells[:-1], path, line, columns))
        if not cells[-1]:
            raise ValueError(f"{path}, line {line}: the label (last column) is empty")
        labels.append(cells[-1])
    if not features:
        raise ValueError(f"{path} has a header row but no data rows")
    name = f"csv:{path}"
    y, class_names = _class_indices(labels, name)
    pool, test = _split(y, test_fraction, seed, name)
    return Dataset(name, np.stack(features), y, class_names, pool, test)


def _feature_row(cells: list[str], path: Path, line: int, columns: list[str]) -> np.ndarray:
    """(n,) float32 features of one row; numpy parses a clean row, :func:`_number` explains a bad one."""
    try:
        values = np.array(cells, dtype=np.float64)
    except ValueError:
        values = None
    if values is None or not np.isfinite(values).all():
        values = np.array([_number(c, path, line, repr(columns[j])) for j, c in enumerate(cells)])
    return values.astype(np.float32)


def _load_text_csv(
    path: Path, test_fraction: float, seed: int, encoder: TextEncoder | None, limit: int | None
) -> Dataset:
    """text-csv:PATH: columns text, label, optionally counterfactual (see the module docstring)."""
    rows = _read_table(path, ",")
    header = [cell.lower() for cell in rows[0][1]]
    if "text" not in header or "label" not in header:
        raise ValueError(
            f"{path} needs a header row naming the columns 'text' and 'label' (and optionally "
            f"'counterfactual'); its first row is {rows[0][1]}"
        )
    text_at, label_at = header.index("text"), header.index("label")
    revision_at = header.index("counterfactual") if "counterfactual" in header else None
    body = spread(rows[1:], limit)
    if not body:
        raise ValueError(f"{path} has a header row but no data rows")
    texts, labels, revisions = [], [], []
    for line, cells in body:
        _check_width(path, line, cells, len(header))
        for column, at in (("text", text_at), ("label", label_at)):
            if not cells[at]:
                raise ValueError(f"{path}, line {line}: the {column} is empty")
        texts.append(cells[text_at])
        labels.append(cells[label_at])
        revisions.append(None if revision_at is None else cells[revision_at] or None)
    name = f"text-csv:{path}"
    y, class_names = _class_indices(labels, name)
    pool, test = _split(y, test_fraction, seed, name)
    X, revised_X = _embed(encoder, texts, revisions)
    has_revisions = revision_at is not None
    return Dataset(
        name, X, y, class_names, pool, test,
        texts=texts,
        counterfactual_texts=revisions if has_revisions else None,
        counterfactual_X=revised_X if has_revisions else None,
    )


def spread(items: list, limit: int | None) -> list:
    """``limit`` items evenly spread through ``items`` (in order), or all of them.

    Not the first ``limit``: data files are often sorted by label (the CAD
    files are: negative reviews first), and the first rows would be one class.
    """
    if limit is None or limit >= len(items):
        return list(items)
    return [items[i * len(items) // limit] for i in range(limit)]


def _embed(
    encoder: TextEncoder | None, texts: list[str], revisions: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, d), revisions' X (N, d) with NaN rows where none), in one encoder call."""
    encoder = SentenceEncoder() if encoder is None else encoder
    present = [r for r in revisions if r is not None]
    vectors = np.asarray(encoder.encode(texts + present), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts) + len(present):
        raise ValueError(
            f"the encoder returned shape {vectors.shape} for {len(texts) + len(present)} texts"
        )
    revised = np.full((len(texts), vectors.shape[1]), np.nan, dtype=np.float32)
    revised[np.array([r is not None for r in revisions], dtype=bool)] = vectors[len(texts) :]
    return vectors[: len(texts)], revised


# --------------------------------------------------------------------------- CAD IMDb


@dataclass(frozen=True)
class CadPair:
    """One review of the CAD IMDb data and its human revision of opposite sentiment."""

    original: str
    revision: str
    label: int  # the original's class index in CAD_CLASSES; the revision has 1 - label
    batch_id: str


def read_cad_pairs(path: str | Path) -> list[CadPair]:
    """The pairs of one ``*_paired.tsv`` file, in file order.

    The file is tab separated with a header ``Sentiment, Text, batch_id`` and
    two rows per ``batch_id``. The first row of a pair is taken as the
    original: the data set's README finds it so in all but 3 of 1,707 train,
    1 of 245 dev and 1 of 488 test pairs, and in those few the first row differs
    from the original review only in white space, so the pairing and the
    labels are right either way.
    """
    path = Path(path)
    rows = _read_table(path, "\t")
    header = rows[0][1]
    if any(column not in header for column in CAD_COLUMNS):
        wanted = ", ".join(CAD_COLUMNS)
        raise ValueError(f"{path} needs the header columns {wanted}; it has {header}")
    at = [header.index(column) for column in CAD_COLUMNS]
    batches: dict[str, list[tuple[int, str, str]]] = {}
    for line, cells in rows[1:]:
        _check_width(path, line, cells, len(header))
        sentiment, text, batch = (cells[i] for i in at)
        if sentiment not in CAD_CLASSES:
            raise ValueError(
                f"{path}, line {line}: sentiment {sentiment!r} is not one of {CAD_CLASSES}"
            )
        batches.setdefault(batch, []).append((line, sentiment, text))
    return [_cad_pair(path, batch, members) for batch, members in batches.items()]


def _cad_pair(path: Path, batch: str, members: list[tuple[int, str, str]]) -> CadPair:
    lines = ", ".join(str(line) for line, _, _ in members)
    if len(members) != 2:
        raise ValueError(
            f"{path}: batch_id {batch} has {len(members)} rows (lines {lines}); "
            "each must hold an original review and its revision"
        )
    (_, sentiment, original), (_, revised_sentiment, revision) = members
    if sentiment == revised_sentiment:
        raise ValueError(f"{path}: both rows of batch_id {batch} (lines {lines}) are {sentiment}")
    return CadPair(original, revision, CAD_CLASSES.index(sentiment), batch)


def find_cad_dir(
    data_dir: str | Path | None = None, *, data_root: str | Path | None = None
) -> Path:
    """The folder holding ``train_paired.tsv``, ``dev_paired.tsv`` and ``test_paired.tsv``.

    ``data_dir`` when given; else the project's shared copy
    (``../shared/data/cad_sentiment`` from the repository root) when present;
    else nudge's cache (``$NUDGE_CACHE_DIR/cad_sentiment`` or
    ``~/.cache/nudge/cad_sentiment``), downloading the files there once
    (:func:`download_cad`) when they are missing.
    """
    if data_dir is not None:
        folder = resolve_data_path(data_dir, want="folder", data_root=data_root)
        missing = [name for name in CAD_FILES.values() if not (folder / name).is_file()]
        if missing:
            raise ValueError(f"{folder} does not hold the CAD file(s) {', '.join(missing)}")
        return folder
    cache = nudge_cache_dir("cad_sentiment")
    for folder in (SHARED_CAD_DIR, cache):
        if all((folder / name).is_file() for name in CAD_FILES.values()):
            return folder
    return download_cad(cache)


def download_cad(folder: Path, timeout: float = 60.0) -> Path:
    """Download the three paired CAD files from the authors' public repository into ``folder``.

    Each file is checked to be in the paired format before it is kept. Raises
    ValueError (with the way out: ``--data-dir``) when the machine is offline.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for name in CAD_FILES.values():
        url = CAD_URL.format(file=name)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                content = response.read(CAD_MAX_BYTES + 1)
        except OSError as error:
            raise ValueError(
                f"the CAD IMDb data is not on this machine and downloading {url} failed ({error}); "
                f"download {', '.join(CAD_FILES.values())} from "
                "github.com/acmi-lab/counterfactually-augmented-data "
                "(sentiment/combined/paired) and pass their folder as data_dir (--data-dir)"
            ) from None
        if len(content) > CAD_MAX_BYTES:
            raise ValueError(f"{url} is larger than {CAD_MAX_BYTES} bytes; refusing it")
        partial = folder / f"{name}.part"
        partial.write_bytes(content)
        read_cad_pairs(partial)
        os.replace(partial, folder / name)
    return folder


def load_cad_imdb(
    folder: str | Path, *, encoder: TextEncoder | None = None, limit: int | None = None
) -> Dataset:
    """The CAD IMDb data set from ``folder`` (see :func:`find_cad_dir`).

    One point per original review: pool = train originals, dev = dev
    originals, test = test originals (1,707 / 245 / 488 pairs; ``limit`` of
    each, evenly spread through the file, with ``limit``). ``counterfactual_X`` holds each
    revision's embedding, and ``extra_tests["revised"]`` the revised test
    reviews with their (opposite) labels. All texts are embedded in one
    encoder call.
    """
    folder = Path(folder)
    splits = {
        split: spread(read_cad_pairs(folder / name), limit) for split, name in CAD_FILES.items()
    }
    pairs = [pair for split_pairs in splits.values() for pair in split_pairs]
    revisions = [pair.revision for pair in pairs]
    X, revised_X = _embed(encoder, [pair.original for pair in pairs], revisions)
    y = np.array([pair.label for pair in pairs], dtype=np.int64)
    bounds = np.cumsum([0] + [len(split_pairs) for split_pairs in splits.values()])
    pool, dev, test = (np.arange(start, stop) for start, stop in zip(bounds[:-1], bounds[1:]))
    return Dataset(
        "cad-imdb", X, y, list(CAD_CLASSES), pool, test, dev=dev,
        texts=[pair.original for pair in pairs],
        counterfactual_texts=list(revisions),
        counterfactual_X=revised_X,
        extra_tests={"revised": (revised_X[test], 1 - y[test])},
    )
