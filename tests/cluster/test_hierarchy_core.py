"""fastml.cluster._hierarchy_fast against the definitions of fastml.reference.hierarchy (naive
agglomeration, brute-force minimum spanning tree) and against scipy / scikit-learn's routines it
replaces, to the bit, on several shapes and both float dtypes; entry checks."""
import numpy as np
import pytest
from scipy.cluster import hierarchy as scipy_hierarchy
from scipy.spatial.distance import pdist
from sklearn.cluster._hdbscan._linkage import mst_from_data_matrix
from sklearn.cluster._hierarchical_fast import mst_linkage_core
from sklearn.metrics import DistanceMetric
from sklearn.neighbors import KDTree

from fastml.cluster import _hierarchy_fast as core
from fastml.reference import hierarchy as ref

SHAPES = [(2, 1), (7, 3), (40, 5), (61, 2)]
EUCLIDEAN = DistanceMetric.get_metric("euclidean")


def _data(shape, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)


def _tree(X, method, n_threads=2, chain="condensed"):
    """The core's tree; complete and average by either chain: on the condensed matrix, or on
    the rows (their distances recomputed, no condensed matrix)."""
    if method == "ward":
        return core.ward_tree(X, n_threads)
    if chain == "rows":
        return core.euclidean_tree(X, method, n_threads)
    return core.condensed_tree(core.condensed_euclidean(X, 2), X.shape[0], method, n_threads)


CHAINS = pytest.mark.parametrize("chain", ["condensed", "rows"])


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("method", ["ward", "complete", "average"])
@CHAINS
def test_chain_matches_naive_agglomeration(shape, method, dtype, chain):
    X = _data(shape, dtype)
    children, distances = _tree(X, method, chain=chain)
    ref_children, ref_distances = ref.linkage(X, method)
    np.testing.assert_array_equal(children, ref_children)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-12)


@pytest.mark.parametrize("shape", SHAPES)
def test_prim_matches_brute_force_tree(shape, dtype):
    X = _data(shape, dtype)
    _, end, weight = core.prim_mst(X, None, 1.0, 2)
    ref_edges, ref_weights = ref.minimum_spanning_tree(X)
    np.testing.assert_array_equal(end, ref_edges[:, 1])  # the points join in Prim's order
    np.testing.assert_allclose(weight, ref_weights, rtol=1e-12)
    core_dist = ref.core_distances(X, min(3, shape[0]))
    for alpha in (1.0, 0.6):
        start, end, weight = core.prim_mst(X, core_dist, alpha, 2)
        ref_edges, ref_weights = ref.minimum_spanning_tree(X, core_dist, alpha)
        np.testing.assert_allclose(weight, ref_weights, rtol=1e-12)
        # equal reachabilities (a core distance above the pair's) may join the tree by
        # different edges: compare the edges whose weight is unique
        values, counts = np.unique(ref_weights, return_counts=True)
        unique = np.isin(ref_weights, values[counts > 1], invert=True)
        np.testing.assert_array_equal(np.column_stack([start, end])[unique], ref_edges[unique])


def _tied(n, d, seed=0):
    """Points on a small integer grid: many equal distances, duplicate rows."""
    return np.random.default_rng(seed).integers(0, 3, size=(n, d)).astype(np.float64)


@pytest.mark.parametrize("X", [_data((50, 4), np.float64), _tied(60, 3), _tied(45, 1, seed=2)],
                         ids=["random", "grid", "line"])
@pytest.mark.parametrize("method", ["complete", "average"])
@CHAINS
def test_chain_is_scipy_to_the_bit(X, method, chain):
    Z = scipy_hierarchy.linkage(X, method=method)
    children, distances = _tree(X, method, chain=chain)
    np.testing.assert_array_equal(children, Z[:, :2].astype(np.int64))
    np.testing.assert_array_equal(distances, Z[:, 2])


@pytest.mark.parametrize("X", [_data((300, 4), np.float64), _tied(400, 3), _tied(257, 1, seed=2)],
                         ids=["random", "grid", "line"])
