"""The reference matrix factorization against brute force, finite differences and planted data,
so that the oracle can be trusted."""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml.reference import mf as reference
from tests._assertions import numerical_gradient



def _random_R(n_users, n_items, density, seed, low=1.0, high=5.0):
    """Sparse positive ratings with user 0 and the last item left empty."""
    rng = np.random.default_rng(seed)
    dense = rng.uniform(low, high, size=(n_users, n_items))
    dense[rng.uniform(size=dense.shape) > density] = 0.0
    dense[0] = 0.0
    dense[:, -1] = 0.0
    return sp.csr_matrix(dense)


def _factors(n, k, seed):
    return np.random.default_rng(seed).normal(scale=0.5, size=(n, k))




def _assert_non_increasing(losses):
    for before, after in zip(losses, losses[1:]):
        assert after <= before * (1 + 1e-12)


def _planted(n_users, n_items, rank, observed, seed, offset=0.0):
    """A noise-free rank-`rank` matrix (plus a constant offset, which only a model with biases
    can absorb) split into observed (sparse) and held-out entries."""
    rng = np.random.default_rng(seed)
    full = rng.normal(size=(n_users, rank)) @ rng.normal(size=(n_items, rank)).T + offset
    mask = rng.uniform(size=full.shape) < observed
    # Every user and item keeps enough ratings for its factors to be determined.
    assert mask.sum(axis=1).min() > rank + 1 and mask.sum(axis=0).min() > rank + 1
    return full, mask, sp.csr_matrix(np.where(mask, full, 0.0))


# ---------------------------------------------------------------------------------------------
# implicit ALS

def test_implicit_loss_matches_double_loop():
    R = _random_R(6, 7, 0.4, seed=0)
    X, Y = _factors(6, 3, 1), _factors(7, 3, 2)
    reg, alpha = 0.3, 2.5
    dense = R.toarray()
    expected = 0.0
    for u in range(6):
        for i in range(7):
            p = 1.0 if dense[u, i] != 0 else 0.0
            c = 1.0 + alpha * dense[u, i]
            expected += c * (p - X[u] @ Y[i]) ** 2
    expected += reg * ((X ** 2).sum() + (Y ** 2).sum())
    assert reference.implicit_loss(R, X, Y, reg, alpha) == pytest.approx(expected, rel=1e-12)


def test_sparse_formats_duplicates_and_explicit_zeros():
    R = _random_R(6, 7, 0.4, seed=3)
    X, Y = _factors(6, 2, 4), _factors(7, 2, 5)
    coo = R.tocoo()
    # Split every entry into two halves and add stored zeros: the same matrix once normalised.
    rows = np.concatenate([coo.row, coo.row, [1, 2]])
    cols = np.concatenate([coo.col, coo.col, [6, 6]])
    vals = np.concatenate([coo.data / 2, coo.data / 2, [0.0, 0.0]])
    messy = sp.coo_matrix((vals, (rows, cols)), shape=R.shape)
    expected = reference.implicit_als_step(R, X, Y, 0.1, 3.0)
    for form in (messy, messy.tocsc(), R.tocsc(), sp.csr_array(R)):
        np.testing.assert_allclose(reference.implicit_als_step(form, X, Y, 0.1, 3.0), expected,
                                   rtol=1e-12, atol=1e-14)
        assert reference.implicit_loss(form, X, Y, 0.1, 3.0) == pytest.approx(
            reference.implicit_loss(R, X, Y, 0.1, 3.0), rel=1e-12)
        assert reference.explicit_loss(form, X, Y, np.zeros(6), np.zeros(7), 0.0, 0.1) == \
            pytest.approx(reference.explicit_loss(R, X, Y, np.zeros(6), np.zeros(7), 0.0, 0.1),
                          rel=1e-12)


