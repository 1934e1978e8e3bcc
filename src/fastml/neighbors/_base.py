"""Shared machinery of the neighbours estimators: fit, k-nearest and radius queries, graphs.

Every search runs on fastml's compiled brute-force core (fastml.metrics._reductions); the
``algorithm`` and ``leaf_size`` parameters are accepted for compatibility with scikit-learn only.
"""
import itertools
import warnings
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, MultiOutputMixin, is_classifier
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import VALID_METRICS, VALID_METRICS_SPARSE, BallTree, KDTree
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ..metrics._reductions import _split_rows, argkmin, radius_neighbors_csr
from ..utils._sklearn_compat import (Interval, StrOptions, check_precomputed,
                                     kneighbors_from_graph)

_METRICS = frozenset(itertools.chain(*VALID_METRICS.values()))
_GRAPH_MODES = ("connectivity", "distance")


def _neighbor_weights(dist, weights):
    """Weights of the neighbours at distances `dist`, or None for uniform weights.

    "distance" weighs by 1 / distance; a query with neighbours at distance 0 gives those weight 1
    and the others 0 (scikit-learn's rule).
    """
    if weights in (None, "uniform"):
        return None
    if weights == "distance":
        with np.errstate(divide="ignore"):
            w = 1.0 / dist
        at_zero = np.isinf(w)
        rows = at_zero.any(axis=1)
        w[rows] = at_zero[rows]
        return w
    return weights(dist)


def _drop_self(dist, ind):
    """kneighbors(X=None) semantics: remove each training point from its own neighbours.

    When duplicates push a point out of its own list, its first neighbour (a duplicate) goes.
    """
    n_queries = ind.shape[0]
    keep = ind != np.arange(n_queries)[:, None]
    self_missing = keep.all(axis=1)
    keep[self_missing, 0] = False
    return (dist[keep].reshape(n_queries, -1) if dist is not None else None,
            ind[keep].reshape(n_queries, -1))


def _graph_radius_csr(graph, radius, self_query):
    """(indptr, indices, distances) of the stored entries within radius of a precomputed sparse
    graph (its rows sorted by distance, as check_precomputed leaves them: the order scikit-learn
    returns), each row's own entry dropped for a self query."""
    rows = np.repeat(np.arange(graph.shape[0]), np.diff(graph.indptr))
    keep = graph.data <= radius
    if self_query:
        keep &= graph.indices != rows
    indptr = np.zeros(graph.shape[0] + 1, dtype=np.intp)
    np.cumsum(np.bincount(rows[keep], minlength=graph.shape[0]), out=indptr[1:])
    return indptr, graph.indices[keep].astype(np.intp), graph.data[keep]


def _csr_graph(data, ind, indptr, n_samples_fit):
    return sparse.csr_matrix((data, ind, indptr), shape=(len(indptr) - 1, n_samples_fit))


def _training_data(X):
    """The training data of a fitted neighbours estimator (fastml's or scikit-learn's), a
    BallTree or a KDTree; X itself otherwise."""
    if isinstance(X, (BallTree, KDTree)):
        return np.asarray(X.data)
    if isinstance(X, BaseEstimator) and hasattr(X, "_fit_X") and hasattr(X, "n_samples_fit_"):
        return X._fit_X
    return X


def _check_graph_mode(mode):
    if mode not in _GRAPH_MODES:
        raise ValueError(
            f'Unsupported mode, must be one of "connectivity", or "distance" but got "{mode}" '
            "instead")


