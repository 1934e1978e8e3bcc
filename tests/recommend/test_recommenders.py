"""fastml.recommend MatrixFactorization and ItemKNN on the CPU: the Numba kernels against the
NumPy reference (fastml.reference.mf) in float64, float32 behaviour, determinism across thread
counts, input forms, inference (predict / recommend / similar_items / recalculate_user), errors,
pickling, progress output, and ItemKNN's similarities against brute force."""
import pickle

import numpy as np
import pytest
import scipy.sparse as sp
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.exceptions import NotFittedError
from threadpoolctl import threadpool_limits

import fastml
import fastml._backend
from fastml._backend import CudaStatus, cuda_status
from fastml.recommend import ItemKNN, MatrixFactorization
from fastml.recommend._kernels_cpu import SGD_BLOCKS, sgd_epoch_order
from fastml.reference import mf as reference


@pytest.fixture(autouse=True)
def _one_thread_by_default():
    """scikit-learn, BLAS and Numba may load separate OpenMP runtimes, whose idle threads spin
    while another works. Threads are tested where they matter, by explicit n_jobs."""
    with threadpool_limits(limits=1):
        yield


# (n_users, n_items, n_factors, empty_user, empty_item): a user and an item without interactions,
# one factor, more users than one parallel task of the kernels (64 rows), few items.
SHAPES = [(30, 20, 3, 0, 19), (7, 50, 1, None, None), (130, 40, 8, 64, 0), (70, 4, 2, 69, None)]


def _shape_id(shape):
    n_users, n_items, k, empty_user, empty_item = shape
    return f"{n_users}x{n_items}k{k}" + ("-eu" if empty_user is not None else "") + (
        "-ei" if empty_item is not None else "")


def _ratings(n_users, n_items, density=0.3, seed=0, empty_user=None, empty_item=None,
             low=1.0, high=5.0):
    """Sparse ratings in [low, high) as canonical float64 CSR; every user and item but the
    empty ones keeps at least one entry."""
    rng = np.random.default_rng([n_users, n_items, seed])
    dense = rng.uniform(low, high, size=(n_users, n_items))
    mask = rng.uniform(size=dense.shape) < density
    users = np.setdiff1d(np.arange(n_users), [] if empty_user is None else [empty_user])
    items = np.setdiff1d(np.arange(n_items), [] if empty_item is None else [empty_item])
    mask[users, rng.choice(items, size=len(users))] = True
    mask[rng.choice(users, size=len(items)), items] = True
    if empty_user is not None:
        mask[empty_user] = False
    if empty_item is not None:
        mask[:, empty_item] = False
    R = sp.csr_matrix(np.where(mask, dense, 0.0))
    assert np.count_nonzero(np.diff(R.indptr)) == len(users)
    assert np.count_nonzero(np.diff(R.tocsc().indptr)) == len(items)
    return R


def _initial_factors(random_state, n_users, n_items, k, implicit):
    """The initial factors MatrixFactorization draws, and the RandomState after drawing them."""
    rs = np.random.RandomState(random_state)
    scale = 0.01 if implicit else 0.1
    X0 = scale * rs.standard_normal((n_users, k))
    Y0 = scale * rs.standard_normal((n_items, k))
    return X0, Y0, rs


def _mf(**params):
    params.setdefault("device", "cpu")
    params.setdefault("random_state", 0)
    return MatrixFactorization(**params)


def _assert_non_increasing(losses, rtol):
    for before, after in zip(losses, losses[1:]):
        assert after <= before * (1 + rtol), losses


def _planted(n_users, n_items, rank, observed, seed, offset):
    """A noise-free rank-`rank` matrix plus an offset, split into observed and held-out entries."""
    rng = np.random.default_rng(seed)
    full = rng.normal(size=(n_users, rank)) @ rng.normal(size=(n_items, rank)).T + offset
    mask = rng.uniform(size=full.shape) < observed
    assert mask.sum(axis=1).min() > rank + 1 and mask.sum(axis=0).min() > rank + 1
    return full, mask, sp.csr_matrix(np.where(mask, full, 0.0))


def _held_out_rmse(model, full, mask):
    users, items = np.nonzero(~mask)
    return float(np.sqrt(np.mean((model.predict(users, items) - full[users, items]) ** 2)))


# ---------------------------------------------------------------------------------------------
# 1. kernels against the reference, float64

@pytest.mark.parametrize("reg, alpha", [(0.1, 1.0), (1.0, 10.0), (0.01, 40.0)])
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_implicit_exact_matches_reference(shape, reg, alpha):
    n_users, n_items, k, empty_user, empty_item = shape
    R = _ratings(n_users, n_items, seed=1, empty_user=empty_user, empty_item=empty_item)
    model = _mf(n_factors=k, feedback="implicit", cg_steps=None, n_iter=3, regularization=reg,
                alpha=alpha, dtype=np.float64, random_state=7).fit(R)
    X0, Y0, _ = _initial_factors(7, n_users, n_items, k, implicit=True)
    X, Y, losses = reference.implicit_als(R, X0, Y0, reg, alpha, n_iter=3)
    assert model.user_factors_.dtype == np.float64 and model.item_factors_.dtype == np.float64
    assert_allclose(model.user_factors_, X, rtol=1e-8, atol=1e-8)
    assert_allclose(model.item_factors_, Y, rtol=1e-8, atol=1e-8)
    assert_allclose(np.array(model.loss_curve_) * R.nnz, losses, rtol=1e-9)
    if empty_user is not None:
        assert_array_equal(model.user_factors_[empty_user], 0.0)
    if empty_item is not None:
        assert_array_equal(model.item_factors_[empty_item], 0.0)
    assert_array_equal(model.user_bias_, 0.0)
    assert_array_equal(model.item_bias_, 0.0)
    assert model.global_mean_ == 0.0


@pytest.mark.parametrize("cg_steps", [1, 3])
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_implicit_cg_close_to_exact_and_monotone(shape, cg_steps):
    n_users, n_items, k, empty_user, empty_item = shape
    R = _ratings(n_users, n_items, seed=2, empty_user=empty_user, empty_item=empty_item)
    params = dict(n_factors=k, feedback="implicit", n_iter=10, regularization=0.1, alpha=5.0,
                  dtype=np.float64)
    exact = _mf(cg_steps=None, **params).fit(R)
    cg = _mf(**params) if cg_steps == 3 else _mf(cg_steps=cg_steps, **params)
    assert cg.cg_steps == cg_steps  # 3 is the default
    cg.fit(R)
    _assert_non_increasing(cg.loss_curve_, rtol=1e-12)
    # Warm-started conjugate gradient with the default 3 steps lands close to exact ALS after
    # the same number of sweeps (one step per row and sweep converges more slowly). Inexact
    # sweeps follow another path, which may even end slightly lower.
    gap = (cg.loss_curve_[-1] - exact.loss_curve_[-1]) / exact.loss_curve_[-1]
    assert abs(gap) < (0.05 if cg_steps == 3 else 0.5), gap
    # The loss curve is the implicit objective of the final factors.
    assert cg.loss_curve_[-1] * R.nnz == pytest.approx(
        reference.implicit_loss(R, cg.user_factors_, cg.item_factors_, 0.1, 5.0), rel=1e-9)


