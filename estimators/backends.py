"""The sentence encoders by backend name: ``torch`` (sentence-transformers) and ``onnx-int8``.

``make_encoder(backend, **options)`` builds one; :data:`DEFAULT_BACKEND` is
what nudge embeds with when nothing is asked (see bench/README.md, "In short",
for the measurements behind the choice). The two backends' vectors are keyed
apart in the embedding cache (each by its own model identity).
"""

from __future__ import annotations

from typing import Any

from nudge.estimators.encoders import SentenceEncoder
from nudge.estimators.onnx_encoder import OnnxSentenceEncoder

ENCODER_BACKENDS: dict[str, type[SentenceEncoder]] = {
    "torch": SentenceEncoder,
    "onnx-int8": OnnxSentenceEncoder,
}
DEFAULT_BACKEND = "torch"  # int8 ONNX is as accurate on CAD but not faster on this machine (bench/README.md)


def make_encoder(backend: str | None = None, *, threads: int | None = None, **options: Any) -> SentenceEncoder:
    """A sentence encoder of ``backend`` (default :data:`DEFAULT_BACKEND`).

    ``options`` go to the encoder (``model``, ``cache_dir``, ``batch_size``,
    ``show_progress``); ``threads`` sets ONNX Runtime's threads (the torch
    backend follows ``torch.set_num_threads``).
    """
    backend = DEFAULT_BACKEND if backend is None else backend
    if backend not in ENCODER_BACKENDS:
        raise ValueError(f"unknown encoder backend {backend!r}; choose one of: {', '.join(ENCODER_BACKENDS)}")
    if backend == "onnx-int8":
        return OnnxSentenceEncoder(threads=threads, **options)
    return SentenceEncoder(**options)
