"""fastml.tree.DecisionTreeClassifier / DecisionTreeRegressor: accuracy against scikit-learn,
the parameters' effects, determinism, pickling, and clear errors on bad input."""
import functools
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import tree as sk
from sklearn.datasets import load_iris
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import StratifiedKFold
from sklearn.utils import compute_sample_weight
from sklearn.utils._param_validation import InvalidParameterError

from fastml.reference import cart as reference
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor, export_text
from tests._assertions import (SCORED_DATASETS, SURROGATE_ARRAYS, TREE_ARRAYS,
                               assert_same_tree, cross_validated_score, scored_dataset)

FINDERS = ["exact", "hist"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _arrays(tree):
    return {name: getattr(tree, name) for name in TREE_ARRAYS + SURROGATE_ARRAYS}


def _regression(n=400, d=5, seed=0, missing=0.0):
    rng = np.random.default_rng([n, d, seed])
    X = rng.standard_normal((n, d))
    y = X[:, 0] - 0.5 * X[:, 1] ** 2 + np.sin(2 * X[:, 2]) + 0.3 * rng.standard_normal(n)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    return X, y


def _classification(n=400, d=5, n_classes=3, seed=0, missing=0.0):
    X, score = _regression(n, d, seed, missing)
    return X, np.digitize(score, np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]))


# ---------------------------------------------------------------------------------------------
# Accuracy against scikit-learn

# Repetitions of a shuffled 5-fold cross-validation, each with its own random_state for both
# libraries: a single tree is high-variance (ties are broken differently), the mean is not.
REPEATS = {"iris": 20, "digits": 6, "wine": 20, "breast_cancer": 20, "diabetes": 20}
# A single regression tree grown to purity overfits diabetes wildly (R^2 ~ 0): larger leaves.
TREE_PARAMS = {"diabetes": {"min_samples_leaf": 10}}


@functools.cache
def _sklearn_score(name):
    cls = sk.DecisionTreeRegressor if name == "diabetes" else sk.DecisionTreeClassifier
    params = TREE_PARAMS.get(name, {})
    return cross_validated_score(lambda seed: cls(random_state=seed, **params), name,
                                 REPEATS[name])


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("name", list(SCORED_DATASETS))
def test_score_matches_sklearn(name, finder):
    cls = DecisionTreeRegressor if name == "diabetes" else DecisionTreeClassifier
    params = TREE_PARAMS.get(name, {})
    ours = cross_validated_score(
        lambda seed: cls(split_finder=finder, random_state=seed, **params), name, REPEATS[name])
    theirs = _sklearn_score(name)
    assert abs(ours - theirs) <= 0.01, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


@pytest.mark.parametrize("finder", FINDERS)
def test_absolute_error_score_matches_sklearn(finder):
    params = dict(criterion="absolute_error", min_samples_leaf=10)
    ours = cross_validated_score(lambda seed: DecisionTreeRegressor(
        split_finder=finder, random_state=seed, **params), "diabetes", 10)
    theirs = cross_validated_score(lambda seed: sk.DecisionTreeRegressor(
        random_state=seed, **params), "diabetes", 10)
    assert abs(ours - theirs) <= 0.01, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("splitter", ["best", "random"])
@pytest.mark.parametrize("finder", FINDERS)
def test_absolute_error_nodes_hold_their_median_and_error(finder, splitter, weighted):
    """Every node's value is the weighted median of its training rows (scikit-learn's rule) and
    its impurity their mean absolute error from it; leaves predict the median."""
    X, y = _regression(300, missing=0.1)
    y = np.round(y, 1)  # repeated targets: medians between two of them occur
    w = np.random.default_rng(2).integers(1, 4, len(y)) if weighted else np.ones(len(y))
    est = DecisionTreeRegressor(criterion="absolute_error", split_finder=finder,
                                splitter=splitter, min_samples_leaf=3, random_state=0)
    tree = est.fit(X, y, sample_weight=w).tree_
    assert tree.node_count >= 15
    rows = est.decision_path(X).toarray().astype(bool)
    for node in range(tree.node_count):
        yn, wn = y[rows[:, node]], w[rows[:, node]]
        median = reference.weighted_median(yn, wn.astype(float))
        assert_allclose(tree.value[node, 0, 0], median, rtol=1e-12, err_msg=str(node))
        assert_allclose(tree.impurity[node], (wn * np.abs(yn - median)).sum() / wn.sum(),
                        rtol=1e-9, atol=1e-12, err_msg=str(node))
    assert_array_equal(est.predict(X), tree.value[reference.apply(_arrays(tree), X), 0, 0])


