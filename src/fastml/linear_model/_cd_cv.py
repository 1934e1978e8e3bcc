"""LassoCV / ElasticNetCV on dense single-output X with a Gram matrix: every fold's Gram matrix
from one pass over X.

scikit-learn's LinearModelCV, with precompute="auto" and more training rows than features (or
precompute=True), copies, centres and multiplies out the training rows of every fold: K folds of
a K-fold split cost K - 1 Gram matrices of X, and each l1_ratio costs them again. When the test
sets are disjoint and each training set is the rest of the rows (KFold, StratifiedKFold,
GroupKFold, ...), the rows split into blocks (the test sets, plus the rows in none); the Gram
matrix of each block, centred by the mean of all rows and weighted, is computed once, and a
fold's training Gram matrix is the sum over its blocks with a rank-one correction from the
global mean to the fold's mean:

    sum_train w (x - mu)(x - mu)' = sum_train w (x - m)(x - m)' - W (mu - m)(mu - m)'.

So the whole CV costs one Gram matrix of X (against K - 1 per l1_ratio), and the refit at the
chosen alpha runs on the Gram matrix of all rows, which is their sum (scikit-learn refits on
the residual: the same optimum at the same tol). Centring by the global mean first keeps the
correction small (mu - m is of the order of the spread over sqrt(n)), so no digits are lost to
features with large means.

Everything else (validation, alpha grids, splitting, the mean squared errors, the choice of
alpha and l1_ratio, the attributes, the convergence warnings) follows scikit-learn 1.9's
LinearModelCV.fit; anything this does not cover (sparse X, 2-d y, fold layouts other than the
above, metadata routing, precompute=False or fewer training rows than features) returns None
and the caller runs scikit-learn's loop with fastml's paths.
"""
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.model_selection import check_cv
from sklearn.utils import check_scalar, column_or_1d
from sklearn.utils.validation import check_consistent_length, validate_data
from threadpoolctl import threadpool_limits

from .. import _cd_fast
from .._backend import effective_n_threads
from ..utils._sklearn_compat import (alpha_grid, check_sample_weight, routing_enabled,
                                     weighted_average)

# Rows per chunk of a block's Gram product: ~32 MB of float64 for 1000 features, enough for
# BLAS to run at full speed, small enough that the centred copy stays modest.
_CHUNK_BYTES = 32 << 20
# Mean squared errors this close (relative) are a tie in the choice of alpha (see fit_gram_folds).
_TIE = 1e-12


def _blocks(folds, n_samples):
    """The row blocks of `folds` (list of (train, test)): the test sets, then the rows in no
    test set if any; None unless the test sets are disjoint and each train is the rest."""
    owner = np.full(n_samples, -1, dtype=np.intp)
    for k, (train, test) in enumerate(folds):
        test = np.asarray(test)
        if test.dtype == bool or np.any(owner[test] != -1):
            return None
        owner[test] = k
        if len(train) + len(test) != n_samples:
            return None
        mark = np.zeros(n_samples, dtype=bool)
        mark[np.asarray(train)] = True
        if mark.sum() != len(train) or mark[test].any():
            return None
    blocks = [np.asarray(test) for _, test in folds]
    rest = np.flatnonzero(owner == -1)
    if rest.size:
        blocks.append(rest)
    return blocks


