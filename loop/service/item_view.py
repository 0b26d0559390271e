"""What the page shows of an item besides its projection: a table row as its feature names and values,
each with where it sits in the pool's range; an image as the image (a PNG made here, sent as a data
URL: the page loads nothing from elsewhere). Texts are shown as text by the page already.

:class:`ItemViews` makes them for one data set (the pool's ranges are taken once)::

    {"kind": "table", "features": [{"name", "value", "min", "max"}, ...]}
    {"kind": "image", "src": "data:image/png;base64,...", "width", "height"}
"""

from __future__ import annotations

import base64
import io
from functools import cached_property

import numpy as np

from nudge.loop.datasets import Dataset

IMAGE_PIXELS = 160  # an image is shown at least this wide and high (whole multiples of its pixels)


class ItemViews:
    """The item views of ``dataset``'s items (None for kinds the page shows otherwise: texts, 2-D points)."""

    def __init__(self, dataset: Dataset) -> None:
        self.dataset = dataset

    @cached_property
    def _ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """(n,) the pool's smallest and largest value of each feature, in the data's units."""
        pool = np.asarray(self.dataset.raw[self.dataset.pool], dtype=np.float64)
        return pool.min(axis=0), pool.max(axis=0)

    def view(self, point_id: int) -> dict | None:
        if self.dataset.image_shape is not None:
            return self._image(point_id)
        if self.dataset.kind == "table":
            return self._table(point_id)
        return None

    def _table(self, point_id: int) -> dict:
        low, high = self._ranges
        values = self.dataset.raw[point_id]
        return {"kind": "table", "features": [
            {"name": name, "value": float(value), "min": float(lo), "max": float(hi)}
            for name, value, lo, hi in zip(self.dataset.names_of_features, values, low, high)]}

    def _image(self, point_id: int) -> dict:
        from PIL import Image

        low, high = float(self._ranges[0].min()), float(self._ranges[1].max())  # one grey scale for every pixel
        height, width = self.dataset.image_shape
        pixels = np.asarray(self.dataset.raw[point_id], dtype=np.float64).reshape(height, width)
        grey = np.clip((pixels - low) / ((high - low) or 1.0), 0.0, 1.0)
        image = Image.fromarray(np.round(grey * 255).astype(np.uint8))  # 2-D uint8: greyscale
        zoom = max(1, -(-IMAGE_PIXELS // max(height, width)))
        image = image.resize((width * zoom, height * zoom), Image.Resampling.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return {"kind": "image", "src": "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii"),
                "width": width * zoom, "height": height * zoom}
