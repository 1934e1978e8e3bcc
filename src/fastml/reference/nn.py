"""Neural-network ops in plain NumPy, the oracle for fastml.nn's functional ops and kernels: dense
and 2-D convolution layers, max and average pooling, activations, dropout, training-mode batch
norm, losses, weight initializers and the SGD, AdaGrad and Adam steps, each with its backward
where it has one. Convolution and pooling are explicit loops over output positions straight from
their definition (no im2col); everything is computed in float64 and returned in the input's float
dtype (float64 for non-float input). Images are NCHW, dense weights (n_in, n_out) and conv
weights (C_out, C_in, KH, KW); backward functions take the upstream gradient and the forward
inputs and return the gradients of the differentiable forward arguments, in their order. No
function modifies its arguments."""
import numpy as np
from scipy.special import xlogy
from sklearn.utils import check_random_state


def _dtype(*arrays):
    """The float dtype to return for these inputs (None skipped): their common dtype if it is a
    float, else float64."""
    dt = np.result_type(*[np.asarray(a).dtype for a in arrays if a is not None])
    return dt if np.issubdtype(dt, np.floating) else np.dtype(np.float64)


def _f64(a):
    """a as a float64 array (a copy where a conversion is needed)."""
    return np.asarray(a, dtype=np.float64)


def _pair(value, name, minimum=1):
    """An int or (int, int) argument as a (rows, cols) tuple of ints, each >= minimum."""
    pair = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(pair) != 2 or any(int(v) != v or v < minimum for v in pair):
        raise ValueError(f"{name} must be an int or a pair of ints >= {minimum}, got {value!r}")
    return int(pair[0]), int(pair[1])


