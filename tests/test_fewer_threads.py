"""OpenMP may start fewer threads than a region asks for (OMP_THREAD_LIMIT, nested regions, a
build without OpenMP). Regions that cut their work into one share per thread must cut it by the
team they got, or the shares of the missing threads go undone: each case runs in a process
limited to one thread while asking for three, and must give the one-thread answer."""
import os
import subprocess
import sys

import pytest

CASES = {
    # the booster's parallel row partition
    "booster partition": """
from numpy.testing import assert_array_equal
from sklearn import ensemble as sk
from sklearn.datasets import make_regression
from fastml.ensemble import HistGradientBoostingRegressor
X, y = make_regression(3000, 10, n_informative=6, noise=5.0, random_state=0)
theirs = sk.HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
ours = HistGradientBoostingRegressor(max_iter=5, random_state=0, n_jobs=3).fit(X, y)
assert_array_equal(ours.predict(X), theirs.predict(X))
""",
    # the metrics' stable parallel scatter of the score sort
    "score sort": """
import numpy as np
from fastml.metrics import _clf_fast
from fastml.reference import metrics as ref
s = np.random.default_rng(0).random(100_000)
np.testing.assert_array_equal(_clf_fast.descending_order(s, 3), ref.descending_order(s))
""",
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_smaller_team_does_all_the_work(case):
    env = dict(os.environ, OMP_THREAD_LIMIT="1", FASTML_MIN_THREAD_WORK_NS="0")
    done = subprocess.run([sys.executable, "-c", CASES[case]], env=env, capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
