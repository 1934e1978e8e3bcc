"""Lasso, ElasticNet, their paths and cross-validated versions on fastml's coordinate-descent core
(fastml._cd_fast), drop-in for scikit-learn's.

The estimators are scikit-learn's classes with the solver swapped: their parameters, checks,
attributes and cross-validation loop are scikit-learn's own, and every coordinate descent (dense
X plain or on the Gram matrix, sparse X centred and weighted without densifying, the multi-task
solver for 2-d y on dense X) runs in the C++ core, which adds working sets to scikit-learn's
gap-safe screening and stops on the same duality gap. A dense fit without a Gram matrix centres and
weights X on the fly instead of copying it. The CV classes run their folds in parallel threads.
Sparse X with 2-d y is handed to scikit-learn's solver.
"""
import contextlib
import functools
import numbers
import warnings

import numpy as np
from scipy import sparse
from sklearn import linear_model as _sk
from sklearn.exceptions import ConvergenceWarning
from joblib import parallel_config
from sklearn.utils import check_array, check_random_state
from sklearn.utils.validation import validate_data
from threadpoolctl import threadpool_limits

from .. import _cd_fast
from .._backend import effective_n_threads
from ._cd_cv import fit_gram_folds
from ..utils._sklearn_compat import (alpha_grid, check_sample_weight, fit_context,
                                     parameter_constraints, pre_fit, validate_params,
                                     weighted_average)

__all__ = ["ElasticNet", "ElasticNetCV", "Lasso", "LassoCV", "enet_path", "lasso_path"]

# scikit-learn's cd_fast draws each solve's rand_r state as rng.randint(0, RAND_R_MAX).
_RAND_R_MAX = 2**31 - 1

_MESSAGE_CONV = ("Objective did not converge. You might want to increase the number of "
                 "iterations, check the scale of the features or consider increasing "
                 "regularisation.")
_MESSAGE_RIDGE = ("Linear regression models with a zero l1 penalization strength are more "
                  "efficiently fitted using one of the solvers implemented in "
                  "sklearn.linear_model.Ridge/RidgeCV instead.")


def _path_scalars(alphas, l1_ratio, n_samples, random_state, selection):
    """The core's per-alpha arrays: scikit-learn's rand_r states (one drawn per alpha, as its
    enet_path does) and the L1 and L2 strengths in cd_fast's scaling (n_samples times the
    documented objective)."""
    if selection not in ("random", "cyclic"):
        raise ValueError("selection should be either random or cyclic.")
    rng = check_random_state(random_state)
    seeds = np.array([rng.randint(0, _RAND_R_MAX) for _ in alphas], dtype=np.uint32)
    alphas = np.asarray(alphas, dtype=np.float64)
    l1 = np.ascontiguousarray(alphas * l1_ratio * n_samples)
    l2 = np.ascontiguousarray(alphas * (1.0 - l1_ratio) * n_samples)
    return seeds, l1, l2


def _warn_unconverged(gaps, tols, converged, l1):
    """scikit-learn's ConvergenceWarning for each alpha whose gap stayed above its bound."""
    for gap, tol_, ok, alpha in zip(gaps, tols, converged, l1):
        if not ok:
            message = _MESSAGE_CONV + f" Duality gap: {gap:.6e}, tolerance: {tol_:.3e}"
            if alpha < np.finfo(np.float64).eps:
                message += "\n" + _MESSAGE_RIDGE
            warnings.warn(message, ConvergenceWarning, stacklevel=4)


