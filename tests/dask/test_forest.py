import pickle

import dask.array as da
import numpy as np
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
