# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled pairwise-distance core.

The caller (fastml.metrics.pairwise) validates and converts the inputs; this module checks the
shapes it is given and sizes the tiles of the distance matrix; the tiles run with the GIL released
in the one chunked loop of the distance cores (fastml/tile_loop.hpp, through the reducers of
csrc/metrics/tile_drivers.cpp), each by the SIMD kernels of csrc/metrics (one instruction-set
build chosen at load time).
"""
from cython cimport floating
from cython.parallel cimport prange

import numpy as np
from libc.stdint cimport int64_t, uint64_t, uintptr_t
from libc.math cimport sqrt

cdef extern from "fastml/distances.hpp" namespace "fastml::distances" nogil:
    enum Metric:
        kSqEuclidean
        kEuclidean
        kManhattan
        kChebyshev
        kMinkowski
        kCosine
        kHamming
        kJaccard
    const char* simd_target()
    int knn_select_row(Py_ssize_t n_cand, const double* cand_keys, const int64_t* cand_idx,
                       Py_ssize_t k, float* out_keys, int64_t* out_idx)
    int knn_select_row(Py_ssize_t n_cand, const double* cand_keys, const int64_t* cand_idx,
                       Py_ssize_t k, double* out_keys, int64_t* out_idx)
    double pair_cost_ns(int metric, Py_ssize_t dim, size_t elem_size)
    double bool_pair_cost_ns(Py_ssize_t n_words)

cdef extern from "fastml/distance_tiles.hpp" namespace "fastml::distances" nogil:
    # The tiled loops (fastml/tile_loop.hpp, shared with the radius search); std::bad_alloc
    # becomes MemoryError.
    void store_tiles[T](int metric, const T* x, Py_ssize_t nx, const T* y, Py_ssize_t ny,
                        Py_ssize_t dim, const double* x_aux, const double* y_aux, double p,
                        T* out, Py_ssize_t ti, Py_ssize_t tj, int n_threads) except +
    void store_bool_tiles(int metric, const uint64_t* x, Py_ssize_t nx, const uint64_t* y,
                          Py_ssize_t ny, Py_ssize_t n_words, Py_ssize_t dim, double* out,
                          Py_ssize_t ti, Py_ssize_t tj, int n_threads) except +
    void knn_tiles[T](int metric, const T* x, Py_ssize_t nq, const T* y, Py_ssize_t ny,
                      Py_ssize_t dim, const double* x_aux, const double* y_aux, double p,
                      Py_ssize_t k, Py_ssize_t rows, Py_ssize_t n_seg, Py_ssize_t seg_len,
                      double* cand_keys, int64_t* cand_idx, int n_threads) except +
    void knn_bool_tiles(int metric, const uint64_t* x, Py_ssize_t nq, const uint64_t* y,
                        Py_ssize_t ny, Py_ssize_t n_words, Py_ssize_t dim, Py_ssize_t k,
                        Py_ssize_t rows, Py_ssize_t n_seg, Py_ssize_t seg_len,
                        double* cand_keys, int64_t* cand_idx, int n_threads) except +

cdef extern from "fastml/openmp_helpers.h" nogil:
    int fastml_openmp_enabled()
    int fastml_openmp_max_threads()
    int fastml_region_threads(double work_ns, int n_threads)

METRIC_CODES = {
    "sqeuclidean": kSqEuclidean,
    "euclidean": kEuclidean,
    "manhattan": kManhattan,
    "chebyshev": kChebyshev,
    "minkowski": kMinkowski,
    "cosine": kCosine,
    "hamming": kHamming,
    "jaccard": kJaccard,
}
# A tile's rows of X hold about this many bytes, so that their packed copy stays in L2 while the
# panels of Y pass over it.
cdef Py_ssize_t TILE_ROWS_BYTES = 64 * 1024
# One-thread nanoseconds of the loops that are not distance tiles (see pair_cost_ns in
# distances.hpp, and fastml_region_threads for how they size a loop): a fresh output page's fault
# and zeroing (0.35-0.4 us measured per 4 KiB page of a new 64-256 MiB array), a candidate of the
# k-best selection, a feature of the exact float64 recompute (scalar, with a division for cosine),
# and an element of a float64 row sum (a chain of dependent additions).
cdef double PAGE_TOUCH_NS = 400.0
cdef double SELECT_CANDIDATE_NS = 5.0
cdef double RECOMPUTE_FEATURE_NS = 1.0
cdef double ROW_SUM_ELEMENT_NS = 1.0


def openmp_enabled():
    """Whether the module was compiled with OpenMP."""
    return bool(fastml_openmp_enabled())


def openmp_max_threads():
    """OpenMP's default thread count (OMP_NUM_THREADS or the number of cores)."""
    return fastml_openmp_max_threads()