class _BlockSums:
    """Per block b (rows grouped by block, in the order of `blocks`): D_b = sum w (x - m)^2
    (float64), M_b = sum w (x - m), P_b = sum w y (x - m), W_b = sum w, Y_b = sum w y; m the
    weighted mean of all rows (0 without an intercept). The blocks' Gram columns
    S_b[:, j] = sum w (x - m)(x_j - m_j) are computed by the core on demand (`store`), only for
    the features that leave zero in some fold's path, and shared by the folds and the refit."""

    def __init__(self, X, y, weights, blocks, center, n_threads):
        d = X.shape[1]
        self.center = center
        self.m = (np.asarray(weighted_average(X, axis=0, weights=weights), dtype=X.dtype)
                  if center else np.zeros(d, dtype=X.dtype))
        chunk = max(256, _CHUNK_BYTES // max(1, d * X.itemsize))
        # Chunks of rows on n_threads threads (NumPy releases the GIL), added to their block's
        # sums in chunk order: the sums are the same for any n_jobs.
        jobs = [(b, rows[start:start + chunk]) for b, rows in enumerate(blocks)
                for start in range(0, len(rows), chunk)]
        self.D = [np.zeros(d) for _ in blocks]
        self.M = [np.zeros(d) for _ in blocks]
        self.P = [np.zeros(d) for _ in blocks]

        def products(idx):
            U = X[idx]
            if center:
                U -= self.m
            w = None if weights is None else weights[idx]
            wy = y[idx] if w is None else w * y[idx]
            M = U.sum(axis=0, dtype=np.float64) if w is None else U.T @ w
            P = U.T @ wy
            D = (np.einsum("ij,ij->j", U, U, dtype=np.float64) if w is None else
                 np.einsum("ij,ij,i->j", U, U, w, dtype=np.float64))
            return M, P, D

        with threadpool_limits(limits=1, user_api="blas"), \
                ThreadPoolExecutor(max_workers=n_threads) as pool:
            for wave in range(0, len(jobs), n_threads):  # n_threads chunks in memory at once
                part = jobs[wave:wave + n_threads]
                for (b, _), (M, P, D) in zip(part, pool.map(products, [i for _, i in part])):
                    self.M[b] += M
                    self.P[b] += P
                    self.D[b] += D
        self.W = [float(len(rows)) if weights is None else float(weights[rows].sum())
                  for rows in blocks]
        self.Y = [float(y[rows].sum() if weights is None else np.dot(weights[rows], y[rows]))
                  for rows in blocks]
        self.D_all = sum(self.D)
        self.M_all, self.P_all = sum(self.M), sum(self.P)
        self.W_all, self.Y_all = sum(self.W), sum(self.Y)
        # The core reads the blocks as row ranges: X as given when they already are (KFold
        # without shuffling), else one copy of X with its rows grouped.
        order = np.concatenate(blocks)
        if np.array_equal(order, np.arange(X.shape[0])):
            Xg = X if (X.flags.c_contiguous or X.flags.f_contiguous) else np.ascontiguousarray(X)
            wg = weights
        else:
            Xg = np.ascontiguousarray(X[order])
            wg = None if weights is None else weights[order]
        starts = np.concatenate([[0], np.cumsum([len(rows) for rows in blocks])]).astype(np.int64)
        self.Xg, self.starts = Xg, starts
        store = _cd_fast.BlockColumns32 if X.dtype == np.float32 else _cd_fast.BlockColumns64
        self.store = store(Xg, starts, self.m if center else None,
                           None if wg is None else np.ascontiguousarray(wg, dtype=np.float64))

    def block(self, k):
        """The rows of block k (fold k's test set, in its order): a view, not a copy."""
        return self.Xg[self.starts[k]:self.starts[k + 1]]

    def problem(self, y, weights, rows, k=None):
        """The centred, weighted problem of `rows` (all blocks but k; all when k is None) with
        the weights rescaled to sum to len(rows), as scikit-learn's folds and fit do: (the
        fold's arguments of the store's path, X_offset, y_offset)."""
        D, M, P = self.D_all, self.M_all, self.P_all
        W, Y = self.W_all, self.Y_all
        if k is not None:
            D, M, P = D - self.D[k], M - self.M[k], P - self.P[k]
            W, Y = W - self.W[k], Y - self.Y[k]
        c = len(rows) / W  # scikit-learn's rescaling of the training weights
        if self.center:
            delta = M / W
            y_offset = Y / W
            norms = c * (D - W * delta**2)
            Xy = c * (P - y_offset * M)
            X_offset = self.m + delta
        else:
            delta, y_offset = np.zeros_like(M), 0.0
            norms, Xy, X_offset = c * D, c * P, np.zeros_like(M)
        yc = y[rows] - y_offset
        yy = c * float(np.dot(yc * (1.0 if weights is None else weights[rows]), yc))
        fold = dict(skip=-1 if k is None else k, c=c, W=W, delta=delta, q=Xy,
                    norms=np.maximum(norms, 0.0), yy=yy)
        return fold, X_offset, y_offset


def _uses_gram(precompute, n_train, n_features):
    """scikit-learn's _pre_fit rule for a fold: a Gram matrix when precompute is True, or
    "auto" with more rows than features."""
    if isinstance(precompute, str):
        return n_train > n_features
    return precompute is True


def _fold_errors(sums, X, y, y64, w64, sample_weight, folds, l1_ratios, alphas, solver,
                 solve_fold_path, mse_paths):
    """mse_paths[r, k]: the test errors of fold k's path for l1_ratios[r] (scikit-learn's
    _path_residuals on the fold's Gram problem)."""
    for k, (train, test) in enumerate(folds):
        fold, X_offset, y_offset = sums.problem(y64, w64, np.asarray(train), k)
        X_test, y_test = sums.block(k), y[test]
        for r, (l1_ratio, path_alphas) in enumerate(zip(l1_ratios, alphas)):
            coefs, _, _ = solve_fold_path(sums.store, fold, X.dtype, len(train), path_alphas,
                                          l1_ratio, **solver)
            # C order, as scikit-learn's paths return them: BLAS rounds a transposed operand's
            # columns differently by their place in its tiles, and alphas where the path stops
            # moving must keep exactly equal errors (scikit-learn's argmin then takes the first)
            coefs = np.ascontiguousarray(coefs)
            intercepts = y_offset - np.dot(X_offset.astype(X.dtype), coefs)
            residues = X_test @ coefs - y_test[:, None] + intercepts
            mse_paths[r, k] = (np.mean(residues**2, axis=0) if sample_weight is None else
                               np.average(residues**2, weights=sample_weight[test], axis=0))


def _choose(l1_ratios, alphas, mse_paths):
    """(alpha, l1_ratio) of the lowest mean error over the folds (mse_paths: l1_ratios x folds x
    alphas), as scikit-learn chooses, ties taken to _TIE relative.

    scikit-learn takes the first best alpha of each l1_ratio and the first l1_ratio on ties.
    Past the alpha where a path stops moving (its gap already under tol: no sweep) its errors are
    exactly equal and it takes the first; fastml's paths stop there too, but their errors can
    differ in the last bits (a start gap a rounding away from tol, BLAS rounding), which alone
    chose another alpha (bench LassoCV 20k: 0.132 against 0.212 on errors 1.4e-14 apart of 12).
    """
    mean_mse = np.mean(mse_paths, axis=1)
    best_mse = np.inf
    for l1_ratio, l1_alphas, mse_alphas in zip(l1_ratios, alphas, mean_mse):
        low = np.min(mse_alphas)
        i = int(np.flatnonzero(mse_alphas <= low + _TIE * abs(low))[0])
        if best_mse == np.inf or mse_alphas[i] < best_mse - _TIE * abs(best_mse):
            best_alpha, best_l1_ratio, best_mse = l1_alphas[i], l1_ratio, mse_alphas[i]
    return best_alpha, best_l1_ratio


def fit_gram_folds(model, X, y, sample_weight, params, solve_fold_path):
    """LinearModelCV.fit on fold Gram matrices built from blocks; returns model, or None (with
    nothing set) when the data or the split is not one this covers."""
    if params or routing_enabled() or sparse.issparse(X) or not isinstance(X, np.ndarray):
        return None
    if model.precompute is False or hasattr(model.precompute, "__array__"):
        return None
    X, y = validate_data(model, X, y, validate_separately=(
        dict(accept_sparse="csc", dtype=[np.float64, np.float32], accept_large_sparse=False),
        dict(copy=False, dtype=[np.float64, np.float32], ensure_2d=False)))
    check_consistent_length(X, y)
    if y.ndim > 1 and y.shape[1] > 1:
        raise ValueError("For multi-task outputs, use MultiTask%s" % type(model).__name__)
    y = column_or_1d(y, warn=True)
    n_samples, n_features = X.shape
    if isinstance(sample_weight, Real):
        sample_weight = None
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
    # LassoCV: the int 1, as scikit-learn passes it (a float64 would change float32 alpha grids)
    l1_ratios = np.atleast_1d(model.l1_ratio) if hasattr(model, "l1_ratio") else [1]
    positive = getattr(model, "positive", False)
    if isinstance(model.alphas, Integral):
        alphas = [alpha_grid(X, y, l1_ratio=r, fit_intercept=model.fit_intercept,
                             positive=positive, eps=model.eps, n_alphas=model.alphas,
                             sample_weight=sample_weight) for r in l1_ratios]
    else:
        for index, alpha in enumerate(model.alphas):
            check_scalar(alpha, f"alphas[{index}]", target_type=Real, min_val=0.0,
                         include_boundaries="left")
        alphas = np.tile(np.sort(model.alphas)[::-1], (len(l1_ratios), 1))
    folds = list(check_cv(model.cv).split(X, y))
    blocks = _blocks(folds, n_samples)
    if blocks is None or not all(_uses_gram(model.precompute, len(train), n_features)
                                 for train, _ in folds):
        return None
    # The blocks' columns may come to one Gram matrix per block (scikit-learn holds one per
    # parallel fold): kept within twice the size of X, else scikit-learn's loop.
    if len(blocks) * n_features * n_features > 2 * X.size:
        return None

    n_threads = effective_n_threads(model.n_jobs)
    y64 = np.asarray(y, dtype=np.float64)
    w64 = None if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    sums = _BlockSums(X, y64, w64, blocks, model.fit_intercept, n_threads)
    solver = dict(tol=model.tol, max_iter=model.max_iter, random_state=model.random_state,
                  selection=model.selection, positive=positive, n_jobs=model.n_jobs)
    mse_paths = np.empty((len(l1_ratios), len(folds), len(alphas[0])), dtype=X.dtype)
    with threadpool_limits(limits=1, user_api="blas"):  # the same errors for any n_jobs
        _fold_errors(sums, X, y, y64, w64, sample_weight, folds, l1_ratios, alphas, solver,
                     solve_fold_path, mse_paths)
    best_alpha, best_l1_ratio = _choose(l1_ratios, alphas, mse_paths)
    model.mse_path_ = np.squeeze(np.moveaxis(mse_paths, 2, 1))
    model.alpha_ = best_alpha
    if hasattr(model, "l1_ratio"):
        model.l1_ratio_ = best_l1_ratio
    model.alphas_ = np.asarray(alphas) if isinstance(model.alphas, Integral) else \
        np.asarray(alphas[0])
    if isinstance(model.alphas, Integral) and len(l1_ratios) == 1:
        model.alphas_ = model.alphas_[0]

    # The refit on all rows, from the sum of the blocks' columns, along the grid down to the
    # chosen alpha: scikit-learn starts from zero there, the same optimum, but a cold start
    # moves hundreds of features off zero on the way, each costing its Gram column (the bench's
    # LassoCV: 405 more columns, 0.47 s against 0.2 s for the whole path).
    all_rows = np.arange(n_samples)
    fold, X_offset, y_offset = sums.problem(y64, w64, all_rows)
    grid = np.asarray(alphas[list(l1_ratios).index(best_l1_ratio)])
    coefs, gaps, n_iters = solve_fold_path(sums.store, fold, X.dtype, n_samples,
                                           grid[grid >= best_alpha], best_l1_ratio, **solver)
    coef, gaps, n_iters = coefs[:, -1], gaps[-1:], n_iters[-1:]
    intercept = (X.dtype.type(y_offset - np.dot(X_offset.astype(X.dtype), coef))
                 if model.fit_intercept else 0.0)
    if not (np.isfinite(coef).all() and np.isfinite(intercept)):
        raise ValueError("Coordinate descent iterations resulted in non-finite parameter values. "
                         "The input data may contain large values and need to be preprocessed.")
    model.coef_, model.intercept_ = coef, intercept
    model.dual_gap_, model.n_iter_ = X.dtype.type(gaps[0]), n_iters[0]
    return model
