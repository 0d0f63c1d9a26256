"""scikit-learn's own estimator checks (sklearn.utils.estimator_checks) on
every ember estimator.  Checks expected to fail are listed in
EXPECTED_FAILURES with the reason (and in docs/ml.md)."""
from sklearn.utils.estimator_checks import parametrize_with_checks

from ember.preprocessing import (MaxAbsScaler, MinMaxScaler, Normalizer, OneHotEncoder, OrdinalEncoder,
                                 PolynomialFeatures, RobustScaler, SimpleImputer, StandardScaler)

ESTIMATORS = [
    StandardScaler(), MinMaxScaler(), MaxAbsScaler(), RobustScaler(), Normalizer(), SimpleImputer(),
    # the checks transform held-out random floats, which are unknown categories
    OneHotEncoder(handle_unknown="ignore"),
    OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1),
    PolynomialFeatures(),
]

EXPECTED_FAILURES: dict[str, dict[str, str]] = {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: EXPECTED_FAILURES.get(type(est).__name__, {}))
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
