"""The C++ kernels of fastml.nn._nn_fast (csrc/nn) against fastml.reference.nn, and the
activations against fastml.nn._scalar (the formulas the CUDA kernels compile).

Each kernel runs on one and on two threads, which must give the same bits, on a small shape and
on one of 2^18 values, where the elementwise kernels split their loops between threads (see
kParallelMin in csrc/include/fastml/nn_ops.hpp). Dense (n, C) inputs are (n, C, 1) views.
"""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml.nn import _nn_fast as core
from fastml.nn import _scalar
from fastml.reference import nn as R

from .test_functional import RTOL, _close, _rand

SHAPES = [(7, 5), (3, 4, 5, 6), (2, 8, 128, 128)]  # the last: 2^18 values, threaded
SHAPE_IDS = ["dense", "small", "threaded"]


def _on_threads(call, *arrays):
    """Runs call(*copies, n_threads) for 1 and 2 threads; asserts that every array comes out
    with the same bits and returns the arrays of the one-thread run and its result."""
    runs = []
    for n_threads in (1, 2):
        copies = [a.copy() for a in arrays]
        runs.append((copies, call(*copies, n_threads)))
    (one, result), (two, result_two) = runs
    for a, b in zip(one, two):
        assert_array_equal(a, b)
    assert result == result_two
    return one, result


def _channels(a):
    return a.reshape(a.shape[0], a.shape[1], -1)


# ---------------------------------------------------------------------------------------------
# activations: _scalar's formulas evaluated in double on the value in the array's dtype, rounded
# once to it, to the bit

def _scalar_map(function, *arrays, dtype):
    return np.array([function(*map(float, values)) for values in zip(*map(np.ravel, arrays))],
                    dtype=np.float64).astype(dtype).reshape(arrays[0].shape)


@pytest.mark.parametrize("name", list(_scalar.ACTIVATIONS))
@pytest.mark.parametrize("shape", SHAPES[:2], ids=SHAPE_IDS[:2])
def test_activations_compute_what_scalar_computes(name, shape, dtype, rng):
    code = _scalar.ACTIVATIONS[name]
    z = _rand(rng, shape, dtype, scale=4)
    z.reshape(-1)[::4] = 0
    z.reshape(-1)[1::9] = 100  # saturation, both ways
    z.reshape(-1)[2::9] = -100
    b = _rand(rng, shape[1], dtype)
    (got,), _ = _on_threads(lambda a, t: core.bias_activation(_channels(a), b, code, t), z)
    z_plus_b = z + b.reshape(-1, *[1] * (len(shape) - 2))
    assert_array_equal(got, _scalar_map(lambda v: _scalar.activate(v, code), z_plus_b,
                                        dtype=dtype))
    (no_bias,), _ = _on_threads(lambda a, t: core.bias_activation(_channels(a), None, code, t), z)
    assert_array_equal(no_bias, _scalar_map(lambda v: _scalar.activate(v, code), z, dtype=dtype))

    g = _rand(rng, shape, dtype)
    (from_output, _), _ = _on_threads(
        lambda grad, y, t: core.activation_backward(grad, y, code, False, t), g, got)
    assert_array_equal(from_output, _scalar_map(
        lambda gi, y: gi * _scalar.derivative_from_output(y, code), g, got, dtype=dtype))
    (from_input, _), _ = _on_threads(
        lambda grad, x, t: core.activation_backward(grad, x, code, True, t), g, z)
    assert_array_equal(from_input, _scalar_map(
        lambda gi, x: gi * _scalar.derivative_from_output(_scalar.activate(x, code), code),
        g, z, dtype=dtype))


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_activations_match_the_reference(name, shape, dtype, rng):
    code = _scalar.ACTIVATIONS["logistic" if name == "sigmoid" else name]
    x = _rand(rng, shape, dtype, scale=3)
    (y,), _ = _on_threads(lambda a, t: core.bias_activation(_channels(a), None, code, t), x)
    _close(y, getattr(R, name)(x), RTOL[np.dtype(dtype)])
    g = _rand(rng, shape, dtype)
    (grad, _), _ = _on_threads(
        lambda a, inputs, t: core.activation_backward(a, inputs, code, True, t), g, x)
    _close(grad, getattr(R, name + "_backward")(g, x), RTOL[np.dtype(dtype)])


