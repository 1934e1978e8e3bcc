"""Global, thread-local configuration: thread count, device and working memory."""
import threading
from contextlib import contextmanager
from numbers import Integral, Real

_DEFAULTS = {
    # Threads for compiled cores when an estimator or function is given n_jobs=None;
    # None means every core OpenMP may use (OMP_NUM_THREADS is honoured).
    "n_jobs": None,
    # Where Numba kernels run: "auto" (CUDA when a GPU is usable, else CPU), "cpu" or "cuda".
    "device": "auto",
    # MiB that chunked computations may hold at once (like scikit-learn's working_memory).
    "working_memory": 1024,
}
_DEVICES = ("auto", "cpu", "cuda")
_UNSET = object()
_local = threading.local()


def _thread_config():
    if not hasattr(_local, "config"):
        _local.config = dict(_DEFAULTS)
    return _local.config


def get_config():
    """Return a copy of the current configuration.

    Returns
    -------
    config : dict
        Keys ``n_jobs``, ``device`` and ``working_memory``.
    """
    return dict(_thread_config())


def _validate(key, value):
    if key == "n_jobs":
        if value is None:
            return
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise TypeError(f"n_jobs must be an int or None, got {value!r}")
        if value == 0:
            raise ValueError("n_jobs == 0 has no meaning; use None, -1 or a positive count")
    elif key == "device":
        if value not in _DEVICES:
            raise ValueError(f"device must be one of {_DEVICES}, got {value!r}")
    elif key == "working_memory":
        if isinstance(value, bool) or not isinstance(value, Real) or not value > 0:
            raise ValueError(f"working_memory must be a positive number of MiB, got {value!r}")


def set_config(n_jobs=_UNSET, device=_UNSET, working_memory=_UNSET):
    """Set fastml's configuration for the current thread.

    Parameters
    ----------
    n_jobs : int or None, optional
        Threads used by compiled cores when a call passes ``n_jobs=None``. ``None`` uses every
        core OpenMP may use, ``-1`` every available core, ``-2`` all but one, and so on.
    device : {"auto", "cpu", "cuda"}, optional
        Where Numba kernels run.
    working_memory : float, optional
        MiB that chunked computations may hold at once.
    """
    given = {"n_jobs": n_jobs, "device": device, "working_memory": working_memory}
    given = {key: value for key, value in given.items() if value is not _UNSET}
    for key, value in given.items():
        _validate(key, value)
    _thread_config().update(given)


@contextmanager
def config_context(**params):
    """Context manager that sets configuration values and restores them on exit.

    Examples
    --------
    >>> import fastml
    >>> with fastml.config_context(n_jobs=1):
    ...     fastml.get_config()["n_jobs"]
    1
    """
    unknown = set(params) - set(_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown configuration key(s): {sorted(unknown)}")
    old = get_config()
    set_config(**params)
    try:
        yield
    finally:
        set_config(**old)
