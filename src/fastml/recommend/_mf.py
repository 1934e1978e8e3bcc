"""MatrixFactorization: ALS and SGD for explicit ratings and implicit feedback, on a C++ core for
the CPU (driven by ``_kernels_cpu``) and Numba kernels for CUDA (``_kernels_cuda``)."""
import sys
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import threadpool_limits

from .._backend import cuda_status, effective_n_threads, kernels_for, resolve_device
from ..utils._progress import progress_bar
from ..utils._sklearn_compat import Interval, StrOptions, fit_context
from . import _kernels_cpu, _mf_fast
from ._data import (check_ids, check_interactions, check_k, has_interactions,
                    score_batch_rows, seen_rows)


class MatrixFactorization(TransformerMixin, BaseEstimator):
    """Matrix factorization recommender for explicit ratings or implicit feedback.

    The users x items matrix R is approximated by ``user_factors_ @ item_factors_.T`` (plus a
    global mean and user and item biases for explicit ratings).

    - ``feedback="explicit"``: R holds ratings; only the stored entries are fitted. The objective
      is sum over ratings of (r - mu - b_u - b_i - x_u . y_i)^2 + regularization * (|X|^2 +
      |Y|^2 + |b_u|^2 + |b_i|^2). ``solver="als"`` alternates exact least-squares solves per user
      and per item; ``solver="sgd"`` takes shuffled stochastic gradient steps.
    - ``feedback="implicit"``: R holds interaction strengths r >= 0 (counts, clicks); every
      user-item pair is fitted, with preference p = 1 where r > 0 else 0 and confidence
      c = 1 + alpha * r (Hu, Koren and Volinsky 2008). The objective is
      sum over all pairs of c (p - x_u . y_i)^2 + regularization * (|X|^2 + |Y|^2). ALS only:
      each row is solved by ``cg_steps`` steps of conjugate gradient warm-started at its previous
      value (None solves exactly).

    Parameters
    ----------
    n_factors : int, default=64
    feedback : {"explicit", "implicit"}, default="explicit"
    solver : {"als", "sgd"}, default="als"
        "sgd" supports explicit feedback only.
    regularization : float, default=0.1
    alpha : float, default=1.0
        Confidence slope for implicit feedback.
    learning_rate : float, default=0.01
        SGD step size.
    n_iter : int, default=15
        ALS sweeps (users then items) or SGD epochs.
    biases : bool, default=True
        Fit a global mean and user and item biases (explicit feedback only).
    cg_steps : int or None, default=3
        Conjugate gradient steps per row and sweep for implicit ALS; None solves exactly.
    random_state : int, RandomState instance or None, default=None
        Seeds the initial factors and the SGD shuffles. For a given random_state the result is
        the same for any n_jobs on the CPU. (CUDA SGD updates are lock-free and vary from run
        to run.)
    device : {"auto", "cpu", "cuda"}, default="auto"
        "auto" uses CUDA when numba-cuda finds a GPU, else warns once and runs on the CPU.
    dtype : {numpy.float32, numpy.float64}, default=numpy.float32
        Dtype of the factors and of the computation (row solves are accumulated in float64).
    n_jobs : int, default=None
        CPU threads; None uses ``fastml.get_config()["n_jobs"]``.
    verbose : int, default=0
        > 0 draws a progress bar with the loss on stderr.

    Attributes
    ----------
    user_factors_ : ndarray (n_users, n_factors)
    item_factors_ : ndarray (n_items, n_factors)
    user_bias_, item_bias_ : ndarray (n_users,), (n_items,)
        Zero for implicit feedback and when biases=False.
    global_mean_ : float
        Mean stored rating (explicit feedback with biases), else 0.
    loss_curve_ : list of float
        The objective after each iteration, divided by the number of stored entries.
    device_ : str
        Where the fit ran: "cpu" or "cuda".
    n_users_, n_items_ : int
    item_popularity_ : ndarray (n_items,)
        Interactions per item: the ranking given to unknown users with implicit feedback.

    Notes
    -----
    Input: ``fit(R)`` takes a users x items scipy.sparse matrix of any format (duplicates are
    summed, stored zeros ignored), a dense array (zeros are missing entries) or triplets
    ``(user_ids, item_ids[, values])``.
    Unknown users: a user id >= n_users_ or a user without interactions in the fitted matrix
    gets global_mean_ + item_bias_ in predict; recommend() ranks items by item bias for them
    (explicit) or by popularity (implicit).
    """

    _parameter_constraints = {
        "n_factors": [Interval(Integral, 1, None, closed="left")],
        "feedback": [StrOptions({"explicit", "implicit"})],
        "solver": [StrOptions({"als", "sgd"})],
        "regularization": [Interval(Real, 0, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_iter": [Interval(Integral, 1, None, closed="left")],
        "biases": ["boolean"],
        "cg_steps": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "dtype": [type, np.dtype, StrOptions({"float32", "float64"})],
        "n_jobs": [Integral, None],
        "verbose": ["verbose"],
    }

    def __init__(self, n_factors=64, *, feedback="explicit", solver="als", regularization=0.1,
                 alpha=1.0, learning_rate=0.01, n_iter=15, biases=True, cg_steps=3,
                 random_state=None, device="auto", dtype=np.float32, n_jobs=None, verbose=0):
        self.n_factors = n_factors
        self.feedback = feedback
        self.solver = solver
        self.regularization = regularization
        self.alpha = alpha
        self.learning_rate = learning_rate
        self.n_iter = n_iter
        self.biases = biases
        self.cg_steps = cg_steps
        self.random_state = random_state
        self.device = device
        self.dtype = dtype
        self.n_jobs = n_jobs
        self.verbose = verbose

    def _check_dtype(self):
        dtype = np.dtype(self.dtype)
        if dtype not in (np.float32, np.float64):
            raise ValueError(f"dtype must be float32 or float64, got {dtype}")
        return dtype

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = self.feedback == "implicit"
        # Factors have the dtype parameter's type, whatever the input's.
        tags.transformer_tags.preserves_dtype = [np.dtype(self.dtype).name]
        return tags

    def _confidence(self, R):
        """Implicit feedback: R with its entries turned into confidences 1 + alpha * r."""
        C = R.copy()
        C.data = (1 + self.alpha * C.data).astype(R.dtype)
        return C

    def _uses_biases(self):
        return self.feedback == "explicit" and self.biases

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Factorize the users x items matrix X.

        Parameters
        ----------
        X : sparse matrix, array-like or tuple (user_ids, item_ids[, values])
            Users x items interactions (see the class notes).
        y : ignored

        Returns
        -------
        self
        """
        dtype = self._check_dtype()
        implicit = self.feedback == "implicit"
        if implicit and self.solver == "sgd":
            raise ValueError("solver='sgd' supports explicit feedback only; use solver='als' "
                             "for implicit feedback")
        R = check_interactions(X, dtype, estimator=self, non_negative=implicit)
        if isinstance(X, tuple):
            self.n_features_in_ = R.shape[1]
        device = resolve_device(self.device)
        kernels = kernels_for("recommend", device)
        rng = check_random_state(self.random_state)
        n_users, n_items = R.shape
        # Small random factors: ALS solves the users first, so only Y's start matters there.
        scale = 0.01 if implicit else 0.1
        X_f = (scale * rng.standard_normal((n_users, self.n_factors))).astype(dtype)
        Y_f = (scale * rng.standard_normal((n_items, self.n_factors))).astype(dtype)
        user_bias = np.zeros(n_users, dtype)
        item_bias = np.zeros(n_items, dtype)
        global_mean = float(R.data.mean()) if self._uses_biases() else 0.0
        progress = self._progress_reporter()

        n_threads = effective_n_threads(self.n_jobs)
        # The drivers' own BLAS calls (norms) are small: one thread keeps them off the cores
        # the compiled sweeps run on.
        with threadpool_limits(1, user_api="blas"):
            if implicit:
                C = self._confidence(R)
                losses = kernels.implicit_als(C, C.T.tocsr(), X_f, Y_f, self.regularization,
                                              self.n_iter, self.cg_steps or 0, progress,
                                              n_threads)
            elif self.solver == "als":
                losses = kernels.explicit_als(R, R.T.tocsr(), X_f, Y_f, user_bias, item_bias,
                                              global_mean, self.regularization, self.n_iter,
                                              self._uses_biases(), progress, n_threads)
            else:
                coo = R.tocoo()
                losses = kernels.sgd(coo.row.astype(np.int64), coo.col.astype(np.int64),
                                     coo.data, X_f, Y_f, user_bias, item_bias, global_mean,
                                     self.learning_rate, self.regularization, self.n_iter,
                                     self._uses_biases(), rng, progress, n_threads)
        if not np.all(np.isfinite(X_f)) or not np.all(np.isfinite(Y_f)):
            raise FloatingPointError(
                "the factors diverged to NaN or infinity; lower learning_rate or raise "
                "regularization")
        self.user_factors_, self.item_factors_ = X_f, Y_f
        self.user_bias_, self.item_bias_ = user_bias, item_bias
        self.global_mean_ = global_mean
        self.loss_curve_ = [loss / R.nnz for loss in losses]
        self.device_ = device
        self.n_users_, self.n_items_ = n_users, n_items
        self.item_popularity_ = np.bincount(R.indices, minlength=n_items)
        self._interactions = R
        return self

    def _progress_reporter(self):
        if not self.verbose:
            return lambda iteration, loss: None

        def report(iteration, loss):
            progress_bar(iteration + 1, self.n_iter, f"loss {loss:.6g}", stream=sys.stderr)
        return report

    def predict(self, X, item_ids=None):
        """Predicted ratings (explicit) or preferences (implicit).

        Two forms:

        - ``predict(user_ids, item_ids)``: one prediction per (user, item) pair. Item ids must
          be below n_items_; a user id beyond n_users_ is an unknown user.
        - ``predict(X)``: X is a matrix of interaction rows (n_rows x n_items), as in fit; each
          row is a user solved against the fitted item factors (see transform), and the
          prediction for every item is returned, shape (n_rows, n_items).

        Returns
        -------
        ndarray of the factors' dtype
        """
        check_is_fitted(self)
        if item_ids is None:
            factors, bias = self._fold_in(X)
            out = factors @ self.item_factors_.T
            out += (bias + self.global_mean_).astype(out.dtype)[:, None]
            out += self.item_bias_
            return out
        user_ids = check_ids(X, np.iinfo(np.int64).max, "user_ids")
        item_ids = check_ids(item_ids, self.n_items_, "item_ids")
        if len(user_ids) != len(item_ids):
            raise ValueError(f"user_ids and item_ids differ in length: {len(user_ids)} and "
                             f"{len(item_ids)}")
        known = has_interactions(self._interactions, user_ids)
        out = self.item_bias_[item_ids] + self.item_factors_.dtype.type(self.global_mean_)
        u, i = user_ids[known], item_ids[known]
        out[known] += self.user_bias_[u] + np.einsum("ij,ij->i", self.user_factors_[u],
                                                     self.item_factors_[i])
        return out

    def transform(self, X):
        """User factors for rows of interactions (new users), without refitting.

        Each row is solved exactly as in ALS's user step, against the fitted item factors.

        Parameters
        ----------
        X : sparse matrix, array-like (n_rows, n_items) or triplets
            Interactions (ratings for explicit feedback) of the users to embed.

        Returns
        -------
        ndarray (n_rows, n_factors)
        """
        check_is_fitted(self)
        return self._fold_in(X)[0]

    def recalculate_user(self, row):
        """Factors and bias of one new user from their interactions, without refitting.

        Parameters
        ----------
        row : sparse matrix or array-like of shape (n_items,) or (1, n_items)

        Returns
        -------
        factors : ndarray (n_factors,)
        bias : float
            The user bias (0 for implicit feedback or biases=False).
        """
        check_is_fitted(self)
        if not hasattr(row, "tocsr") and np.ndim(row) == 1:
            row = np.asarray(row)[None, :]
        factors, bias = self._fold_in(row)
        if factors.shape[0] != 1:
            raise ValueError(f"recalculate_user takes one row, got {factors.shape[0]}")
        return factors[0], float(bias[0])

    def _fold_in(self, X):
        """Exact least-squares factors (and biases) of interaction rows against the item
        factors: ALS's user step for users the fit did not see."""
        Y = self.item_factors_
        R = check_interactions(X, Y.dtype, estimator=self, reset=False,
                               shape=(None, self.n_items_),
                               non_negative=self.feedback == "implicit", allow_empty=True)
        factors = np.zeros((R.shape[0], self.n_factors), Y.dtype)
        bias = np.zeros(R.shape[0], Y.dtype)
        n_threads = effective_n_threads(self.n_jobs)
        rows = _kernels_cpu.csr_arrays(R if self.feedback == "explicit" else self._confidence(R))
        if self.feedback == "implicit":
            gram = _mf_fast.gram(Y, self.regularization, n_threads)
            _kernels_cpu.implicit_rows(rows, factors, Y, gram, 0, n_threads)
        else:
            _kernels_cpu.explicit_rows(rows, Y, self.item_bias_, self.global_mean_,
                                       self.regularization, self._uses_biases(), factors, bias,
                                       n_threads)
        return factors, bias

    def _inference_kernels(self):
        """The kernels of the device the model was fitted on, or the CPU's once CUDA is gone."""
        if self.device_ == "cuda" and cuda_status().available:
            return kernels_for("recommend", self.device_)
        return _kernels_cpu

    def _top_k(self, U, row_offset, item_bias, seen, k, items=None):
        """Top k of U @ items.T + row_offset + item_bias (items: the item factors by default)."""
        items = self.item_factors_ if items is None else items
        n_items, dtype = self.n_items_, self.item_factors_.dtype
        # One BLAS thread: the score blocks must not depend on the thread count.
        with threadpool_limits(1, user_api="blas"):
            return self._inference_kernels().score_top_k(
                U.astype(dtype, copy=False), items, row_offset.astype(dtype),
                item_bias.astype(dtype, copy=False), *seen, k,
                score_batch_rows(n_items, dtype.itemsize), effective_n_threads(self.n_jobs))

    def recommend(self, user_ids, k=10, filter_seen=True):
        """The k best items for each user, best first.

        Parameters
        ----------
        user_ids : array-like of int
        k : int, default=10
        filter_seen : bool, default=True
            Leave out the items the user interacted with in the fitted matrix.

        Returns
        -------
        items : ndarray (n_users, k) of int64, -1 where fewer than k items are left
        scores : ndarray (n_users, k), the predicted scores, -inf where items is -1
        """
        check_is_fitted(self)
        user_ids = check_ids(user_ids, np.iinfo(np.int64).max, "user_ids")
        k = check_k(k, self.n_items_)
        # Ids past the fitted users have no seen items: they stand for "filter nothing".
        seen_ids = user_ids if filter_seen else np.full(len(user_ids), self.n_users_)
        known = has_interactions(self._interactions, user_ids)
        # Unknown users have zero factors and bias: their explicit scores are mu + b_i.
        U = np.zeros((len(user_ids), self.n_factors))
        U[known] = self.user_factors_[user_ids[known]]
        row_offset = np.full(len(user_ids), self.global_mean_)
        row_offset[known] += self.user_bias_[user_ids[known]]
        if self.feedback == "explicit" or known.all():
            return self._top_k(U, row_offset, self.item_bias_,
                               seen_rows(self._interactions, seen_ids), k)
        # Implicit feedback: unknown users get the most popular items, scored by their counts.
        items = np.empty((len(user_ids), k), np.int64)
        scores = np.empty((len(user_ids), k), self.item_factors_.dtype)
        for rows, item_score in ((known, np.zeros(self.n_items_)),
                                 (~known, self.item_popularity_.astype(np.float64))):
            if rows.any():
                items[rows], scores[rows] = self._top_k(
                    U[rows], row_offset[rows], item_score,
                    seen_rows(self._interactions, seen_ids[rows]), k)
        return items, scores

    def similar_items(self, item_ids, k=10):
        """The k items whose factors are nearest in cosine similarity, the item itself left out.

        Returns
        -------
        items : ndarray (n_items, k) of int64
        scores : ndarray (n_items, k), cosine similarities
        """
        check_is_fitted(self)
        item_ids = check_ids(item_ids, self.n_items_, "item_ids")
        k = check_k(k, self.n_items_ - 1)
        norms = np.linalg.norm(self.item_factors_, axis=1)
        unit = self.item_factors_ / np.where(norms > 0, norms, 1)[:, None]
        seen = (np.arange(len(item_ids) + 1, dtype=np.int64), item_ids)
        zeros = np.zeros(len(item_ids))
        return self._top_k(unit[item_ids], zeros, np.zeros(self.n_items_), seen, k, items=unit)
