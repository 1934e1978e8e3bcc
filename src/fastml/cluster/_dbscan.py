"""DBSCAN on fastml's compiled radius search: scikit-learn's clustering, label for label.

Dense rows under euclidean, sqeuclidean, manhattan, chebyshev or minkowski are clustered by the
C++ core (fastml.cluster._dbscan_fast): weighted counts within eps over a kd partition of the rows
give the core samples, a union-find over pairs of core samples within eps the clusters, and the
lowest cluster label within eps the border samples, without ever holding the neighbourhoods.
Other metrics, sparse X and metric="precomputed" take the neighbourhoods from fastml's
NearestNeighbors (or from the stored entries of a sparse precomputed matrix, as scikit-learn)
and label them with scikit-learn's depth-first search, compiled.
"""
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.neighbors import sort_graph_by_row_values
from sklearn.utils.validation import validate_data

from ..metrics._reductions import _radius_job
from ..neighbors import NearestNeighbors
from ..utils._sklearn_compat import (VALID_PAIRWISE_METRICS, Interval, StrOptions,
                                     check_precomputed, check_sample_weight, fit_context,
                                     validate_params)
from . import _dbscan_fast

class DBSCAN(ClusterMixin, BaseEstimator):
    """Density-Based Spatial Clustering of Applications with Noise, on fastml's compiled core.

    A drop-in for :class:`sklearn.cluster.DBSCAN`: the same parameters, attributes, errors and
    labels (clusters numbered as scikit-learn numbers them). ``algorithm`` and ``leaf_size`` are
    checked as scikit-learn checks them; the search is always fastml's (a kd partition of the
    rows for the compiled metrics, brute force otherwise).

    Parameters
    ----------
    eps : float, default=0.5
        The largest distance between two samples for one to be in the other's neighbourhood.
    min_samples : int, default=5
        Samples (or total weight) in a neighbourhood, the point itself included, for a core point.
    metric : str or callable, default='euclidean'
        Any metric of scikit-learn's pairwise distances, or "precomputed" (dense or sparse X;
        the stored entries of a sparse X are the only neighbours).
    metric_params : dict, default=None
    algorithm : {'auto', 'ball_tree', 'kd_tree', 'brute'}, default='auto'
    leaf_size : int, default=30
    p : float, default=None
        Power of the Minkowski metric (None: 2).
    n_jobs : int, default=None
        Threads of the compiled search.

    Attributes
    ----------
    core_sample_indices_ : ndarray of shape (n_core_samples,)
    components_ : ndarray of shape (n_core_samples, n_features)
    labels_ : ndarray of shape (n_samples,)
        Cluster of every sample; -1 for noise.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    """

    _parameter_constraints: dict = {
        "eps": [Interval(Real, 0.0, None, closed="neither")],
        "min_samples": [Interval(Integral, 1, None, closed="left")],
        "metric": [StrOptions(set(VALID_PAIRWISE_METRICS) | {"precomputed"}), callable],
        "metric_params": [dict, None],
        "algorithm": [StrOptions({"auto", "ball_tree", "kd_tree", "brute"})],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        "p": [Interval(Real, 0.0, None, closed="left"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, eps=0.5, *, min_samples=5, metric="euclidean", metric_params=None,
                 algorithm="auto", leaf_size=30, p=None, n_jobs=None):
        self.eps = eps
        self.min_samples = min_samples
        self.metric = metric
        self.metric_params = metric_params
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Cluster X.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features), or (n_samples,
            n_samples) with ``metric='precomputed'``
        y : Ignored
        sample_weight : array-like of shape (n_samples,), default=None
            Weight of every sample in the neighbourhood counts; a sample of weight at least
            min_samples is a core sample by itself, a negative weight can keep a neighbour from
            being one.

        Returns
        -------
        self : object
        """
        X = validate_data(self, X, accept_sparse="csr")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X)
        if self.metric == "precomputed" and sparse.issparse(X):
            X = X.copy()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", sparse.SparseEfficiencyWarning)
                X.setdiag(X.diagonal())  # a point is its own neighbour
                X = sort_graph_by_row_values(X, warn_when_not_sorted=False)
        neighbors = NearestNeighbors(radius=self.eps, algorithm=self.algorithm,
                                     leaf_size=self.leaf_size, metric=self.metric,
                                     metric_params=self.metric_params, p=self.p,
                                     n_jobs=self.n_jobs)
        if self.metric == "precomputed":
            X = check_precomputed(X)
        neighbors.fit(X)
        job = _radius_job(X, None, neighbors.effective_metric_, neighbors._search_params(),
                          self.n_jobs)
        n = X.shape[0]
        labels = np.empty(n, dtype=np.int64)
        if job is not None:
            is_core = np.empty(n, dtype=np.uint8)
            _dbscan_fast.fit(job.X, job.metric, job.p, float(self.eps), _weights(sample_weight),
                             float(self.min_samples), is_core, labels, job.n_threads)
            is_core = is_core.astype(bool)
        else:
            indptr, indices = _neighbourhoods(X, neighbors, self.metric == "precomputed")
            if sample_weight is None:
                counts = np.diff(indptr)
            else:
                rows = np.repeat(np.arange(n), np.diff(indptr))
                counts = np.bincount(rows, weights=sample_weight[indices], minlength=n)
            is_core = counts >= self.min_samples
            _dbscan_fast.graph_labels(indptr, indices, is_core.astype(np.uint8), labels)
        self.core_sample_indices_ = np.flatnonzero(is_core)
        self.labels_ = labels.astype(np.intp, copy=False)
        if len(self.core_sample_indices_):
            self.components_ = X[self.core_sample_indices_].copy()
        else:
            self.components_ = np.empty((0, X.shape[1]))
        return self

    def fit_predict(self, X, y=None, sample_weight=None):
        """Cluster X and return the labels (noise: -1); see fit.

        Returns
        -------
        labels : ndarray of shape (n_samples,)
        """
        self.fit(X, sample_weight=sample_weight)
        return self.labels_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.sparse = True
        return tags


def _weights(sample_weight):
    if sample_weight is None:
        return np.empty(0)
    return np.ascontiguousarray(sample_weight, dtype=np.float64)


def _neighbourhoods(X, neighbors, precomputed):
    """(indptr, indices) of every sample's neighbourhood, itself included, as int64 CSR: the
    stored entries within eps of a sparse precomputed matrix (scikit-learn's rule), else the
    radius search of the fitted neighbours model."""
    if precomputed and sparse.issparse(X):
        keep = X.data <= neighbors.radius
        rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))[keep]
        indptr = np.zeros(X.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=X.shape[0]), out=indptr[1:])
        return indptr, X.indices[keep].astype(np.int64)
    indptr, indices, _ = neighbors._radius_csr(X, None, False, False)
    return (np.ascontiguousarray(indptr, dtype=np.int64),
            np.ascontiguousarray(indices, dtype=np.int64))


@validate_params({"X": ["array-like", "sparse matrix"], "sample_weight": ["array-like", None]},
                 prefer_skip_nested_validation=False)
def dbscan(X, eps=0.5, *, min_samples=5, metric="minkowski", metric_params=None,
           algorithm="auto", leaf_size=30, p=2, sample_weight=None, n_jobs=None):
    """DBSCAN clustering of a vector array or a distance matrix (see :class:`DBSCAN`).

    Returns
    -------
    core_samples : ndarray of shape (n_core_samples,)
    labels : ndarray of shape (n_samples,)
        Noise: -1.
    """
    est = DBSCAN(eps, min_samples=min_samples, metric=metric, metric_params=metric_params,
                 algorithm=algorithm, leaf_size=leaf_size, p=p, n_jobs=n_jobs)
    est.fit(X, sample_weight=sample_weight)
    return est.core_sample_indices_, est.labels_
