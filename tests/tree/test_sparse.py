"""Sparse X in the trees and forests: fitted from CSC columns and walked from CSR rows in
compiled code, never densified, with scikit-learn's semantics (a value not stored, or stored as
0, is 0.0; a node's values searched as negatives, zeros, positives). With the exact search and
the best splitter the trees are scikit-learn's, node for node, as on dense X; every other search
gives on sparse X the tree it gives on the same X dense (the histogram search's: see
test_sparse_hist.py)."""
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn import ensemble as sk_ensemble
from sklearn import tree as sk_tree

from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor

from .test_sklearn_identity import assert_same_sklearn_tree

FORMATS = {
    "csr": sp.csr_matrix, "csc": sp.csc_matrix, "coo": sp.coo_matrix,
    "csr_array": sp.csr_array, "csc_array": sp.csc_array, "dok": sp.dok_matrix,
}


def _dataset(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    # scikit-learn searches float32 values: fastml is given values float32 holds exactly
    return X.astype(np.float32), y


def _random_sparse(seed, n=240, d=30, density=0.15):
    """Values of both signs (float32-exact), a few of them stored zeros."""
    rng = np.random.RandomState(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="csr")
    X.data = np.round(rng.randn(X.nnz), 1).astype(np.float32)
    X.data[::9] = 0.0
    X = X.astype(np.float32)
    signal = np.asarray(X[:, :5].sum(axis=1)).ravel()
    return X, signal + 0.3 * rng.randn(n)


def _same_tree_as_dense(sparse_fit, dense_fit):
    assert_same_sklearn_tree(sparse_fit.tree_, dense_fit.tree_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", ["iris", "digits", "breast_cancer", "diabetes"])
def test_exact_trees_on_sparse_datasets_are_scikit_learns(name, dtype):
    X, y = _dataset(name)
    ours_cls, theirs_cls = ((DecisionTreeRegressor, sk_tree.DecisionTreeRegressor)
                            if name == "diabetes"
                            else (DecisionTreeClassifier, sk_tree.DecisionTreeClassifier))
    Xs = sp.csc_matrix(X.astype(dtype))
    for params in ({}, {"max_features": "sqrt"}, {"max_leaf_nodes": 12}):
        ours = ours_cls(split_finder="exact", random_state=1, **params).fit(Xs, y)
        theirs = theirs_cls(random_state=1, **params).fit(Xs, y)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)
        assert_allclose(ours.feature_importances_, theirs.feature_importances_, atol=1e-12)
        rows = sp.csr_matrix(Xs)
        assert_array_equal(ours.apply(rows), theirs.apply(rows))
        assert_array_equal(ours.predict(rows), theirs.predict(rows))
        assert (ours.decision_path(rows) != theirs.decision_path(rows)).nnz == 0


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_every_sparse_format_gives_the_same_tree(fmt):
    X, y = _random_sparse(0)
    labels = (y > 0).astype(int)
    reference = DecisionTreeClassifier(random_state=0, split_finder="exact").fit(X.toarray(),
                                                                                 labels)
    ours = DecisionTreeClassifier(random_state=0, split_finder="exact").fit(FORMATS[fmt](X),
                                                                             labels)
    _same_tree_as_dense(ours, reference)
    assert_array_equal(ours.predict_proba(FORMATS[fmt](X)), reference.predict_proba(X.toarray()))


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("criterion", ["gini", "entropy", "log_loss"])
def test_random_sparse_classification(criterion, seed):
    """The sparse search's tree is the dense search's; scikit-learn's wherever fastml's dense
    tree is (gini here: fastml's dense entropy trees can break exact ties of scikit-learn's
    rounding otherwise on this data)."""
    X, y = _random_sparse(seed)
    labels = np.digitize(y, [-0.5, 0.5])  # three classes
    for params in ({}, {"max_features": 4}, {"max_leaf_nodes": 15, "max_features": 6}):
        kwargs = dict(criterion=criterion, random_state=seed, **params)
        ours = DecisionTreeClassifier(split_finder="exact", **kwargs).fit(X, labels)
        dense = DecisionTreeClassifier(split_finder="exact", **kwargs).fit(X.toarray(), labels)
        _same_tree_as_dense(ours, dense)
        if criterion == "gini":
            theirs = sk_tree.DecisionTreeClassifier(**kwargs).fit(X, labels)
            assert_same_sklearn_tree(ours.tree_, theirs.tree_)
            assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("criterion", ["squared_error", "poisson"])
def test_random_sparse_regression(criterion, seed):
    """Shallow trees are scikit-learn's; deep in a tree of continuous targets equal gains meet
    rounding (scikit-learn's own sparse and dense trees part there), so the deep trees are
    compared by their fit."""
    X, y = _random_sparse(seed)
    y = np.abs(y) if criterion == "poisson" else y
    kwargs = dict(criterion=criterion, random_state=seed, max_features=10)
    ours = DecisionTreeRegressor(split_finder="exact", max_depth=4, **kwargs).fit(X, y)
    theirs = sk_tree.DecisionTreeRegressor(max_depth=4, **kwargs).fit(X, y)
    assert_same_sklearn_tree(ours.tree_, theirs.tree_)
    assert_allclose(ours.predict(X), theirs.predict(X))
    ours = DecisionTreeRegressor(split_finder="exact", min_samples_leaf=5, **kwargs).fit(X, y)
    theirs = sk_tree.DecisionTreeRegressor(min_samples_leaf=5, **kwargs).fit(X, y)
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), abs=0.02)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_absolute_error_on_sparse_is_scikit_learns_sparse_tree(dtype):
    # targets not integers: the absolute errors' sums round by the rows' order, which the
    # sparse splitter keeps unlike the dense one (scikit-learn's two trees differ here); each
    # fit is scikit-learn's on the same X
    X, y = _random_sparse(3)
    X = X.astype(dtype)
    for seed in (0, 1):
        kw = dict(criterion="absolute_error", max_depth=5, random_state=seed)
        for X_fit in (X, X.toarray()):
            ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(X_fit, y)
            theirs = sk_tree.DecisionTreeRegressor(**kw).fit(X_fit, y)
            assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", [
    pytest.param(dict(splitter="random"), id="random"),
    pytest.param(dict(splitter="random", criterion="absolute_error", max_depth=6),
                 id="random-absolute_error"),
])
def test_other_searches_on_sparse_equal_dense(params, dtype):
    X, y = _random_sparse(3)
    X = X.astype(dtype)
    for seed in (0, 1):
        sparse_fit = DecisionTreeRegressor(split_finder="exact", random_state=seed,
                                           **params).fit(X, y)
        dense_fit = DecisionTreeRegressor(split_finder="exact", random_state=seed,
                                          **params).fit(X.toarray(), y)
        _same_tree_as_dense(sparse_fit, dense_fit)
        assert_array_equal(sparse_fit.predict(X), dense_fit.predict(X.toarray()))