@pytest.mark.parametrize("shape", SHAPES, ids=SHAPE_IDS)
def test_channel_sums_and_dropout(shape, dtype, rng):
    g = _rand(rng, shape, dtype)
    (_, sums), _ = _on_threads(lambda a, out, t: core.channel_sums(_channels(a), out, t), g,
                               np.full(shape[1], np.nan, dtype))
    axes = (0,) + tuple(range(2, len(shape)))
    _close(sums, g.astype(np.float64).sum(axis=axes), RTOL[np.dtype(dtype)])

    mask = rng.uniform(size=shape) >= 0.3
    (x,), _ = _on_threads(lambda a, t: core.dropout(a, mask, 1 / 0.7, t), g)
    _close(x, R.dropout(g, 0.3, mask), RTOL[np.dtype(dtype)])


# ---------------------------------------------------------------------------------------------
# losses and optimizer steps (one thread)

@pytest.mark.parametrize("kind, loss", [("softmax", "cross_entropy"),
                                        ("logistic", "binary_cross_entropy"),
                                        ("squared", "squared_error"),
                                        ("poisson", "poisson_deviance")])
@pytest.mark.parametrize("n, K", [(1, 1), (9, 4), (200, 10)])
def test_losses(kind, loss, n, K, dtype, rng):
    if kind == "softmax" and K == 1:
        K = 2
    output = _rand(rng, (n, K), dtype, scale=5)
    target = rng.uniform(size=(n, K)).astype(dtype)
    if kind == "poisson":  # counts, zeros among them
        target = np.floor(3 * target).astype(dtype)
    if kind == "softmax":
        target /= target.sum(axis=1, keepdims=True)
    grad = np.full((n, K), np.nan, dtype)
    value = core.loss_and_grad(kind, output, target, np.full(n, 1 / n), grad)
    rtol = RTOL[np.dtype(dtype)]
    assert value == pytest.approx(getattr(R, loss)(output, target), rel=rtol)
    _close(grad, getattr(R, loss + "_backward")(output, target), rtol)
    in_place = output.copy()  # the gradient may overwrite the outputs
    assert core.loss_and_grad(kind, in_place, target, np.full(n, 1 / n), in_place) == value
    assert_array_equal(in_place, grad)


@pytest.mark.parametrize("step, state, kwargs", [
    ("sgd", ["velocity"], dict(lr=0.1, momentum=0.9, nesterov=True)),
    ("sgd", ["velocity"], dict(lr=0.1, momentum=0.5, nesterov=False)),
    ("adagrad", ["accum"], dict(lr=0.1, eps=1e-10)),
    ("adam", ["m", "v"], dict(lr=1e-3, beta_1=0.9, beta_2=0.999, eps=1e-8)),
])
@pytest.mark.parametrize("m, n_decayed", [(1, 1), (37, 20), (1000, 0)])
def test_optimizer_steps_match_the_reference(step, state, kwargs, m, n_decayed, dtype, rng):
    """Entries below n_decayed get the weight decay, the rest none."""
    p, g = _rand(rng, m, dtype), _rand(rng, m, dtype)
    slots = [np.abs(_rand(rng, m, dtype)) for _ in state]
    decay, t = 1e-2, 3
    expected = [np.concatenate(parts) for parts in zip(*[
        getattr(R, step + "_step")(p[part], g[part], *[s[part] for s in slots],
                                   *([t] if step == "adam" else []), **kwargs,
                                   weight_decay=weight_decay)
        for part, weight_decay in [(slice(0, n_decayed), decay), (slice(n_decayed, m), 0.0)]])]
    got = [p.copy()] + [s.copy() for s in slots]
    if step == "adam":
        step_size = kwargs["lr"] * np.sqrt(1 - kwargs["beta_2"] ** t) / (1 - kwargs["beta_1"] ** t)
        core.adam(got[0], g, *got[1:], step_size, kwargs["beta_1"], kwargs["beta_2"],
                  kwargs["eps"], decay, n_decayed)
    else:
        scalars = [v for k, v in kwargs.items()]
        getattr(core, step)(got[0], g, *got[1:], *scalars, decay, n_decayed)
    for a, b in zip(got, expected):
        _close(a, b, RTOL[np.dtype(dtype)])


