"""The reference neural-network ops against finite differences, independent closed forms
(scipy, scikit-learn, reshapes) and hand-computed steps, so that the oracle can be trusted."""
import numpy as np
import pytest
import scipy.signal
import scipy.special
from sklearn.metrics import log_loss

from fastml.reference import nn as reference
from tests._assertions import numerical_gradient





def _assert_gradients(f, arrays, grads, rtol=1e-6, atol=1e-8):
    """Each of grads matches the central differences of f(*arrays) in the matching argument."""
    assert len(arrays) == len(grads)
    for k, (A, G) in enumerate(zip(arrays, grads)):
        def f_k(B, k=k):
            args = list(arrays)
            args[k] = B
            return f(*args)

        assert G.shape == A.shape and G.dtype == np.float64
        np.testing.assert_allclose(G, numerical_gradient(f_k, A, 1e-6), rtol=rtol, atol=atol,
                                   err_msg=f"gradient of argument {k}")


def _normal(seed, *shape):
    return np.random.default_rng(seed).normal(size=shape)


def _scipy_conv2d(x, w, b, stride, padding):
    """conv2d from scipy.signal.correlate per (image, filter, channel), then strided."""
    (sh, sw), (ph, pw) = stride, padding
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    N, F = x.shape[0], w.shape[0]
    out = []
    for n in range(N):
        maps = []
        for f in range(F):
            full = sum(scipy.signal.correlate(xp[n, c], w[f, c], mode="valid")
                       for c in range(x.shape[1]))
            maps.append(full[::sh, ::sw] + b[f])
        out.append(maps)
    return np.array(out)


# (x shape, w shape, stride, padding): square and non-square kernels, strides and paddings,
# including sizes where the stride does not divide the padded extent.
CONV_CASES = [
    ((2, 3, 5, 5), (4, 3, 3, 3), 1, 0),
    ((2, 2, 6, 7), (3, 2, 3, 2), 2, 1),
    ((1, 3, 7, 6), (2, 3, 2, 3), (2, 3), (1, 0)),
    ((2, 1, 5, 4), (2, 1, 1, 1), (1, 2), (0, 2)),
    ((1, 2, 4, 5), (2, 2, 4, 5), 1, 0),          # kernel as large as the input
    ((2, 2, 3, 3), (1, 2, 5, 3), 3, (1, 2)),     # kernel larger than the unpadded input
]


def _as_pair(v):
    return (v, v) if np.ndim(v) == 0 else tuple(v)


# ---------------------------------------------------------------------------------------------
# dense

def test_dense_matches_matmul():
    x, w, b = _normal(0, 5, 4), _normal(1, 4, 3), _normal(2, 3)
    np.testing.assert_allclose(reference.dense(x, w, b), x @ w + b, rtol=1e-14)
    np.testing.assert_allclose(reference.dense(x, w), x @ w, rtol=1e-14)
    assert reference.dense(x, w).shape == (5, 3)


def test_dense_backward_finite_differences():
    x, w, b, R = _normal(3, 4, 5), _normal(4, 5, 3), _normal(5, 3), _normal(6, 4, 3)
    grads = reference.dense_backward(R, x, w)
    _assert_gradients(lambda x, w, b: (reference.dense(x, w, b) * R).sum(), [x, w, b], grads)


# ---------------------------------------------------------------------------------------------
# conv2d

@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv2d_matches_scipy_correlate(x_shape, w_shape, stride, padding):
    x, w, b = _normal(7, *x_shape), _normal(8, *w_shape), _normal(9, w_shape[0])
    y = reference.conv2d(x, w, b, stride=stride, padding=padding)
    (sh, sw), (ph, pw) = _as_pair(stride), _as_pair(padding)
    H_out = (x_shape[2] + 2 * ph - w_shape[2]) // sh + 1
    W_out = (x_shape[3] + 2 * pw - w_shape[3]) // sw + 1
    assert y.shape == (x_shape[0], w_shape[0], H_out, W_out)
    np.testing.assert_allclose(y, _scipy_conv2d(x, w, b, (sh, sw), (ph, pw)), rtol=1e-12,
                               atol=1e-12)
    np.testing.assert_allclose(reference.conv2d(x, w, stride=stride, padding=padding),
                               y - b[None, :, None, None], rtol=1e-12, atol=1e-12)


