"""The CUDA drivers of the neural networks against the CPU drivers, on tiny shapes.

Without a GPU they run under Numba's CUDA simulator (tests/conftest.py sets
NUMBA_ENABLE_CUDASIM=1 unless the environment sets it; set NUMBA_ENABLE_CUDASIM=0 on a machine
with a GPU to run them there). The simulator runs every thread in Python: keep shapes tiny.
"""
import sys

import numpy as np
import pytest

from fastml._backend import cuda_status
from fastml.nn import _kernels_cpu as cpu
from fastml.nn import _kernels_cuda as gpu

pytestmark = pytest.mark.skipif(
    not cuda_status().available,
    reason=f"CUDA unavailable and the simulator is off: {cuda_status().detail}")

ACTIVATIONS = ["identity", "relu", "tanh", "logistic"]


@pytest.fixture(autouse=True, scope="module")
def _fast_thread_switches():
    """The simulator's syncthreads polls the block's Python threads, each poll waiting out the
    interpreter's thread switch interval (5 ms): a short one makes block reductions ~10x faster."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(interval)


def _tol(dtype):
    # Sums run in other orders on the two sides (and float32 ones in float32, as BLAS does).
    if np.dtype(dtype) == np.float32:
        return dict(rtol=2e-5, atol=2e-6)
    return dict(rtol=1e-11, atol=1e-13)


def _compare(name, *args, dtype=np.float64):
    """Runs driver `name` of both modules on their own copies of args (numpy arrays become
    device arrays for CUDA) and checks every array argument afterwards: the OUT ones, the IN/OUT
    ones, and the IN ones left alone. Returns both drivers' results."""
    host = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    device = [gpu.to_device(a) if isinstance(a, np.ndarray) else a for a in args]
    expected = getattr(cpu, name)(*host)
    got = getattr(gpu, name)(*device)
    for position, (h, d) in enumerate(zip(host, device)):
        if not isinstance(h, np.ndarray):
            continue
        result = gpu.to_host(d)
        assert result.shape == h.shape and result.dtype == h.dtype
        message = f"{name}: argument {position}"
        if h.dtype.kind == "f":
            np.testing.assert_allclose(result, h, err_msg=message, **_tol(dtype))
        else:
            np.testing.assert_array_equal(result, h, err_msg=message)
    return expected, got


def _nan(shape, dtype):
    """An OUT array: any entry a kernel forgets stays NaN and fails the comparison."""
    return np.full(shape, np.nan, dtype=dtype)


def test_allocation_and_transfers(rng):
    a = rng.standard_normal((2, 3))
    np.testing.assert_array_equal(gpu.to_host(gpu.to_device(a)), a)
    np.testing.assert_array_equal(gpu.to_host(gpu.to_device(a.T)), a.T)  # made contiguous
    z = gpu.zeros((3, 2, 2), np.float32)
    assert z.dtype == np.float32
    np.testing.assert_array_equal(gpu.to_host(z), np.zeros((3, 2, 2), np.float32))
    e = gpu.empty((4, 5), np.float64)
    assert e.shape == (4, 5) and e.dtype == np.float64


@pytest.mark.parametrize("trans_a", [False, True])
@pytest.mark.parametrize("trans_b", [False, True])
def test_matmul(trans_a, trans_b, dtype, rng):
    # 5 x 7 @ 7 x 6: no side a multiple of the simulator's 4 x 4 tiles.
    a = rng.standard_normal((7, 5) if trans_a else (5, 7)).astype(dtype)
    b = rng.standard_normal((6, 7) if trans_b else (7, 6)).astype(dtype)
    _compare("matmul", a, b, _nan((5, 6), dtype), trans_a, trans_b, dtype=dtype)


def test_matmul_allocates_out():
    a, b = np.arange(6.0).reshape(2, 3), np.arange(12.0).reshape(3, 4)
    out = gpu.matmul(gpu.to_device(a), gpu.to_device(b), None)
    np.testing.assert_allclose(gpu.to_host(out), a @ b)


@pytest.mark.parametrize("activation", ACTIVATIONS)
@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 3)], ids=["2d", "4d"])
def test_add_bias_activation(activation, shape, dtype, rng):
    z = rng.standard_normal(shape).astype(dtype)
    b = rng.standard_normal(shape[1]).astype(dtype)
    _compare("add_bias_activation", z, b, activation, dtype=dtype)


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 2, 3)], ids=["2d", "4d"])
def test_add_activation_without_bias(shape, rng):
    _compare("add_bias_activation", rng.standard_normal(shape), None, "tanh")


