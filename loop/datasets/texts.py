"""Embedding a data set's texts (and their revisions) with a sentence encoder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from nudge.estimators.encoder_registry import make_text_encoder
from nudge.estimators.encoders import TextEncoder
from nudge.loop.compute import embedding
from nudge.loop.datasets.registry import load_dataset


def text_encoder(encoder: TextEncoder | str | None) -> TextEncoder:
    """The encoder to use: the one given, a registered one by name (``"mpnet"``), else the default
    text encoder (:func:`nudge.estimators.encoder_registry.make_text_encoder`)."""
    if encoder is None or isinstance(encoder, str):
        return make_text_encoder(encoder)
    return encoder


def encoder_identity(encoder: TextEncoder) -> str:
    """What a data set's fingerprint records of its encoder: the model's identity where it
    has one (a digest of the model's files), else the encoder's class."""
    return str(getattr(encoder, "identity", None) or type(encoder).__qualname__)


def embed_texts(
    encoder: TextEncoder, texts: list[str], revisions: list[str | None]
) -> tuple[np.ndarray, np.ndarray]:
    """(X (N, d), revisions' X (N, d) with NaN rows where none), in one encoder call."""
    present = [r for r in revisions if r is not None]
    vectors = np.asarray(embedding.embed_texts(encoder, texts + present), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != len(texts) + len(present):
        raise ValueError(
            f"the encoder returned shape {vectors.shape} for {len(texts) + len(present)} texts"
        )
    revised = np.full((len(texts), vectors.shape[1]), np.nan, dtype=np.float32)
    revised[np.array([r is not None for r in revisions], dtype=bool)] = vectors[len(texts) :]
    return vectors[: len(texts)], revised


class TextCollector:
    """An "encoder" that keeps the texts a data set loader asks to embed (and returns zeros)."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts = list(texts)
        return np.zeros((len(texts), 1), dtype=np.float32)


def texts_to_embed(spec: str, **options) -> tuple[str, list[str]]:
    """(the data set's name, every text its loader would embed: texts and revisions), read and
    checked through the data set's own loader without embedding anything (fast). An ``encoder``
    among ``options`` is left out: it says how the texts will be embedded, not which."""
    collector = TextCollector()
    options.pop("encoder", None)
    dataset = load_dataset(spec, encoder=collector, **options)
    return dataset.name, collector.texts
