"""Benchmark workloads: each times fastml and a peer on the same data.

Used by ``python -m fastml.bench`` and by the pytest-benchmark files in the repository's bench/.
"""
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


def all_workloads():
    """Every workload, in the order the runner prints them."""
    return _pairwise_workloads()


def groups():
    return sorted({workload.group for workload in all_workloads()})
