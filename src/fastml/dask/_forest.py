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
from sklearn.base import is_classifier
from sklearn.utils import check_random_state

from .. import ensemble as _local
from ._partitions import (as_dask_array, capped_threads, cluster_threads,
                          is_dask_collection, row_blocks, row_partitioned)


def _share_class(forest_class):
    class _Share(forest_class):
        """A forest holding None for the trees grown by other tasks."""

        def _fitted_trees(self):
            return [e.tree_ for e in self.estimators_ if e is not None]

        def _set_oob_score(self, X, y, n_threads):
            # this share's trees' out-of-bag sums (and y as the fit encodes it), added to the
            # other shares' on the client
            self._check_oob_target(y)
            grown = self.estimators_
            self.estimators_ = [e for e in grown if e is not None]
            try:
                self._oob_partial = (*self._oob_sums(X, n_threads), y)
            finally:
                self.estimators_ = grown

    _Share.__name__ = forest_class.__name__
    return _Share


_SHARES = {cls: _share_class(cls) for cls in (_local.RandomForestClassifier,
                                              _local.RandomForestRegressor)}


def _grow_share(forest_class, params, X, y, sample_weight, start, stop, kept=None):
    """Grow trees [start, stop) of the forest over all the rows; return the fitted share. kept:
    the first start trees, for their out-of-bag sums (None: left out)."""
    # a RandomState of its own (in-process workers share the objects of the graph)
    params = {**params, "random_state": copy.deepcopy(params["random_state"])}
    share = _SHARES[forest_class](**params)
    share.set_params(n_estimators=stop, warm_start=True)
    share.estimators_ = [None] * start if kept is None else list(kept)
    with capped_threads() as n_threads:
        share.set_params(n_jobs=n_threads)
        share.fit(X, y, sample_weight=sample_weight)
    share.estimators_ = share.estimators_[start:]
    share._packed = None
    return share


def _partition_data(X, y, sample_weight):
    """(X block, y part, sample_weight part or None) of every non-empty partition of X, y and
    sample_weight gathered (one value a row)."""
    X = row_partitioned(as_dask_array(X))
    y, sample_weight = (None if v is None else np.asarray(v.compute() if is_dask_collection(v)
                                                          else v)
                        for v in (y, sample_weight))
    if len(y) != X.shape[0]:
        raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                         f"[{X.shape[0]}, {len(y)}]")
    offsets = np.concatenate([[0], np.cumsum(X.chunks[0])]).astype(np.int64)
    return [(block, y[a:b], None if sample_weight is None else sample_weight[a:b])
            for block, a, b in zip(row_blocks(X), offsets[:-1], offsets[1:]) if b > a]


