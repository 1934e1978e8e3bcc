import pickle

import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import load_diabetes, load_iris, load_wine

from fastml import neighbors
from fastml.dask import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from .conftest import partitioned

TRAIN_SIZES = [50, 0, 30, 70]


def test_kneighbors_equal_single_machine(client, dtype):
    X = load_wine().data.astype(dtype)
    train, queries = X[:150], X[150:]
    local = neighbors.NearestNeighbors(n_neighbors=4).fit(train)
    dist = NearestNeighbors(n_neighbors=4).fit(partitioned(train, TRAIN_SIZES))
    expected = local.kneighbors(queries)
    got = dist.kneighbors(queries)  # NumPy queries: NumPy results
    np.testing.assert_array_equal(got[1], expected[1])
    np.testing.assert_array_equal(got[0], expected[0])
    got = dist.kneighbors(partitioned(queries, [10, 0, 18]))  # dask queries: dask results
    assert got[0].dtype == expected[0].dtype
    np.testing.assert_array_equal(got[1].compute(), expected[1])


def test_ties_go_to_the_lower_global_index(client):
    X = np.repeat(np.arange(10.0)[:, None], 3, axis=0)  # every row three times
    local = neighbors.NearestNeighbors(n_neighbors=5).fit(X)
    dist = NearestNeighbors(n_neighbors=5).fit(partitioned(X, [4, 11, 0, 15]))
    np.testing.assert_array_equal(dist.kneighbors(X[::4])[1], local.kneighbors(X[::4])[1])
    # the training set itself, each row without itself
    np.testing.assert_array_equal(dist.kneighbors()[1].compute(), local.kneighbors()[1])


def test_classifier_and_regressor(client):
    X, y = load_iris(return_X_y=True)
    for weights in ("uniform", "distance"):
        local = neighbors.KNeighborsClassifier(7, weights=weights).fit(X, y)
        dist = KNeighborsClassifier(7, weights=weights).fit(
            partitioned(X, TRAIN_SIZES), da.from_array(y, chunks=30))
        np.testing.assert_array_equal(dist.predict(X), local.predict(X))
        np.testing.assert_array_equal(dist.predict_proba(partitioned(X, [100, 50])).compute(),
                                      local.predict_proba(X))
        assert dist.score(X, y) == local.score(X, y)
    X, y = load_diabetes(return_X_y=True)
    local = neighbors.KNeighborsRegressor(5).fit(X, y)
    dist = KNeighborsRegressor(5).fit(partitioned(X, [200, 242]), y)
    np.testing.assert_allclose(dist.predict(partitioned(X, [442])).compute(), local.predict(X))


def test_pickle_gathers_the_partitions(client):
    X, y = load_iris(return_X_y=True)
    model = KNeighborsClassifier(3).fit(partitioned(X, TRAIN_SIZES), y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(again.kneighbors()[1].compute(), model.kneighbors()[1].compute())


def test_errors(client):
    X = load_iris().data
    model = NearestNeighbors(n_neighbors=3).fit(partitioned(X, [150]))
    with pytest.raises(ValueError, match="n_neighbors <= n_samples_fit"):
        model.kneighbors(X, n_neighbors=151)
    with pytest.raises(ValueError, match="features"):
        model.kneighbors(X[:, :2])


@pytest.mark.parametrize("sort_results", [False, True])
def test_radius_neighbors_equal_single_machine(client, sort_results):
    X = np.repeat(load_iris().data[::3], 2, axis=0)  # duplicates: equal distances
    local = neighbors.NearestNeighbors(radius=0.6).fit(X)
    dist = NearestNeighbors(radius=0.6).fit(partitioned(X, [30, 0, 40, 30]))
    for queries in (X[::5], partitioned(X[::5], [7, 0, 13]), None):
        got = dist.radius_neighbors(queries, sort_results=sort_results)
        expected = local.radius_neighbors(None if queries is None else X[::5],
                                          sort_results=sort_results)
        assert len(got[1]) == len(expected[1])
        for g, e in zip(got[1], expected[1]):
            np.testing.assert_array_equal(g, e)
        for g, e in zip(got[0], expected[0]):
            np.testing.assert_allclose(g, e, rtol=1e-12)
    graph = dist.radius_neighbors_graph(X[:20], radius=0.3, mode="distance")
    expected = local.radius_neighbors_graph(X[:20], radius=0.3, mode="distance")
    assert graph.shape == expected.shape
    np.testing.assert_allclose(graph.toarray(), expected.toarray())
    ind = dist.radius_neighbors(X[:4], return_distance=False)
    for g, e in zip(ind, local.radius_neighbors(X[:4], return_distance=False)):
        np.testing.assert_array_equal(g, e)
