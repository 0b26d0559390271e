"""Images as items: files read with Pillow (a column of paths), and the shape of pixel columns.

An image file becomes ``height * width`` features: converted to grayscale, resized to the
session's image size, pixel values / 255 (so in [0, 1]), row-major. The path stays with the item
for display (``Dataset.image_paths``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nudge.loop.datasets.reading import resolve_data_path


def pixel_names(shape: tuple[int, int]) -> list[str]:
    """Feature names of an image's pixels, row-major: "pixel0_0", "pixel0_1", ..."""
    return [f"pixel{row}_{column}" for row in range(shape[0]) for column in range(shape[1])]


def parse_shape(text: str) -> tuple[int, int]:
    """"8x8" -> (8, 8): HEIGHTxWIDTH in whole pixels (ValueError otherwise)."""
    height, sep, width = str(text).strip().lower().partition("x")
    try:
        shape = (int(height), int(width))
    except ValueError:
        shape = None
    if not sep or shape is None or min(shape) < 1:
        raise ValueError(f"an image shape is HEIGHTxWIDTH in whole pixels, e.g. 8x8; got {text!r}")
    return shape


def read_image(cell: str, folder: Path, size: tuple[int, int], place: str,
               data_root: str | Path | None = None) -> tuple[np.ndarray, str]:
    """(pixels (height * width,) float32 in [0, 1], the resolved path) of the image ``cell`` names
    (relative to ``folder``); a missing file, or one Pillow cannot read, is refused naming ``place``."""
    from PIL import Image, UnidentifiedImageError

    try:
        path = resolve_data_path(folder / cell, data_root=data_root)
    except ValueError as error:
        raise ValueError(f"{place}: the image {cell!r} cannot be used ({error})") from None
    try:
        with Image.open(path) as image:
            gray = image.convert("L").resize((size[1], size[0]), Image.Resampling.BILINEAR)
            pixels = np.asarray(gray, dtype=np.float32).reshape(-1) / 255.0
    except UnidentifiedImageError:
        raise ValueError(f"{place}: {cell!r} is not an image Pillow can read") from None
    except OSError as error:
        raise ValueError(f"{place}: the image {cell!r} cannot be read ({error})") from None
    return pixels, str(path)
