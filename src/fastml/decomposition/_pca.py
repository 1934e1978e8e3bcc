"""PCA, drop-in for ``sklearn.decomposition.PCA`` (a subclass of it: its parameters, errors,
attributes, score/score_samples, get_covariance/get_precision and inverse_transform).

fit follows scikit-learn 1.9 step for step (the solver it chooses, its checks, its
post-processing of the spectrum) but computes the decomposition without copying or centering X:

- dense X with n_samples >= n_features and n_features <= 2000 ("covariance_eigh", and "full" on
  float32 data, and "randomized"): one pass over X builds the centered Gram matrix in float64;
  eigh of it gives the full decomposition, and the randomized SVD is carried out on it in
  d x (k + p) work (fastml.decomposition._randomized). float32 data are decomposed from float64
  sums, so their components are closer to the exact ones than scikit-learn's float32 SVD;
- "full" on float64 data, or wide data: LAPACK's SVD of the centered copy, as scikit-learn;
- "arpack", and "randomized" otherwise: ARPACK and the range finder on the products of X
  centered block by block (dense) or implicitly (CSR, by the compiled sparse-dense product).
"""
from math import sqrt
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy import linalg
from scipy.sparse.linalg import svds
from sklearn.decomposition import PCA as _SkPCA
from sklearn.utils import check_random_state
from sklearn.utils.extmath import svd_flip
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import effective_n_threads
from ..utils._sklearn_compat import fit_context, infer_dimension, init_arpack_v0
from ._operators import DataOperator, blas_threads, gram
from ._randomized import randomized_svd, randomized_svd_fast

# Largest n_features decomposed through the Gram matrix (d x d float64, eigh in O(d^3)).
_GRAM_MAX_FEATURES = 2000


def _gram_route(X):
    return not sp.issparse(X) and X.shape[0] >= X.shape[1] and X.shape[1] <= _GRAM_MAX_FEATURES


def project(estimator, X, n_threads):
    """(X - mean_) @ components_.T, whitened as scikit-learn's _BasePCA._transform; X is never
    copied: dense rows are centered a block at a time, CSR ones by a rank-one correction."""
    op = DataOperator(X, estimator.mean_, n_threads)
    X_new = op.matmat(estimator.components_.T)
    if estimator.whiten:
        scale = np.sqrt(estimator.explained_variance_)
        scale[scale < np.finfo(scale.dtype).eps] = np.finfo(scale.dtype).eps
        X_new /= scale
    return X_new


