"""A worker killed in the middle of a fit: Dask reruns its tasks elsewhere (or the fit raises),
never a hang or a partial model."""
import threading
import time

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

from fastml.dask import KMeans  # noqa: E402

from .conftest import partitioned  # noqa: E402


def test_worker_killed_mid_fit():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40_000, 8))
    init = X[:6].copy()
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        expected = KMeans(6, init=init, max_iter=30, tol=0).fit(partitioned(X, [10_000] * 4))
        outcome = {}

        def fit():
            try:
                outcome["model"] = KMeans(6, init=init, max_iter=30, tol=0).fit(
                    partitioned(X, [10_000] * 4))
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcome["error"] = exc

        thread = threading.Thread(target=fit, daemon=True)
        thread.start()
        time.sleep(0.5)
        victim = next(iter(cluster.workers.values()))
        client.sync(victim.close)  # the worker and the data it held are gone
        thread.join(timeout=60)
        assert not thread.is_alive(), "the fit hung after a worker was lost"
        if "model" in outcome:  # the lost tasks were rerun on the other worker
            np.testing.assert_array_equal(outcome["model"].cluster_centers_,
                                          expected.cluster_centers_)
            assert outcome["model"].n_iter_ == expected.n_iter_
        else:
            assert isinstance(outcome["error"], Exception)
