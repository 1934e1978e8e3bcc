"""fastml.metrics.pairwise_distances against the NumPy reference and scikit-learn."""
import os
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.datasets import load_digits, load_iris, load_wine
from sklearn.exceptions import DataConversionWarning
from sklearn.metrics import pairwise_distances as sklearn_pairwise_distances

import fastml
from fastml.metrics import PAIRWISE_DISTANCE_METRICS, pairwise_distances, pairwise_distances_chunked
from fastml.metrics import _pairwise_fast
from fastml.reference import distances as reference
from tests._assertions import assert_relative_close

NUMERIC_METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "cosine",
                   "hamming"]
BOOLEAN_METRICS = ["hamming", "jaccard", "matching"]
# Guaranteed relative accuracy against the float64 reference, by input dtype.
RTOL = {np.float32: 1e-5, np.float64: 1e-9}
SHAPES = [  # (n_X, n_Y, n_features): single rows/columns and every block/chunk boundary
    (1, 1, 1), (1, 9, 3), (9, 1, 3), (7, 5, 1), (33, 40, 17), (65, 70, 31), (20, 35, 32),
    (17, 3, 33), (40, 41, 64), (9, 33, 65), (3, 70, 130)]


def _kwds(metric):
    return {"p": 3} if metric == "minkowski" else {}


def _reference(X, Y, metric):
    X = np.asarray(X, dtype=np.float64) if np.asarray(X).dtype != bool else X
    Y = None if Y is None else (np.asarray(Y, dtype=np.float64) if np.asarray(Y).dtype != bool
                                else Y)
    return reference.pairwise_distances(X, Y, metric, p=3.0)


