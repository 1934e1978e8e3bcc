import pickle

import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

from fastml import ensemble
from fastml.dask import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from .conftest import partitioned


def _nodes(model):
    return [p.nodes for iteration in model._predictors for p in iteration]


def assert_same_trees(dist, local):
    a, b = _nodes(dist), _nodes(local)
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for name in ("feature_idx", "bin_threshold", "is_leaf", "missing_go_to_left", "left",
                     "right", "count"):
            np.testing.assert_array_equal(x[name], y[name])
        np.testing.assert_allclose(x["value"], y["value"], rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_regressor_same_trees_as_single_machine(client, dtype):
    X, y = load_diabetes(return_X_y=True)
    X = X.astype(dtype)
    X[::7, 2] = np.nan  # missing values sent either way
    params = dict(max_iter=5, max_leaf_nodes=8, min_samples_leaf=10, early_stopping=False)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [100, 0, 200, 142]),
                                                       da.from_array(y, chunks=100))
    assert_same_trees(dist, local)
    np.testing.assert_allclose(dist.predict(X), local.predict(X), rtol=1e-12)
    got = dist.predict(partitioned(X, [300, 142]))
    np.testing.assert_allclose(got.compute(), local.predict(X), rtol=1e-12)


def test_classifier_binary_and_multiclass(client):
    X, y = load_breast_cancer(return_X_y=True)
    cst = np.zeros(X.shape[1], dtype=int)
    cst[[0, 3]] = 1, -1
    params = dict(max_iter=3, max_depth=3, l2_regularization=0.5, monotonic_cst=cst,
                  early_stopping=False)
    w = np.random.default_rng(0).integers(1, 3, len(y)).astype(float)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(X, y, sample_weight=w)
    dist = HistGradientBoostingClassifier(**params).fit(partitioned(X, [250, 319]), y,
                                                        sample_weight=w)
    assert_same_trees(dist, local)
    np.testing.assert_allclose(dist.predict_proba(X), local.predict_proba(X), rtol=1e-10)
    X, y = load_iris(return_X_y=True)
    params = dict(max_iter=2, max_leaf_nodes=4, early_stopping=False)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(X, y)
    dist = HistGradientBoostingClassifier(**params).fit(partitioned(X, [60, 0, 90]), y)
    assert_same_trees(dist, local)
    proba = dist.predict_proba(partitioned(X, [75, 75])).compute()
    np.testing.assert_allclose(proba, local.predict_proba(X), rtol=1e-10)
    again = pickle.loads(pickle.dumps(dist))
    np.testing.assert_array_equal(again.predict(X), local.predict(X))


def test_bins_from_the_same_subsample(client, monkeypatch):
    # above the subsample size the thresholds come from the same drawn rows as on one machine
    from fastml.dask import _boosting
    from fastml.ensemble import _hist_gradient_boosting
    monkeypatch.setattr(_boosting, "_BIN_SUBSAMPLE", 100)
    monkeypatch.setattr(_hist_gradient_boosting, "_BIN_SUBSAMPLE", 100)
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=2, max_leaf_nodes=4, random_state=4, early_stopping=False)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [200, 242]), y)
    np.testing.assert_array_equal(dist._thresholds, local._thresholds)
    assert_same_trees(dist, local)


def test_unsupported(client):
    from sklearn._loss.loss import HalfSquaredError
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(NotImplementedError, match="a loss object"):
        HistGradientBoostingRegressor(loss=HalfSquaredError()).fit(X, y)


def test_default_leaves_same_trees(client):
    # 31 leaves: nodes sent to the shards in batches, some left leaves by max_leaf_nodes
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=3, min_samples_leaf=3, early_stopping=False)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [150, 292]), y)
    assert_same_trees(dist, local)
    assert all(p.get_n_leaf_nodes() == 31 for it in dist._predictors for p in it)
    np.testing.assert_allclose(dist.predict(X), local.predict(X), rtol=1e-12)


@pytest.mark.parametrize("cst", [[[0, 1], [2, 3, 4]], "pairwise", [{2}, {0, 5, 9}]])
def test_interaction_cst_same_trees(client, cst):
    # a node searches only the features of the groups that hold every feature split on above
    # it; features in no group form one more group (scikit-learn's rule)
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=2, max_leaf_nodes=8, interaction_cst=cst, early_stopping=False)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [150, 0, 292]), y)
    assert_same_trees(dist, local)
    unconstrained = ensemble.HistGradientBoostingRegressor(
        **{**params, "interaction_cst": None}).fit(X, y)
    assert len(_nodes(unconstrained)[0]) != len(_nodes(local)[0]) or any(
        (a["feature_idx"] != b["feature_idx"]).any()
        for a, b in zip(_nodes(unconstrained), _nodes(local)))


