"""Nearest neighbours with the training set partitioned over the workers.

Each training partition is fitted as a fastml NearestNeighbors where it lives; a query block
asks every one of them for its k nearest (fastml's compiled search), and one merge per query
block keeps the k best of those candidates, equal distances going to the lower global index as
on one machine. Classification and regression vote with fastml's own code on the merged lists.
"""
import copy

import dask
import dask.array as da
import numpy as np
from sklearn.utils.validation import check_array, check_is_fitted, column_or_1d

from .. import neighbors as _local
from ..neighbors._base import _drop_self, _neighbor_weights
from ._partitions import (as_dask_array, capped_threads, checked_local, is_dask_collection, n_rows,
                          row_blocks, row_partitioned, shipped)


def _fit_part(block, params):
    with capped_threads():
        return _local.NearestNeighbors(**params).fit(block)


def _part_top_k(model, queries, k, offset, self_offset):
    """The k nearest rows of one training partition (global indices) for each query row; a
    query block that is this same partition (self_offset not None) asks for one more."""
    k = min(k, model.n_samples_fit_)
    if n_rows(queries) == 0:
        return np.empty((0, k)), np.empty((0, k), dtype=np.int64)
    with capped_threads() as n_threads:
        model = copy.copy(model)
        model.n_jobs = n_threads
        dist, ind = model.kneighbors(queries, n_neighbors=k)
    return dist, ind + offset


def _merge(k, query_offset, drop_self, *candidates):
    """The k best of every partition's candidates per query: a stable sort by distance of the
    candidates laid out in partition order (each sorted by (distance, index)), so equal distances
    keep the lower global index first. drop_self: the queries are training rows from
    query_offset on, each left out of its own list (fastml's rule)."""
    dist = np.concatenate([c[0] for c in candidates], axis=1)
    ind = np.concatenate([c[1] for c in candidates], axis=1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :k]
    dist = np.take_along_axis(dist, order, axis=1)
    ind = np.take_along_axis(ind, order, axis=1)
    if drop_self:
        dist, ind = _drop_self(dist, ind - query_offset)
        ind = ind + query_offset
    return dist, ind


def _part_radius(model, queries, radius, return_distance, sort_results, offset):
    """One training partition's neighbours within radius of each query row: (indptr, global
    indices, distances or None)."""
    if n_rows(queries) == 0:
        return (np.zeros(1, dtype=np.int64), np.empty(0, dtype=np.int64),
                np.empty(0) if return_distance else None)
    with capped_threads() as n_threads:
        model = copy.copy(model)
        model.n_jobs = n_threads
        indptr, indices, dist = model._radius_csr(queries, radius, return_distance,
                                                  sort_results)
    return np.asarray(indptr, dtype=np.int64), np.asarray(indices, dtype=np.int64) + offset, dist


def _merge_radius(n_queries, query_offset, self_query, sort_results, *parts):
    """Every partition's lists joined per query, partitions in order (so each list stays in
    global index order), stably sorted by distance with sort_results (equal distances: lower
    global index first, as on one machine); with self_query each query row, training row
    query_offset + i, left out of its own list."""
    rows = np.concatenate([np.repeat(np.arange(n_queries), np.diff(p[0])) for p in parts])
    ind = np.concatenate([p[1] for p in parts])
    dist = None if parts[0][2] is None else np.concatenate([p[2] for p in parts])
    order = (np.lexsort((dist, rows)) if sort_results else np.argsort(rows, kind="stable"))
    rows, ind = rows[order], ind[order]
    dist = None if dist is None else dist[order]
    if self_query:
        keep = ind != rows + query_offset
        rows, ind = rows[keep], ind[keep]
        dist = None if dist is None else dist[keep]
    indptr = np.zeros(n_queries + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=n_queries), out=indptr[1:])
    return indptr, ind, dist


