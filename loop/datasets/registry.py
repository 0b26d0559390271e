"""Data sets by name: a registry of loaders, and :func:`load_dataset`, the one way in.

A data set spec is a registered name (``moons``) or, for kinds that read a
file, ``kind:PATH`` (``csv:points.csv``). Each kind is a loader function
``load(path, options) -> Dataset`` registered with :func:`register_dataset`;
the built-in kinds register themselves in their modules (generators, files,
CAD), and a researcher's own kind registers the same way::

    @register_dataset("my-set", summary="my points")
    def load_my_set(path: str | None, options: LoadOptions) -> Dataset: ...
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nudge.estimators.encoders import TextEncoder
    from nudge.loop.datasets.base import Dataset


@dataclass(frozen=True)
class LoadOptions:
    """What a loader may be asked for; each kind uses the options that apply to it.

    n_samples : points drawn by a generator. Default 1000.
    noise : the generator's noise. Default: the generator's own.
    n_classes : classes of a generator that can make several (``gaussians``,
        default 3); the two-class generators refuse any other number than 2.
    seed : seeds the generator and the pool/test split. Default 0.
    test_fraction : share held out for testing: of a generated set's points (default 0.2); of
        a file's **labelled** rows (default: 0.2 when they hold at least
        :data:`~nudge.loop.datasets.labels.MIN_PER_CLASS_TO_HOLD_OUT` of each class, else none).
        CAD has its own splits.
    test_file : a labelled file of the same format whose rows are the test set (none is held out).
    data_dir : the folder of a kind's files (``cad-imdb``).
    encoder : embeds texts (text kinds): an encoder, or the name of a registered one
        (``nudge.estimators.encoder_registry``, e.g. ``"mpnet"``). Default: the default text encoder.
        A name given for a kind without texts is refused.
    limit : keep only ``limit`` rows (text files) or pairs per split
        (``cad-imdb``), evenly spread through the file, for quick runs.
    data_root : when given, every path must resolve inside this folder.
    label_column : the column of known labels (empty cells: unknown). Files: default ``label``
        for texts when present; a numeric CSV has none unless named.
    id_column : the column naming each item (unique); default: a hash of the item's content.
    text_column : the column of texts (default ``text``).
    classes : the class names, in order (default: the labels present, sorted).
    ignore_columns : columns of a numeric CSV that are neither features, label nor id.
    image_shape : (height, width) of pixel columns that make an image.
    image_column : a column of image file paths (relative to the file's folder), read with Pillow
        as grayscale at ``image_size`` (height, width; default 28x28), pixels / 255 as features.
    """

    n_samples: int = 1000
    noise: float | None = None
    n_classes: int | None = None
    seed: int = 0
    test_fraction: float | None = None
    test_file: str | None = None
    data_dir: str | Path | None = None
    encoder: TextEncoder | str | None = None
    limit: int | None = None
    data_root: str | Path | None = None
    label_column: str | None = None
    id_column: str | None = None
    text_column: str | None = None
    classes: tuple[str, ...] | None = None
    ignore_columns: tuple[str, ...] = ()
    image_shape: tuple[int, int] | None = None
    image_column: str | None = None
    image_size: tuple[int, int] = (28, 28)

    def __post_init__(self) -> None:
        for name in ("classes", "ignore_columns", "image_shape", "image_size"):  # stored as JSON lists
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))
        if self.n_samples < 4:
            raise ValueError(f"n_samples must be at least 4, got {self.n_samples}")
        if self.noise is not None and not self.noise >= 0:
            raise ValueError(f"noise must be 0 or more, got {self.noise}")
        if self.n_classes is not None and self.n_classes < 2:
            raise ValueError(f"n_classes must be at least 2, got {self.n_classes}")
        if self.test_fraction is not None and not 0 <= self.test_fraction < 1:
            raise ValueError(
                f"test_fraction must be at least 0 and below 1, got {self.test_fraction}"
            )
        if self.test_file is not None and self.test_fraction:
            raise ValueError("give a test file or a test fraction, not both")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.classes is not None:
            names = [str(name).strip() for name in self.classes]
            if len(names) < 2 or len(set(names)) != len(names) or not all(names):
                raise ValueError(f"classes must be two or more distinct names, got {list(self.classes)}")
            object.__setattr__(self, "classes", tuple(names))
        for name in ("image_shape", "image_size"):
            value = getattr(self, name)
            if value is not None and (len(value) != 2 or not all(isinstance(v, int) and v >= 1 for v in value)):
                raise ValueError(f"{name} is HEIGHTxWIDTH in whole pixels, e.g. 8x8; got {value}")
        if self.image_shape is not None and self.image_column is not None:
            raise ValueError("image_shape is for pixel columns, image_column for image files: give one")

    @property
    def generated_test_fraction(self) -> float:
        """The share of a generated set held out (0.2 unless given)."""
        return 0.2 if self.test_fraction is None else self.test_fraction


Loader = Callable[[str | None, LoadOptions], "Dataset"]


@dataclass(frozen=True)
class DatasetKind:
    """A registered kind of data set: its name, its loader, and whether it reads a file."""

    name: str
    load: Loader
    takes_path: bool
    summary: str

    @property
    def spec(self) -> str:
        """How the kind is named on a command line: ``moons`` or ``csv:PATH``."""
        return f"{self.name}:PATH" if self.takes_path else self.name


DATASET_KINDS: dict[str, DatasetKind] = {}


def register_dataset(name: str, *, takes_path: bool = False, summary: str = "") -> Callable[[Loader], Loader]:
    """Register ``load(path, options) -> Dataset`` as the loader of the kind ``name``.

    ``takes_path``: the spec is ``name:PATH`` and ``path`` is that text (else
    ``path`` is None). A name can be registered once.
    """
    if not name or ":" in name:
        raise ValueError(f"a data set name is a word without ':', got {name!r}")

    def register(load: Loader) -> Loader:
        if name in DATASET_KINDS:
            raise ValueError(f"a data set kind named {name!r} is already registered")
        DATASET_KINDS[name] = DatasetKind(name, load, takes_path, summary)
        return load

    return register


def dataset_specs() -> tuple[str, ...]:
    """Every registered kind as it is written in a spec, e.g. ``("moons", ..., "csv:PATH")``."""
    return tuple(kind.spec for kind in DATASET_KINDS.values())


def load_dataset(spec: str, **options) -> Dataset:
    """Load the data set named by ``spec`` (a registered kind, see :func:`dataset_specs`).

    ``options`` are :class:`LoadOptions` fields; each kind uses those that apply
    to it. Every problem (unknown kind, missing path, bad option, bad file) is a
    ValueError with a message for the user.
    """
    unknown = set(options) - {f.name for f in fields(LoadOptions)}
    if unknown:
        raise ValueError(f"unknown data set option(s) {sorted(unknown)}")
    load_options = LoadOptions(**options)
    name, has_path, argument = str(spec).strip().partition(":")
    kind = DATASET_KINDS.get(name)
    if kind is None:
        raise ValueError(f"unknown data set {spec!r}; choose one of: {', '.join(dataset_specs())}")
    if kind.takes_path and not argument.strip():
        raise ValueError(f"{name} needs a path to a file: {name}:PATH, e.g. {name}:my_data.csv")
    if not kind.takes_path and has_path:
        raise ValueError(f"the data set {name} takes no path (write just {name!r})")
    dataset = kind.load(argument.strip() if kind.takes_path else None, load_options)
    if isinstance(load_options.encoder, str) and dataset.texts is None:
        raise ValueError(f"the data set {name} has no texts: a text encoder ({load_options.encoder!r}) "
                         "applies to text data sets only")
    return dataset
