import pickle

import dask.array as da
import numpy as np
import pytest
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import load_digits, load_iris, load_wine

from fastml import cluster
from fastml.dask import KMeans

from .conftest import partitioned, partitioned_sparse


def _digits(dtype):
    return load_digits().data.astype(dtype)


def test_lloyd_equals_single_machine_from_the_same_init(client, dtype):
    X = _digits(dtype)
    init = X[[0, 100, 200, 300, 400, 500, 600, 700]]
    local = cluster.KMeans(8, init=init, n_init=1).fit(X)
    dist = KMeans(8, init=init).fit(partitioned(X, [300, 0, 1000, 497]))
    np.testing.assert_array_equal(dist.labels_.compute(), local.labels_)
    assert dist.n_iter_ == local.n_iter_
    assert dist.cluster_centers_.dtype == dtype
    np.testing.assert_allclose(dist.cluster_centers_, local.cluster_centers_,
                               rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)
    np.testing.assert_allclose(dist.inertia_, local.inertia_, rtol=1e-5)


def test_kmeans_parallel_matches_single_machine_quality(client):
    X = _digits(np.float64)
    Xd = partitioned(X, [600, 600, 597])
    # k-means|| and k-means++ seed differently and reach different local optima: compare the
    # mean inertia over a few seeds (on digits, single runs of either spread over ~7%)
    seeds = range(4)
    dist = [KMeans(10, random_state=s).fit(Xd) for s in seeds]
    local = np.mean([cluster.KMeans(10, random_state=s).fit(X).inertia_ for s in seeds])
    sk = np.mean([SklearnKMeans(10, random_state=s).fit(X).inertia_ for s in seeds])
    assert np.mean([d.inertia_ for d in dist]) <= 1.05 * min(local, sk)
    np.testing.assert_allclose(dist[0].score(X), -dist[0].inertia_, rtol=1e-9)


def test_same_clusters_for_any_partitioning(client):
    X = load_iris().data
    fits = [KMeans(3, random_state=7).fit(partitioned(X, sizes))
            for sizes in ([150], [50, 0, 50, 50], [13, 97, 40])]
    for other in fits[1:]:
        np.testing.assert_allclose(other.cluster_centers_, fits[0].cluster_centers_,
                                   rtol=1e-12)
        np.testing.assert_array_equal(other.labels_.compute(), fits[0].labels_.compute())


def test_sample_weight_and_numpy_input(client):
    X = load_iris().data
    w = np.random.default_rng(0).integers(1, 4, len(X)).astype(np.float64)
    init = X[[0, 50, 100]]
    local = cluster.KMeans(3, init=init, n_init=1).fit(X, sample_weight=w)
    dist = KMeans(3, init=init, chunks=40).fit(X, sample_weight=w)
    assert isinstance(dist.labels_, np.ndarray)  # NumPy in, NumPy labels
    np.testing.assert_array_equal(dist.labels_, local.labels_)
    np.testing.assert_allclose(dist.inertia_, local.inertia_, rtol=1e-10)
    np.testing.assert_array_equal(dist.predict(X), local.predict(X))
    pred = dist.predict(da.from_array(X, chunks=60))
    np.testing.assert_array_equal(pred.compute(), local.predict(X))


def test_pickle(client):
    X = load_iris().data
    model = KMeans(3, random_state=0).fit(partitioned(X, [75, 75]))
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    np.testing.assert_array_equal(np.asarray(again.labels_), model.labels_.compute())


def test_errors(client):
    X = load_iris().data
    with pytest.raises(ValueError, match="should be >= n_clusters"):
        KMeans(200).fit(partitioned(X, [150]))
    with pytest.raises(ValueError, match="shape of the initial centers"):
        KMeans(3, init=X[:2]).fit(partitioned(X, [150]))


def test_dataframe_input(client):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X = load_iris().data
    init = X[[0, 50, 100]]
    frame = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=3)
    dist = KMeans(3, init=init).fit(frame)
    local = cluster.KMeans(3, init=init, n_init=1).fit(X)
    np.testing.assert_array_equal(dist.labels_.compute(), local.labels_)


