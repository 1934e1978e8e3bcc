"""The reference k-means against scikit-learn, so that the oracle can be trusted."""
import numpy as np
import pytest
from sklearn.cluster import KMeans
from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus
from sklearn.datasets import load_iris, make_blobs
from sklearn.metrics import silhouette_samples as sklearn_silhouette_samples

from fastml.reference import kmeans as reference


def _blobs(n_samples, n_features, n_clusters, seed):
    X, _ = make_blobs(n_samples=n_samples, n_features=n_features, centers=n_clusters,
                      cluster_std=0.5, random_state=seed)
    return X


def _uniform(n_samples, n_features, seed):
    return np.random.default_rng(seed).uniform(size=(n_samples, n_features))


def _sklearn_lloyd(X, centers_init, sample_weight, max_iter, tol):
    km = KMeans(n_clusters=len(centers_init), init=centers_init, n_init=1, algorithm="lloyd",
                max_iter=max_iter, tol=tol)
    return km.fit(X, sample_weight=sample_weight)


# ---------------------------------------------------------------------------------------------
# k-means++

@pytest.mark.parametrize("shape", [(50, 2), (300, 5), (1000, 16)])
@pytest.mark.parametrize("n_clusters", [1, 2, 7, 40])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_kmeans_plusplus_matches_sklearn(shape, n_clusters, weighted):
    rng = np.random.default_rng(shape[0] + n_clusters)
    X = rng.normal(size=shape)
    w = rng.uniform(0.1, 3.0, size=shape[0]) if weighted else None
    for seed in (0, 1, 42):
        centers, indices = reference.kmeans_plusplus(X, n_clusters, sample_weight=w,
                                                     random_state=seed)
        expected_centers, expected_indices = sklearn_kmeans_plusplus(
            X, n_clusters, random_state=seed, sample_weight=w)
        assert centers.dtype == np.float64 and indices.dtype == np.int64
        assert centers.shape == (n_clusters, shape[1]) and indices.shape == (n_clusters,)
        np.testing.assert_array_equal(indices, expected_indices)
        np.testing.assert_array_equal(centers, X[indices])
        np.testing.assert_array_equal(centers, expected_centers)
        assert len(np.unique(indices)) == n_clusters


@pytest.mark.parametrize("n_local_trials", [1, 3, 10])
def test_kmeans_plusplus_n_local_trials_matches_sklearn(n_local_trials):
    rng = np.random.default_rng(n_local_trials)
    X = rng.normal(size=(300, 5))
    w = rng.uniform(0.1, 3.0, size=300)
    results = set()
    for seed in range(5):
        _, indices = reference.kmeans_plusplus(X, 7, sample_weight=w, random_state=seed,
                                               n_local_trials=n_local_trials)
        _, expected = sklearn_kmeans_plusplus(X, 7, random_state=seed, sample_weight=w,
                                              n_local_trials=n_local_trials)
        np.testing.assert_array_equal(indices, expected)
        results.add(tuple(indices))
    # Different seeds really pick different centers, so the comparison is not vacuous.
    assert len(results) > 1


def test_kmeans_plusplus_random_state_instance_consumes_same_stream():
    X = np.random.default_rng(3).normal(size=(200, 3))
    ours, theirs = np.random.RandomState(7), np.random.RandomState(7)
    for _ in range(3):
        _, indices = reference.kmeans_plusplus(X, 5, random_state=ours)
        _, expected = sklearn_kmeans_plusplus(X, 5, random_state=theirs)
        np.testing.assert_array_equal(indices, expected)
    # Both generators have drawn the same numbers, so they are in the same state.
    assert ours.uniform() == theirs.uniform()


def test_kmeans_plusplus_zero_weight_is_never_chosen():
    X = np.arange(20, dtype=np.float64).reshape(10, 2)
    w = np.ones(10)
    w[[0, 9]] = 0.0  # the two extreme points, which k-means++ would otherwise favour
    for seed in range(10):
        _, indices = reference.kmeans_plusplus(X, 3, sample_weight=w, random_state=seed)
        assert 0 not in indices and 9 not in indices


def test_kmeans_plusplus_too_many_clusters():
    with pytest.raises(ValueError, match="n_samples=3 should be >= n_clusters=4"):
        reference.kmeans_plusplus(np.zeros((3, 2)), 4)


# ---------------------------------------------------------------------------------------------
# Lloyd iterations

DATASETS = [
    pytest.param(lambda: _blobs(400, 3, 5, seed=0), 5, id="blobs"),
    pytest.param(lambda: _uniform(300, 4, seed=1), 6, id="uniform"),
]


@pytest.mark.parametrize("make_X, n_clusters", DATASETS)
@pytest.mark.parametrize("max_iter, tol", [(1, 0.0), (2, 0.0), (5, 0.0), (300, 0.0),
                                           (300, 1e-4), (300, 1e-2)])
