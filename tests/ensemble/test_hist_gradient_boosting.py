"""fastml.ensemble.HistGradientBoostingClassifier / Regressor: the compiled core against the NumPy
reference (gradients, split search, one boosting step) and against scikit-learn's losses; the
estimators against scikit-learn's on shipped and generated data (the same model, tree for tree),
threads, dtypes, pickling, errors."""
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import ensemble as sk
from sklearn._loss.loss import (AbsoluteError, HalfBinomialLoss, HalfGammaLoss,
                                HalfMultinomialLoss, HalfPoissonLoss, HalfSquaredError,
                                PinballLoss)
from sklearn.datasets import make_classification, make_regression

from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from fastml.ensemble import _boost_fast
from fastml.reference import boosting as ref
from fastml.utils._sklearn_compat import HGB_PRIVATE_METHODS
from tests._assertions import scored_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

SKLEARN_LOSSES = {"squared_error": HalfSquaredError, "absolute_error": AbsoluteError,
                  "quantile": lambda sample_weight: PinballLoss(sample_weight, quantile=0.3),
                  "poisson": HalfPoissonLoss, "gamma": HalfGammaLoss,
                  "binomial": HalfBinomialLoss}


def _targets(loss, n, rng, n_classes=3):
    if loss in ("poisson", "gamma"):
        return rng.gamma(2.0, size=n) + (loss == "gamma") * 0.1
    if loss == "binomial":
        return rng.integers(0, 2, n).astype(np.float64)
    if loss == "multinomial":
        return rng.integers(0, n_classes, n).astype(np.float64)
    return rng.normal(size=n)


def _core_gradients(loss, y, raw, sw, quantile=0.3):
    gh = np.empty((raw.shape[1], len(y), 2), dtype=np.float32)
    _boost_fast.gradients(getattr(_boost_fast.Loss, loss), y, np.ascontiguousarray(raw), sw,
                          quantile, gh, 2)
    return gh[..., 0].T, gh[..., 1].T