@pytest.mark.parametrize("metric", NUMERIC_METRICS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_matches_reference(metric, shape, dtype, rng):
    n_x, n_y, dim = shape
    X = rng.normal(size=(n_x, dim)).astype(dtype)
    Y = rng.normal(size=(n_y, dim)).astype(dtype)
    if metric == "hamming":  # make equal coordinates common
        X, Y = np.round(X), np.round(Y)
    D = pairwise_distances(X, Y, metric=metric, **_kwds(metric))
    assert D.dtype == dtype and D.shape == (n_x, n_y)
    assert_relative_close(D, _reference(X, Y, metric), RTOL[dtype])


@pytest.mark.parametrize("metric", NUMERIC_METRICS)
def test_y_none_is_x_with_zero_diagonal(metric, dtype, rng):
    X = rng.normal(size=(50, 12)).astype(dtype)
    D = pairwise_distances(X, metric=metric, **_kwds(metric))
    assert_array_equal(np.diag(D), 0)
    assert_relative_close(D, _reference(X, None, metric), RTOL[dtype])
    assert_array_equal(D, pairwise_distances(X, X.copy(), metric=metric, **_kwds(metric)))


@pytest.mark.parametrize("layout", ["fortran", "strided", "readonly_memmap"])
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
def test_input_layouts(layout, metric, dtype, rng, tmp_path):
    X = rng.normal(size=(40, 24)).astype(dtype)
    Y = rng.normal(size=(30, 24)).astype(dtype)
    expected = pairwise_distances(X, Y, metric=metric)
    if layout == "fortran":
        Xl, Yl = np.asfortranarray(X), np.asfortranarray(Y)
    elif layout == "strided":
        Xl = np.repeat(X, 2, axis=1)[:, ::2]
        Yl = np.repeat(Y, 2, axis=0)[::2]
        assert not Xl.flags.c_contiguous and not Yl.flags.c_contiguous
    else:
        path = tmp_path / "x.dat"
        np.asarray(X).tofile(path)
        Xl = np.memmap(path, dtype=dtype, mode="r", shape=X.shape)
        Yl = Y.copy()
        Yl.flags.writeable = False
    assert_array_equal(pairwise_distances(Xl, Yl, metric=metric), expected)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine"])
def test_accuracy_for_nearly_equal_points(metric, dtype, rng):
    # Points far from the origin and close to each other: the dot-product form loses every digit
    # here, so the kernels must notice and recompute.
    base = 1000.0 + rng.normal(size=(1, 16))
    X = (base + 1e-3 * rng.normal(size=(30, 16))).astype(dtype)
    Y = (base + 1e-3 * rng.normal(size=(25, 16))).astype(dtype)
    D = pairwise_distances(X, Y, metric=metric)
    assert_relative_close(D, _reference(X, Y, metric), RTOL[dtype])


def test_cosine_accuracy_for_nearly_parallel_vectors(dtype, rng):
    X = rng.normal(size=(20, 40))
    Y = np.vstack([X * 3.0 + 1e-4 * rng.normal(size=X.shape), rng.normal(size=(5, 40))])
    X, Y = X.astype(dtype), Y.astype(dtype)
    D = pairwise_distances(X, Y, metric="cosine")
    expected = _reference(X, Y, "cosine")
    assert expected[:, :20].diagonal().max() < 1e-6  # the hard, nearly parallel pairs
    assert_relative_close(D, expected, RTOL[dtype])


def test_cosine_all_zero_rows_like_scikit_learn(dtype):
    X = np.array([[0.0, 0.0], [1.0, 2.0], [0.0, 0.0]], dtype=dtype)
    Y = np.array([[3.0, 1.0], [0.0, 0.0]], dtype=dtype)
    np.testing.assert_allclose(pairwise_distances(X, Y, metric="cosine"),
                               sklearn_pairwise_distances(X, Y, metric="cosine"), rtol=1e-6)
    assert_array_equal(pairwise_distances(X, metric="cosine"), [[0, 1, 1], [1, 0, 1], [1, 1, 0]])


@pytest.mark.parametrize("dim", [64, 130])  # results kept in float32 / float64 for float32 data
def test_cosine_all_zero_rows_inside_blocks(dim, dtype, rng):
    X = rng.normal(size=(40, dim)).astype(dtype)
    Y = rng.normal(size=(70, dim)).astype(dtype)
    X[[0, 13, 39]] = 0.0
    Y[[5, 33, 69]] = 0.0
    D = pairwise_distances(X, Y, metric="cosine")
    assert_array_equal(D[[0, 13, 39]], 1.0)
    assert_array_equal(D[:, [5, 33, 69]], 1.0)
    assert_relative_close(D, _reference(X, Y, "cosine"), RTOL[dtype])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "cosine"])
def test_float32_beyond_safe_magnitude_is_computed_in_float64(metric, rng):
    X = (rng.normal(size=(10, 8)) * 1e30).astype(np.float32)
    Y = (rng.normal(size=(12, 8)) * 1e30).astype(np.float32)
    D = pairwise_distances(X, Y, metric=metric)
    assert D.dtype == np.float32 and np.isfinite(D).all()
    assert_relative_close(D, _reference(X, Y, metric), 1e-6)


@pytest.mark.parametrize("metric", BOOLEAN_METRICS)
@pytest.mark.parametrize("dim", [1, 7, 63, 64, 65, 130])
def test_boolean_popcount_path(metric, dim, rng):
    X = rng.random((30, dim)) < 0.3
    Y = rng.random((25, dim)) < 0.6
    X[0] = False  # all-zero rows: jaccard is 0 between two of them
    Y[0] = False
    D = pairwise_distances(X, Y, metric=metric)
    assert D.dtype == np.float64
    assert_array_equal(D, reference.pairwise_distances(X, Y, metric))
    assert_array_equal(D, sklearn_pairwise_distances(X, Y, metric=metric))


def test_jaccard_converts_numbers_with_a_warning(rng):
    X = rng.integers(0, 3, size=(10, 20)).astype(np.float32)
    with pytest.warns(DataConversionWarning, match="converted to boolean"):
        D = pairwise_distances(X, metric="jaccard")
    assert D.dtype == np.float32
    assert_array_equal(D, reference.pairwise_distances(X, None, "jaccard").astype(np.float32))