# ---------------------------------------------------------------------------------------------
# im2col / col2im, pooling, batch normalisation

CONV_CASES = [  # x shape, filters (F, KH, KW), stride, padding
    ((2, 3, 7, 6), (4, 3, 3), (2, 1), (1, 0)),
    ((3, 2, 9, 11), (5, 2, 3), (3, 2), (2, 1)),
    ((1, 1, 4, 4), (2, 4, 4), (1, 1), (0, 0)),
    ((8, 4, 64, 64), (8, 3, 3), (2, 2), (1, 1)),  # threaded: 8 x 36 x 32^2 >= 2^18 values
]


@pytest.mark.parametrize("x_shape, filters, stride, padding", CONV_CASES)
def test_im2col_and_col2im_give_the_reference_convolution(x_shape, filters, stride, padding,
                                                          dtype, rng):
    (N, C, H, W), (F, KH, KW) = x_shape, filters
    x, w = _rand(rng, x_shape, dtype), _rand(rng, (F, C, KH, KW), dtype)
    Ho, Wo = (H + 2 * padding[0] - KH) // stride[0] + 1, (W + 2 * padding[1] - KW) // stride[1] + 1
    cols = np.full((C * KH * KW, N * Ho * Wo), np.nan, dtype)  # the images side by side
    (_, cols), _ = _on_threads(
        lambda a, out, t: core.im2col(a, KH, KW, *stride, *padding, out, t), x, cols)
    rtol = RTOL[np.dtype(dtype)]
    _close((w.reshape(F, -1) @ cols).reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3),
           R.conv2d(x, w, stride=stride, padding=padding), rtol)
    g = _rand(rng, (N, F, Ho, Wo), dtype)
    cols_grad = w.reshape(F, -1).T @ g.reshape(N, F, -1).transpose(1, 0, 2).reshape(F, -1)
    (_, grad_x), _ = _on_threads(
        lambda a, out, t: core.col2im(a, KH, KW, *stride, *padding, out, t), cols_grad,
        np.full(x_shape, np.nan, dtype))
    _close(grad_x, R.conv2d_backward(g, x, w, stride=stride, padding=padding)[0], rtol)


@pytest.mark.parametrize("x_shape, kernel, stride", [
    ((2, 3, 6, 7), (2, 2), (2, 2)),
    ((1, 2, 7, 5), (3, 2), (1, 2)),  # overlapping windows, a dropped last column
    ((2, 32, 64, 64), (2, 2), (2, 2)),  # threaded
])
def test_pooling(x_shape, kernel, stride, dtype, rng):
    x = _rand(rng, x_shape, dtype)
    x.reshape(-1)[:-1:7] = x.reshape(-1)[1::7]  # ties: the first maximum wins
    Ho, Wo = (x_shape[2] - kernel[0]) // stride[0] + 1, (x_shape[3] - kernel[1]) // stride[1] + 1
    out_shape = (*x_shape[:2], Ho, Wo)
    rtol = RTOL[np.dtype(dtype)]
    (_, out, argmax), _ = _on_threads(
        lambda a, o, am, t: core.max_pool_forward(a, *kernel, *stride, o, am, t), x,
        np.empty(out_shape, dtype), np.empty(out_shape, np.int32))
    assert_array_equal(out, R.max_pool2d(x, kernel, stride))
    g = _rand(rng, out_shape, dtype)
    (_, _, grad_x), _ = _on_threads(core.max_pool_backward, g, argmax,
                                    np.full(x_shape, np.nan, dtype))
    _close(grad_x, R.max_pool2d_backward(g, x, kernel, stride), rtol)
    (_, out), _ = _on_threads(
        lambda a, o, t: core.avg_pool_forward(a, *kernel, *stride, o, t), x,
        np.empty(out_shape, dtype))
    _close(out, R.avg_pool2d(x, kernel, stride), rtol)
    (_, grad_x), _ = _on_threads(
        lambda a, o, t: core.avg_pool_backward(a, *kernel, *stride, o, t), g,
        np.full(x_shape, np.nan, dtype))
    _close(grad_x, R.avg_pool2d_backward(g, x, kernel, stride), rtol)


