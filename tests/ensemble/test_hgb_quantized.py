"""HistGradientBoosting*'s quantized_gradients (fastml's addition): the compiled quantized step
against the NumPy reference (the stochastic rounding, the split on the integer sums, the leaves
from the exact gradients), models identical for any n_jobs, accuracy close to the exact path
on shipped data, dense and sparse."""
import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier as SkClassifier
from sklearn.metrics import r2_score, roc_auc_score

from fastml.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from fastml.reference import boosting as ref
from tests._assertions import scored_dataset
from tests.ensemble.test_hist_gradient_boosting import _grow, _random_codes

pytestmark = pytest.mark.usefixtures("one_thread")

LEVELS = 4  # the estimators' levels (_QUANTIZED_LEVELS)


# (rows, features): the rows decide the integer layout of a varying hessian: count, hessian and
# gradient in one int64 below 2**20 rows (and levels * rows < 2**22), the count apart above
@pytest.mark.parametrize("shape", [(80, 1), (400, 3), (3000, 6), (140_000, 1)])
@pytest.mark.parametrize("constant_hessian", [False, True])
@pytest.mark.parametrize("levels", [2, LEVELS, 32])
def test_quantized_stump_matches_reference(shape, constant_hessian, levels, rng):
    n, d = shape
    codes, nbnm = _random_codes(rng, n, d, 12)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = (np.ones(n) if constant_hessian
         else (rng.random(n) + 0.1).astype(np.float32).astype(np.float64))
    seed = int(rng.integers(1 << 62))
    expected, values, raw_after = ref.quantized_stump_step(
        codes, g, h, np.zeros(n), nbnm, 0.1, levels, seed, constant_hessian, min_samples_leaf=5)
    for n_threads in (1, 2):
        tree = _grow(codes, g, h, nbnm, constant_hessian, max_leaf_nodes=2, min_samples_leaf=5,
                     shrinkage=0.1, quantized_levels=levels, quantize_seed=seed,
                     n_threads=n_threads)
        if expected is None:
            assert tree.is_leaf[0]
            continue
        gain, feature, bin_, missing_left = expected
        assert (tree.feature[0], tree.bin_threshold[0]) == (feature, bin_)
        if (codes[:, feature] == ref.MISSING_BIN).any():
            assert tree.missing_go_to_left[0] == missing_left
        assert_allclose(tree.gain[0], gain, rtol=1e-9)  # integer sums: only the scaling rounds
        # the leaves from the exact gradients, in the preorder left, right
        assert_allclose(tree.value[[1, 2]], values, rtol=1e-9)
        raw = np.zeros((n, 1))
        tree.add_leaf_values(raw, 0, n_threads)
        assert_allclose(raw[:, 0], raw_after, rtol=1e-9)


def test_reference_rounding_is_unbiased(rng):
    # the stochastic rounding's mean is the value itself, and it stays within the levels
    g = np.full(200_000, 0.3)
    g[0] = -1.0  # sets the scale: 0.3 is 0.6 units
    h = rng.random(200_000)
    g_units, h_units, g_scale, h_scale = ref.quantize_gradients(g, h, LEVELS, False, 7)
    assert g_scale == 0.5 and h_scale == h.max() / LEVELS
    assert set(np.unique(g_units[1:])) == {0, 1}
    assert abs(g_units[1:].mean() - 0.6) < 0.005
    assert h_units.min() >= 0 and h_units.max() <= LEVELS
    assert abs((h_units * h_scale - h).mean()) < 0.002
    # another seed, other integers
    assert (ref.quantize_gradients(g, h, LEVELS, False, 8)[0] != g_units).any()


@pytest.mark.parametrize("shape", [(2000, 5), (5000, 8)])
def test_quantized_tree_leaves_are_exact_step(shape, rng):
    # a full tree: its structure from the integers, its leaves boosting_step's from the
    # exact gradients of the rows it routes there
    n, d = shape
    codes, nbnm = _random_codes(rng, n, d, 30)
    g = rng.normal(size=n).astype(np.float32).astype(np.float64)
    h = (rng.random(n) + 0.1).astype(np.float32).astype(np.float64)
    tree = _grow(codes, g, h, nbnm, max_leaf_nodes=16, shrinkage=0.1, quantized_levels=LEVELS,
                 quantize_seed=3)
    nodes = dict(is_leaf=tree.is_leaf, feature_idx=tree.feature,
                 bin_threshold=tree.bin_threshold, missing_go_to_left=tree.missing_go_to_left,
                 left=tree.left, right=tree.right)
    leaves = tree.is_leaf.astype(bool)
    assert leaves.sum() > 8
    values, _ = ref.boosting_step(nodes, codes, g, h, np.zeros(n), 0.1)
    assert_allclose(tree.value[leaves], values[leaves], rtol=1e-12)
    # the integers chose differently from the exact sums somewhere, or at least valued the
    # splits by other sums: the gains are not the exact ones
    exact = _grow(codes, g, h, nbnm, max_leaf_nodes=16, shrinkage=0.1)
    assert tree.gain[0] != exact.gain[0]