@pytest.mark.parametrize("metric", ["hamming", "matching"])
def test_hamming_on_values_counts_differing_coordinates(metric):
    X = np.array([[1.0, 2.0, 3.0, 4.0]])
    Y = np.array([[1.0, 2.5, 3.0, 0.0], [1.0, 2.0, 3.0, 4.0]])
    assert_array_equal(pairwise_distances(X, Y, metric=metric), [[0.5, 0.0]])


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_digits],
                         ids=["iris", "wine", "digits"])
@pytest.mark.parametrize("metric", PAIRWISE_DISTANCE_METRICS)
def test_matches_scikit_learn_and_reference_on_real_data(loader, metric):
    X = loader().data[:150]
    Y = X[::-1]
    kwds = _kwds(metric)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        expected = sklearn_pairwise_distances(X, Y, metric=metric, **kwds)
        D = pairwise_distances(X, Y, metric=metric, **kwds)
    # scikit-learn's euclidean (dot-product form, no recomputation) is off by up to ~1e-8 of the
    # data's scale for duplicate rows, which these data sets have; the reference holds fastml
    # to 1e-9.
    np.testing.assert_allclose(D, expected, rtol=1e-7, atol=1e-7 * np.abs(expected).max())
    name = {"l1": "manhattan", "cityblock": "manhattan", "l2": "euclidean"}.get(metric, metric)
    assert_relative_close(D, reference.pairwise_distances(X, Y, name, p=3.0), 1e-9)


@pytest.mark.parametrize("metric", ["euclidean", "sqeuclidean", "cosine", "manhattan",
                                    "chebyshev", "jaccard"])
def test_result_independent_of_thread_count(metric, rng):
    X = rng.random((300, 40)) < 0.5 if metric == "jaccard" else rng.normal(size=(300, 40))
    one = pairwise_distances(X, metric=metric, n_jobs=1)
    assert_array_equal(pairwise_distances(X, metric=metric, n_jobs=2), one)
    assert_array_equal(pairwise_distances(X, metric=metric, n_jobs=-1), one)
    with fastml.config_context(n_jobs=3):
        assert_array_equal(pairwise_distances(X, metric=metric), one)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan"])
@pytest.mark.parametrize("n_jobs", [1, 2, 3])
def test_many_tiles_and_panels_match_reference(metric, n_jobs, dtype, rng):
    # 100 features: tiles of 64 (float64) or 160 (float32) rows of X, Y packed 64 or 160 rows at
    # a time, so both are split unevenly; one thread alone gets a single column of tiles.
    X = rng.normal(size=(617, 100)).astype(dtype)
    Y = rng.normal(size=(389, 100)).astype(dtype)
    D = pairwise_distances(X, Y, metric=metric, n_jobs=n_jobs)
    assert_relative_close(D, _reference(X, Y, metric), RTOL[dtype])
    D_few_rows = pairwise_distances(X[:5], Y, metric=metric, n_jobs=n_jobs)  # split along Y
    assert_array_equal(D_few_rows, D[:5])


@pytest.mark.parametrize("X_dtype, Y_dtype, expected", [
    (np.float32, np.float32, np.float32), (np.float32, np.float64, np.float64),
    (np.int64, np.int64, np.float64), (np.int32, np.float32, np.float64),
    (bool, bool, np.float64)])
def test_output_dtype(X_dtype, Y_dtype, expected):
    X = np.ones((3, 4), dtype=X_dtype)
    Y = np.zeros((2, 4), dtype=Y_dtype)
    assert pairwise_distances(X, Y).dtype == expected


@pytest.mark.parametrize("p", [0.5, 1.5, 3, 7.25])
def test_minkowski_any_p(p, rng):
    X, Y = rng.normal(size=(12, 9)), rng.normal(size=(8, 9))
    assert_relative_close(pairwise_distances(X, Y, metric="minkowski", p=p),
                          reference.pairwise_distances(X, Y, "minkowski", p=p), 1e-12)


