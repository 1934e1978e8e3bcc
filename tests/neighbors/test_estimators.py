"""fastml.neighbors estimators against scikit-learn (algorithm="brute") and the NumPy reference."""
import pickle
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import neighbors as sk
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.metrics import DistanceMetric
from sklearn.metrics import pairwise_distances as sklearn_pairwise_distances

from fastml.neighbors import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors
from fastml.reference import neighbors as reference
from tests._assertions import assert_relative_close

DATASETS = {"iris": load_iris, "digits": load_digits, "wine": load_wine,
            "breast_cancer": load_breast_cancer}
METRICS = ["euclidean", "manhattan", "chebyshev", "minkowski", "cosine", "sqeuclidean",
           "hamming", "jaccard", "braycurtis"]


def _split(name):
    X, y = DATASETS[name](return_X_y=True)
    test = np.arange(len(X)) % 3 == 0
    return X[~test], y[~test], X[test]


def _kwds(metric):
    return {"p": 3} if metric == "minkowski" else {}


def _comparable(X_train, X_query, metric, k, weights):
    """Queries where any two correct implementations must agree: the k nearest training points
    are a determined set (k-th and (k+1)-th distances differ), and for distance weights no
    neighbour is a duplicate of the query (scikit-learn's dot-product distances put those at
    ~1e-8 instead of 0, which changes the weighting rule)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boolean conversion for jaccard
        D = np.sort(sklearn_pairwise_distances(X_query, X_train, metric=metric,
                                               **_kwds(metric)), axis=1)
    rows = D[:, k - 1] < D[:, k] * (1 - 1e-9)
    if weights == "distance":
        rows &= D[:, 0] > 1e-6
    return rows


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", METRICS)
@pytest.mark.parametrize("name", DATASETS)
def test_classifier_matches_scikit_learn_and_reference(name, metric, weights):
    X, y, Q = _split(name)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # boolean conversion warnings for jaccard
        ours = KNeighborsClassifier(5, weights=weights, metric=metric, **_kwds(metric)).fit(X, y)
        theirs = sk.KNeighborsClassifier(5, weights=weights, metric=metric, algorithm="brute",
                                         **_kwds(metric)).fit(X, y)
        predicted, proba = ours.predict(Q), ours.predict_proba(Q)
        expected, expected_proba = theirs.predict(Q), theirs.predict_proba(Q)
    if metric == "braycurtis":  # not in the reference
        assert _comparable(X, Q, metric, 5, weights).sum() >= 10
    else:  # the same tie rule (lower index first): equal on every query
        ref_X, ref_Q = (X != 0, Q != 0) if metric == "jaccard" else (X, Q)
        assert_array_equal(predicted, reference.kneighbors_classify(
            ref_X, y, ref_Q, 5, metric=metric, p=3.0, weights=weights))
    rows = _comparable(X, Q, metric, 5, weights)
    assert_array_equal(predicted[rows], expected[rows])
    assert_allclose(proba[rows], expected_proba[rows], rtol=1e-9)


@pytest.mark.parametrize("weights", ["uniform", "distance"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("name", DATASETS)
def test_regressor_matches_scikit_learn_and_reference(name, metric, weights):
    X, _, Q = _split(name)
    target = X[:, 0] * 2.0 + 1.0  # predict the first feature from the others
    X, Q = X[:, 1:], Q[:, 1:]
    ours = KNeighborsRegressor(4, weights=weights, metric=metric).fit(X, target)
    theirs = sk.KNeighborsRegressor(4, weights=weights, metric=metric,
                                    algorithm="brute").fit(X, target)
    rows = _comparable(X, Q, metric, 4, weights)
    assert rows.sum() >= 10
    assert_allclose(ours.predict(Q)[rows], theirs.predict(Q)[rows], rtol=1e-10)
    assert_allclose(ours.predict(Q), reference.kneighbors_regress(
        X, target, Q, 4, metric=metric, weights=weights), rtol=1e-10)


def test_multi_output_targets(rng):
    X, Q = rng.normal(size=(120, 4)), rng.normal(size=(30, 4))
    y = np.column_stack([rng.integers(0, 3, 120), rng.choice(["a", "b"], 120)])
    ours = KNeighborsClassifier(3).fit(X, y)
    theirs = sk.KNeighborsClassifier(3, algorithm="brute").fit(X, y)
    assert_array_equal(ours.predict(Q), theirs.predict(Q))
    for got, expected in zip(ours.predict_proba(Q), theirs.predict_proba(Q)):
        assert_allclose(got, expected)
    targets = rng.normal(size=(120, 2))
    assert_allclose(KNeighborsRegressor(3, weights="distance").fit(X, targets).predict(Q),
                    sk.KNeighborsRegressor(3, weights="distance").fit(X, targets).predict(Q))


def test_callable_weights_and_zero_distances(rng):
    X = rng.normal(size=(60, 3))
    y = rng.integers(0, 2, 60)
    Q = np.vstack([X[:5], rng.normal(size=(10, 3))])  # training points: distance 0
    for weights in ("distance", lambda d: np.exp(-d)):
        ours = KNeighborsClassifier(4, weights=weights).fit(X, y).predict_proba(Q)
        theirs = sk.KNeighborsClassifier(4, weights=weights, algorithm="brute").fit(X, y)
        assert_allclose(ours, theirs.predict_proba(Q))


def test_kneighbors_of_the_training_set_excludes_each_point(rng, dtype):
    X = rng.normal(size=(80, 5)).astype(dtype)
    X[10] = X[3]  # a duplicate: each is the other's nearest neighbour
    dist, ind = NearestNeighbors(n_neighbors=4).fit(X).kneighbors()
    expected_dist, expected_ind = sk.NearestNeighbors(n_neighbors=4, algorithm="brute").fit(
        X).kneighbors()
    assert dist.dtype == dtype
    assert ind[3, 0] == 10 and ind[10, 0] == 3
    # scikit-learn orders the tied pair (3, 10) as it happens to; fastml by index
    assert_array_equal(np.sort(ind, axis=1), np.sort(expected_ind, axis=1))
    ref_dist, ref_ind = reference.kneighbors(X.astype(np.float64), X.astype(np.float64), 5)
    assert_array_equal(ind[np.arange(80) != 10], ref_ind[np.arange(80) != 10, 1:])
    assert_relative_close(dist, expected_dist, 1e-5 if dtype == np.float32 else 1e-9,
                          atol=1e-6)


def test_all_training_points_as_neighbours(rng):
    X = rng.normal(size=(25, 3))
    dist, ind = NearestNeighbors(n_neighbors=25).fit(X).kneighbors(X[:4])
    assert_array_equal(np.sort(ind, axis=1), np.tile(np.arange(25), (4, 1)))
    assert np.all(np.diff(dist, axis=1) >= 0)


@pytest.mark.parametrize("mode", ["connectivity", "distance"])
def test_graphs_match_scikit_learn(mode, rng):
    X, Q = rng.normal(size=(90, 3)), rng.normal(size=(20, 3))
    ours = NearestNeighbors(n_neighbors=4, radius=0.8).fit(X)
    theirs = sk.NearestNeighbors(n_neighbors=4, radius=0.8, algorithm="brute").fit(X)
    for query in (Q, None):
        got = ours.kneighbors_graph(query, mode=mode)
        assert sparse.issparse(got) and got.shape == (len(X) if query is None else 20, 90)
        assert_allclose(got.toarray(), theirs.kneighbors_graph(query, mode=mode).toarray())
        got = ours.radius_neighbors_graph(query, mode=mode, sort_results=True)
        assert_allclose(got.toarray(), theirs.radius_neighbors_graph(query, mode=mode).toarray())
    with pytest.raises(ValueError, match="Unsupported mode"):
        ours.kneighbors_graph(Q, mode="nonsense")


def test_radius_neighbors_match_scikit_learn(rng, dtype):
    X, Q = rng.normal(size=(150, 3)).astype(dtype), rng.normal(size=(20, 3)).astype(dtype)
    ours = NearestNeighbors(radius=0.9).fit(X)
    theirs = sk.NearestNeighbors(radius=0.9, algorithm="brute").fit(X)
    for query in (Q, None):
        dist, ind = ours.radius_neighbors(query, sort_results=True)
        expected_dist, expected_ind = theirs.radius_neighbors(query, sort_results=True)
        assert sum(map(len, ind)) > 0
        for d, i, ed, ei in zip(dist, ind, expected_dist, expected_ind):
            assert_array_equal(i, ei)
            assert_allclose(d, ed, rtol=1e-5)
    with pytest.raises(ValueError, match="return_distance must be True"):
        ours.radius_neighbors(Q, return_distance=False, sort_results=True)


def test_sparse_training_data(rng):
    X = sparse.random(100, 20, density=0.3, format="csr", random_state=0)
    y = rng.integers(0, 3, 100)
    Q = sparse.random(15, 20, density=0.3, format="csr", random_state=1)
    for metric in ("euclidean", "cosine", "manhattan"):
        ours = KNeighborsClassifier(3, metric=metric).fit(X, y)
        theirs = sk.KNeighborsClassifier(3, metric=metric, algorithm="brute").fit(X, y)
        assert_array_equal(ours.kneighbors(Q)[1], theirs.kneighbors(Q)[1])
    with pytest.raises(ValueError, match="not valid for sparse input"):
        KNeighborsClassifier(metric="chebyshev").fit(X, y)


def test_precomputed_distances(rng):
    X, Q = rng.normal(size=(40, 3)), rng.normal(size=(10, 3))
    D_train = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    D_query = np.sqrt(((Q[:, None] - X[None]) ** 2).sum(-1))
    ours = NearestNeighbors(n_neighbors=3, metric="precomputed").fit(D_train)
    assert_array_equal(ours.kneighbors(D_query)[1],
                       NearestNeighbors(n_neighbors=3).fit(X).kneighbors(Q)[1])
    with pytest.raises(ValueError, match="must be square"):
        NearestNeighbors(metric="precomputed").fit(D_query)


def test_float32_is_kept_and_matches_float64(rng):
    X = rng.normal(size=(500, 8))
    Q = rng.normal(size=(50, 8))
    y = rng.integers(0, 4, 500)
    d64, i64 = KNeighborsClassifier(7).fit(X, y).kneighbors(Q)
    X32, Q32 = X.astype(np.float32), Q.astype(np.float32)
    d32, i32 = KNeighborsClassifier(7).fit(X32, y).kneighbors(Q32)
    ref_dist, ref_ind = reference.kneighbors(Q32.astype(np.float64), X32.astype(np.float64), 7)
    assert d32.dtype == np.float32
    assert_array_equal(i32, ref_ind)
    assert_relative_close(d32, ref_dist, 1e-6)
    assert np.mean(i32 == i64) > 0.99


def test_thread_count_does_not_change_results(rng):
    X, Q = rng.normal(size=(5000, 6)), rng.normal(size=(300, 6))
    y = rng.integers(0, 3, 5000)
    results = [KNeighborsClassifier(9, n_jobs=n_jobs, weights="distance").fit(X, y)
               for n_jobs in (1, 2)]
    assert_array_equal(results[0].kneighbors(Q)[1], results[1].kneighbors(Q)[1])
    assert_array_equal(results[0].predict_proba(Q), results[1].predict_proba(Q))


def test_read_only_and_fortran_input(rng):
    X, Q = np.asfortranarray(rng.normal(size=(100, 4))), rng.normal(size=(10, 4))
    y = rng.integers(0, 2, 100)
    X.setflags(write=False)
    Q.setflags(write=False)
    got = KNeighborsClassifier(3).fit(X, y).kneighbors(Q)[1]
    assert_array_equal(got, reference.kneighbors(Q, np.ascontiguousarray(X), 3)[1])


def test_pickle_round_trip(rng):
    X, Q = rng.normal(size=(100, 4)), rng.normal(size=(10, 4))
    model = KNeighborsRegressor(3, weights="distance").fit(X, X[:, 0])
    restored = pickle.loads(pickle.dumps(model))
    assert_array_equal(restored.predict(Q), model.predict(Q))


def test_algorithm_is_accepted_and_changes_nothing(rng):
    X, Q = rng.normal(size=(100, 4)), rng.normal(size=(10, 4))
    results = [NearestNeighbors(n_neighbors=3, algorithm=a, leaf_size=5).fit(X).kneighbors(Q)[1]
               for a in ("auto", "ball_tree", "kd_tree", "brute")]
    for got in results[1:]:
        assert_array_equal(got, results[0])


def test_bad_input_is_rejected_with_a_clear_error(rng):
    X, y = rng.normal(size=(20, 3)), rng.integers(0, 2, 20)
    model = KNeighborsClassifier(3).fit(X, y)
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        model.kneighbors(X, n_neighbors=21)
    with pytest.raises(ValueError, match="Expected n_neighbors > 0"):
        model.kneighbors(X, n_neighbors=0)
    with pytest.raises(TypeError, match="enter integer value"):
        model.kneighbors(X, n_neighbors=2.5)
    with pytest.raises(ValueError, match="n_neighbors"):
        KNeighborsClassifier(0).fit(X, y)
    with pytest.raises(ValueError, match="Expected n_neighbors <= n_samples_fit"):
        KNeighborsClassifier(30).fit(X, y).predict(X)
    with pytest.raises(ValueError, match="NaN"):
        KNeighborsClassifier(3).fit(np.where(X > 1, np.nan, X), y)
    with pytest.raises(ValueError, match="NaN"):
        model.predict(np.where(X > 1, np.nan, X))
    with pytest.raises(ValueError, match="infinity"):
        model.predict(np.where(X > 1, np.inf, X))
    with pytest.raises(ValueError, match="3 features"):
        model.predict(X[:, :2])
    with pytest.raises(ValueError, match="0 sample"):
        model.predict(X[:0])
    with pytest.raises(ValueError, match="metric"):
        KNeighborsClassifier(metric="nonsense").fit(X, y)


# --- scikit-learn's behaviour in its corners ------------------------------------------------

def _same_as_sklearn(make_ours, make_theirs, call):
    """The same result, or the same exception type and message start, and the same warnings."""
    outcomes = []
    for make in (make_ours, make_theirs):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = ("ok", call(make()))
            except Exception as error:  # noqa: BLE001 - compared with scikit-learn's
                result = ("raised", type(error), str(error)[:60])
        outcomes.append((result, sorted({(w.category, str(w.message)[:40]) for w in caught})))
    (ours, our_warnings), (theirs, their_warnings) = outcomes
    assert our_warnings == their_warnings
    assert ours[0] == theirs[0], (ours, theirs)
    if ours[0] == "raised":
        assert ours[1:] == theirs[1:]
    else:
        for a, b in zip(ours[1], theirs[1]):
            assert_allclose(a, b, rtol=1e-12)


@pytest.mark.parametrize("params, fit_sparse", [
    (dict(metric=DistanceMetric.get_metric("manhattan")), False),
    (dict(metric="minkowski", p=3, metric_params={"w": np.arange(1.0, 6.0)}), False),
    (dict(metric="minkowski", p=3, metric_params={"w": np.ones(5)}, algorithm="ball_tree"),
     False),
    (dict(metric="minkowski", metric_params={"w": np.ones(5)}, algorithm="kd_tree"), False),
    (dict(metric="cosine", algorithm="kd_tree"), False),
    (dict(metric="cosine", algorithm="ball_tree"), False),
    (dict(metric=lambda a, b: np.abs(a - b).sum(), algorithm="kd_tree"), False),
    (dict(p=0.5), False), (dict(p=0.5, algorithm="ball_tree"), False),
    (dict(metric_params={"p": 3}), False), (dict(metric_params={"p": 3}, p=None), False),
    (dict(algorithm="kd_tree"), True), (dict(metric="chebyshev", algorithm="brute"), True),
], ids=["DistanceMetric", "weighted-minkowski", "weighted-ball-tree", "weighted-kd-tree",
        "kd-tree-cosine", "ball-tree-cosine", "kd-tree-callable", "p-below-1",
        "p-below-1-ball-tree", "p-twice", "p-in-params", "kd-tree-sparse", "chebyshev-sparse"])
def test_metrics_and_algorithms_as_scikit_learn(params, fit_sparse, rng):
    X, Q = rng.random((40, 5)), rng.random((6, 5))
    X_fit = sparse.csr_matrix(X) if fit_sparse else X
    _same_as_sklearn(lambda: NearestNeighbors(n_neighbors=4, **params),
                     lambda: sk.NearestNeighbors(n_neighbors=4, **params),
                     lambda model: model.fit(X_fit).kneighbors(Q))


def test_nan_euclidean_takes_missing_values(rng):
    X = rng.random((40, 4))
    X[::5, 1] = np.nan
    for make in (NearestNeighbors, sk.NearestNeighbors):
        assert make(metric="nan_euclidean").__sklearn_tags__().input_tags.allow_nan
    _same_as_sklearn(lambda: NearestNeighbors(n_neighbors=3, metric="nan_euclidean"),
                     lambda: sk.NearestNeighbors(n_neighbors=3, metric="nan_euclidean"),
                     lambda model: model.fit(X).kneighbors(X[:7]))
    ours = KNeighborsRegressor(3, metric="nan_euclidean").fit(X, X[:, 0] * 0 + np.arange(40))
    theirs = sk.KNeighborsRegressor(3, metric="nan_euclidean").fit(X, np.arange(40.0))
    assert_allclose(ours.predict(X[:9]), theirs.predict(X[:9]))


@pytest.mark.parametrize("source", ["fastml", "sklearn", "BallTree", "KDTree"])
def test_fit_on_a_fitted_estimator_or_tree(source, rng):
    X, y, Q = rng.random((30, 3)), rng.integers(0, 3, 30), rng.random((5, 3))
    fitted = {"fastml": lambda: NearestNeighbors().fit(X),
              "sklearn": lambda: sk.NearestNeighbors().fit(X),
              "BallTree": lambda: sk.BallTree(X), "KDTree": lambda: sk.KDTree(X)}[source]()
    assert_array_equal(NearestNeighbors(n_neighbors=4).fit(fitted).kneighbors(Q)[1],
                       sk.NearestNeighbors(n_neighbors=4).fit(X).kneighbors(Q)[1])
    assert_array_equal(KNeighborsClassifier(3).fit(fitted, y).predict(Q),
                       sk.KNeighborsClassifier(3).fit(X, y).predict(Q))


def test_all_zero_weights_raise_as_scikit_learn(rng):
    X, y = rng.random((20, 3)), rng.integers(0, 2, 20)
    for make in (KNeighborsClassifier, sk.KNeighborsClassifier):
        model = make(3, weights=lambda d: np.zeros_like(d)).fit(X, y)
        with pytest.raises(ValueError, match="All neighbors of some sample is getting zero"):
            model.predict_proba(X[:3])
