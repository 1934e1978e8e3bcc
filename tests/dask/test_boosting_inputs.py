"""The distributed booster's inputs: categorical features and sparse (CSR) partitions, each
giving the single-machine booster's trees node for node."""
import dask
import dask.array as da
import numpy as np
import pytest
from scipy import sparse
from sklearn.datasets import load_diabetes, load_digits, load_wine

from fastml import ensemble
from fastml.dask import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from .conftest import partitioned, partitioned_sparse
from .test_boosting import assert_same_trees

pd = pytest.importorskip("pandas")
dd = pytest.importorskip("dask.dataframe")


def assert_same_categorical_trees(dist, local):
    assert_same_trees(dist, local)
    n_categorical = 0
    for a, b in zip(dist._predictors, local._predictors):
        for p, q in zip(a, b):
            for name in ("is_categorical", "bitset_idx"):
                np.testing.assert_array_equal(p.nodes[name], q.nodes[name])
            np.testing.assert_array_equal(p.binned_left_cat_bitsets, q.binned_left_cat_bitsets)
            np.testing.assert_array_equal(p.raw_left_cat_bitsets, q.raw_left_cat_bitsets)
            n_categorical += int(q.nodes["is_categorical"].sum())
    assert n_categorical > 0  # the trees split on categories: the test can tell


def _diabetes_with_categories():
    X, y = load_diabetes(return_X_y=True)
    rng = np.random.default_rng(0)
    X[:, 1] = rng.integers(0, 12, len(y)) * 3.0 - 5  # any values: encoded by their rank
    X[::9, 1] = np.nan
    X[:, 4] = rng.integers(0, 5, len(y))
    return X, y + 40 * (np.nan_to_num(X[:, 1]) % 2)


@pytest.mark.parametrize("categorical", [[1, 4], "mask"])
def test_categorical_array_same_trees(client, categorical):
    X, y = _diabetes_with_categories()
    if categorical == "mask":
        categorical = np.isin(np.arange(X.shape[1]), [1, 4])
    params = dict(max_iter=4, max_leaf_nodes=8, early_stopping=False,
                  categorical_features=categorical)
    # a category seen in one partition only (the last rows' 33) is a category all the same
    X[-3:, 1] = 33
    w = np.random.default_rng(2).integers(1, 3, len(y)).astype(float)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, sample_weight=w)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [100, 0, 200, 142]), y,
                                                       sample_weight=w)
    assert_same_categorical_trees(dist, local)
    np.testing.assert_array_equal(dist.is_categorical_, local.is_categorical_)
    np.testing.assert_allclose(dist.predict(X), local.predict(X), rtol=1e-12)
    got = dist.predict(partitioned(X, [300, 142])).compute()
    np.testing.assert_allclose(got, local.predict(X), rtol=1e-12)


def test_categorical_categories_of_every_partition(client, monkeypatch):
    # above the bin subsample the numerical thresholds come from the drawn rows, the categories
    # from all of them: a category met only outside the subsample is still its own bin
    from fastml.dask import _boosting
    from fastml.ensemble import _hist_gradient_boosting
    monkeypatch.setattr(_boosting, "_BIN_SUBSAMPLE", 50)
    monkeypatch.setattr(_hist_gradient_boosting, "_BIN_SUBSAMPLE", 50)
    X, y = _diabetes_with_categories()
    X[-1, 1] = 99  # one row of its own category, in the last partition
    params = dict(max_iter=2, max_leaf_nodes=6, early_stopping=False, random_state=2,
                  categorical_features=[1, 4])
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned(X, [221, 221]), y)
    np.testing.assert_array_equal(dist._thresholds, local._thresholds)
    # the categorical features first: 12 + 1 and 5 categories (NaN is the missing bin)
    np.testing.assert_array_equal(dist._n_bins_non_missing[:2], [13, 5])
    assert_same_categorical_trees(dist, local)


def _frame():
    X, y = load_wine(return_X_y=True)
    rng = np.random.default_rng(1)
    df = pd.DataFrame(X[:, :6], columns=[f"f{i}" for i in range(6)])
    df["colour"] = pd.Categorical(np.array(["red", "blue", "green", "white"])[y + rng.integers(
        0, 2, len(y))])
    df.loc[::10, "colour"] = None
    df["grade"] = pd.Categorical(rng.integers(0, 7, len(y)))
    return df, y


def test_categorical_validation_rows(client):
    # X_val goes through the training partitions' preprocessing, as on one machine
    X, y = _diabetes_with_categories()
    params = dict(max_iter=5, max_leaf_nodes=8, early_stopping=True, n_iter_no_change=2,
                  categorical_features=[1, 4])
    X_val, y_val, X, y = X[:120], y[:120], X[120:], y[120:]
    local = ensemble.HistGradientBoostingRegressor(**params).fit(X, y, X_val=X_val, y_val=y_val)
    dist = HistGradientBoostingRegressor(**params).fit(
        partitioned(X, [150, 172]), y, X_val=partitioned(X_val, [70, 0, 50]), y_val=y_val)
    assert_same_categorical_trees(dist, local)
    np.testing.assert_allclose(dist.validation_score_, local.validation_score_, rtol=1e-12)
    df, y = _frame()
    params = dict(max_iter=3, max_leaf_nodes=6, early_stopping=True, min_samples_leaf=5)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(df[40:], y[40:],
                                                                  X_val=df[:40], y_val=y[:40])
    dist = HistGradientBoostingClassifier(**params).fit(
        dd.from_pandas(df[40:], npartitions=2), y[40:],
        X_val=dd.from_pandas(df[:40], npartitions=2), y_val=y[:40])
    assert_same_categorical_trees(dist, local)


