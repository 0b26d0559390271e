"""How a data set's own units (``Dataset.raw``) become the model's inputs (``Dataset.X``): :class:`Scaling`.

A table's columns come in their own units (metres, euros, counts): a network
fed them raw learns mostly from the widest column. A session standardises
them on its **pool** when it is created (each column less its pool mean,
divided by its pool standard deviation; a constant column keeps scale 1), and
stores the scaling with the session, so a resumed session, new rows and
rewrites are scaled the same way and a grown pool never shifts the model's
inputs. What is stored, shown and exported stays in the data's own units:
a point maps with :meth:`Scaling.to_model` / :meth:`Scaling.to_data`, a
direction (a difference of points) with :meth:`Scaling.direction_to_model` /
:meth:`Scaling.direction_to_data` (no shift).

Which scaling a session takes (``SessionConfig.scaling``): ``"auto"`` (the
default: standard for tables, none for 2-D points, texts and images, whose
coordinates, embeddings or pixels share one unit), ``"standard"`` or ``"none"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SCALINGS = ("auto", "standard", "none")
SCALED_KINDS = ("table",)  # the kinds "auto" standardises


@dataclass(frozen=True, eq=False)
class Scaling:
    """x_model = (x_data - mean) / scale, per feature; ``kind`` "none" is the identity.

    mean, scale : (n,) float64 for "standard", None for "none".
    """

    kind: str = "none"
    mean: np.ndarray | None = None
    scale: np.ndarray | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("none", "standard"):
            raise ValueError(f"unknown scaling {self.kind!r}; a stored scaling is 'none' or 'standard'")
        if self.kind == "standard":
            mean = np.asarray(self.mean, dtype=np.float64)
            scale = np.asarray(self.scale, dtype=np.float64)
            if mean.ndim != 1 or scale.shape != mean.shape:
                raise ValueError(f"a standard scaling needs mean and scale of one shape (n,), got "
                                 f"{mean.shape} and {scale.shape}")
            if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(scale)) and np.all(scale > 0)):
                raise ValueError("a standard scaling needs finite means and positive finite scales")
            object.__setattr__(self, "mean", mean)
            object.__setattr__(self, "scale", scale)

    @classmethod
    def fit(cls, how: str, kind: str, raw_pool: np.ndarray) -> Scaling:
        """The scaling ``how`` ("auto", "standard", "none") of data of ``kind`` (a ``Dataset.kind``),
        fitted on the pool's rows ``raw_pool`` (M, n) in data units."""
        if how not in SCALINGS:
            raise ValueError(f"unknown scaling {how!r}; choose one of: {', '.join(SCALINGS)}")
        if how == "standard" and kind == "text":  # rewrites, highlights and predictions read embeddings as they are
            raise ValueError("texts are read in their sentence model's units: scaling 'standard' is for numeric "
                             "data (use auto or none)")
        if how == "none" or how == "auto" and kind not in SCALED_KINDS:
            return cls()
        raw_pool = np.asarray(raw_pool, dtype=np.float64)
        if len(raw_pool) == 0:
            raise ValueError("cannot standardise an empty pool")
        scale = raw_pool.std(axis=0)
        return cls("standard", raw_pool.mean(axis=0), np.where(scale > 0, scale, 1.0))

    @property
    def is_identity(self) -> bool:
        return self.kind == "none"

    def to_model(self, raw: np.ndarray) -> np.ndarray:
        """(..., n) points in data units -> float32 model inputs."""
        if self.is_identity:
            return np.asarray(raw, dtype=np.float32)
        return ((np.asarray(raw, dtype=np.float64) - self.mean) / self.scale).astype(np.float32)

    def to_data(self, X: np.ndarray) -> np.ndarray:
        """(..., n) model inputs -> float64 points in data units."""
        if self.is_identity:
            return np.asarray(X, dtype=np.float64)
        return np.asarray(X, dtype=np.float64) * self.scale + self.mean

    def direction_to_model(self, direction: np.ndarray) -> np.ndarray:
        """(..., n) directions (differences of points) in data units -> model units (float64)."""
        direction = np.asarray(direction, dtype=np.float64)
        return direction if self.is_identity else direction / self.scale

    def direction_to_data(self, direction: np.ndarray) -> np.ndarray:
        """(..., n) directions in model units -> data units (float64)."""
        direction = np.asarray(direction, dtype=np.float64)
        return direction if self.is_identity else direction * self.scale

    def as_dict(self) -> dict:
        """JSON-ready (floats round-trip exactly through JSON)."""
        if self.is_identity:
            return {"kind": "none"}
        return {"kind": "standard", "mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_dict(cls, values: dict) -> Scaling:
        if values.get("kind") == "standard":
            return cls("standard", np.asarray(values["mean"], dtype=np.float64),
                       np.asarray(values["scale"], dtype=np.float64))
        return cls(values.get("kind", "none"))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Scaling) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(self.kind)

    def describe(self) -> str:
        return "none" if self.is_identity else f"standardised on the pool ({len(self.mean)} features)"


NO_SCALING = Scaling()
