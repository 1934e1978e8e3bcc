"""The recommender core (fastml.recommend._mf_fast, csrc/recommend) against fastml.reference.mf.

Shapes include rows without entries and rows longer than a block of the implicit solver holds
(those are split into chunks that threads share), factor counts that fill whole vectors and
others that leave a tail; both dtypes; every result the same for any thread count.
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.recommend import _kernels_cpu
from fastml.recommend import _mf_fast as core
from fastml.reference import mf as reference

# (n_rows, n_cols, k, density, long_rows): long rows hold 85% or 45% of the columns, beyond a
# block of the implicit solver (256 KiB of gathered rows: 512 to 2048 entries here). A long row
# holding over 1/16 of the entries has its passes split into chunks; the others are solved
# whole, in place (the last shape has both kinds).
SHAPES = [
    (30, 20, 3, 0.3, 0),
    (12, 3000, 40, 0.01, 2),
    (9, 3000, 17, 0.02, 1),
    (70, 2600, 64, 0.005, 2),
    (1, 5, 1, 0.5, 0),
    (30, 2600, 64, 0.01, 12),
]
SHAPE_IDS = [f"{n}x{m}-k{k}-long{n_long}" for n, m, k, _, n_long in SHAPES]
TOL = {np.float32: dict(rtol=2e-3, atol=2e-4), np.float64: dict(rtol=1e-9, atol=1e-11)}


@pytest.fixture(autouse=True)
def every_thread():
    """Small shapes run on every thread asked for (by default the core keeps small calls on one
    thread), so that the thread-count comparisons compare something."""
    previous = core.min_thread_work()
    core.set_min_thread_work(0)
    yield
    core.set_min_thread_work(previous)


def _interactions(n_rows, n_cols, density, n_long, seed, dtype):
    """Counts 1-4; row 1 (when there is one) has no entries; the last n_long rows hold 85% and
    45% of the columns in turn."""
    rng = np.random.default_rng(seed)
    dense = np.where(rng.random((n_rows, n_cols)) < density,
                     rng.integers(1, 5, (n_rows, n_cols)), 0).astype(dtype)
    if n_rows > 1:
        dense[1] = 0
    for row in range(n_rows - n_long, n_rows):
        fill = 0.85 if (n_rows - row) % 2 else 0.45
        dense[row] = np.where(rng.random(n_cols) < fill, rng.integers(1, 5, n_cols), 0)
    return sp.csr_matrix(dense)


def _factors(n, k, seed, dtype, scale=0.3):
    return (scale * np.random.default_rng(seed).standard_normal((n, k))).astype(dtype)


def _implicit_sweep(R, X, Y, reg, alpha, cg_steps, n_threads, loss=True):
    C = R.copy()
    C.data = 1 + alpha * C.data
    X = X.copy()
    row_loss = np.empty(R.shape[0]) if loss else None
    gram = core.gram(Y, reg, n_threads)
    singular = core.implicit_sweep(*_kernels_cpu.csr_arrays(C), X, Y, gram, cg_steps, row_loss,
                                   n_threads)
    assert singular == 0
    return X, row_loss


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cg_steps", [0, 1, 3])
def test_implicit_sweep_matches_the_reference(shape, cg_steps, dtype):
    n_rows, n_cols, k, density, n_long = shape
    R = _interactions(n_rows, n_cols, density, n_long, 0, dtype)
    X0, Y = _factors(n_rows, k, 1, dtype), _factors(n_cols, k, 2, dtype, scale=0.1)
    reg, alpha = 0.5, 2.0
    X, row_loss = _implicit_sweep(R, X0, Y, reg, alpha, cg_steps, 2)
    if cg_steps:
        expected = reference.implicit_cg_step(R, X0, Y, reg, alpha, cg_steps)
    else:
        expected = reference.implicit_als_step(R, X0, Y, reg, alpha)
    np.testing.assert_allclose(X, expected, **TOL[dtype])
    assert X.dtype == dtype
    if n_rows > 1:
        assert not X[1].any()  # no entries: exactly zero
    # The row shares and reg |Y|^2 make up the whole objective.
    total = row_loss.sum() + reg * np.vdot(Y.astype(np.float64), Y.astype(np.float64))
    assert total == pytest.approx(reference.implicit_loss(R, X, Y, reg, alpha),
                                  rel=TOL[dtype]["rtol"])


@pytest.mark.parametrize("shape", SHAPES[1:4], ids=SHAPE_IDS[1:4])
def test_implicit_sweep_conjugate_gradient_converges_to_the_exact_solve(shape):
    n_rows, n_cols, k, density, n_long = shape
    R = _interactions(n_rows, n_cols, density, n_long, 3, np.float64)
    X0, Y = _factors(n_rows, k, 4, np.float64), _factors(n_cols, k, 5, np.float64, scale=0.1)
    X, _ = _implicit_sweep(R, X0, Y, 1.0, 1.0, 4 * k, 1, loss=False)
    np.testing.assert_allclose(X, reference.implicit_als_step(R, X0, Y, 1.0, 1.0), rtol=1e-7,
                               atol=1e-9)


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("cg_steps", [0, 3])
def test_implicit_sweep_does_not_depend_on_threads_or_on_the_other_rows(shape, cg_steps, dtype):
    n_rows, n_cols, k, density, n_long = shape
    R = _interactions(n_rows, n_cols, density, n_long, 6, dtype)
    X0, Y = _factors(n_rows, k, 7, dtype), _factors(n_cols, k, 8, dtype, scale=0.1)
    X1, loss1 = _implicit_sweep(R, X0, Y, 0.5, 2.0, cg_steps, 1)
    for n_threads in (2, 3):
        X2, loss2 = _implicit_sweep(R, X0, Y, 0.5, 2.0, cg_steps, n_threads)
        np.testing.assert_array_equal(X2, X1)
        np.testing.assert_array_equal(loss2, loss1)
    # Rows in another order sit in other blocks beside other rows: each gets the same bits.
    order = np.random.default_rng(9).permutation(n_rows)
    X3, loss3 = _implicit_sweep(R[order], X0[order], Y, 0.5, 2.0, cg_steps, 2)
    np.testing.assert_array_equal(X3, X1[order])
    np.testing.assert_array_equal(loss3, loss1[order])


def test_implicit_sweep_reports_singular_rows():
    R = sp.csr_matrix(np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 0.0]]))
    C = R.copy()
    # Zero regularization and Y of rank 1 in 2 factors: singular normal equations for row 0.
    Y = np.array([[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]])
    X = np.ones((2, 2))
    singular = core.implicit_sweep(*_kernels_cpu.csr_arrays(C), X, Y, core.gram(Y, 0.0, 1), 0,
                                   None, 1)
    assert singular == 1 and np.isnan(X[0]).all() and not X[1].any()


@pytest.mark.parametrize("shape", [(40, 30, 3000), (5, 4000, 300), (3, 7, 2)])
def test_gram_matches_numpy(shape, dtype):
    n, k, _ = shape
    A = _factors(n, k, 10, dtype)
    expected = A.astype(np.float64).T @ A.astype(np.float64) + 0.25 * np.eye(k)
    for n_threads in (1, 2):
        G = core.gram(A, 0.25, n_threads)
        assert G.dtype == dtype
        np.testing.assert_allclose(G, expected, rtol=TOL[dtype]["rtol"] / 10, atol=1e-5)
        np.testing.assert_array_equal(G, G.T)
        np.testing.assert_array_equal(G, core.gram(A, 0.25, 1))


def _explicit_sweep(R, Y, col_bias, mu, reg, biases, n_threads):
    X = np.full((R.shape[0], Y.shape[1]), 7, R.dtype)
    row_bias = np.full(R.shape[0], 7, R.dtype)
    row_loss = np.empty(R.shape[0])
    assert core.explicit_sweep(*_kernels_cpu.csr_arrays(R), Y, col_bias, mu, reg, biases, X,
                               row_bias, row_loss, n_threads) == 0
    return X, row_bias, row_loss


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
@pytest.mark.parametrize("biases", [True, False])
def test_explicit_sweep_matches_the_reference(shape, biases, dtype):
    n_rows, n_cols, k, density, n_long = shape
    R = _interactions(n_rows, n_cols, density, n_long, 11, dtype)
    Y = _factors(n_cols, k, 12, dtype)
    col_bias = _factors(n_cols, 1, 13, dtype)[:, 0]
    mu = 2.5 if biases else 0.0
    X, row_bias, row_loss = _explicit_sweep(R, Y, col_bias, mu, 0.7, biases, 2)
    expected_X, expected_bias = reference.explicit_als_step(R, Y, col_bias, mu, 0.7, biases)
    np.testing.assert_allclose(X, expected_X, **TOL[dtype])
    np.testing.assert_allclose(row_bias, expected_bias, **TOL[dtype])
    # The row shares and reg (|Y|^2 + |col_bias|^2) make up the whole objective.
    item_bias = col_bias.astype(np.float64) if biases else np.zeros(n_cols)
    wide_Y = Y.astype(np.float64)
    total = row_loss.sum() + 0.7 * (np.vdot(wide_Y, wide_Y) + np.vdot(item_bias, item_bias))
    expected = reference.explicit_loss(R, X, Y, row_bias, item_bias, mu, 0.7)
    assert total == pytest.approx(expected, rel=TOL[dtype]["rtol"])
    for n_threads in (1, 3):
        for got, want in zip(_explicit_sweep(R, Y, col_bias, mu, 0.7, biases, n_threads),
                             (X, row_bias, row_loss)):
            np.testing.assert_array_equal(got, want)


def _ratings(n_users, n_items, n, seed, dtype):
    rng = np.random.default_rng(seed)
    pairs = rng.choice(n_users * n_items, n, replace=False)
    return (pairs // n_items, pairs % n_items, rng.uniform(1, 5, n).astype(dtype))


@pytest.mark.parametrize("sizes", [(50, 40, 600, 8), (7, 300, 500, 17), (3, 2, 4, 1)])
@pytest.mark.parametrize("biases", [True, False])
def test_sgd_epoch_matches_the_reference_in_bucket_order(sizes, biases, dtype):
    n_users, n_items, n, k = sizes
    users, items, ratings = _ratings(n_users, n_items, n, 14, dtype)
    X0, Y0 = _factors(n_users, k, 15, dtype), _factors(n_items, k, 16, dtype)
    mu = float(ratings.mean()) if biases else 0.0
    order, starts = _kernels_cpu.sgd_epoch_order(users, items, np.random.RandomState(0),
                                                 _kernels_cpu.SGD_BLOCKS)
    state = [X0.astype(np.float64), Y0.astype(np.float64), np.zeros(n_users), np.zeros(n_items)]
    reference.sgd_epoch(users, items, ratings, *state, mu, 0.05, 0.1, biases, order)
    results = []
    for n_threads in (1, 2, 3):
        got = [X0.copy(), Y0.copy(), np.zeros(n_users, dtype), np.zeros(n_items, dtype)]
        core.sgd_epoch(users, items, ratings, order, starts, _kernels_cpu.SGD_BLOCKS, *got, mu,
                       0.05, 0.1, biases, n_threads)
        results.append(got)
    for got, want in zip(results[0], state):
        np.testing.assert_allclose(got, want, **TOL[dtype])
    for other in results[1:]:
        for got, want in zip(other, results[0]):
            np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("sizes", [(50, 40, 600, 8), (3, 2, 4, 1)])
def test_explicit_errors_match_the_reference(sizes, dtype):
    n_users, n_items, n, k = sizes
    users, items, ratings = _ratings(n_users, n_items, n, 17, dtype)
    X, Y = _factors(n_users, k, 18, dtype), _factors(n_items, k, 19, dtype)
    ub, ib = _factors(n_users, 1, 20, dtype)[:, 0], _factors(n_items, 1, 21, dtype)[:, 0]
    expected = (ratings - reference.predict(X, Y, ub, ib, 1.5, users, items)) ** 2
    for n_threads in (1, 2):
        out = np.empty(n)
        core.explicit_errors(users, items, ratings, X, Y, ub, ib, 1.5, out, n_threads)
        np.testing.assert_allclose(out, expected, **TOL[dtype])


@pytest.mark.parametrize("shape", [(40, 300, 10), (5, 8, 8), (3, 4, 0), (60, 1000, 30)])
def test_top_k_matches_the_reference(shape, dtype):
    n_rows, n_items, k = shape
    rng = np.random.default_rng(22)
    # Few distinct values: many ties, which go to the lower item index.
    scores = rng.integers(0, 6, (n_rows, n_items)).astype(dtype)
    seen = sp.random(n_rows, n_items, density=0.3, random_state=23, format="lil")
    seen[0] = 0  # a row with nothing seen
    seen[-1] = 1  # a row with everything seen: all padding
    seen = seen.tocsr()
    users = np.arange(n_rows)
    expected_items, expected_scores = reference.recommend(scores, np.eye(n_items), seen, users, k,
                                                          True)
    for n_threads in (1, 2):
        items = np.empty((n_rows, k), np.int64)
        best = np.empty((n_rows, k), dtype)
        work = scores.copy()
        core.top_k(work, *map(_kernels_cpu._ids, (seen.indptr, seen.indices)), items, best,
                   n_threads)
        np.testing.assert_array_equal(items, expected_items)
        np.testing.assert_array_equal(best, expected_scores.astype(dtype))
        assert np.isneginf(work[seen.nonzero()]).all()  # the seen items are overwritten


def test_top_k_never_ranks_nan_or_excluded_scores():
    scores = np.array([[np.nan, 1.0, -np.inf, 3.0, np.nan]])
    items, best = np.empty((1, 4), np.int64), np.empty((1, 4))
    no_seen = np.zeros(2, np.int64), np.zeros(0, np.int64)
    core.top_k(scores, *no_seen, items, best, 1)
    np.testing.assert_array_equal(items, [[3, 1, -1, -1]])
    np.testing.assert_array_equal(best, [[3.0, 1.0, -np.inf, -np.inf]])


def _implicit_args():
    R = sp.csr_matrix(np.array([[1.0, 0, 2, 0, 0], [0, 0, 0, 0, 0], [1, 1, 1, 1, 1],
                                [0, 3, 0, 0, 4]]))  # indptr [0, 2, 2, 7, 9]
    indptr, indices, data = _kernels_cpu.csr_arrays(R)
    X, Y = np.zeros((4, 2)), np.ones((5, 2))
    return dict(indptr=indptr, indices=indices, confidence=data, X=X, Y=Y,
                gram_reg=np.eye(2), cg_steps=2, row_loss=None, n_threads=1)


@pytest.mark.parametrize("changes, message", [
    (dict(indices=np.array([0, 9, 1, 2, 3, 4, 0, 1, 2, 3, 4, 0], np.int64)), "indices must lie"),
    (dict(indptr=np.array([0, 3, 2, 5, 6], np.int64)), "indptr must not decrease"),
    (dict(indptr=np.array([0, 1, 2, 3, 99], np.int64)), "indptr must lie within"),
    (dict(X=np.zeros((3, 2))), "one row per row"),
    (dict(Y=np.ones((5, 3))), "Y must have shape"),
    (dict(gram_reg=np.eye(3)), "gram_reg has the wrong shape"),
    (dict(row_loss=np.empty(3)), "row_loss has the wrong shape"),
    (dict(cg_steps=-1), "cg_steps must be"),
    (dict(n_threads=0), "n_threads must be"),
], ids=["index", "indptr-order", "indptr-bound", "X-rows", "Y-cols", "gram", "row_loss", "steps",
        "threads"])
def test_implicit_sweep_entry_checks(changes, message):
    args = _implicit_args()
    if "indices" in changes:
        args["confidence"] = np.ones(len(changes["indices"]))
    args.update(changes)
    with pytest.raises(ValueError, match=message):
        core.implicit_sweep(**args)


def test_entry_checks_reject_shared_memory_and_wrong_types():
    args = _implicit_args()
    Y = np.ones((6, 2))
    with pytest.raises(ValueError, match="must not share memory"):
        core.implicit_sweep(**{**args, "X": Y[:4], "Y": Y[1:]})
    with pytest.raises(TypeError):  # float32 confidences with float64 factors: no conversion
        core.implicit_sweep(**{**args, "confidence": args["confidence"].astype(np.float32)})
    with pytest.raises(TypeError):  # int32 indices are converted once by the driver, not here
        core.implicit_sweep(**{**args, "indices": args["indices"].astype(np.int32)})


def test_sgd_epoch_rejects_buckets_that_would_race():
    users, items, ratings = _ratings(8, 8, 30, 25, np.float64)
    order, starts = _kernels_cpu.sgd_epoch_order(users, items, np.random.RandomState(0), 4)
    state = [np.zeros((8, 2)), np.zeros((8, 2)), np.zeros(8), np.zeros(8)]
    core.sgd_epoch(users, items, ratings, order, starts, 4, *state, 0.0, 0.1, 0.1, True, 2)
    with pytest.raises(ValueError, match="buckets of sgd_epoch_order"):
        core.sgd_epoch(users, items, ratings, np.sort(order), starts, 4, *state, 0.0, 0.1, 0.1,
                       True, 2)
    with pytest.raises(ValueError, match="users must lie"):
        core.sgd_epoch(users + 8, items, ratings, order, starts, 4, *state, 0.0, 0.1, 0.1, True,
                       2)
