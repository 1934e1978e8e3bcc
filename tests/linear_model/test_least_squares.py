"""LinearRegression, Ridge and RidgeClassifier against scikit-learn on its shipped data sets (dense
and sparse, weights, several targets, both dtypes), their NumPy reference, and scikit-learn's
errors; rank-deficient and ill-conditioned X give scikit-learn's own answers."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris, load_wine

import fastml.linear_model as fm
from fastml.reference import linear as reference


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))


def _assert_same_model(ours, theirs, rtol=1e-8):
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=rtol,
                               atol=rtol * (np.abs(theirs.intercept_).max() + scale))
    assert np.shape(ours.coef_) == np.shape(theirs.coef_)
    assert np.shape(ours.intercept_) == np.shape(theirs.intercept_)
    assert np.asarray(ours.coef_).dtype == np.asarray(theirs.coef_).dtype


def _sparse(X, kind):
    X = np.where(np.abs(X) > np.median(np.abs(X)), X, 0.0)
    return X, getattr(sp, f"{kind}_matrix")(X)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("targets", [1, 2])
def test_linear_regression_matches_sklearn(diabetes, fit_intercept, weighted, targets):
    X, y, w = diabetes
    Y = y if targets == 1 else np.c_[y, np.sqrt(y)]
    w = w if weighted else None
    ours = fm.LinearRegression(fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
    theirs = sk.LinearRegression(fit_intercept=fit_intercept).fit(X, Y, sample_weight=w)
    _assert_same_model(ours, theirs, rtol=1e-10)
    assert ours.rank_ == theirs.rank_
    np.testing.assert_allclose(ours.singular_, theirs.singular_, rtol=1e-10)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-10)
    coef, intercept = reference.ridge_solution(X, Y, 0.0, w, fit_intercept)
    np.testing.assert_allclose(np.reshape(ours.coef_, coef.shape), coef, rtol=1e-9,
                               atol=1e-9 * np.abs(coef).max())


@pytest.mark.parametrize("kind", ["csr", "csc", "coo"])
def test_linear_regression_sparse(diabetes, kind):
    X, y, w = diabetes
    Xd, Xs = _sparse(X, kind)
    ours = fm.LinearRegression().fit(Xs, y, sample_weight=w)
    theirs = sk.LinearRegression(tol=1e-12).fit(Xs, y, sample_weight=w)  # lsqr, converged
    _assert_same_model(ours, theirs, rtol=1e-7)
    _assert_same_model(ours, fm.LinearRegression().fit(Xd, y, sample_weight=w), rtol=1e-10)
    assert not hasattr(ours, "rank_") and not hasattr(theirs, "rank_")


def test_linear_regression_float32_and_positive(diabetes):
    X, y, _ = diabetes
    ours = fm.LinearRegression().fit(X.astype(np.float32), y)
    theirs = sk.LinearRegression().fit(X.astype(np.float32), y)
    assert ours.coef_.dtype == theirs.coef_.dtype == np.float32
    assert ours.singular_.dtype == theirs.singular_.dtype
    _assert_same_model(ours, theirs, rtol=1e-4)
    ours = fm.LinearRegression(positive=True).fit(X, y)
    theirs = sk.LinearRegression(positive=True).fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-9)
    assert (ours.coef_ >= 0).all() and (ours.coef_ == 0).sum() == (theirs.coef_ == 0).sum()


@pytest.mark.parametrize("case", ["duplicate column", "wide", "tol cutoff", "ill-conditioned"])
def test_linear_regression_rank_deficient_as_sklearn(diabetes, case):
    X, y, _ = diabetes
    params = {}
    if case == "duplicate column":
        X = np.c_[X, X[:, 3]]
    elif case == "wide":
        X, y = X[:8], y[:8]
    elif case == "tol cutoff":
        params = {"tol": 0.5}
    else:
        X = np.c_[X, X[:, 0] + 1e-7 * X[:, 1]]
    ours = fm.LinearRegression(**params).fit(X, y)
    theirs = sk.LinearRegression(**params).fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-12)
    assert ours.rank_ == theirs.rank_
    np.testing.assert_allclose(ours.singular_, theirs.singular_, rtol=1e-12)


SOLVERS = ["auto", "svd", "cholesky", "lsqr", "sparse_cg", "sag", "saga"]


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_matches_sklearn(diabetes, solver, weighted):
    X, y, w = diabetes
    w = w if weighted else None
    iterative = solver in ("lsqr", "sparse_cg", "sag", "saga")
    params = dict(alpha=0.5, solver=solver, tol=1e-12 if iterative else 1e-4,
                  max_iter=100_000 if solver in ("sag", "saga") else None, random_state=0)
    if solver in ("sag", "saga"):  # scaled so that sag converges in a few hundred epochs
        X = X / np.abs(X).max(axis=0)
    ours = fm.Ridge(**params).fit(X, y, sample_weight=w)
    theirs = sk.Ridge(**params).fit(X, y, sample_weight=w)
    _assert_same_model(ours, theirs, rtol=1e-6 if iterative else 1e-10)
    assert ours.solver_ == theirs.solver_
    assert (ours.n_iter_ is None) == (theirs.n_iter_ is None)
    coef, intercept = reference.ridge_solution(X, y, 0.5, w)
    np.testing.assert_allclose(ours.coef_, coef[0], rtol=1e-9, atol=1e-9 * np.abs(coef).max())


@pytest.mark.parametrize("kind", ["csr", "csc"])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_ridge_sparse(diabetes, kind, fit_intercept):
    X, y, w = diabetes
    Xd, Xs = _sparse(X, kind)
    params = dict(alpha=0.1, fit_intercept=fit_intercept, tol=1e-12)
    ours = fm.Ridge(**params).fit(Xs, y, sample_weight=w)
    theirs = sk.Ridge(**params).fit(Xs, y, sample_weight=w)
    _assert_same_model(ours, theirs, rtol=1e-7)
    _assert_same_model(ours, sk.Ridge(**params).fit(Xd, y, sample_weight=w), rtol=1e-10)
    assert ours.solver_ == theirs.solver_


def test_ridge_alpha_per_target_float32_and_positive(diabetes):
    X, y, w = diabetes
    Y = np.c_[y, -y, y**0.5]
    ours = fm.Ridge(alpha=[0.1, 1.0, 10.0]).fit(X, Y, sample_weight=w)
    theirs = sk.Ridge(alpha=[0.1, 1.0, 10.0]).fit(X, Y, sample_weight=w)
    _assert_same_model(ours, theirs, rtol=1e-10)
    X32 = X.astype(np.float32)
    ours, theirs = fm.Ridge(alpha=0.01).fit(X32, y), sk.Ridge(alpha=0.01).fit(X32, y)
    assert ours.coef_.dtype == np.float32 and type(ours.intercept_) is type(theirs.intercept_)
    _assert_same_model(ours, theirs, rtol=1e-4)
    # positive: the exact optimum; scikit-learn's L-BFGS-B stops at its tol, no lower objective.
    ours = fm.Ridge(positive=True, alpha=0.1).fit(X, y)
    theirs = sk.Ridge(positive=True, alpha=0.1, tol=1e-10).fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-4)

    def objective(m):
        r = y - X @ m.coef_ - m.intercept_
        return r @ r + 0.1 * m.coef_ @ m.coef_
    assert objective(ours) <= objective(theirs) * (1 + 1e-12)


@pytest.mark.parametrize("load", [load_iris, load_wine, load_breast_cancer])
@pytest.mark.parametrize("class_weight", [None, "balanced"])
@pytest.mark.parametrize("sparse", [False, True])
def test_ridge_classifier_matches_sklearn(load, class_weight, sparse):
    X, y = load(return_X_y=True)
    X = X / X.std(axis=0)
    params = dict(class_weight=class_weight, tol=1e-12)
    if sparse:
        X = _sparse(X, "csr")[1]
    ours = fm.RidgeClassifier(**params).fit(X, y)
    theirs = sk.RidgeClassifier(**params).fit(X, y)
    _assert_same_model(ours, theirs, rtol=1e-7 if sparse else 1e-10)
    np.testing.assert_array_equal(ours.classes_, theirs.classes_)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))
    np.testing.assert_allclose(ours.decision_function(X), theirs.decision_function(X),
                               rtol=1e-6, atol=1e-7)


def test_ill_conditioned_ridge_is_sklearn_s(diabetes):
    X, y, _ = diabetes
    X = np.c_[X, X[:, 0]]
    for solver in ("auto", "svd"):
        ours = fm.Ridge(alpha=0.0, solver=solver).fit(X, y)
        theirs = sk.Ridge(alpha=0.0, solver=solver).fit(X, y)
        _assert_same_model(ours, theirs, rtol=1e-12)
        assert ours.solver_ == theirs.solver_


def test_threads_pickle_and_no_copy(diabetes):
    X, y, w = diabetes
    fits = [fm.LinearRegression(n_jobs=k).fit(X, y, sample_weight=w) for k in (1, 2)]
    np.testing.assert_array_equal(fits[0].coef_, fits[1].coef_)
    restored = pickle.loads(pickle.dumps(fm.Ridge().fit(X, y)))
    np.testing.assert_array_equal(restored.predict(X), fm.Ridge().fit(X, y).predict(X))
    Xr = np.asfortranarray(X)
    Xr.setflags(write=False)
    _assert_same_model(fm.Ridge().fit(Xr, y), sk.Ridge().fit(X, y), rtol=1e-10)
    assert isinstance(fm.Ridge(), sk.Ridge) and isinstance(fm.LinearRegression(), sk.LinearRegression)


@pytest.mark.parametrize("params,fit_args,error", [
    ({"solver": "lbfgs"}, {}, "'lbfgs' solver can be used only when positive=True"),
    ({"positive": True, "solver": "svd"}, {}, "does not support positive fitting"),
    ({"solver": "cholesky"}, {"sparse": True}, "does not support fitting the intercept"),
    ({"alpha": [1.0, 2.0]}, {}, "Number of targets and number of penalties"),
    ({"alpha": -1.0}, {}, "alpha"),
    ({}, {"nan": True}, "NaN"),
])
def test_ridge_errors_as_sklearn(diabetes, params, fit_args, error):
    X, y, _ = diabetes
    if fit_args.get("sparse"):
        X = sp.csr_matrix(X)
    if fit_args.get("nan"):
        X = X.copy()
        X[3, 2] = np.nan
    for lib in (fm, sk):
        with pytest.raises(ValueError, match=error):
            lib.Ridge(**params).fit(X, y)


def test_linear_regression_errors_as_sklearn(diabetes):
    X, y, w = diabetes
    for lib in (fm, sk):
        with pytest.raises(ValueError, match="Negative values in data"):
            lib.LinearRegression().fit(X, y, sample_weight=-w)
        with pytest.raises(TypeError, match="[Ss]parse"):
            lib.LinearRegression(positive=True).fit(sp.csr_matrix(X), y)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            lib.LinearRegression().fit(X, y[:-1])