@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_kmeans_matches_sklearn(make_X, n_clusters, max_iter, tol, weighted):
    X = make_X()
    rng = np.random.default_rng(n_clusters)
    w = rng.uniform(0.1, 3.0, size=len(X)) if weighted else None
    # Deliberately poor initial centers (the first rows), so that it takes several iterations.
    centers_init = X[:n_clusters].copy()
    labels, inertia, centers, n_iter = reference.kmeans(
        X, centers_init, sample_weight=w, max_iter=max_iter,
        tol=reference.tolerance(X, tol, sample_weight=w))
    expected = _sklearn_lloyd(X, centers_init, w, max_iter, tol)
    assert labels.dtype == np.int32 and centers.dtype == np.float64
    assert isinstance(inertia, float)
    np.testing.assert_array_equal(labels, expected.labels_)
    # scikit-learn works on the data minus its mean, hence the tolerance.
    np.testing.assert_allclose(centers, expected.cluster_centers_, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(inertia, expected.inertia_, rtol=1e-10)
    assert n_iter == expected.n_iter_
    assert n_iter <= max_iter
    if max_iter == 300 and tol == 0.0:
        # Converged strictly: the labels are a fixed point of the iteration.
        assert n_iter < max_iter
        next_labels, next_centers, _ = reference.lloyd_iteration(X, centers, w)
        np.testing.assert_array_equal(next_labels, labels)
        np.testing.assert_allclose(next_centers, centers, rtol=1e-12, atol=1e-12)


def test_kmeans_takes_several_iterations_and_stops_early():
    """The comparisons above cover both stopping rules and the max_iter cut-off."""
    X = _uniform(300, 4, seed=1)
    init = X[:6].copy()
    n_iter_strict = reference.kmeans(X, init, max_iter=300)[3]
    n_iter_tol = reference.kmeans(X, init, max_iter=300, tol=reference.tolerance(X, 1e-2))[3]
    assert 5 < n_iter_strict < 300
    assert 1 <= n_iter_tol < n_iter_strict
    assert reference.kmeans(X, init, max_iter=2)[3] == 2


def test_kmeans_labels_match_final_centers():
    """When it stops before strict convergence, the labels are those of the final centers."""
    X = _uniform(300, 4, seed=1)
    init = X[:6].copy()
    for max_iter in (1, 2, 5):
        labels, inertia, centers, _ = reference.kmeans(X, init, max_iter=max_iter)
        np.testing.assert_array_equal(labels, reference.assign(X, centers))
        assert inertia == reference.inertia(X, centers, labels)
    # One iteration moves the centers to the weighted means of the first assignment.
    _, new_centers, _ = reference.lloyd_iteration(X, init)
    np.testing.assert_array_equal(reference.kmeans(X, init, max_iter=1)[2], new_centers)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_lloyd_iteration_matches_sklearn_core(weighted):
    # scikit-learn's compiled iteration itself (private API), for the labels and center shifts
    # that KMeans does not expose.
    from sklearn.cluster._k_means_lloyd import lloyd_iter_chunked_dense

    X = _blobs(200, 3, 4, seed=5)
    rng = np.random.default_rng(1)
    w = rng.uniform(0.1, 3.0, size=len(X)) if weighted else np.ones(len(X))
    centers = X[[0, 1, 2, 3, 4]].copy()
    centers[4] = 1e3  # far from everything: empty, relocated
    labels, new_centers, center_shift = reference.lloyd_iteration(
        X, centers, w if weighted else None)

    sk_centers_new = np.zeros_like(centers)
    sk_weight = np.zeros(len(centers))
    sk_labels = np.full(len(X), -1, dtype=np.int32)
    sk_shift = np.zeros(len(centers))
    lloyd_iter_chunked_dense(X, w, centers, sk_centers_new, sk_weight, sk_labels, sk_shift, 1)
    assert labels.dtype == np.int32
    assert new_centers.dtype == center_shift.dtype == np.float64
    assert (labels != 4).all()  # relocation does not change the labels
    np.testing.assert_array_equal(labels, sk_labels)
    np.testing.assert_allclose(new_centers, sk_centers_new, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(center_shift, sk_shift, rtol=1e-12, atol=1e-12)
    # The empty cluster took a data point.
    assert (X == new_centers[4]).all(axis=1).any()


# X = 0, 1, 3, 10 (one feature); the centers 1 and 100 leave cluster 1 empty, all points going to
# center 0 at squared distances 1, 0, 4, 81 from it.
RELOCATION_X = np.array([[0.0], [1.0], [3.0], [10.0]])


def test_relocation_by_hand():
    labels, new_centers, shift = reference.lloyd_iteration(RELOCATION_X, [[1.0], [100.0]])
    # Cluster 1 takes the farthest point, x = 10; cluster 0 keeps 0, 1, 3: (0 + 1 + 3) / 3.
    np.testing.assert_array_equal(labels, [0, 0, 0, 0])
    np.testing.assert_allclose(new_centers, [[4.0 / 3.0], [10.0]], rtol=1e-15)
    np.testing.assert_allclose(shift, [1.0 / 3.0, 90.0], rtol=1e-15)


def test_relocation_by_hand_weighted():
    w = [1.0, 2.0, 1.0, 0.5]
    labels, new_centers, shift = reference.lloyd_iteration(RELOCATION_X, [[1.0], [100.0]], w)
    # Cluster 0: (1*0 + 2*1 + 1*3 + 0.5*10 - 0.5*10) / (4.5 - 0.5) = 5 / 4; cluster 1: 0.5*10/0.5.
    np.testing.assert_array_equal(labels, [0, 0, 0, 0])
    np.testing.assert_allclose(new_centers, [[1.25], [10.0]], rtol=1e-15)
    np.testing.assert_allclose(shift, [0.25, 90.0], rtol=1e-15)


def test_relocation_by_hand_two_empty_clusters():
    labels, new_centers, shift = reference.lloyd_iteration(RELOCATION_X,
                                                           [[1.0], [100.0], [-100.0]])
    # Cluster 1 takes the farthest point (10), cluster 2 the next (3); cluster 0 keeps 0 and 1.
    np.testing.assert_array_equal(labels, [0, 0, 0, 0])
    np.testing.assert_allclose(new_centers, [[0.5], [10.0], [3.0]], rtol=1e-15)
    np.testing.assert_allclose(shift, [0.5, 90.0, 103.0], rtol=1e-15)


def test_relocation_tie_goes_to_lowest_index():
    # Points 0 and 3 are both at squared distance 4 from the center 2 (the farthest), so the
    # single empty cluster takes point 0.
    X = np.array([[0.0], [2.0], [3.0], [4.0]])
    _, new_centers, _ = reference.lloyd_iteration(X, [[2.0], [50.0]])
    np.testing.assert_allclose(new_centers, [[3.0], [0.0]], rtol=1e-15)


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "weighted"])
def test_relocation_matches_sklearn(weighted):
    w = np.array([1.0, 2.0, 1.0, 0.5]) if weighted else None
    expected = _sklearn_lloyd(RELOCATION_X, np.array([[1.0], [100.0]]), w, max_iter=1, tol=0.0)
    labels, inertia, centers, n_iter = reference.kmeans(RELOCATION_X, [[1.0], [100.0]], w,
                                                        max_iter=1)
    np.testing.assert_allclose(centers, [[1.25], [10.0]] if weighted else [[4.0 / 3.0], [10.0]],
                               rtol=1e-15)
    np.testing.assert_allclose(centers, expected.cluster_centers_, rtol=1e-12)
    # Labels for the final centers: 0, 1, 3 nearer 4/3 (or 1.25), 10 nearer 10.
    np.testing.assert_array_equal(labels, [0, 0, 0, 1])
    np.testing.assert_array_equal(labels, expected.labels_)
    np.testing.assert_allclose(inertia, expected.inertia_, rtol=1e-12)
    assert n_iter == expected.n_iter_ == 1


