"""Benchmark workloads: each times fastml and a peer on the same data.

Used by ``python -m fastml.bench`` and by the pytest-benchmark files in the repository's bench/.
"""
import functools
import importlib.util
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np


@dataclass(frozen=True)
class Workload:
    group: str
    name: str  # with "{n}" where the problem size goes
    sizes: tuple  # (quick, full) problem sizes
    setup: Callable[[int], Any]  # setup(size) -> the data handed to every implementation
    fastml: Callable[[Any], Any]
    peer: Callable[[Any], Any]
    peer_name: str
    parity: Callable[[Any, Any], float]  # how far fastml's result is from the peer's
    parity_label: str
    tolerance: float  # largest parity value that still counts as the same result
    target: Optional[float] = None  # speed-up over the peer that the project aims for
    reference: Optional[Callable[[Any], Any]] = None  # the NumPy reference
    # Problem sizes the target was set for; None: the full size only. Fixed costs (validation,
    # threads, copies) weigh more in a smaller problem, so a target says nothing about sizes it
    # was not set for.
    target_sizes: Optional[tuple] = None

    def size(self, quick):
        return self.sizes[0] if quick else self.sizes[1]

    def target_at(self, n):
        """The target speed-up at problem size n, or None where no target was set for n."""
        sizes = (self.sizes[1],) if self.target_sizes is None else self.target_sizes
        return self.target if n in sizes else None

    def label(self, quick):
        return self.name.format(n=self.size(quick))


# Peers that are not dependencies of fastml, by the module they are imported as: their name, the
# groups whose workloads use them, and how to install them. Their workloads exist only where they
# are installed; the runner lists the others.
OPTIONAL_PEERS = {
    "faiss": ("faiss-cpu", ("knn", "cluster"), 'pip install "fastml[bench]"'),
    "implicit": ("implicit", ("recommend",), 'pip install "fastml[bench]"'),
    "lightgbm": ("LightGBM", ("tree", "boosting"), 'pip install "fastml[bench]"'),
    "sklearnex": ("scikit-learn-intelex", ("tree", "metrics", "linear"),
                  'pip install "fastml[bench]"'),
    "skglm": ("skglm", ("linear",), 'pip install "fastml[bench]"'),
    "xgboost": ("XGBoost", ("boosting",), 'pip install "fastml[bench]"'),
    # the CPU build; the bench extra leaves torch out, as pip would pull the CUDA build
    "torch": ("PyTorch", ("nn",), "pip install torch==2.13.0"),
}


def peer_installed(module):
    """Whether the optional peer imported as `module` (a key of OPTIONAL_PEERS) is installed."""
    if module not in OPTIONAL_PEERS:
        raise ValueError(f"{module!r} is not an optional peer: {sorted(OPTIONAL_PEERS)}")
    return importlib.util.find_spec(module) is not None


def missing_peers(groups=None):
    """(peer, its groups, install command) for every optional peer that is not installed and
    whose workloads belong to one of `groups` (None: any group)."""
    return [(name, peer_groups, command)
            for module, (name, peer_groups, command) in OPTIONAL_PEERS.items()
            if not peer_installed(module)
            and (groups is None or any(g in groups for g in peer_groups))]


def max_abs_difference(a, b):
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - np.asarray(b, dtype=np.float64))))


def _random_pair(dtype, dim):
    def setup(n):
        rng = np.random.default_rng(0)
        if dtype is bool:
            return rng.random((n, dim)) < 0.5, rng.random((n, dim)) < 0.5
        return rng.random((n, dim)).astype(dtype), rng.random((n, dim)).astype(dtype)
    return setup


