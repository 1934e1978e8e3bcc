"""Linear models on fastml's compiled cores, drop-in for ``sklearn.linear_model``:
LogisticRegression and LogisticRegressionCV (see _logistic.py for what is compiled)."""
from ._logistic import LogisticRegression, LogisticRegressionCV

__all__ = ["LogisticRegression", "LogisticRegressionCV"]
