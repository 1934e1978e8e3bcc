"""scikit-learn's randomized SVD (Halko et al.) over a DataOperator, and the same computation
carried out on the Gram matrix for tall, narrow data.

Both draw the Gaussian test matrix from the random stream scikit-learn draws it from, so that a
random_state gives scikit-learn's answer: the result of the randomized SVD depends only on the
subspace spanned by A (A^T A)^q Omega, whichever basis the power iterations keep of it, so these
results equal scikit-learn's to rounding.
"""
import numpy as np
from scipy import linalg


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


def _qr(A):
    return linalg.qr(A, mode="economic", check_finite=False)[0]


def range_finder(op, size, n_iter, power_iteration_normalizer, random_state):
    """An orthonormal basis (n_rows x size) of the range of op, as scikit-learn's
    _randomized_range_finder computes it, with the products of op."""
    Q = _test_matrix(op.shape[1], size, op.dtype, random_state)
    if power_iteration_normalizer == "auto":
        power_iteration_normalizer = "none" if n_iter <= 2 else "LU"
    if power_iteration_normalizer == "QR":
        normalize = _qr
    elif power_iteration_normalizer == "LU":
        def normalize(A):
            return linalg.lu(A, permute_l=True, check_finite=False)[0]
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


def randomized_svd_gram(G, n_samples, dtype, n_components, *, n_oversamples, n_iter,
                        random_state):
    """The randomized SVD of the n_samples x d matrix A whose Gram matrix A^T A is G (float64),
    for n_samples >= d: (s, Vt, T) with A @ T = U * s, scikit-learn's U scaled by s (what
    fit_transform returns); None when A has fewer than n_components independent directions
    in the sampled subspace (the caller then runs the range finder on A itself).

    With W an orthonormal basis of (A^T A)^q Omega, scikit-learn's B = Q^T A (Q a basis of
    A W) satisfies B^T B = G W M^+ W^T G with M = W^T G W: so B's singular values and right
    vectors are those of Z = G W M^{-1/2}, all d x l work. The power iterations are normalised
    by QR on each product with G (the subspace is the one any normaliser keeps)."""
    d = G.shape[0]
    n_iter = resolve_n_iter(n_iter, n_components, (n_samples, d))
    W = _test_matrix(d, n_components + n_oversamples, dtype, random_state).astype(np.float64)
    for _ in range(n_iter):
        W = _qr(G @ W)
    Y = G @ W
    M = W.T @ Y
    L, E = linalg.eigh((M + M.T) / 2, check_finite=False)
    if not L[-1] > 0:
        return None
    keep = L > L[-1] * max(M.shape) * np.finfo(np.float64).eps
    E, L = E[:, keep], L[keep]
    if len(L) < n_components:
        return None
    Z = Y @ (E / np.sqrt(L))
    V, s, _ = linalg.svd(Z, full_matrices=False, lapack_driver="gesdd")
    V, s = V[:, :n_components], s[:n_components]
    # U s = Q Q^T A V = A W M^+ W^T G V
    T = W @ (E @ ((E.T @ (Y.T @ V)) / L[:, None]))
    return s, V.T, T