def test_float32_stays_float32_and_nothing_is_densified(monkeypatch):
    X, y = _random_sparse(4)
    calls = []
    for cls in (sp.csr_matrix, sp.csc_matrix):
        monkeypatch.setattr(cls, "toarray", lambda self, *a, **k: calls.append(1) or 1 / 0)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y > 0)
    tree.predict_proba(X)
    tree.decision_path(X)
    assert not calls
    assert tree.split_finder_ == "exact"  # "auto" on sparse X of few rows: searched exactly


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_forests_on_sparse_are_scikit_learns(n_jobs):
    X, y = _random_sparse(5, n=300)
    labels = (y > 0).astype(int)
    kwargs = dict(n_estimators=6, random_state=0, oob_score=True, max_features="sqrt")
    ours = RandomForestClassifier(n_jobs=n_jobs, **kwargs).fit(X, labels)
    theirs = sk_ensemble.RandomForestClassifier(**kwargs).fit(X, labels)
    for a, b in zip(ours.estimators_, theirs.estimators_):
        assert_same_sklearn_tree(a.tree_, b.tree_)
    assert ours.oob_score_ == pytest.approx(theirs.oob_score_)
    assert_allclose(ours.oob_decision_function_, theirs.oob_decision_function_)
    assert_allclose(ours.feature_importances_, theirs.feature_importances_, atol=1e-12)
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X))
    assert_array_equal(ours.apply(X), theirs.apply(X))
    ours_path, ours_ptr = ours.decision_path(X)
    theirs_path, theirs_ptr = theirs.decision_path(X)
    assert_array_equal(ours_ptr, theirs_ptr)
    assert (ours_path != theirs_path).nnz == 0

    # shallow: see test_random_sparse_regression
    ours = RandomForestRegressor(n_jobs=n_jobs, max_depth=4, **kwargs).fit(X, y)
    theirs = sk_ensemble.RandomForestRegressor(max_depth=4, **kwargs).fit(X, y)
    for a, b in zip(ours.estimators_, theirs.estimators_):
        assert_same_sklearn_tree(a.tree_, b.tree_)
    assert ours.oob_score_ == pytest.approx(theirs.oob_score_)
    assert_allclose(ours.predict(X), theirs.predict(X))


