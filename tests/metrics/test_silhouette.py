"""fastml.metrics.silhouette_samples / silhouette_score against scikit-learn and the NumPy
reference."""
import functools
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import metrics as sk
from sklearn.cluster import KMeans as SklearnKMeans
from sklearn.datasets import load_digits, load_iris, make_blobs
from threadpoolctl import threadpool_limits

from fastml.metrics import silhouette_samples, silhouette_score
from fastml.reference import kmeans as reference


@pytest.fixture(autouse=True)
def _one_thread_by_default():
    """scikit-learn and fastml load separate OpenMP runtimes, whose idle threads spin while the
    other works: under pytest -n on few cores that multiplies run times."""
    with threadpool_limits(limits=1):
        yield


def _iris():
    return load_iris(return_X_y=True)


def _digits():
    return load_digits(return_X_y=True)


def _blobs():
    return make_blobs(n_samples=333, n_features=5, centers=4, cluster_std=2.0, random_state=0)


@functools.cache
def _data(name, labelling):
    X, y = {"iris": _iris, "digits": _digits, "blobs": _blobs}[name]()
    if labelling == "kmeans":
        y = SklearnKMeans(len(np.unique(y)), n_init=1, random_state=0).fit_predict(X)
    return X, y


DATA = [("iris", "true"), ("iris", "kmeans"), ("digits", "true"), ("digits", "kmeans"),
        ("blobs", "true")]
METRICS = ["euclidean", "manhattan", "cosine", "sqeuclidean", "chebyshev"]
# Relative accuracy against scikit-learn by input dtype; atol for coefficients near zero (float32
# distances are rounded to about 1e-7 of the largest ones).
TOLERANCE = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-12)}


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name, labelling", DATA, ids=lambda v: v)
def test_samples_match_sklearn(name, labelling, metric, dtype):
    X, y = _data(name, labelling)
    X = X.astype(dtype)
    s = silhouette_samples(X, y, metric=metric)
    assert s.dtype == np.float64 and s.shape == (len(X),)
    assert (s >= -1).all() and (s <= 1).all()
    # The exact coefficients of these data: scikit-learn in float64 (its float32 cosine
    # distances lose about 1e-5 to cancellation on iris, fastml's do not).
    expected = sk.silhouette_samples(X.astype(np.float64), y, metric=metric)
    assert_allclose(s, expected, **TOLERANCE[dtype])
    if dtype == np.float32:
        assert_allclose(s, sk.silhouette_samples(X, y, metric=metric), rtol=1e-4, atol=1e-4)
    score = silhouette_score(X, y, metric=metric)
    assert isinstance(score, float)
    assert score == pytest.approx(expected.mean(), rel=TOLERANCE[dtype]["rtol"],
                                  abs=TOLERANCE[dtype]["atol"])
    assert score == pytest.approx(s.mean(), rel=1e-12)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
@pytest.mark.parametrize("name", ["iris", "blobs"])
def test_samples_match_reference(name, metric):
    X, y = _data(name, "true")
    assert_allclose(silhouette_samples(X, y, metric=metric),
                    reference.silhouette_samples(X, y, metric), rtol=1e-10, atol=1e-12)


def test_by_hand():
    X = np.array([[0.0], [1.0], [5.0], [7.0]])
    # Point 0: a = 1, b = (5 + 7) / 2 = 6; point 2: a = 2, b = (5 + 4) / 2 = 4.5.
    assert_allclose(silhouette_samples(X, ["a", "a", "b", "b"]),
                    [5 / 6, (5 - 1) / 5, 2.5 / 4.5, (6.5 - 2) / 6.5], rtol=1e-15)
    assert silhouette_score(X, [0, 0, 1, 1]) == pytest.approx(
        np.mean([5 / 6, 4 / 5, 2.5 / 4.5, 4.5 / 6.5]), rel=1e-15)


@pytest.mark.parametrize("name, labelling", [("iris", "true"), ("digits", "kmeans")],
                         ids=lambda v: v)