def test_relocation_two_empty_matches_sklearn():
    init = np.array([[1.0], [100.0], [-100.0]])
    expected = _sklearn_lloyd(RELOCATION_X, init, None, max_iter=1, tol=0.0)
    centers = reference.kmeans(RELOCATION_X, init, max_iter=1)[2]
    # scikit-learn takes the two farthest points via np.argpartition, which leaves their order
    # unspecified; cluster 0 is the same either way, and the relocated pair as a set.
    np.testing.assert_allclose(centers[0], expected.cluster_centers_[0], rtol=1e-12)
    np.testing.assert_allclose(np.sort(centers[1:, 0]), np.sort(expected.cluster_centers_[1:, 0]),
                               rtol=1e-12)


# ---------------------------------------------------------------------------------------------
# assign, inertia, tolerance

def test_assign_ties_go_to_lowest_index():
    X = np.array([[0.0, 0.0], [1.0, 0.0], [5.0, 5.0], [2.0, 0.0]])
    # Centers 0 and 2 coincide; x = (1, 0) is equally far from (0, 0) and (2, 0).
    centers = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 0.0], [5.0, 5.0], [5.0, 5.0]])
    labels = reference.assign(X, centers)
    assert labels.dtype == np.int32
    np.testing.assert_array_equal(labels, [0, 0, 3, 1])


