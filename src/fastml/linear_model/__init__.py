"""Linear models with scikit-learn's API on compiled cores."""
from ._base import LinearRegression
from ._ridge import Ridge, RidgeClassifier
from ._ridge_cv import RidgeClassifierCV, RidgeCV

__all__ = ["LinearRegression", "Ridge", "RidgeCV", "RidgeClassifier", "RidgeClassifierCV"]