@pytest.mark.parametrize("p, same_as", [(1, "manhattan"), (2, "euclidean"), (np.inf, "chebyshev")])
def test_minkowski_special_p(p, same_as, rng):
    X, Y = rng.normal(size=(12, 9)), rng.normal(size=(8, 9))
    assert_array_equal(pairwise_distances(X, Y, metric="minkowski", p=p),
                       pairwise_distances(X, Y, metric=same_as))


@pytest.mark.parametrize("alias, metric", [("l2", "euclidean"), ("l1", "manhattan"),
                                           ("cityblock", "manhattan")])
def test_aliases(alias, metric, rng):
    X = rng.normal(size=(5, 3))
    assert_array_equal(pairwise_distances(X, metric=alias), pairwise_distances(X, metric=metric))


def test_callable_sparse_and_precomputed_follow_scikit_learn(rng):
    X, Y = rng.normal(size=(6, 4)), rng.normal(size=(5, 4))

    def l1(a, b):
        return np.abs(a - b).sum()

    assert_array_equal(pairwise_distances(X, Y, metric=l1),
                       sklearn_pairwise_distances(X, Y, metric=l1))
    Xs = sparse.csr_matrix(np.where(X > 0, X, 0))
    np.testing.assert_allclose(pairwise_distances(Xs, metric="cosine"),
                               sklearn_pairwise_distances(Xs, metric="cosine"))
    D = pairwise_distances(X)
    assert_array_equal(pairwise_distances(D, metric="precomputed"), D)


@pytest.mark.parametrize("bad, message", [
    (np.array([[1.0, np.nan]]), "NaN"),
    (np.array([[1.0, np.inf]]), "infinity"),
    (np.ones(3), "Expected 2D array"),
    (np.ones((2, 2, 2)), "dim 3"),
    (np.ones((2, 2), dtype=complex), "Complex data not supported"),
    (np.array([["a", "b"]], dtype=object), "could not convert"),
    (np.empty((0, 2)), "0 sample"),
    (np.empty((2, 0)), "0 feature"),
])
@pytest.mark.parametrize("position", ["X", "Y"])
def test_bad_input_is_rejected(bad, message, position):
    good = np.ones((2, 2))
    X, Y = (bad, good) if position == "X" else (good, bad)
    with pytest.raises(ValueError, match=message):
        pairwise_distances(X, Y)


def test_bad_arguments_are_rejected():
    X, Y = np.ones((3, 2)), np.ones((3, 4))
    with pytest.raises(ValueError, match="Incompatible dimension"):
        pairwise_distances(X, Y)
    with pytest.raises(ValueError, match="Unknown metric 'nope'"):
        pairwise_distances(X, metric="nope")
    with pytest.raises(TypeError, match="metric must be"):
        pairwise_distances(X, metric=3)
    for p in [0, -1, np.nan, True, "2"]:
        with pytest.raises(ValueError, match="minkowski p must be a positive number"):
            pairwise_distances(X, metric="minkowski", p=p)
    with pytest.raises(TypeError, match=r"takes no parameter\(s\) \['p'\]"):
        pairwise_distances(X, metric="euclidean", p=2)
    with pytest.raises(ValueError, match="n_jobs == 0"):
        pairwise_distances(X, n_jobs=0)
    with pytest.raises(TypeError, match="n_jobs must be an int"):
        pairwise_distances(X, n_jobs=1.5)


