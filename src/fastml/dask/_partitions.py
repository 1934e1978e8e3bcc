"""What every fastml.dask estimator does with partitions: take dask arrays and dataframes as row
blocks, cap the compiled threads of the task that runs on a block, and compute small per-block
results in a fixed order.

Dask moves the data and runs the tasks (on the default scheduler: a distributed Client when one is
active, else dask's threads); nothing here talks to a scheduler itself.
"""
import copy
import functools
import os
from contextlib import contextmanager

import dask
import dask.array as da
import numpy as np
from scipy import sparse
from sklearn.utils.validation import check_array
from threadpoolctl import ThreadpoolController

from .. import _backend
from .._config import config_context


def is_dask_collection(X):
    return dask.is_dask_collection(X)


def is_dataframe(X):
    return is_dask_collection(X) and hasattr(X, "map_partitions")


def is_sparse_array(X):
    """A dask array whose partitions are scipy.sparse matrices."""
    return (is_dask_collection(X) and not is_dataframe(X)
            and sparse.issparse(getattr(X, "_meta", None)))


def n_rows(block):
    """Rows of one partition (len() is ambiguous for a scipy.sparse matrix)."""
    return block.shape[0]


def partition_weights(w, n, dtype):
    """A partition's sample weights in dtype, ones where none were given."""
    return np.ones(n, dtype=dtype) if w is None else np.ascontiguousarray(w, dtype=dtype)


def row_blocks(X):
    """The row blocks of a dask array or dataframe, as a list of Delayed (one per partition, in
    order). A dask array chunked across columns is rechunked to whole rows first. The blocks
    keep the collection's own keys (not those of an optimised copy of its graph: dask's
    scheduler refuses a key met again with another task, as a lazily generated array fused in
    two ways would give)."""
    if is_dataframe(X):
        return list(X.to_delayed(optimize_graph=False))
    X = as_dask_array(X)
    if X.ndim == 2 and X.numblocks[1] != 1:
        X = X.rechunk({1: X.shape[1]})
    return list(X.to_delayed(optimize_graph=False).ravel())


def checked_local(X, *, accept_sparse=False, allow_nan=False):
    """Array-like (not dask) input checked as scikit-learn's estimators check theirs (numeric,
    2-d, non-empty, finite unless allow_nan; their errors and messages) before it is cut into
    partitions. Dask collections are left as they are: checking them would compute them."""
    if is_dask_collection(X):
        return X
    return check_array(X, accept_sparse="csr" if accept_sparse else False, dtype="numeric",
                       ensure_all_finite="allow-nan" if allow_nan else True)


def as_dask_array(X, chunks="auto"):
    """X as a dask array: dataframes become arrays of the same partitions (lengths unknown),
    NumPy arrays a dask array of `chunks` rows."""
    if is_dataframe(X):
        return X.to_dask_array()
    if is_dask_collection(X):
        return X
    if sparse.issparse(X):  # CSR partitions (a row slice of CSR is cheap)
        X = X.tocsr()
        rows = X.shape[0] if chunks == "auto" else chunks
        return da.from_array(X, chunks=(max(1, rows), X.shape[1]), asarray=False)
    return da.from_array(np.asarray(X), chunks=chunks)


def block_lengths(X):
    """Rows per partition when they are known, else None."""
    if is_dataframe(X):
        return None
    chunks = as_dask_array(X).chunks[0]
    return None if any(np.isnan(c) for c in chunks) else tuple(int(c) for c in chunks)


def row_partitioned(X, *, floating=False):
    """X (a dask array) as the per-partition cores take it: 2-d (scikit-learn's ValueError
    otherwise), floating point when asked (other dtypes become float64), one block of columns,
    and its partitions' row counts known."""
    if X.ndim != 2:
        raise ValueError(f"Expected 2D array, got {X.ndim}D array instead")
    if floating and X.dtype not in (np.float32, np.float64):
        X = X.astype(np.float64)
    if X.numblocks[1] != 1:
        X = X.rechunk({1: X.shape[1]})
    if block_lengths(X) is None:
        X = X.compute_chunk_sizes()
    return X


