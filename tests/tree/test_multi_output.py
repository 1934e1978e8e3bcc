"""Trees with several outputs (y of shape (n_samples, n_outputs)): the C++ core against the NumPy
reference, the trees against scikit-learn's (node for node where nothing ties, scores on real
data otherwise), the shapes of every attribute and return value, and errors on bad targets."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import tree as sk
from sklearn.datasets import load_diabetes, load_digits, make_multilabel_classification
from sklearn.model_selection import KFold
from sklearn.utils import compute_sample_weight

from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
from fastml.reference import cart as reference
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text
from fastml.tree import _cart
from fastml.tree._model import Tree
from tests._assertions import assert_same_tree
from tests.tree.test_cart import CLASSIFICATION, _assert_tree_matches_reference, _estimator

CRITERIA = CLASSIFICATION + ("squared_error", "friedman_mse", "poisson", "absolute_error")
# scikit-learn >= 1.9 maps friedman_mse to squared_error: its trees are compared on the others.
SKLEARN_CRITERIA = ("gini", "entropy", "squared_error", "poisson", "absolute_error")
FINDERS = ["exact", "hist"]
N_CLASSES = [3, 2, 4]  # of the three outputs of a classification problem


pytestmark = pytest.mark.usefixtures("one_thread")


def _problem(criterion, n=300, d=4, weighted=True, seed=0, missing=0.0):
    """(X, Y, w): X float64 holding float32 values without ties within a column, Y three outputs
    (classes from continuous scores, N_CLASSES of them, or targets, positive for poisson), w
    uniform in [0.5, 2] with 5% zeros (weighted) or None; `missing` of X NaN."""
    rng = np.random.default_rng([n, d, seed])
    X = rng.standard_normal((n, d)).astype(np.float32).astype(np.float64)
    assert all(len(np.unique(column)) == n for column in X.T)
    noise = 0.5 * rng.standard_normal((n, 3))
    Z = np.column_stack([X[:, 0] + X[:, 1] * X[:, -1], X[:, -1] - X[:, 1], X[:, 2] ** 2]) + noise
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    if criterion in CLASSIFICATION:
        Y = np.column_stack([np.digitize(z, np.quantile(z, np.linspace(0, 1, k + 1)[1:-1]))
                             for z, k in zip(Z.T, N_CLASSES)])
    elif criterion == "poisson":
        Y = np.exp(Z / 2) * rng.gamma(2.0, 0.5, (n, 3))
    else:
        Y = Z * [1.0, 3.0, 0.5]  # outputs of different scales weigh differently in the proxy
    w = None
    if weighted:
        w = rng.uniform(0.5, 2.0, n)
        w[rng.random(n) < 0.05] = 0.0
    return X, Y, w


def _reference(criterion, X, Y, w, **params):
    return reference.build_tree(X, Y, criterion=criterion, sample_weight=w,
                                n_classes=N_CLASSES if criterion in CLASSIFICATION else None,
                                **params)


# ---------------------------------------------------------------------------------------------
# The core against the reference

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_exact_matches_reference(criterion, weighted, dtype):
    X, Y, w = _problem(criterion, weighted=weighted)
    expected = _reference(criterion, X, Y, w, min_samples_leaf=10)
    est = _estimator(criterion, split_finder="exact", min_samples_leaf=10)
    est.fit(X.astype(dtype), Y, sample_weight=w)
    compared, _ = _assert_tree_matches_reference(est.tree_, expected, X, Y, w)
    assert compared == est.tree_.node_count >= 9
    assert est.tree_.value.shape == (est.tree_.node_count, 3, max(N_CLASSES)
                                     if criterion in CLASSIFICATION else 1)


@pytest.mark.parametrize("missing_values", ["learn", "surrogate"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_exact_matches_reference_with_missing_values(criterion, missing_values, dtype):
    X, Y, w = _problem(criterion, seed=1, missing=0.15)
    expected = _reference(criterion, X, Y, w, min_samples_leaf=10, missing_values=missing_values)
    est = _estimator(criterion, split_finder="exact", min_samples_leaf=10,
                     missing_values=missing_values)
    est.fit(X.astype(dtype), Y, sample_weight=w)
    compared, _ = _assert_tree_matches_reference(est.tree_, expected, X, Y, w)
    assert compared == est.tree_.node_count >= 9
    if missing_values == "surrogate":
        assert est.tree_.surrogate_ptr[-1] > 0


# Per criterion, a min_impurity_decrease that removes some splits but not all.
MIN_IMPURITY_DECREASE = {"gini": 5e-3, "entropy": 1.5e-2, "squared_error": 4e-2,
                         "friedman_mse": 2.0, "poisson": 3e-2, "absolute_error": 1e-2}


@pytest.mark.parametrize("criterion", CRITERIA)
def test_exact_matches_reference_with_stopping_rules(criterion):
    X, Y, w = _problem(criterion, seed=2)
    params = dict(min_samples_leaf=5, max_depth=5,
                  min_impurity_decrease=MIN_IMPURITY_DECREASE[criterion])
    expected = _reference(criterion, X, Y, w, **params)
    est = _estimator(criterion, split_finder="exact", **params).fit(X, Y, sample_weight=w)
    _assert_tree_matches_reference(est.tree_, expected, X, Y, w)
    unconstrained = _reference(criterion, X, Y, w, min_samples_leaf=5, max_depth=5)
    assert 3 <= est.tree_.node_count < len(unconstrained["feature"])


def _quantised(n, d, levels, seed):
    """X with `levels` distinct float32 values per column (ties within columns)."""
    rng = np.random.default_rng([n, d, levels, seed])
    grid = np.sort(rng.standard_normal((levels, d)).astype(np.float32), axis=0)
    return np.take_along_axis(grid, rng.integers(0, levels, (n, d)), axis=0).astype(np.float64)


@pytest.mark.parametrize("growth", [{}, {"max_leaf_nodes": 15}], ids=["depth_first", "best_first"])
@pytest.mark.parametrize("missing_values", ["learn", "surrogate"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_hist_equals_exact_with_a_bin_per_value(criterion, missing_values, growth, dtype):
    X = _quantised(600, 4, 150, seed=3)
    X[np.random.default_rng(4).random(X.shape) < 0.1] = np.nan
    _, Y, w = _problem(criterion, n=600, seed=3)
    trees = [_estimator(criterion, split_finder=finder, max_bins=150, min_samples_leaf=8,
                        missing_values=missing_values, **growth).fit(X.astype(dtype), Y,
                                                                      sample_weight=w)
             for finder in FINDERS]
    exact, hist = (t.tree_ for t in trees)
    assert trees[1].split_finder_ == "hist" and exact.node_count >= 9
    for name in ("children_left", "children_right", "feature", "missing_go_to_left",
                 "n_node_samples", "threshold", "surrogate_ptr", "surrogate_feature"):
        assert_array_equal(getattr(hist, name), getattr(exact, name), err_msg=name)
    for name in ("impurity", "value", "weighted_n_node_samples"):
        assert_allclose(getattr(hist, name), getattr(exact, name), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_a_repeated_output_gives_the_single_output_tree(criterion, finder):
    """Two copies of one output: every proxy doubles and the mean impurity is the output's, so
    the tree splits as the single-output one and holds its values twice."""
    X, Y, w = _problem(criterion, n=2000, seed=5)
    y = Y[:, 0]
    params = dict(split_finder=finder, min_samples_leaf=20)
    single = _estimator(criterion, **params).fit(X, y, sample_weight=w).tree_
    double = _estimator(criterion, **params).fit(X, np.column_stack([y, y]),
                                                 sample_weight=w).tree_
    for name in ("children_left", "children_right", "feature", "threshold", "n_node_samples"):
        assert_array_equal(double.__dict__[name], single.__dict__[name], err_msg=name)
    assert_allclose(double.impurity, single.impurity, rtol=1e-12, atol=1e-14)
    assert_allclose(double.value, np.repeat(single.value, 2, axis=1), rtol=1e-12)


@pytest.mark.parametrize("splitter", ["best", "random"])
@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_leaves_hold_the_statistics_of_their_rows(criterion, finder, splitter):
    """Whatever the search, every leaf holds, per output, the weighted class fractions, mean or
    median of the training rows it receives, and the mean of their impurities."""
    X, Y, w = _problem(criterion, n=500, seed=16, missing=0.1)
    est = _estimator(criterion, split_finder=finder, splitter=splitter, min_samples_leaf=10)
    tree = est.fit(X, Y, sample_weight=w).tree_
    leaf_of, kept = est.apply(X), w > 0
    leaves = np.flatnonzero(tree.children_left == -1)
    assert len(leaves) >= 5
    n_classes = N_CLASSES if criterion in CLASSIFICATION else [1, 1, 1]
    for leaf in leaves:
        rows = kept & (leaf_of == leaf)
        expected = reference.build_tree(X[rows], Y[rows], criterion=criterion,
                                        sample_weight=w[rows], max_depth=0,
                                        n_classes=n_classes if criterion in CLASSIFICATION
                                        else None)
        assert tree.n_node_samples[leaf] == rows.sum()
        assert_allclose(tree.value[leaf], expected["value"][0], rtol=1e-9, atol=1e-12)
        assert_allclose(tree.impurity[leaf], expected["impurity"][0], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls, y", [(DecisionTreeClassifier, np.arange(200) % 3),
                                    (DecisionTreeRegressor, np.sin(np.arange(200.0)))])
def test_a_column_vector_is_a_single_output(cls, y, finder):
    X = np.random.default_rng(6).standard_normal((200, 3))
    single = cls(split_finder=finder, random_state=0).fit(X, y)
    with pytest.warns(UserWarning, match="column-vector y"):  # scikit-learn's warning
        column = cls(split_finder=finder, random_state=0).fit(X, y[:, None])
    assert column.n_outputs_ == 1 and column.tree_.n_outputs == 1
    assert_array_equal(column.tree_.value, single.tree_.value)
    assert_array_equal(column.predict(X), single.predict(X))
    assert column.predict(X).shape == (200,)


def test_core_arguments_of_several_outputs():
    rng = np.random.default_rng(7)
    X = rng.standard_normal((50, 3))
    Y = np.ascontiguousarray(np.column_stack([X[:, 0] > 0, X[:, 1] > 0.5]), dtype=np.float64)
    params = dict(criterion=_cart.Criterion.gini, random_splitter=False, max_depth=3,
                  min_samples_split=2,
                  min_samples_leaf=1, min_weight_leaf=0.0, max_features=3, max_leaf_nodes=0,
                  min_impurity_decrease=0.0, monotonic_cst=None, surrogates=False)
    values = np.ascontiguousarray(X.T)

    def grow(y=Y, n_classes=(2, 2), **changes):
        return _cart.grow_tree(y, np.ones(50), list(n_classes),
                               _cart.Params(**{**params, **changes}), 0, 1, values=values)

    assert grow()["value"].shape[1:] == (2, 2)
    assert grow(n_classes=(2, 3))["value"].shape[1:] == (2, 3)  # output 0 padded with 0
    assert_array_equal(grow(n_classes=(2, 3))["value"][:, 0, 2], 0.0)
    with pytest.raises(ValueError, match="one count per output"):
        grow(n_classes=(2,))
    with pytest.raises(ValueError, match="0 for every output .regression. or >= 1"):
        grow(n_classes=(2, 0))
    with pytest.raises(ValueError, match="monotonic_cst needs a single output"):
        grow(monotonic_cst=np.zeros(3, np.int8))
    with pytest.raises(ValueError, match="y must be finite"):
        grow(y=np.where(np.arange(100).reshape(50, 2) == 7, np.nan, Y), n_classes=(0, 0),
             criterion=_cart.Criterion.squared_error)


# ---------------------------------------------------------------------------------------------
# Against scikit-learn

SKLEARN_CASES = {
    "plain": ({}, 0.0),
    "max_leaf_nodes": ({"max_leaf_nodes": 12}, 0.0),
    "missing": ({}, 0.1),
}


def _positive_weights(w):
    """scikit-learn counts rows of weight 0 in n_node_samples, fastml leaves them out."""
    w = w.copy()
    w[w == 0] = 1.0
    return w


@pytest.mark.parametrize("case", list(SKLEARN_CASES))
@pytest.mark.parametrize("criterion", SKLEARN_CRITERIA)
def test_exact_tree_is_sklearns(criterion, case):
    """Where no two candidates tie (continuous features, outputs and weights: unweighted class
    counts tie in small nodes), the exact search grows scikit-learn's tree node for node."""
    params, missing = SKLEARN_CASES[case]
    X, Y, w = _problem(criterion, n=250, seed=8, missing=missing)
    w = _positive_weights(w)
    params = {"min_samples_leaf": 5, **params}
    ours = _estimator(criterion, split_finder="exact", **params).fit(X, Y, sample_weight=w)
    sk_cls = sk.DecisionTreeClassifier if criterion in CLASSIFICATION else sk.DecisionTreeRegressor
    theirs = sk_cls(criterion=criterion, random_state=0, **params).fit(
        X.astype(np.float32), Y, sample_weight=w)
    a, b = ours.tree_, theirs.tree_
    assert a.node_count == b.node_count >= 9
    for name in ("children_left", "children_right", "feature", "n_node_samples"):
        assert_array_equal(getattr(a, name), getattr(b, name), err_msg=name)
    split = b.children_left != -1
    assert_array_equal(a.threshold[split], b.threshold[split])
    if missing:
        assert_array_equal(a.missing_go_to_left[split], b.missing_go_to_left[split])
    for name in ("impurity", "value", "weighted_n_node_samples"):
        assert_allclose(getattr(a, name), getattr(b, name), rtol=1e-9, atol=1e-12, err_msg=name)
    assert_allclose(ours.feature_importances_, theirs.feature_importances_, rtol=1e-9)
    if criterion in CLASSIFICATION:
        for p, q in zip(ours.predict_proba(X), theirs.predict_proba(X.astype(np.float32))):
            assert_allclose(p, q, rtol=1e-9, atol=1e-12)
    assert_allclose(ours.predict(X), theirs.predict(X.astype(np.float32)), rtol=1e-9)


