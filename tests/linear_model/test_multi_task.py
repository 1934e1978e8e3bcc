"""The multi-task block coordinate descent (fastml._cd_fast.enet_path_multitask) against the
NumPy reference and scikit-learn's enet_coordinate_descent_multi_task, and MultiTaskLasso,
MultiTaskElasticNet and their CV versions against scikit-learn's on diabetes and random data."""
import pickle
import warnings

import numpy as np
import pytest
from scipy import sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import _cd_fast as sk_cd

from fastml import _cd_fast
from fastml import linear_model as fm
from fastml.reference import linear_cd as ref

X_DIABETES, _Y = load_diabetes(return_X_y=True)
_RNG = np.random.default_rng(0)
Y_DIABETES = np.c_[_Y, 0.5 * _Y + 10 * _RNG.normal(size=len(_Y)), 50 * _RNG.normal(size=len(_Y))]
TOL = {np.float64: 1e-7, np.float32: 2e-4}  # relative to the largest coefficient


def _problem(n, d, k, dtype, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    W = np.zeros((k, d))
    W[:, rng.choice(d, size=min(d, 4), replace=False)] = rng.normal(scale=3, size=(k, min(d, 4)))
    Y = X @ W.T + rng.normal(size=(n, k))
    return np.asfortranarray(X, dtype=dtype), np.ascontiguousarray(Y, dtype=dtype)


def _core(X, Y, alphas, betas, *, tol=1e-12, random=False, seeds=None, W=None, n_threads=1,
          max_iter=100000, working_sets=True, X_mean=None, X_scale=None):
    k, d = Y.shape[1], X.shape[1]
    W = np.zeros((k, d), dtype=X.dtype) if W is None else W
    coefs = np.zeros((len(alphas), k, d), dtype=X.dtype)
    seeds = np.ones(len(alphas), dtype=np.uint32) if seeds is None else seeds
    out = _cd_fast.enet_path_multitask(W, coefs, np.asarray(alphas, dtype=np.float64),
                                       np.asarray(betas, dtype=np.float64), seeds, X, X_mean,
                                       X_scale, Y,
                                       max_iter=max_iter, tol=tol, random=random,
                                       screening=True, working_sets=working_sets,
                                       n_threads=n_threads)
    return (coefs,) + tuple(out)


def _close(a, b, dtype):
    scale = max(1.0, float(np.max(np.abs(b))))
    assert np.max(np.abs(np.asarray(a, dtype=np.float64) - b)) <= TOL[dtype] * scale


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d,k", [(40, 6, 3), (25, 50, 2), (120, 30, 1)])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("working_sets", [True, False])
def test_core_reaches_the_reference_optimum(dtype, n, d, k, l1_ratio, working_sets):
    """The reference's descent for the L1 cases, the closed form of ridge for l1_ratio=0; with
    working sets or scikit-learn's sweeps over every unscreened feature."""
    X, Y = _problem(n, d, k, dtype)
    amax = float(np.max(np.linalg.norm(X.astype(np.float64).T @ Y, axis=1)))
    fractions = [0.5, 0.1, 0.02]
    alphas = [f * amax * l1_ratio for f in fractions]
    betas = [f * amax * (1 - l1_ratio) for f in fractions]
    tol = 1e-15 if dtype == np.float64 else 1e-6
    coefs, gaps, tols, n_iters, converged = _core(X, Y, alphas, betas, tol=tol,
                                                  working_sets=working_sets)
    assert coefs.dtype == dtype
    for a in range(len(alphas)):
        if l1_ratio == 0:
            X64 = X.astype(np.float64)
            expected = np.linalg.solve(X64.T @ X64 + betas[a] * np.eye(d), X64.T @ Y).T
        else:
            expected = ref.multitask_enet_cd(X, Y, alphas[a], betas[a], tol=1e-14)[0]
        _close(coefs[a], expected, dtype)
        # the gap the core reports is the reference's gap of the core's solution
        assert abs(gaps[a] - ref.multitask_enet_gap(X, Y, coefs[a], alphas[a], betas[a])) <= (
            1e-6 if dtype == np.float64 else 1e-2) * max(1.0, tols[a] / tol)
    assert converged.all() or dtype == np.float32


@pytest.mark.parametrize("random", [False, True])
def test_core_follows_scikit_learn_sweep_for_sweep(random):
    """float64, without working sets: the same sweeps, random stream, screening and stopping rule
    as scikit-learn's enet_coordinate_descent_multi_task, so the same coefficients and n_iter."""
    X, Y = _problem(30, 60, 2, np.float64, seed=3)
    amax = float(np.max(np.linalg.norm(X.T @ Y, axis=1)))
    for alpha, beta in [(0.3 * amax, 0.0), (0.05 * amax, 0.05 * amax), (0.0, 0.1 * amax)]:
        W = np.zeros((2, 60), order="F")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            w_sk, gap_sk, _, it_sk = sk_cd.enet_coordinate_descent_multi_task(
                W, alpha, beta, X, False, None, None, None, np.asfortranarray(Y), None, None,
                1000, 1e-8, np.random.RandomState(7), random, True)
        seed = np.random.RandomState(7).randint(0, 2**31 - 1)
        coefs, gaps, _, n_iters, _ = _core(X, Y, [alpha], [beta], tol=1e-8, random=random,
                                           seeds=np.array([seed], dtype=np.uint32),
                                           max_iter=1000, working_sets=False)
        np.testing.assert_allclose(coefs[0], w_sk, rtol=0, atol=1e-12 * np.max(np.abs(w_sk)))
        assert n_iters[0] == it_sk


@pytest.mark.parametrize("order,n,d", [("F", 300, 80), ("C", 2 * 2048 + 77, 30)])
def test_core_thread_count_and_warm_start(order, n, d):
    # C order over more rows than one chunk of its passes (cd_dense.hpp), the last one short
    X, Y = _problem(n, d, 3, np.float64, seed=1)
    X = np.asarray(X, order=order)
    amax = float(np.max(np.linalg.norm(X.T @ Y, axis=1)))
    alphas, betas = [0.2 * amax, 0.02 * amax], [0.0, 0.0]
    one = _core(X, Y, alphas, betas, n_threads=1, tol=1e-8)[0]
    for n_threads in (2, 3):
        np.testing.assert_array_equal(
            one, _core(X, Y, alphas, betas, n_threads=n_threads, tol=1e-8)[0])
    if order == "C":  # the same path as X in F order, whose passes run column by column
        _close(one, _core(np.asfortranarray(X), Y, alphas, betas, tol=1e-8)[0], np.float64)
    # starting at the optimum: converged before any sweep
    W = np.ascontiguousarray(one[-1])
    _, _, _, n_iters, converged = _core(X, Y, alphas[-1:], betas[-1:], W=W, tol=1e-8)
    assert n_iters[0] == 0 and converged[0]


def test_core_checks_its_input():
    X, Y = _problem(20, 5, 2, np.float64)
    with pytest.raises(ValueError, match="Y"):
        _core(X, Y[:10], [1.0], [0.0])
    with pytest.raises(ValueError, match="alphas"):
        _core(X, Y, [-1.0], [0.0])
    with pytest.raises(ValueError, match="C- or F-contiguous"):
        _core(np.asfortranarray(np.hstack([X, X]))[:, ::2], Y, [1.0], [0.0])
    with pytest.raises(ValueError, match="X_mean"):
        _core(X, Y, [1.0], [0.0], X_mean=np.zeros(3))


def _fit_both(name, X, Y, dtype, sample_weight=None, **params):
    ours = getattr(fm, name)(**params).fit(X.astype(dtype), Y, sample_weight=sample_weight)
    theirs = getattr(sk, name)(**params).fit(X.astype(dtype), Y, sample_weight=sample_weight)
    return ours, theirs


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("name,params", [
    ("MultiTaskLasso", dict(alpha=1.0)),
    ("MultiTaskElasticNet", dict(alpha=0.5, l1_ratio=0.3)),
    ("MultiTaskLasso", dict(alpha=0.1, selection="random", random_state=0, fit_intercept=False)),
])
def test_estimators_match_scikit_learn_on_diabetes(name, params, sparse, dtype):
    X = sp.csc_matrix(X_DIABETES) if sparse else X_DIABETES
    tol = 1e-10 if dtype == np.float64 else 1e-5
    ours, theirs = _fit_both(name, X, Y_DIABETES, dtype, tol=tol, max_iter=100000, **params)
    assert isinstance(ours, getattr(sk, name))
    assert ours.coef_.dtype == theirs.coef_.dtype == dtype and ours.coef_.flags.f_contiguous
    _close(ours.coef_, theirs.coef_, dtype)
    _close(ours.intercept_, theirs.intercept_, dtype)
    _close(ours.predict(X), theirs.predict(X), dtype)
    if dtype == np.float64:
        # cyclic selection solves on working sets: its own sweep count
        if params.get("selection") == "random" or sparse:
            assert ours.n_iter_ == theirs.n_iter_
        np.testing.assert_allclose(ours.eps_, theirs.eps_, rtol=1e-10)
    again = pickle.loads(pickle.dumps(ours))
    np.testing.assert_array_equal(again.predict(X), ours.predict(X))


def test_sample_weight_warm_start_and_errors():
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=len(Y_DIABETES))
    ours, theirs = _fit_both("MultiTaskLasso", X_DIABETES, Y_DIABETES, np.float64,
                             sample_weight=sw, alpha=1.0, tol=1e-10)
    _close(ours.coef_, theirs.coef_, np.float64)
    _close(ours.intercept_, theirs.intercept_, np.float64)
    model = fm.MultiTaskElasticNet(alpha=0.1, warm_start=True, tol=1e-6).fit(X_DIABETES,
                                                                             Y_DIABETES)
    model.fit(X_DIABETES, Y_DIABETES)
    assert model.n_iter_ <= 1
    for name in ("MultiTaskElasticNet", "MultiTaskLasso"):  # scikit-learn's message, word for word
        with pytest.raises(ValueError, match="For mono-task outputs") as theirs:
            getattr(sk, name)().fit(X_DIABETES, Y_DIABETES[:, 0])
        with pytest.raises(ValueError, match=str(theirs.value)):
            getattr(fm, name)().fit(X_DIABETES, Y_DIABETES[:, 0])
    with pytest.warns(ConvergenceWarning, match="Objective did not converge"):
        fm.MultiTaskLasso(alpha=1e-4, max_iter=2, tol=1e-12).fit(X_DIABETES, Y_DIABETES)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_multi_output_paths_match_scikit_learn(dtype):
    X = (X_DIABETES - X_DIABETES.mean(axis=0)).astype(dtype)
    Y = Y_DIABETES.astype(dtype)
    tol = 1e-10 if dtype == np.float64 else 1e-5
    for ours_fn, theirs_fn, extra in ((fm.lasso_path, sk.lasso_path, {}),
                                      (fm.enet_path, sk.enet_path, {"l1_ratio": 0.7})):
        a_ours, c_ours, _, n_ours = ours_fn(X, Y, alphas=8, eps=1e-2, tol=tol, max_iter=10**5,
                                            return_n_iter=True, **extra)
        a_sk, c_sk, _, n_sk = theirs_fn(X, Y, alphas=8, eps=1e-2, tol=tol, max_iter=10**5,
                                        return_n_iter=True, **extra)
        np.testing.assert_allclose(a_ours, a_sk, rtol=1e-5)
        assert c_ours.shape == c_sk.shape == (3, 10, 8) and c_ours.dtype == dtype
        # float32 at tol=1e-5: the working sets stop as soon as the gap is under tol, where
        # scikit-learn's sweeps overshoot (float64 at that tol: 4.5e-4 and 5e-5 of the largest
        # coefficient off the optimum); both gaps are within tol
        scale = max(1.0, float(np.max(np.abs(c_sk))))
        assert np.max(np.abs(c_ours - c_sk)) <= (TOL[dtype] if dtype == np.float64 else 1e-3) * scale
    with pytest.raises(ValueError, match="positive=True is not allowed for multi-output"):
        fm.lasso_path(X, Y, positive=True)


