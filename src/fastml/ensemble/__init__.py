"""Random forests grown by fastml's C++ CART core, drop-in for ``sklearn.ensemble``'s."""
from ._forest import RandomForestClassifier, RandomForestRegressor

__all__ = ["RandomForestClassifier", "RandomForestRegressor"]
