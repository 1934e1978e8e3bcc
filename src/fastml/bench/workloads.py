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


def all_workloads():
    """Every workload, in the order the runner prints them."""
    return _pairwise_workloads() + _knn_workloads()


def groups():
    return sorted({workload.group for workload in all_workloads()})