def test_merged_moments_equal_numpy():
    from fastml.dask._kmeans import _column_moments, _merge_moments
    X = np.random.default_rng(0).normal(loc=1e4, size=(100, 3))
    parts = [_column_moments(X[a:b]) for a, b in ((0, 10), (10, 10), (10, 73), (73, 100))]
    mean, var = _merge_moments(parts)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-13)
    np.testing.assert_allclose(var, X.var(axis=0), rtol=1e-9)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_round_that_draws_no_row_keeps_the_distances(sparse_input):
    # A k-means|| round may draw no row at all (a small partition, a small oversampling
    # factor); the next distance update then has no new candidate to weigh.
    from scipy import sparse
    from fastml.dask._kmeans import _update_min_distance
    X = np.random.default_rng(0).normal(size=(7, 3))
    first = _update_min_distance(sparse.csr_matrix(X) if sparse_input else X, None, X[:1])
    np.testing.assert_allclose(first, ((X - X[0]) ** 2).sum(axis=1), atol=1e-12)
    after = _update_min_distance(sparse.csr_matrix(X) if sparse_input else X, first,
                                 np.empty((0, 3)))
    np.testing.assert_array_equal(after, first)


@pytest.mark.parametrize("load, k, sizes", [(load_iris, 3, [1, 0, 74, 75]),
                                            (load_wine, 4, [178]),
                                            (load_digits, 6, [600, 1, 0, 1196])])
def test_kmeans_plusplus_equals_single_machine(client, dtype, load, k, sizes):
    # Greedy k-means++ on the cluster draws as the single-machine KMeans: the same seeds, so
    # the same clusters (empty and one-row partitions included)
    X = load().data.astype(dtype)
    for seed in ((0, 1) if k < 5 else (0,)):
        local = cluster.KMeans(k, random_state=seed).fit(X)
        dist = KMeans(k, init="k-means++", random_state=seed).fit(partitioned(X, sizes))
        np.testing.assert_array_equal(dist.labels_.compute(), local.labels_)
        assert dist.n_iter_ == local.n_iter_
        np.testing.assert_allclose(dist.cluster_centers_, local.cluster_centers_,
                                   rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


@pytest.mark.parametrize("sparse_input", [False, True])
def test_kmeans_plusplus_seeds_with_weights(client, sparse_input):
    from scipy import sparse
    from fastml.cluster._kmeans import _seed_indices
    from fastml.dask._kmeans import _blocks_with_offsets
    from fastml.cluster._kmeans import default_n_local_trials as n_local_trials
    from fastml.dask._kmeans_pp import seed
    X = load_digits().data
    w = np.random.default_rng(0).integers(0, 4, len(X)).astype(np.float64)  # zeros included
    if not sparse_input:
        X = X - X.mean(axis=0)
    local = sparse.csr_matrix(X) if sparse_input else X
    Xd = partitioned_sparse(X, [700, 0, 1097]) if sparse_input else partitioned(X, [700, 0, 1097])
    blocks = _blocks_with_offsets(Xd, da.from_array(w, chunks=(Xd.chunks[0],)))
    for k in (2, 6):
        rng = np.random.RandomState(k)
        expected = _seed_indices(local, k, w, rng, None, 1)
        rng = np.random.RandomState(k)
        first = int(rng.choice(len(X), p=w / w.sum()))
        uniforms = rng.uniform(size=(k - 1, n_local_trials(k)))
        indices, rows = seed(blocks, Xd.chunks[0], first, X[first:first + 1], uniforms)
        np.testing.assert_array_equal(indices, expected)
        np.testing.assert_array_equal(rows, X[expected])
        assert w[indices].min() > 0
    fit = KMeans(6, init="k-means++", random_state=0).fit(Xd, sample_weight=w)
    local_fit = cluster.KMeans(6, random_state=0).fit(local, sample_weight=w)
    np.testing.assert_array_equal(fit.labels_.compute(), local_fit.labels_)


@pytest.mark.parametrize("sparse_input", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sq_distances_both_forms(sparse_input, dtype):
    # the one dot-product distance of both seedings: k-means|| takes each row's nearest in X's
    # dtype, k-means++ every candidate's (candidates x rows) in float64
    from scipy import sparse
    from fastml.dask._kmeans_pp import sq_distances
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 4)).astype(dtype)
    X[X < 0] = 0
    C = np.vstack([X[3], rng.normal(size=(2, 4))]).astype(dtype)
    expected = ((X[None, :, :].astype(np.float64) - C[:, None, :]) ** 2).sum(axis=2)
    Xin = sparse.csr_matrix(X) if sparse_input else X
    every = sq_distances(Xin, C, np.float64)
    assert every.dtype == np.float64 and every.shape == (3, 50)
    np.testing.assert_allclose(every, expected, rtol=1e-12, atol=1e-12)
    nearest = sq_distances(Xin, C, dtype, nearest=True)
    assert nearest.dtype == dtype and nearest.shape == (50,)
    np.testing.assert_allclose(nearest, expected.min(axis=0), rtol=1e-5, atol=1e-5)
    assert nearest[3] == 0  # clipped at 0 where rounding leaves a small negative


