"""Random forests grown by fastml's C++ CART core and histogram gradient boosting on its C++
booster, drop-in for ``sklearn.ensemble``'s, and a LambdaMART ranker on the same booster."""
from ._forest import RandomForestClassifier, RandomForestRegressor
from ._hgb_ranker import HistGradientBoostingRanker
from ._hist_gradient_boosting import HistGradientBoostingClassifier, HistGradientBoostingRegressor

__all__ = ["HistGradientBoostingClassifier", "HistGradientBoostingRanker",
           "HistGradientBoostingRegressor",
           "RandomForestClassifier", "RandomForestRegressor"]