def _rng(random_state):
    """A Generator as given, anything else through check_random_state."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return check_random_state(random_state)


def _check_ndim(a, ndim, name):
    if a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-d, got shape {a.shape}")


def _check_grad(grad_out, shape):
    if grad_out.shape != shape:
        raise ValueError(f"grad_out must have shape {shape}, got {grad_out.shape}")


# ---------------------------------------------------------------------------------------------
# dense

def dense(x, w, b=None):
    """Fully connected layer.

    Parameters
    ----------
    x : array-like of shape (n, n_in)
    w : array-like of shape (n_in, n_out)
    b : array-like of shape (n_out,), optional

    Returns
    -------
    ndarray of shape (n, n_out)
        x @ w + b.
    """
    dtype = _dtype(x, w, b)
    x, w = _f64(x), _f64(w)
    _check_ndim(x, 2, "x")
    _check_ndim(w, 2, "w")
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but w expects {w.shape[0]}")
    y = x @ w
    if b is not None:
        b = _f64(b)
        if b.shape != (w.shape[1],):
            raise ValueError(f"b must have shape ({w.shape[1]},), got {b.shape}")
        y = y + b
    return y.astype(dtype)


def dense_backward(grad_out, x, w):
    """Gradients of `dense`.

    Returns
    -------
    grad_x : ndarray of shape (n, n_in)
        grad_out @ w.T.
    grad_w : ndarray of shape (n_in, n_out)
        x.T @ grad_out.
    grad_b : ndarray of shape (n_out,)
        grad_out summed over rows.
    """
    dtype = _dtype(grad_out, x, w)
    g, x, w = _f64(grad_out), _f64(x), _f64(w)
    _check_ndim(x, 2, "x")
    _check_ndim(w, 2, "w")
    _check_grad(g, (x.shape[0], w.shape[1]))
    return (g @ w.T).astype(dtype), (x.T @ g).astype(dtype), g.sum(axis=0).astype(dtype)


# ---------------------------------------------------------------------------------------------
# 2-D convolution

def _conv_setup(x, w, stride, padding):
    """Validated float64 x, w, (sh, sw), (ph, pw), the zero-padded x and (Hout, Wout)."""
    x, w = _f64(x), _f64(w)
    _check_ndim(x, 4, "x")
    _check_ndim(w, 4, "w")
    if x.shape[1] != w.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but w expects {w.shape[1]}")
    (sh, sw), (ph, pw) = _pair(stride, "stride"), _pair(padding, "padding", minimum=0)
    xp = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    KH, KW = w.shape[2:]
    if KH > xp.shape[2] or KW > xp.shape[3]:
        raise ValueError(f"kernel {(KH, KW)} larger than the padded input {xp.shape[2:]}")
    Hout = (xp.shape[2] - KH) // sh + 1
    Wout = (xp.shape[3] - KW) // sw + 1
    return x, w, (sh, sw), (ph, pw), xp, (Hout, Wout)


def conv2d(x, w, b=None, stride=1, padding=0):
    """2-D cross-correlation (no kernel flip, as in torch) with zero padding.

    Parameters
    ----------
    x : array-like of shape (N, C, H, W)
    w : array-like of shape (F, C, KH, KW)
    b : array-like of shape (F,), optional
    stride, padding : int or (int, int)
        (rows, cols).

    Returns
    -------
    ndarray of shape (N, F, Hout, Wout)
        y[n, f, i, j] = b[f] + sum_{c, k, l} xpad[n, c, i*sh + k, j*sw + l] w[f, c, k, l], with
        Hout = (H + 2 ph - KH) // sh + 1 and Wout likewise.
    """
    dtype = _dtype(x, w, b)
    x, w, (sh, sw), _, xp, (Hout, Wout) = _conv_setup(x, w, stride, padding)
    F, _, KH, KW = w.shape
    y = np.zeros((x.shape[0], F, Hout, Wout))
    for i in range(Hout):
        for j in range(Wout):
            patch = xp[:, :, i * sh:i * sh + KH, j * sw:j * sw + KW]
            y[:, :, i, j] = np.einsum("nckl,fckl->nf", patch, w)
    if b is not None:
        b = _f64(b)
        if b.shape != (F,):
            raise ValueError(f"b must have shape ({F},), got {b.shape}")
        y += b[None, :, None, None]
    return y.astype(dtype)


def conv2d_backward(grad_out, x, w, stride=1, padding=0):
    """Gradients of `conv2d`.

    Returns
    -------
    grad_x : ndarray of shape (N, C, H, W)
    grad_w : ndarray of shape (F, C, KH, KW)
    grad_b : ndarray of shape (F,)
    """
    dtype = _dtype(grad_out, x, w)
    x, w, (sh, sw), (ph, pw), xp, (Hout, Wout) = _conv_setup(x, w, stride, padding)
    F, _, KH, KW = w.shape
    g = _f64(grad_out)
    _check_grad(g, (x.shape[0], F, Hout, Wout))
    grad_xp = np.zeros_like(xp)
    grad_w = np.zeros_like(w)
    for i in range(Hout):
        for j in range(Wout):
            rows, cols = slice(i * sh, i * sh + KH), slice(j * sw, j * sw + KW)
            g_ij = g[:, :, i, j]
            grad_w += np.einsum("nf,nckl->fckl", g_ij, xp[:, :, rows, cols])
            grad_xp[:, :, rows, cols] += np.einsum("nf,fckl->nckl", g_ij, w)
    grad_x = grad_xp[:, :, ph:ph + x.shape[2], pw:pw + x.shape[3]]
    return grad_x.astype(dtype), grad_w.astype(dtype), g.sum(axis=(0, 2, 3)).astype(dtype)


# ---------------------------------------------------------------------------------------------
# pooling

def _pool_setup(x, kernel_size, stride):
    """Validated float64 x, (kh, kw), (sh, sw) and (Hout, Wout); no padding, floor division."""
    x = _f64(x)
    _check_ndim(x, 4, "x")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = (kh, kw) if stride is None else _pair(stride, "stride")
    if kh > x.shape[2] or kw > x.shape[3]:
        raise ValueError(f"kernel {(kh, kw)} larger than the input {x.shape[2:]}")
    return x, (kh, kw), (sh, sw), ((x.shape[2] - kh) // sh + 1, (x.shape[3] - kw) // sw + 1)


def max_pool2d(x, kernel_size, stride=None):
    """Max pooling over kernel_size windows (stride None means stride = kernel_size).

    Returns
    -------
    ndarray of shape (N, C, Hout, Wout)
        Hout = (H - kh) // sh + 1, Wout likewise.
    """
    dtype = _dtype(x)
    x, (kh, kw), (sh, sw), (Hout, Wout) = _pool_setup(x, kernel_size, stride)
    y = np.empty(x.shape[:2] + (Hout, Wout))
    for i in range(Hout):
        for j in range(Wout):
            y[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].max(axis=(2, 3))
    return y.astype(dtype)


def max_pool2d_backward(grad_out, x, kernel_size, stride=None):
    """Gradient of `max_pool2d`: each window's gradient goes to its maximum only, the first in
    row-major window order on ties; overlapping windows add up."""
    dtype = _dtype(grad_out, x)
    x, (kh, kw), (sh, sw), (Hout, Wout) = _pool_setup(x, kernel_size, stride)
    g = _f64(grad_out)
    _check_grad(g, x.shape[:2] + (Hout, Wout))
    grad_x = np.zeros_like(x)
    for n in range(x.shape[0]):
        for c in range(x.shape[1]):
            for i in range(Hout):
                for j in range(Wout):
                    window = x[n, c, i * sh:i * sh + kh, j * sw:j * sw + kw]
                    k, l = np.unravel_index(np.argmax(window), window.shape)  # first maximum
                    grad_x[n, c, i * sh + k, j * sw + l] += g[n, c, i, j]
    return grad_x.astype(dtype)


def avg_pool2d(x, kernel_size, stride=None):
    """Average pooling over kernel_size windows (stride None means stride = kernel_size).

    Returns
    -------
    ndarray of shape (N, C, Hout, Wout)
    """
    dtype = _dtype(x)
    x, (kh, kw), (sh, sw), (Hout, Wout) = _pool_setup(x, kernel_size, stride)
    y = np.empty(x.shape[:2] + (Hout, Wout))
    for i in range(Hout):
        for j in range(Wout):
            y[:, :, i, j] = x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw].mean(axis=(2, 3))
    return y.astype(dtype)


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None):
    """Gradient of `avg_pool2d`: each window's gradient spread evenly over its kh * kw inputs."""
    dtype = _dtype(grad_out, x)
    x, (kh, kw), (sh, sw), (Hout, Wout) = _pool_setup(x, kernel_size, stride)
    g = _f64(grad_out)
    _check_grad(g, x.shape[:2] + (Hout, Wout))
    grad_x = np.zeros_like(x)
    for i in range(Hout):
        for j in range(Wout):
            grad_x[:, :, i * sh:i * sh + kh, j * sw:j * sw + kw] += \
                g[:, :, i, j][:, :, None, None] / (kh * kw)
    return grad_x.astype(dtype)


