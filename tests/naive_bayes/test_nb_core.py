"""The naive Bayes core (fastml.naive_bayes._nb_fast) against fastml.reference.naive_bayes on
several shapes, both dtypes, dense and CSR (int32 and int64 indices); identical results for any
thread count; the entry checks."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.utils._array_api import _logsumexp

from fastml.naive_bayes import _nb_fast
from fastml.reference import naive_bayes as reference

SHAPES = [(1, 1, 1), (7, 3, 2), (300, 17, 5), (1100, 40, 20), (600, 9, 37)]  # n, d, classes


def _data(n, d, k, dtype, seed=0, counts=False):
    rng = np.random.default_rng(seed + n + d + k)
    X = (rng.poisson(1.0, size=(n, d)) * (rng.random((n, d)) < 0.3) if counts
         else rng.normal(size=(n, d)) * 3)
    y = rng.integers(0, k, size=n).astype(np.int32)
    w = rng.uniform(0.0, 3.0, size=n)
    return X.astype(dtype), y, w


def _csr(X, index_dtype):
    M = sp.csr_matrix(X)
    return (M.indptr.astype(index_dtype), M.indices.astype(index_dtype), M.data, X.shape[1])


def _normalised(jll, output):
    if output == 0:
        return jll
    with np.errstate(invalid="ignore"):
        log_proba = jll - _logsumexp(jll, axis=1)[:, None]
    return log_proba if output == 1 else np.exp(log_proba)


def _tol(dtype):
    return {"rtol": 1e-12, "atol": 1e-12} if dtype == np.float64 else {"rtol": 1e-6, "atol": 1e-6}


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("layout", ["dense", "csr32", "csr64"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("threshold", [None, 0.5])
def test_count_features_matches_reference(n, d, k, layout, weighted, threshold, dtype):
    X, y, w = _data(n, d, k, dtype, counts=True)
    X = X + (np.random.default_rng(1).random(X.shape) < 0.1) * dtype(0.5)
    w = w if weighted else None
    if layout == "dense":
        cc, fc = _nb_fast.count_features(X, y, w, k, threshold, 2)
    else:
        csr = _csr(X, np.int32 if layout == "csr32" else np.int64)
        cc, fc = _nb_fast.count_features_csr(*csr, y, w, k, threshold, 2)
    ref_cc, ref_fc = reference.count_features(X, y, k, w, threshold)
    assert cc.dtype == fc.dtype == np.float64 and fc.shape == (k, d)
    np.testing.assert_allclose(cc, ref_cc, rtol=1e-12)
    np.testing.assert_allclose(fc, ref_fc, rtol=1e-12, atol=1e-12)


def test_binarize_compares_in_the_data_dtype():
    # 0.1 as float32 is above 0.1 as float64; NumPy compares a float32 array in float32.
    X = np.full((3, 1), 0.1, dtype=np.float32)
    y = np.zeros(3, np.int32)
    assert not (X > 0.1).any() and (X.astype(np.float64) > 0.1).all()
    assert _nb_fast.count_features(X, y, None, 1, 0.1, 1)[1][0, 0] == 0.0
    assert _nb_fast.count_features(X.astype(np.float64), y, None, 1, 0.1, 1)[1][0, 0] == 3.0
    assert _nb_fast.linear_jll(X, np.ones((1, 1)), np.zeros(1), 0.1, 0, 1)[0, 0] == 0.0


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_gaussian_stats_matches_reference(n, d, k, weighted, dtype):
    X, y, w = _data(n, d, k, dtype)
    X = X + dtype(100)  # an offset that a one-pass formula would lose digits to
    w = w if weighted else None
    weight, mean, var = _nb_fast.gaussian_stats(X, y, w, k, 2)
    ref = reference.gaussian_stats(X, y, k, w)
    np.testing.assert_allclose(weight, ref[0], rtol=1e-12)
    np.testing.assert_allclose(mean, ref[1], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(var, ref[2], rtol=1e-9, atol=1e-10)
    # All rows as one class.
    total = _nb_fast.gaussian_stats(X, None, None, 1, 2)
    np.testing.assert_allclose(total[2][0], X.astype(np.float64).var(axis=0), rtol=1e-9,
                               atol=1e-10)


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_count_categories_matches_reference(n, d, k, weighted):
    rng = np.random.default_rng(n + d)
    n_categories = rng.integers(1, 6, size=d)
    X = (rng.random((n, d)) * n_categories).astype(np.int64)
    y = rng.integers(0, k, size=n).astype(np.int32)
    w = rng.uniform(0, 2, size=n) if weighted else None
    cc, counts = _nb_fast.count_categories(X, y, w, k, n_categories.astype(np.int64), 2)
    ref_cc, ref_counts = reference.count_categories(X, y, k, n_categories, w)
    np.testing.assert_allclose(cc, ref_cc, rtol=1e-12)
    np.testing.assert_allclose(counts, np.concatenate(ref_counts, axis=1), rtol=1e-12,
                               atol=1e-12)


@pytest.mark.parametrize("n,d,k", SHAPES + [(50, 6, 3), (50, 6, 4), (64, 5, 33)])
@pytest.mark.parametrize("layout", ["dense", "csr32", "csr64"])
@pytest.mark.parametrize("output", [0, 1, 2], ids=["joint", "log_proba", "proba"])
def test_linear_jll_matches_reference(n, d, k, layout, output, dtype):
    X, _, _ = _data(n, d, k, dtype, counts=True)
    rng = np.random.default_rng(k)
    coef = np.log(rng.uniform(0.01, 1, size=(k, d))) * 3
    bias = np.log(rng.uniform(0.01, 1, size=k))
    threshold = 0.5 if output == 1 else None
    if layout == "dense":
        out = _nb_fast.linear_jll(X, coef, bias, threshold, output, 2)
    else:
        csr = _csr(X, np.int32 if layout == "csr32" else np.int64)
        out = _nb_fast.linear_jll_csr(*csr, coef, bias, threshold, output, 2)
    expected = _normalised(reference.linear_jll(X, coef, bias, threshold), output)
    assert out.dtype == np.float64 and out.shape == (n, k)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("output", [0, 1, 2], ids=["joint", "log_proba", "proba"])
def test_gaussian_jll_matches_reference(n, d, k, output, dtype):
    X, _, _ = _data(n, d, k, dtype)
    rng = np.random.default_rng(k)
    theta, var = rng.normal(size=(k, d)), rng.uniform(0.5, 4, size=(k, d))
    prior = rng.uniform(0.1, 1, size=k)
    prior /= prior.sum()
    constant = -0.5 * np.log(2 * np.pi * var).sum(axis=1)
    out = _nb_fast.gaussian_jll(X, theta, var, constant, np.log(prior), output, 2)
    expected = _normalised(reference.gaussian_jll(X, theta, var, prior), output)
    np.testing.assert_allclose(out, expected, rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("n,d,k", SHAPES)
@pytest.mark.parametrize("output", [0, 1, 2], ids=["joint", "log_proba", "proba"])
def test_categorical_jll_matches_reference(n, d, k, output):
    rng = np.random.default_rng(n + k)
    n_categories = rng.integers(1, 6, size=d)
    X = (rng.random((n, d)) * n_categories).astype(np.int64)
    log_prob = [np.log(rng.uniform(0.01, 1, size=(k, c))) for c in n_categories]
    prior = np.log(rng.uniform(0.01, 1, size=k))
    out = _nb_fast.categorical_jll(X, np.ascontiguousarray(np.concatenate([p.T for p in log_prob])),
                                   n_categories.astype(np.int64), prior, output, 2)
    expected = _normalised(reference.categorical_jll(X, log_prob, prior), output)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("k", [1, 2, 5, 8, 20, 33, 70])
@pytest.mark.parametrize("output", [1, 2], ids=["log_proba", "proba"])
def test_normalize_rows_as_sklearn_logsumexp(k, output):
    rng = np.random.default_rng(k)
    jll = rng.normal(size=(40, k)) * 300  # differences that underflow exp, and subnormal ones
    jll[1] = -np.inf
    jll[2, 0] = np.inf
    jll[3, -1] = np.nan
    jll[4] = 5.0  # every class tied
    jll[5, : (k + 1) // 2] = jll[5].max()
    jll[6] = [-710.0 - c for c in range(k)] if k > 1 else [-1.0]  # exp of the gaps subnormal
    jll[6, 0] = 0.0
    out = jll.copy()
    _nb_fast.normalize_rows(out, output, 2)
    np.testing.assert_allclose(out, _normalised(jll, output), rtol=1e-12, atol=1e-300,
                               equal_nan=True)


def test_exp_is_accurate_and_subnormals_are_kept():
    # Two classes at every gap from 0 to -750: the smaller probability is exp(-gap) / (1 + ...).
    gaps = np.concatenate([np.linspace(0, 50, 2001), np.linspace(700, 750, 2001)])
    jll = np.stack([np.zeros_like(gaps), -gaps], axis=1)
    out = jll.copy()
    _nb_fast.normalize_rows(out, 2, 1)
    expected = np.exp(-gaps) / (1 + np.exp(-gaps))
    np.testing.assert_allclose(out[:, 1], expected, rtol=1e-15, atol=0)
    assert (out[(gaps > 708.5) & (gaps < 744.0), 1] > 0).all()
    assert out[gaps > 745.2, 1].max() == 0.0


def test_results_do_not_depend_on_thread_count(dtype):
    X, y, w = _data(5000, 30, 7, dtype, counts=True)
    csr = _csr(X, np.int32)
    coef = np.log(np.random.default_rng(0).uniform(0.01, 1, size=(7, 30)))
    bias = np.zeros(7)
    calls = [
        lambda t: _nb_fast.count_features(X, y, w, 7, None, t),
        lambda t: _nb_fast.count_features_csr(*csr, y, w, 7, 0.5, t),
        lambda t: _nb_fast.gaussian_stats(X, y, w, 7, t),
        lambda t: (_nb_fast.linear_jll(X, coef, bias, None, 2, t),),
        lambda t: (_nb_fast.linear_jll_csr(*csr, coef, bias, None, 1, t),),
    ]
    for call in calls:
        one = call(1)
        for threads in (2, 3):
            for a, b in zip(one, call(threads)):
                np.testing.assert_array_equal(a, b)


def test_entry_checks():
    X = np.zeros((4, 3))
    y = np.zeros(4, np.int32)
    with pytest.raises(ValueError, match="y must lie"):
        _nb_fast.count_features(X, np.array([0, 1, 2, 3], np.int32), None, 3, None, 1)
    with pytest.raises(ValueError, match="sample_weight has the wrong shape"):
        _nb_fast.count_features(X, y, np.ones(3), 1, None, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _nb_fast.count_features(X, y, None, 1, None, 0)
    with pytest.raises(ValueError, match="column indices"):
        _nb_fast.count_features_csr(np.array([0, 1, 1, 1, 1], np.int32), np.array([3], np.int32),
                                    np.ones(1), 3, y, None, 1, None, 1)
    with pytest.raises(ValueError, match="indptr must not decrease"):
        _nb_fast.linear_jll_csr(np.array([0, 2, 1, 2, 2], np.int64), np.array([0, 1], np.int64),
                                np.ones(2), 3, np.zeros((1, 3)), np.zeros(1), None, 0, 1)
    with pytest.raises(ValueError, match="coef must have shape"):
        _nb_fast.linear_jll(X, np.zeros((2, 4)), np.zeros(2), None, 0, 1)
    with pytest.raises(ValueError, match="output must be"):
        _nb_fast.linear_jll(X, np.zeros((2, 3)), np.zeros(2), None, 3, 1)
    with pytest.raises(ValueError, match="without y"):
        _nb_fast.gaussian_stats(X, None, None, 2, 1)
    with pytest.raises(TypeError):  # no conversion: a float32 y is refused, not copied
        _nb_fast.count_features(X, y.astype(np.float32), None, 1, None, 1)
    codes = np.array([[0, 1], [2, 0]], np.int64)
    with pytest.raises(IndexError, match="index 2 is out of bounds for axis 1 with size 2"):
        _nb_fast.categorical_jll(codes, np.zeros((4, 1)), np.array([2, 2], np.int64),
                                 np.zeros(1), 0, 1)
