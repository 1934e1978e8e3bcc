"""MatrixFactorization by ALS with the ratings partitioned by user and by item over the workers.

The users x items matrix is cut into row ranges (users) and, transposed, into row ranges
(items); each range is shipped to the cluster once. A half-sweep broadcasts the other side's
factors (and biases, or the implicit Gram matrix) and solves every range's rows on fastml's
compiled ALS core; the solved rows come back in range order. Each row's solve depends only on
its ratings and the broadcast factors, so the factors equal the single-machine fit's.
"""
import numpy as np
from sklearn.utils import check_random_state

import dask

from ..recommend import MatrixFactorization as _LocalMF
from ..recommend import _kernels_cpu, _mf_fast
from ..recommend._data import check_interactions
from ._partitions import capped_threads, cluster_threads, compute_in_order, shipped


def _row_ranges(n, parts):
    bounds = np.linspace(0, n, min(parts, n) + 1).astype(np.int64)
    return list(zip(bounds[:-1], bounds[1:]))


def _slice_rows(M, start, stop):
    """csr_arrays of rows [start, stop) of a CSR matrix (the core's row numbering from 0)."""
    return _kernels_cpu.csr_arrays(M[start:stop])


def _solve(kind, rows, other, extra, factors, bias, params):
    """Solve one range's rows in place (on copies of the factors it was sent) and return them,
    with each row's loss share on the item side."""
    factors, bias = factors.copy(), bias.copy()
    row_loss = np.empty(len(factors), np.float64) if params["loss"] else None
    with capped_threads() as n_threads:
        if kind == "implicit":
            _kernels_cpu.implicit_rows(rows, factors, other, extra, params["cg_steps"],
                                       n_threads, row_loss)
        else:
            other_bias, global_mean = extra
            _kernels_cpu.explicit_rows(rows, other, other_bias, global_mean,
                                       params["regularization"], params["biases"], factors,
                                       bias, n_threads, row_loss)
    return factors, bias, row_loss


class MatrixFactorization(_LocalMF):
    """fastml.recommend.MatrixFactorization fitted by ALS on the Dask workers (see the module's
    docstring). Parameters as the local one's (solver="als" and device="cpu" only), plus
    ``n_partitions``: ranges per side (None: 2 per worker thread of the active Client, else 2
    per core). The fitted model predicts and recommends in this process. The ratings come from
    the client's memory (a sparse matrix, array or (user_ids, item_ids[, values]) tuple)."""

    def __init__(self, n_factors=64, *, feedback="explicit", solver="als", regularization=0.1,
                 alpha=1.0, learning_rate=0.01, n_iter=15, biases=True, cg_steps=3,
                 random_state=None, device="cpu", dtype=np.float32, n_jobs=None, verbose=0,
                 n_partitions=None):
        super().__init__(n_factors, feedback=feedback, solver=solver,
                         regularization=regularization, alpha=alpha, learning_rate=learning_rate,
                         n_iter=n_iter, biases=biases, cg_steps=cg_steps,
                         random_state=random_state, device=device, dtype=dtype, n_jobs=n_jobs,
                         verbose=verbose)
        self.n_partitions = n_partitions

    _parameter_constraints = {**_LocalMF._parameter_constraints, "n_partitions": [int, None]}

    def _n_partitions(self):
        return max(1, self.n_partitions) if self.n_partitions is not None \
            else 2 * cluster_threads()

    def fit(self, X, y=None):
        """Factorize the users x items matrix X on the workers."""
        self._validate_params()
        if self.solver != "als" or self.device == "cuda":
            raise NotImplementedError("fastml.dask.MatrixFactorization runs ALS on the CPU only")
        dtype = self._check_dtype()
        implicit = self.feedback == "implicit"
        R = check_interactions(X, dtype, estimator=self, non_negative=implicit)
        if isinstance(X, tuple):
            self.n_features_in_ = R.shape[1]
        rng = check_random_state(self.random_state)
        n_users, n_items = R.shape
        # The local fit's start, drawn in its order.
        scale = 0.01 if implicit else 0.1
        factors = {"users": (scale * rng.standard_normal((n_users, self.n_factors))).astype(dtype),
                   "items": (scale * rng.standard_normal((n_items, self.n_factors))).astype(dtype)}
        bias = {"users": np.zeros(n_users, dtype), "items": np.zeros(n_items, dtype)}
        global_mean = float(R.data.mean()) if self._uses_biases() else 0.0
        M = {"users": self._confidence(R) if implicit else R}
        M["items"] = M["users"].T.tocsr()
        parts = self._n_partitions()
        ranges = {side: _row_ranges(M[side].shape[0], parts) for side in M}
        rows = {side: [shipped(_slice_rows(M[side], a, b)) for a, b in ranges[side]]
                for side in M}
        kind = "implicit" if implicit else "explicit"
        losses = []
        for _ in range(self.n_iter):
            for side, other in (("users", "items"), ("items", "users")):
                if implicit:
                    extra = _mf_fast.gram(factors[other], self.regularization, 1)
                else:
                    extra = (bias[other], global_mean)
                params = {"loss": side == "items", "cg_steps": self.cg_steps or 0,
                          "regularization": self.regularization,
                          "biases": self._uses_biases()}
                broadcast = shipped(factors[other])
                solved = compute_in_order([
                    dask.delayed(_solve)(kind, part, broadcast, extra, factors[side][a:b],
                                         bias[side][a:b], params)
                    for part, (a, b) in zip(rows[side], ranges[side])])
                factors[side] = np.concatenate([s[0] for s in solved])
                bias[side] = np.concatenate([s[1] for s in solved])
            row_loss = np.concatenate([s[2] for s in solved])
            X_f = factors["users"]
            # the local drivers' objective: the items' shares plus the users' penalty
            loss = float(row_loss.sum()) + self.regularization * float(np.vdot(X_f, X_f))
            if not implicit:
                loss += self.regularization * float(np.vdot(bias["users"], bias["users"]))
            losses.append(loss)
        if not all(np.all(np.isfinite(f)) for f in factors.values()):
            raise FloatingPointError("the factors diverged to NaN or infinity; raise "
                                     "regularization")
        self.user_factors_, self.item_factors_ = factors["users"], factors["items"]
        self.user_bias_, self.item_bias_ = bias["users"], bias["items"]
        self.global_mean_ = global_mean
        self.loss_curve_ = [loss / R.nnz for loss in losses]
        self.device_ = "cpu"
        self.n_users_, self.n_items_ = n_users, n_items
        self.item_popularity_ = np.bincount(R.indices, minlength=n_items)
        self._interactions = R
        return self
