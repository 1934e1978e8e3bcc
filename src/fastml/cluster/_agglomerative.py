"""AgglomerativeClustering, ward_tree and linkage_tree on fastml's C++ hierarchy core
(fastml.cluster._hierarchy_fast).

Without a connectivity graph scikit-learn hands the tree to scipy, which computes the whole
condensed distance matrix and runs the nearest-neighbour chain over it (ward, complete, average),
or runs its own Prim over the rows (single). fastml runs the same algorithms compiled:

- ward: the chain on cluster centroids and sizes, with no distance matrix (O(n d) memory);
- complete / average: the chain on a condensed float64 matrix (n (n - 1) / 2 values, one copy,
  where scipy holds two), with scipy's updates to the operation;
- single (euclidean): Prim with distances computed on the fly (O(n d) memory).

Merges come in scipy's order and are named as scipy names them, so children_ and distances_ are
scikit-learn's: complete, average and single to the bit; ward to rounding, as its distances come
from centroids instead of the Lance-Williams recurrence (merges at distances equal up to that
rounding may come in another order, as scipy's own order among them is set by its rounding).
A connectivity graph, other metrics for single linkage and callables go to scikit-learn.
"""
import warnings

import numpy as np
from scipy.cluster.hierarchy import ClusterWarning
from scipy.spatial.distance import pdist
from sklearn.cluster import AgglomerativeClustering as _SklearnAgglomerativeClustering
from sklearn.cluster import linkage_tree as _sklearn_linkage_tree
from sklearn.cluster import ward_tree as _sklearn_ward_tree
from sklearn.utils.validation import check_memory

from .._backend import effective_n_threads
from ..utils._sklearn_compat import hc_cut, single_linkage_label
from . import _hierarchy_fast

_PARTIAL_TREE_WARNING = ("Partial build of the tree is implemented only for structured clustering "
                         "(i.e. with explicit connectivity). The algorithm will build the full "
                         "tree and only retain the lower branches required for the specified "
                         "number of clusters")
# scikit-learn's names for scipy's metrics
_SCIPY_METRIC = {"l2": "euclidean", "l1": "cityblock", "manhattan": "cityblock"}


def _rows(X):
    """X as the core reads it: 2-d, C-contiguous float32 or float64 (other dtypes as float64)."""
    X = np.asarray(X)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    dtype = X.dtype if X.dtype in (np.float32, np.float64) else np.float64
    return np.ascontiguousarray(X, dtype=dtype)


def _warn_if_distance_matrix(X):
    """scipy's ClusterWarning for observations that look like a square distance matrix (its
    linkage warns so before ward, complete and average)."""
    if (X.shape[0] == X.shape[1] and np.all(np.isclose(np.diagonal(X), 0)) and np.all(X >= 0)
            and np.all(np.isclose(X, X.T))):
        warnings.warn("The symmetric non-negative hollow observation matrix looks suspiciously "
                      "like an uncondensed distance matrix", ClusterWarning, stacklevel=3)


def _require_finite(values):
    if not np.all(np.isfinite(values)):  # scipy's linkage refuses them with this message
        raise ValueError("The condensed distance matrix must contain only finite values.")


def _condensed_distances(X, metric):
    """The condensed distance matrix that scikit-learn passes to scipy's linkage, in float64."""
    if metric == "precomputed":
        X = np.asarray(X)
        if X.shape[0] != X.shape[1]:
            raise ValueError(f"Distance matrix should be square, got matrix of shape {X.shape}")
        i, j = np.triu_indices(X.shape[0], k=1)
        return np.ascontiguousarray(X[i, j], dtype=np.float64)
    if callable(metric):
        D = metric(X)
        i, j = np.triu_indices(D.shape[0], k=1)
        return np.ascontiguousarray(D[i, j], dtype=np.float64)
    metric = _SCIPY_METRIC.get(metric, metric)
    X = _rows(X)
    _warn_if_distance_matrix(X)
    _require_finite(X)
    if metric == "euclidean":
        return _hierarchy_fast.condensed_euclidean(X, effective_n_threads(None))
    return pdist(np.asarray(X, dtype=np.float64), metric)


def _tree_output(children, distances, n_samples, return_distance):
    if return_distance:
        return children, 1, n_samples, None, distances
    return children, 1, n_samples, None


def ward_tree(X, *, connectivity=None, n_clusters=None, return_distance=False):
    """Ward clustering on a feature matrix, as :func:`sklearn.cluster.ward_tree`.

    Without connectivity the tree is built by fastml's nearest-neighbour chain on centroids (no
    distance matrix); with it, by scikit-learn. Returns (children, n_connected_components,
    n_leaves, parents[, distances]) as scikit-learn does.
    """
    if connectivity is not None:
        return _sklearn_ward_tree(X, connectivity=connectivity, n_clusters=n_clusters,
                                  return_distance=return_distance)
    if n_clusters is not None:
        warnings.warn(_PARTIAL_TREE_WARNING, stacklevel=2)
    X = _rows(X)
    _warn_if_distance_matrix(X)
    _require_finite(X)
    children, distances = _hierarchy_fast.ward_tree(X, effective_n_threads(None))
    return _tree_output(children, distances, X.shape[0], return_distance)


