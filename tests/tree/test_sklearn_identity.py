"""The same random_state gives scikit-learn's trees and forests, node for node, with the exact
search and the best splitter: features drawn in scikit-learn's order (its splitter's random
stream, its features array carried from node to node), ties broken as it breaks them, best-first
growth from the same frontier heap, and the forests' bootstraps drawn by numpy's RandomState as
scikit-learn draws them.

Where fractional weights enter, scikit-learn's sums can leave a pure node an impurity of ~1e-16,
above its EPSILON, and it then splits that node. The core computes those sums as scikit-learn's
criterion does (the smaller side of each move added or taken out row by row, its formulas, its
EPSILON), so equal fractional weights give its classification trees node for node
(test_equal_fractional_weight_trees_are_scikit_learns). Where the order of the rows within a
node changes the rounding (unequal fractional weights: class_weight="balanced", float sample
weights; and any fractional weight in regression, whose sums of w*y differ row by row), the
dense exact search keeps the rows in scikit-learn's order (its introsort of each visited
feature, its final partition: csrc/tree/sklearn_order.hpp), so those trees are its trees too
(test_fractional_weight_trees_are_scikit_learns). Sparse X keeps the order of scikit-learn's
sparse splitter (its non-zero rows swapped out to either end, each side sorted, the zero rows
left between), which differs from the dense one's: a tree fitted on CSR is scikit-learn's tree
fitted on CSR (test_fractional_weight_sparse_trees_are_scikit_learns). Several outputs and the
absolute error (its targets ranked as its criterion ranks them at each feature) follow the same
order (test_fractional_weight_multi_output_trees_are_scikit_learns,
test_fractional_weight_absolute_error_trees_are_scikit_learns)."""
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import datasets
from sklearn import ensemble as sk_ensemble
from sklearn import tree as sk_tree

from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor

DATASETS = ["iris", "wine", "breast_cancer", "digits", "diabetes"]
PARAMS = [
    pytest.param({}, id="default"),
    pytest.param({"max_features": 3}, id="max_features=3"),
    pytest.param({"max_leaf_nodes": 10}, id="max_leaf_nodes"),
    pytest.param({"max_features": "sqrt", "max_leaf_nodes": 15}, id="sqrt-best_first"),
    pytest.param({"min_samples_leaf": 3, "max_depth": 6}, id="stopping"),
]


def _data(name):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    # scikit-learn searches float32 values: fastml is given the same
    return X.astype(np.float32), y


def assert_same_sklearn_tree(ours, theirs):
    assert ours.node_count == theirs.node_count
    for name in ("children_left", "children_right", "feature", "n_node_samples"):
        assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    assert_array_equal(ours.threshold, theirs.threshold)
    for name in ("impurity", "weighted_n_node_samples", "value"):
        assert_allclose(getattr(ours, name), getattr(theirs, name), rtol=1e-9, atol=1e-12,
                        err_msg=name)


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("name", DATASETS)
def test_trees_are_scikit_learns(name, params):
    X, y = _data(name)
    ours_cls, theirs_cls = ((DecisionTreeRegressor, sk_tree.DecisionTreeRegressor)
                            if name == "diabetes"
                            else (DecisionTreeClassifier, sk_tree.DecisionTreeClassifier))
    for random_state in (0, 1):
        ours = ours_cls(split_finder="exact", random_state=random_state, **params).fit(X, y)
        theirs = theirs_cls(random_state=random_state, **params).fit(X, y)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)
        assert_allclose(ours.feature_importances_, theirs.feature_importances_, atol=1e-12)


@pytest.mark.parametrize("params", [
    pytest.param({"criterion": "entropy", "class_weight": {0: 1, 1: 3, 2: 2}}, id="class_weight"),
    pytest.param({"criterion": "log_loss", "max_features": 0.5}, id="log_loss")])
def test_weighted_classification_trees_are_scikit_learns(params):
    X, y = _data("wine")
    ours = DecisionTreeClassifier(split_finder="exact", random_state=0, **params).fit(X, y)
    theirs = sk_tree.DecisionTreeClassifier(random_state=0, **params).fit(X, y)
    assert_same_sklearn_tree(ours.tree_, theirs.tree_)


def _rounding_splits(tree):
    """Split nodes of a classification tree whose rows are all of one class."""
    split = tree.children_left != -1
    return int(np.sum(split & (np.count_nonzero(tree.value[:, 0, :], axis=1) == 1)))