def test_categorical_from_dtype_dataframe(client):
    df, y = _frame()
    params = dict(max_iter=3, max_leaf_nodes=6, early_stopping=False, min_samples_leaf=5)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(df, y)
    ddf = dd.from_pandas(df, npartitions=3)
    dist = HistGradientBoostingClassifier(**params).fit(ddf, dd.from_pandas(pd.Series(y), 3))
    assert_same_categorical_trees(dist, local)
    np.testing.assert_array_equal(dist.is_categorical_, local.is_categorical_)
    np.testing.assert_array_equal(dist.feature_names_in_, df.columns)
    np.testing.assert_allclose(dist.predict_proba(df), local.predict_proba(df), rtol=1e-10)
    np.testing.assert_allclose(dist.predict_proba(ddf).compute(), local.predict_proba(df),
                               rtol=1e-10)


def test_categorical_by_name_and_local_frame(client):
    df, y = _frame()
    df["colour"] = df["colour"].astype(object).fillna("none")  # strings, not a categorical dtype
    params = dict(max_iter=2, max_leaf_nodes=6, early_stopping=False, min_samples_leaf=5,
                  categorical_features=["colour", "f2"])
    local = ensemble.HistGradientBoostingClassifier(**params).fit(df, y)
    with dask.config.set({"dataframe.convert-string": False}):
        ddf = dd.from_pandas(df, npartitions=2)
    for X in (ddf, df):
        dist = HistGradientBoostingClassifier(**params).fit(X, y)
        assert_same_categorical_trees(dist, local)


def test_categorical_errors(client):
    X, y = _diabetes_with_categories()
    with pytest.raises(ValueError, match="dense X only"):
        HistGradientBoostingRegressor(categorical_features=[1]).fit(
            partitioned_sparse(np.nan_to_num(X), [200, 242]), y)
    X[:, 3] = np.arange(len(y))  # more categories than bins, over both partitions together
    with pytest.raises(ValueError, match="cardinality <= 255 but actually has a cardinality "
                                         "of 442"):
        HistGradientBoostingRegressor(categorical_features=[3]).fit(partitioned(X, [221, 221]), y)
    with pytest.raises(ValueError, match="monotonic constraints"):
        HistGradientBoostingRegressor(categorical_features=[1], monotonic_cst=[0, 1] + [0] * 8,
                                      early_stopping=False).fit(partitioned(X, [221, 221]), y)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_sparse_partitions_same_trees(client, dtype):
    X, y = load_digits(return_X_y=True)
    y = y % 3  # three classes: a tree each per iteration
    X = (X - 3).astype(dtype)  # negatives, zeros (implicit and stored) and positives
    X[::13, 5] = np.nan
    Xs = sparse.csr_matrix(X)
    params = dict(max_iter=2, max_leaf_nodes=6, early_stopping=False)
    local = ensemble.HistGradientBoostingClassifier(**params).fit(Xs, y)
    dist = HistGradientBoostingClassifier(**params).fit(
        partitioned_sparse(X, [600, 0, 797, 400]), y)
    assert_same_trees(dist, local)
    dense = ensemble.HistGradientBoostingClassifier(**params).fit(X, y)
    assert_same_trees(dist, dense)
    got = dist.predict_proba(partitioned_sparse(X, [900, 897])).compute()  # CSR blocks walked
    np.testing.assert_allclose(got, local.predict_proba(Xs), rtol=1e-10)
    local_input = HistGradientBoostingClassifier(**params).fit(Xs, y)  # one CSR partition
    assert_same_trees(local_input, local)
    # CSR validation rows, as the single machine takes them
    stop = dict(params, early_stopping=True, n_iter_no_change=1)
    local = ensemble.HistGradientBoostingClassifier(**stop).fit(Xs[300:], y[300:],
                                                                X_val=Xs[:300], y_val=y[:300])
    dist = HistGradientBoostingClassifier(**stop).fit(Xs[300:], y[300:], X_val=Xs[:300],
                                                      y_val=y[:300])
    assert_same_trees(dist, local)
    np.testing.assert_allclose(dist.validation_score_, local.validation_score_, rtol=1e-12)


def test_sparse_bins_from_the_same_subsample(client, monkeypatch):
    from fastml.dask import _boosting
    from fastml.ensemble import _hist_gradient_boosting
    monkeypatch.setattr(_boosting, "_BIN_SUBSAMPLE", 300)
    monkeypatch.setattr(_hist_gradient_boosting, "_BIN_SUBSAMPLE", 300)
    X, y = load_diabetes(return_X_y=True)
    X[np.abs(X) < 0.02] = 0
    params = dict(max_iter=2, max_leaf_nodes=5, early_stopping=False, random_state=1)
    local = ensemble.HistGradientBoostingRegressor(**params).fit(sparse.csr_matrix(X), y)
    dist = HistGradientBoostingRegressor(**params).fit(partitioned_sparse(X, [150, 292]), y)
    np.testing.assert_array_equal(dist._thresholds, local._thresholds)
    assert_same_trees(dist, local)