def test_pruning_path_and_pruned_tree_are_sklearns():
    X, Y, _ = _problem("gini", n=250, seed=9)
    # integer weights: a pure node's impurity is 0 exactly in both (with fractional ones
    # scikit-learn's can round to just above its epsilon, and it splits the node)
    w = np.random.default_rng(9).integers(1, 6, len(X)).astype(np.float64)
    ours = DecisionTreeClassifier(split_finder="exact", random_state=0)
    theirs = sk.DecisionTreeClassifier(random_state=0)
    path = ours.cost_complexity_pruning_path(X, Y, sample_weight=w)
    expected = theirs.cost_complexity_pruning_path(X.astype(np.float32), Y, sample_weight=w)
    assert_allclose(path.ccp_alphas, expected.ccp_alphas, rtol=1e-9, atol=1e-15)
    assert_allclose(path.impurities, expected.impurities, rtol=1e-9)
    # midway between two late pruning steps: no rounding decides whether a step is taken, and
    # the small nodes, whose integer-weighted class counts tie between features, are gone
    k = len(path.ccp_alphas) * 9 // 10
    alpha = (path.ccp_alphas[k] + path.ccp_alphas[k + 1]) / 2
    assert path.ccp_alphas[k] < alpha < path.ccp_alphas[k + 1]
    pruned = DecisionTreeClassifier(split_finder="exact", random_state=0, ccp_alpha=alpha)
    pruned.fit(X, Y, sample_weight=w)
    expected = sk.DecisionTreeClassifier(random_state=0, ccp_alpha=alpha).fit(
        X.astype(np.float32), Y, sample_weight=w)
    assert 3 <= pruned.tree_.node_count == expected.tree_.node_count
    assert_array_equal(pruned.tree_.feature, expected.tree_.feature)
    assert_allclose(pruned.tree_.value, expected.tree_.value, rtol=1e-9, atol=1e-12)


