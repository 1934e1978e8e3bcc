"""Neighbour searches over the distance core that never hold an n_queries x n_train matrix.

``argkmin`` runs the compiled top-k search (distance tiles reduced into per-query heaps inside the
kernels) for every metric of :func:`fastml.metrics.pairwise_distances` on dense input. Sparse
input, callables and other metrics fall back to chunks of the distance matrix, each reduced by the
compiled selection. ``radius_neighbors`` runs the compiled radius search
(fastml.metrics._radius_fast) for the metrics whose box bounds it knows, else filters chunks of
the distance matrix.
"""
import numpy as np
from sklearn.metrics import DistanceMetric
from sklearn.metrics import pairwise as sklearn_pairwise
from sklearn.utils import gen_batches

from .._backend import effective_n_threads
from .._config import get_config
from ..utils._sklearn_compat import get_chunk_n_rows
from . import _pairwise_fast, _radius_fast
from .pairwise import (_ALIASES, _PairwiseJob, _beyond_float32_range, _delegated,
                       _resolve_metric, _row_aux, pairwise_distances_chunked)


def _no_aux(metric, float64):
    """Neither search path uses _PairwiseJob's per-row values: the screened search computes its
    own from its float32 copies, and the other metrics need none."""
    return None


def _check_k(k, n_samples):
    if not 1 <= k <= n_samples:
        raise ValueError(f"k must be between 1 and the number of samples ({n_samples}), got {k}")


def _compiled_search(X, Y, metric, kwds=None):
    return (isinstance(metric, str) and not _delegated(X, Y, metric, kwds)
            and metric in _ALIASES)


def _distance_chunks(X, Y, reduce_func, metric, n_jobs, working_memory, kwds):
    """Reduced chunks of the distance matrix: fastml's core where it has the metric, else
    scikit-learn's (other metrics, sparse input, callables, "precomputed"), or the pairwise
    method of a DistanceMetric object."""
    if isinstance(metric, DistanceMetric):
        return _distance_metric_chunks(X, Y, reduce_func, metric, working_memory)
    chunked = (pairwise_distances_chunked if _compiled_search(X, Y, metric, kwds)
               else sklearn_pairwise.pairwise_distances_chunked)
    return chunked(X, Y, reduce_func=reduce_func, metric=metric, n_jobs=n_jobs,
                   working_memory=working_memory, **kwds)


def _distance_metric_chunks(X, Y, reduce_func, metric, working_memory):
    rows = get_chunk_n_rows(row_bytes=8 * Y.shape[0], max_n_rows=X.shape[0],
                            working_memory=working_memory)
    for start in range(0, X.shape[0], rows):
        yield reduce_func(metric.pairwise(X[start:start + rows], Y), start)