def _pairwise_workloads():
    from sklearn.metrics import pairwise_distances as sklearn_pairwise_distances

    from fastml.metrics import pairwise_distances
    from fastml.reference import distances as reference

    def fastml_call(metric, kwds):
        return lambda data: pairwise_distances(*data, metric=metric, **kwds)

    def reference_call(metric, kwds):
        return lambda data: reference.pairwise_distances(*data, metric=metric, **kwds)

    def sklearn_call(metric, kwds):
        def call(data):
            with warnings.catch_warnings():  # scikit-learn's DataConversionWarning for booleans
                warnings.simplefilter("ignore")
                return sklearn_pairwise_distances(*data, metric=metric, **kwds)
        return call

    cases = [  # metric, dtype, target speed-up, kwds, full size
        ("euclidean", np.float64, 2.0, {}, 5000), ("euclidean", np.float32, 2.0, {}, 5000),
        ("cosine", np.float64, 2.0, {}, 5000), ("cosine", np.float32, 2.0, {}, 5000),
        ("manhattan", np.float64, 5.0, {}, 5000), ("manhattan", np.float32, 5.0, {}, 5000),
        ("chebyshev", np.float64, 5.0, {}, 5000), ("chebyshev", np.float32, 5.0, {}, 5000),
        ("sqeuclidean", np.float64, None, {}, 5000),
        ("minkowski", np.float64, None, {"p": 3}, 1000),
        ("jaccard", bool, 30.0, {}, 5000), ("hamming", bool, 10.0, {}, 5000),
    ]
    dim = 64
    return [
        Workload(
            group="pairwise",
            name=f"pairwise_distances {metric} {'bool' if dtype is bool else dtype.__name__} "
                 f"{{n}}x{{n}}x{dim}",
            sizes=(full // 5, full),
            setup=_random_pair(dtype, dim),
            fastml=fastml_call(metric, kwds),
            peer=sklearn_call(metric, kwds),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="max |diff|",
            # float32 results agree to float32 rounding; scikit-learn's dot-product euclidean and
            # cosine carry more rounding error than fastml's (see the accuracy tests).
            tolerance=1e-4 if dtype == np.float32 else 1e-6,
            target=target,
            reference=reference_call(metric, kwds),
        )
        for metric, dtype, target, kwds, full in cases
    ]


def differing_fraction(a, b):
    """Share of entries that differ (predicted labels, neighbour indices)."""
    return float(np.mean(np.asarray(a) != np.asarray(b)))


def score_drop(ours, peers):
    """How far fastml's test score (accuracy, R^2) falls below the peer's; 0 when above."""
    return max(peers - ours, 0.0)


def _knn_setup(dtype, dim=32):
    """n training points in 10 random classes and min(10000, n / 5) queries."""
    def setup(n):
        rng = np.random.default_rng(0)
        X = rng.standard_normal((n, dim)).astype(dtype)
        y = rng.integers(0, 10, n)
        Q = rng.standard_normal((min(10_000, n // 5), dim)).astype(dtype)
        return X, y, Q
    return setup


def _knn_workloads():
    from sklearn.neighbors import KNeighborsClassifier as SklearnKNN

    from fastml.neighbors import KNeighborsClassifier
    from fastml.reference import neighbors as reference

    def predict(cls, metric, **kwds):
        def call(data):
            X, y, Q = data
            return cls(n_neighbors=10, metric=metric, **kwds).fit(X, y).predict(Q)
        return call

    def reference_predict(metric):
        return lambda data: reference.kneighbors_classify(
            data[0].astype(np.float64), data[1], data[2].astype(np.float64), 10, metric=metric)

    cases = [  # metric, dtype, target speed-up, full training size
        ("euclidean", np.float32, 3.0, 200_000), ("euclidean", np.float64, 3.0, 200_000),
        ("cosine", np.float32, 25.0, 200_000), ("manhattan", np.float32, 10.0, 50_000),
    ]
    workloads = [
        Workload(
            group="knn",
            name=f"KNeighborsClassifier.predict {metric} {dtype.__name__} {{n}}x32, "
                 "min(10k, n/5) queries, k=10",
            sizes=(full // 10, full),
            setup=_knn_setup(dtype),
            fastml=predict(KNeighborsClassifier, metric),
            peer=predict(SklearnKNN, metric, algorithm="brute"),
            peer_name="scikit-learn",
            parity=differing_fraction,
            parity_label="labels differing",
            tolerance=1e-3,  # random data: ties at the k-th neighbour are rare, not impossible
            target=target,
            reference=reference_predict(metric),
        )
        for metric, dtype, target, full in cases
    ]
    workloads.append(_radius_workload())
    if peer_installed("faiss"):
        workloads.append(_faiss_workload())
    return workloads


def _blobs(dim=8):
    """setup(n): scikit-learn's make_blobs, n x dim float64 (3 centers, unit spread)."""
    def setup(n):
        from sklearn.datasets import make_blobs

        return make_blobs(n_samples=n, n_features=dim, random_state=0)[0]
    return setup


def differing_lists(a, b):
    """Share of queries whose neighbour sets differ (radius_neighbors' object arrays)."""
    return float(np.mean([not np.array_equal(np.sort(x), np.sort(y)) for x, y in zip(a, b)]))


def _radius_workload():
    """radius_neighbors of every training point: fastml's compiled radius search (a kd partition
    walked per query) against scikit-learn's default, a KDTree."""
    from sklearn.neighbors import NearestNeighbors as SklearnNearestNeighbors

    from fastml.neighbors import NearestNeighbors
    from fastml.reference import cluster_density as reference

    def search(cls):
        return lambda X: cls(radius=0.5).fit(X).radius_neighbors(X, return_distance=False)

    return Workload(
        group="knn",
        name="NearestNeighbors.radius_neighbors euclidean float64 {n}x8 blobs, radius 0.5, "
             "every point queried",
        sizes=(10_000, 100_000),
        setup=_blobs(),
        fastml=search(NearestNeighbors),
        peer=search(SklearnNearestNeighbors),
        peer_name="scikit-learn",
        parity=differing_lists,
        parity_label="queries differing",
        tolerance=0.0,  # the same float64 arithmetic as scikit-learn's KDTree
        target=5.0,
        reference=lambda X: reference.radius_neighbors(X, X, 0.5),
    )


def _faiss_workload():
    """fastml's kneighbors against faiss-cpu's exact IndexFlatL2 search (index build included)."""
    from fastml.neighbors import NearestNeighbors
    from fastml.reference import neighbors as reference

    def faiss_search(data):
        import faiss  # imported when used: its bundled OpenMP and BLAS must not slow other peers

        X, _, Q = data
        index = faiss.IndexFlatL2(X.shape[1])
        index.add(X)
        return index.search(Q, 10)[1]

    return Workload(
        group="knn",
        name="kneighbors euclidean float32 {n}x32, min(10k, n/5) queries, k=10",
        sizes=(20_000, 200_000),
        setup=_knn_setup(np.float32),
        fastml=lambda data: NearestNeighbors(n_neighbors=10).fit(data[0]).kneighbors(
            data[2], return_distance=False),
        peer=faiss_search,
        peer_name="faiss IndexFlatL2",
        parity=differing_fraction,
        parity_label="indices differing",
        tolerance=1e-3,  # faiss ranks by float32 dot products: rare swaps of near-ties
        target=1.0,
        reference=lambda data: reference.kneighbors(data[2].astype(np.float64),
                                                    data[0].astype(np.float64), 10)[1],
    )


def _uniform_points(dim=16):
    def setup(n):
        return np.random.default_rng(0).random((n, dim)).astype(np.float32)
    return setup


def _tfidf_like(n_features=20_000, density=0.005, n_topics=50):
    """setup(n): a TF-IDF-like CSR float64 matrix, n x n_features: about density x n_features
    terms per row (60% from the 400-term vocabulary of the row's topic, the rest from any term),
    nonnegative (count 1-3 times a per-term idf in [1, 5]), rows l2-normalised; and the same
    initial centers for both sides (n_topics rows of the matrix)."""
    def setup(n):
        import scipy.sparse as sp

        rng = np.random.default_rng(0)
        per_row = int(round(density * n_features))
        topics = rng.integers(0, n_topics, n)
        vocabulary = rng.permutation(n_features)[:n_topics * 400].reshape(n_topics, 400)
        columns = np.where(rng.random((n, per_row)) < 0.6,
                           vocabulary[topics[:, None], rng.integers(0, 400, (n, per_row))],
                           rng.integers(0, n_features, (n, per_row)))
        idf = rng.uniform(1.0, 5.0, n_features)
        values = rng.integers(1, 4, (n, per_row)) * idf[columns]
        X = sp.csr_matrix((values.ravel(), columns.ravel(), np.arange(0, n * per_row + 1, per_row)),
                          shape=(n, n_features))
        X.sum_duplicates()  # a term drawn twice in a row: its counts add up
        norms = np.sqrt(np.add.reduceat(X.data ** 2, X.indptr[:-1]))
        X.data /= np.repeat(norms, np.diff(X.indptr))
        init = X[rng.choice(n, n_topics, replace=False)].toarray()
        return X, init
    return setup


def potential(X, centers):
    """Sum of squared distances of the points to their nearest center (float64)."""
    from fastml.metrics import pairwise_distances

    return float(pairwise_distances(X.astype(np.float64), centers.astype(np.float64),
                                    metric="sqeuclidean").min(axis=1).sum())


def relative_difference(a, b):
    return abs(a / b - 1.0)


def _cluster_workloads():
    from sklearn.cluster import KMeans as SklearnKMeans
    from sklearn.cluster import kmeans_plusplus as sklearn_kmeans_plusplus
    from sklearn.metrics import silhouette_score as sklearn_silhouette_score

    from fastml.cluster import KMeans, kmeans_plusplus
    from fastml.metrics import silhouette_score
    from fastml.reference import kmeans as reference

    k = 64

    def seeding(fn):
        # The potential is computed by the parity check, outside the timed call.
        return lambda X: (X, fn(X, k, random_state=0)[0])

    def potential_difference(a, b):
        return relative_difference(potential(*a), potential(*b))

    def with_seeds(n):
        """Points and scikit-learn's k-means++ seeds for them: Lloyd from the same start."""
        X = _uniform_points()(n)
        return X, sklearn_kmeans_plusplus(X, k, random_state=0)[0]

    def lloyd(cls):
        def call(data):
            X, seeds = data
            return cls(k, init=seeds, n_init=1, max_iter=50, tol=0).fit(X).inertia_
        return call

    def end_to_end(cls):
        return lambda X: cls(k, n_init=1, max_iter=50, tol=0, random_state=0).fit(X).inertia_

    def reference_end_to_end(X):
        centers, _ = reference.kmeans_plusplus(X, k, random_state=0)
        return reference.kmeans(X, centers, max_iter=50)[1]

    def clustered(n):
        """Points and the labels of a k-means clustering of them, for the silhouette."""
        X = _uniform_points()(n)
        return X, KMeans(k, n_init=1, max_iter=20, random_state=0).fit(X).labels_

    def sparse_lloyd(cls):
        # A fixed number of iterations (tol=0): both sides do the same work.
        def call(data):
            X, init = data
            return cls(len(init), init=init, n_init=1, max_iter=10, tol=0).fit(X).labels_
        return call

    workloads = [
        Workload(
            group="cluster",
            name="KMeans.fit CSR float64 {n}x20000 (0.5% nonzeros, TF-IDF-like), k=50, "
                 "10 iterations from the same init: labels",
            sizes=(10_000, 100_000),
            setup=_tfidf_like(),
            fastml=sparse_lloyd(KMeans),
            peer=sparse_lloyd(SklearnKMeans),
            peer_name="scikit-learn",
            parity=differing_fraction,
            parity_label="labels differing",
            tolerance=1e-3,
            target=3.0,
            # no reference: its dense float64 rows (20000 features) are too slow even at 10k
        ),
        Workload(
            group="cluster",
            name=f"kmeans_plusplus float32 {{n}}x16, k={k}: potential",
            sizes=(20_000, 500_000),
            setup=_uniform_points(),
            fastml=seeding(kmeans_plusplus),
            peer=seeding(sklearn_kmeans_plusplus),
            peer_name="scikit-learn",
            parity=potential_difference,
            parity_label="potential rel. diff",
            # One seed: float32 cumulative sums make scikit-learn sample other points than
            # fastml's float64 ones, so the two potentials differ by the spread of k-means++.
            tolerance=0.05,
            target=15.0,
            reference=seeding(reference.kmeans_plusplus),
        ),
        Workload(
            group="cluster",
            name=f"KMeans Lloyd float32 {{n}}x16, k={k}, 50 iterations from the same seeds: "
                 "inertia",
            sizes=(5_000, 500_000),
            setup=with_seeds,
            fastml=lloyd(KMeans),
            peer=lloyd(SklearnKMeans),
            peer_name="scikit-learn",
            parity=relative_difference,
            parity_label="inertia rel. diff",
            tolerance=0.005,
            target=2.5,
            reference=lambda data: reference.kmeans(*data, max_iter=50)[1],
        ),
        Workload(
            group="cluster",
            name=f"KMeans.fit float32 {{n}}x16, k={k}, k-means++ and 50 iterations: inertia",
            sizes=(5_000, 500_000),
            setup=_uniform_points(),
            fastml=end_to_end(KMeans),
            peer=end_to_end(SklearnKMeans),
            peer_name="scikit-learn",
            parity=relative_difference,
            parity_label="inertia rel. diff",
            tolerance=0.005,
            target=4.0,
            reference=reference_end_to_end,
        ),
        Workload(
            group="cluster",
            name=f"silhouette_score float32 {{n}}x16, {k} clusters",
            sizes=(4_000, 20_000),
            setup=clustered,
            fastml=lambda data: silhouette_score(*data),
            peer=lambda data: sklearn_silhouette_score(*data),
            peer_name="scikit-learn",
            parity=lambda a, b: abs(a - b),
            parity_label="|diff|",
            tolerance=1e-5,
            target=5.0,
            reference=lambda data: float(np.mean(reference.silhouette_samples(*data))),
        ),
    ]
    workloads.append(_dbscan_workload())
    if peer_installed("faiss"):
        workloads.append(_faiss_kmeans_workload(end_to_end(KMeans), reference_end_to_end, k))
    return workloads


def _dbscan_workload():
    from sklearn.cluster import DBSCAN as SklearnDBSCAN

    from fastml.cluster import DBSCAN
    from fastml.reference import cluster_density as reference

    return Workload(
        group="cluster",
        name="DBSCAN.fit float64 {n}x8 blobs, eps 0.5, min_samples 10: labels",
        sizes=(10_000, 100_000),
        setup=_blobs(),
        fastml=lambda X: DBSCAN(eps=0.5, min_samples=10).fit(X).labels_,
        peer=lambda X: SklearnDBSCAN(eps=0.5, min_samples=10).fit(X).labels_,
        peer_name="scikit-learn",
        parity=differing_fraction,
        parity_label="labels differing",
        tolerance=0.0,  # scikit-learn's labels, label for label
        target=5.0,
        reference=lambda X: reference.dbscan(X, 0.5, 10)[1],
    )


def _faiss_kmeans_workload(fastml_fit, reference_fit, k):
    """fastml's KMeans.fit against faiss-cpu's Kmeans (both: 50 iterations, one run)."""
    def faiss_fit(X):
        import faiss  # imported when used, as for the k-NN workload

        km = faiss.Kmeans(X.shape[1], k, niter=50, seed=0, max_points_per_centroid=X.shape[0])
        km.train(X)
        return potential(X, km.centroids)

    return Workload(
        group="cluster",
        name=f"KMeans.fit float32 {{n}}x16, k={k}, 50 iterations: inertia",
        sizes=(5_000, 500_000),
        setup=_uniform_points(),
        fastml=fastml_fit,
        peer=faiss_fit,
        peer_name="faiss Kmeans",
        parity=relative_difference,
        # Different seeding (faiss: random points, fastml: k-means++) reaches other local optima.
        parity_label="inertia rel. diff",
        tolerance=0.02,
        target=1.0,
        reference=reference_fit,
    )


def _uneven_blobs(n_features, centers=20):
    """Gaussian blobs of unequal spread, float64: clusters at several densities."""
    def make(n):
        from sklearn.datasets import make_blobs
        rng = np.random.default_rng(0)
        return make_blobs(n, n_features, centers=centers,
                          cluster_std=rng.uniform(0.5, 2.5, size=centers), random_state=0)[0]
    return make


def _prototype_codes(n_features=16, n_prototypes=20, changed=0.2, values=8):
    """setup(n): integer codes in 0..values-1, each row a copy of one of n_prototypes random rows
    with a share `changed` of its features redrawn: clusters under the hamming distance."""
    def make(n):
        rng = np.random.default_rng(0)
        prototypes = rng.integers(0, values, size=(n_prototypes, n_features))
        X = prototypes[rng.integers(0, n_prototypes, size=n)].astype(np.float64)
        redraw = rng.random(X.shape) < changed
        X[redraw] = rng.integers(0, values, size=int(redraw.sum()))
        return X
    return make


def _hierarchy_workloads():
    from sklearn.cluster import DBSCAN as SklearnDBSCAN
    from sklearn.cluster import HDBSCAN as SklearnHDBSCAN
    from sklearn.cluster import AgglomerativeClustering as SklearnAgglomerativeClustering

    from fastml.cluster import DBSCAN, HDBSCAN, AgglomerativeClustering

    def agglomerative(cls, linkage):
        return lambda X: cls(n_clusters=20, linkage=linkage).fit(X).labels_

    def hdbscan(cls):
        return lambda X: cls(min_cluster_size=25, copy=False).fit(X).labels_

    def with_graph(n):
        """Normal rows (n x 16) and their 10-nearest-neighbour graph, built outside the timings:
        one connected component, so that the timings are the agglomeration's (on blobs the graph
        splits into ~190 components, and scikit-learn's completion of it, which both sides run,
        takes ~90% of the time)."""
        from sklearn.neighbors import kneighbors_graph
        X = np.random.default_rng(0).normal(size=(n, 16))
        return X, kneighbors_graph(X, 10, include_self=False)

    def structured(cls, linkage):
        return lambda data: cls(n_clusters=20, linkage=linkage, connectivity=data[1]).fit(
            data[0]).labels_

    def common(**kwargs):
        return dict(group="cluster", peer_name="scikit-learn", parity=differing_fraction,
                    parity_label="fraction of labels that differ", tolerance=0.0, **kwargs)

    return [
        Workload(name="AgglomerativeClustering ward {n}x16 float64 (blobs), 20 clusters: labels",
                 sizes=(2_000, 20_000), setup=_uneven_blobs(16),
                 fastml=agglomerative(AgglomerativeClustering, "ward"),
                 peer=agglomerative(SklearnAgglomerativeClustering, "ward"), target=10.0,
                 **common()),
        Workload(name="AgglomerativeClustering average {n}x16 float64 (blobs), 20 clusters: "
                      "labels",
                 sizes=(2_000, 10_000), setup=_uneven_blobs(16),
                 fastml=agglomerative(AgglomerativeClustering, "average"),
                 peer=agglomerative(SklearnAgglomerativeClustering, "average"), target=5.0,
                 **common()),
        # no target: the issue sets none for a connectivity graph
        Workload(name="AgglomerativeClustering ward {n}x16 float64 (normal), 10-NN connectivity, "
                      "20 clusters: labels",
                 sizes=(2_000, 10_000), setup=with_graph,
                 fastml=structured(AgglomerativeClustering, "ward"),
                 peer=structured(SklearnAgglomerativeClustering, "ward"), **common()),
        # scikit-learn's neighbour dictionaries grow with the clusters: 5k rows take it ~16 s
        Workload(name="AgglomerativeClustering average {n}x16 float64 (normal), 10-NN "
                      "connectivity, 20 clusters: labels",
                 sizes=(1_000, 5_000), setup=with_graph,
                 fastml=structured(AgglomerativeClustering, "average"),
                 peer=structured(SklearnAgglomerativeClustering, "average"), **common()),
        # scipy's spanning tree by fastml's Kruskal; scikit-learn's _fix_connectivity, which both
        # sides run, takes most of the time
        Workload(name="AgglomerativeClustering single {n}x16 float64 (normal), 10-NN "
                      "connectivity, 20 clusters: labels",
                 sizes=(2_000, 20_000), setup=with_graph,
                 fastml=structured(AgglomerativeClustering, "single"),
                 peer=structured(SklearnAgglomerativeClustering, "single"), **common()),
        Workload(name="HDBSCAN {n}x8 float64 (blobs), min_cluster_size=25: labels",
                 sizes=(5_000, 50_000), setup=_uneven_blobs(8), fastml=hdbscan(HDBSCAN),
                 peer=hdbscan(SklearnHDBSCAN), target=5.0, **common()),
        # eps * 16 not an integer: no pair at exactly eps, where scikit-learn's BallTree (its
        # choice for hamming) leaves some pairs out that its brute force and fastml keep
        Workload(name="DBSCAN hamming {n}x16 codes (20 prototypes, 20% redrawn), eps 0.2, "
                      "min_samples 10: labels",
                 sizes=(3_000, 30_000), setup=_prototype_codes(),
                 fastml=lambda X: DBSCAN(eps=0.2, min_samples=10, metric="hamming").fit(X).labels_,
                 peer=lambda X: SklearnDBSCAN(eps=0.2, min_samples=10,
                                              metric="hamming").fit(X).labels_,
                 **common()),
        # cosine: scikit-learn's brute force (no tree takes it); fastml's radius search of the
        # unit rows. Blobs away from the origin: clusters by angle (9 at 20k, 66% noise).
        Workload(name="DBSCAN cosine {n}x16 float64 (blobs), eps 0.01, min_samples 10: labels",
                 sizes=(2_000, 20_000), setup=_uneven_blobs(16),
                 fastml=lambda X: DBSCAN(eps=0.01, min_samples=10, metric="cosine").fit(X).labels_,
                 peer=lambda X: SklearnDBSCAN(eps=0.01, min_samples=10,
                                              metric="cosine").fit(X).labels_,
                 **common()),
    ]


def interactions(n_users, n_items, n_interactions, seed=0, n_topics=32, popular_share=0.0):
    """Implicit feedback with a structure to learn: items belong to topics, each user favours
    two topics (80% of their interactions, the rest on any topic), and within a topic items
    are chosen by Zipf popularity (rank^-0.8). Counts 1-4, as CSR float32, split per user into
    train and test (20% held out).

    popular_share > 0 skews the items: that share of the interactions goes to items drawn by
    global Zipf popularity (rank^-1 over all items), so that a few items are in most users' rows
    and the item side has rows tens of thousands long."""
    import scipy.sparse as sp

    from fastml.recommend import train_test_split

    rng = np.random.default_rng(seed)
    per_topic = n_items // n_topics
    topic_items = rng.permutation(n_topics * per_topic).reshape(n_topics, per_topic)
    popularity = 1.0 / np.arange(1, per_topic + 1) ** 0.8
    favourites = rng.integers(0, n_topics, (n_users, 2))
    users = rng.integers(0, n_users, n_interactions)
    topics = np.where(rng.random(n_interactions) < 0.8,
                      favourites[users, rng.integers(0, 2, n_interactions)],
                      rng.integers(0, n_topics, n_interactions))
    ranks = rng.choice(per_topic, n_interactions, p=popularity / popularity.sum())
    counts = rng.integers(1, 5, n_interactions).astype(np.float32)
    items = topic_items[topics, ranks]
    if popular_share > 0:  # drawn after the others: the unskewed data stays as it was
        popular = rng.random(n_interactions) < popular_share
        weights = 1.0 / np.arange(1, n_items + 1)
        items[popular] = rng.permutation(n_items)[
            rng.choice(n_items, popular.sum(), p=weights / weights.sum())]
    R = sp.csr_matrix((counts, (users, items)), shape=(n_users, n_items))
    return train_test_split(R, test_size=0.2, random_state=seed)


def implicit_loss(R, X, Y, regularization, alpha):
    """The implicit-feedback objective, computed without visiting the zeros (float64)."""
    X, Y = X.astype(np.float64), Y.astype(np.float64)
    coo = R.tocoo()
    s = np.einsum("ij,ij->i", X[coo.row], Y[coo.col])
    c = 1.0 + alpha * coo.data
    return float(np.einsum("ij,jk,ik->", X, Y.T @ Y, X) + np.sum(c * (1 - s) ** 2 - s ** 2)
                 + regularization * (np.vdot(X, X) + np.vdot(Y, Y)))


def _held_out_top_10(X, Y, R_train, R_test):
    """(test rows, top 10 items of X @ Y.T with seen items left out) of the users with test
    items."""
    from fastml._backend import effective_n_threads
    from fastml.recommend import _kernels_cpu

    users = np.flatnonzero(np.diff(R_test.indptr))
    seen = R_train[users]
    items, _ = _kernels_cpu.score_top_k(X[users], Y, np.zeros(len(users), Y.dtype),
                                        np.zeros(Y.shape[0], Y.dtype),
                                        seen.indptr.astype(np.int64),
                                        seen.indices.astype(np.int64), 10, 1024,
                                        effective_n_threads())
    return R_test[users], items


def precision_at_10(X, Y, R_train, R_test):
    """precision@10 of X @ Y.T (seen items left out) over the users with test items."""
    from fastml.metrics import precision_at_k

    return precision_at_k(*_held_out_top_10(X, Y, R_train, R_test), 10)


def hit_rate_at_10(X, Y, R_train, R_test):
    """Share of the users with test items that find one of them in their top 10 of X @ Y.T
    (seen items left out)."""
    test, items = _held_out_top_10(X, Y, R_train, R_test)
    rows = np.repeat(np.arange(len(items)), 10)
    hits = np.asarray(test[rows, items.ravel()]).reshape(items.shape) != 0
    return float(hits.any(axis=1).mean())


def _recommend_workloads():
    import scipy.sparse as sp

    from fastml.recommend import MatrixFactorization
    from fastml.recommend._kernels_cpu import SGD_BLOCKS, sgd_epoch_order
    from fastml.reference import mf as reference

    factors, n_iter, regularization = 64, 10, 0.01

    def implicit_setup(n_users):
        return interactions(n_users, n_users // 5, int(n_users * 27.4))

    def zipf_setup(n_users):
        return interactions(n_users, n_users // 5, int(n_users * 44), popular_share=0.5)

    def fastml_implicit(data):
        model = MatrixFactorization(factors, feedback="implicit", n_iter=n_iter,
                                    regularization=regularization, cg_steps=3, random_state=0,
                                    device="cpu")
        model.fit(data[0])
        return model.user_factors_, model.item_factors_, data

    def implicit_als(data):
        from implicit.cpu.als import AlternatingLeastSquares
        from threadpoolctl import threadpool_limits

        confidence = data[0].copy()  # implicit weighs an entry by its value: give it 1 + r
        confidence.data += 1
        model = AlternatingLeastSquares(factors=factors, iterations=n_iter,
                                        regularization=regularization, random_state=0)
        with threadpool_limits(1, user_api="blas"):  # implicit asks for single-threaded BLAS
            model.fit(confidence, show_progress=False)
        return model.user_factors, model.item_factors, data

    def shortfall(ranking_metric):
        def parity(a, b):
            """How far fastml falls behind, relatively: excess training loss or lost ranking
            quality on the held-out interactions."""
            (Xa, Ya, (train, test)), (Xb, Yb, _) = a, b
            losses = [implicit_loss(train, X, Y, regularization, 1.0)
                      for X, Y in ((Xa, Ya), (Xb, Yb))]
            quality = [ranking_metric(X, Y, train, test) for X, Y in ((Xa, Ya), (Xb, Yb))]
            return max(losses[0] / losses[1] - 1, 1 - quality[0] / quality[1], 0.0)
        return parity

    def reference_implicit(data):
        rng = np.random.RandomState(0)
        X0 = 0.01 * rng.standard_normal((data[0].shape[0], factors))
        Y0 = 0.01 * rng.standard_normal((data[0].shape[1], factors))
        X, Y, _ = reference.implicit_als(data[0], X0, Y0, regularization, 1.0, n_iter)
        return X, Y, data

    workloads = []
    if peer_installed("implicit"):
        workloads.append(Workload(
            group="recommend",
            name=f"implicit ALS {{n}} users x n/5 items, 27.4 interactions per user, "
                 f"{factors} factors, {n_iter} iterations: loss and precision@10",
            sizes=(5_000, 100_000),
            setup=implicit_setup,
            fastml=fastml_implicit,
            peer=implicit_als,
            peer_name="implicit",
            parity=shortfall(precision_at_10),
            parity_label="shortfall",
            # Precision@10 of two fits differs by a few percent at the quick size by chance.
            tolerance=0.05,
            target=1.5,
            reference=reference_implicit,
        ))
        # Skewed popularity: the item side has a few rows tens of thousands long (the top item
        # is in 80% of the users' rows), which a solver working on blocks of rows must balance.
        workloads.append(Workload(
            group="recommend",
            name=f"implicit ALS zipf {{n}} users x n/5 items, ~32 train interactions per user, "
                 f"half by global popularity, {factors} factors, {n_iter} iterations, 3 CG "
                 "steps: loss and hit rate@10",
            sizes=(5_000, 50_000),
            setup=zipf_setup,
            fastml=fastml_implicit,
            peer=implicit_als,
            peer_name="implicit",
            parity=shortfall(hit_rate_at_10),
            parity_label="shortfall",
            tolerance=0.05,
            target=1.5,
            # The NumPy reference takes minutes at the quick size; the workload above times it.
            reference=None,
        ))

    rank, explicit_factors = 8, 16

    def ratings_setup(n_users):
        """Ratings mu + b_u + b_i + u . v + noise on 5% of a users x n/2 items matrix."""
        rng = np.random.default_rng(1)
        n_items = n_users // 2
        U = rng.standard_normal((n_users, rank)) / np.sqrt(rank)
        V = rng.standard_normal((n_items, rank))
        R = sp.random(n_users, n_items, density=0.05, random_state=1, format="coo")
        values = (3.5 + 0.3 * rng.standard_normal(n_users)[R.row]
                  + 0.3 * rng.standard_normal(n_items)[R.col]
                  + np.einsum("ij,ij->i", U[R.row], V[R.col]) + 0.1 * rng.standard_normal(R.nnz))
        from fastml.recommend import train_test_split

        return train_test_split(sp.csr_matrix((values, (R.row, R.col)), shape=R.shape),
                                test_size=0.2, random_state=1)

    def held_out_rmse(result):
        (X, Y, user_bias, item_bias, mu), (_, test) = result
        test = test.tocoo()
        predicted = reference.predict(X, Y, user_bias, item_bias, mu, test.row, test.col)
        return float(np.sqrt(np.mean((predicted - test.data) ** 2)))

    def explicit_fastml(solver, **params):
        def fit(data):
            model = MatrixFactorization(explicit_factors, solver=solver, n_iter=n_iter,
                                        random_state=0, device="cpu", **params).fit(data[0])
            return (model.user_factors_, model.item_factors_, model.user_bias_,
                    model.item_bias_, model.global_mean_), data
        return fit

    def initial_factors(train):
        """The factors MatrixFactorization(random_state=0) starts from, and its generator."""
        rng = np.random.RandomState(0)
        X0 = 0.1 * rng.standard_normal((train.shape[0], explicit_factors))
        return X0, 0.1 * rng.standard_normal((train.shape[1], explicit_factors)), rng

    def reference_als(data):
        _, Y0, _ = initial_factors(data[0])
        return reference.explicit_als(data[0], Y0, 0.1, n_iter, True)[:5], data

    learning_rate = 0.01

    def reference_sgd(data):
        X0, Y0, rng = initial_factors(data[0])
        coo = data[0].tocoo()
        users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
        orders = [sgd_epoch_order(users, items, rng, SGD_BLOCKS)[0] for _ in range(n_iter)]
        result = reference.sgd(users, items, coo.data, X0, Y0, learning_rate, 0.1, True, orders)
        return result[:5], data

    def rmse_difference(a, b):
        return relative_difference(held_out_rmse(a), held_out_rmse(b))

    for solver, reference_fit, sizes in (("als", reference_als, (1_000, 8_000)),
                                         ("sgd", reference_sgd, (1_000, 4_000))):
        workloads.append(Workload(
            group="recommend",
            name=f"explicit {solver.upper()} {{n}} users x n/2 items, 5% rated, "
                 f"{explicit_factors} factors, {n_iter} iterations: held-out RMSE",
            sizes=sizes,
            setup=ratings_setup,
            fastml=explicit_fastml(solver, learning_rate=learning_rate),
            peer=reference_fit,
            peer_name="NumPy reference",
            parity=rmse_difference,
            parity_label="RMSE rel. diff",
            tolerance=1e-3,
            target=10.0,
            reference=reference_fit,
        ))
    return workloads


def classes_in_clusters(n, n_features=784, n_classes=10, seed=0):
    """A 10-class problem that one epoch of an MLP learns to ~99% (a harder one would compare
    initialisations more than training): each class a cloud around its own centre, float32;
    train on the first 5/6, test on the rest."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_classes, n_features)).astype(np.float32)
    y = rng.integers(0, n_classes, size=n)
    X = centres[y] * 0.2 + rng.standard_normal((n, n_features), dtype=np.float32)
    cut = n * 5 // 6
    return X[:cut], y[:cut], X[cut:], y[cut:]


def _nn_workloads():
    from sklearn.neural_network import MLPClassifier as SklearnMLP

    from fastml.nn import MLPClassifier, functional
    from fastml.reference import nn as reference

    hidden, batch = (256, 128), 128
    has_torch = peer_installed("torch")

    def held_out_accuracy(model, data):
        X, y, X_test, y_test = data
        return float(np.mean(model.predict(X_test) == y_test))

    def one_epoch(make, layers=hidden):
        """One epoch of a model from make(layers, ...) on the training rows (timed), scored on
        the test rows."""
        def run(data):
            model = make(layers, batch_size=batch, max_iter=1, random_state=0)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # one epoch does not converge
                model.fit(data[0], data[1])
            return held_out_accuracy(model, data)
        return run

    fastml_epoch = one_epoch(functools.partial(MLPClassifier, device="cpu"))
    sklearn_epoch = one_epoch(SklearnMLP)

    def torch_epoch(data):
        import torch

        X, y, X_test, y_test = (torch.from_numpy(np.asarray(a)) for a in data)
        torch.manual_seed(0)
        layers, n_in = [], X.shape[1]
        for size in hidden:
            layers += [torch.nn.Linear(n_in, size), torch.nn.ReLU()]
            n_in = size
        model = torch.nn.Sequential(*layers, torch.nn.Linear(n_in, 10))
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, weight_decay=1e-4)
        loss_fn = torch.nn.CrossEntropyLoss()
        order = torch.randperm(X.shape[0])
        for start in range(0, X.shape[0], batch):
            rows = order[start:start + batch]
            optimizer.zero_grad()
            loss_fn(model(X[rows]), y[rows]).backward()
            optimizer.step()
        with torch.no_grad():
            return float((model(X_test).argmax(1) == y_test).float().mean())

    def mlp_workload(peer, peer_name):
        return Workload(
            group="nn",
            name=f"MLP 784-256-128-10 one Adam epoch, {{n}} rows float32, batch {batch}: "
                 "test accuracy",
            sizes=(6_000, 60_000),
            setup=classes_in_clusters,
            fastml=fastml_epoch,
            peer=peer,
            peer_name=peer_name,
            parity=score_drop,
            parity_label="accuracy drop",
            tolerance=0.03,
            target=1.5 if peer_name == "scikit-learn" else 1.0,
        )

    def conv_setup(n):
        """Images, filters, bias and the gradient of a loss for the output, handed to both
        sides (so neither times making it)."""
        rng = np.random.default_rng(0)
        return (rng.standard_normal((n, 32, 32, 32), dtype=np.float32),
                0.05 * rng.standard_normal((64, 32, 3, 3), dtype=np.float32),
                rng.standard_normal(64, dtype=np.float32),
                rng.standard_normal((n, 64, 32, 32), dtype=np.float32))

    def fastml_conv(backward):
        def run(data):
            x, w, b, grad_out = data
            out = functional.conv2d(x, w, b, padding=1)
            if not backward:
                return (out,)
            return (out, *functional.conv2d_backward(grad_out, x, w, padding=1))
        return run

    def torch_conv(backward):
        def run(data):
            import torch

            x, w, b, grad_out = (torch.from_numpy(a) for a in data)
            x, w, b = (t.requires_grad_(backward) for t in (x, w, b))
            out = torch.nn.functional.conv2d(x, w, b, padding=1)
            if not backward:
                return (out.detach().numpy(),)
            out.backward(grad_out)
            return tuple(t.numpy() for t in (out.detach(), x.grad, w.grad, b.grad))
        return run

    def reference_conv_forward(data):
        return (reference.conv2d(*data[:3], padding=1),)

    def largest_relative_difference(a, b):
        return max(float(np.abs(x - y).max() / np.abs(y).max()) for x, y in zip(a, b))

    def sparse_documents(n):
        """TF-IDF-like CSR rows (5k terms, 1% nonzeros) in 10 classes that a linear model
        separates, split 4:1 into training and test rows."""
        X, _ = _tfidf_like(n_features=5_000, density=0.01, n_topics=10)(n + n // 4)
        y = np.argmax(X @ np.random.default_rng(1).standard_normal((X.shape[1], 10)), axis=1)
        return X[:n], y[:n], X[n:], y[n:]

    sparse_layers = (256,)
    workloads = [mlp_workload(sklearn_epoch, "scikit-learn"), Workload(
        group="nn",
        name=f"MLPClassifier 5000-256-10 one Adam epoch on CSR {{n}} rows float64 (1% "
             f"nonzeros, TF-IDF-like), batch {batch}: test accuracy",
        sizes=(5_000, 50_000),
        setup=sparse_documents,
        fastml=one_epoch(functools.partial(MLPClassifier, device="cpu"), sparse_layers),
        peer=one_epoch(SklearnMLP, sparse_layers),
        peer_name="scikit-learn",
        parity=score_drop,
        parity_label="accuracy drop",
        tolerance=0.03,
        target=1.5,
    )]
    if has_torch:
        workloads.append(mlp_workload(torch_epoch, "torch"))
        for backward in (False, True):
            what = "forward + backward" if backward else "forward"
            workloads.append(Workload(
                group="nn",
                name=f"conv2d {what}, {{n}} x 32 x 32 x 32 to 64 channels, 3x3, padding 1, "
                     "float32",
                sizes=(8, 64),
                setup=conv_setup,
                fastml=fastml_conv(backward),
                peer=torch_conv(backward),
                peer_name="torch",
                parity=largest_relative_difference,
                parity_label="max rel. diff",
                tolerance=1e-5,
                target=1 / 1.3,  # within 1.3x of torch's time
                # the reference's loops take minutes for the backward pass
                reference=None if backward else reference_conv_forward,
            ))
    return workloads


def tabular(n, task="classification", n_features=20, seed=0):
    """scikit-learn's make_classification / make_regression with 20 features, float32; train
    on n rows, test on n / 5 more."""
    from sklearn.datasets import make_classification, make_regression

    n_test = max(n // 5, 1)
    if task == "classification":
        X, y = make_classification(n + n_test, n_features, random_state=seed)
    else:
        X, y = make_regression(n + n_test, n_features, n_informative=10, noise=10.0,
                               random_state=seed)
    X = X.astype(np.float32)
    return X[:n], y[:n], X[n:], y[n:]


def _tree_workloads():
    from sklearn.ensemble import RandomForestClassifier as SklearnForest
    from sklearn.ensemble import RandomForestRegressor as SklearnForestRegressor
    from sklearn.tree import DecisionTreeClassifier as SklearnTreeClassifier
    from sklearn.tree import DecisionTreeRegressor as SklearnTreeRegressor

    from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
    from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor

    def test_score(make_model):
        """Fits on the training rows (timed) and scores on the test rows."""
        def run(data):
            X, y, X_test, y_test = data
            return make_model().fit(X, y).score(X_test, y_test)
        return run

    # Quick sizes stay at 150k rows: below that, 255 bins are too coarse for the deep nodes of a
    # depth-16 tree (at 50k the hist tree loses 0.6 points of accuracy to scikit-learn's).
    depth = 16
    workloads = []
    for finder, target in (("hist", 10.0), ("exact", 2.0)):
        workloads.append(Workload(
            group="tree",
            name=f"DecisionTreeClassifier {finder} fit {{n}}x20 float32, max_depth={depth}: "
                 "test accuracy",
            sizes=(150_000, 500_000),
            setup=tabular,
            fastml=test_score(lambda f=finder: DecisionTreeClassifier(
                max_depth=depth, split_finder=f, random_state=0)),
            peer=test_score(lambda: SklearnTreeClassifier(max_depth=depth, random_state=0)),
            peer_name="scikit-learn",
            parity=score_drop,
            parity_label="accuracy drop",
            tolerance=0.005,
            target=target,
        ))
    def weighted_regression(n):
        X, y, _, _ = tabular(n, "regression")
        return X, y, np.random.default_rng(0).uniform(0.5, 2.0, n)

    def fitted_tree(make_model):
        """Fits with the sample weights (timed); the tree's splits."""
        def run(data):
            X, y, w = data
            tree = make_model().fit(X, y, sample_weight=w).tree_
            return tree.feature.copy(), tree.threshold.copy()
        return run

    # fractional weights: the exact search keeps scikit-learn's row order (its sums' rounding)
    # to give its tree; this row prices that against the peer, which it must equal split for split
    workloads.append(Workload(
        group="tree",
        name="DecisionTreeRegressor exact fit {n}x20 float32, random fractional sample_weight: "
             "scikit-learn's tree",
        sizes=(20_000, 100_000),
        setup=weighted_regression,
        fastml=fitted_tree(lambda: DecisionTreeRegressor(split_finder="exact", random_state=0)),
        peer=fitted_tree(lambda: SklearnTreeRegressor(random_state=0)),
        peer_name="scikit-learn",
        parity=lambda ours, peers: float(not all(
            a.shape == b.shape and np.array_equal(a, b) for a, b in zip(ours, peers))),
        parity_label="splits differ",
        tolerance=0.0,
    ))
    workloads.append(Workload(
        group="tree",
        name=f"DecisionTreeRegressor hist fit {{n}}x20 float32, max_depth={depth}: test R^2",
        # regression leaves are finer still: at 150k rows the hist tree's R^2 is 0.006 lower
        sizes=(500_000, 500_000),
        setup=lambda n: tabular(n, "regression"),
        fastml=test_score(lambda: DecisionTreeRegressor(max_depth=depth, split_finder="hist",
                                                        random_state=0)),
        peer=test_score(lambda: SklearnTreeRegressor(max_depth=depth, random_state=0)),
        peer_name="scikit-learn",
        parity=score_drop,
        parity_label="R^2 drop",
        tolerance=0.005,
        target=10.0,
    ))

    def lightgbm_forest(task, n_trees):
        import lightgbm

        # random-forest mode grown like scikit-learn's: bootstrap-sized row samples, leaves down
        # to one row; sqrt(n_features) features per node for classification (8191 leaves cover
        # the ~7.4k of a tree grown to purity here), all of them for regression. A regression
        # tree grown to purity has ~63k leaves here, and LightGBM with that many took over 8
        # minutes a fit: it stops at 8191 (the parity column shows what that costs)
        cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
        return cls(boosting_type="rf", n_estimators=n_trees, subsample=0.632, subsample_freq=1,
                   feature_fraction_bynode=np.sqrt(20) / 20 if task == "classification" else 1.0,
                   num_leaves=8191,
                   min_child_samples=1, min_child_weight=0.0, n_jobs=2, random_state=0,
                   verbose=-1)

    def forest_fits(task, n_trees, sizes):
        """fastml's forest fit against each peer that has one, with scikit-learn's defaults."""
        if task == "classification":
            ours, theirs, kind = RandomForestClassifier, SklearnForest, "Classifier"
        else:
            ours, theirs, kind = RandomForestRegressor, SklearnForestRegressor, "Regressor"
        score = "accuracy" if task == "classification" else "R^2"
        peers = [("scikit-learn", lambda: theirs(n_trees, n_jobs=2, random_state=0), 10.0)]
        if peer_installed("sklearnex"):
            import sklearnex.ensemble

            intelex = getattr(sklearnex.ensemble, f"RandomForest{kind}")
            peers.append(("scikit-learn-intelex",
                          lambda: intelex(n_trees, n_jobs=2, random_state=0), 1.5))
        if peer_installed("lightgbm"):
            peers.append(("LightGBM rf", lambda: lightgbm_forest(task, n_trees), 1.0))
        return [Workload(
            group="tree",
            name=f"RandomForest{kind} {n_trees} trees fit {{n}}x20 float32, n_jobs=2: test {score}",
            sizes=sizes,
            setup=lambda n: tabular(n, task),
            fastml=test_score(lambda: ours(n_trees, n_jobs=2, random_state=0)),
            peer=test_score(make_peer),
            peer_name=peer_name,
            parity=score_drop,
            parity_label=f"{score} drop",
            tolerance=0.005,
            target=target,
        ) for peer_name, make_peer, target in peers]

    workloads += forest_fits("classification", 30, (20_000, 100_000))
    workloads += forest_fits("classification", 100, (20_000, 200_000))
    workloads += forest_fits("regression", 30, (20_000, 100_000))
    workloads += forest_fits("regression", 100, (20_000, 200_000))

    def tfidf_labelled(n, n_features=5_000, density=0.005):
        """A TF-IDF-like CSR matrix (n x n_features, float64; see _tfidf_like) with binary
        labels from a sparse linear rule over its terms, 4/5 of the rows for training."""
        X, _ = _tfidf_like(n_features=n_features, density=density, n_topics=10)(n)
        rng = np.random.default_rng(1)
        w = rng.standard_normal(n_features) * (rng.random(n_features) < 0.05)
        score = X @ w
        y = (score > np.median(score)).astype(np.int64)
        cut = n * 4 // 5
        return X[:cut], y[:cut], X[cut:], y[cut:]

    sparse_trees = 30
    workloads.append(Workload(
        group="tree",
        name=f"RandomForestClassifier {sparse_trees} trees fit, sparse CSR {{n}}x5000 at 0.5% "
             "density (TF-IDF-like), n_jobs=2: test accuracy",
        sizes=(5_000, 20_000),
        setup=tfidf_labelled,
        fastml=test_score(lambda: RandomForestClassifier(sparse_trees, n_jobs=2,
                                                         random_state=0)),
        peer=test_score(lambda: SklearnForest(sparse_trees, n_jobs=2, random_state=0)),
        peer_name="scikit-learn",
        parity=score_drop,
        parity_label="accuracy drop",
        # 16k training rows: "auto" searches histograms (sparse_hist.hpp), not scikit-learn's
        # exact splits, so the forests differ; their held-out accuracy should not drop
        tolerance=0.005,
        target=5.0,
    ))

    n_trees = 100

    def fitted_forests(n):
        """Both forests fitted on the training rows (untimed), and the test rows."""
        X, y, X_test, _ = tabular(n)
        return (RandomForestClassifier(n_trees, n_jobs=2, random_state=0).fit(X, y),
                SklearnForest(n_trees, n_jobs=2, random_state=0).fit(X, y), X_test)

    workloads.append(Workload(
        group="tree",
        name=f"RandomForestClassifier {n_trees} trees predict_proba, {{n}}/5 rows x20 float32: "
             "predicted classes",
        sizes=(20_000, 200_000),
        setup=fitted_forests,
        fastml=lambda data: data[0].predict_proba(data[2]).argmax(1),
        peer=lambda data: data[1].predict_proba(data[2]).argmax(1),
        peer_name="scikit-learn",
        parity=differing_fraction,
        parity_label="classes differing",
        tolerance=0.02,  # two forests grown from different random draws
        target=3.0,
    ))
    return workloads


def _boosting_workloads():
    """HistGradientBoosting* against scikit-learn's, LightGBM's and XGBoost's hist booster with
    the same settings: 100 iterations of at most 31 leaves, learning rate 0.1, 255 bins, no early
    stopping, 2 threads; 28 float32 features as the issue's 1M x 28 problem."""
    from sklearn.ensemble import HistGradientBoostingClassifier as SklearnClassifier
    from sklearn.ensemble import HistGradientBoostingRegressor as SklearnRegressor
    from sklearn.metrics import r2_score, roc_auc_score

    from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    common = dict(max_iter=100, max_leaf_nodes=31, learning_rate=0.1, early_stopping=False,
                  random_state=0)
    ours = {"classification": lambda: HistGradientBoostingClassifier(**common, n_jobs=2),
            "regression": lambda: HistGradientBoostingRegressor(**common, n_jobs=2)}
    sklearn_models = {"classification": lambda: SklearnClassifier(**common),
                      "regression": lambda: SklearnRegressor(**common)}

    def data(task):
        return lambda n: tabular(n, task, n_features=28)

    def held_out(task, make_model):
        """Fits on the training rows (timed) and scores the test rows: AUC or R^2."""
        def run(d):
            X, y, X_test, y_test = d
            model = make_model().fit(X, y)
            if task == "classification":
                return roc_auc_score(y_test, model.predict_proba(X_test)[:, 1])
            return r2_score(y_test, model.predict(X_test))
        return run

    def peers(task):
        found = [("scikit-learn", sklearn_models[task], 3.0)]
        if peer_installed("lightgbm"):
            import lightgbm

            cls = lightgbm.LGBMClassifier if task == "classification" else lightgbm.LGBMRegressor
            # cls bound now: a closure over the name read XGBoost's class, rebound below, so
            # that this row ran XGBoost with LightGBM's keywords (ignored: depth-6 trees)
            found.append(("LightGBM", lambda cls=cls: cls(
                n_estimators=100, num_leaves=31, learning_rate=0.1, max_bin=255,
                min_child_samples=20, reg_lambda=0.0, n_jobs=2, verbose=-1), 2.0))
        if peer_installed("xgboost"):
            import xgboost

            cls = xgboost.XGBClassifier if task == "classification" else xgboost.XGBRegressor
            found.append(("XGBoost hist", lambda cls=cls: cls(
                tree_method="hist", n_estimators=100, max_leaves=31, max_depth=0,
                grow_policy="lossguide", learning_rate=0.1, max_bin=256, n_jobs=2), 2.0))
        return found

    def quantized(task):
        return lambda: ours[task]().set_params(quantized_gradients=True)

    workloads = []
    for task, kind, score in (("classification", "Classifier", "AUC"),
                              ("regression", "Regressor", "R^2")):
        # the exact model (scikit-learn's), then fastml's quantized gradients
        for option, make_ours in (("", ours[task]),
                                  ("(quantized_gradients=True)", quantized(task))):
            workloads += [Workload(
                group="boosting",
                name=f"HistGradientBoosting{kind}{option} fit {{n}}x28 float32, 100 iterations, "
                     f"31 leaves: test {score}",
                sizes=(20_000, 1_000_000),
                setup=data(task),
                fastml=held_out(task, make_ours),
                peer=held_out(task, make_peer),
                peer_name=peer_name,
                parity=score_drop,
                parity_label=f"{score} drop",
                tolerance=0.002 if task == "classification" else 0.005,
                target=target,
            ) for peer_name, make_peer, target in peers(task)]

    def fitted(task):
        """Both models fitted on the training rows (untimed), and the test rows."""
        def setup(n):
            X, y, X_test, _ = tabular(n, task, n_features=28)
            return ours[task]().fit(X, y), sklearn_models[task]().fit(X, y), X_test
        return setup

    def predict_call(task, rows):
        method = "predict_proba" if task == "classification" else "predict"
        if rows is None:
            return lambda model, X: getattr(model, method)(X)
        # the rows' results stacked: np.vstack of a whole result would take it row by row
        return lambda model, X: np.vstack([getattr(model, method)(X[i:i + 1])
                                           for i in range(rows)])

    for task, kind in (("classification", "Classifier"), ("regression", "Regressor")):
        method = "predict_proba" if task == "classification" else "predict"
        for rows, target in ((None, 3.0), (200, 10.0)):
            call = predict_call(task, rows)
            what = "{n}/5 rows" if rows is None else f"{rows} single rows, one call each, of {{n}}/5"
            workloads.append(Workload(
                group="boosting",
                name=f"HistGradientBoosting{kind} {method}, {what} x28 float32",
                sizes=(20_000, 1_000_000),
                setup=fitted(task),
                fastml=lambda d, c=call: c(d[0], d[2]).ravel(),
                peer=lambda d, c=call: c(d[1], d[2]).ravel(),
                peer_name="scikit-learn",
                parity=max_abs_difference,
                parity_label="largest difference",
                tolerance=1e-9,  # the same model, walked in the same order
                target=target,
            ))
    workloads.append(_categorical_boosting_workload(common, held_out))
    if peer_installed("lightgbm"):
        workloads.append(_wide_categorical_workload(common))
        workloads += [_ranker_workload(), _ranker_workload(weighted=True)]
    return workloads


def categorical_tabular(n, seed=0):
    """n training rows (n / 5 test rows more) of 10 float features and 4 categorical ones of 5,
    20, 60 and 200 categories (codes as floats, 5% missing), a regression target with an
    effect of each category."""
    rng = np.random.default_rng(seed)
    m = n + max(n // 5, 1)
    numeric = rng.standard_normal((m, 10))
    cardinalities = (5, 20, 60, 200)
    categories = np.column_stack([rng.integers(0, c, m) for c in cardinalities])
    y = numeric @ np.linspace(1, 0.1, 10) + rng.standard_normal(m)
    for j, c in enumerate(cardinalities):
        y += rng.standard_normal(c)[categories[:, j]]
    X = np.column_stack([numeric, categories]).astype(np.float32)
    X[:, 10:][rng.random((m, 4)) < 0.05] = np.nan
    return X[:n], y[:n], X[n:], y[n:]


def _categorical_boosting_workload(common, held_out):
    """HistGradientBoostingRegressor with 4 categorical features against scikit-learn's: the
    same trees, so the test predictions must agree."""
    from sklearn.ensemble import HistGradientBoostingRegressor as SklearnRegressor

    from fastml.ensemble import HistGradientBoostingRegressor

    mask = np.r_[np.zeros(10, dtype=bool), np.ones(4, dtype=bool)]

    def fit_predict(make_model):
        def run(d):
            X, y, X_test, _ = d
            return make_model().fit(X, y).predict(X_test)
        return run

    return Workload(
        group="boosting",
        name="HistGradientBoostingRegressor fit {n}x(10 float + 4 categorical of 5..200), "
             "100 iterations, 31 leaves, predict n/5",
        sizes=(20_000, 1_000_000),
        setup=categorical_tabular,
        fastml=fit_predict(lambda: HistGradientBoostingRegressor(
            **common, categorical_features=mask, n_jobs=2)),
        peer=fit_predict(lambda: SklearnRegressor(**common, categorical_features=mask)),
        peer_name="scikit-learn",
        parity=max_abs_difference,
        parity_label="largest difference",
        tolerance=1e-6,  # the same trees; leaf sums in another order
        target=3.0,
    )


def wide_categorical_tabular(n, seed=0, n_categories=5000):
    """n training rows (n / 5 test rows more) of 10 float features and one categorical of
    n_categories categories, more than scikit-learn's booster takes (codes as floats, 5%
    missing, the frequent ones spread over all codes), a regression target with an effect of
    each category."""
    rng = np.random.default_rng(seed)
    m = n + max(n // 5, 1)
    numeric = rng.standard_normal((m, 10))
    frequent = rng.choice(n_categories, 200, replace=False)
    categories = np.where(rng.random(m) < 0.5, frequent[rng.integers(0, 200, m)],
                          rng.integers(0, n_categories, m))
    y = (numeric @ np.linspace(1, 0.1, 10) + 2 * rng.standard_normal(n_categories)[categories]
         + rng.standard_normal(m))
    X = np.column_stack([numeric, categories]).astype(np.float32)
    X[rng.random(m) < 0.05, 10] = np.nan
    return X[:n], y[:n], X[n:], y[n:]


def _wide_categorical_workload(common):
    """HistGradientBoostingRegressor with a categorical feature of 5000 categories (scikit-learn
    raises past 255) against LightGBM's categorical splits: held-out R^2."""
    import lightgbm
    from sklearn.metrics import r2_score

    from fastml.ensemble import HistGradientBoostingRegressor

    def ours(d):
        X, y, X_test, y_test = d
        model = HistGradientBoostingRegressor(**common, categorical_features=[10], n_jobs=2)
        return r2_score(y_test, model.fit(X, y).predict(X_test))

    def peer(d):
        X, y, X_test, y_test = d
        model = lightgbm.LGBMRegressor(n_estimators=100, num_leaves=31, learning_rate=0.1,
                                       max_bin=255, min_child_samples=20, reg_lambda=0.0,
                                       n_jobs=2, verbose=-1)
        return r2_score(y_test, model.fit(X, y, categorical_feature=[10]).predict(X_test))

    return Workload(
        group="boosting",
        name="HistGradientBoostingRegressor fit {n}x(10 float + 1 categorical of 5000), "
             "100 iterations, 31 leaves: test R^2",
        sizes=(20_000, 1_000_000),
        setup=wide_categorical_tabular,
        fastml=ours,
        peer=peer,
        peer_name="LightGBM",
        parity=score_drop,
        parity_label="R^2 drop",
        tolerance=0.01,
        target=2.0,
    )


def ranking_data(n, seed=0, n_features=20):
    """n training rows in queries of 10 to 59 rows (n / 5 test rows more, in their own
    queries), float32 features, relevance grades 0..4 from a noisy latent score: (X, y, group,
    X_test, y_test, group_test)."""
    rng = np.random.default_rng(seed)

    def part(rows):
        group = rng.integers(10, 60, rows // 10 + 1)
        group = group[np.cumsum(group) <= rows]
        group = np.r_[group, rows - group.sum()] if group.sum() < rows else group
        X = rng.standard_normal((rows, n_features)).astype(np.float32)
        latent = (X @ np.linspace(1, 0, n_features) + 0.5 * np.sin(3 * X[:, 0]) * X[:, 1]
                  + rng.standard_normal(rows))
        y = np.digitize(latent, np.quantile(latent, [0.5, 0.75, 0.9, 0.97]))
        return X, y, group

    return (*part(n), *part(max(n // 5, 10)))


def weighted_ranking_data(n, seed=0):
    """ranking_data with a weight per training row (uniform in 0.5 .. 2) after it."""
    data = ranking_data(n, seed)
    return (*data, np.random.default_rng(seed + 1).uniform(0.5, 2.0, len(data[1])))


def _ranker_workload(weighted=False):
    """HistGradientBoostingRanker against LightGBM's LGBMRanker (lambdarank, its defaults: 100
    iterations, 31 leaves, truncation level 30; no early stopping on either side): fit timed,
    held-out NDCG@10 compared. weighted: each training row weighted (both multiply a row's
    lambdas by its weight)."""
    import lightgbm

    from fastml.ensemble import HistGradientBoostingRanker
    from fastml.reference.boosting import ndcg_at

    def run(make_model):
        def fit_score(d):
            X, y, group, X_test, y_test, group_test = d[:6]
            model = make_model().fit(X, y, d[6] if weighted else None, group=group)
            return ndcg_at(y_test, model.predict(X_test), group_test, 10)
        return fit_score

    return Workload(
        group="boosting",
        name="HistGradientBoostingRanker fit {n}x20 float32 in queries of 10-59, 100 "
             f"iterations{', rows weighted' if weighted else ''}: test NDCG@10",
        sizes=(20_000, 300_000),
        setup=weighted_ranking_data if weighted else ranking_data,
        fastml=run(lambda: HistGradientBoostingRanker(max_iter=100, early_stopping=False,
                                                      n_jobs=2)),
        peer=run(lambda: lightgbm.LGBMRanker(n_estimators=100, num_leaves=31,
                                             learning_rate=0.1, n_jobs=2, verbose=-1)),
        peer_name="LightGBM",
        parity=score_drop,
        parity_label="NDCG@10 drop",
        tolerance=0.005,
        target=1.0,
    )


def _small_call_workloads():
    """Calls that take about a millisecond, each timed after the runner's pause, as a user's
    occasional call meets them: after a pause the OpenMP threads sleep, and waking them can cost
    more than the work (the cores keep such calls on one thread). The target, 1x, holds at every
    size: a small call must never be slower than scikit-learn's."""
    import sklearn.cluster
    import sklearn.metrics
    import sklearn.neighbors
    import sklearn.tree

    import fastml.cluster
    import fastml.metrics
    import fastml.neighbors
    import fastml.tree

    def pairwise(module):
        def call(X):
            with warnings.catch_warnings():  # scikit-learn's DataConversionWarning for booleans
                warnings.simplefilter("ignore")
                return module.pairwise_distances(X, metric="jaccard")
        return call

    def kneighbors(module, **kwds):
        def call(data):
            X, _, Q = data
            return module.NearestNeighbors(n_neighbors=10, **kwds).fit(X).kneighbors(
                Q, return_distance=False)
        return call

    def two_hundred_queries(n):
        X, y, Q = _knn_setup(np.float32)(n)
        return X, y, Q[:200]

    def fitted_kmeans(n):
        """The points and both KMeans fitted to them (untimed): the same random_state gives the
        same clustering."""
        X = _uniform_points()(n)
        return (X, fastml.cluster.KMeans(8, n_init=1, random_state=0).fit(X),
                sklearn.cluster.KMeans(8, n_init=1, random_state=0).fit(X))

    def tree_fit(module):
        def call(data):
            X, y, X_test, y_test = data
            return module.DecisionTreeClassifier(random_state=0).fit(X, y).score(X_test, y_test)
        return call

    def small(name, n, setup, fastml, peer, parity, parity_label, tolerance):
        return Workload(group="small", name=name, sizes=(n, n), setup=setup, fastml=fastml,
                        peer=peer, peer_name="scikit-learn", parity=parity,
                        parity_label=parity_label, tolerance=tolerance, target=1.0,
                        target_sizes=(n,))

    return [
        small("small call: pairwise_distances jaccard bool {n}x{n}x64", 1000,
              lambda n: np.random.default_rng(0).random((n, 64)) < 0.3,
              pairwise(fastml.metrics), pairwise(sklearn.metrics), max_abs_difference,
              "max |diff|", 1e-6),
        small("small call: kneighbors euclidean float32 {n}x32, 200 queries, k=10", 2000,
              two_hundred_queries,
              kneighbors(fastml.neighbors), kneighbors(sklearn.neighbors, algorithm="brute"),
              differing_fraction, "indices differing", 1e-3),
        small("small call: KMeans.predict float32 {n}x16, k=8", 2000, fitted_kmeans,
              lambda data: data[1].predict(data[0]), lambda data: data[2].predict(data[0]),
              differing_fraction, "labels differing", 0.0),
        small("small call: DecisionTreeClassifier fit {n}x20 float32: test accuracy", 1000,
              tabular, tree_fit(fastml.tree), tree_fit(sklearn.tree), score_drop,
              "accuracy drop", 0.005),
    ]


def zipf_documents(n, vocabulary_size=30_000, seed=0):
    """n synthetic documents of 20-60 words each, drawn from a vocabulary of random lowercase
    words (3-10 letters) with zipf-like frequencies (the word of rank r has weight r**-1.1)."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    words = np.array(["".join(rng.choice(letters, size=length))
                      for length in rng.integers(3, 11, size=vocabulary_size)], dtype=object)
    weights = 1.0 / np.arange(1, vocabulary_size + 1) ** 1.1
    lengths = rng.integers(20, 61, size=n)
    drawn = words[rng.choice(vocabulary_size, size=lengths.sum(), p=weights / weights.sum())]
    ends = np.cumsum(lengths)
    return [" ".join(drawn[end - length:end]) + "." for end, length in zip(ends, lengths)]


def _text_workloads():
    from sklearn.feature_extraction import text as sklearn_text

    from fastml.feature_extraction import text
    from fastml.reference import text as reference

    def same_matrix(a, b):
        return float(abs(a - b).max()) if a.shape == b.shape else np.inf

    def reference_counts(docs):
        return reference.count([doc.lower() for doc in docs],
                               lambda doc: reference.analyze(doc, "word"))[1]

    cases = [  # what, fastml's call, scikit-learn's call, reference
        ("CountVectorizer fit_transform",
         lambda docs: text.CountVectorizer().fit_transform(docs),
         lambda docs: sklearn_text.CountVectorizer().fit_transform(docs), reference_counts),
        ("TfidfVectorizer 1-2-grams, min_df=2 fit_transform",
         lambda docs: text.TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(docs),
         lambda docs: sklearn_text.TfidfVectorizer(ngram_range=(1, 2), min_df=2).fit_transform(docs),
         None),
        ("HashingVectorizer transform",
         lambda docs: text.HashingVectorizer().transform(docs),
         lambda docs: sklearn_text.HashingVectorizer().transform(docs), None),
    ]
    return [Workload(group="text", name=f"{what} {{n}} documents (20-60 words, zipf 30k vocabulary)",
                     sizes=(5_000, 100_000), setup=zipf_documents, fastml=fastml, peer=peer,
                     peer_name="scikit-learn", parity=same_matrix, parity_label="max |diff|",
                     tolerance=0.0, target=5.0, reference=ref)
            for what, fastml, peer, ref in cases]


def word_counts(n_docs, vocabulary=30_000, words_per_doc=40, n_classes=20, seed=0):
    """A documents x words CSR matrix of counts, about words_per_doc words per document drawn
    from a Zipf (1/rank) vocabulary, and a class per document whose words lean to a share of the
    vocabulary of its own (so that the classes can be told apart)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, size=n_docs)
    p = 1.0 / np.arange(1, vocabulary + 1)
    words = rng.choice(vocabulary, size=(n_docs, words_per_doc), p=p / p.sum())
    # A quarter of each document's words moved into its class's block of the vocabulary.
    block = vocabulary // n_classes
    own = rng.random((n_docs, words_per_doc)) < 0.25
    words[own] = (y[:, None] * block + words % block)[own]
    X = sp.csr_matrix((np.ones(words.size), (np.repeat(np.arange(n_docs), words_per_doc),
                                             words.ravel())), shape=(n_docs, vocabulary))
    X.sum_duplicates()
    return X, y


def _naive_bayes_workloads():
    from sklearn import naive_bayes as sklearn_nb

    from fastml import naive_bayes
    from fastml.reference import naive_bayes as reference

    def gaussian_setup(n):
        rng = np.random.default_rng(0)
        return rng.normal(size=(n, 50)), rng.integers(0, 10, size=n)

    def gaussian_fit(module):
        def call(data):
            model = module.GaussianNB().fit(*data)
            return np.concatenate([model.theta_, model.var_])
        return call

    def gaussian_reference(data):
        X, y = data
        _, mean, var = reference.gaussian_stats(X, y, 10)
        return np.concatenate([mean, var + 1e-9 * X.var(axis=0).max()])

    def fitted_text(n):
        """Both MultinomialNB fitted on the documents (untimed), and the documents."""
        X, y = word_counts(n)
        return naive_bayes.MultinomialNB().fit(X, y), sklearn_nb.MultinomialNB().fit(X, y), X

    def text_reference(data):
        model, _, X = data
        return reference.proba(reference.linear_jll(X, model.feature_log_prob_,
                                                    model.class_log_prior_))

    return [
        Workload(
            group="text",
            name="GaussianNB fit {n}x50 float64, 10 classes: means and variances",
            sizes=(50_000, 1_000_000),
            setup=gaussian_setup,
            fastml=gaussian_fit(naive_bayes),
            peer=gaussian_fit(sklearn_nb),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="max |diff|",
            tolerance=1e-9,
            target=4.0,
            reference=gaussian_reference,
        ),
        Workload(
            group="text",
            name="MultinomialNB predict_proba {n} documents x 30k words (CSR, ~40 words each), "
                 "20 classes",
            sizes=(10_000, 100_000),
            setup=fitted_text,
            fastml=lambda data: data[0].predict_proba(data[2]),
            peer=lambda data: data[1].predict_proba(data[2]),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="max |diff|",
            tolerance=1e-9,
            target=3.0,
            reference=text_reference,
        ),
    ]


def _report_difference(a, b):
    """0 when two classification reports (dicts) agree to 1e-12, else the largest difference."""
    return max(abs(float(a[key][col] if isinstance(a[key], dict) else a[key])
                   - float(b[key][col] if isinstance(b[key], dict) else b[key]))
               for key in a for col in (a[key] if isinstance(a[key], dict) else [None]))


def _classification_metric_workloads():
    """Metrics of a classifier's output: labels and scores of n samples, made once (untimed)."""
    import sklearn.metrics as sk

    import fastml.metrics as fm
    from fastml.reference import metrics as reference

    def binary_scores(n):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, n)
        # scores that carry some signal, in float64 as predict_proba returns them
        return y, np.clip(rng.normal(0.4 + 0.2 * y, 0.25), 0.0, 1.0)

    def ten_class_labels(n):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n)
        return y, np.where(rng.random(n) < 0.7, y, rng.integers(0, 10, n))

    def ten_class_proba(n):
        rng = np.random.default_rng(0)
        y = rng.integers(0, 10, n)
        proba = rng.random((n, 10))
        proba[np.arange(n), y] += 2.0
        return y, proba / proba.sum(axis=1, keepdims=True)

    def auc_peers():
        peers = [("scikit-learn", sk.roc_auc_score, 10.0)]
        if peer_installed("sklearnex"):
            import sklearnex.metrics

            if hasattr(sklearnex.metrics, "roc_auc_score"):
                peers.append(("scikit-learn-intelex", sklearnex.metrics.roc_auc_score, 3.0))
        return peers

    workloads = [Workload(
        group="metrics",
        name="roc_auc_score {n} float64 scores",
        sizes=(1_000_000, 10_000_000),
        setup=binary_scores,
        fastml=lambda data: fm.roc_auc_score(*data),
        peer=lambda data, f=peer: f(*data),
        peer_name=name,
        parity=max_abs_difference,
        parity_label="|diff|",
        tolerance=1e-12,
        target=target,
        reference=lambda data: reference.roc_auc(data[1], data[0] == 1),
    ) for name, peer, target in auc_peers()]
    workloads += [
        Workload(
            group="metrics",
            name="confusion_matrix {n} labels, 10 classes",
            sizes=(1_000_000, 10_000_000),
            setup=ten_class_labels,
            fastml=lambda data: fm.confusion_matrix(*data),
            peer=lambda data: sk.confusion_matrix(*data),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="max |diff|",
            tolerance=0.0,
            target=10.0,
            reference=lambda data: reference.confusion_counts(*data, 10),
        ),
        Workload(
            group="metrics",
            name="classification_report {n} labels, 10 classes",
            sizes=(1_000_000, 10_000_000),
            setup=ten_class_labels,
            fastml=lambda data: fm.classification_report(*data, output_dict=True),
            peer=lambda data: sk.classification_report(*data, output_dict=True),
            peer_name="scikit-learn",
            parity=_report_difference,
            parity_label="max |diff|",
            tolerance=1e-12,
            target=10.0,
        ),
        Workload(
            group="metrics",
            name="log_loss {n} x 10 float64 probabilities",
            sizes=(100_000, 1_000_000),
            setup=ten_class_proba,
            fastml=lambda data: fm.log_loss(*data),
            peer=lambda data: sk.log_loss(*data),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="|diff|",
            tolerance=1e-12,
        ),
    ]
    return workloads


def _regression_data(n, d=100):
    """n x d float64 standard normal X (a few columns with large means, as raw features have) and
    y = X b + noise."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    X[:, :5] += 50.0
    y = X @ rng.standard_normal(d) + 0.5 * rng.standard_normal(n)
    return X, y


def max_relative_coef_difference(a, b):
    """Largest |coef difference| over the largest |coef|, intercepts included."""
    a = np.append(np.ravel(a[0]), np.ravel(a[1]))
    b = np.append(np.ravel(b[0]), np.ravel(b[1]))
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _linear_workloads():
    import sklearn.linear_model as sk

    import fastml.linear_model as fm

    def fitted(make):
        def fit(data):
            model = make().fit(*data)
            return model.coef_, model.intercept_
        return fit

    from ..reference import linear as reference

    models = [("LinearRegression", lambda lib: lib.LinearRegression(), 0.0),
              ("Ridge", lambda lib: lib.Ridge(alpha=1.0), 1.0)]
    peers = [("scikit-learn", sk, 15.0, 1e-8)]
    if peer_installed("sklearnex"):
        import sklearnex.linear_model as intelex

        # scikit-learn-intelex's coefficients are 1.6e-8 (relative) from scikit-learn's at 1M
        # rows and 2.7e-10 from the exact (SVD) solution at 200k, where fastml's are within
        # 1e-12 of both (measured): the columns with large means cost its normal equations digits.
        peers.append(("scikit-learn-intelex", intelex, 1.5, 1e-7))
    return [Workload(
        group="linear",
        name=f"{name} fit {{n}}x100 float64",
        sizes=(100_000, 1_000_000),
        setup=_regression_data,
        fastml=fitted(lambda make=make: make(fm)),
        peer=fitted(lambda make=make, lib=lib: make(lib)),
        peer_name=peer_name,
        parity=max_relative_coef_difference,
        parity_label="max rel coef diff",
        tolerance=tolerance,
        target=target,
        reference=lambda data, alpha=alpha: reference.ridge_solution(*data, alpha),
    ) for name, make, alpha in models for peer_name, lib, target, tolerance in peers]
def _linear_cd_workloads():
    """Lasso, ElasticNet, lasso_path and LassoCV by coordinate descent: regression data with 50
    informative features out of 1000 and alpha=1, which keeps about those 50 (the issue's
    "scikit-learn's alpha=1 on make_regression-like data")."""
    from sklearn import linear_model as sklearn_linear
    from sklearn.datasets import make_regression

    from fastml import linear_model

    @functools.cache
    def regression(n):
        X, y = make_regression(n_samples=n, n_features=1000, n_informative=50, noise=10.0,
                               random_state=0)
        return X, y

    def relative_difference(a, b):
        return max_abs_difference(a, b) / max(1.0, float(np.max(np.abs(b))))

    def fit(cls, **params):
        return lambda data: cls(**params).fit(*data).coef_

    def path(function):
        return lambda data: function(*data, alphas=30)[1]

    def cv(cls):
        def call(data):
            model = cls(cv=3, alphas=30).fit(*data)
            return np.concatenate([[model.alpha_], model.coef_])
        return call

    def workload(name, fastml_call, peer_call, peer_name, target, sizes=(5_000, 50_000)):
        return Workload(group="linear", name=name, sizes=sizes, setup=regression,
                        fastml=fastml_call, peer=peer_call, peer_name=peer_name,
                        parity=relative_difference, parity_label="max |diff| / max |coef|",
                        tolerance=1e-4, target=target)

    workloads = [
        workload("Lasso fit {n}x1000 float64, alpha=1", fit(linear_model.Lasso, alpha=1.0),
                 fit(sklearn_linear.Lasso, alpha=1.0), "scikit-learn", 3.0),
        workload("ElasticNet fit {n}x1000 float64, alpha=1, l1_ratio=0.7",
                 fit(linear_model.ElasticNet, alpha=1.0, l1_ratio=0.7),
                 fit(sklearn_linear.ElasticNet, alpha=1.0, l1_ratio=0.7), "scikit-learn", 3.0),
        workload("lasso_path {n}x1000 float64, 30 alphas", path(linear_model.lasso_path),
                 path(sklearn_linear.lasso_path), "scikit-learn", 5.0),
        workload("LassoCV {n}x1000 float64, 3 folds, 30 alphas", cv(linear_model.LassoCV),
                 cv(sklearn_linear.LassoCV), "scikit-learn", 5.0, sizes=(5_000, 20_000)),
    ]
    @functools.cache
    def multi_task(n):
        rng = np.random.default_rng(0)
        X, _ = regression(n)
        W = np.zeros((5, X.shape[1]))
        W[:, :50] = rng.normal(scale=10.0, size=(5, 50))
        return X, X @ W.T + rng.normal(scale=10.0, size=(n, 5))

    @functools.cache
    def sparse_regression(n):
        # 1% dense text-like features, 50 of them informative
        from scipy import sparse

        rng = np.random.default_rng(0)
        X = sparse.random(n, 10_000, density=0.01, format="csc", random_state=0)
        coef = np.zeros(10_000)
        coef[rng.choice(10_000, size=50, replace=False)] = rng.normal(scale=10.0, size=50)
        return X, X @ coef + rng.normal(size=n)

    workloads += [
        Workload(group="linear", name="MultiTaskLasso fit {n}x1000 float64, 5 tasks, alpha=1",
                 sizes=(2_000, 20_000), setup=multi_task,
                 fastml=fit(linear_model.MultiTaskLasso, alpha=1.0),
                 peer=fit(sklearn_linear.MultiTaskLasso, alpha=1.0), peer_name="scikit-learn",
                 parity=relative_difference, parity_label="max |diff| / max |coef|",
                 tolerance=1e-4),
        Workload(group="linear", name="Lasso fit sparse {n}x10000 (1% nonzero), alpha=0.01",
                 sizes=(5_000, 50_000), setup=sparse_regression,
                 fastml=fit(linear_model.Lasso, alpha=0.01),
                 peer=fit(sklearn_linear.Lasso, alpha=0.01), peer_name="scikit-learn",
                 parity=relative_difference, parity_label="max |diff| / max |coef|",
                 tolerance=1e-4),
    ]
    if peer_installed("skglm"):
        import skglm

        # skglm stops on its own optimality test: the same optimum to about 1e-4 relative.
        workloads += [
            workload("Lasso fit {n}x1000 float64, alpha=1", fit(linear_model.Lasso, alpha=1.0),
                     fit(skglm.Lasso, alpha=1.0), "skglm", 1.0),
            workload("ElasticNet fit {n}x1000 float64, alpha=1, l1_ratio=0.7",
                     fit(linear_model.ElasticNet, alpha=1.0, l1_ratio=0.7),
                     fit(skglm.ElasticNet, alpha=1.0, l1_ratio=0.7), "skglm", 1.0),
        ]
    return workloads


def relative_coef_difference(a, b):
    """Largest coefficient difference relative to the largest coefficient of the peer."""
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def _logistic_workloads():
    from scipy.special import expit
    from sklearn import linear_model as sk

    from fastml import linear_model as fm

    def binary(n, d=100):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, d))
        logits = X @ rng.normal(size=d) * 0.3
        return X, (rng.random(n) < expit(logits)).astype(np.int64)

    def ten_classes(n, d=50, k=10):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, d))
        logits = X @ rng.normal(size=(d, k)) * 0.3 + rng.gumbel(size=(n, k))
        return X, np.argmax(logits, axis=1)

    def fit(cls):
        def call(data):
            model = cls().fit(*data)
            return np.hstack([model.coef_, model.intercept_[:, None]])
        return call

    peers = [("scikit-learn", sk.LogisticRegression, 4.0, 1e-4)]
    cv_l1 = dict(Cs=[0.01, 0.03, 0.1, 0.3, 1.0], cv=3, solver="saga", l1_ratios=(1.0,),
                 scoring="neg_log_loss", use_legacy_attributes=False)
    if peer_installed("sklearnex"):
        import sklearnex.linear_model

        # Its own L-BFGS stops elsewhere within tol: the same optimum to about 1e-3.
        peers.append(("scikit-learn-intelex", sklearnex.linear_model.LogisticRegression, 2.0,
                      1e-2))
    return [Workload(
        group="linear",
        name=f"LogisticRegression lbfgs fit {{n}}x{d} float64, {classes}",
        sizes=sizes,
        setup=setup,
        fastml=fit(fm.LogisticRegression),
        peer=fit(cls),
        peer_name=peer_name,
        parity=relative_coef_difference,
        parity_label="coef rel. diff",
        tolerance=tolerance,
        target=target,
    ) for setup, d, classes, sizes in ((binary, 100, "binary", (20_000, 200_000)),
                                       (ten_classes, 50, "10 classes", (10_000, 100_000)))
        for peer_name, cls, target, tolerance in peers] + [
        # l1 with saga: fastml's proximal Newton steps reach the optimum, scikit-learn's saga
        # stops at its tol=1e-4 on the change of the coefficients per epoch, about 1e-3 away.
        Workload(
            group="linear",
            name="LogisticRegression saga l1 fit {n}x100 float64, binary, C=0.1",
            sizes=(5_000, 50_000),
            setup=binary,
            fastml=fit(lambda: fm.LogisticRegression(solver="saga", l1_ratio=1.0, C=0.1)),
            peer=fit(lambda: sk.LogisticRegression(solver="saga", l1_ratio=1.0, C=0.1)),
            peer_name="scikit-learn",
            parity=relative_coef_difference,
            parity_label="coef rel. diff",
            tolerance=1e-2,
        ),
        # l1 in LogisticRegressionCV: each fold's path over the Cs by proximal Newton steps,
        # against scikit-learn's saga path (its tol=1e-4 stops about 1e-3 away).
        Workload(
            group="linear",
            name="LogisticRegressionCV saga l1 fit {n}x20 float64, binary, 5 Cs, 3 folds",
            sizes=(2_000, 20_000),
            setup=lambda n: binary(n, 20),
            fastml=fit(lambda: fm.LogisticRegressionCV(**cv_l1)),
            peer=fit(lambda: sk.LogisticRegressionCV(**cv_l1)),
            peer_name="scikit-learn",
            parity=relative_coef_difference,
            parity_label="coef rel. diff",
            tolerance=1e-2,
        )]
def _sgd_workloads():
    from sklearn import linear_model as sk

    from fastml import linear_model as fm

    def two_classes(n, d=100):
        rng = np.random.default_rng(0)
        X = rng.normal(size=(n, d))
        return X, (X @ rng.normal(size=d) + rng.normal(size=n) > 0).astype(np.int64)

    def fit(cls, **params):
        def call(data):
            model = cls(random_state=0, **params).fit(*data)
            return np.hstack([model.coef_, model.intercept_[:, None]])
        return call

    # scikit-learn-intelex has neither SGDClassifier nor LinearSVC (2025.x): scikit-learn only.
    from sklearn import svm as sk_svm

    from fastml import svm as fm_svm
    return [Workload(
        group="linear",
        name="LinearSVC fit {n}x100 float64 (squared hinge, dual='auto': the primal solver)",
        sizes=(20_000, 200_000),
        setup=two_classes,
        fastml=fit(fm_svm.LinearSVC),
        peer=fit(sk_svm.LinearSVC),
        peer_name="scikit-learn",
        parity=relative_coef_difference,
        parity_label="coef rel. diff",
        # fastml converges to the optimum; liblinear stops within its tol of it
        tolerance=1e-2,
    ), Workload(
        group="linear",
        name="SGDClassifier hinge fit {n}x100 float64",
        sizes=(20_000, 200_000),
        setup=two_classes,
        fastml=fit(fm.SGDClassifier),
        peer=fit(sk.SGDClassifier),
        peer_name="scikit-learn",
        parity=relative_coef_difference,
        parity_label="coef rel. diff",
        tolerance=1e-10,  # the same random stream and arithmetic: equal to rounding
    )]


def low_rank_plus_noise(n, n_features=200, rank=30, seed=0):
    """n x n_features float32 rows: a rank-`rank` signal of decaying scales plus unit noise, so
    that the leading components are well separated."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(size=(n, rank)) * np.geomspace(20, 2, rank)
    return (signal @ rng.normal(size=(rank, n_features)) / np.sqrt(n_features)
            + rng.normal(size=(n, n_features))).astype(np.float32)


def largest_relative_difference(a, b):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))


def _decomposition_workloads():
    from sklearn import decomposition as sklearn_decomposition

    from fastml import decomposition
    from fastml.reference import decomposition as reference

    def pca_fit(module, solver):
        def call(X):
            return module.PCA(20, svd_solver=solver, random_state=0).fit(X).components_
        return call

    workloads = [
        Workload(
            group="decomposition",
            name=f"PCA fit {{n}}x200 float32 -> 20 components, svd_solver={solver!r}",
            sizes=(20_000, 200_000),
            setup=low_rank_plus_noise,
            fastml=pca_fit(decomposition, solver),
            peer=pca_fit(sklearn_decomposition, solver),
            peer_name="scikit-learn",
            parity=max_abs_difference,
            parity_label="max |components diff|",
            tolerance=1e-4,
            target=5.0,
            reference=lambda X: reference.pca(X, 20)[1],
        )
        for solver in ("full", "randomized")]

    def svd_fit(module):
        def call(data):
            return module.TruncatedSVD(100, random_state=0).fit(data[0]).singular_values_
        return call

    workloads.append(Workload(
        group="decomposition",
        name="TruncatedSVD fit {n}x20k CSR float64 (0.1% nonzeros, TF-IDF-like) -> 100 "
             "components, randomized",
        sizes=(10_000, 100_000),
        setup=_tfidf_like(n_features=20_000, density=0.001),
        fastml=svd_fit(decomposition),
        peer=svd_fit(sklearn_decomposition),
        peer_name="scikit-learn",
        parity=largest_relative_difference,
        parity_label="max relative singular value diff",
        tolerance=1e-8,
        target=3.0,
    ))
    return workloads


def all_workloads():
    """Every workload, in the order the runner prints them."""
    return (_pairwise_workloads() + _knn_workloads() + _cluster_workloads()
            + _hierarchy_workloads()
            + _recommend_workloads() + _nn_workloads() + _tree_workloads()
            + _boosting_workloads()
            + _text_workloads() + _naive_bayes_workloads()
            + _classification_metric_workloads() + _linear_workloads()
            + _linear_cd_workloads() + _logistic_workloads() + _sgd_workloads()
            + _decomposition_workloads()
            + _small_call_workloads() + _dask_workloads())


def _dask_workloads():
    from ._dask_workloads import dask_workloads

    return dask_workloads(Workload, relative_difference, differing_fraction)


# Groups left out of a run that names no group (`python -m fastml.bench --only dask` runs one):
# "dask" starts a LocalCluster and its full sizes take minutes.
OPT_IN_GROUPS = ("dask",)


def groups():
    return sorted({workload.group for workload in all_workloads()})
