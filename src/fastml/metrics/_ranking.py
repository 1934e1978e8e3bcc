"""Top-k ranking metrics for recommenders, with binary relevance.

Every metric first turns the recommendations into a boolean hit matrix (user x rank) with one
vectorised membership test on (user, item) keys, then reduces it with array operations; only users
with at least one relevant item enter the mean.
"""
from numbers import Integral

import numpy as np
from scipy import sparse

__all__ = ["precision_at_k", "recall_at_k", "ndcg_at_k", "mean_average_precision",
           "mean_reciprocal_rank"]

_PARAMETERS = """\
    Parameters
    ----------
    y_true : sparse matrix of shape (n_users, n_items), or sequence of n_users array-likes
        Relevant (held-out) items of every user. Sparse: the stored nonzero entries of row u are
        the items relevant to user u (stored explicit zeros are not). Sequence: element u holds
        the integer item ids relevant to user u (a repeated id counts once).
    y_pred : array-like of int, shape (n_users, n_recommended)
        Recommended item ids, best first, as returned by a recommender's ``recommend()``. -1 is
        padding (no item) and never a hit; a repeated item is a hit at its first rank only.
    k : {k_doc}
        Only the first k recommendations count. k may exceed n_recommended: the missing ranks
        are misses.

    Returns
    -------
    float
        Mean over the users with at least one relevant item (the others are left out).

    Raises
    ------
    ValueError
        On inconsistent shapes, empty input, k <= 0, negative ids other than -1, ids out of the
        sparse y_true's columns, or when no user has a relevant item.
    TypeError
        When y_pred or y_true hold non-integer ids, or k is not an int.
"""


def _check_k(k, n_recommended):
    if k is None:
        return n_recommended
    if isinstance(k, bool) or not isinstance(k, Integral):
        raise TypeError(f"k must be a positive int or None, got {k!r}")
    if k <= 0:
        raise ValueError(f"k must be a positive int, got {k}")
    return int(k)


def _true_pairs(y_true, n_users):
    """(user, item) pairs of the relevant items, and the number of items (None if unknown)."""
    if sparse.issparse(y_true):
        if y_true.ndim != 2 or y_true.shape[0] != n_users:
            raise ValueError(f"y_true has shape {y_true.shape} but y_pred has {n_users} rows")
        # A canonical copy: duplicates summed first, so that entries summing to 0 are dropped.
        Y = sparse.csr_array(y_true, copy=True)
        Y.sum_duplicates()
        Y.eliminate_zeros()
        users = np.repeat(np.arange(n_users), np.diff(Y.indptr))
        return users, Y.indices.astype(np.int64), Y.shape[1]
    try:
        n_true = len(y_true)
    except TypeError:
        raise TypeError("y_true must be a sparse matrix or a sequence of array-likes of item "
                        f"ids, got {type(y_true).__name__}") from None
    if n_true != n_users:
        raise ValueError(f"y_true has {n_true} rows but y_pred has {n_users} rows")
    # Converting a ragged Python sequence needs one pass over its elements.
    rows = [np.asarray(r) for r in y_true]
    if any(r.ndim != 1 for r in rows):
        raise ValueError("every element of y_true must be a 1-D array-like of item ids")
    lengths = np.array([r.size for r in rows], dtype=np.intp)
    # Empty rows are dropped before concatenating: np.asarray([]) is float64.
    items = [r for r in rows if r.size]
    items = np.concatenate(items) if items else np.empty(0, dtype=np.int64)
    if items.dtype.kind not in "iu":
        raise TypeError(f"y_true must hold integer item ids, got dtype {items.dtype}")
    if items.size and items.min() < 0:
        raise ValueError("y_true holds negative item ids")
    return np.repeat(np.arange(n_users), lengths), items.astype(np.int64), None


