"""Per-user random train/test split of an interaction matrix."""
from numbers import Real

import numpy as np
from scipy import sparse
from sklearn.utils import check_random_state


def train_test_split(X, test_size=0.2, random_state=None):
    """Hold out a random share of every user's interactions.

    A user with n interactions gets ``floor(test_size * n)`` of them (computed in float64),
    chosen uniformly at random, in the test matrix, but always keeps at least one in the
    training matrix; a user with a single interaction keeps it in training.

    Parameters
    ----------
    X : sparse matrix of shape (n_users, n_items)
        Interactions, in any sparse format. Duplicate entries are summed and explicit zeros
        dropped first.
    test_size : float, default=0.2
        Share of every user's interactions to hold out, in (0, 1).
    random_state : int, RandomState instance, Generator or None, default=None
        Source of randomness; an int gives the same split on every call.

    Returns
    -------
    X_train, X_test : CSR matrices of X's shape and dtype
        Disjoint, with ``X_train + X_test`` equal to X. CSR arrays when X is a sparse array.
    """
    if not sparse.issparse(X) or X.ndim != 2:
        raise TypeError(f"X must be a 2-D scipy.sparse matrix, got {type(X).__name__}")
    if isinstance(test_size, bool) or not isinstance(test_size, Real) or not 0 < test_size < 1:
        raise ValueError(f"test_size must be a float in (0, 1), got {test_size!r}")
    if isinstance(random_state, np.random.Generator):
        rng = random_state
    else:
        rng = check_random_state(random_state)

    X = X.tocsr(copy=True)
    X.sum_duplicates()
    X.eliminate_zeros()
    n_users = X.shape[0]
    counts = np.diff(X.indptr)
    n_test = np.minimum(np.floor(test_size * counts).astype(np.intp), np.maximum(counts - 1, 0))

    # One random key per interaction; its rank among its user's keys is a uniform random
    # permutation of the user's interactions, and the n_test lowest ranks go to test.
    users = np.repeat(np.arange(n_users), counts)
    order = np.lexsort((rng.random(X.nnz), users))
    rank = np.empty(X.nnz, dtype=np.intp)
    rank[order] = np.arange(X.nnz) - X.indptr[users[order]]
    test = rank < n_test[users]

    def part(mask, row_counts):
        indptr = np.concatenate(([0], np.cumsum(row_counts))).astype(X.indptr.dtype)
        return type(X)((X.data[mask], X.indices[mask], indptr), shape=X.shape)

    return part(~test, counts - n_test), part(test, n_test)
