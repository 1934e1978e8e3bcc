"""Brute-force DBSCAN in plain NumPy: the whole distance matrix, every neighbourhood, and
scikit-learn's depth-first labelling written out as in its dbscan_inner.

Distances are reduced as scikit-learn's KDTree reduces them (squared euclidean, sum of |d|^p for
minkowski), accumulated feature after feature in float64, and compared with the reduced eps, so
that pairs at exactly eps fall on the same side as in scikit-learn.
"""
import numpy as np

METRICS = ("euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski")


def reduced_distances(X, Y, metric="euclidean", p=2.0):
    """(reduced distance matrix, reduced radius function) of the rows of X to the rows of Y."""
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    acc = np.zeros((len(X), len(Y)))
    for f in range(X.shape[1]):
        diff = X[:, f][:, None] - Y[:, f][None, :]
        if metric in ("euclidean", "sqeuclidean"):
            acc += diff * diff
        elif metric == "manhattan":
            acc += np.abs(diff)
        elif metric == "chebyshev":
            np.maximum(acc, np.abs(diff), out=acc)
        elif metric == "minkowski":
            acc += np.abs(diff) ** p
        elif metric == "hamming":
            acc += diff != 0
        else:
            raise ValueError(f"unknown metric {metric!r}")
    # hamming has no reduced form: the fraction of differing features, compared as it is
    return acc / X.shape[1] if metric == "hamming" else acc


def reduced_radius(radius, metric="euclidean", p=2.0):
    if metric == "euclidean":
        return radius * radius
    if metric == "minkowski":
        return radius ** p
    return radius


def radius_neighbors(X, Y, radius, metric="euclidean", p=2.0):
    """Per row of X, the int64 indices of the rows of Y within radius, in index order."""
    found = []
    for start in range(0, len(X), 256):  # blocks of rows: memory O(256 x len(Y))
        block = reduced_distances(X[start:start + 256], Y, metric, p)
        found.extend(np.flatnonzero(row).astype(np.int64)
                     for row in block <= reduced_radius(radius, metric, p))
    return found


def label_neighbourhoods(neighbourhoods, is_core):
    """scikit-learn's dbscan_inner: a depth-first search from every unlabelled core sample in
    index order, expanding core samples only. Returns int64 labels, -1 for noise."""
    labels = np.full(len(neighbourhoods), -1, dtype=np.int64)
    label = 0
    for start in range(len(neighbourhoods)):
        if labels[start] != -1 or not is_core[start]:
            continue
        stack, i = [], start
        while True:
            if labels[i] == -1:
                labels[i] = label
                if is_core[i]:
                    stack.extend(int(j) for j in neighbourhoods[i] if labels[j] == -1)
            if not stack:
                break
            i = stack.pop()
        label += 1
    return labels


def dbscan(X, eps, min_samples, metric="euclidean", p=2.0, sample_weight=None):
    """(core sample indices, labels) of DBSCAN on the rows of X."""
    neighbourhoods = radius_neighbors(X, X, eps, metric, p)
    if sample_weight is None:
        counts = np.array([len(n) for n in neighbourhoods])
    else:
        weights = np.asarray(sample_weight, dtype=np.float64)
        counts = np.array([weights[n].sum() for n in neighbourhoods])
    is_core = counts >= min_samples
    return np.flatnonzero(is_core), label_neighbourhoods(neighbourhoods, is_core)