def test_precomputed_distances(name, labelling, dtype):
    X, y = _data(name, labelling)
    X = X.astype(dtype)
    for metric in ("euclidean", "manhattan"):
        D = sk.pairwise_distances(X, metric=metric).astype(dtype)
        s = silhouette_samples(D, y, metric="precomputed")
        # The same distances summed in float64 (scikit-learn rounds its float32 result).
        assert_allclose(s, sk.silhouette_samples(D, y, metric="precomputed"), **TOLERANCE[dtype])
        assert_allclose(s, silhouette_samples(X, y, metric=metric), **TOLERANCE[dtype])
        assert silhouette_score(D, y, metric="precomputed") == pytest.approx(s.mean(), rel=1e-12)


def test_precomputed_sparse_distances():
    # scikit-learn accepts a sparse (CSR) precomputed distance matrix; so must a drop-in.
    X, y = _data("iris", "true")
    D = sparse.csr_matrix(sk.pairwise_distances(X))
    expected = sk.silhouette_samples(D, y, metric="precomputed")
    assert_allclose(silhouette_samples(D, y, metric="precomputed"), expected, rtol=1e-10,
                    atol=1e-12)


def test_sparse_data_matches_dense():
    X, y = _data("digits", "true")
    expected = sk.silhouette_samples(X, y)
    assert_allclose(silhouette_samples(sparse.csr_matrix(X), y), expected, rtol=1e-10,
                    atol=1e-12)


def test_labels_of_any_type(rng):
    X, y = _data("blobs", "true")
    expected = silhouette_samples(X, y)
    names = np.array(["north", "south", "east", "west"])
    assert_array_equal(silhouette_samples(X, names[y]), expected)
    assert_array_equal(silhouette_samples(X, list(names[y])), expected)
    assert_array_equal(silhouette_samples(X, y * 10 - 7), expected)  # negative, not contiguous
    assert_allclose(silhouette_samples(X, names[y]), sk.silhouette_samples(X, names[y]),
                    rtol=1e-10, atol=1e-12)
    # Permuting the samples permutes the coefficients.
    order = rng.permutation(len(X))
    assert_allclose(silhouette_samples(X[order], y[order]), expected[order], rtol=1e-12,
                    atol=1e-15)


@pytest.mark.parametrize("metric", ["euclidean", "manhattan"])
def test_singleton_cluster_scores_zero(metric):
    X, y = _data("iris", "true")
    y = y.copy()
    y[[7, 120]] = [5, 6]  # two clusters of one
    s = silhouette_samples(X, y, metric=metric)
    assert s[7] == 0.0 and s[120] == 0.0
    assert_allclose(s, sk.silhouette_samples(X, y, metric=metric), rtol=1e-10, atol=1e-12)
    assert_allclose(s, reference.silhouette_samples(X, y, metric), rtol=1e-10, atol=1e-12)