def _solve_path(X, y, alphas, l1_ratio, *, coef_init=None, gram=None, Xy=None, X_mean=None,
                X_scale=None, sample_weight=None, tol=1e-4, max_iter=1000, random_state=None,
                selection="cyclic", positive=False, screening=True, n_jobs=None,
                gram_columns=False):
    """Coordinate descent along `alphas` (decreasing) on single-output data in the core.

    Sparse X (CSR converted to CSC once) is centred by X_mean and weighted by sample_weight
    inside the core, never densified, as scikit-learn's sparse solver takes them.

    X is the design as given (C or F order, never copied); X_mean and X_scale, when given, centre
    its columns and scale its rows on the fly (an intercept and sample weights). gram, when given,
    is X'X of that design and Xy its X'y: the Gram variant runs instead; gram_columns (dense X,
    more rows than features) solves on the Gram columns of the features that leave zero.
    Returns the coefficients (n_features, n_alphas), the duality gaps divided by n_samples as
    scikit-learn reports them, and the sweeps per alpha; warns as scikit-learn for each alpha
    that did not converge.
    """
    n_samples, n_features = X.shape
    dtype = X.dtype
    seeds, l1, l2 = _path_scalars(alphas, l1_ratio, n_samples, random_state, selection)
    w = (np.zeros(n_features, dtype=dtype) if coef_init is None
         else np.array(coef_init, dtype=dtype, copy=True).ravel())
    coefs = np.empty((len(alphas), n_features), dtype=dtype)
    n_threads = effective_n_threads(n_jobs)
    options = dict(max_iter=int(max_iter), tol=float(tol), random=selection == "random",
                   positive=bool(positive), screening=bool(screening), working_sets=True,
                   n_threads=n_threads)
    if sparse.issparse(X):
        X = X.tocsc()
        if X.nnz >= 2**31 or n_samples >= 2**31:
            raise ValueError("Sparse X with 2**31 or more entries or rows is not supported "
                             "(the solver takes int32 indices, as scikit-learn's).")
        if not X.has_canonical_format:  # the column norms count each stored entry once
            X = X.copy()
            X.sum_duplicates()
        if X_mean is not None:
            X_mean = np.ascontiguousarray(X_mean, dtype=dtype)
        if sample_weight is not None:
            sample_weight = np.ascontiguousarray(sample_weight, dtype=dtype)
        gaps, tols, n_iters, converged = _cd_fast.enet_path_sparse(
            w, coefs, l1, l2, seeds, np.ascontiguousarray(X.data, dtype=dtype),
            X.indices.astype(np.int32, copy=False), X.indptr.astype(np.int32, copy=False),
            n_samples, X_mean, sample_weight, np.ascontiguousarray(y, dtype=dtype), **options)
    elif gram is not None:
        return solve_gram_path(gram, Xy if Xy is not None else X.T @ y, float(np.dot(y, y)),
                               n_samples, alphas, l1_ratio, coef_init=coef_init, tol=tol,
                               max_iter=max_iter, random_state=random_state,
                               selection=selection, positive=positive, screening=screening,
                               n_jobs=n_jobs)
    else:
        if not (X.flags.c_contiguous or X.flags.f_contiguous):
            X = np.ascontiguousarray(X)
        y = np.ascontiguousarray(y, dtype=dtype)
        X_mean = None if X_mean is None else np.ascontiguousarray(X_mean, dtype=dtype)
        X_scale = None if X_scale is None else np.ascontiguousarray(X_scale, dtype=dtype)
        # A path on more rows than features without a Gram matrix (precompute=False) runs on
        # the Gram columns of the visited features (GramColumnsTerm in csrc/linear/cd.cpp): its
        # gaps need no pass over X, where the residual form took two per alpha (30 alphas down
        # to alpha_max / 20 on 50k x 1000, one thread, busy machine: 2.9-3.1 s against 4.1-4.3
        # s); a single fit is faster on the residual (0.65-0.88 s against 1.1-1.3 s). With
        # precompute="auto" the whole Gram matrix is built, as scikit-learn does: down to
        # alpha_max / 1000 the visited columns came to a third of it (362 of 1000, in 19 BLAS
        # products), no faster. BLAS gets one thread: OpenBLAS threads spinning beside the
        # OpenMP ones made the product ten times slower on 2 busy cores (1.3 s against 0.15 s).
        gram_columns = n_samples > n_features and (gram_columns or len(alphas) > 1)
        with threadpool_limits(limits=1, user_api="blas"):
            gaps, tols, n_iters, converged = _cd_fast.enet_path_dense(
                w, coefs, l1, l2, seeds, X, X_mean, X_scale, y, gram_columns=gram_columns,
                **options)
    _warn_unconverged(gaps, tols, converged, l1)
    return coefs.T, gaps / n_samples, [int(k) for k in n_iters]


