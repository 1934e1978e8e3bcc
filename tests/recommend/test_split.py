"""fastml.recommend train_test_split: a per-user random hold-out."""
import math

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse

from fastml.recommend._split import train_test_split


def _interactions(seed=0, n_users=60, n_items=30, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sparse.random(n_users, n_items, density=0.2, format="csr", dtype=dtype, random_state=rng)
    X.data[:] = rng.integers(1, 5, size=X.nnz)
    # Users with 0 and 1 interactions, to check the edge cases.
    X = X.tolil()
    X[0, :] = 0
    X[1, :] = 0
    X[1, 3] = 2
    return X.tocsr()


def _same(A, B):
    return (A != B).nnz == 0


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo", "lil"])
@pytest.mark.parametrize("test_size", [0.2, 0.5, 0.9])
def test_partition(fmt, test_size):
    X = _interactions()
    X_train, X_test = train_test_split(X.asformat(fmt), test_size=test_size, random_state=0)
    for part in (X_train, X_test):
        assert part.format == "csr"
        assert part.shape == X.shape
        assert part.dtype == X.dtype
        assert part.has_canonical_format
    assert X_train.multiply(X_test).nnz == 0  # disjoint
    assert X_train.nnz + X_test.nnz == X.nnz
    assert _same(X_train + X_test, X)


@pytest.mark.parametrize("test_size", [0.2, 0.5, 0.9, 0.99])
def test_per_user_counts(test_size):
    X = _interactions()
    X_train, X_test = train_test_split(X, test_size=test_size, random_state=1)
    n = np.diff(X.indptr)
    expected_test = [min(math.floor(test_size * c), max(c - 1, 0)) for c in n]
    assert_array_equal(np.diff(X_test.indptr), expected_test)
    assert_array_equal(np.diff(X_train.indptr), n - expected_test)
    assert np.all(np.diff(X_train.indptr)[n > 0] >= 1)  # at least one kept in train
    assert X_train[1, 3] == 2 and X_test[1].nnz == 0  # a single interaction stays in train
    assert X_train[0].nnz == 0 and X_test[0].nnz == 0


def test_duplicates_summed_and_zeros_dropped():
    X = sparse.coo_matrix(([1, 2, 0, 5, 1, 1], ([0, 0, 0, 1, 1, 1], [1, 1, 2, 0, 1, 2])),
                          shape=(2, 3))
    X_train, X_test = train_test_split(X, test_size=0.5, random_state=0)
    assert X_train[0, 1] == 3 and X_train[0].nnz == 1  # 1 + 2 summed; the stored zero dropped
    assert X_test[0].nnz == 0  # floor(0.5 * 1) = 0
    assert X_test[1].nnz == 1 and X_train[1].nnz == 2  # floor(0.5 * 3) = 1
    assert _same(X_train + X_test, X.tocsr())


def test_int_dtype_and_sparse_array():
    X = sparse.csr_array(_interactions().astype(np.int32))
    X_train, X_test = train_test_split(X, test_size=0.3, random_state=0)
    assert isinstance(X_train, sparse.csr_array) and isinstance(X_test, sparse.csr_array)
    assert X_train.dtype == np.int32 and X_test.dtype == np.int32
    assert _same(X_train + X_test, X)


def test_input_not_modified():
    X = sparse.csr_matrix(([1.0, 0.0, 2.0], [0, 1, 2], [0, 3]), shape=(1, 3))
    train_test_split(X, test_size=0.5, random_state=0)
    assert X.nnz == 3


def test_deterministic_for_int_seed():
    X = _interactions()
    a_train, a_test = train_test_split(X, test_size=0.3, random_state=42)
    b_train, b_test = train_test_split(X, test_size=0.3, random_state=42)
    assert _same(a_train, b_train) and _same(a_test, b_test)
    c_train, c_test = train_test_split(X, test_size=0.3, random_state=np.random.RandomState(42))
    assert _same(a_test, c_test)  # an int seeds a RandomState, as in scikit-learn


def test_different_seeds_differ():
    X = _interactions()
    tests = [train_test_split(X, test_size=0.3, random_state=s)[1] for s in range(3)]
    assert not _same(tests[0], tests[1]) and not _same(tests[1], tests[2])
    # Generators are used as given.
    g_test = train_test_split(X, test_size=0.3, random_state=np.random.default_rng(0))[1]
    g_test2 = train_test_split(X, test_size=0.3, random_state=np.random.default_rng(0))[1]
    assert _same(g_test, g_test2)
    assert g_test.nnz == tests[0].nnz


def test_uniform_choice():
    # One user with 4 interactions, 1 held out: each must be held out about 1/4 of the time.
    X = sparse.csr_matrix(np.ones((1, 4)))
    rng = np.random.default_rng(0)
    held = np.zeros(4)
    for _ in range(4000):
        held += train_test_split(X, test_size=0.25, random_state=rng)[1].toarray()[0]
    assert held.sum() == 4000
    assert np.all(np.abs(held / 4000 - 0.25) < 0.03)


def test_empty_matrix():
    X_train, X_test = train_test_split(sparse.csr_matrix((3, 4)), random_state=0)
    assert X_train.shape == X_test.shape == (3, 4)
    assert X_train.nnz == X_test.nnz == 0


@pytest.mark.parametrize("test_size", [0, 0.0, 1, 1.0, -0.1, 1.5, True, "0.2", None])
def test_bad_test_size(test_size):
    with pytest.raises(ValueError, match="test_size must be a float in"):
        train_test_split(_interactions(), test_size=test_size)


def test_dense_input_rejected():
    with pytest.raises(TypeError, match="X must be a 2-D scipy.sparse matrix"):
        train_test_split(np.ones((2, 2)))


def test_bad_random_state():
    with pytest.raises(ValueError, match="cannot be used to seed"):
        train_test_split(_interactions(), random_state="seed")
