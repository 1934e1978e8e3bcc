"""The histogram search on sparse X: bins from the CSC columns (the zero's bin the node's
statistics less its stored entries'), never densified, giving the tree the histogram search
gives on the same matrix dense (with integer weights and targets the sums are exact, so the
trees are equal node for node)."""
import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_array_equal
from sklearn import datasets
from sklearn import ensemble as sk_ensemble
from sklearn.model_selection import train_test_split

from fastml.ensemble import RandomForestClassifier, RandomForestRegressor
from fastml.tree import DecisionTreeClassifier, DecisionTreeRegressor, _binning, _cart, _classes

from .test_sklearn_identity import assert_same_sklearn_tree


def _random_sparse(seed, n=400, d=25, density=0.2, dtype=np.float32):
    """Values of both signs, some within FEATURE_THRESHOLD of 0 or of each other, some stored
    zeros, a full column and an empty one."""
    rng = np.random.RandomState(seed)
    X = sp.random(n, d, density=density, random_state=rng, format="lil")
    X[:, 3] = rng.randn(n, 1)  # full: no implicit zero
    X[:, 4] = 0
    X = X.tocsr()
    X.data = np.round(rng.randn(X.nnz), 2)
    X.data[::11] = 0.0
    X.data[::13] = 1e-9
    X = X.astype(dtype)
    signal = np.asarray(X[:, :6].sum(axis=1)).ravel()
    return X, signal


def _digits_sparse(dtype):
    X, y = datasets.load_digits(return_X_y=True)
    return sp.csr_matrix(X.astype(dtype)), y


def _same_tree(a, b):
    assert_same_sklearn_tree(a.tree_, b.tree_)


def _padded(offsets, values, fill):
    """Compact per-feature thresholds as the dense (n_features, N_BINS) table, padded."""
    table = np.full((len(offsets) - 1, _cart.N_BINS), fill)
    for f in range(len(offsets) - 1):
        table[f, :offsets[f + 1] - offsets[f]] = values[offsets[f]:offsets[f + 1]]
    return table


def _columns(X):
    """CSC X as the core takes it."""
    return X.indptr.astype(np.int64), X.indices, X.data


def _sparse_bins(X, max_bins=255, n_threads=1):
    """(offsets, thresholds, codes) of CSC X, as the fit computes them."""
    offsets, thresholds = _binning.sparse_bin_thresholds(_columns(X), X.shape, max_bins, None)
    csr = X.tocsr()
    codes = _cart.sparse_bins(X.shape[0], _columns(X), _columns(csr), max_bins,
                              n_threads=n_threads)
    return offsets, thresholds, codes


