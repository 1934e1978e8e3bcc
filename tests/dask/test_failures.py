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


def test_worker_killed_mid_boosting_fit():
    """The booster's partition state lives on the workers: a worker lost once the state exists
    makes the fit raise (the state Dask recomputes is at another step), or, where the state
    survives on the other worker (in-process workers share the object they pass), the fit ends
    with the model of an undisturbed fit; never a model grown from a wrong state."""
    from fastml.dask import HistGradientBoostingRegressor

    rng = np.random.default_rng(1)
    X = rng.normal(size=(800, 4))
    y = X[:, 0] + rng.normal(size=800)
    params = dict(max_iter=12, max_leaf_nodes=3, early_stopping=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        expected = HistGradientBoostingRegressor(**params).fit(partitioned(X, [200] * 4), y)
        outcome = {}

        def fit():
            try:
                outcome["model"] = HistGradientBoostingRegressor(**params).fit(
                    partitioned(X, [200] * 4), y)
            except Exception as exc:  # noqa: BLE001 - the outcome under test
                outcome["error"] = exc

        thread = threading.Thread(target=fit, daemon=True)
        thread.start()
        victim = None
        for _ in range(600):  # a worker holding a partition's state, once there is one
            held = [(key, workers) for key, workers in client.who_has().items()
                    if str(key).startswith("_Shard") and workers]
            if held:
                victim = cluster.workers[next(name for name, w in cluster.workers.items()
                                              if w.address in held[0][1])]
                break
            time.sleep(0.05)
        assert victim is not None
        client.sync(victim.close)
        thread.join(timeout=120)
        assert not thread.is_alive(), "the fit hung after a worker was lost"
        if "model" in outcome:
            np.testing.assert_array_equal(outcome["model"].predict(X), expected.predict(X))
        else:
            assert "boosting state" in str(outcome["error"])
