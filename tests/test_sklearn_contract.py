"""DirectionClassifier against scikit-learn's own estimator checks.

Every check runs; the ones that cannot apply are named below with the reason,
and ``xfail_strict`` turns any of them that starts passing into a failure, so
the list cannot go stale. (``check_array_api_input`` skips itself unless
SCIPY_ARRAY_API is set; the network takes numpy arrays.)
"""

from sklearn.utils.estimator_checks import parametrize_with_checks

from nudge.estimators import DirectionClassifier

EXPECTED_FAILED_CHECKS = {
    "check_no_attributes_set_in_init": (
        "skorch's NeuralNet.__init__ sets history_, initialized_ and virtual_params_ and keeps "
        "prefixed settings (module__hidden, iterator_train__shuffle) as attributes, by design"
    ),
    "check_supervised_y_2d": (
        "an (N, 1) y is a packed y with zero direction slots (nudge.estimators.targets), "
        "not a column vector of labels to warn about"
    ),
}


@parametrize_with_checks(
    [DirectionClassifier(max_epochs=5, module__hidden=(8,), random_state=0)],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
    xfail_strict=True,
)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
