# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
"""Compiled pairwise-distance core.

The caller (fastml.metrics.pairwise) validates and converts the inputs; this module checks the
shapes it is given, splits the distance matrix into tiles and evaluates them in an OpenMP loop with
the GIL released, each tile by the SIMD kernels of csrc/metrics (one instruction-set build chosen
at load time).
"""
from cython cimport floating
from cython.parallel cimport parallel, prange
from libc.stdint cimport uint64_t, uintptr_t
from libc.stdlib cimport free, malloc

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
    size_t dense_tile_workspace_bytes(Py_ssize_t n_rows, Py_ssize_t n_cols, Py_ssize_t dim,
                                      size_t elem_size)
    void dense_tile(int metric, const float* x, Py_ssize_t nx, const float* y, Py_ssize_t ny,
                    Py_ssize_t dim, const double* x_aux, const double* y_aux, double p,
                    float* out, Py_ssize_t ldo, void* workspace)
    void dense_tile(int metric, const double* x, Py_ssize_t nx, const double* y, Py_ssize_t ny,
                    Py_ssize_t dim, const double* x_aux, const double* y_aux, double p,
                    double* out, Py_ssize_t ldo, void* workspace)
    void bool_tile(int metric, const uint64_t* x, Py_ssize_t nx, const uint64_t* y,
                   Py_ssize_t ny, Py_ssize_t n_words, Py_ssize_t dim, double* out,
                   Py_ssize_t ldo)
    const char* simd_target()

cdef extern from "fastml/openmp_helpers.h" nogil:
    int fastml_openmp_enabled()
    int fastml_openmp_max_threads()

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
# Each side of a tile holds about this many bytes of points, so that both packed operands of a
# tile stay in L2.
cdef Py_ssize_t TILE_SIDE_BYTES = 64 * 1024


def openmp_enabled():
    """Whether the module was compiled with OpenMP."""
    return bool(fastml_openmp_enabled())


def openmp_max_threads():
    """OpenMP's default thread count (OMP_NUM_THREADS or the number of cores)."""
    return fastml_openmp_max_threads()


def simd_build():
    """Name of the instruction-set build of the distance kernels chosen for this CPU."""
    return simd_target().decode()


cdef Py_ssize_t _tile_side(Py_ssize_t n, Py_ssize_t dim, Py_ssize_t itemsize) noexcept nogil:
    cdef Py_ssize_t side = TILE_SIDE_BYTES // (dim * itemsize)
    side = max(32, min(512, side - side % 32))
    return min(n, side)


cdef inline void* _align64(void* p) noexcept nogil:
    return <void*>((<uintptr_t>p + 63) & ~(<uintptr_t>63))


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

    cdef Py_ssize_t ti = _tile_side(nx, dim, sizeof(floating))
    cdef Py_ssize_t tj = _tile_side(ny, dim, sizeof(floating))
    cdef Py_ssize_t n_tj = (ny + tj - 1) // tj
    cdef Py_ssize_t n_tiles = ((nx + ti - 1) // ti) * n_tj
    cdef size_t ws_bytes = dense_tile_workspace_bytes(ti, tj, dim, sizeof(floating)) + 64
    cdef const double* xa = &x_aux[0] if needs_aux else NULL
    cdef const double* ya = &y_aux[0] if needs_aux else NULL
    cdef int alloc_failed = 0
    cdef int* failed = &alloc_failed
    cdef Py_ssize_t t, i0, j0, ni, nj
    cdef void* ws = NULL

    with nogil, parallel(num_threads=n_threads):
        ws = malloc(ws_bytes)
        for t in prange(n_tiles, schedule="dynamic"):
            i0 = (t // n_tj) * ti
            j0 = (t % n_tj) * tj
            ni = min(ti, nx - i0)
            nj = min(tj, ny - j0)
            if ws == NULL:
                failed[0] = 1
                continue
            dense_tile(code, &X[i0, 0], ni, &Y[j0, 0], nj, dim,
                       xa + i0 if needs_aux else NULL, ya + j0 if needs_aux else NULL,
                       p, &out[i0, j0], ny, _align64(ws))
        free(ws)
    if alloc_failed:
        raise MemoryError("could not allocate the distance kernels' workspace")


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
    cdef Py_ssize_t tj = min(ny, 1024), ti = min(nx, 64)
    cdef Py_ssize_t n_tj = (ny + tj - 1) // tj
    cdef Py_ssize_t n_tiles = ((nx + ti - 1) // ti) * n_tj
    cdef Py_ssize_t t, i0, j0
    with nogil:
        for t in prange(n_tiles, schedule="dynamic", num_threads=n_threads):
            i0 = (t // n_tj) * ti
            j0 = (t % n_tj) * tj
            bool_tile(code, &X[i0, 0], min(ti, nx - i0), &Y[j0, 0], min(tj, ny - j0), n_words,
                      dim, &out[i0, j0], ny)
