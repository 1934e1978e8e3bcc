"""Benchmark workloads: each times fastml and a peer on the same data.

Used by ``python -m fastml.bench`` and by the pytest-benchmark files in the repository's bench/.
"""
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

    def size(self, quick):
        return self.sizes[0] if quick else self.sizes[1]

    def label(self, quick):
        return self.name.format(n=self.size(quick))


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
    if importlib.util.find_spec("faiss") is not None:
        workloads.append(_faiss_workload())
    return workloads


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

    workloads = [
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
    if importlib.util.find_spec("faiss") is not None:
        workloads.append(_faiss_kmeans_workload(end_to_end(KMeans), reference_end_to_end, k))
    return workloads


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


def all_workloads():
    """Every workload, in the order the runner prints them."""
    return _pairwise_workloads() + _knn_workloads() + _cluster_workloads()


def groups():
    return sorted({workload.group for workload in all_workloads()})