def test_conv2d_is_cross_correlation_without_flip():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    w = np.array([[[[1.0, 0.0], [0.0, -1.0]]]])
    # y[i, j] = x[i, j] - x[i + 1, j + 1] = -5 everywhere; a flipped kernel would give +5.
    np.testing.assert_array_equal(reference.conv2d(x, w), np.full((1, 1, 3, 3), -5.0))
    # With padding 1 the corner sees only x[0, 0] under the -1 tap.
    assert reference.conv2d(x, w, padding=1)[0, 0, 0, 0] == -x[0, 0, 0, 0]
    assert reference.conv2d(x, w, padding=1)[0, 0, 4, 4] == x[0, 0, 3, 3]


@pytest.mark.parametrize("x_shape, w_shape, stride, padding", CONV_CASES)
def test_conv2d_backward_finite_differences(x_shape, w_shape, stride, padding):
    x, w, b = _normal(10, *x_shape), _normal(11, *w_shape), _normal(12, w_shape[0])
    R = _normal(13, *reference.conv2d(x, w, stride=stride, padding=padding).shape)
    grads = reference.conv2d_backward(R, x, w, stride=stride, padding=padding)

    def f(x, w, b):
        return (reference.conv2d(x, w, b, stride=stride, padding=padding) * R).sum()

    _assert_gradients(f, [x, w, b], grads)


def test_conv2d_backward_ignores_rows_the_stride_skips():
    # H + 2p - KH = 5 is not a multiple of the stride 2, so the last input row is never read.
    x, w = _normal(14, 1, 1, 7, 3), _normal(15, 1, 1, 2, 3)
    y = reference.conv2d(x, w, stride=2)
    assert y.shape == (1, 1, 3, 1)
    grad_x, _, _ = reference.conv2d_backward(np.ones_like(y), x, w, stride=2)
    np.testing.assert_array_equal(grad_x[0, 0, 6], 0.0)
    assert np.all(np.abs(grad_x[0, 0, :6]) > 0)


# ---------------------------------------------------------------------------------------------
# pooling

def test_pools_match_reshape_when_windows_tile():
    x = _normal(16, 2, 3, 7, 9)  # 7 x 9 with 2 x 3 windows: the last row is dropped (floor)
    blocks = x[:, :, :6, :9].reshape(2, 3, 3, 2, 3, 3)
    avg = reference.avg_pool2d(x, (2, 3))
    mx = reference.max_pool2d(x, (2, 3))
    assert avg.shape == mx.shape == (2, 3, 3, 3)
    np.testing.assert_allclose(avg, blocks.mean(axis=(3, 5)), rtol=1e-14)
    np.testing.assert_array_equal(mx, blocks.max(axis=(3, 5)))
    np.testing.assert_array_equal(reference.max_pool2d(x, (2, 3), stride=(2, 3)), mx)


def test_pools_with_overlapping_windows():
    x = np.arange(25.0).reshape(1, 1, 5, 5)
    # 3 x 3 windows at stride 2: maxima are the bottom-right corners, means the centres.
    np.testing.assert_array_equal(reference.max_pool2d(x, 3, stride=2)[0, 0],
                                  [[12.0, 14.0], [22.0, 24.0]])
    np.testing.assert_allclose(reference.avg_pool2d(x, 3, stride=2)[0, 0],
                               [[6.0, 8.0], [16.0, 18.0]], rtol=1e-15)
    assert reference.avg_pool2d(x, 2, stride=3).shape == (1, 1, 2, 2)


def test_max_pool_ties_go_to_the_first_maximum():
    x = np.zeros((1, 1, 2, 4))
    x[0, 0] = [[1.0, 3.0, 2.0, 2.0],
               [3.0, 0.0, 2.0, 2.0]]
    grad = reference.max_pool2d_backward(np.array([[[[5.0, 7.0]]]]), x, 2)
    # Window 0: 3 at (0, 1) and (1, 0), row-major first is (0, 1). Window 1: all equal, (0, 2).
    expected = np.zeros_like(x)
    expected[0, 0, 0, 1] = 5.0
    expected[0, 0, 0, 2] = 7.0
    np.testing.assert_array_equal(grad, expected)
    # A constant input with overlapping windows sends every window to its top-left corner.
    grad = reference.max_pool2d_backward(np.ones((1, 1, 2, 2)), np.ones((1, 1, 3, 3)), 2, 1)
    np.testing.assert_array_equal(grad[0, 0], [[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0] * 3])