def linkage_tree(X, connectivity=None, n_clusters=None, linkage="complete", affinity="euclidean",
                 return_distance=False):
    """Complete, average or single linkage, as :func:`sklearn.cluster.linkage_tree`.

    Without connectivity: complete and average by fastml's nearest-neighbour chain on a condensed
    matrix, single linkage with the euclidean metric by fastml's Prim; the rest by scikit-learn.
    """
    compiled = (connectivity is None and linkage in ("complete", "average", "single")
                and (linkage != "single" or affinity in ("euclidean", "l2")))
    if not compiled or (affinity == "cosine" and not np.all(np.any(X, axis=1))):
        return _sklearn_linkage_tree(X, connectivity=connectivity, n_clusters=n_clusters,
                                     linkage=linkage, affinity=affinity,
                                     return_distance=return_distance)
    if n_clusters is not None:
        warnings.warn(_PARTIAL_TREE_WARNING, stacklevel=2)
    n_samples = np.shape(X)[0]
    if linkage == "single":
        X = _rows(X)
        _require_finite(X)
        start, end, weight = _hierarchy_fast.prim_mst(X, None, 1.0, effective_n_threads(None))
        mst = np.column_stack([start.astype(np.float64), end.astype(np.float64), weight])
        out = single_linkage_label(mst[np.argsort(weight, kind="mergesort")])
        children, distances = out[:, :2].astype(int), out[:, 2]
    else:
        condensed = _condensed_distances(X, affinity)
        _require_finite(condensed)
        n_samples = int(round((1 + np.sqrt(1 + 8 * condensed.shape[0])) / 2))
        children, distances = _hierarchy_fast.condensed_tree(condensed, n_samples, linkage)
    return _tree_output(children, distances, n_samples, return_distance)


class AgglomerativeClustering(_SklearnAgglomerativeClustering):
    """Agglomerative clustering, drop-in for :class:`sklearn.cluster.AgglomerativeClustering`.

    The same parameters, attributes, errors and results. Without a connectivity graph the tree
    is built by fastml's compiled cores (see the module docstring); with one, by scikit-learn.

    Parameters
    ----------
    n_clusters : int or None, default=2
    metric : str or callable, default="euclidean"
    memory : str or object with the joblib.Memory interface, default=None
    connectivity : array-like, sparse matrix or callable, default=None
    compute_full_tree : "auto" or bool, default="auto"
    linkage : {"ward", "complete", "average", "single"}, default="ward"
    distance_threshold : float, default=None
    compute_distances : bool, default=False

    Attributes
    ----------
    n_clusters_ : int
    labels_ : ndarray of shape (n_samples,)
    n_leaves_ : int
    n_connected_components_ : int
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    children_ : ndarray of shape (n_samples - 1, 2)
    distances_ : ndarray of shape (n_nodes - 1,)
        With distance_threshold or compute_distances only.
    """

    def _fit(self, X):
        if self.connectivity is not None:  # scikit-learn's graph-restricted algorithm
            return super()._fit(X)
        if (self.n_clusters is None) == (self.distance_threshold is None):
            raise ValueError("Exactly one of n_clusters and distance_threshold has to be set, "
                             "and the other needs to be None.")
        if self.distance_threshold is not None and not self.compute_full_tree:
            raise ValueError("compute_full_tree must be True if distance_threshold is set.")
        if self.linkage == "ward" and self.metric not in ("euclidean", "l2"):
            raise ValueError(f"{self.metric} was provided as metric. Ward can only work with "
                             "euclidean distances (i.e. 'euclidean' and 'l2').")
        memory = check_memory(self.memory)
        # without connectivity the whole tree is always built, as in scikit-learn
        kwargs = {} if self.linkage == "ward" else {"linkage": self.linkage,
                                                    "affinity": self.metric}
        return_distance = self.distance_threshold is not None or self.compute_distances
        out = memory.cache(ward_tree if self.linkage == "ward" else linkage_tree)(
            X, connectivity=None, n_clusters=None, return_distance=return_distance, **kwargs)
        self.children_, self.n_connected_components_, self.n_leaves_ = out[:3]
        if return_distance:
            self.distances_ = out[-1]
        if self.distance_threshold is not None:
            self.n_clusters_ = np.count_nonzero(self.distances_ >= self.distance_threshold) + 1
        else:
            self.n_clusters_ = self.n_clusters
        self.labels_ = hc_cut(self.n_clusters_, self.children_, self.n_leaves_)
        return self