class PCA(_SkPCA):
    """Principal component analysis, drop-in for ``sklearn.decomposition.PCA``.

    Parameters are scikit-learn's, plus ``n_jobs`` (None: ``fastml.get_config()``, then every
    OpenMP thread), the threads of the compiled sparse products and of BLAS during fit and
    transform. The fitted attributes are scikit-learn's, of X's dtype.
    """

    _parameter_constraints: dict = {**_SkPCA._parameter_constraints, "n_jobs": [None, Integral]}

    def __init__(self, n_components=None, *, copy=True, whiten=False, svd_solver="auto", tol=0.0,
                 iterated_power="auto", n_oversamples=10, power_iteration_normalizer="auto",
                 random_state=None, n_jobs=None):
        super().__init__(n_components=n_components, copy=copy, whiten=whiten,
                         svd_solver=svd_solver, tol=tol, iterated_power=iterated_power,
                         n_oversamples=n_oversamples,
                         power_iteration_normalizer=power_iteration_normalizer,
                         random_state=random_state)
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the model with X (dense or sparse, CSR or CSC); y is ignored."""
        self._fit_fast(X)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit the model with X and return X projected on the components (n_samples x
        n_components)."""
        US, X, n_threads = self._fit_fast(X)
        if callable(US):
            with blas_threads(n_threads):
                US = US()
        if US is None:
            with blas_threads(n_threads):
                return project(self, X, n_threads)
        US = US[:, :self.n_components_]
        if self.whiten:
            # scikit-learn returns U * sqrt(n_samples - 1)
            S = self.singular_values_.copy()
            S[S == 0] = 1
            US = US / S * sqrt(X.shape[0] - 1)
        return US

    def transform(self, X):
        """Project X (dense or sparse) on the components, whitened if ``whiten``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], accept_sparse=("csr", "csc"),
                          reset=False)
        n_threads = effective_n_threads(self.n_jobs)
        with blas_threads(n_threads):
            return project(self, X, n_threads)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.array_api_support = False  # NumPy and SciPy inputs only
        return tags

    # ---- fitting ---------------------------------------------------------------------------------
    def _fit_fast(self, X):
        """Fit; returns (U * S, X validated, threads): U * S where the solver has it, a function
        computing it where it costs a pass over X, None where it is X's projection."""
        if sp.issparse(X) and self.svd_solver not in ["auto", "arpack", "covariance_eigh"]:
            raise TypeError(
                'PCA only support sparse inputs with the "arpack" and'
                f' "covariance_eigh" solvers, while "{self.svd_solver}" was passed. See'
                " TruncatedSVD for a possible alternative.")
        X = validate_data(self, X, dtype=[np.float64, np.float32], force_writeable=True,
                          accept_sparse=("csr", "csc"), ensure_2d=True, copy=False)
        solver = self.svd_solver
        if solver == "auto" and sp.issparse(X):
            solver = "arpack"
        if self.n_components is None:
            n_components = min(X.shape) - (solver == "arpack")
        else:
            n_components = self.n_components
        if solver == "auto":
            # scikit-learn 1.9's choice
            if X.shape[1] <= 1_000 and X.shape[0] >= 10 * X.shape[1]:
                solver = "covariance_eigh"
            elif max(X.shape) <= 500 or n_components == "mle":
                solver = "full"
            elif 1 <= n_components < 0.8 * min(X.shape):
                solver = "randomized"
            else:
                solver = "full"
        self._fit_svd_solver = solver
        n_threads = effective_n_threads(self.n_jobs)
        with blas_threads(n_threads):
            if solver in ("full", "covariance_eigh"):
                US = self._fit_full(X, n_components, n_threads)
            else:
                US = self._fit_truncated(X, n_components, n_threads)
        return US, X, n_threads

    def _fit_full(self, X, n_components, n_threads):
        n_samples, n_features = X.shape
        solver = self._fit_svd_solver
        if n_components == "mle":
            if n_samples < n_features:
                raise ValueError(
                    "n_components='mle' is only supported if n_samples >= n_features")
        elif not 0 <= n_components <= min(n_samples, n_features):
            raise ValueError(
                f"n_components={n_components} must be between 0 and "
                f"min(n_samples, n_features)={min(n_samples, n_features)} with "
                f"svd_solver={solver!r}")
        US = None
        if solver == "covariance_eigh" or (solver == "full" and X.dtype == np.float32
                                          and _gram_route(X)):
            C, mean = gram(X, True, n_threads)
            C /= n_samples - 1
            eigenvals, eigenvecs = linalg.eigh(C, check_finite=False)
            eigenvals, eigenvecs = eigenvals[::-1], eigenvecs[:, ::-1]
            eigenvals[eigenvals < 0.0] = 0.0
            explained_variance_ = eigenvals.astype(X.dtype)
            S = np.sqrt(eigenvals * (n_samples - 1)).astype(X.dtype)
            Vt = eigenvecs.T.astype(X.dtype)
            self.mean_ = mean.astype(X.dtype)
        else:
            self.mean_ = np.mean(X, axis=0)
            X_centered = X.copy() if self.copy else X
            X_centered -= self.mean_
            U, S, Vt = linalg.svd(X_centered, full_matrices=False)
            explained_variance_ = (S ** 2) / (n_samples - 1)
            U, Vt = svd_flip(U, Vt, u_based_decision=False)
            US = U * S
        _, Vt = svd_flip(None, Vt, u_based_decision=False)

        total_var = np.sum(explained_variance_)
        explained_variance_ratio_ = explained_variance_ / total_var
        if n_components == "mle":
            n_components = infer_dimension(explained_variance_, n_samples)
        elif 0 < n_components < 1.0:
            ratio_cumsum = np.cumulative_sum(explained_variance_ratio_)
            n_components = np.searchsorted(ratio_cumsum, n_components, side="right") + 1
        if n_components < min(n_features, n_samples):
            self.noise_variance_ = np.mean(explained_variance_[n_components:])
        else:
            self.noise_variance_ = 0.0
        self.n_samples_ = n_samples
        self.n_components_ = n_components
        self.components_ = Vt[:n_components].copy()
        self.explained_variance_ = explained_variance_[:n_components].copy()
        self.explained_variance_ratio_ = explained_variance_ratio_[:n_components].copy()
        self.singular_values_ = S[:n_components].copy()
        return US

    def _fit_truncated(self, X, n_components, n_threads):
        n_samples, n_features = X.shape
        solver = self._fit_svd_solver
        if isinstance(n_components, str):
            raise ValueError("n_components=%r cannot be a string with svd_solver='%s'"
                             % (n_components, solver))
        elif not 1 <= n_components <= min(n_samples, n_features):
            raise ValueError("n_components=%r must be between 1 and "
                             "min(n_samples, n_features)=%r with svd_solver='%s'"
                             % (n_components, min(n_samples, n_features), solver))
        elif solver == "arpack" and n_components == min(n_samples, n_features):
            raise ValueError("n_components=%r must be strictly less than "
                             "min(n_samples, n_features)=%r with svd_solver='%s'"
                             % (n_components, min(n_samples, n_features), solver))
        random_state = check_random_state(self.random_state)

        if sp.issparse(X):
            self.mean_, var = mean_variance_axis(X, axis=0)
            total_var = var.sum() * n_samples / (n_samples - 1)
        G = None
        if not sp.issparse(X):
            if solver == "randomized" and _gram_route(X):
                G, mean = gram(X, True, n_threads)
                total_var = np.trace(G) / (n_samples - 1)
            else:
                mean = np.mean(X, axis=0, dtype=np.float64)
                total_var = _centered_square_sum(X, mean) / (n_samples - 1)
            self.mean_ = mean.astype(X.dtype)
        op = DataOperator(X, self.mean_, n_threads)

        solved = None
        if solver == "randomized":
            solved = randomized_svd_fast(op, n_components, n_oversamples=self.n_oversamples,
                                         n_iter=self.iterated_power, random_state=random_state,
                                         gram=G)
            if solved is None:  # too few directions for the shortcut: start the stream again
                random_state = check_random_state(self.random_state)
        if solved is not None:
            S, Vt, US = solved
        elif solver == "arpack":
            v0 = init_arpack_v0(min(X.shape), random_state)
            U, S, Vt = svds(op.linear_operator(), k=n_components, tol=self.tol, v0=v0)
            S = S[::-1]
            U, Vt = svd_flip(U[:, ::-1], Vt[::-1], u_based_decision=False)
            US = U * S
        else:
            U, S, Vt = randomized_svd(op, n_components, n_oversamples=self.n_oversamples,
                                      n_iter=self.iterated_power,
                                      power_iteration_normalizer=self.power_iteration_normalizer,
                                      random_state=random_state)
            U, Vt = svd_flip(U, Vt, u_based_decision=False)
            US = U * S

        self.n_samples_ = n_samples
        self.components_ = Vt
        self.n_components_ = n_components
        self.explained_variance_ = (S ** 2) / (n_samples - 1)
        total_var = np.asarray(total_var, dtype=X.dtype)[()]
        self.explained_variance_ratio_ = self.explained_variance_ / total_var
        self.singular_values_ = S.copy()
        if self.n_components_ < min(n_features, n_samples):
            self.noise_variance_ = total_var - np.sum(self.explained_variance_)
            self.noise_variance_ /= min(n_features, n_samples) - n_components
        else:
            self.noise_variance_ = 0.0
        return US


def _centered_square_sum(X, mean):
    """sum((X - mean)^2) of dense X in float64, a block of rows at a time (no copy of X)."""
    total = 0.0
    step = max(256, (4 << 20) // (8 * max(1, X.shape[1])))
    for start in range(0, X.shape[0], step):
        block = np.subtract(X[start:start + step], mean, dtype=np.float64)
        total += np.einsum("ij,ij->", block, block)
    return total