class _DaskForestMixin:
    """fit over dask (or NumPy) X, y: `n_tasks` tasks each grow a share of the trees (over all
    the rows, or over their own partition with local=True)."""

    def fit(self, X, y, sample_weight=None):
        """Grow the forest on the workers. ``n_tasks`` (a fastml.dask addition) is the number of
        tasks; None: one per worker thread of the active distributed Client (else per core).
        ``local=True``: each non-empty partition of X grows an equal share of the trees on its
        own rows only, where it lives (no rows move; a classifier's partitions must each hold
        every class); n_tasks is then the number of partitions. warm_start grows the trees
        beyond the fitted ones, with the seeds one machine's warm start gives them (the same
        forest for an int random_state; a RandomState instance is copied, not advanced, by
        each fit here; with local=True the new trees are shared between the partitions as a
        fit of them alone would share them). oob_score: each task sums its trees' out-of-bag
        predictions over the rows (the first task also the kept trees' on a warm start), the
        client adds the tasks' sums in order and scores them (as one machine's, to the last
        bits of the sums); not with local=True (its trees never saw the other partitions'
        rows)."""
        self._validate_params()
        kept = list(self.estimators_) if self.warm_start and hasattr(self, "estimators_") else []
        if self.oob_score and self.local:
            raise NotImplementedError("fastml.dask's forests compute oob_score over all the "
                                      "rows, not with local=True")
        if self._n_more_trees(len(kept)) == 0:
            return self
        # Every task draws the same stream: an int seed, or a copy of the RandomState's state.
        random_state = self.random_state
        if random_state is None:
            random_state = int(check_random_state(None).randint(np.iinfo(np.int32).max))
        params = {**self.get_params(), "random_state": random_state}
        params.pop("n_tasks")
        params.pop("local")
        if self.local:
            data = _partition_data(X, y, sample_weight)
            if is_classifier(self):
                classes = np.unique(np.concatenate([part for _, part, _ in data]))
                for _, part, _ in data:
                    if len(np.unique(part)) != len(classes):
                        raise ValueError("local=True: every partition must hold every class "
                                         "(its trees would know fewer classes)")
        else:
            n_tasks = self.n_tasks if self.n_tasks is not None else cluster_threads()
            data = [(X, y, sample_weight)] * n_tasks
        n_tasks = max(1, min(len(data), self.n_estimators - len(kept)))
        bounds = np.linspace(len(kept), self.n_estimators, n_tasks + 1).astype(int)
        local_class = self._local_class
        shares = dask.compute(*[
            dask.delayed(_grow_share)(local_class, params, Xp, yp, wp, int(a), int(b),
                                      kept if self.oob_score and i == 0 and kept else None)
            for i, ((Xp, yp, wp), a, b) in enumerate(zip(data, bounds[:-1], bounds[1:]))
            if b > a])
        # the fitted state of the first share (classes, bins, n_features_in_...), all the trees
        self.__dict__.update({k: v for k, v in shares[0].__dict__.items()
                              if k not in params and k not in ("n_tasks", "local", "_oob_partial")})
        self.estimators_ = kept + [tree for share in shares for tree in share.estimators_]
        self._pack()
        if self.oob_score:
            total, n_predictions, y_fit = shares[0]._oob_partial
            for share in shares[1:]:
                total = total + share._oob_partial[0]
                n_predictions = n_predictions + share._oob_partial[1]
            self._set_oob_from_sums(y_fit, total, n_predictions)
        return self


def _with_n_tasks(forest_class):
    """The local forest's __init__ plus the keywords n_tasks and local (its signature is what
    get_params reads)."""
    signature = inspect.signature(forest_class.__init__)

    def __init__(self, *args, n_tasks=None, local=False, **kwargs):
        forest_class.__init__(self, *args, **kwargs)
        self.n_tasks = n_tasks
        self.local = local

    __init__.__signature__ = signature.replace(parameters=[
        *signature.parameters.values(),
        inspect.Parameter("n_tasks", inspect.Parameter.KEYWORD_ONLY, default=None),
        inspect.Parameter("local", inspect.Parameter.KEYWORD_ONLY, default=False)])
    return __init__


class RandomForestClassifier(_DaskForestMixin, _local.RandomForestClassifier):
    """fastml.ensemble.RandomForestClassifier grown on the Dask workers (see the module's
    docstring); the fitted forest is a fastml forest in this process, predicting NumPy input
    directly (wrap it in ParallelPostFit for dask input). Parameters as the local forest's, plus
    ``n_tasks``."""

    _local_class = _local.RandomForestClassifier
    _parameter_constraints = {**_local.RandomForestClassifier._parameter_constraints,
                              "n_tasks": [Integral, None], "local": ["boolean"]}

    __init__ = _with_n_tasks(_local.RandomForestClassifier)


class RandomForestRegressor(_DaskForestMixin, _local.RandomForestRegressor):
    """fastml.ensemble.RandomForestRegressor grown on the Dask workers (see
    RandomForestClassifier)."""

    _local_class = _local.RandomForestRegressor
    _parameter_constraints = {**_local.RandomForestRegressor._parameter_constraints,
                              "n_tasks": [Integral, None], "local": ["boolean"]}

    __init__ = _with_n_tasks(_local.RandomForestRegressor)