def _assert_fit_equals(model, R, X, Y, user_bias, item_bias, global_mean, losses):
    """The fitted model is the reference's result (float64)."""
    assert_allclose(model.user_factors_, X, rtol=1e-8, atol=1e-8)
    assert_allclose(model.item_factors_, Y, rtol=1e-8, atol=1e-8)
    assert_allclose(model.user_bias_, user_bias, rtol=1e-8, atol=1e-8)
    assert_allclose(model.item_bias_, item_bias, rtol=1e-8, atol=1e-8)
    assert model.global_mean_ == pytest.approx(global_mean, rel=1e-14)
    assert_allclose(np.array(model.loss_curve_) * R.nnz, losses, rtol=1e-9)


@pytest.mark.parametrize("reg", [0.05, 1.0])
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_explicit_als_matches_reference(shape, biases, reg):
    n_users, n_items, k, empty_user, empty_item = shape
    R = _ratings(n_users, n_items, seed=3, empty_user=empty_user, empty_item=empty_item)
    model = _mf(n_factors=k, n_iter=4, regularization=reg, biases=biases, dtype=np.float64,
                random_state=11).fit(R)
    _, Y0, _ = _initial_factors(11, n_users, n_items, k, implicit=False)
    X, Y, user_bias, item_bias, global_mean, losses = reference.explicit_als(
        R, Y0, reg, n_iter=4, biases=biases)
    _assert_fit_equals(model, R, X, Y, user_bias, item_bias, global_mean, losses)
    if biases:
        assert model.global_mean_ == pytest.approx(R.data.mean(), rel=1e-14)
    else:
        assert model.global_mean_ == 0.0
        assert_array_equal(model.user_bias_, 0.0)
        assert_array_equal(model.item_bias_, 0.0)


def _dense_enough(n_users, n_items, seed, empty_user=None):
    """Ratings where every user and item (but the empty user) has more than 3 ratings, so that
    unregularized least squares with 2 factors and a bias is well posed."""
    rng = np.random.default_rng(seed)
    dense = rng.uniform(1.0, 5.0, size=(n_users, n_items))
    dense[rng.uniform(size=dense.shape) > 0.6] = 0.0
    if empty_user is not None:
        dense[empty_user] = 0.0
    counts_u = (dense != 0).sum(axis=1)
    assert counts_u[counts_u > 0].min() > 3 and (dense != 0).sum(axis=0).min() > 3
    return sp.csr_matrix(dense)


def _explicit_without_regularization(R, biases):
    model = _mf(n_factors=2, n_iter=3, regularization=0.0, biases=biases,
                dtype=np.float64).fit(R)
    _, Y0, _ = _initial_factors(0, *R.shape, 2, implicit=False)
    X, Y, user_bias, item_bias, _, losses = reference.explicit_als(R, Y0, 0.0, 3, biases)
    assert_allclose(model.user_factors_, X, rtol=1e-8, atol=1e-8)
    assert_allclose(model.item_factors_, Y, rtol=1e-8, atol=1e-8)
    assert_allclose(model.user_bias_, user_bias, rtol=1e-8, atol=1e-8)
    assert_allclose(np.array(model.loss_curve_) * R.nnz, losses, rtol=1e-9)
    return model


@pytest.mark.parametrize("biases", [True, False])
def test_explicit_als_without_regularization(biases):
    _explicit_without_regularization(_dense_enough(30, 20, seed=40), biases)


@pytest.mark.parametrize("biases", [True, False])
def test_explicit_als_without_regularization_user_without_ratings(biases):
    model = _explicit_without_regularization(_dense_enough(30, 20, seed=40, empty_user=0),
                                             biases)
    assert_array_equal(model.user_factors_[0], 0.0)
    assert model.user_bias_[0] == 0.0


def test_recalculate_user_without_regularization_empty_row():
    model = _mf(n_factors=2, n_iter=3, regularization=0.0, dtype=np.float64).fit(
        _dense_enough(30, 20, seed=40))
    factors, bias = model.recalculate_user(np.zeros(20))
    assert_array_equal(factors, 0.0)
    assert bias == 0.0


def test_singular_equations_raise_instead_of_nan():
    # One rating per user and item, 3 factors, no regularization: the solves are singular.
    R = sp.csr_matrix(np.eye(4) * 3.0)
    with pytest.raises(ValueError, match="singular.*regularization > 0"):
        _mf(n_factors=3, n_iter=1, regularization=0.0, dtype=np.float64).fit(R)


@pytest.mark.parametrize("learning_rate, reg", [(0.02, 0.05), (0.005, 0.5)])
@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("shape", SHAPES, ids=_shape_id)
def test_sgd_matches_reference(shape, biases, learning_rate, reg):
    n_users, n_items, k, empty_user, empty_item = shape
    R = _ratings(n_users, n_items, seed=4, empty_user=empty_user, empty_item=empty_item)
    n_iter = 5
    model = _mf(n_factors=k, solver="sgd", n_iter=n_iter, learning_rate=learning_rate,
                regularization=reg, biases=biases, dtype=np.float64, random_state=13).fit(R)
    X0, Y0, rs = _initial_factors(13, n_users, n_items, k, implicit=False)
    coo = R.tocoo()
    users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
    orders = [sgd_epoch_order(users, items, rs, SGD_BLOCKS)[0] for _ in range(n_iter)]
    X, Y, user_bias, item_bias, global_mean, losses = reference.sgd(
        users, items, coo.data, X0, Y0, learning_rate, reg, biases, orders)
    _assert_fit_equals(model, R, X, Y, user_bias, item_bias, global_mean, losses)
    if empty_user is not None:  # never visited: keeps its initial factors
        assert_array_equal(model.user_factors_[empty_user], X0[empty_user])


def test_sgd_epoch_order_is_a_permutation_in_conflict_free_buckets():
    R = _ratings(50, 40, seed=5)
    coo = R.tocoo()
    users, items = coo.row.astype(np.int64), coo.col.astype(np.int64)
    order, starts = sgd_epoch_order(users, items, np.random.RandomState(0), SGD_BLOCKS)
    assert_array_equal(np.sort(order), np.arange(R.nnz))
    assert starts[0] == 0 and starts[-1] == R.nnz and np.all(np.diff(starts) >= 0)
    for stratum in range(SGD_BLOCKS):
        seen_users, seen_items = set(), set()
        for block in range(SGD_BLOCKS):
            bucket = order[starts[stratum * SGD_BLOCKS + block]:
                           starts[stratum * SGD_BLOCKS + block + 1]]
            bucket_users, bucket_items = set(users[bucket]), set(items[bucket])
            assert not (bucket_users & seen_users) and not (bucket_items & seen_items)
            seen_users |= bucket_users
            seen_items |= bucket_items


# ---------------------------------------------------------------------------------------------
# 2. float32

_SOLVERS = {
    "implicit-exact": dict(feedback="implicit", cg_steps=None, alpha=5.0),
    "implicit-cg": dict(feedback="implicit", alpha=5.0),
    "explicit-als": dict(feedback="explicit"),
    "explicit-als-nobias": dict(feedback="explicit", biases=False),
    "sgd": dict(feedback="explicit", solver="sgd", learning_rate=0.01),
}
_ALS_SOLVERS = [name for name in _SOLVERS if name != "sgd"]


