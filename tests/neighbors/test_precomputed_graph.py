"""metric="precomputed" with a sparse distance graph, as KNeighborsTransformer and
radius_neighbors_graph make them: the stored entries are the candidates (an explicit 0 is a
distance of 0), queries as scikit-learn answers them, its errors for DOK/BSR graphs and for rows
with too few entries."""
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import neighbors as sk
from sklearn.datasets import load_iris

from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors


def _graphs():
    X, y = load_iris(return_X_y=True)
    transformer = sk.KNeighborsTransformer(n_neighbors=10, mode="distance").fit(X[::2])
    # the training graph; queries' graphs against the training rows
    return transformer.transform(X[::2]), transformer.transform(X[1::2]), y[::2]


@pytest.mark.parametrize("query", ["train", "new"])
def test_kneighbors_and_radius_equal_scikit_learn(query):
    G, Q, _ = _graphs()
    q = None if query == "train" else Q
    ours = NearestNeighbors(n_neighbors=6, radius=0.4, metric="precomputed").fit(G)
    theirs = sk.NearestNeighbors(n_neighbors=6, radius=0.4, metric="precomputed").fit(G)
    for a, b in zip(ours.kneighbors(q), theirs.kneighbors(q)):
        assert_array_equal(a, b)
    for sort_results in (False, True):
        dist, ind = ours.radius_neighbors(q, sort_results=sort_results)
        sk_dist, sk_ind = theirs.radius_neighbors(q, sort_results=sort_results)
        for a, b, c, d in zip(dist, sk_dist, ind, sk_ind):
            assert_allclose(a, b)
            assert_array_equal(c, d)
    for mode in ("connectivity", "distance"):
        assert (ours.radius_neighbors_graph(q, mode=mode)
                != theirs.radius_neighbors_graph(q, mode=mode)).nnz == 0
        assert (ours.kneighbors_graph(q, mode=mode) != theirs.kneighbors_graph(q, mode=mode)).nnz == 0


def test_explicit_zeros_are_neighbours_at_distance_zero():
    G = sp.csr_matrix((np.array([0.0, 2.0, 0.0, 1.0, 3.0, 0.5]), np.array([1, 2, 0, 2, 0, 1]),
                       np.array([0, 2, 4, 6])), shape=(3, 3))
    dist, ind = NearestNeighbors(n_neighbors=1, metric="precomputed").fit(G).kneighbors(G)
    assert_array_equal(ind.ravel(), [1, 0, 1])
    assert_array_equal(dist.ravel(), [0.0, 0.0, 0.5])


def test_estimators_predict_as_scikit_learn():
    G, Q, y = _graphs()
    for ours, theirs in ((KNeighborsClassifier, sk.KNeighborsClassifier),
                         (KNeighborsRegressor, sk.KNeighborsRegressor)):
        a = ours(n_neighbors=5, metric="precomputed", weights="distance").fit(G, y)
        b = theirs(n_neighbors=5, metric="precomputed", weights="distance").fit(G, y)
        assert_allclose(a.predict(Q), b.predict(Q))


def test_bad_graphs_raise_as_scikit_learn():
    G, _, _ = _graphs()
    for form in ("dok", "bsr"):
        with pytest.raises(TypeError, match=f"Sparse matrix in '{form}' format is not supported"):
            NearestNeighbors(metric="precomputed").fit(G.asformat(form))
    # 11 entries a row (KNeighborsTransformer stores each point's own 0 too); a self query asks
    # for one more neighbour
    with pytest.raises(ValueError, match="12 neighbors per samples are required, but some "
                                         "samples have only 11"):
        NearestNeighbors(n_neighbors=11, metric="precomputed").fit(G).kneighbors()
    negative = G.copy()
    negative.data[3] = -1.0
    with pytest.raises(ValueError, match="Negative values in data"):
        NearestNeighbors(metric="precomputed").fit(negative)
