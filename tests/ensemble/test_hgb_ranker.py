"""fastml.ensemble.HistGradientBoostingRanker: the compiled LambdaMART gradients against the
NumPy reference, one boosting step against the reference, NDCG@10 against LightGBM's LGBMRanker
on the same data, group / qid handling and errors, threads, pickling."""
import pickle

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse

from fastml.ensemble import HistGradientBoostingRanker, _boost_fast
from fastml.reference import boosting as ref

pytestmark = pytest.mark.usefixtures("one_thread")


def _ranking_data(n_queries, seed, n_features=10, sizes=(5, 40)):
    rng = np.random.default_rng(seed)
    group = rng.integers(*sizes, n_queries)
    n = group.sum()
    X = rng.normal(size=(n, n_features))
    latent = X @ np.linspace(1, 0, n_features) + 0.5 * np.sin(3 * X[:, 0]) + rng.normal(size=n)
    y = np.digitize(latent, np.quantile(latent, [0.5, 0.75, 0.9, 0.97])).astype(np.float64)
    return X, y, group


@pytest.mark.parametrize("sizes", [[1, 2, 7], [25, 3, 60], [150]])
@pytest.mark.parametrize("truncation,norm", [(30, True), (30, False), (3, True)])
@pytest.mark.parametrize("ties", [False, True])
def test_lambdarank_gradients_match_reference(sizes, truncation, norm, ties, rng):
    n = sum(sizes)
    y = rng.integers(0, 5, n).astype(np.float64)
    score = rng.normal(size=n)
    if ties:
        score = np.round(score, 1)
        y[:4] = 0  # a query of the first rows may have a DCG of 0
    offsets = np.r_[0, np.cumsum(sizes)].astype(np.int64)
    gh = np.empty((n, 2), dtype=np.float32)
    _boost_fast.lambdarank_gradients(y, score, offsets, truncation, norm, 1.0, gh, 2)
    g, h = ref.lambdarank_gradients(y, score, sizes, truncation, norm)
    assert np.abs(g).max() > 0
    assert_allclose(gh[:, 0], g, rtol=1e-5, atol=1e-7)
    assert_allclose(gh[:, 1], h, rtol=1e-5, atol=1e-7)
    # a query's lambdas push its better labels up: they sum to 0
    for a, b in zip(offsets[:-1], offsets[1:]):
        assert abs(g[a:b].sum()) < 1e-9


@pytest.mark.parametrize("sigmoid", [1.0, 2.5])
def test_lambdarank_gradients_far_apart_scores(sigmoid):
    """Scores hundreds apart: each rank's exp relative to the top score underflows to 0, and
    such pairs' logistic must still be the reference's."""
    y = np.array([0, 3, 1, 4, 2, 0, 1], dtype=np.float64)
    score = np.array([0.0, -400.0, -800.0, -1200.0, 5.0, -0.5, -900.0])
    offsets = np.array([0, 7], dtype=np.int64)
    gh = np.empty((7, 2), dtype=np.float32)
    _boost_fast.lambdarank_gradients(y, score, offsets, 30, True, sigmoid, gh, 1)
    g, h = ref.lambdarank_gradients(y, score, [7], 30, True, sigmoid)
    assert np.isfinite(gh).all()
    assert_allclose(gh[:, 0], g, rtol=1e-5, atol=1e-7)
    assert_allclose(gh[:, 1], h, rtol=1e-5, atol=1e-7)


def test_first_iteration_is_one_boosting_step_of_the_reference():
    X, y, group = _ranking_data(30, 0)
    model = HistGradientBoostingRanker(max_iter=1, max_leaf_nodes=6).fit(X, y, group=group)
    g, h = ref.lambdarank_gradients(y, np.zeros(len(y)), group)
    nodes = model._predictors[0][0].nodes
    codes = model._bin_data(X, None, is_training_data=False)
    values, raw = ref.boosting_step(nodes, codes, g, h, np.zeros(len(y)), 0.1)
    assert_allclose(model.predict(X), raw, rtol=1e-5, atol=1e-7)


def test_ndcg_close_to_lightgbm_and_qid_equal_to_group():
    lightgbm = pytest.importorskip("lightgbm")
    X, y, group = _ranking_data(300, 0)
    X_test, y_test, group_test = _ranking_data(150, 1)
    ours = HistGradientBoostingRanker(max_iter=40).fit(X, y, group=group)
    theirs = lightgbm.LGBMRanker(n_estimators=40, verbose=-1, n_jobs=1).fit(X, y, group=group)
    ndcg_ours = ref.ndcg_at(y_test, ours.predict(X_test), group_test, 10)
    ndcg_theirs = ref.ndcg_at(y_test, theirs.predict(X_test), group_test, 10)
    assert ndcg_ours > ref.ndcg_at(y_test, np.zeros(len(y_test)), group_test, 10) + 0.1
    assert abs(ndcg_ours - ndcg_theirs) < 0.005


def test_qid_in_any_order_equals_group():
    X, y, group = _ranking_data(40, 2)
    qid = np.repeat(np.arange(len(group)), group)
    by_group = HistGradientBoostingRanker(max_iter=10).fit(X, y, group=group)
    by_qid = HistGradientBoostingRanker(max_iter=10).fit(X, y, qid=qid)
    assert_array_equal(by_qid.predict(X), by_group.predict(X))
    # the rows shuffled: each query's rows keep their order after a stable sort by qid
    perm = np.random.default_rng(0).permutation(len(y))
    shuffled = HistGradientBoostingRanker(max_iter=10).fit(X[perm], y[perm], qid=qid[perm])
    order = np.argsort(qid[perm], kind="stable")
    again = HistGradientBoostingRanker(max_iter=10).fit(X[perm][order], y[perm][order],
                                                        qid=qid[perm][order])
    assert_array_equal(shuffled.predict(X), again.predict(X))


def test_n_jobs_sparse_pickle():
    X, y, group = _ranking_data(60, 3)
    X[np.abs(X) < 0.8] = 0.0
    models = [HistGradientBoostingRanker(max_iter=8, n_jobs=j).fit(X, y, group=group)
              for j in (1, 2)]
    for a, b in zip(models[0]._predictors, models[1]._predictors):
        assert_array_equal(a[0].nodes, b[0].nodes)
    model = HistGradientBoostingRanker(max_iter=8).fit(sparse.csr_matrix(X), y, group=group)
    assert_array_equal(model.predict(sparse.csr_matrix(X)), models[0].predict(X))
    loaded = pickle.loads(pickle.dumps(model))
    assert_array_equal(loaded.predict(X), model.predict(X))


def test_bad_groups_and_labels():
    X, y, group = _ranking_data(10, 4)
    model = HistGradientBoostingRanker(max_iter=2)
    with pytest.raises(ValueError, match="sum to n_samples"):
        model.fit(X, y, group=group[:-1])
    with pytest.raises(ValueError, match="integers >= 1"):
        model.fit(X, y, group=np.r_[group, 0])
    with pytest.raises(ValueError, match="not both"):
        model.fit(X, y, group=group, qid=np.zeros(len(y)))
    with pytest.raises(ValueError, match="qid has"):
        model.fit(X, y, qid=np.zeros(len(y) - 1))
    with pytest.raises(ValueError, match="relevance labels"):
        model.fit(X, y - 1, group=group)
    with pytest.raises(ValueError, match="offsets must run"):
        _boost_fast.lambdarank_gradients(y, np.zeros(len(y)), np.array([0, 3], np.int64), 30,
                                         True, 1.0, np.empty((len(y), 2), np.float32), 1)
