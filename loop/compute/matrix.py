"""The ``.npy`` matrix of a pool's vectors, written once from the embedding cache and memory-mapped.

:func:`embedding_matrix` writes the texts' vectors, in order, to a ``.npy``
file beside the cache (float32 or float16) and opens it memory-mapped, so a
big pool is paged in from disk instead of held in RAM; a later load of the
same texts with the same model opens the file without reading the cache.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from nudge.estimators.encoders import SentenceEncoder

MATRIX_CHUNK = 4096  # rows read from the cache at a time while a matrix is written


def matrix_path(encoder: SentenceEncoder, texts: Sequence[str], dtype: str = "float32") -> Path:
    """The ``.npy`` file of ``texts``' vectors: named by a digest of their cache keys, beside the cache."""
    digest = hashlib.sha256(b"".join(encoder.keys(texts))).hexdigest()[:32]
    return Path(encoder.cache_dir) / "matrices" / f"{digest}-{len(texts)}-{np.dtype(dtype).name}.npy"


def embedding_matrix(encoder: SentenceEncoder, texts: Sequence[str], dtype: str = "float32") -> np.ndarray:
    """(N, d) ``dtype`` vectors of ``texts`` in order, memory-mapped (copy-on-write) from a ``.npy`` file.

    The file is written from the cache the first time (every text must be
    cached: run an :class:`EmbeddingJob` first) and reused after; it is
    written beside its final name and renamed, so it is whole or absent.
    """
    path = matrix_path(encoder, texts, dtype)
    if not path.is_file():
        _write_matrix(encoder, list(texts), path, np.dtype(dtype))
    return np.load(path, mmap_mode="c")


def _write_matrix(encoder: SentenceEncoder, texts: list[str], path: Path, dtype: np.dtype) -> None:
    keys = encoder.keys(texts)
    dimension = encoder.cache.dimension(encoder.model_id)
    if dimension is None:
        raise ValueError("no vector of this model is cached yet: embed the texts first")
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, partial = tempfile.mkstemp(prefix=".partial-", suffix=".npy", dir=path.parent)
    os.close(handle)
    try:
        matrix = np.lib.format.open_memmap(partial, mode="w+", dtype=dtype, shape=(len(keys), dimension))
        for start in range(0, len(keys), MATRIX_CHUNK):
            chunk = keys[start : start + MATRIX_CHUNK]
            found = encoder.cache.get(set(chunk), dimension)
            if len(found) < len(set(chunk)):
                raise ValueError(f"{len(set(chunk)) - len(found)} of the texts are not embedded yet")
            matrix[start : start + len(chunk)] = np.stack([found[key] for key in chunk])
        matrix.flush()
        del matrix
        os.replace(partial, path)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
