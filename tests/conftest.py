import os

# CUDA kernels are tested on Numba's simulator unless the environment says otherwise (set
# NUMBA_ENABLE_CUDASIM=0 to test them on a GPU). It must be set before Numba is imported.
os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import numpy as np
import pytest


@pytest.fixture(params=[np.float32, np.float64], ids=["float32", "float64"])
def dtype(request):
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
