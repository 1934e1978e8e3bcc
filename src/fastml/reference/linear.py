"""NumPy reference of the least-squares linear models' core (fastml._linalg_fast and the solves in
fastml.linear_model): the weighted Gram matrix and X^T W Y, computed plainly in float64, and the
closed-form ridge / least-squares solutions."""
import numpy as np
import scipy.sparse as sp


def _dense64(X):
    return (X.toarray() if sp.issparse(X) else np.asarray(X)).astype(np.float64)


def weighted_mean(X, sample_weight=None):
    """Weighted column means of X (float64)."""
    X = _dense64(X)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    return (w @ X) / w.sum()


def weighted_gram(X, sample_weight=None, center=True):
    """(G, mean): G = (X - mean)^T diag(w) (X - mean), mean zeros when center is False."""
    X = _dense64(X)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    mean = weighted_mean(X, w) if center else np.zeros(X.shape[1])
    Xc = X - mean
    return Xc.T @ (w[:, None] * Xc), mean


def weighted_gram_xty(X, Y, sample_weight=None, center=True):
    """(G, XtY, x_mean, y_mean) with XtY = (X - x_mean)^T diag(w) (Y - y_mean)."""
    G, x_mean = weighted_gram(X, sample_weight, center)
    Y = np.asarray(Y, dtype=np.float64)
    w = np.ones(Y.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    y_mean = weighted_mean(Y, w) if center else np.zeros(Y.shape[1])
    Xc = _dense64(X) - x_mean
    return G, Xc.T @ (w[:, None] * (Y - y_mean)), x_mean, y_mean


def ridge_solution(X, Y, alpha, sample_weight=None, fit_intercept=True):
    """(coef (t, d), intercept (t,)) minimising sum w (y - Xb - c)^2 + alpha |b|^2 per target,
    alpha a scalar or one per target; alpha 0 gives the minimum-norm least-squares solution."""
    X = _dense64(X)
    Y = np.asarray(Y, dtype=np.float64).reshape(X.shape[0], -1)
    w = np.ones(X.shape[0]) if sample_weight is None else np.asarray(sample_weight, np.float64)
    x_mean = weighted_mean(X, w) if fit_intercept else np.zeros(X.shape[1])
    y_mean = weighted_mean(Y, w) if fit_intercept else np.zeros(Y.shape[1])
    sw = np.sqrt(w)[:, None]
    Xc, Yc = sw * (X - x_mean), sw * (Y - y_mean)
    alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64).ravel(), (Y.shape[1],))
    coef = np.empty((Y.shape[1], X.shape[1]))
    U, s, Vt = np.linalg.svd(Xc, full_matrices=False)
    for k, a in enumerate(alphas):
        if a == 0:
            coef[k] = np.linalg.lstsq(Xc, Yc[:, k], rcond=None)[0]
        else:
            coef[k] = Vt.T @ ((s / (s**2 + a)) * (U.T @ Yc[:, k]))
    return coef, y_mean - coef @ x_mean
