"""The sparse view of the coordinate-descent core (fastml._cd_fast.enet_path_sparse, centred and
weighted without densifying) against the NumPy reference on the dense design it stands for and
against scikit-learn's sparse_enet_coordinate_descent; Lasso, ElasticNet, their paths and CV on
sparse X against scikit-learn's on diabetes."""
import numpy as np
import pytest
from scipy import sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_diabetes
from sklearn.linear_model import _cd_fast as sk_cd

from fastml import _cd_fast
from fastml import linear_model as fm
from fastml.reference import linear_cd as ref


def _problem(n, d, density, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = sp.random(n, d, density=density, random_state=seed, format="csc",
                  data_rvs=lambda k: rng.normal(size=k) + 1.0)
    coef = np.zeros(d)
    coef[rng.choice(d, size=min(d, 5), replace=False)] = rng.normal(scale=3, size=min(d, 5))
    y = X @ coef + rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


def _path(X, y, alphas, betas, *, mean=None, weight=None, w=None, tol=1e-12, random=False,
          positive=False, working_sets=True, n_threads=1, seeds=None):
    dtype = X.dtype
    d = X.shape[1]
    w = np.zeros(d, dtype=dtype) if w is None else w.astype(dtype)
    coefs = np.zeros((len(alphas), d), dtype=dtype)
    seeds = np.ones(len(alphas), dtype=np.uint32) if seeds is None else seeds
    out = _cd_fast.enet_path_sparse(
        w, coefs, np.asarray(alphas, dtype=np.float64), np.asarray(betas, dtype=np.float64), seeds,
        X.data, X.indices, X.indptr, X.shape[0], mean, weight, y, max_iter=100000, tol=tol,
        random=random, positive=positive, screening=True, working_sets=working_sets,
        n_threads=n_threads)
    return (coefs,) + tuple(out)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d,density", [(60, 8, 0.5), (40, 70, 0.2), (300, 50, 0.05)])
@pytest.mark.parametrize("centred,weighted", [(False, False), (True, False), (True, True)])
@pytest.mark.parametrize("working_sets", [True, False])
def test_sparse_view_reaches_the_reference_optimum(dtype, n, d, density, centred, weighted,
                                                   working_sets):
    X, y = _problem(n, d, density, dtype=dtype)
    rng = np.random.default_rng(1)
    weight = rng.uniform(0.2, 3.0, size=n).astype(dtype) if weighted else None
    mean = (np.asarray(X.mean(axis=0)).ravel().astype(dtype) if centred else None)
    # the dense problem it stands for: columns (x_j - m_j) sqrt(v), target sqrt(v) y
    root = np.ones(n) if weight is None else np.sqrt(weight.astype(np.float64))
    design = (X.toarray().astype(np.float64) - (0 if mean is None else mean)) * root[:, None]
    target = y.astype(np.float64) * root
    amax = float(np.max(np.abs(design.T @ target)))
    tol = 1e-13 if dtype == np.float64 else 1e-7
    for alpha, beta in [(0.2 * amax, 0.0), (0.02 * amax, 0.01 * amax)]:
        coefs, gaps, tols, _, converged = _path(X, y, [alpha], [beta], mean=mean, weight=weight,
                                                tol=tol, working_sets=working_sets)
        expected = ref.enet_cd(design, target, alpha, beta, tol=1e-15)[0]
        scale = max(1.0, np.abs(expected).max())
        atol = 1e-7 if dtype == np.float64 else 2e-3
        np.testing.assert_allclose(coefs[0], expected, atol=atol * scale)
        assert converged[0]
        np.testing.assert_allclose(tols[0], tol * target @ target, rtol=1e-5)
        if dtype == np.float64:
            np.testing.assert_allclose(gaps[0], ref.enet_gap(design, target, coefs[0], alpha,
                                                             beta), rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("random", [False, True])
def test_sparse_sweeps_match_scikit_learn(dtype, random):
    """Without working sets: scikit-learn's sweeps, random stream and stopping rule on centred,
    weighted sparse X, so its coefficients and n_iter."""
    X, y = _problem(200, 40, 0.1, seed=5, dtype=dtype)
    weight = np.random.default_rng(3).uniform(0.5, 2.0, size=200).astype(dtype)
    # scikit-learn's solver expects the weighted means removed from y and passed for X (as its
    # ElasticNet.fit does); fastml's view does not need y centred.
    mean = (np.asarray(X.T @ weight) / weight.sum()).astype(dtype)
    y = (y - np.average(y, weights=weight)).astype(dtype)
    alpha = dtype(0.05 * np.max(np.abs(X.T @ (weight * y))))
    w_sk, _, _, it_sk = sk_cd.sparse_enet_coordinate_descent(
        np.zeros(40, dtype=dtype), alpha, dtype(0.0), X.data, X.indices, X.indptr, y, weight,
        mean, 1000, 1e-4, np.random.RandomState(7), random, False, True)
    seed = np.random.RandomState(7).randint(0, 2**31 - 1)
    coefs, _, _, n_iters, _ = _path(X, y, [float(alpha)], [0.0], mean=mean, weight=weight,
                                    tol=1e-4, random=random, working_sets=False,
                                    seeds=np.array([seed], dtype=np.uint32))
    tight = dtype == np.float64
    np.testing.assert_allclose(coefs[0], w_sk, rtol=1e-9 if tight else 1e-4,
                               atol=1e-9 if tight else 1e-4)
    if tight:
        assert n_iters[0] == it_sk


def test_sparse_thread_count_warm_start_and_checks():
    X, y = _problem(400, 120, 0.1, seed=4)
    mean = np.asarray(X.mean(axis=0)).ravel()
    amax = float(np.max(np.abs(X.T @ y)))
    alphas = [0.3 * amax, 0.05 * amax, 0.01 * amax]
    one = _path(X, y, alphas, [0.0] * 3, mean=mean, tol=1e-8, n_threads=1)
    two = _path(X, y, alphas, [0.0] * 3, mean=mean, tol=1e-8, n_threads=2)
    for a, b in zip(one, two):
        np.testing.assert_array_equal(a, b)
    # a warm start at the last solution converges before any sweep
    again = _path(X, y, alphas[-1:], [0.0], mean=mean, tol=1e-8, w=one[0][-1])
    assert again[3][0] == 0 and again[4][0]
    bad = X.copy()
    bad.indices = bad.indices.copy()
    bad.indices[0] = 400
    with pytest.raises(ValueError, match="indices"):
        _path(bad, y, [1.0], [0.0])
    with pytest.raises(ValueError, match="y has the wrong shape"):
        _path(X, y[:-1], [1.0], [0.0])


X_DIABETES, Y_DIABETES = load_diabetes(return_X_y=True)


def _sparse_diabetes(fmt):
    X = X_DIABETES.copy()
    X[np.random.default_rng(0).random(X.shape) < 0.5] = 0.0
    return sp.csc_matrix(X) if fmt == "csc" else sp.csr_matrix(X)


@pytest.mark.parametrize("fmt", ["csc", "csr"])
@pytest.mark.parametrize("name", ["LassoCV", "ElasticNetCV"])
def test_cv_on_sparse_matches_scikit_learn(name, fmt):
    X = _sparse_diabetes(fmt)
    sw = np.random.default_rng(1).uniform(0.5, 2.0, size=X.shape[0])
    ours = getattr(fm, name)(cv=3, alphas=12).fit(X, Y_DIABETES, sample_weight=sw)
    theirs = getattr(sk, name)(cv=3, alphas=12).fit(X, Y_DIABETES, sample_weight=sw)
    assert ours.alpha_ == theirs.alpha_
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, atol=1e-6 * np.abs(theirs.coef_).max())


def test_sparse_fit_does_not_densify_or_touch_x():
    X = _sparse_diabetes("csc")
    before = X.copy()
    model = fm.Lasso(alpha=0.05, tol=1e-10).fit(X, Y_DIABETES)
    assert (X != before).nnz == 0 and sp.issparse(X)
    theirs = sk.Lasso(alpha=0.05, tol=1e-10).fit(X, Y_DIABETES)
    np.testing.assert_allclose(model.coef_, theirs.coef_, atol=1e-8 * np.abs(theirs.coef_).max())
    assert model.n_iter_ == theirs.n_iter_


def test_cv_folds_in_parallel_change_nothing():
    """LassoCV's folds in threads (fastml's n_jobs=None runs them in parallel) give the serial
    run's answer, and the fit leaves no per-fit path on the instance."""
    X, y = X_DIABETES, Y_DIABETES
    serial = fm.LassoCV(cv=4, alphas=15, n_jobs=1).fit(X, y)
    parallel = fm.LassoCV(cv=4, alphas=15, n_jobs=2).fit(X, y)
    default = fm.LassoCV(cv=4, alphas=15).fit(X, y)
    for model in (parallel, default):
        np.testing.assert_array_equal(model.mse_path_, serial.mse_path_)
        np.testing.assert_array_equal(model.coef_, serial.coef_)
        assert "path" not in vars(model)
