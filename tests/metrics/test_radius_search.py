"""The compiled radius search (fastml.metrics._radius_fast, on the kd partition of
csrc/neighbors) against the brute-force reference and scikit-learn."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.neighbors import NearestNeighbors as SklearnNearestNeighbors

from fastml.metrics import _radius_fast
from fastml.metrics._reductions import radius_neighbors, radius_neighbors_csr
from fastml.reference import cluster_density as reference
from fastml.reference import distances as reference_distances

METRICS = ["euclidean", "sqeuclidean", "manhattan", "chebyshev", "minkowski", "hamming"]
SHAPES = [(1, 1, 1), (5, 40, 1), (70, 33, 3), (200, 500, 8), (90, 700, 17)]


def _data(rng, shape, dtype):
    n_q, n_y, dim = shape
    # a coarse grid: many pairs at exactly the radius, and duplicates
    Y = np.round(rng.normal(size=(n_y, dim)) * 2) / 2
    X = np.round(rng.normal(size=(n_q, dim)) * 2) / 2
    return X.astype(dtype), Y.astype(dtype)


def _radius(X, Y, metric):
    """A radius that keeps some pairs but not all."""
    d = reference.reduced_distances(X, Y, metric, 3.0)
    reduced = np.quantile(d, 0.05)
    return {"euclidean": np.sqrt(reduced), "minkowski": reduced ** (1 / 3)}.get(metric, reduced)


def _compiled(X, Y, metric, radius, self_query=False, sort=False, n_threads=2):
    return _radius_fast.radius_lists(X, Y, metric, 3.0, radius, self_query, True, sort, n_threads)


@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: "x".join(map(str, s)))
def test_lists_match_reference(metric, shape, dtype, rng):
    X, Y = _data(rng, shape, dtype)
    radius = _radius(X, Y, metric)
    indptr, indices, distances = _compiled(X, Y, metric, radius)
    expected = reference.radius_neighbors(X, Y, radius, metric, 3.0)
    assert_array_equal(np.diff(indptr), [len(e) for e in expected])
    assert_array_equal(indices, np.concatenate(expected))
    d = reference.reduced_distances(X, Y, metric, 3.0)
    rows = np.repeat(np.arange(len(X)), np.diff(indptr))
    exact = d[rows, indices]
    exact = {"euclidean": np.sqrt(exact), "minkowski": exact ** (1 / 3)}.get(metric, exact)
    assert_allclose(distances, exact, rtol=1e-12)


@pytest.mark.parametrize("metric", METRICS)
def test_counts_match_reference(metric, dtype, rng):
    _, X = _data(rng, (0, 400, 4), dtype)
    radius = _radius(X, X, metric)
    weights = rng.uniform(0, 2, size=len(X))
    within = reference.reduced_distances(X, X, metric, 3.0) <= reference.reduced_radius(
        radius, metric, 3.0)
    counts = np.empty(len(X))
    _radius_fast.radius_counts(X, metric, 3.0, radius, np.empty(0), counts, 2)
    assert_array_equal(counts, within.sum(axis=1))
    _radius_fast.radius_counts(X, metric, 3.0, radius, weights, counts, 2)
    assert_allclose(counts, within @ weights, rtol=1e-12)


def test_self_query_sorting_and_threads(rng):
    _, X = _data(rng, (0, 600, 5), np.float64)
    radius = _radius(X, X, "euclidean")
    plain = _compiled(X, X, "euclidean", radius, n_threads=1)
    for n_threads in (2, 3):
        for a, b in zip(plain, _compiled(X, X, "euclidean", radius, n_threads=n_threads)):
            assert_array_equal(a, b)
    indptr, indices, distances = _compiled(X, X, "euclidean", radius, self_query=True, sort=True)
    for i in range(len(X)):
        row = slice(indptr[i], indptr[i + 1])
        full = plain[1][plain[0][i]:plain[0][i + 1]]
        assert_array_equal(np.sort(indices[row]), full[full != i])
        order = np.lexsort((indices[row], distances[row]))
        assert_array_equal(order, np.arange(len(order)))


def test_no_distances_and_empty_results(rng):
    X = rng.normal(size=(30, 3))
    indptr, indices, distances = _radius_fast.radius_lists(X, X + 100, "euclidean", 2.0, 1.0,
                                                           False, False, False, 1)
    assert_array_equal(indptr, np.zeros(31)) and indices.size == 0 and distances.size == 0


@pytest.mark.parametrize("bad", [
    dict(metric="cosine"), dict(metric="minkowski", p=0.0), dict(radius=-1.0),
    dict(radius=np.nan), dict(n_threads=0), dict(Y=np.zeros((3, 4))),
    dict(X=np.array([[0.0, np.nan]] * 3)), dict(Y=np.array([[np.inf, 0.0]] * 3))])
def test_bad_arguments(bad):
    args = dict(X=np.zeros((3, 2)), Y=np.zeros((3, 2)), metric="euclidean", p=2.0, radius=1.0,
                n_threads=1)
    args.update(bad)
    with pytest.raises(ValueError):
        _radius_fast.radius_lists(args["X"], args["Y"], args["metric"], args["p"],
                                  args["radius"], False, True, False, args["n_threads"])


@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "chebyshev", "cosine"])
@pytest.mark.parametrize("sort_results", [False, True])
def test_radius_neighbors_matches_scikit_learn(metric, sort_results, dtype):
    from sklearn.datasets import load_iris

    X = load_iris().data.astype(dtype)
    ours = radius_neighbors(X[:40], X, 0.6, metric=metric, sort_results=sort_results)
    # "auto": a KDTree for the compiled metrics, whose float64 arithmetic the search shares
    theirs = SklearnNearestNeighbors(radius=0.6, metric=metric).fit(
        X).radius_neighbors(X[:40], sort_results=sort_results)
    for d, i, td, ti in zip(*ours, *theirs):
        # scikit-learn's tree returns its own order, and sorts ties in distance arbitrarily
        order = np.lexsort((ti, td)) if sort_results else np.argsort(ti)
        td, ti = td[order], ti[order]
        if metric == "cosine" and dtype == np.float32 and sort_results:
            # float32 cosine: scikit-learn sums in float32 and may swap near-equal distances
            order = np.argsort(i)
            d, i, td, ti = d[order], i[order], td[np.argsort(ti)], np.sort(ti)
        assert_array_equal(i, ti)
        assert_allclose(d, td, rtol=1e-5, atol=1e-6)
    indptr, indices, distances = radius_neighbors_csr(X, X, 0.6, metric=metric,
                                                      return_distance=False)
    assert distances is None and indptr[-1] == indices.size


@pytest.mark.parametrize("dtype_in", [np.float64, np.float32, bool])
def test_hamming_is_scikit_learns_brute_force(dtype_in, rng):
    """Integer and boolean rows: most distances are tied fractions k / d, some at the radius.
    (scikit-learn's BallTree, its default for hamming, leaves out some pairs at exactly the
    radius; its brute force keeps every pair with distance <= radius, as fastml does.)"""
    X = rng.integers(0, 2 if dtype_in is bool else 3, size=(300, 10)).astype(dtype_in)
    for radius in (0.0, 0.2, 0.3, 0.55):
        got = radius_neighbors(X, X, radius, metric="hamming", sort_results=True)
        expected = SklearnNearestNeighbors(metric="hamming", algorithm="brute").fit(X)
        expected = expected.radius_neighbors(X, radius, sort_results=True)
        for dist, ind, exp_dist, exp_ind in zip(*got, *expected):
            order = np.lexsort((exp_ind, exp_dist))  # ties in the index order
            assert_array_equal(ind, exp_ind[order])
            assert_array_equal(dist, exp_dist[order].astype(dist.dtype))


def _cosine_data(rng, n, d, dtype):
    """Integer rows (many parallel pairs, so distances tied at 0 and at other values), some
    all-zero rows (distance 1 to every row, as scikit-learn's normalize leaves them)."""
    X = rng.integers(-2, 3, size=(n, d)).astype(dtype)
    X[::7] = 0
    return X


@pytest.mark.parametrize("radius", [0.0, 0.05, 0.4, 1.0, 1.3])
@pytest.mark.parametrize("shape", [(1, 1, 1), (40, 60, 3), (150, 200, 6)],
                         ids=lambda s: "x".join(map(str, s)))
def test_cosine_matches_reference(radius, shape, dtype, rng):
    n_q, n_y, d = shape
    X, Y = _cosine_data(rng, n_q, d, dtype), _cosine_data(rng, n_y, d, dtype)
    indptr, indices, distances = radius_neighbors_csr(X, Y, radius, metric="cosine",
                                                      sort_results=True)
    assert distances.dtype == dtype
    D = reference_distances.pairwise_distances(X.astype(np.float64), Y.astype(np.float64),
                                               "cosine")
    for i in range(n_q):
        got = indices[indptr[i]:indptr[i + 1]]
        # pairs within rounding of the radius may go either way against another summation
        sure = np.flatnonzero(D[i] <= radius - 1e-12)
        unsure = np.flatnonzero(np.abs(D[i] - radius) <= 1e-12)
        assert np.all(np.isin(sure, got)) and np.all(np.isin(got, np.union1d(sure, unsure)))
        assert_allclose(distances[indptr[i]:indptr[i + 1]], D[i, got], atol=1e-6)
        order = np.lexsort((got, distances[indptr[i]:indptr[i + 1]]))
        assert_array_equal(order, np.arange(len(got)))


def test_cosine_self_query_and_scikit_learns_brute_force(dtype):
    from sklearn.datasets import load_digits

    X = load_digits().data[:400].astype(dtype)  # row 0 of digits is not zero; add one that is
    X[5] = 0
    for radius in (0.02, 0.1, 1.0):
        ours = radius_neighbors_csr(X, X, radius, metric="cosine", self_query=True)
        theirs = SklearnNearestNeighbors(radius=radius, metric="cosine",
                                         algorithm="brute").fit(X).radius_neighbors()
        for i, (td, ti) in enumerate(zip(*theirs)):
            got = ours[1][ours[0][i]:ours[0][i + 1]]
            assert_array_equal(got, np.sort(ti))
            assert_allclose(ours[2][ours[0][i]:ours[0][i + 1]], td[np.argsort(ti)], atol=1e-6)
