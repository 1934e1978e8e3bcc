"""The reference CART against scikit-learn's exact trees, against brute force and against the
conventions' rules worked out by hand, so that the oracle can be trusted."""
import numpy as np
import pytest
from scipy.special import xlogy
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from fastml.reference import cart as reference

CLASSIFICATION = ("gini", "entropy", "log_loss")
CRITERIA = CLASSIFICATION + ("squared_error", "friedman_mse", "poisson", "absolute_error")
N_CLASSES = 3


def _data(criterion, n_samples, n_features, seed, missing=0.0):
    """(X, y, rng): X float32-representable (scikit-learn fits on float32) and without ties within
    a feature (ties would let scikit-learn's random feature order pick another tree); with
    `missing`, that fraction of X is NaN, the NaN of feature 0 being informative."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n_samples, n_features)).astype(np.float32).astype(np.float64)
    assert all(len(np.unique(column)) == n_samples for column in X.T)
    z = X[:, 0] + X[:, 1] * X[:, 2] + 0.5 * rng.standard_normal(n_samples)
    if missing:
        mask = rng.random(X.shape) < missing
        z[mask[:, 0]] += 1.5
        X[mask] = np.nan
    if criterion in CLASSIFICATION:
        y = (z > 0).astype(np.int64) + (X[:, -1] > 1)  # NaN > 1 is False
        assert set(y) == set(range(N_CLASSES))
    elif criterion == "poisson":
        y = np.exp(z / 2) * rng.gamma(2.0, 0.5, n_samples)  # > 0: no child of sum 0
    else:
        y = z
    return X, y, rng


def _weights(n_samples, rng):
    """Multiples of 1/64, so that sums are exact and a pure node has impurity exactly 0 in
    scikit-learn too (it splits nodes whose impurity rounds to more than one float64 epsilon), and
    a few zeros."""
    w = rng.integers(32, 160, n_samples) / 64
    w[rng.random(n_samples) < 0.05] = 0.0
    return w


def _build(criterion, X, y, w=None, **params):
    n_classes = N_CLASSES if criterion in CLASSIFICATION else None
    return reference.build_tree(X, y, criterion=criterion, n_classes=n_classes, sample_weight=w,
                                **params)


def _brute_impurity(criterion, y, w):
    """The impurity of the rows (y, w), written differently from the reference where it can be."""
    total = w.sum()
    if criterion in CLASSIFICATION:
        p = np.array([w[y == k].sum() for k in range(N_CLASSES)]) / total
        if criterion == "gini":
            return (p * (1 - p)).sum()
        return -sum(pk * np.log2(pk) for pk in p if pk > 0)
    if criterion == "absolute_error":
        # A weighted median minimises sum w |y - m|, and one lies among the y.
        return min((w * np.abs(y - m)).sum() for m in y) / total
    mean = (w * y).sum() / total
    if criterion == "poisson":
        return (w * xlogy(y, y / mean)).sum() / total
    return (w * (y - mean) ** 2).sum() / total  # two passes, not sum(w y^2)/w - mean^2


def _brute_median(y, w):
    """scikit-learn's weighted median: the mean of the smallest and largest y where the weight
    below is at most half the total and the weight above at most half; the single such y when
    no two meet that."""
    half = w.sum() / 2
    medians = sorted(v for v in set(y) if w[y < v].sum() <= half and w[y > v].sum() <= half)
    return (medians[0] + medians[-1]) / 2


def _children_cost(criterion, y, w, left):
    """w_L imp_L + w_R imp_R: the smaller, the better the split."""
    return sum(w[side].sum() * _brute_impurity(criterion, y[side], w[side])
               for side in (left, ~left))


def _goes_left(x, threshold, missing_go_to_left):
    return np.where(np.isnan(x), bool(missing_go_to_left), x <= threshold)


def _path(tree, x):
    """The nodes one row goes through, one step at a time."""
    node, path = 0, [0]
    while tree["children_left"][node] != -1:
        if _goes_left(x[tree["feature"][node]], tree["threshold"][node],
                      tree["missing_go_to_left"][node]):
            node = tree["children_left"][node]
        else:
            node = tree["children_right"][node]
        path.append(node)
    return path


def _rows_by_node(tree, X, w):
    """For each node, the rows of non-zero weight that reach it."""
    rows = [[] for _ in tree["feature"]]
    for i in np.flatnonzero(w != 0):
        for node in _path(tree, X[i]):
            rows[node].append(i)
    return [np.array(r, dtype=np.int64) for r in rows]


# ---------------------------------------------------------------------------------------------
# Against scikit-learn

def _sklearn_tree(criterion, X, y, w, seed, **params):
    if criterion in CLASSIFICATION:
        est = DecisionTreeClassifier(criterion=criterion, random_state=seed, **params)
    else:
        # scikit-learn 1.9 maps friedman_mse to squared_error: the proxies order the splits alike
        # (but the spec's friedman improvement is the squared_error one times the root weight).
        if criterion == "friedman_mse":
            criterion = "squared_error"
        est = DecisionTreeRegressor(criterion=criterion, random_state=seed, **params)
    return est.fit(X, y, sample_weight=w).tree_


def _assert_matches_sklearn(tree, sk, criterion, X, y, w, allow_ties):
    """Walk both trees together over the training rows. Nodes must agree (rows, weights,
    impurity, value); splits must send the same rows left, or mirror each other: scikit-learn
    visits the features in a random order, so among features tied on the same partition it may
    pick another one (or the mirrored partition, e.g. any split of 2 rows). With allow_ties, two
    different partitions may also tie (equal counts give equal proxies; rounding then decides in
    scikit-learn); the walk checks the tie and stops there. Returns (nodes compared, ties)."""
    counts = {"nodes": 0, "ties": 0}

    def walk(a, b, rows):
        counts["nodes"] += 1
        assert tree["n_node_samples"][a] == sk.n_node_samples[b] == len(rows)
        np.testing.assert_allclose(tree["weighted_n_node_samples"][a],
                                   sk.weighted_n_node_samples[b], rtol=1e-13)
        np.testing.assert_allclose(tree["impurity"][a], sk.impurity[b], rtol=1e-9, atol=1e-10)
        np.testing.assert_allclose(tree["value"][a], sk.value[b], rtol=1e-9, atol=1e-12)
        is_leaf = tree["children_left"][a] == -1
        assert is_leaf == (sk.children_left[b] == -1), f"node {a} (n={len(rows)})"
        if is_leaf:
            return
        feature = tree["feature"][a]
        x = X[rows, feature]
        left = _goes_left(x, tree["threshold"][a], tree["missing_go_to_left"][a])
        sk_left = _goes_left(X[rows, sk.feature[b]], sk.threshold[b], sk.missing_go_to_left[b])
        if not (np.array_equal(left, sk_left) or np.array_equal(left, ~sk_left)):
            assert allow_ties, (f"node {a} (n={len(rows)}): ({feature}, {tree['threshold'][a]})"
                                f" against ({sk.feature[b]}, {sk.threshold[b]})")
            np.testing.assert_allclose(_children_cost(criterion, y[rows], w[rows], left),
                                       _children_cost(criterion, y[rows], w[rows], sk_left),
                                       rtol=1e-12)
            counts["ties"] += 1
            return
        if (feature, tree["threshold"][a]) == (sk.feature[b], sk.threshold[b]):
            if np.isnan(x).any():
                assert tree["missing_go_to_left"][a] == sk.missing_go_to_left[b]
            else:
                # No missing value here: missing goes to the child with more rows, the right
                # one on equal counts (scikit-learn's rule).
                n_left, n_right = left.sum(), (~left).sum()
                assert tree["missing_go_to_left"][a] == (n_left > n_right)
                assert sk.missing_go_to_left[b] == (n_left > n_right)
        sk_children = (sk.children_left[b], sk.children_right[b])
        if not np.array_equal(left, sk_left):
            sk_children = sk_children[::-1]
        walk(tree["children_left"][a], sk_children[0], rows[left])
        walk(tree["children_right"][a], sk_children[1], rows[~left])

    walk(0, 0, np.flatnonzero(w != 0))
    if counts["ties"] == 0:
        assert counts["nodes"] == len(tree["feature"]) == sk.node_count
    return counts["nodes"], counts["ties"]


# Per criterion, a min_impurity_decrease that prunes some splits (scikit-learn's scale; the
# friedman_mse one is multiplied by the root weight, see _sklearn_tree).
MIN_IMPURITY_DECREASE = {"gini": 2e-3, "entropy": 4e-3, "log_loss": 4e-3,
                         "squared_error": 5e-3, "friedman_mse": 5e-3, "poisson": 2e-3,
                         "absolute_error": 2e-3}
PARAMS = [
    pytest.param({}, id="unconstrained"),
    pytest.param({"max_depth": 4}, id="max_depth"),
    pytest.param({"min_samples_split": 20}, id="min_samples_split"),
    pytest.param({"min_samples_leaf": 7}, id="min_samples_leaf"),
    pytest.param({"min_weight_fraction_leaf": 0.02}, id="min_weight_fraction_leaf"),
    pytest.param({"min_impurity_decrease": None}, id="min_impurity_decrease"),
]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_matches_sklearn(criterion, weighted, params):
    seed = CRITERIA.index(criterion) + 10 * len(params)
    X, y, rng = _data(criterion, 160 if criterion == "absolute_error" else 240, 4, seed)
    w = _weights(len(X), rng) if weighted else np.ones(len(X))
    params = dict(params)
    if "min_impurity_decrease" in params:
        params["min_impurity_decrease"] = MIN_IMPURITY_DECREASE[criterion]
    sk = _sklearn_tree(criterion, X, y, w, seed, **params)
    if criterion == "friedman_mse" and "min_impurity_decrease" in params:
        params["min_impurity_decrease"] *= w.sum()  # see _sklearn_tree
    tree = _build(criterion, X, y, w, **params)
    # Without weights, class counts (and absolute errors) often tie exactly between different
    # partitions; the multiples of 1/64 make that very unlikely.
    allow_ties = not weighted and criterion in CLASSIFICATION + ("absolute_error",)
    n_compared, _ = _assert_matches_sklearn(tree, sk, criterion, X, y, w, allow_ties)
    assert n_compared >= len(tree["feature"]) / 3
    assert len(tree["feature"]) > 7


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", ["gini", "entropy", "squared_error", "poisson",
                                       "absolute_error"])
@pytest.mark.parametrize("params", [{}, {"min_samples_leaf": 7}], ids=["unconstrained", "leaf7"])
def test_matches_sklearn_with_missing_values(criterion, weighted, params):
    seed = 100 + len(params)
    X, y, rng = _data(criterion, 160 if criterion == "absolute_error" else 240, 4, seed,
                      missing=0.15)
    w = _weights(len(X), rng) if weighted else np.ones(len(X))
    tree = _build(criterion, X, y, w, **params)
    sk = _sklearn_tree(criterion, X, y, w, seed, **params)
    # scikit-learn tries the missing values on the right for every threshold first, the spec on
    # the left first at each threshold: the two break an exact tie between them differently.
    allow_ties = not weighted and criterion in CLASSIFICATION + ("absolute_error",)
    n_compared, _ = _assert_matches_sklearn(tree, sk, criterion, X, y, w, allow_ties)
    assert n_compared >= len(tree["feature"]) / 3
    # Splits at a threshold whose node saw NaN of their feature send them both ways.
    sides = {tree["missing_go_to_left"][node] for node, rows in enumerate(_rows_by_node(tree, X, w))
             if tree["feature"][node] >= 0 and np.isfinite(tree["threshold"][node])
             and np.isnan(X[rows, tree["feature"][node]]).any()}
    assert sides == {0, 1}


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_predict_value_follows_sklearn_routing(weighted):
    # scikit-learn's own tree arrays through predict_value give scikit-learn's predictions,
    # missing values included.
    X, y, rng = _data("squared_error", 300, 4, 7, missing=0.2)
    w = _weights(len(X), rng) if weighted else None
    est = DecisionTreeRegressor(max_depth=6, random_state=0).fit(X, y, sample_weight=w)
    arrays = {name: getattr(est.tree_, name) for name in
              ("children_left", "children_right", "feature", "threshold", "missing_go_to_left",
               "value")}
    X_test, _, _ = _data("squared_error", 500, 4, 8, missing=0.2)
    predicted = reference.predict_value(arrays, X_test)
    assert predicted.shape == (len(X_test), 1, 1)
    np.testing.assert_array_equal(predicted[:, 0, 0], est.predict(X_test))
    np.testing.assert_array_equal(reference.apply(arrays, X_test), est.apply(X_test))


# ---------------------------------------------------------------------------------------------
# Against brute force

@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_tree_is_consistent_with_its_rows(criterion, weighted):
    """Every node's arrays recomputed from the training rows that reach it."""
    X, y, rng = _data(criterion, 120, 4, 3, missing=0.1)
    w = _weights(len(X), rng) if weighted else np.ones(len(X))
    tree = _build(criterion, X, y, w, min_samples_leaf=2)
    n_nodes = len(tree["feature"])
    K = N_CLASSES if criterion in CLASSIFICATION else 1
    for name, dtype in [("children_left", np.int64), ("children_right", np.int64),
                        ("feature", np.int64), ("threshold", np.float64),
                        ("missing_go_to_left", np.uint8), ("impurity", np.float64),
                        ("n_node_samples", np.int64), ("weighted_n_node_samples", np.float64)]:
        assert tree[name].dtype == dtype and tree[name].shape == (n_nodes,)
    assert tree["value"].dtype == np.float64 and tree["value"].shape == (n_nodes, 1, K)

    leaf = tree["children_left"] == -1
    assert (tree["children_right"][leaf] == -1).all() and (tree["feature"][leaf] == -2).all()
    assert (tree["threshold"][leaf] == -2.0).all() and (tree["missing_go_to_left"][leaf] == 0).all()
    # Depth-first preorder: node, its whole left subtree, then its whole right subtree.
    order = []

    def preorder(node):
        order.append(node)
        if tree["children_left"][node] != -1:
            preorder(tree["children_left"][node])
            preorder(tree["children_right"][node])
    preorder(0)
    np.testing.assert_array_equal(order, np.arange(n_nodes))

    for node, rows in enumerate(_rows_by_node(tree, X, w)):
        assert tree["n_node_samples"][node] == len(rows) >= 2
        assert tree["weighted_n_node_samples"][node] == w[rows].sum()
        np.testing.assert_allclose(tree["impurity"][node],
                                   _brute_impurity(criterion, y[rows], w[rows]),
                                   rtol=1e-10, atol=1e-12)
        if criterion in CLASSIFICATION:
            expected = [w[rows][y[rows] == k].sum() / w[rows].sum() for k in range(K)]
        elif criterion == "absolute_error":
            expected = [_brute_median(y[rows], w[rows])]
        else:
            expected = [np.average(y[rows], weights=w[rows])]
        np.testing.assert_allclose(tree["value"][node, 0], expected, rtol=1e-12, atol=1e-15)


