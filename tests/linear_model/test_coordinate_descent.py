"""Lasso, ElasticNet, lasso_path, enet_path, LassoCV and ElasticNetCV against scikit-learn on its
own data sets: the same optimum at a tight tolerance (same support, coefficients to ~1e-8), the
same attributes and dtypes, the same warnings and errors, dense and sparse X."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes, load_linnerud
from sklearn.exceptions import ConvergenceWarning

import fastml.linear_model as fm

X_DIABETES, Y_DIABETES = load_diabetes(return_X_y=True)
TIGHT = {np.float64: 1e-12, np.float32: 1e-6}


def _data(dtype, sparse=False):
    X, y = X_DIABETES.astype(dtype), Y_DIABETES.astype(dtype)
    if sparse:
        X = X.copy()
        X[np.abs(X) < 0.02] = 0  # a sparse matrix with real zeros
        X = sp.csc_matrix(X)
    return X, y


def _close(a, b, dtype):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(1.0, np.abs(b).max())
    np.testing.assert_allclose(a, b, rtol=0, atol=(1e-8 if dtype == np.float64 else 2e-3) * scale)


def _fit_both(name, X, y, dtype, sample_weight=None, **params):
    params.setdefault("tol", TIGHT[dtype])
    params.setdefault("max_iter", 100000)
    ours = getattr(fm, name)(**params).fit(X, y, sample_weight=sample_weight)
    theirs = getattr(sk, name)(**params).fit(X, y, sample_weight=sample_weight)
    return ours, theirs


CASES = [
    ("Lasso", dict(alpha=0.1)),
    ("Lasso", dict(alpha=0.5, fit_intercept=False)),
    ("Lasso", dict(alpha=0.05, positive=True)),
    ("Lasso", dict(alpha=0.1, selection="random", random_state=0)),
    ("Lasso", dict(alpha=0.1, precompute=True)),
    ("ElasticNet", dict(alpha=0.01, l1_ratio=0.7)),
    ("ElasticNet", dict(alpha=0.02, l1_ratio=0.2, positive=True, fit_intercept=False)),
    ("ElasticNet", dict(alpha=0.01, l1_ratio=0.5, precompute=np.dot(X_DIABETES.T, X_DIABETES),
                        fit_intercept=False)),
]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("name,params", CASES)
def test_estimators_match_scikit_learn(name, params, sparse, weighted, dtype):
    if sparse and hasattr(params.get("precompute"), "shape"):
        pytest.skip("a Gram matrix is for dense X")
    if hasattr(params.get("precompute"), "shape"):
        params = {**params, "precompute": params["precompute"].astype(dtype)}
    X, y = _data(dtype, sparse)
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y)) if weighted else None
    if weighted and hasattr(params.get("precompute"), "shape"):
        pytest.skip("scikit-learn recomputes a given Gram matrix with weights")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        ours, theirs = _fit_both(name, X, y, dtype, sample_weight=sw, **params)
    assert ours.coef_.dtype == theirs.coef_.dtype == dtype
    assert type(ours.intercept_) is type(theirs.intercept_)
    _close(ours.coef_, theirs.coef_, dtype)
    _close(ours.intercept_, theirs.intercept_, dtype)
    if dtype == np.float64:
        np.testing.assert_array_equal(ours.coef_ != 0, theirs.coef_ != 0)
    # converged: the gap (over n_samples) under tol * ||y_centred||^2 / n <= tol * ||y||^2 / n
    assert ours.dual_gap_ <= TIGHT[dtype] * np.dot(y, y) / len(y)
    assert isinstance(ours.n_iter_, int) and ours.n_iter_ >= 1
    if params.get("selection") == "random" and not sparse:
        assert ours.n_iter_ == theirs.n_iter_  # scikit-learn's sweeps and random stream
    _close(ours.predict(X), theirs.predict(X), dtype)
    assert ours.sparse_coef_.shape == theirs.sparse_coef_.shape
    assert ours.n_features_in_ == 10


def test_multi_target_and_warm_start():
    X, Y = load_linnerud(return_X_y=True)
    ours, theirs = _fit_both("ElasticNet", X, Y, np.float64, alpha=1.0, l1_ratio=0.5)
    _close(ours.coef_, theirs.coef_, np.float64)
    _close(ours.intercept_, theirs.intercept_, np.float64)
    assert ours.coef_.shape == (3, 3) and len(ours.n_iter_) == 3
    # warm start: the second fit starts at the first's optimum and stops at once
    model = fm.Lasso(alpha=0.1, warm_start=True, tol=1e-10).fit(X_DIABETES, Y_DIABETES)
    first = model.coef_.copy()
    model.fit(X_DIABETES, Y_DIABETES)
    assert model.n_iter_ <= 1
    _close(model.coef_, first, np.float64)


@pytest.mark.parametrize("order", ["C", "F"])
def test_input_left_alone_and_orders(order):
    X = np.array(X_DIABETES, order=order)
    X.setflags(write=False)
    before = X.copy()
    ours = fm.Lasso(alpha=0.1, tol=1e-12).fit(X, Y_DIABETES)
    np.testing.assert_array_equal(X, before)
    theirs = sk.Lasso(alpha=0.1, tol=1e-12).fit(X_DIABETES, Y_DIABETES)
    _close(ours.coef_, theirs.coef_, np.float64)
    again = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(again.predict(X), ours.predict(X))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("precompute", ["auto", False, True])
def test_paths_match_scikit_learn(precompute, sparse, dtype):
    if sparse and precompute is True:
        pytest.skip("scikit-learn's sparse path ignores precompute")
    X, y = _data(dtype, sparse)
    X = X - 0 if sparse else X - X.mean(axis=0)
    common = dict(alphas=12, eps=1e-2, precompute=precompute, tol=TIGHT[dtype], max_iter=100000,
                  return_n_iter=True)
    for ours_fn, theirs_fn, extra in ((fm.lasso_path, sk.lasso_path, {}),
                                      (fm.enet_path, sk.enet_path, {"l1_ratio": 0.6})):
        a_ours, c_ours, g_ours, n_ours = ours_fn(X, y, **common, **extra)
        a_sk, c_sk, g_sk, n_sk = theirs_fn(X, y, **common, **extra)
        np.testing.assert_allclose(a_ours, a_sk, rtol=1e-12 if dtype == np.float64 else 1e-5)
        assert c_ours.shape == c_sk.shape == (10, 12) and c_ours.dtype == c_sk.dtype
        for k in range(12):
            _close(c_ours[:, k], c_sk[:, k], dtype)
        assert len(n_ours) == 12 and g_ours.shape == (12,)
    # explicit alphas in any order, a warm start and Xy
    alphas = [0.5, 5.0, 0.05]
    Xy = X.T @ y
    kw = dict(alphas=alphas, coef_init=np.ones(10, dtype=dtype), tol=TIGHT[dtype],
              max_iter=100000, positive=True)
    if not sparse:
        kw["Xy"] = Xy
    a_ours, c_ours, _ = fm.lasso_path(X, y, **kw)
    a_sk, c_sk, _ = sk.lasso_path(X, y, **kw)
    np.testing.assert_array_equal(a_ours, a_sk)
    _close(c_ours, c_sk, dtype)


def test_path_errors_and_warnings_as_scikit_learn():
    X, y = X_DIABETES - X_DIABETES.mean(axis=0), Y_DIABETES
    with pytest.raises(ValueError, match="selection should be either random or cyclic"):
        fm.lasso_path(X, y, alphas=3, selection="bogus")
    with pytest.raises(ValueError, match="Unexpected parameters"):
        fm.enet_path(X, y, alphas=3, bogus=1)
    with pytest.warns(FutureWarning, match="'n_alphas' was deprecated"):
        fm.lasso_path(X, y, n_alphas=3)
    with pytest.warns(FutureWarning, match="'alphas=None' is deprecated"):
        fm.lasso_path(X, y, alphas=None)
    with pytest.warns(ConvergenceWarning, match="Objective did not converge"):
        fm.Lasso(alpha=0.01, max_iter=1, tol=1e-12).fit(X, y)
    with pytest.warns(UserWarning, match="With alpha=0"):
        fm.ElasticNet(alpha=0, max_iter=20, tol=1e-3).fit(X, y)


@pytest.mark.parametrize("name,params", [("Lasso", dict(alpha=-1.0)),
                                         ("ElasticNet", dict(l1_ratio=1.5)),
                                         ("Lasso", dict(selection="bogus")),
                                         ("LassoCV", dict(eps=-1.0))])
def test_bad_parameters_raise_as_scikit_learn(name, params):
    for module in (fm, sk):
        with pytest.raises(ValueError) as info:
            getattr(module, name)(**params).fit(X_DIABETES, Y_DIABETES)
        message = str(info.value)
    with pytest.raises(type(info.value), match="must be"):
        getattr(fm, name)(**params).fit(X_DIABETES, Y_DIABETES)
    assert message


def test_bad_data_raises_as_scikit_learn():
    X = X_DIABETES.copy()
    X[3, 2] = np.nan
    for module in (fm, sk):
        with pytest.raises(ValueError, match="NaN"):
            module.Lasso().fit(X, Y_DIABETES)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            module.Lasso().fit(X_DIABETES, Y_DIABETES[:-1])


@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("name,params", [("LassoCV", dict()),
                                         ("ElasticNetCV", dict(l1_ratio=[0.2, 0.8])),
                                         ("LassoCV", dict(precompute=False, n_jobs=2))])
def test_cross_validation_matches_scikit_learn(name, params, sparse):
    X, y = _data(np.float64, sparse)
    ours, theirs = (getattr(m, name)(cv=3, alphas=15, tol=1e-10, max_iter=100000, **params)
                    .fit(X, y) for m in (fm, sk))
    assert ours.alpha_ == theirs.alpha_
    assert getattr(ours, "l1_ratio_", None) == getattr(theirs, "l1_ratio_", None)
    np.testing.assert_allclose(ours.alphas_, theirs.alphas_)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-7)
    _close(ours.coef_, theirs.coef_, np.float64)
    _close(ours.intercept_, theirs.intercept_, np.float64)
    assert type(ours._get_estimator()).__module__.startswith("fastml.")