def test_warm_start_same_trees(client):
    # more iterations on the same rows: the shards start from the kept trees' predictions on
    # their bin codes, as the single-machine fit's do; the seeds are kept
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=1, max_leaf_nodes=5, early_stopping=False, warm_start=True,
                  random_state=3)
    w = np.random.default_rng(1).integers(1, 3, len(y)).astype(float)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, sample_weight=w)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [200, 0, 242]), y,
                                                       sample_weight=w)
    local.set_params(max_iter=3).fit(X, y, sample_weight=w)
    dist.set_params(max_iter=3).fit(partitioned(X, [300, 142]), y, sample_weight=w)
    assert dist.n_iter_ == 3
    assert_same_trees(dist, local)
    cold = ensemble.HistGradientBoostingRegressor(**{**params, "max_iter": 3}).fit(
        X, y, sample_weight=w)
    assert_same_trees(dist, cold)
    with pytest.raises(ValueError, match="max_iter=2 must be larger than or equal to"):
        dist.set_params(max_iter=2).fit(partitioned(X, [300, 142]), y, sample_weight=w)


def assert_same_scores(dist, local):
    assert dist.n_iter_ == local.n_iter_
    assert dist.do_early_stopping_ == local.do_early_stopping_
    for name in ("train_score_", "validation_score_"):
        a, b = getattr(dist, name), getattr(local, name)
        assert a.shape == b.shape
        # the loss is summed per partition: equal to the last bits only
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_early_stopping_on_the_loss(client):
    # the validation rows are the single machine's (its train_test_split, stratified for a
    # classifier); the fit stops at the same iteration with the same trees
    X, y = load_breast_cancer(return_X_y=True)
    params = dict(max_iter=40, max_leaf_nodes=4, learning_rate=0.5, early_stopping=True,
                  validation_fraction=0.3, n_iter_no_change=2, tol=1e-3, random_state=0)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(X, y)
    # one-row partitions: rows 3 and 5 are validation rows, alone in theirs
    dist = HistGradientBoostingClassifier(**params).fit(
        partitioned(X, [3, 1, 1, 1, 394, 0, 169]), y)
    assert 3 < local.n_iter_ < params["max_iter"]
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)
    # on the training loss (validation_fraction=None), weighted
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    params = dict(max_iter=30, max_leaf_nodes=6, learning_rate=0.3, early_stopping=True,
                  validation_fraction=None, n_iter_no_change=3, tol=100.0)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, sample_weight=w)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [250, 192]), y,
                                                       sample_weight=w)
    assert local.n_iter_ < params["max_iter"]
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


def _neg_mae(estimator, X, y):
    return -np.mean(np.abs(estimator.predict(X) - y))


@pytest.mark.parametrize("scoring", ["r2", _neg_mae])
def test_early_stopping_on_a_scorer(client, scoring):
    # 12,000 rows: early_stopping="auto" is on, and the scorer's training rows are
    # scikit-learn's subsample of 10,000; a callable predicts on the gathered bin codes
    rng = np.random.default_rng(0)
    X = rng.normal(size=(12_000, 3))
    y = X[:, 0] + np.sin(3 * X[:, 1]) + rng.normal(scale=0.5, size=len(X))
    params = dict(max_iter=12, max_leaf_nodes=8, learning_rate=1.0, scoring=scoring,
                  n_iter_no_change=2, tol=1e-2, random_state=1)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(
        partitioned(X, [5000, 0, 4000, 3000]), y)
    assert local.do_early_stopping_ and local.n_iter_ < params["max_iter"]
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


def test_early_stopping_scorer_classifier(client):
    X, y = load_iris(return_X_y=True)
    params = dict(max_iter=20, max_leaf_nodes=3, early_stopping=True, scoring="accuracy",
                  n_iter_no_change=2, validation_fraction=0.25, random_state=2)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(X, y)
    dist = HistGradientBoostingClassifier(**params).fit(partitioned(X, [40, 0, 110]), y)
    assert local.n_iter_ < params["max_iter"]
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


