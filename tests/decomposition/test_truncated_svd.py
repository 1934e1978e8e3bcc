"""fastml.decomposition.TruncatedSVD against scikit-learn's and the NumPy reference."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import decomposition as skd
from sklearn.datasets import load_digits

from fastml.decomposition import TruncatedSVD
from fastml.reference import decomposition as reference

pytestmark = pytest.mark.usefixtures("one_thread")


def _tol(dtype):
    # float32: scikit-learn computes in float32 (its products and SVD), fastml sums in float64
    return dict(rtol=1e-3, atol=1e-4) if dtype == np.float32 else dict(rtol=1e-7, atol=1e-10)


def _sparse(dtype, shape=(500, 120), seed=0):
    return sp.random(*shape, density=0.05, format="csr", random_state=seed, dtype=dtype)


def assert_same_svd(ours, theirs, X, dtype):
    tol = _tol(dtype)
    for name in ("components_", "singular_values_", "explained_variance_",
                 "explained_variance_ratio_"):
        a, b = getattr(ours, name), getattr(theirs, name)
        assert a.dtype == b.dtype, name
        scale = max(1.0, float(np.abs(b).max()))
        np.testing.assert_allclose(a / scale, b / scale, err_msg=name, **tol)
    scale = float(np.abs(theirs.transform(X)).max())
    np.testing.assert_allclose(ours.transform(X) / scale, theirs.transform(X) / scale, **tol)


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
@pytest.mark.parametrize("shape", [(500, 120), (120, 500), (300, 9)])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_matches_scikit_learn(algorithm, shape, fmt, dtype):
    X = _sparse(dtype, shape).asformat(fmt)
    kwargs = dict(n_components=8, algorithm=algorithm, random_state=0)
    ours, theirs = TruncatedSVD(**kwargs), skd.TruncatedSVD(**kwargs)
    out_ours, out_theirs = ours.fit_transform(X), theirs.fit_transform(X)
    assert_same_svd(ours, theirs, X, dtype)
    scale = float(np.abs(out_theirs).max())
    np.testing.assert_allclose(out_ours / scale, out_theirs / scale, **_tol(dtype))


@pytest.mark.parametrize("algorithm", ["randomized", "arpack"])
def test_digits_dense_and_sparse(algorithm, dtype):
    X = load_digits().data.astype(dtype)
    for data in (X, sp.csr_matrix(X)):
        kwargs = dict(n_components=10, algorithm=algorithm, random_state=0)
        ours, theirs = TruncatedSVD(**kwargs).fit(data), skd.TruncatedSVD(**kwargs).fit(data)
        assert_same_svd(ours, theirs, data, dtype)


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("n_iter", [0, 1, 7])
def test_randomized_options(normalizer, n_iter):
    X = _sparse(np.float64)
    kwargs = dict(n_components=5, n_iter=n_iter, n_oversamples=4,
                  power_iteration_normalizer=normalizer, random_state=2)
    assert_same_svd(TruncatedSVD(**kwargs).fit(X), skd.TruncatedSVD(**kwargs).fit(X), X,
                    np.float64)


def test_matches_the_exact_reference():
    X = load_digits().data
    ours = TruncatedSVD(6, algorithm="arpack", random_state=0).fit(X)
    components, singular = reference.truncated_svd(X, 6)
    np.testing.assert_allclose(ours.components_, components, atol=1e-8)
    np.testing.assert_allclose(ours.singular_values_, singular, rtol=1e-10)


def test_integer_input_and_thread_count():
    X = sp.random(300, 50, density=0.1, format="csr", random_state=0,
                  data_rvs=lambda n: np.random.default_rng(0).integers(1, 5, n)).astype(np.int64)
    ours = TruncatedSVD(4, random_state=0).fit(X)
    theirs = skd.TruncatedSVD(4, random_state=0).fit(X)
    assert_same_svd(ours, theirs, X, np.float64)
    X = _sparse(np.float64)
    one = TruncatedSVD(4, random_state=0, n_jobs=1).fit(X)
    two = TruncatedSVD(4, random_state=0, n_jobs=2).fit(X)
    np.testing.assert_array_equal(one.components_, two.components_)
    np.testing.assert_array_equal(one.transform(X), two.transform(X))


def test_bad_input_raises_as_scikit_learn():
    X = _sparse(np.float64)
    with pytest.raises(ValueError, match=r"n_components\(200\) must be <= n_features\(120\)"):
        TruncatedSVD(200).fit(X)
    X_nan = load_digits().data[:50].copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TruncatedSVD(2).fit(X_nan)
    assert isinstance(TruncatedSVD(), skd.TruncatedSVD)
