"""TruncatedSVD, drop-in for ``sklearn.decomposition.TruncatedSVD`` (a subclass of it).

fit follows scikit-learn 1.9 step for step; the products with X run on DataOperator: CSR input by
the compiled row-parallel sparse-dense product (never densified, X^T through one transpose per
fit), dense input by BLAS, and dense tall narrow input through its Gram matrix
(fastml.decomposition._randomized). The random streams are scikit-learn's.
"""
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import svds
from sklearn.decomposition import TruncatedSVD as _SkTruncatedSVD
from sklearn.utils import check_random_state
from sklearn.utils.extmath import svd_flip
from sklearn.utils.sparsefuncs import mean_variance_axis
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import effective_n_threads
from ..utils._sklearn_compat import fit_context, init_arpack_v0
from ._operators import DataOperator, blas_threads, gram
from ._pca import _gram_route
from ._randomized import randomized_svd, randomized_svd_fast


def _as_float(X):
    """X's values as the products need them: float32 kept, any other dtype as float64 (the
    dtype scikit-learn's float64 test matrix promotes them to)."""
    if X.dtype in (np.float32, np.float64):
        return X
    return X.astype(np.float64)


class TruncatedSVD(_SkTruncatedSVD):
    """Truncated SVD (latent semantic analysis), drop-in for
    ``sklearn.decomposition.TruncatedSVD``.

    Parameters are scikit-learn's, plus ``n_jobs`` (None: ``fastml.get_config()``, then every
    OpenMP thread): the threads of the compiled sparse products and of BLAS.
    """

    _parameter_constraints: dict = {**_SkTruncatedSVD._parameter_constraints,
                                    "n_jobs": [None, Integral]}

    def __init__(self, n_components=2, *, algorithm="randomized", n_iter=5, n_oversamples=10,
                 power_iteration_normalizer="auto", random_state=None, tol=0.0, n_jobs=None):
        super().__init__(n_components=n_components, algorithm=algorithm, n_iter=n_iter,
                         n_oversamples=n_oversamples,
                         power_iteration_normalizer=power_iteration_normalizer,
                         random_state=random_state, tol=tol)
        self.n_jobs = n_jobs

    def fit(self, X, y=None):
        """Fit the model on X (dense or sparse); y is ignored."""
        self.fit_transform(X)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None):
        """Fit the model on X and return its reduced form (dense, n_samples x n_components)."""
        X = validate_data(self, X, accept_sparse=["csr", "csc"], ensure_min_features=2)
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_jobs)
        Xf = _as_float(X)
        op = DataOperator(Xf, None, n_threads)
        k = self.n_components
        with blas_threads(n_threads):
            U = None
            if self.algorithm == "arpack":
                v0 = init_arpack_v0(min(X.shape), random_state)
                U, Sigma, VT = svds(op.linear_operator(), k=k, tol=self.tol, v0=v0)
                Sigma = Sigma[::-1]
                U, VT = svd_flip(U[:, ::-1], VT[::-1], u_based_decision=False)
            else:
                if k > X.shape[1]:
                    raise ValueError(
                        f"n_components({k}) must be <= n_features({X.shape[1]}).")
                G = gram(Xf, False, n_threads)[0] if _gram_route(Xf) else None
                solved = randomized_svd_fast(op, k, n_oversamples=self.n_oversamples,
                                             n_iter=self.n_iter, random_state=random_state,
                                             gram=G)
                if solved is not None:
                    Sigma, VT, _ = solved
                else:  # too few directions for the shortcut: start the stream again
                    _, Sigma, VT = randomized_svd(
                        op, k, n_oversamples=self.n_oversamples, n_iter=self.n_iter,
                        power_iteration_normalizer=self.power_iteration_normalizer,
                        random_state=check_random_state(self.random_state))
                    _, VT = svd_flip(None, VT, u_based_decision=False)
            self.components_ = VT
            # X @ V differs from U * Sigma by the approximation error: scikit-learn returns the
            # former unless ARPACK ran to full precision.
            if self.algorithm == "randomized" or self.tol > 0:
                X_transformed = op.matmat(self.components_.T)
            else:
                X_transformed = U * Sigma
        self.explained_variance_ = exp_var = np.var(X_transformed, axis=0)
        if sp.issparse(X):
            _, full_var = mean_variance_axis(X, axis=0)
            full_var = full_var.sum()
        else:
            full_var = np.var(X, axis=0).sum()
        self.explained_variance_ratio_ = exp_var / full_var
        self.singular_values_ = Sigma
        return X_transformed

    def transform(self, X):
        """X (dense or sparse) reduced: X @ components_.T, a dense array."""
        check_is_fitted(self)
        X = validate_data(self, X, accept_sparse=["csr", "csc"], reset=False)
        n_threads = effective_n_threads(self.n_jobs)
        with blas_threads(n_threads):
            return DataOperator(_as_float(X), None, n_threads).matmat(self.components_.T)
