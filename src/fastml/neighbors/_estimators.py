"""NearestNeighbors, KNeighborsClassifier and KNeighborsRegressor on fastml's compiled search."""
from numbers import Real

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin

from ..utils._sklearn_compat import Interval, StrOptions, fit_context
from ._base import ClassifierTargetsMixin, NeighborsBase, RadiusNeighborsMixin, _neighbor_weights

_SEARCH_NOTE = """
    The search is always fastml's compiled brute-force core (tiles of distances reduced into
    per-query heaps in parallel threads); ``algorithm`` and ``leaf_size`` are accepted for
    compatibility with scikit-learn and do not change the result or the method.
"""

_COMMON_PARAMS = """
    algorithm : {"auto", "ball_tree", "kd_tree", "brute"}, default="auto"
        Accepted for compatibility; the compiled brute-force search always runs.
    leaf_size : int, default=30
        Accepted for compatibility; unused.
    metric : str or callable, default="minkowski"
        Any of ``sklearn.neighbors.VALID_METRICS["brute"]`` or a callable. euclidean,
        sqeuclidean, manhattan, chebyshev, minkowski, cosine, hamming and jaccard run on the
        compiled core; the others are computed by scikit-learn and reduced by the compiled
        selection. Sparse (CSR) input supports euclidean, manhattan and cosine.
    p : float, default=2
        Minkowski exponent (p = 1, 2 and inf run as manhattan, euclidean and chebyshev).
    metric_params : dict, default=None
    n_jobs : int, default=None
        Threads; None uses ``fastml.get_config()["n_jobs"]``, -1 all cores.
"""


class NearestNeighbors(RadiusNeighborsMixin, NeighborsBase):
    __doc__ = f"""Unsupervised nearest-neighbour search, drop-in for scikit-learn's.
{_SEARCH_NOTE}
    Parameters
    ----------
    n_neighbors : int, default=5
    radius : float, default=1.0
        Default radius of radius_neighbors.{_COMMON_PARAMS}
    Attributes
    ----------
    effective_metric_ : str or callable
    effective_metric_params_ : dict
    n_features_in_ : int
    feature_names_in_ : ndarray of str
    n_samples_fit_ : int
    """

    _parameter_constraints = {
        **NeighborsBase._parameter_constraints,
        "radius": [Interval(Real, 0, None, closed="both"), None],
    }

    def __init__(self, *, n_neighbors=5, radius=1.0, algorithm="auto", leaf_size=30,
                 metric="minkowski", p=2, metric_params=None, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.metric = metric
        self.p = p
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Store the training points. ``y`` is ignored."""
        return self._fit(X)


class _KNeighborsPredictor(NeighborsBase):
    _parameter_constraints = {
        **NeighborsBase._parameter_constraints,
        "weights": [StrOptions({"uniform", "distance"}), callable, None],
    }

    def __init__(self, n_neighbors=5, *, weights="uniform", algorithm="auto", leaf_size=30, p=2,
                 metric="minkowski", metric_params=None, n_jobs=None):
        self.n_neighbors = n_neighbors
        self.weights = weights
        self.algorithm = algorithm
        self.leaf_size = leaf_size
        self.p = p
        self.metric = metric
        self.metric_params = metric_params
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        """Store the training points and their targets."""
        return self._fit(X, y)

    def _neighbors_and_weights(self, X):
        dist, ind = self.kneighbors(X)
        return ind, _neighbor_weights(dist, self.weights)


class KNeighborsClassifier(ClassifierTargetsMixin, ClassifierMixin, _KNeighborsPredictor):
    __doc__ = f"""k-nearest-neighbours vote, drop-in for scikit-learn's KNeighborsClassifier.
{_SEARCH_NOTE}
    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {{"uniform", "distance"}}, callable or None, default="uniform"
        "distance" weighs neighbours by 1 / distance; a callable maps the distance array to
        weights of the same shape.{_COMMON_PARAMS}
    Attributes
    ----------
    classes_ : ndarray or list of ndarray
    outputs_2d_ : bool
    effective_metric_, effective_metric_params_, n_features_in_, feature_names_in_,
    n_samples_fit_ : as NearestNeighbors
    """

    def predict_proba(self, X):
        """Class probabilities: the (weighted) share of each class among the neighbours.

        Returns
        -------
        p : ndarray of shape (n_queries, n_classes), or a list of them for multi-output y
        """
        ind, weights = self._neighbors_and_weights(X)
        if weights is not None and np.any(np.all(np.asarray(weights) == 0, axis=1)):
            raise ValueError("All neighbors of some sample is getting zero weights. Please "
                             "modify 'weights' to avoid this case if you are using a "
                             "user-defined function.")
        labels = self._y.reshape(self._y.shape[0], -1)
        classes = self.classes_ if self.outputs_2d_ else [self.classes_]
        n_queries = ind.shape[0]
        rows = np.arange(n_queries)[:, None]
        probabilities = []
        for out, out_classes in enumerate(classes):
            n_classes = len(out_classes)
            cell = (rows * n_classes + labels[ind, out]).ravel()
            w = None if weights is None else np.asarray(weights, dtype=np.float64).ravel()
            proba = np.bincount(cell, weights=w, minlength=n_queries * n_classes)
            proba = proba.reshape(n_queries, n_classes).astype(np.float64)
            total = proba.sum(axis=1, keepdims=True)
            total[total == 0.0] = 1.0
            probabilities.append(proba / total)
        return probabilities if self.outputs_2d_ else probabilities[0]

    def predict(self, X):
        """The class with the largest (weighted) vote; ties go to the first class in classes_.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs)
        """
        probabilities = self.predict_proba(X)
        if not self.outputs_2d_:
            return self.classes_[np.argmax(probabilities, axis=1)]
        return np.column_stack([classes[np.argmax(proba, axis=1)]
                                for classes, proba in zip(self.classes_, probabilities)])

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class KNeighborsRegressor(RegressorMixin, _KNeighborsPredictor):
    __doc__ = f"""k-nearest-neighbours regression, drop-in for scikit-learn's KNeighborsRegressor.
{_SEARCH_NOTE}
    Parameters
    ----------
    n_neighbors : int, default=5
    weights : {{"uniform", "distance"}}, callable or None, default="uniform"
        The prediction is the (weighted) mean of the neighbours' targets.{_COMMON_PARAMS}
    Attributes
    ----------
    effective_metric_, effective_metric_params_, n_features_in_, feature_names_in_,
    n_samples_fit_ : as NearestNeighbors
    """

    def predict(self, X):
        """The (weighted) mean target of each query's neighbours.

        Returns
        -------
        y : ndarray of shape (n_queries,) or (n_queries, n_outputs), float64
        """
        ind, weights = self._neighbors_and_weights(X)
        y = np.asarray(self._y, dtype=np.float64)
        targets = y.reshape(y.shape[0], -1)[ind]  # (n_queries, k, n_outputs)
        if weights is None:
            prediction = targets.mean(axis=1)
        else:
            weights = np.asarray(weights, dtype=np.float64)
            prediction = (np.einsum("qk,qko->qo", weights, targets)
                          / weights.sum(axis=1)[:, None])
        return prediction.ravel() if y.ndim == 1 else prediction
