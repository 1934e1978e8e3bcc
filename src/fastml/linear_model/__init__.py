"""Linear models on fastml's compiled cores, drop-in for ``sklearn.linear_model``."""
from ._coordinate_descent import (ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path,
                                  lasso_path)

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "enet_path", "lasso_path"]