def _solve_core(core, n_features, dtype, n_samples, alphas, l1_ratio, *, coef_init=None,
                tol=1e-4, max_iter=1000, random_state=None, selection="cyclic", positive=False,
                screening=True, n_jobs=None):
    """A path of a Gram-type core call `core(w, coefs, l1, l2, seeds, **options)` on a problem of
    n_samples rows (which scale the penalties): _solve_path's returns and warnings."""
    seeds, l1, l2 = _path_scalars(alphas, l1_ratio, n_samples, random_state, selection)
    w = (np.zeros(n_features, dtype=dtype) if coef_init is None
         else np.array(coef_init, dtype=dtype, copy=True).ravel())
    coefs = np.empty((len(alphas), n_features), dtype=dtype)
    gaps, tols, n_iters, converged = core(
        w, coefs, l1, l2, seeds, max_iter=int(max_iter), tol=float(tol),
        random=selection == "random", positive=bool(positive), screening=bool(screening),
        working_sets=True, n_threads=effective_n_threads(n_jobs))
    _warn_unconverged(gaps, tols, converged, l1)
    return coefs.T, gaps / n_samples, [int(k) for k in n_iters]


def solve_gram_path(gram, Xy, y_norm2, n_samples, alphas, l1_ratio, **solver):
    """_solve_path's Gram variant from the problem's Gram matrix X'X (of gram's dtype), X'y,
    y'y and its number of rows (which scales the penalties); the same returns."""
    dtype = gram.dtype
    gram = np.ascontiguousarray(gram, dtype=dtype)
    Xy = np.ascontiguousarray(Xy, dtype=dtype).ravel()

    def core(*args, **options):
        return _cd_fast.enet_path_gram(*args, gram, Xy, float(y_norm2), **options)
    return _solve_core(core, gram.shape[0], dtype, n_samples, alphas, l1_ratio, **solver)


def solve_fold_path(store, fold, dtype, n_samples, alphas, l1_ratio, **solver):
    """_solve_path on a cross-validation fold of n_samples rows whose Gram columns come from
    the blocks' store (_cd_cv._BlockSums); fold: its arguments of the store's path."""
    def core(w, coefs, l1, l2, seeds, **options):
        return store.path(fold["skip"], fold["c"], fold["W"], fold["delta"], fold["q"],
                          fold["norms"], fold["yy"], w, coefs, l1, l2, seeds, **options)
    return _solve_core(core, len(fold["q"]), dtype, n_samples, alphas, l1_ratio, **solver)


def _solve_path_multitask(X, Y, alphas, l1_ratio, *, coef_init=None, X_mean=None, X_scale=None,
                          tol=1e-4, max_iter=1000, random_state=None, selection="cyclic",
                          screening=True, n_jobs=None):
    """Block coordinate descent along `alphas` on dense multi-output data in the core
    (scikit-learn's enet_coordinate_descent_multi_task, with working sets for cyclic selection).
    X is the design as given (C or F order, never copied); X_mean and X_scale, when given, centre
    its columns and scale its rows on the fly; Y (n_samples, n_tasks) already centred and
    weighted. Returns the coefficients (n_tasks, n_features, n_alphas), the gaps divided by
    n_samples, the sweeps per alpha and the gaps' bounds (scikit-learn's eps_)."""
    n_samples, n_features = X.shape
    dtype = X.dtype
    n_tasks = Y.shape[1]
    seeds, l1, l2 = _path_scalars(alphas, l1_ratio, n_samples, random_state, selection)
    W = (np.zeros((n_tasks, n_features), dtype=dtype) if coef_init is None
         else np.array(coef_init, dtype=dtype, order="C", copy=True).reshape(n_tasks, n_features))
    coefs = np.empty((len(alphas), n_tasks, n_features), dtype=dtype)
    if not (X.flags.c_contiguous or X.flags.f_contiguous):
        X = np.ascontiguousarray(X)
    X_mean = None if X_mean is None else np.ascontiguousarray(X_mean, dtype=dtype)
    X_scale = None if X_scale is None else np.ascontiguousarray(X_scale, dtype=dtype)
    gaps, tols, n_iters, converged = _cd_fast.enet_path_multitask(
        W, coefs, l1, l2, seeds, X, X_mean, X_scale, np.ascontiguousarray(Y, dtype=dtype),
        max_iter=int(max_iter), tol=float(tol), random=selection == "random",
        screening=bool(screening), working_sets=True, n_threads=effective_n_threads(n_jobs))
    _warn_unconverged(gaps, tols, converged, l1)
    return np.moveaxis(coefs, 0, -1), gaps / n_samples, [int(k) for k in n_iters], tols


