"""Why the weak-scaling row reads under 1.0x, by measurement:
`python bench/dask_weak_scaling.py ROWS REPEATS`

Alternates, REPEATS times, the bench row's two fits (10 Lloyd iterations of fastml.dask.KMeans,
8 starting centers: half the rows in 4 partitions on a 1-worker cluster, all the rows in 8
partitions on a 2-worker one, each cluster's scheduler and workers processes of their own, as
in the row) and prints for each side: wall time, the client's CPU time, each worker's busy time
from the scheduler's task stream (busy / wall under 1 is time the workers wait on the scheduler
and client: the round trips), each worker process's CPU time over the fit (psutil) and the
threads a task may use. Then the same per-partition work without Dask: one process running 10
Lloyd passes over 4 partitions, alone, against two such processes at once: the ceiling this
machine puts on weak scaling, whatever the scheduler does.
"""
import collections
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import dask
import dask.array as da
import distributed
import numpy as np
from sklearn.datasets import make_blobs

from fastml.bench._dask_workloads import _own_process_client
from fastml.dask import KMeans as DaskKMeans


def _data(n):
    return make_blobs(n_samples=n, n_features=16, centers=8, cluster_std=1.5,
                      random_state=0)[0].astype(np.float32)


def _worker_cpu():
    import psutil
    times = psutil.Process().cpu_times()
    return times.user + times.system


def _task_threads(_):
    from fastml.dask._partitions import task_threads
    return task_threads()


def _fit(client, data, init):
    before = client.run(_worker_cpu)
    with dask.config.set(scheduler=client), distributed.get_task_stream(client=client) as ts:
        t, c = time.perf_counter(), time.process_time()
        DaskKMeans(8, init=init, max_iter=10, tol=0).fit(data)
        wall, cpu = time.perf_counter() - t, time.process_time() - c
    after = client.run(_worker_cpu)
    busy = collections.Counter()
    for task in ts.data:
        for ss in task["startstops"]:
            if ss["action"] == "compute":
                busy[task["worker"]] += ss["stop"] - ss["start"]
    worker_cpu = [after[w] - before[w] for w in sorted(after)]
    return wall, cpu, [busy[w] for w in sorted(busy)], worker_cpu, len(ts.data)


def _lloyd_alone(n, partitions):
    """10 Lloyd passes over `partitions` partitions of n // 8 rows on one thread, in this
    process (no Dask): (wall, CPU) seconds."""
    os.environ["OMP_NUM_THREADS"] = "1"
    from fastml._config import config_context
    from fastml.dask._kmeans import _lloyd_partials
    X = _data(n)
    size = -(-n // 8)
    blocks = [X[i * size:(i + 1) * size] - X.mean(axis=0) for i in range(partitions)]
    centers = np.ascontiguousarray(X[:8])
    with config_context(n_jobs=1):
        t, c = time.perf_counter(), time.process_time()
        for _ in range(10):
            for b in blocks:
                _lloyd_partials(b, None, centers)
        return time.perf_counter() - t, time.process_time() - c


def main():
    n, reps = int(sys.argv[1]), int(sys.argv[2])
    X = _data(n)
    chunks = (-(-n // 8), 16)
    one, two = _own_process_client(1), _own_process_client(2)
    with dask.config.set(scheduler=one):
        half = da.from_array(X[:n // 2], chunks=chunks).persist()
    with dask.config.set(scheduler=two):
        full = da.from_array(X, chunks=chunks).persist()
    for name, client in (("1 worker", one), ("2 workers", two)):
        print(name, "task threads:", sorted(set(client.gather(client.map(
            _task_threads, range(4), pure=False)))))
    init = X[:8].copy()
    _fit(one, half, init), _fit(two, full, init)  # warm
    res = collections.defaultdict(list)
    with ProcessPoolExecutor(2) as pool:
        for _ in range(reps):
            res["half@1"].append(_fit(one, half, init))
            res["full@2"].append(_fit(two, full, init))
            res["no dask, 1 process"].append(pool.submit(_lloyd_alone, n, 4).result())
            both = [pool.submit(_lloyd_alone, n, 4) for _ in range(2)]
            res["no dask, 2 processes at once"].append(max((f.result() for f in both),
                                                           key=lambda r: r[0]))
    print(f"n={n}, load average {os.getloadavg()}")
    for name in ("half@1", "full@2"):
        runs = res[name]
        print(f"{name}: wall median {statistics.median(r[0] for r in runs):.3f} s "
              f"{[round(r[0], 3) for r in runs]}; client CPU median "
              f"{statistics.median(r[1] for r in runs):.3f} s; {runs[0][4]} tasks")
        for r in runs:
            print(f"    workers busy {[round(b, 2) for b in r[2]]} s (busy / wall "
                  f"{[round(b / r[0], 2) for b in r[2]]}), worker CPU "
                  f"{[round(c, 2) for c in r[3]]} s")
    for name in ("no dask, 1 process", "no dask, 2 processes at once"):
        runs = res[name]
        print(f"{name}: wall median {statistics.median(r[0] for r in runs):.3f} s, CPU median "
              f"{statistics.median(r[1] for r in runs):.3f} s {[round(r[0], 3) for r in runs]}")

    def ratio(a, b):
        return statistics.median(r[0] for r in res[a]) / statistics.median(r[0] for r in res[b])
    print(f"weak scaling, dask: {ratio('half@1', 'full@2'):.2f}x; the machine's ceiling "
          f"(no dask): {ratio('no dask, 1 process', 'no dask, 2 processes at once'):.2f}x")


if __name__ == "__main__":
    main()