# ---------------------------------------------------------------------------------------------
# activations

def relu(x):
    """max(x, 0)."""
    return np.maximum(_f64(x), 0.0).astype(_dtype(x))


def relu_backward(grad_out, x):
    """grad_out where x > 0, else 0 (so 0 at x == 0)."""
    return (_f64(grad_out) * (_f64(x) > 0)).astype(_dtype(grad_out, x))


def tanh(x):
    """tanh(x)."""
    return np.tanh(_f64(x)).astype(_dtype(x))


def tanh_backward(grad_out, x):
    """grad_out * (1 - tanh(x)^2)."""
    t = np.tanh(_f64(x))
    return (_f64(grad_out) * (1.0 - t * t)).astype(_dtype(grad_out, x))


def _sigmoid(x):
    """1 / (1 + exp(-x)) in float64 without overflow."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return _sigmoid(_f64(x)).astype(_dtype(x))


def sigmoid_backward(grad_out, x):
    """grad_out * s * (1 - s) with s = sigmoid(x)."""
    s = _sigmoid(_f64(x))
    return (_f64(grad_out) * s * (1.0 - s)).astype(_dtype(grad_out, x))


def _log_softmax(x):
    """log softmax over axis 1 in float64, shifted by the row maximum."""
    if x.ndim < 2:
        raise ValueError(f"x must be at least 2-d (softmax runs over axis 1), got {x.shape}")
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(x):
    """exp(x) / sum(exp(x)) over axis 1 (each row sums to 1)."""
    return np.exp(_log_softmax(_f64(x))).astype(_dtype(x))


def softmax_backward(grad_out, x):
    """s * (grad_out - sum(grad_out * s, axis=1)) with s = softmax(x)."""
    s, g = np.exp(_log_softmax(_f64(x))), _f64(grad_out)
    return (s * (g - (g * s).sum(axis=1, keepdims=True))).astype(_dtype(grad_out, x))


def log_softmax(x):
    """x - logsumexp(x) over axis 1, stable for large x."""
    return _log_softmax(_f64(x)).astype(_dtype(x))


# ---------------------------------------------------------------------------------------------
# dropout

def _check_p(p):
    if not 0 <= p < 1:
        raise ValueError(f"p must be in [0, 1), got {p}")


def dropout(x, p, mask):
    """Inverted dropout: x * mask / (1 - p), mask a boolean array of x's shape (True = kept)."""
    _check_p(p)
    x, dtype = _f64(x), _dtype(x)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != x.shape:
        raise ValueError(f"mask must have shape {x.shape}, got {mask.shape}")
    return (x * mask / (1.0 - p)).astype(dtype)