@pytest.mark.parametrize("loss", list(SKLEARN_LOSSES) + ["multinomial"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("n", [1, 37, 1000])
def test_gradients_match_reference_and_sklearn(loss, weighted, n, rng):
    y = _targets(loss, n, rng)
    K = 3 if loss == "multinomial" else 1
    raw = rng.normal(size=(n, K))
    sw = rng.random(n) if weighted else None
    g, h = _core_gradients(loss, y, raw, sw)
    g_ref, h_ref = ref.gradients(loss, y, raw, sw, quantile=0.3)
    assert_allclose(g, g_ref, rtol=1e-6, atol=1e-6)
    assert_allclose(h, h_ref, rtol=1e-6, atol=1e-6)
    # scikit-learn's float32 gradients, to the bit
    sk_loss = (HalfMultinomialLoss(sample_weight=sw, n_classes=K) if loss == "multinomial"
               else SKLEARN_LOSSES[loss](sample_weight=sw))
    g_sk, h_sk = sk_loss.init_gradient_and_hessian(n, dtype=np.float32)
    raw_sk = raw if K > 1 else raw[:, 0]
    if sk_loss.constant_hessian:
        sk_loss.gradient(y, raw_sk, sw, gradient_out=g_sk)
        assert_array_equal(h, 1.0)
    else:
        sk_loss.gradient_hessian(y, raw_sk, sw, gradient_out=g_sk, hessian_out=h_sk)
        assert_array_equal(h, h_sk.reshape(n, K))
    assert_array_equal(g, g_sk.reshape(n, K))


def _grow(codes, g, h, n_bins_non_missing, constant_hessian=False, **kwargs):
    gh = np.ascontiguousarray(np.stack([g, h], axis=1), dtype=np.float32)
    params = dict(n_bins=256, max_leaf_nodes=31, max_depth=0, min_samples_leaf=20,
                  l2_regularization=0.0, min_hessian_to_split=1e-3, shrinkage=1.0,
                  constant_hessian=constant_hessian, monotonic_cst=None, interaction_cst=[],
                  feature_fraction=1.0, seed=0, n_threads=2)
    params.update(kwargs)
    return _boost_fast.grow_tree(
        codes=np.asfortranarray(codes), gh=gh, n_bins_non_missing=n_bins_non_missing.astype(np.uint16),
        has_missing=(codes == ref.MISSING_BIN).any(axis=0).astype(np.uint8), **params)


def _random_codes(rng, n, n_features, n_bins, missing=0.1):
    nbnm = rng.integers(1, n_bins, n_features)
    codes = (rng.random((n, n_features)) * nbnm).astype(np.uint8)
    codes[rng.random((n, n_features)) < missing] = ref.MISSING_BIN
    return codes, nbnm


@pytest.mark.parametrize("shape", [(60, 1), (200, 3), (500, 7)])
@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("l2", [0.0, 1.5])
def test_root_split_matches_reference(shape, constant_hessian, l2, rng):
    n, d = shape
    codes, nbnm = _random_codes(rng, n, d, 12)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = (np.ones(n) if constant_hessian
         else rng.random(n).astype(np.float32).astype(np.float64) + 0.1)
    tree = _grow(codes, g, h, nbnm, constant_hessian, max_leaf_nodes=2, min_samples_leaf=5,
                 l2_regularization=l2)
    expected = ref.best_split(codes, g, h, np.arange(n), nbnm, min_samples_leaf=5, l2=l2,
                              constant_hessian=constant_hessian, value=0.0)
    if expected is None:
        assert tree.is_leaf[0]
        return
    gain, feature, bin_, missing_left = expected
    assert not tree.is_leaf[0]
    assert (tree.feature[0], tree.bin_threshold[0]) == (feature, bin_)
    if (codes[:, feature] == ref.MISSING_BIN).any():
        assert tree.missing_go_to_left[0] == missing_left
    assert_allclose(tree.gain[0], gain, rtol=1e-6)  # sums in another order


@pytest.mark.parametrize("shape", [(300, 2), (1000, 5)])
@pytest.mark.parametrize("l2", [0.0, 2.0])
def test_boosting_step_matches_reference(shape, l2, rng):
    n, d = shape
    codes, nbnm = _random_codes(rng, n, d, 20)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = rng.random(n).astype(np.float32).astype(np.float64) + 0.1
    tree = _grow(codes, g, h, nbnm, max_leaf_nodes=8, l2_regularization=l2, shrinkage=0.1)
    nodes = dict(is_leaf=tree.is_leaf, feature_idx=tree.feature,
                 bin_threshold=tree.bin_threshold, missing_go_to_left=tree.missing_go_to_left,
                 left=tree.left, right=tree.right)
    raw = rng.normal(size=n)
    values, expected_raw = ref.boosting_step(nodes, codes, g, h, raw, 0.1, l2)
    leaves = tree.is_leaf.astype(bool)
    assert leaves.sum() <= 8
    # the core's leaf sums come from histogram subtraction: other roundings
    assert_allclose(tree.value[leaves], values[leaves], rtol=1e-6, atol=1e-12)
    for n_threads in (1, 2):  # on two threads the leaves are split between them
        out = raw.copy()[:, None]
        tree.add_leaf_values(out, 0, n_threads)
        assert_allclose(out[:, 0], expected_raw, rtol=1e-6, atol=1e-8)
        assert_array_equal(out[:, 0], raw + tree.value[ref.route_binned(nodes, codes)])
    # every row lies in the leaf the walk sends it to
    leaf_of_row = np.empty(n, dtype=np.int64)
    for i in np.flatnonzero(leaves):
        leaf_of_row[tree.rows[tree.leaf_start[i]:tree.leaf_stop[i]]] = i
    assert_array_equal(leaf_of_row, ref.route_binned(nodes, codes))


def _assert_same_model(ours, theirs, X):
    assert ours.n_iter_ == theirs.n_iter_
    for it_ours, it_theirs in zip(ours._predictors, theirs._predictors):
        for a, b in zip(it_ours, it_theirs):
            for field in ("feature_idx", "bin_threshold", "is_leaf", "left", "right",
                          "missing_go_to_left", "count"):
                assert_array_equal(a.nodes[field], b.nodes[field])
            assert_allclose(a.nodes["value"], b.nodes["value"], rtol=1e-9, atol=1e-12)
    assert_allclose(ours._raw_predict(X), theirs._raw_predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("name", ["iris", "wine", "breast_cancer", "digits", "diabetes"])
def test_same_model_as_sklearn_on_shipped_data(name):
    X, y = scored_dataset(name)
    if name == "digits":
        X, y = X[:600], y[:600]
    kw = dict(max_iter=15, random_state=0)
    if name == "diabetes":
        ours, theirs = HistGradientBoostingRegressor(**kw), sk.HistGradientBoostingRegressor(**kw)
    else:
        ours, theirs = (HistGradientBoostingClassifier(**kw),
                        sk.HistGradientBoostingClassifier(**kw))
    ours.fit(X, y)
    theirs.fit(X, y)
    _assert_same_model(ours, theirs, X)
    assert ours.score(X, y) == theirs.score(X, y)
    if name != "diabetes":
        assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
        assert_allclose(ours.decision_function(X), theirs.decision_function(X), rtol=1e-9)
        for a, b in zip(ours.staged_predict_proba(X), theirs.staged_predict_proba(X)):
            assert_allclose(a, b, rtol=1e-9)
    else:
        for a, b in zip(ours.staged_predict(X), theirs.staged_predict(X)):
            assert_allclose(a, b, rtol=1e-9)


def _nan_data(n=300, d=6, classes=2, seed=0):
    X, y = make_classification(n, d, n_informative=4, n_classes=classes, random_state=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < 0.1] = np.nan
    return X, y, rng.random(n)


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("params", [
    dict(), dict(max_depth=3, l2_regularization=1.0, min_samples_leaf=3),
    dict(max_leaf_nodes=None, max_depth=4), dict(class_weight="balanced"),
    dict(interaction_cst=[{0, 1}, {2, 3, 4}]), dict(max_bins=17),
    dict(early_stopping=True, n_iter_no_change=2, scoring="accuracy", validation_fraction=0.2)])
def test_classifier_same_model_as_sklearn(classes, weighted, params):
    X, y, sw = _nan_data(classes=classes)
    kw = dict(max_iter=10, random_state=0, **params)
    sw = sw if weighted else None
    ours = HistGradientBoostingClassifier(**kw).fit(X, y, sample_weight=sw)
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y, sample_weight=sw)
    _assert_same_model(ours, theirs, X)
    assert_allclose(ours.validation_score_, theirs.validation_score_)
    assert_allclose(ours.train_score_, theirs.train_score_)


@pytest.mark.parametrize("loss", ["squared_error", "absolute_error", "quantile", "poisson",
                                  "gamma"])
@pytest.mark.parametrize("weighted", [False, True])
def test_regressor_losses_same_model_as_sklearn(loss, weighted):
    X, y = make_regression(300, 5, noise=5.0, random_state=0)
    if loss in ("poisson", "gamma"):
        y = np.exp(y / y.std())
    X[::7, 1] = np.nan
    sw = np.random.default_rng(0).random(len(y)) if weighted else None
    kw = dict(loss=loss, max_iter=10, random_state=0,
              quantile=0.7 if loss == "quantile" else None)
    ours = HistGradientBoostingRegressor(**kw).fit(X, y, sample_weight=sw)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y, sample_weight=sw)
    _assert_same_model(ours, theirs, X)


def test_monotonic_constraints_same_model_as_sklearn():
    X, y = make_regression(400, 4, noise=5.0, random_state=1)
    kw = dict(max_iter=10, random_state=0, monotonic_cst=[1, -1, 0, 0])
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    _assert_same_model(ours, sk.HistGradientBoostingRegressor(**kw).fit(X, y), X)


def test_early_stopping_auto_and_warm_start_same_as_sklearn():
    X, y = make_classification(10_500, 5, random_state=0)
    kw = dict(max_iter=8, random_state=0, n_iter_no_change=3)
    ours = HistGradientBoostingClassifier(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y)
    assert ours.do_early_stopping_ and theirs.do_early_stopping_
    _assert_same_model(ours, theirs, X)
    assert_allclose(ours.validation_score_, theirs.validation_score_)
    ours.set_params(warm_start=True, max_iter=12).fit(X, y)
    theirs.set_params(warm_start=True, max_iter=12).fit(X, y)
    _assert_same_model(ours, theirs, X)


def test_accuracy_close_to_sklearn_on_generated_data():
    X, y = make_classification(4000, 20, n_informative=8, random_state=3)
    X_test, y_test = X[3000:], y[3000:]
    ours = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[:3000], y[:3000])
    theirs = sk.HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X[:3000],
                                                                                y[:3000])
    assert abs(ours.score(X_test, y_test) - theirs.score(X_test, y_test)) < 1e-12


def test_float32_input_stays_float32_and_gives_sklearn_model():
    X, y, _ = _nan_data(n=400)
    X32 = X.astype(np.float32)
    ours = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X32, y)
    theirs = sk.HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X32, y)
    _assert_same_model(ours, theirs, X32)
    assert_array_equal(ours.predict_proba(X32), ours.predict_proba(X32.astype(np.float64)))


def test_model_does_not_depend_on_n_jobs():
    X, y, sw = _nan_data(n=2000, d=12, classes=3)
    models = [HistGradientBoostingClassifier(max_iter=10, random_state=0, n_jobs=j)
              .fit(X, y, sample_weight=sw) for j in (1, 2, 3)]
    for other in models[1:]:
        for a, b in zip(models[0]._predictors, other._predictors):
            for p, q in zip(a, b):
                assert_array_equal(p.nodes, q.nodes)
        assert_array_equal(models[0].predict_proba(X), other.predict_proba(X))


def test_regressor_does_not_depend_on_n_jobs():
    # least squares: constant hessians, and the partitions and fills of deep balanced trees
    # on 1, 2 and 3 threads (the tests run every parallel path), scikit-learn's trees on all
    from sklearn.datasets import make_regression
    X, y = make_regression(3000, 10, n_informative=6, noise=5.0, random_state=0)
    X[::17, 3] = np.nan
    theirs = sk.HistGradientBoostingRegressor(max_iter=8, random_state=0).fit(X, y)
    for j in (1, 2, 3):
        ours = HistGradientBoostingRegressor(max_iter=8, random_state=0, n_jobs=j).fit(X, y)
        for a, b in zip(ours._predictors, theirs._predictors):
            assert_array_equal(a[0].nodes, b[0].nodes)
        assert_array_equal(ours.predict(X), theirs.predict(X))


def test_pickle_and_feature_importances():
    X, y, _ = _nan_data(n=300)
    model = HistGradientBoostingClassifier(max_iter=10, random_state=0).fit(X, y)
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))
    imp = model.feature_importances_
    assert imp.shape == (X.shape[1],) and np.all(imp >= 0)
    assert_allclose(imp.sum(), 1.0)
    # the gains summed by hand
    total = np.zeros(X.shape[1])
    for it in model._predictors:
        for node in it[0].nodes:
            if not node["is_leaf"]:
                total[node["feature_idx"]] += node["gain"]
    assert_allclose(imp, total / total.sum())


def test_one_row_predictions_equal_batch():
    X, y, _ = _nan_data(n=300, classes=3)
    model = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    batch = model.predict_proba(X[:20])
    rows = np.vstack([model.predict_proba(X[i:i + 1]) for i in range(20)])
    assert_array_equal(rows, batch)


