import pickle

import numpy as np
import pytest
import scipy.sparse as sp

from fastml import recommend
from fastml.dask import MatrixFactorization


def _ratings(implicit, seed=0):
    rng = np.random.default_rng(seed)
    R = sp.random(60, 40, density=0.15, random_state=seed, format="csr",
                  data_rvs=lambda n: rng.integers(1, 6, n).astype(float))
    R = R.tolil()
    R[5] = 0  # a user without ratings
    R = R.tocsr()
    R.eliminate_zeros()
    return R


@pytest.mark.parametrize("feedback", ["explicit", "implicit"])
def test_factors_equal_single_machine(client, feedback, dtype):
    R = _ratings(feedback == "implicit")
    params = dict(n_factors=6, feedback=feedback, n_iter=4, random_state=0, dtype=dtype,
                  device="cpu")
    local = recommend.MatrixFactorization(**params).fit(R)
    dist = MatrixFactorization(**params, n_partitions=3).fit(R)
    np.testing.assert_array_equal(dist.user_factors_, local.user_factors_)
    np.testing.assert_array_equal(dist.item_factors_, local.item_factors_)
    np.testing.assert_array_equal(dist.user_bias_, local.user_bias_)
    np.testing.assert_allclose(dist.loss_curve_, local.loss_curve_, rtol=1e-10)
    np.testing.assert_array_equal(dist.recommend([0, 1], k=3)[0], local.recommend([0, 1], k=3)[0])
    again = pickle.loads(pickle.dumps(dist))
    np.testing.assert_array_equal(again.user_factors_, local.user_factors_)


def test_more_partitions_than_rows_and_sgd_refused(client):
    R = _ratings(False)[:4]
    params = dict(n_factors=3, n_iter=2, random_state=0, device="cpu")
    local = recommend.MatrixFactorization(**params).fit(R)
    dist = MatrixFactorization(**params, n_partitions=10).fit(R)
    np.testing.assert_array_equal(dist.item_factors_, local.item_factors_)
    with pytest.raises(NotImplementedError):
        MatrixFactorization(solver="sgd").fit(R)