@pytest.mark.parametrize("kernel, stride", [(2, 1), ((3, 2), (2, 1)), (2, 3), ((2, 3), None)])
@pytest.mark.parametrize("op", ["max", "avg"])
def test_pool_backward_finite_differences(op, kernel, stride):
    forward = getattr(reference, f"{op}_pool2d")
    backward = getattr(reference, f"{op}_pool2d_backward")
    x = _normal(17, 2, 2, 6, 7)  # distinct values, so the max is locally differentiable
    R = _normal(18, *forward(x, kernel, stride).shape)
    grad = backward(R, x, kernel, stride)
    _assert_gradients(lambda x: (forward(x, kernel, stride) * R).sum(), [x], [grad])


# ---------------------------------------------------------------------------------------------
# activations

def test_activations_closed_forms():
    x = np.array([[-1000.0, -40.0, -1.5, 0.0, 0.7, 40.0, 1000.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        np.testing.assert_array_equal(reference.relu(x), np.where(x > 0, x, 0.0))
        np.testing.assert_allclose(reference.tanh(x), np.tanh(x), rtol=1e-15)
        np.testing.assert_allclose(reference.sigmoid(x), scipy.special.expit(x), rtol=1e-14)
    assert reference.sigmoid(x)[0, 3] == 0.5
    np.testing.assert_array_equal(reference.relu_backward(np.ones(3), np.array([-1.0, 0.0, 2.0])),
                                  [0.0, 0.0, 1.0])


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax"])
def test_activation_backward_finite_differences(name):
    forward, backward = getattr(reference, name), getattr(reference, f"{name}_backward")
    x = _normal(19, 4, 5) * 2
    x[np.abs(x) < 1e-3] = 0.5  # keep relu away from its kink
    R = _normal(20, 4, 5)
    _assert_gradients(lambda x: (forward(x) * R).sum(), [x], [backward(R, x)])


def test_softmax_rows_sum_to_one_and_match_scipy():
    x = _normal(21, 6, 4) * 3
    s = reference.softmax(x)
    np.testing.assert_allclose(s.sum(axis=1), 1.0, rtol=1e-15)
    assert np.all(s > 0)
    np.testing.assert_allclose(s, scipy.special.softmax(x, axis=1), rtol=1e-14)
    np.testing.assert_allclose(reference.softmax(x + 500.0), s, rtol=1e-12)
    np.testing.assert_allclose(reference.log_softmax(x), np.log(s), rtol=1e-13)


def test_log_softmax_stable_for_large_logits():
    x = np.array([[1000.0, 0.0, -1000.0], [1000.0, 1000.0, 1000.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        out = reference.log_softmax(x)
        s = reference.softmax(x)
    np.testing.assert_allclose(out[0], [0.0, -1000.0, -2000.0], rtol=1e-15, atol=1e-300)
    np.testing.assert_allclose(out[1], -np.log(3.0), rtol=1e-15)
    np.testing.assert_allclose(s[1], 1 / 3, rtol=1e-15)
    assert s[0, 0] == 1.0


# ---------------------------------------------------------------------------------------------
# dropout

def test_dropout_formula_and_backward():
    x, p = _normal(22, 4, 6), 0.25
    mask = reference.dropout_mask(x.shape, p, random_state=0)
    y = reference.dropout(x, p, mask)
    np.testing.assert_array_equal(y[~mask], 0.0)
    np.testing.assert_allclose(y[mask], x[mask] / 0.75, rtol=1e-15)
    R = _normal(23, 4, 6)
    _assert_gradients(lambda x: (reference.dropout(x, p, mask) * R).sum(), [x],
                      [reference.dropout_backward(R, mask, p)])
    np.testing.assert_array_equal(reference.dropout(x, 0.0, np.ones(x.shape, bool)), x)


def test_dropout_mask_draws():
    mask = reference.dropout_mask((200, 500), 0.3, random_state=1)
    assert mask.dtype == bool and mask.shape == (200, 500)
    assert mask.mean() == pytest.approx(0.7, abs=0.005)
    np.testing.assert_array_equal(reference.dropout_mask((200, 500), 0.3, random_state=1), mask)
    assert not np.array_equal(reference.dropout_mask((200, 500), 0.3, random_state=2), mask)
    assert reference.dropout_mask((3, 4), 0.0, random_state=3).all()
    np.testing.assert_array_equal(
        reference.dropout_mask((7, 8), 0.5, np.random.default_rng(4)),
        reference.dropout_mask((7, 8), 0.5, np.random.default_rng(4)))
    with pytest.raises(ValueError):
        reference.dropout_mask((3, 4), 1.0)


# ---------------------------------------------------------------------------------------------
# batch norm

@pytest.mark.parametrize("shape", [(8, 3), (3, 2, 4, 5)])
def test_batch_norm_normalises_per_channel(shape):
    x = _normal(24, *shape) * 3 + 7
    C = shape[1]
    axes = (0,) if len(shape) == 2 else (0, 2, 3)
    y = reference.batch_norm(x, np.ones(C), np.zeros(C), eps=1e-12)
    np.testing.assert_allclose(y.mean(axis=axes), 0.0, atol=1e-12)
    np.testing.assert_allclose(y.var(axis=axes), 1.0, rtol=1e-10)
    gamma, beta = np.array([2.0, -0.5, 3.0][:C]), np.array([1.0, 4.0, -2.0][:C])
    y = reference.batch_norm(x, gamma, beta, eps=1e-12)
    np.testing.assert_allclose(y.mean(axis=axes), beta, rtol=1e-10)
    np.testing.assert_allclose(y.std(axis=axes), np.abs(gamma), rtol=1e-10)


def test_batch_norm_4d_is_2d_over_pixels():
    x, gamma, beta = _normal(25, 3, 4, 2, 5), _normal(26, 4), _normal(27, 4)
    flat = x.transpose(0, 2, 3, 1).reshape(-1, 4)
    expected = reference.batch_norm(flat, gamma, beta).reshape(3, 2, 5, 4).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(reference.batch_norm(x, gamma, beta), expected, rtol=1e-13)
    # eps enters as sqrt(var + eps) with the biased variance.
    manual = (flat - flat.mean(0)) / np.sqrt(flat.var(0) + 0.1) * gamma + beta
    np.testing.assert_allclose(reference.batch_norm(flat, gamma, beta, eps=0.1), manual,
                               rtol=1e-13)


@pytest.mark.parametrize("shape", [(6, 3), (2, 3, 3, 2)])
def test_batch_norm_backward_finite_differences(shape):
    x, gamma, beta = _normal(28, *shape), _normal(29, shape[1]), _normal(30, shape[1])
    R = _normal(31, *shape)
    grads = reference.batch_norm_backward(R, x, gamma, eps=1e-3)
    _assert_gradients(lambda x, g, b: (reference.batch_norm(x, g, b, eps=1e-3) * R).sum(),
                      [x, gamma, beta], grads)


# ---------------------------------------------------------------------------------------------
# losses

def test_cross_entropy_matches_log_loss():
    logits = _normal(32, 7, 4) * 2
    y = np.array([0, 3, 1, 1, 2, 0, 3])
    expected = log_loss(y, scipy.special.softmax(logits, axis=1), labels=range(4))
    assert reference.cross_entropy(logits, y) == pytest.approx(expected, rel=1e-12)
    assert reference.cross_entropy(logits, np.eye(4)[y]) == pytest.approx(expected, rel=1e-12)
    assert isinstance(reference.cross_entropy(logits, y), float)
    # Stable for large logits: -log softmax of the true class, no overflow.
    big = np.array([[1000.0, 0.0], [0.0, 1000.0]])
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert reference.cross_entropy(big, np.array([0, 0])) == pytest.approx(500.0, rel=1e-15)


@pytest.mark.parametrize("targets", ["int", "onehot", "soft"])
def test_cross_entropy_backward_finite_differences(targets):
    logits = _normal(33, 5, 3)
    y = np.array([2, 0, 1, 1, 0])
    if targets == "onehot":
        y = np.eye(3)[y]
    elif targets == "soft":
        y = scipy.special.softmax(_normal(34, 5, 3), axis=1)
    grad = reference.cross_entropy_backward(logits, y)
    _assert_gradients(lambda z: reference.cross_entropy(z, y), [logits], [grad])
    np.testing.assert_allclose(grad.sum(axis=1), 0.0, atol=1e-15)


def test_binary_cross_entropy_closed_form():
    z = _normal(35, 6, 3) * 3
    y = (_normal(36, 6, 3) > 0).astype(float)
    s = scipy.special.expit(z)
    expected = -(y * np.log(s) + (1 - y) * np.log(1 - s)).sum() / 6  # mean over rows
    assert reference.binary_cross_entropy(z, y) == pytest.approx(expected, rel=1e-12)
    # One column: scikit-learn's binary log loss.
    assert reference.binary_cross_entropy(z[:, :1], y[:, :1]) == pytest.approx(
        log_loss(y[:, 0], s[:, 0]), rel=1e-12)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        assert reference.binary_cross_entropy(np.array([[1000.0, -1000.0]]),
                                              np.array([[0.0, 1.0]])) == pytest.approx(2000.0)


def test_binary_cross_entropy_backward_finite_differences():
    z, y = _normal(37, 4, 3), np.random.default_rng(38).uniform(size=(4, 3))
    grad = reference.binary_cross_entropy_backward(z, y)
    _assert_gradients(lambda z: reference.binary_cross_entropy(z, y), [z], [grad])
    np.testing.assert_allclose(grad, (scipy.special.expit(z) - y) / 4, rtol=1e-14)


def test_squared_error_and_backward():
    pred, y = _normal(39, 5, 3), _normal(40, 5, 3)
    expected = 0.5 * np.mean([np.sum((pred[i] - y[i]) ** 2) for i in range(5)])
    assert reference.squared_error(pred, y) == pytest.approx(expected, rel=1e-14)
    grad = reference.squared_error_backward(pred, y)
    _assert_gradients(lambda p: reference.squared_error(p, y), [pred], [grad])
    assert reference.squared_error(y, y) == 0.0


# ---------------------------------------------------------------------------------------------
# initializers

@pytest.mark.parametrize("shape, fan_in, fan_out", [((300, 200), 300, 200),
                                                    ((64, 16, 5, 5), 400, 1600)])
@pytest.mark.parametrize("name", ["xavier_uniform", "xavier_normal", "kaiming_uniform",
                                  "kaiming_normal"])
def test_initializer_scale(name, shape, fan_in, fan_out):
    init = getattr(reference, name)
    fan = fan_in + fan_out if name.startswith("xavier") else fan_in
    W = init(shape, random_state=0)
    assert W.shape == shape and W.dtype == np.float64
    if name.endswith("uniform"):
        bound = np.sqrt(6 / fan)
        assert np.abs(W).max() <= bound
        assert np.abs(W).max() > 0.999 * bound
        assert W.std() == pytest.approx(bound / np.sqrt(3), rel=0.02)
    else:
        assert W.std() == pytest.approx(np.sqrt(2 / fan), rel=0.02)
        assert np.abs(W).max() > 3 * W.std()  # normal tails, not a bounded draw
    assert abs(W.mean()) < 0.05 * W.std()
    np.testing.assert_array_equal(init(shape, random_state=0), W)
    np.testing.assert_array_equal(init(shape, random_state=np.random.RandomState(0)), W)
    np.testing.assert_array_equal(init(shape, np.random.default_rng(5)),
                                  init(shape, np.random.default_rng(5)))
    assert not np.array_equal(init(shape, random_state=1), W)


def test_xavier_gain_scales():
    W1 = reference.xavier_uniform((40, 30), random_state=3)
    np.testing.assert_allclose(reference.xavier_uniform((40, 30), random_state=3, gain=2.5),
                               2.5 * W1, rtol=1e-12, atol=1e-15)
    W1 = reference.xavier_normal((40, 30), random_state=3)
    np.testing.assert_allclose(reference.xavier_normal((40, 30), random_state=3, gain=0.5),
                               0.5 * W1, rtol=1e-12, atol=1e-15)
    with pytest.raises(ValueError):
        reference.kaiming_normal((4, 3, 2))


# ---------------------------------------------------------------------------------------------
# optimizer steps

def test_sgd_hand_computed_steps():
    p, v = np.array([1.0, -2.0]), np.zeros(2)
    p1, v1 = reference.sgd_step(p, np.array([0.5, 1.0]), v, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(v1, [-0.05, -0.1], rtol=1e-15)
    np.testing.assert_allclose(p1, [0.95, -2.1], rtol=1e-15)
    p2, v2 = reference.sgd_step(p1, np.array([1.0, -1.0]), v1, lr=0.1, momentum=0.9)
    np.testing.assert_allclose(v2, [-0.145, 0.01], rtol=1e-14)
    np.testing.assert_allclose(p2, [0.805, -2.09], rtol=1e-14)
    # Nesterov: p + momentum v_new - lr g = 1 - 0.045 - 0.05, -2 - 0.09 - 0.1.
    pn, vn = reference.sgd_step(p, np.array([0.5, 1.0]), v, 0.1, momentum=0.9, nesterov=True)
    np.testing.assert_allclose(pn, [0.905, -2.19], rtol=1e-15)
    np.testing.assert_array_equal(vn, v1)
    # Without momentum: plain gradient descent; the inputs are left alone.
    np.testing.assert_allclose(reference.sgd_step(p, np.array([0.5, 1.0]), v, 0.1)[0],
                               [0.95, -2.1], rtol=1e-15)
    np.testing.assert_array_equal(p, [1.0, -2.0])
    np.testing.assert_array_equal(v, 0.0)


def test_sgd_nesterov_differs_from_plain_by_formula():
    p, g, v = _normal(41, 3, 4), _normal(42, 3, 4), _normal(43, 3, 4)
    lr, mu = 0.05, 0.8
    plain, v_new = reference.sgd_step(p, g, v, lr, momentum=mu)
    nesterov, v_nes = reference.sgd_step(p, g, v, lr, momentum=mu, nesterov=True)
    np.testing.assert_array_equal(v_new, v_nes)
    np.testing.assert_allclose(nesterov - plain, (mu - 1) * v_new - lr * g, rtol=1e-12,
                               atol=1e-15)


@pytest.mark.parametrize("step, state", [
    (lambda p, g, s, wd: reference.sgd_step(p, g, s[0], 0.1, 0.9, weight_decay=wd), 1),
    (lambda p, g, s, wd: reference.adagrad_step(p, g, s[0], 0.1, weight_decay=wd), 1),
    (lambda p, g, s, wd: reference.adam_step(p, g, s[0], s[1], 3, 0.1, weight_decay=wd), 2),
])
def test_weight_decay_adds_to_the_gradient(step, state):
    p, g = _normal(44, 5), _normal(45, 5)
    s = [np.abs(_normal(46 + k, 5)) for k in range(state)]
    with_decay = step(p, g, s, 0.3)
    folded = step(p, g + 0.3 * p, s, 0.0)
    for a, b in zip(with_decay, folded):
        np.testing.assert_allclose(a, b, rtol=1e-14)
    assert not np.allclose(with_decay[0], step(p, g, s, 0.0)[0])


def test_adagrad_hand_computed_steps():
    p, accum = np.array([1.0]), np.array([0.0])
    p1, a1 = reference.adagrad_step(p, np.array([2.0]), accum, lr=0.1, eps=0.0)
    np.testing.assert_allclose(a1, [4.0])
    np.testing.assert_allclose(p1, [0.9], rtol=1e-15)
    p2, a2 = reference.adagrad_step(p1, np.array([-1.0]), a1, lr=0.1, eps=0.0)
    np.testing.assert_allclose(a2, [5.0])
    np.testing.assert_allclose(p2, [0.9 + 0.1 / np.sqrt(5.0)], rtol=1e-15)


def test_adam_hand_computed_steps():
    # With a constant gradient and eps = 0 the bias-corrected step is exactly lr * sign(g).
    p, g = np.array([1.0, -3.0]), np.array([0.2, -5.0])
    m, v = np.zeros(2), np.zeros(2)
    p1, m1, v1 = reference.adam_step(p, g, m, v, 1, lr=0.01, eps=0.0)
    np.testing.assert_allclose(m1, 0.1 * g, rtol=1e-15)
    np.testing.assert_allclose(v1, 0.001 * g * g, rtol=1e-13)
    np.testing.assert_allclose(p1, p - 0.01 * np.sign(g), rtol=1e-13)
    p2, m2, v2 = reference.adam_step(p1, g, m1, v1, 2, lr=0.01, eps=0.0)
    np.testing.assert_allclose(m2, 0.19 * g, rtol=1e-14)
    np.testing.assert_allclose(v2, 0.001999 * g * g, rtol=1e-13)
    np.testing.assert_allclose(p2, p - 0.02 * np.sign(g), rtol=1e-13)
    with pytest.raises(ValueError):
        reference.adam_step(p, g, m, v, 0, lr=0.01)


def test_adam_converges_on_a_quadratic():
    a, c = np.array([1.0, 10.0, 0.1]), np.array([3.0, -1.0, 0.5])
    p, m, v = np.zeros(3), np.zeros(3), np.zeros(3)
    for t in range(1, 3001):
        p, m, v = reference.adam_step(p, a * (p - c), m, v, t, lr=0.05)
    np.testing.assert_allclose(p, c, atol=1e-3)


# ---------------------------------------------------------------------------------------------
# dtypes and validation

# Each case gets x4 (2, 3, 5, 4), x2 (5, 3), w2 (3, 4), w4 (2, 3, 2, 2) and an upstream
# gradient g4 (2, 3, 4, 3), all of one dtype, and only slices or reshapes them.
F32_CASES = {
    "dense": lambda x4, x2, w2, w4, g4: reference.dense(x2, w2, w2[0]),
    "dense_backward": lambda x4, x2, w2, w4, g4: reference.dense_backward(
        g4.reshape(-1)[:20].reshape(5, 4), x2, w2),
    "conv2d": lambda x4, x2, w2, w4, g4: reference.conv2d(x4, w4, w4[:, 0, 0, 0], 2, 1),
    "conv2d_backward": lambda x4, x2, w2, w4, g4: reference.conv2d_backward(g4[:, :2], x4, w4),
    "pools": lambda x4, x2, w2, w4, g4: [reference.max_pool2d(x4, 2, 1),
                                         reference.avg_pool2d(x4, (2, 3), 1)],
    "max_pool2d_backward": lambda x4, x2, w2, w4, g4: reference.max_pool2d_backward(
        g4, x4, 2, 1),
    "avg_pool2d_backward": lambda x4, x2, w2, w4, g4: reference.avg_pool2d_backward(
        g4[:, :, :2, :2], x4, 2),
    "activations": lambda x4, x2, w2, w4, g4: [f(x2) for f in (
        reference.relu, reference.tanh, reference.sigmoid, reference.softmax,
        reference.log_softmax)],
    "activation_backwards": lambda x4, x2, w2, w4, g4: [f(x2[::-1], x2) for f in (
        reference.relu_backward, reference.tanh_backward, reference.sigmoid_backward,
        reference.softmax_backward)],
    "dropout": lambda x4, x2, w2, w4, g4: [reference.dropout(x4, 0.5, x4 > 0),
                                           reference.dropout_backward(x4, x4 > 0, 0.5)],
    "batch_norm": lambda x4, x2, w2, w4, g4: [
        reference.batch_norm(x4, x4[0, :, 0, 0], x4[1, :, 0, 0]),
        reference.batch_norm(x2, w2[:, 0], w2[:, 1])],
    "batch_norm_backward": lambda x4, x2, w2, w4, g4: reference.batch_norm_backward(
        x4[::-1], x4, x4[0, :, 0, 0]),
    "loss_backwards": lambda x4, x2, w2, w4, g4: [
        reference.cross_entropy_backward(x2, np.array([0, 1, 2, 0, 1])),
        reference.binary_cross_entropy_backward(x2, (x2 > 0).astype(np.float32)),
        reference.squared_error_backward(x2, x2[::-1])],
    "optimizers": lambda x4, x2, w2, w4, g4: [
        *reference.sgd_step(x2, x2[::-1], x2, 0.1, 0.9, True, 0.01),
        *reference.adagrad_step(x2, x2[::-1], np.abs(x2), 0.1),
        *reference.adam_step(x2, x2[::-1], x2, np.abs(x2), 2, 0.1)],
}


@pytest.mark.parametrize("case", list(F32_CASES))
def test_float32_in_float32_out(case):
    arrays = [_normal(50, 2, 3, 5, 4), _normal(51, 5, 3), _normal(52, 3, 4),
              _normal(53, 2, 3, 2, 2), _normal(54, 2, 3, 4, 3)]
    arrays = [a.astype(np.float32) for a in arrays]
    out32 = F32_CASES[case](*arrays)
    out64 = F32_CASES[case](*[a.astype(np.float64) for a in arrays])
    out32 = out32 if isinstance(out32, (list, tuple)) else [out32]
    out64 = out64 if isinstance(out64, (list, tuple)) else [out64]
    assert len(out32) == len(out64) >= 1
    for a, b in zip(out32, out64):
        assert a.dtype == np.float32 and b.dtype == np.float64
        # float64 inside: the float32 result is the float64 one from the same values, rounded.
        np.testing.assert_array_equal(a, b.astype(np.float32))


def test_losses_return_python_floats_for_float32():
    z = _normal(54, 4, 3).astype(np.float32)
    for value in (reference.cross_entropy(z, np.array([0, 1, 2, 0])),
                  reference.binary_cross_entropy(z, np.ones_like(z)),
                  reference.squared_error(z, np.zeros_like(z))):
        assert type(value) is float and value > 0


def test_inputs_are_not_modified():
    x, w, R = _normal(55, 2, 2, 4, 4), _normal(56, 3, 2, 3, 3), _normal(57, 2, 3, 2, 2)
    copies = [x.copy(), w.copy(), R.copy()]
    reference.conv2d_backward(R, x, w, padding=0)
    reference.batch_norm_backward(x, x, w[0, :, 0, 0])
    reference.max_pool2d_backward(R[:, :2], x, 2)
    for a, b in zip([x, w, R], copies):
        np.testing.assert_array_equal(a, b)


def test_bad_input_raises():
    x, w = _normal(58, 1, 3, 4, 4), _normal(59, 2, 3, 3, 3)
    with pytest.raises(ValueError, match="channels"):
        reference.conv2d(x, w[:, :2])
    with pytest.raises(ValueError, match="channels"):
        reference.conv2d_backward(np.zeros((1, 2, 2, 2)), x, w[:, :2])
    big = _normal(60, 2, 3, 6, 3)
    with pytest.raises(ValueError, match="larger"):
        reference.conv2d(x, big)
    assert reference.conv2d(x, big, padding=1).shape == (1, 2, 1, 4)  # fits once padded
    with pytest.raises(ValueError, match="stride"):
        reference.conv2d(x, w, stride=0)
    with pytest.raises(ValueError, match="stride"):
        reference.conv2d(x, w, stride=(1, 0))
    with pytest.raises(ValueError, match="padding"):
        reference.conv2d(x, w, padding=-1)
    with pytest.raises(ValueError, match="larger"):
        reference.max_pool2d(x, 5)
    with pytest.raises(ValueError, match="stride"):
        reference.avg_pool2d(x, 2, stride=0)
    with pytest.raises(ValueError, match="stride"):
        reference.max_pool2d_backward(np.zeros((1, 3, 2, 2)), x, 2, stride=0)
    with pytest.raises(ValueError, match="grad_out"):
        reference.conv2d_backward(np.zeros((1, 2, 3, 3)), x, w)
    with pytest.raises(ValueError):
        reference.dense(_normal(61, 4, 3), _normal(62, 4, 2))
    with pytest.raises(ValueError):
        reference.batch_norm(x, np.ones(2), np.zeros(2))
    with pytest.raises(ValueError):
        reference.cross_entropy(_normal(63, 3, 2), np.array([0, 2, 1]))
    with pytest.raises(ValueError):
        reference.dropout(x, 1.0, np.ones(x.shape, bool))
