"""fastml.metrics ranking metrics: hand-computed values, input formats, errors, and a comparison
with a plain Python loop."""
import math

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import sparse

from fastml.metrics import (mean_average_precision, mean_reciprocal_rank, ndcg_at_k,
                            precision_at_k, recall_at_k)

METRICS = [precision_at_k, recall_at_k, ndcg_at_k, mean_average_precision, mean_reciprocal_rank]
SPARSE_FORMATS = ["csr", "csc", "coo", "lil", "dok"]


def _sparse(lists, n_items, fmt="csr"):
    rows = np.repeat(np.arange(len(lists)), [len(r) for r in lists])
    cols = np.concatenate([np.asarray(r, dtype=np.int64) for r in lists] + [np.empty(0, int)])
    Y = sparse.coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(lists), n_items))
    return Y.asformat(fmt)


def _d(r):
    """Discount of 1-based rank r."""
    return 1 / math.log2(r + 1)


# User 0: relevant {1, 3}, hits at ranks 1 and 3 of [1, 2, 3].
# User 1: relevant {4}, hit at rank 2 of [0, 4, 5].
Y_TRUE = [[1, 3], [4]]
Y_PRED = np.array([[1, 2, 3], [0, 4, 5]])
EXPECTED_K3 = {
    precision_at_k: (2 / 3 + 1 / 3) / 2,
    recall_at_k: (1 + 1) / 2,
    ndcg_at_k: ((_d(1) + _d(3)) / (_d(1) + _d(2)) + _d(2) / _d(1)) / 2,
    mean_average_precision: ((1 + 2 / 3) / 2 + (1 / 2) / 1) / 2,
    mean_reciprocal_rank: (1 + 1 / 2) / 2,
}
EXPECTED_K1 = {  # only rank 1: user 0 hits, user 1 misses
    precision_at_k: 0.5,
    recall_at_k: (1 / 2 + 0) / 2,
    ndcg_at_k: (1 + 0) / 2,
    mean_average_precision: (1 + 0) / 2,  # AP@1 divides by min(1, n_relevant) = 1
    mean_reciprocal_rank: 0.5,
}


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_hand_computed(metric):
    assert metric(Y_TRUE, Y_PRED, k=3) == pytest.approx(EXPECTED_K3[metric])
    assert metric(Y_TRUE, Y_PRED, k=1) == pytest.approx(EXPECTED_K1[metric])


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
@pytest.mark.parametrize("fmt", SPARSE_FORMATS)
def test_sparse_and_sequence_agree(metric, fmt):
    assert metric(_sparse(Y_TRUE, 6, fmt), Y_PRED, k=3) == pytest.approx(EXPECTED_K3[metric])
    csr_array = sparse.csr_array(_sparse(Y_TRUE, 6))
    assert metric(csr_array, Y_PRED, k=3) == pytest.approx(EXPECTED_K3[metric])


def test_default_k():
    assert mean_reciprocal_rank(Y_TRUE, Y_PRED) == mean_reciprocal_rank(Y_TRUE, Y_PRED, k=3)
    # k=10 by default: precision divides by 10
    assert precision_at_k(Y_TRUE, Y_PRED) == pytest.approx((2 / 10 + 1 / 10) / 2)


def test_explicit_zeros_and_duplicates_in_sparse():
    # Row 0 stores item 1 (value 2, given as 1 + 1), item 2 as an explicit zero, and item 3 as
    # 1 + (-1), which sums to zero: only item 1 is relevant.
    Y = sparse.coo_matrix(([1, 1, 0, 1, -1, 1], ([0, 0, 0, 0, 0, 1], [1, 1, 2, 3, 3, 0])),
                          shape=(2, 4))
    y_pred = np.array([[2, 3, 1], [0, 1, 2]])
    assert recall_at_k(Y, y_pred, k=3) == 1.0
    assert mean_reciprocal_rank(Y, y_pred) == pytest.approx((1 / 3 + 1) / 2)
    Y_csr = Y.tocsr()
    Y_csr.data[:] = 0  # stored explicit zeros everywhere: no relevant item at all
    with pytest.raises(ValueError, match="No user has a relevant item"):
        recall_at_k(Y_csr, y_pred)


def test_input_not_modified():
    Y = sparse.csr_matrix(([1.0, 0.0], [1, 2], [0, 2, 2]), shape=(2, 3))
    recall_at_k(Y, np.array([[1], [2]]), k=1)
    assert Y.nnz == 2  # the explicit zero is still stored


