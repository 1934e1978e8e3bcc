"""fastml.cluster.HDBSCAN against scikit-learn's on its shipped data sets and blobs: labels_,
probabilities_, the single-linkage tree, centers and dbscan_clustering, to the bit; non-finite
rows; n_jobs; the paths handed to scikit-learn; errors and warnings; pickling."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as sk
from sklearn.datasets import load_digits, load_iris, load_wine, make_blobs

from fastml import cluster as fm

DATA = {"iris": load_iris().data, "wine": load_wine().data, "digits": load_digits().data[:500],
        "blobs": make_blobs(800, 6, centers=5, cluster_std=[0.5, 1, 2, 1, 0.3],
                            random_state=0)[0]}
PARAMS = [{}, {"min_samples": 3, "cluster_selection_method": "leaf"},
          {"alpha": 1.5, "cluster_selection_epsilon": 0.5, "allow_single_cluster": True},
          {"min_cluster_size": 12, "max_cluster_size": 40, "store_centers": "both"},
          {"algorithm": "kd_tree", "metric": "l2"}, {"algorithm": "ball_tree", "n_jobs": 1}]


def _fit_both(X, **params):
    params.setdefault("copy", False)
    return sk.HDBSCAN(**params).fit(X), fm.HDBSCAN(**params).fit(X)


def _assert_same(a, b):
    np.testing.assert_array_equal(b.labels_, a.labels_)
    np.testing.assert_array_equal(b.probabilities_, a.probabilities_)
    np.testing.assert_array_equal(b._single_linkage_tree_, a._single_linkage_tree_)
    assert b.labels_.dtype == a.labels_.dtype and b.n_features_in_ == a.n_features_in_
    for name in ("centroids_", "medoids_"):
        assert hasattr(a, name) == hasattr(b, name)
        if hasattr(a, name):
            np.testing.assert_array_equal(getattr(b, name), getattr(a, name))


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("params", PARAMS)
def test_scikit_learns_clustering(name, params):
    _assert_same(*_fit_both(DATA[name], **params))


def test_ties_threads_and_float32():
    grid = np.random.default_rng(0).integers(0, 4, size=(300, 2)).astype(np.float64)
    _assert_same(*_fit_both(grid, min_samples=4))
    X = DATA["blobs"]
    one = fm.HDBSCAN(n_jobs=1, copy=False).fit(X)
    two = fm.HDBSCAN(n_jobs=2, copy=False).fit(X)
    _assert_same(one, two)
    _assert_same(*_fit_both(X.astype(np.float32)))


def test_non_finite_rows():
    X = DATA["iris"].copy()
    X[3, 1], X[7, 0], X[9, 2], X[9, 3] = np.nan, np.inf, np.inf, -np.inf
    a, b = _fit_both(X)
    _assert_same(a, b)
    assert set(b.labels_[[3, 7, 9]]) == {-2, -3}


def test_dbscan_clustering():
    a, b = _fit_both(DATA["blobs"])
    for eps in (0.3, 1.0, 3.0):
        np.testing.assert_array_equal(b.dbscan_clustering(eps, min_cluster_size=4),
                                      a.dbscan_clustering(eps, min_cluster_size=4))


@pytest.mark.parametrize("params", [{"metric": "manhattan"}, {"algorithm": "brute"},
                                    {"metric": "minkowski", "metric_params": {"p": 3}}])
def test_other_paths_are_scikit_learns(params):
    _assert_same(*_fit_both(DATA["wine"], **params))
    # copy=True: scikit-learn's brute path overwrites the matrix it is given
    X = sp.csr_matrix(DATA["iris"])
    _assert_same(*_fit_both(X, copy=True))
    D = np.sqrt(((DATA["iris"][:, None] - DATA["iris"][None]) ** 2).sum(-1))
    _assert_same(*_fit_both(D, metric="precomputed", copy=True))


def test_errors_and_warnings_as_scikit_learn():
    X = DATA["iris"]
    cases = [(X[:1], {}), (X[:4], {"min_samples": 5}), (X, {"min_cluster_size": 1}),
             (X, {"alpha": 0.0}), (X, {"algorithm": "kd_tree", "metric": "cosine"}),
             (np.full((5, 2), np.nan), {}), (X, {"store_centers": "centroid",
                                                  "metric": "precomputed"})]
    for data, params in cases:
        with pytest.raises((ValueError, TypeError)) as expected:
            sk.HDBSCAN(copy=False, **params).fit(data)
        with pytest.raises(type(expected.value)) as got:
            fm.HDBSCAN(copy=False, **params).fit(data)
        assert str(got.value) == str(expected.value)
    with pytest.warns(FutureWarning, match="copy"):
        fm.HDBSCAN().fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fm.HDBSCAN(copy=True).fit(X)


def test_pickle():
    model = fm.HDBSCAN(copy=False).fit(DATA["wine"])
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.labels_, model.labels_)
    assert isinstance(model, sk.HDBSCAN)
