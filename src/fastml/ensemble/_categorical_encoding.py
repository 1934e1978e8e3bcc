"""The booster's categorical preprocessing for NumPy X whose categories are small non-negative
integers (the usual case: codes stored as numbers), in O(n) per column.

scikit-learn's HistGradientBoosting* encode categorical features with an OrdinalEncoder in a
ColumnTransformer (categorical features first, each category replaced by its rank among the
sorted categories seen in fit, unknown and missing values by NaN). On 1M x 14 (4 categorical)
that took 0.6 s of one thread, serial, beside a 7 s fit on two threads: sorts, set differences
and an hstack of float64 copies. Here the categories of a column of integer values are marked
in a table in one pass over the rows, and the rows encoded by a lookup in a second, both in
compiled code (fastml.ensemble._boost_fast; the NumPy reference, which took ten passes a
column, is fastml.reference.boosting's integer_categories and encode_categories): the same
codes (ranks of the sorted distinct values). X of any other kind (DataFrames, other values,
object arrays) keeps scikit-learn's encoder, so the behaviour there is scikit-learn's own.
"""
import numpy as np

from . import _boost_fast

# the largest category value (plus one) taken here: the lookup table of a column has this many
# entries at most
_MAX_TABLE = 1 << 20


class IntegerCategoryEncoder:
    """Fitted on X (the estimator's validated X: a 2-d C-ordered float32 or float64 array) and
    the categorical mask: transform gives the array scikit-learn's ColumnTransformer gives
    (categorical features first, in their order, as their ranks; the others after them,
    unchanged), in X's dtype. fit returns None when a categorical column holds other values
    than NaN and integers in [0, 2**20)."""

    def __init__(self, is_categorical):
        self.is_categorical = np.asarray(is_categorical, dtype=bool)

    @classmethod
    def fit(cls, X, is_categorical, n_threads=1):
        encoder = cls(is_categorical)
        columns = np.flatnonzero(encoder.is_categorical).astype(np.int64)
        categories = _boost_fast.integer_categories(X, columns, _MAX_TABLE, n_threads)
        if any(c is None for c in categories):
            return None
        encoder.categories_ = categories
        encoder._set_tables()
        return encoder

    def _set_tables(self):
        """Each column's table, end to end: a value's rank among categories_ (NaN for values
        not seen in fit)."""
        tables = []
        for c in self.categories_:
            table = np.full(c[-1] + 1 if c.size else 0, np.nan)
            table[c] = np.arange(c.size)
            tables.append(table)
        self._tables = np.concatenate([np.empty(0)] + tables)
        self._table_offsets = np.cumsum([0] + [t.size for t in tables]).astype(np.int64)

    def __getstate__(self):
        # the tables are made again from categories_ when loaded (smaller pickles, and those
        # of an encoder without them load)
        return {k: v for k, v in self.__dict__.items() if k not in ("_tables", "_table_offsets")}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._set_tables()

    def transform(self, X, n_threads=1):
        """X (validated as in fit, n_features columns) encoded; values not seen in fit become
        NaN; ValueError for an infinite categorical value (the OrdinalEncoder's check)."""
        out = np.empty(X.shape, dtype=X.dtype)
        if not _boost_fast.encode_categories(X, self.is_categorical.astype(np.uint8),
                                             self._tables, self._table_offsets, out, n_threads):
            raise ValueError(f"Input contains infinity or a value too large for {X.dtype!r}.")
        return out
