"""Peak memory of a HistGradientBoostingClassifier (or Regressor) fit against scikit-learn's,
LightGBM's and XGBoost's (issue 20's memory item: fastml's fit peak at most LightGBM's).

Each fit runs in a fresh subprocess: the bench's data (make_classification, float32) is built,
the kernel's record of the peak resident size reset (/proc/self/clear_refs, so that building the
data does not count), the model fitted with the bench's settings (100 iterations, 31 leaves, 255
bins, 2 threads, no early stopping), the peak (VmHWM) read. Reported: the fit's peak above the
resident size before it, in MiB.

    python bench/boosting_memory.py [--rows 1000000] [--task classification|regression]
                                    [--who fastml scikit-learn LightGBM XGBoost]
"""
import argparse
import json
import subprocess
import sys

CHILD = r"""
import json, sys, time
args = json.loads(sys.argv[1])
from fastml.bench.workloads import tabular
from fastml.bench._peak_memory import reset_peak, status_mib

common = dict(max_iter=100, max_leaf_nodes=31, learning_rate=0.1, early_stopping=False,
              random_state=0)
who, kind = args["who"], "Classifier" if args["task"] == "classification" else "Regressor"
if who == "fastml":
    from fastml import ensemble
    model = getattr(ensemble, "HistGradientBoosting" + kind)(**common, n_jobs=2)
elif who == "scikit-learn":
    from sklearn import ensemble
    model = getattr(ensemble, "HistGradientBoosting" + kind)(**common)
elif who == "LightGBM":
    import lightgbm
    model = getattr(lightgbm, "LGBM" + kind)(n_estimators=100, num_leaves=31, learning_rate=0.1,
                                    max_bin=255, min_child_samples=20, reg_lambda=0.0, n_jobs=2,
                                    verbose=-1)
else:
    import xgboost
    model = getattr(xgboost, "XGB" + kind)(tree_method="hist", n_estimators=100, max_leaves=31,
                                  max_depth=0, grow_policy="lossguide", learning_rate=0.1,
                                  max_bin=256, n_jobs=2)
X, y, _, _ = tabular(args["rows"], args["task"], n_features=28)
before = reset_peak()  # building the data does not count
start = time.perf_counter()
model.fit(X, y)
seconds = time.perf_counter() - start
print(json.dumps(dict(input_mib=X.nbytes / 2**20, fit_growth_mib=status_mib("VmHWM") - before,
                      fit_seconds=seconds)))
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--task", choices=("classification", "regression"),
                        default="classification")
    parser.add_argument("--who", nargs="+",
                        default=["fastml", "scikit-learn", "LightGBM", "XGBoost"])
    args = parser.parse_args()
    for who in args.who:
        out = subprocess.run([sys.executable, "-c", CHILD,
                              json.dumps(dict(rows=args.rows, task=args.task, who=who))],
                             check=True, stdout=subprocess.PIPE, text=True).stdout
        print(json.dumps({"who": who, "task": args.task, "rows": args.rows,
                          **json.loads(out.strip().splitlines()[-1])}))


if __name__ == "__main__":
    main()