def test_pickling_leaves_the_model_packed():
    # the packed trees are left out of the pickle, not out of the pickled model (which would
    # then pack them again on every call)
    X, y, _ = _nan_data(n=200, classes=2)
    model = HistGradientBoostingClassifier(max_iter=3, random_state=0).fit(X, y)
    packed = model._packed
    loaded = pickle.loads(pickle.dumps(model))
    assert model._packed is packed
    assert_array_equal(loaded.predict_proba(X), model.predict_proba(X))


def test_plain_rows_skip_validation_with_sklearns_results_and_errors():
    # a C-ordered float array of the fitted width goes straight to the walk; other input
    # through scikit-learn's validation, with its conversions, errors and warnings
    X, y, _ = _nan_data(n=300, classes=3)
    ours = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    theirs = sk.HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(X, y)
    expected = theirs.predict_proba(X)
    for rows in (X, X.astype(np.float32), np.asfortranarray(X), X.tolist(), X[::2]):
        assert_array_equal(ours.predict_proba(rows), theirs.predict_proba(rows))
    with pytest.raises(ValueError, match="features"):
        ours.predict_proba(X[:, :3])
    with pytest.raises(ValueError, match="0 sample"):
        ours.predict_proba(X[:0])
    pd = pytest.importorskip("pandas")
    named = HistGradientBoostingClassifier(max_iter=5, random_state=0).fit(
        pd.DataFrame(X, columns=[f"f{i}" for i in range(X.shape[1])]), y)
    with pytest.warns(UserWarning, match="valid feature names"):
        assert_array_equal(named.predict_proba(X), expected)


@pytest.mark.parametrize("leaf_masks", [False, True])
@pytest.mark.parametrize("categorical", [False, True])
def test_lockstep_and_row_walks_give_sklearns_predictions(categorical, leaf_masks, monkeypatch):
    # every tree walked in lockstep, none, or every other one (or several rows through the leaf
    # masks): the same values, added in the same order as scikit-learn's, on rows with missing
    # values and unknown categories, for a row count that is no multiple of the lockstep block,
    # on one and two threads, dense and CSR
    from scipy import sparse

    import fastml.ensemble._hist_gradient_boosting as hgb
    monkeypatch.setattr(hgb, "_LEAF_MASKS", leaf_masks)
    X, y, _ = _nan_data(n=301, classes=3)
    kw = dict(max_iter=8, random_state=0)
    if categorical:
        X[:, 0] = np.where(np.isnan(X[:, 0]), np.nan, np.floor(np.abs(X[:, 0]) * 3) % 7)
        kw["categorical_features"] = [0]
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y)
    X_new = X.copy()
    X_new[::5, 0] = 9 if categorical else X_new[::5, 0]  # categories unseen in fit
    expected = theirs.predict_proba(X_new)
    choices = {"all": lambda nodes, offsets: np.ones(len(offsets) - 1, np.uint8),
               "none": lambda nodes, offsets: np.zeros(len(offsets) - 1, np.uint8),
               "alternate": lambda nodes, offsets: (np.arange(len(offsets) - 1) % 2).astype(
                   np.uint8)}
    for name, choice in choices.items():
        monkeypatch.setattr(hgb, "_balanced", choice)
        for n_jobs in (1, 2):
            ours = HistGradientBoostingClassifier(**kw, n_jobs=n_jobs).fit(X, y)
            assert_array_equal(ours.predict_proba(X_new), expected, err_msg=name)
            # blocks of a few rows walk every tree row by row
            assert_array_equal(np.vstack([ours.predict_proba(X_new[i:i + 1]) for i in
                                          range(0, 301, 37)]), expected[::37], err_msg=name)
            if not categorical:
                assert_array_equal(ours.predict_proba(sparse.csr_matrix(np.nan_to_num(X_new))),
                                   theirs.predict_proba(np.nan_to_num(X_new)), err_msg=name)


def test_balanced_trees_are_walked_in_lockstep():
    from fastml.ensemble._hist_gradient_boosting import _balanced
    X, y = make_regression(2000, 5, random_state=0)
    model = HistGradientBoostingRegressor(max_iter=3, random_state=0).fit(X, y)
    trees = [p for iteration in model._predictors for p in iteration]
    offsets = np.cumsum([0] + [len(p.nodes) for p in trees])
    nodes = np.concatenate([p.nodes for p in trees])
    assert_array_equal(_balanced(nodes, offsets), 1)
    # a chain: every split sends one row left to a leaf, the rest right
    chain = np.zeros(9, dtype=nodes.dtype)
    chain["is_leaf"][1::2], chain["is_leaf"][-1] = 1, 1
    chain["depth"] = [0, 1, 1, 2, 2, 3, 3, 4, 4]
    chain["count"] = [100, 1, 99, 1, 98, 1, 97, 1, 96]
    assert_array_equal(_balanced(chain, np.array([0, 9])), [1])  # the deep leaf holds most
    chain["count"][-1] = 1
    chain["count"][1] = 200
    assert_array_equal(_balanced(chain, np.array([0, 9])), [0])


def test_sklearn_private_methods_exist():
    for cls in (sk.HistGradientBoostingClassifier, sk.HistGradientBoostingRegressor):
        for name in HGB_PRIVATE_METHODS:
            assert callable(getattr(cls, name)), name