def _make(cls, **kw):
    return cls(max_iter=20, random_state=0, early_stopping=False, quantized_gradients=True, **kw)


@pytest.mark.parametrize("cls,classes", [(HistGradientBoostingClassifier, 3),
                                         (HistGradientBoostingClassifier, 2),
                                         (HistGradientBoostingRegressor, 0)])
def test_quantized_model_does_not_depend_on_n_jobs(cls, classes, rng):
    n = 4000
    X = rng.normal(size=(n, 8))
    X[rng.random(X.shape) < 0.05] = np.nan
    y = (rng.integers(0, classes, n) if classes
         else np.nan_to_num(X[:, 0]) * 3 + rng.normal(size=n))
    sw = rng.random(n) + 0.5
    models = [_make(cls, n_jobs=j).fit(X, y, sample_weight=sw) for j in (1, 2, 3)]
    for other in models[1:]:
        for a, b in zip(models[0]._predictors, other._predictors):
            for p, q in zip(a, b):
                assert_array_equal(p.nodes, q.nodes)
    # another random_state rounds otherwise
    moved = _make(cls, n_jobs=1)
    moved.set_params(random_state=1).fit(X, y, sample_weight=sw)
    assert any((p.nodes["value"] != q.nodes["value"]).any()
               for a, b in zip(models[0]._predictors, moved._predictors) for p, q in zip(a, b))


@pytest.mark.parametrize("name", ["breast_cancer", "wine", "digits"])
def test_quantized_classifier_close_to_exact(name):
    X, y = scored_dataset(name)
    rng = np.random.default_rng(0)
    test = rng.random(len(y)) < 0.3
    exact = HistGradientBoostingClassifier(max_iter=50, random_state=0).fit(X[~test], y[~test])
    quant = HistGradientBoostingClassifier(max_iter=50, random_state=0,
                                           quantized_gradients=True).fit(X[~test], y[~test])
    sk = SkClassifier(max_iter=50, random_state=0).fit(X[~test], y[~test])
    # different models (the gradients rounded) ...
    assert not np.array_equal(quant.predict_proba(X[test]), exact.predict_proba(X[test]))
    # ... of about the same accuracy
    assert quant.score(X[test], y[test]) >= sk.score(X[test], y[test]) - 0.03
    if len(np.unique(y)) == 2:
        auc_q = roc_auc_score(y[test], quant.predict_proba(X[test])[:, 1])
        auc_sk = roc_auc_score(y[test], sk.predict_proba(X[test])[:, 1])
        assert auc_q >= auc_sk - 0.01
    # sparse X gives the dense matrix's model
    quant_sparse = HistGradientBoostingClassifier(max_iter=50, random_state=0,
                                                  quantized_gradients=True)
    quant_sparse.fit(sparse.csr_matrix(X[~test]), y[~test])
    assert_array_equal(quant_sparse.predict_proba(X[test]), quant.predict_proba(X[test]))


@pytest.mark.parametrize("loss", ["squared_error", "poisson", "absolute_error"])
def test_quantized_regressor_close_to_exact(loss):
    X, y = scored_dataset("diabetes")
    rng = np.random.default_rng(0)
    test = rng.random(len(y)) < 0.3
    kw = dict(loss=loss, max_iter=60, random_state=0, learning_rate=0.05)
    exact = HistGradientBoostingRegressor(**kw).fit(X[~test], y[~test])
    quant = HistGradientBoostingRegressor(**kw, quantized_gradients=True).fit(X[~test], y[~test])
    if loss == "absolute_error":
        # gradients of +-1 are whole units already: nothing rounds, the exact model
        assert_array_equal(quant.predict(X[test]), exact.predict(X[test]))
        return
    assert not np.array_equal(quant.predict(X[test]), exact.predict(X[test]))
    r2_exact = r2_score(y[test], exact.predict(X[test]))
    r2_quant = r2_score(y[test], quant.predict(X[test]))
    assert r2_quant >= r2_exact - 0.05, (r2_quant, r2_exact)


def test_quantized_gradients_validated():
    X, y = scored_dataset("diabetes")
    with pytest.raises(ValueError, match="quantized_gradients"):
        HistGradientBoostingRegressor(quantized_gradients="yes").fit(X, y)
