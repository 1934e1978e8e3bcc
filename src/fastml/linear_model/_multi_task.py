"""MultiTaskElasticNet, MultiTaskLasso and their cross-validated versions on fastml's block
coordinate descent (fastml._cd_fast.enet_path_multitask), drop-in for scikit-learn's.

They are scikit-learn's classes with the solver swapped: parameters, checks, attributes and the
cross-validation loop are its own. A fit on dense X solves in the core on X as given (C or F order),
centred and weighted on the fly, where scikit-learn makes a centred Fortran-ordered copy; sparse
X is handed to scikit-learn's solver.
"""
import numbers

import numpy as np
from scipy import sparse
from sklearn import linear_model as _sk
from sklearn.utils import check_consistent_length
from sklearn.utils.validation import validate_data

from ..utils._sklearn_compat import check_sample_weight, fit_context, weighted_average
from ._coordinate_descent import (_parallel_folds, _solve_path_multitask, enet_path,
                                  lasso_path)

__all__ = ["MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV"]


class _MultiTaskFitMixin:
    """MultiTaskElasticNet.fit with the core's solver for dense X."""

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if sparse.issparse(X):
            return super().fit(X, y, sample_weight=sample_weight)
        # X as given (no Fortran-ordered, centred copy, which scikit-learn makes: the core
        # centres and weights it on the fly); only y, n x n_tasks, is centred and weighted here.
        check_X_params = dict(accept_sparse="csc", dtype=[np.float64, np.float32],
                              accept_large_sparse=False)
        check_y_params = dict(copy=False, dtype=[np.float64, np.float32], ensure_2d=False)
        X, y = validate_data(self, X, y, validate_separately=(check_X_params, check_y_params))
        check_consistent_length(X, y)
        if y.ndim == 1:
            model = "ElasticNet" if hasattr(self, "l1_ratio") else "Lasso"
            raise ValueError("For mono-task outputs, use %s" % model)
        y = np.asarray(y, dtype=X.dtype)
        n_samples, n_features = X.shape
        n_targets = y.shape[1]
        if isinstance(sample_weight, numbers.Number):
            sample_weight = None
        scale = None
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
            # scikit-learn rescales the weights to sum to n_samples (see its ElasticNet.fit).
            sample_weight = sample_weight * (n_samples / np.sum(sample_weight))
            scale = np.sqrt(sample_weight)
        if self.fit_intercept:
            X_offset = np.asarray(weighted_average(X, axis=0, weights=sample_weight),
                                  dtype=X.dtype)
            y_offset = np.asarray(weighted_average(y, axis=0, weights=sample_weight),
                                  dtype=X.dtype)
        else:
            X_offset = np.zeros(n_features, dtype=X.dtype)
            y_offset = np.zeros(n_targets, dtype=X.dtype)
        Y = y - y_offset
        if scale is not None:
            Y = Y * scale[:, None]
        coef_init = (self.coef_ if self.warm_start and hasattr(self, "coef_")
                     else np.zeros((n_targets, n_features), dtype=X.dtype))
        coefs, gaps, n_iters, tols = _solve_path_multitask(
            X, Y, [self.alpha], self.l1_ratio, coef_init=coef_init,
            X_mean=X_offset if self.fit_intercept else None, X_scale=scale, tol=self.tol,
            max_iter=self.max_iter, random_state=self.random_state, selection=self.selection)
        # scikit-learn keeps coef_ Fortran-ordered and eps_ (the gap's bound) unscaled.
        self.coef_ = np.asfortranarray(coefs[..., 0])
        self.dual_gap_ = gaps[0]
        self.eps_ = tols[0]
        self.n_iter_ = n_iters[0]
        self._set_intercept(X_offset, y_offset, np.ones(n_features, dtype=X.dtype))
        return self


class MultiTaskElasticNet(_MultiTaskFitMixin, _sk.MultiTaskElasticNet):
    __doc__ = _sk.MultiTaskElasticNet.__doc__
    path = staticmethod(enet_path)


class MultiTaskLasso(_MultiTaskFitMixin, _sk.MultiTaskLasso):
    __doc__ = _sk.MultiTaskLasso.__doc__
    path = staticmethod(enet_path)


class MultiTaskElasticNetCV(_sk.MultiTaskElasticNetCV):
    __doc__ = _sk.MultiTaskElasticNetCV.__doc__
    path = staticmethod(enet_path)

    def fit(self, X, y, **params):
        with _parallel_folds(self):
            return super().fit(X, y, **params)

    def _get_estimator(self):
        return MultiTaskElasticNet()


class MultiTaskLassoCV(_sk.MultiTaskLassoCV):
    __doc__ = _sk.MultiTaskLassoCV.__doc__
    path = staticmethod(lasso_path)

    def fit(self, X, y, **params):
        with _parallel_folds(self):
            return super().fit(X, y, **params)

    def _get_estimator(self):
        return MultiTaskLasso()
