"""Elastic-net coordinate descent in plain NumPy, float64 throughout: what the C++ core
(fastml._cd_fast) computes, without screening or working sets. The scaling is scikit-learn's
cd_fast one:

    P(w) = 1/2 ||y - X w||^2 + alpha ||w||_1 + beta/2 ||w||^2

(alpha and beta are the estimators' ones times n_samples), and the stopping rule is the duality
gap against tol * ||y||^2."""
import numpy as np


def enet_gap(X, y, w, alpha, beta, positive=False):
    """The duality gap of w: formulation A (dual point R scaled into ||X'v||_inf <= alpha; the
    positive part when positive) for alpha > 0, formulation B for alpha = 0 < beta, and
    ||X'R||^2 for least squares."""
    X, y, w = (np.asarray(a, dtype=np.float64) for a in (X, y, w))
    R = y - X @ w
    r2, ry, l2 = R @ R, R @ y, w @ w
    if alpha == 0:
        g2 = np.sum((X.T @ R) ** 2)
        if beta == 0:
            return g2
        return r2 + 0.5 * beta * l2 - ry + g2 / (2 * beta)
    xta = X.T @ R - beta * w
    norm = np.max(xta) if positive else np.max(np.abs(xta))
    scale = alpha / norm if norm > alpha else 1.0
    primal = 0.5 * (r2 + beta * l2) + alpha * np.sum(np.abs(w))
    dual = -0.5 * scale**2 * (r2 + beta * l2) + scale * ry
    return primal - dual


def enet_cd(X, y, alpha, beta, w=None, max_iter=10000, tol=1e-10, positive=False):
    """Cyclic coordinate descent from w (zeros by default) until the gap is at most
    tol * ||y||^2: returns (w, gap, sweeps)."""
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n_features = X.shape[1]
    w = np.zeros(n_features) if w is None else np.array(w, dtype=np.float64)
    norms = np.sum(X**2, axis=0)
    R = y - X @ w
    bound = tol * (y @ y)
    gap = enet_gap(X, y, w, alpha, beta, positive)
    sweeps = 0
    while gap > bound and sweeps < max_iter:
        for j in range(n_features):
            if norms[j] == 0:
                continue
            tmp = X[:, j] @ R + w[j] * norms[j]
            new = 0.0 if positive and tmp < 0 else (
                np.sign(tmp) * max(abs(tmp) - alpha, 0.0) / (norms[j] + beta))
            R -= (new - w[j]) * X[:, j]
            w[j] = new
        sweeps += 1
        gap = enet_gap(X, y, w, alpha, beta, positive)
    return w, gap, sweeps


def multitask_enet_gap(X, Y, W, alpha, beta):
    """The duality gap of W (n_tasks, n_features) for the multi-task elastic net
    1/2 ||Y - X W'||_F^2 + alpha sum_j ||W[:, j]||_2 + beta/2 ||W||_F^2: formulation A with the
    largest row norm of X'R - beta W' (B and ||X'R||^2 for alpha = 0, as enet_gap)."""
    X, Y, W = (np.asarray(a, dtype=np.float64) for a in (X, Y, W))
    R = Y - X @ W.T
    r2, ry, l2 = np.sum(R * R), np.sum(R * Y), np.sum(W * W)
    if alpha == 0:
        g2 = np.sum((X.T @ R) ** 2)
        return g2 if beta == 0 else r2 + 0.5 * beta * l2 - ry + g2 / (2 * beta)
    norm = np.max(np.linalg.norm(X.T @ R - beta * W.T, axis=1))
    scale = alpha / norm if norm > alpha else 1.0
    primal = 0.5 * (r2 + beta * l2) + alpha * np.sum(np.linalg.norm(W, axis=0))
    dual = -0.5 * scale**2 * (r2 + beta * l2) + scale * ry
    return primal - dual


def multitask_enet_cd(X, Y, alpha, beta, max_iter=10000, tol=1e-10):
    """Cyclic block coordinate descent (group soft-thresholding of each feature's row of
    coefficients) from zero until the gap is at most tol * ||Y||_F^2: returns (W, gap, sweeps)."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    W = np.zeros((Y.shape[1], X.shape[1]))
    norms = np.sum(X**2, axis=0)
    R = Y.copy()
    bound = tol * np.sum(Y * Y)
    gap = multitask_enet_gap(X, Y, W, alpha, beta)
    sweeps = 0
    while gap > bound and sweeps < max_iter:
        for j in range(X.shape[1]):
            if norms[j] == 0:
                continue
            tmp = X[:, j] @ R + W[:, j] * norms[j]
            nn = np.linalg.norm(tmp)
            new = tmp * max(1 - alpha / nn, 0.0) / (norms[j] + beta) if nn > 0 else 0 * tmp
            R -= np.outer(X[:, j], new - W[:, j])
            W[:, j] = new
        sweeps += 1
        gap = multitask_enet_gap(X, Y, W, alpha, beta)
    return W, gap, sweeps
