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
    X, y = load_diabetes(return_X_y=True)
    with pytest.raises(NotImplementedError, match="absolute_error"):
        HistGradientBoostingRegressor(loss="absolute_error").fit(X, y)
    with pytest.raises(NotImplementedError, match="max_features"):
        HistGradientBoostingRegressor(max_features=0.5).fit(X, y)


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