@pytest.mark.parametrize("loss,y,message", [
    ("poisson", [-1.0, 1.0, 2.0, 3.0], "non-negative y"),
    ("gamma", [0.0, 1.0, 2.0, 3.0], "strictly positive y"),
    ("squared_error", [np.nan, 1.0, 2.0, 3.0], "NaN"),
])
def test_bad_targets(loss, y, message):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=message):
        HistGradientBoostingRegressor(loss=loss).fit(X, y)


def test_bad_parameters_and_unsupported_input():
    X, y = np.arange(40.0).reshape(20, 2), np.arange(20.0)
    with pytest.raises(ValueError, match="quantile"):
        HistGradientBoostingRegressor(loss="quantile", quantile=1.5).fit(X, y)
    with pytest.raises(ValueError, match="BaseLoss"):
        HistGradientBoostingRegressor(loss=HalfSquaredError()).fit(X, y)
    with pytest.raises(ValueError, match="n_jobs"):
        HistGradientBoostingRegressor(n_jobs="two").fit(X, y)
    model = HistGradientBoostingRegressor(max_iter=2).fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :1])


def test_core_rejects_bad_arguments():
    codes = np.zeros((10, 2), dtype=np.uint8, order="F")
    g = np.zeros(10)
    with pytest.raises(ValueError, match="codes must lie below"):
        _grow(codes + 5, g, g + 1, np.array([3, 3]))
    with pytest.raises(ValueError, match="gh"):
        _boost_fast.grow_tree(
            codes=codes, gh=np.zeros((9, 2), np.float32),
            n_bins_non_missing=np.array([3, 3], np.uint16),
            has_missing=np.zeros(2, np.uint8), n_bins=256, max_leaf_nodes=31, max_depth=0,
            min_samples_leaf=1, l2_regularization=0.0, min_hessian_to_split=1e-3,
            shrinkage=1.0, constant_hessian=False, monotonic_cst=None, interaction_cst=[],
            feature_fraction=1.0, seed=0, n_threads=1)
    with pytest.raises(ValueError, match="Fortran-ordered"):
        _boost_fast.grow_tree(
            codes=np.ascontiguousarray(codes), gh=np.zeros((10, 2), np.float32),
            n_bins_non_missing=np.array([3, 3], np.uint16),
            has_missing=np.zeros(2, np.uint8), n_bins=256, max_leaf_nodes=31, max_depth=0,
            min_samples_leaf=1, l2_regularization=0.0, min_hessian_to_split=1e-3,
            shrinkage=1.0, constant_hessian=False, monotonic_cst=None, interaction_cst=[],
            feature_fraction=1.0, seed=0, n_threads=1)
    with pytest.raises(ValueError, match="class indices"):
        _core_gradients("multinomial", np.array([0.0, 5.0]), np.zeros((2, 3)), None)


_TREE_FIELDS = ("value", "count", "gain", "is_leaf", "feature", "bin_threshold",
                "missing_go_to_left", "left", "right", "rows")


@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("options", [
    {}, {"quantized_levels": 4}, {"interaction_cst": [[0, 2], [1, 3, 4]]},
    {"feature_fraction": 0.5, "seed": 3}, {"max_leaf_nodes": 0, "max_depth": 6}])
def test_row_codes_grow_the_same_tree(constant_hessian, options, rng):
    """The row-wise histograms (row_codes) sum the same rows in the same order as the
    column-wise ones: the same tree, for any thread count (and the column-wise fill where the
    features searched are not a run)."""
    n, d = 3000, 6
    codes, nbnm = _random_codes(rng, n, d, 40)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = np.ones(n) if constant_hessian else rng.uniform(0.1, 1.0, n)
    base = _grow(codes, g, h, nbnm, constant_hessian, n_threads=1, **options)
    for n_threads in (1, 2, 3):
        tree = _grow(codes, g, h, nbnm, constant_hessian, n_threads=n_threads,
                     row_codes=np.ascontiguousarray(codes), **options)
        for field in _TREE_FIELDS:
            assert_array_equal(getattr(tree, field), getattr(base, field), err_msg=field)
    assert base.is_leaf.sum() > 5


@pytest.mark.parametrize("n_features", [2, 5, 37, 70])
@pytest.mark.parametrize("quantized_levels", [0, 4])
def test_gathered_row_fill_grows_the_same_tree(n_features, quantized_levels, rng):
    """On several threads the row-wise fill first gathers a node's rows' codes (rows of one or
    two cache lines, 37 and 70 features: several) and gradients into node order, a share of
    the rows each thread, then fills each thread's share of the features from them: the same
    tree as one thread reading them in place, for thread counts that leave a thread a single
    feature or none of a small node's rows."""
    n = 1500
    codes, nbnm = _random_codes(rng, n, n_features, 50)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = rng.uniform(0.1, 1.0, n)
    row_codes = np.ascontiguousarray(codes)
    kw = dict(row_codes=row_codes, quantized_levels=quantized_levels, min_samples_leaf=2)
    base = _grow(codes, g, h, nbnm, n_threads=1, **kw)
    assert base.is_leaf.sum() > 10
    for n_threads in (2, 3, 7):
        tree = _grow(codes, g, h, nbnm, n_threads=n_threads, **kw)
        for field in _TREE_FIELDS:
            assert_array_equal(getattr(tree, field), getattr(base, field), err_msg=field)


