"""Data sets: the :class:`Dataset` type, a registry of loaders, and the built-in kinds.

:func:`load_dataset` takes a spec, a registered kind (see :func:`dataset_specs`):

- ``moons``, ``circles``, ``blobs``, ``xor``: two-class 2-D sets from generators
  whose true boundary is known (:mod:`nudge.loop.datasets.generators`);
- ``gaussians``: several classes in 2-D, one Gaussian blob each, true classes
  known (:mod:`nudge.loop.datasets.gaussians`);
- ``digits``: scikit-learn's 8x8 digits, 64 features, 10 classes (:mod:`nudge.loop.datasets.digits`);
- ``csv:PATH``: the user's numeric table or images (:mod:`nudge.loop.datasets.files`);
- ``text-csv:PATH``, ``jsonl:PATH``, ``parquet:PATH``: the user's texts, labelled or not
  (:mod:`nudge.loop.datasets.text_files`);
- ``cad-imdb``: IMDb reviews with human counterfactual revisions
  (:mod:`nudge.loop.datasets.cad`).

Generated sets are split at random (seeded) into a pool (the points that may
be queried) and a test part (``test_fraction``, default 0.2), stratified by
class when every class allows it. The user's files bring items with or
without labels (:data:`UNKNOWN`): their test set is a labelled file of its own
or a share of the labelled rows (:mod:`nudge.loop.datasets.labels`). Every
item has an id and a digest; :mod:`nudge.loop.datasets.items` lays a grown or
edited file out in a session's point ids, :mod:`nudge.estimators.scaling`
turns the data's units into the model's. Texts are embedded by the
default text encoder (:mod:`nudge.estimators.encoder_registry`) unless another, or
another's name (``encoder="mpnet"``), is given.
New kinds register a loader with :func:`register_dataset`.
"""

# The built-in kinds register themselves on import, in the order help texts list them.
from nudge.loop.datasets import generators, gaussians, digits, cad, files, text_files  # noqa: F401, I001
from nudge.loop.datasets.base import UNKNOWN, Dataset, content_hash, split_pool_test, spread
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
from nudge.loop.datasets.images import parse_shape
from nudge.loop.datasets.items import ItemChanges, aligned, item_changes
from nudge.loop.datasets.reading import resolve_data_path
from nudge.loop.datasets.registry import (
    DATASET_KINDS,
    DatasetKind,
    LoadOptions,
    dataset_specs,
    load_dataset,
    register_dataset,
)
from nudge.estimators.scaling import NO_SCALING, SCALINGS, Scaling

DATASETS = dataset_specs()  # the built-in kinds, for help texts

__all__ = [
    "CAD_CLASSES",
    "DATASETS",
    "DATASET_KINDS",
    "GENERATED",
    "GENERATORS",
    "NO_SCALING",
    "SCALINGS",
    "SHARED_CAD_DIR",
    "UNKNOWN",
    "BlobsGenerator",
    "CadPair",
    "CirclesGenerator",
    "Dataset",
    "DatasetKind",
    "GaussiansGenerator",
    "ItemChanges",
    "LoadOptions",
    "MoonsGenerator",
    "Scaling",
    "TwoClassGenerator",
    "TwoDGenerator",
    "XorGenerator",
    "aligned",
    "content_hash",
    "dataset_specs",
    "download_cad",
    "find_cad_dir",
    "item_changes",
    "load_cad_imdb",
    "load_dataset",
    "parse_shape",
    "read_cad_pairs",
    "register_dataset",
    "resolve_data_path",
    "split_pool_test",
    "spread",
]
