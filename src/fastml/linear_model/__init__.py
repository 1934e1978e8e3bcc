"""Linear models with scikit-learn's API on fastml's compiled cores, drop-in for
``sklearn.linear_model`` (see each module for what is compiled)."""
from ._base import LinearRegression
from ._coordinate_descent import (ElasticNet, ElasticNetCV, Lasso, LassoCV, enet_path,
                                  lasso_path)
from ._multi_task import (MultiTaskElasticNet, MultiTaskElasticNetCV, MultiTaskLasso,
                          MultiTaskLassoCV)
from ._logistic import LogisticRegression, LogisticRegressionCV
from ._ridge import Ridge, RidgeClassifier
from ._ridge_cv import RidgeClassifierCV, RidgeCV
from ._stochastic_gradient import SGDClassifier, SGDRegressor

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "LinearRegression",
           "LogisticRegression", "LogisticRegressionCV", "MultiTaskElasticNet",
           "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV", "Ridge", "RidgeCV", "RidgeClassifier",
           "RidgeClassifierCV", "enet_path", "lasso_path"]
__all__ += ["SGDClassifier", "SGDRegressor"]