@pytest.mark.parametrize("n_threads", [1, 3])  # the columns binned in parallel: the same codes
@pytest.mark.parametrize("max_bins", [255, 7])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_thresholds_and_codes_are_the_dense_ones(dtype, max_bins, n_threads):
    X, _ = _random_sparse(0, d=60, dtype=dtype)  # 60 columns: chunks of 16 for all three threads
    X = X.tocsc()
    dense = np.ascontiguousarray(X.toarray())
    expected = _binning.bin_thresholds(dense, max_bins, np.random.RandomState(0))
    offsets, thresholds, (csc_codes, csr_codes, zero_codes, start) = _sparse_bins(X, max_bins,
                                                                                  n_threads)
    assert_array_equal(_padded(offsets, thresholds, np.inf), expected)
    codes, _ = _cart.encode_bins(dense, expected, 1)
    assert_array_equal(start, offsets + np.arange(len(offsets)))
    rows = X.indices
    columns = np.repeat(np.arange(X.shape[1]), np.diff(X.indptr))
    assert_array_equal(csc_codes, codes[rows, columns])
    csr_m = X.tocsr()
    csr_rows = np.repeat(np.arange(X.shape[0]), np.diff(csr_m.indptr))
    assert_array_equal(csr_codes, codes[csr_rows, csr_m.indices])
    assert_array_equal(zero_codes, _cart.encode_bins(np.zeros((1, X.shape[1]), dtype),
                                                     expected, 1)[0][0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_thresholds_and_codes_subsample_as_dense(monkeypatch, dtype):
    monkeypatch.setattr(_binning, "SUBSAMPLE", 150)
    X, _ = _random_sparse(1, dtype=dtype)
    dense = X.toarray()
    expected = _binning.bin_thresholds(dense, 255, np.random.RandomState(3))
    offsets, got = _binning.sparse_bin_thresholds(_columns(X.tocsc()), X.shape, 255,
                                                  np.random.RandomState(3))
    assert_array_equal(_padded(offsets, got, np.inf), expected)
    codes, _ = _cart.encode_bins(dense, expected, 1)
    csc = X.tocsc()
    for csr in (_columns(X), None):  # the sample drawn from the CSR rows or the CSC columns
        csc_codes, csr_codes, _, start = _binning.sparse_bins(
            _columns(csc), csr, X.shape, 255, np.random.RandomState(3))
        assert_array_equal(start, offsets + np.arange(len(offsets)))
        columns = np.repeat(np.arange(X.shape[1]), np.diff(csc.indptr))
        assert_array_equal(csc_codes, codes[csc.indices, columns])
        if csr is not None:
            rows = np.repeat(np.arange(X.shape[0]), np.diff(X.indptr))
            assert_array_equal(csr_codes, codes[rows, X.indices])


def test_sparse_bins_check_their_input():
    X, y = _random_sparse(2)
    X = X.tocsc()
    offsets, thresholds, codes = _sparse_bins(X)
    csc = _columns(X)
    with pytest.raises(ValueError, match="max_bins"):
        _cart.sparse_bins(X.shape[0], csc, None, 1)
    with pytest.raises(ValueError, match="rows in range"):
        _cart.sparse_bins(3, csc, None, 255)
    with pytest.raises(ValueError, match="sample's rows"):
        _cart.sparse_bins(X.shape[0], csc, None, 255, (X.shape[0] + 1, csc))
    with pytest.raises(ValueError, match="csc data"):
        _cart.sparse_bins(X.shape[0], csc[:2] + (None,), _columns(X.tocsr()), 255)
    params = DecisionTreeClassifier(random_state=0)
    problem = _classes.prepare_problem(params, X, y > 0, None, is_classifier=True,
                                       random_state=np.random.RandomState(0), n_threads=1)
    assert problem.split_finder == "exact"  # 400 rows
    y_core = (y > 0).astype(float)
    with pytest.raises(ValueError, match="exact search needs the data"):
        _cart.grow_tree(y_core, np.ones(X.shape[0]), 2, problem.params, 0, 1,
                        csc=csc[:2] + (None,), csr=_columns(X.tocsr()))
    bad = list(codes)
    bad[1] = None  # no csr given
    bad[0] = codes[0].copy()
    bad[0][0] = codes[3][1] - codes[3][0]  # past its feature's bins
    with pytest.raises(ValueError, match="within their feature's bins"):
        _cart.grow_tree(y_core, np.ones(X.shape[0]), 2, problem.params, 0, 1,
                        csc=csc, sparse_codes=tuple(bad))


PARAMS = [{}, {"max_features": "sqrt"}, {"max_leaf_nodes": 15}, {"max_bins": 9},
          {"min_samples_leaf": 5, "max_depth": 6}]


@pytest.mark.parametrize("params", PARAMS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_on_sparse_is_hist_on_dense(dtype, params):
    for X, y in (_random_sparse(4, dtype=dtype), _digits_sparse(dtype)):
        labels = (y > np.median(y)).astype(int) if len(y) == 400 else y
        for fmt in ("csr", "csc"):
            Xs = X.asformat(fmt)
            for seed in (0, 1):
                sparse_fit = DecisionTreeClassifier(split_finder="hist", random_state=seed,
                                                    **params).fit(Xs, labels)
                dense_fit = DecisionTreeClassifier(split_finder="hist", random_state=seed,
                                                   **params).fit(X.toarray(), labels)
                assert sparse_fit.split_finder_ == "hist"
                _same_tree(sparse_fit, dense_fit)
                assert_array_equal(sparse_fit.predict_proba(Xs),
                                   dense_fit.predict_proba(X.toarray()))


@pytest.mark.parametrize("criterion", ["squared_error", "poisson"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_regression_on_sparse_is_hist_on_dense(dtype, criterion):
    # diabetes' targets are integers: exact sums either way
    X, y = datasets.load_diabetes(return_X_y=True, scaled=False)
    X = X - np.median(X, axis=0)  # half the values become zero or negative... zeros stored
    X[np.abs(X) < np.std(X, axis=0)] = 0
    Xs = sp.csc_matrix(X.astype(dtype))
    for params in ({}, {"max_features": 0.5}, {"max_leaf_nodes": 20}):
        sparse_fit = DecisionTreeRegressor(split_finder="hist", criterion=criterion,
                                           random_state=0, **params).fit(Xs, y)
        dense_fit = DecisionTreeRegressor(split_finder="hist", criterion=criterion,
                                          random_state=0, **params).fit(Xs.toarray(), y)
        _same_tree(sparse_fit, dense_fit)


def test_hist_on_sparse_with_integer_weights_is_hist_on_dense():
    # integral weights: the partition moves a node's stored rows alone and takes the other
    # side's sums by subtraction, exact; zero weights leave rows out of the tree. (Fractional
    # weights keep the stable partition; their sums round otherwise than the dense search's.)
    X, y = _random_sparse(7, n=600, d=40, density=0.1, dtype=np.float64)
    w = np.random.RandomState(0).randint(0, 4, X.shape[0]).astype(float)
    labels = (y > np.median(y)).astype(int)
    for params in ({}, {"max_features": "sqrt"}, {"max_leaf_nodes": 30}):
        for fmt in ("csr", "csc"):
            sparse_fit = DecisionTreeClassifier(split_finder="hist", random_state=0,
                                                **params).fit(X.asformat(fmt), labels, w)
            dense_fit = DecisionTreeClassifier(split_finder="hist", random_state=0,
                                               **params).fit(X.toarray(), labels, w)
            _same_tree(sparse_fit, dense_fit)
            assert sparse_fit.tree_.node_count > 20
        sparse_fit = DecisionTreeRegressor(split_finder="hist", random_state=0, max_depth=10,
                                           **params).fit(X, np.round(y * 10), w)
        dense_fit = DecisionTreeRegressor(split_finder="hist", random_state=0, max_depth=10,
                                          **params).fit(X.toarray(), np.round(y * 10), w)
        _same_tree(sparse_fit, dense_fit)


def test_hist_is_refused_where_it_has_no_sparse_search():
    X, y = _random_sparse(5)
    for params in ({"criterion": "absolute_error", "max_depth": 3}, {"splitter": "random"}):
        tree = DecisionTreeRegressor(split_finder="hist", random_state=0, **params).fit(X, y)
        assert tree.split_finder_ == "exact"


def test_auto_searches_histograms_on_large_sparse_x(monkeypatch):
    X, y = _random_sparse(6)
    monkeypatch.setattr(_classes, "EXACT_UP_TO", 100)
    tree = DecisionTreeClassifier(random_state=0).fit(X, y > 0)
    assert tree.split_finder_ == "hist"
    monkeypatch.setattr(_classes, "EXACT_UP_TO", 1000)
    assert DecisionTreeClassifier(random_state=0).fit(X, y > 0).split_finder_ == "exact"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_forests_on_sparse_are_dense_hist_forests_for_any_n_jobs(dtype):
    X, y = _digits_sparse(dtype)
    kwargs = dict(n_estimators=4, random_state=0, split_finder="hist", oob_score=True)
    dense = RandomForestClassifier(n_jobs=1, **kwargs).fit(X.toarray(), y)
    for n_jobs in (1, 2):
        ours = RandomForestClassifier(n_jobs=n_jobs, **kwargs).fit(X, y)
        assert ours.split_finder_ == "hist"
        for a, b in zip(ours.estimators_, dense.estimators_):
            _same_tree(a, b)
        assert_array_equal(ours.predict_proba(X), dense.predict_proba(X.toarray()))
        assert ours.oob_score_ == dense.oob_score_
    y_reg = y.astype(float)  # integer targets: exact sums
    dense = RandomForestRegressor(n_jobs=1, max_depth=8, **kwargs).fit(X.toarray(), y_reg)
    for n_jobs in (1, 2):
        ours = RandomForestRegressor(n_jobs=n_jobs, max_depth=8, **kwargs).fit(X, y_reg)
        for a, b in zip(ours.estimators_, dense.estimators_):
            _same_tree(a, b)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_thresholds_of_long_and_short_columns_are_the_dense_ones(dtype):
    # columns of few distinct values store several entries a bin: their bins' bounds are found
    # once per fit; columns of distinct values are scanned at each split; both place the
    # thresholds the dense search places
    rng = np.random.RandomState(9)
    A = rng.randn(2000, 30)
    A[:, :15] = np.round(A[:, :15] * 2) / 2
    A[rng.rand(*A.shape) > 0.3] = 0
    A = A.astype(dtype)
    y = (A[:, 0] + A[:, 20] + 0.5 * rng.randn(len(A)) > 0).astype(int)
    kwargs = dict(n_estimators=3, random_state=0, split_finder="hist", max_features=0.5)
    dense = RandomForestClassifier(n_jobs=1, **kwargs).fit(A, y)
    used = np.concatenate([e.tree_.feature for e in dense.estimators_])
    assert (used[used >= 0] < 15).any() and (used >= 15).any()
    for fmt, n_jobs in (("csr", 1), ("csc", 2)):
        Xs = sp.csr_matrix(A).asformat(fmt)
        ours = RandomForestClassifier(n_jobs=n_jobs, **kwargs).fit(Xs, y)
        for a, b in zip(ours.estimators_, dense.estimators_):
            _same_tree(a, b)
    params = dict(split_finder="hist", random_state=0, max_depth=8)
    _same_tree(DecisionTreeRegressor(**params).fit(sp.csc_matrix(A), y.astype(float)),
               DecisionTreeRegressor(**params).fit(A, y.astype(float)))


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "wine"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_hist_forest_on_sparse_real_data_is_as_accurate_as_scikit_learn(name, dtype):
    X, y = getattr(datasets, f"load_{name}")(return_X_y=True)
    X = X - np.median(X, axis=0)
    X[X < 0] = 0  # half of each feature's values zero: sparse
    X = sp.csr_matrix(X.astype(dtype))
    X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0, stratify=y)
    ours = RandomForestClassifier(30, split_finder="hist", random_state=0).fit(X_train, y_train)
    theirs = sk_ensemble.RandomForestClassifier(30, random_state=0).fit(X_train, y_train)
    assert ours.score(X_test, y_test) >= theirs.score(X_test, y_test) - 0.03


def test_hist_keeps_the_data_of_x_format_alone():
    # the other format's copy keeps its indices and codes, not its values (memory: X's data)
    X, y = _random_sparse(7)
    for fmt, dropped, kept in (("csr", "csc", "csr"), ("csc", "csr", "csc")):
        problem = _classes.prepare_problem(
            DecisionTreeClassifier(split_finder="hist", random_state=0), X.asformat(fmt), y > 0,
            None, is_classifier=True, random_state=np.random.RandomState(0), n_threads=1)
        assert problem.split_finder == "hist"
        assert problem.data[dropped][2] is None
        assert problem.data[kept][2] is not None


def _wide_sparse(seed, n=3000, d=400, per_row=8):
    """Wide sparse X of nonnegative values (a few terms per row, as TF-IDF), labels from a
    sparse rule: trees peel a few rows off large nodes down long chains."""
    rng = np.random.RandomState(seed)
    columns = rng.randint(0, d, (n, per_row))
    X = sp.csr_matrix((rng.randint(1, 30, n * per_row) / 7.0,
                       columns.ravel(), np.arange(0, n * per_row + 1, per_row)), shape=(n, d))
    X.sum_duplicates()
    score = X @ (rng.randn(d) * (rng.rand(d) < 0.2))
    return X, score


@pytest.mark.parametrize("n_classes", [2, 3])
def test_hist_chain_histograms_give_the_dense_trees(n_classes):
    # large nodes of wide sparse X with few features drawn keep their features' histograms
    # down a chain (ChainHistograms: two classes unpacked without a branch, more classes by
    # the occupied bins), each child's the parent's less its sibling's rows: the same trees
    X, score = _wide_sparse(n_classes)
    y = np.searchsorted(np.quantile(score, np.linspace(0, 1, n_classes + 1)[1:-1]), score)
    w = np.random.RandomState(0).randint(0, 3, X.shape[0]).astype(float)
    for weight in (None, w):
        sparse_fit = DecisionTreeClassifier(split_finder="hist", max_features="sqrt",
                                            random_state=0).fit(X, y, weight)
        dense_fit = DecisionTreeClassifier(split_finder="hist", max_features="sqrt",
                                           random_state=0).fit(X.toarray(), y, weight)
        assert sparse_fit.tree_.max_depth > 30  # long chains
        _same_tree(sparse_fit, dense_fit)
    kwargs = dict(n_estimators=3, max_features="sqrt", split_finder="hist", random_state=0)
    dense = RandomForestClassifier(n_jobs=1, **kwargs).fit(X.toarray(), y)
    for n_jobs in (1, 2):
        ours = RandomForestClassifier(n_jobs=n_jobs, **kwargs).fit(X, y)
        for a, b in zip(ours.estimators_, dense.estimators_):
            _same_tree(a, b)
        # CSR rows walk in per-thread blocks of a few hundred rows here: the dense walk's
        assert_array_equal(ours.predict_proba(X), dense.predict_proba(X.toarray()))
        assert_array_equal(ours.apply(X), dense.apply(X.toarray()))


def test_hist_chain_of_many_distinct_weights_gives_the_dense_tree():
    # the chain keeps a byte per stored entry, indexing the distinct packed blocks (weight and
    # class) of the rows: past 255 of them no chain is kept (the columns are scanned), below
    # they are; both give the dense tree
    X, score = _wide_sparse(5)
    y = (score > np.median(score)).astype(int)
    rng = np.random.RandomState(1)
    for high in (3, 400):  # integer weights: ~6 blocks, ~800 blocks
        w = rng.randint(0, high, X.shape[0]).astype(float)
        sparse_fit = DecisionTreeClassifier(split_finder="hist", max_features="sqrt",
                                            random_state=0).fit(X, y, w)
        dense_fit = DecisionTreeClassifier(split_finder="hist", max_features="sqrt",
                                           random_state=0).fit(X.toarray(), y, w)
        assert sparse_fit.tree_.max_depth > 30
        _same_tree(sparse_fit, dense_fit)



def test_hist_chains_of_deferred_subtrees_give_the_dense_tree():
    # more rows than a subtree grows apart (kSubtreeRows): the root's children are deferred and
    # grown as subtrees (two at once with n_jobs=2), each taking the chain buffers the tree's
    # other builders left clean (ChainRows); with bounds on the leaves the packed search keeps
    # its test of them. Each gives the dense tree.
    X, score = _wide_sparse(6, n=17000, d=300)
    y = (score > np.median(score)).astype(int)
    for bounds in ({}, dict(min_samples_leaf=3), dict(min_weight_fraction_leaf=0.002)):
        kwargs = dict(split_finder="hist", max_features="sqrt", random_state=0, **bounds)
        dense_fit = DecisionTreeClassifier(**kwargs).fit(X.toarray(), y)
        for n_jobs in (1, 2):
            sparse_fit = DecisionTreeClassifier(n_jobs=n_jobs, **kwargs).fit(X, y)
            assert sparse_fit.tree_.max_depth > 30
            _same_tree(sparse_fit, dense_fit)
