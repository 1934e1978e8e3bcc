"""The reference neighbour search against scikit-learn, so that the oracle can be trusted."""
import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

from fastml.reference import neighbors as reference

METRICS = [("euclidean", 2.0), ("manhattan", 2.0), ("chebyshev", 2.0), ("cosine", 2.0),
           ("minkowski", 3.0)]
METRIC_IDS = [m if m != "minkowski" else "minkowski-p3" for m, _ in METRICS]
LOADERS = [pytest.param(load_iris, id="iris"), pytest.param(load_wine, id="wine")]


def _assert_sorted_by_distance_then_index(distances, indices):
    d, i = distances, indices
    ordered = (d[:-1] < d[1:]) | ((d[:-1] == d[1:]) & (i[:-1] < i[1:]))
    assert ordered.all(), (distances, indices)


def _unambiguous(X_train, X_query, k, metric, p):
    """Queries whose k-th and (k+1)-th nearest training rows are clearly apart.

    Iris (one-decimal features) and wine (integer proline) have many exact distance ties, and
    scikit-learn leaves the order among tied neighbours unspecified, so where a tie straddles the
    k-th place the two may rightly pick different neighbours.
    """
    if k == len(X_train):
        return np.ones(len(X_query), dtype=bool)
    d, _ = reference.kneighbors(X_query, X_train, k + 1, metric, p)
    return d[:, k] - d[:, k - 1] > 1e-9 * d[:, k] + 1e-12


def _split(loader):
    """Even rows to train on, odd rows to query, so that no query is its own neighbour."""
    X, y = loader(return_X_y=True)
    return X[::2], y[::2], X[1::2]


@pytest.mark.parametrize("metric, p", METRICS, ids=METRIC_IDS)
def test_kneighbors_matches_sklearn(metric, p, dtype, rng):
    X = rng.normal(size=(40, 5)).astype(dtype)
    Y = rng.normal(size=(200, 5)).astype(dtype)
    k = 7
    distances, indices = reference.kneighbors(X, Y, k, metric, p)
    assert distances.dtype == np.float64 and indices.dtype == np.int64
    assert distances.shape == indices.shape == (len(X), k)
    # The reference computes in float64 whatever the input, so scikit-learn gets the same values
    # in float64 (in float32 it would round its distances to float32).
    nn = NearestNeighbors(n_neighbors=k, algorithm="brute", metric=metric, p=p)
    expected_distances, expected_indices = nn.fit(Y.astype(np.float64)).kneighbors(
        X.astype(np.float64))
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-10)


@pytest.mark.parametrize("metric, p", METRICS, ids=METRIC_IDS)
def test_radius_neighbors_matches_sklearn(metric, p, rng):
    X, Y = rng.normal(size=(40, 5)), rng.normal(size=(200, 5))
    nn = NearestNeighbors(algorithm="brute", metric=metric, p=p).fit(Y)
    # A radius small enough that some queries find nothing and others several rows.
    radius = np.quantile(nn.kneighbors(X, n_neighbors=3)[0][:, 2], 0.2)
    distances, indices = reference.radius_neighbors(X, Y, radius, metric, p)
    expected_distances, expected_indices = nn.radius_neighbors(X, radius)
    assert len(distances) == len(indices) == len(X)
    assert any(len(i) == 0 for i in indices) and any(len(i) > 1 for i in indices)
    for d, i, expected_d, expected_i in zip(distances, indices, expected_distances,
                                            expected_indices):
        assert d.dtype == np.float64 and i.dtype == np.int64
        _assert_sorted_by_distance_then_index(d, i)
        order = np.argsort(expected_i)
        np.testing.assert_array_equal(np.sort(i), expected_i[order])
        np.testing.assert_allclose(d[np.argsort(i)], expected_d[order], rtol=1e-10)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric, p", METRICS, ids=METRIC_IDS)
