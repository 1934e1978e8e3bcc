"""ParallelPostFit: a fitted estimator's predictions over dask collections, partition by partition.
"""
import dask
import dask.array as da
import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone, is_classifier, is_regressor
from sklearn.metrics import accuracy_score, get_scorer, r2_score
from sklearn.utils.validation import check_is_fitted

from ._partitions import (block_lengths, capped_threads, is_dask_collection, is_dataframe,
                          is_sparse_array, n_rows, row_blocks, shipped, with_threads)

_METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")


def _sample_rows(X, n_features_in):
    """One row shaped like X's partitions (zeros, or the dataframe's fake row), to learn the
    shape and dtype of a method's output without computing any partition."""
    if is_dataframe(X):
        return X._meta_nonempty.iloc[:1]
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    shape = (1, n_features_in if n_features_in is not None else X.shape[1])
    if is_sparse_array(X):  # scipy.sparse partitions: the estimator's sparse path
        return sparse.csr_matrix(shape, dtype=dtype)
    return np.zeros(shape, dtype=dtype)


def _call_block(block, estimator, method, empty, kwargs):
    """`method` of the estimator on one partition, with the task's share of threads. An empty
    partition gives an empty result of the output's shape and dtype (`empty`), as estimators
    refuse zero rows."""
    if n_rows(block) == 0:
        return tuple(np.empty((0,) + e.shape[1:], e.dtype) for e in empty) \
            if isinstance(empty, tuple) else np.empty((0,) + empty.shape[1:], empty.dtype)
    with capped_threads() as n_threads:
        return getattr(with_threads(estimator, n_threads), method)(block, **kwargs)


def _one(outputs, index):
    return outputs[index] if index is not None else outputs


def block_calls(estimator, method, X, empty, **kwargs):
    """One Delayed per partition of X: `estimator.method(partition, **kwargs)`, the model shipped
    once (see shipped)."""
    model = shipped(estimator)
    return [dask.delayed(_call_block, pure=True)(block, model, method, empty, kwargs)
            for block in row_blocks(X)]


def partitionwise(estimator, method, X, n_features_in=None, **kwargs):
    """The dask array(s) of `estimator.method(X, **kwargs)` over X's partitions, each partition's
    rows giving the same rows of the output. A method returning a tuple (kneighbors) gives a
    tuple of arrays."""
    sample = getattr(estimator, method)(_sample_rows(X, n_features_in), **kwargs)
    several = isinstance(sample, tuple)
    # Zero-row arrays with the output's trailing shape and dtype, for empty partitions.
    empty = tuple(np.asarray(o)[:0] for o in (sample if several else (sample,)))
    if not several and not is_dataframe(X):
        # dask's own blockwise map: chunks kept (empty partitions too) and the graph stays a
        # dask array's, which dask may optimise as it likes
        X = X.rechunk({1: X.shape[1]}) if X.ndim == 2 and X.numblocks[1] != 1 else X
        e = empty[0]
        axes = {"drop_axis": 1} if e.ndim == 1 else {"chunks": (X.chunks[0],) + e.shape[1:]}
        return X.map_blocks(_call_block, shipped(estimator), method, e, kwargs,
                            dtype=e.dtype, meta=e, **axes)
    if not is_dataframe(X):
        # The blocks of a lazily made array go into other graphs as they are persisted: an
        # unpersisted one may be optimised into other keys than the Delayed refer to.
        X = X.persist()
    results = block_calls(estimator, method, X, empty if several else empty[0], **kwargs)
    lengths = block_lengths(X) or [np.nan] * len(results)
    arrays = []
    for index, e in enumerate(empty):
        parts = [da.from_delayed(dask.delayed(_one)(r, index if several else None),
                                 shape=(n,) + e.shape[1:], dtype=e.dtype, meta=e)
                 for r, n in zip(results, lengths)]
        arrays.append(da.concatenate(parts, axis=0) if len(parts) > 1 else parts[0])
    return tuple(arrays) if several else arrays[0]


class ParallelPostFit(MetaEstimatorMixin, BaseEstimator):
    """Predict, transform and score with a fitted estimator over dask arrays and dataframes,
    partition by partition.

    Any fastml (or scikit-learn) estimator fits as usual; its prediction methods then run on
    every partition of a dask collection as a Dask task, the fitted model shipped once to each
    worker and each task's compiled threads capped to its share of the worker's cores (no
    oversubscription when a worker runs several tasks). Results are dask arrays with one block
    per partition, of the dtype the estimator returns; empty partitions give empty blocks.
    NumPy input goes straight to the estimator.

    Parameters
    ----------
    estimator : estimator
        Fitted by ``fit``; or already fitted, to use the prediction methods without ``fit``.
    scoring : str or callable, default=None
        Scorer of ``score``; None: accuracy for classifiers, R^2 for regressors, else the sum of
        the estimator's own score over the partitions (additive scores, as KMeans').

    Attributes
    ----------
    estimator_ : estimator
        The fitted estimator (after ``fit``).
    """

    def __init__(self, estimator=None, scoring=None):
        self.estimator = estimator
        self.scoring = scoring

    def fit(self, X, y=None, **fit_params):
        """Fit a clone of the estimator on X (a dask collection is computed into memory)."""
        X, y = (v.compute() if is_dask_collection(v) else v for v in (X, y))
        self.estimator_ = clone(self.estimator).fit(X, y, **fit_params)
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    def _fitted(self):
        if hasattr(self, "estimator_"):
            return self.estimator_
        check_is_fitted(self.estimator)
        return self.estimator

    def _apply(self, method, X, **kwargs):
        estimator = self._fitted()
        if not is_dask_collection(X):
            return getattr(estimator, method)(X, **kwargs)
        return partitionwise(estimator, method, X, getattr(estimator, "n_features_in_", None),
                             **kwargs)

    def predict(self, X):
        return self._apply("predict", X)

    def predict_proba(self, X):
        return self._apply("predict_proba", X)

    def predict_log_proba(self, X):
        return self._apply("predict_log_proba", X)

    def decision_function(self, X):
        return self._apply("decision_function", X)

    def transform(self, X):
        return self._apply("transform", X)

    def kneighbors(self, X, n_neighbors=None, return_distance=True):
        """The estimator's kneighbors of every query row (the training set stays in the model:
        see fastml.dask.NearestNeighbors for a partitioned one)."""
        return self._apply("kneighbors", X, n_neighbors=n_neighbors,
                           return_distance=return_distance)

    def score(self, X, y=None):
        """The score over all rows of X (see ``scoring``)."""
        estimator = self._fitted()
        if not is_dask_collection(X):
            return (get_scorer(self.scoring)(estimator, X, y) if self.scoring is not None
                    else estimator.score(X, y))
        if self.scoring is not None:
            # The scorer calls this wrapper's methods; the metric computes their dask results.
            return get_scorer(self.scoring)(self, X, y)
        if is_classifier(estimator) or is_regressor(estimator):
            y_pred, y_true = dask.compute(self.predict(X), y)
            metric = accuracy_score if is_classifier(estimator) else r2_score
            return float(metric(np.asarray(y_true), y_pred))
        if y is not None:
            raise ValueError("score over partitions with y needs a classifier, a regressor or "
                             "a scoring")
        # An empty partition adds 0 (its "result" is the empty array, summed to 0).
        scores = block_calls(estimator, "score", X, np.empty(0))
        return float(sum(np.sum(s) for s in dask.compute(*scores)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        if self.estimator is not None:
            inner = self.estimator.__sklearn_tags__()
            tags.estimator_type = inner.estimator_type
        return tags