def _varying_hessian_trees():
    """Trees grown with varying hessians (the classifier's exact fill: its (g, h, count) quads
    where the CPU has the x86-64-v3 build), column- and row-wise, on one thread and two, by
    field: the gains and values carry the sums' every bit."""
    rng = np.random.default_rng(11)
    n = 2500
    codes, nbnm = _random_codes(rng, n, 9, 60)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = rng.uniform(0.1, 1.0, n).astype(np.float32).astype(np.float64)
    trees = {}
    for row_codes in (None, np.ascontiguousarray(codes)):
        for n_threads in (1, 2):
            tree = _grow(codes, g, h, nbnm, n_threads=n_threads, row_codes=row_codes,
                         min_samples_leaf=5)
            for field in _TREE_FIELDS:
                trees[f"{row_codes is None}-{n_threads}-{field}"] = getattr(tree, field)
    return trees


def test_varying_hessian_fill_same_in_every_build(tmp_path):
    """The baseline build's fill (24-byte bins: a (g, h) pair add and a count add) and the
    x86-64-v3 one's (32-byte quads, one add) sum the same rows in the same order: the same
    trees to the bit."""
    ours = _varying_hessian_trees()
    saved = tmp_path / "baseline.npz"
    script = ("import sys, numpy as np; "
              "from tests.ensemble.test_hist_gradient_boosting import _varying_hessian_trees; "
              "np.savez(sys.argv[1], **_varying_hessian_trees())")
    subprocess.run([sys.executable, "-c", script, str(saved)], check=True, timeout=300,
                   cwd=Path(__file__).resolve().parents[2],
                   env={**os.environ, "FASTML_SIMD": "baseline"})
    with np.load(saved) as baseline:
        assert sorted(baseline.files) == sorted(ours)
        for name, field in ours.items():
            assert_array_equal(baseline[name], field, err_msg=name)
    assert ours["True-1-is_leaf"].sum() > 10


@pytest.mark.parametrize("quantized_levels", [0, 4])
def test_grow_buffers_kept_across_trees_grow_the_same_trees(quantized_levels, rng):
    """A fit's GrowBuffers, kept from tree to tree (its scratch not cleared, smaller or larger
    than the next tree's rows, on one thread or several): each tree as grown with its own."""
    buffers = _boost_fast.GrowBuffers()
    for n, n_threads in ((1500, 2), (700, 2), (700, 1), (2500, 3)):
        codes, nbnm = _random_codes(rng, n, 6, 40)
        g = rng.normal(size=n).astype(np.float32).astype(np.float64)
        h = rng.uniform(0.1, 1.0, n)
        kw = dict(row_codes=np.ascontiguousarray(codes), quantized_levels=quantized_levels,
                  min_samples_leaf=2, n_threads=n_threads)
        base = _grow(codes, g, h, nbnm, **kw)
        assert base.is_leaf.sum() > 10
        tree = _grow(codes, g, h, nbnm, buffers=buffers, **kw)
        for field in _TREE_FIELDS:
            assert_array_equal(getattr(tree, field), getattr(base, field), err_msg=field)


def test_add_leaf_values_past_a_byte_of_leaves(rng):
    """add_leaf_values numbers the leaves in a per-row map, a byte a row up to 256 leaves and
    wider past them: a tree of more leaves adds each row its own leaf's value."""
    n = 3000
    codes, nbnm = _random_codes(rng, n, 4, 250, missing=0.0)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    tree = _grow(codes, g, np.ones(n), nbnm, True, max_leaf_nodes=0, min_samples_leaf=1)
    nodes = dict(is_leaf=tree.is_leaf, feature_idx=tree.feature,
                 bin_threshold=tree.bin_threshold, missing_go_to_left=tree.missing_go_to_left,
                 left=tree.left, right=tree.right)
    assert tree.is_leaf.sum() > 256
    raw = rng.normal(size=(n, 3))
    for n_threads in (1, 2):
        out = raw.copy()
        tree.add_leaf_values(out, 1, n_threads)
        assert_array_equal(out[:, [0, 2]], raw[:, [0, 2]])
        assert_array_equal(out[:, 1], raw[:, 1] + tree.value[ref.route_binned(nodes, codes)])


@pytest.mark.parametrize("loss", list(SKLEARN_LOSSES))
@pytest.mark.parametrize("weighted", [False, True])
def test_add_leaf_values_and_gradients_is_add_then_gradients(loss, weighted, rng):
    """The fused pass (leaf values added, then the next gradients, row by row) gives the raw
    values of add_leaf_values and the gradients of gradients at them, to the bit, on one thread
    or two, with a byte-wide leaf map or a wider one, its map kept in one GrowBuffers across
    trees of fewer and more rows."""
    buffers = _boost_fast.GrowBuffers()
    code = getattr(_boost_fast.Loss, loss)
    for n, many_leaves in ((3000, True), (1200, False), (2500, False)):
        codes, nbnm = _random_codes(rng, n, 4, 250, missing=0.0)
        g = rng.normal(size=n).astype(np.float32).astype(np.float64)
        leaves = dict(max_leaf_nodes=0, min_samples_leaf=1) if many_leaves else {}
        tree = _grow(codes, g, np.ones(n), nbnm, True, **leaves)
        assert (tree.is_leaf.sum() > 256) == many_leaves
        y = _targets(loss, n, rng)
        sw = rng.random(n) if weighted else None
        raw = rng.normal(size=(n, 1))
        expected = raw.copy()
        tree.add_leaf_values(expected, 0, 1)
        g_expected, h_expected = _core_gradients(loss, y, expected, sw)
        for n_threads in (1, 2):
            out, gh = raw.copy(), np.full((1, n, 2), np.nan, dtype=np.float32)
            tree.add_leaf_values_and_gradients(code, y, out, sw, 0.3, gh, n_threads, buffers)
            assert_array_equal(out, expected)
            assert_array_equal(gh[0, :, 0], g_expected[:, 0])
            assert_array_equal(gh[0, :, 1], h_expected[:, 0])