def test_tree_object_walks_sparse_rows_as_scikit_learns():
    X, y = _random_sparse(7)
    ours = DecisionTreeRegressor(random_state=0, max_depth=6).fit(X, y)
    theirs = sk_tree.DecisionTreeRegressor(random_state=0, max_depth=6).fit(X, y)
    rows = sp.csr_matrix(X, dtype=np.float32)
    assert_array_equal(ours.tree_.apply(rows), theirs.tree_.apply(rows))
    assert (ours.tree_.decision_path(rows) != theirs.tree_.decision_path(rows)).nnz == 0


@pytest.mark.parametrize("estimator", [DecisionTreeClassifier(), RandomForestClassifier(
    n_estimators=2)], ids=["tree", "forest"])
def test_bad_sparse_input_raises_as_scikit_learn(estimator):
    X, y = _random_sparse(8)
    labels = (y > 0).astype(int)
    bad = X.copy()
    bad.data[3] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimator.fit(bad, labels)
    estimator.fit(X, labels)
    with pytest.raises(ValueError, match="Input X contains NaN"):
        estimator.predict(bad)
    # 64-bit indices: scikit-learn's fit converts them (to CSC, 32-bit where they fit), its
    # predict on CSR refuses them
    wide = sp.csr_matrix(X)
    wide.indices = wide.indices.astype(np.int64)
    wide.indptr = wide.indptr.astype(np.int64)
    estimator.fit(wide, labels)
    with pytest.raises(ValueError, match="np.int64 index based"):
        estimator.predict(wide)
    sparse_y = sp.csr_matrix(labels.reshape(-1, 1))
    sklearn_cls = getattr(sk_tree if "Tree" in type(estimator).__name__ else sk_ensemble,
                          type(estimator).__name__)
    with pytest.raises(Exception) as theirs:
        sklearn_cls().fit(X, sparse_y)
    with pytest.raises(theirs.type):
        estimator.fit(X, sparse_y)


def test_sample_weight_on_sparse_is_scikit_learns():
    X, y = _random_sparse(9)
    labels = (y > 0).astype(int)
    weight = np.random.RandomState(0).randint(0, 4, len(labels))  # zeros drop rows
    ours = DecisionTreeClassifier(random_state=0, max_features=8).fit(X, labels, weight)
    theirs = sk_tree.DecisionTreeClassifier(random_state=0, max_features=8).fit(X, labels,
                                                                                 weight)
    assert_same_sklearn_tree(ours.tree_, theirs.tree_)


def test_monotonic_and_multi_output_on_sparse_are_scikit_learns():
    X, y = _random_sparse(11)
    cst = np.zeros(X.shape[1], dtype=int)
    cst[:3], cst[3] = 1, -1
    ours = DecisionTreeRegressor(random_state=0, max_depth=5, monotonic_cst=cst).fit(X, y)
    theirs = sk_tree.DecisionTreeRegressor(random_state=0, max_depth=5,
                                           monotonic_cst=cst).fit(X, y)
    assert_same_sklearn_tree(ours.tree_, theirs.tree_)
    Y = np.c_[y > 0, y > 0.5].astype(int)
    ours = DecisionTreeClassifier(random_state=0).fit(X, Y)
    theirs = sk_tree.DecisionTreeClassifier(random_state=0).fit(X, Y)
    assert_same_sklearn_tree(ours.tree_, theirs.tree_)
    assert_array_equal(ours.predict(X), theirs.predict(X))