def dropout_backward(grad_out, mask, p):
    """grad_out * mask / (1 - p)."""
    return dropout(grad_out, p, mask)


def dropout_mask(shape, p, random_state=None):
    """A boolean keep-mask of the given shape, each entry True with probability 1 - p
    (uniform draws >= p), from np.random.Generator or check_random_state(random_state)."""
    _check_p(p)
    return _rng(random_state).uniform(size=shape) >= p


# ---------------------------------------------------------------------------------------------
# batch norm

def _bn_setup(x, gamma):
    """float64 x, the reduction axes, and a reshape making per-feature vectors broadcast."""
    x, gamma = _f64(x), _f64(gamma)
    if x.ndim == 2:
        axes, shape = (0,), (1, -1)
    elif x.ndim == 4:
        axes, shape = (0, 2, 3), (1, -1, 1, 1)
    else:
        raise ValueError(f"x must be (n, F) or (N, C, H, W), got shape {x.shape}")
    if gamma.shape != (x.shape[1],):
        raise ValueError(f"gamma must have shape ({x.shape[1]},), got {gamma.shape}")
    return x, gamma.reshape(shape), axes


def batch_norm(x, gamma, beta, eps=1e-5):
    """Training-mode batch normalisation with the batch mean and biased variance.

    Parameters
    ----------
    x : array-like of shape (n, F) or (N, C, H, W)
        Statistics per column, or per channel over N, H and W.
    gamma, beta : array-like of shape (F,) or (C,)
    eps : float

    Returns
    -------
    ndarray of x's shape
        gamma * (x - mean) / sqrt(var + eps) + beta.
    """
    dtype = _dtype(x, gamma, beta)
    x, gamma, axes = _bn_setup(x, gamma)
    beta = _f64(beta).reshape(gamma.shape)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    return (gamma * (x - mean) / np.sqrt(var + eps) + beta).astype(dtype)


def batch_norm_backward(grad_out, x, gamma, eps=1e-5):
    """Gradients of `batch_norm` (through the batch statistics).

    Returns
    -------
    grad_x : ndarray of x's shape
        gamma / sqrt(var + eps) * (g - mean(g) - xhat * mean(g * xhat)), means over the batch.
    grad_gamma, grad_beta : ndarray of shape (F,)
        sum(g * xhat) and sum(g) over the batch.
    """
    dtype = _dtype(grad_out, x, gamma)
    x, gamma, axes = _bn_setup(x, gamma)
    g = _f64(grad_out)
    _check_grad(g, x.shape)
    mean, var = x.mean(axis=axes, keepdims=True), x.var(axis=axes, keepdims=True)
    inv_std = 1.0 / np.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    grad_x = gamma * inv_std * (g - g.mean(axis=axes, keepdims=True)
                                - xhat * (g * xhat).mean(axis=axes, keepdims=True))
    return (grad_x.astype(dtype), (g * xhat).sum(axis=axes).astype(dtype),
            g.sum(axis=axes).astype(dtype))