def _share(task_threads_in_process):
    """This process's cores shared among the task threads that run at once in it, never more
    than OpenMP's default (distributed's nannies start their workers with OMP_NUM_THREADS=1,
    which says one thread per task)."""
    share = max(1, _backend.available_cpus() // max(1, task_threads_in_process))
    if os.environ.get("OMP_NUM_THREADS"):
        share = min(share, max(1, _backend.openmp_max_threads()))
    return share


def worker_task_threads():
    """Inside a distributed worker's task: the compiled threads the task may use, its share of
    the task threads of every worker living in this process (several for a LocalCluster with
    processes=False). None elsewhere."""
    try:
        from distributed import Worker, get_worker
        get_worker()  # raises ValueError outside a worker's task
    except (ImportError, ValueError):
        return None
    return _share(sum(w.state.nthreads for w in list(Worker._instances)))


def task_threads():
    """Compiled threads a task may use, on a distributed worker or in dask's local threads."""
    share = worker_task_threads()
    if share is None:
        share = _share(dask.config.get("num_workers", None) or _backend.available_cpus())
    return share


@functools.cache
def _threadpools():
    """The process's thread pools, found once: threadpool_limits() looks for them at every call
    (14 ms a task, 0.45 s the first time, on the shared 2-core machine)."""
    return ThreadpoolController()


@contextmanager
def capped_threads():
    """Inside a task: fastml's n_jobs (thread-local) and BLAS capped to the task's share."""
    n = task_threads()
    with config_context(n_jobs=n), _threadpools().limit(limits=n, user_api="blas"):
        yield n


def with_threads(estimator, n_threads):
    """The estimator itself when its n_jobs defers to fastml's config, else a shallow copy whose
    n_jobs is the task's share (the scattered model is shared by a worker's task threads, so it
    is never changed in place)."""
    n_jobs = getattr(estimator, "n_jobs", None)
    if n_jobs is None or n_jobs == n_threads or not hasattr(estimator, "get_params"):
        return estimator
    capped = copy.copy(estimator)
    capped.n_jobs = n_threads
    return capped


def shipped(obj):
    """obj as a task argument sent to the cluster once: scattered with an active distributed
    Client (a worker fetches it once, whatever the number of tasks that use it, and the graph
    stays small), else one node of the graph."""
    client = _active_client()
    if client is None:
        return dask.delayed(obj, pure=True, traverse=False)
    return client.scatter(obj, hash=False)


def _active_client():
    """The distributed Client that dask.compute would run on now (None for dask's local
    schedulers, chosen with dask.config.set(scheduler=...) even while a Client exists)."""
    try:
        from distributed import Client
    except ImportError:
        return None
    client = getattr(dask.base.get_scheduler(), "__self__", None)
    return client if isinstance(client, Client) else None


def cluster_threads():
    """Task threads of the active Client's workers, or this machine's cores for dask's local
    schedulers: how many tasks run at once."""
    client = _active_client()
    if client is None:
        return dask.config.get("num_workers", None) or _backend.available_cpus()
    return max(1, sum(client.nthreads().values()))


def compute_in_order(tasks):
    """Compute a list of Delayed together and return their results in the list's order (the
    order in which they are reduced: a fixed order makes the sums independent of which worker
    finishes first)."""
    return list(dask.compute(*tasks))


class PartitionStates:
    """State objects kept where their partitions live, changed in place by calls made from the
    client: on a distributed Client each state is a future and each call a task pinned to the
    worker that holds it (submitted directly: no graph to build, tokenise and optimise per
    step); on dask's local schedulers the states live in this process and the calls run here,
    partition after partition.

    made: a Delayed per state (it builds the state where its partition lives)."""

    def __init__(self, made):
        self.client = _active_client()
        if self.client is None:
            self.states = list(dask.compute(*made))
            return
        self.states = self.client.compute(made)
        self.client.wait_for_workers(1)
        from distributed import wait
        wait(self.states)
        where = self.client.who_has(self.states)
        self.workers = [list(where[f.key]) for f in self.states]

    def submit(self, function, *args, only=None):
        """function(state, *args) on every state (or on the states of the indices in only),
        started: a list of futures on a Client (args may hold futures of earlier calls: a task
        waits for them where it runs, and the client need not), else of the results."""
        chosen = range(len(self.states)) if only is None else only
        if self.client is None:
            return [function(self.states[i], *args) for i in chosen]
        return [self.client.submit(function, self.states[i], *args, pure=False,
                                   workers=self.workers[i], allow_other_workers=True)
                for i in chosen]

    def gather(self, started):
        """The results of submit's lists (nested lists of them: one wait for all)."""
        return started if self.client is None else self.client.gather(started)

    def run(self, function, *args, only=None):
        """submit, then gather: the results in order."""
        return self.gather(self.submit(function, *args, only=only))

    def release(self):
        if self.client is not None:
            self.client.cancel(self.states)
        self.states = []
