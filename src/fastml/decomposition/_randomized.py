"""scikit-learn's randomized SVD (Halko et al.) over a DataOperator, and the same computation
carried out on the Gram matrix for tall, narrow data.

Both draw the Gaussian test matrix from the random stream scikit-learn draws it from, so that a
random_state gives scikit-learn's answer: the result of the randomized SVD depends only on the
subspace spanned by A (A^T A)^q Omega, whichever basis the power iterations keep of it, so these
results equal scikit-learn's to rounding.
"""
import numpy as np
from scipy import linalg
from sklearn.utils.extmath import svd_flip

from ._operators import blas_threads


def resolve_n_iter(n_iter, n_components, shape):
    if n_iter == "auto":
        # scikit-learn's choice (#5299)
        return 7 if n_components < 0.1 * min(shape) else 4
    return n_iter


def _test_matrix(n_rows, size, dtype, random_state):
    Q = random_state.normal(size=(n_rows, size))
    if dtype == np.float32:
        Q = Q.astype(np.float32, copy=False)
    return Q


def _one_blas_thread():
    """The factorisations of d x (k + p) panels run on one BLAS thread: they gain little from
    threads and lose much when the cores are shared (QR of 20000 x 110 here, load 12 on 2 cores:
    0.4-0.6 s on one OpenBLAS thread, 3.3-9.4 s on two)."""
    return blas_threads(1)


def _qr(A):
    return linalg.qr(A, mode="economic", check_finite=False)[0]


def _lu(A):
    return linalg.lu(A, permute_l=True, check_finite=False)[0]


def range_finder(op, size, n_iter, power_iteration_normalizer, random_state):
    """An orthonormal basis (n_rows x size) of the range of op, as scikit-learn's
    _randomized_range_finder computes it, with the products of op."""
    Q = _test_matrix(op.shape[1], size, op.dtype, random_state)
    if power_iteration_normalizer == "auto":
        power_iteration_normalizer = "none" if n_iter <= 2 else "LU"
    if power_iteration_normalizer == "QR":
        normalize = _qr
    elif power_iteration_normalizer == "LU":
        normalize = _lu
    else:
        def normalize(A):
            return A
    for _ in range(n_iter):
        Q = normalize(op.matmat(Q))
        Q = normalize(op.rmatmat(Q))
    return _qr(op.matmat(Q))


def randomized_svd(op, n_components, *, n_oversamples, n_iter, power_iteration_normalizer,
                   random_state):
    """(U, s, Vt) of op as scikit-learn's _randomized_svd(flip_sign=False, transpose="auto")."""
    n_samples, n_features = op.shape
    n_iter = resolve_n_iter(n_iter, n_components, op.shape)
    transpose = n_samples < n_features
    if transpose:
        op = op.T
    Q = range_finder(op, n_components + n_oversamples, n_iter, power_iteration_normalizer,
                     random_state)
    B = op.rmatmat(Q).T  # Q^T @ A
    Uhat, s, Vt = linalg.svd(B, full_matrices=False, lapack_driver="gesdd")
    del B
    U = Q @ Uhat
    k = n_components
    if transpose:
        return Vt[:k].T, s[:k], U[:, :k].T
    return U[:, :k], s[:k], Vt[:k]


def randomized_svd_normal(normal_matmat, shape, dtype, n_components, *, n_oversamples, n_iter,
                          random_state):
    """The randomized SVD of an n x d matrix A (n >= d) given only through its normal products
    ``normal_matmat(W) = A^T A W`` (the Gram matrix G @ W, or A^T (A W) by two passes over
    A): (s, Vt, T) with A @ T = U * s, scikit-learn's U scaled by s (what its fit_transform
    returns); None when fewer than n_components directions of A are in the sampled subspace (the
    caller then runs scikit-learn's range finder on A itself).

    With W an orthonormal basis of (A^T A)^q Omega and Z = A^T A W, scikit-learn's B = Q^T A (Q
    a basis of A W) satisfies B^T B = Z M^+ Z^T with M = W^T Z: so B's singular values and right
    vectors are those of Z M^{-1/2}, d x (k + p) work. Each power iteration is normalised by a
    QR of the d x (k + p) iterate only: it keeps the subspace any normaliser of scikit-learn's
    keeps, at a fraction of the cost of factorising the n x (k + p) one (LU or QR of 100k x 110
    took 4x the time of the sparse products here). The iterates before the last are normalised
    by LU (the triangular factor with row swaps, which spans the same subspace and bounds its
    entries by 1, as scikit-learn's "LU" normaliser), the last by QR, which the final
    factorisation is best conditioned with: QR of 20000 x 110 took 0.14 s of CPU on one thread,
    LU 0.025 s, against 0.15 s for one sparse product of the TruncatedSVD bench."""
    n, d = shape
    n_iter = resolve_n_iter(n_iter, n_components, shape)
    W = _test_matrix(d, n_components + n_oversamples, dtype, random_state).astype(np.float64)
    for it in range(n_iter):
        W = normal_matmat(W)
        with _one_blas_thread():
            W = _qr(W) if it == n_iter - 1 else _lu(W)
    Z = np.asarray(normal_matmat(W), dtype=np.float64)
    with _one_blas_thread():
        M = W.T @ Z
        L, E = linalg.eigh((M + M.T) / 2, check_finite=False)
        if not L[-1] > 0:
            return None
        keep = L > L[-1] * max(M.shape) * np.finfo(np.float64).eps
        E, L = E[:, keep], L[keep]
        if len(L) < n_components:
            return None
        V, s, _ = linalg.svd(Z @ (E / np.sqrt(L)), full_matrices=False, lapack_driver="gesdd")
        V, s = V[:, :n_components], s[:n_components]
        # U s = Q Q^T A V = A W M^+ Z^T V
        T = W @ (E @ ((E.T @ (Z.T @ V)) / L[:, None]))
    return s, V.T, T


def randomized_svd_fast(op, n_components, *, n_oversamples, n_iter, random_state,
                        gram=None):
    """(s, Vt, US): scikit-learn's randomized SVD of op (its transpose rule), signs flipped as
    its svd_flip(u_based_decision=False) does for PCA and TruncatedSVD, by
    randomized_svd_normal, with ``gram`` (A^T A, float64) when given, else the products of op;
    US a function computing U * s (a pass over X where it costs one). None where
    randomized_svd_normal gives up."""
    transpose = op.shape[0] < op.shape[1]
    work = op.T if transpose else op
    if gram is not None and not transpose:
        def normal(W):
            return gram @ W
    else:
        products = []  # the last A W, whose buffer the next product may write into

        def normal(W):
            products[:] = [work.matmat(W.astype(work.dtype), reuse=products[0] if products
                                       else None)]
            return work.rmatmat(products[0])
    solved = randomized_svd_normal(normal, work.shape, op.dtype, n_components,
                                   n_oversamples=n_oversamples, n_iter=n_iter,
                                   random_state=random_state)
    if solved is None:
        return None
    s, Vt, T = solved
    s = s.astype(op.dtype)
    if not transpose:
        T, Vt = svd_flip(T, Vt, u_based_decision=False)
        T = T.astype(op.dtype)
        return s, Vt.astype(op.dtype), lambda: work.matmat(T)
    # A^T = U' s V'^T: A's U is V', A's Vt is U'^T = (A^T T / s)^T
    U = Vt.T.astype(op.dtype)
    Vt_a = np.ascontiguousarray((work.matmat(T.astype(op.dtype)) / s).T)
    U, Vt_a = svd_flip(U, Vt_a, u_based_decision=False)
    return s, Vt_a, lambda: U * s
