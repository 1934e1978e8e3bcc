"""AgglomerativeClustering, ward_tree and linkage_tree on fastml's C++ hierarchy core
(fastml.cluster._hierarchy_fast).

Without a connectivity graph scikit-learn hands the tree to scipy, which computes the whole
condensed distance matrix and runs the nearest-neighbour chain over it (ward, complete, average),
or runs its own Prim over the rows (single). fastml runs the same algorithms compiled:

- ward: the chain on cluster centroids and sizes, with no distance matrix (O(n d) memory);
- complete / average, euclidean: the chain with no condensed matrix: distances between unmerged
  rows recomputed from X (pdist's bits), a row of distances per merged cluster, then, once
  3 n / 10 clusters remain, the square matrix of the live ones; other metrics: the chain on a
  condensed float64 matrix (n (n - 1) / 2 values, one copy, where scipy holds two), once
  n / sqrt(2) clusters remain on the square of the live ones moved into the same buffer; both
  with scipy's updates to the operation;
- single (euclidean): Prim with distances computed on the fly (O(n d) memory).

Merges come in scipy's order and are named as scipy names them, so children_ and distances_ are
scikit-learn's: complete, average and single to the bit; ward to rounding, as its distances come
from centroids instead of the Lance-Williams recurrence (merges at distances equal up to that
rounding may come in another order, as scipy's own order among them is set by its rounding).
With a connectivity graph, ward is compiled too (csrc/cluster/hierarchy_graph.cpp): scikit-learn's
heap of (inertia, a, b) over the graph's edges, merged in its order, so children_, distances_ and
the parents of a partial tree are scikit-learn's to the bit. The graph is made symmetric and
completed when it has several components by scikit-learn's own helper (_fix_connectivity, its
warning included). Complete and average linkage with a graph likewise: the edges' distances are
scikit-learn's paired_distances, the merges compiled, with heapq's own order among equal weights
(scikit-learn's heap entries compare by weight alone). Single linkage with a graph: scipy's
minimum spanning tree (Kruskal, equal weights in the graph's storage order) compiled, labelled
by scikit-learn's union-find. Other metrics for single linkage without a graph, and callables,
go to scikit-learn.
"""
import itertools
import warnings

import numpy as np
from scipy.cluster.hierarchy import ClusterWarning
from scipy.spatial.distance import pdist
from sklearn.cluster import AgglomerativeClustering as _SklearnAgglomerativeClustering
from sklearn.cluster import linkage_tree as _sklearn_linkage_tree
from sklearn.cluster import ward_tree as _sklearn_ward_tree
from sklearn.metrics.pairwise import paired_distances
from sklearn.utils import check_array
from sklearn.utils.validation import check_memory

from .._backend import effective_n_threads
from ..utils._sklearn_compat import fix_connectivity, hc_cut, hc_get_heads, single_linkage_label
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


def _checked(condensed):
    _require_finite(condensed)
    return condensed


def _linkage_input(X, metric):
    """What the chain of complete and average linkage runs on: the rows themselves (2-d) where
    their euclidean distances are recomputed in the core, else the condensed distance matrix
    that scikit-learn passes to scipy's linkage (1-d, float64), with scipy's error where a value
    is not finite."""
    if metric == "precomputed":
        X = np.asarray(X)
        if X.shape[0] != X.shape[1]:
            raise ValueError(f"Distance matrix should be square, got matrix of shape {X.shape}")
        i, j = np.triu_indices(X.shape[0], k=1)
        return _checked(np.ascontiguousarray(X[i, j], dtype=np.float64))
    if callable(metric):
        D = metric(X)
        i, j = np.triu_indices(D.shape[0], k=1)
        return _checked(np.ascontiguousarray(D[i, j], dtype=np.float64))
    metric = _SCIPY_METRIC.get(metric, metric)
    X = _rows(X)
    _warn_if_distance_matrix(X)
    _require_finite(X)
    if metric != "euclidean":
        return _checked(pdist(np.asarray(X, dtype=np.float64), metric))
    # A difference is at most 2 max|X|, so a sum of d squares stays below 4 d max|X|^2: under
    # 1e300 no distance can overflow, and the rows go to the core as they are; above, pdist's
    # error for a distance that does.
    bound = 2.0 * float(np.max(np.abs(X), initial=0.0))
    if bound * bound * X.shape[1] < 1e300:
        return X
    return _checked(_hierarchy_fast.condensed_euclidean(X, effective_n_threads(None)))


