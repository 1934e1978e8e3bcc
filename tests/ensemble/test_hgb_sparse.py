"""fastml's HistGradientBoosting* on sparse X (scikit-learn's reject it): binned from the CSC
columns with each implicit zero in its feature's bin of 0, the same model as on the dense
matrix (tree for tree), predictions from the compiled walk of CSR rows equal to the dense
ones."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy import sparse
from sklearn.datasets import make_regression

from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from fastml.ensemble._hist_gradient_boosting import bin_thresholds, encode_sparse
from fastml.tree import _cart
from tests._assertions import scored_dataset

pytestmark = pytest.mark.usefixtures("one_thread")


def _assert_same_trees(a, b):
    assert a.n_iter_ == b.n_iter_
    for it_a, it_b in zip(a._predictors, b._predictors):
        for p, q in zip(it_a, it_b):
            assert_array_equal(p.nodes, q.nodes)


def _sparse_data(n=400, d=6, seed=0, dtype=np.float64):
    X, y = make_regression(n, d, noise=3.0, random_state=seed)
    rng = np.random.default_rng(seed)
    X[rng.random(X.shape) < 0.6] = 0.0
    X[rng.random(X.shape) < 0.05] = np.nan
    X[:, 3] = np.abs(X[:, 3])  # every non-zero above 0: the zero bin is the first
    return X.astype(dtype), y


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("max_bins", [5, 255])
@pytest.mark.parametrize("weighted", [False, True])
def test_sparse_codes_equal_dense_codes(dtype, max_bins, weighted, rng):
    X, _ = _sparse_data(dtype=dtype)
    sw = rng.random(len(X)) if weighted else None
    dense_t, counts = bin_thresholds(X, max_bins, sw, 1)
    for fmt in (sparse.csr_matrix, sparse.csc_matrix):
        sparse_t, sparse_counts = bin_thresholds(fmt(X), max_bins, sw, 2)
        assert_array_equal(sparse_t, dense_t)
        assert_array_equal(sparse_counts, counts)
        codes, _ = _cart.encode_bins(np.ascontiguousarray(X), dense_t, 1)
        assert_array_equal(encode_sparse(fmt(X), dense_t, counts), codes)


@pytest.mark.parametrize("name", ["digits", "breast_cancer", "diabetes"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_shipped_data_same_model_as_dense(name, fmt):
    X, y = scored_dataset(name)
    if name == "digits":
        X, y = X[:500], y[:500]
    X = X.copy()
    X[X < np.median(X, axis=0)] = 0.0
    Xs = getattr(sparse, fmt + "_matrix")(X)
    cls = HistGradientBoostingRegressor if name == "diabetes" else HistGradientBoostingClassifier
    dense = cls(max_iter=8, random_state=0).fit(X, y)
    model = cls(max_iter=8, random_state=0).fit(Xs, y)
    _assert_same_trees(model, dense)
    assert_array_equal(model.predict(sparse.csr_matrix(X)), dense.predict(X))
    assert_array_equal(model.predict(X), dense.predict(X))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sparse_weighted_early_stopping_n_jobs(dtype):
    X, y = _sparse_data(n=1200, dtype=dtype)
    sw = np.random.default_rng(1).random(len(y))
    kw = dict(max_iter=10, random_state=0, early_stopping=True, validation_fraction=0.2,
              n_iter_no_change=3)
    dense = HistGradientBoostingRegressor(**kw).fit(X, y, sample_weight=sw)
    models = [HistGradientBoostingRegressor(n_jobs=j, **kw).fit(sparse.csr_matrix(X), y,
                                                                  sample_weight=sw)
              for j in (1, 2)]
    for model in models:
        _assert_same_trees(model, dense)
        assert_array_equal(model.validation_score_, dense.validation_score_)
        assert_array_equal(model.predict(sparse.csc_matrix(X)), dense.predict(X))


def test_sparse_with_categorical_features_raises():
    X, y = _sparse_data()
    with pytest.raises(ValueError, match="dense X only"):
        HistGradientBoostingRegressor(categorical_features=[0]).fit(sparse.csr_matrix(X), y)


def test_csr_walk_unsorted_and_duplicate_entries_and_bad_indices():
    X, y = _sparse_data()
    model = HistGradientBoostingRegressor(max_iter=5, random_state=0).fit(X, y)
    expected = model.predict(X)
    # the same rows with each row's entries reversed, and with its first entry split in two
    csr = sparse.csr_matrix(np.nan_to_num(X))
    rows, cols, vals = [], [], []
    for i in range(csr.shape[0]):
        part = slice(csr.indptr[i], csr.indptr[i + 1])
        c, v = csr.indices[part][::-1], csr.data[part][::-1]
        if len(c):
            c, v = np.r_[c, c[-1]], np.r_[v[:-1], v[-1] / 2, v[-1] / 2]
        rows += [i] * len(c)
        cols += list(c)
        vals += list(v)
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=len(X)))]
    shuffled = sparse.csr_matrix((vals, cols, indptr), shape=X.shape)
    assert not shuffled.has_canonical_format
    assert_array_equal(model.predict(shuffled), model.predict(np.nan_to_num(X)))
    assert not shuffled.has_canonical_format  # the caller's matrix left as it was
    packed = model._packed[1]
    raw = np.zeros((1, 1))
    with pytest.raises(ValueError, match="increase"):
        packed.predict_csr(np.ones(2), np.array([3, 1], np.int64), np.array([0, 2], np.int64),
                           raw, X.shape[1], 1)
    with pytest.raises(ValueError, match="indptr"):
        packed.predict_csr(np.ones(2), np.array([1, 3], np.int64), np.array([0, 1], np.int64),
                           raw, X.shape[1], 1)
    assert np.isfinite(expected).all()
