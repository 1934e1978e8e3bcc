"""fastml.tree._cart, the C++ CART core: its trees against the NumPy reference
(fastml.reference.cart), the histogram search against the exact one, binning, weights, missing
values, threads, extreme values and the checks at entry of every binding."""
import functools

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal

from fastml.reference import cart as reference
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor
from fastml.tree import _cart
from fastml.tree._binning import THREADED_ROWS, bin_thresholds
from tests._assertions import SURROGATE_ARRAYS, set_at, surrogates_at

CLASSIFICATION = ("gini", "entropy")
CRITERIA = CLASSIFICATION + ("squared_error", "friedman_mse", "poisson", "absolute_error")
N_CLASSES = 3
# (n_samples, n_features): 20 to 2000 rows, one to ten features.
SHAPES = [(20, 1), (37, 2), (100, 3), (250, 6), (700, 10), (2000, 4)]
# Every node array of a fitted tree; value last (compared up to rounding with impurity).
INT_ARRAYS = ("children_left", "children_right", "feature", "missing_go_to_left",
              "n_node_samples")
ARRAYS = INT_ARRAYS + ("threshold", "weighted_n_node_samples", "impurity", "value")


pytestmark = pytest.mark.usefixtures("one_thread")


def _shape_id(shape):
    return "x".join(map(str, shape))


def _problem(criterion, n, d, weighted, seed=0, missing=0.0):
    """(X, y, w): X float64 holding float32 values, unique within each column (no tie between
    rows); y continuous for regression (positive for poisson), three classes from a continuous
    score for classification; w uniform in [0.5, 2] with 5% zeros (weighted) or None. With
    `missing`, that fraction of X is NaN, the NaN of feature 0 being informative."""
    rng = np.random.default_rng([n, d, seed])
    X = rng.standard_normal((n, d)).astype(np.float32).astype(np.float64)
    assert all(len(np.unique(column)) == n for column in X.T)
    z = X[:, 0] + (X[:, 1] * X[:, -1] if d > 1 else 0.0) + 0.5 * rng.standard_normal(n)
    if missing:
        mask = rng.random(X.shape) < missing
        z[mask[:, 0]] += 1.5
        X[mask] = np.nan
    if criterion in CLASSIFICATION:
        y = np.digitize(z, [-0.5, 0.7])
        assert set(y) == set(range(N_CLASSES))
    elif criterion == "poisson":
        y = np.exp(z / 2) * rng.gamma(2.0, 0.5, n)
    else:
        y = z
    w = None
    if weighted:
        w = rng.uniform(0.5, 2.0, n)
        w[rng.random(n) < 0.05] = 0.0
    return X, y, w


def _estimator(criterion, **params):
    cls = DecisionTreeClassifier if criterion in CLASSIFICATION else DecisionTreeRegressor
    # set_params keeps "friedman_mse", which __init__ maps to "squared_error" on scikit-learn
    # >= 1.9 (as scikit-learn's), so the core's own friedman_mse criterion stays tested
    return cls(random_state=0, **params).set_params(criterion=criterion)


def _reference(criterion, X, y, w, **params):
    return reference.build_tree(X, y, criterion=criterion, sample_weight=w,
                                n_classes=N_CLASSES if criterion in CLASSIFICATION else None,
                                **params)


def _leaf_size(n):
    """min_samples_leaf for n rows: large enough that no node is so small that two features
    split it into the same rows (the core visits features in a random order and keeps the first
    of equal proxies, the reference keeps the lowest index)."""
    return max(5, n // 20)


def _goes_left(nodes, node, X):
    """Whether each row of X goes left at the node: by the threshold, or (NaN) by the first
    surrogate the row has a value for, else by missing_go_to_left."""
    x = X[:, nodes["feature"][node]]
    left = x <= nodes["threshold"][node]
    for r in np.flatnonzero(np.isnan(x)):
        left[r] = bool(nodes["missing_go_to_left"][node])
        for g, threshold, reversed_ in surrogates_at(nodes, node):
            if not np.isnan(X[r, g]):
                left[r] = (X[r, g] <= threshold) != reversed_
                break
    return left


def _nodes(tree):
    """A fitted Tree's arrays as a dict, as the reference returns them."""
    return {name: getattr(tree, name) for name in ARRAYS + SURROGATE_ARRAYS}


def _children_counts(y, left):
    """The class counts of the two children, unordered, each child's counts sorted (gini and
    entropy are symmetric in the classes): equal for two splits of an unweighted node exactly
    when their gini and entropy proxies are equal by construction."""
    return sorted(tuple(np.sort(np.bincount(y[side], minlength=N_CLASSES)))
                  for side in (left, ~left))


def _absolute_cost(y, w, left):
    """The children's summed absolute errors from their medians: unweighted, different splits
    often tie on it (the absolute error of sorted a < b < c is c - a, whatever b)."""
    return sum((w[side] * np.abs(y[side] - reference.weighted_median(y[side], w[side]))).sum()
               for side in (left, ~left))


def _tie(criterion, y, w, left, other):
    """Whether two splits of a node tie by construction (see _assert_tree_matches_reference)."""
    if criterion == "absolute_error":
        return np.isclose(_absolute_cost(y, w, left), _absolute_cost(y, w, other), rtol=1e-12,
                          atol=0.0)
    return _children_counts(y, left) == _children_counts(y, other)


def _assert_rounding_subtree(tree, node, where):
    """The subtree below a node pure in exact arithmetic, split as scikit-learn splits it for
    its sums' rounding: impurities of rounding size (scikit-learn's EPSILON is 2.2e-16) and
    every node's value the node's."""
    stack = [node]
    while stack:
        n = stack.pop()
        assert_allclose(tree.value[n], tree.value[node], rtol=0, atol=1e-12, err_msg=where)
        if tree.children_left[n] != -1:
            assert 0 < tree.impurity[n] < 1e-14, where
            stack += [tree.children_left[n], tree.children_right[n]]


def _assert_tree_matches_reference(tree, expected, X, y, w, tie_criterion=None):
    """Walk the fitted tree and the reference's dict together over the training rows: every
    node holds the same rows (n_node_samples), weight, impurity and value, and splits on the same
    feature at the same threshold with the same missing side.

    tie_criterion (unweighted classification or absolute error only): where the two trees split
    differently, the splits must tie by construction (_tie: the same class counts, or the same
    absolute error), which the core breaks by its random feature order and the reference by
    feature index; the walk stops below such a node. Without ties the arrays must be equal as
    wholes (child ids too). Splits that agree hold the same surrogate splits. Returns (nodes
    compared, ties)."""
    w = np.ones(len(X)) if w is None else w
    nodes = _nodes(tree)
    compared, ties, rounded = 0, 0, 0
    stack = [(0, 0, np.flatnonzero(w != 0))]
    while stack:
        a, b, rows = stack.pop()
        compared += 1
        where = f"node {a} (reference {b}, {len(rows)} rows)"
        assert tree.n_node_samples[a] == expected["n_node_samples"][b] == len(rows), where
        assert_allclose(tree.weighted_n_node_samples[a], expected["weighted_n_node_samples"][b],
                        rtol=1e-12, err_msg=where)
        assert_allclose(tree.impurity[a], expected["impurity"][b], rtol=1e-9, atol=1e-12,
                        err_msg=where)
        assert_allclose(tree.value[a], expected["value"][b], rtol=1e-9, atol=1e-12, err_msg=where)
        is_leaf = tree.children_left[a] == -1
        if (not is_leaf and expected["children_left"][b] == -1
                and len(np.unique(y[rows], axis=0)) == 1):
            # pure, but scikit-learn's sums of the parent's split (which the core follows) left it
            # an impurity of ~1e-16 above its EPSILON: it is split, with no effect on any value
            _assert_rounding_subtree(tree, a, where)
            rounded += 1
            continue
        assert is_leaf == (expected["children_left"][b] == -1), where
        if is_leaf:
            continue
        left = _goes_left(nodes, a, X[rows])
        split = (tree.feature[a], tree.threshold[a])
        expected_split = (expected["feature"][b], expected["threshold"][b])
        if split != expected_split:
            expected_left = _goes_left(expected, b, X[rows])
            assert tie_criterion, f"{where}: split {split}, reference {expected_split}"
            assert _tie(tie_criterion, y[rows], w[rows], left, expected_left), \
                f"{where}: split {split} does not tie with the reference's {expected_split}"
            ties += 1
            continue
        assert tree.missing_go_to_left[a] == expected["missing_go_to_left"][b], where
        assert surrogates_at(nodes, a) == surrogates_at(expected, b), where
        stack.append((tree.children_left[a], expected["children_left"][b], rows[left]))
        stack.append((tree.children_right[a], expected["children_right"][b], rows[~left]))
    if ties == 0 and rounded == 0:
        assert compared == tree.node_count == len(expected["feature"])
        for name in INT_ARRAYS + ("threshold",) + SURROGATE_ARRAYS:
            assert_array_equal(getattr(tree, name), expected[name], err_msg=name)
    return compared, ties


# ---------------------------------------------------------------------------------------------
# The exact search against the reference

@functools.cache
def _reference_tree(criterion, shape, weighted):
    X, y, w = _problem(criterion, *shape, weighted)
    return _reference(criterion, X, y, w, min_samples_leaf=_leaf_size(shape[0]))


def _tie_criterion(criterion, weighted):
    """The criterion whose ties the comparison allows: unweighted rows tie often on class counts
    and absolute errors, continuous weights practically never."""
    return criterion if not weighted and criterion in CLASSIFICATION + ("absolute_error",) else None


# The reference's absolute error computes every candidate's medians from scratch: small shapes.
CRITERION_SHAPES = [(criterion, shape) for criterion in CRITERIA for shape in SHAPES
                    if criterion != "absolute_error" or shape[0] <= 250]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion, shape", [
    pytest.param(c, shape, id=f"{c}-{_shape_id(shape)}") for c, shape in CRITERION_SHAPES])
