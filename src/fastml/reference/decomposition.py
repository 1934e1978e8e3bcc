"""NumPy reference of fastml.decomposition: exact decompositions by LAPACK in float64, and the
sparse-dense products of the compiled core, on the dense matrix a sparse one stands for."""
import numpy as np
import scipy.sparse as sp


def _dense64(X):
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def sign_flip(Vt):
    """Rows of Vt signed so that each row's entry of largest magnitude is positive
    (scikit-learn's svd_flip with u_based_decision=False)."""
    Vt = np.array(Vt, dtype=np.float64)
    rows = np.arange(Vt.shape[0])
    signs = np.sign(Vt[rows, np.argmax(np.abs(Vt), axis=1)])
    return Vt * signs[:, None]


def pca(X, n_components):
    """The exact PCA of X: (mean, components, explained_variance, singular_values), the leading
    n_components of the SVD of X - mean in float64."""
    X = _dense64(X)
    mean = X.mean(axis=0)
    _, S, Vt = np.linalg.svd(X - mean, full_matrices=False)
    k = n_components
    return mean, sign_flip(Vt[:k]), S[:k] ** 2 / (X.shape[0] - 1), S[:k]


def truncated_svd(X, n_components):
    """The exact truncated SVD of X (not centered): (components, singular_values)."""
    _, S, Vt = np.linalg.svd(_dense64(X), full_matrices=False)
    return sign_flip(Vt[:n_components]), S[:n_components]


def pca_transform(X, mean, components, explained_variance=None):
    """(X - mean) @ components.T, divided by sqrt(explained_variance) when given (whitening)."""
    out = (_dense64(X) - mean) @ np.asarray(components, dtype=np.float64).T
    if explained_variance is not None:
        out /= np.sqrt(explained_variance)
    return out


def csr_matmat(X, B):
    """X @ B in float64 for sparse X and dense B."""
    return _dense64(X) @ np.asarray(B, dtype=np.float64)


def csr_t_matmat(X, P):
    """X^T @ P in float64 for sparse X and dense P."""
    return _dense64(X).T @ np.asarray(P, dtype=np.float64)