@pytest.mark.parametrize("solver", list(_SOLVERS))
def test_float32_stays_float32_and_is_close_to_float64(solver):
    R = _ratings(60, 40, seed=6, empty_user=3, empty_item=5)
    params = dict(n_factors=4, n_iter=3, regularization=0.5, **_SOLVERS[solver])
    single = _mf(dtype=np.float32, **params).fit(R)
    double = _mf(dtype=np.float64, **params).fit(R)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        assert getattr(single, name).dtype == np.float32, name
        assert getattr(double, name).dtype == np.float64, name
        assert_allclose(getattr(single, name), getattr(double, name), rtol=1e-3, atol=1e-3,
                        err_msg=name)
    assert_allclose(single.loss_curve_, double.loss_curve_, rtol=1e-4)
    assert single.predict([0, 1], [2, 3]).dtype == np.float32
    items, scores = single.recommend([0, 1], k=3)
    assert items.dtype == np.int64 and scores.dtype == np.float32


@pytest.mark.parametrize("solver", _ALS_SOLVERS)
def test_als_loss_decreases_every_sweep(solver, dtype):
    R = _ratings(80, 50, seed=7, empty_user=10)
    model = _mf(n_factors=5, n_iter=12, regularization=0.1, dtype=dtype,
                **_SOLVERS[solver]).fit(R)
    assert len(model.loss_curve_) == 12
    assert all(np.isfinite(model.loss_curve_))
    _assert_non_increasing(model.loss_curve_, rtol=1e-6 if dtype == np.float32 else 1e-12)
    assert model.loss_curve_[-1] < model.loss_curve_[0]


@pytest.mark.parametrize("biases", [True, False])
@pytest.mark.parametrize("solver", ["als", "sgd"])
def test_recovers_planted_low_rank(solver, biases, dtype):
    full, mask, R = _planted(80, 60, rank=2, observed=0.5, seed=8,
                             offset=3.0 if biases else 0.0)
    if solver == "als":
        model = _mf(n_factors=2, n_iter=30, regularization=1e-3, biases=biases, dtype=dtype)
    else:
        model = _mf(n_factors=2, solver="sgd", n_iter=150, learning_rate=0.02,
                    regularization=1e-3, biases=biases, dtype=dtype)
    model.fit(R)
    assert model.user_factors_.dtype == dtype
    rmse = _held_out_rmse(model, full, mask)
    # A constant predictor misses by the spread of the data (about 1.4 here).
    assert rmse < 0.1, rmse


@pytest.mark.parametrize("solver", list(_SOLVERS))
def test_large_regularization_keeps_factors_finite(solver, dtype):
    R = _ratings(50, 30, seed=9)
    params = dict(_SOLVERS[solver])
    if solver == "sgd":
        params["learning_rate"] = 5e-4  # one step shrinks by learning_rate * reg = 0.5
    model = _mf(n_factors=6, n_iter=50, regularization=1e3, dtype=dtype, **params).fit(R)
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_"):
        assert np.all(np.isfinite(getattr(model, name))), name
    assert np.all(np.isfinite(model.loss_curve_))
    # Heavy shrinkage: the factors are tiny compared with the ratings.
    assert np.abs(model.user_factors_).max() < 0.1
    assert np.abs(model.item_factors_).max() < 0.1


# ---------------------------------------------------------------------------------------------
# 3. determinism

def _fitted_state(model):
    return [model.user_factors_, model.item_factors_, model.user_bias_, model.item_bias_,
            np.array(model.loss_curve_)]


@pytest.mark.parametrize("solver", list(_SOLVERS))
def test_same_random_state_same_result(solver, dtype):
    R = _ratings(90, 70, seed=10)
    params = dict(n_factors=5, n_iter=4, dtype=dtype, **_SOLVERS[solver])
    first = _fitted_state(_mf(random_state=3, **params).fit(R))
    second = _fitted_state(_mf(random_state=np.random.RandomState(3), **params).fit(R))
    other = _fitted_state(_mf(random_state=4, **params).fit(R))
    for a, b in zip(first, second):
        assert_array_equal(a, b)
    # Another seed starts ALS from other item factors (and shuffles SGD otherwise).
    assert not np.array_equal(first[1], other[1])


@pytest.mark.parametrize("solver", list(_SOLVERS))
def test_n_jobs_does_not_change_the_result(solver, dtype):
    # More rows than one parallel task (64) on both sides, and every SGD bucket populated.
    R = _ratings(200, 150, density=0.1, seed=11, empty_user=70, empty_item=140)
    params = dict(n_factors=6, n_iter=3, dtype=dtype, **_SOLVERS[solver])
    one = _mf(n_jobs=1, **params).fit(R)
    two = _mf(n_jobs=2, **params).fit(R)
    for a, b in zip(_fitted_state(one), _fitted_state(two)):
        assert_array_equal(a, b)
    users = np.arange(200)
    for a, b in zip(one.recommend(users, k=5), two.recommend(users, k=5)):
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# 4. input forms

def _input_forms(R):
    """The same matrix as CSR, CSC, COO with duplicates split in halves plus stored zeros, a
    dense array and triplets."""
    coo = R.tocoo()
    zero_rows, zero_cols = np.nonzero(R.toarray() == 0)  # where stored zeros go
    rows = np.concatenate([coo.row, coo.row, zero_rows[:2]])
    cols = np.concatenate([coo.col, coo.col, zero_cols[:2]])
    vals = np.concatenate([coo.data / 2, coo.data / 2, [0.0, 0.0]])
    triplet_rows = np.concatenate([coo.row, zero_rows[:1]])
    triplet_cols = np.concatenate([coo.col, zero_cols[:1]])
    triplet_vals = np.concatenate([coo.data, [0.0]])  # a zero rating is no rating
    return {
        "csr": R,
        "csc": R.tocsc(),
        "coo-duplicates": sp.coo_matrix((vals, (rows, cols)), shape=R.shape),
        "csr_array": sp.csr_array(R),
        "lil": R.tolil(),
        "csr-stored-zeros": _with_stored_zeros(R),
        "dense": R.toarray(),
        "dense-f32": R.toarray().astype(np.float32),
        "triplets": (coo.row, coo.col, coo.data),
        "triplets-lists": (coo.row.tolist(), coo.col.tolist(), coo.data.tolist()),
        "triplets-zero": (triplet_rows, triplet_cols, triplet_vals),
    }


def _with_stored_zeros(R):
    """R with three explicit zeros stored in its CSR structure."""
    dense_mask = R.toarray() == 0
    extra_rows, extra_cols = np.nonzero(dense_mask)
    extra = sp.coo_matrix((np.zeros(3), (extra_rows[:3], extra_cols[:3])), shape=R.shape)
    coo = R.tocoo()
    out = sp.csr_matrix((np.concatenate([coo.data, extra.data]),
                         (np.concatenate([coo.row, extra.row]),
                          np.concatenate([coo.col, extra.col]))), shape=R.shape)
    assert out.nnz == R.nnz + 3  # scipy keeps the explicit zeros on construction
    return out