def test_inertia_by_hand():
    X = np.array([[0.0, 0.0], [1.0, 2.0], [4.0, 4.0]])
    centers = np.array([[0.0, 1.0], [3.0, 3.0]])
    labels = np.array([0, 0, 1])
    # Squared distances 1, 1 + 1 = 2, 1 + 1 = 2.
    assert reference.inertia(X, centers, labels) == 5.0
    assert reference.inertia(X, centers, labels, sample_weight=[2.0, 0.5, 3.0]) == 2 + 1 + 6


def test_tolerance_matches_sklearn_formula():
    X = _uniform(100, 3, seed=0)
    assert reference.tolerance(X, 0.0) == 0.0
    # Variances of the features, averaged, times tol; the weights play no part.
    expected = np.mean(np.var(X, axis=0)) * 1e-4
    assert reference.tolerance(X, 1e-4) == expected
    assert reference.tolerance(X, 1e-4, sample_weight=np.arange(100.0)) == expected
    assert reference.tolerance([[0.0], [2.0]], 0.5) == 0.5  # variance 1


# ---------------------------------------------------------------------------------------------
# silhouette

SILHOUETTE_DATA = [
    pytest.param(lambda: load_iris(return_X_y=True), id="iris"),
    pytest.param(lambda: make_blobs(n_samples=120, n_features=4, centers=4, random_state=3),
                 id="blobs"),
]


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("load", SILHOUETTE_DATA)
def test_silhouette_samples_matches_sklearn(load, metric):
    X, y = load()
    s = reference.silhouette_samples(X, y, metric)
    assert s.dtype == np.float64 and s.shape == (len(X),)
    np.testing.assert_allclose(s, sklearn_silhouette_samples(X, y, metric=metric),
                               rtol=1e-10, atol=1e-12)
    assert (s >= -1).all() and (s <= 1).all()
    # A singleton cluster: its point scores 0, and the others change.
    y_single = np.array(y, copy=True)
    y_single[7] = 99
    s_single = reference.silhouette_samples(X, y_single, metric)
    assert s_single[7] == 0.0
    np.testing.assert_allclose(s_single, sklearn_silhouette_samples(X, y_single, metric=metric),
                               rtol=1e-10, atol=1e-12)


def test_silhouette_samples_by_hand():
    X = np.array([[0.0], [1.0], [5.0], [7.0]])
    s = reference.silhouette_samples(X, ["a", "a", "b", "b"])
    # Point 0: a = 1, b = (5 + 7) / 2 = 6, s = 5 / 6; point 2: a = 2, b = (5 + 4) / 2, s = 2.5/4.5.
    np.testing.assert_allclose(s, [5 / 6, (5 - 1) / 5, 2.5 / 4.5, (6.5 - 2) / 6.5], rtol=1e-15)


@pytest.mark.parametrize("labels, n_labels", [([0, 0, 0, 0], 1), ([0, 1, 2, 3], 4)])
def test_silhouette_samples_number_of_labels(labels, n_labels):
    X = np.arange(8.0).reshape(4, 2)
    with pytest.raises(ValueError, match=f"Number of labels is {n_labels}. Valid values are 2 "
                                         r"to n_samples - 1 \(inclusive\)"):
        reference.silhouette_samples(X, labels)
    with pytest.raises(ValueError, match=f"Number of labels is {n_labels}"):
        sklearn_silhouette_samples(X, labels)


@pytest.mark.parametrize("fmt", ["csr", "csc", "coo"])
def test_sparse_x_is_the_dense_matrix_it_stands_for(fmt):
    """The reference takes sparse X (so that the CSR core can be tested against it) and
    gives what it gives for the same matrix dense, also to scikit-learn's sparse tolerance."""
    import scipy.sparse as sp
    from sklearn.cluster._kmeans import _tolerance

    X = sp.random(60, 9, density=0.3, format=fmt, random_state=0)
    Xd = X.toarray()
    w = np.linspace(0.5, 2.0, 60)
    init = Xd[[1, 5, 9]]
    for a, b in [(reference.kmeans_plusplus(X, 4, sample_weight=w, random_state=0),
                  reference.kmeans_plusplus(Xd, 4, sample_weight=w, random_state=0)),
                 (reference.lloyd_iteration(X, init, w), reference.lloyd_iteration(Xd, init, w)),
                 (reference.kmeans(X, init, w), reference.kmeans(Xd, init, w))]:
        for x, y in zip(a, b):
            np.testing.assert_array_equal(x, y)
    labels = reference.assign(X, init)
    np.testing.assert_array_equal(labels, reference.assign(Xd, init))
    assert reference.inertia(X, init, labels, w) == reference.inertia(Xd, init, labels, w)
    assert reference.tolerance(X, 1e-4) == reference.tolerance(Xd, 1e-4)
    np.testing.assert_allclose(reference.tolerance(X, 1e-4), _tolerance(X.tocsr(), 1e-4),
                               rtol=1e-12)
