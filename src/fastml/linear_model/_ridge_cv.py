"""RidgeCV and RidgeClassifierCV: efficient leave-one-out over the alphas from one eigen-
decomposition of the Gram matrix that the compiled core computes.

With Xc the weighted-centered design (rows scaled by sqrt(w)), G = Xc^T Xc = V diag(lam) V^T
and Q = Xc V, the hat matrix of alpha is H = Q diag(1 / (lam + alpha)) Q^T: its diagonal is
(Q * Q) @ (1 / (lam + alpha)) and its fit Q ((V^T Xc^T y) / (lam + alpha)), so each alpha costs
O(n d) after the O(n d^2) Gram and product, where scikit-learn's "cov" mode takes O(n d^2) per
alpha. The leave-one-out residuals are scikit-learn's (its _RidgeGCV, whose alpha loop, scoring
and results this reuses). With no more samples than features (scikit-learn's "gram" mode) the
kernel matrix is smaller than G, and the fit is scikit-learn's.
"""
import numbers
from functools import partial

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn import linear_model as _sklearn_lm
from sklearn.base import is_classifier
from sklearn.model_selection import GridSearchCV
from sklearn.utils import check_scalar

from .. import _linalg_fast
from .._backend import effective_n_threads
from ..utils._sklearn_compat import RidgeGCV, fit_context, raise_for_params, routing_enabled
from ._ridge import Ridge, RidgeClassifier


class _GramGCV(RidgeGCV):
    """scikit-learn's leave-one-out ridge with the long-X decompositions ("cov", and "svd" with
    more samples than features) taken from the Gram core."""

    def _eigen_decompose_covariance(self, X, X_mean, y, sqrt_sw):
        n, d = X.shape
        Y = y.reshape(n, -1)
        # sqrt_sw rides along as one more target: Xc^T sqrt_sw enters the intercept's term.
        Yaug = np.ascontiguousarray(np.column_stack([Y, sqrt_sw]), dtype=X.dtype)
        center = self.fit_intercept and sp.issparse(X)  # dense X is centered already
        threads = effective_n_threads(None)
        if sp.issparse(X):
            Xr = X.tocsr()
            if Xr.indices.dtype != Xr.indptr.dtype:
                Xr.indices = Xr.indices.astype(Xr.indptr.dtype)
            G, XtY, _, _ = _linalg_fast.weighted_gram_xty_csr(
                Xr.indptr, Xr.indices, np.ascontiguousarray(Xr.data), d, Yaug, None, False,
                threads)
        else:
            G, XtY, _, _ = _linalg_fast.weighted_gram_xty(X, Yaug, None, False, threads)
        if center:
            # Sparse X is scaled but not centered: Xc = X - sqrt_sw X_mean^T.
            G -= (sqrt_sw @ sqrt_sw) * np.outer(X_mean, X_mean)
            XtY -= np.outer(X_mean, sqrt_sw @ Yaug)
        eigvals, V = linalg.eigh(G, check_finite=False)
        Q = np.asarray(X @ V)
        if center:
            Q -= np.outer(sqrt_sw, X_mean @ V)
        B = V.T @ XtY
        return eigvals, V, Q, Q * Q, B[:, :-1], B[:, -1]

    def _solve_eigen_covariance(self, alpha, y, sqrt_sw, eigvals, V, Q, Q2, VT_XT_y,
                                VT_XT_sqrt_sw):
        D = 1.0 / (eigvals + alpha)
        DB = D[:, None] * VT_XT_y
        alpha_c = y.reshape(y.shape[0], -1) - Q @ DB
        alpha_d = 1.0 - Q2 @ D
        if self.fit_intercept:
            alpha_d -= (sqrt_sw - Q @ (D * VT_XT_sqrt_sw)) * sqrt_sw / (sqrt_sw @ sqrt_sw)
        looe = alpha_c / alpha_d[:, None]
        coef = V @ DB
        if y.ndim == 1:
            return looe[:, 0], coef[:, 0]
        return looe, coef

    def _svd_decompose_design_matrix(self, X, X_mean, y, sqrt_sw):
        if X.shape[0] <= X.shape[1]:
            return ("svd",) + tuple(super()._svd_decompose_design_matrix(X, X_mean, y, sqrt_sw))
        return ("eigen",) + self._eigen_decompose_covariance(X, X_mean, y, sqrt_sw)

    def _solve_svd_design_matrix(self, alpha, y, sqrt_sw, kind, *decomposition):
        if kind == "svd":
            return super()._solve_svd_design_matrix(alpha, y, sqrt_sw, *decomposition)
        return self._solve_eigen_covariance(alpha, y, sqrt_sw, *decomposition)


