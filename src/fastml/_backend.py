"""What this installation can run on: compiled cores, OpenMP threads, BLAS and CUDA.

Every probe here is cheap after its first call and never raises: a missing capability is reported
with the reason.
"""
import ctypes
import functools
import importlib
import os
import sys
import warnings
from dataclasses import dataclass
from numbers import Integral

from ._config import _DEVICES, get_config

# Compiled extension modules, by the name show_config() prints.
COMPILED_CORES = {
    "pairwise distances and k-NN search (Cython)": "fastml.metrics._pairwise_fast",
    "k-means++ seeding, Lloyd and Elkan (C++, pybind11)": "fastml.cluster._kmeans_fast",
    "hierarchical clustering: nearest-neighbour chain, Prim's tree (C++, pybind11)":
        "fastml.cluster._hierarchy_fast",
    "CART trees and forests (C++, pybind11)": "fastml.tree._cart",
    "stride-1 convolution (C++, pybind11)": "fastml.nn._conv_fast",
    "nn kernels: activations, losses, optimizers, pooling (C++, pybind11)": "fastml.nn._nn_fast",
    "matrix factorization and top-k (C++, pybind11)": "fastml.recommend._mf_fast",
    "text vectorizers: tokens, n-grams, counts, hashing (C++, pybind11)":
        "fastml.feature_extraction._text_fast",
    "naive Bayes counts and likelihoods (C++, pybind11)": "fastml.naive_bayes._nb_fast",
    "classification metrics: confusion counts, radix-sorted curves (C++, pybind11)":
        "fastml.metrics._clf_fast",
    "weighted Gram matrices (C++, pybind11)": "fastml._linalg_fast",
    "elastic-net coordinate descent: screening, working sets, Gram (C++, pybind11)":
        "fastml._cd_fast",
    "logistic loss, gradient and Hessian in one pass (C++, pybind11)":
        "fastml.linear_model._logistic_fast",
    "plain SGD epochs for linear models (C++, pybind11)": "fastml.linear_model._sgd_fast",
    "liblinear's dual coordinate descent for linear SVMs (C++, pybind11)":
        "fastml.linear_model._dual_cd_fast",
    "radius search over a kd partition (C++, pybind11)": "fastml.metrics._radius_fast",
    "DBSCAN labelling (C++, pybind11)": "fastml.cluster._dbscan_fast",
    "gradient boosting: histograms, splits, predictions (C++, pybind11)":
        "fastml.ensemble._boost_fast",
    "distributed boosting: partition histograms and the split search (C++, pybind11)":
        "fastml.ensemble._boost_dist_fast",
    "sparse-dense products for PCA and TruncatedSVD (C++, pybind11)":
        "fastml.decomposition._decomposition_fast",
}


@functools.cache
def compiled_core_status():
    """Map each compiled core to None when importable, else to the import error's text."""
    status = {}
    for name, module in COMPILED_CORES.items():
        try:
            importlib.import_module(module)
            status[name] = None
        except ImportError as exc:
            status[name] = str(exc)
    return status


def _pairwise_module():
    return importlib.import_module("fastml.metrics._pairwise_fast")


def openmp_enabled():
    """Whether the compiled cores were built with OpenMP."""
    return _pairwise_module().openmp_enabled()


def openmp_max_threads():
    """Threads an OpenMP region uses by default (honours OMP_NUM_THREADS)."""
    return _pairwise_module().openmp_max_threads()


def simd_build():
    """Instruction-set build of the SIMD kernels chosen for this CPU."""
    return _pairwise_module().simd_build()