def test_duplicate_relevant_items_count_once():
    assert recall_at_k([[1, 1, 3], [4, 4]], Y_PRED, k=3) == 1.0
    assert mean_average_precision([[1, 1, 3], [4]], Y_PRED, k=3) == pytest.approx(
        EXPECTED_K3[mean_average_precision])


def test_padding_never_hits():
    y_pred = np.array([[1, -1, -1], [-1, -1, -1]])
    y_true = [[1, 2], [0]]
    assert precision_at_k(y_true, y_pred, k=3) == pytest.approx((1 / 3 + 0) / 2)
    assert recall_at_k(y_true, y_pred, k=3) == pytest.approx((1 / 2 + 0) / 2)
    assert mean_reciprocal_rank(y_true, y_pred) == pytest.approx(0.5)
    # Sparse y_true: -1 must not wrap around to the previous user's last item.
    Y = _sparse([[2], [3]], 4)
    assert recall_at_k(Y, np.array([[0, 1], [-1, -1]]), k=2) == 0.0
    assert recall_at_k(_sparse([[3], [0]], 4), np.array([[0], [-1]]), k=1) == 0.0


def test_duplicate_recommendations_hit_once():
    y_pred = np.array([[1, 1, 1, 2]])
    assert precision_at_k([[1, 2]], y_pred, k=4) == pytest.approx(2 / 4)
    assert recall_at_k([[1, 2]], y_pred, k=4) == 1.0
    # AP: hits at ranks 1 and 4 only
    assert mean_average_precision([[1, 2]], y_pred, k=4) == pytest.approx((1 + 2 / 4) / 2)
    assert ndcg_at_k([[1, 2]], y_pred, k=4) == pytest.approx((_d(1) + _d(4)) / (_d(1) + _d(2)))


def test_k_larger_than_width():
    y_pred = np.array([[5, 1]])
    y_true = [[1, 2, 3]]
    assert precision_at_k(y_true, y_pred, k=5) == pytest.approx(1 / 5)
    assert recall_at_k(y_true, y_pred, k=5) == pytest.approx(1 / 3)
    assert ndcg_at_k(y_true, y_pred, k=5) == pytest.approx(_d(2) / (_d(1) + _d(2) + _d(3)))
    assert mean_average_precision(y_true, y_pred, k=5) == pytest.approx((1 / 2) / 3)
    assert mean_reciprocal_rank(y_true, y_pred, k=5) == pytest.approx(1 / 2)
    # a huge k does not allocate k-sized arrays
    assert ndcg_at_k(y_true, y_pred, k=10**12) == pytest.approx(_d(2) / (_d(1) + _d(2) + _d(3)))


def test_mrr_k_cuts_off():
    y_pred = np.array([[0, 0, 7]])
    assert mean_reciprocal_rank([[7]], y_pred) == pytest.approx(1 / 3)
    assert mean_reciprocal_rank([[7]], y_pred, k=2) == 0.0


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_users_without_relevant_items_are_skipped(metric):
    y_true = [[1, 3], [], [4], np.array([], dtype=float)]
    y_pred = np.vstack([Y_PRED[0], [1, 3, 4], Y_PRED[1], [1, 3, 4]])
    assert metric(y_true, y_pred, k=3) == pytest.approx(EXPECTED_K3[metric])
    Y = _sparse([[1, 3], [], [4], []], 6, "csc")
    assert metric(Y, y_pred, k=3) == pytest.approx(EXPECTED_K3[metric])


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_no_relevant_item_raises(metric):
    with pytest.raises(ValueError, match="No user has a relevant item"):
        metric([[], []], Y_PRED)
    with pytest.raises(ValueError, match="No user has a relevant item"):
        metric(sparse.csr_matrix((2, 6)), Y_PRED)


def test_unsigned_and_numpy_int_k():
    y_pred = Y_PRED.astype(np.uint32)
    assert ndcg_at_k(Y_TRUE, y_pred, k=np.int64(3)) == pytest.approx(EXPECTED_K3[ndcg_at_k])


