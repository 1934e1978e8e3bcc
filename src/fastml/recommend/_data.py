"""Interaction data in, CSR out: the one place where recommender input is read and checked."""
from numbers import Integral

import numpy as np
import scipy.sparse as sp
from sklearn.utils.validation import check_array, check_non_negative, validate_data

from .._config import get_config


def _ids(values, name):
    ids = np.asarray(values)
    if ids.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {ids.shape}")
    if ids.size and not np.issubdtype(ids.dtype, np.integer):
        if not (np.issubdtype(ids.dtype, np.floating) and np.all(ids == np.round(ids))):
            raise TypeError(f"{name} must hold integer ids, got dtype {ids.dtype}")
    ids = ids.astype(np.int64)
    if ids.size and ids.min() < 0:
        raise ValueError(f"{name} must be non-negative, found {ids.min()}")
    return ids


def _triplets_to_csr(X, dtype, shape):
    if len(X) not in (2, 3):
        raise ValueError("triplet input must be (user_ids, item_ids) or "
                         f"(user_ids, item_ids, values), got a tuple of {len(X)}")
    users, items = _ids(X[0], "user_ids"), _ids(X[1], "item_ids")
    values = np.ones(len(users)) if len(X) == 2 else np.asarray(X[2])
    if values.ndim != 1 or not (len(users) == len(items) == len(values)):
        raise ValueError("user_ids, item_ids and values must be 1-D and of equal length, got "
                         f"{len(users)}, {len(items)} and {np.shape(values)}")
    if values.dtype.kind not in "biuf":
        raise TypeError(f"values must be numeric, got dtype {values.dtype}")
    shape = (None, None) if shape is None else shape
    n_users = shape[0] if shape[0] is not None else (int(users.max()) + 1 if len(users) else 0)
    n_items = shape[1] if shape[1] is not None else (int(items.max()) + 1 if len(items) else 0)
    if len(users) and (users.max() >= n_users or items.max() >= n_items):
        raise ValueError(f"ids beyond the shape ({n_users}, {n_items}): user id {users.max()}, "
                         f"item id {items.max()}")
    return sp.csr_matrix((values.astype(dtype), (users, items)), shape=(n_users, n_items))


_SPARSE_FORMATS = ("csr", "csc", "coo", "lil", "dok", "bsr", "dia")


def check_interactions(X, dtype, *, estimator=None, reset=True, shape=None, non_negative=False,
                       allow_empty=False):
    """The users x items matrix as canonical CSR of `dtype`.

    X is a scipy.sparse matrix (any format), a dense array (zeros are missing entries) or
    triplets ``(user_ids, item_ids[, values])`` (values default to 1). Duplicate entries are
    summed and explicit zeros dropped: an entry is an interaction or a rating, never a stored 0.
    A matrix is validated by scikit-learn's validate_data against `estimator` (which records or,
    with reset=False, checks n_features_in_, the number of items); triplets are read in `shape`
    when given.
    """
    if isinstance(X, tuple):
        R = _triplets_to_csr(X, dtype, shape)
    else:
        kwargs = dict(accept_sparse=_SPARSE_FORMATS, dtype=(np.float64, np.float32),
                      ensure_all_finite=False, ensure_min_samples=1 if not allow_empty else 0)
        if estimator is not None:
            X = validate_data(estimator, X, reset=reset, **kwargs)
        else:
            X = check_array(X, input_name="X", **kwargs)
        R = sp.csr_matrix(X, dtype=dtype, copy=True)
        if shape is not None and R.shape[1] != shape[1]:
            raise ValueError(f"X has {R.shape[1]} items (columns), expected {shape[1]}")
    R.sum_duplicates()
    if not np.all(np.isfinite(R.data)):
        raise ValueError("X contains NaN or infinity")
    R.eliminate_zeros()
    R.sort_indices()
    if not allow_empty and (R.nnz == 0 or min(R.shape) == 0):
        raise ValueError(f"X holds no interactions (shape {R.shape}, {R.nnz} entries)")
    if non_negative:
        check_non_negative(R, f"{type(estimator).__name__} (interaction strengths)")
    return R


def check_ids(ids, n, name):
    """1-D int64 ids in [0, n)."""
    ids = _ids(np.atleast_1d(ids), name)
    if ids.size and ids.max() >= n:
        raise ValueError(f"{name} must be below {n}, found {ids.max()}")
    return ids


def check_k(k, n_items):
    if isinstance(k, bool) or not isinstance(k, Integral) or k <= 0:
        raise ValueError(f"k must be a positive int, got {k!r}")
    if k > n_items:
        raise ValueError(f"k={k} is larger than the number of items ({n_items})")
    return int(k)


def score_batch_rows(n_items, itemsize):
    """Rows of dense scores that fit in fastml's working memory (at least one)."""
    return max(1, int(get_config()["working_memory"] * 2 ** 20 // (n_items * itemsize)))


def has_interactions(R, rows):
    """Whether each row id is a row of R with at least one entry (ids past R's rows: no)."""
    known = np.zeros(len(rows), bool)
    inside = rows < R.shape[0]
    known[inside] = np.diff(R.indptr)[rows[inside]] > 0
    return known


def seen_rows(R, rows):
    """CSR (indptr, indices) of R's entries in the given rows; an id past R's rows has none."""
    inside = rows < R.shape[0]
    counts = np.zeros(len(rows), np.int64)
    counts[inside] = np.diff(R.indptr)[rows[inside]]
    indptr = np.concatenate(([0], np.cumsum(counts)))
    sub = R[rows[inside]]
    return indptr, sub.indices.astype(np.int64)
