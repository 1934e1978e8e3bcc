"""The narrower instruction-set builds of the C++ and Cython kernels, run on this machine.

Every other test runs the widest build the CPU supports. Here the compiled-core tests run again
in a subprocess with FASTML_SIMD capping the choice, so that the smaller register tiles of the
AVX2 and baseline builds are checked against the references too.
"""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fastml import _backend

BUILDS = ["baseline", "x86_64_v3", "x86_64_v4"]
CORE_TESTS = ["tests/nn/test_conv_core.py", "tests/cluster/test_kmeans.py",
              "tests/cluster/test_kmeans_sparse.py", "tests/cluster/test_hierarchy_core.py",
              "tests/metrics/test_pairwise.py",
              "tests/recommend/test_mf_core.py", "tests/naive_bayes/test_nb_core.py",
              "tests/linear_model/test_gram_core.py", "tests/linear_model/test_logistic_core.py",
              "tests/decomposition/test_sparse_products.py",
              "tests/ensemble/test_hgb_leaf_masks.py", "tests/tree/test_binning_kernels.py"]
ROOT = Path(__file__).resolve().parents[1]
REPORT_BUILDS = ("from fastml import _backend; from fastml.cluster import _kmeans_fast; "
                 "from fastml.nn import _conv_fast; "
                 "from fastml.recommend import _mf_fast; "
                 "from fastml.naive_bayes import _nb_fast; "
                 "from fastml import _linalg_fast; "
                 "from fastml.linear_model import _logistic_fast; "
                 "from fastml.cluster import _hierarchy_fast; "
                 "from fastml.decomposition import _decomposition_fast; "
                 "from fastml.tree import _cart; "
                 "print(_backend.simd_build(), _kmeans_fast.simd_build(), _conv_fast.simd_build(), "
                 "_mf_fast.simd_build(), _nb_fast.simd_build(), _linalg_fast.simd_build(), "
                 "_logistic_fast.simd_build(), _hierarchy_fast.simd_build(), "
                 "_decomposition_fast.simd_build(), _cart.simd_build())")


@pytest.mark.parametrize("build", BUILDS[:2])
def test_narrower_build_passes_the_core_tests(build):
    widest = _backend.simd_build()
    if BUILDS.index(build) >= BUILDS.index(widest):
        pytest.skip(f"this CPU's widest build is {widest}: every other test already runs it")
    env = {**os.environ, "FASTML_SIMD": build}
    chosen = subprocess.run([sys.executable, "-c", REPORT_BUILDS], env=env, capture_output=True,
                            text=True, check=True).stdout.split()
    assert chosen == [build] * REPORT_BUILDS.count(".simd_build()")
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider",
                             *CORE_TESTS], cwd=ROOT, env=env, capture_output=True, text=True,
                            timeout=900)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


# The tree core's AVX2 searches (csrc/tree/split_search.hpp, avx2_batches) against its baseline
# ones: the same trees to the bit, small nodes (the tiny walk) and large ones (the histogram scan)
FOREST_TREES = """
import hashlib, numpy as np
from sklearn.datasets import make_classification, make_regression
from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
digest = hashlib.sha1()
X, y = make_regression(3000, 8, n_informative=5, noise=5.0, random_state=0)
Xc, yc = make_classification(3000, 8, random_state=0)
for model, data in [(RandomForestRegressor(3, random_state=0), (X, y)),
                    (RandomForestRegressor(3, criterion="friedman_mse", random_state=1), (X, y)),
                    (RandomForestClassifier(3, max_features=None, random_state=0), (Xc, yc))]:
    for tree in model.fit(*data).estimators_:
        t = tree.tree_
        for a in (t.feature, t.threshold, t.children_left, t.value):
            digest.update(np.ascontiguousarray(a).tobytes())
print(digest.hexdigest())
"""


def test_tree_core_builds_grow_the_same_trees():
    widest = _backend.simd_build()
    if widest == "baseline":
        pytest.skip("this CPU runs the baseline build only")
    trees = {build: subprocess.run([sys.executable, "-c", FOREST_TREES],
                                   env={**os.environ, "FASTML_SIMD": build}, capture_output=True,
                                   text=True, check=True).stdout
             for build in ("baseline", widest)}
    assert trees["baseline"] == trees[widest]
