import pickle

import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes

from fastml import ensemble
from fastml.dask import RandomForestClassifier, RandomForestRegressor

from .conftest import partitioned


def test_classifier_equals_single_machine(client):
    X, y = load_breast_cancer(return_X_y=True)
    local = ensemble.RandomForestClassifier(12, max_depth=6, random_state=3).fit(X, y)
    dist = RandomForestClassifier(12, max_depth=6, random_state=3, n_tasks=3).fit(
        partitioned(X, [200, 0, 369]), da.from_array(y, chunks=100))
    assert len(dist.estimators_) == 12
    np.testing.assert_array_equal(dist.predict_proba(X), local.predict_proba(X))
    np.testing.assert_array_equal(dist.feature_importances_, local.feature_importances_)
    again = pickle.loads(pickle.dumps(dist))
    np.testing.assert_array_equal(again.predict(X), local.predict(X))


def test_regressor_equals_single_machine(client):
    X, y = load_diabetes(return_X_y=True)
    rs = np.random.RandomState(5)
    local = ensemble.RandomForestRegressor(7, random_state=np.random.RandomState(5)).fit(X, y)
    dist = RandomForestRegressor(7, random_state=rs, n_tasks=2).fit(X, y)
    np.testing.assert_array_equal(dist.predict(X), local.predict(X))
    assert dist.get_params()["n_tasks"] == 2


def test_sample_weight_as_dask_array(client):
    X, y = load_breast_cancer(return_X_y=True)
    w = np.random.default_rng(0).integers(1, 4, len(y)).astype(float)
    local = ensemble.RandomForestClassifier(6, random_state=1).fit(X, y, sample_weight=w)
    dist = RandomForestClassifier(6, random_state=1, n_tasks=2).fit(
        partitioned(X, [300, 269]), y, sample_weight=da.from_array(w, chunks=100))
    np.testing.assert_array_equal(dist.predict_proba(X), local.predict_proba(X))


def test_local_grows_each_share_on_its_partition(client):
    X, y = load_breast_cancer(return_X_y=True)
    sizes = [200, 0, 369]
    dist = RandomForestClassifier(6, max_depth=5, random_state=2, local=True).fit(
        partitioned(X, sizes), da.from_array(y, chunks=100))
    assert len(dist.estimators_) == 6 and dist.get_params()["local"] is True
    # trees 0-2 from the first partition's rows, 3-5 from the last's, with the stream's seeds
    first = ensemble.RandomForestClassifier(6, max_depth=5, random_state=2).fit(X[:200], y[:200])
    last = ensemble.RandomForestClassifier(6, max_depth=5, random_state=2).fit(X[200:], y[200:])
    for got, expected in zip(dist.estimators_, first.estimators_[:3] + last.estimators_[3:]):
        np.testing.assert_array_equal(got.predict_proba(X), expected.predict_proba(X))
    proba = np.mean([e.predict_proba(X) for e in first.estimators_[:3] + last.estimators_[3:]],
                    axis=0)
    np.testing.assert_allclose(dist.predict_proba(X), proba)
    with pytest.raises(ValueError, match="every class"):
        RandomForestClassifier(2, local=True).fit(partitioned(X, [100, 469]),
                                                  np.r_[np.zeros(100), y[100:]])


@pytest.mark.parametrize("local", [False, True])
def test_warm_start_grows_the_single_machines_trees(client, local):
    X, y = load_breast_cancer(return_X_y=True)
    Xd = partitioned(X, [300, 269])
    dist = RandomForestClassifier(4, max_depth=4, random_state=7, local=local).fit(Xd, y)
    first = list(dist.estimators_)
    dist.set_params(n_estimators=9, warm_start=True).fit(Xd, y)
    assert len(dist.estimators_) == 9 and dist.estimators_[:4] == first
    if local:  # the new trees 4-8 shared between the partitions: 4-5 on the first's rows
        on_rows = [ensemble.RandomForestClassifier(9, max_depth=4, random_state=7).fit(
            X[rows], y[rows]).estimators_ for rows in (slice(0, 300), slice(300, None))]
        expected = on_rows[0][4:6] + on_rows[1][6:]
    else:  # the single machine's forest grown at once
        expected = ensemble.RandomForestClassifier(9, max_depth=4, random_state=7).fit(
            X, y).estimators_[4:]
    for got, tree in zip(dist.estimators_[4:], expected):
        np.testing.assert_array_equal(got.predict_proba(X), tree.predict_proba(X))
    with pytest.warns(UserWarning, match="without increasing n_estimators"):
        dist.fit(Xd, y)
    with pytest.raises(ValueError, match="must be larger or equal"):
        dist.set_params(n_estimators=3).fit(Xd, y)


def test_oob_score_sums_every_tasks_trees(client):
    X, y = load_breast_cancer(return_X_y=True)
    local = ensemble.RandomForestClassifier(10, max_depth=5, random_state=4,
                                            oob_score=True).fit(X, y)
    dist = RandomForestClassifier(10, max_depth=5, random_state=4, oob_score=True,
                                  n_tasks=3).fit(partitioned(X, [300, 269]), y)
    assert dist.oob_score_ == local.oob_score_
    np.testing.assert_allclose(dist.oob_decision_function_, local.oob_decision_function_,
                               rtol=1e-12)
    Xr, yr = load_diabetes(return_X_y=True)
    local = ensemble.RandomForestRegressor(6, random_state=1, oob_score=True).fit(Xr, yr)
    dist = RandomForestRegressor(6, random_state=1, oob_score=True, n_tasks=2).fit(Xr, yr)
    np.testing.assert_allclose(dist.oob_prediction_, local.oob_prediction_, rtol=1e-12)
    np.testing.assert_allclose(dist.oob_score_, local.oob_score_, rtol=1e-12)
    # a warm start: the kept trees' sums too
    warm = RandomForestRegressor(3, random_state=1, oob_score=True, n_tasks=2).fit(Xr, yr)
    warm.set_params(n_estimators=6, warm_start=True).fit(Xr, yr)
    np.testing.assert_allclose(warm.oob_prediction_, local.oob_prediction_, rtol=1e-12)
    with pytest.raises(NotImplementedError, match="oob_score"):
        RandomForestClassifier(4, oob_score=True, local=True).fit(partitioned(X, [300, 269]), y)