@pytest.mark.parametrize("loader", LOADERS)
def test_classify_matches_sklearn(loader, metric, p, weights):
    X_train, y_train, X_query = _split(loader)
    for k in (1, 5, 10):
        predicted = reference.kneighbors_classify(X_train, y_train, X_query, k, metric, p,
                                                  weights)
        expected = KNeighborsClassifier(k, algorithm="brute", metric=metric, p=p,
                                        weights=weights).fit(X_train, y_train).predict(X_query)
        clear = _unambiguous(X_train, X_query, k, metric, p)
        assert clear.sum() >= 10  # iris under chebyshev with k=10 keeps only 14 of 75
        np.testing.assert_array_equal(predicted[clear], expected[clear])


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric, p", METRICS, ids=METRIC_IDS)
@pytest.mark.parametrize("loader", LOADERS)
def test_regress_matches_sklearn(loader, metric, p, weights, rng):
    X_train, labels, X_query = _split(loader)
    # A noise column next to the label, so that picking any other neighbour shows.
    y_2d = np.column_stack([labels.astype(np.float64), rng.normal(size=len(labels))])
    for k in (1, 5, 10):
        clear = _unambiguous(X_train, X_query, k, metric, p)
        assert clear.sum() >= 10
        for y_train in (y_2d[:, 1], y_2d):
            predicted = reference.kneighbors_regress(X_train, y_train, X_query, k, metric, p,
                                                     weights)
            expected = KNeighborsRegressor(k, algorithm="brute", metric=metric, p=p,
                                           weights=weights).fit(X_train, y_train).predict(X_query)
            assert predicted.dtype == np.float64 and predicted.shape == expected.shape
            # atol: scikit-learn's euclidean and cosine distances come from dot products, whose
            # rounding moves the 1/d weights by ~1e-12 on wine's large features.
            np.testing.assert_allclose(predicted[clear], expected[clear], rtol=1e-10, atol=1e-10)


def test_distance_weights_match_sklearn_on_exact_matches(rng):
    # Manhattan distances are exact, so scikit-learn sees the same zeros the reference does.
    base = rng.normal(size=(30, 4))
    X_train = base[rng.integers(0, len(base), size=90)]  # many exact duplicates
    labels = rng.integers(0, 3, size=len(X_train))
    targets = rng.normal(size=len(X_train))
    k = 6
    clear = _unambiguous(X_train, base, k, "manhattan", 2.0)
    assert clear.sum() >= 10
    for reference_predict, estimator, y in [
            (reference.kneighbors_classify, KNeighborsClassifier, labels),
            (reference.kneighbors_regress, KNeighborsRegressor, targets)]:
        predicted = reference_predict(X_train, y, base, k, "manhattan", weights="distance")
        expected = estimator(k, algorithm="brute", metric="manhattan",
                             weights="distance").fit(X_train, y).predict(base)
        np.testing.assert_allclose(predicted[clear], expected[clear], rtol=1e-12)