_FORMS = ["csr", "csc", "coo-duplicates", "csr_array", "lil", "csr-stored-zeros", "dense",
          "dense-f32", "triplets", "triplets-lists", "triplets-zero"]


@pytest.mark.parametrize("form", _FORMS)
@pytest.mark.parametrize("solver", ["implicit-exact", "explicit-als", "sgd"])
def test_input_forms_give_the_same_fit(solver, form):
    # Integer-valued ratings: halves, sums and float32 copies are exact.
    R = _ratings(40, 30, seed=12)
    R.data = np.ceil(R.data)
    # Triplets infer the shape from the largest ids: the last user and item are not empty.
    assert R[-1].nnz and R[:, -1].nnz
    params = dict(n_factors=3, n_iter=3, dtype=np.float64, **_SOLVERS[solver])
    expected = _mf(**params).fit(R)
    X = _input_forms(R)[form]
    model = _mf(**params).fit(X)
    assert (model.n_users_, model.n_items_) == R.shape
    assert_array_equal(model.item_popularity_, np.diff(R.tocsc().indptr))
    for a, b in zip(_fitted_state(model), _fitted_state(expected)):
        assert_array_equal(a, b)


@pytest.mark.parametrize("solver", ["implicit-cg", "explicit-als"])
def test_read_only_and_fortran_ordered_input(solver):
    R = _ratings(40, 30, seed=12)
    params = dict(n_factors=3, n_iter=3, dtype=np.float64, **_SOLVERS[solver])
    expected = _fitted_state(_mf(**params).fit(R))
    read_only = R.copy()
    for a in (read_only.data, read_only.indices, read_only.indptr):
        a.setflags(write=False)
    dense_ro = R.toarray()
    dense_ro.setflags(write=False)
    coo = R.tocoo()
    for array in (coo.row, coo.col, coo.data):
        array.setflags(write=False)
    for X in (read_only, dense_ro, np.asfortranarray(R.toarray()), (coo.row, coo.col, coo.data)):
        for a, b in zip(_fitted_state(_mf(**params).fit(X)), expected):
            assert_array_equal(a, b)
    assert_array_equal(R.toarray(), dense_ro)  # the input is not modified


def test_two_column_triplets_are_ones():
    R = _ratings(30, 20, seed=13)
    coo = R.tocoo()
    binary = R.copy()
    binary.data[:] = 1.0
    params = dict(n_factors=3, n_iter=3, feedback="implicit", dtype=np.float64)
    expected = _mf(**params).fit(binary)
    model = _mf(**params).fit((coo.row, coo.col))
    for a, b in zip(_fitted_state(model), _fitted_state(expected)):
        assert_array_equal(a, b)


