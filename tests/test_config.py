"""fastml's configuration, backend probes and show_config()."""
import sys
from pathlib import Path
import threading

import pytest

import fastml
from fastml import _backend
from fastml.cluster import _kmeans_fast
from fastml.linear_model import _logistic_fast
from fastml.nn import _conv_fast


def test_defaults_and_config_context_restores():
    assert fastml.get_config() == {"n_jobs": None, "device": "auto", "working_memory": 1024}
    with fastml.config_context(n_jobs=2, device="cpu", working_memory=64):
        assert fastml.get_config() == {"n_jobs": 2, "device": "cpu", "working_memory": 64}
        with fastml.config_context(n_jobs=None):
            assert fastml.get_config()["n_jobs"] is None
        assert fastml.get_config()["n_jobs"] == 2
    assert fastml.get_config()["device"] == "auto"


def test_set_config_changes_only_what_is_given():
    old = fastml.get_config()
    try:
        fastml.set_config(working_memory=10)
        assert fastml.get_config() == {**old, "working_memory": 10}
    finally:
        fastml.set_config(**old)


def test_config_is_thread_local():
    seen = {}
    with fastml.config_context(n_jobs=1):
        thread = threading.Thread(target=lambda: seen.update(fastml.get_config()))
        thread.start()
        thread.join()
    assert seen["n_jobs"] is None


@pytest.mark.parametrize("params, error, match", [
    ({"n_jobs": 0}, ValueError, "n_jobs == 0"),
    ({"n_jobs": 1.5}, TypeError, "n_jobs must be an int"),
    ({"n_jobs": True}, TypeError, "n_jobs must be an int"),
    ({"device": "gpu"}, ValueError, "device must be one of"),
    ({"working_memory": 0}, ValueError, "working_memory must be a positive"),
    ({"working_memory": "1"}, ValueError, "working_memory must be a positive"),
    ({"nope": 1}, TypeError, "unknown configuration key"),
])
def test_bad_configuration_is_rejected(params, error, match):
    with pytest.raises(error, match=match):
        with fastml.config_context(**params):
            pass
    assert fastml.get_config()["n_jobs"] is None


def test_effective_n_threads():
    cpus = _backend.available_cpus()
    assert _backend.effective_n_threads(None) == _backend.openmp_max_threads()
    assert _backend.effective_n_threads(3) == 3
    assert _backend.effective_n_threads(-1) == cpus
    assert _backend.effective_n_threads(-cpus - 5) == 1
    with fastml.config_context(n_jobs=5):
        assert _backend.effective_n_threads(None) == 5
        assert _backend.effective_n_threads(2) == 2


def test_compiled_cores_present():
    # every core listed loads (None: no error), and the list names every compiled module
    assert _backend.compiled_core_status() == {name: None for name in _backend.COMPILED_CORES}
    modules = {".".join(("fastml",) + path.relative_to(root).with_suffix("").with_suffix("").parts)
               for root in map(Path, fastml.__path__) for path in root.rglob("_*_fast*.so")}
    assert modules and modules <= set(_backend.COMPILED_CORES.values()), modules
    assert _backend.simd_build() in ("baseline", "x86_64_v3", "x86_64_v4")
    # The cores choose among the same instruction-set builds with the same rule.
    assert _kmeans_fast.simd_build() == _backend.simd_build()
    assert _conv_fast.simd_build() == _backend.simd_build()
    assert _logistic_fast.simd_build() == _backend.simd_build()
    assert _backend.openmp_max_threads() >= 1


def test_cuda_probe_never_raises_and_explains(monkeypatch):
    status = _backend.cuda_status()
    assert isinstance(status.available, bool) and status.detail
    _backend.cuda_status.cache_clear()
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    try:
        assert _backend.cuda_status() == _backend.CudaStatus(
            True, "Numba CUDA simulator (NUMBA_ENABLE_CUDASIM=1)", simulator=True)
    finally:
        _backend.cuda_status.cache_clear()


def test_cuda_probe_reports_import_failure(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def failing_import(name, *args, **kwargs):
        if name == "numba" and args and args[2] and "cuda" in args[2]:
            raise ImportError("no numba.cuda here")
        return real_import(name, *args, **kwargs)

    _backend.cuda_status.cache_clear()
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.setenv("NUMBA_CUDA_DRIVER", "/no/such/libcuda.so")  # leaves the probe to Numba
    monkeypatch.setattr(builtins, "__import__", failing_import)
    try:
        status = _backend.cuda_status()
    finally:
        monkeypatch.setattr(builtins, "__import__", real_import)
        _backend.cuda_status.cache_clear()
    assert status == _backend.CudaStatus(False, "numba.cuda cannot be imported: no numba.cuda here")


def test_cuda_probe_without_a_driver_library_does_not_import_numba(monkeypatch):
    def no_library(name, *args, **kwargs):
        raise OSError(f"{name}: cannot open shared object file")

    _backend.cuda_status.cache_clear()
    monkeypatch.delenv("NUMBA_ENABLE_CUDASIM", raising=False)
    monkeypatch.delenv("NUMBA_CUDA_DRIVER", raising=False)
    monkeypatch.setattr(_backend.ctypes, "CDLL", no_library)
    monkeypatch.setattr(_backend.sys, "platform", "linux")
    monkeypatch.setitem(sys.modules, "numba", None)  # an import of numba would raise
    try:
        status = _backend.cuda_status()
    finally:
        _backend.cuda_status.cache_clear()
    assert status == _backend.CudaStatus(False, "CUDA driver library cannot be found (libcuda.so)")


def test_show_config_reports_every_section(capsys):
    fastml.show_config()
    text = capsys.readouterr().out
    for needle in ["fastml " + fastml.__version__, "numpy:", "sklearn:", "numba:",
                   "pairwise distances and k-NN search (Cython): present", "OpenMP threads:",
                   "SIMD kernels:", "BLAS:", "CUDA:"]:
        assert needle in text
    assert _backend.cuda_status().detail in text


def test_subpackages_load_lazily():
    assert "metrics" in dir(fastml)
    assert fastml.metrics.pairwise_distances is not None
    with pytest.raises(AttributeError):
        fastml.does_not_exist