# ---------------------------------------------------------------------------------------------
# losses

def _targets(logits, y):
    """y as a float64 (n, K) target matrix: one-hot from int indices (n,), else as given."""
    y = np.asarray(y)
    n, K = logits.shape
    if y.ndim == 1:
        if y.shape != (n,) or not np.issubdtype(y.dtype, np.integer) or \
                (n and (y.min() < 0 or y.max() >= K)):
            raise ValueError(f"int y must have shape ({n},) with classes in [0, {K})")
        onehot = np.zeros((n, K))
        onehot[np.arange(n), y] = 1.0
        return onehot
    if y.shape != (n, K):
        raise ValueError(f"y must have shape ({n},) or ({n}, {K}), got {y.shape}")
    return _f64(y)


def _logits_2d(logits):
    logits = _f64(logits)
    _check_ndim(logits, 2, "logits")
    return logits


def cross_entropy(logits, y):
    """Mean over rows of -sum_k y_ik log softmax(logits)_ik, y int class indices (n,) or target
    probabilities (n, K); a float."""
    logits = _logits_2d(logits)
    return float(-(_targets(logits, y) * _log_softmax(logits)).sum() / logits.shape[0])


def cross_entropy_backward(logits, y):
    """(softmax(logits) - onehot(y)) / n, for target rows that sum to 1."""
    dtype = _dtype(logits)
    logits = _logits_2d(logits)
    grad = (np.exp(_log_softmax(logits)) - _targets(logits, y)) / logits.shape[0]
    return grad.astype(dtype)


def _same_shape(a, y):
    a, y = _f64(a), _f64(y)
    if a.shape != y.shape or a.ndim == 0:
        raise ValueError(f"y must have shape {a.shape}, got {y.shape}")
    return a, y


def binary_cross_entropy(logits, y):
    """Logistic loss log(1 + exp(z)) - y z summed over columns, mean over rows (scikit-learn's
    MLP binary / multilabel log-loss on sigmoid outputs); a float."""
    z, y = _same_shape(logits, y)
    return float((np.logaddexp(0.0, z) - y * z).sum() / z.shape[0])


def binary_cross_entropy_backward(logits, y):
    """(sigmoid(logits) - y) / n_rows."""
    z, y = _same_shape(logits, y)
    return ((_sigmoid(z) - y) / z.shape[0]).astype(_dtype(logits))


def squared_error(pred, y):
    """0.5 * mean over rows of the squared row norm of pred - y; a float."""
    pred, y = _same_shape(pred, y)
    return float(0.5 * ((pred - y) ** 2).sum() / pred.shape[0])


def squared_error_backward(pred, y):
    """(pred - y) / n_rows."""
    p, y = _same_shape(pred, y)
    return ((p - y) / p.shape[0]).astype(_dtype(pred))


def poisson_deviance(z, y):
    """Half the Poisson deviance of exp(z) against y >= 0, summed over the outputs and averaged
    over the rows; a float."""
    z, y = _same_shape(z, y)
    pred = np.exp(z)
    return float((xlogy(y, y / pred) - y + pred).sum() / z.shape[0])


def poisson_deviance_backward(z, y):
    """(exp(z) - y) / n_rows."""
    dtype = _dtype(z)
    z, y = _same_shape(z, y)
    return ((np.exp(z) - y) / z.shape[0]).astype(dtype)


# ---------------------------------------------------------------------------------------------
# initializers

def _fans(shape):
    """(fan_in, fan_out): (n_in, n_out) for dense (n_in, n_out) weights, (C KH KW, F KH KW) for
    conv (F, C, KH, KW) weights."""
    shape = tuple(int(s) for s in shape)
    if len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 4:
        receptive = shape[2] * shape[3]
        return shape[1] * receptive, shape[0] * receptive
    raise ValueError(f"shape must be (n_in, n_out) or (F, C, KH, KW), got {shape}")


