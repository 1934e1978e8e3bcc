"""ItemKNN: item-item collaborative filtering on fastml's compiled cosine neighbour search."""
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from .._backend import effective_n_threads
from ..neighbors import NearestNeighbors
from ..utils._sklearn_compat import Interval, StrOptions, fit_context
from . import _kernels_cpu
from ._data import (check_ids, check_interactions, check_k, has_interactions,
                    score_batch_rows, seen_rows)


def _decayed_triplets(X, timestamps, half_life):
    """Triplets with each value scaled by 0.5 ** (age / half_life), age from the latest time."""
    if not isinstance(X, tuple):
        raise TypeError("timestamps need triplet input: fit((user_ids, item_ids[, values]), "
                        "timestamps=...)")
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.shape != (len(X[0]),):
        raise ValueError(f"timestamps must be 1-D with one time per interaction "
                         f"({len(X[0])}), got shape {timestamps.shape}")
    if not np.all(np.isfinite(timestamps)):
        raise ValueError("timestamps contain NaN or infinity")
    values = np.ones(len(X[0])) if len(X) == 2 else np.asarray(X[2], dtype=np.float64)
    if half_life is not None and len(timestamps):
        values = values * 0.5 ** ((timestamps.max() - timestamps) / half_life)
    return X[0], X[1], values


