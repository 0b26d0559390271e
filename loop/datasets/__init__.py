"""Data sets: the :class:`Dataset` type, a registry of loaders, and the built-in kinds.

:func:`load_dataset` takes a spec, a registered kind (see :func:`dataset_specs`):

- ``moons``, ``circles``, ``blobs``, ``xor``: two-class 2-D sets from generators
  whose true boundary is known (:mod:`nudge.loop.datasets.generators`);
- ``gaussians``: several classes in 2-D, one Gaussian blob each, true classes
  known (:mod:`nudge.loop.datasets.gaussians`);
- ``digits``: scikit-learn's 8x8 digits, 64 features, 10 classes (:mod:`nudge.loop.datasets.digits`);
- ``csv:PATH`` and ``text-csv:PATH``: the user's numeric data and texts
  (:mod:`nudge.loop.datasets.files`);
- ``cad-imdb``: IMDb reviews with human counterfactual revisions
  (:mod:`nudge.loop.datasets.cad`).

Generated and CSV sets are split at random (seeded) into a pool (the points
that may be queried) and a test part (``test_fraction``, default 0.2),
stratified by class when every class allows it. Texts are embedded by the
default text encoder (:mod:`nudge.estimators.encoder_registry`) unless another, or
another's name (``encoder="mpnet"``), is given.
New kinds register a loader with :func:`register_dataset`.
"""

# The built-in kinds register themselves on import, in the order help texts list them.
from nudge.loop.datasets import generators, gaussians, digits, cad, files  # noqa: F401, I001
from nudge.loop.datasets.base import Dataset, split_pool_test, spread
from nudge.loop.datasets.cad import (
    CAD_CLASSES,
    SHARED_CAD_DIR,
    CadPair,
    download_cad,
    find_cad_dir,
    load_cad_imdb,
    read_cad_pairs,
)
from nudge.loop.datasets.generators import (
    GENERATED,
    GENERATORS,
    BlobsGenerator,
    CirclesGenerator,
    MoonsGenerator,
    TwoClassGenerator,
    TwoDGenerator,
    XorGenerator,
)
from nudge.loop.datasets.gaussians import GaussiansGenerator
from nudge.loop.datasets.reading import resolve_data_path
from nudge.loop.datasets.registry import (
    DATASET_KINDS,
    DatasetKind,
    LoadOptions,
    dataset_specs,
    load_dataset,
    register_dataset,
)

DATASETS = dataset_specs()  # the built-in kinds, for help texts

__all__ = [
    "CAD_CLASSES",
    "DATASETS",
    "DATASET_KINDS",
    "GENERATED",
    "GENERATORS",
    "SHARED_CAD_DIR",
    "BlobsGenerator",
    "CadPair",
    "CirclesGenerator",
    "Dataset",
    "DatasetKind",
    "GaussiansGenerator",
    "LoadOptions",
    "MoonsGenerator",
    "TwoClassGenerator",
    "TwoDGenerator",
    "XorGenerator",
    "dataset_specs",
    "download_cad",
    "find_cad_dir",
    "load_cad_imdb",
    "load_dataset",
    "read_cad_pairs",
    "register_dataset",
    "resolve_data_path",
    "split_pool_test",
    "spread",
]
