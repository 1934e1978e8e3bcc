"""pytest-benchmark timings of every fastml.bench workload against its peer.

Each workload is a benchmark group holding fastml, the peer (scikit-learn, faiss) and, at quick
sizes, the NumPy reference on the same data; ``pytest bench --benchmark-disable`` runs each once as
a test and checks that fastml's result matches the peer's.
"""
import functools

import pytest

from fastml.bench import all_workloads

WORKLOADS = all_workloads()


@functools.cache
def _data(workload_index, quick):
    workload = WORKLOADS[workload_index]
    return workload.setup(workload.size(quick))


@functools.cache
def _peer_result(workload_index, quick):
    return WORKLOADS[workload_index].peer(_data(workload_index, quick))


@pytest.mark.parametrize("index", range(len(WORKLOADS)),
                         ids=[f"{w.group}: {w.name}" for w in WORKLOADS])
@pytest.mark.parametrize("side", ["fastml", "peer", "reference"])
def test_workload(benchmark, index, side, quick):
    workload = WORKLOADS[index]
    if side == "reference" and not quick:
        pytest.skip("the NumPy reference is timed at quick sizes only: it is too slow for full")
    benchmark.group = workload.label(quick)
    fn = {"fastml": workload.fastml, "peer": workload.peer, "reference": workload.reference}[side]
    if fn is None:
        pytest.skip("this workload times no NumPy reference (too slow, or none exists)")
    result = benchmark(fn, _data(index, quick))
    assert workload.parity(result, _peer_result(index, quick)) <= workload.tolerance
