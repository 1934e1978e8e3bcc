"""The logistic loss core (fastml.linear_model._logistic_fast) against fastml.reference.logistic
on several shapes, both dtypes, binomial and multinomial, with and without weights, dense and
CSR (int32 and int64 indices); identical results for any thread count; the entry checks."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.linear_model import _logistic_fast as core
from fastml.reference import logistic as reference

SHAPES = [(1, 1), (7, 3), (300, 17), (700, 30)]  # n, d


def _problem(n, d, k, dtype, weighted, seed=0):
    rng = np.random.default_rng(seed + 7 * n + d + k)
    X = (rng.normal(size=(n, d)) * (rng.random((n, d)) < 0.6)).astype(dtype)
    y = rng.integers(0, 2 if k == 1 else k, size=n).astype(np.float64)
    sw = rng.uniform(0.0, 3.0, size=n) if weighted else None
    return X, y, sw, rng.normal(size=(k, d)), rng.normal(size=k)


def _call(name, X, layout, *args):
    if layout == "dense":
        return getattr(core, name)(X, *args)
    M = sp.csr_matrix(X)
    index = np.int32 if layout == "csr32" else np.int64
    return getattr(core, name + "_csr")(M.indptr.astype(index), M.indices.astype(index), M.data,
                                        X.shape[1], *args)


def _close(a, b):
    np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-11 * max(1.0, np.max(np.abs(b))))


@pytest.mark.parametrize("layout", ["dense", "csr32", "csr64"])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("weighted", [False, True])
def test_loss_gradient_hessian_match_reference(layout, k, n, d, weighted, dtype):
    X, y, sw, W, b = _problem(n, d, k, dtype, weighted)
    loss, gw, gb = _call("loss_gradient", X, layout, y, sw, W, b, None, 2)
    ref_loss, ref_gw, ref_gb = reference.loss_gradient(X, y, W, b, sw)
    _close(loss, ref_loss)
    _close(gw, ref_gw)
    _close(gb, ref_gb)
    for fit_intercept in (True, False):
        loss_h, gw_h, gb_h, H, _ = _call("gradient_hessian", X, layout, y, sw, W, b, None,
                                         fit_intercept, 2)
        _close(H, reference.hessian(X, y, W, b, sw, fit_intercept))
        _close(gw_h, ref_gw)
        _close(loss_h, ref_loss)
    _close(_call("raw_prediction", X, layout, W, b, 2), reference.raw_prediction(X, W, b))


@pytest.mark.parametrize("k", [1, 4])
def test_given_raw_prediction_replaces_the_products(k):
    X, y, sw, W, b = _problem(200, 9, k, np.float64, True)
    raw = reference.raw_prediction(X, W, b) + 0.5  # not X W + b: the core must use it
    loss, gw, _ = core.loss_gradient(X, y, sw, W, b, raw, 1)
    shifted = core.loss_gradient(X, y, sw, W, b + 0.5, None, 1)
    _close(loss, shifted[0])
    _close(gw, shifted[1])


@pytest.mark.parametrize("layout", ["dense", "csr32"])
@pytest.mark.parametrize("k", [1, 5])
def test_results_do_not_depend_on_threads(layout, k, dtype):
    X, y, sw, W, b = _problem(3000, 23, k, dtype, True)  # several chunks of rows
    one = _call("gradient_hessian", X, layout, y, sw, W, b, None, True, 1)
    two = _call("gradient_hessian", X, layout, y, sw, W, b, None, True, 2)
    for a, c in zip(one, two):
        np.testing.assert_array_equal(a, c)


def test_nonpositive_hessian_weight_counts_saturated_rows():
    X = np.array([[1000.0], [-1000.0], [0.5]])
    y = np.array([1.0, 0.0, 1.0])
    sw = np.array([2.0, 3.0, 4.0])
    *_, nonpositive = core.gradient_hessian(X, y, sw, np.ones((1, 1)), np.zeros(1), None, True, 1)
    assert nonpositive == 5.0  # |z| = 1000: sigmoid'(z) underflows to 0


def test_entry_checks():
    X, y, sw, W, b = _problem(20, 3, 3, np.float64, True)
    with pytest.raises(ValueError, match="class indices"):
        core.loss_gradient(X, np.full(20, 3.0), sw, W, b, None, 1)
    with pytest.raises(ValueError, match="class indices"):
        core.loss_gradient(X, np.full(20, 0.5), sw, W, b, None, 1)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        core.loss_gradient(X, np.full(20, 2.0), sw, W[:1], b[:1], None, 1)
    with pytest.raises(ValueError, match="coef"):
        core.loss_gradient(X, y, sw, np.ascontiguousarray(W[:, :2]), b, None, 1)
    with pytest.raises(ValueError, match="intercept"):
        core.loss_gradient(X, y, sw, W, b[:2], None, 1)
    with pytest.raises(ValueError, match="sample_weight"):
        core.loss_gradient(X, y, sw[:5], W, b, None, 1)
    with pytest.raises(ValueError, match="raw_prediction"):
        core.loss_gradient(X, y, sw, W, b, np.zeros((20, 2)), 1)
    with pytest.raises(ValueError, match="n_threads"):
        core.loss_gradient(X, y, sw, W, b, None, 0)
    M = sp.csr_matrix(X)
    bad = M.indices.copy()
    bad[0] = 3
    with pytest.raises(ValueError, match="column indices"):
        core.loss_gradient_csr(M.indptr, bad, M.data, 3, y, sw, W, b, None, 1)
    with pytest.raises(TypeError):  # no silent conversion of X
        core.loss_gradient(X.astype(np.int64), y, sw, W, b, None, 1)


@pytest.mark.parametrize("p", [1, 5, 40])
@pytest.mark.parametrize("l1", [0.0, 0.05, 0.5, 50.0])
def test_l1_quadratic_cd_matches_reference(p, l1):
    rng = np.random.default_rng(p)
    A = rng.normal(size=(3 * p, p))
    H = A.T @ A / p + 1e-3 * np.eye(p)
    g, w = rng.normal(size=p), rng.normal(size=p) * (rng.random(p) < 0.5)
    penalised = (rng.random(p) < 0.8).astype(np.uint8)
    d, sweeps = core.l1_quadratic_cd(H, g, w, penalised, l1, 1e-12, 500)
    ref_d, ref_sweeps = reference.l1_quadratic_cd(H, g, w, penalised, l1, 1e-12, 500)
    np.testing.assert_allclose(d, ref_d, rtol=1e-10, atol=1e-12)
    assert sweeps == ref_sweeps
    # The step minimises the model: its subgradient holds 0 at w + d.
    z, r = w + d, g + H @ d
    pen = penalised.astype(bool)
    np.testing.assert_allclose(r[~pen], 0.0, atol=1e-8)
    nonzero = pen & (z != 0)
    np.testing.assert_allclose(r[nonzero], -l1 * np.sign(z[nonzero]), atol=1e-8)
    assert np.all(np.abs(r[pen & (z == 0)]) <= l1 + 1e-8)


def test_l1_quadratic_cd_checks_its_input():
    H, g, w, pen = np.eye(3), np.ones(3), np.zeros(3), np.ones(3, dtype=np.uint8)
    with pytest.raises(ValueError):
        core.l1_quadratic_cd(np.eye(2), g, w, pen, 0.1, 1e-8, 10)
    with pytest.raises(ValueError):
        core.l1_quadratic_cd(H, g, w, pen, -0.1, 1e-8, 10)
    with pytest.raises(TypeError):
        core.l1_quadratic_cd(H, g, w, pen.astype(bool), 0.1, 1e-8, 10)


# The multinomial dense path holds the classes in vector lanes for k up to 4 vectors (8 doubles
# each on AVX-512, or 4 where that pads fewer lanes: 3 and 10 classes; 4 on AVX2, 2 on SSE2)
# and takes a class at a time beyond: k across those bounds, and row counts that leave partial
# groups and blocks.
@pytest.mark.parametrize("k", [2, 3, 9, 10, 17, 33])
@pytest.mark.parametrize("n, d", [(5, 3), (203, 11)])
def test_many_classes_match_reference(k, n, d, dtype):
    X, y, sw, W, b = _problem(n, d, k, dtype, True)
    for n_threads in (1, 2):
        loss, gw, gb = core.loss_gradient(X, y, sw, W, b, None, n_threads)
        ref_loss, ref_gw, ref_gb = reference.loss_gradient(X, y, W, b, sw)
        _close(loss, ref_loss)
        _close(gw, ref_gw)
        _close(gb, ref_gb)