def _hits(y_true, y_pred, k):
    """Validate the input; return hits (n_users, min(k, n_recommended)) bool, n_relevant
    (n_users,) int and k."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim != 2:
        raise ValueError(f"y_pred must be a 2-D array of item ids, got ndim={y_pred.ndim}")
    if y_pred.dtype.kind not in "iu":
        raise TypeError(f"y_pred must hold integer item ids, got dtype {y_pred.dtype}")
    n_users, n_recommended = y_pred.shape
    if n_users == 0 or n_recommended == 0:
        raise ValueError(f"y_pred is empty (shape {y_pred.shape})")
    k = _check_k(k, n_recommended)
    if y_pred.min() < -1:
        raise ValueError("y_pred holds negative item ids other than -1 (padding)")
    users, items, n_items = _true_pairs(y_true, n_users)
    if n_items is not None and y_pred.max() >= n_items:
        raise ValueError(f"y_pred holds item ids >= n_items={n_items}, the number of columns "
                         "of y_true")
    if items.size == 0:
        raise ValueError("No user has a relevant item in y_true")

    # Items are renumbered 0..n_vocab-1 by their rank among the relevant ones, so that the
    # (user, item) keys stay below n_users * n_relevant_total whatever the raw ids are.
    vocab, codes = np.unique(items, return_inverse=True)
    n_vocab = vocab.size
    true_keys = np.unique(users * n_vocab + codes.ravel())  # each relevant pair once
    n_relevant = np.bincount(true_keys // n_vocab, minlength=n_users)

    top = y_pred[:, :k].astype(np.int64)
    pos = np.minimum(np.searchsorted(vocab, top), n_vocab - 1)
    keys = np.arange(n_users)[:, None] * n_vocab + pos
    # vocab holds no -1, so padding never matches.
    hit = (vocab[pos] == top) & np.isin(keys, true_keys)
    # A repeated item is a hit only at its first rank: np.unique gives first occurrences, and
    # flat (row-major) order is rank order within a row.
    hit_flat = np.flatnonzero(hit)
    _, first = np.unique(keys.ravel()[hit_flat], return_index=True)
    hits = np.zeros(hit.shape, dtype=bool)
    hits.ravel()[hit_flat[first]] = True
    return hits, n_relevant, k


def _mean_over_relevant(per_user, n_relevant):
    return float(per_user[n_relevant > 0].mean())


def _discounts(n):
    """1 / log2(r + 1) for ranks r = 1..n."""
    return 1.0 / np.log2(np.arange(2, n + 2))


def _shared_doc(k_doc="int, default=10"):
    """Append the Parameters/Returns/Raises sections that every metric shares."""
    def decorate(func):
        func.__doc__ += "\n" + _PARAMETERS.format(k_doc=k_doc)
        return func
    return decorate


@_shared_doc()
def precision_at_k(y_true, y_pred, k=10):
    """Precision at k, averaged over users.

    precision@k = (hits among the first k recommendations) / k. The divisor is k even when
    fewer than k items are recommended (padding or a y_pred narrower than k).
    """
    hits, n_relevant, k = _hits(y_true, y_pred, k)
    return _mean_over_relevant(hits.sum(axis=1) / k, n_relevant)


@_shared_doc()
def recall_at_k(y_true, y_pred, k=10):
    """Recall at k, averaged over users.

    recall@k = (hits among the first k recommendations) / n_relevant, with n_relevant the
    number of distinct relevant items of the user.
    """
    hits, n_relevant, k = _hits(y_true, y_pred, k)
    with np.errstate(divide="ignore", invalid="ignore"):  # users without relevant items
        return _mean_over_relevant(hits.sum(axis=1) / n_relevant, n_relevant)


@_shared_doc()
def ndcg_at_k(y_true, y_pred, k=10):
    """Normalised discounted cumulative gain at k, averaged over users.

    ndcg@k = DCG / IDCG, with DCG = sum over the hit ranks r <= k (1-based) of 1 / log2(r + 1),
    and IDCG the DCG of an ideal list: hits at ranks 1..min(k, n_relevant).
    """
    hits, n_relevant, k = _hits(y_true, y_pred, k)
    dcg = hits @ _discounts(hits.shape[1])
    # The ideal DCG only needs ranks up to the largest min(k, n_relevant), however large k is.
    n_ideal = np.minimum(k, n_relevant)
    ideal = np.concatenate(([0.0], np.cumsum(_discounts(n_ideal.max()))))[n_ideal]
    with np.errstate(divide="ignore", invalid="ignore"):
        return _mean_over_relevant(dcg / ideal, n_relevant)


@_shared_doc()
def mean_average_precision(y_true, y_pred, k=10):
    """Mean average precision at k (MAP@k).

    AP@k = (sum over the hit ranks r <= k of precision@r) / min(k, n_relevant); MAP@k is its
    mean over users.
    """
    hits, n_relevant, k = _hits(y_true, y_pred, k)
    precision_at_rank = np.cumsum(hits, axis=1) / np.arange(1, hits.shape[1] + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        ap = (precision_at_rank * hits).sum(axis=1) / np.minimum(k, n_relevant)
    return _mean_over_relevant(ap, n_relevant)


@_shared_doc(k_doc="int or None, default=None\n        None: all recommendations count.")
def mean_reciprocal_rank(y_true, y_pred, k=None):
    """Mean reciprocal rank (MRR), within the first k recommendations.

    The reciprocal rank is 1 / r for the (1-based) rank r of the first hit among the first k
    recommendations, and 0 when there is none; MRR is its mean over users.
    """
    hits, n_relevant, k = _hits(y_true, y_pred, k)
    first = hits.argmax(axis=1)
    rr = np.where(hits.any(axis=1), 1.0 / (first + 1), 0.0)
    return _mean_over_relevant(rr, n_relevant)