def test_exact_matches_reference(shape, criterion, weighted, dtype):
    X, y, w = _problem(criterion, *shape, weighted)
    est = _estimator(criterion, split_finder="exact", min_samples_leaf=_leaf_size(shape[0]))
    est.fit(X.astype(dtype), y, sample_weight=w)
    assert est.split_finder_ == "exact"
    expected = _reference_tree(criterion, shape, weighted)
    compared, _ = _assert_tree_matches_reference(est.tree_, expected, X, y, w,
                                                 _tie_criterion(criterion, weighted))
    assert compared >= est.tree_.node_count / 3
    assert est.tree_.node_count >= 3


# Per criterion, a min_impurity_decrease that removes some splits but not all.
MIN_IMPURITY_DECREASE = {"gini": 3e-3, "entropy": 6e-3, "squared_error": 5e-3,
                         "friedman_mse": 2.0, "poisson": 2e-3, "absolute_error": 2e-3}
PARAMS = [
    pytest.param({"max_depth": 3}, id="max_depth"),
    pytest.param({"min_samples_split": 40}, id="min_samples_split"),
    pytest.param({"min_weight_fraction_leaf": 0.03}, id="min_weight_fraction_leaf"),
    pytest.param({"min_impurity_decrease": None}, id="min_impurity_decrease"),
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("criterion", CRITERIA)
def test_exact_matches_reference_with_stopping_rules(criterion, params, dtype):
    X, y, w = _problem(criterion, 400, 5, weighted=True, seed=1)
    params = {"min_samples_leaf": 5, **params}
    if "min_impurity_decrease" in params:
        params["min_impurity_decrease"] = MIN_IMPURITY_DECREASE[criterion]
    expected = _reference(criterion, X, y, w, **params)
    est = _estimator(criterion, split_finder="exact", **params)
    est.fit(X.astype(dtype), y, sample_weight=w)
    _assert_tree_matches_reference(est.tree_, expected, X, y, w)
    unconstrained = _reference(criterion, X, y, w, min_samples_leaf=5)
    assert 3 <= est.tree_.node_count < len(unconstrained["feature"])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", ["gini", "squared_error", "poisson", "absolute_error"])
def test_exact_matches_reference_with_missing_values(criterion, weighted, dtype):
    X, y, w = _problem(criterion, 300, 4, weighted, seed=2, missing=0.15)
    expected = _reference(criterion, X, y, w, min_samples_leaf=5)
    est = _estimator(criterion, split_finder="exact", min_samples_leaf=5)
    est.fit(X.astype(dtype), y, sample_weight=w)
    compared, _ = _assert_tree_matches_reference(est.tree_, expected, X, y, w,
                                                 _tie_criterion(criterion, weighted))
    assert compared >= est.tree_.node_count / 3
    # NaN were sent both ways.
    split = est.tree_.children_left != -1
    assert set(est.tree_.missing_go_to_left[split]) == {0, 1}


# ---------------------------------------------------------------------------------------------
# Surrogate splits (missing_values="surrogate")

SURROGATE_SHAPES = [(criterion, shape) for criterion in CRITERIA
                    for shape in [(60, 3), (250, 6), (700, 4)]
                    if criterion != "absolute_error" or shape[0] <= 250]


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion, shape", [
    pytest.param(c, shape, id=f"{c}-{_shape_id(shape)}") for c, shape in SURROGATE_SHAPES])
def test_exact_matches_reference_with_surrogates(shape, criterion, weighted, dtype):
    X, y, w = _problem(criterion, *shape, weighted, seed=3, missing=0.2)
    leaf = _leaf_size(shape[0])
    expected = _reference(criterion, X, y, w, min_samples_leaf=leaf, missing_values="surrogate")
    est = _estimator(criterion, split_finder="exact", min_samples_leaf=leaf,
                     missing_values="surrogate")
    est.fit(X.astype(dtype), y, sample_weight=w)
    compared, _ = _assert_tree_matches_reference(est.tree_, expected, X, y, w,
                                                 _tie_criterion(criterion, weighted))
    assert compared >= est.tree_.node_count / 3
    tree = est.tree_
    split = tree.children_left != -1
    counts = np.diff(tree.surrogate_ptr)
    assert counts[split].max() >= 2 and (counts[~split] == 0).all()
    assert (counts <= _cart.MAX_SURROGATES).all()
    assert set(tree.surrogate_reversed) == {0, 1}  # some surrogates mimic the split reversed


def _assert_surrogates_route_as_trained(tree, X, w):
    """Each node holds the training rows (of weight > 0) that the fitted tree routes to it:
    rows missing a split's feature went where its surrogates send them in prediction."""
    X = X[w > 0]
    path = tree.decision_path(X).toarray()
    assert_array_equal(path.sum(axis=0), tree.n_node_samples)


@pytest.mark.parametrize("finder", ["exact", "hist"])
@pytest.mark.parametrize("criterion", ["gini", "squared_error", "absolute_error"])
def test_surrogates_route_training_rows_as_prediction_does(criterion, finder, dtype):
    # 3000 rows: hist nodes above and below kSortBelow rows, so both surrogate scans run
    X, y, w = _problem(criterion, 3000 if criterion != "absolute_error" else 600, 5, True,
                       seed=4, missing=0.25)
    est = _estimator(criterion, split_finder=finder, min_samples_leaf=3,
                     missing_values="surrogate").fit(X.astype(dtype), y, sample_weight=w)
    assert est.tree_.surrogate_ptr[-1] > 10
    _assert_surrogates_route_as_trained(est.tree_, X.astype(dtype), w)
    # the compiled walk and the NumPy one agree on the rows that need surrogates
    assert_array_equal(est.apply(X.astype(dtype)), est.tree_.apply_numpy(X.astype(dtype)))


@pytest.mark.parametrize("with_missing", [False, True], ids=["complete", "missing"])
@pytest.mark.parametrize("criterion", ["gini", "squared_error"])
def test_hist_equals_exact_with_surrogates(criterion, with_missing, dtype):
    # 2000 rows, 150 distinct values per column: every value has its bin (max_bins=150).
    X, y, w = _quantised(2000, 5, 150, seed=2)
    if criterion == "gini":
        y = np.digitize(y, [-1.0, 0.0])
        # weights in 1/1024ths, whose sums are exact: others leave some pure nodes a rounding
        # impurity above scikit-learn's EPSILON, which the exact search splits as scikit-learn
        # does and the histogram search does not
        w = np.round(w * 1024) / 1024
    if with_missing:
        X[np.random.default_rng(3).random(X.shape) < 0.2] = np.nan
    trees = [_estimator(criterion, split_finder=finder, max_bins=150, min_samples_leaf=10,
                        missing_values="surrogate").fit(X.astype(dtype), y, sample_weight=w)
             for finder in ("exact", "hist")]
    assert_array_equal(trees[1].apply(X.astype(dtype)), trees[0].apply(X.astype(dtype)))
    _assert_same_tree(trees[1].tree_, trees[0].tree_)
    for name in SURROGATE_ARRAYS:
        assert_array_equal(getattr(trees[1].tree_, name), getattr(trees[0].tree_, name), name)
    assert trees[0].tree_.surrogate_ptr[-1] > 0


@pytest.mark.parametrize("finder", ["exact", "hist"])
def test_surrogates_change_no_split_without_missing_values(finder):
    """Without NaN in training, every split is the one learned without surrogates (the search
    over present rows is the search over all rows), and each holds surrogates."""
    X, y, w = _problem("squared_error", 2000, 6, True, seed=5)
    learn, surrogate = (_estimator("squared_error", split_finder=finder, min_samples_leaf=5,
                                   missing_values=mode).fit(X, y, sample_weight=w)
                        for mode in ("learn", "surrogate"))
    _assert_same_tree(surrogate.tree_, learn.tree_)
    split = surrogate.tree_.children_left != -1
    assert (np.diff(surrogate.tree_.surrogate_ptr)[split] > 0).mean() > 0.5
    assert learn.tree_.surrogate_ptr[-1] == 0


def _correlated(n=3000, seed=0):
    """x0 decides the class; x1 follows x0, x2 is noise, x3 follows -x0 more loosely."""
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal(n)
    X = np.column_stack([x0, x0 + 0.3 * rng.standard_normal(n), rng.standard_normal(n),
                         -x0 + 0.6 * rng.standard_normal(n)])
    return X, (x0 > 0).astype(int)


@pytest.mark.parametrize("finder", ["exact", "hist"])
def test_surrogates_mimic_the_split(finder, dtype):
    X, y = _correlated()
    est = DecisionTreeClassifier(max_depth=1, split_finder=finder, missing_values="surrogate",
                                 random_state=0).fit(X.astype(dtype), y)
    tree = est.tree_
    assert tree.feature[0] == 0
    # x1 agrees most, then x3 reversed; the noise x2 at most beats the majority rule by chance
    assert_array_equal(tree.surrogate_feature[:2], [1, 3])
    assert_array_equal(tree.surrogate_reversed[:2], [0, 1])
    assert abs(tree.surrogate_threshold[0] - tree.threshold[0]) < 0.2
    unseen = X.copy()
    unseen[:, 0] = np.nan
    learned = DecisionTreeClassifier(max_depth=1, split_finder=finder,
                                     random_state=0).fit(X.astype(dtype), y)
    assert (learned.predict(unseen.astype(dtype)) == y).mean() < 0.6  # one side for all
    assert (est.predict(unseen.astype(dtype)) == y).mean() > 0.85
    unseen[::2, 1] = np.nan  # then x3, reversed
    assert (est.predict(unseen.astype(dtype)) == y).mean() > 0.8
    unseen[:, 1:] = np.nan  # then the side with more rows
    assert_array_equal(est.apply(unseen.astype(dtype)),
                       np.where(tree.missing_go_to_left[0], 1, 2))


