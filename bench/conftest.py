import pytest


def pytest_addoption(parser):
    parser.addoption("--bench-size", choices=["quick", "full"], default="quick",
                     help="problem sizes of the benchmark workloads (default: quick)")


@pytest.fixture(scope="session")
def quick(request):
    return request.config.getoption("--bench-size") == "quick"
