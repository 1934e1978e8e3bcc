"""fastml's HistGradientBoosting* with categorical features: the compiled categorical split
search against the NumPy reference, the estimators against scikit-learn's (the same trees, the
same bitsets, unknown categories routed as scikit-learn routes them), pandas categoricals."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import ensemble as sk

from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from fastml.reference import boosting as ref
from tests._assertions import scored_dataset

pytestmark = pytest.mark.usefixtures("one_thread")

from .test_hist_gradient_boosting import _grow  # noqa: E402


@pytest.mark.parametrize("n,n_categories", [(80, 3), (400, 12), (2000, 60)])
@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_root_categorical_split_matches_reference(n, n_categories, constant_hessian, missing,
                                                  rng):
    codes = rng.integers(0, n_categories, (n, 1)).astype(np.uint8)
    codes[rng.random(n) < missing] = ref.MISSING_BIN
    effect = rng.normal(size=256)
    g = (effect[codes[:, 0]] + rng.normal(size=n)).astype(np.float32).astype(np.float64)
    h = (np.ones(n) if constant_hessian
         else rng.random(n).astype(np.float32).astype(np.float64) + 0.1)
    nbnm = np.array([n_categories])
    tree = _grow(codes, g, h, nbnm, constant_hessian, max_leaf_nodes=2, min_samples_leaf=5,
                 is_categorical=np.ones(1, np.uint8))
    expected = ref.best_categorical_split(codes[:, 0], g, h, np.arange(n), n_categories,
                                          min_samples_leaf=5, constant_hessian=constant_hessian)
    if expected is None:
        assert tree.is_leaf[0]
        return
    gain, left = expected
    assert not tree.is_leaf[0] and tree.is_categorical[0]
    bits = tree.cat_bitsets[tree.bitset_idx[0]]
    got = {c for c in range(256) if (bits[c // 32] >> (c % 32)) & 1}
    assert got == left
    assert_allclose(tree.gain[0], gain, rtol=1e-6)  # sums in another order
    if missing:
        assert tree.missing_go_to_left[0] == (ref.MISSING_BIN in left)
    # the rows went where their category's bit says
    n_left = np.isin(codes[:, 0], list(left)).sum()
    assert tree.count[tree.left[0]] == n_left


def _cat_data(n=600, seed=0, ncat=(5, 30), missing=True):
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(size=n), rng.integers(0, ncat[0], n), rng.normal(size=n),
                         rng.integers(0, ncat[1], n)]).astype(float)
    effect = rng.normal(size=ncat[1])
    y = X[:, 0] + (X[:, 1] == 2) * 2 + effect[X[:, 3].astype(int)] + rng.normal(size=n) * 0.3
    if missing:
        X[rng.random(n) < 0.1, 1] = np.nan
        X[rng.random(n) < 0.05, 3] = np.nan
    return X, y


def _assert_same_model(ours, theirs, X):
    assert ours.n_iter_ == theirs.n_iter_
    assert_array_equal(ours.is_categorical_, theirs.is_categorical_)
    n_categorical = 0
    for it_ours, it_theirs in zip(ours._predictors, theirs._predictors):
        for a, b in zip(it_ours, it_theirs):
            for field in ("feature_idx", "bin_threshold", "is_leaf", "left", "right",
                          "missing_go_to_left", "count", "is_categorical", "bitset_idx"):
                assert_array_equal(a.nodes[field], b.nodes[field], err_msg=field)
            assert_allclose(a.nodes["value"], b.nodes["value"], rtol=1e-9, atol=1e-12)
            assert_array_equal(a.binned_left_cat_bitsets, b.binned_left_cat_bitsets)
            assert_array_equal(a.raw_left_cat_bitsets, b.raw_left_cat_bitsets)
            n_categorical += a.nodes["is_categorical"].sum()
    assert_allclose(ours._raw_predict(X), theirs._raw_predict(X), rtol=1e-9, atol=1e-12)
    return n_categorical


@pytest.mark.parametrize("params", [
    dict(), dict(max_depth=3, l2_regularization=1.0, min_samples_leaf=5),
    dict(loss="poisson"), dict(loss="absolute_error"), dict(monotonic_cst=[1, 0, 0, 0]),
    dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2)])
@pytest.mark.parametrize("missing", [False, True])
def test_regressor_categorical_same_model_as_sklearn(params, missing):
    X, y = _cat_data(missing=missing)
    if params.get("loss") == "poisson":
        y = np.exp(y / 3)
    kw = dict(max_iter=10, random_state=0, categorical_features=[1, 3], **params)
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y)
    assert _assert_same_model(ours, theirs, X) > 0
    # unknown categories (and negative values) go the missing values' way, as scikit-learn's
    X_unknown = X.copy()
    X_unknown[:40, 3] = 77
    X_unknown[40:80, 1] = -1
    assert_allclose(ours.predict(X_unknown), theirs.predict(X_unknown), rtol=1e-9)


@pytest.mark.parametrize("n_categories", [8, 40])
def test_tied_category_ratios_sorted_as_sklearn(n_categories):
    # categories whose rows carry the same targets in the same order have the same gradient
    # sums to the bit: their ratios tie, and qsort's order of them (which std::sort, stable on
    # a few, reverses) decides which of them go left
    rows_per_category, types = 30, 4
    k, category = np.divmod(np.arange(n_categories * rows_per_category), n_categories)
    kind = category % types
    y = kind * 1.5 + (k % 3) + (kind == 1) * (k % 2)
    X = np.column_stack([category.astype(float), np.zeros(len(y))])
    kw = dict(max_iter=4, max_leaf_nodes=6, min_samples_leaf=1, random_state=0,
              categorical_features=[0], early_stopping=False)
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y)
    assert _assert_same_model(ours, theirs, X) > 0


@pytest.mark.parametrize("classes", [2, 3])
@pytest.mark.parametrize("weighted", [False, True])
def test_classifier_categorical_same_model_as_sklearn(classes, weighted):
    X, y = _cat_data(seed=1)
    y = np.digitize(y, np.quantile(y, np.linspace(0, 1, classes + 1)[1:-1]))
    sw = np.random.default_rng(0).random(len(y)) if weighted else None
    kw = dict(max_iter=10, random_state=0, categorical_features=[False, True, False, True])
    ours = HistGradientBoostingClassifier(**kw).fit(X, y, sample_weight=sw)
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y, sample_weight=sw)
    assert _assert_same_model(ours, theirs, X) > 0
    assert_allclose(ours.predict_proba(X), theirs.predict_proba(X), rtol=1e-9)
    for a, b in zip(ours.staged_decision_function(X), theirs.staged_decision_function(X)):
        assert_allclose(a, b, rtol=1e-9, atol=1e-12)


def test_shipped_data_with_a_binned_feature_as_categorical():
    # wine with its colour intensity cut into 12 categories
    X, y = scored_dataset("wine")
    X = X.copy()
    X[:, 9] = np.digitize(X[:, 9], np.quantile(X[:, 9], np.linspace(0, 1, 13)[1:-1]))
    mask = np.zeros(X.shape[1], dtype=bool)
    mask[9] = True
    kw = dict(max_iter=15, random_state=0, categorical_features=mask, min_samples_leaf=5)
    ours = HistGradientBoostingClassifier(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y)
    assert _assert_same_model(ours, theirs, X) > 0


def test_pandas_categoricals_from_dtype_and_names():
    pd = pytest.importorskip("pandas")
    X, y = _cat_data(seed=2)
    letters = np.array(list("abcde"))
    colour = pd.Categorical(np.where(np.isnan(X[:, 1]), None,
                                     letters[np.nan_to_num(X[:, 1]).astype(int)]))
    df = pd.DataFrame({"a": X[:, 0], "colour": colour, "b": X[:, 2], "code": X[:, 3]})
    ours = HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(df, y)
    theirs = sk.HistGradientBoostingRegressor(max_iter=10, random_state=0).fit(df, y)
    assert_array_equal(ours.is_categorical_, [False, True, False, False])
    assert _assert_same_model(ours, theirs, df) > 0
    kw = dict(max_iter=10, random_state=0, categorical_features=["colour", "code"])
    ours = HistGradientBoostingRegressor(**kw).fit(df, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(df, y)
    _assert_same_model(ours, theirs, df)
    unseen = df.iloc[:20].copy()
    unseen["colour"] = pd.Categorical(["z"] * 20)
    assert_allclose(ours.predict(unseen), theirs.predict(unseen), rtol=1e-9)


def test_categorical_model_n_jobs_pickle_one_row():
    X, y = _cat_data(n=3000, ncat=(8, 120))
    models = [HistGradientBoostingRegressor(max_iter=8, random_state=0, n_jobs=j,
                                            categorical_features=[1, 3]).fit(X, y)
              for j in (1, 2)]
    for a, b in zip(models[0]._predictors, models[1]._predictors):
        assert_array_equal(a[0].nodes, b[0].nodes)
        assert_array_equal(a[0].binned_left_cat_bitsets, b[0].binned_left_cat_bitsets)
    model = models[0]
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(X), model.predict(X))
    rows = np.array([model.predict(X[i:i + 1])[0] for i in range(10)])
    assert_array_equal(rows, model.predict(X[:10]))


def test_categorical_errors_as_sklearn():
    X, y = _cat_data()
    with pytest.raises(ValueError, match="monotonic constraints"):
        HistGradientBoostingRegressor(categorical_features=[1], monotonic_cst=[0, 1, 0, 0],
                                      max_iter=2).fit(X, y)
    # more than max_bins categories: fitted (scikit-learn raises), see test_hgb_wide_categories


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.int64])
def test_integer_category_encoding_as_sklearn_ordinal_encoder(dtype, rng):
    # NumPy X whose categories are integers takes fastml's O(n) encoder: the same encoded
    # matrix as scikit-learn's ColumnTransformer (categorical first, ranks, unknown -> NaN)
    X, y = _cat_data(missing=dtype is not np.int64)
    X[:, 3] *= 7  # sparse integer categories: ranks differ from the values
    X = X.astype(dtype) if dtype is not np.int64 else np.nan_to_num(X).astype(dtype)
    kw = dict(max_iter=5, random_state=0, categorical_features=[1, 3])
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y)
    assert type(ours._preprocessor).__name__ == "IntegerCategoryEncoder"
    _assert_same_model(ours, theirs, X)
    X_new = X[:60].copy()
    if dtype is not np.int64:
        X_new[:6, 1] = [np.nan, 2.5, 1e30, -0.0, -3.0, 4.0000001]  # unknown / known values
    X_new[6:12, 3] = [1, 700, -7, 0, 14, 209]
    expected = theirs._preprocessor.transform(X_new)
    got = ours._preprocess_X(X_new, reset=False)
    assert got.dtype == (np.float64 if dtype is np.int64 else dtype)
    assert_array_equal(got.astype(np.float64), expected)
    assert_allclose(ours.predict(X_new), theirs.predict(X_new), rtol=1e-9)
    if dtype is not np.int64:
        X_new[20, 3] = np.inf
        for model in (ours, theirs):
            with pytest.raises(ValueError, match="infinity"):
                model.predict(X_new)


def test_non_integer_categories_keep_sklearn_encoder():
    X, y = _cat_data()
    X[:, 3] = X[:, 3] / 4 - 2  # negative and fractional category values
    kw = dict(max_iter=5, random_state=0, categorical_features=[1, 3])
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y)
    assert type(ours._preprocessor).__name__ == "ColumnTransformer"
    _assert_same_model(ours, theirs, X)


def test_compiled_category_encoding_equals_reference(dtype, rng):
    # the compiled integer_categories and encode_categories (fastml.ensemble._boost_fast)
    # against the NumPy reference: qualifying columns (integers, -0.0, NaN, all NaN) and
    # columns that fall back to scikit-learn's encoder (a negative, a fraction, an infinity, a
    # value at the table limit), then new rows with unknown values, one and two threads
    from fastml.ensemble import _boost_fast
    from fastml.ensemble._categorical_encoding import _MAX_TABLE

    n = 500
    X = rng.normal(size=(n, 9)).astype(dtype)
    X[:, 1] = rng.integers(0, 7, n) * 3
    X[:, 2] = np.where(rng.random(n) < 0.2, np.nan, rng.integers(0, 300, n))
    X[:3, 2] = -0.0
    X[:, 3] = np.nan
    X[:, 4:] = rng.integers(0, 5, (n, 5))
    X[7, 4], X[8, 5], X[9, 6], X[10, 7] = -1, 2.5, np.inf, _MAX_TABLE
    X[11, 8] = _MAX_TABLE - 1
    columns = np.arange(1, 9, dtype=np.int64)
    for n_threads in (1, 2):
        got = _boost_fast.integer_categories(X, columns, _MAX_TABLE, n_threads)
        for f, categories in zip(columns, got):
            expected = ref.integer_categories(X[:, f], _MAX_TABLE)
            if expected is None:
                assert categories is None, f
            else:
                assert_array_equal(categories, expected)
    assert [c is None for c in got] == [False] * 3 + [True] * 4 + [False]

    is_categorical = np.zeros(9, dtype=bool)
    is_categorical[[1, 2, 3, 8]] = True
    tables = []
    for f in (1, 2, 3, 8):
        categories = ref.integer_categories(X[:, f], _MAX_TABLE)
        table = np.full(categories[-1] + 1 if categories.size else 0, np.nan)
        table[categories] = np.arange(categories.size)
        tables.append(table)
    X_new = X.copy()
    X_new[:20, 1] = [np.nan, -3, -0.0, 0, 1, 2.5, 3, 18, 19, 21, 1e30, -1e30, 6, 9, 12, 15, 0.5,
                     3.0000002, 2.9999998, 1e6]
    X_new[:4, 3] = [0, 1, -1, np.nan]
    offsets = np.cumsum([0] + [t.size for t in tables]).astype(np.int64)
    expected = ref.encode_categories(X_new, is_categorical, tables)
    for n_threads in (1, 2):
        out = np.empty_like(X_new)
        assert _boost_fast.encode_categories(X_new, is_categorical.astype(np.uint8),
                                             np.concatenate(tables), offsets, out, n_threads)
        assert_array_equal(out, expected)
    X_new[30, 8] = -np.inf
    with pytest.raises(ValueError, match="infinity"):
        ref.encode_categories(X_new, is_categorical, tables)
    assert not _boost_fast.encode_categories(X_new, is_categorical.astype(np.uint8),
                                             np.concatenate(tables), offsets,
                                             np.empty_like(X_new), 1)