def argkmin(X, Y, k, *, metric="euclidean", n_jobs=None, working_memory=None, **kwds):
    """Distances and indices of the k nearest rows of Y for every row of X.

    Rows are sorted by (distance, index): ties go to the lower index of Y. euclidean, sqeuclidean
    and cosine search on dot products and recompute the k winners' distances exactly in float64,
    so float32 input gives float32 distances with float64 accuracy.

    Parameters
    ----------
    X : array-like or sparse matrix of shape (n_queries, n_features)
    Y : array-like or sparse matrix of shape (n_samples, n_features)
    k : int
        Neighbours per query, 1 <= k <= n_samples.
    metric : str, callable or DistanceMetric
        Any metric of :func:`fastml.metrics.pairwise_distances` runs on the compiled search; others
        (and sparse input) are computed by scikit-learn (or the DistanceMetric) a chunk at a time.
    n_jobs : int, default=None
    working_memory : int, default=None
        MiB of scratch memory per chunk of queries (default: ``fastml.get_config()``).
    **kwds
        Metric parameters (``p`` for "minkowski").

    Returns
    -------
    distances : ndarray of shape (n_queries, k), float32 for float32 input, else float64
    indices : ndarray of shape (n_queries, k), int64
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    if not _compiled_search(X, Y, metric, kwds):
        return _argkmin_from_distances(X, Y, k, metric, n_jobs, working_memory, kwds)
    job = _PairwiseJob(X, Y, metric, kwds, n_jobs, aux_kind=_no_aux)
    n_samples = job.Y.shape[0]
    _check_k(k, n_samples)
    if job.metric in _DOT_FORM_METRICS:
        return _screened_argkmin(job, k, working_memory)
    distances = np.empty((job.n_rows, k), dtype=np.float64 if job.bitwise else job.X.dtype)
    indices = np.empty((job.n_rows, k), dtype=np.int64)
    for block in gen_batches(job.n_rows, _query_chunk(job, k, 0, working_memory)):
        if job.bitwise:
            _pairwise_fast.argkmin_bool(job.X[block], job.Y, job.metric, job.n_features, k,
                                        distances[block], indices[block], job.n_threads)
        else:
            _pairwise_fast.argkmin(job.X[block], job.Y, job.metric, job.x_aux, job.y_aux, job.p,
                                   k, distances[block], indices[block], job.n_threads)
    return distances.astype(job.out_dtype, copy=False), indices


def _query_chunk(job, k, extra_bytes, working_memory):
    """Queries per chunk: each holds a heap of k candidates per training segment (at most two
    per thread) and `extra_bytes` of other scratch."""
    row_bytes = 16 * k * 2 * job.n_threads + extra_bytes
    return get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=job.n_rows,
                            working_memory=working_memory)


# Metrics whose search ranks by dot products, screened in float32 and recomputed exactly.
_DOT_FORM_METRICS = ("euclidean", "sqeuclidean", "cosine")
# Screening keys are within _KEY_ERROR_ULPS float32 ulps of the scale below (the squared norms
# for euclidean, 1 for cosine): up to 64 per chunked float32 dot product, 4 for rounding the
# inputs to float32, 2 for rounding the key; doubled for margin.
_FLOAT32_ULP = float(np.finfo(np.float32).eps) / 2


def _key_error_ulps(n_features):
    return 2 * (min(n_features, 64) + 8)


def _screened_argkmin(job, k, working_memory):
    """argkmin for euclidean, sqeuclidean and cosine, at float32 speed with float64 answers.

    1. Screen: the compiled search ranks float32 copies (shifted to the training mean for
       euclidean, which leaves distances unchanged and keeps the norms, hence the rounding
       error, small) and keeps k + extra candidates per query.
    2. Recompute the candidates' distances exactly in float64 from the original rows and keep
       the k best by (distance, index).
    3. Verify: a row left out had a screening key at least the last candidate's, so its
       distance is at least that key minus the error bound. Queries where that does not exceed
       the k-th distance (near-ties, many equal distances) are recomputed exhaustively.
    """
    n_samples, n_features = job.Y.shape
    # float32 screening keys would overflow (float32 input this large already runs in float64)
    if job.X.dtype == np.float64 and _beyond_float32_range(job.X, job.Y):
        keys, indices = _exhaustive(job.X, job, k, working_memory)
        distances = np.sqrt(keys) if job.metric == "euclidean" else keys
        return distances.astype(job.out_dtype, copy=False), indices
    n_cand = min(n_samples, k + max(8, k // 2))
    euclidean = job.metric != "cosine"
    shift = job.Y.mean(axis=0, dtype=np.float64) if euclidean else None
    Y_screen = _screen_copy(job.Y, shift)
    y_aux = _row_aux(Y_screen, _pairwise_fast.knn_aux_kind(job.metric))
    key_scale = y_aux.max() if euclidean else 1.0
    error_ulps = _key_error_ulps(n_features)
    distances = np.empty((job.n_rows, k), dtype=job.out_dtype)
    indices = np.empty((job.n_rows, k), dtype=np.int64)
    # per query: its float32 copy, then keys, candidates, exact keys and the sort's scratch
    chunk = _query_chunk(job, n_cand, 8 * n_features + 48 * n_cand, working_memory)
    for block in gen_batches(job.n_rows, chunk):
        X = job.X[block]
        X_screen = _screen_copy(X, shift)
        x_aux = _row_aux(X_screen, _pairwise_fast.knn_aux_kind(job.metric))
        keys = np.empty((X.shape[0], n_cand), dtype=np.float32)
        cand = np.empty((X.shape[0], n_cand), dtype=np.int64)
        _pairwise_fast.argkmin(X_screen, Y_screen, job.metric, x_aux, y_aux, 2.0, n_cand, keys,
                               cand, job.n_threads)
        exact = np.empty(cand.shape)
        _pairwise_fast.candidate_distances(X, job.Y, cand, "sqeuclidean" if euclidean else "cosine",
                                           exact, job.n_threads)
        order = np.lexsort((cand, exact), axis=-1)[:, :k]
        best = np.take_along_axis(exact, order, axis=1)
        best_ind = np.take_along_axis(cand, order, axis=1)
        bound = error_ulps * _FLOAT32_ULP * ((x_aux + key_scale) if euclidean else 1.0)
        unsure = (keys[:, -1] - bound <= best[:, -1]) & (n_cand < n_samples)
        if unsure.any():
            best[unsure], best_ind[unsure] = _exhaustive(X[unsure], job, k, working_memory)
        if job.metric == "euclidean":
            best = np.sqrt(best)
        distances[block], indices[block] = best, best_ind
    return distances, indices


def _screen_copy(A, shift):
    """The float32, C-contiguous rows the screening search ranks."""
    if shift is None:
        return np.ascontiguousarray(A, dtype=np.float32)
    return np.ascontiguousarray(A - shift, dtype=np.float32)


def _exhaustive(X, job, k, working_memory):
    """Exact keys (squared distances for euclidean) and indices of the k nearest, from the full
    distance rows: for the rare queries the screening cannot settle."""
    metric = "sqeuclidean" if job.metric == "euclidean" else job.metric
    return _argkmin_from_distances(X.astype(np.float64, copy=False),
                                   job.Y.astype(np.float64, copy=False), k, metric,
                                   job.n_threads, working_memory, {})


def _argkmin_from_distances(X, Y, k, metric, n_jobs, working_memory, kwds):
    """argkmin for what only scikit-learn computes: chunks of distances, compiled selection."""
    n_threads = effective_n_threads(n_jobs)
    n_samples = Y.shape[0]
    _check_k(k, n_samples)

    def select(D_chunk, start):
        D_chunk = np.ascontiguousarray(D_chunk, dtype=np.float64)
        distances = np.empty((D_chunk.shape[0], k), dtype=np.float64)
        indices = np.empty((D_chunk.shape[0], k), dtype=np.int64)
        _pairwise_fast.argkmin_rows(D_chunk, k, distances, indices, n_threads)
        return distances, indices

    chunks = list(_distance_chunks(X, Y, select, metric, n_jobs, working_memory, kwds))
    distances = np.vstack([d for d, _ in chunks])
    indices = np.vstack([i for _, i in chunks])
    float32 = getattr(X, "dtype", None) == np.float32 and getattr(Y, "dtype", None) == np.float32
    return distances.astype(np.float32 if float32 else np.float64, copy=False), indices


def _radius_job(X, Y, metric, kwds, n_jobs):
    """The converted operands of a compiled radius search, or None when the metric or the input
    is not one it takes (then chunks of distances are filtered)."""
    if not _compiled_search(X, Y, metric, kwds):
        return None
    name = _ALIASES[metric]
    if name == "minkowski":
        name = _resolve_metric(metric, kwds)[0]
    if name not in _radius_fast.METRICS:
        return None
    if name == "hamming":
        # boolean rows as 0.0 / 1.0: the same fractions, searched in the kd partition (float64,
        # the dtype of scikit-learn's distances for them), instead of bit-packed pairs
        X, Y = (_bool_as_float64(A) for A in (X, Y))
    return _PairwiseJob(X, Y, metric, kwds, n_jobs, aux_kind=_no_aux)


def _bool_as_float64(A):
    if A is not None and getattr(A, "dtype", None) == bool:
        return np.asarray(A, dtype=np.float64)
    return A


def radius_neighbors_csr(X, Y, radius, *, metric="euclidean", return_distance=True,
                         sort_results=False, self_query=False, n_jobs=None, working_memory=None,
                         **kwds):
    """Rows of Y within ``radius`` (distance <= radius) of every row of X, as CSR arrays.

    euclidean, sqeuclidean, manhattan, chebyshev, minkowski, hamming and cosine (see
    _cosine_radius_csr) run on the compiled radius search (fastml.metrics._radius_fast: a kd
    partition of the rows, leaves out of reach skipped, the others evaluated as tiles); other metrics and sparse input filter chunks of the
    distance matrix. With ``self_query`` (X is Y), row i is left out of its own list.

    Returns
    -------
    indptr : ndarray of shape (n_queries + 1,), int64
    indices : ndarray of int64
        Query i's neighbours are indices[indptr[i]:indptr[i + 1]], in index order, or by
        (distance, index) with ``sort_results``.
    distances : ndarray or None
        None unless ``return_distance``; float32 for float32 input, else float64.
    """
    if metric == "cosine" and radius >= 0 and _compiled_search(X, Y, metric, kwds):
        return _cosine_radius_csr(X, Y, radius, return_distance, sort_results, self_query,
                                  n_jobs, kwds)
    job = _radius_job(X, Y, metric, kwds, n_jobs) if radius >= 0 else None
    if job is not None:
        indptr, indices, distances = _radius_fast.radius_lists(
            job.X, job.Y, job.metric, job.p, float(radius), self_query, return_distance,
            sort_results, job.n_threads)
        if return_distance:
            distances = distances.astype(job.out_dtype, copy=False)
        return indptr, indices, distances if return_distance else None
    if working_memory is None:
        working_memory = get_config()["working_memory"]

    def within(D_chunk, start):
        rows, cols = np.nonzero(D_chunk <= radius)
        if self_query:
            keep = cols != rows + start
            rows, cols = rows[keep], cols[keep]
        dist = D_chunk[rows, cols]
        if sort_results:
            order = np.lexsort((cols, dist, rows))
            rows, cols, dist = rows[order], cols[order], dist[order]
        found.append((cols.astype(np.int64), dist))
        # a chunk's reduction must have one entry per row: its counts
        return np.bincount(rows, minlength=D_chunk.shape[0])

    found = []
    counts = list(_distance_chunks(X, Y, within, metric, n_jobs, working_memory, kwds))
    indptr = np.zeros(sum(len(c) for c in counts) + 1, dtype=np.int64)
    np.cumsum(np.concatenate(counts), out=indptr[1:])
    indices = np.concatenate([cols for cols, _ in found])
    distances = np.concatenate([dist for _, dist in found]) if return_distance else None
    return indptr, indices, distances


# Slack on the squared euclidean radius of the unit rows that the cosine search screens with:
# 1 - x.y and |x - y|^2 / 2 of unit rows differ by rounding only (a few ulps of 2), so that no
# pair within the cosine radius can fall outside it; the candidates are then measured as
# scikit-learn measures them.
_COSINE_SLACK = 1e-9
# Candidate pairs measured at a time (bounds the (pairs x n_features) gathers).
_COSINE_PAIRS = 1 << 16


def _cosine_radius_csr(X, Y, radius, return_distance, sort_results, self_query, n_jobs, kwds):
    """radius_neighbors_csr for cosine on dense rows: scikit-learn's cosine distance is
    1 - x.y / (|x| |y|), which for unit rows is |x - y|^2 / 2; so the rows are scaled to unit
    length and the compiled radius search (sqeuclidean, a kd partition) finds the candidates
    within 2 radius (plus a slack for rounding). Each candidate's distance is then computed as
    scikit-learn's cosine_distances does (1 - the dot product of the normalised rows, clipped to
    [0, 2]), and kept when <= radius, so that pairs at exactly the radius are decided on that
    value. All-zero rows, whose normalised rows scikit-learn leaves at zero, are at distance 1 of
    every row: they are added directly (the search sees only the other rows)."""
    job = _PairwiseJob(X, Y, "cosine", kwds, n_jobs, aux_kind=_no_aux)
    Xw, Yw = job.X, job.Y
    Xn, x_live = _unit_rows(Xw)
    Yn, y_live = (Xn, x_live) if job.y_is_x else _unit_rows(Yw)
    x_ids, y_ids = np.flatnonzero(x_live), np.flatnonzero(y_live)
    rows, cols, dist = [], [], []
    if len(x_ids) and len(y_ids):
        # searched in float64 whatever the input (float32 sums would need a wider slack)
        Xs = np.ascontiguousarray(Xn[x_ids])
        Ys = Xs if job.y_is_x else np.ascontiguousarray(Yn[y_ids])
        screen = 2.0 * radius * (1 + _COSINE_SLACK) + _COSINE_SLACK
        indptr, indices, _ = _radius_fast.radius_lists(
            Xs, Ys, "sqeuclidean", 2.0, screen, self_query, False, False, job.n_threads)
        r = x_ids[np.repeat(np.arange(len(x_ids)), np.diff(indptr))]
        c = y_ids[indices]
        d = np.empty(len(r))
        for start in range(0, len(r), _COSINE_PAIRS):
            part = slice(start, start + _COSINE_PAIRS)
            d[part] = np.einsum("ij,ij->i", Xn[r[part]], Yn[c[part]])
        d = np.clip(1.0 - d, 0.0, 2.0)
        keep = d <= radius
        rows.append(r[keep])
        cols.append(c[keep])
        dist.append(d[keep])
    if radius >= 1.0:  # all-zero rows: distance 1 to every row
        n_x, n_y = Xw.shape[0], Yw.shape[0]
        zx, zy = np.flatnonzero(~x_live), np.flatnonzero(~y_live)
        r = np.concatenate([np.repeat(zx, n_y), np.repeat(x_ids, len(zy))])
        c = np.concatenate([np.tile(np.arange(n_y), len(zx)), np.tile(zy, len(x_ids))])
        if self_query:
            keep = r != c
            r, c = r[keep], c[keep]
        rows.append(r)
        cols.append(c)
        dist.append(np.ones(len(r)))
    rows, cols, dist = (np.concatenate(a) if a else np.empty(0) for a in (rows, cols, dist))
    rows, cols = rows.astype(np.int64), cols.astype(np.int64)
    dist = dist.astype(job.out_dtype, copy=False)  # sorted as returned: float32 ties by index
    order = np.lexsort((cols, dist, rows) if sort_results else (cols, rows))
    counts = np.bincount(rows, minlength=Xw.shape[0])
    indptr = np.zeros(Xw.shape[0] + 1, dtype=np.int64)
    np.cumsum(counts, out=indptr[1:])
    return indptr, cols[order], dist[order] if return_distance else None


def _unit_rows(A):
    """(A's rows scaled to unit length in float64, the mask of the nonzero rows), all-zero rows
    left at zero as scikit-learn's normalize leaves them."""
    A = np.asarray(A, dtype=np.float64)
    norms = np.sqrt(np.einsum("ij,ij->i", A, A))
    live = norms > 0
    out = np.zeros_like(A)
    out[live] = A[live] / norms[live, None]
    return out, live


def _split_rows(values, indptr):
    """An object array of the rows of a CSR layout."""
    rows = np.empty(len(indptr) - 1, dtype=object)
    bounds = indptr.tolist()  # Python ints slice faster than np.split (100k rows: 0.45 -> 0.12 s)
    rows[:] = [values[bounds[i]:bounds[i + 1]] for i in range(len(bounds) - 1)]
    return rows


def radius_neighbors(X, Y, radius, *, metric="euclidean", return_distance=True,
                     sort_results=False, n_jobs=None, working_memory=None, **kwds):
    """Rows of Y within ``radius`` (distance <= radius) of every row of X.

    Returns object arrays of per-query arrays, like scikit-learn's ``radius_neighbors``:
    (distances, indices) or indices alone when ``return_distance`` is False. With
    ``sort_results`` each query's neighbours are sorted by (distance, index); otherwise they come
    in index order. See radius_neighbors_csr for how they are found.
    """
    indptr, indices, distances = radius_neighbors_csr(
        X, Y, radius, metric=metric, return_distance=True, sort_results=sort_results,
        n_jobs=n_jobs, working_memory=working_memory, **kwds)
    ind = _split_rows(indices, indptr)
    if not return_distance:
        return ind
    return _split_rows(distances, indptr), ind
