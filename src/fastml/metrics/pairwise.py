"""Pairwise distances on the compiled core (``fastml.metrics._pairwise_fast``).

Semantics follow :func:`sklearn.metrics.pairwise_distances`: float32 input gives float32 output,
every other numeric input is computed in float64, boolean metrics convert their input with
``x != 0``, and ``Y=None`` means ``Y = X`` with an exact zero diagonal.
"""
import warnings
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import pairwise as sklearn_pairwise
from sklearn.utils import check_array, gen_batches

from .._backend import effective_n_threads
from .._config import get_config
from ..utils._sklearn_compat import check_chunk_size, get_chunk_n_rows
from . import _pairwise_fast

# Accepted names (scikit-learn's and SciPy's aliases) -> the metric computed.
_ALIASES = {
    "euclidean": "euclidean",
    "l2": "euclidean",
    "sqeuclidean": "sqeuclidean",
    "manhattan": "manhattan",
    "cityblock": "manhattan",
    "l1": "manhattan",
    "chebyshev": "chebyshev",
    "minkowski": "minkowski",
    "cosine": "cosine",
    "hamming": "hamming",
    "jaccard": "jaccard",
    # 1 - the simple matching coefficient: the fraction of coordinates that differ, i.e. hamming
    # (scikit-learn computes it the same way, on values).
    "matching": "hamming",
}
PAIRWISE_DISTANCE_METRICS = tuple(sorted(_ALIASES))

# Metrics defined on booleans: other input is converted with x != 0 (with a warning), as in
# scikit-learn.
_BOOLEAN_METRICS = frozenset({"jaccard"})

# float32 sums of squared differences overflow past about sqrt(FLT_MAX / 32) / 2; larger float32
# input is computed in float64 and the result rounded to float32.
_FLOAT32_SAFE_MAGNITUDE = 1e18


def _beyond_float32_range(*arrays):
    """Whether any value is too large for float32 sums of squares (see _FLOAT32_SAFE_MAGNITUDE)."""
    return max(np.abs(A).max() for A in arrays) > _FLOAT32_SAFE_MAGNITUDE


def _resolve_metric(metric, kwds):
    """Return (metric computed, minkowski p) or raise for unknown metrics and parameters."""
    if not isinstance(metric, str):
        raise TypeError(f"metric must be a string or a callable, got {type(metric).__name__}")
    name = _ALIASES.get(metric)
    if name is None:
        raise ValueError(
            f"Unknown metric {metric!r}. Valid metrics are {list(PAIRWISE_DISTANCE_METRICS)}, "
            "'precomputed' or a callable.")
    kwds = dict(kwds)
    p = 2.0
    if name == "minkowski":
        p = kwds.pop("p", 2)
        if isinstance(p, bool) or not isinstance(p, Real) or not p > 0:
            raise ValueError(f"minkowski p must be a positive number, got {p!r}")
        p = float(p)
        name = {1.0: "manhattan", 2.0: "euclidean", np.inf: "chebyshev"}.get(p, "minkowski")
    if kwds:
        raise TypeError(f"metric {metric!r} takes no parameter(s) {sorted(kwds)}")
    return name, p


def _delegated(X, Y, metric, kwds=None):
    """Inputs the compiled core does not take: sparse matrices, callables, 'precomputed' and
    weighted minkowski (scipy's, through scikit-learn)."""
    return (callable(metric) or metric == "precomputed" or sparse.issparse(X)
            or sparse.issparse(Y)
            or (metric == "minkowski" and (kwds or {}).get("w") is not None))


def _pack_bits(A):
    """Bit-pack the rows of a boolean matrix into uint64 words (padding bits are zero)."""
    packed = np.packbits(A, axis=1, bitorder="little")
    pad = -packed.shape[1] % 8
    if pad:
        packed = np.pad(packed, ((0, 0), (0, pad)))
    return np.ascontiguousarray(packed).view(np.uint64)


def _row_aux(A, kind):
    """Per-row values the kernels need: squared norms or inverse norms (0 for all-zero rows)."""
    sq = np.einsum("ij,ij->i", A, A, dtype=np.float64)
    if kind == "sqnorm":
        return sq
    inv = np.zeros_like(sq)
    np.divide(1.0, np.sqrt(sq), out=inv, where=sq > 0)
    return inv