@pytest.mark.parametrize("shape", [(1, 3), (40, 6), (3, 4, 5, 6), (2, 8, 128, 128)],
                         ids=["one-row", "dense", "small", "threaded"])
def test_batch_norm(shape, dtype, rng):
    C = shape[1]
    x = _rand(rng, shape, dtype, scale=3, offset=1)
    gamma, beta = _rand(rng, C, dtype), _rand(rng, C, dtype)
    rtol = RTOL[np.dtype(dtype)]
    (_, out, mean, inv_std), _ = _on_threads(
        lambda a, o, mu, r, t: core.batch_norm_forward(_channels(a), gamma, beta, 1e-5,
                                                       _channels(o), mu, r, t),
        x, np.empty_like(x), np.empty(C), np.empty(C))
    _close(out, R.batch_norm(x, gamma, beta), rtol)
    g = _rand(rng, shape, dtype)
    (_, grad_x, grad_gamma, grad_beta), _ = _on_threads(
        lambda a, gx, gg, gb, t: core.batch_norm_backward(
            _channels(a), _channels(x), gamma, mean, inv_std, _channels(gx), gg, gb, t),
        g, np.empty_like(x), np.empty(C, dtype), np.empty(C, dtype))
    for got, expected in zip((grad_x, grad_gamma, grad_beta), R.batch_norm_backward(g, x, gamma)):
        _close(got, expected, rtol)
    running_mean, running_var = rng.standard_normal(C), rng.uniform(0.5, 2, C)
    (_, out), _ = _on_threads(
        lambda a, o, t: core.batch_norm_inference(_channels(a), gamma, beta, running_mean,
                                                  running_var, 1e-5, _channels(o), t),
        x, np.empty_like(x))
    axes = (1, -1) + (1,) * (len(shape) - 2)
    expected = ((x - running_mean.reshape(axes)) / np.sqrt(running_var.reshape(axes) + 1e-5)
                * gamma.reshape(axes) + beta.reshape(axes))
    _close(out, expected, rtol)


# ---------------------------------------------------------------------------------------------
# entry checks: every bad argument is refused before any work

def _bad_calls():
    f32 = np.zeros((2, 3, 4), np.float32)
    x = np.zeros((1, 2, 4, 4), np.float32)
    pooled = np.zeros((1, 2, 2, 2), np.float32)
    argmax = np.zeros((1, 2, 2, 2), np.int32)
    flat = np.zeros(5, np.float32)
    return [
        (lambda: core.bias_activation(f32, np.zeros(4, np.float32), 1, 1), ValueError, "bias"),
        (lambda: core.bias_activation(f32, None, 7, 1), ValueError, "activation"),
        (lambda: core.bias_activation(f32, None, 1, 0), ValueError, "n_threads"),
        (lambda: core.bias_activation(f32, np.zeros(3), 1, 1), TypeError, "bias"),
        (lambda: core.bias_activation(f32.reshape(6, 4), None, 1, 1), ValueError, "(n, C, S)"),
        (lambda: core.activation_backward(flat, np.zeros(4, np.float32), 1, False, 1),
         ValueError, "y"),
        (lambda: core.channel_sums(f32, np.zeros(2, np.float32), 1), ValueError, "out"),
        (lambda: core.dropout(flat, np.ones(4, bool), 2.0, 1), ValueError, "mask"),
        (lambda: core.loss_and_grad("hinge", f32[0], f32[0], np.ones(3), f32[0]), ValueError,
         "hinge"),
        (lambda: core.loss_and_grad("squared", f32[0], f32[0], np.ones(2), f32[0]), ValueError,
         "weight"),
        (lambda: core.sgd(flat, flat, flat, 0.1, 0.9, False, 0.0, 6), ValueError, "n_decayed"),
        (lambda: core.adam(flat, flat, flat, np.zeros(4, np.float32), 0.1, 0.9, 0.99, 1e-8, 0, 0),
         ValueError, "state"),
        (lambda: core.sgd(flat, flat[::-1], flat, 0.1, 0.9, False, 0.0, 0), TypeError,
         "incompatible"),  # not C-contiguous: refused, not copied
        (lambda: core.im2col(x, 5, 5, 1, 1, 0, 0, np.zeros((50, 0), np.float32), 1),
         ValueError, "larger than the padded input"),
        (lambda: core.im2col(x, 3, 3, 0, 1, 0, 0, np.zeros((18, 4), np.float32), 1),
         ValueError, "stride"),
        (lambda: core.im2col(x, 3, 3, 1, 1, -1, 0, np.zeros((18, 4), np.float32), 1),
         ValueError, "padding"),
        (lambda: core.col2im(np.zeros((18, 5), np.float32), 3, 3, 1, 1, 0, 0, x, 1),
         ValueError, "cols"),
        (lambda: core.max_pool_forward(x, 2, 2, 2, 2, pooled, np.zeros((1, 2, 2, 1), np.int32), 1),
         ValueError, "argmax"),
        (lambda: core.max_pool_backward(pooled, argmax + 16, x, 1), ValueError, "argmax"),
        (lambda: core.max_pool_backward(pooled, argmax - 1, x, 1), ValueError, "argmax"),
        (lambda: core.avg_pool_backward(pooled, 2, 2, 1, 1, x, 1), ValueError, "grad_out"),
        (lambda: core.batch_norm_forward(f32, np.zeros(3, np.float32), np.zeros(3, np.float32),
                                         1e-5, f32, np.zeros(2), np.zeros(3), 1), ValueError,
         "mean"),
        (lambda: core.batch_norm_inference(f32, np.zeros(3, np.float32), np.zeros(3, np.float32),
                                           np.zeros(3), np.zeros(2), 1e-5, f32, 1), ValueError,
         "running"),
    ]