def available_cpus():
    """Cores this process may run on (CPU affinity aware)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def effective_n_threads(n_jobs=None):
    """Translate an ``n_jobs`` argument into a thread count for a compiled core.

    ``None`` falls back to ``fastml.get_config()["n_jobs"]`` and, if that is None too, to
    OpenMP's default thread count, capped inside a Dask worker's task to the task's share of
    the worker's cores (so that searches under joblib's dask backend, or several tasks of a
    worker, do not oversubscribe it). Negative values count back from the available cores as in
    joblib: -1 is all of them, -2 all but one.
    """
    if n_jobs is None:
        n_jobs = get_config()["n_jobs"]
    if n_jobs is None:
        return max(1, min(openmp_max_threads(), _dask_task_threads() or openmp_max_threads()))
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, Integral):
        raise TypeError(f"n_jobs must be an int or None, got {n_jobs!r}")
    if n_jobs == 0:
        raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive count")
    if n_jobs < 0:
        return max(1, available_cpus() + 1 + int(n_jobs))
    return int(n_jobs)


def _dask_task_threads():
    """The thread share of the Dask worker task running this thread, or None (without importing
    Dask where nothing has)."""
    if "distributed" not in sys.modules:
        return None
    from .dask._partitions import worker_task_threads

    return worker_task_threads()


def region_threads(work_ns, n_threads):
    """Threads worth waking for a compiled call of about `work_ns` one-thread nanoseconds, at most
    `n_threads`: 1 below 2 ms, else one per millisecond.

    The compiled cores size their own parallel loops by this rule (``fastml_region_threads`` in
    csrc/include/fastml/openmp_helpers.h, which says why); Python callers use it for cores that
    take a thread count and do not size their loops themselves.
    """
    return _pairwise_module().region_threads(float(work_ns), int(n_threads))


def blas_info():
    """BLAS libraries loaded in this process, as threadpoolctl reports them."""
    from threadpoolctl import threadpool_info

    return [info for info in threadpool_info() if info.get("user_api") == "blas"]


@dataclass(frozen=True)
class CudaStatus:
    available: bool
    detail: str  # the device or simulator when available, else why not
    simulator: bool = False  # Numba's CUDA simulator: correct, but far slower than the CPU path


def _missing_cuda_driver():
    """Why no CUDA driver library can be loaded, or None where one may be (Numba then decides).

    Importing numba.cuda takes about 0.4 s, most of a small first fit with device="auto"; on a
    machine without the driver the answer needs no Numba. The names are those Numba's driver
    loader tries (NUMBA_CUDA_DRIVER, when set, is left to it)."""
    if os.environ.get("NUMBA_CUDA_DRIVER"):
        return None
    if sys.platform == "win32":
        names = ["nvcuda.dll"]
    elif sys.platform.startswith("linux"):
        names = ["libcuda.so", "libcuda.so.1",
                 *(f"{folder}/{name}" for folder in ("/usr/lib", "/usr/lib64")
                   for name in ("libcuda.so", "libcuda.so.1"))]
    else:
        return None
    for name in names:
        try:
            ctypes.CDLL(name)
            return None
        except OSError:
            continue
    return f"CUDA driver library cannot be found ({names[0]})"


@functools.cache
def cuda_status():
    """Probe CUDA through Numba once; never raises, keeps the reason when CUDA is unusable."""
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return CudaStatus(True, "Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", simulator=True)
    missing = _missing_cuda_driver()
    if missing:
        return CudaStatus(False, missing)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from numba import cuda
    except Exception as exc:  # noqa: BLE001 - any import failure is a reason, not an error
        return CudaStatus(False, f"numba.cuda cannot be imported: {exc}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if cuda.is_available():
                return CudaStatus(True, f"GPU {cuda.get_current_device().name!s}")
            # is_available() hides the cause; asking the driver directly reveals it.
            from numba.cuda.cudadrv.driver import driver

            driver.get_device_count()
            return CudaStatus(False, "no CUDA device found")
    except Exception as exc:  # noqa: BLE001
        reason = " ".join(str(exc).split())
        return CudaStatus(False, reason or type(exc).__name__)


class DeviceFallbackWarning(UserWarning):
    """device="auto" found no usable GPU and runs on the CPU."""


_warned_fallback = set()


def resolve_device(device=None):
    """Where a Numba core runs: "cpu" or "cuda".

    ``None`` takes ``fastml.get_config()["device"]``. "auto" picks CUDA only with a real GPU (not
    the simulator) and otherwise falls back to the CPU with one warning per process that gives
    the reason; "cuda" raises RuntimeError when CUDA cannot be used and accepts the simulator.
    """
    if device is None:
        device = get_config()["device"]
    if device not in _DEVICES:
        raise ValueError(f"device must be one of {_DEVICES}, got {device!r}")
    if device == "cpu":
        return "cpu"
    status = cuda_status()
    if device == "cuda":
        if not status.available:
            raise RuntimeError(f"device='cuda' was asked for but CUDA is unavailable: "
                               f"{status.detail}")
        return "cuda"
    if status.available and not status.simulator:
        return "cuda"
    reason = status.detail if not status.available else "only the CUDA simulator is enabled"
    if reason not in _warned_fallback:
        _warned_fallback.add(reason)
        warnings.warn(f"device='auto' runs on the CPU: {reason}", DeviceFallbackWarning,
                      stacklevel=3)
    return "cpu"


_KERNEL_PACKAGES = ("nn", "recommend")


def kernels_for(package, device):
    """The kernel driver module of ``fastml.<package>`` for a resolved device, "cpu" or "cuda".

    Both modules of a package export the same drivers with the same signatures; only this
    function chooses between them, and the CUDA one (with Numba) is imported only when asked for.
    """
    if package not in _KERNEL_PACKAGES:
        raise ValueError(f"package must be one of {_KERNEL_PACKAGES}, got {package!r}")
    if device not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu' or 'cuda' once resolved, got {device!r}")
    return importlib.import_module(f"fastml.{package}._kernels_{device}")
