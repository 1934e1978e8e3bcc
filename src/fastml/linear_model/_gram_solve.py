"""The least-squares solve shared by LinearRegression, Ridge and the ridge classifiers: one pass
of the compiled Gram core gives G = Xc^T W Xc and Xc^T W Yc (Xc, Yc the weighted-centered data,
in float64 also for float32 X), then every solve is on d x d matrices in float64.

Where the normal equations would lose accuracy against scikit-learn's solve on X itself (an
ill-conditioned or rank-deficient G), the callers hand the fit to scikit-learn, which then
gives its own (minimum-norm) answer.
"""
import numpy as np
import scipy.sparse as sp
from scipy import linalg, optimize
from scipy.linalg import lapack

from .. import _linalg_fast
from .._backend import effective_n_threads

# G's smallest eigenvalue over its largest, below which the normal equations are not trusted:
# their error grows as cond(X)^2 * eps, and 1e-8 (cond(X) < 1e4) keeps it near 1e-8 relative to
# a solve on X, scikit-learn's LinearRegression.
MIN_EIGEN_RATIO = 1e-8


def gram_statistics(X, Y, sample_weight, fit_intercept, n_jobs=None):
    """(G, XtY, x_mean, y_mean), float64, of validated X (float32/float64, dense or sparse) and
    2-D Y (cast to X's dtype); the means are zeros without fit_intercept."""
    n_threads = effective_n_threads(n_jobs)
    w = None if sample_weight is None else np.ascontiguousarray(sample_weight, dtype=np.float64)
    Y = np.asarray(Y, dtype=X.dtype)
    if sp.issparse(X):
        X = X.tocsr()
        if X.indices.dtype != X.indptr.dtype:
            X.indices = X.indices.astype(X.indptr.dtype)
        return _linalg_fast.weighted_gram_xty_csr(X.indptr, X.indices, np.ascontiguousarray(X.data),
                                                  X.shape[1], Y, w, bool(fit_intercept),
                                                  n_threads)
    return _linalg_fast.weighted_gram_xty(X, Y, w, bool(fit_intercept), n_threads)


def well_conditioned(eigenvalues, cutoff=0.0):
    """Whether G's eigenvalues (ascending) let the normal equations stand for a solve on X: G
    is far from singular, and no singular value of X lies near the relative `cutoff` below
    which scikit-learn's lstsq would drop it (a factor 2 of margin)."""
    top = eigenvalues[-1]
    if not (np.isfinite(top) and top > 0):
        return False
    return eigenvalues[0] > max(MIN_EIGEN_RATIO, 4.0 * cutoff**2) * top


def solve_ridge(G, XtY, alphas):
    """(coef (t, d), rcond): coef_k solves (G + alpha_k I) coef_k = XtY[:, k] by Cholesky,
    alphas one per target; rcond is LAPACK's estimate of the smallest reciprocal condition
    number (1-norm) among the matrices, 0 when one is not positive definite."""
    d, t = XtY.shape
    coef = np.zeros((t, d))
    rcond = 1.0
    for alpha in np.unique(alphas):
        targets = np.flatnonzero(alphas == alpha)
        A = G.copy()
        A.flat[:: d + 1] += alpha
        norm = np.abs(A).sum(axis=0).max() if d else 0.0
        try:
            factor = linalg.cho_factor(A, lower=False, check_finite=False)
        except linalg.LinAlgError:
            return coef, 0.0
        estimate, info = lapack.dpocon(factor[0], norm) if d else (1.0, 0)
        rcond = min(rcond, estimate if info == 0 else 0.0)
        coef[targets] = linalg.cho_solve(factor, XtY[:, targets], check_finite=False).T
    return coef, rcond


def solve_nonnegative(G, XtY, alphas):
    """coef (t, d) >= 0 minimising 1/2 b^T (G + alpha I) b - b^T XtY[:, k] per target: the
    non-negative least squares of R b ~ R^-T XtY with R^T R = G + alpha I, the exact optimum of
    the problem scikit-learn solves with NNLS on X (alpha 0) or L-BFGS-B (alpha > 0)."""
    d, t = XtY.shape
    coef = np.empty((t, d))
    for k in range(t):
        A = G.copy()
        A.flat[:: d + 1] += alphas[k]
        R = linalg.cholesky(A, lower=False, check_finite=False)
        rhs = linalg.solve_triangular(R, XtY[:, k], trans="T", check_finite=False)
        coef[k] = optimize.nnls(R, rhs)[0]
    return coef