@pytest.mark.parametrize("activation", ACTIVATIONS)
def test_activation_grads(activation, dtype, rng):
    x = rng.standard_normal((2, 3, 2, 2)).astype(dtype)
    grad = rng.standard_normal(x.shape).astype(dtype)
    y = x.copy()
    cpu.add_bias_activation(y, None, activation)
    _compare("activation_grad", grad, y, activation, dtype=dtype)
    _compare("activation_grad_from_input", grad, x, activation, dtype=dtype)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 3)], ids=["2d", "4d"])
def test_bias_grad(shape, dtype, rng):
    grad = rng.standard_normal(shape).astype(dtype)
    _compare("bias_grad", grad, _nan(shape[1], dtype), dtype=dtype)


CONV_CASES = [((1, 1), (0, 0)), ((2, 1), (0, 0)), ((1, 1), (1, 2)), ((2, 1), (1, 2))]
CONV_IDS = ["s11-p00", "s21-p00", "s11-p12", "s21-p12"]


def _conv_shapes(stride, padding):
    x_shape, w_shape = (2, 2, 5, 5), (3, 2, 3, 3)
    Ho = (5 + 2 * padding[0] - 3) // stride[0] + 1
    Wo = (5 + 2 * padding[1] - 3) // stride[1] + 1
    return x_shape, w_shape, (2, 3, Ho, Wo)


@pytest.mark.parametrize("stride, padding", CONV_CASES, ids=CONV_IDS)
def test_conv2d(stride, padding, dtype, rng):
    x_shape, w_shape, out_shape = _conv_shapes(stride, padding)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    _compare("conv2d", x, w, stride, padding, _nan(out_shape, dtype), dtype=dtype)
    bias = rng.standard_normal(w_shape[0]).astype(dtype)  # bias and activation fused
    _compare("conv2d", x, w, stride, padding, _nan(out_shape, dtype), bias, "tanh", dtype=dtype)


@pytest.mark.parametrize("stride, padding", CONV_CASES, ids=CONV_IDS)
@pytest.mark.parametrize("need_grad_x", [True, False], ids=["grad_x", "no_grad_x"])
def test_conv2d_grad(stride, padding, need_grad_x, dtype, rng):
    x_shape, w_shape, out_shape = _conv_shapes(stride, padding)
    grad_out = rng.standard_normal(out_shape).astype(dtype)
    x = rng.standard_normal(x_shape).astype(dtype)
    w = rng.standard_normal(w_shape).astype(dtype)
    grad_x = _nan(x_shape, dtype) if need_grad_x else None
    _compare("conv2d_grad", grad_out, x, w, stride, padding, grad_x, _nan(w_shape, dtype),
             _nan(w_shape[:1], dtype), dtype=dtype)


# (kernel, stride): overlapping windows both ways, disjoint ones, and uncovered borders.
POOL_CASES = [((3, 3), (1, 2)), ((2, 2), (2, 2)), ((2, 3), (3, 1))]
POOL_IDS = ["overlap", "disjoint", "mixed"]


def _pool_shapes(kernel, stride):
    x_shape = (2, 2, 5, 6)
    return x_shape, (2, 2, (5 - kernel[0]) // stride[0] + 1, (6 - kernel[1]) // stride[1] + 1)


@pytest.mark.parametrize("kernel, stride", POOL_CASES, ids=POOL_IDS)
@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
def test_max_pool2d(kernel, stride, ties, dtype, rng):
    x_shape, out_shape = _pool_shapes(kernel, stride)
    # Few distinct values make ties: the first maximum in row-major order wins on both sides.
    x = (rng.integers(0, 3, x_shape) if ties else rng.standard_normal(x_shape)).astype(dtype)
    argmax = np.full(out_shape, -1, np.int32)
    _compare("max_pool2d", x, kernel, stride, _nan(out_shape, dtype), argmax, dtype=dtype)
    cpu.max_pool2d(x, kernel, stride, _nan(out_shape, dtype), argmax)
    grad_out = rng.standard_normal(out_shape).astype(dtype)
    _compare("max_pool2d_grad", grad_out, argmax, _nan(x_shape, dtype), dtype=dtype)


@pytest.mark.parametrize("kernel, stride", POOL_CASES, ids=POOL_IDS)
def test_avg_pool2d(kernel, stride, dtype, rng):
    x_shape, out_shape = _pool_shapes(kernel, stride)
    x = rng.standard_normal(x_shape).astype(dtype)
    _compare("avg_pool2d", x, kernel, stride, _nan(out_shape, dtype), dtype=dtype)
    grad_out = rng.standard_normal(out_shape).astype(dtype)
    _compare("avg_pool2d_grad", grad_out, kernel, stride, _nan(x_shape, dtype), dtype=dtype)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 3, 2)], ids=["2d", "4d"])
