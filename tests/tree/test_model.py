"""fastml.tree._model.Tree against scikit-learn's Tree: the arrays of scikit-learn trees are loaded
into Tree and everything it computes must equal what scikit-learn computes, exactly."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.datasets import load_diabetes, load_iris
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor
from sklearn.tree import export_graphviz as sk_export_graphviz
from sklearn.tree import export_text as sk_export_text
from sklearn.tree import plot_tree as sk_plot_tree

from fastml.tree._export import export_graphviz, export_text, plot_tree
from fastml.tree import _model
from fastml.tree._model import Tree
from tests._assertions import SURROGATE_ARRAYS, set_at, surrogates_at

ARRAYS = ["children_left", "children_right", "feature", "threshold", "missing_go_to_left",
          "impurity", "n_node_samples", "weighted_n_node_samples", "value"]


def _iris():
    X, y = load_iris(return_X_y=True)
    return X, y, np.random.default_rng(1).uniform(0.5, 2.0, len(y))


def _diabetes():
    X, y = load_diabetes(return_X_y=True)
    return X, y, np.random.default_rng(2).integers(0, 3, len(y)).astype(float)  # zeros too


def _nan_data(n=500, regression=False):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(n, 5))
    y = (rng.poisson(np.exp(X[:, 0])) if regression else
         (X[:, 0] > 0) + (np.nan_to_num(X[:, 1]) > 0.5))
    X[rng.random(X.shape) < 0.15] = np.nan
    return X, y, rng.uniform(0.1, 1.0, n)


def _xor():
    X = np.tile([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]], (5, 1))
    return X, np.tile([0, 1, 1, 0], 5), None


def _constant():
    X = np.random.default_rng(4).normal(size=(30, 3))
    return X, np.full(30, 2.5), None


# id: (estimator class, parameters, data)
CASES = {
    "iris-weighted": (DecisionTreeClassifier, {}, _iris),
    "iris-entropy-best-first": (DecisionTreeClassifier,
                                {"criterion": "entropy", "max_leaf_nodes": 12},
                                lambda: _iris()[:2] + (None,)),
    "diabetes-weighted": (DecisionTreeRegressor, {}, _diabetes),
    "diabetes-best-first": (DecisionTreeRegressor, {"max_leaf_nodes": 40, "min_samples_leaf": 3},
                            lambda: _diabetes()[:2] + (None,)),
    "nan-classifier": (DecisionTreeClassifier, {}, _nan_data),
    "nan-poisson": (DecisionTreeRegressor, {"criterion": "poisson", "min_samples_leaf": 2},
                    lambda: _nan_data(regression=True)),
    "xor-zero-gain": (DecisionTreeClassifier, {"max_depth": 1}, _xor),
    "single-leaf": (DecisionTreeRegressor, {}, _constant),
}


def _fit(case, **params):
    cls, base, data = CASES[case]
    X, y, w = data()
    X = X.astype(np.float32)  # scikit-learn routes float32; give both trees the same values
    est = cls(random_state=0, **base, **params).fit(X, y, sample_weight=w)
    return est, X, y, w


def _tree_of(sk_tree):
    return Tree(sk_tree.n_features, sk_tree.n_classes[0],
                {name: getattr(sk_tree, name) for name in ARRAYS})


def _assert_same_tree(ours, sk_tree, built=False):
    """built: ours was made by Tree (pruning), not loaded from scikit-learn's arrays."""
    assert ours.node_count == ours.capacity == sk_tree.node_count
    assert ours.n_features == sk_tree.n_features
    assert ours.n_outputs == sk_tree.n_outputs == 1
    assert ours.max_n_classes == sk_tree.max_n_classes
    assert_array_equal(ours.n_classes, sk_tree.n_classes)
    assert ours.n_classes.dtype == sk_tree.n_classes.dtype
    assert ours.max_depth == sk_tree.max_depth
    assert ours.n_leaves == sk_tree.n_leaves
    split = sk_tree.children_left != -1
    for name in ARRAYS:
        mine, theirs = getattr(ours, name), getattr(sk_tree, name)
        assert mine.dtype == theirs.dtype, name
        if name == "missing_go_to_left":
            # scikit-learn never writes it at leaves (uninitialised memory); Tree writes 0
            assert not built or not mine[~split].any()
            mine, theirs = mine[split], theirs[split]
        assert_array_equal(mine, theirs, err_msg=name)


@pytest.fixture(scope="module", params=list(CASES))
def fitted(request):
    est, X, y, w = _fit(request.param)
    return request.param, est, _tree_of(est.tree_), X, y, w


def test_attributes(fitted):
    _, est, tree, *_ = fitted
    _assert_same_tree(tree, est.tree_)


