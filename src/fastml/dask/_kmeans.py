"""Distributed KMeans: k-means|| seeding and Lloyd's iterations over the partitions of a dask array.

Each partition runs fastml's compiled cores (nearest-candidate search, Lloyd's assignment) and
returns small per-cluster results (weighted sums in float64 and weights), which the client adds
in partition order. The random draws of k-means|| are made per block of global rows, never per
partition, so the seeds for a random_state do not depend on how the rows are partitioned.
"""
import warnings
from numbers import Integral, Real

import dask
import dask.array as da
import numpy as np
from scipy import sparse
from sklearn.base import (BaseEstimator, ClassNamePrefixFeaturesOutMixin, ClusterMixin,
                          TransformerMixin)
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from ..cluster import KMeans as _LocalKMeans
from ..cluster import _kmeans_fast
from ..utils._sklearn_compat import Interval, StrOptions
from .._config import config_context
from ._partitions import (as_dask_array, capped_threads, checked_local, compute_in_order,
                          is_dask_collection, is_sparse_array, n_rows, partition_weights,
                          row_blocks, row_partitioned)
from ..cluster._kmeans import default_n_local_trials
from ._kmeans_pp import seed as plusplus_seed
from ._kmeans_pp import sq_distances
from ._postfit import partitionwise

# Rows per block of the k-means|| random stream: a row's uniform depends on its global index
# only, so any partitioning of the same rows draws the same candidates.
_DRAW_BLOCK = 1 << 16


def _dense(X):
    return X.toarray() if sparse.issparse(X) else X


def _centers_model(centers):
    """A fitted single-machine fastml KMeans holding these centers (its predict, transform and
    score run on its compiled cores, dense or sparse)."""
    local = _LocalKMeans(len(centers))
    local.cluster_centers_ = centers
    local.n_features_in_ = centers.shape[1]
    local._n_features_out = len(centers)
    local.labels_ = np.empty(0, dtype=np.int32)
    local.inertia_ = np.nan
    local.n_iter_ = 0
    return local


def _nearest_labels(X, centers, n_threads):
    """Index of the nearest center of every row, on the compiled Lloyd assignment (ties to the
    lower index; 20x faster than a k=1 neighbour search: 46 ms against 1.1 s for 250k x 16
    float32 rows and 100 centers). CSR rows go through fastml's KMeans.predict (its compiled
    sparse assignment)."""
    if sparse.issparse(X):
        with config_context(n_jobs=n_threads):
            return _centers_model(np.asarray(centers, dtype=X.dtype)).predict(X)
    X = np.ascontiguousarray(X)
    centers = np.ascontiguousarray(centers, dtype=X.dtype)
    labels = np.empty(len(X), dtype=np.int32)
    _kmeans_fast.lloyd_iteration(X, np.ones(len(X), dtype=X.dtype), centers,
                                 np.empty_like(centers), labels, np.empty(len(centers)), False,
                                 n_threads)
    return labels


def _update_min_distance(X, previous, new_candidates):
    """Squared distance of each row to its nearest candidate, after `new_candidates` joined."""
    if n_rows(X) == 0:
        return np.empty(0, dtype=X.dtype)
    if len(new_candidates) == 0:  # a round that drew no row leaves the distances as they were
        return previous
    with capped_threads():
        # X's dtype: it only weighs the draws, on centered data
        dist = sq_distances(X, new_candidates, X.dtype, nearest=True)
    return dist if previous is None else np.minimum(previous, dist)


