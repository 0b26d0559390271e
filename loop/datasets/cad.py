"""The counterfactually-augmented IMDb reviews of Kaushik et al. (2020): ``cad-imdb``.

Each original review comes with its human revision of opposite sentiment
(see :func:`load_cad_imdb`); the files are read from ``data_dir``, the
project's shared copy, or nudge's cache (fetched once when online).
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nudge.estimators.encoders import TextEncoder, nudge_cache_dir
from nudge.loop.datasets.base import Dataset, content_hash, spread
from nudge.loop.datasets.reading import check_width, file_digest, read_table, resolve_data_path
from nudge.loop.datasets.registry import LoadOptions, register_dataset
from nudge.loop.datasets.texts import embed_texts, encoder_identity, text_encoder

CAD_CLASSES = ["Negative", "Positive"]
CAD_FILES = {split: f"{split}_paired.tsv" for split in ("train", "dev", "test")}
CAD_COLUMNS = ("Sentiment", "Text", "batch_id")
CAD_URL = (
    "https://raw.githubusercontent.com/acmi-lab/counterfactually-augmented-data/"
    "master/sentiment/combined/paired/{file}"
)
CAD_MAX_BYTES = 20_000_000  # the largest file is 3.2 MB
# The copy beside the project (tests and CI): ../shared/data/cad_sentiment from the repository root.
SHARED_CAD_DIR = Path(__file__).resolve().parents[3] / "shared" / "data" / "cad_sentiment"


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
    rows = read_table(path, "\t")
    header = rows[0][1]
    if any(column not in header for column in CAD_COLUMNS):
        wanted = ", ".join(CAD_COLUMNS)
        raise ValueError(f"{path} needs the header columns {wanted}; it has {header}")
    at = [header.index(column) for column in CAD_COLUMNS]
    batches: dict[str, list[tuple[int, str, str]]] = {}
    for line, cells in rows[1:]:
        check_width(path, line, cells, len(header))
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
    folder: str | Path, *, encoder: TextEncoder | str | None = None, limit: int | None = None
) -> Dataset:
    """The CAD IMDb data set from ``folder`` (see :func:`find_cad_dir`).

    One point per original review, named by its ``batch_id``: pool = train originals, dev = dev
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
    encoder = text_encoder(encoder)
    X, revised_X = embed_texts(encoder, [pair.original for pair in pairs], revisions)
    fingerprint = {"kind": "cad-imdb", "limit": limit, "encoder": encoder_identity(encoder),
                   "sha256": {split: file_digest(folder / name) for split, name in CAD_FILES.items()}}
    y = np.array([pair.label for pair in pairs], dtype=np.int64)
    digests = [content_hash(f"{pair.original}\0{pair.revision}\0{pair.label}") for pair in pairs]
    bounds = np.cumsum([0] + [len(split_pairs) for split_pairs in splits.values()])
    pool, dev, test = (np.arange(start, stop) for start, stop in zip(bounds[:-1], bounds[1:]))
    return Dataset(
        "cad-imdb", X, y, list(CAD_CLASSES), pool, test, dev=dev,
        texts=[pair.original for pair in pairs],
        counterfactual_texts=list(revisions),
        counterfactual_X=revised_X,
        extra_tests={"revised": (revised_X[test], 1 - y[test])},
        fingerprint=fingerprint,
        encoder=encoder,
        item_ids=[pair.batch_id for pair in pairs],
        item_digests=digests,
    )


@register_dataset("cad-imdb", summary="IMDb reviews with human counterfactual revisions (Kaushik et al. 2020)")
def load_cad(_path: None, options: LoadOptions) -> Dataset:
    """cad-imdb: the folder from ``data_dir``, the shared copy or the cache (:func:`find_cad_dir`)."""
    folder = find_cad_dir(options.data_dir, data_root=options.data_root)
    return load_cad_imdb(folder, encoder=options.encoder, limit=options.limit)
