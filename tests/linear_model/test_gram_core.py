"""The weighted Gram core (fastml._linalg_fast) against fastml.reference.linear on several shapes,
both dtypes, memory orders, weights, dense and CSR (int32 and int64 indices); identical bits for
any thread count; the entry checks."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml import _linalg_fast
from fastml.reference import linear as reference

SHAPES = [(n, d) for n in (1, 3, 1000) for d in (1, 7, 64, 129)]


def _data(n, d, dtype, seed=0, offset=5.0):
    rng = np.random.default_rng(seed + 31 * n + d)
    # A large common offset: centering on the block must not cancel digits.
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3, size=d) + offset
    Y = rng.normal(size=(n, 3)) + X[:, :1] * 0.5
    return X.astype(dtype), Y.astype(dtype), rng.uniform(0.0, 3.0, size=n)


def _tol(X, w, ref):
    # float32 input is converted exactly to float64: only the float64 sums' rounding differs,
    # relative to the entries or to the raw data's scale (an entry that is 0 in exact arithmetic
    # comes out as rounding noise in the reference, or as 0).
    wsum = len(X) if w is None else w.sum()
    return {"rtol": 1e-11,
            "atol": 1e-11 * np.abs(ref).max() + 1e-14 * wsum * np.square(X, dtype=float).max()}


@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("center", [False, True])
def test_dense_gram_matches_reference(n, d, order, weighted, center, dtype):
    X, Y, w = _data(n, d, dtype)
    w = w if weighted else None
    Xo = np.asarray(X, order=order)
    G, mean = _linalg_fast.weighted_gram(Xo, w, center, 2)
    ref_G, ref_mean = reference.weighted_gram(X, w, center)
    assert G.dtype == mean.dtype == np.float64 and G.shape == (d, d) and mean.shape == (d,)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(G, ref_G, **_tol(X, w, ref_G))
    G2, XtY, x_mean, y_mean = _linalg_fast.weighted_gram_xty(Xo, np.asfortranarray(Y), w, center, 2)
    _, ref_XtY, _, ref_y_mean = reference.weighted_gram_xty(X, Y, w, center)
    np.testing.assert_array_equal(G2, G)
    np.testing.assert_array_equal(x_mean, mean)
    np.testing.assert_allclose(y_mean, ref_y_mean, rtol=1e-13, atol=1e-13)
    np.testing.assert_allclose(XtY, ref_XtY, **_tol(X, w, ref_XtY))


def test_centering_does_not_cancel():
    # Spread 1 around 1e8: X^T X - n m m^T would lose every digit; centering per block keeps them.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 5)) + 1e8
    G, _ = _linalg_fast.weighted_gram(X, None, True, 2)
    ref, _ = reference.weighted_gram(X - 1e8, None, True)
    np.testing.assert_allclose(G, ref, rtol=1e-6)
    # Sorted rows: the first rows' mean (the kernel's shift) is far from the mean.
    X = np.sort(rng.normal(size=(3000, 4)) * 10 + 1e6, axis=0)
    G, mean = _linalg_fast.weighted_gram(X, None, True, 2)
    ref, ref_mean = reference.weighted_gram(X - 1e6, None, True)
    np.testing.assert_allclose(G, ref, rtol=1e-9)
    np.testing.assert_allclose(mean, ref_mean + 1e6, rtol=1e-15)


@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("index_dtype", [np.int32, np.int64])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("center", [False, True])
def test_csr_gram_matches_reference(n, d, index_dtype, weighted, center, dtype):
    X, Y, w = _data(n, d, dtype, offset=0.0)
    X[np.random.default_rng(1).random(X.shape) < 0.7] = 0
    w = w if weighted else None
    M = sp.csr_matrix(X)
    args = (M.indptr.astype(index_dtype), M.indices.astype(index_dtype), M.data, d)
    G, mean = _linalg_fast.weighted_gram_csr(*args, w, center, 2)
    ref_G, ref_mean = reference.weighted_gram(X, w, center)
    np.testing.assert_array_equal(G, G.T)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(G, ref_G, rtol=1e-10, atol=1e-11 * (np.abs(ref_G).max() + 1))
    G2, XtY, _, y_mean = _linalg_fast.weighted_gram_xty_csr(*args, Y, w, center, 2)
    _, ref_XtY, _, ref_y_mean = reference.weighted_gram_xty(X, Y, w, center)
    np.testing.assert_array_equal(G2, G)
    np.testing.assert_allclose(y_mean, ref_y_mean, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(XtY, ref_XtY, rtol=1e-10, atol=1e-11 * (np.abs(ref_XtY).max() + 1))


def test_csr_unsorted_and_repeated_indices(dtype):
    # Row 0 stores column 2 twice (the values add up) and its columns out of order.
    indptr = np.array([0, 4, 5, 7])
    indices = np.array([2, 0, 2, 1, 1, 0, 2])
    data = np.array([1.0, 2.0, 3.0, -1.0, 4.0, 5.0, 0.5], dtype=dtype)
    dense = sp.csr_matrix((data, indices, indptr), shape=(3, 3)).toarray()
    for center in (False, True):
        G, _ = _linalg_fast.weighted_gram_csr(indptr, indices, data, 3, None, center, 1)
        np.testing.assert_allclose(G, reference.weighted_gram(dense, None, center)[0], rtol=1e-12)


@pytest.mark.parametrize("kind", ["dense", "csr"])
def test_thread_count_does_not_change_bits(kind, dtype):
    X, Y, w = _data(5000, 40, dtype)
    if kind == "dense":
        results = [_linalg_fast.weighted_gram_xty(X, Y, w, True, k) for k in (1, 2, 3)]
    else:
        X[X < 5.5] = 0
        M = sp.csr_matrix(X)
        results = [_linalg_fast.weighted_gram_xty_csr(M.indptr, M.indices, M.data, 40, Y, w,
                                                      True, k) for k in (1, 2, 3)]
    for other in results[1:]:
        for a, b in zip(results[0], other):
            np.testing.assert_array_equal(a, b)


def test_read_only_and_strided_views(dtype):
    X, Y, w = _data(600, 20, dtype)
    X.setflags(write=False)
    view = X[::2, 3:17]  # neither C nor F contiguous
    G, mean = _linalg_fast.weighted_gram(view, w[::2].copy(), True, 2)
    ref_G, ref_mean = reference.weighted_gram(view, w[::2], True)
    np.testing.assert_allclose(G, ref_G, rtol=1e-11)
    np.testing.assert_allclose(mean, ref_mean, rtol=1e-13)


def test_entry_checks():
    X = np.ones((4, 3))
    with pytest.raises(ValueError, match="sample_weight"):
        _linalg_fast.weighted_gram(X, np.ones(5), True, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _linalg_fast.weighted_gram(X, None, True, 0)
    with pytest.raises(ValueError, match="as many rows"):
        _linalg_fast.weighted_gram_xty(X, np.ones((3, 1)), None, True, 1)
    with pytest.raises(TypeError):  # no conversion: Y must be in X's dtype
        _linalg_fast.weighted_gram_xty(X, np.ones((4, 1), np.float32), None, True, 1)
    with pytest.raises(ValueError, match="column indices"):
        _linalg_fast.weighted_gram_csr(np.array([0, 1]), np.array([3]), np.ones(1), 3, None,
                                       True, 1)
    with pytest.raises(ValueError, match="indptr"):
        _linalg_fast.weighted_gram_csr(np.array([0, 2]), np.array([0]), np.ones(1), 3, None,
                                       True, 1)
