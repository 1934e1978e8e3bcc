"""Bin thresholds for the histogram split search, and the codes of the data in them.

A feature with at most ``max_bins`` distinct values gets a threshold between every two of them,
so the histogram search sees every split the exact search sees. Otherwise the thresholds sit
between the values at ``max_bins`` evenly spaced ranks of (a subsample of) the column. Every
threshold lies strictly between two data values (scikit-learn's midpoint rule), so routing a raw
value with ``x <= threshold`` agrees with its code.
"""
import numpy as np

from ..utils._threads import for_each_in_threads
from . import _cart

# Rows the thresholds are chosen from, as scikit-learn's HistGradientBoosting does.
SUBSAMPLE = 200_000
# Rows from which bin_thresholds shares its columns between threads.
THREADED_ROWS = 20_000
# scikit-learn's splitter takes values no more than this apart for one value
FEATURE_THRESHOLD = 1e-7


def _midpoints(low, high):
    """scikit-learn's split threshold between values low < high: their midpoint kept below high."""
    mid = low / 2.0 + high / 2.0
    return np.where((mid == high) | np.isinf(mid), low, mid)


def bin_thresholds(X, max_bins, random_state, n_threads=1):
    """Thresholds of every feature, (n_features, N_BINS) float64 padded with +inf.

    Parameters
    ----------
    X : ndarray (n_samples, n_features), float32 or float64; NaN ignored.
    max_bins : int in [2, 255]
    random_state : RandomState choosing the subsample when X has more than SUBSAMPLE rows.
    n_threads : columns are sorted on this many threads (numpy's sort and the array operations
        release the GIL); each column's thresholds are its own, so any count gives the same.
    """
    n_rows, n_features = X.shape
    if n_rows > SUBSAMPLE:
        X = X[np.sort(random_state.choice(n_rows, SUBSAMPLE, replace=False))]
    thresholds = np.full((n_features, _cart.N_BINS), np.inf)

    def fill(f):
        edges = _column_thresholds(X[:, f], max_bins)
        thresholds[f, :len(edges)] = edges

    # A forest's binning is serial time between its parallel tree growing (a tenth of a 30-tree
    # fit of 100k x 20 on one thread); a thread's start (~0.1 ms and a malloc arena) outweighs
    # sorting short columns
    for_each_in_threads(fill, n_features, n_threads if len(X) >= THREADED_ROWS else 1)
    return thresholds


def _column_thresholds(column, max_bins):
    """bin_thresholds of one column (its NaN ignored), ascending, at most max_bins - 1."""
    column = np.sort(column)  # in X's dtype: float32 sorts twice as fast
    column = column[~np.isnan(column)].astype(np.float64)
    if len(column) == 0:
        return column
    # runs of values each within FEATURE_THRESHOLD of the next are one value, as to
    # scikit-learn's exact splitter: no threshold inside a run
    starts = np.flatnonzero(np.r_[True, column[1:] > column[:-1] + FEATURE_THRESHOLD])
    firsts = column[starts]
    lasts = column[np.r_[starts[1:] - 1, len(column) - 1]]
    if len(starts) <= max_bins:
        return _midpoints(lasts[:-1], firsts[1:])
    # the runs at evenly spaced ranks, each cut from the next run above it
    ranks = (np.arange(1, max_bins) * len(column)) // max_bins
    runs = np.unique(np.searchsorted(starts, ranks, side="right") - 1)
    runs = runs[runs < len(starts) - 1]
    return _midpoints(lasts[runs], firsts[runs + 1])


def _sparse_sample(csc, csr, shape, random_state):
    """The rows bin_thresholds draws from X (more than SUBSAMPLE rows) as (n_rows, csc), or None;
    taken from csr where given (from csc, a CSR copy of all of X is made first)."""
    n_rows = shape[0]
    if n_rows <= SUBSAMPLE:
        return None
    import scipy.sparse as sp

    rows = np.sort(random_state.choice(n_rows, SUBSAMPLE, replace=False))
    X = (sp.csc_matrix((csc[2], csc[1], csc[0]), shape=shape).tocsr() if csr is None
         else sp.csr_matrix((csr[2], csr[1], csr[0]), shape=shape))
    X = X[rows].tocsc()
    X.sort_indices()
    return SUBSAMPLE, (X.indptr.astype(np.int64), X.indices.astype(np.int32), X.data)


def sparse_bin_thresholds(csc, shape, max_bins, random_state):
    """bin_thresholds of sparse X, equal to those of X densified, computed in compiled code from
    its stored values (each column's rows not stored counted as one run of zeros), never
    densified. csc: X's CSC columns (indptr int64, indices int32, data), canonical, no NaN.
    Returns (offsets, thresholds), feature f's thresholds thresholds[offsets[f]:offsets[f + 1]]
    (a compact layout: a dense (n_features, N_BINS) table takes 100 MB at 50k features)."""
    sample = _sparse_sample(csc, None, shape, random_state)
    return _cart.sparse_bin_thresholds(*(sample or (shape[0], csc)), max_bins)


def sparse_bins(csc, csr, shape, max_bins, random_state, n_threads=1):
    """The histogram search's codes of sparse X (csc, and csr or None, as the core takes them):
    (csc_codes, csr_codes, zero_codes, bin_start), each value's bin among the thresholds
    sparse_bin_thresholds gives, computed and used column by column (never all held: 8 bytes per
    distinct value, as much as X's data), the columns on n_threads threads."""
    return _cart.sparse_bins(shape[0], csc, csr, max_bins,
                             _sparse_sample(csc, csr, shape, random_state), n_threads)