def xavier_uniform(shape, random_state=None, gain=1.0):
    """Uniform on [-bound, bound], bound = gain * sqrt(6 / (fan_in + fan_out)); float64."""
    fan_in, fan_out = _fans(shape)
    bound = gain * np.sqrt(6.0 / (fan_in + fan_out))
    return _rng(random_state).uniform(-bound, bound, size=tuple(shape))


def xavier_normal(shape, random_state=None, gain=1.0):
    """Normal with mean 0 and std = gain * sqrt(2 / (fan_in + fan_out)); float64."""
    fan_in, fan_out = _fans(shape)
    std = gain * np.sqrt(2.0 / (fan_in + fan_out))
    return _rng(random_state).normal(0.0, std, size=tuple(shape))


def kaiming_uniform(shape, random_state=None, gain=1.0):
    """Uniform on [-bound, bound], bound = gain * sqrt(6 / fan_in) (gain 1 is the He / ReLU
    initialisation); float64."""
    fan_in, _ = _fans(shape)
    bound = gain * np.sqrt(6.0 / fan_in)
    return _rng(random_state).uniform(-bound, bound, size=tuple(shape))


def kaiming_normal(shape, random_state=None, gain=1.0):
    """Normal with mean 0 and std = gain * sqrt(2 / fan_in); float64."""
    fan_in, _ = _fans(shape)
    std = gain * np.sqrt(2.0 / fan_in)
    return _rng(random_state).normal(0.0, std, size=tuple(shape))


# ---------------------------------------------------------------------------------------------
# optimizer steps

def _step_setup(p, g, weight_decay, *state):
    """dtype, float64 p, the gradient with the L2 term weight_decay * p added, and the state."""
    dtype = _dtype(p)
    p, g = _f64(p), _f64(g)
    if g.shape != p.shape or any(np.shape(s) != p.shape for s in state):
        raise ValueError(f"gradient and optimizer state must have the parameter's shape {p.shape}")
    return (dtype, p, g + weight_decay * p) + tuple(_f64(s) for s in state)


def sgd_step(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """One SGD step in scikit-learn's formulation.

    Returns
    -------
    p, velocity : ndarray
        v = momentum v - lr g; p + v, or p + momentum v - lr g with nesterov.
    """
    dtype, p, g, v = _step_setup(p, g, weight_decay, velocity)
    v = momentum * v - lr * g
    p = p + (momentum * v - lr * g if nesterov else v)
    return p.astype(dtype), v.astype(dtype)


def adagrad_step(p, g, accum, lr, eps=1e-10, weight_decay=0.0):
    """One AdaGrad step.

    Returns
    -------
    p, accum : ndarray
        accum + g^2 and p - lr g / (sqrt(accum) + eps) with the new accum.
    """
    dtype, p, g, accum = _step_setup(p, g, weight_decay, accum)
    accum = accum + g * g
    p = p - lr * g / (np.sqrt(accum) + eps)
    return p.astype(dtype), accum.astype(dtype)


def adam_step(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=0.0):
    """One Adam step in scikit-learn's formulation, t the 1-based step count.

    Returns
    -------
    p, m, v : ndarray
        m = b1 m + (1 - b1) g, v = b2 v + (1 - b2) g^2,
        p - lr sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
    """
    if t < 1:
        raise ValueError(f"t is the 1-based step count, got {t}")
    dtype, p, g, m, v = _step_setup(p, g, weight_decay, m, v)
    m = beta_1 * m + (1.0 - beta_1) * g
    v = beta_2 * v + (1.0 - beta_2) * g * g
    lr_t = lr * np.sqrt(1.0 - beta_2 ** t) / (1.0 - beta_1 ** t)
    p = p - lr_t * m / (np.sqrt(v) + eps)
    return p.astype(dtype), m.astype(dtype), v.astype(dtype)
