"""all_estimators(): every public fastml estimator, like sklearn.utils.all_estimators."""
import importlib
import inspect
import pkgutil

from sklearn.base import BaseEstimator, ClassifierMixin, ClusterMixin, RegressorMixin, TransformerMixin

# Subpackages that hold no estimators of their own; and fastml.dask, an optional extra whose
# estimators take the single-machine ones' names (KMeans...) and are tested in tests/dask.
_SKIPPED = {"bench", "dask", "reference", "tests", "utils"}
_TYPE_MIXINS = {
    "classifier": ClassifierMixin,
    "regressor": RegressorMixin,
    "transformer": TransformerMixin,
    "cluster": ClusterMixin,
}


def _public_modules():
    import fastml

    for info in pkgutil.walk_packages(fastml.__path__, prefix="fastml."):
        parts = info.name.split(".")
        if parts[1] in _SKIPPED or any(part.startswith("_") for part in parts[1:]):
            continue
        yield importlib.import_module(info.name)


def all_estimators(type_filter=None):
    """Return ``(name, class)`` for every public estimator in fastml, sorted by name.

    Parameters
    ----------
    type_filter : {"classifier", "regressor", "transformer", "cluster"} or list of them, optional
        Keep only estimators of these kinds.
    """
    found = {}
    for module in _public_modules():
        for name, cls in inspect.getmembers(module, inspect.isclass):
            if (issubclass(cls, BaseEstimator) and not name.startswith("_")
                    and cls.__module__.startswith("fastml.") and not inspect.isabstract(cls)):
                found[name] = cls
    estimators = sorted(found.items())
    if type_filter is None:
        return estimators
    kinds = [type_filter] if isinstance(type_filter, str) else list(type_filter)
    unknown = [kind for kind in kinds if kind not in _TYPE_MIXINS]
    if unknown:
        raise ValueError(f"type_filter must be among {sorted(_TYPE_MIXINS)}, got {unknown}")
    mixins = tuple(_TYPE_MIXINS[kind] for kind in kinds)
    return [(name, cls) for name, cls in estimators if issubclass(cls, mixins)]