def test_compiled_core_checks_its_arguments():
    X = np.ones((3, 2))
    out = np.empty((3, 3))
    with pytest.raises(ValueError, match="shape mismatch"):
        _pairwise_fast.dense_distances(X, np.ones((3, 5)), out, "manhattan", np.empty(0),
                                       np.empty(0), 2.0, 1)
    with pytest.raises(ValueError, match="one value per row"):
        _pairwise_fast.dense_distances(X, X, out, "cosine", np.ones(2), np.ones(3), 2.0, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _pairwise_fast.dense_distances(X, X, out, "manhattan", np.empty(0), np.empty(0), 2.0, 0)
    with pytest.raises(ValueError, match="bit-packed"):
        _pairwise_fast.dense_distances(X, X, out, "jaccard", np.empty(0), np.empty(0), 2.0, 1)
    words = np.zeros((3, 1), dtype=np.uint64)
    with pytest.raises(ValueError, match="no boolean kernel"):
        _pairwise_fast.bool_distances(words, words, out, "cosine", 10, 1)
    with pytest.raises(ValueError, match="dim <= 64"):
        _pairwise_fast.bool_distances(words, words, out, "hamming", 65, 1)


@settings(max_examples=60, deadline=None)
@given(n_x=st.integers(1, 20), n_y=st.integers(1, 20), dim=st.integers(1, 70),
       metric=st.sampled_from(NUMERIC_METRICS), float32=st.booleans(), seed=st.integers(0, 2**16))
def test_random_shapes_match_reference(n_x, n_y, dim, metric, float32, seed):
    rng = np.random.default_rng(seed)
    dtype = np.float32 if float32 else np.float64
    X = rng.normal(size=(n_x, dim)).astype(dtype)
    Y = rng.normal(size=(n_y, dim)).astype(dtype)
    D = pairwise_distances(X, Y, metric=metric, **_kwds(metric))
    assert_relative_close(D, _reference(X, Y, metric), RTOL[dtype])


# --- pairwise_distances_chunked ------------------------------------------------------------


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "jaccard"])
def test_chunks_concatenate_to_the_full_matrix(metric, rng):
    X = rng.random((500, 30))
    Y = None if metric == "cosine" else rng.random((300, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataConversionWarning)
        full = pairwise_distances(X, Y, metric=metric)
        # 0.5 MiB holds about 200 rows of 300-500 float64 distances: several chunks
        chunks = list(pairwise_distances_chunked(X, Y, metric=metric, working_memory=0.5))
    assert len(chunks) > 1
    assert_array_equal(np.vstack(chunks), full)


def test_chunked_reduce_func_and_start(rng):
    X = rng.random((400, 10))
    starts = []

    def nearest_other(D, start):
        starts.append(start)
        D = D.copy()
        D[np.arange(len(D)), start + np.arange(len(D))] = np.inf
        return D.argmin(axis=1)

    with fastml.config_context(working_memory=0.5):
        nearest = np.concatenate(list(pairwise_distances_chunked(X, reduce_func=nearest_other)))
    full = pairwise_distances(X)
    np.fill_diagonal(full, np.inf)
    assert_array_equal(nearest, full.argmin(axis=1))
    assert starts[0] == 0 and len(starts) > 1


def test_chunked_rejects_a_reduce_func_of_the_wrong_length(rng):
    with pytest.raises(ValueError, match="reduce_func"):
        next(pairwise_distances_chunked(rng.random((10, 3)), reduce_func=lambda D, s: D[:1]))


def test_chunked_validates_before_the_first_chunk():
    with pytest.raises(ValueError, match="NaN"):
        next(pairwise_distances_chunked(np.array([[np.nan, 1.0]])))


# --- resources ---------------------------------------------------------------------------


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs Linux /proc to read RSS")
@pytest.mark.parametrize("metric", ["euclidean", "cosine", "manhattan", "jaccard"])
def test_repeated_calls_do_not_leak(metric, rng):
    X = rng.random((200, 50)) < 0.5 if metric == "jaccard" else rng.random((200, 50))
    for _ in range(5):
        pairwise_distances(X, metric=metric)
    before = _rss_bytes()
    for _ in range(200):
        pairwise_distances(X, metric=metric)
    assert _rss_bytes() - before < 8 * 2**20