def _digits_outputs():
    """digits with three outputs: the digit, its parity, and whether it is above 4."""
    X, y = load_digits(return_X_y=True)
    return X, np.column_stack([y, y % 2, y > 4])


def _multilabel():
    return make_multilabel_classification(n_samples=600, n_features=10, n_classes=4,
                                          random_state=0)


def _mean_accuracy(Y, P):
    return np.mean(Y == P)  # over the samples and the outputs


def _cv_score(make, X, Y, score, repeats):
    scores = []
    for r in range(repeats):
        for train, test in KFold(5, shuffle=True, random_state=r).split(X):
            est = make(r).fit(X[train], Y[train])
            scores.append(score(Y[test], est.predict(X[test])))
    return np.mean(scores)


def _r2(Y, P):
    return np.mean(1 - ((Y - P) ** 2).sum(axis=0) / ((Y - Y.mean(axis=0)) ** 2).sum(axis=0))


def _diabetes_outputs():
    """diabetes with three outputs: the disease progression and two of the blood serum
    measurements (s5, s6), predicted from the other features. (linnerud's 20 rows grow trees
    whose splits tie between features, broken at random: a score on them says little.)"""
    X, y = load_diabetes(return_X_y=True)
    return np.delete(X, [8, 9], axis=1), np.column_stack([y, X[:, 8], X[:, 9]])


