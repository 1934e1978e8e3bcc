"""kernels_for: the one place that picks a package's CPU or CUDA driver module."""
import importlib
import inspect

import pytest

from fastml._backend import cuda_status, kernels_for


@pytest.mark.parametrize("package", ["nn", "recommend"])
def test_kernels_for_cpu_is_the_cpu_driver_module(package):
    assert kernels_for(package, "cpu") is importlib.import_module(
        f"fastml.{package}._kernels_cpu")


@pytest.mark.parametrize("package, device", [("tree", "cpu"), ("nn", "auto"), ("nn", "gpu")])
def test_kernels_for_rejects_unknown_packages_and_unresolved_devices(package, device):
    with pytest.raises(ValueError, match="must be"):
        kernels_for(package, device)


@pytest.mark.skipif(not cuda_status().available,
                    reason=f"CUDA unavailable and the simulator is off: {cuda_status().detail}")
@pytest.mark.parametrize("package", ["nn", "recommend"])
def test_cpu_and_cuda_modules_export_the_same_drivers(package):
    cpu, cuda = kernels_for(package, "cpu"), kernels_for(package, "cuda")
    assert sorted(cpu.__all__) == sorted(cuda.__all__)
    for name in cpu.__all__:
        assert inspect.signature(getattr(cpu, name)) == inspect.signature(getattr(cuda, name)), name


# The rule every compiled core sizes its loops by, read in a fresh process: the tests' conftest
# sets FASTML_MIN_THREAD_WORK_NS=0, which this process has already read.
_REGION_THREADS = """
import sys
from fastml._backend import region_threads
print([region_threads(float(w), int(n)) for w, n in zip(sys.argv[1::2], sys.argv[2::2])])
"""


def _region_threads_in_child(env_value, cases):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "FASTML_MIN_THREAD_WORK_NS"}
    if env_value is not None:
        env["FASTML_MIN_THREAD_WORK_NS"] = env_value
    args = [str(x) for case in cases for x in case]
    out = subprocess.run([sys.executable, "-c", _REGION_THREADS, *args], env=env,
                         capture_output=True, text=True, check=True).stdout
    return eval(out)  # a printed list of ints


def test_region_threads_keeps_small_work_on_one_thread():
    # (work in one-thread ns, threads asked for): one thread for each millisecond, from 2 ms
    cases = [(1e3, 2), (1.99e6, 2), (2e6, 2), (5e6, 2), (5.5e6, 16), (1e9, 16), (1e9, 1),
             (float("nan"), 4)]
    assert _region_threads_in_child(None, cases) == [1, 1, 2, 2, 5, 16, 1, 1]
    # the environment moves the threshold; 0 gives every thread to any work, as the tests need
    assert _region_threads_in_child("1e4", [(1e5, 16), (1e3, 2)]) == [10, 1]
    assert _region_threads_in_child("0", [(1.0, 2), (0.0, 8)]) == [2, 8]
    assert _region_threads_in_child("not a number", [(1.99e6, 2), (3e6, 2)]) == [1, 2]
