"""fastml.ensemble.RandomForestClassifier / RandomForestRegressor: accuracy against scikit-learn's
forests, determinism across random_state and n_jobs, bootstrap and out-of-bag rows, warm start,
pickling, errors, and several outputs."""
import functools
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import ensemble as sk
from sklearn.datasets import load_diabetes, make_multilabel_classification
from sklearn.metrics import balanced_accuracy_score, mean_absolute_error, r2_score
from sklearn.model_selection import KFold
from sklearn.utils import compute_sample_weight

from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor
from fastml.tree import _cart
from tests._assertions import SCORED_DATASETS, assert_same_tree, cross_validated_score

FINDERS = ["exact", "hist"]


pytestmark = pytest.mark.usefixtures("one_thread")


def _assert_same_forest(forest, expected):
    assert len(forest.estimators_) == len(expected.estimators_)
    for t, (tree, other) in enumerate(zip(forest.estimators_, expected.estimators_)):
        assert_same_tree(tree.tree_, other.tree_, f"tree {t}:")


def _classification(n=400, d=6, seed=0, missing=0.0):
    rng = np.random.default_rng([n, d, seed])
    X = rng.standard_normal((n, d))
    score = X[:, 0] - X[:, 1] * X[:, 2] + 0.5 * rng.standard_normal(n)
    if missing:
        X[rng.random(X.shape) < missing] = np.nan
    return X, np.digitize(score, [-0.7, 0.7]), score


# ---------------------------------------------------------------------------------------------
# Accuracy against scikit-learn's forests

N_ESTIMATORS = 100
# Repetitions of a shuffled 5-fold cross-validation (each with its own random_state): two
# forests of 100 trees still differ by their draws, the mean over the folds much less.
REPEATS = {"iris": 2, "digits": 1, "wine": 2, "breast_cancer": 2, "diabetes": 2}


@functools.cache
def _sklearn_score(name):
    cls = sk.RandomForestRegressor if name == "diabetes" else sk.RandomForestClassifier
    return cross_validated_score(
        lambda seed: cls(n_estimators=N_ESTIMATORS, random_state=seed, n_jobs=1), name,
        REPEATS[name])


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("name", list(SCORED_DATASETS))
def test_score_matches_sklearn(name, finder):
    cls = RandomForestRegressor if name == "diabetes" else RandomForestClassifier
    ours = cross_validated_score(
        lambda seed: cls(n_estimators=N_ESTIMATORS, split_finder=finder, random_state=seed,
                         n_jobs=1), name, REPEATS[name])
    theirs = _sklearn_score(name)
    assert abs(ours - theirs) <= 0.01, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


@pytest.mark.parametrize("finder", FINDERS)
def test_absolute_error_score_matches_sklearn(finder):
    params = dict(n_estimators=N_ESTIMATORS, criterion="absolute_error", min_samples_leaf=5,
                  n_jobs=1)
    ours = cross_validated_score(lambda seed: RandomForestRegressor(
        split_finder=finder, random_state=seed, **params), "diabetes", REPEATS["diabetes"])
    theirs = cross_validated_score(lambda seed: sk.RandomForestRegressor(
        random_state=seed, **params), "diabetes", REPEATS["diabetes"])
    assert abs(ours - theirs) <= 0.01, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


# ---------------------------------------------------------------------------------------------
# Determinism, threads and pickling

MISSING_VALUES = ["learn", "surrogate"]


@pytest.mark.parametrize("missing_values", MISSING_VALUES)
@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_forest_depends_on_random_state_only(cls, finder, missing_values):
    X, y, score = _classification(missing=0.1)
    target = y if cls is RandomForestClassifier else score
    X_new = _classification(300, seed=1, missing=0.1)[0]
    params = dict(n_estimators=12, split_finder=finder, max_features=2, random_state=5,
                  missing_values=missing_values)
    forests = [cls(n_jobs=n_jobs, **params).fit(X, target) for n_jobs in (1, 2, 2)]
    for forest in forests[1:]:
        _assert_same_forest(forest, forests[0])
        if cls is RandomForestClassifier:
            assert_array_equal(forest.predict_proba(X_new), forests[0].predict_proba(X_new))
        assert_array_equal(forest.predict(X_new), forests[0].predict(X_new))
        assert_array_equal(forest.apply(X_new), forests[0].apply(X_new))
    # Another seed, another forest; trees within a forest differ too.
    other = cls(n_jobs=2, **{**params, "random_state": 6}).fit(X, target)
    assert not np.array_equal(other.predict(X_new), forests[0].predict(X_new))
    assert len({tree.tree_.node_count for tree in forests[0].estimators_}) > 1


def test_thread_count_does_not_change_a_larger_forest():
    # Trees grow one per thread, picked up as threads free up (trees of uneven sizes here): each
    # tree must come from its own seed whichever thread grows it.
    rng = np.random.default_rng(2)
    X = rng.standard_normal((20_000, 20)).astype(np.float32)
    y = (X[:, 0] + X[:, 1] * X[:, 2] + rng.standard_normal(20_000) > 0).astype(int)
    params = dict(n_estimators=5, max_features=None, split_finder="hist", random_state=0)
    one = RandomForestClassifier(n_jobs=1, max_samples=0.2, **params).fit(X, y)
    two = RandomForestClassifier(n_jobs=2, max_samples=0.2, **params).fit(X, y)
    _assert_same_forest(two, one)
    assert_array_equal(two.predict_proba(X[:3000]), one.predict_proba(X[:3000]))


@pytest.mark.parametrize("missing_values", MISSING_VALUES)
@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_pickle_round_trip(cls, finder, missing_values, dtype):
    X, y, score = _classification(missing=0.1)
    X = X.astype(dtype)
    forest = cls(n_estimators=20, split_finder=finder, oob_score=True, random_state=0,
                 missing_values=missing_values)
    forest.fit(X, y if cls is RandomForestClassifier else score)
    before = forest.predict(X)
    loaded = pickle.loads(pickle.dumps(forest))
    _assert_same_forest(loaded, forest)
    X_new = _classification(200, seed=3, missing=0.1)[0].astype(dtype)
    assert_array_equal(loaded.predict(X), before)
    assert_array_equal(loaded.predict(X_new), forest.predict(X_new))
    assert_array_equal(loaded.apply(X_new), forest.apply(X_new))
    assert loaded.oob_score_ == forest.oob_score_
    if cls is RandomForestClassifier:
        assert_array_equal(loaded.predict_proba(X_new), forest.predict_proba(X_new))
    for a, b in zip(loaded.estimators_samples_, forest.estimators_samples_):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# Predictions are the trees' averages

@pytest.mark.parametrize("missing_values", MISSING_VALUES)
@pytest.mark.parametrize("finder", FINDERS)
def test_predictions_average_the_trees(finder, missing_values):
    X, y, score = _classification(missing=0.1)
    X_new = _classification(300, seed=4, missing=0.1)[0]
    clf = RandomForestClassifier(n_estimators=7, split_finder=finder, random_state=0,
                                 missing_values=missing_values).fit(X, y)
    assert all(isinstance(tree, DecisionTreeClassifier) for tree in clf.estimators_)
    assert all((tree.tree_.surrogate_ptr[-1] > 0) == (missing_values == "surrogate")
               for tree in clf.estimators_)
    mean = np.mean([tree.predict_proba(X_new) for tree in clf.estimators_], axis=0)
    assert_allclose(clf.predict_proba(X_new), mean, rtol=1e-12, atol=1e-15)
    # the compiled walk of the forest against the NumPy walk of each tree
    leaves = np.column_stack([tree.tree_.apply_numpy(X_new) for tree in clf.estimators_])
    assert_array_equal(clf.apply(X_new), leaves)
    assert_array_equal(clf.predict(X_new), clf.classes_[clf.predict_proba(X_new).argmax(axis=1)])
    with np.errstate(divide="ignore"):
        assert_array_equal(clf.predict_log_proba(X_new), np.log(clf.predict_proba(X_new)))
    reg = RandomForestRegressor(n_estimators=7, split_finder=finder, random_state=0,
                                missing_values=missing_values)
    reg.fit(X, score)
    assert all(isinstance(tree, DecisionTreeRegressor) for tree in reg.estimators_)
    mean = np.mean([tree.predict(X_new) for tree in reg.estimators_], axis=0)
    assert_allclose(reg.predict(X_new), mean, rtol=1e-12)
    assert len(reg) == 7 and reg[3] is reg.estimators_[3] and list(reg) == reg.estimators_