# (data, fastml class, scikit-learn class, parameters, score, repeats)
SCORE_CASES = {
    "digits-3-outputs": (_digits_outputs, DecisionTreeClassifier, sk.DecisionTreeClassifier, {},
                         _mean_accuracy, 2),
    "multilabel": (_multilabel, DecisionTreeClassifier, sk.DecisionTreeClassifier,
                   {"min_samples_leaf": 3}, _mean_accuracy, 6),
    "diabetes-3-outputs": (_diabetes_outputs, DecisionTreeRegressor, sk.DecisionTreeRegressor,
                           {"min_samples_leaf": 10}, _r2, 20),
}


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("name", list(SCORE_CASES))
def test_score_on_real_multi_output_data_matches_sklearn(name, finder):
    data, cls, sk_cls, params, score, repeats = SCORE_CASES[name]
    X, Y = data()
    X = X.astype(np.float64)
    ours = _cv_score(lambda r: cls(split_finder=finder, random_state=r, max_bins=255, **params),
                     X, Y, score, repeats)
    theirs = _cv_score(lambda r: sk_cls(random_state=r, **params), X, Y, score, repeats)
    assert abs(ours - theirs) <= 0.01, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


def _shapes(value):
    if isinstance(value, list):
        return [_shapes(v) for v in value]
    return (np.shape(value), np.asarray(value).dtype.kind)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("outputs", [1, 3])
