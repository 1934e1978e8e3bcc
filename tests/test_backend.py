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
