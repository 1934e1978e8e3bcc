"""DBSCAN and dbscan (fastml.cluster) against scikit-learn and the brute-force reference
(fastml.reference.cluster_density): core samples, components and labels equal, label for label."""
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.cluster import DBSCAN as SklearnDBSCAN
from sklearn.cluster import dbscan as sklearn_dbscan
from sklearn.datasets import load_iris, load_wine, make_blobs
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from fastml.cluster import DBSCAN, _dbscan_fast, dbscan
from fastml.reference import cluster_density as reference
from tests._assertions import assert_same_message


def _assert_same(ours, theirs):
    assert_array_equal(ours.core_sample_indices_, theirs.core_sample_indices_)
    assert_array_equal(ours.labels_, theirs.labels_)
    assert ours.labels_.dtype == theirs.labels_.dtype
    assert ours.core_sample_indices_.dtype == theirs.core_sample_indices_.dtype
    if sparse.issparse(theirs.components_):
        assert_array_equal(ours.components_.toarray(), theirs.components_.toarray())
    else:
        assert_array_equal(ours.components_, theirs.components_)
        assert ours.components_.dtype == theirs.components_.dtype


def _blobs(n=600, d=3, seed=0):
    # several blobs, a band of noise and duplicates: many clusters, border points and ties
    X, _ = make_blobs(n, n_features=d, centers=8, cluster_std=0.6, random_state=seed)
    rng = np.random.default_rng(seed)
    noise = rng.uniform(X.min(), X.max(), size=(n // 5, d))
    return np.vstack([X, noise, X[:20]])


@pytest.mark.parametrize("metric,params", [
    ("euclidean", {}), ("manhattan", {}), ("chebyshev", {}), ("minkowski", {"p": 3}),
    ("sqeuclidean", {}), ("cityblock", {})])
@pytest.mark.parametrize("eps,min_samples", [(0.4, 5), (0.8, 12), (1.5, 1)])
def test_matches_scikit_learn_and_reference(metric, params, eps, min_samples, dtype):
    X = _blobs().astype(dtype)
    ours = DBSCAN(eps=eps, min_samples=min_samples, metric=metric, **params).fit(X)
    theirs = SklearnDBSCAN(eps=eps, min_samples=min_samples, metric=metric, **params).fit(X)
    _assert_same(ours, theirs)
    name = {"cityblock": "manhattan"}.get(metric, metric)
    core, labels = reference.dbscan(X, eps, min_samples, name, params.get("p", 2.0))
    assert_array_equal(ours.core_sample_indices_, core)
    assert_array_equal(ours.labels_, labels)


@pytest.mark.parametrize("load", [load_iris, load_wine])
@pytest.mark.parametrize("eps", [0.3, 0.6])
def test_real_data_dense_and_sparse(load, eps):
    X = load().data
    X = X / X.std(axis=0)
    for data in (X, sparse.csr_matrix(X)):
        _assert_same(DBSCAN(eps=eps, min_samples=4).fit(data),
                     SklearnDBSCAN(eps=eps, min_samples=4).fit(data))


def test_grid_pairs_at_exactly_eps():
    # distances of exactly eps (a grid) must count as neighbours, as in scikit-learn
    X = np.array([[i * 0.1, j * 0.1] for i in range(12) for j in range(12)])
    for eps in (0.1, 0.1 * np.sqrt(2), 0.2, 0.3):
        for min_samples in (3, 5, 6):
            _assert_same(DBSCAN(eps=eps, min_samples=min_samples).fit(X),
                         SklearnDBSCAN(eps=eps, min_samples=min_samples).fit(X))


def test_sample_weight():
    X = _blobs(300)
    rng = np.random.default_rng(1)
    for weights in (rng.integers(0, 4, len(X)), rng.uniform(-0.5, 3, len(X))):
        ours = DBSCAN(eps=0.5, min_samples=6).fit(X, sample_weight=weights)
        theirs = SklearnDBSCAN(eps=0.5, min_samples=6).fit(X, sample_weight=weights)
        _assert_same(ours, theirs)
        core, labels = reference.dbscan(X, 0.5, 6, sample_weight=weights)
        assert_array_equal(ours.labels_, labels)
    # a weight of min_samples makes a sample core by itself
    heavy = np.ones(len(X))
    heavy[-50:] = 6
    _assert_same(DBSCAN(eps=0.1, min_samples=6).fit(X, sample_weight=heavy),
                 SklearnDBSCAN(eps=0.1, min_samples=6).fit(X, sample_weight=heavy))


@pytest.mark.parametrize("metric", ["cosine", "hamming", "canberra", "correlation"])
def test_other_metrics_through_the_neighbourhood_graph(metric):
    X = _blobs(200, d=4) + 20
    if metric == "hamming":
        X = np.round(X / 4)
    eps = 0.01 if metric in ("cosine", "correlation") else 0.4
    _assert_same(DBSCAN(eps=eps, min_samples=4, metric=metric).fit(X),
                 SklearnDBSCAN(eps=eps, min_samples=4, metric=metric).fit(X))


@pytest.mark.parametrize("eps", [0.002, 0.01, 0.05, 1.0])
def test_cosine_on_real_data_with_zero_rows(eps, dtype):
    """Cosine runs on the compiled radius search of unit rows; wine's rows are far from the
    origin (small angles), and all-zero rows are at distance 1 of everything."""
    X = load_wine().data.astype(dtype)
    X[[3, 50, 51]] = 0
    _assert_same(DBSCAN(eps=eps, min_samples=5, metric="cosine").fit(X),
                 SklearnDBSCAN(eps=eps, min_samples=5, metric="cosine").fit(X))


def test_callable_metric_and_weighted_minkowski():
    X = _blobs(150)

    def l1(a, b):
        return np.abs(a - b).sum()

    _assert_same(DBSCAN(eps=0.6, min_samples=4, metric=l1).fit(X),
                 SklearnDBSCAN(eps=0.6, min_samples=4, metric=l1).fit(X))
    w = np.array([1.0, 2.0, 0.5])
    _assert_same(DBSCAN(eps=0.6, min_samples=4, metric="minkowski",
                        metric_params={"w": w}, p=2).fit(X),
                 SklearnDBSCAN(eps=0.6, min_samples=4, metric="minkowski",
                               metric_params={"w": w}, p=2).fit(X))


def test_precomputed_dense_and_sparse():
    X = _blobs(300)
    D = pairwise_distances(X)
    _assert_same(DBSCAN(eps=0.5, min_samples=5, metric="precomputed").fit(D),
                 SklearnDBSCAN(eps=0.5, min_samples=5, metric="precomputed").fit(D))
    # a sparse radius graph: its stored entries are the only neighbours
    G = NearestNeighbors(radius=0.7).fit(X).radius_neighbors_graph(X, mode="distance")
    for eps in (0.5, 0.7):
        _assert_same(DBSCAN(eps=eps, min_samples=5, metric="precomputed").fit(G),
                     SklearnDBSCAN(eps=eps, min_samples=5, metric="precomputed").fit(G))
    # an asymmetric graph (k nearest neighbours): scikit-learn's depth-first labelling
    K = NearestNeighbors(n_neighbors=6).fit(X).kneighbors_graph(X, mode="distance")
    _assert_same(DBSCAN(eps=0.6, min_samples=4, metric="precomputed").fit(K),
                 SklearnDBSCAN(eps=0.6, min_samples=4, metric="precomputed").fit(K))


def test_graph_labels_match_reference():
    rng = np.random.default_rng(0)
    n = 80
    A = sparse.random(n, n, density=0.05, random_state=0, format="csr")
    is_core = rng.random(n) < 0.5
    labels = np.empty(n, dtype=np.int64)
    indptr, indices = A.indptr.astype(np.int64), A.indices.astype(np.int64)
    n_clusters = _dbscan_fast.graph_labels(indptr, indices, is_core.astype(np.uint8), labels)
    expected = reference.label_neighbourhoods(np.split(indices, indptr[1:-1]), is_core)
    assert_array_equal(labels, expected)
    assert n_clusters == expected.max() + 1
    with pytest.raises(ValueError):
        _dbscan_fast.graph_labels(indptr, indices + n, is_core.astype(np.uint8), labels)


@pytest.mark.parametrize("bad", [dict(eps=0.0), dict(metric="cosine"), dict(n_threads=0),
                                 dict(X=np.array([[0.0, np.nan]] * 4)),
                                 dict(labels=np.empty(3, dtype=np.int64))])
def test_core_checks_its_arguments(bad):
    args = dict(X=np.zeros((4, 2)), metric="euclidean", eps=0.5,
                labels=np.empty(4, dtype=np.int64), n_threads=1)
    args.update(bad)
    with pytest.raises(ValueError):
        _dbscan_fast.fit(args["X"], args["metric"], 2.0, args["eps"], np.empty(0), 5.0,
                         np.empty(4, dtype=np.uint8), args["labels"], args["n_threads"])


def test_threads_input_layouts_and_pickle():
    X = _blobs(400)
    first = DBSCAN(eps=0.5, min_samples=5, n_jobs=1).fit(X)
    for n_jobs in (2, 3, -1):
        _assert_same(DBSCAN(eps=0.5, min_samples=5, n_jobs=n_jobs).fit(X), first)
    read_only = np.asfortranarray(X)
    read_only.flags.writeable = False
    _assert_same(DBSCAN(eps=0.5, min_samples=5).fit(read_only), first)
    _assert_same(pickle.loads(pickle.dumps(first)), first)
    assert_array_equal(DBSCAN(eps=0.5, min_samples=5).fit_predict(X), first.labels_)


def test_function_matches_scikit_learn():
    X = _blobs(200)
    weights = np.arange(len(X)) % 3
    ours = dbscan(X, 0.5, min_samples=4, sample_weight=weights)
    theirs = sklearn_dbscan(X, 0.5, min_samples=4, sample_weight=weights)
    for a, b in zip(ours, theirs):
        assert_array_equal(a, b)


def test_no_core_samples_and_all_noise():
    X = np.arange(20, dtype=float).reshape(10, 2) * 10
    ours = DBSCAN(eps=1, min_samples=2).fit(X)
    _assert_same(ours, SklearnDBSCAN(eps=1, min_samples=2).fit(X))
    assert ours.components_.shape == (0, 2)


@pytest.mark.parametrize("params", [dict(eps=0), dict(eps=-1), dict(min_samples=0),
                                    dict(min_samples=1.5), dict(metric="nope"),
                                    dict(algorithm="tree"), dict(leaf_size=0), dict(p=-1)])
def test_bad_parameters_raise_as_scikit_learn(params):
    X = _blobs(50)
    with pytest.raises(ValueError) as theirs:
        SklearnDBSCAN(**params).fit(X)
    with pytest.raises(ValueError) as ours:
        DBSCAN(**params).fit(X)
    assert_same_message(ours, theirs)


def test_bad_input_raises_as_scikit_learn():
    X = _blobs(50)
    X[3, 1] = np.nan
    for bad in (X, np.ones((3, 3, 3)), np.empty((0, 3))):
        with pytest.raises(ValueError) as theirs:
            SklearnDBSCAN().fit(bad)
        with pytest.raises(ValueError) as ours:
            DBSCAN().fit(bad)
        assert_same_message(ours, theirs)
    D = -pairwise_distances(_blobs(20))
    with pytest.raises(ValueError, match="Negative values"):
        DBSCAN(metric="precomputed").fit(D)
    with pytest.raises(ValueError):
        DBSCAN().fit(_blobs(20), sample_weight=np.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        DBSCAN(eps=0.5).fit(_blobs(40))