def test_add_leaf_values_and_gradients_checks_its_arrays(rng):
    """One output only (multinomial gradients need every class's raw values), the tree's rows."""
    n = 500
    codes, nbnm = _random_codes(rng, n, 3, 20)
    tree = _grow(codes, rng.normal(size=n), np.ones(n), nbnm, True)
    y, gh = _targets("binomial", n, rng), np.empty((1, n, 2), dtype=np.float32)
    binomial, multinomial = _boost_fast.Loss.binomial, _boost_fast.Loss.multinomial
    with pytest.raises(ValueError, match="one output"):
        tree.add_leaf_values_and_gradients(multinomial, y, np.zeros((n, 3)), None, 0.0,
                                           np.empty((3, n, 2), dtype=np.float32))
    with pytest.raises(ValueError, match="one output"):
        tree.add_leaf_values_and_gradients(multinomial, np.zeros(n), np.zeros((n, 1)), None, 0.0,
                                           gh)
    with pytest.raises(ValueError, match="tree's rows"):
        tree.add_leaf_values_and_gradients(binomial, y[:-1], np.zeros((n - 1, 1)), None, 0.0,
                                           gh[:, :-1])
    with pytest.raises(ValueError, match="gh"):
        tree.add_leaf_values_and_gradients(binomial, y, np.zeros((n, 1)), None, 0.0, gh[:, :-1])


@pytest.mark.parametrize("labels", [
    np.array([0, 1, 1, 0, 1]), np.array([-5, 7, 0, 7, -5, 2], dtype=np.int8),
    np.array([True, False, True]), np.array([3, 3, 3]),
    np.array([10, 1000, -70000, 10], dtype=np.int32), np.array([2, 0, 1, 2], dtype=np.uint16),
    np.array([0, 1 << 40, 0]), np.array([0.0, 1.0, 1.0]), np.array(["b", "a", "b"])])
def test_classifier_encodes_labels_as_sklearn(labels):
    """Integer and boolean labels take the compiled scan and a table, a range too wide for the
    table and other labels scikit-learn's encoder: the same classes_, encoded y and encoder."""
    ours, theirs = HistGradientBoostingClassifier(n_jobs=2), sk.HistGradientBoostingClassifier()
    ours._n_threads = 2
    y = np.tile(labels, 50)
    encoded, expected = ours._encode_y(y), theirs._encode_y(y)
    assert encoded.dtype == expected.dtype == np.float64
    assert_array_equal(encoded, expected)
    assert ours.classes_.dtype == theirs.classes_.dtype
    assert_array_equal(ours.classes_, theirs.classes_)
    assert ours.n_trees_per_iteration_ == theirs.n_trees_per_iteration_
    assert_array_equal(ours._encode_y_val(labels[::-1]), theirs._encode_y_val(labels[::-1]))


@pytest.mark.parametrize("n_features", [1, 3, 4, 5, 6, 7, 9])
@pytest.mark.parametrize("constant_hessian", [False, True])
def test_histogram_sums_match_reference(n_features, constant_hessian, rng):
    """The histograms' gradient, hessian and count sums (a row added as one (g, h) pair, with
    constant hessians into pairs spread into the bins at the end; the row-wise fill four
    features a step, then the rest; the column-wise four a pass, then two, then one): each
    leaf's value is its rows' -G / (H + l2) and none holds fewer than min_samples_leaf rows,
    row-wise (row_codes) or not."""
    n, l2, min_samples_leaf = 2000, 0.5, 15
    codes, nbnm = _random_codes(rng, n, n_features, 30)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = np.ones(n) if constant_hessian else rng.uniform(0.1, 1.0, n).astype(np.float32)
    h = h.astype(np.float64)
    for row_codes in (None, np.ascontiguousarray(codes)):
        tree = _grow(codes, g, h, nbnm, constant_hessian, min_samples_leaf=min_samples_leaf,
                     l2_regularization=l2, row_codes=row_codes)
        leaves = np.flatnonzero(tree.is_leaf)
        assert len(leaves) > 4
        for i in leaves:
            rows = tree.rows[tree.leaf_start[i]:tree.leaf_stop[i]]
            assert len(rows) == tree.count[i] >= min_samples_leaf
            assert_allclose(tree.value[i], ref.node_value(g[rows].sum(), h[rows].sum(), l2),
                            rtol=1e-6)


