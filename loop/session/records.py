"""A point handed to an annotator: :class:`Query`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nudge.loop.store.log import Annotation


@dataclass(frozen=True)
class Query:
    """A point handed to an annotator, with what the model thinks of it.

    ``reopens``: the answer this query hands back to be corrected (an undo), else None.
    ``x`` is the point in model units (the projection's origin); ``item_id`` names the item.
    """

    query_id: str
    point_id: int
    annotator: str
    model_version: int
    score: float | None
    lease_until: float
    x: np.ndarray = field(repr=False)
    probabilities: np.ndarray | None = field(repr=False)  # (C,) or None before any training
    text: str | None = None
    reopens: Annotation | None = field(default=None, repr=False)
    item_id: str | None = None

    @property
    def prediction(self) -> int | None:
        return None if self.probabilities is None else int(np.argmax(self.probabilities))