def region_threads(double work_ns, int n_threads):
    """Threads a parallel loop of `work_ns` one-thread nanoseconds is worth, at most n_threads:
    1 below 2 ms, else one per millisecond (fastml_region_threads in openmp_helpers.h). For the
    Python callers of cores that take a thread count and have no cost model of their own."""
    return fastml_region_threads(work_ns, n_threads)


def simd_build():
    """Name of the instruction-set build of the distance kernels chosen for this CPU."""
    return simd_target().decode()


cdef Py_ssize_t _tile_rows(Py_ssize_t n, Py_ssize_t dim, Py_ssize_t itemsize) noexcept nogil:
    cdef Py_ssize_t side = TILE_ROWS_BYTES // (dim * itemsize)
    side = max(32, min(512, side - side % 32))
    return min(n, side)


cdef void _first_touch(char* data, Py_ssize_t n_bytes, int n_threads) noexcept nogil:
    """Writes a byte of every page of a fresh output, each thread an even share, before the tiles
    run: the kernel zeroes a page on its first touch, and this measured faster than letting the
    tiles' threads meet the pages (float64 5000 x 5000: 64 -> 59 ms). The output is overwritten
    afterwards. 4 KiB: the smallest page size. Skipped when the pages are too few to be worth a
    second thread: one thread gains nothing over the tiles touching them, and the extra parallel
    region would wake the pool once more."""
    cdef Py_ssize_t page, n_pages = n_bytes // 4096
    n_threads = fastml_region_threads(n_pages * PAGE_TOUCH_NS, n_threads)
    if n_threads == 1:
        return
    for page in prange(n_pages, schedule="static", num_threads=n_threads):
        data[page * 4096] = 0


def aux_kind(str metric, bint float64):
    """Per-row values dense_distances needs for `metric`: "sqnorm", "inv_norm" or None."""
    if metric == "cosine":
        return "inv_norm"
    if float64 and metric in ("euclidean", "sqeuclidean"):
        return "sqnorm"
    return None