def _ridge_cv_fit(est, X, y, sample_weight, params):
    """RidgeCV / RidgeClassifierCV's fit as scikit-learn's _BaseRidgeCV.fit runs it, with
    _GramGCV for leave-one-out and fastml's Ridge / RidgeClassifier in the grid search."""
    raise_for_params(params, est, "fit")
    cv = est.cv
    scorer = est._get_scorer()
    # Leave-one-out needs alpha > 0; a grid search takes alpha = 0.
    check_alpha = partial(check_scalar, target_type=numbers.Real, min_val=0.0,
                          include_boundaries="neither" if cv is None else "left")
    if isinstance(est.alphas, (np.ndarray, list, tuple)):
        if np.ndim(est.alphas) == 0 or len(est.alphas) == 1:
            est.alphas[0] = check_alpha(est.alphas[0], "alphas")
        else:
            for index, alpha in enumerate(est.alphas):
                check_alpha(alpha, f"alphas[{index}]")
    alphas = np.asarray(est.alphas)
    if sample_weight is not None:
        params["sample_weight"] = sample_weight
    if cv is None:
        gcv = _GramGCV(alphas, fit_intercept=est.fit_intercept,
                       scoring=None if est.scoring is None else scorer, gcv_mode=est.gcv_mode,
                       store_cv_results=est.store_cv_results, is_clf=is_classifier(est),
                       alpha_per_target=est.alpha_per_target)
        score_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        gcv.fit(X, y, sample_weight=sample_weight, score_params=score_params)
        est.alpha_, est.best_score_ = gcv.alpha_, gcv.best_score_
        if est.store_cv_results:
            est.cv_results_ = gcv.cv_results_
        best = gcv
    else:
        if est.store_cv_results:
            raise ValueError("cv!=None and store_cv_results=True are incompatible")
        if est.alpha_per_target:
            raise ValueError("cv!=None and alpha_per_target=True are incompatible")
        model = RidgeClassifier if is_classifier(est) else Ridge
        search = GridSearchCV(
            model(fit_intercept=est.fit_intercept,
                  solver="sparse_cg" if sp.issparse(X) else "auto"),
            {"alpha": alphas}, cv=cv, scoring=scorer)
        search.fit(X, y, **params)
        best = search.best_estimator_
        est.alpha_, est.best_score_ = best.alpha, search.best_score_
    est.coef_, est.intercept_ = best.coef_, best.intercept_
    est.n_features_in_ = best.n_features_in_
    if hasattr(best, "feature_names_in_"):
        est.feature_names_in_ = best.feature_names_in_
    return est


class RidgeCV(_sklearn_lm.RidgeCV):
    """Ridge regression with built-in cross-validation: scikit-learn's RidgeCV on the Gram core.

    Every parameter, attribute and error of :class:`sklearn.linear_model.RidgeCV`. With
    ``cv=None``, leave-one-out over all alphas comes from one eigendecomposition of the Gram
    matrix (compiled kernel) when there are more samples than features, whatever ``gcv_mode``
    (the same residuals as scikit-learn's modes, to rounding); otherwise scikit-learn's kernel
    form. Other ``cv`` run a grid search of :class:`fastml.linear_model.Ridge`. With metadata
    routing enabled the fit is scikit-learn's.
    """

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit Ridge regression model with cv; see :meth:`sklearn.linear_model.RidgeCV.fit`."""
        if routing_enabled():
            return super().fit.__wrapped__(self, X, y, sample_weight, **params)
        return _ridge_cv_fit(self, X, y, sample_weight, params)


class RidgeClassifierCV(_sklearn_lm.RidgeClassifierCV):
    """Ridge classifier with built-in cross-validation: scikit-learn's RidgeClassifierCV on the
    Gram core, as :class:`fastml.linear_model.RidgeCV` (targets {-1, 1} per class)."""

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the classifier with cv; see :meth:`sklearn.linear_model.RidgeClassifierCV.fit`."""
        if routing_enabled():
            return super().fit.__wrapped__(self, X, y, sample_weight, **params)
        X, y, sample_weight, Y = self._prepare_data(X, y, sample_weight, solver="eigen")
        return _ridge_cv_fit(self, X, Y if self.cv is None else y, sample_weight, params)