def test_core_rejects_bad_row_codes(rng):
    codes, nbnm = _random_codes(rng, 400, 3, 10, missing=0.0)
    g, h = rng.normal(size=400), np.ones(400)
    row_codes = np.ascontiguousarray(codes)
    row_codes[:, 1] = 200  # not a bin of feature 1 (the column-major codes are right)
    with pytest.raises(ValueError, match="codes must lie below"):
        _grow(codes, g, h, nbnm, min_samples_leaf=5, row_codes=row_codes)
    with pytest.raises(ValueError, match="row_codes must be a C-ordered uint8"):
        _grow(codes, g, h, nbnm, row_codes=np.asfortranarray(codes))
    with pytest.raises(ValueError, match="row_codes must be a C-ordered uint8"):
        _grow(codes, g, h, nbnm, row_codes=np.ascontiguousarray(codes[:-1]))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_codes_without_bounds_are_the_same(dtype, rng):
    """The booster's binning asks encode_bins for the codes alone (bounds=False)."""
    from fastml.ensemble._hist_gradient_boosting import bin_thresholds
    from fastml.tree import _cart

    X = rng.normal(size=(500, 4)).astype(dtype)
    X[rng.random(X.shape) < 0.1] = np.nan
    thresholds, _ = bin_thresholds(X, 17, None, 1)
    codes, bounds = _cart.encode_bins(X, thresholds, 2)
    alone, none = _cart.encode_bins(X, thresholds, 2, bounds=False)
    assert bounds is not None and none is None
    assert_array_equal(alone, codes)
    assert (alone[np.isnan(X)] == ref.MISSING_BIN).all()


@pytest.mark.parametrize("max_bins", [3, 17, 255])
@pytest.mark.parametrize("weighted", [False, True])
def test_bin_thresholds_are_sklearn_binmappers(max_bins, weighted, rng):
    from sklearn.ensemble._hist_gradient_boosting.binning import _BinMapper

    from fastml.ensemble._hist_gradient_boosting import bin_thresholds

    n = 3000
    X = np.column_stack([rng.normal(size=n), rng.integers(0, 5, n), rng.integers(0, 40, n),
                         np.round(rng.exponential(size=n), 2), np.full(n, 7.0),
                         np.r_[np.nan, rng.normal(size=n - 1)]])
    X[rng.random(X.shape) < 0.05] = np.nan
    sw = rng.random(n) if weighted else None
    mapper = _BinMapper(n_bins=max_bins + 1, subsample=None).fit(X, sample_weight=sw)
    thresholds, counts = bin_thresholds(X, max_bins, sw, 2)
    for f, expected in enumerate(mapper.bin_thresholds_):
        assert counts[f] == len(expected)
        assert_array_equal(thresholds[f, :counts[f]], expected)
        assert np.all(np.isinf(thresholds[f, counts[f]:]))


@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")  # NumPy's inf - inf
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_bins", [2, 3, 17, 255])
def test_compiled_bin_thresholds_are_numpys(dtype, max_bins, rng):
    """The unweighted dense thresholds (compiled: a radix sort, np.percentile's arithmetic)
    against scikit-learn's _find_binning_thresholds, column by column: runs of max_bins and
    max_bins + 1 distinct values, infinities, signed zeros, a lone value, NaN columns."""
    from fastml.ensemble._hist_gradient_boosting import bin_thresholds
    from fastml.tree import _cart
    from fastml.utils._sklearn_compat import hgb_binning_thresholds

    n = 2000
    columns = [rng.normal(size=n), rng.integers(0, max_bins, n), rng.integers(0, max_bins + 1, n),
               rng.integers(-3, 4, n) * 0.0, np.round(rng.exponential(size=n), 2),
               np.full(n, 7.0), np.full(n, np.nan), np.r_[5.0, np.full(n - 1, np.nan)],
               np.where(rng.random(n) < 0.1, np.inf, rng.normal(size=n)),
               np.where(rng.random(n) < 0.1, -np.inf, rng.integers(0, 3, n)),
               np.where(rng.random(n) < 0.5, -np.inf, np.inf),
               rng.normal(size=n) * 1e-40, np.r_[np.full(n - 1, 1.0), 2.0]]
    X = np.column_stack(columns).astype(dtype)
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:, 3][X[:, 3] == 0] = rng.choice([-0.0, 0.0], (X[:, 3] == 0).sum())
    for n_threads in (1, 2):
        thresholds, counts = bin_thresholds(X, max_bins, None, n_threads)
        for f in range(X.shape[1]):
            column = X[:, f].astype(np.float64)
            column = column[~np.isnan(column)]
            expected = hgb_binning_thresholds(column, max_bins) if len(column) else []
            assert counts[f] == len(expected), f
            assert_array_equal(thresholds[f, :counts[f]], expected)
            assert np.all(thresholds[f, counts[f]:] == np.inf)
    # the compiled core alone: NaN thresholds (from -inf and +inf) flagged, the other rows +inf
    quantiles = np.linspace(0, 100, num=max_bins + 1)[1:-1] / 100
    t, c = _cart.dense_bin_thresholds(X, np.array([0, 10], dtype=np.int64), max_bins,
                                      quantiles, 2)
    assert c[1] == 0 and np.all(t[1] == np.inf)
    assert c[10] == -1  # (-inf + inf) / 2
