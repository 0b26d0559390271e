"""``digits``: scikit-learn's handwritten digits, 8x8 images as 64 features, 10 classes.

The 1,797 images ship with scikit-learn (``sklearn.datasets.load_digits``, no
download). Pixel intensities 0..16 are divided by 16, so every feature lies in
[0, 1] on the same scale (standardising would blow up the border pixels that
are almost always 0, and would need the pool's statistics). Split at random
(seeded) into pool and test (``test_fraction``, default 0.2), stratified by class.
Each item is an image (``image_shape`` 8x8), named by its index in scikit-learn's order.
"""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits

from nudge.loop.datasets.base import Dataset, split_pool_test
from nudge.loop.datasets.images import pixel_names
from nudge.loop.datasets.registry import LoadOptions, register_dataset

DIGITS_MAX_INTENSITY = 16.0
DIGITS_SHAPE = (8, 8)


@register_dataset("digits", summary="scikit-learn's 8x8 handwritten digits: 64 features, 10 classes")
def load_digits_dataset(_path: None, options: LoadOptions) -> Dataset:
    images = load_digits()
    X = (images.data / DIGITS_MAX_INTENSITY).astype(np.float32)
    y = images.target.astype(np.int64)
    pool, test = split_pool_test(y, options.generated_test_fraction, options.seed, "digits")
    return Dataset("digits", X, y, [str(name) for name in images.target_names], pool, test, kind="image",
                   image_shape=DIGITS_SHAPE, feature_names=pixel_names(DIGITS_SHAPE))
