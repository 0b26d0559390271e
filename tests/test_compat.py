"""The modAL / scikit-learn shim: fails when it stops being needed or stops working."""

import inspect

import modAL.models.learners as learners
import numpy as np
import pytest
from sklearn.utils import check_X_y

from nudge.strategies import compat


def test_shim_is_still_needed():
    """If this fails, modAL or scikit-learn got fixed: delete strategies/compat.py."""
    assert "force_all_finite=" in inspect.getsource(learners), "modAL no longer passes force_all_finite"
    assert compat.shim_needed()
    with pytest.raises(TypeError):
        check_X_y(np.zeros((2, 2)), np.zeros(2), force_all_finite=True)


def test_shim_translates_the_old_argument():
    assert learners.check_X_y is not check_X_y
    X, y = learners.check_X_y(np.zeros((2, 2)), np.zeros(2), force_all_finite=True)
    assert X.shape == (2, 2)
    with pytest.raises(ValueError, match="NaN"):
        learners.check_X_y(np.array([[np.nan, 0.0]]), np.zeros(1), force_all_finite=True)
    X, _ = learners.check_X_y(np.array([[np.nan, 0.0]]), np.zeros(1), force_all_finite=False)
    assert np.isnan(X[0, 0])


def test_install_is_idempotent():
    patched = learners.check_X_y
    compat.install()
    assert learners.check_X_y is patched
