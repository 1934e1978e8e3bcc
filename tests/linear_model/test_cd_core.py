"""The coordinate-descent core (fastml._cd_fast) against the NumPy reference and scikit-learn's
cd_fast: solutions, duality gaps, both dtypes, both storage orders, on-the-fly centring and
weighting, the Gram variant, working sets on and off, thread counts, random selection."""
import functools

import numpy as np
import pytest
from sklearn.linear_model import _cd_fast as sk_cd

from fastml import _cd_fast
from fastml.reference import linear_cd as ref

SHAPES = [(40, 6), (25, 60), (300, 80)]


def _problem(n, d, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + rng.normal(size=d)  # columns off-centre
    coef = np.zeros(d)
    coef[rng.choice(d, size=min(d, 5), replace=False)] = rng.normal(scale=3, size=min(d, 5))
    y = X @ coef + rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


def _path(X, y, alphas, betas, *, mean=None, scale=None, w=None, tol=1e-12, random=False,
          positive=False, working_sets=True, n_threads=1, seeds=None, gram=False,
          gram_columns=False):
    dtype = X.dtype
    d = X.shape[1]
    w = np.zeros(d, dtype=dtype) if w is None else w.astype(dtype)
    coefs = np.zeros((len(alphas), d), dtype=dtype)
    alphas = np.asarray(alphas, dtype=np.float64)
    betas = np.asarray(betas, dtype=np.float64)
    seeds = np.ones(len(alphas), dtype=np.uint32) if seeds is None else seeds
    options = dict(max_iter=100000, tol=tol, random=random, positive=positive, screening=True,
                   working_sets=working_sets, n_threads=n_threads)
    if gram:
        Q = np.ascontiguousarray(X.T @ X)
        q = np.ascontiguousarray(X.T @ y)
        out = _cd_fast.enet_path_gram(w, coefs, alphas, betas, seeds, Q, q,
                                      float(y.astype(np.float64) @ y), **options)
    else:
        out = _cd_fast.enet_path_dense(w, coefs, alphas, betas, seeds, X, mean, scale, y,
                                       gram_columns=gram_columns, **options)
    return (coefs,) + tuple(out)


@functools.cache
def _reference_path(dtype, n, d, l1_ratio):
    """The problem of test_path_reaches_the_reference_optimum and its reference solutions (the
    NumPy descent is the slow part: computed once for the six core variants)."""
    X, y = _problem(n, d, dtype=dtype)
    amax = _alpha_max(X, y)
    fractions = [0.5, 0.1, 0.02]
    alphas = [f * amax * l1_ratio for f in fractions]
    betas = [f * amax * (1 - l1_ratio) for f in fractions]
    solutions = [ref.enet_cd(X, y, a, b, tol=1e-14, max_iter=200000)[0]
                 for a, b in zip(alphas, betas)]
    return X, y, alphas, betas, solutions


def _alpha_max(X, y):
    return float(np.max(np.abs(X.astype(np.float64).T @ y)))


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("n,d", SHAPES)
@pytest.mark.parametrize("l1_ratio", [1.0, 0.5, 0.0])
@pytest.mark.parametrize("view", ["residual", "gram", "gram_columns"])
@pytest.mark.parametrize("working_sets", [True, False])
def test_path_reaches_the_reference_optimum(dtype, n, d, l1_ratio, view, working_sets):
    X, y, alphas, betas, solutions = _reference_path(dtype, n, d, l1_ratio)
    tol = 1e-12 if dtype == np.float64 else 1e-6
    coefs, gaps, tols, n_iters, converged = _path(X, y, alphas, betas, gram=view == "gram",
                                                  gram_columns=view == "gram_columns", tol=tol,
                                                  working_sets=working_sets)
    assert coefs.dtype == dtype
    for k in range(len(alphas)):
        expected = solutions[k]
        # the gap bounds the distance to the optimum: compare it to the reference's
        gap = ref.enet_gap(X, y, coefs[k], alphas[k], betas[k])
        bound = tol * float(y.astype(np.float64) @ y)
        if dtype == np.float64:  # float32 coefficients alone cannot hold the gap this low
            assert gap <= 10 * bound + 1e-12
        assert converged[k]
        scale = max(1.0, np.abs(expected).max())
        # ridge (l1_ratio=0) with n < d is ill-conditioned: the gap bounds w only through beta
        atol = (1e-7 if l1_ratio > 0 else 1e-5) if dtype == np.float64 else 2e-2
        np.testing.assert_allclose(coefs[k], expected, atol=atol * scale)
        if dtype == np.float64 and l1_ratio > 0:
            np.testing.assert_array_equal(coefs[k] != 0, np.abs(expected) > 1e-9)
            np.testing.assert_allclose(gaps[k], gap, rtol=1e-6, atol=1e-9 * bound / tol)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("gram_columns", [False, True])
def test_centring_and_scaling_on_the_fly(dtype, order, weighted, gram_columns):
    n, d = 120, 30
    X, y = _problem(n, d, seed=1, dtype=dtype)
    rng = np.random.default_rng(2)
    mean = X.astype(np.float64).mean(axis=0).astype(dtype)
    scale = np.sqrt(rng.uniform(0.2, 2.0, size=n)).astype(dtype) if weighted else None
    design = (X.astype(np.float64) - mean) * (1.0 if scale is None else scale[:, None])
    target = (y - y.mean()) * (1.0 if scale is None else scale)
    target = target.astype(dtype)
    alpha = 0.1 * _alpha_max(design, target)
    coefs, gaps, *_ = _path(np.asarray(X, order=order), target, [alpha], [0.3 * alpha],
                            mean=mean, scale=scale, gram_columns=gram_columns,
                            tol=1e-12 if dtype == np.float64 else 1e-7)
    expected, _, _ = ref.enet_cd(design, target, alpha, 0.3 * alpha, tol=1e-14)
    atol = 1e-8 if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(coefs[0], expected, atol=atol * np.abs(expected).max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_warm_start_and_positive(dtype):
    X, y = _problem(80, 20, seed=3, dtype=dtype)
    alpha = 0.05 * _alpha_max(X, y)
    w0 = np.random.default_rng(0).normal(size=20)
    for positive in (False, True):
        coefs, *_ = _path(X, y, [alpha], [0.0], w=w0, positive=positive,
                          tol=1e-12 if dtype == np.float64 else 1e-7)
        expected, _, _ = ref.enet_cd(X, y, alpha, 0.0, positive=positive, tol=1e-14)
        if positive:
            assert (coefs[0] >= 0).all()
        np.testing.assert_allclose(coefs[0], expected,
                                   atol=(1e-8 if dtype == np.float64 else 1e-3)
                                   * np.abs(expected).max())


@pytest.mark.parametrize("view", ["residual", "gram", "gram_columns"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_thread_count_changes_nothing(view, dtype):
    X, y = _problem(300, 80, seed=4, dtype=dtype)
    amax = _alpha_max(X, y)
    alphas = [0.3 * amax, 0.05 * amax, 0.01 * amax]
    kw = dict(gram=view == "gram", gram_columns=view == "gram_columns", tol=1e-6)
    one = _path(X, y, alphas, [0.0] * 3, n_threads=1, **kw)
    for n_threads in (2, 3):
        other = _path(X, y, alphas, [0.0] * 3, n_threads=n_threads, **kw)
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("gram_columns", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_c_order_passes_in_row_chunks(gram_columns, dtype):
    # More rows than one chunk of a C-order pass (2048, cd_dense.hpp), the last one short, with
    # centring and weights on the fly: any thread count gives the same path, and it is the path
    # of the same X in F order (whose passes run column by column).
    X, y = _problem(2 * 2048 + 77, 12, seed=5, dtype=dtype)
    mean = X.mean(axis=0)
    scale = np.random.default_rng(5).uniform(0.5, 1.5, size=len(X)).astype(dtype)
    amax = _alpha_max((X - mean) * scale[:, None], y)
    alphas = [0.2 * amax, 0.02 * amax]
    kw = dict(mean=mean, scale=scale, gram_columns=gram_columns,
              tol=1e-10 if dtype == np.float64 else 1e-5)  # float32 cannot reach 1e-10
    one = _path(X, y, alphas, [0.0, 0.0], n_threads=1, **kw)
    for n_threads in (2, 3):
        other = _path(X, y, alphas, [0.0, 0.0], n_threads=n_threads, **kw)
        for a, b in zip(one, other):
            np.testing.assert_array_equal(a, b)
    f_order = _path(np.asfortranarray(X), y, alphas, [0.0, 0.0], **kw)[0]
    np.testing.assert_allclose(one[0], f_order, rtol=1e-9 if dtype == np.float64 else 2e-3,
                               atol=1e-12 if dtype == np.float64 else 1e-4)


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gram_columns_fetched_in_batches(order, dtype):
    # A support that outgrows the first batches of Gram columns (several BLAS products along the
    # path) and more features than one BLAS call takes (the product split between threads): the
    # same optimum as on the whole Gram matrix (gaps checked by the reference), for any thread
    # count bit for bit.
    rng = np.random.default_rng(8)
    n, d = 700, 600
    X = rng.normal(size=(n, d)) + rng.normal(size=d)
    y = X[:, :150] @ rng.normal(size=150) + rng.normal(size=n)
    X, y = np.asarray(X, dtype=dtype, order=order), y.astype(dtype)
    mean = X.mean(axis=0).astype(dtype)
    Xc = X.astype(np.float64) - mean
    amax = float(np.max(np.abs(Xc.T @ y)))
    alphas = [f * amax for f in (0.5, 0.1, 0.03)]
    betas = [0.1 * a for a in alphas]
    tol = 1e-10 if dtype == np.float64 else 1e-6
    one = _path(X, y, alphas, betas, mean=mean, gram_columns=True, tol=tol)
    assert (one[0][-1] != 0).sum() > 100  # past the first batch and the one after it
    whole = _path(Xc.astype(dtype), y, alphas, betas, gram=True, tol=tol)
    for k in range(len(alphas)):
        assert one[4][k]
        gap = ref.enet_gap(Xc, y, one[0][k], alphas[k], betas[k])
        assert gap <= 10 * tol * float(y.astype(np.float64) @ y) + 1e-9
        scale = np.abs(whole[0][k]).max()
        np.testing.assert_allclose(one[0][k], whole[0][k],
                                   atol=(1e-6 if dtype == np.float64 else 1e-2) * scale)
    other = _path(X, y, alphas, betas, mean=mean, gram_columns=True, tol=tol, n_threads=2)
    for a, b in zip(one, other):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("random", [True, False])
def test_sweeps_match_scikit_learn(dtype, gram, random):
    # Without working sets the core sweeps as scikit-learn's cd_fast does, drawing the features
    # from its random stream: the same model and the same number of sweeps.
    X, y = _problem(200, 40, seed=5, dtype=dtype)
    alpha = 0.05 * _alpha_max(X, y)
    rng = np.random.RandomState(7)
    seed = np.random.RandomState(7).randint(0, 2**31 - 1)
    w = np.zeros(40, dtype=dtype)
    F = np.asfortranarray(X)
    if gram:
        Q = np.ascontiguousarray(F.T @ F)
        q = F.T @ y
        w_sk, _, _, it_sk = sk_cd.enet_coordinate_descent_gram(
            w, dtype(alpha), dtype(0.0), Q, q, y, 1000, 1e-4, rng, random, False, True)
    else:
        w_sk, _, _, it_sk = sk_cd.enet_coordinate_descent(
            w, dtype(alpha), dtype(0.0), F, y, 1000, 1e-4, rng, random, False, True)
    coefs, _, _, n_iters, _ = _path(X, y, [alpha], [0.0], tol=1e-4, random=random,
                                    working_sets=False, gram=gram,
                                    seeds=np.array([seed], dtype=np.uint32))
    np.testing.assert_allclose(coefs[0], w_sk, rtol=1e-5 if dtype == np.float32 else 1e-10,
                               atol=1e-5 if dtype == np.float32 else 1e-10)
    assert n_iters[0] == it_sk


def test_max_iter_reports_no_convergence():
    X, y = _problem(100, 50, seed=6)
    coefs = np.zeros((1, 50))
    gaps, tols, n_iters, converged = _cd_fast.enet_path_dense(
        np.zeros(50), coefs, np.array([1.0]), np.array([0.0]), np.ones(1, np.uint32), X, None,
        None, y, max_iter=2, tol=1e-14, random=False, positive=False, screening=True,
        working_sets=True, gram_columns=False, n_threads=1)
    assert not converged[0] and n_iters[0] == 2 and gaps[0] > tols[0]


def test_entry_checks():
    X, y = _problem(30, 5)
    ok = dict(max_iter=10, tol=1e-4, random=False, positive=False, screening=True,
              working_sets=True, n_threads=1)
    dense_ok = dict(ok, gram_columns=False)
    args = (np.array([1.0]), np.array([0.0]), np.ones(1, np.uint32))
    with pytest.raises(ValueError, match="y has the wrong shape"):
        _cd_fast.enet_path_dense(np.zeros(5), np.zeros((1, 5)), *args, X, None, None, y[:-1],
                                 **dense_ok)
    with pytest.raises(ValueError, match="coefs has the wrong shape"):
        _cd_fast.enet_path_dense(np.zeros(5), np.zeros((2, 5)), *args, X, None, None, y, **dense_ok)
    with pytest.raises(ValueError, match="alphas and betas"):
        _cd_fast.enet_path_dense(np.zeros(5), np.zeros((1, 5)), np.array([-1.0]), *args[1:], X,
                                 None, None, y, **dense_ok)
    with pytest.raises(ValueError, match="n_threads"):
        _cd_fast.enet_path_dense(np.zeros(5), np.zeros((1, 5)), *args, X, None, None, y,
                                 **{**dense_ok, "n_threads": 0})
    with pytest.raises((TypeError, ValueError)):  # strided X: neither C- nor F-contiguous
        _cd_fast.enet_path_dense(np.zeros(5), np.zeros((1, 5)), *args, X[::2], None, None,
                                 y[::2], **dense_ok)
    with pytest.raises(TypeError):  # float32 w with float64 X: never converted
        _cd_fast.enet_path_dense(np.zeros(5, np.float32), np.zeros((1, 5)), *args, X, None, None,
                                 y, **dense_ok)
    with pytest.raises(ValueError, match="square"):
        _cd_fast.enet_path_gram(np.zeros(5), np.zeros((1, 5)), *args, np.zeros((5, 4)),
                                np.zeros(5), 1.0, **ok)
