"""Silhouette coefficients on the compiled distance core, chunk by chunk.

The points are reordered by cluster once, so that in every chunk of distance rows each cluster's
distances form one contiguous segment, summed by a compiled loop in float64; no distance matrix
larger than ``working_memory`` is ever held.
"""
from numbers import Integral

import numpy as np
from scipy import sparse
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, check_X_y

from .._backend import effective_n_threads
from ..utils._sklearn_compat import Interval, validate_params
from . import _pairwise_fast
from .pairwise import pairwise_distances_chunked

# Default size of a chunk of distance rows: small enough to be summed while still in cache.
_CHUNK_MIB = 32


def _check_number_of_labels(n_labels, n_samples):
    if not 1 < n_labels < n_samples:
        raise ValueError(f"Number of labels is {n_labels}. Valid values are 2 to n_samples - 1 "
                         "(inclusive)")


@validate_params(
    {"X": ["array-like", "sparse matrix"], "labels": ["array-like"],
     "metric": [str, callable]},
    prefer_skip_nested_validation=True,
)
def silhouette_samples(X, labels, *, metric="euclidean", **kwds):
    """Silhouette coefficient of every sample, drop-in for
    ``sklearn.metrics.silhouette_samples``.

    s = (b - a) / max(a, b), with a the mean distance to the other members of the sample's
    cluster and b the lowest mean distance to the members of another cluster; 0 for samples
    alone in their cluster.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features), or (n_samples, n_samples) distances when
        metric="precomputed"
    labels : array-like of shape (n_samples,)
    metric : str or callable, default="euclidean"
        Any metric of fastml.metrics.pairwise_distances; the compiled ones run compiled.
    **kwds
        Passed to the distance function (e.g. ``p``, ``n_jobs``, ``working_memory``: MiB per
        chunk of distance rows, 32 by default so that a chunk is summed while in cache).

    Returns
    -------
    ndarray of shape (n_samples,), float64
    """
    X, labels = check_X_y(X, labels, accept_sparse=["csr"], dtype=None)
    if metric == "precomputed":
        if X.shape[0] != X.shape[1]:
            raise ValueError("A precomputed distance matrix must be square.")
        atol = np.finfo(X.dtype).eps * 100 if X.dtype.kind == "f" else 0
        if np.any(np.abs(X.diagonal()) > atol):  # .diagonal(): dense or sparse
            raise ValueError("The precomputed distance matrix contains non-zero elements on the "
                             "diagonal. Use np.fill_diagonal(X, 0).")
    labels = LabelEncoder().fit_transform(labels)
    n_samples = len(labels)
    label_freqs = np.bincount(labels)
    _check_number_of_labels(len(label_freqs), n_samples)
    n_threads = effective_n_threads(kwds.get("n_jobs"))

    order = np.argsort(labels, kind="stable")
    bounds = np.concatenate(([0], np.cumsum(label_freqs))).astype(np.intp)
    if metric == "precomputed":
        Y = None
        X = X[:, order]  # columns by cluster; the rows keep their order
    else:
        Y = X[order]
    intra = np.empty(n_samples)
    inter = np.empty(n_samples)

    def reduce(D_chunk, start):
        rows = slice(start, start + D_chunk.shape[0])
        if sparse.issparse(D_chunk):  # rows of a sparse precomputed matrix
            D_chunk = D_chunk.toarray()
        D_chunk = np.ascontiguousarray(D_chunk)
        if D_chunk.dtype not in (np.float32, np.float64):
            D_chunk = D_chunk.astype(np.float64)
        sums = np.empty((D_chunk.shape[0], len(label_freqs)))
        _pairwise_fast.segment_row_sums(D_chunk, bounds, sums, n_threads)
        own = (np.arange(D_chunk.shape[0]), labels[rows])
        intra[rows] = sums[own]
        sums[own] = np.inf
        inter[rows] = (sums / label_freqs).min(axis=1)
        return ()

    kwds.setdefault("working_memory", _CHUNK_MIB)
    for _ in pairwise_distances_chunked(X, Y, reduce_func=reduce, metric=metric, **kwds):
        pass
    with np.errstate(divide="ignore", invalid="ignore"):
        intra /= (label_freqs - 1)[labels]
        s = (inter - intra) / np.maximum(intra, inter)
    return np.nan_to_num(s)


@validate_params(
    {"X": ["array-like", "sparse matrix"], "labels": ["array-like"],
     "metric": [str, callable], "sample_size": [Interval(Integral, 1, None, closed="left"), None],
     "random_state": ["random_state"]},
    prefer_skip_nested_validation=True,
)
def silhouette_score(X, labels, *, metric="euclidean", sample_size=None, random_state=None,
                     **kwds):
    """Mean silhouette coefficient, drop-in for ``sklearn.metrics.silhouette_score``.

    With ``sample_size``, computed on a random subset of that many samples (drawn as
    scikit-learn draws it for the same random_state).

    Returns
    -------
    float
    """
    if sample_size is not None:
        X, labels = check_X_y(X, labels, accept_sparse=["csc", "csr"], dtype=None)
        indices = check_random_state(random_state).permutation(X.shape[0])[:sample_size]
        if metric == "precomputed":
            X, labels = X[indices].T[indices].T, labels[indices]
        else:
            X, labels = X[indices], labels[indices]
    return float(np.mean(silhouette_samples(X, labels, metric=metric, **kwds)))
