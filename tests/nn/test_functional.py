"""fastml.nn.functional (the CPU kernels) against the plain-NumPy oracle fastml.reference.nn.

Every op, forward and backward, runs on random data in float32 and float64 and must match the
reference to ~1e-5 (float32) or ~1e-10 (float64) of the largest expected magnitude, keep the
input's dtype and leave its inputs alone. Convolution shapes stay small: the reference loops in
Python over output positions.
"""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml import config_context
from fastml.nn import _kernels_cpu, functional as F
from fastml.reference import nn as R

RTOL = {np.dtype(np.float32): 1e-5, np.dtype(np.float64): 1e-10}


def _rand(rng, shape, dtype, scale=1.0, offset=0.0):
    return (offset + scale * rng.standard_normal(shape)).astype(dtype)


def _close(got, expected, rtol):
    """max |got - expected| within rtol of the largest |expected|."""
    got, expected = np.asarray(got, np.float64), np.asarray(expected, np.float64)
    assert got.shape == expected.shape
    error = np.abs(got - expected).max(initial=0.0)
    scale = np.abs(expected).max(initial=0.0)
    assert error <= rtol * scale, f"max error {error:.3g} against max magnitude {scale:.3g}"


def _compare(name, *args, dtype, **kwargs):
    """Runs op `name` of fastml and of the reference on the same arguments; checks every result
    (values, dtype, float losses) and that fastml modified no argument. Returns fastml's result."""
    before = [a.copy() if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(F, name)(*args, **kwargs)
    for arg, saved in zip(args, before):
        if isinstance(arg, np.ndarray):
            assert_array_equal(arg, saved, err_msg=f"{name} modified an input")
    expected = getattr(R, name)(*args, **kwargs)
    many = isinstance(expected, tuple)
    got_all, expected_all = (got, expected) if many else ((got,), (expected,))
    assert len(got_all) == len(expected_all)
    for g, e in zip(got_all, expected_all):
        if isinstance(e, float):
            assert isinstance(g, float)
        else:
            assert isinstance(g, np.ndarray) and g.dtype == np.dtype(dtype)
        _close(g, e, RTOL[np.dtype(dtype)])
    return got


# ---------------------------------------------------------------------------------------------
# dense

@pytest.mark.parametrize("n, n_in, n_out", [(1, 4, 3), (6, 1, 2), (5, 3, 1), (3, 40, 70),
                                            (1, 1, 1)])
def test_dense(n, n_in, n_out, dtype, rng):
    x, w, b = (_rand(rng, s, dtype) for s in [(n, n_in), (n_in, n_out), (n_out,)])
    assert _compare("dense", x, w, b, dtype=dtype).shape == (n, n_out)
    _compare("dense", x, w, dtype=dtype)
    _compare("dense_backward", _rand(rng, (n, n_out), dtype), x, w, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# convolution

CONV_CASES = [  # x (N, C, H, W), w (F, KH, KW) (C from x), stride, padding
    ((1, 1, 5, 5), (2, 3, 3), 1, 0),
    ((5, 3, 7, 6), (4, 3, 3), (2, 1), 1),
    ((2, 3, 9, 8), (3, 5, 5), (2, 2), (2, 0)),
    ((1, 3, 4, 4), (2, 1, 1), 1, 0),
    ((2, 3, 5, 4), (2, 1, 1), (2, 2), 1),
    ((5, 1, 6, 7), (2, 2, 3), (2, 2), 1),
    ((1, 3, 6, 5), (1, 2, 3), (2, 1), (2, 0)),
    ((3, 2, 3, 3), (2, 3, 3), 1, 0),           # input exactly the kernel size
    ((2, 1, 2, 3), (3, 2, 3), (2, 2), 0),      # exactly the kernel size, stride beyond it
    ((1, 1, 5, 5), (2, 5, 5), 1, 0),
    ((1, 1, 2, 2), (1, 3, 3), 1, 1),           # kernel larger than the input, not the padded one
    ((4, 3, 5, 6), (2, 3, 3), 1, (2, 0)),
]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv2d(x_shape, w_shape, stride, padding, dtype, rng):
    x = _rand(rng, x_shape, dtype)
    w = _rand(rng, (w_shape[0], x_shape[1], *w_shape[1:]), dtype)
    b = _rand(rng, w_shape[:1], dtype)
    y = _compare("conv2d", x, w, b, stride=stride, padding=padding, dtype=dtype)
    (sh, sw), (ph, pw) = (np.broadcast_to(stride, 2), np.broadcast_to(padding, 2))
    assert y.shape == (x_shape[0], w_shape[0], (x_shape[2] + 2 * ph - w_shape[1]) // sh + 1,
                       (x_shape[3] + 2 * pw - w_shape[2]) // sw + 1)
    _compare("conv2d", x, w, stride=stride, padding=padding, dtype=dtype)
    _compare("conv2d_backward", _rand(rng, y.shape, dtype), x, w, stride=stride,
             padding=padding, dtype=dtype)


def test_conv2d_backward_matches_finite_differences(rng):
    """Independent of the reference: the gradient of sum(conv2d(x, w, b) * G) by central
    differences (conv2d is linear in each argument, so they are exact up to rounding)."""
    stride, padding = (2, 1), (1, 0)
    args = [rng.standard_normal(s) for s in [(2, 2, 4, 5), (3, 2, 2, 3), (3,)]]
    G = rng.standard_normal(F.conv2d(*args, stride=stride, padding=padding).shape)
    grads = F.conv2d_backward(G, *args[:2], stride=stride, padding=padding)

    def loss(i, index, step):
        moved = [a.copy() for a in args]
        moved[i][index] += step
        return np.sum(F.conv2d(*moved, stride=stride, padding=padding) * G)

    for i, (arg, grad) in enumerate(zip(args, grads)):
        numeric = np.array([(loss(i, k, 1e-3) - loss(i, k, -1e-3)) / 2e-3
                            for k in np.ndindex(arg.shape)]).reshape(arg.shape)
        _close(grad, numeric, 1e-8)


@pytest.mark.parametrize("chunk_values", [None, 100])  # one chunk of images, or several
def test_conv2d_backward_same_with_one_or_two_threads(chunk_values, dtype, rng, monkeypatch):
    if chunk_values is not None:  # 18 x 16 values per image: chunks of 1 image, on 2 threads
        monkeypatch.setattr(_kernels_cpu, "_CHUNK_VALUES", chunk_values)
    x, w = _rand(rng, (11, 2, 7, 6), dtype), _rand(rng, (3, 2, 3, 3), dtype)
    g = _rand(rng, (11, 3, 4, 4), dtype)
    results = []
    for n_jobs in (1, 2):
        with config_context(n_jobs=n_jobs):
            results.append((_compare("conv2d", x, w, stride=(2, 1), padding=(1, 0), dtype=dtype),
                            *_compare("conv2d_backward", g, x, w, stride=(2, 1), padding=(1, 0),
                                      dtype=dtype)))
    for a, b in zip(*results):  # grad_w is summed over images: fixed chunks, fixed order
        assert_array_equal(a, b)


# ---------------------------------------------------------------------------------------------
# pooling

POOL_CASES = [  # x shape, kernel_size, stride
    ((2, 3, 6, 6), 2, None),
    ((1, 2, 7, 5), 3, None),             # windows do not fit: last rows and columns dropped
    ((2, 2, 7, 7), 3, 2),                # overlapping
    ((1, 1, 5, 6), (2, 3), (1, 2)),      # overlapping in both directions
    ((3, 2, 5, 5), 3, 1),
    ((1, 1, 4, 4), 4, None),             # input exactly the window
    ((2, 1, 9, 4), (2, 1), (3, 1)),      # stride beyond the window: gaps
]


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("x_shape, kernel, stride", POOL_CASES)
def test_pool2d(kind, x_shape, kernel, stride, dtype, rng):
    x = _rand(rng, x_shape, dtype)
    y = _compare(f"{kind}_pool2d", x, kernel, stride, dtype=dtype)
    (kh, kw), (sh, sw) = np.broadcast_to(kernel, 2), np.broadcast_to(stride or kernel, 2)
    assert y.shape == (*x_shape[:2], (x_shape[2] - kh) // sh + 1, (x_shape[3] - kw) // sw + 1)
    _compare(f"{kind}_pool2d_backward", _rand(rng, y.shape, dtype), x, kernel, stride,
             dtype=dtype)


@pytest.mark.parametrize("kernel, stride", [(2, None), (3, 1), ((2, 3), (1, 2))])
def test_max_pool2d_ties_go_to_the_first_maximum(kernel, stride, dtype, rng):
    x = rng.integers(0, 3, (2, 2, 6, 7)).astype(dtype)  # many ties
    g = _rand(rng, F.max_pool2d(x, kernel, stride).shape, dtype)
    _compare("max_pool2d_backward", g, x, kernel, stride, dtype=dtype)
    assert_array_equal(F.max_pool2d_backward(np.ones((1, 1, 1, 1)), np.zeros((1, 1, 2, 2)), 2),
                       [[[[1, 0], [0, 0]]]])


def test_max_pool2d_propagates_nan():
    """A NaN anywhere in a window wins, as in np.max."""
    x = np.array([[[[1.0, np.nan], [0.0, 2.0]]]])
    assert_array_equal(F.max_pool2d(x, 2), R.max_pool2d(x, 2))


def test_pool2d_backward_adds_overlapping_windows():
    x = np.zeros((1, 1, 3, 3))
    x[0, 0, 1, 1] = 1  # the maximum of all four 2x2 windows
    g = np.array([[[[1.0, 2.0], [3.0, 4.0]]]])
    expected_max = np.zeros_like(x)
    expected_max[0, 0, 1, 1] = 10
    assert_array_equal(F.max_pool2d_backward(g, x, 2, 1), expected_max)
    expected_avg = np.array([[1, 3, 2], [4, 10, 6], [3, 7, 4]]) / 4
    np.testing.assert_allclose(F.avg_pool2d_backward(g, x, 2, 1)[0, 0], expected_avg, rtol=1e-15)


# ---------------------------------------------------------------------------------------------
# activations, softmax

@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid"])
@pytest.mark.parametrize("shape", [(7,), (1, 1), (4, 5), (3, 2, 4), (2, 3, 4, 5)])
def test_activation(name, shape, dtype, rng):
    x = _rand(rng, shape, dtype, scale=3)
    x.reshape(-1)[::3] = 0  # relu's kink
    x.reshape(-1)[-1] = 40  # saturation
    assert _compare(name, x, dtype=dtype).shape == shape
    _compare(f"{name}_backward", _rand(rng, shape, dtype), x, dtype=dtype)


def test_relu_at_zero(dtype):
    x = np.array([[-1.0, 0.0, 2.0]], dtype=dtype)
    assert_array_equal(F.relu(x), [[0, 0, 2]])
    assert_array_equal(F.relu_backward(np.ones_like(x), x), [[0, 0, 1]])


@pytest.mark.parametrize("call", [lambda: F.relu(np.array(-2.0)),
                                  lambda: F.tanh_backward(np.array(1.0), np.array(0.5)),
                                  lambda: F.dropout(np.array(2.0), 0.5, np.array(True))],
                         ids=["relu", "tanh_backward", "dropout"])
def test_elementwise_ops_keep_a_scalar_shape(call):
    assert call().shape == ()


def test_sigmoid_saturates_without_overflow(dtype):
    x = np.array([[-1000.0, 0.0, 1000.0]], dtype=dtype)
    assert_array_equal(F.sigmoid(x), [[0, 0.5, 1]])
    assert_array_equal(F.sigmoid_backward(np.ones_like(x), x), [[0, 0.25, 0]])


@pytest.mark.parametrize("shape, offset", [((1, 1), 0), ((1, 5), 0), ((5, 3), 0), ((3, 10), 0),
                                           ((4, 6), 1000), ((4, 6), -1000)])
def test_softmax(shape, offset, dtype, rng):
    x = _rand(rng, shape, dtype, scale=3, offset=offset)
    s = _compare("softmax", x, dtype=dtype)
    np.testing.assert_allclose(s.sum(axis=1), 1, rtol=1e-6)
    _compare("log_softmax", x, dtype=dtype)
    _compare("softmax_backward", _rand(rng, shape, dtype), x, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# dropout

@pytest.mark.parametrize("shape, p", [((50,), 0.5), ((6, 7), 0.2), ((2, 3, 4, 5), 0.9),
                                      ((4, 4), 0.0)])
def test_dropout(shape, p, dtype, rng):
    mask = F.dropout_mask(shape, p, random_state=3)
    assert mask.dtype == bool and mask.shape == shape
    assert_array_equal(mask, F.dropout_mask(shape, p, random_state=3))
    assert_array_equal(mask, R.dropout_mask(shape, p, random_state=3))
    x = _rand(rng, shape, dtype)
    _compare("dropout", x, p, mask, dtype=dtype)
    _compare("dropout_backward", _rand(rng, shape, dtype), mask, p, dtype=dtype)


def test_dropout_p0_keeps_everything(dtype, rng):
    x = _rand(rng, (30, 20), dtype)
    mask = F.dropout_mask(x.shape, 0.0, random_state=0)
    assert mask.all()
    assert_array_equal(F.dropout(x, 0.0, mask), x)
    assert_array_equal(F.dropout_backward(x, mask, 0.0), x)


def test_dropout_mask_keeps_a_fraction_one_minus_p():
    mask = F.dropout_mask((200, 100), 0.3, random_state=1)
    assert abs(mask.mean() - 0.7) < 0.02
    assert not np.array_equal(mask, F.dropout_mask((200, 100), 0.3, random_state=2))


def test_dropout_mask_accepts_a_generator():
    expected = R.dropout_mask((5, 6), 0.4, np.random.default_rng(7))
    assert_array_equal(F.dropout_mask((5, 6), 0.4, np.random.default_rng(7)), expected)


# ---------------------------------------------------------------------------------------------
# batch normalisation

@pytest.mark.parametrize("shape, eps", [((8, 3), 1e-5), ((5, 1), 1e-5), ((2, 4), 1e-3),
                                        ((4, 3, 5, 5), 1e-5), ((2, 1, 3, 4), 1e-5),
                                        ((1, 2, 3, 1), 1e-2)])
def test_batch_norm(shape, eps, dtype, rng):
    x = _rand(rng, shape, dtype, scale=2, offset=3)
    gamma, beta = _rand(rng, shape[1:2], dtype), _rand(rng, shape[1:2], dtype)
    y = _compare("batch_norm", x, gamma, beta, eps=eps, dtype=dtype)
    axes = (0,) if x.ndim == 2 else (0, 2, 3)
    np.testing.assert_allclose(y.mean(axis=axes), beta, atol=1e-5)
    _compare("batch_norm_backward", _rand(rng, shape, dtype), x, gamma, eps=eps, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# losses

@pytest.mark.parametrize("n, K, scale", [(1, 2, 1), (5, 3, 1), (8, 10, 3), (3, 1, 1),
                                         (4, 3, 500)])
def test_cross_entropy(n, K, scale, dtype, rng):
    logits = _rand(rng, (n, K), dtype, scale=scale)
    labels = rng.integers(0, K, n)
    onehot = np.eye(K, dtype=dtype)[labels]
    soft = rng.random((n, K))
    for y in (labels, labels.astype(np.uint8), onehot, soft / soft.sum(axis=1, keepdims=True)):
        _compare("cross_entropy", logits, y, dtype=dtype)
        _compare("cross_entropy_backward", logits, y, dtype=dtype)
    assert F.cross_entropy(logits, labels) == F.cross_entropy(logits, onehot)
    assert_array_equal(F.cross_entropy_backward(logits, labels),
                       F.cross_entropy_backward(logits, onehot))


@pytest.mark.parametrize("name", ["binary_cross_entropy", "squared_error"])
@pytest.mark.parametrize("shape, scale", [((1, 1), 1), ((6, 1), 1), ((4, 3), 3), ((3, 2), 300)])
def test_elementwise_losses(name, shape, scale, dtype, rng):
    output = _rand(rng, shape, dtype, scale=scale)
    for y in (rng.integers(0, 2, shape).astype(dtype), rng.random(shape).astype(dtype)):
        _compare(name, output, y, dtype=dtype)
        _compare(f"{name}_backward", output, y, dtype=dtype)


# ---------------------------------------------------------------------------------------------
# memory layouts: Fortran order, strided views, negative strides and read-only arrays must be
# accepted and give the same results as C-contiguous arrays

def _relayout(a, layout):
    if layout == "fortran":
        return np.asfortranarray(a)
    if layout == "strided":
        view = np.stack([a, np.zeros_like(a)], axis=-1)[..., 0]
        assert not view.flags.c_contiguous
        return view
    if layout == "reversed":
        return np.flip(np.flip(a, 0).copy(), 0)
    copy = a.copy()
    copy.setflags(write=False)
    return copy


def _layout_case(name, rng):
    """Arguments (float64, C-contiguous) and keyword arguments of op `name`."""
    r = lambda *shape: rng.standard_normal(shape)  # noqa: E731
    x4, w4 = r(3, 2, 6, 5), r(4, 2, 3, 2)
    conv = dict(stride=(2, 1), padding=(1, 0))
    mask = F.dropout_mask((5, 4), 0.5, random_state=0)
    return {
        "dense": ((r(5, 3), r(3, 4), r(4)), {}),
        "dense_backward": ((r(5, 4), r(5, 3), r(3, 4)), {}),
        "conv2d": ((x4, w4, r(4)), conv),
        "conv2d_backward": ((r(3, 4, 3, 4), x4, w4), conv),
        "max_pool2d_backward": ((r(3, 2, 4, 2), x4, (3, 2), (1, 2)), {}),
        "avg_pool2d": ((x4, 2), {}),
        "avg_pool2d_backward": ((r(3, 2, 3, 2), x4, 2), {}),
        "relu_backward": ((r(5, 4), r(5, 4)), {}),
        "tanh": ((x4,), {}),
        "softmax_backward": ((r(5, 4), r(5, 4)), {}),
        "dropout": ((r(5, 4), 0.5, mask), {}),
        "batch_norm": ((x4, r(2), r(2)), {}),
        "batch_norm_backward": ((r(3, 2, 6, 5), x4, r(2)), {}),
        "cross_entropy_backward": ((r(5, 4), rng.integers(0, 4, 5)), {}),
        "binary_cross_entropy": ((r(5, 4), rng.random((5, 4))), {}),
    }[name]


@pytest.mark.parametrize("layout", ["fortran", "strided", "reversed", "readonly"])
@pytest.mark.parametrize("name", [
    "dense", "dense_backward", "conv2d", "conv2d_backward", "max_pool2d_backward", "avg_pool2d",
    "avg_pool2d_backward", "relu_backward", "tanh", "softmax_backward", "dropout", "batch_norm",
    "batch_norm_backward", "cross_entropy_backward", "binary_cross_entropy"])
def test_memory_layouts(name, layout, rng):
    args, kwargs = _layout_case(name, rng)
    expected = getattr(F, name)(*args, **kwargs)
    moved = [_relayout(a, layout) if isinstance(a, np.ndarray) else a for a in args]
    got = getattr(F, name)(*moved, **kwargs)
    for g, e in zip(*((got, expected) if isinstance(expected, tuple) else ((got,), (expected,)))):
        assert_array_equal(g, e)


def test_integer_input_gives_float64():
    assert F.relu(np.array([[-1, 2]])).dtype == np.float64
    assert F.dense(np.ones((2, 3), np.int32), np.ones((3, 1), np.int64)).dtype == np.float64


# ---------------------------------------------------------------------------------------------
# bad input

_X, _W = np.ones((1, 2, 5, 5)), np.ones((3, 2, 3, 3))
_G = np.ones((1, 3, 3, 3))
_L = np.zeros((3, 4))

BAD_INPUT = {
    # channel mismatch
    "conv channels": (lambda: F.conv2d(_X, np.ones((3, 1, 3, 3))), ValueError),
    "conv backward channels": (lambda: F.conv2d_backward(_G, _X, np.ones((3, 1, 3, 3))),
                               ValueError),
    "conv bias": (lambda: F.conv2d(_X, _W, np.ones(2)), ValueError),
    "dense features": (lambda: F.dense(np.ones((2, 3)), np.ones((4, 2))), ValueError),
    "dense bias": (lambda: F.dense(np.ones((2, 3)), np.ones((3, 2)), np.ones(3)), ValueError),
    "batch_norm gamma": (lambda: F.batch_norm(_X, np.ones(3), np.zeros(3)), ValueError),
    # kernel larger than the (padded) input
    "conv kernel": (lambda: F.conv2d(_X, np.ones((3, 2, 6, 3))), ValueError),
    "conv kernel padded": (lambda: F.conv2d(_X, np.ones((3, 2, 3, 8)), padding=1), ValueError),
    "conv kernel rows padding": (lambda: F.conv2d(_X, np.ones((3, 2, 6, 3)), padding=(0, 2)),
                                 ValueError),
    "pool window": (lambda: F.max_pool2d(_X, (6, 2)), ValueError),
    "avg pool window": (lambda: F.avg_pool2d(_X, 6), ValueError),
    # stride and padding
    "conv stride 0": (lambda: F.conv2d(_X, _W, stride=0), ValueError),
    "conv stride (1, 0)": (lambda: F.conv2d(_X, _W, stride=(1, 0)), ValueError),
    "conv stride -1": (lambda: F.conv2d(_X, _W, stride=-1), ValueError),
    "conv padding -1": (lambda: F.conv2d(_X, _W, padding=-1), ValueError),
    "conv backward padding (0, -1)": (lambda: F.conv2d_backward(_G, _X, _W, padding=(0, -1)),
                                      ValueError),
    "pool stride 0": (lambda: F.max_pool2d(_X, 2, 0), ValueError),
    "pool kernel 0": (lambda: F.avg_pool2d(_X, 0), ValueError),
    # wrong ndim
    "conv x 3-D": (lambda: F.conv2d(_X[0], _W), ValueError),
    "conv w 3-D": (lambda: F.conv2d(_X, _W[0]), ValueError),
    "dense x 1-D": (lambda: F.dense(np.ones(3), np.ones((3, 2))), ValueError),
    "dense w 3-D": (lambda: F.dense(np.ones((2, 3)), np.ones((3, 2, 1))), ValueError),
    "pool 3-D": (lambda: F.max_pool2d(_X[0], 2), ValueError),
    "softmax 1-D": (lambda: F.softmax(np.ones(3)), ValueError),
    "log_softmax 3-D": (lambda: F.log_softmax(np.ones((2, 3, 4))), ValueError),
    "batch_norm 3-D": (lambda: F.batch_norm(np.ones((2, 3, 4)), np.ones(3), np.ones(3)),
                       ValueError),
    "cross_entropy 1-D": (lambda: F.cross_entropy(np.ones(3), np.array([0])), ValueError),
    # complex dtype
    "conv complex": (lambda: F.conv2d(_X.astype(complex), _W), TypeError),
    "dense complex w": (lambda: F.dense(np.ones((2, 3)), np.ones((3, 2), complex)), TypeError),
    "relu complex": (lambda: F.relu(np.ones((2, 2), np.complex64)), TypeError),
    "pool complex": (lambda: F.max_pool2d(_X.astype(complex), 2), TypeError),
    "batch_norm complex": (lambda: F.batch_norm(_L.astype(complex), np.ones(4), np.ones(4)),
                           TypeError),
    "softmax complex": (lambda: F.softmax(_L.astype(complex)), TypeError),
    "loss complex": (lambda: F.squared_error(_L.astype(complex), _L), TypeError),
    # empty arrays
    "dense empty": (lambda: F.dense(np.ones((0, 3)), np.ones((3, 2))), ValueError),
    "dense empty w": (lambda: F.dense(np.ones((2, 3)), np.ones((3, 0))), ValueError),
    "conv empty": (lambda: F.conv2d(np.ones((0, 2, 5, 5)), _W), ValueError),
    "pool empty": (lambda: F.avg_pool2d(np.ones((1, 0, 4, 4)), 2), ValueError),
    "relu empty": (lambda: F.relu(np.ones(0)), ValueError),
    "softmax empty": (lambda: F.softmax(np.ones((2, 0))), ValueError),
    "batch_norm empty": (lambda: F.batch_norm(np.ones((0, 3)), np.ones(3), np.ones(3)),
                         ValueError),
    "dropout empty": (lambda: F.dropout(np.ones(0), 0.5, np.ones(0, bool)), ValueError),
    "loss empty": (lambda: F.cross_entropy(np.ones((0, 3)), np.zeros(0, int)), ValueError),
    # grad_out of the wrong shape
    "dense grad": (lambda: F.dense_backward(np.ones((2, 3)), np.ones((2, 3)), np.ones((3, 2))),
                   ValueError),
    "conv grad": (lambda: F.conv2d_backward(np.ones((1, 3, 3, 2)), _X, _W), ValueError),
    "max pool grad": (lambda: F.max_pool2d_backward(np.ones((1, 2, 3, 3)), _X, 2), ValueError),
    "avg pool grad": (lambda: F.avg_pool2d_backward(np.ones((1, 2, 2, 2)), _X, 2, 1),
                      ValueError),
    "relu grad": (lambda: F.relu_backward(np.ones((3, 3)), _L), ValueError),
    "tanh grad": (lambda: F.tanh_backward(np.ones((3, 4, 1)), _L), ValueError),
    "softmax grad": (lambda: F.softmax_backward(np.ones((4, 3)), _L), ValueError),
    "batch_norm grad": (lambda: F.batch_norm_backward(np.ones((3, 5)), _L, np.ones(4)),
                        ValueError),
    "dropout mask": (lambda: F.dropout_backward(np.ones((3, 5)), np.ones((3, 4), bool), 0.5),
                     ValueError),
    "loss targets": (lambda: F.squared_error(_L, np.zeros((3, 5))), ValueError),
    # dropout probability
    "dropout p=1": (lambda: F.dropout(_L, 1.0, np.ones((3, 4), bool)), ValueError),
    "dropout_backward p=1": (lambda: F.dropout_backward(_L, np.ones((3, 4), bool), 1),
                             ValueError),
    "dropout_mask p=1": (lambda: F.dropout_mask((3, 4), 1.0, random_state=0), ValueError),
    "dropout p<0": (lambda: F.dropout(_L, -0.1, np.ones((3, 4), bool)), ValueError),
    # class indices
    "class too large": (lambda: F.cross_entropy(_L, np.array([0, 4, 1])), ValueError),
    "class negative": (lambda: F.cross_entropy_backward(_L, np.array([0, -1, 1])), ValueError),
    "class count": (lambda: F.cross_entropy(_L, np.array([0, 1])), ValueError),
}


@pytest.mark.parametrize("case", BAD_INPUT)
def test_bad_input_raises(case):
    call, error = BAD_INPUT[case]
    with pytest.raises(error):
        call()


@pytest.mark.parametrize("step, state, kwargs", [
    ("sgd_step", 1, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.01)),
    ("sgd_step", 1, dict(lr=0.1)),
    ("adagrad_step", 1, dict(lr=0.1, weight_decay=0.01)),
    ("adam_step", 2, dict(t=3, lr=0.01, weight_decay=0.01)),
], ids=["sgd-nesterov", "sgd", "adagrad", "adam"])
def test_optimizer_steps_match_the_reference(step, state, kwargs, dtype):
    rng = np.random.default_rng(5)
    p, g = rng.standard_normal((2, 3, 4)).astype(dtype)
    slots = [np.abs(rng.standard_normal((3, 4))).astype(dtype) for _ in range(state)]
    ours = getattr(F, step)(p, g, *slots, **kwargs)
    theirs = getattr(R, step)(p, g, *slots, **kwargs)
    for a, b in zip(ours, theirs):
        assert a.dtype == dtype and a.shape == (3, 4)
        np.testing.assert_allclose(a, b, rtol=1e-5 if dtype == np.float32 else 1e-12)
    with pytest.raises(ValueError, match="shape of p"):
        getattr(F, step)(p, g[:2], *slots, **kwargs)


@pytest.mark.skipif(not __import__("fastml._backend", fromlist=["cuda_status"]).cuda_status()
                    .available, reason="CUDA unavailable and the simulator is off")
def test_ops_on_device_arrays_run_on_the_cuda_kernels():
    """Device arrays in, device arrays out: the same values as on the CPU (tiny shapes, as
    the simulator is slow)."""
    from numba import cuda

    rng = np.random.default_rng(6)
    x, w, b = rng.standard_normal((2, 2, 4, 4)), rng.standard_normal((3, 2, 3, 3)), rng.random(3)
    out = F.conv2d(cuda.to_device(x), cuda.to_device(w), cuda.to_device(b), padding=1)
    assert not isinstance(out, np.ndarray) and hasattr(out, "copy_to_host")
    np.testing.assert_allclose(out.copy_to_host(), F.conv2d(x, w, b, padding=1), rtol=1e-12)
    grads = F.conv2d_backward(cuda.to_device(np.ones((2, 3, 4, 4))), cuda.to_device(x),
                              cuda.to_device(w), padding=1)
    for got, expected in zip(grads, F.conv2d_backward(np.ones((2, 3, 4, 4)), x, w, padding=1)):
        np.testing.assert_allclose(got.copy_to_host(), expected, rtol=1e-12)
    with pytest.raises(TypeError, match="mix"):
        F.dense(cuda.to_device(x[0, 0]), rng.random((4, 2)))


@pytest.mark.parametrize("loss", ["cross_entropy", "binary_cross_entropy", "squared_error"])
def test_losses_weigh_rows_by_sample_weight(loss):
    """A weighted loss is the weighted mean of the rows' losses, its gradient each row's
    gradient scaled by weight / sum(weight) instead of 1 / n."""
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((5, 3))
    y = np.eye(3)[[0, 2, 1, 1, 0]] if loss == "cross_entropy" else rng.random((5, 3))
    weight = np.array([0.5, 0.0, 2.0, 1.0, 1.5])
    rows = [getattr(F, loss)(logits[i:i + 1], y[i:i + 1]) for i in range(5)]
    assert getattr(F, loss)(logits, y, weight) == pytest.approx(np.average(rows, weights=weight))
    unweighted = getattr(F, loss + "_backward")(logits, y)
    np.testing.assert_allclose(getattr(F, loss + "_backward")(logits, y, weight),
                               unweighted * 5 * (weight / weight.sum())[:, None], rtol=1e-12)
    with pytest.raises(ValueError, match="sample_weight"):
        getattr(F, loss)(logits, y, -weight)