def dense_distances(const floating[:, ::1] X, const floating[:, ::1] Y, floating[:, ::1] out,
                    str metric, const double[::1] x_aux, const double[::1] y_aux, double p,
                    int n_threads):
    """Fill out[i, j] = metric(X[i], Y[j]).

    x_aux / y_aux: squared row norms for euclidean/sqeuclidean on float64 (computed as dot
    products), inverse row norms (0 for all-zero rows) for cosine; may be empty otherwise, see
    aux_kind().
    """
    cdef int code = METRIC_CODES[metric]
    cdef Py_ssize_t nx = X.shape[0], ny = Y.shape[0], dim = X.shape[1]
    if Y.shape[1] != dim or out.shape[0] != nx or out.shape[1] != ny:
        raise ValueError(
            f"shape mismatch: X ({nx}, {X.shape[1]}), Y ({ny}, {Y.shape[1]}), "
            f"out ({out.shape[0]}, {out.shape[1]})")
    if nx == 0 or ny == 0 or dim == 0:
        raise ValueError("dense_distances needs non-empty inputs")
    if code == kJaccard:
        raise ValueError("jaccard runs on bit-packed booleans only")
    cdef bint needs_aux = aux_kind(metric, sizeof(floating) == sizeof(double)) is not None
    if needs_aux and (x_aux.shape[0] != nx or y_aux.shape[0] != ny):
        raise ValueError("x_aux and y_aux must hold one value per row")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    n_threads = fastml_region_threads(<double>nx * ny * pair_cost_ns(code, dim, sizeof(floating)),
                                      n_threads)

    # A tile packs its rows of X once, so tiles span all of Y unless there are too few rows of
    # tiles to give every thread several.
    cdef Py_ssize_t ti = _tile_rows(nx, dim, sizeof(floating))
    cdef Py_ssize_t n_ti = (nx + ti - 1) // ti
    cdef Py_ssize_t n_tj = min((ny + 31) // 32, max(1, (4 * n_threads + n_ti - 1) // n_ti))
    cdef Py_ssize_t tj = ((ny + n_tj - 1) // n_tj + 31) // 32 * 32
    n_tj = (ny + tj - 1) // tj
    cdef const double* xa = &x_aux[0] if needs_aux else NULL
    cdef const double* ya = &y_aux[0] if needs_aux else NULL

    with nogil:
        _first_touch(<char*>&out[0, 0], nx * ny * sizeof(floating), n_threads)
        store_tiles(code, &X[0, 0], nx, &Y[0, 0], ny, dim, xa, ya, p, &out[0, 0], ti, tj,
                    n_threads)


def bool_distances(const uint64_t[:, ::1] X, const uint64_t[:, ::1] Y, double[:, ::1] out,
                   str metric, Py_ssize_t dim, int n_threads):
    """Fill out[i, j] with the hamming or jaccard distance of bit-packed boolean rows."""
    cdef int code = METRIC_CODES[metric]
    cdef Py_ssize_t nx = X.shape[0], ny = Y.shape[0], n_words = X.shape[1]
    if code != kHamming and code != kJaccard:
        raise ValueError(f"{metric!r} has no boolean kernel")
    if Y.shape[1] != n_words or out.shape[0] != nx or out.shape[1] != ny:
        raise ValueError(
            f"shape mismatch: X ({nx}, {X.shape[1]}), Y ({ny}, {Y.shape[1]}), "
            f"out ({out.shape[0]}, {out.shape[1]})")
    if nx == 0 or ny == 0 or dim <= 0 or n_words * 64 < dim:
        raise ValueError("bool_distances needs non-empty inputs of dim <= 64 * n_words bits")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")
    n_threads = fastml_region_threads(<double>nx * ny * bool_pair_cost_ns(n_words), n_threads)
    with nogil:
        _first_touch(<char*>&out[0, 0], nx * ny * sizeof(double), n_threads)
        store_bool_tiles(code, &X[0, 0], nx, &Y[0, 0], ny, n_words, dim, &out[0, 0],
                         min(nx, 64), min(ny, 1024), n_threads)


# ---- k-nearest-neighbour search ------------------------------------------------------------------
# Query rows per block: their packed copy (about 128 KiB) stays in L2 while training tiles stream
# past. Training segments are only split when there are too few query blocks to keep every thread
# busy; a segment then holds at least this many rows.
cdef Py_ssize_t KNN_QUERY_BLOCK_BYTES = 128 * 1024
cdef Py_ssize_t KNN_MIN_SEGMENT_ROWS = 4096


def knn_aux_kind(str metric):
    """Per-row values argkmin needs for `metric`: "sqnorm", "inv_norm" or None."""
    if metric in ("euclidean", "sqeuclidean"):
        return "sqnorm"
    if metric == "cosine":
        return "inv_norm"
    return None


cdef class _KnnSplit:
    """How argkmin divides its work: query blocks of `rows` rows times `n_seg` training segments."""
    cdef Py_ssize_t rows, n_blocks, n_seg, seg_len

    def __init__(self, Py_ssize_t nq, Py_ssize_t ny, Py_ssize_t row_bytes, int n_threads):
        rows = max(64, min(1024, KNN_QUERY_BLOCK_BYTES // max(row_bytes, 1)))
        per_thread = (nq + n_threads - 1) // n_threads
        rows = min(rows, max(64, (per_thread + 7) // 8 * 8))
        self.rows = min(rows, nq)
        self.n_blocks = (nq + self.rows - 1) // self.rows
        self.n_seg = 1
        if self.n_blocks < 2 * n_threads:
            wanted = (2 * n_threads + self.n_blocks - 1) // self.n_blocks
            self.n_seg = max(1, min(wanted, ny // KNN_MIN_SEGMENT_ROWS))
        self.seg_len = (ny + self.n_seg - 1) // self.n_seg
        self.n_seg = (ny + self.seg_len - 1) // self.seg_len


def _check_knn_args(Py_ssize_t nq, Py_ssize_t ny, Py_ssize_t k, out_keys, out_ind,
                    int n_threads):
    if nq == 0 or ny == 0:
        raise ValueError("argkmin needs at least one query and one training row")
    if not 1 <= k <= ny:
        raise ValueError(f"k must be in [1, {ny}] (the training rows), got {k}")
    if tuple(out_keys.shape[:2]) != (nq, k) or tuple(out_ind.shape[:2]) != (nq, k):
        raise ValueError(f"the outputs must have shape ({nq}, {k})")
    if n_threads < 1:
        raise ValueError(f"n_threads must be >= 1, got {n_threads}")


cdef int _select_all(const double[:, ::1] cand_keys, const int64_t* cand_idx,
                     Py_ssize_t idx_stride, Py_ssize_t k, floating[:, ::1] out_keys,
                     int64_t[:, ::1] out_ind, int n_threads) noexcept nogil:
    """The k best candidates of every query, sorted; 0 or an error code.

    The candidate indices of query i start at cand_idx + i * idx_stride.
    """
    cdef Py_ssize_t i, n_cand = cand_keys.shape[1]
    cdef int status = 0
    cdef int* failed = &status
    cdef int rc
    n_threads = fastml_region_threads(<double>cand_keys.shape[0] * n_cand * SELECT_CANDIDATE_NS,
                                      n_threads)
    for i in prange(cand_keys.shape[0], schedule="static", num_threads=n_threads):
        rc = knn_select_row(n_cand, &cand_keys[i, 0], cand_idx + i * idx_stride, k,
                            &out_keys[i, 0], &out_ind[i, 0])
        if rc != 0:
            failed[0] = rc
    return status


def _raise_select_error(int status):
    if status == -2:
        raise MemoryError("could not allocate the k-nearest-neighbour selection buffers")
    if status != 0:
        raise RuntimeError("k-nearest-neighbour search found fewer than k candidates")


def argkmin(const floating[:, ::1] X, const floating[:, ::1] Y, str metric,
            const double[::1] x_aux, const double[::1] y_aux, double p, Py_ssize_t k,
            floating[:, ::1] out_keys, int64_t[:, ::1] out_ind, int n_threads):
    """The k nearest rows of Y for every row of X, sorted by (key, index).

    Fills out_ind[i] with row numbers of Y (ties go to the lower one) and out_keys[i] with their
    keys: the distances, except for euclidean / sqeuclidean (approximate squared distances) and
    cosine (approximate cosine distances), which come from dot products and need an exact
    recompute by the caller. x_aux / y_aux: see knn_aux_kind() (empty otherwise).
    Memory: O(n_queries * k) candidates plus O(block) per thread.
    """
    cdef int code = METRIC_CODES[metric]
    cdef Py_ssize_t nq = X.shape[0], ny = Y.shape[0], dim = X.shape[1]
    if Y.shape[1] != dim or dim == 0:
        raise ValueError(f"X and Y need the same, nonzero width: got {dim} and {Y.shape[1]}")
    if code == kJaccard:
        raise ValueError("jaccard runs on bit-packed booleans only")
    _check_knn_args(nq, ny, k, out_keys, out_ind, n_threads)
    cdef bint needs_aux = knn_aux_kind(metric) is not None
    if needs_aux and (x_aux.shape[0] != nq or y_aux.shape[0] != ny):
        raise ValueError("x_aux and y_aux must hold one value per row")

    # the search's threads; the selection after it sizes its own loop
    cdef int search_threads = fastml_region_threads(
        <double>nq * ny * pair_cost_ns(code, dim, sizeof(floating)), n_threads)
    cdef _KnnSplit split = _KnnSplit(nq, ny, dim * sizeof(floating), search_threads)
    cdef double[:, ::1] cand_keys = np.empty((nq, split.n_seg * k))
    cdef int64_t[:, ::1] cand_idx = np.empty((nq, split.n_seg * k), dtype=np.int64)
    cdef const double* xa = &x_aux[0] if needs_aux else NULL
    cdef const double* ya = &y_aux[0] if needs_aux else NULL
    cdef Py_ssize_t ldh = split.n_seg * k
    cdef int status

    with nogil:
        knn_tiles(code, &X[0, 0], nq, &Y[0, 0], ny, dim, xa, ya, p, k, split.rows, split.n_seg,
                  split.seg_len, &cand_keys[0, 0], &cand_idx[0, 0], search_threads)
        status = _select_all(cand_keys, &cand_idx[0, 0], ldh, k, out_keys, out_ind, n_threads)
    _raise_select_error(status)


def argkmin_bool(const uint64_t[:, ::1] X, const uint64_t[:, ::1] Y, str metric, Py_ssize_t dim,
                 Py_ssize_t k, double[:, ::1] out_dist, int64_t[:, ::1] out_ind, int n_threads):
    """argkmin for hamming or jaccard on bit-packed boolean rows (see bool_distances)."""
    cdef int code = METRIC_CODES[metric]
    cdef Py_ssize_t nq = X.shape[0], ny = Y.shape[0], n_words = X.shape[1]
    if code != kHamming and code != kJaccard:
        raise ValueError(f"{metric!r} has no boolean kernel")
    if Y.shape[1] != n_words or dim <= 0 or n_words * 64 < dim:
        raise ValueError("X and Y need the same number of words, holding dim > 0 bits")
    _check_knn_args(nq, ny, k, out_dist, out_ind, n_threads)
    cdef int search_threads = fastml_region_threads(<double>nq * ny * bool_pair_cost_ns(n_words),
                                                    n_threads)
    cdef _KnnSplit split = _KnnSplit(nq, ny, n_words * 8, search_threads)
    cdef double[:, ::1] cand_keys = np.empty((nq, split.n_seg * k))
    cdef int64_t[:, ::1] cand_idx = np.empty((nq, split.n_seg * k), dtype=np.int64)
    cdef Py_ssize_t ldh = split.n_seg * k
    cdef int status
    with nogil:
        knn_bool_tiles(code, &X[0, 0], nq, &Y[0, 0], ny, n_words, dim, k, split.rows,
                       split.n_seg, split.seg_len, &cand_keys[0, 0], &cand_idx[0, 0],
                       search_threads)
        status = _select_all(cand_keys, &cand_idx[0, 0], ldh, k, out_dist, out_ind, n_threads)
    _raise_select_error(status)


def argkmin_rows(const double[:, ::1] D, Py_ssize_t k, floating[:, ::1] out_dist,
                 int64_t[:, ::1] out_ind, int n_threads):
    """The k smallest entries of every row of a distance matrix, sorted by (distance, column).

    For distances the compiled search cannot compute (sparse input, callables, other metrics).
    """
    cdef Py_ssize_t nq = D.shape[0], ny = D.shape[1]
    _check_knn_args(nq, ny, k, out_dist, out_ind, n_threads)
    cdef int64_t[::1] columns = np.arange(ny, dtype=np.int64)
    cdef int status
    with nogil:
        status = _select_all(D, &columns[0], 0, k, out_dist, out_ind, n_threads)
    _raise_select_error(status)


def candidate_distances(const floating[:, ::1] X, const floating[:, ::1] Y,
                        const int64_t[:, ::1] cand, str metric, double[:, ::1] out,
                        int n_threads):
    """out[i, c] = the squared euclidean ("sqeuclidean") or cosine ("cosine") distance of X[i] to
    Y[cand[i, c]], computed directly in float64 from coordinate differences (no cancellation).

    The exact recompute of the candidates of a dot-product search; an all-zero vector has cosine
    distance 1 to everything.
    """
    cdef Py_ssize_t nq = X.shape[0], n_cand = cand.shape[1], dim = X.shape[1]
    cdef Py_ssize_t ny = Y.shape[0], i, c, f, j
    cdef bint cosine
    if metric not in ("sqeuclidean", "cosine"):
        raise ValueError(f"candidate_distances computes sqeuclidean or cosine, not {metric!r}")
    cosine = metric == "cosine"
    if Y.shape[1] != dim or cand.shape[0] != nq or out.shape[0] != nq or out.shape[1] != n_cand:
        raise ValueError("shape mismatch between X, Y, cand and out")
    if nq and n_cand and (np.min(np.asarray(cand)) < 0 or np.max(np.asarray(cand)) >= ny):
        raise ValueError(f"candidate indices must lie in [0, {ny})")
    cdef double acc, d, xx, yy, x_norm, y_norm
    n_threads = fastml_region_threads(
        <double>nq * n_cand * dim * RECOMPUTE_FEATURE_NS * (3 if cosine else 1), n_threads)
    with nogil:
        for i in prange(nq, schedule="static", num_threads=n_threads):
            xx = 0.0
            for f in range(dim):
                xx = xx + <double>X[i, f] * <double>X[i, f]
            x_norm = sqrt(xx)
            for c in range(n_cand):
                j = cand[i, c]
                acc = 0.0
                if not cosine:
                    for f in range(dim):
                        d = <double>X[i, f] - <double>Y[j, f]
                        acc = acc + d * d
                    out[i, c] = acc
                    continue
                yy = 0.0
                for f in range(dim):
                    yy = yy + <double>Y[j, f] * <double>Y[j, f]
                y_norm = sqrt(yy)
                if x_norm == 0.0 or y_norm == 0.0:
                    out[i, c] = 1.0
                    continue
                for f in range(dim):
                    d = X[i, f] / x_norm - Y[j, f] / y_norm
                    acc = acc + d * d
                out[i, c] = min(max(0.5 * acc, 0.0), 2.0)


def segment_row_sums(const floating[:, ::1] D, const Py_ssize_t[::1] bounds, double[:, ::1] out,
                     int n_threads):
    """out[i, s] = sum of D[i, bounds[s]:bounds[s + 1]], accumulated in float64.

    With the columns of D ordered by cluster, these are the per-cluster distance sums of the
    silhouette; contiguous segments keep the inner loop a plain vectorisable sum.
    """
    cdef Py_ssize_t n_rows = D.shape[0], n_seg = bounds.shape[0] - 1, i, s, j
    cdef double acc
    if n_seg < 0 or out.shape[0] != n_rows or out.shape[1] != n_seg:
        raise ValueError("out must have shape (D.shape[0], len(bounds) - 1)")
    for s in range(n_seg):
        if not 0 <= bounds[s] <= bounds[s + 1] <= D.shape[1]:
            raise ValueError("bounds must be non-decreasing within [0, D.shape[1]]")
    if n_threads < 1:
        raise ValueError("n_threads must be >= 1")
    n_threads = fastml_region_threads(<double>n_rows * D.shape[1] * ROW_SUM_ELEMENT_NS, n_threads)
    with nogil:
        for i in prange(n_rows, schedule="static", num_threads=n_threads):
            for s in range(n_seg):
                acc = 0.0
                for j in range(bounds[s], bounds[s + 1]):
                    acc = acc + D[i, j]
                out[i, s] = acc