def test_feature_importances(fitted):
    _, est, tree, *_ = fitted
    assert_array_equal(tree.compute_feature_importances(), est.feature_importances_)
    assert_array_equal(tree.compute_feature_importances(normalize=False),
                       est.tree_.compute_feature_importances(normalize=False))


def _with_nan(X, seed=5):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < 0.2] = np.nan
    return X


def test_apply(fitted):
    _, est, tree, X, *_ = fitted
    leaves = tree.apply_numpy(X)
    assert leaves.dtype == np.int64
    assert_array_equal(leaves, est.apply(X))
    assert_array_equal(tree.apply_numpy(X.astype(np.float64)), leaves)
    X_nan = _with_nan(X)  # routed by missing_go_to_left, trained on NaN or not
    assert_array_equal(tree.apply_numpy(X_nan), est.apply(X_nan))
    X_sparse = sp.csr_matrix(np.where(np.abs(X) < 0.5, 0.0, np.nan_to_num(X)))  # no NaN there
    assert_array_equal(tree.apply_numpy(X_sparse), est.apply(X_sparse))


def test_decision_path(fitted):
    _, est, tree, X, *_ = fitted
    X = np.vstack([X, _with_nan(X)])
    ours, theirs = tree.decision_path(X), est.decision_path(X)
    assert isinstance(ours, sp.csr_matrix)
    assert ours.shape == theirs.shape == (len(X), tree.node_count)
    assert_array_equal(ours.toarray(), theirs.toarray())
    # the same storage too: each row's nodes from root to leaf
    assert_array_equal(ours.indptr, theirs.indptr)
    assert_array_equal(ours.indices, theirs.indices)
    assert ours.dtype == theirs.dtype


def test_decision_path_sparray():
    import sklearn

    if "sparse_interface" not in sklearn.get_config():
        pytest.skip("scikit-learn without the sparse_interface config")
    est, X, *_ = _fit("iris-weighted")
    with sklearn.config_context(sparse_interface="sparray"):
        ours, theirs = _tree_of(est.tree_).decision_path(X), est.decision_path(X)
    assert isinstance(ours, sp.csr_array) and type(ours) is type(theirs)
    assert_array_equal(ours.toarray(), theirs.toarray())


def test_cost_complexity_pruning_path(fitted):
    _, est, tree, X, y, w = fitted
    path = est.cost_complexity_pruning_path(X, y, sample_weight=w)
    alphas, impurities = tree.cost_complexity_pruning_path()
    assert_array_equal(alphas, path.ccp_alphas)
    assert_array_equal(impurities, path.impurities)