def _best_cost_by_brute_force(criterion, X, y, w, min_samples_leaf):
    """The lowest w_L imp_L + w_R imp_R over every valid candidate, built row mask by row mask."""
    best = np.inf
    for x in X.T:
        missing = np.isnan(x)
        values = np.unique(x[~missing])
        candidates = [~missing]  # all non-missing rows left, missing right (threshold +inf)
        for v in values[:-1]:
            candidates += [(x <= v) | (missing & side) for side in (False, True)]
        for left in candidates:
            if min(left.sum(), (~left).sum()) < min_samples_leaf:
                continue
            if criterion == "poisson" and min((w * y)[left].sum(), (w * y)[~left].sum()) <= 0:
                continue
            best = min(best, _children_cost(criterion, y, w, left))
    return best


@pytest.mark.parametrize("weights", ["unweighted", "dyadic", "uniform"])
@pytest.mark.parametrize("criterion", CRITERIA)
def test_every_split_is_optimal_by_brute_force(criterion, weights):
    X, y, rng = _data(criterion, 50, 4, 5, missing=0.2)
    w = {"unweighted": np.ones(len(X)), "dyadic": _weights(len(X), rng),
         "uniform": rng.uniform(0.1, 3.0, len(X))}[weights]
    tree = _build(criterion, X, y, w, max_depth=4, min_samples_leaf=2)
    n_split = 0
    for node, rows in enumerate(_rows_by_node(tree, X, w)):
        if tree["children_left"][node] == -1:
            continue
        n_split += 1
        left = _goes_left(X[rows, tree["feature"][node]], tree["threshold"][node],
                          tree["missing_go_to_left"][node])
        assert min(left.sum(), (~left).sum()) >= 2
        best = _best_cost_by_brute_force(criterion, X[rows], y[rows], w[rows], 2)
        cost = _children_cost(criterion, y[rows], w[rows], left)
        assert cost <= best + 1e-9 * abs(best), f"node {node}"
    assert n_split >= 5


