"""Ridge, RidgeClassifier and RidgeCV on the compiled Gram core (fastml._linalg_fast)."""
import warnings

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn import linear_model as _sklearn_lm
from sklearn.utils.validation import validate_data

from ..utils._sklearn_compat import check_sample_weight, fit_context, ridge_accept_sparse
from ._base import _offsets, _targets_2d
from ._gram_solve import MIN_EIGEN_RATIO, gram_statistics, solve_nonnegative, solve_ridge

# Solvers whose n_iter_ scikit-learn reports (one count per target); the others leave it None.
_ITERATION_COUNTING = ("lsqr", "sag", "saga")
# Above this many features, and more features than samples, scikit-learn's kernel (n x n) form
# is cheaper than a d x d Gram matrix: the fit is scikit-learn's.
_MAX_WIDE_FEATURES = 2000


def _resolve_solver(est, X):
    """The solver scikit-learn's Ridge would run on X, with its errors and warnings."""
    solver = est.solver
    if solver == "lbfgs" and not est.positive:
        raise ValueError("'lbfgs' solver can be used only when positive=True. "
                         "Please use another solver.")
    if est.positive:
        if solver not in ("auto", "lbfgs"):
            raise ValueError(f"solver='{solver}' does not support positive fitting. Please set "
                             "the solver to 'auto' or 'lbfgs', or set `positive=False`")
        return "lbfgs"
    if sp.issparse(X) and est.fit_intercept:
        if solver not in ("auto", "lbfgs", "lsqr", "sag", "sparse_cg"):
            raise ValueError(
                f"solver='{solver}' does not support fitting the intercept on sparse data. "
                "Please set the solver to 'auto' or 'lsqr', 'sparse_cg', 'sag', 'lbfgs' "
                "or set `fit_intercept=False`")
        if solver == "sag" and est.max_iter is None and est.tol > 1e-4:
            warnings.warn('"sag" solver requires many iterations to fit an intercept with '
                          'sparse inputs. Either set the solver to "auto" or "sparse_cg", or '
                          'set a low "tol" and a high "max_iter" (especially if inputs are not '
                          'standardized).')
        return solver if solver in ("lsqr", "sag") else "sparse_cg"
    if solver == "auto":
        return "sparse_cg" if sp.issparse(X) else "cholesky"
    return solver


class _GramRidgeMixin:
    """The fit shared by Ridge and RidgeClassifier: X, y validated as scikit-learn validates
    them; `fallback()` runs scikit-learn's own fit where the normal equations are not trusted."""

    def _fit_gram(self, X, y, sample_weight, fallback):
        solver = _resolve_solver(self, X)
        if X.dtype not in (np.float32, np.float64):
            X = X.astype(np.float64)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
        y = np.asarray(y, dtype=X.dtype)
        Y = _targets_2d(y)
        n, d = X.shape
        t = Y.shape[1]
        alpha = np.asarray(self.alpha, dtype=X.dtype).ravel()
        if alpha.shape[0] not in (1, t):
            raise ValueError("Number of targets and number of penalties do not correspond: "
                             f"{alpha.shape[0]} != {t}")
        alphas = np.broadcast_to(alpha.astype(np.float64), (t,))
        if d > max(n, _MAX_WIDE_FEATURES):
            return fallback()
        G, XtY, x_mean, y_mean = gram_statistics(X, Y, sample_weight, self.fit_intercept)
        if not np.all(np.isfinite(G)):  # X holds NaN or infinity (scikit-learn raises) or overflows
            return fallback()
        try:
            if self.positive:
                coef = solve_nonnegative(G, XtY, alphas)
                rcond = 1.0
            else:
                coef, rcond = solve_ridge(G, XtY, alphas)
        except linalg.LinAlgError:
            return fallback()
        if rcond < MIN_EIGEN_RATIO:  # ill-conditioned: scikit-learn's solve (or its SVD)
            return fallback()
        self.coef_ = (coef[0] if t == 1 else coef).astype(X.dtype)
        self.n_iter_ = np.ones(t, dtype=np.int32) if solver in _ITERATION_COUNTING else None
        self.solver_ = solver
        self._set_intercept(*_offsets(x_mean, y_mean, y, X.dtype))
        return self


class Ridge(_GramRidgeMixin, _sklearn_lm.Ridge):
    """Linear least squares with l2 regularization: scikit-learn's Ridge on a compiled core.

    Every parameter, attribute and error of :class:`sklearn.linear_model.Ridge`. Whatever the
    solver, the fit computes the exact optimum: one pass of the compiled Gram kernel over X
    (float64 sums, centering and sample weights per block, dense X never copied; sparse X
    centered by a rank-one correction) and a Cholesky solve of (G + alpha I) in float64, so
    scikit-learn's iterative solvers (sparse_cg, lsqr, sag, saga, lbfgs) agree within their tol
    and its direct ones (cholesky, svd) to rounding. ``positive=True`` is solved exactly as
    non-negative least squares on the Cholesky factor. ``n_iter_`` is None where scikit-learn's
    is, else 1 per target (one direct solve). Handed to scikit-learn's own fit: a Gram matrix
    whose condition number exceeds 1e8 (or that is singular), and more than 2000 features with
    more features than samples.
    """

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit Ridge regression model; see :meth:`sklearn.linear_model.Ridge.fit`."""
        Xv, yv = validate_data(self, X, y,
                               accept_sparse=ridge_accept_sparse(sp.issparse(X), self.solver),
                               dtype=[np.float64, np.float32], multi_output=True, y_numeric=True,
                               ensure_all_finite=False)  # checked through G, see _fit_gram
        return self._fit_gram(Xv, yv, sample_weight,
                              lambda: super(Ridge, self).fit.__wrapped__(self, X, y,
                                                                         sample_weight))


class RidgeClassifier(_GramRidgeMixin, _sklearn_lm.RidgeClassifier):
    """Classifier using Ridge regression: scikit-learn's RidgeClassifier on a compiled core.

    Every parameter, attribute and error of :class:`sklearn.linear_model.RidgeClassifier`; the
    targets {-1, 1} per class are fitted as :class:`fastml.linear_model.Ridge` fits them (one
    Gram matrix for every class).
    """

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the classifier; see :meth:`sklearn.linear_model.RidgeClassifier.fit`."""
        Xv, _, sw, Y = self._prepare_data(X, y, sample_weight, self.solver)
        return self._fit_gram(Xv, Y, sw,
                              lambda: super(RidgeClassifier, self).fit.__wrapped__(
                                  self, X, y, sample_weight))
