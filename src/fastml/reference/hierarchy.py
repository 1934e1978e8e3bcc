"""Hierarchical clustering in plain NumPy, from the definitions: naive O(n^3) agglomeration that
merges the closest pair of clusters at every step, each linkage distance computed from the
clusters' points (never by a Lance-Williams update), and a brute-force minimum spanning tree on
the full distance (or mutual reachability) matrix. For small shapes: they check the compiled
nearest-neighbour chain and Prim loop of fastml.cluster._hierarchy_fast."""
import numpy as np


def _distances(X):
    """Full euclidean distance matrix, each entry summed over the features in order."""
    X = np.asarray(X, dtype=np.float64)
    return np.sqrt(((X[:, None, :] - X[None, :, :]) ** 2).sum(axis=2))


def _linkage_distance(X, D, a, b, method):
    """The linkage distance of point sets a and b (lists of rows) by its definition."""
    if method == "ward":
        na, nb = len(a), len(b)
        gap = X[a].mean(axis=0) - X[b].mean(axis=0)
        return np.sqrt(2.0 * na * nb / (na + nb) * (gap @ gap))
    block = D[np.ix_(a, b)]
    return {"single": block.min, "complete": block.max, "average": block.mean}[method]()


def linkage(X, method):
    """Agglomerate the rows of X by `method` ("ward", "complete", "average" or "single").

    Returns (children, distances) in scipy's form: merge k joins clusters children[k] (the
    smaller name first) into cluster n + k, at distances[k], non-decreasing.
    """
    X = np.asarray(X, dtype=np.float64)
    n = X.shape[0]
    D = _distances(X)
    members = {i: [i] for i in range(n)}
    children = np.empty((n - 1, 2), dtype=np.int64)
    distances = np.empty(n - 1)
    for k in range(n - 1):
        names = sorted(members)
        best = None
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                d = _linkage_distance(X, D, members[a], members[b], method)
                if best is None or d < best[0]:
                    best = (d, a, b)
        d, a, b = best
        children[k] = a, b
        distances[k] = d
        members[n + k] = members.pop(a) + members.pop(b)
    return children, distances


def ward_graph(X, adjacency):
    """Ward agglomeration restricted to a graph, as scikit-learn's structured ward_tree defines
    it: at every step, among the pairs of clusters joined by an edge of `adjacency` (a symmetric,
    connected boolean n x n matrix), merge the one of smallest |A| |B| / (|A| + |B|) times the
    squared distance of the means, ties to the larger pair of names (newer cluster first, then
    the other), as scikit-learn's heap orders (inertia, newer, older).

    Returns (children, distances) in scikit-learn's form: merge k joins children[k] (the older
    name first) into cluster n + k at distance sqrt(2 inertia), in the order merged.
    """
    X = np.asarray(X, dtype=np.float64)
    adjacency = np.asarray(adjacency, dtype=bool)
    n = X.shape[0]
    members = {i: [i] for i in range(n)}
    children = np.empty((n - 1, 2), dtype=np.int64)
    distances = np.empty(n - 1)
    for k in range(n - 1):
        best = None
        for a in members:
            for b in members:
                if b >= a or not adjacency[np.ix_(members[a], members[b])].any():
                    continue
                na, nb = len(members[a]), len(members[b])
                gap = X[members[a]].mean(axis=0) - X[members[b]].mean(axis=0)
                key = (na * nb / (na + nb) * (gap @ gap), a, b)
                if best is None or key < best:
                    best = key
        inertia, a, b = best
        children[k] = b, a
        distances[k] = np.sqrt(2.0 * inertia)
        members[n + k] = members.pop(a) + members.pop(b)
    return children, distances


def complete_graph(X, adjacency):
    """Complete linkage restricted to a graph, as scikit-learn's structured linkage_tree defines
    it: the weight of two clusters is the largest distance over the edges of `adjacency` (a
    symmetric, connected boolean n x n matrix) between them, and the pair of smallest weight is
    merged (for data without equal weights: their order among equal ones is heapq's).

    Returns (children, distances) in scikit-learn's form: merge k joins children[k] (the older
    name first) into cluster n + k at the weight, in the order merged.
    """
    X = np.asarray(X, dtype=np.float64)
    adjacency = np.asarray(adjacency, dtype=bool)
    D = _distances(X)
    n = X.shape[0]
    members = {i: [i] for i in range(n)}
    children = np.empty((n - 1, 2), dtype=np.int64)
    distances = np.empty(n - 1)
    for k in range(n - 1):
        best = None
        for a in members:
            for b in members:
                block = np.ix_(members[a], members[b])
                if b >= a or not adjacency[block].any():
                    continue
                weight = D[block][adjacency[block]].max()
                if best is None or weight < best[0]:
                    best = (weight, a, b)
        weight, a, b = best
        children[k] = b, a
        distances[k] = weight
        members[n + k] = members.pop(a) + members.pop(b)
    return children, distances


def minimum_spanning_tree(X, core_distances=None, alpha=1.0):
    """Prim's minimum spanning tree of the rows by euclidean distance or, with core distances,
    by HDBSCAN's mutual reachability max(core[a], core[b], |a - b| / alpha).

    Returns (edges, weights) in the order Prim adds the edges: edges (n - 1, 2) as (tree end,
    new point); among equal links the lowest row joins first.
    """
    D = _distances(X)
    if core_distances is not None:
        core = np.asarray(core_distances, dtype=np.float64)
        D = np.maximum(np.maximum(core[:, None], core[None, :]), D / alpha)
    n = D.shape[0]
    in_tree = np.zeros(n, dtype=bool)
    in_tree[0] = True
    link = D[0].copy()
    source = np.zeros(n, dtype=np.int64)
    edges = np.empty((n - 1, 2), dtype=np.int64)
    weights = np.empty(n - 1)
    for k in range(n - 1):
        candidates = np.where(in_tree, np.inf, link)
        j = int(np.argmin(candidates))
        edges[k] = source[j], j
        weights[k] = link[j]
        in_tree[j] = True
        closer = D[j] < link
        link[closer] = D[j][closer]
        source[closer] = j
    return edges, weights


def core_distances(X, min_samples):
    """Distance of every row to its min_samples-th nearest row, itself included."""
    return np.ascontiguousarray(np.sort(_distances(X), axis=1)[:, min_samples - 1])