class _PartitionedSearchMixin:
    """fit on a partitioned training set, kneighbors over it (see the module's docstring)."""

    def _fit_partitioned(self, X):
        self._validate_params()
        X = row_partitioned(as_dask_array(checked_local(X, accept_sparse=True)))
        X = X.persist()
        self._dtype = X.dtype
        if X.shape[0] == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        params = {name: getattr(self, name) for name in
                  ("algorithm", "leaf_size", "metric", "p", "metric_params")}
        offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
        parts = [(dask.delayed(_fit_part)(block, params), int(offsets[i]), int(n))
                 for i, (block, n) in enumerate(zip(row_blocks(X), X.chunks[0])) if n > 0]
        models = dask.persist(*[model for model, _, _ in parts])
        self._parts = [(model, offset, n) for model, (_, offset, n) in zip(models, parts)]
        self._query_blocks = row_blocks(X)
        self._query_offsets = offsets[:-1].tolist()
        self.n_samples_fit_ = int(X.shape[0])
        self.n_features_in_ = int(X.shape[1])
        self._check_algorithm_metric()
        self._set_effective_metric()
        self._fit_method = "brute"
        return self

    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The k nearest training rows of each query row (global indices, nearest first).

        X: a dask array or dataframe (the result is a pair of dask arrays, one block per query
        partition), array-like (NumPy results), or None for the training rows themselves, each
        without itself (dask arrays)."""
        check_is_fitted(self, "_parts")
        k = self.n_neighbors if n_neighbors is None else n_neighbors
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"n_neighbors does not take {type(k)} value, enter integer value")
        if k <= 0:
            raise ValueError(f"Expected n_neighbors > 0. Got {k}")
        self_query = X is None
        if self_query:
            blocks, offsets = self._query_blocks, self._query_offsets
            lengths = self._query_lengths()
        else:
            local = not is_dask_collection(X)
            Xd = as_dask_array(check_array(X, accept_sparse="csr") if local else X)
            if Xd.ndim != 2 or Xd.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {Xd.shape[-1]} features, but {type(self).__name__} "
                                 f"is expecting {self.n_features_in_} features as input")
            if Xd.numblocks[1] != 1:
                Xd = Xd.rechunk({1: Xd.shape[1]})
            blocks, offsets, lengths = row_blocks(Xd), [0] * Xd.numblocks[0], Xd.chunks[0]
        k_search = k + 1 if self_query else k
        if k_search > self.n_samples_fit_:
            raise ValueError(f"Expected n_neighbors <= n_samples_fit, but n_neighbors = "
                             f"{k_search}, n_samples_fit = {self.n_samples_fit_}")
        merged = []
        for block, offset in zip(blocks, offsets):
            candidates = [dask.delayed(_part_top_k)(model, block, k_search, part_offset, None)
                          for model, part_offset, _ in self._parts]
            merged.append(dask.delayed(_merge)(k_search, offset, self_query, *candidates))
        dtype = np.float32 if self._fit_dtype() == np.float32 else np.float64
        dist = da.concatenate([da.from_delayed(m[0], shape=(n, k), dtype=dtype)
                               for m, n in zip(merged, lengths)])
        ind = da.concatenate([da.from_delayed(m[1], shape=(n, k), dtype=np.int64)
                              for m, n in zip(merged, lengths)])
        if not self_query and local:
            dist, ind = dask.compute(dist, ind)
        return (dist, ind) if return_distance else ind

    def _radius_csr(self, X, radius, return_distance, sort_results):
        """(indptr, global indices, distances or None) of the radius search over every training
        partition, merged per query block (see _merge_radius); X None: the training rows,
        each without itself. The results are gathered (ragged lists: NumPy's object arrays)."""
        check_is_fitted(self, "_parts")
        radius = self.radius if radius is None else radius
        self_query = X is None
        if self_query:
            blocks, offsets, lengths = (self._query_blocks, self._query_offsets,
                                        self._query_lengths())
        else:
            Xd = as_dask_array(X if is_dask_collection(X) else check_array(X, accept_sparse="csr"))
            if Xd.ndim != 2 or Xd.shape[1] != self.n_features_in_:
                raise ValueError(f"X has {Xd.shape[-1]} features, but {type(self).__name__} "
                                 f"is expecting {self.n_features_in_} features as input")
            if Xd.numblocks[1] != 1:
                Xd = Xd.rechunk({1: Xd.shape[1]})
            if any(np.isnan(c) for c in Xd.chunks[0]):
                Xd = Xd.compute_chunk_sizes()
            blocks, offsets, lengths = row_blocks(Xd), [0] * Xd.numblocks[0], Xd.chunks[0]
        merged = []
        for block, offset, n in zip(blocks, offsets, lengths):
            parts = [dask.delayed(_part_radius)(model, block, radius, return_distance,
                                                sort_results, part_offset)
                     for model, part_offset, _ in self._parts]
            merged.append(dask.delayed(_merge_radius)(int(n), offset, self_query, sort_results,
                                                      *parts))
        merged = dask.compute(*merged)
        indptr = np.zeros(1, dtype=np.int64)
        for m in merged:
            indptr = np.concatenate([indptr, m[0][1:] + indptr[-1]])
        indices = np.concatenate([m[1] for m in merged])
        dist = np.concatenate([m[2] for m in merged]) if return_distance else None
        return indptr, indices, dist

    def _query_lengths(self):
        ends = self._query_offsets[1:] + [self.n_samples_fit_]
        return [b - a for a, b in zip(self._query_offsets, ends)]

    def _fit_dtype(self):
        return getattr(self, "_dtype", np.float64)

    def __getstate__(self):
        """The training partitions' models gathered into the pickle (futures live only as long
        as their cluster); an unpickled estimator searches them in-process or ships them again."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        if "_parts" in state:
            models = dask.compute(*[m for m, _, _ in state["_parts"]])
            state["_parts"] = [(m, o, n) for m, (_, o, n) in zip(models, state["_parts"])]
            state["_query_blocks"] = [m._fit_X for m, _, _ in state["_parts"]]
            state["_query_offsets"] = [o for _, o, _ in state["_parts"]]
        return state


class NearestNeighbors(_PartitionedSearchMixin, _local.NearestNeighbors):
    """fastml.neighbors.NearestNeighbors with the training set left partitioned on the Dask
    workers: k-nearest and radius queries (dask or NumPy queries) run on every training
    partition with fastml's compiled search and are merged once per query block. kneighbors
    of dask queries gives dask arrays; radius_neighbors and radius_neighbors_graph give their
    results gathered (NumPy object arrays, a SciPy CSR matrix)."""

    def fit(self, X, y=None):
        return self._fit_partitioned(X)


class _SupervisedMixin(_PartitionedSearchMixin):
    """fit(X, y) with y gathered (targets are small), and prediction methods that take dask
    queries block by block: the votes run on fastml's code over the merged neighbour lists."""

    def fit(self, X, y):
        if y is None:
            raise ValueError(f"This {type(self).__name__} estimator requires y to be passed, "
                             f"but the target y is None.")
        y = y.compute() if is_dask_collection(y) else y
        y = np.asarray(y)
        if y.dtype.kind in "fc":  # scikit-learn's check of y: finite values
            check_array(y, ensure_2d=False, dtype=None, input_name="y")
        if y.ndim == 2 and y.shape[1] == 1 and not self._is_regressor():
            pass  # the targets' own warning (a column vector) is given by _store_targets
        elif y.ndim == 1:
            y = column_or_1d(y)
        self._fit_partitioned(X)
        if len(y) != self.n_samples_fit_:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{self.n_samples_fit_}, {len(y)}]")
        self._store_targets(y)
        return self

    def _is_regressor(self):
        return isinstance(self, _local.KNeighborsRegressor)

    def _neighbors_and_weights(self, X):
        dist, ind = X if isinstance(X, tuple) else self.kneighbors(X)
        return ind, _neighbor_weights(dist, self.weights)

    def _voter(self):
        """A copy without the training partitions: it votes on (dist, ind) pairs in a task."""
        voter = copy.copy(self)
        for name in ("_parts", "_query_blocks"):
            voter.__dict__.pop(name, None)
        return voter

    def _blockwise(self, method, X):
        if not is_dask_collection(X):
            return getattr(super(), method)(X)
        dist, ind = self.kneighbors(X)
        voter = shipped(self._voter())  # it holds the training targets
        # one query whose neighbours are all training row 0: the output's shape and dtype
        sample = getattr(self._voter(), method)((np.ones((1, ind.shape[1])),
                                                 np.zeros((1, ind.shape[1]), dtype=np.int64)))
        parts = [da.from_delayed(dask.delayed(_vote)(voter, method, d, i),
                                 shape=(n,) + np.shape(sample)[1:], dtype=np.asarray(sample).dtype)
                 for d, i, n in zip(row_blocks(dist), row_blocks(ind),
                                    ind.chunks[0])]
        return da.concatenate(parts)

    def predict(self, X):
        return self._blockwise("predict", X)


def _vote(voter, method, dist, ind):
    return getattr(voter, method)((dist, ind))


class KNeighborsClassifier(_SupervisedMixin, _local.KNeighborsClassifier):
    """fastml.neighbors.KNeighborsClassifier with the training set left partitioned on the Dask
    workers (see NearestNeighbors); predict and predict_proba of a dask array are dask arrays."""

    def predict_proba(self, X):
        return self._blockwise("predict_proba", X)


class KNeighborsRegressor(_SupervisedMixin, _local.KNeighborsRegressor):
    """fastml.neighbors.KNeighborsRegressor with the training set left partitioned on the Dask
    workers (see NearestNeighbors)."""