@pytest.mark.parametrize("method", ["ward", "complete", "average"])
@CHAINS
def test_chain_is_the_same_on_any_thread_count(X, method, chain):
    """The chain's scans and updates are split among its team (every step, the tests setting
    FASTML_MIN_THREAD_WORK_NS=0): 1, 2 and 3 threads give scipy's tree, ties included."""
    if method == "ward" and chain == "rows":
        pytest.skip("ward has one chain")
    trees = [_tree(X, method, n_threads, chain) for n_threads in (1, 2, 3)]
    for children, distances in trees[1:]:
        np.testing.assert_array_equal(children, trees[0][0])
        np.testing.assert_array_equal(distances, trees[0][1])
    if method != "ward":  # ward's distances are its centroids', equal to scipy's to ~1e-15
        Z = scipy_hierarchy.linkage(X, method=method)
        np.testing.assert_array_equal(trees[0][0], Z[:, :2].astype(np.int64))
        np.testing.assert_array_equal(trees[0][1], Z[:, 2])


def _low_slots_last(n, seed=0):
    """Far-apart rows first (three quarters), tight pairs after them: the high slots merge first
    and the low ones stay live, so the chain's move into a square matrix, which would cover
    condensed rows still to be read at n / sqrt(2) clusters, has to wait (to about 2 n / 3)."""
    rng = np.random.default_rng(seed)
    far = rng.normal(size=(3 * n // 4, 3)) * 100.0
    pairs = rng.normal(size=(n - 3 * n // 4, 3))
    pairs[1::2] = pairs[::2][: len(pairs[1::2])] + 1e-3
    return np.vstack([far, pairs])


@pytest.mark.parametrize("method", ["complete", "average"])
@CHAINS
def test_chain_is_scipy_across_the_square_repacks(method, chain):
    """Complete and average move to a square matrix once n / sqrt(2) clusters remain (later when
    low slots stay live, for the condensed chain) and shrink it each time the live ones halve:
    every size from 2 to 40 and trees with ties or late moves cross those points at different
    merges. The rows' chain, before its square, remembers each unmerged cluster's nearest
    unmerged one and reuses its threads' last recomputed rows: the same cases cover those."""
    cases = [_data((n, 3), np.float64, seed=n) for n in range(2, 41)]
    cases += [_tied(n, 2, seed=n) for n in (9, 17, 33, 65, 130)]
    cases += [_low_slots_last(n, seed=n) for n in (12, 31, 64, 201)]
    for X in cases:
        Z = scipy_hierarchy.linkage(X, method=method)
        for n_threads in (1, 3):
            children, distances = _tree(X, method, n_threads, chain)
            np.testing.assert_array_equal(children, Z[:, :2].astype(np.int64))
            np.testing.assert_array_equal(distances, Z[:, 2])


@pytest.mark.parametrize("method", ["complete", "average"])
def test_rows_chain_is_scipy_on_uneven_blobs(method):
    """The bench's kind of data, small: blobs of unequal spread, so that many rows stay unmerged
    long (the packed rows recomputed, repacked as they merge, over several kernel blocks) while
    merged clusters pile up, before the square takes over; ties from duplicated rows."""
    from sklearn.datasets import make_blobs
    rng = np.random.default_rng(0)
    X = make_blobs(700, 5, centers=8, cluster_std=rng.uniform(0.3, 3.0, size=8),
                   random_state=0)[0]
    X[::50] = X[1::50]  # duplicated rows: equal distances, broken as scipy breaks them
    Z = scipy_hierarchy.linkage(X, method=method)
    for n_threads in (1, 2):
        children, distances = _tree(X, method, n_threads, chain="rows")
        np.testing.assert_array_equal(children, Z[:, :2].astype(np.int64))
        np.testing.assert_array_equal(distances, Z[:, 2])


def test_ward_chain_is_scipy():
    X = _data((80, 6), np.float64)
    Z = scipy_hierarchy.ward(X)
    children, distances = core.ward_tree(X, 2)
    np.testing.assert_array_equal(children, Z[:, :2].astype(np.int64))
    np.testing.assert_allclose(distances, Z[:, 2], rtol=1e-13)


@pytest.mark.parametrize("shape", SHAPES[1:])
def test_condensed_euclidean_is_pdist(shape, dtype):
    X = _data(shape, dtype)
    np.testing.assert_array_equal(core.condensed_euclidean(X, 2),
                                  pdist(X.astype(np.float64)))


# Over 256 points: several blocks of the packing, some skipped by their bounding boxes.
@pytest.mark.parametrize("X", [_data((70, 5), np.float64), _tied(80, 2),
                               _data((1500, 2), np.float64),
                               _tied(1100, 3, seed=1)],
                         ids=["random", "grid", "random-blocks", "grid-blocks"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_prim_is_scikit_learn_to_the_bit(X, n_threads):
    mst = mst_linkage_core(X, EUCLIDEAN)
    start, end, weight = core.prim_mst(X, None, 1.0, n_threads)
    np.testing.assert_array_equal(start, mst[:, 0])
    np.testing.assert_array_equal(end, mst[:, 1])
    np.testing.assert_array_equal(weight, mst[:, 2])
    core_dist = np.ascontiguousarray(ref.core_distances(X, 4))
    for alpha in (1.0, 1.3):
        mst = mst_from_data_matrix(X, core_dist, EUCLIDEAN, alpha)
        start, end, weight = core.prim_mst(X, core_dist, alpha, n_threads)
        np.testing.assert_array_equal(start, mst["current_node"])
        np.testing.assert_array_equal(end, mst["next_node"])
        np.testing.assert_array_equal(weight, mst["distance"])


# Over 64 points: several leaves of the kd partition, some pruned.
@pytest.mark.parametrize("shape", SHAPES + [(300, 3), (700, 8), (150, 12)])
@pytest.mark.parametrize("k", [1, 4, 30])
def test_core_distances_match_the_definition(shape, k, dtype):
    X = _data(shape, dtype)
    k = min(k, shape[0])
    got = core.core_distances(X, k, 2)
    np.testing.assert_allclose(got, ref.core_distances(X.astype(np.float64), k), rtol=1e-12)


@pytest.mark.parametrize("X", [_data((900, 4), np.float64), _tied(1100, 3, seed=1),
                               _data((500, 6), np.float32)], ids=["random", "grid", "float32"])
@pytest.mark.parametrize("n_threads", [1, 2])
def test_core_distances_are_kdtrees_to_the_bit(X, n_threads):
    for k in (2, 25):
        expected = KDTree(X).query(X, k=k)[0][:, -1]
        np.testing.assert_array_equal(core.core_distances(X, k, n_threads), expected)


def test_float32_rows_give_float64_results():
    X = _data((30, 4), np.float32)
    for a, b in zip(core.ward_tree(X, 1), core.ward_tree(X.astype(np.float64), 1)):
        np.testing.assert_array_equal(a, b)
    for a, b in zip(core.prim_mst(X, None, 1.0, 1), core.prim_mst(X.astype(np.float64), None,
                                                                     1.0, 1)):
        np.testing.assert_array_equal(a, b)
    for method in ("complete", "average"):
        for a, b in zip(core.euclidean_tree(X, method, 1),
                        core.euclidean_tree(X.astype(np.float64), method, 1)):
            np.testing.assert_array_equal(a, b)


def test_entry_checks():
    X = _data((5, 2), np.float64)
    with pytest.raises(ValueError, match="2 rows"):
        core.ward_tree(X[:1], 1)
    with pytest.raises(ValueError, match="n_threads"):
        core.ward_tree(X, 0)
    with pytest.raises(ValueError, match="condensed"):
        core.condensed_tree(np.zeros(4), 5, "average", 1)
    with pytest.raises(ValueError, match="linkage"):
        core.condensed_tree(np.zeros(10), 5, "median", 1)
    with pytest.raises(ValueError, match="n_threads"):
        core.condensed_tree(np.zeros(10), 5, "average", 0)
    with pytest.raises(ValueError, match="linkage"):
        core.euclidean_tree(X, "ward", 1)
    with pytest.raises(ValueError, match="n_threads"):
        core.euclidean_tree(X, "average", 0)
    with pytest.raises(ValueError, match="2 rows"):
        core.euclidean_tree(X[:1], "average", 1)
    with pytest.raises(ValueError, match="core_distances"):
        core.prim_mst(X, np.zeros(4), 1.0, 1)
    with pytest.raises(ValueError, match="alpha"):
        core.prim_mst(X, np.zeros(5), 0.0, 1)
    for k in (0, 6):
        with pytest.raises(ValueError, match="k must be"):
            core.core_distances(X, k, 1)
    with pytest.raises(TypeError):  # no silent conversion
        core.ward_tree(np.asfortranarray(_data((5, 3), np.float64)), 1)


def _random_graph(n, seed):
    """A symmetric connected adjacency: a path through every row plus random edges."""
    rng = np.random.default_rng(seed)
    adjacency = rng.random((n, n)) < 0.15
    adjacency[np.arange(n - 1), np.arange(1, n)] = True
    adjacency |= adjacency.T
    return adjacency


def _csr_rows(adjacency):
    import scipy.sparse as sp
    graph = sp.csr_matrix(adjacency)
    return graph.indptr.astype(np.int64), graph.indices.astype(np.int64)


@pytest.mark.parametrize("shape", [(2, 1), (7, 3), (30, 4), (45, 2)])
def test_ward_graph_matches_naive_agglomeration(shape, dtype):
    X = _data(shape, dtype, seed=shape[0])
    adjacency = _random_graph(shape[0], seed=shape[0])
    indptr, indices = _csr_rows(adjacency)
    n = shape[0]
    children, parents, distances = core.ward_graph(X, indptr, indices, 2 * n - 1, 2)
    ref_children, ref_distances = ref.ward_graph(X, adjacency)
    np.testing.assert_array_equal(children, ref_children)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-12)
    np.testing.assert_array_equal(parents[children.ravel()], np.repeat(np.arange(n, 2 * n - 1), 2))
    # a partial tree is the first merges of the whole one; one thread gives the same
    part = core.ward_graph(X, indptr, indices, 2 * n - 2, 1)
    np.testing.assert_array_equal(part[0], children[:n - 2])
    np.testing.assert_array_equal(part[2], distances[:n - 2])


def test_ward_graph_entry_checks():
    X = _data((5, 2), np.float64)
    indptr, indices = _csr_rows(_random_graph(5, 0))
    for args in [(X, indptr[:-1], indices, 9), (X, indptr, indices + 5, 9),
                 (X, indptr, indices, 10), (X, indptr, indices, 4)]:
        with pytest.raises(ValueError):
            core.ward_graph(*args, 1)
    with pytest.raises(ValueError):
        core.ward_graph(X, indptr, indices, 9, 0)
    # a graph with two components runs out of edges before the root
    lonely = np.zeros((5, 5), dtype=bool)
    lonely[0, 1] = lonely[1, 0] = True
    with pytest.raises(RuntimeError):
        core.ward_graph(X, *_csr_rows(lonely), 9, 1)


@pytest.mark.parametrize("shape", [(2, 1), (7, 3), (30, 4), (45, 2)])
def test_complete_graph_matches_naive_agglomeration(shape, dtype):
    X = _data(shape, dtype, seed=shape[0] + 1)
    adjacency = _random_graph(shape[0], seed=shape[0] + 1)
    np.fill_diagonal(adjacency, True)  # self loops are ignored
    indptr, indices = _csr_rows(adjacency)
    rows = np.repeat(np.arange(shape[0]), np.diff(indptr))
    weights = np.sqrt(((X[rows].astype(np.float64) - X[indices]) ** 2).sum(axis=1))
    n = shape[0]
    children, parents, distances = core.linkage_graph(indptr, indices, weights, 2 * n - 1,
                                                      "complete")
    ref_children, ref_distances = ref.complete_graph(X, adjacency)
    np.testing.assert_array_equal(children, ref_children)
    np.testing.assert_allclose(distances, ref_distances, rtol=1e-12)
    np.testing.assert_array_equal(parents[children.ravel()], np.repeat(np.arange(n, 2 * n - 1), 2))
    with pytest.raises(ValueError):
        core.linkage_graph(indptr, indices, weights[:-1], 2 * n - 1, "complete")
    with pytest.raises(ValueError):
        core.linkage_graph(indptr, indices, weights, 2 * n - 1, "single")