def _tree_output(children, distances, n_samples, return_distance):
    if return_distance:
        return children, 1, n_samples, None, distances
    return children, 1, n_samples, None


def _graph_rows(connectivity):
    """The rows of the LIL graph that _fix_connectivity returns, as CSR arrays (int64)."""
    rows = connectivity.rows
    indptr = np.zeros(len(rows) + 1, dtype=np.int64)
    np.cumsum(np.fromiter(map(len, rows), dtype=np.int64, count=len(rows)), out=indptr[1:])
    indices = np.fromiter(itertools.chain.from_iterable(rows), dtype=np.int64, count=indptr[-1])
    return indptr, indices


def _ward_graph(X, connectivity, n_clusters, return_distance):
    """scikit-learn's structured ward_tree on fastml's core: (children, n_connected_components,
    n_leaves, parents[, distances])."""
    connectivity, n_components = fix_connectivity(X, connectivity, affinity="euclidean")
    n_samples = X.shape[0]
    if n_clusters is not None and n_clusters > n_samples:
        raise ValueError("Cannot provide more clusters than samples. %i n_clusters was asked, "
                         "and there are %i samples." % (n_clusters, n_samples))
    n_nodes = 2 * n_samples - (1 if n_clusters is None else n_clusters)
    indptr, indices = _graph_rows(connectivity)
    children, parents, distances = _hierarchy_fast.ward_graph(
        _rows(X), indptr, indices, n_nodes, effective_n_threads(None))
    if n_nodes == n_samples:  # no merge: scikit-learn's np.array of an empty list
        children = np.array([])
    if return_distance:
        return children, n_components, n_samples, parents, distances
    return children, n_components, n_samples, parents


def ward_tree(X, *, connectivity=None, n_clusters=None, return_distance=False):
    """Ward clustering on a feature matrix, as :func:`sklearn.cluster.ward_tree`.

    Without connectivity the tree is built by fastml's nearest-neighbour chain on centroids (no
    distance matrix); with it, by fastml's heap over the graph's edges (scikit-learn's algorithm
    and merge order). Returns (children, n_connected_components, n_leaves, parents[, distances])
    as scikit-learn does.
    """
    if connectivity is not None:
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if X.shape[0] < 2 or not np.all(np.isfinite(X)):  # scikit-learn's behaviour, as it is
            return _sklearn_ward_tree(X, connectivity=connectivity, n_clusters=n_clusters,
                                      return_distance=return_distance)
        return _ward_graph(X, connectivity, n_clusters, return_distance)
    if n_clusters is not None:
        warnings.warn(_PARTIAL_TREE_WARNING, stacklevel=2)
    X = _rows(X)
    _warn_if_distance_matrix(X)
    _require_finite(X)
    children, distances = _hierarchy_fast.ward_tree(X, effective_n_threads(None))
    return _tree_output(children, distances, X.shape[0], return_distance)


def _graph_edges(X, connectivity, affinity):
    """scikit-learn's edges of a connectivity graph: (n_components, row, col, weights), the graph
    made symmetric and connected by its _fix_connectivity, self loops dropped, the edges in the
    order of its COO form and weighted by its paired distances (or the precomputed entries)."""
    connectivity, n_components = fix_connectivity(X, connectivity, affinity=affinity)
    graph = connectivity.tocoo()
    off_diagonal = graph.row != graph.col
    row, col = graph.row[off_diagonal], graph.col[off_diagonal]
    if affinity == "precomputed":
        weights = X[row, col].astype(np.float64, copy=False)
    else:
        weights = paired_distances(X[row], X[col], metric=affinity)
    return n_components, row, col, weights