@validate_params(parameter_constraints(_sk.enet_path), prefer_skip_nested_validation=True)
def enet_path(X, y, *, l1_ratio=0.5, eps=1e-3, n_alphas="deprecated", alphas="warn",
              precompute="auto", Xy=None, copy_X=True, coef_init=None, verbose=False,
              return_n_iter=False, positive=False, check_input=True, **params):
    """Compute the elastic-net path with coordinate descent, as ``sklearn.linear_model.enet_path``
    (same parameters and results), in fastml's core: dense or sparse X, the multi-task solver
    for 2-d y on dense X (sparse X with 2-d y is handed to scikit-learn).

    X is never written to, so ``copy_X`` only matters for the inputs handed to scikit-learn.
    """
    # fastml's own: the threads of the core (LassoCV gives each of its parallel folds one).
    n_jobs = params.pop("_n_jobs", None)
    grid_size = _grid_size(n_alphas, alphas)
    if grid_size is None:
        grid_size = alphas
    # Sparse X only: its centring and sample weights go to the core (dense X comes centred and
    # weighted; scikit-learn ignores them there too).
    X_offset, X_scale = params.pop("X_offset", None), params.pop("X_scale", None)
    sample_weight = params.pop("sample_weight", None)
    solver = {name: params.pop(name) for name in ("tol", "max_iter", "random_state", "selection")
              if name in params}
    solver["screening"] = params.pop("do_screening", True)
    solver["n_jobs"] = n_jobs
    if params:
        raise ValueError("Unexpected parameters in params", params.keys())
    if check_input:
        X = check_array(X, accept_sparse="csc", dtype=[np.float64, np.float32], order=None)
        y = check_array(y, dtype=X.dtype.type, copy=False, ensure_2d=False)
        if Xy is not None:
            Xy = check_array(Xy, dtype=X.dtype.type, order="C", copy=False, ensure_2d=False)
    is_sparse = sparse.issparse(X)
    if is_sparse and (np.ndim(y) > 1 or X.dtype != y.dtype):
        # scikit-learn's sparse multi-task solver (and its errors for mixed dtypes)
        return _sk.enet_path(X, y, l1_ratio=l1_ratio, eps=eps, alphas=grid_size,
                             precompute=precompute, Xy=Xy, copy_X=copy_X, coef_init=coef_init,
                             verbose=verbose, return_n_iter=return_n_iter, positive=positive,
                             check_input=False, X_offset=X_offset, X_scale=X_scale,
                             sample_weight=sample_weight, do_screening=solver["screening"],
                             **{k: v for k, v in solver.items()
                                if k not in ("screening", "n_jobs")})
    if is_sparse:
        solver["sample_weight"] = sample_weight
        if X_offset is not None:
            solver["X_mean"] = np.asarray(X_offset / X_scale, dtype=X.dtype)
    multi_output = np.ndim(y) > 1
    if multi_output and positive:
        raise ValueError("positive=True is not allowed for multi-output (y.ndim != 1)")
    gram = None
    # precompute="auto" on more rows than features: scikit-learn builds the whole Gram matrix
    # (1.04 s of its 2.1 s lasso_path on 50k x 1000, one thread); the core computes the columns
    # of the features that leave zero only (67 of 1000 there), the same problem.
    gram_columns = (isinstance(precompute, str) and Xy is None and not multi_output
                    and not is_sparse and X.shape[0] > X.shape[1])
    # The multi-task solver has no Gram variant (scikit-learn's neither: it ignores precompute).
    if precompute is not False and not gram_columns and not multi_output and not is_sparse:
        X, y, _, _, _, gram, Xy = pre_fit(X, y, Xy, precompute, fit_intercept=False, copy=False,
                                          check_gram=check_input)
        if not hasattr(gram, "__array__"):
            gram = None
        elif check_input:
            gram = check_array(gram, dtype=X.dtype.type, order="C")
    if isinstance(grid_size, numbers.Integral):
        alphas = alpha_grid(X, y, Xy=Xy, l1_ratio=l1_ratio, fit_intercept=False,
                            positive=positive, eps=eps, n_alphas=grid_size)
    else:
        alphas = np.sort(np.asarray(grid_size, dtype=np.float64))[::-1]
    if multi_output:
        coefs, gaps, n_iters, _ = _solve_path_multitask(X, y, alphas, l1_ratio,
                                                        coef_init=coef_init, **solver)
    else:
        coefs, gaps, n_iters = _solve_path(X, y, alphas, l1_ratio, coef_init=coef_init,
                                           gram=gram, Xy=Xy, positive=positive,
                                           gram_columns=gram_columns, **solver)
    if verbose:
        print(f"enet_path: {len(alphas)} alphas, {sum(n_iters)} sweeps")
    if return_n_iter:
        return alphas, coefs, gaps, n_iters
    return alphas, coefs, gaps


