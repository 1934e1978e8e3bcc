"""MultiTaskElasticNet, MultiTaskLasso and their cross-validated versions on fastml's block
coordinate descent (fastml._cd_fast.enet_path_multitask), drop-in for scikit-learn's.

They are scikit-learn's classes with the solver swapped: parameters, checks, attributes and the
cross-validation loop are its own. A fit on dense X prepares the data as scikit-learn's does
(centred, weighted, Fortran-ordered) and solves in the core, which computes X_j'R for every task
in one pass down a column; sparse X is handed to scikit-learn's solver.
"""
import numbers

import numpy as np
from scipy import sparse
from sklearn import linear_model as _sk
from sklearn.utils import check_consistent_length
from sklearn.utils.validation import validate_data

from ..utils._sklearn_compat import check_sample_weight, fit_context, pre_fit
from ._coordinate_descent import (_parallel_folds, _solve_path_multitask, enet_path,
                                  lasso_path)

__all__ = ["MultiTaskElasticNet", "MultiTaskElasticNetCV", "MultiTaskLasso", "MultiTaskLassoCV"]


class _MultiTaskFitMixin:
    """MultiTaskElasticNet.fit with the core's solver for dense X."""

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        if sparse.issparse(X):
            return super().fit(X, y, sample_weight=sample_weight)
        check_X_params = dict(accept_sparse="csc", dtype=[np.float64, np.float32], order="F",
                              force_writeable=True, accept_large_sparse=False,
                              copy=self.copy_X and self.fit_intercept)
        check_y_params = dict(copy=False, dtype=[np.float64, np.float32], ensure_2d=False,
                              order="F")
        X, y = validate_data(self, X, y, validate_separately=(check_X_params, check_y_params))
        check_consistent_length(X, y)
        if y.ndim == 1:
            model = "ElasticNet" if hasattr(self, "l1_ratio") else "Lasso"
            raise ValueError("For mono-task outputs, use %s" % model)
        n_samples, n_features = X.shape
        n_targets = y.shape[1]
        if isinstance(sample_weight, numbers.Number):
            sample_weight = None
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
            # scikit-learn rescales the weights to sum to n_samples (see its ElasticNet.fit).
            sample_weight = sample_weight * (n_samples / np.sum(sample_weight))
        X, y, X_offset, y_offset, X_scale, _, _ = pre_fit(
            X=X, y=y, Xy=None, precompute=False, fit_intercept=self.fit_intercept, copy=False,
            sample_weight=sample_weight)
        coef_init = (self.coef_ if self.warm_start and hasattr(self, "coef_")
                     else np.zeros((n_targets, n_features), dtype=X.dtype))
        coefs, gaps, n_iters, tols = _solve_path_multitask(
            X, np.asarray(y, dtype=X.dtype), [self.alpha], self.l1_ratio, coef_init=coef_init,
            tol=self.tol, max_iter=self.max_iter, random_state=self.random_state,
            selection=self.selection)
        # scikit-learn keeps coef_ Fortran-ordered and eps_ (the gap's bound) unscaled.
        self.coef_ = np.asfortranarray(coefs[..., 0])
        self.dual_gap_ = gaps[0]
        self.eps_ = tols[0]
        self.n_iter_ = n_iters[0]
        self._set_intercept(X_offset, y_offset, X_scale)
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