@pytest.mark.parametrize("loss", ["absolute_error", "quantile"])
def test_refitted_leaves_same_trees(client, loss):
    # each leaf's value is the weighted median / percentile of its rows' residuals, gathered
    # from the partitions
    X, y = load_diabetes(return_X_y=True)
    w = np.random.default_rng(2).integers(1, 4, len(y)).astype(float)
    params = dict(loss=loss, quantile=0.3 if loss == "quantile" else None, max_iter=3,
                  max_leaf_nodes=6, early_stopping=False)
    for weights in (None, w):
        local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, sample_weight=weights)
        dist = HistGradientBoostingRegressor(**params).fit(
            partitioned(X, [120, 0, 1, 321]), y, sample_weight=weights)
        assert_same_trees(dist, local)
        np.testing.assert_allclose(dist.predict(X), local.predict(X), rtol=1e-12)
    # the refitted values differ from the gradient steps' (so the test can fail)
    values = _nodes(dist)[0]["value"][_nodes(dist)[0]["is_leaf"] == 1]
    assert len(np.unique(values)) > 1
    # with validation rows held out: each leaf's rows in the single machine's (shuffled) order
    params.update(early_stopping=True, validation_fraction=0.25, n_iter_no_change=50,
                  random_state=3)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, sample_weight=w)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [200, 0, 242]), y,
                                                       sample_weight=w)
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


def test_max_features_same_draws(client):
    # the features a node searches come from the compiled core's stream, one per tree
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=3, max_leaf_nodes=8, max_features=0.3, early_stopping=False,
                  random_state=5)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [200, 0, 242]), y)
    assert_same_trees(dist, local)
    full = ensemble.HistGradientBoostingRegressor(**{**params, "max_features": 1.0}).fit(X, y)
    assert any((a["feature_idx"] != b["feature_idx"]).any() or len(a) != len(b)
               for a, b in zip(_nodes(full), _nodes(local)))
    # with interaction constraints, several trees per iteration, and early stopping
    X, y = load_iris(return_X_y=True)
    params = dict(max_iter=4, max_leaf_nodes=4, max_features=0.5, early_stopping=True,
                  n_iter_no_change=2, interaction_cst=[[0, 1], [2, 3]], random_state=1)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(X, y)
    dist = HistGradientBoostingClassifier(**params).fit(partitioned(X, [70, 0, 80]), y)
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


def test_early_stopping_warm_start(client):
    # a warm start keeps the split's seed: the same validation rows, the scores carried on
    X, y = load_diabetes(return_X_y=True)
    params = dict(max_iter=2, max_leaf_nodes=4, early_stopping=True, validation_fraction=0.2,
                  n_iter_no_change=50, warm_start=True, random_state=7)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [300, 142]), y)
    local.set_params(max_iter=4).fit(X, y)
    dist.set_params(max_iter=4).fit(partitioned(X, [100, 0, 342]), y)
    assert len(dist.validation_score_) == 5
    assert_same_scores(dist, local)
    assert_same_trees(dist, local)


def test_validation_data_given(client):
    # X_val's rows follow X's in partitions of their own: scored, never trained on
    X, y = load_breast_cancer(return_X_y=True)
    X_val, y_val, X, y = X[:150], y[:150], X[150:], y[150:]
    # weights on the validation rows only (the training rows' taken as ones on the cluster;
    # weighted training rows would bin through scikit-learn's slow weighted percentiles)
    w = np.random.default_rng(4).integers(1, 3, len(y_val)).astype(float)
    for scoring in ("loss", "accuracy"):
        params = dict(max_iter=30, max_leaf_nodes=4, learning_rate=1.0, scoring=scoring,
                      early_stopping=True, n_iter_no_change=2, tol=1e-3)
        local = ensemble.HistGradientBoostingClassifier(**params).fit(
            X, y, X_val=X_val, y_val=y_val, sample_weight_val=w)
        dist = HistGradientBoostingClassifier(**params).fit(
            partitioned(X, [200, 219]), y, X_val=partitioned(X_val, [100, 0, 50]), y_val=y_val,
            sample_weight_val=w)
        assert local.n_iter_ < params["max_iter"]
        assert_same_scores(dist, local)
        assert_same_trees(dist, local)
    with pytest.raises(ValueError, match="early_stopping is False"):
        HistGradientBoostingClassifier(early_stopping=False).fit(X, y, X_val=X_val, y_val=y_val)
    with pytest.raises(ValueError, match="y_val was not provided"):
        HistGradientBoostingClassifier().fit(X, y, X_val=X_val)