def _grid_size(n_alphas, alphas):
    """scikit-learn 1.9's reading of the deprecated n_alphas and of alphas=None/"warn": the
    number of alphas of the grid, or None when alphas is an explicit value (and its warnings)."""
    size = 100
    if n_alphas != "deprecated":
        warnings.warn(
            "'n_alphas' was deprecated in 1.9 and will be removed in 1.11. 'alphas' now "
            "accepts an integer value which removes the need to pass 'n_alphas'. The default "
            "value of 'alphas' will change from None to 100 in 1.11. Pass an explicit value to "
            "'alphas' and leave 'n_alphas' to its default value to silence this warning.",
            FutureWarning)
        size = n_alphas
    if isinstance(alphas, str) and alphas == "warn":
        return size
    if alphas is None:
        warnings.warn(
            "'alphas=None' is deprecated and will be removed in 1.11, at which point the "
            "default value will be set to 100. Set 'alphas=100' to silence this warning.",
            FutureWarning)
        return size
    if isinstance(alphas, numbers.Integral):
        return int(alphas)
    return None


@validate_params(parameter_constraints(_sk.lasso_path), prefer_skip_nested_validation=True)
def lasso_path(X, y, *, eps=1e-3, n_alphas="deprecated", alphas="warn", precompute="auto",
               Xy=None, copy_X=True, coef_init=None, verbose=False, return_n_iter=False,
               positive=False, **params):
    """Compute the Lasso path with coordinate descent, as ``sklearn.linear_model.lasso_path``:
    ``enet_path`` with ``l1_ratio=1``."""
    return enet_path(X, y, l1_ratio=1.0, eps=eps, n_alphas=n_alphas, alphas=alphas,
                     precompute=precompute, Xy=Xy, copy_X=copy_X, coef_init=coef_init,
                     verbose=verbose, return_n_iter=return_n_iter, positive=positive, **params)