@pytest.mark.parametrize("criterion", ["gini", "entropy"])
@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_equal_fractional_weight_trees_are_scikit_learns(name, criterion):
    X, y = _data(name)
    rounding = 0
    for weight in (0.1, 1 / 3, 0.7):
        w = np.full(len(y), weight)
        theirs = sk_tree.DecisionTreeClassifier(criterion=criterion, random_state=0).fit(
            X, y, sample_weight=w)
        rounding += _rounding_splits(theirs.tree_)
        for X_fit in (X, sp.csr_matrix(X)):
            ours = DecisionTreeClassifier(split_finder="exact", criterion=criterion,
                                          random_state=0).fit(X_fit, y, sample_weight=w)
            assert_same_sklearn_tree(ours.tree_, theirs.tree_)
    # the case this is about, scikit-learn's splits of pure nodes (iris has none: there the
    # proxies' ties, computed as scikit-learn's, decide)
    assert rounding > 0 or name == "iris"


@pytest.mark.parametrize("criterion", ["absolute_error", "poisson"])
def test_other_regression_criteria_are_scikit_learns(criterion):
    X, y = _data("diabetes")
    params = dict(criterion=criterion, max_depth=4, max_features=5, random_state=0)
    ours = DecisionTreeRegressor(split_finder="exact", **params).fit(X, y)
    assert_same_sklearn_tree(ours.tree_, sk_tree.DecisionTreeRegressor(**params).fit(X, y).tree_)


@pytest.mark.parametrize("params, weighted", [
    pytest.param({}, False, id="default"),
    pytest.param({"max_features": 0.5, "max_samples": 0.7}, False, id="max_samples"),
    pytest.param({"oob_score": True, "max_depth": 6}, False, id="oob"),
    pytest.param({}, True, id="integer-sample_weight"),
])
@pytest.mark.parametrize("name", ["iris", "wine", "diabetes"])
def test_forests_are_scikit_learns(name, params, weighted):
    X, y = _data(name)
    ours_cls, theirs_cls = ((RandomForestRegressor, sk_ensemble.RandomForestRegressor)
                            if name == "diabetes"
                            else (RandomForestClassifier, sk_ensemble.RandomForestClassifier))
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float) if weighted else None
    ours = ours_cls(8, split_finder="exact", random_state=0, **params).fit(X, y, sample_weight=w)
    theirs = theirs_cls(8, random_state=0, **params).fit(X, y, sample_weight=w)
    for a, b in zip(ours.estimators_samples_, theirs.estimators_samples_):
        assert_array_equal(a, b)
    for a, b in zip(ours.estimators_, theirs.estimators_):
        assert a.random_state == b.random_state
        assert_same_sklearn_tree(a.tree_, b.tree_)
    assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)
    if params.get("oob_score"):
        assert ours.oob_score_ == pytest.approx(theirs.oob_score_, rel=1e-12)


def _fractional_weights(n):
    rng = np.random.default_rng(0)
    return {"0.1": np.full(n, 0.1), "1/3": np.full(n, 1 / 3), "random": rng.uniform(0.1, 2, n)}


def _regression_data(name, criterion, n_targets=1):
    if name in ("make_regression", "sparse_regression"):
        X, y = datasets.make_regression(300, 8, n_targets=n_targets, noise=5.0, random_state=0)
        if name == "sparse_regression":
            # most values zero: a block of zero rows between the negatives and the positives
            X[np.random.default_rng(0).random(X.shape) < 0.6] = 0
        X = X.astype(np.float32)
        if criterion == "poisson":
            y = y - y.min(axis=0) + 1
        return X, y
    return _data(name)