def test_batch_norm(shape, dtype, rng):
    C = shape[1]
    x = (3 * rng.standard_normal(shape) + 1).astype(dtype)
    gamma = rng.standard_normal(C).astype(dtype)
    beta = rng.standard_normal(C).astype(dtype)
    mean, inv_std = _nan(C, np.float64), _nan(C, np.float64)
    _compare("batch_norm", x, gamma, beta, 1e-5, _nan(shape, dtype), mean, inv_std, dtype=dtype)
    cpu.batch_norm(x, gamma, beta, 1e-5, _nan(shape, dtype), mean, inv_std)
    grad_out = rng.standard_normal(shape).astype(dtype)
    _compare("batch_norm_grad", grad_out, x, gamma, mean, inv_std, _nan(shape, dtype),
             _nan(C, dtype), _nan(C, dtype), dtype=dtype)
    var = rng.uniform(0.5, 2, C).astype(dtype)
    _compare("batch_norm_fixed", x, gamma, beta, mean.astype(dtype), var, 1e-5,
             _nan(shape, dtype), dtype=dtype)


def test_apply_dropout(dtype, rng):
    x = rng.standard_normal((3, 2, 2, 2)).astype(dtype)
    mask = rng.random(x.shape) < 0.6
    _compare("apply_dropout", x, mask, 1 / 0.6, dtype=dtype)


@pytest.mark.parametrize("kind", ["softmax", "logistic", "squared", "poisson"])
def test_loss_and_grad(kind, dtype, rng):
    output = (3 * rng.standard_normal((4, 3))).astype(dtype)
    if kind == "softmax":
        target = np.eye(3, dtype=dtype)[rng.integers(0, 3, 4)]
    else:
        target = rng.random((4, 3)).astype(dtype)
    weight = rng.random(4)
    expected, got = _compare("loss_and_grad", kind, output, target, weight / weight.sum(),
                             _nan((4, 3), dtype), dtype=dtype)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, expected, **_tol(dtype))


def test_softmax_gradient_in_place(rng):
    logits = rng.standard_normal((3, 4))
    target = np.eye(4)[[0, 3, 1]]
    grad = np.empty_like(logits)
    weight = np.full(3, 1 / 3)
    expected = cpu.loss_and_grad("softmax", logits, target, weight, grad)
    d_logits = gpu.to_device(logits)
    got = gpu.loss_and_grad("softmax", d_logits, gpu.to_device(target), gpu.to_device(weight),
                            d_logits)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    np.testing.assert_allclose(gpu.to_host(d_logits), grad, rtol=1e-12, atol=1e-15)


def _optimizer_state(dtype, rng, m=10):
    return (rng.standard_normal(m).astype(dtype), rng.standard_normal(m).astype(dtype),
            rng.random(m).astype(dtype))


@pytest.mark.parametrize("nesterov", [False, True])
def test_sgd(nesterov, dtype, rng):
    params, grads, velocity = _optimizer_state(dtype, rng)
    _compare("sgd", params, grads, velocity, 0.1, 0.9, nesterov, 1e-2, 6, dtype=dtype)


def test_adagrad(dtype, rng):
    params, grads, accum = _optimizer_state(dtype, rng)
    _compare("adagrad", params, grads, accum, 0.1, 1e-8, 1e-2, 6, dtype=dtype)


def test_adam(dtype, rng):
    params, grads, m = _optimizer_state(dtype, rng)
    v = rng.random(params.shape).astype(dtype)
    step_size = 1e-3 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3)
    _compare("adam", params, grads, m, v, step_size, 0.9, 0.999, 1e-8, 1e-2, 6, dtype=dtype)
