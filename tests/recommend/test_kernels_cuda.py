"""The CUDA kernels against the CPU kernels, on small shapes.

Without a GPU they run under Numba's CUDA simulator (tests/conftest.py sets
NUMBA_ENABLE_CUDASIM=1 unless the environment sets it; set NUMBA_ENABLE_CUDASIM=0 on a machine
with a GPU to run them there).
"""
import numpy as np
import pytest
import scipy.sparse as sp

from fastml._backend import cuda_status
from fastml.recommend import MatrixFactorization

pytestmark = pytest.mark.skipif(
    not cuda_status().available,
    reason=f"CUDA unavailable and the simulator is off: {cuda_status().detail}")


def _ratings(seed, n_users=6, n_items=5, density=0.45):
    R = sp.random(n_users, n_items, density=density, random_state=seed, format="csr")
    R.data = np.round(4 * R.data) + 1
    return R


def _fit(device, R, **params):
    return MatrixFactorization(n_factors=3, n_iter=2, random_state=0, dtype=np.float64,
                               device=device, **params).fit(R)


@pytest.mark.parametrize("params", [
    dict(feedback="implicit", cg_steps=None, alpha=2.0),
    dict(feedback="implicit", cg_steps=2, regularization=0.5),
    dict(feedback="explicit"),
    dict(feedback="explicit", biases=False, regularization=1.0),
], ids=["implicit-exact", "implicit-cg", "explicit-biases", "explicit-no-biases"])
def test_als_kernels_match_the_cpu(params):
    R = _ratings(1)
    cpu, gpu = _fit("cpu", R, **params), _fit("cuda", R, **params)
    assert gpu.device_ == "cuda"
    for name in ("user_factors_", "item_factors_", "user_bias_", "item_bias_", "loss_curve_"):
        np.testing.assert_allclose(getattr(gpu, name), getattr(cpu, name), rtol=1e-9,
                                   atol=1e-12, err_msg=name)


def test_sgd_kernel_lowers_the_loss_like_the_cpu():
    # Lock-free updates in another order than the CPU's buckets: close, not equal.
    R = _ratings(2, n_users=8, n_items=6, density=0.6)
    cpu = _fit("cpu", R, solver="sgd", learning_rate=0.05)
    gpu = _fit("cuda", R, solver="sgd", learning_rate=0.05)
    assert gpu.loss_curve_[1] < gpu.loss_curve_[0]
    np.testing.assert_allclose(gpu.loss_curve_, cpu.loss_curve_, rtol=0.05)


@pytest.mark.parametrize("filter_seen", [True, False])
def test_top_k_kernel_matches_the_cpu(filter_seen):
    R = _ratings(3)
    gpu = _fit("cuda", R)
    cpu = _fit("cpu", R)
    users = [0, 1, 2, 5]
    # Both rank the same factors: copy the CUDA model's into the CPU one.
    cpu.user_factors_, cpu.item_factors_ = gpu.user_factors_, gpu.item_factors_
    cpu.user_bias_, cpu.item_bias_ = gpu.user_bias_, gpu.item_bias_
    items_gpu, scores_gpu = gpu.recommend(users, k=4, filter_seen=filter_seen)
    items_cpu, scores_cpu = cpu.recommend(users, k=4, filter_seen=filter_seen)
    np.testing.assert_array_equal(items_gpu, items_cpu)
    np.testing.assert_allclose(scores_gpu, scores_cpu, rtol=1e-12)


def test_top_k_kernel_breaks_ties_by_lower_index():
    R = sp.csr_matrix(np.array([[1.0, 0, 0, 0, 0]]))
    model = _fit("cuda", R)
    model.item_factors_ = np.zeros_like(model.item_factors_)  # every score equal
    model.item_bias_ = np.zeros_like(model.item_bias_)
    items, _ = model.recommend([0], k=3)
    np.testing.assert_array_equal(items, [[1, 2, 3]])
