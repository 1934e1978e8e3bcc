"""The data matrix of a fit as the products the solvers ask of it, and its centered Gram matrix.

A solver sees A = X - 1 mean^T (mean None: A = X) only through ``matmat`` (A @ B) and
``rmatmat`` (A^T @ P), so that X is neither copied nor centered in place:

- dense X: products by BLAS (NumPy) on blocks of rows centered on the fly, so that float32 data
  with a large mean keeps its digits (subtracting mean @ B after X @ B would cancel them) and
  only one block is ever copied;
- CSR X: the compiled products of fastml.decomposition._decomposition_fast, X @ B by rows
  (row-parallel), X^T @ P scattered from X's rows (parallel over ranges of columns); the mean is
  applied as a rank-one correction, as scikit-learn's implicitly centered operator does.
"""
import functools

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator
from threadpoolctl import ThreadpoolController

from .. import _linalg_fast
from . import _decomposition_fast

# Rows per block of the dense products and of the Gram matrix: 2-8 MB of float64, which keeps a
# centered block in the L2/L3 caches while BLAS works on it.
_BLOCK_BYTES = 4 << 20


@functools.cache
def _blas_controller():
    return ThreadpoolController()


def blas_threads(n_threads):
    """A context limiting BLAS to n_threads. The libraries are found once per process: finding
    them (threadpool_limits does at every call) cost ~12 ms a call here, 70 ms of a 0.8 s fit."""
    return _blas_controller().limit(limits=n_threads, user_api="blas")


def _block_rows(n_features):
    return max(256, _BLOCK_BYTES // (8 * max(1, n_features)))


def as_csr_arrays(X):
    """(indptr, indices, data) of a CSR matrix/array, C-contiguous, indptr and indices of one
    integer type, as the compiled core takes them."""
    indptr, indices = X.indptr, X.indices
    if indptr.dtype != indices.dtype or indptr.dtype not in (np.int32, np.int64):
        indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
    return (np.ascontiguousarray(indptr), np.ascontiguousarray(indices),
            np.ascontiguousarray(X.data))


def csr_matmat(arrays, n_cols, B, n_threads, out=None):
    """X @ B for CSR arrays of X and a dense B, in X's dtype (float64 sums); into out if given."""
    indptr, indices, data = arrays
    B = np.ascontiguousarray(B, dtype=data.dtype)
    return _decomposition_fast.csr_matmat(indptr, indices, data, n_cols, B, n_threads, out)


def safe_matmat(X, B, n_threads):
    """X @ B for dense or sparse X (sparse: the compiled product of its CSR form)."""
    if sp.issparse(X):
        X = X.tocsr()
        return csr_matmat(as_csr_arrays(X), X.shape[1], B, n_threads)
    return X @ B


class DataOperator:
    """A = X - 1 mean^T (or X) through its products; ``T`` is A^T through the same products."""

    def __init__(self, X, mean=None, n_threads=1):
        self.shape = X.shape
        self.dtype = X.dtype
        self.mean = None if mean is None else np.asarray(mean, dtype=X.dtype)
        self.n_threads = n_threads
        self._sparse = sp.issparse(X)
        if self._sparse:
            X = X.tocsr()
            self._csr = as_csr_arrays(X)
        else:
            self._X = X

    # -- products --------------------------------------------------------------------------------
    def matmat(self, B, reuse=None):
        """A @ B, B of shape (n_features, k), in X's dtype. reuse: None or an earlier result of
        the same shape, which sparse X's product writes into and returns (the randomized SVD
        reuses one buffer: a fresh 88 MB result per product of the TruncatedSVD bench cost ~14%
        of the fit in page faults); other products ignore it."""
        B = np.asarray(B, dtype=self.dtype)
        if self._sparse:
            if reuse is not None and reuse.shape != (self.shape[0], B.shape[1]):
                reuse = None  # the iterates narrow where n_features < k + p
            out = csr_matmat(self._csr, self.shape[1], B, self.n_threads, reuse)
            if self.mean is not None:
                out -= self.mean @ B
            return out
        X = self._X
        if self.mean is None:
            return X @ B
        out = np.empty((X.shape[0], B.shape[1]), dtype=self.dtype)
        step = _block_rows(X.shape[1])
        for start in range(0, X.shape[0], step):
            block = X[start:start + step] - self.mean
            np.matmul(block, B, out=out[start:start + step])
        return out

    def rmatmat(self, P):
        """A^T @ P, P of shape (n_samples, k), in X's dtype."""
        P = np.asarray(P, dtype=self.dtype)
        if self._sparse:
            indptr, indices, data = self._csr
            out = _decomposition_fast.csr_t_matmat(indptr, indices, data, self.shape[1],
                                                   np.ascontiguousarray(P), self.n_threads)
            if self.mean is not None:
                out -= np.outer(self.mean, P.sum(axis=0))
            return out
        X = self._X
        if self.mean is None:
            return X.T @ P
        out = np.zeros((X.shape[1], P.shape[1]), dtype=self.dtype)
        step = _block_rows(X.shape[1])
        for start in range(0, X.shape[0], step):
            block = X[start:start + step] - self.mean
            out += block.T @ P[start:start + step]
        return out

    @property
    def T(self):
        return _Transposed(self)

    def linear_operator(self):
        """A as a scipy LinearOperator (for ARPACK)."""
        return LinearOperator(self.shape, matvec=lambda v: self.matmat(v.reshape(-1, 1)).ravel(),
                              matmat=self.matmat,
                              rmatvec=lambda v: self.rmatmat(v.reshape(-1, 1)).ravel(),
                              rmatmat=self.rmatmat, dtype=self.dtype)


class _Transposed:
    def __init__(self, op):
        self._op = op
        self.shape = op.shape[::-1]
        self.dtype = op.dtype

    def matmat(self, B, reuse=None):
        return self._op.rmatmat(B)

    def rmatmat(self, P):
        return self._op.matmat(P)

    @property
    def T(self):
        return self._op


def gram(X, center, n_threads):
    """(G, mean): G = (X - mean)^T (X - mean) in float64 and the column means in float64 (zeros
    when not center), for dense or sparse X, by the compiled Gram core of fastml._linalg_fast
    (float64 sums; dense X read in place, blocks centered on the fly; CSR centered by the
    rank-one correction)."""
    if sp.issparse(X):
        X = X.tocsr()
        indptr, indices, data = as_csr_arrays(X)
        return _linalg_fast.weighted_gram_csr(indptr, indices, data, X.shape[1], None, center,
                                              n_threads)
    return _linalg_fast.weighted_gram(X, None, center, n_threads)