def test_kmeans_plusplus_lost_state_raises():
    # a partition's state recomputed after its worker died holds the first center only: a
    # later call says so rather than draw from the wrong distances
    from fastml.dask._kmeans_pp import _Seeding, _score
    X = load_iris().data
    state = _Seeding(0, X, None, 0, X[:1])
    _score(state, 1, None, [[(0, 5, X[5:6])]], 1)
    _score(state, 2, 0, [[(0, 9, X[9:10])]], 1)  # the first winner taken in
    assert state.centers == 2
    with pytest.raises(RuntimeError, match="holds 1 centers, not 3"):
        _score(_Seeding(0, X, None, 0, X[:1]), 3, 0, [[(0, 9, X[9:10])]], 1)


def test_kmeans_plusplus_draw_plan():
    from fastml.dask._kmeans_pp import plan_draws
    # partitions of potential 2, 0 (empty), 0 (rows at distance 0) and 3; a draw lands on the
    # first partition whose cumulative potential reaches it, empty ones skipped, and a draw past
    # the total (rounding) on the last row of the last non-empty partition
    plan = plan_draws([2.0, 0.0, 0.0, 3.0], [0.0, 0.4, 0.5, 1.0], [4, 0, 2, 3])
    assert plan == {0: [(0, 0.0, 0.0), (1, 2.0, 0.0)], 3: [(2, 2.5, 2.0), (3, 5.0, 2.0)]}
    plan = plan_draws([2.0, 1.0], [1.0 + 1e-15], [4, 3])
    assert plan == {1: [(0, None, 2.0)]}


@pytest.mark.parametrize("init", ["k-means||", "k-means++"])
def test_weights_with_empty_and_zero_weight_partitions(client, init):
    # dask's cumsum dropped the rows after an empty first partition (k-means|| drew its first
    # center from an empty array), and a partition whose weights are all zero made the final
    # inertia fail scikit-learn's all-zero sample_weight check
    X = load_iris().data
    w = np.ones(len(X))
    w[50:60] = 0
    sizes = [0, 50, 10, 0, 1, 89]
    dist = KMeans(3, init=init, random_state=0).fit(partitioned(X, sizes), sample_weight=w)
    local = cluster.KMeans(3, init=dist.cluster_centers_, n_init=1).fit(X, sample_weight=w)
    np.testing.assert_allclose(dist.inertia_, local.inertia_, rtol=1e-9)
    np.testing.assert_array_equal(dist.labels_.compute(), local.labels_)
    np.testing.assert_allclose(dist.score(partitioned(X, sizes), sample_weight=w),
                               -dist.inertia_, rtol=1e-9)