@pytest.mark.parametrize("reg, alpha", [(0.1, 1.0), (1.0, 10.0), (0.01, 0.5)])
def test_implicit_als_step_is_the_minimiser(reg, alpha):
    R = _random_R(6, 8, 0.4, seed=6)
    X0, Y = _factors(6, 3, 7), _factors(8, 3, 8)
    X = reference.implicit_als_step(R, X0, Y, reg, alpha)
    assert X.dtype == np.float64 and X.shape == X0.shape
    np.testing.assert_array_equal(X[0], 0.0)  # user 0 has no entries

    def loss(A):
        return reference.implicit_loss(R, A, Y, reg, alpha)

    assert np.abs(numerical_gradient(loss, X, 1e-4)).max() < 1e-6
    base = loss(X)
    rng = np.random.default_rng(9)
    for u in range(len(X)):
        for scale in (1e-3, 1e-1):
            moved = X.copy()
            moved[u] += scale * rng.normal(size=X.shape[1])
            assert loss(moved) > base
    assert base < loss(X0)


def test_implicit_als_step_matches_dense_confidence_solve():
    R = _random_R(7, 9, 0.5, seed=10)
    X0, Y = _factors(7, 4, 11), _factors(9, 4, 12)
    reg, alpha = 0.2, 4.0
    dense = R.toarray()
    C = 1.0 + alpha * dense
    P = (dense > 0).astype(np.float64)
    X = reference.implicit_als_step(R, X0, Y, reg, alpha)
    for u in range(7):
        if P[u].sum() == 0:
            continue
        Cu = np.diag(C[u])
        expected = np.linalg.solve(Y.T @ Cu @ Y + reg * np.eye(4), Y.T @ Cu @ P[u])
        np.testing.assert_allclose(X[u], expected, rtol=1e-10, atol=1e-12)
        # Hu et al.'s rewrite Y^T Y + Y^T (C_u - I) Y gives the same system.
        fast = np.linalg.solve(Y.T @ Y + Y.T @ (Cu - np.eye(9)) @ Y + reg * np.eye(4),
                               Y.T @ Cu @ P[u])
        np.testing.assert_allclose(X[u], fast, rtol=1e-10, atol=1e-12)


def test_implicit_cg_step_reaches_the_exact_step_and_lowers_the_loss():
    R = _random_R(8, 6, 0.5, seed=3)
    X0, Y = _factors(8, 4, 4), _factors(6, 4, 5)
    reg, alpha = 0.2, 3.0
    exact = reference.implicit_als_step(R, X0, Y, reg, alpha)
    # Conjugate gradient is exact in k steps (here 4) up to rounding.
    np.testing.assert_allclose(reference.implicit_cg_step(R, X0, Y, reg, alpha, 4), exact,
                               rtol=1e-8, atol=1e-10)
    losses = [reference.implicit_loss(R, reference.implicit_cg_step(R, X0, Y, reg, alpha, s), Y,
                                      reg, alpha) for s in range(4)]
    # A warm start is kept by zero steps (rows without entries go to 0, their minimiser).
    assert losses[0] <= reference.implicit_loss(R, X0, Y, reg, alpha)
    _assert_non_increasing(losses)
    assert losses[-1] < losses[0]


def test_implicit_als_losses_non_increasing():
    R = _random_R(15, 12, 0.3, seed=13)
    X0, Y0 = _factors(15, 3, 14), _factors(12, 3, 15)
    X0_copy, Y0_copy = X0.copy(), Y0.copy()
    X, Y, losses = reference.implicit_als(R, X0, Y0, 0.1, 5.0, n_iter=8)
    assert len(losses) == 8 and all(isinstance(v, float) for v in losses)
    assert losses[0] < reference.implicit_loss(R, X0, Y0, 0.1, 5.0)
    _assert_non_increasing(losses)
    assert losses[-1] == pytest.approx(reference.implicit_loss(R, X, Y, 0.1, 5.0), rel=1e-12)
    np.testing.assert_array_equal(X0, X0_copy)
    np.testing.assert_array_equal(Y0, Y0_copy)
    np.testing.assert_array_equal(Y[-1], 0.0)  # the last item has no entries


