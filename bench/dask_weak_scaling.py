"""Weak scaling of the dask KMeans bench row, A/B: `python bench/dask_weak_scaling.py ROWS inproc|proc REPEATS`
times 10 Lloyd iterations on half the rows with 1 worker and on all of them with 2, alternated,
with both LocalClusters in this process (inproc) or with worker processes (proc)."""
import sys, time, statistics, os
import numpy as np
import dask, dask.array as da, distributed
from sklearn.datasets import make_blobs
from fastml.dask import KMeans as DaskKMeans

def main():
    n = int(sys.argv[1]); processes = sys.argv[2] == "proc"; reps = int(sys.argv[3])
    X = make_blobs(n_samples=n, n_features=16, centers=8, cluster_std=1.5, random_state=0)[0].astype(np.float32)
    chunk = -(-n // 8)
    def cluster(k):
        c = distributed.LocalCluster(n_workers=k, threads_per_worker=1, processes=processes,
                                     dashboard_address=None)
        return distributed.Client(c, set_as_default=False)
    one, two = cluster(1), cluster(2)
    with dask.config.set(scheduler=one):
        half = da.from_array(X[:n // 2], chunks=(chunk, 16)).persist()
    with dask.config.set(scheduler=two):
        full = da.from_array(X, chunks=(chunk, 16)).persist()
    init = X[:8].copy()
    def run(client, data):
        with dask.config.set(scheduler=client):
            t, c = time.perf_counter(), time.process_time()
            DaskKMeans(8, init=init, max_iter=10, tol=0).fit(data)
            return time.perf_counter() - t, time.process_time() - c
    run(one, half); run(two, full)  # warm
    res = {"half@1": [], "full@2": []}
    for _ in range(reps):
        res["half@1"].append(run(one, half)); res["full@2"].append(run(two, full))
    print(f"n={n} processes={processes} load={os.getloadavg()}")
    for k, v in res.items():
        print(k, "wall median %.3f s" % statistics.median(w for w, _ in v),
              "client cpu median %.3f s" % statistics.median(c for _, c in v), [round(w, 3) for w, _ in v])
    r = statistics.median(w for w, _ in res["half@1"]) / statistics.median(w for w, _ in res["full@2"])
    print("ratio half@1 / full@2 = %.2fx" % r)

if __name__ == '__main__':
    main()