@pytest.mark.parametrize("classifier", [True, False], ids=["classifier", "regressor"])
def test_attributes_and_results_have_sklearns_shapes(classifier, outputs, finder):
    X, Y, _ = _problem("gini" if classifier else "squared_error", n=120, seed=10)
    Y = Y[:, 0] if outputs == 1 else Y
    cls, sk_cls = ((DecisionTreeClassifier, sk.DecisionTreeClassifier) if classifier
                   else (DecisionTreeRegressor, sk.DecisionTreeRegressor))
    ours = cls(split_finder=finder, random_state=0, max_depth=4).fit(X, Y)
    theirs = sk_cls(random_state=0, max_depth=4).fit(X, Y)
    assert ours.n_outputs_ == theirs.n_outputs_ == outputs
    if classifier:
        assert type(ours.classes_) is type(theirs.classes_)
        # one output: an int (scikit-learn's is a NumPy int), else an array of them
        assert isinstance(ours.n_classes_, int if outputs == 1 else np.ndarray)
        assert_array_equal(ours.n_classes_, theirs.n_classes_)
        for a, b in zip(np.atleast_2d(ours.classes_) if outputs == 1 else ours.classes_,
                        np.atleast_2d(theirs.classes_) if outputs == 1 else theirs.classes_):
            assert_array_equal(a, b)
    for name in ("n_outputs", "max_n_classes"):
        assert getattr(ours.tree_, name) == getattr(theirs.tree_, name), name
    assert_array_equal(ours.tree_.n_classes, theirs.tree_.n_classes)
    assert ours.tree_.n_classes.dtype == theirs.tree_.n_classes.dtype
    assert ours.tree_.value.shape[1:] == theirs.tree_.value.shape[1:]
    methods = ["predict", "apply"] + (["predict_proba", "predict_log_proba"] if classifier else [])
    for method in methods:
        with np.errstate(divide="ignore"):
            a, b = getattr(ours, method)(X), getattr(theirs, method)(X.astype(np.float32))
        assert _shapes(a) == _shapes(b), method
    assert ours.decision_path(X).shape[0] == theirs.decision_path(X).shape[0]
    assert ours.feature_importances_.shape == theirs.feature_importances_.shape
    if classifier and outputs > 1:  # accuracy_score takes no multiclass-multioutput targets
        for est in (ours, theirs):
            with pytest.raises(ValueError, match="multiclass-multioutput is not supported"):
                est.score(X, Y)
    else:
        assert ours.score(X, Y) == pytest.approx(theirs.score(X, Y), abs=0.05)


