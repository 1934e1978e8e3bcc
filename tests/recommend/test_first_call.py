"""The CPU recommenders are compiled into the wheel: the first fit in a fresh process costs what
the same fit costs once warm (the Numba kernels they replace took 6.6 s to compile on the first
fit), and no Numba is imported on the way."""
import subprocess
import sys

import pytest

# Every CPU core of fastml.recommend once: implicit ALS (CG and exact), explicit ALS, SGD, top-k
# with seen items, fold-in of new users, ItemKNN's top-k. The same calls then run again warm.
SCRIPT = """
import sys, time
import numpy as np
import scipy.sparse as sp
from fastml.recommend import ItemKNN, MatrixFactorization

R = sp.random(300, 200, density=0.05, random_state=0, format="csr")

def calls():
    for params in (dict(feedback="implicit"), dict(feedback="implicit", cg_steps=None),
                   dict(solver="als"), dict(solver="sgd")):
        model = MatrixFactorization(8, n_iter=2, random_state=0, device="cpu", **params).fit(R)
        model.recommend(np.arange(20), k=5)
        model.transform(R[:5])
    ItemKNN(n_neighbors=10).fit(R).recommend(np.arange(20), k=5)

times = []
for _ in range(2):
    start = time.perf_counter()
    calls()
    times.append(time.perf_counter() - start)
print(times[0], times[1], any(name.split(".")[0] == "numba" for name in sys.modules))
"""


def test_first_fit_in_a_fresh_process_costs_what_a_warm_fit_does():
    # On a loaded machine one run can be slowed at random: a compile step (seconds) would show
    # in every run, so the best of three is compared.
    gaps = []
    for _ in range(3):
        out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                             check=True, timeout=300).stdout.split()
        first, warm, numba_imported = float(out[0]), float(out[1]), out[2] == "True"
        assert not numba_imported
        gaps.append(first - warm)
        if gaps[-1] < 0.3:
            return
    pytest.fail(f"the first calls took {min(gaps):.2f} s or more longer than warm ones")