def test_split_finder_auto():
    X = np.arange(10_001.0)[:, None]
    y = X[:, 0] % 3
    assert DecisionTreeRegressor(max_depth=2).fit(X[:10_000], y[:10_000]).split_finder_ == "exact"
    assert DecisionTreeRegressor(max_depth=2).fit(X, y).split_finder_ == "hist"


# ---------------------------------------------------------------------------------------------
# Determinism and pickling

@pytest.mark.parametrize("splitter", ["best", "random"])
@pytest.mark.parametrize("finder", FINDERS)
def test_same_random_state_same_tree(finder, splitter):
    X, y = _classification(missing=0.1)
    params = dict(split_finder=finder, splitter=splitter, max_features=2)
    first = DecisionTreeClassifier(random_state=3, **params).fit(X, y)
    second = DecisionTreeClassifier(random_state=3, **params).fit(X, y)
    assert_same_tree(first.tree_, second.tree_)
    rng = np.random.RandomState(3)
    third = DecisionTreeClassifier(random_state=rng, **params).fit(X, y)
    assert_same_tree(first.tree_, third.tree_)
    # Another seed draws other features: another tree.
    other = DecisionTreeClassifier(random_state=4, **params).fit(X, y)
    assert (other.tree_.node_count != first.tree_.node_count
            or not np.array_equal(other.tree_.feature, first.tree_.feature))


@pytest.mark.parametrize("missing_values", ["learn", "surrogate"])
@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_pickle_round_trip(cls, finder, missing_values, dtype):
    X, y = (_classification if cls is DecisionTreeClassifier else _regression)(missing=0.1)
    X = X.astype(dtype)
    est = cls(split_finder=finder, max_features=3, missing_values=missing_values,
              random_state=0).fit(X, y)
    assert (est.tree_.surrogate_ptr[-1] > 0) == (missing_values == "surrogate")
    before = est.predict(X)  # the packed tree is built before pickling
    loaded = pickle.loads(pickle.dumps(est))
    assert_same_tree(loaded.tree_, est.tree_)
    X_new = _regression(200, 5, seed=1, missing=0.1)[0].astype(dtype)
    assert_array_equal(loaded.predict(X), before)
    assert_array_equal(loaded.predict(X_new), est.predict(X_new))
    assert_array_equal(loaded.apply(X_new), est.apply(X_new))
    if cls is DecisionTreeClassifier:
        assert_array_equal(loaded.predict_proba(X_new), est.predict_proba(X_new))
        assert_array_equal(loaded.classes_, est.classes_)
    assert loaded.get_params() == est.get_params()


# ---------------------------------------------------------------------------------------------
# Bad input: clear errors, never a crash

