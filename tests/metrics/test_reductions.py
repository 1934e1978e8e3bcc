"""The compiled k-nearest-neighbour search (fastml.metrics._reductions) against the references."""
import os

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.metrics import pairwise_distances as sklearn_pairwise_distances

from fastml import config_context
from fastml.metrics._reductions import argkmin, radius_neighbors
from fastml.reference import neighbors as reference
from tests._assertions import assert_relative_close

COMPILED_METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine",
                    "hamming"]
RTOL = {np.float32: 1e-5, np.float64: 1e-9}
SHAPES = [  # (n_queries, n_samples, n_features): single rows, block edges, segmented searches
    (1, 1, 1), (1, 9, 3), (9, 1, 3), (7, 40, 1), (33, 70, 17), (70, 33, 31), (20, 300, 32),
    (9, 130, 65), (3, 9000, 5)]


def _kwds(metric):
    return {"p": 3} if metric == "minkowski" else {}


def _data(rng, shape, dtype, metric):
    n_q, n_y, dim = shape
    X = rng.normal(size=(n_q, dim)).astype(dtype)
    Y = rng.normal(size=(n_y, dim)).astype(dtype)
    if metric == "hamming":  # values on a grid: equal coordinates (and tied distances) are common
        X, Y = np.round(X), np.round(Y)
    return X, Y


def _reference(X, Y, k, metric):
    cast = (lambda A: A) if X.dtype == bool else (lambda A: np.asarray(A, dtype=np.float64))
    return reference.kneighbors(cast(X), cast(Y), k, metric=metric, p=3.0)


def _assert_matches_reference(X, Y, k, metric, rtol):
    dist, ind = argkmin(X, Y, k, metric=metric)
    ref_dist, ref_ind = _reference(X, Y, k, metric)
    assert_array_equal(ind, ref_ind)
    assert_relative_close(dist, ref_dist, rtol)


