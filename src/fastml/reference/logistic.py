"""The logistic loss core (fastml.linear_model._logistic_fast) in plain NumPy, float64
throughout: sums over the rows of the weighted half binomial (one row of coefficients) or half
multinomial (k rows) loss, its gradient and Hessian, written as directly as possible. Sparse X
is densified here (the reference is for small tests)."""
import numpy as np
import scipy.sparse as sp
from scipy.special import expit, logsumexp


def _dense(X):
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _weights(sample_weight, n):
    return np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)


def raw_prediction(X, coef, intercept):
    """X @ coef.T + intercept, (n, k)."""
    return _dense(X) @ np.asarray(coef, dtype=np.float64).T + intercept


def _pointwise(z, y, k):
    """Per-row loss (n,) and gradient (n, k) with respect to the raw predictions z (n, k)."""
    if k == 1:
        z = z[:, 0]
        loss = np.logaddexp(0.0, z) - y * z
        return loss, (expit(z) - y)[:, None]
    labels = y.astype(np.intp)
    lse = logsumexp(z, axis=1)
    proba = np.exp(z - lse[:, None])
    one_hot = np.zeros_like(proba)
    one_hot[np.arange(len(y)), labels] = 1.0
    return lse - z[np.arange(len(y)), labels], proba - one_hot


def loss_gradient(X, y, coef, intercept, sample_weight=None):
    """(loss, grad_coef, grad_intercept): sum_i sw_i loss_i, and its gradient with respect to
    coef (k, d) and intercept (k)."""
    Xd = _dense(X)
    sw = _weights(sample_weight, Xd.shape[0])
    loss, g = _pointwise(raw_prediction(Xd, coef, intercept), np.asarray(y, float), len(coef))
    g = g * sw[:, None]
    return float(sw @ loss), g.T @ Xd, g.sum(axis=0)


def hessian(X, y, coef, intercept, sample_weight=None, fit_intercept=True):
    """The Hessian of sum_i sw_i loss_i with respect to the coefficients, in scikit-learn's
    layout: coefficient (j, c) (feature j, the intercept last when fit_intercept, class c) at
    index j * k + c."""
    Xd = _dense(X)
    n, k = Xd.shape[0], len(coef)
    sw = _weights(sample_weight, n)
    if fit_intercept:
        Xd = np.hstack([Xd, np.ones((n, 1))])
    z = raw_prediction(X, coef, intercept)
    if k == 1:
        p = expit(z[:, 0])
        return (Xd * (sw * p * (1 - p))[:, None]).T @ Xd
    p = np.exp(z - logsumexp(z, axis=1)[:, None])
    dd = Xd.shape[1]
    H = np.zeros((dd, k, dd, k))
    for c in range(k):
        for l in range(k):
            h = sw * ((c == l) * p[:, c] - p[:, c] * p[:, l])
            H[:, c, :, l] = (Xd * h[:, None]).T @ Xd
    return H.reshape(dd * k, dd * k)


def l1_quadratic_cd(H, g, w, penalised, l1, tol, max_sweeps):
    """(d, sweeps): the minimiser of g.d + 0.5 d^T H d + l1 sum_{penalised j} |w_j + d_j| by
    cyclic coordinate descent from d = 0, one coordinate at a time in order, until a sweep moves
    no coordinate by more than tol (the proximal Newton step of fastml's l1 penalty)."""
    p = len(g)
    d = np.zeros(p)
    for sweep in range(1, max_sweeps + 1):
        largest = 0.0
        for j in range(p):
            a = H[j, j]
            if not a > 0:
                continue
            b = g[j] + H[j] @ d
            if penalised[j]:
                z = w[j] + d[j]
                target = z - b / a
                delta = np.sign(target) * max(abs(target) - l1 / a, 0.0) - z
            else:
                delta = -b / a
            d[j] += delta
            largest = max(largest, abs(delta))
        if largest <= tol:
            break
    return d, sweep