def test_duplicates_across_clusters_score_zero():
    # a = b = 0: 0 / 0 is taken as 0, as scikit-learn does.
    X = np.array([[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [3.0, 1.0]])
    y = [0, 0, 1, 1, 1]
    s = silhouette_samples(X, y)
    assert np.isfinite(s).all()
    assert_allclose(s, sk.silhouette_samples(X, y), rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("metric", ["euclidean", "precomputed"])
def test_sample_size_draws_like_sklearn(metric):
    X, y = _data("digits", "true")
    if metric == "precomputed":
        X = sk.pairwise_distances(X)
    results = set()
    for random_state in (0, 1, 42):
        for sample_size in (50, 300):
            ours = silhouette_score(X, y, metric=metric, sample_size=sample_size,
                                    random_state=random_state)
            theirs = sk.silhouette_score(X, y, metric=metric, sample_size=sample_size,
                                         random_state=random_state)
            assert ours == pytest.approx(theirs, rel=1e-10)
            results.add(round(ours, 12))
    assert len(results) == 6  # the subsets really differ
    # A RandomState instance draws from its stream as scikit-learn does.
    ours = silhouette_score(X, y, metric=metric, sample_size=100,
                            random_state=np.random.RandomState(3))
    theirs = sk.silhouette_score(X, y, metric=metric, sample_size=100,
                                 random_state=np.random.RandomState(3))
    assert ours == pytest.approx(theirs, rel=1e-10)


@pytest.mark.parametrize("metric", ["euclidean", "cosine", "precomputed"])
def test_small_working_memory_gives_the_same_answer(metric):
    X, y = _data("digits", "kmeans")
    if metric == "precomputed":
        X = sk.pairwise_distances(X)
    expected = silhouette_samples(X, y, metric=metric)
    # 0.05 MiB: three rows of 1797 distances per chunk, some 600 chunks.
    assert_allclose(silhouette_samples(X, y, metric=metric, working_memory=0.05), expected,
                    rtol=1e-12, atol=1e-15)
    # Less than one row: one row per chunk, with scikit-learn's warning.
    with pytest.warns(UserWarning, match="Could not adhere to working_memory"):
        small = silhouette_samples(X[:600], y[:600], metric=metric if metric != "precomputed"
                                   else "euclidean", working_memory=0.001)
    assert_allclose(small, silhouette_samples(X[:600], y[:600], metric=metric
                                              if metric != "precomputed" else "euclidean"),
                    rtol=1e-12, atol=1e-15)
    assert_allclose(expected, sk.silhouette_samples(X, y, metric=metric), rtol=1e-10,
                    atol=1e-12)


def test_thread_count_does_not_change_results():
    X, y = _data("digits", "kmeans")
    results = [silhouette_samples(X, y, n_jobs=n_jobs) for n_jobs in (1, 2, 3)]
    assert results[0].tobytes() == results[1].tobytes() == results[2].tobytes()


def test_number_of_labels_is_checked():
    X = np.arange(20.0).reshape(10, 2)
    for labels, n_labels in ((np.zeros(10), 1), (np.arange(10), 10)):
        for function in (silhouette_samples, silhouette_score, sk.silhouette_samples):
            with pytest.raises(ValueError, match=f"Number of labels is {n_labels}. Valid values "
                                                 r"are 2 to n_samples - 1 \(inclusive\)"):
                function(X, labels)


def test_invalid_input_raises_like_sklearn(rng):
    X, y = _data("iris", "true")
    D = sk.pairwise_distances(X)
    D_bad = D.copy()
    D_bad[4, 4] = 1e-3
    X_nan, X_inf = X.copy(), X.copy()
    X_nan[3, 1], X_inf[5, 0] = np.nan, np.inf
    for function in (silhouette_samples, sk.silhouette_samples):
        with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
            function(D_bad, y, metric="precomputed")
        with pytest.raises(ValueError, match="non-zero elements on the diagonal"):
            function(D_bad.astype(np.float32), y, metric="precomputed")
        with pytest.raises(ValueError, match="NaN"):
            function(X_nan, y)
        with pytest.raises(ValueError, match="infinity"):
            function(X_inf, y)
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            function(X, y[:-1])
        with pytest.raises(ValueError):
            function(D[:, :100], y, metric="precomputed")  # not square
    # A diagonal within rounding of zero is accepted.
    D_ok = D.copy()
    D_ok[4, 4] = 1e-15
    assert_allclose(silhouette_samples(D_ok, y, metric="precomputed"),
                    sk.silhouette_samples(D_ok, y, metric="precomputed"), rtol=1e-10)
    with pytest.raises(ValueError, match="NaN"):
        silhouette_score(X_nan, y)
    with pytest.raises(ValueError, match="NaN"):
        silhouette_score(X_nan, y, sample_size=50, random_state=0)
    with pytest.raises(ValueError, match="Unknown metric"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            silhouette_samples(X, y, metric="nonsense")
