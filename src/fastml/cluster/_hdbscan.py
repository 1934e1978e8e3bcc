"""HDBSCAN on fastml's compiled cores.

scikit-learn's default path (dense euclidean data, algorithm "auto", "kd_tree" or "ball_tree")
finds the core distances with a kd-tree and the minimum spanning tree of the mutual reachability
graph with a Prim loop that calls a distance object for every pair. fastml finds the core
distances with a compiled k-nearest search on the kd partition of its radius search (the
KDTree's values to the bit, fastml.cluster._hierarchy_fast.core_distances) and
the tree with its compiled Prim (fastml.cluster._hierarchy_fast.prim_mst), which computes the
same distances to the bit and makes the same choices among equal ones, so the tree's edges are
scikit-learn's. The single-linkage tree, condensed tree, cluster selection, probabilities and
centers are scikit-learn's own O(n) steps, run on that tree: labels_ and probabilities_ are
scikit-learn's. Other metrics, sparse or precomputed input and algorithm="brute" are handed to
scikit-learn.
"""
from warnings import warn

import numpy as np
from scipy.sparse import issparse
from sklearn.cluster import HDBSCAN as _SklearnHDBSCAN
from sklearn.utils.validation import validate_data

from .._backend import effective_n_threads
from ..utils._sklearn_compat import (fit_context, hdbscan_outlier_encoding, hdbscan_process_mst,
                                     hdbscan_remap_single_linkage_tree, hdbscan_tree_to_labels,
                                     mst_edge_dtype)
from . import _hierarchy_fast

_COMPILED_METRICS = ("euclidean", "l2")


def _mutual_reachability_tree(X, min_samples, alpha, n_jobs):
    """scikit-learn's _hdbscan_prims for euclidean X: the single-linkage tree of the mutual
    reachability graph's minimum spanning tree."""
    X = np.ascontiguousarray(X, dtype=np.float64)
    n_threads = effective_n_threads(n_jobs)
    core = _hierarchy_fast.core_distances(X, min_samples, n_threads)
    start, end, weight = _hierarchy_fast.prim_mst(X, core, float(alpha), n_threads)
    mst = np.empty(start.shape[0], dtype=mst_edge_dtype)
    mst["current_node"], mst["next_node"], mst["distance"] = start, end, weight
    return hdbscan_process_mst(mst)


class HDBSCAN(_SklearnHDBSCAN):
    """Hierarchical density-based clustering, drop-in for :class:`sklearn.cluster.HDBSCAN`.

    The same parameters, attributes, errors and results; dense euclidean data run on fastml's
    compiled cores (see the module docstring), the rest on scikit-learn.

    Parameters
    ----------
    min_cluster_size : int, default=5
    min_samples : int, default=None
    cluster_selection_epsilon : float, default=0.0
    max_cluster_size : int, default=None
    metric : str or callable, default="euclidean"
    metric_params : dict, default=None
    alpha : float, default=1.0
    algorithm : {"auto", "brute", "kd_tree", "ball_tree"}, default="auto"
    leaf_size : int, default=40
    n_jobs : int, default=None
        Threads of the compiled core distances and tree (None: fastml's default).
    cluster_selection_method : {"eom", "leaf"}, default="eom"
    allow_single_cluster : bool, default=False
    store_centers : {"centroid", "medoid", "both"}, default=None
    copy : bool, default="warn"

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    probabilities_ : ndarray of shape (n_samples,)
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    centroids_ : ndarray of shape (n_clusters, n_features)
    medoids_ : ndarray of shape (n_clusters, n_features)
    """

    def _compiled(self, X):
        return (not issparse(X) and self.metric in _COMPILED_METRICS and not self.metric_params
                and self.algorithm in ("auto", "kd_tree", "ball_tree"))

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Find clusters based on hierarchical density-based clustering.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or \
                ndarray of shape (n_samples, n_samples)
            A feature array, or distances between samples if ``metric="precomputed"``.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        if not self._compiled(X):
            return super().fit.__wrapped__(self, X, y)
        if self.copy == "warn":
            warn("The default value of `copy` will change from False to True in 1.10. "
                 "Explicitly set a value for `copy` to silence this warning.", FutureWarning)
        self._metric_params = self.metric_params or {}
        X = validate_data(self, X, ensure_all_finite=False, dtype=np.float64)
        self._raw_data = X
        # Rows with inf or nan are left out of the tree and labelled apart, as in scikit-learn.
        all_finite = bool(np.isfinite(X).all())
        if not all_finite:
            row_sums = X.sum(axis=1)
            finite_index = np.flatnonzero(np.isfinite(row_sums))
            X = X[finite_index]
        if X.shape[0] == 1:
            raise ValueError("n_samples=1 while HDBSCAN requires more than one sample")
        self._min_samples = (self.min_cluster_size if self.min_samples is None
                             else self.min_samples)
        if self._min_samples > X.shape[0]:
            raise ValueError(f"min_samples ({self._min_samples}) must be at most the number of"
                             f" samples in X ({X.shape[0]})")
        self._single_linkage_tree_ = _mutual_reachability_tree(X, self._min_samples, self.alpha,
                                                               self.n_jobs)
        self.labels_, self.probabilities_ = hdbscan_tree_to_labels(
            self._single_linkage_tree_, self.min_cluster_size, self.cluster_selection_method,
            self.allow_single_cluster, self.cluster_selection_epsilon, self.max_cluster_size)
        if not all_finite:
            self._label_non_finite(finite_index, row_sums)
        if self.store_centers:
            self._weighted_cluster_center(X)
        return self

    def _label_non_finite(self, finite_index, row_sums):
        """Labels and probabilities of all rows, the non-finite ones by scikit-learn's encoding
        (inf: -2, probability 0; nan: -3, probability nan), and the tree in row numbers."""
        missing = np.flatnonzero(np.isnan(row_sums))
        infinite = np.flatnonzero(np.isinf(row_sums))
        self._single_linkage_tree_ = hdbscan_remap_single_linkage_tree(
            self._single_linkage_tree_, dict(enumerate(finite_index)),
            non_finite=set(np.hstack([infinite, missing])))
        n = self._raw_data.shape[0]
        labels = np.empty(n, dtype=np.int32)
        probabilities = np.zeros(n, dtype=np.float64)
        labels[finite_index], probabilities[finite_index] = self.labels_, self.probabilities_
        for rows, kind in ((infinite, "infinite"), (missing, "missing")):
            labels[rows] = hdbscan_outlier_encoding[kind]["label"]
            probabilities[rows] = hdbscan_outlier_encoding[kind]["prob"]
        self.labels_, self.probabilities_ = labels, probabilities