def test_implicit_rejects_negative_values():
    R = _random_R(5, 6, 0.5, seed=16).tolil()
    R[1, 2] = -1.0
    X, Y = _factors(5, 2, 17), _factors(6, 2, 18)
    with pytest.raises(ValueError, match="negative"):
        reference.implicit_loss(R, X, Y, 0.1, 1.0)
    with pytest.raises(ValueError, match="negative"):
        reference.implicit_als_step(R, X, Y, 0.1, 1.0)
    with pytest.raises(ValueError, match="negative"):
        reference.implicit_als(R, X, Y, 0.1, 1.0, n_iter=1)


def test_shape_mismatch_and_dense_R_rejected():
    R = _random_R(5, 6, 0.5, seed=19)
    with pytest.raises(ValueError, match="Y must have shape"):
        reference.implicit_als_step(R, _factors(5, 2, 0), _factors(7, 2, 0), 0.1, 1.0)
    with pytest.raises(TypeError, match="sparse"):
        reference.implicit_loss(R.toarray(), _factors(5, 2, 0), _factors(6, 2, 0), 0.1, 1.0)


# ---------------------------------------------------------------------------------------------
# explicit ALS

def test_explicit_loss_matches_double_loop():
    R = _random_R(6, 7, 0.5, seed=20)
    X, Y = _factors(6, 3, 21), _factors(7, 3, 22)
    rng = np.random.default_rng(23)
    bu, bi, mu, reg = rng.normal(size=6), rng.normal(size=7), 3.1, 0.4
    dense = R.toarray()
    expected = 0.0
    for u in range(6):
        for i in range(7):
            if dense[u, i] != 0:
                expected += (dense[u, i] - mu - bu[u] - bi[i] - X[u] @ Y[i]) ** 2
    expected += reg * ((X ** 2).sum() + (Y ** 2).sum() + (bu ** 2).sum() + (bi ** 2).sum())
    assert reference.explicit_loss(R, X, Y, bu, bi, mu, reg) == pytest.approx(expected,
                                                                              rel=1e-12)


@pytest.mark.parametrize("biases", [False, True])
@pytest.mark.parametrize("reg", [0.05, 1.0])
def test_explicit_als_step_is_the_minimiser(biases, reg):
    R = _random_R(6, 8, 0.6, seed=24)
    Y = _factors(8, 3, 25)
    rng = np.random.default_rng(26)
    item_bias = rng.normal(size=8) if biases else np.zeros(8)
    mu = 2.9 if biases else 0.0
    X, user_bias = reference.explicit_als_step(R, Y, item_bias, mu, reg, biases)
    assert X.shape == (6, 3) and user_bias.shape == (6,)
    np.testing.assert_array_equal(X[0], 0.0)
    assert user_bias[0] == 0.0
    if not biases:
        np.testing.assert_array_equal(user_bias, 0.0)

    # The variables are [x_u, b_u] per user, or x_u alone without biases.
    W = np.hstack([X, user_bias[:, None]]) if biases else X

    def loss(A):
        ub = A[:, -1] if biases else np.zeros(6)
        return reference.explicit_loss(R, A[:, :3], Y, ub, item_bias, mu, reg)

    assert np.abs(numerical_gradient(loss, W, 1e-4)).max() < 1e-6
    base = loss(W)
    for u in range(6):
        for scale in (1e-3, 1e-1):
            moved = W.copy()
            moved[u] += scale * rng.normal(size=W.shape[1])
            assert loss(moved) > base


def test_explicit_als_step_ignores_bias_terms_without_biases():
    R = _random_R(6, 8, 0.6, seed=27)
    Y = _factors(8, 3, 28)
    plain = reference.explicit_als_step(R, Y, np.zeros(8), 0.0, 0.1, False)
    shifted = reference.explicit_als_step(R, Y, np.arange(8.0), 3.0, 0.1, False)
    np.testing.assert_array_equal(plain[0], shifted[0])
    np.testing.assert_array_equal(shifted[1], 0.0)


