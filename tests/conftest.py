import os

# CUDA kernels are tested on Numba's simulator unless the environment says otherwise (set
# NUMBA_ENABLE_CUDASIM=0 to test them on a GPU). It must be set before Numba is imported.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
# The compiled cores run small problems on one thread (fastml_region_threads in
# csrc/include/fastml/openmp_helpers.h); 0 lets the tests' small shapes run the parallel paths.
# Read when a compiled module first sizes a loop.
os.environ.setdefault("FASTML_MIN_THREAD_WORK_NS", "0")

import numpy as np
import pytest


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture
def one_thread():
    """BLAS and OpenMP limited to one thread. scikit-learn and fastml load separate OpenMP
    runtimes, whose idle threads spin while the other works; threads are tested where they
    matter, by explicit n_jobs."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield
