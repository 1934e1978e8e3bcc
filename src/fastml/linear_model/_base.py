"""LinearRegression on the compiled Gram core (fastml._linalg_fast)."""
import numpy as np
import scipy.sparse as sp
from scipy import linalg
from sklearn import linear_model as _sklearn_lm
from sklearn.utils.validation import validate_data

from ..utils._sklearn_compat import check_sample_weight, fit_context
from ._gram_solve import gram_statistics, solve_nonnegative, solve_ridge, well_conditioned


def _targets_2d(y):
    return y.reshape(y.shape[0], -1)


def _offsets(x_mean, y_mean, y, dtype):
    """scikit-learn's X_offset and y_offset: X's dtype, y_offset a 0-d array for 1-D y."""
    y_offset = y_mean.astype(dtype)
    return x_mean.astype(dtype), (y_offset[0] if y.ndim == 1 else y_offset)


class LinearRegression(_sklearn_lm.LinearRegression):
    """Ordinary least squares, scikit-learn's LinearRegression on a compiled core.

    Every parameter, attribute and error of :class:`sklearn.linear_model.LinearRegression`.
    The fit is one pass of a blocked, multithreaded Gram kernel over X (float64 sums, centering
    and sample weights applied per block, X never copied) and a Cholesky solve of the d x d
    normal equations; `rank_` and `singular_` come from the eigenvalues of the Gram matrix.
    When those show X ill-conditioned (cond(X) > 1e4), rank-deficient, with more features than
    samples, or with a singular value near `tol`'s cutoff, the fit is scikit-learn's own
    (`scipy.linalg.lstsq`, its minimum-norm solution), as is sparse X that is ill-conditioned.
    ``n_jobs`` sets the kernel's threads (None: all of fastml's, see ``fastml.config_context``).
    """

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit linear model; see :meth:`sklearn.linear_model.LinearRegression.fit`."""
        accept_sparse = False if self.positive else ["csr", "csc", "coo"]
        # X's values are checked through G: a NaN or infinity in X makes G non-finite, and then
        # scikit-learn's fit runs and raises its error (one pass over X saved).
        Xv, yv = validate_data(self, X, y, accept_sparse=accept_sparse, y_numeric=True,
                               multi_output=True, ensure_all_finite=False)
        if Xv.dtype not in (np.float32, np.float64):
            Xv = Xv.astype(np.float64)
        yv = np.asarray(yv, dtype=Xv.dtype)
        sw = None
        if sample_weight is not None:
            sw = check_sample_weight(sample_weight, Xv, dtype=Xv.dtype, ensure_non_negative=True)
        n, d = Xv.shape
        G, XtY, x_mean, y_mean = gram_statistics(Xv, _targets_2d(yv), sw, self.fit_intercept,
                                                 self.n_jobs)
        eigenvalues = linalg.eigvalsh(G, check_finite=False) if np.all(np.isfinite(G)) else None
        if eigenvalues is None or n < d or not well_conditioned(eigenvalues, self.tol):
            # scikit-learn's lstsq on X: its minimum-norm solution, rank and singular values.
            return super().fit.__wrapped__(self, X, y, sample_weight)
        t = XtY.shape[1]
        if self.positive:
            coef = solve_nonnegative(G, XtY, np.zeros(t))
        else:
            coef = solve_ridge(G, XtY, np.zeros(t))[0]
        dtype = Xv.dtype
        self.coef_ = coef[0] if yv.ndim == 1 else coef
        self.coef_ = self.coef_.astype(dtype)
        if not sp.issparse(Xv) and not self.positive:
            self.rank_ = d
            self.singular_ = np.sqrt(np.maximum(eigenvalues[::-1], 0.0)).astype(dtype)
        self._set_intercept(*_offsets(x_mean, y_mean, yv, dtype))
        return self
