"""The dual coordinate descent core (fastml.linear_model._dual_cd_fast) in plain NumPy: the
liblinear dual problems of linear SVMs solved by cyclic exact coordinate minimisation, without
shrinking or random order, until no coordinate moves. Their solution w is unique (the primal is
strongly convex), so a converged core and this reference agree on w whatever their order.
Dense float64 X; `bias` >= 0 appends a constant column, as liblinear does. For small tests."""
import numpy as np


def _with_bias(X, bias):
    X = np.asarray(X, dtype=np.float64)
    return np.hstack([X, np.full((len(X), 1), bias)]) if bias >= 0 else X


def svc(X, sign, C, *, squared, bias=-1.0, passes=20_000, tol=1e-13):
    """w minimising 1/2 |w|^2 + sum_i C_i loss(sign_i x_i'w), loss the hinge or its square,
    through its dual: min_a 1/2 |sum a_i s_i x_i|^2 + sum a_i^2 D_i / 2 - sum a_i over
    0 <= a_i <= U_i (U = C, D = 0 for the hinge; U = inf, D = 1 / (2 C) for its square)."""
    X = _with_bias(X, bias)
    sign = np.asarray(sign, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    diag = 0.5 / C if squared else np.zeros_like(C)
    upper = np.full_like(C, np.inf) if squared else C
    alpha, w = np.zeros(len(X)), np.zeros(X.shape[1])
    curvature = np.einsum("ij,ij->i", X, X) + diag
    for _ in range(passes):
        largest = 0.0
        for i in range(len(X)):
            gradient = sign[i] * (X[i] @ w) - 1 + diag[i] * alpha[i]
            new = min(max(alpha[i] - gradient / curvature[i], 0.0), upper[i])
            w += (new - alpha[i]) * sign[i] * X[i]
            largest = max(largest, abs(new - alpha[i]))
            alpha[i] = new
        if largest < tol:
            break
    return w


def svr(X, y, p, C, *, squared, bias=-1.0, passes=20_000, tol=1e-13):
    """w minimising 1/2 |w|^2 + sum_i C_i loss(y_i - x_i'w), loss max(0, |r| - p) or its square,
    through its dual in beta (w = sum beta_i x_i), each coordinate minimised exactly: a
    quadratic plus p |beta_i| over [-U_i, U_i]."""
    X = _with_bias(X, bias)
    y = np.asarray(y, dtype=np.float64)
    C = np.asarray(C, dtype=np.float64)
    lam = 0.5 / C if squared else np.zeros_like(C)
    upper = np.full_like(C, np.inf) if squared else C
    beta, w = np.zeros(len(X)), np.zeros(X.shape[1])
    h = np.einsum("ij,ij->i", X, X) + lam
    for _ in range(passes):
        largest = 0.0
        for i in range(len(X)):
            g = X[i] @ w - y[i] + lam[i] * beta[i]  # gradient of the smooth part at beta_i
            z = beta[i] - g / h[i]  # the smooth part's minimiser, then soft-threshold by p
            new = np.sign(z) * max(abs(z) - p / h[i], 0.0)
            new = min(max(new, -upper[i]), upper[i])
            w += (new - beta[i]) * X[i]
            largest = max(largest, abs(new - beta[i]))
            beta[i] = new
        if largest < tol:
            break
    return w
