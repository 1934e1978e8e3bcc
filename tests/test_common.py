"""Every public fastml estimator passes scikit-learn's estimator checks."""
import pytest
from sklearn.base import BaseEstimator
from sklearn.utils.estimator_checks import parametrize_with_checks

from fastml.utils import all_estimators

ESTIMATORS = [cls() for _, cls in all_estimators()]


def test_all_estimators_lists_public_estimator_classes():
    found = all_estimators()
    assert found == sorted(found)
    for name, cls in found:
        assert issubclass(cls, BaseEstimator) and cls.__name__ == name
        assert cls.__module__.startswith("fastml.")
    with pytest.raises(ValueError, match="type_filter"):
        all_estimators(type_filter="nonsense")


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
