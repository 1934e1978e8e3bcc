"""The booster's categorical preprocessing for NumPy X whose categories are small non-negative
integers (the usual case: codes stored as numbers), in O(n) per column.

scikit-learn's HistGradientBoosting* encode categorical features with an OrdinalEncoder in a
ColumnTransformer (categorical features first, each category replaced by its rank among the
sorted categories seen in fit, unknown and missing values by NaN). On 1M x 14 (4 categorical)
that took 0.6 s of one thread, serial, beside a 7 s fit on two threads: sorts, set differences
and an hstack of float64 copies. Here the categories of a column of integer values are found by
a bincount and the ranks looked up in a table, which gives the same codes (ranks of the sorted
distinct values). X of any other kind (DataFrames, other values, object arrays) keeps
scikit-learn's encoder, so the behaviour there is scikit-learn's own.
"""
import numpy as np

# the largest category value (plus one) taken here: the lookup table of a column has this many
# entries at most
_MAX_TABLE = 1 << 20


def _integer_categories(column):
    """The sorted distinct non-missing values of column as int64 if they are all integers in
    [0, _MAX_TABLE), else None."""
    values = column[~np.isnan(column)] if column.dtype.kind == "f" else column
    if not values.size:
        return np.empty(0, dtype=np.int64)
    low, high = values.min(), values.max()
    if not (low >= 0 and high < _MAX_TABLE):
        return None
    as_int = values.astype(np.int64)
    if column.dtype.kind == "f" and not np.array_equal(as_int, values):
        return None
    return np.flatnonzero(np.bincount(as_int, minlength=int(high) + 1))


class IntegerCategoryEncoder:
    """Fitted on X (a 2-d NumPy array of numbers) and the categorical mask: transform gives the
    array scikit-learn's ColumnTransformer gives (categorical features first, in their order,
    as their ranks; the others after them, unchanged), in X's float dtype (float64 for
    integer X). fit returns None when a categorical column does not qualify."""

    def __init__(self, is_categorical):
        self.is_categorical = np.asarray(is_categorical, dtype=bool)

    @classmethod
    def fit(cls, X, is_categorical):
        encoder = cls(is_categorical)
        encoder.categories_ = []
        encoder.tables_ = []
        for f in np.flatnonzero(encoder.is_categorical):
            categories = _integer_categories(X[:, f])
            if categories is None:
                return None
            table = np.full(categories[-1] + 1 if categories.size else 0, np.nan)
            table[categories] = np.arange(categories.size)
            encoder.categories_.append(categories)
            encoder.tables_.append(table)
        return encoder

    def transform(self, X):
        """X (validated, n_features columns) encoded; values not seen in fit become NaN."""
        dtype = X.dtype if X.dtype.kind == "f" else np.float64
        out = np.empty(X.shape, dtype=dtype)
        categorical = np.flatnonzero(self.is_categorical)
        for j, (f, table) in enumerate(zip(categorical, self.tables_)):
            column = X[:, f]
            if column.dtype.kind == "f" and np.isinf(column).any():  # the OrdinalEncoder's check
                raise ValueError(f"Input contains infinity or a value too large for "
                                 f"{column.dtype!r}.")
            known = (column >= 0) & (column < table.size)  # False for NaN
            index = np.where(known, column, 0).astype(np.int64)
            if column.dtype.kind == "f":
                known &= index == column
            out[:, j] = np.where(known, table[index] if table.size else np.nan, np.nan)
        out[:, len(categorical):] = X[:, ~self.is_categorical]
        return out