class NeighborsBase(MultiOutputMixin, BaseEstimator):
    """Parameters, fit and k-nearest queries shared by every neighbours estimator."""

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left"), None],
        "algorithm": [StrOptions({"auto", "ball_tree", "kd_tree", "brute"})],
        "leaf_size": [Interval(Integral, 1, None, closed="left")],
        "p": [Interval(Real, 0, None, closed="right"), None],
        "metric": [StrOptions(set(_METRICS)), callable, DistanceMetric],
        "metric_params": [dict, None],
        "n_jobs": [Integral, None],
    }

    def _fit(self, X, y=None):
        """Validate and store the training data (and labels, for the supervised estimators).

        X may also be a fitted neighbours estimator, a BallTree or a KDTree: their training data
        is taken. The search is always fastml's brute force; ``algorithm`` is checked as
        scikit-learn checks it (the metrics its trees take, 0 < p < 1)."""
        supervised = self.__sklearn_tags__().target_tags.required
        X = _training_data(X)
        if self.metric == "precomputed":
            # scikit-learn's checks (non-negative; sparse: no DOK/BSR, rows sorted by distance)
            X = check_precomputed(X)
        finite = "allow-nan" if self.metric == "nan_euclidean" else True
        if supervised:
            X, y = validate_data(self, X, y, accept_sparse="csr", multi_output=True, order="C",
                                 y_numeric=not is_classifier(self), ensure_all_finite=finite)
        else:
            X = validate_data(self, X, accept_sparse="csr", order="C", ensure_all_finite=finite)
        self._check_algorithm_metric()
        self._set_effective_metric()
        if self.metric == "precomputed" and X.shape[0] != X.shape[1]:
            raise ValueError(
                f"Precomputed matrix must be square. Input is a {X.shape[0]}x{X.shape[1]} matrix.")
        if sparse.issparse(X):
            if self.algorithm not in ("auto", "brute"):
                warnings.warn("cannot use tree with sparse input: using brute force")
            if (self.effective_metric_ not in VALID_METRICS_SPARSE["brute"]
                    and not callable(self.effective_metric_)
                    and not isinstance(self.effective_metric_, DistanceMetric)):
                raise ValueError(
                    f"Metric '{self.effective_metric_}' not valid for sparse input. Use "
                    "sorted(sklearn.neighbors.VALID_METRICS_SPARSE['brute']) to get valid "
                    "options. Metric can also be a callable function.")
            X = X.copy()
        elif self.effective_metric_ == "minkowski":
            self._check_minkowski_for_algorithm()
        self._fit_X = X
        self._fit_method = "brute"
        self.n_samples_fit_ = X.shape[0]
        if supervised:
            self._store_targets(y)
        return self

    def _store_targets(self, y):
        self._y = y

    def _check_algorithm_metric(self):
        """scikit-learn's checks of ``algorithm`` against ``metric`` (a tree takes only some
        metrics) and its warning for p given twice."""
        if self.algorithm == "auto":
            if self.metric == "precomputed":
                tree = "brute"
            elif (callable(self.metric) or isinstance(self.metric, DistanceMetric)
                  or self.metric in VALID_METRICS["ball_tree"]):
                tree = "ball_tree"
            else:
                tree = "brute"
        else:
            tree = self.algorithm
        if callable(self.metric):
            if self.algorithm == "kd_tree":
                raise ValueError(f"kd_tree does not support callable metric '{self.metric}'"
                                 "Function call overhead will resultin very poor performance.")
        elif not isinstance(self.metric, DistanceMetric) and self.metric not in VALID_METRICS[tree]:
            raise ValueError(f"Metric '{self.metric}' not valid. Use sorted(sklearn.neighbors."
                             f"VALID_METRICS['{tree}']) to get valid options. Metric can also be "
                             "a callable function.")
        if self.metric_params is not None and "p" in self.metric_params and self.p is not None:
            warnings.warn("Parameter p is found in metric_params. The corresponding parameter "
                          "from __init__ is ignored.", SyntaxWarning, stacklevel=3)

    def _check_minkowski_for_algorithm(self):
        """0 < p < 1 is a semi-metric, which scikit-learn's trees refuse and its brute force
        takes with a warning; its KDTree takes no weights."""
        if self.effective_metric_params_["p"] < 1:
            if self.algorithm in ("kd_tree", "ball_tree"):
                raise ValueError(
                    f'algorithm="{self.algorithm}" does not support 0 < p < 1 for the Minkowski '
                    'metric. To resolve this problem either set p >= 1 or algorithm="brute".')
            warnings.warn("Mind that for 0 < p < 1, Minkowski metrics are not distance metrics. "
                          "Continuing the execution with `algorithm='brute'`.")
        if self.algorithm == "kd_tree" and self.effective_metric_params_.get("w") is not None:
            raise ValueError("algorithm='kd_tree' is not valid for metric='minkowski' with a "
                             "weight parameter 'w': try algorithm='ball_tree' or "
                             "algorithm='brute' instead.")

    def _set_effective_metric(self):
        """scikit-learn's effective_metric_ / effective_metric_params_: minkowski with p = 1, 2
        or inf (and no weights) becomes manhattan, euclidean or chebyshev; otherwise its
        parameters hold p and w (None when unweighted), as scikit-learn's."""
        params = dict(self.metric_params or {})
        metric = self.metric
        if metric == "minkowski":
            p = params.pop("p", 2 if self.p is None else self.p)
            w = params.pop("w", None)
            named = {1: "manhattan", 2: "euclidean", np.inf: "chebyshev"}.get(p)
            if named is not None and w is None:
                metric = named
            else:
                params["p"], params["w"] = p, w
        self.effective_metric_ = metric
        self.effective_metric_params_ = params

    def _search_params(self):
        """effective_metric_params_ without an unset minkowski weight."""
        params = dict(self.effective_metric_params_)
        if params.get("w", 0) is None:
            del params["w"]
        return params

    def _validate_queries(self, X):
        """(queries, whether they are the training set)."""
        check_is_fitted(self)
        if X is None:
            return self._fit_X, True
        finite = "allow-nan" if self.metric == "nan_euclidean" else True
        if self.metric == "precomputed":
            X = check_precomputed(X)
        return validate_data(self, X, accept_sparse="csr", reset=False, order="C",
                             ensure_all_finite=finite), False

    def _precomputed_graph(self, X):
        """Whether X (validated queries) is a sparse precomputed graph, whose stored entries are
        the candidates (an explicit 0 a distance of 0), as KNeighborsTransformer makes them."""
        return self.metric == "precomputed" and sparse.issparse(X)

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """Find the k nearest training points of every query point.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_queries, n_features), default=None
            None queries the training points, each without itself.
        n_neighbors : int, default=None
            Defaults to the ``n_neighbors`` given at construction.
        return_distance : bool, default=True

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Only when return_distance is True; float32 for float32 data.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Training indices, nearest first; equal distances in index order.
        """
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if isinstance(n_neighbors, bool) or not isinstance(n_neighbors, Integral):
            raise TypeError(f"n_neighbors does not take {type(n_neighbors)} value, enter "
                            "integer value")
        if n_neighbors <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {n_neighbors}")
        X, query_is_train = self._validate_queries(X)
        k = n_neighbors + 1 if query_is_train else n_neighbors
        if k > self.n_samples_fit_:
            raise ValueError(
                f"Expected n_neighbors <= n_samples_fit, but n_neighbors = {k}, "
                f"n_samples_fit = {self.n_samples_fit_}, n_samples = {X.shape[0]}"
                + (" (querying the training set asks for one more neighbour)"
                   if query_is_train else ""))
        if self._precomputed_graph(X):
            dist, ind = kneighbors_from_graph(X, n_neighbors=k, return_distance=True)
        else:
            dist, ind = argkmin(X, self._fit_X, k, metric=self.effective_metric_,
                                n_jobs=self.n_jobs, **self._search_params())
        if query_is_train:
            dist, ind = _drop_self(dist, ind)
        return (dist, ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of the k nearest neighbours: A[i, j] is 1 (mode="connectivity") or the
        distance (mode="distance") when training point j is a neighbour of query i.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit), CSR
        """
        _check_graph_mode(mode)
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        n_queries, k = ind.shape
        data = np.ones(ind.size) if mode == "connectivity" else dist.ravel()
        return _csr_graph(data, ind.ravel(), np.arange(0, n_queries * k + 1, k),
                          self.n_samples_fit_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.pairwise = self.metric == "precomputed"
        tags.input_tags.allow_nan = self.metric == "nan_euclidean"
        return tags


class RadiusNeighborsMixin:
    """radius_neighbors and radius_neighbors_graph for estimators with a ``radius``."""

    def radius_neighbors(self, X=None, radius=None, return_distance=True, sort_results=False):
        """Find the training points within ``radius`` (distance <= radius) of every query.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,) of arrays
            Only when return_distance is True.
        neigh_ind : ndarray of shape (n_queries,) of arrays
            In index order, or by (distance, index) when ``sort_results``.
        """
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        indptr, indices, distances = self._radius_csr(X, radius, return_distance, sort_results)
        ind = _split_rows(indices, indptr)
        return (_split_rows(distances, indptr), ind) if return_distance else ind

    def _radius_csr(self, X, radius, return_distance, sort_results):
        """(indptr, indices, distances or None) of the radius search, each training point left
        out of its own list when X is None."""
        X, query_is_train = self._validate_queries(X)
        radius = self.radius if radius is None else radius
        if self._precomputed_graph(X):
            indptr, indices, distances = _graph_radius_csr(X, radius, query_is_train)
            return indptr, indices, distances if return_distance else None
        return radius_neighbors_csr(X, self._fit_X, radius, metric=self.effective_metric_,
                                    return_distance=return_distance, sort_results=sort_results,
                                    self_query=query_is_train, n_jobs=self.n_jobs,
                                    **self._search_params())

    def radius_neighbors_graph(self, X=None, radius=None, mode="connectivity",
                               sort_results=False):
        """Sparse graph of the neighbours within ``radius`` (see kneighbors_graph for ``mode``).

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit), CSR
        """
        _check_graph_mode(mode)
        distance = mode == "distance"
        indptr, indices, distances = self._radius_csr(X, radius, distance, sort_results)
        data = distances if distance else np.ones(indices.size)
        return _csr_graph(data, indices, indptr, self.n_samples_fit_)


class ClassifierTargetsMixin:
    """Target storage of the classifier (encoded labels per output)."""

    def _store_targets(self, y):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1):
            if y.ndim != 1:
                warnings.warn("A column-vector y was passed when a 1d array was expected. "
                              "Please change the shape of y to (n_samples,), for example using "
                              "ravel().", DataConversionWarning, stacklevel=3)
            self.outputs_2d_ = False
            y = y.reshape(-1, 1)
        else:
            self.outputs_2d_ = True
        check_classification_targets(y)
        self.classes_ = []
        self._y = np.empty(y.shape, dtype=np.intp)
        for out in range(y.shape[1]):
            classes, self._y[:, out] = np.unique(y[:, out], return_inverse=True)
            self.classes_.append(classes)
        if not self.outputs_2d_:
            self.classes_ = self.classes_[0]
            self._y = self._y.ravel()