FRACTIONAL_PARAMS = [
    pytest.param({}, id="default"),
    pytest.param({"max_features": 3}, id="max_features=3"),
    pytest.param({"max_leaf_nodes": 10}, id="max_leaf_nodes"),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", FRACTIONAL_PARAMS)
@pytest.mark.parametrize("criterion", ["squared_error", "poisson"])
@pytest.mark.parametrize("name", ["diabetes", "make_regression"])
def test_fractional_weight_regression_trees_are_scikit_learns(name, criterion, params, dtype):
    X, y = _regression_data(name, criterion)
    for label, w in _fractional_weights(len(y)).items():
        theirs = sk_tree.DecisionTreeRegressor(criterion=criterion, random_state=0,
                                               **params).fit(X, y, sample_weight=w)
        # float64 values that are float32's: the same values, so the same tree
        ours = DecisionTreeRegressor(split_finder="exact", criterion=criterion, random_state=0,
                                     **params).fit(X.astype(dtype), y, sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", FRACTIONAL_PARAMS)
@pytest.mark.parametrize("criterion", ["gini", "entropy"])
@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits"])
def test_fractional_weight_trees_are_scikit_learns(name, criterion, params, dtype):
    X, y = _data(name)
    fits = [({"class_weight": "balanced"}, None),
            ({"class_weight": "balanced"}, np.full(len(y), 0.1)),
            ({}, _fractional_weights(len(y))["random"])]
    for extra, w in fits:
        kw = dict(criterion=criterion, random_state=0, **params, **extra)
        theirs = sk_tree.DecisionTreeClassifier(**kw).fit(X, y, sample_weight=w)
        ours = DecisionTreeClassifier(split_finder="exact", **kw).fit(X.astype(dtype), y,
                                                                      sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_fractional_weight_trees_with_missing_values_are_scikit_learns(name):
    # scikit-learn's order with missing values: moved to the end before each sort, to the front
    # for the second pass, and left there for the next feature's sort
    X, y = _data(name)
    X = X.copy()
    X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    w = _fractional_weights(len(y))["random"]
    cls = ((DecisionTreeRegressor, sk_tree.DecisionTreeRegressor) if name == "diabetes"
           else (DecisionTreeClassifier, sk_tree.DecisionTreeClassifier))
    for params in ({}, {"max_features": 4}):
        theirs = cls[1](random_state=0, **params).fit(X, y, sample_weight=w)
        ours = cls[0](split_finder="exact", random_state=0, **params).fit(X, y, sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("name", ["wine", "diabetes"])
def test_fractional_weight_forests_are_scikit_learns(name):
    X, y = _data(name)
    if name == "diabetes":
        ours_cls, theirs_cls, extra = RandomForestRegressor, sk_ensemble.RandomForestRegressor, {}
    else:
        ours_cls, theirs_cls = RandomForestClassifier, sk_ensemble.RandomForestClassifier
        extra = {"class_weight": "balanced_subsample"}
    w = _fractional_weights(len(y))["random"]
    theirs = theirs_cls(6, random_state=0, max_features=0.5, **extra).fit(X, y, sample_weight=w)
    forests = [ours_cls(6, split_finder="exact", random_state=0, max_features=0.5, n_jobs=n_jobs,
                        **extra).fit(X, y, sample_weight=w) for n_jobs in (1, 2)]
    for ours in forests:
        for a, b in zip(ours.estimators_, theirs.estimators_):
            assert_same_sklearn_tree(a.tree_, b.tree_)
        assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)


SPARSE_FITS = [("diabetes", "squared_error"), ("sparse_regression", "squared_error"),
               ("sparse_regression", "poisson"), ("iris", "gini"), ("wine", "entropy"),
               ("digits", "gini")]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", [pytest.param({}, id="default"),
                                    pytest.param({"max_features": 3, "max_leaf_nodes": 12},
                                                 id="max_features-best_first")])
@pytest.mark.parametrize("name, criterion", SPARSE_FITS)
def test_fractional_weight_sparse_trees_are_scikit_learns(name, criterion, params, dtype):
    X, y = _regression_data(name, criterion)
    regression = criterion in ("squared_error", "poisson")
    w = _fractional_weights(len(y))
    fits = ([({}, w["1/3"]), ({}, w["random"])] if regression else
            [({"class_weight": "balanced"}, None), ({}, w["random"])])
    ours_cls, theirs_cls = ((DecisionTreeRegressor, sk_tree.DecisionTreeRegressor) if regression
                            else (DecisionTreeClassifier, sk_tree.DecisionTreeClassifier))
    for (extra, weight), to_sparse in zip(fits, (sp.csr_matrix, sp.csc_matrix)):
        kw = dict(criterion=criterion, random_state=0, **params, **extra)
        # scikit-learn's sparse splitter orders a node's rows unlike its dense one: its tree on
        # sparse X is the reference
        theirs = theirs_cls(**kw).fit(sp.csr_matrix(X), y, sample_weight=weight)
        ours = ours_cls(split_finder="exact", **kw).fit(to_sparse(X.astype(dtype)), y,
                                                        sample_weight=weight)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("criterion", ["squared_error", "poisson", "absolute_error"])
def test_fractional_weight_multi_output_trees_are_scikit_learns(criterion, sparse):
    # scikit-learn's squared error sums w y^2 over the rows and the outputs in one sum
    X, Y = _regression_data("sparse_regression", criterion, n_targets=3)
    X_fit = sp.csr_matrix(X) if sparse else X
    for params in ({}, {"max_features": 3, "max_leaf_nodes": 12}):
        kw = dict(criterion=criterion, random_state=0, **params)
        w = _fractional_weights(len(Y))["random"]
        theirs = sk_tree.DecisionTreeRegressor(**kw).fit(X_fit, Y, sample_weight=w)
        ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(X_fit, Y, sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
@pytest.mark.parametrize("params", FRACTIONAL_PARAMS)
@pytest.mark.parametrize("name", ["diabetes", "sparse_regression"])
def test_fractional_weight_absolute_error_trees_are_scikit_learns(name, params, sparse):
    # diabetes' targets are integers, many tied: their ranks are scikit-learn's ranks
    X, y = _regression_data(name, "absolute_error")
    X_fit = sp.csr_matrix(X) if sparse else X
    for weight in ("0.1", "random"):
        w = _fractional_weights(len(y))[weight]
        kw = dict(criterion="absolute_error", random_state=0, **params)
        theirs = sk_tree.DecisionTreeRegressor(**kw).fit(X_fit, y, sample_weight=w)
        ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(X_fit, y, sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("criterion", ["squared_error", "absolute_error"])
def test_fractional_weight_sparse_forests_are_scikit_learns(criterion):
    # without bootstrap the trees keep the fractional weights (a bootstrap's are its counts)
    X, Y = _regression_data("sparse_regression", criterion, n_targets=2)
    X = sp.csr_matrix(X[:200])
    Y = Y[:200]
    w = _fractional_weights(len(Y))["random"]
    kw = dict(criterion=criterion, random_state=0, max_features=0.5, bootstrap=False)
    theirs = sk_ensemble.RandomForestRegressor(4, **kw).fit(X, Y, sample_weight=w)
    for n_jobs in (1, 2):
        ours = RandomForestRegressor(4, split_finder="exact", n_jobs=n_jobs, **kw).fit(
            X, Y, sample_weight=w)
        for a, b in zip(ours.estimators_, theirs.estimators_):
            assert_same_sklearn_tree(a.tree_, b.tree_)


# Targets that are not integers: scikit-learn's sums of w*y (and w*y^2, the Poisson loss, the
# absolute errors) round by the order of its rows whatever the weights, so unweighted and
# integer-weighted fits (every bootstrap) keep its order too (Builder's constructor).
TARGET_PARAMS = [
    pytest.param({}, id="default"),
    pytest.param({"max_features": 0.5}, id="max_features"),
    pytest.param({"max_leaf_nodes": 25, "max_features": 3}, id="best_first"),
]


def _float_target_data(criterion, zeros=False):
    X, y = datasets.make_regression(400, 6, noise=5.0, random_state=0)
    if zeros:  # ties within features: scikit-learn's sort then decides the rows' order
        X[np.random.default_rng(0).random(X.shape) < 0.6] = 0
    if criterion == "poisson":
        y = y - y.min() + 0.5
    return X.astype(np.float32), y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("params", TARGET_PARAMS)
@pytest.mark.parametrize("criterion", ["squared_error", "poisson", "absolute_error"])
def test_float_target_trees_are_scikit_learns(criterion, params, dtype):
    X, y = _float_target_data(criterion, zeros=criterion == "absolute_error")
    weights = {"unweighted": None,
               "integer": np.random.default_rng(1).integers(0, 4, len(y)).astype(float)}
    for label, w in weights.items():
        for random_state in (0, 1, 2):
            kw = dict(criterion=criterion, random_state=random_state, **params)
            theirs = sk_tree.DecisionTreeRegressor(**kw).fit(X, y, sample_weight=w)
            ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(X.astype(dtype), y,
                                                                         sample_weight=w)
            assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("params", TARGET_PARAMS)
@pytest.mark.parametrize("criterion", ["squared_error", "poisson", "absolute_error"])
def test_float_target_sparse_trees_are_scikit_learns(criterion, params):
    X, y = _float_target_data(criterion, zeros=True)
    for w in (None, np.random.default_rng(1).integers(0, 4, len(y)).astype(float)):
        kw = dict(criterion=criterion, random_state=0, **params)
        theirs = sk_tree.DecisionTreeRegressor(**kw).fit(sp.csr_matrix(X), y, sample_weight=w)
        ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(sp.csr_matrix(X), y,
                                                                     sample_weight=w)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


def test_integer_target_poisson_trees_are_scikit_learns():
    # counts: w*y sums exactly, but the Poisson loss's y log y does not
    X, y = _float_target_data("squared_error")
    y = np.round((y - y.min()) / 20)
    for params in ({}, {"max_features": 3}):
        kw = dict(criterion="poisson", random_state=0, **params)
        theirs = sk_tree.DecisionTreeRegressor(**kw).fit(X, y)
        ours = DecisionTreeRegressor(split_finder="exact", **kw).fit(X, y)
        assert_same_sklearn_tree(ours.tree_, theirs.tree_)


@pytest.mark.parametrize("sparse", [False, True], ids=["dense", "csr"])
def test_float_target_forests_are_scikit_learns(sparse):
    X, y = _float_target_data("squared_error", zeros=sparse)
    X_fit = sp.csr_matrix(X) if sparse else X
    theirs = sk_ensemble.RandomForestRegressor(4, random_state=0, max_features=0.5).fit(X_fit, y)
    for n_jobs in (1, 2):
        ours = RandomForestRegressor(4, split_finder="exact", random_state=0, max_features=0.5,
                                     n_jobs=n_jobs).fit(X_fit, y)
        for a, b in zip(ours.estimators_, theirs.estimators_):
            assert_same_sklearn_tree(a.tree_, b.tree_)
        assert_allclose(ours.predict(X_fit), theirs.predict(X_fit), rtol=1e-12)
