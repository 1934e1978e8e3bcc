"""The CSR x dense core of fastml.decomposition against the NumPy reference."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.decomposition import _decomposition_fast as core
from fastml.reference import decomposition as reference

SHAPES = [(1, 1, 1), (7, 5, 3), (60, 40, 9), (300, 130, 33)]


def _csr(n, d, dtype, index_dtype, seed, density=0.2):
    """A CSR matrix with empty rows, unsorted and repeated column indices (as scipy allows)."""
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, max(2, int(2 * density * d)), n)
    counts[::5] = 0
    indptr = np.concatenate([[0], np.cumsum(counts)]).astype(index_dtype)
    indices = rng.integers(0, d, indptr[-1]).astype(index_dtype)
    data = rng.normal(size=indptr[-1]).astype(dtype)
    return indptr, indices, data


def _tolerance(dtype):
    return dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("n, d, k", SHAPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("transposed", [False, True])
def test_products_match_reference(n, d, k, dtype, index_dtype, transposed):
    """csr_matmat (X @ B) and csr_t_matmat (X^T @ P) against the NumPy reference."""
    indptr, indices, data = _csr(n, d, dtype, index_dtype, seed=n + d)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    B = np.random.default_rng(1).normal(size=(n if transposed else d, k)).astype(dtype)
    if transposed:
        out, expected = (core.csr_t_matmat(indptr, indices, data, d, B, 2),
                         reference.csr_t_matmat(X, B))
    else:
        out, expected = core.csr_matmat(indptr, indices, data, d, B, 2), reference.csr_matmat(X, B)
    assert out.dtype == dtype and out.shape == expected.shape
    np.testing.assert_allclose(out, expected, **_tolerance(dtype))


@pytest.mark.parametrize("n, d, k", SHAPES)
def test_csr_matmat_is_the_same_for_any_thread_count(n, d, k, dtype):
    indptr, indices, data = _csr(n, d, dtype, np.int32, seed=3)
    B = np.random.default_rng(2).normal(size=(d, k)).astype(dtype)
    first = core.csr_matmat(indptr, indices, data, d, B, 1)
    for threads in (2, 3):
        np.testing.assert_array_equal(core.csr_matmat(indptr, indices, data, d, B, threads), first)


@pytest.mark.parametrize("n, d, k", SHAPES)
def test_csr_t_matmat_is_the_gathered_product_for_any_thread_count(n, d, k, dtype):
    """Scattered from X's rows over column ranges, each output row is summed in ascending row of
    X: the bits of the row-parallel product of X's transpose, for any number of threads."""
    indptr, indices, data = _csr(n, d, dtype, np.int64, seed=9)
    P = np.random.default_rng(5).normal(size=(n, k)).astype(dtype)
    gathered = core.csr_matmat(*core.csr_transpose(indptr, indices, data, d), n, P, 1)
    for threads in (1, 2, 3, 7):
        np.testing.assert_array_equal(core.csr_t_matmat(indptr, indices, data, d, P, threads),
                                      gathered)


@pytest.mark.parametrize("n, d, k", SHAPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
def test_csr_transpose_is_the_transposed_matrix(n, d, k, dtype, index_dtype):
    indptr, indices, data = _csr(n, d, dtype, index_dtype, seed=7)
    X = sp.csr_matrix((data, indices, indptr), shape=(n, d))
    indptr_t, indices_t, data_t = core.csr_transpose(indptr, indices, data, d)
    assert indptr_t.dtype == indices_t.dtype == index_dtype and data_t.dtype == dtype
    XT = sp.csr_matrix((data_t, indices_t, indptr_t), shape=(d, n))
    np.testing.assert_array_equal(XT.toarray(), X.T.toarray())
    for j in range(d):  # each transposed row by increasing original row
        assert np.all(np.diff(indices_t[indptr_t[j]:indptr_t[j + 1]]) >= 0)


def test_read_only_input():
    indptr, indices, data = _csr(20, 10, np.float64, np.int32, seed=0)
    B = np.ones((10, 3))
    for a in (indptr, indices, data, B):
        a.setflags(write=False)
    X = sp.csr_matrix((data, indices, indptr), shape=(20, 10))
    np.testing.assert_allclose(core.csr_matmat(indptr, indices, data, 10, B, 2), X @ B)


def test_csr_matmat_into_a_given_buffer():
    indptr, indices, data = _csr(20, 10, np.float64, np.int32, seed=0)
    B = np.random.default_rng(6).normal(size=(10, 3))
    expected = core.csr_matmat(indptr, indices, data, 10, B, 2)
    buffer = np.full((20, 3), np.nan)
    assert core.csr_matmat(indptr, indices, data, 10, B, 2, buffer) is buffer
    np.testing.assert_array_equal(buffer, expected)
    with pytest.raises(ValueError, match="out must be"):
        core.csr_matmat(indptr, indices, data, 10, B, 1, np.empty((19, 3)))
    read_only = np.empty((20, 3))
    read_only.setflags(write=False)
    with pytest.raises(ValueError, match="out must be"):
        core.csr_matmat(indptr, indices, data, 10, B, 1, read_only)
    with pytest.raises(TypeError):  # no conversion: out must be C-contiguous, of X's dtype
        core.csr_matmat(indptr, indices, data, 10, B, 1, np.empty((20, 4))[:, :3])


def test_entry_checks():
    indptr, indices, data = _csr(20, 10, np.float64, np.int32, seed=0)
    B = np.ones((10, 3))
    with pytest.raises(ValueError, match="column indices"):
        core.csr_matmat(indptr, indices, data, 5, np.ones((5, 3)), 1)
    bad = indptr.copy()
    bad[-1] += 1
    with pytest.raises(ValueError, match="indptr"):
        core.csr_matmat(bad, indices, data, 10, B, 1)
    with pytest.raises(ValueError, match="B must have shape"):
        core.csr_matmat(indptr, indices, data, 10, np.ones((9, 3)), 1)
    with pytest.raises(ValueError, match="P must have shape"):
        core.csr_t_matmat(indptr, indices, data, 10, np.ones((19, 3)), 1)
    with pytest.raises(ValueError, match="column indices"):
        core.csr_t_matmat(indptr, indices, data, 5, np.ones((20, 3)), 1)
    with pytest.raises(ValueError, match="n_threads"):
        core.csr_matmat(indptr, indices, data, 10, B, 0)
    with pytest.raises(TypeError):  # no conversion: B must have X's dtype
        core.csr_matmat(indptr, indices, data, 10, B.astype(np.float32), 1)


def test_csr_matmat_by_column_panels(dtype):
    """B wider than the cache is read 32 columns at a time (8 MB panels): the same sums."""
    d = 30_000 if dtype == np.float64 else 60_000  # d x 40 values: 9.6 MB, a 32-column panel 7.7
    indptr, indices, data = _csr(150, d, dtype, np.int32, seed=5, density=0.0005)
    X = sp.csr_matrix((data, indices, indptr), shape=(150, d))
    B = np.random.default_rng(3).normal(size=(d, 40)).astype(dtype)
    out = core.csr_matmat(indptr, indices, data, d, B, 2)
    expected = X.astype(np.float64) @ B.astype(np.float64)
    np.testing.assert_allclose(out, expected, **_tolerance(dtype))
    # the panels hold whole sums: any column subset gives the same bits
    np.testing.assert_array_equal(
        core.csr_matmat(indptr, indices, data, d, np.ascontiguousarray(B[:, 5:9]), 1), out[:, 5:9])