class ItemKNN(BaseEstimator):
    """Item-item collaborative filtering: an item is recommended for its similarity to the
    items the user interacted with.

    Each item is a vector over users (its column of the users x items matrix). Its
    ``n_neighbors`` most similar items are kept, and a user's score for item j is
    sum over the user's items i of r_ui * similarity(i, j).

    Parameters
    ----------
    n_neighbors : int, default=50
        Neighbours kept per item.
    similarity : {"cosine", "pearson"}, default="cosine"
        "pearson" is the cosine of the item vectors after subtracting each item's mean over the
        users who interacted with it (so the matrix stays sparse); it can be negative.
    iuf : bool, default=False
        Inverse user frequency: weigh user u by log(n_items / n_items_u) in the similarities,
        so that users who interact with everything say less about which items go together.
    half_life : float, default=None
        Time decay: with ``timestamps`` in fit, an interaction's value is scaled by
        0.5 ** (age / half_life), age counted back from the latest timestamp (same units).
    n_jobs : int, default=None
        Threads; None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    similarity_ : scipy.sparse.csr_matrix (n_items, n_items)
        Row i holds item i's neighbours and their similarities (the item itself left out,
        zero similarities dropped).
    n_users_, n_items_ : int
    item_popularity_ : ndarray (n_items,)
        Interactions per item: the ranking given to unknown users.

    Notes
    -----
    Input as for MatrixFactorization: a users x items sparse matrix, a dense array (zeros are
    missing) or triplets ``(user_ids, item_ids[, values])``; values must be non-negative.
    Unknown users (an id >= n_users_ or no interactions) get the most popular items.
    """

    _parameter_constraints = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "similarity": [StrOptions({"cosine", "pearson"})],
        "iuf": ["boolean"],
        "half_life": [Interval(Real, 0, None, closed="neither"), None],
        "n_jobs": [Integral, None],
    }

    def __init__(self, n_neighbors=50, *, similarity="cosine", iuf=False, half_life=None,
                 n_jobs=None):
        self.n_neighbors = n_neighbors
        self.similarity = similarity
        self.iuf = iuf
        self.half_life = half_life
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.input_tags.positive_only = True
        return tags

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, timestamps=None):
        """Compute the item neighbourhoods.

        Parameters
        ----------
        X : sparse matrix, array-like or tuple (user_ids, item_ids[, values])
        y : ignored
        timestamps : array-like of shape (n_interactions,), default=None
            One time per triplet of X, for ``half_life``.

        Returns
        -------
        self
        """
        if timestamps is not None:
            X = _decayed_triplets(X, timestamps, self.half_life)
        R = check_interactions(X, np.float64, estimator=self, non_negative=True)
        if isinstance(X, tuple):
            self.n_features_in_ = R.shape[1]
        n_users, n_items = R.shape
        items = R.T.tocsr()  # items x users
        if self.iuf:
            per_user = np.diff(R.indptr)
            weight = np.log(n_items / np.maximum(per_user, 1))
            items = items @ sp.diags(weight)
        if self.similarity == "pearson":
            counts = np.diff(items.indptr)
            means = np.asarray(items.sum(axis=1)).ravel() / np.maximum(counts, 1)
            items.data -= np.repeat(means, counts)
            items.eliminate_zeros()
        n_neighbors = min(self.n_neighbors + 1, n_items)
        search = NearestNeighbors(n_neighbors=n_neighbors, metric="cosine", n_jobs=self.n_jobs)
        distances, neighbors = search.fit(items).kneighbors(items)
        similarity = 1.0 - distances
        rows = np.repeat(np.arange(n_items), n_neighbors)
        keep = (neighbors.ravel() != rows) & (similarity.ravel() != 0)
        # Of each row, the n_neighbors best other items (the item itself may be missing when
        # its vector is zero or tied with others).
        rank = np.cumsum(keep.reshape(n_items, -1), axis=1).ravel()
        keep &= rank <= self.n_neighbors
        self.similarity_ = sp.csr_matrix(
            (similarity.ravel()[keep], (rows[keep], neighbors.ravel()[keep])),
            shape=(n_items, n_items))
        self.n_users_, self.n_items_ = n_users, n_items
        self.item_popularity_ = np.bincount(R.indices, minlength=n_items)
        self._interactions = R
        return self

    def _top_k(self, n_rows, score_block, seen, k):
        return _kernels_cpu.batched_top_k(n_rows, score_block, *seen, k,
                                          score_batch_rows(self.n_items_, 8), np.float64,
                                          effective_n_threads(self.n_jobs))

    def recommend(self, user_ids, k=10, filter_seen=True):
        """The k best items for each user, best first.

        Returns
        -------
        items : ndarray (n_users, k) of int64, -1 where fewer than k items are left
        scores : ndarray (n_users, k) of float64, -inf where items is -1
        """
        check_is_fitted(self)
        user_ids = check_ids(user_ids, np.iinfo(np.int64).max, "user_ids")
        k = check_k(k, self.n_items_)
        known = has_interactions(self._interactions, user_ids)

        def score_block(start, stop):
            rows = slice(start, stop)
            scores = np.empty((stop - start, self.n_items_))
            users = user_ids[rows][known[rows]]
            scores[known[rows]] = (self._interactions[users] @ self.similarity_).toarray()
            scores[~known[rows]] = self.item_popularity_
            return scores

        seen_ids = user_ids if filter_seen else np.full(len(user_ids), self.n_users_)
        return self._top_k(len(user_ids), score_block, seen_rows(self._interactions, seen_ids), k)

    def similar_items(self, item_ids, k=10):
        """The k most similar items of each item (among its n_neighbors), best first.

        Returns
        -------
        items : ndarray (n_items, k) of int64, -1 where the item has fewer neighbours
        scores : ndarray (n_items, k) of float64, the similarities, -inf where items is -1
        """
        check_is_fitted(self)
        item_ids = check_ids(item_ids, self.n_items_, "item_ids")
        k = check_k(k, self.n_items_ - 1)

        def score_block(start, stop):
            scores = np.full((stop - start, self.n_items_), -np.inf)
            coo = self.similarity_[item_ids[start:stop]].tocoo()
            scores[coo.row, coo.col] = coo.data
            return scores

        no_seen = (np.zeros(len(item_ids) + 1, np.int64), np.zeros(0, np.int64))
        return self._top_k(len(item_ids), score_block, no_seen, k)