@pytest.mark.parametrize("metric", COMPILED_METRICS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_argkmin_matches_reference(metric, shape, dtype, rng):
    X, Y = _data(rng, shape, dtype, metric)
    for k in sorted({1, min(5, len(Y)), len(Y) if len(Y) < 100 else 50}):
        dist, ind = argkmin(X, Y, k, metric=metric, **_kwds(metric))
        ref_dist, ref_ind = _reference(X, Y, k, metric)
        assert dist.dtype == dtype and ind.dtype == np.int64 and ind.shape == (len(X), k)
        # Exact recomputation and a (distance, index) sort: even float32 gives the ranking of
        # float64 arithmetic on the same values, ties included.
        assert_array_equal(ind, ref_ind)
        assert_relative_close(dist, ref_dist, RTOL[dtype], atol=1e-6 if dtype == np.float32
                              else 1e-15)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_float32_search_far_from_the_origin(metric, rng):
    # Dot-product ranking in float32 loses accuracy with the norms; the euclidean search shifts
    # the data to the training mean, so it must rank exactly even 1000 units from the origin.
    offset = 1000.0 if metric == "euclidean" else 10.0
    X = (offset + rng.normal(size=(200, 16))).astype(np.float32)
    Y = (offset + rng.normal(size=(3000, 16))).astype(np.float32)
    _assert_matches_reference(X, Y, 10, metric, 1e-5)


@pytest.mark.parametrize("metric", ["euclidean", "cosine"])
def test_values_beyond_float32_range(metric, rng):
    # float32 screening keys would overflow: such searches run exhaustively in float64
    X, Y = rng.normal(size=(10, 3)) * 1e25, rng.normal(size=(60, 3)) * 1e25
    _assert_matches_reference(X, Y, 4, metric, 1e-9)


@pytest.mark.parametrize("metric", ["hamming", "jaccard"])
def test_boolean_metrics_on_packed_bits(metric, rng):
    X = rng.random((40, 70)) < 0.3
    Y = rng.random((500, 70)) < 0.3
    _assert_matches_reference(X, Y, 7, metric, 1e-12)


def test_ties_go_to_the_lower_index(rng, dtype):
    base = rng.normal(size=(30, 4)).astype(dtype)
    Y = np.concatenate([base, base, base])  # every point three times
    X = base[:10] + dtype(1e-3)
    dist, ind = argkmin(X, Y, 6, metric="euclidean")
    ref_dist, ref_ind = _reference(X, Y, 6, "euclidean")
    assert_array_equal(ind, ref_ind)
    equal_dist = dist[:, 1:] == dist[:, :-1]
    assert equal_dist.any() and np.all(ind[:, 1:][equal_dist] > ind[:, :-1][equal_dist])


def test_thread_count_and_chunking_do_not_change_results(rng, dtype):
    X = rng.normal(size=(300, 9)).astype(dtype)
    Y = rng.normal(size=(20000, 9)).astype(dtype)
    expected = argkmin(X, Y, 8, metric="euclidean", n_jobs=1)
    for n_jobs in (2, 3):
        got = argkmin(X, Y, 8, metric="euclidean", n_jobs=n_jobs)
        assert_array_equal(got[1], expected[1])
        assert_array_equal(got[0], expected[0])
    few = argkmin(X[:2], Y, 8, metric="euclidean", n_jobs=2)  # training segments per query
    assert_array_equal(few[1], expected[1][:2])
    with config_context(working_memory=1):  # many small query chunks
        chunked = argkmin(X, Y, 8, metric="euclidean")
    assert_array_equal(chunked[1], expected[1])


def test_read_only_fortran_and_mixed_inputs(rng):
    X = np.asfortranarray(rng.normal(size=(20, 6)))
    Y = rng.normal(size=(100, 6))
    Y.setflags(write=False)
    dist, ind = argkmin(X, Y, 4)
    ref_dist, ref_ind = _reference(X, Y, 4, "euclidean")
    assert_array_equal(ind, ref_ind)
    dist32, ind32 = argkmin(X.astype(np.float32), Y, 4)  # mixed dtypes run in float64
    assert dist32.dtype == np.float64
    assert_array_equal(ind32, reference.kneighbors(X.astype(np.float32).astype(np.float64), Y,
                                                   4)[1])


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_sparse_input_matches_dense(metric, rng):
    X = sparse.random(30, 40, density=0.2, format="csr", random_state=0)
    Y = sparse.random(200, 40, density=0.2, format="csr", random_state=1)
    dist, ind = argkmin(X, Y, 5, metric=metric)
    ref_dist, ref_ind = _reference(X.toarray(), Y.toarray(), 5, metric)
    assert_array_equal(ind, ref_ind)
    assert_relative_close(dist, ref_dist, 1e-7, atol=1e-7)


def test_other_metrics_and_callables_use_scikit_learn_distances(rng):
    X, Y = rng.random((15, 5)), rng.random((80, 5))
    for metric in ("braycurtis", lambda a, b: np.abs(a - b).sum()):
        D = sklearn_pairwise_distances(X, Y, metric=metric)
        dist, ind = argkmin(X, Y, 3, metric=metric)
        expected = np.argsort(D, axis=1, kind="stable")[:, :3]
        assert_array_equal(ind, expected)
        assert_relative_close(dist, np.take_along_axis(D, expected, axis=1), 1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine", "braycurtis"])
def test_radius_neighbors_matches_reference(metric, rng, dtype):
    X = rng.normal(size=(25, 4)).astype(dtype)
    Y = rng.normal(size=(300, 4)).astype(dtype)
    radius = {"euclidean": 1.0, "manhattan": 1.5, "cosine": 0.1, "braycurtis": 0.5}[metric]
    dist, ind = radius_neighbors(X, Y, radius, metric=metric, sort_results=True)
    if metric == "braycurtis":
        D = sklearn_pairwise_distances(X.astype(np.float64), Y.astype(np.float64), metric=metric)
        ref_ind = [np.flatnonzero(row <= radius) for row in D]
        ref_ind = [i[np.argsort(D[q, i], kind="stable")] for q, i in enumerate(ref_ind)]
    else:
        _, ref_ind = reference.radius_neighbors(X.astype(np.float64), Y.astype(np.float64),
                                                radius, metric=metric)
    assert sum(len(i) for i in ind) > 0
    for got, expected, d in zip(ind, ref_ind, dist):
        assert_array_equal(got, expected)
        assert np.all(d <= radius) and np.all(np.diff(d) >= 0)
    unsorted = radius_neighbors(X, Y, radius, metric=metric, return_distance=False)
    for got, expected in zip(unsorted, ref_ind):
        assert_array_equal(got, np.sort(expected))


def test_bad_input_is_rejected_with_a_clear_error(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(10, 3))
    with pytest.raises(ValueError, match="k must be between 1 and the number of samples"):
        argkmin(X, Y, 11)
    with pytest.raises(ValueError, match="k must be between 1"):
        argkmin(X, Y, 0)
    with pytest.raises(ValueError, match="NaN"):
        argkmin(np.where(X > 1, np.nan, X), Y, 2)
    with pytest.raises(ValueError, match="infinity"):
        argkmin(X, np.where(Y > 1, np.inf, Y), 2)
    with pytest.raises(ValueError, match="Incompatible dimension"):
        argkmin(X[:, :2], Y, 2)
    with pytest.raises(ValueError, match="0 sample"):
        argkmin(X[:0], Y, 2)
    with pytest.raises(ValueError, match="'metric' parameter .* Got 'nonsense'"):
        argkmin(X, Y, 2, metric="nonsense")


def test_compiled_entry_points_check_their_arguments(rng):
    from fastml.metrics import _pairwise_fast

    X, Y = rng.normal(size=(4, 3)), rng.normal(size=(6, 3))
    aux_x, aux_y = np.ones(4), np.ones(6)
    dist, ind = np.empty((4, 2)), np.empty((4, 2), dtype=np.int64)
    with pytest.raises(ValueError, match="k must be in"):
        _pairwise_fast.argkmin(X, Y, "euclidean", aux_x, aux_y, 2.0, 7, dist, ind, 1)
    with pytest.raises(ValueError, match="outputs must have shape"):
        _pairwise_fast.argkmin(X, Y, "euclidean", aux_x, aux_y, 2.0, 3, dist, ind, 1)
    with pytest.raises(ValueError, match="one value per row"):
        _pairwise_fast.argkmin(X, Y, "euclidean", aux_x[:2], aux_y, 2.0, 2, dist, ind, 1)
    with pytest.raises(ValueError, match="same, nonzero width"):
        _pairwise_fast.argkmin(X, np.ascontiguousarray(Y[:, :2]), "manhattan", aux_x, aux_y, 2.0,
                               2, dist, ind, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _pairwise_fast.argkmin(X, Y, "manhattan", aux_x, aux_y, 2.0, 2, dist, ind, 0)


def _resident_bytes():
    return int(open("/proc/self/statm").read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"),
                    reason="reads the resident memory from Linux's /proc")
def test_repeated_searches_do_not_leak_memory(rng):
    # Each search mallocs per-thread workspaces and candidate heaps in compiled code, which
    # tracemalloc cannot see: a leak of them would grow the resident memory by tens of MiB here.
    X, Y = rng.normal(size=(50, 8)), rng.normal(size=(2000, 8))
    Xb, Yb = X > 0, Y > 0

    def searches():
        argkmin(X, Y, 5)
        argkmin(X, Y, 5, metric="manhattan")
        argkmin(Xb, Yb, 5, metric="jaccard")

    for _ in range(20):
        searches()
    before = _resident_bytes()
    for _ in range(300):
        searches()
    assert _resident_bytes() - before < 8 * 2**20