@pytest.mark.parametrize("finder", FINDERS)
def test_apply_and_decision_path(finder):
    X, y, _ = _classification(missing=0.1)
    forest = RandomForestClassifier(n_estimators=6, split_finder=finder, random_state=0)
    forest.fit(X, y)
    X_new = _classification(100, seed=5, missing=0.1)[0]
    leaves = forest.apply(X_new)
    assert leaves.shape == (100, 6) and leaves.dtype == np.int64
    for t, tree in enumerate(forest.estimators_):
        assert_array_equal(leaves[:, t], tree.apply(X_new))
    indicator, n_nodes_ptr = forest.decision_path(X_new)
    sizes = [tree.tree_.node_count for tree in forest.estimators_]
    assert_array_equal(n_nodes_ptr, np.concatenate([[0], np.cumsum(sizes)]))
    assert indicator.shape == (100, sum(sizes))
    dense = indicator.toarray()
    assert (dense[np.arange(100)[:, None], n_nodes_ptr[:-1] + leaves] == 1).all()
    for t, tree in enumerate(forest.estimators_):
        block = dense[:, n_nodes_ptr[t]:n_nodes_ptr[t + 1]]
        assert_array_equal(block, tree.decision_path(X_new).toarray())


@pytest.mark.parametrize("finder", FINDERS)
def test_feature_importances(finder):
    X, y, _ = _classification()
    X[:, 5] = 3.0  # constant
    forest = RandomForestClassifier(n_estimators=10, split_finder=finder, random_state=0)
    importances = forest.fit(X, y).feature_importances_
    assert_allclose(importances.sum(), 1.0, rtol=1e-12)
    assert (importances >= 0).all() and importances[5] == 0.0
    assert importances[:3].sum() > 0.6  # y depends on the first three features
    mean = np.mean([tree.feature_importances_ for tree in forest.estimators_], axis=0)
    assert_allclose(importances, mean / mean.sum(), rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# Bootstrap, out-of-bag rows, warm start

@pytest.mark.parametrize("finder", FINDERS)
def test_bootstrap_draws(finder):
    X, y, _ = _classification()
    n = len(X)
    forest = RandomForestClassifier(n_estimators=6, split_finder=finder, random_state=0)
    forest.fit(X, y)
    samples = forest.estimators_samples_
    assert len(samples) == 6
    for tree, draws in zip(forest.estimators_, samples):
        # scikit-learn's estimators_samples_: the raw draws, repeats kept, int32
        assert draws.dtype == np.int32 and draws.shape == (n,)
        assert_array_equal(draws, _cart.bootstrap_draws(tree.random_state, n, n))
        counts = np.bincount(draws, minlength=n)
        # The tree was grown from its draw: the distinct rows, each weighted by its count.
        assert tree.tree_.n_node_samples[0] == np.count_nonzero(counts) < n
        assert tree.tree_.weighted_n_node_samples[0] == n
        assert_allclose(tree.tree_.value[0, 0], np.bincount(y, weights=counts) / n, rtol=1e-12)
    assert not all(np.array_equal(samples[0], rows) for rows in samples[1:])


def test_weighted_bootstrap_draws_rows_by_weight():
    """scikit-learn 1.9: rows are drawn in proportion to their weights and each tree weighs a
    row by its draws alone; a float max_samples is a fraction of the total weight."""
    X, y, _ = _classification()
    n = len(X)
    w = np.random.default_rng(1).uniform(0.0, 3.0, n)
    w[::7] = 0.0
    forest = RandomForestClassifier(n_estimators=3, max_samples=2.0, random_state=0)
    forest.fit(X, y, sample_weight=w)
    n_draws = int(2.0 * w.sum())
    for tree, draws in zip(forest.estimators_, forest.estimators_samples_):
        assert draws.shape == (n_draws,)
        counts = np.bincount(draws, minlength=n)
        assert not counts[::7].any()  # rows of weight 0 are never drawn
        assert tree.tree_.weighted_n_node_samples[0] == n_draws
        assert_allclose(tree.tree_.value[0, 0], np.bincount(y, weights=counts) / n_draws,
                        rtol=1e-12)
    # scikit-learn's draws: numpy's RandomState(seed).choice(p=w / w.sum()), or .randint
    p = w / np.sum(w)
    cdf = p.cumsum()
    cdf /= cdf[-1]
    assert_array_equal(_cart.bootstrap_draws(3, n, 1000, cdf),
                       np.random.RandomState(3).choice(n, 1000, replace=True, p=p))
    assert_array_equal(_cart.bootstrap_draws(3, n, 1000),
                       np.random.RandomState(3).randint(0, n, 1000))
    with pytest.raises(ValueError, match="cdf must rise from 0 to 1"):
        _cart.bootstrap_draws(0, 3, 5, np.array([0.5, 0.2, 1.0]))
    with pytest.raises(ValueError, match="cdf must end at 1"):
        _cart.bootstrap_draws(0, 3, 5, np.array([0.1, 0.2, 0.3]))


@pytest.mark.parametrize("max_samples", [0.3, 57, 1.5, 600])
def test_max_samples(max_samples):
    X, y, _ = _classification()
    # scikit-learn 1.9: a float is rounded down, and may exceed 1; an int may exceed n_samples
    n_draws = max_samples if isinstance(max_samples, int) else int(max_samples * len(X))
    forest = RandomForestClassifier(n_estimators=5, max_samples=max_samples, random_state=0)
    forest.fit(X, y)
    for tree, draws in zip(forest.estimators_, forest.estimators_samples_):
        assert tree.tree_.weighted_n_node_samples[0] == n_draws == len(draws)
        assert tree.tree_.n_node_samples[0] == len(np.unique(draws))
    with pytest.raises(ValueError, match="`max_sample` cannot be set if `bootstrap=False`"):
        RandomForestClassifier(n_estimators=2, max_samples=0.5, bootstrap=False).fit(X, y)
    with pytest.warns(UserWarning, match="low number"):
        RandomForestClassifier(n_estimators=2, max_samples=0.01).fit(X, y)


def test_without_bootstrap_every_tree_sees_every_row():
    X, y, _ = _classification()
    w = np.random.default_rng(0).uniform(0.5, 2.0, len(X))
    forest = RandomForestClassifier(n_estimators=4, bootstrap=False, random_state=0)
    forest.fit(X, y, sample_weight=w)
    for tree, rows in zip(forest.estimators_, forest.estimators_samples_):
        assert_array_equal(rows, np.arange(len(X))) and rows.dtype == np.int32
        assert tree.tree_.n_node_samples[0] == len(X)
        assert_allclose(tree.tree_.weighted_n_node_samples[0], w.sum(), rtol=1e-12)
        assert_array_equal(tree.predict(X), y)  # grown to purity on all the rows
    with pytest.raises(ValueError, match="Out of bag estimation only available if bootstrap"):
        RandomForestClassifier(bootstrap=False, oob_score=True).fit(X, y)


@pytest.mark.parametrize("finder", FINDERS)
def test_oob_score_is_close_to_the_test_score(finder):
    X, y, score = _classification(1200)
    train, test = slice(0, 800), slice(800, None)
    clf = RandomForestClassifier(n_estimators=60, oob_score=True, split_finder=finder,
                                 random_state=0).fit(X[train], y[train])
    assert clf.oob_decision_function_.shape == (800, 3)
    assert_allclose(clf.oob_decision_function_.sum(axis=1), 1.0, rtol=1e-12)
    assert abs(clf.oob_score_ - clf.score(X[test], y[test])) < 0.04
    assert clf.score(X[train], y[train]) > clf.oob_score_ + 0.05  # out of bag is not in sample
    reg = RandomForestRegressor(n_estimators=60, oob_score=True, split_finder=finder,
                                max_features=0.5, random_state=0).fit(X[train], score[train])
    assert reg.oob_prediction_.shape == (800,)
    assert abs(reg.oob_score_ - reg.score(X[test], score[test])) < 0.05


def _out_of_bag(forest, n_samples):
    """out[i, t]: whether tree t's bootstrap left row i out."""
    out = np.ones((n_samples, len(forest.estimators_)), dtype=bool)
    for t, rows in enumerate(forest.estimators_samples_):
        out[rows, t] = False
    return out


def test_oob_predictions_use_only_the_trees_without_the_row():
    X, y, _ = _classification(200)
    forest = RandomForestClassifier(n_estimators=25, oob_score=True, random_state=1).fit(X, y)
    proba = np.stack([tree.predict_proba(X) for tree in forest.estimators_], axis=1)
    out = _out_of_bag(forest, 200)
    assert out.any(axis=1).all()
    expected = (proba * out[..., None]).sum(axis=1) / out.sum(axis=1)[:, None]
    assert_allclose(forest.oob_decision_function_, expected, rtol=1e-12)
    assert forest.oob_score_ == np.mean(expected.argmax(axis=1) == y)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_warm_start_equals_growing_at_once(cls, finder):
    X, y, score = _classification(missing=0.05)
    target = y if cls is RandomForestClassifier else score
    at_once = cls(n_estimators=10, split_finder=finder, random_state=0).fit(X, target)
    grown = cls(n_estimators=5, split_finder=finder, random_state=0, warm_start=True)
    grown.fit(X, target)
    first_five = list(grown.estimators_)
    grown.set_params(n_estimators=10).fit(X, target)
    assert grown.estimators_[:5] == first_five  # kept, not regrown
    _assert_same_forest(grown, at_once)
    assert_array_equal(grown.predict(X), at_once.predict(X))
    with pytest.warns(UserWarning, match="without increasing n_estimators"):
        grown.fit(X, target)
    assert len(grown.estimators_) == 10
    with pytest.raises(ValueError, match="must be larger or equal"):
        grown.set_params(n_estimators=4).fit(X, target)


def test_class_weights():
    X, y, _ = _classification(500)
    y = np.where((y == 2) & (np.arange(500) % 3 > 0), 1, y)  # class 2 rare
    # "balanced": the weights of the whole data times each tree's draw counts.
    balanced = RandomForestClassifier(n_estimators=4, class_weight="balanced", random_state=0)
    weighted = RandomForestClassifier(n_estimators=4, random_state=0)
    balanced.fit(X, y)
    weighted.fit(X, y, sample_weight=compute_sample_weight("balanced", y))
    _assert_same_forest(balanced, weighted)
    # "balanced_subsample": balanced on each tree's draw, so every root is balanced.
    forest = RandomForestClassifier(n_estimators=4, class_weight="balanced_subsample",
                                    random_state=0).fit(X, y)
    for tree in forest.estimators_:
        counts = np.bincount(_cart.bootstrap_draws(tree.random_state, 500, 500), minlength=500)
        drawn = np.bincount(y, weights=counts, minlength=3)
        assert_allclose(tree.tree_.value[0, 0], np.full(3, 1 / 3), rtol=1e-12)
        assert_allclose(tree.tree_.weighted_n_node_samples[0], 500, rtol=1e-12)
        assert len(np.unique(drawn)) == 3  # the classes were drawn unevenly all the same
    # without draws, "balanced_subsample" is "balanced" (scikit-learn's rule)
    kwargs = dict(n_estimators=2, bootstrap=False, random_state=0)
    _assert_same_forest(
        RandomForestClassifier(class_weight="balanced_subsample", **kwargs).fit(X, y),
        RandomForestClassifier(class_weight="balanced", **kwargs).fit(X, y))
    unweighted = RandomForestClassifier(**kwargs).fit(X, y)
    assert not np.allclose(unweighted.estimators_[0].tree_.value[0, 0], 1 / 3)


# ---------------------------------------------------------------------------------------------
# Bad input

@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_bad_input_raises_clear_errors(cls):
    X, y, score = _classification(100)
    target = y if cls is RandomForestClassifier else score
    X_inf = X.copy()
    X_inf[4, 2] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        cls(n_estimators=2).fit(X_inf, target)
    with pytest.raises(ValueError, match="NaN"):
        cls(n_estimators=2).fit(X, np.where(np.arange(100) == 3, np.nan, score))
    with pytest.raises(ValueError, match="max_depth"):
        cls(n_estimators=2, max_depth=0).fit(X, target)
    with pytest.raises(ValueError, match="n_estimators"):
        cls(n_estimators=0).fit(X, target)
    with pytest.raises(ValueError, match="Negative values"):
        cls(n_estimators=2).fit(X, target, sample_weight=np.where(np.arange(100) == 0, -1., 1.))
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        cls(n_estimators=2).fit(X, target[:-1])
    with pytest.raises(ValueError, match="monotonic_cst has shape"):
        cls(n_estimators=2, monotonic_cst=[1]).fit(X, score > 0)
    forest = cls(n_estimators=2).fit(X, target)
    for method in (forest.predict, forest.apply):
        with pytest.raises(ValueError, match="X has 5 features, but"):
            method(X[:, :5])
    with pytest.raises(ValueError, match="infinity"):
        forest.predict(X_inf)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_bootstrap_draws_only_weighted_rows(cls):
    """With 3 of 12 rows weighted (as scikit-learn's check_classifiers_one_label_sample_weights),
    every bootstrap draws among those 3 alone, so the forest predicts their target."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((12, 3))
    y = np.arange(12) % 2
    w = np.zeros(12)
    w[[1, 3, 5]] = [1.0, 2.0, 1.0]  # odd rows: class 1, target 1
    forest = cls(n_estimators=30, random_state=0).fit(X, y, sample_weight=w)
    for draws in forest.estimators_samples_:
        assert set(draws) <= {1, 3, 5}
    assert_array_equal(forest.predict(X), np.ones(12))


def test_single_class():
    X, _, _ = _classification(50)
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.full(50, 7))
    assert_array_equal(forest.classes_, [7])
    assert_array_equal(forest.predict(X[:4]), [7, 7, 7, 7])
    assert_array_equal(forest.predict_proba(X[:4]), np.ones((4, 1)))
    assert all(tree.tree_.node_count == 1 for tree in forest.estimators_)


def test_monotonic_constraints():
    rng = np.random.default_rng(3)
    X = rng.standard_normal((500, 2))
    y = X[:, 0] + np.sin(5 * X[:, 0]) + 0.5 * X[:, 1]
    forest = RandomForestRegressor(n_estimators=10, monotonic_cst=[1, 0], random_state=0)
    forest.fit(X, y)
    grid = np.column_stack([np.linspace(-3, 3, 200), np.full(200, 0.3)])
    assert (np.diff(forest.predict(grid)) >= 0).all()
    free = RandomForestRegressor(n_estimators=10, random_state=0).fit(X, y)
    assert (np.diff(free.predict(grid)) < 0).any()


# ---------------------------------------------------------------------------------------------
# Several outputs

def _multilabel(n=600):
    return make_multilabel_classification(n_samples=n, n_features=10, n_classes=3,
                                          random_state=0)


def _diabetes_outputs():
    """diabetes with three outputs: the disease progression and two blood serum measurements
    (s5, s6), predicted from the other features."""
    X, y = load_diabetes(return_X_y=True)
    return np.delete(X, [8, 9], axis=1), np.column_stack([y, X[:, 8], X[:, 9]])


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("name", ["multilabel", "diabetes-3-outputs"])
def test_multi_output_score_matches_sklearn(name, finder):
    """Subset accuracy (multilabel) or R^2 averaged over the outputs, 5-fold cross-validated."""
    X, Y = _multilabel() if name == "multilabel" else _diabetes_outputs()
    cls, sk_cls = ((RandomForestClassifier, sk.RandomForestClassifier) if name == "multilabel"
                   else (RandomForestRegressor, sk.RandomForestRegressor))
    scores = {"fastml": [], "scikit-learn": []}
    for train, test in KFold(5, shuffle=True, random_state=0).split(X):
        for lib, make in (("fastml", lambda: cls(N_ESTIMATORS, split_finder=finder,
                                                 random_state=0)),
                          ("scikit-learn", lambda: sk_cls(N_ESTIMATORS, random_state=0,
                                                          n_jobs=1))):
            scores[lib].append(make().fit(X[train], Y[train]).score(X[test], Y[test]))
    ours, theirs = np.mean(scores["fastml"]), np.mean(scores["scikit-learn"])
    # 1e-9: the means' rounding (0.61 against 0.60 is 0.0100000000000001 apart)
    assert abs(ours - theirs) <= 0.01 + 1e-9, f"fastml {ours:.4f}, scikit-learn {theirs:.4f}"


def _shape_of(value):
    if isinstance(value, list):
        return [_shape_of(v) for v in value]
    return np.shape(value)


@pytest.mark.parametrize("finder", FINDERS)
@pytest.mark.parametrize("classifier", [True, False], ids=["classifier", "regressor"])
def test_multi_output_attributes_have_sklearns_shapes(classifier, finder):
    X, Y = _multilabel(300)
    if not classifier:
        Y = Y * np.arange(1.0, 4.0) + X[:, :3]
    cls, sk_cls = ((RandomForestClassifier, sk.RandomForestClassifier) if classifier
                   else (RandomForestRegressor, sk.RandomForestRegressor))
    ours = cls(20, oob_score=True, split_finder=finder, random_state=0).fit(X, Y)
    theirs = sk_cls(20, oob_score=True, random_state=0).fit(X, Y)
    assert ours.n_outputs_ == theirs.n_outputs_ == 3
    methods = ["predict", "apply"] + (["predict_proba", "predict_log_proba"] if classifier else [])
    for method in methods:
        with np.errstate(divide="ignore"):
            assert _shape_of(getattr(ours, method)(X)) == _shape_of(getattr(theirs, method)(X))
    attributes = ["oob_decision_function_" if classifier else "oob_prediction_",
                  "feature_importances_"] + (["n_classes_"] if classifier else [])
    for name in attributes:
        assert np.shape(getattr(ours, name)) == np.shape(getattr(theirs, name)), name
    if classifier:  # a list in the forest, an array in its trees, as scikit-learn's
        assert type(ours.n_classes_) is type(theirs.n_classes_) is list
        assert type(ours.estimators_[0].n_classes_) is type(theirs.estimators_[0].n_classes_)
    assert ours.oob_score_ == pytest.approx(theirs.oob_score_, abs=0.05)
    if classifier:
        assert [list(c) for c in ours.classes_] == [list(c) for c in theirs.classes_]
        assert_allclose(ours.oob_decision_function_.sum(axis=1), 1.0, rtol=1e-12)
        tree = ours.estimators_[0]
        assert [list(c) for c in tree.classes_] == [list(c) for c in ours.classes_]
    assert ours.estimators_[0].n_outputs_ == 3
    assert ours.estimators_[0].tree_.value.shape[1:] == theirs.estimators_[0].tree_.value.shape[1:]
    assert ours.decision_path(X)[0].shape[0] == len(X)


def test_multi_output_oob_predictions_average_the_trees_without_the_row():
    X, Y = _multilabel(200)
    Y = Y * np.arange(1.0, 4.0)
    forest = RandomForestRegressor(n_estimators=25, oob_score=True, random_state=1).fit(X, Y)
    predictions = np.stack([tree.predict(X) for tree in forest.estimators_], axis=1)
    out = _out_of_bag(forest, 200)
    expected = (predictions * out[..., None]).sum(axis=1) / out.sum(axis=1)[:, None]
    assert_allclose(forest.oob_prediction_, expected, rtol=1e-12)
    assert forest.oob_score_ == pytest.approx(r2_score(Y, expected), rel=1e-12)


def test_oob_score_of_multiclass_multioutput_targets_raises_as_sklearn():
    X, y, _ = _classification(200)
    Y = np.column_stack([y, (y + 1) % 3])
    message = "The type of target cannot be used to compute OOB estimates"
    for cls in (RandomForestClassifier, sk.RandomForestClassifier):
        with pytest.raises(ValueError, match=message):
            cls(n_estimators=5, oob_score=True, random_state=0).fit(X, Y)
    forest = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, Y)
    assert forest.predict(X).shape == (200, 2)


def test_multi_output_class_weights():
    X, Y = _multilabel(500)
    # "balanced" or a dict per output: the weights of the whole data, multiplied over the
    # outputs, times each tree's draw counts
    for class_weight in ("balanced", [{0: 1, 1: 2}, {0: 3, 1: 1}, {0: 1, 1: 1}]):
        weighted = RandomForestClassifier(n_estimators=4, class_weight=class_weight,
                                          random_state=0).fit(X, Y)
        expected = RandomForestClassifier(n_estimators=4, random_state=0).fit(
            X, Y, sample_weight=compute_sample_weight(class_weight, Y))
        _assert_same_forest(weighted, expected)
    # "balanced_subsample": each output's balanced weights on the tree's draw, multiplied
    forest = RandomForestClassifier(n_estimators=4, class_weight="balanced_subsample",
                                    random_state=0).fit(X, Y)
    for tree in forest.estimators_:
        drawn = _cart.bootstrap_draws(tree.random_state, 500, 500)
        counts = np.bincount(drawn, minlength=500)
        w = counts * compute_sample_weight("balanced", Y, indices=drawn)
        assert_allclose(tree.tree_.weighted_n_node_samples[0], w.sum(), rtol=1e-12)
        for o in range(3):
            fractions = np.bincount(Y[:, o], weights=w, minlength=2) / w.sum()
            assert_allclose(tree.tree_.value[0, o], fractions, rtol=1e-12)


@pytest.mark.parametrize("cls", [RandomForestClassifier, RandomForestRegressor])
def test_multi_output_pickle_and_monotonic_constraints(cls):
    X, Y = _multilabel(150)
    Y = Y if cls is RandomForestClassifier else Y * 1.5
    forest = cls(n_estimators=5, random_state=0).fit(X, Y)
    loaded = pickle.loads(pickle.dumps(forest))
    assert_array_equal(loaded.predict(X), forest.predict(X))
    assert loaded.predict(X).shape == (150, 3)
    with pytest.raises(ValueError, match="not supported with multiple outputs"):
        cls(n_estimators=5, monotonic_cst=[1] + [0] * 9).fit(X, Y)


def test_oob_score_callable_estimator_and_sparse_y():
    X, y, score = _classification(300)
    seen = []

    def balanced(y_true, y_pred):
        seen.append((y_true, y_pred))
        return balanced_accuracy_score(y_true, y_pred)

    forest = RandomForestClassifier(n_estimators=20, oob_score=balanced, random_state=0)
    forest.fit(X, y)
    (y_true, y_pred), = seen
    assert_array_equal(y_true, y)
    assert_array_equal(y_pred, forest.oob_decision_function_.argmax(axis=1))
    assert forest.oob_score_ == balanced_accuracy_score(y, y_pred)
    reg = RandomForestRegressor(n_estimators=20, oob_score=mean_absolute_error,
                                random_state=0).fit(X, score)
    assert reg.oob_score_ == mean_absolute_error(score, reg.oob_prediction_)
    # the template estimator, as scikit-learn's BaseEnsemble keeps it
    assert type(forest.estimator_) is DecisionTreeClassifier
    assert type(reg.estimator_) is DecisionTreeRegressor
    with pytest.raises(ValueError, match="sparse multilabel-indicator for y is not supported"):
        RandomForestClassifier(n_estimators=2).fit(X, sp.csr_matrix(y.reshape(-1, 1)))


def test_friedman_mse_follows_the_installed_scikit_learn():
    from fastml.utils._sklearn_compat import FRIEDMAN_MSE_DEPRECATED
    if not FRIEDMAN_MSE_DEPRECATED:
        pytest.skip("scikit-learn < 1.9 keeps friedman_mse without a warning")
    with pytest.warns(FutureWarning, match="friedman_mse") as ours:
        forest = RandomForestRegressor(criterion="friedman_mse")
    with pytest.warns(FutureWarning, match="friedman_mse") as theirs:
        sk.RandomForestRegressor(criterion="friedman_mse")
    assert str(ours[0].message) == str(theirs[0].message)
    assert forest.criterion == "squared_error"
    with pytest.warns(FutureWarning, match="friedman_mse"):
        assert DecisionTreeRegressor(criterion="friedman_mse").criterion == "squared_error"


@pytest.mark.parametrize("finder", FINDERS)
def test_grown_trees_are_in_preorder_with_their_depth(finder):
    # The core links the subtrees it grows apart (every child of the root here) into their
    # tree in preorder, and gives each tree's depth, which Tree takes without its structural
    # check: both as the check and scikit-learn's numbering have them.
    X, _, score = _classification(n=600, d=5, seed=3)
    forest = RandomForestRegressor(n_estimators=3, split_finder=finder, random_state=0).fit(
        X, score)
    trees = [tree.tree_ for tree in forest.estimators_]
    trees.append(DecisionTreeRegressor(split_finder=finder, random_state=0).fit(X, score).tree_)
    for tree in trees:
        assert tree.max_depth == tree._check_structure()
        inner = np.flatnonzero(tree.children_left >= 0)
        assert_array_equal(tree.children_left[inner], inner + 1)
        # a right child follows its sibling's whole subtree
        sizes = np.ones(tree.node_count, dtype=np.int64)
        for node in inner[::-1]:
            sizes[node] += sizes[tree.children_left[node]] + sizes[tree.children_right[node]]
        assert_array_equal(tree.children_right[inner], inner + 1 + sizes[inner + 1])
