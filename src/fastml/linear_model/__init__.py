"""Linear models with scikit-learn's API on compiled cores."""
from ._base import LinearRegression
from ._ridge import Ridge, RidgeClassifier

__all__ = ["LinearRegression", "Ridge", "RidgeClassifier"]
