"""Categorical features of more categories than max_bins ("wide": uint16 codes, histograms and
bitsets sized to their categories), which scikit-learn rejects: the compiled split search
against the NumPy reference, the wide code path against the uint8 one and, run on features
scikit-learn takes, against scikit-learn's models; predictions on raw X against binned X,
unknown categories, the three encoders, pickling, n_jobs."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn import ensemble as sk

from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from fastml.ensemble import _hist_gradient_boosting as hgb
from fastml.reference import boosting as ref

from .test_hist_gradient_boosting import _grow

pytestmark = pytest.mark.usefixtures("one_thread")


def _bits(bitset):
    return {c for c in range(32 * len(bitset)) if (bitset[c // 32] >> (c % 32)) & 1}


def _grow_wide(numeric, wide, g, h, nbnm, constant_hessian, **kwargs):
    """A tree on a uint8 numerical feature and a wide categorical one (uint16 codes; its
    uint8 column, not read, tells _grow where it has missing values)."""
    codes = np.column_stack([numeric, np.where(wide == nbnm[1], ref.MISSING_BIN, 0)]).astype(
        np.uint8)
    return _grow(codes, g, h, np.array([nbnm[0], nbnm[1]]), constant_hessian,
                 is_categorical=np.array([0, 1], np.uint8),
                 wide_codes=np.asfortranarray(wide.reshape(-1, 1), dtype=np.uint16),
                 wide_features=np.array([1], np.int64), **kwargs)


@pytest.mark.parametrize("n,n_categories", [(3000, 300), (3000, 700), (4000, 4000)])
@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("missing", [0.0, 0.1])
def test_wide_root_split_matches_reference(n, n_categories, constant_hessian, missing, rng):
    # half the rows in 40 categories spread over the codes (enough support to be sorted),
    # the others anywhere
    hot = rng.choice(n_categories, 40, replace=False)
    wide = np.where(rng.random(n) < 0.5, hot[rng.integers(0, 40, n)],
                    rng.integers(0, n_categories, n)).astype(np.uint16)
    wide[rng.random(n) < missing] = n_categories  # a wide feature's missing code
    effect = rng.normal(size=n_categories + 1) * 3
    g = (effect[wide] + rng.normal(size=n)).astype(np.float32).astype(np.float64)
    h = (np.ones(n) if constant_hessian
         else rng.random(n).astype(np.float32).astype(np.float64) + 0.1)
    numeric = np.zeros(n, np.uint8)  # one bin: never split
    tree = _grow_wide(numeric, wide, g, h, [1, n_categories], constant_hessian,
                      max_leaf_nodes=2, min_samples_leaf=1)
    expected = ref.best_categorical_split(wide, g, h, np.arange(n), n_categories,
                                          min_samples_leaf=1, constant_hessian=constant_hessian,
                                          missing_code=n_categories)
    assert expected is not None and not tree.is_leaf[0] and tree.feature[0] == 1
    gain, left = expected
    assert tree.cat_bitsets.shape[1] == max(8, n_categories // 32 + 1)
    assert _bits(tree.cat_bitsets[tree.bitset_idx[0]]) == left
    assert_allclose(tree.gain[0], gain, rtol=1e-6)  # sums in another order
    assert tree.missing_go_to_left[0] == (missing > 0 and n_categories in left)
    assert tree.count[tree.left[0]] == np.isin(wide, list(left)).sum()
    assert max(left - {n_categories}) > 255  # codes past a byte's take part


@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("n_categories", [5, 120, 255])
def test_wide_codes_grow_the_uint8_tree(constant_hessian, n_categories, rng):
    # a categorical feature that fits a byte grown as wide (uint16 codes, missing coded
    # n_categories) gives the tree of its uint8 codes (missing MISSING_BIN): the same splits,
    # rows and values; only the missing values' bit sits elsewhere
    n = 2000
    numeric = rng.integers(0, 40, n).astype(np.uint8)
    cats = rng.integers(0, n_categories, n)
    is_missing = rng.random(n) < 0.1
    g = (rng.normal(size=n_categories)[cats] + numeric / 20 + rng.normal(size=n)).astype(
        np.float32).astype(np.float64)
    h = np.ones(n) if constant_hessian else rng.random(n) + 0.1
    narrow = np.column_stack([numeric, np.where(is_missing, ref.MISSING_BIN, cats)]).astype(np.uint8)
    common = dict(max_leaf_nodes=15, min_samples_leaf=5, n_threads=2)
    a = _grow(narrow, g, h, np.array([40, n_categories]), constant_hessian,
              is_categorical=np.array([0, 1], np.uint8), **common)
    b = _grow_wide(numeric, np.where(is_missing, n_categories, cats), g, h, [40, n_categories],
                   constant_hessian, **common)
    for field in ("feature", "bin_threshold", "is_leaf", "left", "right", "missing_go_to_left",
                  "count", "is_categorical", "bitset_idx", "leaf_start", "leaf_stop", "rows"):
        assert_array_equal(getattr(a, field), getattr(b, field), err_msg=field)
    assert_array_equal(a.value, b.value)
    assert_array_equal(a.gain, b.gain)
    for bits_a, bits_b in zip(a.cat_bitsets, b.cat_bitsets):
        sa, sb = _bits(bits_a), _bits(bits_b)
        assert sa - {ref.MISSING_BIN} == sb - {n_categories}
        assert (ref.MISSING_BIN in sa) == (n_categories in sb)


@pytest.mark.parametrize("wide_at", [(0,), (6,), (0, 1), (2,), (0, 3)])
@pytest.mark.parametrize("constant_hessian", [False, True])
def test_row_codes_beside_wide_features_grow_the_same_tree(wide_at, constant_hessian, rng):
    # the narrow features filled row-wise from row_codes and the wide ones in the same pass,
    # from their two bytes there (on several threads, beside a share of the narrow ones): the
    # tree of the column-wise fill, for any thread count; narrow features that are not a run
    # (a wide one between them) keep the column-wise fill
    n, d, n_categories = 3000, 7, 700
    codes = (rng.random((n, d)) * rng.integers(2, 60, d)).astype(np.uint8)
    codes[rng.random((n, d)) < 0.05] = ref.MISSING_BIN
    nbnm = codes.max(axis=0, where=codes != ref.MISSING_BIN, initial=0).astype(np.int64) + 1
    # half the rows in 40 categories spread over the codes (enough support to be split on)
    hot = rng.choice(n_categories, 40, replace=False)
    shape = (n, len(wide_at))
    wide = np.where(rng.random(shape) < 0.5, hot[rng.integers(0, 40, shape)],
                    rng.integers(0, n_categories, shape)).astype(np.uint16)
    wide[rng.random(wide.shape) < 0.05] = n_categories
    g = (3 * rng.normal(size=n_categories + 1)[wide].sum(axis=1) + codes[:, -1] / 20
         + rng.normal(size=n)).astype(np.float32).astype(np.float64)
    h = np.ones(n) if constant_hessian else rng.random(n) + 0.1
    for j, f in enumerate(wide_at):
        codes[:, f] = np.where(wide[:, j] == n_categories, ref.MISSING_BIN, 7)  # not read
        nbnm[f] = n_categories
    is_categorical = np.isin(np.arange(d), wide_at).astype(np.uint8)
    kw = dict(is_categorical=is_categorical, wide_codes=np.asfortranarray(wide),
              wide_features=np.array(wide_at, np.int64), min_samples_leaf=5)
    base = _grow(codes, g, h, nbnm, constant_hessian, n_threads=1, **kw)
    assert base.is_leaf.sum() > 10 and np.isin(base.feature[base.is_leaf == 0], wide_at).any()
    full = codes.astype(np.uint16)
    full[:, list(wide_at)] = wide
    row_codes = hgb.row_major_codes(full, np.array(wide_at, np.int64))
    assert row_codes.shape == (n, d + len(wide_at))
    for n_threads in (1, 2, 3):
        tree = _grow(codes, g, h, nbnm, constant_hessian, n_threads=n_threads,
                     row_codes=row_codes, **kw)
        for field in ("feature", "bin_threshold", "is_leaf", "left", "right", "count",
                      "missing_go_to_left", "value", "gain", "cat_bitsets", "rows"):
            assert_array_equal(getattr(tree, field), getattr(base, field), err_msg=field)


def test_row_codes_with_wide_features_checked(rng):
    # row_codes carries the wide features' high bytes in columns of its own: the old shape is
    # refused; a code there past the missing one (row_codes and wide_codes disagreeing) is read
    # as the missing code, never past the feature's histogram
    n, n_categories = 500, 300
    wide = rng.integers(0, n_categories + 1, n).astype(np.uint16)
    numeric = rng.integers(0, 20, n).astype(np.uint8)
    codes = np.column_stack([numeric, np.zeros(n, np.uint8)])
    g, h = rng.normal(size=n), np.ones(n)
    kw = dict(is_categorical=np.array([0, 1], np.uint8),
              wide_codes=np.asfortranarray(wide.reshape(-1, 1)),
              wide_features=np.array([1], np.int64), min_samples_leaf=5, n_threads=1)
    with pytest.raises(ValueError, match="row_codes"):
        _grow(codes, g, h, np.array([20, n_categories]), True,
              row_codes=np.ascontiguousarray(codes), **kw)
    row_codes = hgb.row_major_codes(np.column_stack([numeric, wide]), np.array([1], np.int64))
    row_codes[:, -1] = 0xFF
    _grow(codes, g, h, np.array([20, n_categories]), True, row_codes=row_codes, **kw)


def _wide_data(n=4000, n_categories=600, seed=0, missing=True):
    """A numerical feature, a wide categorical one (integer categories, every third value)
    and a small one; a target with an effect of each wide category."""
    rng = np.random.default_rng(seed)
    cats = rng.integers(0, n_categories, n)
    X = np.column_stack([rng.normal(size=n), 3 * cats, rng.integers(0, 6, n)]).astype(float)
    y = X[:, 0] + 2 * rng.normal(size=n_categories)[cats] + (X[:, 2] == 1) + rng.normal(size=n) * 0.2
    if missing:
        X[rng.random(n) < 0.05, 1] = np.nan
    return X, y


def _same_model_as_sklearn(ours, theirs, X):
    """The same trees (raw bitsets included: the binned ones keep a wide feature's missing bit
    at its number of categories) and predictions."""
    assert ours.n_iter_ == theirs.n_iter_
    for it_ours, it_theirs in zip(ours._predictors, theirs._predictors):
        for a, b in zip(it_ours, it_theirs):
            for field in ("feature_idx", "bin_threshold", "is_leaf", "left", "right",
                          "missing_go_to_left", "count", "is_categorical", "bitset_idx"):
                assert_array_equal(a.nodes[field], b.nodes[field], err_msg=field)
            assert_allclose(a.nodes["value"], b.nodes["value"], rtol=1e-9, atol=1e-12)
            assert_array_equal(a.raw_left_cat_bitsets, b.raw_left_cat_bitsets)
    assert_allclose(ours._raw_predict(X), theirs._raw_predict(X), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("params", [
    dict(), dict(max_depth=3, l2_regularization=1.0, min_samples_leaf=5, loss="poisson"),
    dict(early_stopping=True, validation_fraction=0.2, n_iter_no_change=2),
    dict(early_stopping=True, scoring="r2", n_iter_no_change=2)])
def test_wide_code_path_same_model_as_sklearn(params, monkeypatch):
    # every categorical feature taken as wide, on data scikit-learn takes: its models
    monkeypatch.setattr(hgb, "_WIDE_ABOVE", 0)
    X, y = _wide_data(n=1500, n_categories=40)
    y = np.abs(y) if params.get("loss") == "poisson" else y
    kw = dict(max_iter=10, random_state=0, categorical_features=[1, 2], **params)
    ours = HistGradientBoostingRegressor(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingRegressor(**kw).fit(X, y)
    assert_array_equal(ours._wide(), [0, 1])
    _same_model_as_sklearn(ours, theirs, X)
    # warm start walks the kept trees on the uint16 binned X
    ours.set_params(warm_start=True, max_iter=14).fit(X, y)
    theirs.set_params(warm_start=True, max_iter=14).fit(X, y)
    _same_model_as_sklearn(ours, theirs, X)


def test_wide_code_path_classifier_same_model_as_sklearn(monkeypatch):
    monkeypatch.setattr(hgb, "_WIDE_ABOVE", 0)
    X, y = _wide_data(n=1500, n_categories=40)
    y = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    kw = dict(max_iter=5, random_state=0, categorical_features=[1, 2])
    ours = HistGradientBoostingClassifier(**kw).fit(X, y)
    theirs = sk.HistGradientBoostingClassifier(**kw).fit(X, y)
    _same_model_as_sklearn(ours, theirs, X)


_WIDE_KW = dict(max_iter=15, learning_rate=0.5, random_state=0)


@pytest.fixture(scope="module")
def wide_model():
    X, y = _wide_data(n=6000)
    return HistGradientBoostingRegressor(**_WIDE_KW, n_jobs=1,
                                         categorical_features=[1, 2]).fit(X, y), X, y


def test_more_categories_than_max_bins_fit(wide_model):
    model, X, y = wide_model
    with pytest.raises(ValueError, match="cardinality"):  # scikit-learn's limit
        sk.HistGradientBoostingRegressor(max_iter=2, categorical_features=[1, 2]).fit(X, y)
    assert_array_equal(model._wide(), [0])
    assert model._n_bins_non_missing[0] == 600
    splits = [p.nodes[p.nodes["is_leaf"] == 0] for it in model._predictors for p in it]
    assert any((s["feature_idx"] == 0).any() for s in splits)  # the wide feature is used
    assert model._predictors[0][0].binned_left_cat_bitsets.shape[1] == 600 // 32 + 1
    # the category effects are learnt: far better than the model without the feature
    without = HistGradientBoostingRegressor(**_WIDE_KW).fit(X[:, [0, 2]], y)
    assert model.score(X, y) > without.score(X[:, [0, 2]], y) + 0.3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_raw_walk_equals_binned_walk_unknown_categories(wide_model, dtype):
    model, X, _ = wide_model
    X_new = X[:300].astype(dtype)
    X_new[:40, 1] = np.r_[np.arange(20) * 3 + 1, [-3, 1e6, 1800, 5000] * 5]  # unknown
    X_new[40:50, 1] = 3 * 255  # category 255 (all 600 are known): no missing value here
    encoded = model._preprocess_X(X_new, reset=False)
    assert encoded.dtype == dtype and np.isnan(encoded[:40, 0]).all()
    codes = model._bin_data(encoded, None, is_training_data=False)
    assert codes.dtype == np.uint16 and (codes[:40, 0] == 600).all()
    assert (codes[40:50, 0] == 255).all()
    packed, F = model._packed_trees(model._predictors), model._n_features
    raw_binned = np.zeros((300, 1))
    packed.predict_binned(codes, raw_binned, F, 1)
    raw = np.zeros((300, 1))
    packed.predict(np.ascontiguousarray(encoded), raw, F, 1)
    assert_array_equal(raw, raw_binned)
    # encoded values out of the known categories take the missing values' side, as NaN
    out_of_range = np.ascontiguousarray(encoded)
    out_of_range[:40, 0] = np.r_[[600, 601, 65535, 1e9, -1, -0.5] * 6, [700] * 4]
    raw_out = np.zeros((300, 1))
    packed.predict(out_of_range, raw_out, F, 1)
    assert_array_equal(raw_out, raw)
    # unknown categories predict as missing ones
    X_nan = X_new.copy()
    X_nan[:40, 1] = np.nan
    assert_array_equal(model.predict(X_new), model.predict(X_nan))


def test_wide_model_n_jobs_pickle_one_row(wide_model):
    model, X, y = wide_model
    other = HistGradientBoostingRegressor(**_WIDE_KW, n_jobs=2,
                                          categorical_features=[1, 2]).fit(X, y)
    for a, b in zip(model._predictors, other._predictors):
        assert_array_equal(a[0].nodes, b[0].nodes)
        assert_array_equal(a[0].binned_left_cat_bitsets, b[0].binned_left_cat_bitsets)
    assert_array_equal(other.predict(X), model.predict(X))
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(X), model.predict(X))
    rows = np.array([model.predict(X[i:i + 1])[0] for i in range(10)])
    assert_array_equal(rows, model.predict(X[:10]))


def test_three_encoders_same_wide_model(wide_model):
    # NumPy integer categories (fastml's O(n) encoder), fractional ones (scikit-learn's
    # OrdinalEncoder) and a pandas categorical ("from_dtype") rank the categories alike
    pd = pytest.importorskip("pandas")
    model, X, y = wide_model
    X_frac = X.copy()
    X_frac[:, 1] = X[:, 1] / 4 - 2
    frac = HistGradientBoostingRegressor(**_WIDE_KW, categorical_features=[1, 2]).fit(X_frac, y)
    assert type(model._preprocessor).__name__ == "IntegerCategoryEncoder"
    assert type(frac._preprocessor).__name__ == "ColumnTransformer"
    frame = pd.DataFrame({"a": X[:, 0], "wide": pd.Categorical(X[:, 1]),
                          "small": pd.Categorical(X[:, 2])})
    pandas = HistGradientBoostingRegressor(**_WIDE_KW).fit(frame, y)
    assert_array_equal(pandas.is_categorical_, [False, True, True])
    for other, X_other in ((frac, X_frac), (pandas, frame)):
        assert_array_equal(other._wide(), [0])
        for a, b in zip(model._predictors, other._predictors):
            assert_array_equal(a[0].nodes, b[0].nodes)
            assert_array_equal(a[0].binned_left_cat_bitsets, b[0].binned_left_cat_bitsets)
        assert_array_equal(other.predict(X_other), model.predict(X))


def test_wide_classifier_fits(rng):
    X, y = _wide_data(n=3000, n_categories=400, seed=1)
    y = np.digitize(y, np.quantile(y, [0.3, 0.6]))
    model = HistGradientBoostingClassifier(**_WIDE_KW, categorical_features=[1, 2]).fit(X, y)
    assert_array_equal(model._wide(), [0])
    without = HistGradientBoostingClassifier(**_WIDE_KW).fit(X[:, [0, 2]], y)
    assert model.score(X, y) > without.score(X[:, [0, 2]], y) + 0.1
    proba = model.predict_proba(X[:50])
    assert_allclose(proba.sum(axis=1), 1)


def test_too_many_categories_error():
    n = hgb.MAX_CATEGORIES + 1
    X = np.column_stack([np.arange(n) % 3, np.arange(n)]).astype(float)
    y = np.arange(n) % 2
    for values in (X, np.column_stack([X[:, 0], X[:, 1] - 0.5])):  # both encoders
        with pytest.raises(ValueError, match="cardinality <= 65535 but actually has a "
                                             "cardinality of 65536"):
            HistGradientBoostingRegressor(max_iter=1, categorical_features=[1]).fit(values, y)
