"""The primal problems of LinearSVC (squared hinge, l2 penalty) and LinearSVR (squared
epsilon-insensitive) by Newton's method on fastml's compiled weighted Gram core.

Both objectives are 1/2 |w|^2 + sum_i C_i r_i(w)^2 with r_i piecewise linear in z_i = x_i'w (the
bias column appended as liblinear does, its weight penalised as liblinear's):
  classifier: r_i = 1 - y_i z_i where positive (y_i in {-1, +1}), i.e. z_i - y_i on that set;
  regressor:  r_i = |y_i - z_i| - p where positive, i.e. z_i - (y_i - p sign(y_i - z_i)).
On the set A of rows where r_i > 0 the objective is the quadratic 1/2 |w|^2 + sum C_i (z_i -
t_i)^2, so its generalised Newton step solves H s = -g, H = I + 2 X_A' C X_A, exactly (a d x d
Cholesky solve). H is built once by the compiled Gram core and then updated by the few rows that
enter or leave A at each step, so a step costs two products with X (the gradient and the step's
z), where liblinear's trust-region Newton runs conjugate gradients of two products each. The
step is damped by backtracking on the objective, and the iteration stops far inside
liblinear's own tolerance, so the model is the optimum that liblinear approaches to its tol
(n_iter_ counts Newton steps, not liblinear's). Used where the bias-augmented d is small enough
for d x d solves (the caller decides).
"""
import numpy as np
import scipy.sparse as sp
from scipy import linalg

from .. import _linalg_fast
from .._backend import effective_n_threads

# Stop when |g| falls below this fraction of its start: far inside liblinear's stopping rule
# (its tol, 1e-4 by default, scaled by the class balance), so both reach the same optimum to
# liblinear's tolerance.
GRADIENT_RATIO = 1e-10
MAX_DIMENSION = 2000  # bias-augmented features up to which d x d solves beat conjugate gradients
# Rebuild H from scratch when more rows than this fraction changed side (an update costs as
# much as a rebuild then, and a rebuild sheds the updates' rounding).
REBUILD_FRACTION = 0.25


def _weighted_gram(X, weights, bias, n_threads):
    """X_a' W X_a, X_a = [X, bias column] (no column when bias <= 0), float64 (d, d)."""
    if sp.issparse(X):
        G, _ = _linalg_fast.weighted_gram_csr(X.indptr, X.indices, X.data, X.shape[1], weights,
                                              False, n_threads)
    else:
        G, _ = _linalg_fast.weighted_gram(X, weights, False, n_threads)
    if bias <= 0:
        return G
    cross = bias * (X.T @ weights)
    return np.block([[G, cross[:, None]], [cross[None, :], bias * bias * weights.sum()]])


def solve(X, y, C, *, bias, regression, p=0.0, max_iter=1000):
    """(w, n_iter, converged) for float64 X (dense or CSR) over its rows, labels in {-1, +1}
    (classifier) or targets (regressor), per-row bounds C > 0."""
    n_threads = effective_n_threads(None)
    has_bias = bias > 0
    d = X.shape[1] + (1 if has_bias else 0)

    def dot(w):
        z = X @ w[:X.shape[1]]
        return z + bias * w[-1] if has_bias else z

    def tdot(u):
        out = X.T @ u
        return np.append(out, bias * u.sum()) if has_bias else out

    def active_targets(z):
        if regression:
            r = y - z
            return np.abs(r) > p, y - p * np.sign(r)
        return y * z < 1, y

    def objective(w, z):
        active, t = active_targets(z)
        return 0.5 * w @ w + np.sum(C[active] * (z[active] - t[active]) ** 2)

    def hessian(active):
        H = _weighted_gram(X, np.where(active, 2.0 * C, 0.0), bias, n_threads)
        H[np.diag_indices_from(H)] += 1.0
        return H

    w = np.zeros(d)
    z = dot(w)
    g0, H, H_active = None, None, None
    for n_iter in range(1, max_iter + 1):
        active, t = active_targets(z)
        g = w + tdot(np.where(active, 2.0 * C * (z - t), 0.0))
        gnorm = np.linalg.norm(g)
        g0 = gnorm if g0 is None else g0
        if gnorm <= GRADIENT_RATIO * max(g0, 1e-300):
            return w, n_iter - 1, True
        changed = np.flatnonzero(active != H_active) if H is not None else None
        if changed is None or len(changed) > REBUILD_FRACTION * len(z):
            H = hessian(active)
        elif len(changed):
            # rows entering A add 2 C x x', rows leaving it take it away
            sign = np.where(active[changed], 2.0, -2.0) * C[changed]
            H += _weighted_gram(X[changed], sign, bias, n_threads)
        H_active = active
        step = -linalg.cho_solve(linalg.cho_factor(H, lower=True, check_finite=False), g,
                                 check_finite=False)
        # backtracking (Armijo) on the piecewise quadratic: the full step is exact when the
        # active set does not change
        f, slope, zstep, size = objective(w, z), g @ step, dot(step), 1.0
        while size > 1e-12:
            if objective(w + size * step, z + size * zstep) <= f + 1e-4 * size * slope:
                break
            size *= 0.5
        w = w + size * step
        z = z + size * zstep
    return w, max_iter, False