def test_prune(fitted):
    case, est, tree, X, y, w = fitted
    alphas = est.cost_complexity_pruning_path(X, y, sample_weight=w).ccp_alphas
    candidates = {0.0, alphas[-1], 2 * alphas[-1] + 1.0}
    if len(alphas) > 2:
        candidates |= {alphas[1], alphas[len(alphas) // 2], alphas[-2],
                       (alphas[len(alphas) // 3] + alphas[len(alphas) // 3 + 1]) / 2}
    for alpha in sorted(a for a in candidates if a >= 0):
        pruned = tree.prune(alpha)
        refit = _fit(case, ccp_alpha=alpha)[0]
        _assert_same_tree(pruned, refit.tree_, built=alpha > 0)
        assert_array_equal(pruned.apply_numpy(X), refit.apply(X))
    assert tree.prune(1e300).node_count == 1


def test_prune_zero_is_no_op():
    # The XOR root split gains nothing: its effective alpha is 0, yet ccp_alpha=0 keeps it.
    est = _fit("xor-zero-gain")[0]
    tree = _tree_of(est.tree_)
    assert_array_equal(tree.cost_complexity_pruning_path()[0], [0.0, 0.0])
    assert tree.prune(0.0).node_count == 3
    assert tree.prune(1e-300).node_count == 1
    with pytest.raises(ValueError):
        tree.prune(-1.0)


def test_prune_keeps_best_first_numbering_only_at_zero():
    est = _fit("diabetes-best-first")[0]
    tree = _tree_of(est.tree_)
    _assert_same_tree(tree.prune(0.0), est.tree_)  # unchanged
    tiny = np.nextafter(0.0, 1.0)  # prunes nothing, but renumbers in preorder as scikit-learn
    _assert_same_tree(tree.prune(tiny), _fit("diabetes-best-first", ccp_alpha=tiny)[0].tree_,
                      built=True)
    assert not np.array_equal(tree.prune(tiny).children_left, tree.children_left)


@pytest.mark.parametrize("pair_chunk", [None, 7], ids=["one-chunk", "many-chunks"])
def test_larger_tree(pair_chunk, monkeypatch):
    if pair_chunk is not None:  # leaf costs summed into ancestors a few leaves at a time
        monkeypatch.setattr(_model, "_PAIR_CHUNK", pair_chunk)
    rng = np.random.default_rng(6)
    X = rng.normal(size=(3000, 4)).astype(np.float32)
    y = X[:, 0] + rng.normal(size=3000)
    est = DecisionTreeRegressor(random_state=0).fit(X, y)
    tree = _tree_of(est.tree_)
    path = est.cost_complexity_pruning_path(X, y)
    alphas, impurities = tree.cost_complexity_pruning_path()
    assert_array_equal(alphas, path.ccp_alphas)
    assert_array_equal(impurities, path.impurities)
    alpha = alphas[len(alphas) * 9 // 10]
    refit = DecisionTreeRegressor(random_state=0, ccp_alpha=alpha).fit(X, y)
    _assert_same_tree(tree.prune(alpha), refit.tree_, built=True)


def test_pickle(fitted):
    _, _, tree, X, *_ = fitted
    back = pickle.loads(pickle.dumps(tree))
    for name in ARRAYS:
        assert_array_equal(getattr(back, name), getattr(tree, name))
    assert (back.node_count, back.max_depth, back.n_leaves) == (
        tree.node_count, tree.max_depth, tree.n_leaves)
    assert_array_equal(back.apply_numpy(X), tree.apply_numpy(X))


def test_invalid_trees():
    est = _fit("iris-weighted")[0]
    nodes = {name: getattr(est.tree_, name).copy() for name in ARRAYS}
    Tree(4, 3, nodes)
    with pytest.raises(ValueError):
        Tree(4, 2, nodes)  # value has 3 classes
    bad = dict(nodes, children_left=nodes["children_left"][:-1])
    with pytest.raises(ValueError):
        Tree(4, 3, bad)
    cycle = dict(nodes, children_left=nodes["children_left"].copy())
    cycle["children_left"][0] = 0
    with pytest.raises(ValueError):
        Tree(4, 3, cycle)
    with pytest.raises(ValueError):
        Tree(4, 3, {k: v for k, v in nodes.items() if k != "impurity"})
    # every node but the root has one parent, yet nodes 1-4 form a cycle the root (a leaf)
    # does not reach
    detached = {name: np.resize(arr[:1], (5,) + arr.shape[1:]) for name, arr in nodes.items()}
    detached["children_left"] = np.array([-1, 2, 1, -1, -1])
    detached["children_right"] = np.array([-1, 3, 4, -1, -1])
    detached["feature"] = np.array([-2, 0, 1, -2, -2])
    with pytest.raises(ValueError, match="not reachable"):
        Tree(4, 3, detached)
    with pytest.raises(ValueError):
        Tree(4, 3, nodes).apply_numpy(np.zeros((2, 3)))


class _FakeTreeEstimator(BaseEstimator):
    """What a fastml tree estimator exposes after fit."""

    def __init__(self, criterion="gini"):
        self.criterion = criterion

    def fit(self, X, y=None):
        return self


class _FakeClassifier(ClassifierMixin, _FakeTreeEstimator):
    pass


class _FakeRegressor(RegressorMixin, _FakeTreeEstimator):
    pass


def _fake(est):
    fake = (_FakeClassifier if hasattr(est, "classes_") else _FakeRegressor)(est.criterion)
    fake.tree_ = _tree_of(est.tree_)
    fake.n_features_in_ = est.n_features_in_
    if hasattr(est, "classes_"):
        fake.classes_ = est.classes_
    return fake


@pytest.mark.parametrize("case", ["iris-weighted", "diabetes-weighted", "nan-classifier"])
def test_export(case):
    est = _fit(case)[0]
    fake = _fake(est)
    names = [f"f{i}" for i in range(est.n_features_in_)]
    for kwargs in [{}, {"feature_names": names, "max_depth": 2, "decimals": 4},
                   {"show_weights": True, "spacing": 2}]:
        assert export_text(fake, **kwargs) == sk_export_text(est, **kwargs)
    for kwargs in [{}, {"feature_names": names, "filled": True, "proportion": True,
                        "class_names": True, "node_ids": True, "max_depth": 3}]:
        assert export_graphviz(fake, **kwargs) == sk_export_graphviz(est, **kwargs)
    assert export_text(est) == sk_export_text(est)  # scikit-learn trees pass through


def test_export_bare_tree():
    est = _fit("iris-weighted")[0]
    assert export_text(_tree_of(est.tree_)) == sk_export_text(est)
    assert "impurity = " in export_graphviz(_tree_of(est.tree_))


def test_plot_tree():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    est = _fit("iris-weighted")[0]
    ours = [a.get_text() for a in plot_tree(_fake(est), max_depth=2)]
    assert ours == [a.get_text() for a in sk_plot_tree(est, max_depth=2)]


# ---------------------------------------------------------------------------------------------
# Surrogate splits: arrays beyond scikit-learn's, checked, pruned and pickled with the tree

@pytest.fixture(scope="module")
def surrogate_tree():
    from fastml.tree import DecisionTreeClassifier as FastmlTree
    X, y, w = _nan_data(2000)
    est = FastmlTree(missing_values="surrogate", random_state=0).fit(X, y, sample_weight=w)
    assert est.tree_.surrogate_ptr[-1] > 20
    return est.tree_, X


def test_tree_without_surrogate_arrays_has_none():
    est = _fit("iris-weighted")[0]
    tree = _tree_of(est.tree_)
    assert_array_equal(tree.surrogate_ptr, np.zeros(tree.node_count + 1))
    assert tree.surrogate_feature.size == tree.surrogate_threshold.size == 0


def test_prune_keeps_the_surrogates_of_kept_splits(surrogate_tree):
    tree, X = surrogate_tree
    alphas, _ = tree.cost_complexity_pruning_path()
    for alpha in (alphas[len(alphas) // 2], alphas[-3], np.nextafter(0.0, 1.0)):
        pruned = tree.prune(alpha)
        assert 1 < pruned.node_count <= tree.node_count
        # walk both trees together: a kept split holds the unpruned node's surrogates, a node
        # made a leaf holds none
        stack = [(0, 0)]
        while stack:
            old, new = stack.pop()
            if pruned.children_left[new] == -1:
                assert pruned.surrogate_ptr[new + 1] == pruned.surrogate_ptr[new]
                continue
            assert pruned.feature[new] == tree.feature[old]
            assert surrogates_at(vars(pruned), new) == surrogates_at(vars(tree), old)
            stack += [(tree.children_left[old], pruned.children_left[new]),
                      (tree.children_right[old], pruned.children_right[new])]
        # the training rows, some missing split features, are routed to the nodes that held
        # them in fitting
        assert_array_equal(np.asarray(pruned.decision_path(X).sum(axis=0)).ravel(),
                           pruned.n_node_samples)


def test_pickle_keeps_the_surrogates(surrogate_tree):
    tree, X = surrogate_tree
    back = pickle.loads(pickle.dumps(tree))
    for name in [*ARRAYS, *SURROGATE_ARRAYS]:
        assert_array_equal(getattr(back, name), getattr(tree, name))
    assert_array_equal(back.apply_numpy(X), tree.apply_numpy(X))


def test_invalid_surrogate_arrays(surrogate_tree):
    tree, _ = surrogate_tree
    nodes = {name: getattr(tree, name).copy() for name in [*ARRAYS, *SURROGATE_ARRAYS]}
    Tree(tree.n_features, tree.max_n_classes, nodes)
    split = np.flatnonzero(tree.children_left != -1)
    leaf = np.flatnonzero(tree.children_left == -1)[0]

    def changed(name, edit):
        bad = {k: v.copy() for k, v in nodes.items()}
        bad[name] = edit(bad[name])
        return bad

    shifted = nodes["surrogate_ptr"].copy()
    shifted[leaf + 1:] += 1  # one surrogate more, at a leaf
    cases = {
        "surrogate_ptr must hold": changed("surrogate_ptr", lambda p: p[:-1]),
        "non-decreasing": changed("surrogate_ptr", set_at(split[0] + 1, -1)),
        "leaves have no surrogate": dict(
            nodes, surrogate_ptr=shifted,
            **{name: np.append(nodes[name], nodes[name][:1]) for name in SURROGATE_ARRAYS[1:]}),
        "surrogate_threshold must have": changed("surrogate_threshold", lambda t: t[:-1]),
        "surrogate_feature must lie": changed("surrogate_feature", set_at(0, tree.n_features)),
        "come together": {k: v for k, v in nodes.items() if k != "surrogate_reversed"},
    }
    for match, bad in cases.items():
        with pytest.raises(ValueError, match=match):
            Tree(tree.n_features, tree.max_n_classes, bad)


def test_pickle_from_before_surrogates_loads_without_any(surrogate_tree):
    tree, X = surrogate_tree
    state = {k: v for k, v in tree.__dict__.items() if not k.startswith("surrogate")}
    old = Tree.__new__(Tree)
    old.__setstate__(state)
    assert_array_equal(old.surrogate_ptr, np.zeros(tree.node_count + 1))
    learned = {name: getattr(tree, name) for name in ARRAYS}  # the same tree, no surrogates
    assert_array_equal(old.apply_numpy(X), Tree(tree.n_features, 2, learned).apply_numpy(X))