def _block_uniforms(seed, round_, start, stop):
    """Uniforms of the global rows [start, stop) for one k-means|| round: drawn per block of
    _DRAW_BLOCK global rows from a stream keyed by (seed, round, block)."""
    out = np.empty(stop - start)
    for block in range(start // _DRAW_BLOCK, (stop - 1) // _DRAW_BLOCK + 1 if stop > start else 0):
        lo = block * _DRAW_BLOCK
        draws = np.random.default_rng([seed, round_, block]).random(_DRAW_BLOCK)
        a, b = max(start, lo), min(stop, lo + _DRAW_BLOCK)
        out[a - start:b - start] = draws[a - lo:b - lo]
    return out


def _oversample(X, w, min_dist, offset, seed, round_, scale):
    """Rows drawn with probability min(1, scale * w * d^2) (k-means||), with their global
    indices."""
    n = n_rows(X)
    if n == 0:
        return np.empty((0, X.shape[1]), X.dtype), np.empty(0, np.int64)
    u = _block_uniforms(seed, round_, offset, offset + n)
    chosen = np.flatnonzero(u < scale * partition_weights(w, n, np.float64) * min_dist)
    return _dense(X[chosen]), chosen + offset


def _weighted_phi(w, min_dist):
    min_dist = min_dist.astype(np.float64)
    return float(min_dist.sum() if w is None else np.dot(w.astype(np.float64), min_dist))


def _candidate_weights(X, w, candidates):
    """Weight of the rows nearest to each candidate."""
    if n_rows(X) == 0:
        return np.zeros(len(candidates))
    with capped_threads() as n_threads:
        nearest = _nearest_labels(X, candidates, n_threads)
    return np.bincount(nearest, weights=None if w is None else w.astype(np.float64),
                       minlength=len(candidates))


def _lloyd_partials(X, w, centers):
    """One partition's share of a Lloyd iteration: the float64 weighted sums of its rows per
    nearest center and the weight per center (assignment on fastml's compiled core)."""
    k, d = centers.shape
    n = n_rows(X)
    if n == 0:
        return np.zeros((k, d)), np.zeros(k)
    X = X.tocsr() if sparse.issparse(X) else np.ascontiguousarray(X)
    w = partition_weights(w, n, X.dtype)
    with capped_threads() as n_threads:
        labels = _nearest_labels(X, centers, n_threads)
    # The sums as the product of a (k x n) CSC matrix, one weight per column in its row's
    # center, with X: each row of X added once, in row order, in float64 (scipy upcasts float32
    # X). 12 ms for 250k x 16 float32, against 64 ms for a CSR built by sorting the labels.
    assign = sparse.csc_matrix((w.astype(np.float64), labels, np.arange(n + 1)), shape=(k, n))
    return (np.asarray(_dense(assign @ X), dtype=np.float64),
            np.bincount(labels, weights=w, minlength=k))


def _column_moments(X):
    """(rows, float64 column means, float64 sums of squared deviations) of one partition."""
    n = n_rows(X)
    if n == 0:
        return 0, np.zeros(X.shape[1]), np.zeros(X.shape[1])
    if sparse.issparse(X):
        mean = np.asarray(X.mean(axis=0, dtype=np.float64)).ravel()
        squares = np.asarray(X.multiply(X).sum(axis=0, dtype=np.float64)).ravel()
        return n, mean, np.maximum(squares - n * mean ** 2, 0)
    mean = X.mean(axis=0, dtype=np.float64)
    deviations = X - mean.astype(X.dtype)
    return len(X), mean, np.einsum("ij,ij->j", deviations, deviations, dtype=np.float64)


def _merge_moments(moments):
    """Column means and variances of all the partitions, merged in their order (Chan et al.'s
    pairwise update: no cancellation however far the data lie from 0)."""
    n, mean, m2 = moments[0]
    for nb, mean_b, m2_b in moments[1:]:
        if nb == 0:
            continue
        total = n + nb
        delta = mean_b - mean
        mean = mean + delta * (nb / total)
        m2 = m2 + m2_b + delta ** 2 * (n * nb / total)
        n = total
    return mean, m2 / n


def _labels_and_inertia(local, X, w):
    """Final labels of one partition and its weighted inertia."""
    if n_rows(X) == 0:
        return np.empty(0, dtype=np.int32), 0.0
    with capped_threads():
        return local.predict(X), -_score_block(local, X, w)


def _blocks_with_offsets(X, w):
    """(row block, weight block or None, global offset of its first row) per partition."""
    X_blocks = row_blocks(X)
    w_blocks = [None] * len(X_blocks) if w is None else row_blocks(w)
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])[:-1]]).astype(np.int64)
    return list(zip(X_blocks, w_blocks, offsets.tolist()))