@pytest.mark.parametrize("name", ["MultiTaskLassoCV", "MultiTaskElasticNetCV"])
def test_cv_matches_scikit_learn(name):
    # a tight tol: fastml's working sets and scikit-learn's sweeps reach the same optimum, but
    # stop at different points within a loose tol
    ours = getattr(fm, name)(cv=3, alphas=10, tol=1e-10).fit(X_DIABETES, Y_DIABETES)
    theirs = getattr(sk, name)(cv=3, alphas=10, tol=1e-10).fit(X_DIABETES, Y_DIABETES)
    assert ours.alpha_ == theirs.alpha_
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    _close(ours.coef_, theirs.coef_, np.float64)
    assert type(ours).path is not type(theirs).path


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("working_sets", [True, False])
def test_core_centres_and_weights_on_the_fly(order, working_sets, dtype):
    """X in either order with its mean and row scale applied in the core gives the solution of
    the centred, weighted copy (the view scikit-learn's fit builds), for every alpha of a path
    and for any thread count."""
    X, Y = _problem(200, 300, 3, dtype, seed=2)
    rng = np.random.default_rng(5)
    mean = X.mean(axis=0).astype(dtype)
    scale = np.sqrt(rng.uniform(0.5, 2.0, size=200)).astype(dtype)
    copy = np.asfortranarray((X - mean) * scale[:, None], dtype=dtype)
    Yw = np.ascontiguousarray((Y - Y.mean(axis=0)) * scale[:, None], dtype=dtype)
    amax = float(np.max(np.linalg.norm(copy.astype(np.float64).T @ Yw, axis=1)))
    alphas, betas = [0.3 * amax, 0.05 * amax, 0.01 * amax], [0.0, 0.01 * amax, 0.0]
    tol = 1e-12 if dtype == np.float64 else 1e-6
    expected = _core(copy, Yw, alphas, betas, tol=tol, working_sets=working_sets)[0]
    for n_threads in (1, 2):
        got = _core(np.array(X, order=order), Yw, alphas, betas, tol=tol, X_mean=mean,
                    X_scale=scale, working_sets=working_sets, n_threads=n_threads)[0]
        _close(got, expected, dtype)
