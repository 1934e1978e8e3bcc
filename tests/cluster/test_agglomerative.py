"""fastml.cluster.AgglomerativeClustering, ward_tree and linkage_tree against scikit-learn's on its
shipped data sets: children_, distances_, labels_ and the other attributes, every linkage and
metric, distance_threshold, connectivity (every linkage compiled), errors, pickling."""
import pickle
import warnings

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
def test_connectivity(linkage):
    X = DATA["iris"]
    graph = kneighbors_graph(X, 10, include_self=False)
    _assert_same(*_fit_both(X, linkage=linkage, connectivity=graph, n_clusters=3,
                            compute_distances=True))


def _ward_graph_cases():
    rng = np.random.default_rng(0)
    grid = rng.integers(0, 3, size=(120, 2)).astype(float)  # many equal inertias: ties
    return {"iris": DATA["iris"], "digits": DATA["digits"][:200], "wine": DATA["wine"],
            "ties": grid, "float32": DATA["wine"].astype(np.float32)}


@pytest.mark.parametrize("name", list(_ward_graph_cases()))
@pytest.mark.parametrize("params", [
    {"n_clusters": 4, "compute_distances": True},
    {"n_clusters": None, "distance_threshold": 5.0},
    {"n_clusters": 7, "compute_full_tree": False, "compute_distances": True},
    {"n_clusters": 110, "compute_full_tree": "auto"}])
@pytest.mark.parametrize("n_neighbors", [4, 12])
def test_ward_with_connectivity_is_scikit_learns(name, params, n_neighbors):
    """children_, distances_ and labels_ to the bit, on kneighbors graphs (with several
    components at 4 neighbours on some sets: scikit-learn's warning and completion), partial
    trees and ties."""
    X = _ward_graph_cases()[name]
    graph = kneighbors_graph(X, n_neighbors, include_self=False)
    with warnings.catch_warnings(record=True) as expected:
        warnings.simplefilter("always")
        a = sk.AgglomerativeClustering(connectivity=graph, **params).fit(X)
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        b = fm.AgglomerativeClustering(connectivity=graph, **params).fit(X)
    assert [str(w.message) for w in got] == [str(w.message) for w in expected]
    _assert_same(a, b)


@pytest.mark.parametrize("name", ["iris", "digits", "ties", "float32"])
@pytest.mark.parametrize("linkage", ["complete", "average", "single"])
@pytest.mark.parametrize("metric", ["euclidean", "manhattan", "cosine"])
@pytest.mark.parametrize("params", [
    {"n_clusters": 5, "compute_distances": True},
    {"n_clusters": 9, "compute_full_tree": False, "compute_distances": True}])
def test_linkage_with_connectivity_is_scikit_learns(name, linkage, metric, params):
    """Equal weights (duplicate rows, the integer grid) leave scikit-learn's heap in the order
    its sifting gives, and scipy's spanning tree the edges its stable sort gives (zero weights
    through scikit-learn's epsilon): the same children_ to the bit."""
    X = _ward_graph_cases()[name]
    if metric == "cosine":
        X = X + 1.0  # no zero rows
    graph = kneighbors_graph(X, 5, include_self=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # several components: tested with ward
        _assert_same(*_fit_both(X, connectivity=graph, linkage=linkage, metric=metric,
                                **params))


def test_linkage_tree_with_connectivity():
    X = DATA["wine"]
    graph = kneighbors_graph(X, 8, include_self=True)
    D = np.sqrt(((X[:, None] - X[None]) ** 2).sum(-1))
    for data, affinity in [(X, "l1"), (D, "precomputed")]:
        for kwargs in [{}, {"n_clusters": 4, "return_distance": True}]:
            for linkage in ["average", "single"]:
                a = sk.linkage_tree(data, connectivity=graph, linkage=linkage, affinity=affinity,
                                    **kwargs)
                b = fm.linkage_tree(data, connectivity=graph, linkage=linkage, affinity=affinity,
                                    **kwargs)
                assert len(a) == len(b)
                for u, v in zip(a, b):
                    np.testing.assert_array_equal(v, u)
    with pytest.raises(ValueError, match="zero vectors"):
        fm.linkage_tree(np.vstack([X, np.zeros(X.shape[1])]), connectivity=sp.eye(179),
                        affinity="cosine")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_single_linkage_with_connectivity_is_compiled_and_scikit_learns(seed, monkeypatch):
    """Random graphs over rows with many equal and zero distances (small integer grid, duplicate
    rows): fastml's Kruskal keeps scipy's edges, so children_, distances_ and the parents of a
    partial tree are scikit-learn's; scikit-learn's own tree builder is not called."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, size=(150, 2)).astype(float)
    graph = sp.random(150, 150, density=0.04, random_state=seed, format="csr")
    expected = [sk.linkage_tree(X, connectivity=graph, linkage="single", n_clusters=n,
                                return_distance=True) for n in (None, 12)]
    monkeypatch.setattr("fastml.cluster._agglomerative._sklearn_linkage_tree", None)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # several components: completed as scikit-learn does
        got = [fm.linkage_tree(X, connectivity=graph, linkage="single", n_clusters=n,
                               return_distance=True) for n in (None, 12)]
    for a, b in zip(expected, got):
        assert len(a) == len(b)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(v, u)


def test_ward_tree_with_connectivity():
    X = DATA["digits"][:150]
    graph = kneighbors_graph(X, 6, include_self=True)  # self loops are ignored
    for kwargs in [{}, {"n_clusters": 5}, {"n_clusters": 150}, {"return_distance": True},
                   {"n_clusters": 9, "return_distance": True}]:
        a = sk.ward_tree(X, connectivity=graph, **kwargs)
        b = fm.ward_tree(X, connectivity=graph.toarray(), **kwargs)
        assert len(a) == len(b)
        for u, v in zip(a, b):
            np.testing.assert_array_equal(v, u)
            assert np.shape(v) == np.shape(u)
    callable_graph = lambda X: kneighbors_graph(X, 5)  # noqa: E731
    _assert_same(*_fit_both(X, connectivity=callable_graph, n_clusters=6))
    with pytest.raises(ValueError, match="Wrong shape"):
        fm.ward_tree(X, connectivity=graph[:10, :10])
    with pytest.raises(ValueError, match="Cannot provide more clusters"):
        fm.ward_tree(X, connectivity=graph, n_clusters=151)


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


@pytest.mark.parametrize("linkage", ["complete", "average"])
def test_overflowing_distances_raise_scipys_error(linkage):
    """Finite rows whose distances overflow: the euclidean path checks the distances only when
    max|X| allows an overflow; they must then raise scipy's error, as scikit-learn does."""
    X = DATA["iris"][:20].copy()
    X[3, 0], X[7, 0] = 1e200, -1e200
    with pytest.raises(ValueError) as expected:
        sk.AgglomerativeClustering(linkage=linkage).fit(X)
    with pytest.raises(ValueError) as got:
        fm.AgglomerativeClustering(linkage=linkage).fit(X)
    assert str(got.value) == str(expected.value)
    X[3, 0], X[7, 0] = 1e140, -1e140  # large, still finite distances: the same tree
    a = sk.AgglomerativeClustering(linkage=linkage, compute_distances=True).fit(X)
    b = fm.AgglomerativeClustering(linkage=linkage, compute_distances=True).fit(X)
    np.testing.assert_array_equal(b.children_, a.children_)
    np.testing.assert_array_equal(b.distances_, a.distances_)


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
