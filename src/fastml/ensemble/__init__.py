"""Random forests grown by fastml's C++ CART core and histogram gradient boosting on its C++
booster, drop-in for ``sklearn.ensemble``'s."""
from ._forest import RandomForestClassifier, RandomForestRegressor
from ._hist_gradient_boosting import HistGradientBoostingClassifier, HistGradientBoostingRegressor

__all__ = ["HistGradientBoostingClassifier", "HistGradientBoostingRegressor",
           "RandomForestClassifier", "RandomForestRegressor"]
