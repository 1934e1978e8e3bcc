"""The dual coordinate descent core (fastml.linear_model._dual_cd_fast) against
fastml.reference.linear_svm on several shapes, both losses, with and without the bias column,
dense and CSR; its bounded draws against scikit-learn's liblinear stream (through the models);
the entry checks."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.linear_model import _dual_cd_fast as core
from fastml.reference import linear_svm as reference

SHAPES = [(2, 1), (12, 3), (40, 6)]


def _problem(n, d, seed=0):
    rng = np.random.default_rng(seed + 31 * n + d)
    X = rng.normal(size=(n, d)) * (rng.random((n, d)) < 0.8)
    sign = np.where(X @ rng.normal(size=d) + 0.5 * rng.normal(size=n) > 0, 1, -1)
    if np.all(sign == sign[0]):
        sign[0] = -sign[0]
    return X, sign.astype(np.int8), rng.uniform(0.2, 2.0, size=n), rng


def _call(name, X, layout, *args, **kwargs):
    if layout == "dense":
        return getattr(core, name)(X, *args, **kwargs)
    M = sp.csr_matrix(X)
    return getattr(core, name + "_csr")(M.indptr, M.indices, M.data, X.shape[1], *args, **kwargs)


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("bias", [-1.0, 3.0])
def test_svc_matches_reference(layout, n, d, squared, bias):
    X, sign, C, _ = _problem(n, d)
    rows = np.arange(n, dtype=np.int32)
    w, n_iter = _call("svc", X, layout, rows, sign, C, bias=bias, squared=squared, eps=1e-10,
                      max_iter=100_000, rng=core.Generator(7))
    assert n_iter < 100_000
    expected = reference.svc(X, sign, C, squared=squared, bias=bias)
    np.testing.assert_allclose(w, expected, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("n, d", SHAPES)
@pytest.mark.parametrize("squared", [False, True])
@pytest.mark.parametrize("bias", [-1.0, 1.0])
def test_svr_matches_reference(layout, n, d, squared, bias):
    X, _, C, rng = _problem(n, d, seed=1)
    y = X @ rng.normal(size=d) + 0.3 * rng.normal(size=n)
    rows = np.arange(n, dtype=np.int32)
    w, n_iter = _call("svr", X, layout, y, 0.1, rows, C, bias=bias, squared=squared, eps=1e-10,
                      max_iter=100_000, rng=core.Generator(3))
    assert n_iter < 100_000
    expected = reference.svr(X, y, 0.1, C, squared=squared, bias=bias)
    np.testing.assert_allclose(w, expected, rtol=1e-6, atol=1e-6)


def test_a_subset_of_rows_is_the_problem_on_those_rows():
    X, sign, C, _ = _problem(60, 7)
    rows = np.arange(0, 60, 2, dtype=np.int32)
    w, _ = core.svc(X, rows, sign[rows], C[rows], bias=1.0, squared=True, eps=1e-10,
                    max_iter=100_000, rng=core.Generator(1))
    expected = reference.svc(X[rows], sign[rows], C[rows], squared=True, bias=1.0)
    np.testing.assert_allclose(w, expected, rtol=1e-7, atol=1e-7)


def test_bounded_draws_lie_in_range_and_follow_the_seed():
    a, b = core.Generator(42), core.Generator(42)
    draws = [a.below(r) for r in (1, 2, 3, 7, 1000, 2**31 - 1) for _ in range(50)]
    assert draws == [b.below(r) for r in (1, 2, 3, 7, 1000, 2**31 - 1) for _ in range(50)]
    assert all(0 <= v < r for v, r in zip(draws, [r for r in (1, 2, 3, 7, 1000, 2**31 - 1)
                                                  for _ in range(50)]))


def test_entry_checks():
    X, sign, C, _ = _problem(12, 3)
    rows = np.arange(12, dtype=np.int32)
    common = dict(bias=1.0, squared=True, eps=1e-3, max_iter=10, rng=core.Generator(0))
    with pytest.raises(ValueError, match="rows"):
        core.svc(X, rows + 1, sign, C, **common)
    with pytest.raises(ValueError, match="sign"):
        core.svc(X, rows, (sign * 2).astype(np.int8), C, **common)
    with pytest.raises(ValueError, match="C must be positive"):
        core.svc(X, rows, sign, -C, **common)
    with pytest.raises(ValueError, match="C"):
        core.svc(X, rows, sign, C[:5], **common)
    with pytest.raises(TypeError):
        core.svc(X.astype(np.float32), rows, sign, C, **common)