def test_infinite_values_in_X_are_rejected():
    X, y = _classification()
    X_inf = X.copy()
    X_inf[3, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        DecisionTreeClassifier().fit(X_inf, y)
    est = DecisionTreeClassifier().fit(X, y)
    with pytest.raises(ValueError, match="infinity"):
        est.predict(-X_inf)


@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_missing_values_in_y_are_rejected(cls):
    X, y = _regression()
    y[5] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        cls().fit(X, y)


@pytest.mark.parametrize("params", [{"max_depth": 0}, {"max_depth": -1},
                                    {"min_samples_split": 0}, {"min_samples_leaf": 0},
                                    {"max_bins": 256}, {"max_bins": 1}, {"split_finder": "approx"},
                                    {"criterion": "mse"}, {"ccp_alpha": -1.0},
                                    {"missing_values": "impute"}],
                         ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_invalid_parameters_are_rejected(params):
    X, y = _regression(50)
    with pytest.raises(InvalidParameterError):
        DecisionTreeRegressor(**params).fit(X, y)
    assert issubclass(InvalidParameterError, ValueError)


def test_invalid_values_are_rejected():
    X, y = _classification(100)
    with pytest.raises(ValueError, match="Negative values in data passed to `sample_weight`"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.where(np.arange(100) == 7, -1.0, 1.0))
    with pytest.raises(ValueError, match="at least one non-zero"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.zeros(100))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        DecisionTreeClassifier().fit(X, y[:-1])
    with pytest.raises(ValueError, match="sample_weight"):
        DecisionTreeClassifier().fit(X, y, sample_weight=np.ones(99))
    with pytest.raises(ValueError, match="monotonic_cst has shape"):
        DecisionTreeRegressor(monotonic_cst=[1, 0]).fit(X, y * 1.0)
    with pytest.raises(ValueError, match="monotonic_cst must be None or an array-like of -1, 0"):
        DecisionTreeRegressor(monotonic_cst=[2, 0, 0, 0, 0]).fit(X, y * 1.0)
    with pytest.raises(ValueError, match="multiclass"):
        DecisionTreeClassifier(monotonic_cst=[1, 0, 0, 0, 0]).fit(X, y)
    with pytest.raises(ValueError, match="max_features must be <= n_features"):
        DecisionTreeClassifier(max_features=6).fit(X, y)
    with pytest.raises(ValueError, match="dim 3"):
        DecisionTreeRegressor().fit(X, np.column_stack([y, y])[:, :, None])
    with pytest.raises(ValueError, match="negative"):
        DecisionTreeRegressor(criterion="poisson").fit(X, y - 1.0)
    with pytest.raises(ValueError, match="not positive"):
        DecisionTreeRegressor(criterion="poisson").fit(X, np.zeros(100))
    with pytest.raises(ValueError, match="n_jobs == 0"):
        DecisionTreeClassifier(n_jobs=0).fit(X, y)


@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_predict_checks_its_input(cls):
    X, y = _classification(100)
    with pytest.raises(NotFittedError):
        cls().predict(X)
    est = cls().fit(X, y)
    for method in (est.predict, est.apply, est.decision_path):
        with pytest.raises(ValueError, match="X has 4 features, but"):
            method(X[:, :4])
    with pytest.raises(ValueError, match="2D array"):
        est.predict(X[0])


@pytest.mark.parametrize("finder", FINDERS)
def test_single_class(finder):
    X, _ = _classification(60)
    est = DecisionTreeClassifier(split_finder=finder).fit(X, np.full(60, "only"))
    assert est.tree_.node_count == 1
    assert_array_equal(est.classes_, ["only"])
    assert_array_equal(est.predict(X[:5]), ["only"] * 5)
    assert_array_equal(est.predict_proba(X[:5]), np.ones((5, 1)))


@pytest.mark.parametrize("finder", FINDERS)
def test_constant_features_give_a_single_leaf(finder):
    X = np.ones((30, 3))
    y = np.arange(30.0)
    est = DecisionTreeRegressor(split_finder=finder).fit(X, y)
    assert est.tree_.node_count == 1 and est.get_depth() == 0
    assert_allclose(est.predict(X[:2]), [14.5, 14.5])
    assert_array_equal(est.feature_importances_, np.zeros(3))


@pytest.mark.parametrize("splitter", ["best", "random"])
@pytest.mark.parametrize("finder", FINDERS)
def test_values_within_feature_threshold_are_one_value(finder, splitter):
    """scikit-learn's FEATURE_THRESHOLD (1e-7): a feature spanning no more is never split on,
    and no threshold falls between values that close (runs of them are one value)."""
    rng = np.random.default_rng(0)
    near_constant = rng.integers(0, 2, 200) * 5e-8
    chained = rng.integers(0, 3, 200) * 4.5e-8 + rng.integers(0, 2, 200)  # runs 0..9e-8, 1..
    X = np.column_stack([near_constant, chained, rng.standard_normal(200)])
    y = near_constant * 1e8 + chained + 0.01 * rng.standard_normal(200)
    est = DecisionTreeRegressor(split_finder=finder, splitter=splitter, random_state=0)
    tree = est.fit(X, y).tree_
    split = tree.children_left != -1
    assert 0 not in tree.feature[split]
    thresholds = tree.threshold[split & (tree.feature == 1)]
    assert len(thresholds) and ((thresholds > 9e-8) & (thresholds < 1)).all()
    if splitter == "best" and finder == "exact":
        theirs = sk.DecisionTreeRegressor(random_state=0).fit(X, y).tree_
        assert_array_equal(tree.feature, theirs.feature)
        assert_allclose(tree.threshold, theirs.threshold)


# ---------------------------------------------------------------------------------------------
# Growth parameters

@pytest.mark.parametrize("finder", FINDERS)
def test_max_leaf_nodes_grows_best_first(finder):
    X, y = _regression(500)
    full = DecisionTreeRegressor(split_finder=finder, random_state=0).fit(X, y)
    assert full.get_n_leaves() > 60
    previous, order = None, [0]  # the node split at each step
    for k in range(2, 61):
        est = DecisionTreeRegressor(split_finder=finder, max_leaf_nodes=k, random_state=0)
        tree = est.fit(X, y).tree_
        assert est.get_n_leaves() == k and tree.node_count == 2 * k - 1
        if previous is not None:
            # One more leaf: the tree of k - 1 leaves with one of its leaves split, the children
            # numbered next.
            n = previous.node_count
            changed = np.flatnonzero(tree.feature[:n] != previous.feature[:n])
            assert len(changed) == 1 and previous.children_left[changed[0]] == -1
            node = changed[0]
            assert (tree.children_left[node], tree.children_right[node]) == (n, n + 1)
            others = np.arange(n) != node
            for name in ("children_left", "children_right", "threshold"):
                assert_array_equal(getattr(tree, name)[:n][others],
                                   getattr(previous, name)[:n][others], err_msg=name)
            for name in ("n_node_samples", "impurity", "value"):
                assert_array_equal(getattr(tree, name)[:n], getattr(previous, name)[:n],
                                   err_msg=name)
            order.append(node)
        previous = tree
    # Best first: each step splits the leaf whose split decreases the impurity most, among
    # the leaves of that moment (those split later show their decrease in the last tree).
    gains = _improvements(previous)
    for step, node in enumerate(order):
        later = [m for m in order[step + 1:] if m < 2 * step + 1]
        assert all(gains[node] >= gains[m] * (1 - 1e-12) for m in later), f"step {step}"


def _improvements(tree):
    """The weighted impurity decrease of every split node, relative to the root weight."""
    w, impurity = tree.weighted_n_node_samples, tree.impurity
    split = np.flatnonzero(tree.children_left != -1)
    left, right = tree.children_left[split], tree.children_right[split]
    decrease = (w[split] * impurity[split] - w[left] * impurity[left]
                - w[right] * impurity[right]) / w[0]
    return dict(zip(split, decrease))


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("criterion, missing_values", [
    ("gini", "learn"), ("squared_error", "learn"), ("gini", "surrogate"),
    ("squared_error", "surrogate"), ("absolute_error", "surrogate")])
def test_min_impurity_decrease(criterion, missing_values, finder):
    # with surrogates, the rows missing the split's feature count in its decrease where they
    # were routed (the search saw the present rows alone)
    missing = 0.2 if missing_values == "surrogate" else 0.0
    if criterion == "gini":
        X, y = _classification(600, missing=missing)
        cls, threshold = DecisionTreeClassifier, 2e-3
    else:
        X, y = _regression(600, missing=missing)
        cls, threshold = DecisionTreeRegressor, 5e-3
    params = dict(split_finder=finder, min_samples_leaf=5, random_state=0,
                  missing_values=missing_values)
    if cls is DecisionTreeRegressor:
        params["criterion"] = criterion
    full = cls(**params).fit(X, y).tree_
    limited = cls(min_impurity_decrease=threshold, **params).fit(X, y).tree_
    full_gain, limited_gain = _improvements(full), _improvements(limited)
    assert 3 <= limited.node_count < full.node_count
    # The limited tree is the full one with the subtrees under weak splits removed.
    stack, cut = [(0, 0)], 0
    while stack:
        a, b = stack.pop()
        if limited.children_left[b] == -1:
            if full.children_left[a] != -1:
                assert full_gain[a] < threshold
                cut += 1
            continue
        assert (limited.feature[b], limited.threshold[b]) == (full.feature[a], full.threshold[a])
        assert limited_gain[b] >= threshold
        stack += [(full.children_left[a], limited.children_left[b]),
                  (full.children_right[a], limited.children_right[b])]
    assert cut > 0


@pytest.mark.parametrize("finder", FINDERS)
def test_min_samples_leaf_and_min_weight_fraction_leaf(finder):
    X, y = _classification(500, missing=0.1)
    w = np.random.default_rng(0).uniform(0.2, 3.0, 500)
    for params in ({"min_samples_leaf": 9}, {"min_samples_leaf": 0.03},
                   {"min_weight_fraction_leaf": 0.02}):
        est = DecisionTreeClassifier(split_finder=finder, random_state=0, **params)
        tree = est.fit(X, y, sample_weight=w).tree_
        leaves = tree.children_left == -1
        assert tree.node_count >= 15
        if "min_samples_leaf" in params:
            smallest = params["min_samples_leaf"]
            smallest = smallest if smallest >= 1 else int(np.ceil(smallest * 500))
            assert tree.n_node_samples[leaves].min() >= smallest
            assert tree.n_node_samples[~leaves].min() >= 2 * smallest
        else:
            assert tree.weighted_n_node_samples[leaves].min() >= 0.02 * w.sum()
        # The leaves the training rows reach hold them.
        counts = np.bincount(est.apply(X), minlength=tree.node_count)
        assert_array_equal(counts[leaves], tree.n_node_samples[leaves])


def _assert_monotone(values, sign):
    steps = np.diff(values, axis=-1) * sign
    assert (steps >= 0).all(), f"steps against the constraint: {steps.min()}"


def _grid_predictions(predict, X, feature, n_rows=25):
    """predict on rows of X with `feature` swept over its range: (n_rows, 60)."""
    sweep = np.linspace(X[:, feature].min() - 0.1, X[:, feature].max() + 0.1, 60)
    rows = X[np.random.default_rng(0).choice(len(X), n_rows, replace=False)]
    grid = np.repeat(rows, len(sweep), axis=0)
    grid[:, feature] = np.tile(sweep, n_rows)
    return predict(grid).reshape(n_rows, len(sweep), -1)[..., -1]


@pytest.mark.parametrize("criterion", ["squared_error", "absolute_error"])
@pytest.mark.parametrize("finder", FINDERS)
def test_monotonic_constraints_regression(finder, criterion):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((600, 3))
    # Increasing in x0 and decreasing in x1 on average, with wiggles the tree would follow.
    y = X[:, 0] - X[:, 1] + np.sin(6 * X[:, 0]) + np.cos(6 * X[:, 1]) + 0.2 * X[:, 2]
    params = dict(criterion=criterion, split_finder=finder, random_state=0)
    free = DecisionTreeRegressor(**params).fit(X, y)
    est = DecisionTreeRegressor(monotonic_cst=[1, -1, 0], **params).fit(X, y)
    for feature, sign in ((0, 1), (1, -1)):
        _assert_monotone(_grid_predictions(est.predict, X, feature), sign)
        with pytest.raises(AssertionError):
            _assert_monotone(_grid_predictions(free.predict, X, feature), sign)
    assert est.score(X, y) > 0.5


@pytest.mark.parametrize("finder", FINDERS)
def test_monotonic_constraints_binary_classification(finder):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((600, 3))
    score = X[:, 0] - X[:, 1] + np.sin(6 * X[:, 0]) + 0.3 * rng.standard_normal(600)
    y = np.where(score > 0, "yes", "no")  # classes_ = ["no", "yes"]: the constraint is on "yes"
    free = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(X, y)
    est = DecisionTreeClassifier(split_finder=finder, monotonic_cst=[1, -1, 0],
                                 random_state=0).fit(X, y)
    for feature, sign in ((0, 1), (1, -1)):
        _assert_monotone(_grid_predictions(est.predict_proba, X, feature), sign)
        with pytest.raises(AssertionError):
            _assert_monotone(_grid_predictions(free.predict_proba, X, feature), sign)
    assert est.score(X, y) > 0.8


@pytest.mark.parametrize("finder", FINDERS)
def test_class_weight(finder):
    X, y = _classification(300)
    y[y == 2] = np.where(np.arange((y == 2).sum()) % 4 == 0, 2, 1)  # class 2 rare
    balanced = DecisionTreeClassifier(split_finder=finder, class_weight="balanced",
                                      random_state=0).fit(X, y)
    weighted = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(
        X, y, sample_weight=compute_sample_weight("balanced", y))
    assert_same_tree(balanced.tree_, weighted.tree_)
    assert_allclose(balanced.tree_.value[0, 0], np.full(3, 1 / 3))
    # A dict, combined with sample_weight by multiplication.
    w = np.random.default_rng(0).uniform(0.5, 2.0, 300)
    by_dict = DecisionTreeClassifier(split_finder=finder, class_weight={0: 1.0, 1: 2.0, 2: 5.0},
                                     random_state=0).fit(X, y, sample_weight=w)
    by_weight = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(
        X, y, sample_weight=w * np.array([1.0, 2.0, 5.0])[y])
    assert_same_tree(by_dict.tree_, by_weight.tree_)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls", [DecisionTreeClassifier, DecisionTreeRegressor])
def test_ccp_alpha_prunes_the_unpruned_tree(cls, finder):
    X, y = (_classification if cls is DecisionTreeClassifier else _regression)(300, missing=0.05)
    w = np.random.default_rng(0).uniform(0.5, 2.0, 300)
    unpruned = cls(split_finder=finder, random_state=0).fit(X, y, sample_weight=w)
    path = unpruned.cost_complexity_pruning_path(X, y, sample_weight=w)
    alphas = path.ccp_alphas
    for alpha in (alphas[1], alphas[len(alphas) // 2], (alphas[-3] + alphas[-2]) / 2, alphas[-1]):
        pruned = cls(split_finder=finder, random_state=0, ccp_alpha=alpha).fit(
            X, y, sample_weight=w)
        assert_same_tree(pruned.tree_, unpruned.tree_.prune(alpha))
        assert pruned.tree_.node_count < unpruned.tree_.node_count
    # the same random_state: with fractional weights the features' visiting order changes the
    # sums' rounding (scikit-learn's row order), so another tree's last alpha may miss by 1e-17
    assert cls(split_finder=finder, random_state=0, ccp_alpha=alphas[-1]).fit(
        X, y, sample_weight=w).tree_.node_count == 1


@pytest.mark.parametrize("finder", FINDERS)
def test_cost_complexity_pruning_path(finder):
    X, y = _regression(300)
    est = DecisionTreeRegressor(split_finder=finder, random_state=0)
    path = est.cost_complexity_pruning_path(X, y)
    alphas, impurities = path.ccp_alphas, path.impurities
    tree = DecisionTreeRegressor(split_finder=finder, random_state=0).fit(X, y).tree_
    n_split = (tree.children_left != -1).sum()
    assert alphas.shape == impurities.shape and 2 <= len(alphas) <= n_split + 1
    assert alphas[0] == 0.0 and (np.diff(alphas) >= 0).all()
    assert (np.diff(impurities) >= 0).all()
    # From the whole tree's leaf impurity to the root's.
    leaves = tree.children_left == -1
    w = tree.weighted_n_node_samples
    assert_allclose(impurities[0], (w[leaves] * tree.impurity[leaves]).sum() / w[0], rtol=1e-10)
    assert_allclose(impurities[-1], tree.impurity[0], rtol=1e-10)
    assert not hasattr(est, "tree_")  # the path does not fit the estimator itself


# ---------------------------------------------------------------------------------------------
# What a fitted tree reports

@pytest.mark.parametrize("finder", FINDERS)
def test_apply_and_decision_path_follow_the_tree(finder):
    X, y = _classification(400, missing=0.1)
    est = DecisionTreeClassifier(split_finder=finder, max_depth=8, random_state=0).fit(X, y)
    tree = est.tree_
    X_new = _regression(300, 5, seed=1, missing=0.2)[0]
    leaves = est.apply(X_new)
    assert leaves.dtype == np.int64
    assert_array_equal(leaves, reference.apply(_arrays(tree), X_new))
    assert_array_equal(leaves, tree.apply_numpy(X_new))
    # scikit-learn's Tree.apply on float32 rows
    assert_array_equal(leaves, tree.apply(X_new.astype(np.float32)))
    assert (tree.children_left[leaves] == -1).all()
    path = est.decision_path(X_new).tocsr()
    assert path.shape == (len(X_new), tree.node_count)
    for i in range(0, len(X_new), 7):
        nodes = [0]
        while tree.children_left[nodes[-1]] != -1:
            node, x = nodes[-1], X_new[i, tree.feature[nodes[-1]]]
            go_left = tree.missing_go_to_left[node] if np.isnan(x) else x <= tree.threshold[node]
            nodes.append(tree.children_left[node] if go_left else tree.children_right[node])
        assert_array_equal(np.sort(path[i].indices), nodes)
    assert_array_equal(est.predict_proba(X_new), tree.value[leaves, 0])
    assert_array_equal(est.predict(X_new), est.classes_[tree.value[leaves, 0].argmax(axis=1)])
    assert est.get_depth() == tree.max_depth <= 8
    assert est.get_n_leaves() == tree.n_leaves == (tree.children_left == -1).sum()


def test_predictions_are_the_leaf_values():
    X, y = _regression(400, missing=0.1)
    w = np.random.default_rng(3).uniform(0.5, 2.0, 400)
    est = DecisionTreeRegressor(min_samples_leaf=4, random_state=0).fit(X, y, sample_weight=w)
    leaves = est.apply(X)
    for leaf in np.unique(leaves):
        rows = leaves == leaf
        assert_allclose(est.predict(X[rows]), np.average(y[rows], weights=w[rows]), rtol=1e-12)
    clf = DecisionTreeClassifier(random_state=0).fit(X, y > 0)
    proba = clf.predict_proba(X)
    assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-12)
    with np.errstate(divide="ignore"):
        assert_array_equal(clf.predict_log_proba(X), np.log(proba))


@pytest.mark.parametrize("finder", FINDERS)
def test_feature_importances(finder):
    X, y = _regression(400, d=6)
    X[:, 4] = 1.0  # constant: never split on
    est = DecisionTreeRegressor(split_finder=finder, max_depth=6, random_state=0).fit(X, y)
    importances = est.feature_importances_
    assert importances.shape == (6,)
    assert_allclose(importances.sum(), 1.0, rtol=1e-12)
    assert (importances >= 0).all() and importances[4] == 0.0
    assert importances[:3].sum() > 0.8  # y depends on the first three features only
    assert_array_equal(importances, est.tree_.compute_feature_importances())


@pytest.mark.parametrize("finder", FINDERS)
def test_random_splitter(finder):
    X, y = _regression(300, missing=0.1)
    best = DecisionTreeRegressor(split_finder=finder, random_state=0).fit(X, y)
    rand = DecisionTreeRegressor(split_finder=finder, splitter="random", random_state=0)
    tree = rand.fit(X, y).tree_
    assert (tree.node_count != best.tree_.node_count
            or not np.array_equal(tree.threshold, best.tree_.threshold))
    assert_allclose(rand.score(X, y), 1.0)  # grown to purity all the same
    # Each threshold lies within the values of its node (both children are non-empty).
    path = rand.decision_path(X).toarray().astype(bool)
    split = np.flatnonzero(tree.children_left != -1)
    for node in split:
        x = X[path[:, node], tree.feature[node]]
        x = x[~np.isnan(x)]
        if np.isfinite(tree.threshold[node]):
            assert x.min() <= tree.threshold[node] < x.max()
    assert (tree.n_node_samples[tree.children_left[split]] >= 1).all()
    assert (tree.n_node_samples[tree.children_right[split]] >= 1).all()
    # Random thresholds are worse splits: more nodes to reach purity, on average.
    labels = y > 0
    best = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(X, labels)
    more = [DecisionTreeClassifier(split_finder=finder, splitter="random", random_state=s)
            .fit(X, labels).tree_.node_count for s in range(5)]
    assert np.mean(more) > best.tree_.node_count


@pytest.mark.parametrize("finder", FINDERS)
def test_export_text(finder):
    X, y = load_iris(return_X_y=True)
    est = DecisionTreeClassifier(split_finder=finder, max_depth=3, random_state=0).fit(X, y)
    names = ["sepal length", "sepal width", "petal length", "petal width"]
    text = export_text(est, feature_names=names)
    lines = text.strip().splitlines()
    # One line per leaf (its class) and two per split (<= and >).
    assert len(lines) == est.tree_.n_leaves + 2 * (est.tree_.node_count - est.tree_.n_leaves)
    root = names[est.tree_.feature[0]]
    assert lines[0].startswith(f"|--- {root} <= {est.tree_.threshold[0]:.2f}")
    assert sum("class:" in line for line in lines) == est.tree_.n_leaves
    regressor = DecisionTreeRegressor(split_finder=finder, max_depth=2).fit(X, y * 1.5)
    assert export_text(regressor).count("value: [") == regressor.tree_.n_leaves


# ---------------------------------------------------------------------------------------------
# Surrogate splits (missing_values="surrogate")

def _holed_score(name, missing_values, repeats):
    """Mean accuracy over shuffled 5-fold cross-validations of a tree fitted on complete rows
    and scored on test rows with 20% of their values made NaN at random."""
    X, y = scored_dataset(name)
    scores = []
    for r in range(repeats):
        rng = np.random.default_rng(r)
        for train, test in StratifiedKFold(5, shuffle=True, random_state=r).split(X, y):
            est = DecisionTreeClassifier(missing_values=missing_values, random_state=r)
            X_test = X[test].astype(np.float64)
            X_test[rng.random(X_test.shape) < 0.2] = np.nan
            scores.append(est.fit(X[train], y[train]).score(X_test, y[test]))
    return np.mean(scores)


@pytest.mark.parametrize("name, gain", [("breast_cancer", 0.01), ("digits", 0.05),
                                        ("iris", 0.05)])
def test_surrogates_predict_rows_with_missing_values_better(name, gain):
    """Rows missing values never seen missing in training: the learned rule sends them all
    to the larger child, surrogates follow the features that mimic the split (measured 3
    repeats: breast_cancer 0.893 -> 0.920, digits 0.687 -> 0.792, iris 0.824 -> 0.940)."""
    learned = _holed_score(name, "learn", 2)
    surrogate = _holed_score(name, "surrogate", 2)
    assert surrogate >= learned + gain, f"learn {learned:.4f}, surrogate {surrogate:.4f}"


@pytest.mark.parametrize("params", [
    pytest.param({"max_leaf_nodes": 30}, id="best-first"),
    pytest.param({"splitter": "random"}, id="random"),
    pytest.param({"ccp_alpha": 0.002}, id="pruned"),
    pytest.param({"max_features": 2, "min_samples_leaf": 4}, id="max_features"),
    pytest.param({"criterion": "poisson"}, id="poisson"),
    pytest.param({"criterion": "absolute_error", "max_depth": 6}, id="absolute_error"),
])
@pytest.mark.parametrize("finder", FINDERS)
def test_surrogates_with_every_growth_option(params, finder, dtype):
    """Every node holds the training rows the fitted tree routes to it, surrogates included;
    the compiled walk, the NumPy walk and the reference agree on rows missing values."""
    X, y = _regression(800, 5, seed=3, missing=0.2)
    if params.get("criterion") == "poisson":
        y = np.exp(y / 2)
    X = X.astype(dtype)
    est = DecisionTreeRegressor(split_finder=finder, missing_values="surrogate",
                                random_state=0, **params).fit(X, y)
    tree = est.tree_
    assert tree.surrogate_ptr[-1] > 0
    assert_array_equal(np.asarray(tree.decision_path(X).sum(axis=0)).ravel(),
                       tree.n_node_samples)
    X_new = _regression(300, 5, seed=4, missing=0.4)[0].astype(dtype)
    leaves = est.apply(X_new)
    assert_array_equal(leaves, tree.apply_numpy(X_new))
    # scikit-learn's Tree.apply on float32 rows
    assert_array_equal(leaves, tree.apply(X_new.astype(np.float32)))
    assert_array_equal(leaves, reference.apply(_arrays(tree), X_new))


@pytest.mark.parametrize("finder", FINDERS)
def test_monotonic_constraints_hold_with_surrogates(finder):
    """Rows missing a split's feature follow surrogates, which never use a constrained
    feature: x1 mimics the constrained x0 closely, and would otherwise route rows missing x1 by
    x0, against its constraint."""
    rng = np.random.default_rng(5)
    X = rng.standard_normal((800, 3))
    X[:, 1] = X[:, 0] + 0.3 * rng.standard_normal(800)
    y = X[:, 0] + np.sin(6 * X[:, 1]) + 0.2 * X[:, 2]
    X[:, 1:][rng.random((800, 2)) < 0.3] = np.nan
    est = DecisionTreeRegressor(split_finder=finder, missing_values="surrogate",
                                monotonic_cst=[1, 0, 0], random_state=0).fit(X, y)
    tree = est.tree_
    assert tree.surrogate_ptr[-1] > 0 and 0 not in tree.surrogate_feature
    _assert_monotone(_grid_predictions(est.predict, X, 0, n_rows=100), 1)