@pytest.mark.parametrize("metric", METRICS, ids=lambda m: m.__name__)
def test_bad_input(metric):
    Y = _sparse(Y_TRUE, 6)
    with pytest.raises(ValueError, match="y_pred must be a 2-D"):
        metric(Y_TRUE, np.array([1, 2]))
    with pytest.raises(TypeError, match="y_pred must hold integer"):
        metric(Y_TRUE, Y_PRED.astype(float))
    with pytest.raises(TypeError, match="y_pred must hold integer"):
        metric(Y_TRUE, Y_PRED > 2)
    with pytest.raises(ValueError, match="y_pred is empty"):
        metric([], np.empty((0, 3), dtype=int))
    with pytest.raises(ValueError, match="y_pred is empty"):
        metric(Y_TRUE, np.empty((2, 0), dtype=int))
    with pytest.raises(ValueError, match="y_true has 3 rows but y_pred has 2"):
        metric([[1], [2], [3]], Y_PRED)
    with pytest.raises(ValueError, match=r"y_true has shape \(3, 6\) but y_pred has 2 rows"):
        metric(_sparse([[1], [2], [3]], 6), Y_PRED)
    for k in (0, -2):
        with pytest.raises(ValueError, match="k must be a positive int"):
            metric(Y_TRUE, Y_PRED, k=k)
    for k in (2.0, "3", True):
        with pytest.raises(TypeError, match="k must be a positive int"):
            metric(Y_TRUE, Y_PRED, k=k)
    with pytest.raises(ValueError, match="negative item ids other than -1"):
        metric(Y_TRUE, np.array([[1, -2, 3], [0, 4, 5]]))
    with pytest.raises(ValueError, match="item ids >= n_items=6"):
        metric(Y, np.array([[1, 2, 6], [0, 4, 5]]))
    with pytest.raises(ValueError, match="negative item ids"):
        metric([[1, -3], [4]], Y_PRED)
    with pytest.raises(TypeError, match="y_true must hold integer"):
        metric([[1.0, 3.0], [4.0]], Y_PRED)
    with pytest.raises(ValueError, match="1-D array-like"):
        metric([[[1, 3]], [4]], Y_PRED)
    with pytest.raises(TypeError, match="y_true must be a sparse matrix or a sequence"):
        metric(3, Y_PRED)


def test_item_ids_unbounded_for_sequence_y_true():
    # Large raw ids: keys must not overflow.
    big = 2**62
    y_pred = np.array([[big, 1], [7, big + 1]], dtype=np.int64)
    assert recall_at_k([[big], [big + 1, 3]], y_pred, k=2) == pytest.approx((1 + 1 / 2) / 2)


# --- comparison against a plain loop ------------------------------------------------------------

def _loop_metrics(y_true, y_pred, k):
    """All five metrics, user by user, from the definitions."""
    per_user = {m: [] for m in METRICS}
    for relevant, recs in zip(y_true, y_pred):
        relevant = set(relevant)
        if not relevant:
            continue
        seen, hit_ranks = set(), []
        for r, item in enumerate(recs[:k], start=1):
            if item != -1 and item in relevant and item not in seen:
                hit_ranks.append(r)
            seen.add(item)
        n_rel = len(relevant)
        per_user[precision_at_k].append(len(hit_ranks) / k)
        per_user[recall_at_k].append(len(hit_ranks) / n_rel)
        idcg = sum(_d(r) for r in range(1, min(k, n_rel) + 1))
        per_user[ndcg_at_k].append(sum(_d(r) for r in hit_ranks) / idcg)
        ap = sum((i + 1) / r for i, r in enumerate(hit_ranks)) / min(k, n_rel)
        per_user[mean_average_precision].append(ap)
        per_user[mean_reciprocal_rank].append(1 / hit_ranks[0] if hit_ranks else 0.0)
    return {m: np.mean(v) for m, v in per_user.items()}


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("k", [1, 4, 9, 15])
def test_against_loop(seed, k):
    rng = np.random.default_rng(seed)
    n_users, n_items, width = 40, 12, 9
    y_true = [rng.choice(n_items, size=rng.integers(0, 6)) for _ in range(n_users)]  # may repeat
    y_pred = rng.integers(-1, n_items, size=(n_users, width))  # padding and repeats included
    expected = _loop_metrics(y_true, y_pred, k)
    Y = _sparse([np.unique(r) for r in y_true], n_items, "coo")
    for metric in METRICS:
        assert_allclose(metric(y_true, y_pred, k=k), expected[metric], rtol=1e-12,
                        err_msg=metric.__name__)
        assert_allclose(metric(Y, y_pred, k=k), expected[metric], rtol=1e-12,
                        err_msg=metric.__name__)