@pytest.mark.parametrize("finder", FINDERS)
def test_class_weight_per_output(finder):
    """A dict per output, or "balanced": the outputs' weights multiplied (scikit-learn's
    compute_sample_weight), as the equivalent sample_weight gives."""
    X, Y, w = _problem("gini", n=400, seed=11)
    for class_weight in ([{0: 1, 1: 3, 2: 1}, {0: 2, 1: 1}, {0: 1, 1: 1, 2: 5, 3: 1}],
                         "balanced"):
        weighted = DecisionTreeClassifier(split_finder=finder, random_state=0,
                                          class_weight=class_weight).fit(X, Y, sample_weight=w)
        expected = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(
            X, Y, sample_weight=w * compute_sample_weight(class_weight, Y))
        assert_array_equal(weighted.tree_.feature, expected.tree_.feature)
        assert_array_equal(weighted.tree_.threshold, expected.tree_.threshold)
    with pytest.raises(ValueError, match="list of dicts"):
        DecisionTreeClassifier(class_weight={0: 1, 1: 2}).fit(X, Y)


def test_monotonic_constraints_need_a_single_output():
    X, Y, _ = _problem("squared_error", n=50)
    for est in (DecisionTreeRegressor(monotonic_cst=[1, 0, 0, 0]),
                DecisionTreeClassifier(monotonic_cst=[1, 0, 0, 0])):
        with pytest.raises(ValueError, match="Monotonicity constraints are not supported with "
                                             "multiple outputs."):
            est.fit(X, Y if isinstance(est, DecisionTreeRegressor) else Y > 0)


@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor,
                                 RandomForestClassifier, RandomForestRegressor])
def test_bad_targets_raise_clear_errors(cls):
    X, Y, _ = _problem("squared_error", n=50)
    Y = np.round(Y)
    with pytest.raises(ValueError, match=r"y must have at least one output .column., got shape "
                                         r"\(50, 0\)"):
        cls().fit(X, Y[:, :0])
    with pytest.raises(ValueError, match="dim 3"):
        cls().fit(X, Y[:, :, None])
    for output in range(3):
        bad = Y.copy()
        bad[7, output] = np.nan
        with pytest.raises(ValueError, match="Input y contains NaN"):
            cls().fit(X, bad)
    # as scikit-learn: a tree's validation raises TypeError, a forest checks first
    forest = cls in (RandomForestClassifier, RandomForestRegressor)
    with pytest.raises(ValueError if forest else TypeError,
                       match="sparse multilabel-indicator" if forest else "sparse y"):
        cls().fit(X, sp.csr_matrix(Y))


def test_regression_targets_must_be_numeric_and_classes_discrete():
    X, Y, _ = _problem("squared_error", n=50)
    with pytest.raises(ValueError, match="Unknown label type"):
        DecisionTreeClassifier().fit(X, Y)  # continuous outputs
    with pytest.raises(ValueError):
        DecisionTreeRegressor().fit(X, np.column_stack([Y[:, 0], ["a"] * 50]).astype(object))


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("missing_values", ["learn", "surrogate"])
@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_pickle_round_trip(cls, missing_values, finder):
    X, Y, w = _problem("gini" if cls is DecisionTreeClassifier else "squared_error", seed=12,
                       missing=0.1)
    est = cls(split_finder=finder, missing_values=missing_values, random_state=0).fit(
        X, Y, sample_weight=w)
    loaded = pickle.loads(pickle.dumps(est))
    assert_array_equal(loaded.predict(X), est.predict(X))
    assert loaded.tree_.n_outputs == 3
    assert_array_equal(loaded.tree_.value, est.tree_.value)


