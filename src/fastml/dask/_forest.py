"""Random forests grown on the Dask workers: each task grows a share of the trees over all the
rows with fastml's C++ core, and the trees are gathered into one fastml forest.

Tree t of fastml's forest is grown from the t-th seed of random_state's stream, drawn after the
binning's draws; a task growing trees [a, b) draws the same stream and skips the first a seeds
(as a warm start does), so the gathered forest equals the one grown on one machine.
"""
import copy
import inspect
from numbers import Integral

import dask
import numpy as np
from sklearn.utils import check_random_state

from .. import ensemble as _local
from ._partitions import capped_threads, cluster_threads


def _share_class(forest_class):
    class _Share(forest_class):
        """A forest holding None for the trees grown by other tasks."""

        def _fitted_trees(self):
            return [e.tree_ for e in self.estimators_ if e is not None]

    _Share.__name__ = forest_class.__name__
    return _Share


_SHARES = {cls: _share_class(cls) for cls in (_local.RandomForestClassifier,
                                              _local.RandomForestRegressor)}


def _grow_share(forest_class, params, X, y, sample_weight, start, stop):
    """Grow trees [start, stop) of the forest over all the rows; return the fitted share."""
    # a RandomState of its own (in-process workers share the objects of the graph)
    params = {**params, "random_state": copy.deepcopy(params["random_state"])}
    share = _SHARES[forest_class](**params)
    share.set_params(n_estimators=stop, warm_start=True, oob_score=False)
    share.estimators_ = [None] * start
    with capped_threads() as n_threads:
        share.set_params(n_jobs=n_threads)
        share.fit(X, y, sample_weight=sample_weight)
    share.estimators_ = share.estimators_[start:]
    share._packed = None
    return share


class _DaskForestMixin:
    """fit over dask (or NumPy) X, y: `n_tasks` tasks each grow a share of the trees."""

    def fit(self, X, y, sample_weight=None):
        """Grow the forest on the workers. ``n_tasks`` (a fastml.dask addition) is the number of
        tasks; None: one per worker thread of the active distributed Client (else per core).
        oob_score is not computed (missing)."""
        self._validate_params()
        if self.oob_score:
            raise NotImplementedError("oob_score is not available in fastml.dask's forests yet")
        if self.warm_start:
            raise NotImplementedError("warm_start is not available in fastml.dask's forests")
        n_tasks = self.n_tasks if self.n_tasks is not None else cluster_threads()
        n_tasks = max(1, min(n_tasks, self.n_estimators))
        # Every task draws the same stream: an int seed, or a copy of the RandomState's state.
        random_state = self.random_state
        if random_state is None:
            random_state = int(check_random_state(None).randint(np.iinfo(np.int32).max))
        params = {**self.get_params(), "random_state": random_state}
        params.pop("n_tasks")
        bounds = np.linspace(0, self.n_estimators, n_tasks + 1).astype(int)
        local_class = self._local_class
        shares = dask.compute(*[
            dask.delayed(_grow_share)(local_class, params, X, y, sample_weight, int(a), int(b))
            for a, b in zip(bounds[:-1], bounds[1:]) if b > a])
        # the fitted state of the first share (classes, bins, n_features_in_...), all the trees
        self.__dict__.update({k: v for k, v in shares[0].__dict__.items()
                              if k not in params and k != "n_tasks"})
        self.estimators_ = [tree for share in shares for tree in share.estimators_]
        self._pack()
        return self


def _with_n_tasks(forest_class):
    """The local forest's __init__ plus the keyword n_tasks (its signature is what
    get_params reads)."""
    signature = inspect.signature(forest_class.__init__)

    def __init__(self, *args, n_tasks=None, **kwargs):
        forest_class.__init__(self, *args, **kwargs)
        self.n_tasks = n_tasks

    __init__.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("n_tasks", inspect.Parameter.KEYWORD_ONLY, default=None)])
    return __init__


class RandomForestClassifier(_DaskForestMixin, _local.RandomForestClassifier):
    """fastml.ensemble.RandomForestClassifier grown on the Dask workers (see the module's
    docstring); the fitted forest is a fastml forest in this process, predicting NumPy input
    directly (wrap it in ParallelPostFit for dask input). Parameters as the local forest's, plus
    ``n_tasks``."""

    _local_class = _local.RandomForestClassifier
    _parameter_constraints = {**_local.RandomForestClassifier._parameter_constraints,
                              "n_tasks": [Integral, None]}

    __init__ = _with_n_tasks(_local.RandomForestClassifier)


class RandomForestRegressor(_DaskForestMixin, _local.RandomForestRegressor):
    """fastml.ensemble.RandomForestRegressor grown on the Dask workers (see
    RandomForestClassifier)."""

    _local_class = _local.RandomForestRegressor
    _parameter_constraints = {**_local.RandomForestRegressor._parameter_constraints,
                              "n_tasks": [Integral, None]}

    __init__ = _with_n_tasks(_local.RandomForestRegressor)