# ---------------------------------------------------------------------------------------------
# The conventions by hand

def test_ties_keep_the_first_candidate():
    # Thresholds 0.5 and 2.5 tie ({0} | {1, 1, 0} against {0, 1, 1} | {0}): the lower one wins.
    tree = _build("gini", [[0.0], [1.0], [2.0], [3.0]], [0, 1, 1, 0])
    assert tree["threshold"][0] == 0.5
    # Two copies of every feature: the first copy always wins.
    X, y, _ = _data("squared_error", 100, 4, 0)
    tree = _build("squared_error", np.repeat(X, 2, axis=1), y)
    split = tree["children_left"] != -1
    assert (tree["feature"][split] % 2 == 0).all()
    np.testing.assert_array_equal(tree["feature"][split] // 2,
                                  _build("squared_error", X, y)["feature"][split])


def test_missing_right_before_missing_left_on_ties():
    # At threshold 0.5 the two missing rows (classes 0 and 1) left give {0, 0, 1} | {1}, right
    # give {0} | {1, 0, 1}: the same gini proxy, and the missing-right pass comes first, as in
    # scikit-learn.
    tree = _build("gini", [[0.0], [1.0], [np.nan], [np.nan]], [0, 1, 0, 1])
    assert (tree["feature"][0], tree["threshold"][0], tree["missing_go_to_left"][0]) == (0, 0.5, 0)
    assert tree["n_node_samples"][1] == 1