class KMeans(ClassNamePrefixFeaturesOutMixin, TransformerMixin, ClusterMixin, BaseEstimator):
    """K-means over a dask array: k-means|| seeding, then Lloyd's iterations, the partitions on
    fastml's compiled cores.

    Each iteration, every partition assigns its rows to the nearest center and returns its
    per-cluster weighted sums (float64) and weights; the client adds them in partition order
    and divides. The same rows in the same order give the same clusters for a random_state
    whatever the partitioning (up to the rounding of those sums). Dense data is centered first,
    as scikit-learn's KMeans does. NumPy input is taken as one dask array of ``chunks`` rows.

    Parameters
    ----------
    n_clusters : int, default=8
    init : {"k-means||", "k-means++"} or array-like of shape (n_clusters, n_features), \
default="k-means||"
        k-means||: ``init_max_iter`` rounds each drawing about ``oversampling_factor *
        n_clusters`` rows with probability proportional to weight x squared distance to the
        candidates so far, then a weighted k-means++ (fastml's KMeans) on the candidates, each
        weighted by the rows nearest to it. k-means++: scikit-learn's greedy k-means++ over the
        partitions, a pass per center (submitted without waiting between centers), drawing
        as the single-machine KMeans does: the same centers for a random_state unless a draw falls
        within rounding of a tie (see fastml/dask/_kmeans_pp.py).
    oversampling_factor : float, default=2
    init_max_iter : int, default=5
        Rounds of k-means|| (more when they drew fewer than n_clusters candidates).
    max_iter : int, default=300
    tol : float, default=1e-4
        Relative to the mean variance of the features, as scikit-learn's.
    random_state : int, RandomState instance or None, default=None
    chunks : int or "auto", default="auto"
        Rows per partition for NumPy input.

    Attributes
    ----------
    cluster_centers_ : ndarray of shape (n_clusters, n_features)
    labels_ : dask array of shape (n_samples,), int32
        A NumPy array when X was not a dask collection.
    inertia_ : float
    n_iter_ : int
    n_features_in_ : int
    """

    _parameter_constraints = {
        "n_clusters": [Interval(Integral, 1, None, closed="left")],
        "init": [StrOptions({"k-means||", "k-means++"}), "array-like"],
        "oversampling_factor": [Interval(Real, 0, None, closed="neither")],
        "init_max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "tol": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
        "chunks": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, n_clusters=8, *, init="k-means||", oversampling_factor=2,
                 init_max_iter=5, max_iter=300, tol=1e-4, random_state=None, chunks="auto"):
        self.n_clusters = n_clusters
        self.init = init
        self.oversampling_factor = oversampling_factor
        self.init_max_iter = init_max_iter
        self.max_iter = max_iter
        self.tol = tol
        self.random_state = random_state
        self.chunks = chunks

    def _check_input(self, X, sample_weight):
        X = row_partitioned(as_dask_array(checked_local(X, accept_sparse=True),
                                          chunks=self.chunks), floating=True)
        w = None
        if sample_weight is not None:
            w = as_dask_array(sample_weight).astype(X.dtype).rechunk((X.chunks[0],))
            if w.shape != (X.shape[0],):
                raise ValueError(f"sample_weight.shape == {w.shape}, expected {(X.shape[0],)}!")
            # scikit-learn's _check_sample_weight(ensure_non_negative=True) messages
            lowest, total = dask.compute(w.min(), w.sum())
            if lowest < 0:
                raise ValueError("Negative values in data passed to sample_weight")
            if total == 0:
                raise ValueError("Sample weights must contain at least one non-zero number.")
        return X, w

    def fit(self, X, y=None, sample_weight=None):
        """Compute k-means clustering of a dask array (or of a NumPy array, partitioned)."""
        self._validate_params()
        dask_input = is_dask_collection(X)
        X, w = self._check_input(X, sample_weight)
        if X.shape[0] < self.n_clusters:
            raise ValueError(f"n_samples={X.shape[0]} should be >= n_clusters={self.n_clusters}.")
        self.n_features_in_ = X.shape[1]
        random_state = check_random_state(self.random_state)
        mean, variances = _merge_moments(compute_in_order(
            [dask.delayed(_column_moments)(block) for block in row_blocks(X)]))
        tol = float(np.mean(variances) * self.tol)
        if is_sparse_array(X):  # not centered (it would densify), as scikit-learn's
            mean = np.zeros(X.shape[1], dtype=X.dtype)
            Xc = X.persist()
        else:
            mean = mean.astype(X.dtype)
            Xc = (X - mean).persist()
        w = None if w is None else w.persist()
        blocks = _blocks_with_offsets(Xc, w)

        if isinstance(self.init, str) and self.init == "k-means++":
            centers = self._kmeans_plusplus(Xc, w, blocks, random_state)
        elif isinstance(self.init, str):
            centers = self._kmeans_parallel(Xc, w, blocks, random_state)
        else:
            centers = check_array(self.init, dtype=X.dtype, copy=True, order="C")
            if centers.shape != (self.n_clusters, X.shape[1]):
                raise ValueError(f"The shape of the initial centers {centers.shape} does not "
                                 f"match the number of clusters {self.n_clusters} and features "
                                 f"{X.shape[1]} (init).")
            centers -= mean
        centers = np.ascontiguousarray(centers, dtype=X.dtype)

        for i in range(self.max_iter):
            partials = compute_in_order([dask.delayed(_lloyd_partials)(xb, wb, centers)
                                         for xb, wb, _ in blocks])
            sums = np.zeros(centers.shape)
            weights = np.zeros(len(centers))
            for s, c in partials:  # fixed order: the partitions' order
                sums += s
                weights += c
            new = centers.copy()
            filled = weights > 0  # an empty cluster keeps its center
            new[filled] = (sums[filled] / weights[filled, None]).astype(X.dtype)
            shift = float(((new.astype(np.float64) - centers) ** 2).sum())
            centers = new
            if shift <= tol:
                break
        self.n_iter_ = i + 1
        self.cluster_centers_ = centers + mean
        self._n_features_out = self.n_clusters
        local = self._local_model()
        final = dask.persist(*[dask.delayed(_labels_and_inertia)(local, xb, wb)
                               for xb, wb, _ in _blocks_with_offsets(X, w)])
        self.labels_ = da.concatenate([
            da.from_delayed(r[0], shape=(n,), dtype=np.int32)
            for r, n in zip(final, X.chunks[0])]).persist()
        if not dask_input:  # NumPy in, NumPy out (as the single-machine estimator)
            self.labels_ = self.labels_.compute()
        self.inertia_ = float(sum(compute_in_order([r[1] for r in final])))
        distinct = int(np.count_nonzero(weights)) if self.n_iter_ else self.n_clusters
        if distinct < self.n_clusters:
            warnings.warn(f"Number of distinct clusters ({distinct}) found smaller than "
                          f"n_clusters ({self.n_clusters}). Possibly due to duplicate points in X.",
                          ConvergenceWarning, stacklevel=2)
        return self

    def _first_center(self, Xc, w, blocks, random_state):
        """One row drawn with probability proportional to its weight (uniform without weights),
        located by its global index."""
        n = Xc.shape[0]
        if w is None:
            index = int(random_state.randint(n))
        else:
            # gathered, then added here: dask's cumsum drops the rows after an empty partition
            cumulative = np.cumsum(w.compute().astype(np.float64))
            index = int(np.searchsorted(cumulative, random_state.uniform() * cumulative[-1],
                                        side="right"))
            index = min(index, n - 1)
        return _dense(Xc[index:index + 1].compute())

    def _kmeans_plusplus(self, Xc, w, blocks, random_state):
        """Greedy k-means++ as the single-machine KMeans draws it (see _kmeans_pp). The first
        center by the same choice(p=w / w.sum()) call: the client holds the n weights once."""
        n = Xc.shape[0]
        weights = np.ones(n, dtype=Xc.dtype) if w is None else w.compute()
        first = int(random_state.choice(n, p=weights / weights.sum()))
        del weights
        uniforms = random_state.uniform(size=(self.n_clusters - 1,
                                              default_n_local_trials(self.n_clusters)))
        first_row = _dense(Xc[first:first + 1].compute())
        _, rows = plusplus_seed(blocks, Xc.chunks[0], first, first_row, uniforms)
        return rows

    def _kmeans_parallel(self, Xc, w, blocks, random_state):
        seed = int(random_state.randint(np.iinfo(np.int32).max))
        candidates = self._first_center(Xc, w, blocks, random_state)
        new = candidates
        min_dist = [None] * len(blocks)
        round_ = 0
        while round_ < self.init_max_iter or len(candidates) < self.n_clusters:
            min_dist = [dask.delayed(_update_min_distance)(xb, md, new)
                        for (xb, _, _), md in zip(blocks, min_dist)]
            min_dist = list(dask.persist(*min_dist))
            phi = sum(compute_in_order([dask.delayed(_weighted_phi)(wb, md)
                                        for (_, wb, _), md in zip(blocks, min_dist)]))
            if phi == 0.0:  # every row is a candidate already
                break
            scale = self.oversampling_factor * self.n_clusters / phi
            drawn = compute_in_order([dask.delayed(_oversample)(xb, wb, md, off, seed, round_,
                                                                scale)
                                      for (xb, wb, off), md in zip(blocks, min_dist)])
            new = np.concatenate([rows for rows, _ in drawn])
            candidates = np.concatenate([candidates, new])
            round_ += 1
            if round_ > 10 * self.init_max_iter:
                break
        weights = sum(compute_in_order([dask.delayed(_candidate_weights)(xb, wb, candidates)
                                        for xb, wb, _ in blocks]))
        keep = weights > 0
        candidates, weights = candidates[keep], weights[keep]
        if len(candidates) < self.n_clusters:
            raise ValueError(f"k-means|| found {len(candidates)} distinct candidates, fewer than "
                             f"n_clusters={self.n_clusters}: the data has too few distinct rows")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            seeding = _LocalKMeans(self.n_clusters, init="k-means++", n_init=1,
                                   random_state=random_state).fit(
                candidates, sample_weight=weights.astype(candidates.dtype))
        return seeding.cluster_centers_

    def _local_model(self):
        """A fitted single-machine fastml KMeans holding the centers: predict, transform and
        score of a partition run on its compiled core."""
        check_is_fitted(self)
        local = _centers_model(self.cluster_centers_)
        local.inertia_ = getattr(self, "inertia_", np.nan)
        local.n_iter_ = getattr(self, "n_iter_", 0)
        return local

    def __getstate__(self):
        """labels_ gathered into the pickle (a persisted dask array lives only as long as its
        cluster)."""
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        if is_dask_collection(state.get("labels_")):
            state["labels_"] = state["labels_"].compute()
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags

    @staticmethod
    def _block_score(local, X, w):
        blocks = _blocks_with_offsets(X, w)
        return float(sum(compute_in_order(
            [dask.delayed(_score_block)(local, xb, wb) for xb, wb, _ in blocks])))

    def _apply(self, method, X):
        local = self._local_model()
        if not is_dask_collection(X):
            return getattr(local, method)(X)
        return partitionwise(local, method, X, self.n_features_in_)

    def predict(self, X):
        """Index of the nearest center of each row (a dask array for dask input)."""
        return self._apply("predict", X)

    def transform(self, X):
        """Distances of each row to every center (a dask array for dask input)."""
        return self._apply("transform", X)

    def fit_predict(self, X, y=None, sample_weight=None):
        return self.fit(X, sample_weight=sample_weight).labels_

    def score(self, X, y=None, sample_weight=None):
        """Opposite of the weighted sum of squared distances to the nearest centers."""
        local = self._local_model()
        if not is_dask_collection(X):
            return local.score(X, sample_weight=sample_weight)
        X, w = self._check_input(X, sample_weight)
        return self._block_score(local, X, w)


def _score_block(local, X, w):
    # a partition of zero weights adds nothing (scikit-learn's score rejects all-zero weights,
    # which only the whole sample_weight must not be)
    if n_rows(X) == 0 or (w is not None and not np.any(w)):
        return 0.0
    with capped_threads():
        return local.score(X, sample_weight=w)