@pytest.mark.parametrize("biases", [False, True])
def test_explicit_als_step_matches_dense_masked_solve(biases):
    R = _random_R(7, 9, 0.5, seed=29)
    Y = _factors(9, 2, 30)
    reg = 0.3
    item_bias = np.random.default_rng(31).normal(size=9) if biases else np.zeros(9)
    mu = 3.0 if biases else 0.0
    X, user_bias = reference.explicit_als_step(R, Y, item_bias, mu, reg, biases)
    dense = R.toarray()
    Z = np.hstack([Y, np.ones((9, 1))]) if biases else Y
    for u in range(7):
        W = np.diag((dense[u] != 0).astype(np.float64))
        if W.sum() == 0:
            continue
        t = dense[u] - mu - item_bias if biases else dense[u]
        w = np.linalg.solve(Z.T @ W @ Z + reg * np.eye(Z.shape[1]), Z.T @ W @ t)
        np.testing.assert_allclose(X[u], w[:2], rtol=1e-10, atol=1e-12)
        assert user_bias[u] == pytest.approx(w[2] if biases else 0.0, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("biases", [False, True])
def test_explicit_als_losses_non_increasing(biases):
    R = _random_R(15, 12, 0.4, seed=32)
    Y0 = _factors(12, 3, 33)
    Y0_copy = Y0.copy()
    X, Y, bu, bi, mu, losses = reference.explicit_als(R, Y0, 0.1, n_iter=10, biases=biases)
    assert len(losses) == 10
    _assert_non_increasing(losses)
    assert losses[-1] == pytest.approx(reference.explicit_loss(R, X, Y, bu, bi, mu, 0.1),
                                       rel=1e-12)
    np.testing.assert_array_equal(Y0, Y0_copy)
    if biases:
        assert mu == pytest.approx(R.data.mean())
    else:
        assert mu == 0.0
        np.testing.assert_array_equal(bu, 0.0)
        np.testing.assert_array_equal(bi, 0.0)


@pytest.mark.parametrize("biases", [False, True])
def test_explicit_als_recovers_planted_rank_two(biases):
    full, mask, R = _planted(40, 30, rank=2, observed=0.8, seed=34, offset=3.0 if biases else 0.0)
    Y0 = _factors(30, 2, 35)
    X, Y, bu, bi, mu, _ = reference.explicit_als(R, Y0, 1e-4, n_iter=60, biases=biases)
    users, items = np.nonzero(~mask)
    pred = reference.predict(X, Y, bu, bi, mu, users, items)
    rmse = np.sqrt(np.mean((pred - full[users, items]) ** 2))
    assert rmse < 0.1


def test_explicit_als_rejects_zero_iterations():
    with pytest.raises(ValueError, match="n_iter"):
        reference.explicit_als(_random_R(4, 5, 0.5, seed=36), _factors(5, 2, 0), 0.1, 0, True)


# ---------------------------------------------------------------------------------------------
# SGD

def _one_rating_state():
    X = np.array([[1.0, 2.0]])
    Y = np.array([[0.5, -1.0]])
    return X, Y, np.array([0.1]), np.array([0.2])


def test_sgd_epoch_one_rating_with_biases():
    X, Y, bu, bi = _one_rating_state()
    result = reference.sgd_epoch(np.array([0]), np.array([0]), np.array([4.0]), X, Y, bu, bi,
                                 3.0, 0.1, 0.01, True, np.array([0]))
    assert result is None
    # prediction 3 + 0.1 + 0.2 + (0.5 - 2) = 1.8, so e = 2.2
    assert bu[0] == pytest.approx(0.1 + 0.1 * (2.2 - 0.01 * 0.1))
    assert bi[0] == pytest.approx(0.2 + 0.1 * (2.2 - 0.01 * 0.2))
    np.testing.assert_allclose(X[0], [1.0 + 0.1 * (2.2 * 0.5 - 0.01 * 1.0),
                                      2.0 + 0.1 * (2.2 * -1.0 - 0.01 * 2.0)], rtol=1e-12)
    # Y's update uses x_u from before X's update.
    np.testing.assert_allclose(Y[0], [0.5 + 0.1 * (2.2 * 1.0 - 0.01 * 0.5),
                                      -1.0 + 0.1 * (2.2 * 2.0 + 0.01 * 1.0)], rtol=1e-12)
    np.testing.assert_allclose(X[0], [1.109, 1.778], rtol=1e-12)
    np.testing.assert_allclose(Y[0], [0.7195, -0.559], rtol=1e-12)


def test_sgd_epoch_one_rating_without_biases():
    X, Y, _, _ = _one_rating_state()
    bu, bi = np.zeros(1), np.zeros(1)
    reference.sgd_epoch([0], [0], [4.0], X, Y, bu, bi, 0.0, 0.1, 0.01, False, [0])
    # prediction 0.5 - 2 = -1.5, so e = 5.5
    np.testing.assert_allclose(X[0], [1.274, 1.448], rtol=1e-12)
    np.testing.assert_allclose(Y[0], [1.0495, 0.101], rtol=1e-12)
    np.testing.assert_array_equal(bu, 0.0)
    np.testing.assert_array_equal(bi, 0.0)


def test_sgd_epoch_rejects_non_float64_state():
    X, Y, bu, bi = _one_rating_state()
    with pytest.raises(TypeError, match="float64"):
        reference.sgd_epoch([0], [0], [4.0], X.astype(np.float32), Y, bu, bi, 0.0, 0.1, 0.0,
                            True, [0])


def _planted_triplets(seed, offset):
    full, mask, _ = _planted(30, 20, rank=2, observed=0.7, seed=seed, offset=offset)
    users, items = np.nonzero(mask)
    return users, items, full[users, items]


@pytest.mark.parametrize("biases", [False, True])
def test_sgd_reduces_loss_on_planted_low_rank(biases):
    users, items, ratings = _planted_triplets(seed=37, offset=3.0 if biases else 0.0)
    rng = np.random.default_rng(38)
    X0 = rng.normal(scale=0.1, size=(30, 2))
    Y0 = rng.normal(scale=0.1, size=(20, 2))
    X0_copy, Y0_copy = X0.copy(), Y0.copy()
    orders = [rng.permutation(len(ratings)) for _ in range(30)]
    X, Y, bu, bi, mu, losses = reference.sgd(users, items, ratings, X0, Y0, 0.02, 0.01, biases,
                                             orders)
    R = sp.coo_matrix((ratings, (users, items)), shape=(30, 20))
    start = reference.explicit_loss(R, X0, Y0, np.zeros(30), np.zeros(20), mu, 0.01)
    assert len(losses) == 30
    assert losses[0] < start
    assert losses[-1] < 0.1 * losses[0]
    assert losses[-1] == pytest.approx(reference.explicit_loss(R, X, Y, bu, bi, mu, 0.01),
                                       rel=1e-12)
    np.testing.assert_array_equal(X0, X0_copy)
    np.testing.assert_array_equal(Y0, Y0_copy)
    if biases:
        assert mu == pytest.approx(ratings.mean())
    else:
        assert mu == 0.0
        np.testing.assert_array_equal(bu, 0.0)


def test_sgd_order_matters_and_is_deterministic():
    users, items, ratings = _planted_triplets(seed=39, offset=3.0)
    rng = np.random.default_rng(40)
    X0, Y0 = rng.normal(scale=0.1, size=(30, 2)), rng.normal(scale=0.1, size=(20, 2))
    first = [rng.permutation(len(ratings)) for _ in range(3)]
    second = [rng.permutation(len(ratings)) for _ in range(3)]
    a = reference.sgd(users, items, ratings, X0, Y0, 0.02, 0.01, True, first)
    b = reference.sgd(users, items, ratings, X0, Y0, 0.02, 0.01, True, first)
    c = reference.sgd(users, items, ratings, X0, Y0, 0.02, 0.01, True, second)
    for x, y in zip(a[:4], b[:4]):
        np.testing.assert_array_equal(x, y)
    assert a[5] == b[5]
    assert not np.allclose(a[0], c[0])
    assert not np.allclose(a[2], c[2])


# ---------------------------------------------------------------------------------------------
# prediction and recommendation

def test_predict_hand_values():
    X = np.array([[1.0, 0.0], [2.0, -1.0]])
    Y = np.array([[3.0, 1.0], [0.5, 4.0], [0.0, 0.0]])
    bu, bi = np.array([0.1, -0.2]), np.array([1.0, 0.0, -1.0])
    pred = reference.predict(X, Y, bu, bi, 3.5, [0, 1, 1, 0], [0, 1, 2, 1])
    np.testing.assert_allclose(pred, [3.5 + 0.1 + 1.0 + 3.0,
                                      3.5 - 0.2 + 0.0 + (1.0 - 4.0),
                                      3.5 - 0.2 - 1.0 + 0.0,
                                      3.5 + 0.1 + 0.0 + 0.5], rtol=1e-15)
    assert pred.dtype == np.float64


def _recommend_data():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    # user 0 scores [2, 1, 2, 0, 1]; user 1 scores [0, 3, 0, 0, 3]
    Y = np.array([[2.0, 0.0], [1.0, 3.0], [2.0, 0.0], [0.0, 0.0], [1.0, 3.0]])
    R = sp.csr_matrix(np.array([[1, 0, 0, 0, 1], [0, 1, 1, 1, 0]], dtype=np.float64))
    return X, Y, R


def test_recommend_ties_go_to_lower_index():
    X, Y, R = _recommend_data()
    items, scores = reference.recommend(X, Y, R, [0, 1], 5, filter_seen=False)
    np.testing.assert_array_equal(items, [[0, 2, 1, 4, 3], [1, 4, 0, 2, 3]])
    np.testing.assert_array_equal(scores, [[2, 2, 1, 1, 0], [3, 3, 0, 0, 0]])
    assert items.dtype == np.int64 and scores.dtype == np.float64


def test_recommend_filter_seen_and_padding():
    X, Y, R = _recommend_data()
    items, scores = reference.recommend(X, Y, R, [1, 0], 3, filter_seen=True)
    # user 1 has seen items 1, 2, 3, leaving 4 then 0; user 0 has seen 0 and 4.
    np.testing.assert_array_equal(items, [[4, 0, -1], [2, 1, 3]])
    np.testing.assert_array_equal(scores, [[3, 0, -np.inf], [2, 1, 0]])
    items, scores = reference.recommend(X, Y, R, [0], 7, filter_seen=False)
    np.testing.assert_array_equal(items, [[0, 2, 1, 4, 3, -1, -1]])
    np.testing.assert_array_equal(scores[0, 5:], -np.inf)
    # R is only needed for filtering.
    items_no_R, _ = reference.recommend(X, Y, None, [0], 2, filter_seen=False)
    np.testing.assert_array_equal(items_no_R, [[0, 2]])


def test_recommend_with_item_bias():
    X, Y, R = _recommend_data()
    item_bias = np.array([0.0, 1.0, 0.5, 0.0, 1.0])
    items, scores = reference.recommend(X, Y, R, [0, 1], 5, filter_seen=False,
                                        item_bias=item_bias)
    # user 0: [2, 2, 2.5, 0, 2]; user 1: [0, 4, 0.5, 0, 4]
    np.testing.assert_array_equal(items, [[2, 0, 1, 4, 3], [1, 4, 2, 0, 3]])
    np.testing.assert_array_equal(scores, [[2.5, 2, 2, 2, 0], [4, 4, 0.5, 0, 0]])
    items, scores = reference.recommend(X, Y, R, [0], 5, filter_seen=True, item_bias=item_bias)
    np.testing.assert_array_equal(items, [[2, 1, 3, -1, -1]])
    np.testing.assert_array_equal(scores, [[2.5, 2, 0, -np.inf, -np.inf]])
