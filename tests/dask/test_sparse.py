"""scipy.sparse partitions: ParallelPostFit, KMeans and the k-NN estimators give the results of
their dense (or single-machine sparse) counterparts."""
import numpy as np
from scipy import sparse
from sklearn.datasets import load_digits, load_iris

from fastml import cluster, neighbors
from fastml.dask import KMeans, KNeighborsClassifier, NearestNeighbors, ParallelPostFit
from fastml.naive_bayes import MultinomialNB

from .conftest import partitioned_sparse

SIZES = [500, 0, 797, 500]


def _digits(dtype=np.float64):
    X, y = load_digits(return_X_y=True)
    return X.astype(dtype), y


def test_parallel_post_fit_sparse_partitions(client):
    X, y = _digits()
    model = ParallelPostFit(MultinomialNB()).fit(sparse.csr_matrix(X), y)
    got = model.predict_proba(partitioned_sparse(X, SIZES))
    assert got.chunks[0] == tuple(SIZES)
    np.testing.assert_allclose(got.compute(), model.estimator_.predict_proba(X), rtol=1e-12)
    np.testing.assert_array_equal(model.predict(partitioned_sparse(X, SIZES)).compute(),
                                  model.estimator_.predict(X))


def test_kmeans_sparse_equals_dense_from_the_same_init(client, dtype):
    X = _digits(dtype)[0][:800]
    init = X[[0, 100, 200, 300, 400, 500]]
    local = cluster.KMeans(6, init=init, n_init=1).fit(sparse.csr_matrix(X))
    dist = KMeans(6, init=init).fit(partitioned_sparse(X, [300, 0, 200, 300]))
    np.testing.assert_array_equal(dist.labels_.compute(), local.labels_)
    assert dist.n_iter_ == local.n_iter_
    np.testing.assert_allclose(dist.cluster_centers_, local.cluster_centers_,
                               rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)
    np.testing.assert_array_equal(dist.predict(partitioned_sparse(X, [500, 300])).compute(),
                                  local.predict(X))
    # k-means|| seeding on sparse partitions: as good as the dense fit's
    seeded = KMeans(6, random_state=0).fit(partitioned_sparse(X, [400, 400]))
    dense = cluster.KMeans(6, random_state=0).fit(X)
    assert seeded.inertia_ < 1.1 * dense.inertia_


def test_neighbors_sparse_partitions(client):
    X, y = load_iris(return_X_y=True)
    local = neighbors.KNeighborsClassifier(5).fit(sparse.csr_matrix(X), y)
    dist = KNeighborsClassifier(5).fit(partitioned_sparse(X, [50, 0, 100]), y)
    np.testing.assert_array_equal(dist.kneighbors(sparse.csr_matrix(X))[1],
                                  local.kneighbors(X)[1])
    np.testing.assert_array_equal(dist.predict(partitioned_sparse(X, [70, 80])).compute(),
                                  local.predict(X))
    nn = NearestNeighbors(radius=0.5).fit(partitioned_sparse(X, [50, 100]))
    # against the single-machine sparse search (sparse and dense distances round apart at the
    # radius on iris's one-decimal values)
    expected = neighbors.NearestNeighbors(radius=0.5).fit(sparse.csr_matrix(X)).radius_neighbors(
        sparse.csr_matrix(X[:10]))[1]
    for g, e in zip(nn.radius_neighbors(sparse.csr_matrix(X[:10]))[1], expected):
        np.testing.assert_array_equal(g, e)
