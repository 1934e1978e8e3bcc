"""fastml.cluster.AgglomerativeClustering, ward_tree and linkage_tree against scikit-learn's on its
shipped data sets: children_, distances_, labels_ and the other attributes, every linkage and
metric, distance_threshold, connectivity (handed to scikit-learn), errors, pickling."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import cluster as sk
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine
from sklearn.neighbors import kneighbors_graph

from fastml import cluster as fm

DATA = {"iris": load_iris().data, "wine": load_wine().data,
        "digits": load_digits().data[:300], "breast_cancer": load_breast_cancer().data[:250]}
# Data sets where scipy's ward meets no merges at distances equal up to rounding (iris and digits
# have duplicate rows: see test_ward_with_duplicate_rows_gives_the_same_hierarchy).
WARD_EXACT = ["wine", "breast_cancer"]
ATTRIBUTES = ["n_clusters_", "n_leaves_", "n_connected_components_", "n_features_in_"]


def _fit_both(X, **params):
    return sk.AgglomerativeClustering(**params).fit(X), fm.AgglomerativeClustering(**params).fit(X)


def _assert_same(a, b, exact=True):
    np.testing.assert_array_equal(b.children_, a.children_)
    assert b.children_.dtype == a.children_.dtype
    np.testing.assert_array_equal(b.labels_, a.labels_)
    for name in ATTRIBUTES:
        assert getattr(b, name) == getattr(a, name), name
    if hasattr(a, "distances_"):
        if exact:
            np.testing.assert_array_equal(b.distances_, a.distances_)
        else:
            np.testing.assert_allclose(b.distances_, a.distances_, rtol=1e-12)
    else:
        assert not hasattr(b, "distances_")


@pytest.mark.parametrize("name", list(DATA))
@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("params", [{"n_clusters": 4}, {"n_clusters": 3, "compute_distances": True},
                                    {"n_clusters": None, "distance_threshold": 15.0}])
def test_linkages_are_scikit_learns(name, linkage, params):
    _assert_same(*_fit_both(DATA[name], linkage=linkage, **params))


@pytest.mark.parametrize("name", WARD_EXACT)
@pytest.mark.parametrize("params", [{"n_clusters": 5, "compute_distances": True},
                                    {"n_clusters": None, "distance_threshold": 40.0}])
def test_ward_is_scikit_learns(name, params):
    _assert_same(*_fit_both(DATA[name], **params), exact=False)


def _clusters(children, n_leaves):
    """Every node of a tree as the set of its leaves."""
    members = [frozenset([i]) for i in range(n_leaves)]
    for a, b in children:
        members.append(members[a] | members[b])
    return set(members)


@pytest.mark.parametrize("name", ["iris", "digits"])
def test_ward_with_duplicate_rows_gives_the_same_hierarchy(name):
    """Merges at distances equal up to rounding may be found in another order than scipy's (its
    order among them comes from the rounding of its Lance-Williams updates): the clusters of the
    tree and its distances are the same."""
    a, b = _fit_both(DATA[name], n_clusters=3, compute_distances=True)
    assert _clusters(b.children_, b.n_leaves_) == _clusters(a.children_, a.n_leaves_)
    np.testing.assert_allclose(b.distances_, a.distances_, rtol=1e-12)
    np.testing.assert_array_equal(b.labels_, a.labels_)


@pytest.mark.parametrize("metric", ["l1", "manhattan", "cosine", "l2", "precomputed",
                                    lambda X: np.abs(X[:, None, :2] - X[None, :, :2]).sum(-1)])
@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
def test_metrics(metric, linkage):
    X = DATA["wine"]
    if metric == "precomputed":
        X = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    _assert_same(*_fit_both(X, metric=metric, linkage=linkage, n_clusters=3,
                            compute_distances=True))


@pytest.mark.parametrize("linkage", ["ward", "complete", "average", "single"])
def test_connectivity_goes_to_scikit_learn(linkage):
    X = DATA["iris"]
    graph = kneighbors_graph(X, 10, include_self=False)
    _assert_same(*_fit_both(X, linkage=linkage, connectivity=graph, n_clusters=3,
                            compute_distances=True))


def test_dtypes_and_fit_predict():
    X = DATA["wine"]
    for linkage in ["ward", "average", "single"]:
        a = sk.AgglomerativeClustering(linkage=linkage, compute_distances=True).fit(
            X.astype(np.float32))
        b = fm.AgglomerativeClustering(linkage=linkage, compute_distances=True)
        np.testing.assert_array_equal(b.fit_predict(X.astype(np.float32)), a.labels_)
        np.testing.assert_allclose(b.distances_, a.distances_, rtol=1e-12)
    Xi = np.random.default_rng(0).integers(0, 5, size=(40, 3))
    _assert_same(*_fit_both(Xi, linkage="average", compute_distances=True))


def test_functions():
    X = DATA["wine"]
    for a, b in zip(sk.ward_tree(X, return_distance=True), fm.ward_tree(X, return_distance=True)):
        np.testing.assert_allclose(b, a, rtol=1e-12) if isinstance(a, np.ndarray) else None
        assert type(a) is type(b)
    for linkage in ["complete", "average", "single"]:
        a = sk.linkage_tree(X, linkage=linkage, return_distance=True)
        b = fm.linkage_tree(X, linkage=linkage, return_distance=True)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(v, u) if u is not None else None
    with pytest.warns(UserWarning, match="Partial build"):
        fm.ward_tree(X, n_clusters=3)


def test_errors_as_scikit_learn():
    X = DATA["iris"]
    cases = [dict(n_clusters=None), dict(n_clusters=2, distance_threshold=1.0),
             dict(n_clusters=None, distance_threshold=1.0, compute_full_tree=False),
             dict(linkage="ward", metric="l1"), dict(n_clusters=0), dict(linkage="median"),
             dict(n_clusters=200)]
    for params in cases:
        with pytest.raises(ValueError) as expected:
            sk.AgglomerativeClustering(**params).fit(X)
        with pytest.raises(ValueError) as got:
            fm.AgglomerativeClustering(**params).fit(X)
        assert str(got.value) == str(expected.value)
    for bad in [X[:1], np.where(X > 5, np.nan, X)]:
        with pytest.raises(ValueError):
            fm.AgglomerativeClustering().fit(bad)
    with pytest.raises(ValueError, match="zero vectors"):
        fm.AgglomerativeClustering(linkage="average", metric="cosine").fit(
            np.vstack([X, np.zeros(4)]))
    with pytest.raises(TypeError):
        fm.AgglomerativeClustering().fit(sp.csr_matrix(X))


@pytest.mark.parametrize("linkage", ["ward", "average"])
def test_distance_matrix_given_as_observations_warns_as_scipy(linkage):
    X = DATA["iris"][:30]
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    from scipy.cluster.hierarchy import ClusterWarning
    with pytest.warns(ClusterWarning, match="uncondensed distance matrix"):
        a = sk.AgglomerativeClustering(linkage=linkage).fit(D)
    with pytest.warns(ClusterWarning, match="uncondensed distance matrix"):
        b = fm.AgglomerativeClustering(linkage=linkage).fit(D)
    np.testing.assert_array_equal(b.labels_, a.labels_)


def test_memory_and_pickle(tmp_path):
    X = DATA["wine"]
    model = fm.AgglomerativeClustering(memory=str(tmp_path), linkage="average").fit(X)
    again = fm.AgglomerativeClustering(memory=str(tmp_path), linkage="average").fit(X)
    np.testing.assert_array_equal(again.children_, model.children_)
    clone = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(clone.labels_, model.labels_)
    assert isinstance(model, sk.AgglomerativeClustering)