class _DenseFitMixin:
    """ElasticNet.fit for dense X without a Gram matrix: the core centres and weights X on the
    fly, so X is neither copied, nor made Fortran-ordered, nor centred; the rest (sparse X, a
    Gram matrix) is scikit-learn's fit with fastml's path."""

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        if sparse.issparse(X) or self.precompute is not False or not check_input:
            return super().fit(X, y, sample_weight=sample_weight, check_input=check_input)
        if self.alpha == 0:
            warnings.warn("With alpha=0, this algorithm does not converge well. You are advised "
                          "to use the LinearRegression estimator", stacklevel=2)
        X, y = validate_data(self, X, y, accept_sparse="csc", dtype=[np.float64, np.float32],
                             accept_large_sparse=False, multi_output=True, y_numeric=True)
        y = check_array(y, copy=False, dtype=X.dtype.type, ensure_2d=False)
        n_samples, n_features = X.shape
        if isinstance(sample_weight, numbers.Number):
            sample_weight = None
        scale = None
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype)
            # scikit-learn rescales the weights to sum to n_samples (see its ElasticNet.fit).
            sample_weight = sample_weight * (n_samples / np.sum(sample_weight))
            scale = np.sqrt(sample_weight)
        if self.fit_intercept:
            X_offset = weighted_average(X, axis=0, weights=sample_weight)
            y_offset = weighted_average(y, axis=0, weights=sample_weight)
            X_offset = np.asarray(X_offset, dtype=X.dtype)
            y_offset = np.asarray(y_offset, dtype=X.dtype)
        else:
            X_offset = np.zeros(n_features, dtype=X.dtype)
            y_offset = 0.0 if y.ndim == 1 else np.zeros(y.shape[1], dtype=X.dtype)
        Y = (y - y_offset).reshape(n_samples, -1)
        if scale is not None:
            Y = Y * scale[:, None]
        n_targets = Y.shape[1]
        if not self.warm_start or not hasattr(self, "coef_"):
            coef_ = np.zeros((n_targets, n_features), dtype=X.dtype)
        else:
            coef_ = np.array(self.coef_, dtype=X.dtype).reshape(n_targets, n_features)
        dual_gaps = np.zeros(n_targets, dtype=X.dtype)
        n_iter = []
        for k in range(n_targets):
            coefs, gaps, iters = _solve_path(
                X, Y[:, k], [self.alpha], self.l1_ratio, coef_init=coef_[k],
                X_mean=X_offset if self.fit_intercept else None, X_scale=scale, tol=self.tol,
                max_iter=self.max_iter, random_state=self.random_state, selection=self.selection,
                positive=self.positive)
            coef_[k] = coefs[:, 0]
            dual_gaps[k] = gaps[0]
            n_iter.append(iters[0])
        if n_targets == 1 and y.ndim == 1:
            self.n_iter_, self.coef_, self.dual_gap_ = n_iter[0], coef_[0], dual_gaps[0]
        else:
            self.n_iter_, self.coef_, self.dual_gap_ = n_iter, coef_, dual_gaps
        self._set_intercept(X_offset, y_offset, np.ones(n_features, dtype=X.dtype))
        if not all(np.isfinite(w).all() for w in [self.coef_, self.intercept_]):
            raise ValueError("Coordinate descent iterations resulted in non-finite parameter "
                             "values. The input data may contain large values and need to be "
                             "preprocessed.")
        return self


class ElasticNet(_DenseFitMixin, _sk.ElasticNet):
    __doc__ = _sk.ElasticNet.__doc__
    path = staticmethod(enet_path)


class Lasso(_DenseFitMixin, _sk.Lasso):
    __doc__ = _sk.Lasso.__doc__
    path = staticmethod(enet_path)


@contextlib.contextmanager
def _parallel_folds(model):
    """Runs the folds of a LinearModelCV fit in `n_jobs` threads (None: fastml's default thread
    count; scikit-learn runs them one by one then), each fold's path on one thread of the core
    and BLAS on one thread, so that the folds do not fight over the cores; the paths release
    the GIL. The path is swapped on the instance for the fit only."""
    n_threads = effective_n_threads(model.n_jobs)
    model.path = functools.partial(type(model).path, _n_jobs=1)
    try:
        with parallel_config(n_jobs=n_threads), \
                threadpool_limits(limits=1, user_api="blas"):
            yield
    finally:
        del model.path


def _fit_cv(model, sklearn_fit, X, y, sample_weight, params):
    """A single-output CV fit: on the folds' Gram matrices built from one pass over X where
    scikit-learn would build a Gram matrix per fold (_cd_cv), else scikit-learn's loop with
    fastml's paths on parallel folds."""
    if fit_gram_folds(model, X, y, sample_weight, params, solve_fold_path) is not None:
        return model
    with _parallel_folds(model):
        return sklearn_fit(X, y, sample_weight=sample_weight, **params)


class LassoCV(_sk.LassoCV):
    __doc__ = _sk.LassoCV.__doc__
    path = staticmethod(lasso_path)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        return _fit_cv(self, super().fit, X, y, sample_weight, params)

    def _get_estimator(self):
        return Lasso()


class ElasticNetCV(_sk.ElasticNetCV):
    __doc__ = _sk.ElasticNetCV.__doc__
    path = staticmethod(enet_path)

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        return _fit_cv(self, super().fit, X, y, sample_weight, params)

    def _get_estimator(self):
        return ElasticNet()