def _n_nodes(n_samples, n_clusters):
    assert n_clusters is None or n_clusters <= n_samples  # as scikit-learn checks it
    return 2 * n_samples - (1 if n_clusters is None else n_clusters)


def _linkage_graph(X, connectivity, n_clusters, linkage, affinity, return_distance):
    """scikit-learn's structured linkage_tree (complete, average) on fastml's core: the edges'
    distances are scikit-learn's paired distances (or the precomputed entries), the merges
    compiled."""
    n_components, row, col, weights = _graph_edges(X, connectivity, affinity)
    n_samples = X.shape[0]
    n_nodes = _n_nodes(n_samples, n_clusters)
    by_row = np.argsort(row, kind="stable")
    indptr = np.zeros(n_samples + 1, dtype=np.int64)
    np.cumsum(np.bincount(row, minlength=n_samples), out=indptr[1:])
    children, parents, distances = _hierarchy_fast.linkage_graph(
        indptr, col[by_row].astype(np.int64), np.ascontiguousarray(weights[by_row], np.float64),
        n_nodes, linkage)
    if n_nodes == n_samples:  # no merge: scikit-learn slices an empty 1-d array and fails so
        raise IndexError("too many indices for array: array is 1-dimensional, but 2 were indexed")
    if return_distance:
        return children, n_components, n_samples, parents, distances
    return children, n_components, n_samples, parents


def _single_graph(X, connectivity, n_clusters, affinity, return_distance):
    """scikit-learn's structured single linkage (its _single_linkage_tree): scipy's minimum
    spanning tree of the graph by fastml's Kruskal, labelled by scikit-learn's union-find.

    The edges are scikit-learn's, in the order of its CSR graph (the COO order of the LIL graph,
    rows ascending, columns sorted), zero weights raised to machine epsilon as scikit-learn
    raises them (scipy ignores zeros) and lowered again after; the tree's edges in that order,
    sorted stably by weight, give scikit-learn's children and distances, ties included. None
    where scikit-learn's own code must run (weights not all finite)."""
    n_components, row, col, weights = _graph_edges(X, connectivity, affinity)
    weights = np.asarray(weights, dtype=np.float64)
    if not np.all(np.isfinite(weights)):
        return None
    epsilon = np.finfo(np.float64).eps
    weights = np.where(weights == 0, epsilon, weights)
    n_samples = X.shape[0]
    n_nodes = _n_nodes(n_samples, n_clusters)
    row, col = row.astype(np.int64), col.astype(np.int64)
    keep = _hierarchy_fast.kruskal_mst(n_samples, row, col, weights).view(bool)
    row, col, weights = row[keep], col[keep], weights[keep]
    weights[weights == epsilon] = 0  # scikit-learn undoes every epsilon, as this does
    mst = np.column_stack([row.astype(np.float64), col.astype(np.float64), weights])
    out = single_linkage_label(mst[np.argsort(weights, kind="mergesort")])
    children = out[:, :2].astype(int)
    # scikit-learn's parents: each merge i (node n_samples + i) below n_nodes names its children
    parent = np.arange(n_nodes, dtype=np.intp)
    merged = children[:n_nodes - n_samples]
    nodes = np.arange(n_samples, n_nodes, dtype=np.intp)
    for side in (merged[:, 0], merged[:, 1]):
        below = side < n_nodes
        parent[side[below]] = nodes[below]
    if return_distance:
        return children, n_components, n_samples, parent, out[:, 2]
    return children, n_components, n_samples, parent