@pytest.mark.parametrize("finder", ["exact", "hist"])
@pytest.mark.parametrize("criterion", ["gini", "entropy", "squared_error", "friedman_mse"])
def test_proxies_of_features_with_missing_rows_compare_as_decreases(criterion, finder):
    """Searched over the rows present on it, a feature's proxy is shifted (scaled for
    friedman_mse) to compare as an impurity decrease. x1 splits perfectly the half of the rows
    present on it, x0 all rows with 20% of them on the wrong side: x1's decrease is the larger
    (gini: 1000 x 0.5 against 2000 x (0.5 - 0.32); squared error: 1000 x 0.25 against
    2000 x (0.25 - 0.16)), its proxy over its rows the smaller."""
    rng = np.random.default_rng(0)
    n = 2000
    y = rng.permutation(np.repeat([0, 1], n // 2))
    wrong = rng.permutation(np.arange(n) < 0.2 * n)
    x0 = np.where(wrong, 1 - y, y) + 0.1 * rng.random(n)
    x1 = np.where(rng.permutation(np.arange(n) < n // 2), y + 0.1 * rng.random(n), np.nan)
    est = _estimator(criterion, max_depth=1, missing_values="surrogate", split_finder=finder)
    est.fit(np.column_stack([x0, x1]), y)
    assert est.tree_.feature[0] == 1


def test_max_surrogates_are_kept_most_agreeing_first():
    rng = np.random.default_rng(1)
    n = 2000
    x0 = rng.standard_normal(n)
    noise = [0.1, 0.7, 0.2, 1.0, 0.4, 0.3, 0.05]  # agreement falls as the noise grows
    X = np.column_stack([x0] + [x0 + s * rng.standard_normal(n) for s in noise])
    est = DecisionTreeRegressor(max_depth=1, missing_values="surrogate",
                                split_finder="exact").fit(X, x0)
    assert est.tree_.feature[0] == 0
    assert_array_equal(est.tree_.surrogate_feature, 1 + np.argsort(noise)[:_cart.MAX_SURROGATES])


# ---------------------------------------------------------------------------------------------
# The histogram search against the exact one: with a bin per distinct value, the same tree

def _assert_same_tree(tree, expected, rtol=1e-9):
    """Equal node arrays; the floating ones up to rtol, thresholds exactly (checked last, after
    everything that shows that the two trees split the same rows the same way)."""
    assert tree.node_count == expected.node_count
    for name in INT_ARRAYS:
        assert_array_equal(getattr(tree, name), getattr(expected, name), err_msg=name)
    for name in ("weighted_n_node_samples", "impurity", "value"):
        assert_allclose(getattr(tree, name), getattr(expected, name), rtol=rtol, atol=1e-12,
                        err_msg=name)
    differ = np.flatnonzero(tree.threshold != expected.threshold)
    assert not len(differ), (
        f"thresholds differ at {len(differ)} of {tree.node_count} nodes, first at node "
        f"{differ[0]}: {tree.threshold[differ[0]]!r} against {expected.threshold[differ[0]]!r}")


def _quantised(n, d, levels, seed):
    """X with `levels` distinct float32 values per column (ties within columns), y continuous."""
    rng = np.random.default_rng([n, d, levels, seed])
    grid = np.sort(rng.standard_normal((levels, d)).astype(np.float32), axis=0)
    X = np.take_along_axis(grid, rng.integers(0, levels, (n, d)), axis=0).astype(np.float64)
    y = X[:, 0] - X[:, 1] ** 2 + 0.3 * rng.standard_normal(n)
    return X, y, rng.uniform(0.5, 2.0, n)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", ["gini", "entropy", "squared_error", "poisson",
                                       "absolute_error"])
@pytest.mark.parametrize("shape", [(60, 3), (250, 6)], ids=_shape_id)
def test_hist_equals_exact_with_a_bin_per_value(shape, criterion, weighted, dtype):
    X, y, w = _problem(criterion, *shape, weighted, seed=3)
    params = dict(min_samples_leaf=_leaf_size(shape[0]), max_bins=255)
    exact = _estimator(criterion, split_finder="exact", **params)
    hist = _estimator(criterion, split_finder="hist", **params)
    exact.fit(X.astype(dtype), y, sample_weight=w)
    hist.fit(X.astype(dtype), y, sample_weight=w)
    assert hist.split_finder_ == "hist"
    # The same training rows in every node first (rows of weight 0 take no part), then the same
    # thresholds.
    # The exact search draws its features as scikit-learn does and the histogram search its
    # own way: equal splits, up to ties by construction (which the two orders break apart).
    _, ties = _assert_tree_matches_reference(hist.tree_, _nodes(exact.tree_), X, y, w,
                                             _tie_criterion(criterion, weighted))
    if ties == 0:
        rows = slice(None) if w is None else w > 0
        assert_array_equal(hist.apply(X[rows].astype(dtype)), exact.apply(X[rows].astype(dtype)))
        _assert_same_tree(hist.tree_, exact.tree_)


@pytest.mark.parametrize("missing", [0.0, 0.1], ids=["complete", "missing"])
@pytest.mark.parametrize("criterion", ["gini", "squared_error", "poisson"])
def test_hist_fully_grown_on_one_feature_matches_reference(criterion, missing, dtype):
    # Grown to single rows, most nodes hold under kTinyNode (16) rows, down to 2 and 3, and are
    # searched by sorting their codes (tiny_node_search, whose proxies of nodes up to 3 rows are
    # kept per set of left rows); rows missing the feature send the node to the bins' search.
    # One feature, a bin per value, continuous weights: no tie between candidates, so every
    # split is the reference's.
    X, y, w = _problem(criterion, 200, 1, True, seed=5, missing=missing)
    est = _estimator(criterion, split_finder="hist", max_bins=255)
    est.fit(X.astype(dtype), y, sample_weight=w)
    assert est.split_finder_ == "hist"
    sizes = est.tree_.n_node_samples[est.tree_.children_left >= 0]
    assert (sizes == 2).any() and (sizes == 3).any()
    _assert_tree_matches_reference(est.tree_, _reference(criterion, X, y, w), X, y, w)


@pytest.mark.parametrize("max_bins", [255, 6])
@pytest.mark.parametrize("missing", [0.0, 0.05], ids=["complete", "missing"])
@pytest.mark.parametrize("min_samples_leaf", [1, 3])
@pytest.mark.parametrize("criterion", ["squared_error", "poisson", "gini"])
def test_hist_small_nodes_search_their_features_at_once(criterion, min_samples_leaf, missing,
                                                        max_bins):
    # Nodes under kTinyFeaturesNode (64) rows with one block of 4 channels (one regression
    # output, or two classes with fractional weights) search every drawn feature at once
    # (tiny_node_features), but for nodes whose rows miss a value; every feature drawn, the
    # nodes of a tiny subtree search the lists its root ranked and its splits partitioned
    # (TinyRegion), where few bins put many rows in one code (ties ordered by row); an
    # all-zero monotonic_cst, which constrains nothing, sends every node through each
    # feature's own search: the same tree, node for node.
    X, y, w = _problem(criterion, 600, 6, True, seed=3, missing=missing)
    if criterion == "gini":
        y = (y > 0).astype(np.int64)
    X = X.astype(np.float32)

    def fit(**params):
        est = _estimator(criterion, split_finder="hist", min_samples_leaf=min_samples_leaf,
                         max_bins=max_bins, **params)
        return est.fit(X, y, sample_weight=w).tree_

    at_once, per_feature = fit(), fit(monotonic_cst=np.zeros(X.shape[1], np.int8))
    sizes = at_once.n_node_samples[at_once.children_left >= 0]
    assert ((sizes >= 16) & (sizes < 64)).any() and (sizes < 8).any()
    _assert_same_tree(at_once, per_feature, rtol=0)


def _splits(nodes, X, rows):
    """Every split of the node dict over the rows of X, as unordered pairs of its children's
    row sets."""
    found, stack = set(), [(0, rows)]
    while stack:
        node, rows = stack.pop()
        if nodes["children_left"][node] == -1:
            continue
        left = _goes_left(nodes, node, X[rows])
        found.add(frozenset([frozenset(rows[left]), frozenset(rows[~left])]))
        stack += [(nodes["children_left"][node], rows[left]),
                  (nodes["children_right"][node], rows[~left])]
    return found


def test_hist_fully_grown_splits_with_a_copied_feature(dtype):
    # Feature 1 is feature 0's copy: in every node both give the same candidates, proxies and
    # thresholds, so a node of up to 3 rows takes the second drawn's proxies from the first's
    # (TinyMemo). Either may win a node (the core draws at random, the reference takes the lower
    # index); the rows each split sends either way must be the reference's.
    X, y, w = _problem("squared_error", 150, 2, True, seed=7)
    X = np.column_stack([X[:, 0], X[:, 0], X[:, 1]])
    est = _estimator("squared_error", split_finder="hist", max_bins=255)
    est.fit(X.astype(dtype), y, sample_weight=w)
    sizes = est.tree_.n_node_samples[est.tree_.children_left >= 0]
    assert (sizes == 2).any() and (sizes == 3).any()
    rows = np.flatnonzero(w != 0)
    assert _splits(_nodes(est.tree_), X, rows) == _splits(
        _reference("squared_error", X, y, w), X, rows)


@pytest.mark.parametrize("with_missing", [False, True], ids=["complete", "missing"])
def test_hist_equals_exact_on_repeated_values(with_missing, dtype):
    # 1000 rows, 200 distinct values per column: every value has its bin (max_bins=200).
    X, y, w = _quantised(1000, 5, 200, seed=0)
    if with_missing:
        X[np.random.default_rng(1).random(X.shape) < 0.1] = np.nan
    trees = [_estimator("squared_error", split_finder=finder, max_bins=200,
                        min_samples_leaf=10).fit(X.astype(dtype), y, sample_weight=w)
             for finder in ("exact", "hist")]
    assert_array_equal(trees[1].apply(X.astype(dtype)), trees[0].apply(X.astype(dtype)))
    _assert_same_tree(trees[1].tree_, trees[0].tree_)


# ---------------------------------------------------------------------------------------------
# Bin codes

def _thresholds(rng, X, counts):
    """(n_features, N_BINS) sorted thresholds padded with +inf, `counts[f]` finite ones for
    feature f: some between the data values, some equal to data values."""
    thresholds = np.full((X.shape[1], _cart.N_BINS), np.inf)
    for f, k in enumerate(counts):
        values = X[~np.isnan(X[:, f]), f].astype(np.float64)
        chosen = np.concatenate([rng.standard_normal(k - k // 2), rng.choice(values, k // 2)])
        thresholds[f, :k] = np.sort(chosen)
    return thresholds


def test_encode_bins_is_searchsorted(dtype):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((3000, 5)).astype(dtype)
    X[rng.random(X.shape) < 0.1] = np.nan
    X[:3, 0] = [np.finfo(dtype).max, -np.finfo(dtype).max, 0.0]
    thresholds = _thresholds(rng, X, [0, 1, 17, 200, _cart.MISSING_BIN - 1])
    codes, bounds = _cart.encode_bins(X, thresholds, 1)
    assert codes.dtype == np.uint8 and codes.shape == X.shape
    expected = np.stack([np.searchsorted(thresholds[f], X[:, f].astype(np.float64), side="left")
                         for f in range(X.shape[1])], axis=1)
    expected[np.isnan(X)] = _cart.MISSING_BIN
    assert_array_equal(codes, expected)
    # bounds: the smallest and largest value of every bin, (+inf, -inf) when empty
    assert bounds.shape == (2, X.shape[1], _cart.N_BINS)
    for f in range(X.shape[1]):
        for b in range(_cart.N_BINS):
            values = X[codes[:, f] == b, f].astype(np.float64)
            values = values[~np.isnan(values)]
            low, high = (values.min(), values.max()) if len(values) else (np.inf, -np.inf)
            assert (bounds[0, f, b], bounds[1, f, b]) == (low, high)
    codes_3, bounds_3 = _cart.encode_bins(X, thresholds, 3)
    assert_array_equal(codes_3, codes)
    assert_array_equal(bounds_3, bounds)
    assert codes[~np.isnan(X)].max() == _cart.MISSING_BIN - 1  # above the 254 thresholds


def test_hist_thresholds_route_training_rows_as_their_codes(dtype):
    # A hist split between the node's bins a < b lies between the largest value of bin a and the
    # smallest of bin b: every training row of the node goes where its code sends it.
    rng = np.random.default_rng(1)
    X = rng.standard_normal((500, 3)).astype(dtype)
    est = DecisionTreeRegressor(split_finder="hist", max_bins=16).fit(X, X[:, 0])
    thresholds = bin_thresholds(X, 16, np.random.RandomState(0))
    codes, _ = _cart.encode_bins(X, thresholds, 1)
    split = np.flatnonzero(est.tree_.children_left != -1)
    assert len(split) > 5
    in_node = est.decision_path(X).toarray().astype(bool)
    for node in split:
        f, t = est.tree_.feature[node], est.tree_.threshold[node]
        x, code = X[in_node[:, node], f], codes[in_node[:, node], f]
        a = code[x <= t].max()
        assert_array_equal(x <= t, code <= a)


# ---------------------------------------------------------------------------------------------
# Integer weights are repeated rows

def _weights_problem(criterion, zeros):
    rng = np.random.default_rng(4)
    n = 200  # fewer distinct values than bins: the hist thresholds sit between all of them
    X = rng.standard_normal((n, 4)).astype(np.float32).astype(np.float64)
    X[rng.random(X.shape) < 0.1] = np.nan
    z = np.nan_to_num(X[:, 0]) + np.nan_to_num(X[:, 1]) * np.isnan(X[:, 2]) + rng.normal(size=n)
    y = {"gini": z > 0, "entropy": np.digitize(z, [-0.5, 0.7]), "squared_error": z,
         "poisson": np.exp(z / 2)}[criterion]
    w = rng.integers(0 if zeros else 1, 4, n)
    return X, y, w


@pytest.mark.parametrize("finder", ["exact", "hist"])
# Not absolute_error: unweighted, its splits tie exactly so often (see _absolute_cost) that the
# rounding of weighted against repeated sums picks different ones; its weights are checked node
# by node in test_estimators.test_absolute_error_nodes_hold_their_median_and_error.
@pytest.mark.parametrize("criterion", ["gini", "entropy", "squared_error", "poisson"])
def test_integer_weights_equal_repeated_rows(criterion, finder):
    # Rows of weight 0 still place the hist thresholds: zeros only for the exact search.
    X, y, w = _weights_problem(criterion, zeros=finder == "exact")
    # min_weight_fraction_leaf (in weight, unlike min_samples_leaf) keeps nodes large enough
    # that no two features split one into the same rows, a tie rounding would break.
    params = dict(split_finder=finder, min_weight_fraction_leaf=0.03)
    weighted = _estimator(criterion, **params).fit(X, y, sample_weight=w)
    repeated = _estimator(criterion, **params).fit(np.repeat(X, w, axis=0), np.repeat(y, w))
    ours, theirs = weighted.tree_, repeated.tree_
    assert ours.node_count == theirs.node_count >= 15
    for name in ("children_left", "children_right", "feature", "threshold"):
        assert_array_equal(getattr(ours, name), getattr(theirs, name), err_msg=name)
    assert_array_equal(ours.weighted_n_node_samples, theirs.n_node_samples)
    assert_allclose(ours.weighted_n_node_samples, theirs.weighted_n_node_samples, rtol=1e-13)
    assert_allclose(ours.value, theirs.value, rtol=1e-10, atol=1e-13)
    assert_allclose(ours.impurity, theirs.impurity, rtol=1e-8, atol=1e-10)
    # n_node_samples counts the rows of non-zero weight.
    rows = weighted.decision_path(X).toarray().astype(bool)
    assert_array_equal(ours.n_node_samples, rows[w > 0].sum(axis=0))
    # Where a node saw NaN of its feature the side was learned from the weights; elsewhere it is
    # the side with more rows, which counts the repeated rows.
    saw_nan = np.array([ours.feature[i] >= 0 and np.isnan(X[rows[:, i] & (w > 0),
                                                             ours.feature[i]]).any()
                        for i in range(ours.node_count)])
    assert saw_nan.any()
    assert_array_equal(ours.missing_go_to_left[saw_nan], theirs.missing_go_to_left[saw_nan])


# ---------------------------------------------------------------------------------------------
# Threads: the tree does not depend on n_jobs

def _large_problem():
    # 60,000 x 20: nodes above the core's 2^20 row-features run their searches in parallel, and
    # the subtrees below 2^14 rows grow in parallel.
    rng = np.random.default_rng(5)
    X = rng.standard_normal((60_000, 20))
    X[rng.random(X.shape) < 0.05] = np.nan
    Z = np.nan_to_num(X)
    score = Z[:, 0] + Z[:, 1] * Z[:, 2] - np.abs(Z[:, 3]) + rng.standard_normal(len(X))
    return X, np.digitize(score, [-1.0, 0.0, 1.0]), score


@pytest.mark.parametrize("finder", ["hist", "exact"])
def test_thread_count_does_not_change_the_tree(finder):
    X, y, score = _large_problem()
    X_test = X[:2000] + 0.01
    fits = []
    for n_jobs in (1, 2):
        clf = DecisionTreeClassifier(split_finder=finder, min_samples_leaf=20, random_state=0,
                                     n_jobs=n_jobs).fit(X, y)
        reg = DecisionTreeRegressor(split_finder=finder, min_samples_leaf=20, max_features=0.5,
                                    missing_values="surrogate", random_state=0,
                                    n_jobs=n_jobs).fit(X, score)
        fits.append((clf, reg))
    for one, two in zip(*fits):
        assert one.split_finder_ == finder
        assert one.tree_.node_count > 500
        for name in ARRAYS + SURROGATE_ARRAYS:
            assert_array_equal(getattr(one.tree_, name), getattr(two.tree_, name), err_msg=name)
    (clf1, reg1), (clf2, reg2) = fits
    assert reg1.tree_.surrogate_ptr[-1] > 0
    assert_array_equal(clf1.predict_proba(X_test), clf2.predict_proba(X_test))
    assert_array_equal(reg1.predict(X_test), reg2.predict(X_test))


# ---------------------------------------------------------------------------------------------
# Missing values

@pytest.mark.parametrize("finder", ["exact", "hist"])
@pytest.mark.parametrize("nan_class", [0, 1])
def test_informative_missing_values_are_routed_as_learned(finder, nan_class, dtype):
    rng = np.random.default_rng(6)
    X = rng.standard_normal((400, 3)).astype(dtype)
    nan = rng.random(400) < 0.3
    y = np.where(nan, nan_class, X[:, 0] > 0.5).astype(int)
    X[nan, 0] = np.nan
    est = DecisionTreeClassifier(split_finder=finder, max_depth=2, random_state=0).fit(X, y)
    tree = est.tree_
    assert tree.feature[0] == 0
    # NaN rows belong with the rows above the threshold (class 1) or below it (class 0).
    assert tree.missing_go_to_left[0] == (nan_class == 0)
    assert_array_equal(est.predict(X), y)
    X_new = np.array([[np.nan, 0.0, 0.0], [-1.0, 0.0, 0.0], [2.0, 0.0, 0.0]], dtype=dtype)
    assert_array_equal(est.predict(X_new), [nan_class, 0, 1])


@pytest.mark.parametrize("finder", ["exact", "hist"])
def test_missing_values_alone_are_informative(finder):
    # Only NaN-ness matters: the split puts every value left and the NaN right (threshold +inf).
    rng = np.random.default_rng(7)
    X = rng.standard_normal((300, 2))
    nan = rng.random(300) < 0.4
    X[nan, 1] = np.nan
    est = DecisionTreeRegressor(split_finder=finder, max_depth=1).fit(X, nan * 5.0)
    assert (est.tree_.feature[0], est.tree_.threshold[0]) == (1, np.inf)
    assert est.tree_.missing_go_to_left[0] == 0
    assert_array_equal(est.predict(X), nan * 5.0)


@pytest.mark.parametrize("finder", ["exact", "hist"])
def test_feature_of_only_missing_values_is_ignored(finder, dtype):
    rng = np.random.default_rng(8)
    X = rng.standard_normal((200, 3)).astype(dtype)
    X[:, 1] = np.nan
    y = (X[:, 0] + X[:, 2] > 0).astype(int)
    est = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(X, y)
    assert 1 not in est.tree_.feature
    assert est.feature_importances_[1] == 0.0
    assert_array_equal(est.predict(X), y)
    # max_features=1 draws more features while the drawn ones are constant (all NaN).
    est = DecisionTreeClassifier(split_finder=finder, max_features=1, random_state=0).fit(X, y)
    assert 1 not in est.tree_.feature and est.tree_.node_count > 1
    # Only NaN everywhere: a single leaf.
    y = np.array([0, 1, 1, 1, 0, 1, 1, 0, 1, 1])
    est = DecisionTreeClassifier(split_finder=finder).fit(np.full((10, 2), np.nan, dtype), y)
    assert est.tree_.node_count == 1
    assert_allclose(est.predict_proba(X[:1, :2]), [[0.3, 0.7]])


@pytest.mark.parametrize("finder", ["exact", "hist"])
def test_missing_values_unseen_in_training_go_to_the_larger_child(finder):
    rng = np.random.default_rng(9)
    X = rng.standard_normal((500, 4))
    y = X[:, 0] + np.abs(X[:, 1]) + 0.3 * rng.standard_normal(500)
    est = DecisionTreeRegressor(split_finder=finder, min_samples_leaf=5, random_state=0)
    tree = est.fit(X, y).tree_
    split = np.flatnonzero(tree.children_left != -1)
    n_left = tree.n_node_samples[tree.children_left[split]]
    n_right = tree.n_node_samples[tree.children_right[split]]
    assert_array_equal(tree.missing_go_to_left[split], n_left > n_right)
    assert (n_left > n_right).any() and (n_left <= n_right).any()
    X_nan = X[:100].copy()
    X_nan[np.random.default_rng(1).random(X_nan.shape) < 0.3] = np.nan
    arrays = {name: getattr(tree, name) for name in ARRAYS}
    assert_array_equal(est.apply(X_nan), reference.apply(arrays, X_nan))
    # A row of NaN only follows the larger child from the root down.
    node = 0
    while tree.children_left[node] != -1:
        left, right = tree.children_left[node], tree.children_right[node]
        node = left if tree.n_node_samples[left] > tree.n_node_samples[right] else right
    assert est.apply(np.full((1, 4), np.nan))[0] == node


# ---------------------------------------------------------------------------------------------
# Extreme values

def _top_values(dtype, count):
    """The `count` largest finite values of dtype, ascending."""
    values = [np.finfo(dtype).max]
    for _ in range(count - 1):
        values.append(np.nextafter(values[-1], dtype(0)))
    return np.array(values[::-1], dtype=dtype)


@pytest.mark.parametrize("finder", ["exact", "hist"])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # sklearn's sum
def test_values_near_the_float32_maximum(finder, dtype):
    top = _top_values(np.float32, 8)
    # Adjacent float32 values at +-max (midpoints that overflow if taken as (a + b) / 2), and
    # values spread over the whole range.
    spread = np.finfo(np.float32).max * np.linspace(-1, 1, 9, dtype=np.float32)[1:-1]
    column = np.concatenate([top, -top, spread]).astype(dtype)
    X = np.column_stack([column, np.zeros_like(column)])
    rank = np.argsort(np.argsort(column))
    # Classes alternate along the values: every value needs a leaf of its own.
    clf = DecisionTreeClassifier(split_finder=finder, random_state=0).fit(X, rank % 2)
    reg = DecisionTreeRegressor(split_finder=finder, random_state=0).fit(X, rank * 1e30)
    for est, target in ((clf, rank % 2), (reg, rank * 1e30)):
        tree = est.tree_
        leaves = tree.children_left == -1
        assert tree.n_leaves == len(column)
        assert (tree.n_node_samples[leaves] == 1).all()
        assert (tree.weighted_n_node_samples[leaves] == 1).all()
        assert np.isfinite(tree.threshold).all()
        assert np.isfinite(tree.value).all() and np.isfinite(tree.impurity).all()
        assert_array_equal(est.predict(X), target)


@pytest.mark.parametrize("finder", ["exact", "hist"])
@pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # sklearn's sum
def test_values_near_the_float64_maximum(finder):
    column = np.concatenate([_top_values(np.float64, 6), -_top_values(np.float64, 6)])
    X = column[:, None]
    est = DecisionTreeRegressor(split_finder=finder).fit(X, np.arange(12.0))
    assert est.tree_.n_leaves == 12
    assert (est.tree_.n_node_samples[est.tree_.children_left == -1] == 1).all()
    assert_array_equal(est.predict(X), np.arange(12.0))


# ---------------------------------------------------------------------------------------------
# The bindings' checks at entry: a clear ValueError, never a crash

N, D = 40, 3


def _core_arguments(dtype=np.float64):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((N, D)).astype(dtype)
    y = (X[:, 0] + X[:, 2] > 0).astype(np.float64)
    # Params' keywords, made into _cart.Params by _grow (within a test's pytest.raises)
    params = dict(criterion=_cart.Criterion.gini, random_splitter=False, max_depth=4,
                  min_samples_split=2,
                  min_samples_leaf=1, min_weight_leaf=0.0, max_features=D, max_leaf_nodes=0,
                  min_impurity_decrease=0.0, monotonic_cst=None, surrogates=False)
    thresholds = np.full((D, _cart.N_BINS), np.inf)
    thresholds[:, :3] = [-0.5, 0.0, 0.5]
    return dict(X=X, y=y, sample_weight=np.ones(N), n_classes=2, params=params, seed=0,
                n_threads=1, values=np.ascontiguousarray(X.T), thresholds=thresholds,
                **dict(zip(("codes", "bounds"), _cart.encode_bins(X, thresholds, 1))))


def _grow(args, hist=False):
    data = (dict(codes=args["codes"], bin_bounds=args["bounds"]) if hist
            else dict(values=args["values"]))
    return _cart.grow_tree(args["y"], args["sample_weight"], args["n_classes"],
                           _cart.Params(**args["params"]), args["seed"], args["n_threads"],
                           **data)


def test_grow_tree_valid_arguments(dtype):
    args = _core_arguments(dtype)
    for hist in (False, True):
        nodes = _grow(args, hist)
        n_nodes = len(nodes["feature"])
        assert n_nodes >= 3 and nodes["value"].shape == (n_nodes, 1, 2)
        assert nodes["n_node_samples"][0] == N


def _params(**changes):
    def change(args):
        args["params"] = {**args["params"], **changes}
    change.__name__ = ", ".join(f"{k}={v}" for k, v in changes.items())
    return change


def _set(label, value_of):
    """Replace the argument named by the label's first word."""
    def change(args):
        args[label.split()[0]] = value_of(args)
    change.__name__ = label
    return change


def _overflowing_classes(args):
    args["y"] = np.zeros((N, 3))
    args["n_classes"] = [2**31 - 1, 2**31 - 1, 4]


_overflowing_classes.__name__ = "n_classes overflow"


GROW_BAD = [
    # (change, applies to: "exact", "hist" or "both", message)
    (_set("values 1-d", lambda a: a["values"][0].copy()), "exact", "values must be 2-d"),
    (_set("values not transposed", lambda a: np.ascontiguousarray(a["X"])), "exact",
     "values has the wrong shape"),
    (_set("values Fortran", lambda a: np.asfortranarray(a["values"])), "exact",
     "values must be C-contiguous"),
    (_set("values int", lambda a: a["values"].astype(np.int64)), "exact",
     "values must be float32 or float64"),
    (_set("values no feature", lambda a: a["values"][:0].copy()), "exact",
     "at least one feature"),
    (_set("codes int32", lambda a: a["codes"].astype(np.int32)), "hist",
     "codes has the wrong dtype"),
    (_set("codes transposed", lambda a: a["codes"].T.copy()), "hist", "codes has the wrong shape"),
    (_set("bounds 255 bins", lambda a: a["bounds"][:, :, :255].copy()), "hist",
     "bin_bounds has the wrong shape"),
    (_set("bounds float32", lambda a: a["bounds"].astype(np.float32)), "hist",
     "bin_bounds has the wrong dtype"),
    (_set("bounds descending", lambda a: a["bounds"][:, :, ::-1].copy()), "hist",
     "bin_bounds must hold ascending"),
    (_set("y float32", lambda a: a["y"].astype(np.float32)), "both", "y has the wrong dtype"),
    (_set("y 3-d", lambda a: a["y"][:, None, None].copy()), "both",
     r"y must be a non-empty array of shape \(n_rows,\) or \(n_rows, n_outputs\)"),
    (_set("y no output", lambda a: a["y"].reshape(N, 1)[:, :0].copy()), "both",
     "y must be a non-empty array"),
    (_set("y 2-d Fortran", lambda a: np.asfortranarray(np.column_stack([a["y"], a["y"]]))),
     "both", "y must be C-contiguous"),
    (_set("y output 1 class 2", lambda a: np.column_stack([a["y"], a["y"] * 2])), "both",
     "y must hold class indices"),
    (_set("n_classes one per output", lambda a: [2, 2]), "both",
     "n_classes must hold one count per output"),
    (_set("y short", lambda a: a["y"][:-1].copy()), "both", "wrong shape"),
    (_set("y class 2", lambda a: a["y"] * 2), "both", "y must hold class indices"),
    (_set("y class 0.5", lambda a: a["y"] * 0.5), "both", "y must hold class indices"),
    (_set("y negative class", lambda a: a["y"] - 1), "both", "y must hold class indices"),
    (_set("sample_weight short", lambda a: a["sample_weight"][:-1].copy()), "both",
     "sample_weight has the wrong shape"),
    (_set("sample_weight float32", lambda a: a["sample_weight"].astype(np.float32)), "both",
     "sample_weight has the wrong dtype"),
    (_set("sample_weight negative", lambda a: np.where(np.arange(N) == 3, -1.0, 1.0)), "both",
     "sample_weight must be finite and non-negative"),
    (_set("sample_weight nan", lambda a: np.where(np.arange(N) == 3, np.nan, 1.0)), "both",
     "sample_weight must be finite and non-negative"),
    (_set("sample_weight zero", lambda a: np.zeros(N)), "both", "positive entry"),
    (_set("n_classes -1", lambda a: -1), "both", r"n_classes must lie in \[0, n_rows\]"),
    (_set("n_classes > n_rows", lambda a: N + 1), "both", r"n_classes must lie in \[0, n_rows\]"),
    # counts whose int sum would wrap around (the statistics are indexed by it)
    (_overflowing_classes, "both", r"n_classes must lie in \[0, n_rows\]"),
    (_set("n_threads 0", lambda a: 0), "both", "n_threads must be >= 1"),
    (_params(criterion=_cart.Criterion(6)), "both", "unknown criterion"),
    (_params(criterion=_cart.Criterion(-1)), "both", "unknown criterion"),
    (_params(criterion=_cart.Criterion.squared_error), "both",
     "a regression criterion needs n_classes == 0"),
    (_params(max_depth=0), "both", "max_depth must be >= 1"),
    (_params(min_samples_split=1), "both", "min_samples_split must be >= 2"),
    (_params(min_samples_leaf=0), "both", "min_samples_leaf must be >= 1"),
    (_params(max_features=0), "both", r"max_features must lie in \[1, n_features\]"),
    (_params(max_features=D + 1), "both", r"max_features must lie in \[1, n_features\]"),
    (_params(max_leaf_nodes=1), "both", "max_leaf_nodes must be 0"),
    (_params(monotonic_cst=np.zeros(D - 1, np.int8)), "both", "monotonic_cst has the wrong shape"),
    (_params(monotonic_cst=np.zeros(D, np.int64)), "both", "monotonic_cst has the wrong dtype"),
    (_params(monotonic_cst=np.array([0, 2, 0], np.int8)), "both", "monotonic_cst must hold"),
]


@pytest.mark.parametrize("change, finder, match", [
    pytest.param(c, f, m, id=c.__name__.replace(" ", "_")) for c, f, m in GROW_BAD])
def test_grow_tree_bad_arguments_raise_value_error(change, finder, match, dtype):
    for hist in {"exact": [False], "hist": [True], "both": [False, True]}[finder]:
        args = _core_arguments(dtype)
        change(args)
        with pytest.raises(ValueError, match=match):
            _grow(args, hist)


def test_params_typed_fields():
    """Params holds what it is given, field by field, and defaults to scikit-learn's."""
    p = _cart.Params(criterion=_cart.Criterion.poisson, max_features=3)
    assert (p.criterion, p.max_features, p.random_splitter, p.min_samples_split,
            p.min_samples_leaf, p.min_weight_leaf, p.max_leaf_nodes, p.min_impurity_decrease,
            p.monotonic_cst, p.surrogates) == (_cart.Criterion.poisson, 3, False, 2, 1, 0.0, 0,
                                               0.0, None, False)
    assert p.max_depth >= 2**31 - 1
    p.max_depth = 7
    p.criterion = _cart.Criterion.friedman_mse
    p.monotonic_cst = np.array([1, 0, -1], np.int8)
    assert (p.max_depth, p.criterion) == (7, _cart.Criterion.friedman_mse)
    assert_array_equal(p.monotonic_cst, [1, 0, -1])
    assert p.monotonic_cst.dtype == np.int8
    p.monotonic_cst = None
    assert p.monotonic_cst is None
    with pytest.raises(ValueError, match="monotonic_cst has the wrong shape"):
        p.monotonic_cst = np.zeros(0, np.int8)
    with pytest.raises(TypeError):
        _cart.Params(criterion=0, max_features=3)  # a Criterion, not its code
    with pytest.raises(TypeError):
        _cart.Params(criterion=_cart.Criterion.gini)  # max_features has no default


def test_criteria_by_scikit_learn_names():
    """Every criterion an estimator accepts names a core criterion (log_loss is entropy), and
    each core criterion is one estimator name."""
    from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor
    names = set()
    for cls in (DecisionTreeClassifier, DecisionTreeRegressor):
        names |= cls._parameter_constraints["criterion"][0].options
    core = {n if n != "log_loss" else "entropy" for n in names}
    assert core == set(_cart.Criterion.__members__)
    for name in core:
        assert _cart.Criterion.__members__[name].name == name


def test_grow_forest_bad_arguments_raise_value_error():
    args = _core_arguments()
    seeds = np.arange(3, dtype=np.uint64)

    def grow(seeds=seeds, n_draws=N, n_threads=1, values=args["values"]):
        return _cart.grow_forest(args["y"], args["sample_weight"], 2,
                                 _cart.Params(**args["params"]), seeds,
                                 True, n_draws, False, None, n_threads, values=values)

    assert len(grow()) == 3
    with pytest.raises(ValueError, match="seeds has the wrong dtype"):
        grow(seeds=seeds.astype(np.int64))
    with pytest.raises(ValueError, match="seeds must be 1-d"):
        grow(seeds=seeds[None])
    with pytest.raises(ValueError, match="n_draws must be >= 1"):
        grow(n_draws=0)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        grow(n_threads=0)
    with pytest.raises(ValueError, match="values has the wrong shape"):
        grow(values=args["values"][:, 1:].copy())
    with pytest.raises(ValueError, match="n_rows must be >= 1"):
        _cart.bootstrap_draws(0, 0, 5)
    with pytest.raises(ValueError, match="n_draws >= 0"):
        _cart.bootstrap_draws(0, 5, -1)


def _packed(dtype=np.float64):
    """A valid tree splitting on feature 2, with surrogate splits, as PackedForest's arguments,
    and X."""
    args = _core_arguments(dtype)
    args["params"] = {**args["params"], "surrogates": True}
    nodes = _grow(args)
    assert 2 in nodes["feature"] and np.diff(nodes["surrogate_ptr"])[0] == 2
    packed = dict(offsets=np.array([0, len(nodes["feature"])], dtype=np.int64),
                  children_left=nodes["children_left"], children_right=nodes["children_right"],
                  feature=nodes["feature"], threshold=nodes["threshold"],
                  missing_go_to_left=nodes["missing_go_to_left"],
                  value=np.ascontiguousarray(nodes["value"][:, 0, :]), n_features=D,
                  surrogate_count=np.diff(nodes["surrogate_ptr"]),
                  surrogate_feature=nodes["surrogate_feature"],
                  surrogate_threshold=nodes["surrogate_threshold"],
                  surrogate_reversed=nodes["surrogate_reversed"])
    return args["X"], packed


def _edit(name, edit):
    def change(X, packed):
        if name == "X":
            return edit(X), packed
        packed = dict(packed)
        packed[name] = edit(packed[name].copy())
        return X, packed
    return change


PACK_BAD = [
    ("left child beyond the tree", _edit("children_left", set_at(0, 10_000)),
     "children ids out of range"),
    ("left child is the node", _edit("children_left", set_at(0, 0)), "children ids out of range"),
    ("right child missing", _edit("children_right", set_at(0, -1)), "children ids out of range"),
    ("right child beyond the tree", _edit("children_right", set_at(0, 10_000)),
     "children ids out of range"),
    ("feature negative", _edit("feature", set_at(0, -3)), "feature index out of range"),
    ("feature too large", _edit("feature", set_at(0, D)), "feature index out of range"),
    ("n_features below a split's feature", lambda X, p: (X, {**p, "n_features": 2}),
     "feature index out of range"),
    ("n_features zero", lambda X, p: (X, {**p, "n_features": 0}), "n_features must be >= 1"),
    ("offsets short of the nodes", _edit("offsets", set_at(1, 1)), "offsets must span the nodes"),
    ("offsets single", _edit("offsets", lambda o: o[:1]), "offsets must hold n_trees \\+ 1"),
    ("offsets decreasing", _edit("offsets", lambda o: np.array([0, o[-1] + 5, o[-1]], np.int64)),
     "every tree needs 1 to 2\\^31 nodes"),
    ("a node's bad child and bad surrogate: the child's message, raised first", lambda X, p: _edit(
        "surrogate_feature", set_at(0, D))(*_edit("children_left", set_at(0, 10_000))(X, p)),
     "children ids out of range"),
    ("offsets int32", _edit("offsets", lambda o: o.astype(np.int32)),
     "offsets has the wrong dtype"),
    ("children_left short", _edit("children_left", lambda c: c[:-1]),
     "children_right has the wrong shape"),
    ("children_right int32", _edit("children_right", lambda c: c.astype(np.int32)),
     "children_right has the wrong dtype"),
    ("threshold float32", _edit("threshold", lambda t: t.astype(np.float32)),
     "threshold has the wrong dtype"),
    ("missing_go_to_left bool", _edit("missing_go_to_left", lambda m: m.astype(bool)),
     "missing_go_to_left has the wrong dtype"),
    ("value 3-d", _edit("value", lambda v: v[:, None, :]), "value must be 2-d"),
    ("value short", _edit("value", lambda v: v[:-1]), "value has the wrong shape"),
    ("surrogates without counts", _edit("surrogate_count", lambda c: None),
     "come together"),
    ("surrogate count negative", _edit("surrogate_count", set_at(0, -1)),
     "surrogate_count must be >= 0, and 0 at leaves"),
    ("surrogate at a leaf", _edit("surrogate_count", lambda c: set_at(-1, 1)(c)),
     "surrogate_count must be >= 0, and 0 at leaves"),
    ("surrogate counts beyond the surrogates", _edit("surrogate_count", set_at(0, 5)),
     "surrogate_count must sum to the length of surrogate_feature"),
    ("surrogate feature too large", _edit("surrogate_feature", set_at(0, D)),
     "surrogate feature index out of range"),
    ("surrogate feature negative", _edit("surrogate_feature", set_at(0, -1)),
     "surrogate feature index out of range"),
    ("surrogate threshold float32", _edit("surrogate_threshold",
                                          lambda t: t.astype(np.float32)),
     "surrogate_threshold has the wrong dtype"),
    ("surrogate_reversed bool", _edit("surrogate_reversed", lambda r: r.astype(bool)),
     "surrogate_reversed has the wrong dtype"),
    ("surrogate counts overflowing their sum", _edit("surrogate_count", lambda c: np.where(
        c > 0, 2**62, 0)), "surrogate_count must sum to the length of surrogate_feature"),
    ("surrogate counts short of the surrogates", _edit("surrogate_count", set_at(0, 1)),
     "surrogate_count must sum to the length of surrogate_feature"),
]


@pytest.mark.parametrize("name, change, match", [
    pytest.param(*case, id=case[0].replace(" ", "_")) for case in PACK_BAD])
def test_pack_bad_arguments_raise_value_error(name, change, match, dtype):
    X, packed = _packed(dtype)
    _cart.PackedForest(**packed)  # valid
    X, packed = change(X, packed)
    with pytest.raises(ValueError, match=match):
        _cart.PackedForest(**packed)


WALK_BAD = [
    ("X 1-d", lambda X: X[0].copy(), "X must be 2-d"),
    ("X int", lambda X: X.astype(np.int64), "X must be float32 or float64"),
    ("X Fortran", np.asfortranarray, "X must be C-contiguous"),
    ("X lacks a feature", lambda X: X[:, :-1].copy(), "X has 2 features; the trees were fitted on 3"),
]


@pytest.mark.parametrize("function", ["apply", "predict_mean"])
@pytest.mark.parametrize("name, change, match", [
    pytest.param(*case, id=case[0].replace(" ", "_")) for case in WALK_BAD])
def test_walk_bad_arguments_raise_value_error(function, name, change, match, dtype):
    X, packed = _packed(dtype)
    forest = _cart.PackedForest(**packed)
    getattr(forest, function)(X, n_threads=1)  # valid
    with pytest.raises(ValueError, match=match):
        getattr(forest, function)(change(X), n_threads=1)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        getattr(forest, function)(X, n_threads=0)


def _reference_nodes(packed):
    """A tree's PackedForest arguments as fastml.reference.cart takes them."""
    nodes = {name: packed[name] for name in ("children_left", "children_right", "feature",
                                            "threshold", "missing_go_to_left",
                                            "surrogate_feature", "surrogate_threshold",
                                            "surrogate_reversed")}
    nodes["surrogate_ptr"] = np.concatenate([[0], np.cumsum(packed["surrogate_count"])])
    return nodes


def _without_surrogates(tree):
    """A tree's node arrays with empty surrogate arrays added."""
    return {**tree, "surrogate_count": np.zeros(len(tree["feature"]), dtype=np.int64),
            "surrogate_feature": np.zeros(0, dtype=np.int64),
            "surrogate_threshold": np.zeros(0), "surrogate_reversed": np.zeros(0, dtype=np.uint8)}


def test_pack_converts_surrogate_arguments_it_is_given_as_lists():
    X, packed = _packed()
    expected = _cart.PackedForest(**packed).apply(X, n_threads=1)
    listed = {name: value.tolist() if name in ("surrogate_count", "surrogate_feature",
                                               "surrogate_threshold") else value
              for name, value in packed.items()}
    for _ in range(3):  # the converted arrays must live while they are read
        assert_array_equal(_cart.PackedForest(**listed).apply(X, n_threads=1), expected)


def test_apply_and_predict_mean_match_the_reference(dtype):
    X, packed = _packed(dtype)
    X = np.concatenate([X] * 4)
    rng = np.random.default_rng(0)
    X[rng.random(X.shape) < 0.3] = np.nan  # rows missing a split's feature and its surrogates
    leaves = reference.apply(_reference_nodes(packed), X)
    without = {k: v for k, v in packed.items() if not k.startswith("surrogate")}
    leaves_without = reference.apply({k: v for k, v in _reference_nodes(packed).items()
                                      if not k.startswith("surrogate")}, X)
    assert (leaves != leaves_without).any()
    for arguments, expected in ((packed, leaves), (without, leaves_without)):
        forest = _cart.PackedForest(**arguments)
        assert_array_equal(forest.apply(X, n_threads=2)[:, 0], expected)
        assert_array_equal(forest.predict_mean(X, n_threads=2), packed["value"][expected])


def _stump(threshold, missing_go_to_left=0):
    """Node arrays of one split on feature 0 with leaves valued 0 (left) and 1 (right)."""
    return dict(children_left=np.array([1, -1, -1]), children_right=np.array([2, -1, -1]),
                feature=np.array([0, -2, -2]), threshold=np.array([threshold, -2.0, -2.0]),
                missing_go_to_left=np.array([missing_go_to_left, 0, 0], dtype=np.uint8),
                value=np.array([[0.5], [0.0], [1.0]]))


def _pack(trees, n_features=1):
    arrays = {name: np.concatenate([tree[name] for tree in trees]) for name in trees[0]}
    offsets = np.cumsum([0] + [len(tree["feature"]) for tree in trees]).astype(np.int64)
    return _cart.PackedForest(offsets, **arrays, n_features=n_features)


def test_float32_walk_compares_as_float64():
    """For float32 X the walk compares against the largest float32 at or below each threshold,
    which sends every float32 value the way comparing in float64 does."""
    below = np.float32(1.0)
    above = np.nextafter(below, np.float32(2.0))
    # a quarter of the way from `above` down rounds up to `above` in a plain cast to float32
    thresholds = [(float(below) + float(above)) / 2, float(below) + 0.75 * float(above - below),
                  float(below), float(above), 1e300, -1e300,
                  float(np.finfo(np.float32).max) * 1.5]
    X = np.array([[below], [above], [np.nextafter(below, np.float32(0.0))],
                  [np.finfo(np.float32).max], [-np.finfo(np.float32).max], [np.inf], [-np.inf]],
                 dtype=np.float32)
    for threshold in thresholds:
        forest = _pack([_stump(threshold)])
        expected = np.where(X[:, 0].astype(np.float64) <= threshold, 1, 2)
        assert_array_equal(forest.apply(X, n_threads=1)[:, 0], expected, err_msg=str(threshold))
        assert_array_equal(forest.apply(X.astype(np.float64), n_threads=1)[:, 0], expected)


def test_walk_over_trees_of_every_shape(dtype):
    """A forest mixing single-leaf trees, stumps and grown trees (with and without surrogate
    splits) walks each as the reference does, for thread counts that split the rows unevenly;
    missing values follow each split."""
    X, packed = _packed(dtype)
    X = np.concatenate([X] * 25)
    X[::5, 0] = np.nan
    X[::3, 2] = np.nan
    X[::4, 1] = np.nan
    grown = {name: value for name, value in packed.items()
             if name not in ("offsets", "n_features")}
    leaf = _without_surrogates(dict(
        children_left=np.array([-1]), children_right=np.array([-1]), feature=np.array([-2]),
        threshold=np.array([-2.0]), missing_go_to_left=np.array([0], dtype=np.uint8),
        value=np.array([[0.25, 0.75]])))
    stumps = [_without_surrogates({**_stump(0.1, ml),
                                   "value": np.array([[0.5, 0.5], [1.0, 0.0], [0.0, 1.0]])})
              for ml in (0, 1)]
    trees = [leaf, grown, stumps[0], leaf, stumps[1], grown, _without_surrogates(
        {k: v for k, v in grown.items() if not k.startswith("surrogate")})]
    forest = _pack(trees, n_features=D)
    expected_leaves = np.column_stack([reference.apply(_reference_nodes(tree), X)
                                       for tree in trees])
    expected_mean = np.mean([tree["value"][expected_leaves[:, t]]
                             for t, tree in enumerate(trees)], axis=0)
    for n_threads in (1, 2, 3, 7):
        assert_array_equal(forest.apply(X, n_threads=n_threads), expected_leaves)
        assert_allclose(forest.predict_mean(X, n_threads=n_threads), expected_mean, rtol=1e-15)
    assert_array_equal(forest.predict_mean(X, n_threads=3), forest.predict_mean(X, n_threads=1))
    # rows without NaN take the walk without the test for it
    complete = np.nan_to_num(X, nan=0.25)
    expected = np.column_stack([reference.apply(_reference_nodes(tree), complete)
                                for tree in trees])
    for n_threads in (1, 3):
        assert_array_equal(forest.apply(complete, n_threads=n_threads), expected)
    assert forest.apply(X[:0], n_threads=2).shape == (0, len(trees))
    # CSR rows (NaN stored, zeros not) walk as the dense ones: blocks of fewer rows than the
    # walk's lanes, whose lanes go on to the next trees, and blocks of many
    for rows in (X, X[:3], X[:13], complete):
        csr = sp.csr_matrix(rows)
        arrays = (csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data)
        for n_threads in (1, 2, 7):
            assert_array_equal(forest.apply_csr(*arrays, n_threads),
                               forest.apply(rows, n_threads=1))
            assert_array_equal(forest.predict_mean_csr(*arrays, n_threads),
                               forest.predict_mean(rows, n_threads=1))
    # rows so wide that each block densifies one row
    wide = _pack(trees, n_features=100_000)
    csr = sp.hstack([sp.csr_matrix(X), sp.csr_matrix((X.shape[0], 100_000 - D), dtype=X.dtype)],
                    format="csr")
    arrays = (csr.indptr.astype(np.int64), csr.indices.astype(np.int32), csr.data)
    for n_threads in (1, 2):
        assert_array_equal(wide.apply_csr(*arrays, n_threads), expected_leaves)
        assert_allclose(wide.predict_mean_csr(*arrays, n_threads), expected_mean, rtol=1e-15)


def test_packed_forest_owns_its_nodes():
    """Changing the arrays a forest was packed from changes nothing it predicts."""
    X, packed = _packed()
    forest = _cart.PackedForest(**packed)
    leaves = forest.apply(X, n_threads=1)
    mean = forest.predict_mean(X, n_threads=1)
    for name in ("children_left", "children_right", "feature", "value"):
        packed[name][...] = 0 if name == "value" else -(10**9)
    assert_array_equal(forest.apply(X, n_threads=1), leaves)
    assert_array_equal(forest.predict_mean(X, n_threads=1), mean)


def test_encode_bins_bad_arguments_raise_value_error(dtype):
    args = _core_arguments(dtype)
    X, thresholds = args["X"], args["thresholds"]
    with pytest.raises(ValueError, match="X must be 2-d"):
        _cart.encode_bins(X[0].copy(), thresholds, 1)
    with pytest.raises(ValueError, match="X must be float32 or float64"):
        _cart.encode_bins(X.astype(np.int32), thresholds, 1)
    with pytest.raises(ValueError, match="bin_threshold has the wrong shape"):
        _cart.encode_bins(X, thresholds[:-1].copy(), 1)
    with pytest.raises(ValueError, match="bin_threshold must not hold NaN"):
        _cart.encode_bins(X, np.where(thresholds == 0.0, np.nan, thresholds), 1)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _cart.encode_bins(X, thresholds, 0)


@pytest.mark.parametrize("max_features", [3, None], ids=["drawn", "subtracted"])
@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("missing", [0.0, 0.1], ids=["complete", "missing"])
def test_hist_packed_class_sums_equal_the_double_sums(missing, n_classes, max_features, dtype):
    # A single-output classification on whole weights sums its rows' blocks as packed integers
    # (histograms, searched packed, subtracted as integers with every feature searched; small
    # and tiny nodes; partitions; two classes batch their candidates' proxies); two copies of the
    # same output are summed in doubles.
    # Gini's proxies and impurities are then the same numbers ((a + a) / 2 == a), so the trees
    # must be node for node equal. (Entropy adds its outputs' terms class by class, so two copies
    # round apart; its packed sums are checked against the exact search's in
    # test_hist_equals_exact_with_a_bin_per_value.)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(3000, 6)).astype(dtype)
    X[:, 1] = np.round(X[:, 1])  # repeated values: bins holding several rows
    X[rng.random(X.shape) < missing] = np.nan
    y = (X[:, 0] + rng.normal(scale=0.8, size=len(X)) > 0).astype(int)
    if n_classes == 3:
        y += X[:, 2] > 1
    weight = rng.integers(0, 4, size=len(X)).astype(float)
    params = dict(split_finder="hist", max_features=max_features, random_state=0)
    packed = DecisionTreeClassifier(**params).fit(X, y, sample_weight=weight).tree_
    doubled = DecisionTreeClassifier(**params).fit(X, np.column_stack([y, y]),
                                                   sample_weight=weight).tree_
    assert packed.node_count > 300  # histogram, small and tiny nodes
    for name in ("children_left", "feature", "threshold", "n_node_samples",
                 "weighted_n_node_samples", "impurity"):
        assert_array_equal(getattr(packed, name), getattr(doubled, name), err_msg=name)
    assert_array_equal(packed.value[:, 0], doubled.value[:, 0])


def test_bin_thresholds_do_not_depend_on_the_thread_count(dtype):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(THREADED_ROWS, 7)).astype(dtype)
    X[:, 2] = np.round(X[:, 2])  # fewer distinct values than bins
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:, 5] = np.nan  # a column without values
    one = bin_thresholds(X, 63, np.random.RandomState(0))
    assert np.isfinite(one[0]).sum() == 62 and np.isfinite(one[2]).sum() > 0
    for n_threads in (2, 3):
        assert_array_equal(bin_thresholds(X, 63, np.random.RandomState(0), n_threads), one)


@pytest.mark.parametrize("missing", [0.0, 0.05], ids=["complete", "missing"])
@pytest.mark.parametrize("criterion", ["squared_error", "gini"])
def test_hist_reused_histograms_match_reference(criterion, missing, dtype):
    # Fully grown on integer (bootstrap-like) weights: nodes of 64 rows and more search
    # histograms derived by subtraction, in buffers that held other nodes' bins before (a
    # histogram keeps only its occupied bins non-zero, see HistogramPool); nodes of 256 rows and
    # more find their occupied bins from the counts, smaller ones as they fill. At most 255
    # values a column (a bin per value): every split sends the rows the reference's sends (in
    # nodes of a few rows, two features may split alike: compared as row sets). gini: two
    # classes on fractional weights, blocks of 4 doubles that are not packed, subtracted two
    # doubles a step (HistogramPool::subtract_blocks).
    X, y, _ = _quantised(1200, 4, 200, seed=11)
    rng = np.random.default_rng(11)
    w = rng.poisson(1.0, len(y)).astype(np.float64)
    if criterion == "gini":
        y = (y > np.median(y)).astype(np.int64)
        w = np.where(w > 0, rng.uniform(0.5, 2.0, len(y)), 0.0)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    cls = DecisionTreeClassifier if criterion == "gini" else DecisionTreeRegressor
    est = cls(split_finder="hist", max_bins=255, random_state=0)
    est.fit(X.astype(dtype), y, sample_weight=w)
    sizes = est.tree_.n_node_samples[est.tree_.children_left >= 0]
    assert (sizes >= 256).any() and ((sizes >= 64) & (sizes < 256)).any()
    rows = np.flatnonzero(w != 0)
    assert _splits(_nodes(est.tree_), X, rows) == _splits(_reference(criterion, X, y, w), X, rows)


def _packed_trees(packed, n_trees):
    """packed's tree laid end to end n_trees times (a forest of copies)."""
    n_nodes = len(packed["feature"])
    laid = {name: np.concatenate([packed[name]] * n_trees)
            for name in ("children_left", "children_right", "feature", "threshold",
                         "missing_go_to_left", "value", "surrogate_count", "surrogate_feature",
                         "surrogate_threshold", "surrogate_reversed")}
    return {**laid, "n_features": packed["n_features"],
            "offsets": np.arange(n_trees + 1, dtype=np.int64) * n_nodes}


@pytest.mark.parametrize("surrogates", [True, False])
def test_pack_on_threads_gives_the_serial_packing(surrogates, dtype):
    X, packed = _packed(dtype)
    forest = _packed_trees(packed, 5)
    if not surrogates:
        forest = {name: value for name, value in forest.items()
                  if not name.startswith("surrogate")}
    serial = _cart.PackedForest(**forest, n_threads=1)
    for n_threads in (2, 3, 8):
        threaded = _cart.PackedForest(**forest, n_threads=n_threads)
        assert_array_equal(threaded.apply(X, n_threads=1), serial.apply(X, n_threads=1))
        assert_array_equal(threaded.predict_mean(X, n_threads=1),
                           serial.predict_mean(X, n_threads=1))
    one = _cart.PackedForest(**packed).apply(X, n_threads=1)
    assert_array_equal(serial.apply(X, n_threads=1), np.repeat(one, 5, axis=1))


def test_pack_on_threads_raises_the_first_bad_trees_error():
    X, packed = _packed()
    forest = _packed_trees(packed, 4)
    n_nodes = len(packed["feature"])
    split = int(np.flatnonzero(packed["children_left"] >= 0)[0])
    forest["feature"][3 * n_nodes + split] = D  # tree 3: a feature out of range
    forest["children_left"][1 * n_nodes + split] = split  # tree 1: a child that loops
    for n_threads in (1, 2, 4):
        with pytest.raises(ValueError, match="children ids out of range"):
            _cart.PackedForest(**forest, n_threads=n_threads)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _cart.PackedForest(**packed, n_threads=0)


def _laid_end_to_end(trees):
    """PackedForest's arguments for fastml Trees laid end to end (what from_trees reads where the
    trees lie)."""
    arrays = {name: np.concatenate([getattr(tree, name) for tree in trees])
              for name in ("children_left", "children_right", "feature", "threshold",
                           "missing_go_to_left", "surrogate_feature", "surrogate_threshold",
                           "surrogate_reversed")}
    arrays["value"] = np.concatenate([tree.value.reshape(tree.node_count, -1) for tree in trees])
    arrays["surrogate_count"] = np.concatenate([np.diff(tree.surrogate_ptr) for tree in trees])
    offsets = np.cumsum([0] + [tree.node_count for tree in trees]).astype(np.int64)
    return dict(offsets=offsets, **arrays)


@pytest.mark.parametrize("missing_values", ["learn", "surrogate"])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_pack_from_trees_gives_the_packing_laid_end_to_end(missing_values, n_outputs, dtype):
    from fastml.ensemble import RandomForestClassifier

    rng = np.random.default_rng(3)
    X = rng.standard_normal((300, 4))
    y = np.column_stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0.5, X[:, 3] > 1][:n_outputs]).astype(int)
    y[rng.random(y.shape) < 0.1] += 1  # three classes in some outputs: K padding in value
    X[rng.random(X.shape) < 0.15] = np.nan
    forest = RandomForestClassifier(4, max_depth=6, missing_values=missing_values,
                                    random_state=0).fit(X, y[:, 0] if n_outputs == 1 else y)
    trees = [estimator.tree_ for estimator in forest.estimators_]
    assert any(tree.surrogate_ptr[-1] > 0 for tree in trees) == (missing_values == "surrogate")
    laid = _laid_end_to_end(trees)
    if missing_values == "learn":
        laid = {name: value for name, value in laid.items() if not name.startswith("surrogate")}
    X = X.astype(dtype)
    for n_threads in (1, 3):
        packed = _cart.PackedForest.from_trees(trees, n_features=4, n_threads=n_threads)
        expected = _cart.PackedForest(**laid, n_features=4, n_threads=n_threads)
        assert_array_equal(packed.apply(X, n_threads=2), expected.apply(X, n_threads=2))
        assert_array_equal(packed.predict_mean(X, n_threads=2),
                           expected.predict_mean(X, n_threads=2))


def test_pack_from_trees_bad_arguments_raise_value_error():
    from fastml.tree._model import Tree

    X, packed = _packed()
    nodes = {name: packed[name] for name in ("children_left", "children_right", "feature",
                                            "threshold", "missing_go_to_left")}
    n = len(nodes["feature"])
    nodes.update(impurity=np.zeros(n), n_node_samples=np.ones(n, dtype=np.int64),
                 weighted_n_node_samples=np.ones(n))
    tree = Tree(D, packed["value"].shape[1], {**nodes, "value": packed["value"]})
    _cart.PackedForest.from_trees([tree, tree], n_features=D)  # valid
    with pytest.raises(ValueError, match="trees must hold a tree"):
        _cart.PackedForest.from_trees([], n_features=D)
    wider = Tree(D, packed["value"].shape[1] + 1,
                 {**nodes, "value": np.pad(packed["value"], ((0, 0), (0, 1)))})
    with pytest.raises(ValueError, match="the trees' values must have one shape"):
        _cart.PackedForest.from_trees([tree, wider], n_features=D)
    with pytest.raises(ValueError, match="feature index out of range"):
        _cart.PackedForest.from_trees([tree], n_features=2)
    looped = Tree(D, packed["value"].shape[1], {**nodes, "value": packed["value"]})
    looped.children_left = set_at(0, 0)(looped.children_left.copy())
    with pytest.raises(ValueError, match="children ids out of range"):
        _cart.PackedForest.from_trees([tree, looped], n_features=D)
    looped.children_left = looped.children_left.astype(np.int32)
    with pytest.raises(ValueError, match="children_left has the wrong dtype"):
        _cart.PackedForest.from_trees([looped], n_features=D)
    with pytest.raises(ValueError, match="n_threads must be >= 1"):
        _cart.PackedForest.from_trees([tree], n_features=D, n_threads=0)
