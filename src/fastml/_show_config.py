"""fastml.show_config(): versions, compiled cores, threads, BLAS and CUDA in one report."""
import platform
import sys

from . import _backend


def _version(module_name):
    try:
        module = __import__(module_name)
    except ImportError:
        return "not installed"
    return getattr(module, "__version__", "unknown")


def _report():
    from . import __version__

    lines = ["fastml " + __version__, "", "Versions:"]
    lines.append(f"  python: {sys.version.split()[0]} ({platform.platform()})")
    for name in ("numpy", "scipy", "sklearn", "numba", "threadpoolctl"):
        lines.append(f"  {name}: {_version(name)}")

    lines += ["", "Compiled cores:"]
    cores = _backend.compiled_core_status()
    for name, error in cores.items():
        lines.append(f"  {name}: " + ("present" if error is None else f"MISSING ({error})"))

    lines += ["", "Threads:"]
    if all(error is None for error in cores.values()):
        lines.append(f"  OpenMP: {'enabled' if _backend.openmp_enabled() else 'not compiled in'}")
        lines.append(f"  OpenMP threads: {_backend.openmp_max_threads()}")
        lines.append(f"  SIMD kernels: {_backend.simd_build()}")
    lines.append(f"  available cores: {_backend.available_cpus()}")

    lines += ["", "BLAS:"]
    blas = _backend.blas_info()
    for info in blas:
        lines.append(f"  {info.get('internal_api')} {info.get('version')} "
                     f"({info.get('num_threads')} threads): {info.get('filepath')}")
    if not blas:
        lines.append("  none loaded")

    cuda = _backend.cuda_status()
    lines += ["", "CUDA:", f"  {'available' if cuda.available else 'unavailable'}: {cuda.detail}"]
    return "\n".join(lines)


def show_config():
    """Print fastml's versions, compiled cores, OpenMP threads, BLAS and CUDA status."""
    print(_report())