@pytest.mark.parametrize("index", range(len(_bad_calls())))
def test_bad_arguments_are_refused(index):
    call, error, match = _bad_calls()[index]
    with pytest.raises(error, match=match.replace("(", r"\(").replace(")", r"\)")):
        call()


def test_read_only_outputs_are_refused():
    z = np.zeros((2, 3, 1), np.float32)
    z.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        core.bias_activation(z, None, 1, 1)


# ---------------------------------------------------------------------------------------------
# instruction-set builds of the elementwise kernels compute the same values

_ISA_SCRIPT = """
import sys
import numpy as np
from fastml.nn import _nn_fast as core
rng = np.random.default_rng(7)
out = {"build": np.array(core.simd_build())}
for dtype in (np.float32, np.float64):
    key = np.dtype(dtype).name
    z = rng.standard_normal((37, 3, 11)).astype(dtype)
    b = rng.standard_normal(3).astype(dtype)
    for code in (1, 2, 3):
        a = z.copy()
        core.bias_activation(a, b, code, 1)
        g = rng.standard_normal(a.shape).astype(dtype)
        core.activation_backward(g, a, code, False, 1)
        out[f"act{code}_{key}"], out[f"grad{code}_{key}"] = a, g
    s = np.empty(3, dtype)
    core.channel_sums(z, s, 1)
    out[f"sums_{key}"] = s
    p, gr = rng.standard_normal(1001).astype(dtype), rng.standard_normal(1001).astype(dtype)
    m1, m2 = np.zeros_like(p), np.zeros_like(p)
    for _ in range(3):
        core.adam(p, gr, m1, m2, 1e-3, 0.9, 0.999, 1e-8, 1e-4, 700)
        core.adagrad(p, gr, m2, 1e-2, 1e-8, 1e-4, 700)
        core.sgd(p, gr, m1, 1e-2, 0.9, True, 1e-4, 700)
    out[f"params_{key}"] = p
np.savez(sys.argv[1], **out)
"""


def test_every_instruction_set_build_computes_the_same(tmp_path):
    import os
    import subprocess
    import sys
    results = {}
    for cap in ("baseline", "x86_64_v3", "native"):
        path = tmp_path / f"{cap}.npz"
        env = dict(os.environ, FASTML_SIMD=cap)
        subprocess.run([sys.executable, "-c", _ISA_SCRIPT, str(path)], env=env, check=True)
        results[cap] = dict(np.load(path))
    builds = {str(r.pop("build")) for r in results.values()}
    if builds == {"baseline"}:
        pytest.skip("only the baseline build runs here")
    for name, value in results["baseline"].items():
        for cap in ("x86_64_v3", "native"):
            np.testing.assert_array_equal(results[cap][name], value, err_msg=f"{name} ({cap})")
