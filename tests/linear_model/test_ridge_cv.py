"""RidgeCV and RidgeClassifierCV against scikit-learn: leave-one-out from the Gram core's
eigendecomposition (every gcv_mode, weights, several targets, alpha per target, scoring, stored
results, sparse X) and the grid search of other cv."""
import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.linear_model as sk
from sklearn.datasets import load_diabetes, load_iris, load_wine

import fastml.linear_model as fm

ALPHAS = np.logspace(-3, 2, 7)


@pytest.fixture(scope="module")
def diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, np.random.default_rng(0).uniform(0.1, 3.0, size=len(y))


def _assert_same(ours, theirs, rtol=1e-9):
    np.testing.assert_array_equal(ours.alpha_, theirs.alpha_)
    scale = np.abs(theirs.coef_).max()
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(ours.best_score_, theirs.best_score_, rtol=1e-9)
    assert np.shape(ours.coef_) == np.shape(theirs.coef_)


@pytest.mark.parametrize("params", [{}, {"gcv_mode": "svd"}, {"gcv_mode": "eigen"},
                                    {"fit_intercept": False}, {"scoring": "r2"},
                                    {"store_cv_results": True}, {"cv": 4}])
@pytest.mark.parametrize("weighted", [False, True])
def test_ridge_cv_matches_sklearn(diabetes, params, weighted):
    X, y, w = diabetes
    w = w if weighted else None
    ours = fm.RidgeCV(alphas=ALPHAS, **params).fit(X, y, sample_weight=w)
    theirs = sk.RidgeCV(alphas=ALPHAS, **params).fit(X, y, sample_weight=w)
    _assert_same(ours, theirs)
    if params.get("store_cv_results"):
        np.testing.assert_allclose(ours.cv_results_, theirs.cv_results_, rtol=1e-8)


def test_ridge_cv_targets_sparse_and_wide(diabetes):
    X, y, w = diabetes
    Y = np.c_[y, np.sqrt(y)]
    for params in ({}, {"alpha_per_target": True}):
        _assert_same(fm.RidgeCV(alphas=ALPHAS, **params).fit(X, Y),
                     sk.RidgeCV(alphas=ALPHAS, **params).fit(X, Y))
    Xs = sp.csr_matrix(np.where(X > 0, X, 0.0))
    _assert_same(fm.RidgeCV(alphas=ALPHAS).fit(Xs, y, sample_weight=w),
                 sk.RidgeCV(alphas=ALPHAS).fit(Xs, y, sample_weight=w))
    # More features than samples: scikit-learn's kernel form, the same answers.
    _assert_same(fm.RidgeCV(alphas=ALPHAS).fit(X[:8], y[:8]),
                 sk.RidgeCV(alphas=ALPHAS).fit(X[:8], y[:8]))


@pytest.mark.parametrize("load", [load_iris, load_wine])
@pytest.mark.parametrize("cv", [None, 3])
def test_ridge_classifier_cv_matches_sklearn(load, cv):
    X, y = load(return_X_y=True)
    X = X / X.std(axis=0)
    ours = fm.RidgeClassifierCV(alphas=ALPHAS, cv=cv, class_weight="balanced").fit(X, y)
    theirs = sk.RidgeClassifierCV(alphas=ALPHAS, cv=cv, class_weight="balanced").fit(X, y)
    _assert_same(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


def test_ridge_cv_errors_as_sklearn(diabetes):
    X, y, _ = diabetes
    for lib in (fm, sk):
        with pytest.raises(ValueError, match="alphas\\[1\\] == 0"):
            lib.RidgeCV(alphas=[1.0, 0.0]).fit(X, y)
        with pytest.raises(ValueError, match="store_cv_results"):
            lib.RidgeCV(cv=3, store_cv_results=True).fit(X, y)
        with pytest.raises(ValueError, match="alpha_per_target"):
            lib.RidgeCV(cv=3, alpha_per_target=True).fit(X, y)
