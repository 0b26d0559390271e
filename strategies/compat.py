"""The one place that makes modAL-python 0.4.2.1 work on current scikit-learn.

modAL's learners call ``check_X_y(..., force_all_finite=...)``; scikit-learn
renamed that argument ``ensure_all_finite`` (1.6) and removed the old name
(1.8). This module wraps the ``check_X_y`` that modAL's learners imported so
the old name is translated. It is installed on import of ``strategies`` and
is idempotent. ``tests/test_compat.py`` fails when the shim stops being
needed (so it can be deleted) or stops working.
"""

from __future__ import annotations

import functools
import inspect

import modAL.models.learners as _learners
from sklearn.utils import check_X_y as _sklearn_check_X_y


def shim_needed() -> bool:
    """True when scikit-learn's check_X_y no longer accepts ``force_all_finite``."""
    return "force_all_finite" not in inspect.signature(_sklearn_check_X_y).parameters


@functools.wraps(_sklearn_check_X_y)
def _check_X_y_accepting_old_name(*args, force_all_finite=True, **kwargs):
    kwargs.setdefault("ensure_all_finite", force_all_finite)
    return _sklearn_check_X_y(*args, **kwargs)


def install() -> None:
    """Route modAL's learners through the translating ``check_X_y`` when needed."""
    if shim_needed():
        _learners.check_X_y = _check_X_y_accepting_old_name


install()