class _PairwiseJob:
    """Validated, converted operands of one distance computation; evaluates any block of rows."""

    def __init__(self, X, Y, metric, kwds, n_jobs, aux_kind=_pairwise_fast.aux_kind):
        """aux_kind(metric, float64) names the per-row values the compiled routine needs."""
        self.metric, self.p = _resolve_metric(metric, kwds)
        self.n_threads = effective_n_threads(n_jobs)
        self.y_is_x = Y is None
        check = dict(dtype="numeric", ensure_all_finite=True, ensure_2d=True,
                     ensure_min_samples=1, ensure_min_features=1, accept_sparse=False)
        X = check_array(X, input_name="X", **check)
        Y = X if Y is None else check_array(Y, input_name="Y", **check)
        if X.shape[1] != Y.shape[1]:
            raise ValueError(
                "Incompatible dimension for X and Y matrices: "
                f"X.shape[1] == {X.shape[1]} while Y.shape[1] == {Y.shape[1]}")
        self.n_features = X.shape[1]
        self.out_dtype = np.float32 if X.dtype == Y.dtype == np.float32 else np.float64

        if self.metric in _BOOLEAN_METRICS and not X.dtype == Y.dtype == bool:
            warnings.warn(f"Data was converted to boolean for metric {self.metric}",
                          DataConversionWarning, stacklevel=3)
            X, Y = X != 0, (X != 0 if self.y_is_x else Y != 0)
        self.bitwise = X.dtype == Y.dtype == bool and self.metric in ("hamming", "jaccard")
        if self.bitwise:
            self.X = _pack_bits(X)
            self.Y = self.X if self.y_is_x else _pack_bits(Y)
            return

        work = self.out_dtype
        if work == np.float32 and _beyond_float32_range(X, Y):
            work = np.float64
        self.X = np.ascontiguousarray(X, dtype=work)
        self.Y = self.X if self.y_is_x else np.ascontiguousarray(Y, dtype=work)
        kind = aux_kind(self.metric, work == np.float64)
        empty = np.empty(0)
        self.x_aux = empty if kind is None else _row_aux(self.X, kind)
        self.y_aux = self.x_aux if self.y_is_x or kind is None else _row_aux(self.Y, kind)

    @property
    def n_rows(self):
        return self.X.shape[0]

    def rows(self, block=slice(None)):
        """Distances from rows `block` of X to every row of Y."""
        X = self.X[block]
        if self.bitwise:
            out = np.empty((X.shape[0], self.Y.shape[0]), dtype=np.float64)
            _pairwise_fast.bool_distances(X, self.Y, out, self.metric, self.n_features,
                                          self.n_threads)
        else:
            out = np.empty((X.shape[0], self.Y.shape[0]), dtype=self.X.dtype)
            x_aux = self.x_aux[block] if self.x_aux.size else self.x_aux
            _pairwise_fast.dense_distances(X, self.Y, out, self.metric, x_aux,
                                           self.y_aux, self.p, self.n_threads)
        if self.y_is_x:  # d(x, x) = 0 by definition, also for all-zero rows under cosine
            start = block.start or 0
            idx = np.arange(out.shape[0])
            out[idx, start + idx] = 0.0
        return out.astype(self.out_dtype, copy=False)


def pairwise_distances(X, Y=None, metric="euclidean", *, n_jobs=None, **kwds):
    """Distance matrix between the rows of X and the rows of Y.

    A drop-in replacement for :func:`sklearn.metrics.pairwise_distances` on dense input, computed
    by fastml's compiled core: tiles of the matrix in parallel OpenMP threads, SIMD kernels chosen
    for the CPU at load time, boolean metrics on bit-packed rows with popcount.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
    Y : array-like of shape (n_samples_Y, n_features), default=None
        ``None`` computes the distances between the rows of X (with an exact zero diagonal).
    metric : str or callable, default="euclidean"
        One of ``PAIRWISE_DISTANCE_METRICS``: "euclidean" ("l2"), "sqeuclidean", "manhattan"
        ("cityblock", "l1"), "chebyshev", "minkowski" (parameter ``p``, default 2), "cosine",
        "hamming", "jaccard", "matching". Callables, "precomputed" and sparse input are handed to
        scikit-learn unchanged.
    n_jobs : int, default=None
        Threads; ``None`` uses ``fastml.get_config()["n_jobs"]`` (default: all OpenMP threads),
        -1 all cores.
    **kwds
        ``p`` for "minkowski".

    Returns
    -------
    D : ndarray of shape (n_samples_X, n_samples_Y)
        float32 when X (and Y) are float32, else float64.

    Notes
    -----
    Accuracy: float32 sums are accumulated in float64 every 64 features (relative error < 4e-6);
    float64 euclidean and cosine use dot products and norms, and pairs where that could lose more
    than 1e-10 relative accuracy (nearly equal points) are recomputed directly. float32 cosine
    distances under 0.02 are recomputed in float64.
    """
    if _delegated(X, Y, metric, kwds):
        return sklearn_pairwise.pairwise_distances(X, Y, metric=metric, n_jobs=n_jobs, **kwds)
    return _PairwiseJob(X, Y, metric, kwds, n_jobs).rows()


def pairwise_distances_chunked(X, Y=None, *, reduce_func=None, metric="euclidean", n_jobs=None,
                               working_memory=None, **kwds):
    """Generate the distance matrix a chunk of rows at a time, with optional reduction.

    Drop-in for :func:`sklearn.metrics.pairwise_distances_chunked`: each chunk holds as many rows
    as fit in ``working_memory`` MiB (default ``fastml.get_config()["working_memory"]``) and is
    passed through ``reduce_func(D_chunk, start)`` when given. Inputs are validated and converted
    once, before the first chunk.

    Yields
    ------
    D_chunk : ndarray or tuple of ndarrays
        Rows of the distance matrix, or what ``reduce_func`` returns for them.
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    if _delegated(X, Y, metric, kwds):
        yield from sklearn_pairwise.pairwise_distances_chunked(
            X, Y, reduce_func=reduce_func, metric=metric, n_jobs=n_jobs,
            working_memory=working_memory, **kwds)
        return
    job = _PairwiseJob(X, Y, metric, kwds, n_jobs)
    row_bytes = np.dtype(job.out_dtype).itemsize * job.Y.shape[0]
    chunk_n_rows = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=job.n_rows,
                                    working_memory=working_memory)
    for block in gen_batches(job.n_rows, chunk_n_rows):
        D_chunk = job.rows(block)
        if reduce_func is not None:
            D_chunk = reduce_func(D_chunk, block.start)
            check_chunk_size(D_chunk, block.stop - block.start)
        yield D_chunk