@pytest.mark.parametrize("classifier", [True, False], ids=["classifier", "regressor"])
def test_export_text_and_graphviz_are_sklearns(classifier):
    X, Y, _ = _problem("gini" if classifier else "squared_error", n=200, seed=13)
    cls, sk_cls = ((DecisionTreeClassifier, sk.DecisionTreeClassifier) if classifier
                   else (DecisionTreeRegressor, sk.DecisionTreeRegressor))
    ours = cls(split_finder="exact", random_state=0, max_depth=3).fit(X, Y)
    theirs = sk_cls(random_state=0, max_depth=3).fit(X.astype(np.float32), Y)
    assert export_text(ours) == sk.export_text(theirs)
    assert export_text(ours, show_weights=True) == sk.export_text(theirs, show_weights=True)
    from fastml.tree import export_graphviz
    assert export_graphviz(ours) == sk.export_graphviz(theirs)
    # a bare Tree of several outputs exports too (classes 0..n_classes-1 of every output)
    assert export_text(ours.tree_).count("\n") == export_text(ours).count("\n")


def test_plot_tree_draws_several_outputs():
    pytest.importorskip("matplotlib", reason="plot_tree needs matplotlib")
    import matplotlib
    matplotlib.use("Agg")
    from fastml.tree import plot_tree
    X, Y, _ = _problem("gini", n=100, seed=14)
    est = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, Y)
    annotations = plot_tree(est)
    # one box per node; scikit-learn's plot_tree may add "True"/"False" labels on the root's edges
    boxes = [a for a in annotations if "samples = " in a.get_text()]
    assert len(boxes) == est.tree_.node_count
    # each box shows one row of class values per output
    assert all(a.get_text().split("value = ")[1].count("[") == 1 + Y.shape[1] for a in boxes)


def test_tree_of_several_outputs_checks_its_value():
    X, Y, _ = _problem("gini", n=100, seed=15)
    tree = DecisionTreeClassifier(max_depth=2, random_state=0).fit(X, Y).tree_
    nodes = {name: getattr(tree, name) for name in ("children_left", "children_right", "feature",
                                                     "threshold", "missing_go_to_left", "impurity",
                                                     "n_node_samples", "weighted_n_node_samples")}
    flat = Tree(tree.n_features, tree.n_classes, {**nodes, "value": tree.value.reshape(
        tree.node_count, -1)})
    assert_array_equal(flat.value, tree.value)
    with pytest.raises(ValueError, match="value must have shape"):
        Tree(tree.n_features, tree.n_classes, {**nodes, "value": tree.value[:, :2]})
    with pytest.raises(ValueError, match="n_classes must be a positive int"):
        Tree(tree.n_features, [3, 0, 4], {**nodes, "value": tree.value})
    assert repr(flat).startswith("Tree(n_features=4, n_classes=[3, 2, 4]")



@pytest.mark.parametrize("finder", FINDERS)
def test_thread_count_does_not_change_the_tree(finder):
    # 40,000 rows: subtrees below 16,384 rows are grown apart, in parallel with two threads
    rng = np.random.default_rng(17)
    X = rng.standard_normal((40_000, 5))
    Y = np.column_stack([X[:, 0] + X[:, 1] * X[:, 2], np.abs(X[:, 3])]) + rng.standard_normal(
        (40_000, 2))
    trees = [DecisionTreeRegressor(split_finder=finder, min_samples_leaf=20, random_state=0,
                                   n_jobs=n_jobs).fit(X, Y).tree_ for n_jobs in (1, 2)]
    assert_same_tree(trees[1], trees[0])
    assert trees[0].node_count > 1000
