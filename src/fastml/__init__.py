"""fastml: C-accelerated, scikit-learn compatible machine learning.

Subpackages (``fastml.metrics``, ``fastml.reference``, ``fastml.bench``, ``fastml.utils``) are
imported on first use so that ``import fastml`` stays cheap.
"""
import importlib

from ._config import config_context, get_config, set_config
from ._show_config import show_config

__version__ = "0.1.0"

_SUBPACKAGES = ("bench", "cluster", "ensemble", "feature_extraction", "linear_model", "metrics",
                "naive_bayes", "neighbors", "nn", "recommend", "reference", "tree", "utils")

__all__ = ["config_context", "get_config", "set_config", "show_config", "__version__",
           *_SUBPACKAGES]


def __getattr__(name):
    if name in _SUBPACKAGES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(__all__)