def test_item_knn_input_forms_agree():
    R = _ratings(40, 30, seed=14)
    coo = R.tocoo()
    expected = ItemKNN(n_neighbors=5).fit(R).similarity_.toarray()
    for X in (R.tocsc(), R.toarray(), (coo.row, coo.col, coo.data), _with_stored_zeros(R)):
        assert_allclose(ItemKNN(n_neighbors=5).fit(X).similarity_.toarray(), expected,
                        rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------------------------------------
# 5. predict, recommend, similar_items, recalculate_user

def _fitted(feedback, biases=True, dtype=np.float64, shape=(40, 30), **params):
    R = _ratings(*shape, seed=15, empty_user=2, empty_item=7)
    model = _mf(n_factors=4, n_iter=5, feedback=feedback, biases=biases, dtype=dtype,
                alpha=3.0, **params).fit(R)
    return model, R


@pytest.mark.parametrize("filter_seen", [True, False])
@pytest.mark.parametrize("feedback, biases", [("explicit", True), ("explicit", False),
                                              ("implicit", False)])
def test_recommend_matches_reference(feedback, biases, filter_seen):
    model, R = _fitted(feedback, biases)
    users = np.array([0, 1, 5, 39, 20, 1])  # a repeated user
    k = 12
    items, scores = model.recommend(users, k=k, filter_seen=filter_seen)
    expected_items, expected_scores = reference.recommend(
        model.user_factors_, model.item_factors_, R, users, k, filter_seen,
        item_bias=model.item_bias_)
    assert items.shape == scores.shape == (len(users), k)
    assert_array_equal(items, expected_items)
    # The reference ranks by x_u . y_i + b_i: the user's bias and the global mean shift a row.
    offset = model.global_mean_ + model.user_bias_[users]
    assert_allclose(scores, expected_scores + offset[:, None], rtol=1e-10, atol=1e-12)
    assert np.all(np.diff(scores, axis=1) <= 0)
    # The scores are the predictions of the recommended pairs.
    assert_allclose(scores, model.predict(np.repeat(users, k), items.ravel()).reshape(items.shape),
                    rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_recommend_filter_seen_and_padding(feedback, dtype):
    R = _ratings(20, 15, seed=16).tolil()
    R[3, :] = 0
    R[3, :13] = 1.0  # user 3 has seen all but two items
    model = _mf(n_factors=3, n_iter=3, feedback=feedback, dtype=dtype).fit(R)
    R = R.tocsr()
    users = np.arange(20)
    items, scores = model.recommend(users, k=15)
    assert scores.dtype == dtype
    for u in users:
        seen = R[u].indices
        valid = items[u] >= 0
        assert valid.sum() == 15 - len(seen)
        # Padding only at the end.
        assert np.all(valid[:valid.sum()])
        assert_array_equal(items[u, ~valid], -1)
        assert np.all(scores[u, ~valid] == -np.inf)
        assert np.all(np.isfinite(scores[u, valid]))
        assert not set(items[u, valid]) & set(seen)
        assert_array_equal(np.sort(items[u, valid]), np.setdiff1d(np.arange(15), seen))
        assert np.all(np.diff(scores[u, valid]) <= 0)
    assert_array_equal(np.sort(items[3, :2]), [13, 14])
    all_items, all_scores = model.recommend(users, k=15, filter_seen=False)
    assert np.all(all_items >= 0) and np.all(np.isfinite(all_scores))
    for u in users:
        assert_array_equal(np.sort(all_items[u]), np.arange(15))
    with pytest.raises(ValueError, match="larger than the number of items"):
        model.recommend(users, k=16)


def test_unknown_users_explicit():
    model, R = _fitted("explicit")
    assert R[2].nnz == 0  # user 2 has no ratings
    unknown = [2, model.n_users_, model.n_users_ + 100]
    items = [0, 7, 29]
    expected = model.global_mean_ + model.item_bias_[items]
    assert_allclose(model.predict(unknown, items), expected, rtol=1e-12)
    # A known user gets the full formula.
    u, i = 5, 3
    full = (model.global_mean_ + model.user_bias_[u] + model.item_bias_[i]
            + model.user_factors_[u] @ model.item_factors_[i])
    assert model.predict([u], [i])[0] == pytest.approx(full, rel=1e-12)
    rec_items, rec_scores = model.recommend(unknown, k=model.n_items_)
    ranking = np.argsort(-model.item_bias_, kind="stable")
    for row in range(3):
        assert_array_equal(rec_items[row], ranking)
        assert_allclose(rec_scores[row], model.global_mean_ + model.item_bias_[ranking],
                        rtol=1e-12)


@pytest.mark.parametrize("filter_seen", [True, False])
def test_unknown_users_implicit_get_popular_items(filter_seen, dtype):
    model, R = _fitted("implicit", dtype=dtype)
    popularity = np.diff(R.tocsc().indptr)
    assert_array_equal(model.item_popularity_, popularity)
    assert popularity[7] == 0
    unknown = [2, model.n_users_, model.n_users_ + 3]
    items, scores = model.recommend(unknown, k=10, filter_seen=filter_seen)
    ranking = np.argsort(-popularity, kind="stable")[:10]
    for row in range(3):
        assert_array_equal(items[row], ranking)
        assert_array_equal(scores[row], popularity[ranking])
    # Mixed with known users: those keep their factor scores.
    mixed_items, _ = model.recommend([0, model.n_users_, 1], k=10, filter_seen=filter_seen)
    assert_array_equal(mixed_items[1], ranking)
    assert_array_equal(mixed_items[[0, 2]], model.recommend([0, 1], k=10,
                                                            filter_seen=filter_seen)[0])
    # Implicit predictions for unknown users are 0 (no factors, no biases).
    assert_array_equal(model.predict(unknown, [0, 1, 2]), 0.0)


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_recommend_in_small_batches_is_the_same(feedback, dtype):
    """Scores are computed in blocks of rows that fit in working_memory: the block size must
    not change the result."""
    model, _ = _fitted(feedback, dtype=dtype)
    users = np.r_[np.arange(40), 45, 2, 0]
    expected = model.recommend(users, k=9)
    expected_similar = model.similar_items(np.arange(30), k=4)
    # BLAS may round a row's scores differently (by an ulp) in another block shape.
    rtol = 1e-5 if dtype == np.float32 else 1e-12
    with fastml.config_context(working_memory=0.0005):  # 524 bytes: one or two rows a block
        for got, want in ((model.recommend(users, k=9), expected),
                          (model.similar_items(np.arange(30), k=4), expected_similar)):
            assert_array_equal(got[0], want[0])
            assert_allclose(got[1], want[1], rtol=rtol)


def test_item_knn_in_small_batches_is_the_same():
    R = _ratings(60, 40, seed=8)
    model = ItemKNN(n_neighbors=10).fit(R)
    users = np.r_[np.arange(60), 75, 3]  # 75: an unknown user
    expected = model.recommend(users, k=7), model.similar_items(np.arange(40), k=5)
    with fastml.config_context(working_memory=0.0005):  # one row of 40 scores a block
        got = model.recommend(users, k=7), model.similar_items(np.arange(40), k=5)
    for (got_items, got_scores), (want_items, want_scores) in zip(got, expected):
        assert_array_equal(got_items, want_items)
        assert_array_equal(got_scores, want_scores)


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_similar_items_are_cosine_neighbours(feedback, dtype):
    model, _ = _fitted(feedback, dtype=dtype)
    Y = model.item_factors_.astype(np.float64)
    norms = np.linalg.norm(Y, axis=1)
    unit = Y / np.where(norms > 0, norms, 1)[:, None]
    cosine = unit @ unit.T
    item_ids = np.arange(model.n_items_)
    k = 6
    items, scores = model.similar_items(item_ids, k=k)
    assert items.shape == scores.shape == (model.n_items_, k)
    assert np.all(items != item_ids[:, None])
    assert np.all(items >= 0)
    assert np.all(scores >= -1 - 1e-5) and np.all(scores <= 1 + 1e-5)
    assert np.all(np.diff(scores, axis=1) <= 0)
    tol = 1e-5 if dtype == np.float32 else 1e-12
    assert_allclose(scores, np.take_along_axis(cosine, items, axis=1), atol=tol)
    for i in item_ids:
        others = np.delete(cosine[i], i)
        # The k-th best similarity of the others bounds everything left out.
        threshold = np.sort(others)[::-1][k - 1]
        assert scores[i, -1] >= threshold - tol
        left_out = np.setdiff1d(np.delete(item_ids, i), items[i])
        assert np.all(cosine[i, left_out] <= scores[i, -1] + tol)
    if dtype == np.float64:  # no near ties here: the exact ranking
        expected = np.array([np.delete(item_ids, i)[np.argsort(-np.delete(cosine[i], i),
                                                               kind="stable")][:k]
                             for i in item_ids])
        # Item 7 has zero factors: all its similarities are 0, ties broken by index.
        assert_array_equal(items, expected)
    with pytest.raises(ValueError, match="larger than the number of items"):
        model.similar_items([0], k=model.n_items_)


@pytest.mark.parametrize("cg_steps", [None, 3])
def test_recalculate_user_implicit_is_the_exact_als_step(cg_steps):
    model, R = _fitted("implicit", cg_steps=cg_steps)
    Y = model.item_factors_
    # One more exact user sweep of the reference against the fitted item factors.
    X_next = reference.implicit_als_step(R, model.user_factors_, Y, model.regularization,
                                         model.alpha)
    for u in [0, 1, 2, 17, 39]:
        for row in (R[u], R[u].toarray(), R[u].toarray().ravel()):
            factors, bias = model.recalculate_user(row)
            assert factors.shape == (model.n_factors,) and bias == 0.0
            assert_allclose(factors, X_next[u], rtol=1e-9, atol=1e-12)
    # The fitted users solved the item factors of the sweep before: the recalculated ones
    # differ from them (a check that the comparison above is not vacuous).
    assert not np.allclose(model.user_factors_[[0, 1, 17, 39]], X_next[[0, 1, 17, 39]],
                           rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("biases", [True, False])
def test_recalculate_user_explicit_is_the_exact_als_step(biases):
    model, R = _fitted("explicit", biases=biases)
    X_next, bias_next = reference.explicit_als_step(
        R, model.item_factors_, model.item_bias_, model.global_mean_, model.regularization,
        biases)
    for u in [0, 1, 2, 17, 39]:
        factors, bias = model.recalculate_user(R[u])
        assert isinstance(bias, float)
        assert_allclose(factors, X_next[u], rtol=1e-9, atol=1e-12)
        assert bias == pytest.approx(bias_next[u], rel=1e-9, abs=1e-12)
        if not biases:
            assert bias == 0.0
    factors, bias = model.recalculate_user(np.zeros(model.n_items_))
    assert_array_equal(factors, 0.0)
    assert bias == 0.0


def test_recalculate_user_matches_the_fit_after_a_final_user_sweep():
    """With exact ALS and a fit of n_iter sweeps, recalculating every training user against the
    fitted item factors gives the users of the reference run for one more (user) half-sweep."""
    R = _ratings(30, 20, seed=17, empty_user=4)
    model = _mf(n_factors=3, feedback="implicit", cg_steps=None, n_iter=4, regularization=0.2,
                alpha=2.0, dtype=np.float64).fit(R)
    X0, Y0, _ = _initial_factors(0, 30, 20, 3, implicit=True)
    _, Y, _ = reference.implicit_als(R, X0, Y0, 0.2, 2.0, n_iter=4)
    X_after = reference.implicit_als_step(R, X0, Y, 0.2, 2.0)
    recalculated = np.array([model.recalculate_user(R[u])[0] for u in range(30)])
    assert_allclose(recalculated, X_after, rtol=1e-8, atol=1e-10)
    assert_array_equal(recalculated[4], 0.0)


# ---------------------------------------------------------------------------------------------
# 6. errors

@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("form", ["sparse", "dense", "triplets"])
def test_non_finite_values_rejected(bad, form):
    R = _ratings(10, 8, seed=18).tolil()
    R[1, 2] = bad
    R = R.tocsr()
    X = {"sparse": R, "dense": R.toarray(), "triplets": (*R.nonzero(), R[R.nonzero()].A1)}[form]
    for model in (_mf(n_factors=2, n_iter=1), _mf(n_factors=2, n_iter=1, solver="sgd"),
                  _mf(n_factors=2, n_iter=1, feedback="implicit"), ItemKNN()):
        with pytest.raises(ValueError, match="NaN or infinity"):
            model.fit(X)


def test_negative_values_rejected_for_implicit_feedback():
    R = _ratings(10, 8, seed=19).tolil()
    R[1, 2] = -1.0
    R = R.tocsr()
    for model in (_mf(n_factors=2, feedback="implicit"), ItemKNN()):
        with pytest.raises(ValueError, match="(?i)negative"):
            model.fit(R)
    # Negative ratings are fine for explicit feedback.
    assert np.all(np.isfinite(_mf(n_factors=2, n_iter=2).fit(R).user_factors_))
    model = _mf(n_factors=2, feedback="implicit").fit(abs(R))
    with pytest.raises(ValueError, match="(?i)negative"):
        model.recalculate_user(R[1])


def test_sgd_with_implicit_feedback_rejected():
    with pytest.raises(ValueError, match="solver='sgd' supports explicit feedback only"):
        _mf(feedback="implicit", solver="sgd").fit(_ratings(10, 8))


@pytest.mark.parametrize("empty", [
    sp.csr_matrix((5, 4)),
    np.zeros((5, 4)),
    sp.csr_matrix((np.zeros(2), ([0, 1], [1, 2])), shape=(5, 4)),  # stored zeros only
], ids=["sparse", "dense", "stored-zeros"])
def test_empty_matrix_rejected(empty):
    for model in (_mf(), _mf(feedback="implicit"), _mf(solver="sgd"), ItemKNN()):
        with pytest.raises(ValueError, match="no interactions"):
            model.fit(empty)


def test_bad_ids_rejected():
    model, _ = _fitted("explicit")
    with pytest.raises(ValueError, match="item_ids must be below 30"):
        model.predict([0, 1], [0, 30])
    with pytest.raises(ValueError, match="user_ids must be non-negative"):
        model.predict([-1], [0])
    with pytest.raises(ValueError, match="item_ids must be non-negative"):
        model.predict([0], [-1])
    with pytest.raises(ValueError, match="user_ids must be non-negative"):
        model.recommend([-2])
    with pytest.raises(ValueError, match="item_ids must be non-negative"):
        model.similar_items([-1])
    with pytest.raises(ValueError, match="item_ids must be below 30"):
        model.similar_items([30])
    with pytest.raises(ValueError, match="differ in length"):
        model.predict([0, 1, 2], [0, 1])
    with pytest.raises(TypeError, match="integer ids"):
        model.predict([0.5], [1])
    with pytest.raises(ValueError, match="user_ids must be non-negative"):
        _mf().fit(([0, -1], [0, 1], [1.0, 2.0]))
    with pytest.raises(ValueError, match="equal length"):
        _mf().fit(([0, 1], [0, 1, 2], [1.0, 2.0]))
    knn = ItemKNN().fit(_ratings(20, 10, seed=20))
    with pytest.raises(ValueError, match="user_ids must be non-negative"):
        knn.recommend([-1])
    with pytest.raises(ValueError, match="item_ids must be below 10"):
        knn.similar_items([10])


@pytest.mark.parametrize("k", [0, -3, 2.0, True])
def test_bad_k_rejected(k):
    model, _ = _fitted("implicit")
    knn = ItemKNN().fit(_ratings(20, 10, seed=21))
    for call in (model.recommend, model.similar_items, knn.recommend, knn.similar_items):
        with pytest.raises(ValueError, match="k must be a positive int"):
            call([0], k=k)


def test_unfitted_estimators_raise():
    for model in (_mf(), ItemKNN()):
        with pytest.raises(NotFittedError):
            model.recommend([0])
        with pytest.raises(NotFittedError):
            model.similar_items([0])
    with pytest.raises(NotFittedError):
        _mf().predict([0], [0])
    with pytest.raises(NotFittedError):
        _mf().recalculate_user(np.ones(3))


@pytest.mark.skipif(cuda_status().available,
                    reason="CUDA (or its simulator, NUMBA_ENABLE_CUDASIM=1) is available here: "
                           "device='cuda' runs instead of raising")
def test_device_cuda_without_cuda_raises():
    with pytest.raises(RuntimeError, match="CUDA is unavailable"):
        MatrixFactorization(n_factors=2, device="cuda").fit(_ratings(10, 8))


def test_device_cuda_raises_when_the_probe_fails(monkeypatch):
    """The same, whatever this machine has: the probe reports CUDA unusable."""
    monkeypatch.setattr(fastml._backend, "cuda_status",
                        lambda: CudaStatus(False, "no CUDA device found"))
    with pytest.raises(RuntimeError, match="CUDA is unavailable: no CUDA device found"):
        MatrixFactorization(n_factors=2, device="cuda").fit(_ratings(10, 8))


def test_device_cpu_is_recorded():
    model = _mf(n_factors=2, n_iter=1).fit(_ratings(10, 8))
    assert model.device_ == "cpu"


@pytest.mark.parametrize("bad_dtype, match", [
    (np.int32, "dtype must be float32 or float64"),
    (np.float16, "dtype must be float32 or float64"),
    ("float16", "dtype"),
    ("int64", "dtype"),
])
def test_bad_dtype_rejected(bad_dtype, match):
    with pytest.raises(ValueError, match=match):
        _mf(n_factors=2, dtype=bad_dtype).fit(_ratings(10, 8))


@pytest.mark.parametrize("param, value", [("n_factors", 0), ("n_iter", 0),
                                          ("regularization", -1.0), ("learning_rate", 0.0),
                                          ("cg_steps", 0), ("feedback", "both"),
                                          ("solver", "adam"), ("device", "tpu")])
def test_bad_parameters_rejected(param, value):
    with pytest.raises(ValueError, match=param):
        _mf(**{param: value}).fit(_ratings(10, 8))


@pytest.mark.parametrize("param, value", [("n_neighbors", 0), ("similarity", "jaccard"),
                                          ("half_life", 0.0), ("half_life", -1.0)])
def test_item_knn_bad_parameters_rejected(param, value):
    with pytest.raises(ValueError, match=param):
        ItemKNN(**{param: value}).fit(_ratings(10, 8))


# ---------------------------------------------------------------------------------------------
# 7. pickling and progress output

@pytest.mark.parametrize("make", [
    lambda: _mf(n_factors=3, n_iter=3, feedback="implicit"),
    lambda: _mf(n_factors=3, n_iter=3, solver="sgd"),
    lambda: ItemKNN(n_neighbors=5, similarity="pearson"),
], ids=["mf-implicit", "mf-sgd", "item-knn"])
def test_pickle_round_trip(make):
    R = _ratings(40, 30, seed=22, empty_user=1)
    model = make().fit(R)
    clone = pickle.loads(pickle.dumps(model))
    users = np.array([0, 1, 5, 39, 40])
    for a, b in zip(model.recommend(users, k=7), clone.recommend(users, k=7)):
        assert_array_equal(a, b)
    for a, b in zip(model.similar_items([0, 3], k=4), clone.similar_items([0, 3], k=4)):
        assert_array_equal(a, b)
    if isinstance(model, MatrixFactorization):
        assert_array_equal(model.predict([0, 5], [1, 2]), clone.predict([0, 5], [1, 2]))
        assert_array_equal(model.user_factors_, clone.user_factors_)
    else:
        assert (model.similarity_ != clone.similarity_).nnz == 0


@pytest.mark.parametrize("solver", ["implicit-cg", "explicit-als", "sgd"])
def test_verbose_progress_bar(solver, capsys):
    _mf(n_factors=2, n_iter=4, verbose=1, **_SOLVERS[solver]).fit(_ratings(20, 10))
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.endswith("\n")
    assert captured.err.count("\n") == 1
    assert "4/4" in captured.err and "loss" in captured.err
    assert captured.err.count("\r") == 4  # redrawn once per iteration
    _mf(n_factors=2, n_iter=4, verbose=0, **_SOLVERS[solver]).fit(_ratings(20, 10))
    assert capsys.readouterr().err == ""


# ---------------------------------------------------------------------------------------------
# 8. ItemKNN

def _brute_similarity(vectors):
    """Cosine similarity between the columns of a dense users x items array (0 for a zero
    column)."""
    norms = np.linalg.norm(vectors, axis=0)
    unit = vectors / np.where(norms > 0, norms, 1)
    return unit.T @ unit


def _assert_top_neighbours(S, brute, n_neighbors, tol=1e-10):
    """Row i of S holds the n_neighbors most similar other items by brute force (zeros left
    out) with their brute-force similarities."""
    S = S.tocsr()
    n_items = brute.shape[0]
    for i in range(n_items):
        cols = S.indices[S.indptr[i]:S.indptr[i + 1]]
        vals = S.data[S.indptr[i]:S.indptr[i + 1]]
        assert i not in cols
        assert len(cols) <= n_neighbors
        assert np.all(vals != 0)
        assert_allclose(vals, brute[i, cols], rtol=tol, atol=tol)
        others = np.delete(np.arange(n_items), i)
        ranked = others[np.argsort(-brute[i, others], kind="stable")][:n_neighbors]
        expected = ranked[np.abs(brute[i, ranked]) > tol]
        assert set(cols) == set(expected), (i, sorted(cols), sorted(expected))


@pytest.mark.parametrize("n_neighbors", [1, 3, 10, 100])
@pytest.mark.parametrize("similarity", ["cosine", "pearson"])
@pytest.mark.parametrize("iuf", [False, True])
def test_item_knn_similarity_structure(n_neighbors, similarity, iuf):
    R = _ratings(60, 25, density=0.2, seed=23, empty_item=4)
    model = ItemKNN(n_neighbors=n_neighbors, similarity=similarity, iuf=iuf).fit(R)
    S = model.similarity_
    assert sp.issparse(S) and S.shape == (25, 25)
    per_row = np.diff(S.tocsr().indptr)
    assert per_row.max() <= n_neighbors
    assert np.all(S.diagonal() == 0)
    assert np.all(np.abs(S.data) <= 1 + 1e-12) and np.all(S.data != 0)
    assert per_row[4] == 0 and S.tocsc()[:, 4].nnz == 0  # an item without users
    if similarity == "cosine":
        assert np.all(S.data > 0)  # non-negative data
    assert (model.n_users_, model.n_items_) == (60, 25)


@pytest.mark.parametrize("n_neighbors", [2, 5, 30])
def test_item_knn_cosine_matches_brute_force(n_neighbors):
    R = _ratings(50, 30, density=0.15, seed=24, empty_item=0)
    model = ItemKNN(n_neighbors=n_neighbors).fit(R)
    _assert_top_neighbours(model.similarity_, _brute_similarity(R.toarray()), n_neighbors)


@pytest.mark.parametrize("n_neighbors", [3, 30])
def test_item_knn_pearson_is_cosine_of_centred_items(n_neighbors):
    R = _ratings(50, 30, density=0.2, seed=25)
    dense = R.toarray()
    stored = dense != 0
    means = dense.sum(axis=0) / np.maximum(stored.sum(axis=0), 1)
    centred = np.where(stored, dense - means, 0.0)
    model = ItemKNN(n_neighbors=n_neighbors, similarity="pearson").fit(R)
    brute = _brute_similarity(centred)
    assert (brute < 0).any()
    _assert_top_neighbours(model.similarity_, brute, n_neighbors)
    assert (model.similarity_.data < 0).any() == (n_neighbors == 30)


def _iuf_weighted(dense):
    per_user = (dense != 0).sum(axis=1)
    return dense * np.log(dense.shape[1] / np.maximum(per_user, 1))[:, None]


@pytest.mark.parametrize("similarity", ["cosine", "pearson"])
def test_item_knn_iuf_matches_brute_force(similarity):
    R = _ratings(50, 20, density=0.25, seed=26)
    dense = R.toarray()
    assert (dense != 0).sum(axis=1).max() < 20  # nobody has every item (see the next test)
    weighted = _iuf_weighted(dense)
    if similarity == "pearson":
        stored = dense != 0
        means = weighted.sum(axis=0) / stored.sum(axis=0)
        weighted = np.where(stored, weighted - means, 0.0)
    model = ItemKNN(n_neighbors=6, similarity=similarity, iuf=True).fit(R)
    _assert_top_neighbours(model.similarity_, _brute_similarity(weighted), 6)
    plain = ItemKNN(n_neighbors=6, similarity=similarity).fit(R)
    assert not np.allclose(plain.similarity_.toarray(), model.similarity_.toarray())


def test_item_knn_iuf_ignores_a_user_of_every_item():
    """A user of every item has weight log(1) = 0: with cosine it changes nothing."""
    R = _ratings(50, 20, density=0.25, seed=26)
    everything = R.tolil()
    everything[7, :] = 2.0
    everything = everything.tocsr()
    without = R.tolil()
    without[7, :] = 0.0
    without = without.tocsr()
    model = ItemKNN(n_neighbors=6, iuf=True).fit(everything)
    _assert_top_neighbours(model.similarity_, _brute_similarity(_iuf_weighted(
        everything.toarray())), 6)
    assert_allclose(model.similarity_.toarray(),
                    ItemKNN(n_neighbors=6, iuf=True).fit(without).similarity_.toarray(),
                    rtol=1e-12, atol=1e-15)


def test_item_knn_time_decay():
    # Item 2 was used by user 0 at the latest time and by user 1 one half-life earlier;
    # item 0 by user 0 only, item 1 by user 1 only.
    users = np.array([0, 0, 1, 1, 2, 2])
    items = np.array([0, 2, 1, 2, 0, 1])
    times = np.array([100.0, 100.0, 90.0, 90.0, 100.0, 90.0])
    model = ItemKNN(n_neighbors=5, half_life=10.0).fit((users, items), timestamps=times)
    S = model.similarity_.toarray()
    # Item vectors over users: item 0 = [1, 0, 1], item 1 = [0, .5, .5], item 2 = [1, .5, 0].
    vectors = np.array([[1.0, 0.0, 1.0], [0.0, 0.5, 0.5], [1.0, 0.5, 0.0]]).T
    assert_allclose(S, _brute_similarity(vectors) - np.eye(3), rtol=1e-12, atol=1e-15)
    assert S[0, 2] == pytest.approx(1 / np.sqrt(2 * 1.25))
    # User 2 has item 0 (weight 1) and item 1 (weight 0.5): its score for item 2.
    items_2, scores_2 = model.recommend([2], k=1)
    assert items_2[0, 0] == 2
    assert scores_2[0, 0] == pytest.approx(1.0 * S[0, 2] + 0.5 * S[1, 2], rel=1e-12)
    # Without decay every interaction counts 1.
    flat = ItemKNN(n_neighbors=5).fit((users, items), timestamps=times)
    assert flat.similarity_[0, 2] == pytest.approx(0.5)
    same = ItemKNN(n_neighbors=5).fit((users, items))
    assert_allclose(flat.similarity_.toarray(), same.similarity_.toarray(), rtol=1e-15)
    # Values multiply with the decay; two half-lives count a quarter.
    values = np.array([2.0, 2.0, 2.0, 2.0, 2.0, 2.0])
    times_2 = np.array([100.0, 100.0, 80.0, 80.0, 100.0, 80.0])
    decayed = ItemKNN(n_neighbors=5, half_life=10.0).fit((users, items, values),
                                                          timestamps=times_2)
    vectors_2 = np.array([[2.0, 0.0, 2.0], [0.0, 0.5, 0.5], [2.0, 0.5, 0.0]]).T
    assert_allclose(decayed.similarity_.toarray(), _brute_similarity(vectors_2) - np.eye(3),
                    rtol=1e-12, atol=1e-15)


def test_item_knn_timestamps_need_triplets():
    R = _ratings(10, 8, seed=27)
    with pytest.raises(TypeError, match="triplet"):
        ItemKNN(half_life=5.0).fit(R, timestamps=np.arange(R.nnz))
    with pytest.raises(TypeError, match="triplet"):
        ItemKNN(half_life=5.0).fit(R.toarray(), timestamps=np.arange(R.nnz))
    coo = R.tocoo()
    with pytest.raises(ValueError, match="one time per interaction"):
        ItemKNN(half_life=5.0).fit((coo.row, coo.col), timestamps=np.arange(R.nnz - 1))
    with pytest.raises(ValueError, match="NaN or infinity"):
        ItemKNN(half_life=5.0).fit((coo.row, coo.col),
                                   timestamps=np.r_[np.arange(R.nnz - 1), np.nan])


@pytest.mark.parametrize("filter_seen", [True, False])
@pytest.mark.parametrize("similarity", ["cosine", "pearson"])
def test_item_knn_recommend_scores(similarity, filter_seen):
    R = _ratings(40, 30, density=0.15, seed=28, empty_user=6)
    model = ItemKNN(n_neighbors=8, similarity=similarity).fit(R)
    dense_scores = R.toarray() @ model.similarity_.toarray()
    users = np.array([0, 1, 9, 39, 1])
    k = 10
    items, scores = model.recommend(users, k=k, filter_seen=filter_seen)
    assert items.dtype == np.int64 and scores.dtype == np.float64
    for row, u in enumerate(users):
        valid = items[row] >= 0
        got = items[row, valid]
        assert_allclose(scores[row, valid], dense_scores[u, got], rtol=1e-12, atol=1e-14)
        assert np.all(np.diff(scores[row, valid]) <= 0)
        candidates = np.arange(30)
        if filter_seen:
            candidates = np.setdiff1d(candidates, R[u].indices)
            assert not set(got) & set(R[u].indices)
        assert valid.sum() == min(k, len(candidates))
        left_out = np.setdiff1d(candidates, got)
        if len(left_out):
            assert dense_scores[u, left_out].max() <= scores[row, valid][-1] + 1e-12


def test_item_knn_unknown_users_get_popular_items():
    R = _ratings(40, 30, density=0.15, seed=29, empty_user=6)
    model = ItemKNN(n_neighbors=8).fit(R)
    popularity = np.diff(R.tocsc().indptr)
    assert_array_equal(model.item_popularity_, popularity)
    ranking = np.argsort(-popularity, kind="stable")[:10]
    items, scores = model.recommend([6, 40, 1000], k=10)
    for row in range(3):
        assert_array_equal(items[row], ranking)
        assert_array_equal(scores[row], popularity[ranking])


def test_item_knn_similar_items():
    R = _ratings(40, 30, density=0.2, seed=30)
    model = ItemKNN(n_neighbors=4).fit(R)
    items, scores = model.similar_items(np.arange(30), k=6)
    S = model.similarity_.toarray()
    for i in range(30):
        valid = items[i] >= 0
        assert valid.sum() == (S[i] != 0).sum() <= 4
        assert i not in items[i, valid]
        assert_array_equal(scores[i, valid], S[i, items[i, valid]])
        assert np.all(np.diff(scores[i, valid]) <= 0)
        assert np.all(scores[i, ~valid] == -np.inf)


@pytest.mark.parametrize("n_jobs", [1, 2])
def test_item_knn_n_jobs(n_jobs):
    R = _ratings(150, 80, density=0.1, seed=31)
    expected = ItemKNN(n_neighbors=10, n_jobs=1).fit(R)
    model = ItemKNN(n_neighbors=10, n_jobs=n_jobs).fit(R)
    assert (model.similarity_ != expected.similarity_).nnz == 0
    for a, b in zip(model.recommend(np.arange(150), k=5),
                    expected.recommend(np.arange(150), k=5)):
        assert_array_equal(a, b)


@pytest.mark.parametrize("X", [np.ones((5, 1)), sp.csr_matrix(np.ones((5, 1))),
                               ([0, 1, 2], [0, 0, 0])], ids=["dense", "sparse", "triplets"])
def test_item_knn_single_item_has_no_neighbours(X):
    model = ItemKNN().fit(X)
    assert model.similarity_.nnz == 0
    assert_array_equal(model.recommend([0], k=1, filter_seen=False)[0], [[0]])
    with pytest.raises(ValueError, match="larger than the number of items"):
        model.similar_items([0], k=1)


def test_item_knn_two_items_are_enough():
    model = ItemKNN().fit(np.ones((5, 2)))
    assert model.similarity_[0, 1] == pytest.approx(1.0)
    assert model.similarity_[1, 0] == pytest.approx(1.0)
    items, scores = model.similar_items([0, 1], k=1)
    assert_array_equal(items, [[1], [0]])
    assert_allclose(scores, 1.0)
