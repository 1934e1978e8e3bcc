import pickle

import dask
import dask.array as da
import numpy as np
import pytest
from sklearn.datasets import load_digits, load_iris

from fastml.cluster import KMeans
from fastml.dask import ParallelPostFit
from fastml.ensemble import RandomForestClassifier
from fastml.naive_bayes import GaussianNB
from fastml.neighbors import NearestNeighbors

from .conftest import partitioned

SIZES = [40, 0, 7, 103]  # unequal, one empty


@pytest.mark.parametrize("method", ["predict", "predict_proba", "predict_log_proba"])
def test_classifier_methods_equal_in_process(client, method):
    X, y = load_iris(return_X_y=True)
    wrapped = ParallelPostFit(GaussianNB()).fit(X, y)
    expected = getattr(wrapped.estimator_, method)(X)
    result = getattr(wrapped, method)(partitioned(X, SIZES))
    assert isinstance(result, da.Array)
    assert result.chunks[0] == tuple(SIZES)
    assert result.dtype == expected.dtype
    np.testing.assert_array_equal(result.compute(), expected)


def test_transform_and_score_of_a_fitted_clusterer(client):
    X = load_digits().data.astype(np.float32)
    model = KMeans(5, random_state=0).fit(X)
    wrapped = ParallelPostFit(model)  # already fitted: no fit needed
    Xd = partitioned(X, [500, 0, 1297])
    distances = wrapped.transform(Xd)
    assert distances.dtype == np.float32
    np.testing.assert_allclose(distances.compute(), model.transform(X), rtol=1e-6)
    np.testing.assert_allclose(wrapped.score(Xd), model.score(X), rtol=1e-6)


def test_score_of_a_classifier_and_scoring(client):
    X, y = load_iris(return_X_y=True)
    wrapped = ParallelPostFit(RandomForestClassifier(10, random_state=0)).fit(X, y)
    Xd, yd = partitioned(X, SIZES), da.from_array(y, chunks=(tuple(SIZES),))
    assert wrapped.score(Xd, yd) == wrapped.estimator_.score(X, y)
    wrapped.set_params(scoring="accuracy")
    assert wrapped.score(Xd, yd) == wrapped.estimator_.score(X, y)


def test_kneighbors_and_dataframe(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = load_iris().data
    model = NearestNeighbors(n_neighbors=3).fit(X)
    dist, ind = ParallelPostFit(model).kneighbors(partitioned(X, SIZES))
    expected = model.kneighbors(X)
    np.testing.assert_array_equal(ind.compute(), expected[1])
    np.testing.assert_array_equal(dist.compute(), expected[0])
    table = pd.DataFrame(X, columns=list("abcd"))
    gnb = GaussianNB().fit(table, load_iris().target)  # with feature names
    result = ParallelPostFit(gnb).predict(dd.from_pandas(table, npartitions=3))
    np.testing.assert_array_equal(result.compute(), gnb.predict(table))


def test_numpy_input_goes_straight_through_and_pickles():
    X, y = load_iris(return_X_y=True)
    wrapped = ParallelPostFit(GaussianNB()).fit(X, y)
    np.testing.assert_array_equal(wrapped.predict(X), wrapped.estimator_.predict(X))
    again = pickle.loads(pickle.dumps(wrapped))
    np.testing.assert_array_equal(again.predict(X), wrapped.predict(X))


def test_a_lazily_generated_array(client):
    """Blocks that dask may fuse differently in each graph (a random array cast)."""
    import dask.array as da
    X = da.random.RandomState(0).random_sample((300, 4), chunks=(70, 4)).astype(np.float32)
    model = NearestNeighbors(n_neighbors=2).fit(X[:100].compute())
    dist, ind = ParallelPostFit(model).kneighbors(X)
    pred = ParallelPostFit(GaussianNB().fit(X[:100].compute(), np.arange(100) % 3)).predict(X)
    assert pred.compute().shape == (300,)
    np.testing.assert_array_equal(ind.compute(), model.kneighbors(X.compute())[1])


def test_local_scheduler_without_client():
    X, y = load_iris(return_X_y=True)
    wrapped = ParallelPostFit(GaussianNB()).fit(X, y)
    with dask.config.set(scheduler="threads"):
        result = wrapped.predict(partitioned(X, SIZES)).compute()
    np.testing.assert_array_equal(result, wrapped.estimator_.predict(X))


def test_tasks_cap_their_threads(client):
    """Two single-thread workers in this 2-core-or-more process: each task gets its share."""
    from fastml._backend import available_cpus, effective_n_threads
    share = client.submit(effective_n_threads, pure=False).result()
    assert share == max(1, min(effective_n_threads(), available_cpus() // 2))
