"""Categorical features of the distributed booster: the single-machine booster's
preprocessing (scikit-learn's OrdinalEncoder of the categorical features, put first by a
ColumnTransformer, or fastml's IntegerCategoryEncoder where X holds integer categories: the
same codes) fitted to the categories of every partition, then applied to each partition where
it lives.

scikit-learn (and so fastml.ensemble's booster) fits its encoder on all the training rows, not
on the bin subsample: the categories are those of every row, each a bin code of its own. Here
each partition lists its own categories with scikit-learn's encoder (its notion of a category
and of a missing value), the client joins the lists, and the booster's preprocessing is fitted
to a few rows that hold each category found once (and the other columns' zeros): an encoder
fitted on them has the categories, their order and the errors (more than max_bins
categories) that a fit on all the rows would have, while only the lists travel.
"""
import dask
import dask.array as da
import numpy as np
from sklearn.preprocessing import OrdinalEncoder

from ._partitions import (as_dask_array, checked_local, compute_in_order, is_dask_collection,
                          is_dataframe, n_rows, row_blocks)


def _is_local_frame(X):
    return not is_dask_collection(X) and hasattr(X, "columns") and hasattr(X, "iloc")


def _partition_categories(block, columns):
    """(rows, each categorical column's categories in this partition, or None if it is
    empty)."""
    n = n_rows(block)
    if n == 0:
        return 0, None
    part = block.iloc[:, columns] if hasattr(block, "iloc") else block[:, columns]
    return n, OrdinalEncoder().fit(part).categories_


def _distinct(values):
    """The distinct values of the joined lists: sorted NumPy values, or pandas' for objects
    (strings beside None or NaN, which NumPy cannot sort)."""
    if values.dtype == object:
        import pandas as pd
        return pd.unique(values)
    return np.unique(values)


def _category_rows(meta, n_features, columns, found):
    """Rows holding every category found in the categorical columns (each column padded with
    its first category) and zeros elsewhere: a DataFrame of meta's names and dtypes for
    dataframes (meta: an empty frame), else a float64 array."""
    lists = []
    for j in range(len(columns)):
        parts = [cats[j] for cats in found if cats is not None]
        lists.append(_distinct(np.concatenate(parts)))
    n = max(len(v) for v in lists)
    lists = [np.concatenate([v, np.repeat(v[:1], n - len(v))]) for v in lists]
    if meta is None:
        rows = np.zeros((n, n_features))
        for c, values in zip(columns, lists):
            rows[:, c] = values
        return rows
    import pandas as pd
    data = {}
    for c, name in enumerate(meta.columns):
        dtype = meta.dtypes.iloc[c]
        if c in columns:
            values = lists[list(columns).index(c)]
            data[name] = (pd.Categorical(values) if isinstance(dtype, pd.CategoricalDtype)
                          else pd.Series(values))
        else:
            data[name] = pd.Series(np.zeros(n)).astype(dtype)
    return pd.DataFrame(data, columns=meta.columns)


def _transformed(preprocessor, block, n_features):
    """One partition through the fitted preprocessing: float64, the categorical features
    first."""
    if n_rows(block) == 0:
        return np.empty((0, n_features))
    return np.ascontiguousarray(preprocessor.transform(block), dtype=np.float64)


def fit_categorical(estimator, X, is_categorical):
    """Fits estimator's preprocessing (is_categorical_, _preprocessor,
    _is_categorical_remapped, n_features_in_, feature_names_in_: the single-machine booster's
    _preprocess_X) to the categories of all of X's partitions. Returns X transformed (a
    persisted dask array, float64, the categorical features first, one block a partition) and
    the known categories of each feature (None for the numerical ones)."""
    columns = np.flatnonzero(is_categorical)
    blocks, meta = _blocks(X)
    n_features = len(is_categorical)
    found = compute_in_order([dask.delayed(_partition_categories)(b, columns) for b in blocks])
    if sum(n for n, _ in found) == 0:
        raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
    rows = _category_rows(meta, n_features, columns, [cats for _, cats in found])
    _, known_categories = estimator._preprocess_X(rows, reset=True)
    return (_transformed_blocks(estimator._preprocessor, blocks, [n for n, _ in found],
                                n_features), known_categories)


def transform_categorical(estimator, X):
    """X's partitions through estimator's fitted preprocessing (as fit_categorical's), where
    they live: a persisted float64 dask array, the categorical features first."""
    blocks, _ = _blocks(X)
    lengths = compute_in_order([dask.delayed(n_rows)(b) for b in blocks])
    return _transformed_blocks(estimator._preprocessor, blocks, lengths,
                               estimator.n_features_in_)


def _blocks(X):
    """X's partitions and, for dataframes, their meta (an empty frame of the names and
    dtypes): a local frame or array is one partition."""
    if _is_local_frame(X):
        return [X], X.iloc[:0]
    if is_dataframe(X):
        return row_blocks(X), X._meta
    return row_blocks(as_dask_array(checked_local(X, allow_nan=True))), None


def _transformed_blocks(preprocessor, blocks, lengths, n_features):
    parts = [da.from_delayed(dask.delayed(_transformed)(preprocessor, b, n_features),
                             shape=(n, n_features), dtype=np.float64)
             for b, n in zip(blocks, lengths)]
    X = da.concatenate(parts) if len(parts) > 1 else parts[0]
    return X.persist()