def test_ties_go_to_the_lower_index():
    Y = np.array([[1.0, 0.0], [0.0, 0.0], [1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    X = np.zeros((1, 2))
    distances, indices = reference.kneighbors(X, Y, 2)
    np.testing.assert_array_equal(indices, [[1, 3]])
    np.testing.assert_array_equal(distances, [[0.0, 0.0]])
    distances, indices = reference.kneighbors(X, Y, 4)
    np.testing.assert_array_equal(indices, [[1, 3, 4, 0]])
    np.testing.assert_array_equal(distances, [[0.0, 0.0, 0.0, 1.0]])
    distances, indices = reference.radius_neighbors(X, Y, 1.0)
    np.testing.assert_array_equal(indices[0], [1, 3, 4, 0, 2])


@pytest.mark.parametrize("metric, p", METRICS, ids=METRIC_IDS)
def test_ties_among_duplicated_rows(metric, p, dtype, rng):
    base = rng.normal(size=(15, 4))
    Y = base[rng.integers(0, len(base), size=60)].astype(dtype)
    X = np.vstack([base[:5], rng.normal(size=(5, 4))]).astype(dtype)
    distances, indices = reference.kneighbors(X, Y, len(Y), metric, p)
    assert (distances[:, :-1] == distances[:, 1:]).any()
    for d, i in zip(distances, indices):
        _assert_sorted_by_distance_then_index(d, i)
        np.testing.assert_array_equal(np.sort(i), np.arange(len(Y)))
    # A smaller k cuts through tied groups, keeping the lowest indices of the last one.
    for k in (1, 3, 10, 30):
        d_k, i_k = reference.kneighbors(X, Y, k, metric, p)
        np.testing.assert_array_equal(i_k, indices[:, :k])
        np.testing.assert_array_equal(d_k, distances[:, :k])
    radius = np.median(distances)
    d_r, i_r = reference.radius_neighbors(X, Y, radius, metric, p)
    for row in range(len(X)):
        within = distances[row] <= radius
        np.testing.assert_array_equal(i_r[row], indices[row][within])
        np.testing.assert_array_equal(d_r[row], distances[row][within])


def test_k_equal_to_len_y_returns_every_row(rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    distances, indices = reference.kneighbors(X, Y, len(Y))
    assert distances.shape == indices.shape == (len(X), len(Y))
    expected_distances, expected_indices = NearestNeighbors(
        n_neighbors=len(Y), algorithm="brute").fit(Y).kneighbors(X)
    np.testing.assert_array_equal(indices, expected_indices)
    np.testing.assert_allclose(distances, expected_distances, rtol=1e-10)


@pytest.mark.parametrize("k", [0, 10])
def test_k_out_of_range_raises(k, rng):
    X, Y = rng.normal(size=(5, 3)), rng.normal(size=(9, 3))
    with pytest.raises(ValueError, match="k must satisfy"):
        reference.kneighbors(X, Y, k)
    with pytest.raises(ValueError, match="k must satisfy"):
        reference.kneighbors_classify(Y, np.arange(len(Y)), X, k)
    with pytest.raises(ValueError, match="k must satisfy"):
        reference.kneighbors_regress(Y, np.arange(len(Y)), X, k)


def test_distance_weights_let_only_exact_matches_vote():
    X_train = np.array([[0.0], [0.0], [1.0], [3.0]])
    X_query = np.array([[0.0]])
    labels = np.array([2, 1, 0, 0])
    # Uniform: one vote each for 2, 1 and 0, a tie that the smallest label wins.
    assert reference.kneighbors_classify(X_train, labels, X_query, 3)[0] == 0
    # Distance: only the two exact matches vote, a tie between 1 and 2.
    assert reference.kneighbors_classify(X_train, labels, X_query, 3,
                                         weights="distance")[0] == 1
    targets = np.array([1.0, 3.0, 100.0, 1000.0])
    np.testing.assert_array_equal(
        reference.kneighbors_regress(X_train, targets, X_query, 3, weights="distance"), [2.0])
    np.testing.assert_allclose(
        reference.kneighbors_regress(X_train, targets, X_query, 3), [104.0 / 3])


def test_distance_weights_are_inverse_distances():
    X_train = np.array([[1.0], [-2.0], [4.0]])
    targets = np.array([[3.0, 1.0], [6.0, 2.0], [100.0, 5.0]])
    predicted = reference.kneighbors_regress(X_train, targets, np.zeros((1, 1)), 2,
                                             weights="distance")
    # Weights 1 and 1/2.
    np.testing.assert_allclose(predicted, [[(3.0 + 3.0) / 1.5, (1.0 + 1.0) / 1.5]])
    labels = np.array([5, 7, 7])
    assert reference.kneighbors_classify(X_train, labels, np.zeros((1, 1)), 3,
                                         weights="distance")[0] == 5


def test_class_vote_ties_go_to_the_smallest_label():
    X_train = np.array([[0.0], [1.0]])
    X_query = np.array([[0.1]])
    # The nearer neighbour has the larger label; with two equal votes the smaller label wins.
    predicted = reference.kneighbors_classify(X_train, np.array(["b", "a"]), X_query, 2)
    np.testing.assert_array_equal(predicted, ["a"])


def test_bad_arguments_raise(rng):
    X = rng.normal(size=(6, 2))
    with pytest.raises(ValueError, match="weights"):
        reference.kneighbors_regress(X, np.arange(6.0), X, 2, weights="nope")
    with pytest.raises(ValueError, match="1-D"):
        reference.kneighbors_classify(X, np.zeros((6, 2)), X, 2)
