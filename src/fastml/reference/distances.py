"""Pairwise distances in plain NumPy, computed in float64 one row of X at a time."""
import numpy as np

METRICS = ("euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine",
           "hamming", "jaccard", "matching")


def _distances_from(x, Y, metric, p):
    """Distances from one row x to every row of Y."""
    diff = x - Y if x.dtype != bool else None
    if metric == "euclidean":
        return np.sqrt(np.sum(diff * diff, axis=1))
    if metric == "sqeuclidean":
        return np.sum(diff * diff, axis=1)
    if metric == "manhattan":
        return np.sum(np.abs(diff), axis=1)
    if metric == "chebyshev":
        return np.max(np.abs(diff), axis=1)
    if metric == "minkowski":
        return np.sum(np.abs(diff) ** p, axis=1) ** (1.0 / p)
    if metric == "cosine":
        # 1 - cos(x, y) = |x/|x| - y/|y||^2 / 2, the form without cancellation for nearly parallel
        # vectors; an all-zero vector has similarity 0 with everything (scikit-learn's choice).
        x_norm = np.sqrt(np.sum(x * x))
        y_norm = np.sqrt(np.sum(Y * Y, axis=1))
        out = np.ones(len(Y))
        ok = (y_norm > 0) & (x_norm > 0)
        if ok.any():
            unit_diff = x / x_norm - Y[ok] / y_norm[ok, None]
            out[ok] = np.clip(0.5 * np.sum(unit_diff * unit_diff, axis=1), 0.0, 2.0)
        return out
    if metric in ("hamming", "matching"):
        return np.mean(x != Y, axis=1)
    if metric == "jaccard":
        either = (x != 0) | (Y != 0)
        differ = (x != Y) & either
        n_either = either.sum(axis=1)
        return np.where(n_either > 0, differ.sum(axis=1) / np.maximum(n_either, 1), 0.0)
    raise ValueError(f"unknown metric {metric!r}")


def pairwise_distances(X, Y=None, metric="euclidean", p=2.0):
    """Distance matrix between the rows of X and Y (Y=None: X with itself), in float64.

    "jaccard" treats nonzero entries as True; "hamming" and "matching" (the same thing: the
    fraction of coordinates that differ) compare values.
    """
    X = np.asarray(X)
    Y_is_X = Y is None
    Y = X if Y_is_X else np.asarray(Y)
    if metric == "jaccard":
        X, Y = X != 0, Y != 0
    elif metric not in ("hamming", "matching"):
        X, Y = X.astype(np.float64), Y.astype(np.float64)
    out = np.empty((len(X), len(Y)))
    for i, x in enumerate(X):
        out[i] = _distances_from(x, Y, metric, p)
    if Y_is_X:
        np.fill_diagonal(out, 0.0)
    return out