def test_missing_goes_to_the_larger_child_when_the_node_has_none():
    # Two rows each side: equal counts send missing values right, as in scikit-learn.
    tree = _build("gini", [[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    assert tree["threshold"][0] == 1.5 and tree["missing_go_to_left"][0] == 0
    tree = _build("gini", [[0.0], [1.0], [2.0], [3.0]], [0, 1, 1, 1])
    assert tree["threshold"][0] == 0.5 and tree["missing_go_to_left"][0] == 0
    tree = _build("gini", [[0.0], [1.0], [2.0], [3.0]], [0, 0, 0, 1])
    assert tree["threshold"][0] == 2.5 and tree["missing_go_to_left"][0] == 1
    # Generally: at every split whose node saw no NaN of its feature, missing_go_to_left says
    # whether the left child has more rows (not weight) than the right one.
    X, y, rng = _data("squared_error", 200, 4, 1, missing=0.1)
    w = _weights(len(X), rng)
    tree = _build("squared_error", X, y, w)
    checked = 0
    for node, rows in enumerate(_rows_by_node(tree, X, w)):
        f = tree["feature"][node]
        if f >= 0 and not np.isnan(X[rows, f]).any():
            n_left = tree["n_node_samples"][tree["children_left"][node]]
            n_right = tree["n_node_samples"][tree["children_right"][node]]
            assert tree["missing_go_to_left"][node] == (n_left > n_right)
            checked += 1
    assert checked > 20


@pytest.mark.parametrize("criterion", ["gini", "squared_error"])
def test_informative_missing_values(criterion):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 3))
    x = X[:, 0].copy()
    nan = rng.random(200) < 0.3
    X[nan, 0] = np.nan
    for target, threshold, go_left in [
            (nan, np.inf, 0),               # only NaN-ness matters: the "+inf" split
            (nan | (x > 0.3), None, 0),     # NaN rows with the high values, right
            (nan | (x < -0.3), None, 1)]:   # NaN rows with the low values, left
        y = target.astype(np.int64) if criterion == "gini" else target * 2.0
        tree = _build(criterion, X, y, max_depth=1)
        assert tree["feature"][0] == 0 and tree["missing_go_to_left"][0] == go_left
        if threshold is None:
            edge = 0.3 if go_left == 0 else -0.3
            below, above = x[~nan & (x < edge)].max(), x[~nan & (x > edge)].min()
            assert tree["threshold"][0] == below / 2 + above / 2
        else:
            assert tree["threshold"][0] == threshold
            assert tree["n_node_samples"][1] == (~nan).sum()
        assert tree["impurity"][1] == tree["impurity"][2] == 0.0
        # NaN in a row sent where training sent the NaN rows.
        np.testing.assert_array_equal(reference.predict_value(tree, X)[:, 0].argmax(axis=1)
                                      if criterion == "gini" else
                                      reference.predict_value(tree, X)[:, 0, 0] / 2, target)


def test_threshold_is_the_midpoint_of_halves():
    # values 1 ulp apart, above scikit-learn's FEATURE_THRESHOLD (1e-7, an ulp at 2**30 is 2.4e-7)
    one = 2.0 ** 30
    after = np.nextafter(one, np.inf)
    after2 = np.nextafter(after, np.inf)
    # 1 + 1.5 ulp rounds (to even) to the upper value: the lower one is used instead.
    assert after / 2 + after2 / 2 == after2
    assert _build("gini", [[after], [after2]], [0, 1])["threshold"][0] == after
    # Halves do not overflow; an infinite midpoint falls back to the lower value.
    big = np.finfo(np.float64).max
    assert _build("gini", [[-big], [big]], [0, 1])["threshold"][0] == 0.0
    tree = _build("gini", [[-np.inf], [0.0], [np.inf]], [0, 1, 2])
    # -inf | {0, inf} ties with {-inf, 0} | inf: the first (threshold -inf) wins.
    np.testing.assert_array_equal(tree["threshold"], [-np.inf, -2.0, 0.0, -2.0, -2.0])
    np.testing.assert_array_equal(reference.apply(tree, [[-np.inf], [0.0], [np.inf]]), [1, 3, 4])


def test_leaf_bounds_are_inclusive():
    # min_weight_leaf = 0.25 * 4 = 1: a child of weight exactly 1 is allowed, so {0} | {1, 1, 1}
    # beats {0, 1} | {1, 1}; likewise a child of exactly min_samples_leaf rows.
    X, y = [[0.0], [1.0], [2.0], [3.0]], [0, 1, 1, 1]
    assert _build("gini", X, y, min_weight_fraction_leaf=0.25)["threshold"][0] == 0.5
    assert _build("gini", X, y, min_samples_leaf=2)["threshold"][0] == 1.5
    assert _build("gini", X, y, min_samples_leaf=1)["threshold"][0] == 0.5
    # A node of exactly min_samples_split rows, or of exactly twice min_weight_leaf, is split.
    assert len(_build("gini", X, y, min_samples_split=4)["feature"]) == 3
    assert len(_build("gini", X, y, min_samples_split=5)["feature"]) == 1
    assert len(_build("gini", X, [0, 0, 1, 1], min_weight_fraction_leaf=0.5)["feature"]) == 3


def test_min_impurity_decrease_has_eps_slack():
    X, y, _ = _data("squared_error", 40, 4, 0)
    tree = _build("squared_error", X, y, max_depth=1)
    n = tree["weighted_n_node_samples"]
    improvement = (n[0] * tree["impurity"][0] - n[1] * tree["impurity"][1]
                   - n[2] * tree["impurity"][2]) / n[0]
    # The split is kept while improvement + EPS >= min_impurity_decrease (the rounding of the
    # improvement here is far below EPS).
    for slack, n_nodes in [(0.0, 3), (0.5, 3), (2.0, 1)]:
        decrease = improvement + slack * reference.EPS
        tree = _build("squared_error", X, y, max_depth=1, min_impurity_decrease=decrease)
        assert len(tree["feature"]) == n_nodes


def test_poisson_children_need_a_positive_sum():
    # Thresholds 0.5 and 1.5 would leave a child with sum(y) = 0: only 2.5 is valid, and then the
    # left child {0, 0, 1} has no valid split at all.
    tree = _build("poisson", [[0.0], [1.0], [2.0], [3.0]], [0.0, 0.0, 1.0, 3.0])
    np.testing.assert_array_equal(tree["threshold"], [2.5, -2.0, -2.0])
    np.testing.assert_allclose(tree["impurity"][1], xlogy(1, 3) / 3)


def test_stopping_rules():
    X, y, rng = _data("squared_error", 200, 4, 2)
    w = _weights(len(X), rng)
    assert len(_build("squared_error", X, np.full(len(X), 3.0))["feature"]) == 1  # pure
    assert len(_build("squared_error", np.ones((50, 2)), y[:50])["feature"]) == 1  # constant X
    tree = _build("squared_error", X, y, w, min_samples_split=30)
    split = tree["children_left"] != -1
    assert tree["n_node_samples"][split].min() >= 30
    tree = _build("squared_error", X, y, w, min_weight_fraction_leaf=0.05)
    leaf = tree["children_left"] == -1
    assert tree["weighted_n_node_samples"][leaf].min() >= 0.05 * w.sum()
    # Every split kept improves the weighted impurity by at least min_impurity_decrease.
    tree = _build("squared_error", X, y, w, min_impurity_decrease=0.01)
    n_left = tree["weighted_n_node_samples"][tree["children_left"]]
    n_right = tree["weighted_n_node_samples"][tree["children_right"]]
    n_node = tree["weighted_n_node_samples"]
    improvement = (n_node * tree["impurity"] - n_left * tree["impurity"][tree["children_left"]]
                   - n_right * tree["impurity"][tree["children_right"]]) / w.sum()
    split = tree["children_left"] != -1
    assert improvement[split].min() >= 0.01 - reference.EPS
    assert 1 < len(tree["feature"]) < len(_build("squared_error", X, y, w)["feature"])


def test_zero_weight_rows_take_no_part():
    X, y, rng = _data("gini", 150, 4, 4, missing=0.1)
    w = _weights(len(X), rng)
    assert (w == 0).any()
    tree = _build("gini", X, y, w, min_weight_fraction_leaf=0.01)
    keep = w != 0
    expected = _build("gini", X[keep], y[keep], w[keep], min_weight_fraction_leaf=0.01)
    for name in expected:
        np.testing.assert_array_equal(tree[name], expected[name], err_msg=name)


# ---------------------------------------------------------------------------------------------
# predict_value

@pytest.mark.parametrize("criterion", CRITERIA)
def test_predict_value(criterion):
    X, y, rng = _data(criterion, 150, 4, 6, missing=0.1)
    tree = _build(criterion, X, y)
    X_test, _, _ = _data(criterion, 200, 4, 9, missing=0.3)
    for data in (X, X_test):
        leaves = [_path(tree, x)[-1] for x in data]
        np.testing.assert_array_equal(reference.apply(tree, data), leaves)
        np.testing.assert_array_equal(reference.predict_value(tree, data), tree["value"][leaves])
    # No duplicate rows and no stopping rule: every training row is fitted exactly.
    fitted = reference.predict_value(tree, X)[:, 0]
    if criterion in CLASSIFICATION:
        np.testing.assert_array_equal(fitted, np.eye(N_CLASSES)[y])
    else:
        np.testing.assert_allclose(fitted[:, 0], y, rtol=1e-14)


def test_invalid_arguments():
    X = np.zeros((3, 1))
    with pytest.raises(ValueError, match="n_classes is required"):
        reference.build_tree(X, [0, 1, 0], criterion="gini")
    with pytest.raises(ValueError, match="class indices"):
        reference.build_tree(X, [0, 2, 0], criterion="gini", n_classes=2)
    with pytest.raises(ValueError, match="unknown criterion"):
        reference.build_tree(X, [0, 1, 0], criterion="mse")
    with pytest.raises(ValueError, match="poisson"):
        reference.build_tree(X, [0.0, -1.0, 2.0], criterion="poisson")
    with pytest.raises(ValueError, match="one entry per row"):
        reference.build_tree(X, [0.0, 1.0], criterion="squared_error")


# ---------------------------------------------------------------------------------------------
# Surrogate splits, worked out by hand

def _surrogate_problem():
    """Eight rows, two missing x0. x0 splits the six rows present on it perfectly at 3.5 (gini
    decrease 3, weighted); x2 = -x0 on them, and on row 6 (-5, class 0) too, which spoils its
    own split (decrease 1.93 over its seven rows). x1 agrees with x0's split on 5 of its 6 rows
    at best, after 20 or after 40 (the first wins); x3 is constant."""
    nan = np.nan
    X = np.array([[1, 10, -1, 7], [2, 20, -2, 7], [3, 40, -3, 7], [4, 35, -4, 7],
                  [5, 50, -5, 7], [6, 60, -6, 7], [nan, 55, -5, 7], [nan, 30, nan, 7]])
    return X, np.array([0, 0, 0, 1, 1, 1, 0, 0])


def test_surrogates_by_hand():
    X, y = _surrogate_problem()
    tree = reference.build_tree(X, y, criterion="gini", n_classes=2, max_depth=1,
                                missing_values="surrogate")
    assert (tree["feature"][0], tree["threshold"][0]) == (0, 3.5)
    assert tree["surrogate_ptr"].tolist() == [0, 2, 2, 2]
    # x2 reversed first (agreement 6): midway between -4 and -3; then x1 (agreement 5): midway
    # between 20 and the node's next value of x1, 30 (row 7's, which misses x0)
    assert tree["surrogate_feature"].tolist() == [2, 1]
    assert tree["surrogate_threshold"].tolist() == [-3.5, 25.0]
    assert tree["surrogate_reversed"].tolist() == [1, 0]
    # row 6 by x2 (-5 <= -3.5, reversed: right), row 7 by x1 (30 > 25: right)
    assert tree["n_node_samples"].tolist() == [8, 3, 5]
    assert tree["value"][1:, 0].tolist() == [[1.0, 0.0], [0.4, 0.6]]
    # 3 rows present on x0 each side: a row missing every surrogate goes right
    assert tree["missing_go_to_left"][0] == 0
    nan = np.nan
    unseen = np.array([[nan, 0.0, -1.0, 7], [nan, 0.0, nan, 7], [nan, nan, nan, 7]])
    assert reference.apply(tree, unseen).tolist() == [1, 1, 2]


@pytest.mark.parametrize("x1, kept", [
    ([1, 2, 3, 1, 2, 3], False),  # every cut splits (left, right) pairs: agreement 3 = majority
    ([1, 2, 3, 2, 2, 3], True),   # after 1: 1 left + 3 right = 4 > 3
])
def test_surrogates_must_beat_the_majority_rule(x1, kept):
    X, y = _surrogate_problem()
    X = np.column_stack([X[:, 0], x1 + [1.5, 2.5]])
    tree = reference.build_tree(X, y, criterion="gini", n_classes=2, max_depth=1,
                                missing_values="surrogate")
    assert tree["feature"][0] == 0
    assert tree["surrogate_ptr"].tolist() == ([0, 1, 1, 1] if kept else [0, 0, 0, 0])
