"""Peak memory of a RandomForestClassifier or KMeans fit on a large TF-IDF-like CSR matrix
(issue 19's memory item: the peak stays within 2x the input's size plus the model).

Each measurement runs in a fresh subprocess: the matrix is built, the kernel's record of the
peak resident size reset (/proc/self/clear_refs, so that building the matrix does not count),
the resident size read, the forest fitted, the peak (VmHWM) read. The fit's peak above the
resident size before it is compared with twice the input (data + indices + indptr) plus the
model (the trees' node arrays; the k-means centers and labels).

    python bench/sparse_memory.py [--estimator forest|kmeans] [--rows 100000] [--features 50000]
                                  [--density 0.001] [--trees 4] [--clusters 50] [--peer]
"""
import argparse
import json
import subprocess
import sys

CHILD = r"""
import importlib, json, sys, time
import numpy as np
import scipy.sparse as sp
args = json.loads(sys.argv[1])
from fastml.bench._peak_memory import reset_peak, status_mib

package = "sklearn" if args["peer"] else "fastml"
ensemble = importlib.import_module(package + ".ensemble")
cluster = importlib.import_module(package + ".cluster")
rng = np.random.default_rng(0)
n, d = args["rows"], args["features"]
per_row = max(1, int(round(args["density"] * d)))  # terms per row, drawn with replacement
columns = rng.integers(0, d, (n, per_row))
X = sp.csr_matrix((rng.uniform(0.05, 1.0, n * per_row), columns.ravel(),
                   np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
X.sum_duplicates()
del columns
w = rng.standard_normal(d) * (rng.random(d) < 0.05)
score = X @ w
y = (score > np.median(score)).astype(np.int64)
input_mib = (X.data.nbytes + X.indices.nbytes + X.indptr.nbytes) / 2**20
before = reset_peak()  # building the data does not count
start = time.perf_counter()
if args["estimator"] == "forest":
    forest = ensemble.RandomForestClassifier(args["trees"], n_jobs=2, random_state=0).fit(X, y)
    seconds = time.perf_counter() - start
    after = status_mib("VmHWM")
    trees = [e.tree_ for e in forest.estimators_]
    model_mib = sum(t.node_count * (8 * 7 + 1) + t.value.nbytes for t in trees) / 2**20
    nodes = sum(t.node_count for t in trees)
else:
    km = cluster.KMeans(args["clusters"], n_init=1, max_iter=20, random_state=0).fit(X)
    seconds = time.perf_counter() - start
    after = status_mib("VmHWM")
    model_mib = (km.cluster_centers_.nbytes + km.labels_.nbytes) / 2**20
    nodes = None
print(json.dumps(dict(input_mib=input_mib, rss_before_fit_mib=before, peak_during_fit_mib=after,
                      fit_growth_mib=after - before, model_mib=model_mib, fit_seconds=seconds,
                      nodes=nodes)))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--estimator", choices=("forest", "kmeans"), default="forest")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--features", type=int, default=50_000)
    parser.add_argument("--density", type=float, default=0.001)
    parser.add_argument("--trees", type=int, default=4)
    parser.add_argument("--clusters", type=int, default=50)
    parser.add_argument("--peer", action="store_true", help="scikit-learn's estimator instead")
    args = vars(parser.parse_args())
    out = subprocess.run([sys.executable, "-c", CHILD, json.dumps(args)], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    bound = 2 * result["input_mib"] + result["model_mib"]
    result["bound_mib"] = bound
    result["within_bound"] = result["fit_growth_mib"] <= bound
    print(json.dumps({"who": "scikit-learn" if args["peer"] else "fastml", **args, **result},
                     indent=1))


if __name__ == "__main__":
    main()