def linkage_tree(X, connectivity=None, n_clusters=None, linkage="complete", affinity="euclidean",
                 return_distance=False):
    """Complete, average or single linkage, as :func:`sklearn.cluster.linkage_tree`.

    Without connectivity: complete and average by fastml's nearest-neighbour chain on a condensed
    matrix, single linkage with the euclidean metric by fastml's Prim; with connectivity,
    complete and average by fastml's heap over the graph's edges, single linkage by fastml's
    Kruskal; the rest by scikit-learn.
    """
    if connectivity is not None:
        def by_sklearn():
            return _sklearn_linkage_tree(X, connectivity=connectivity, n_clusters=n_clusters,
                                         linkage=linkage, affinity=affinity,
                                         return_distance=return_distance)
        if linkage not in ("complete", "average", "single"):
            return by_sklearn()
        X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        if affinity == "cosine" and np.any(~np.any(X, axis=1)):
            raise ValueError("Cosine affinity cannot be used when X contains zero vectors")
        if linkage == "single":
            out = _single_graph(X, connectivity, n_clusters, affinity, return_distance)
            return by_sklearn() if out is None else out
        return _linkage_graph(X, connectivity, n_clusters, linkage, affinity, return_distance)
    compiled = (linkage in ("complete", "average", "single")
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
        values = _linkage_input(X, affinity)
        if values.ndim == 2:
            children, distances = _hierarchy_fast.euclidean_tree(values, linkage,
                                                                 effective_n_threads(None))
        else:
            n_samples = int(round((1 + np.sqrt(1 + 8 * values.shape[0])) / 2))
            children, distances = _hierarchy_fast.condensed_tree(values, n_samples, linkage,
                                                                 effective_n_threads(None))
    return _tree_output(children, distances, n_samples, return_distance)


class AgglomerativeClustering(_SklearnAgglomerativeClustering):
    """Agglomerative clustering, drop-in for :class:`sklearn.cluster.AgglomerativeClustering`.

    The same parameters, attributes, errors and results. Without a connectivity graph the tree
    is built by fastml's compiled cores (see the module docstring); with one too.

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
        """scikit-learn's _fit with fastml's tree builders."""
        if (self.n_clusters is None) == (self.distance_threshold is None):
            raise ValueError("Exactly one of n_clusters and distance_threshold has to be set, "
                             "and the other needs to be None.")
        if self.distance_threshold is not None and not self.compute_full_tree:
            raise ValueError("compute_full_tree must be True if distance_threshold is set.")
        if self.linkage == "ward" and self.metric not in ("euclidean", "l2"):
            raise ValueError(f"{self.metric} was provided as metric. Ward can only work with "
                             "euclidean distances (i.e. 'euclidean' and 'l2').")
        memory = check_memory(self.memory)
        connectivity = self.connectivity
        if connectivity is not None:
            if callable(connectivity):
                connectivity = connectivity(X)
            connectivity = check_array(connectivity, accept_sparse=["csr", "coo", "lil"])
        n_samples = len(X)
        compute_full_tree = True if connectivity is None else self.compute_full_tree
        if compute_full_tree == "auto":
            # scikit-learn's heuristic: stopping early pays only for many clusters
            compute_full_tree = (self.distance_threshold is not None
                                 or self.n_clusters < max(100, 0.02 * n_samples))
        n_clusters = None if compute_full_tree else self.n_clusters
        kwargs = {} if self.linkage == "ward" else {"linkage": self.linkage,
                                                    "affinity": self.metric}
        return_distance = self.distance_threshold is not None or self.compute_distances
        out = memory.cache(ward_tree if self.linkage == "ward" else linkage_tree)(
            X, connectivity=connectivity, n_clusters=n_clusters, return_distance=return_distance,
            **kwargs)
        self.children_, self.n_connected_components_, self.n_leaves_, parents = out[:4]
        if return_distance:
            self.distances_ = out[-1]
        if self.distance_threshold is not None:
            self.n_clusters_ = np.count_nonzero(self.distances_ >= self.distance_threshold) + 1
        else:
            self.n_clusters_ = self.n_clusters
        if compute_full_tree:
            self.labels_ = hc_cut(self.n_clusters_, self.children_, self.n_leaves_)
        else:  # the roots of the partial tree, numbered in ascending order
            heads = np.copy(hc_get_heads(parents, copy=False)[:n_samples])
            self.labels_ = np.searchsorted(np.unique(heads), heads)
        return self
