"""Neural-network operations, forward and backward, on the compiled kernels.

Each op runs where its input lives: NumPy arrays on the CPU kernels, Numba CUDA device arrays
on the CUDA kernels (the result is then a device array too). Softmax, log-softmax and the losses
are fused into the training kernels; called alone they compute on the host and return NumPy
arrays (losses a float). Images are NCHW, dense weights
(n_in, n_out) as scikit-learn's ``coefs_``, convolution filters (F, C, KH, KW). Every op returns
new arrays and keeps the float dtype of its input (float32 or float64). Backward functions take
the upstream gradient first and then the forward inputs, and return the gradients of the
differentiable forward arguments in order. ``fastml.reference.nn`` holds the same functions in
plain NumPy.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_random_state

from .._backend import kernels_for
from . import _kernels_cpu
from ._layers import adam_step_size

__all__ = [
    "dense", "dense_backward", "conv2d", "conv2d_backward",
    "max_pool2d", "max_pool2d_backward", "avg_pool2d", "avg_pool2d_backward",
    "relu", "relu_backward", "tanh", "tanh_backward", "sigmoid", "sigmoid_backward",
    "softmax", "softmax_backward", "log_softmax",
    "dropout", "dropout_backward", "dropout_mask",
    "batch_norm", "batch_norm_backward",
    "cross_entropy", "cross_entropy_backward", "binary_cross_entropy",
    "binary_cross_entropy_backward", "squared_error", "squared_error_backward",
    "sgd_step", "adagrad_step", "adam_step",
]


def _on_device(array):
    """Whether array is a Numba CUDA device array (a real one or the simulator's)."""
    return not isinstance(array, np.ndarray) and hasattr(array, "copy_to_host")


def _kernels(*arrays):
    """The kernel module for where the arrays live; they must all live in one place."""
    places = {_on_device(a) for a in arrays if a is not None}
    if len(places) > 1:
        raise TypeError("inputs mix NumPy arrays and CUDA device arrays")
    return kernels_for("nn", "cuda" if places == {True} else "cpu")


def _check(array, name, ndim, dtype=None):
    """A non-empty C-contiguous float array of the expected rank, in ``dtype`` when given.
    NumPy input is converted; a device array must already be right (it is not copied)."""
    if _on_device(array):
        if array.dtype not in (np.float32, np.float64) or (dtype is not None
                                                          and array.dtype != dtype):
            raise TypeError(f"{name} on the device must be float32 or float64 (and match x), "
                            f"got {array.dtype}")
    else:
        array = np.asarray(array)
        if array.dtype.kind not in "fiub":
            raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
        if dtype is None:
            dtype = array.dtype if array.dtype in (np.float32, np.float64) else np.float64
        array = np.asarray(array, dtype=dtype, order="C")  # (keeps 0-d arrays 0-d)
    if array.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got {array.ndim}-D with shape "
                         f"{tuple(array.shape)}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {tuple(array.shape)})")
    return array


def _same_dtype(x, *others):
    return [None if o is None else _check(o, name, ndim, x.dtype) for o, name, ndim in others]


def pair(value, name, minimum):
    """(rows, cols) from an int or a pair of ints, each at least ``minimum``."""
    try:
        values = (value, value) if isinstance(value, Integral) else tuple(value)
    except TypeError:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}") from None
    if (len(values) != 2 or not all(isinstance(v, Integral) and not isinstance(v, bool)
                                    for v in values)):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    if min(values) < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return int(values[0]), int(values[1])


def _empty_like(K, x):
    return K.empty(x.shape, x.dtype)


# ---------------------------------------------------------------------------------------------
# dense

def dense(x, w, b=None):
    """x @ w + b for x (n, n_in), w (n_in, n_out), b (n_out,)."""
    x = _check(x, "x", 2)
    w, b = _same_dtype(x, (w, "w", 2), (b, "b", 1))
    _check_dense(x, w, b)
    K = _kernels(x, w, b)
    out = K.empty((x.shape[0], w.shape[1]), x.dtype)
    K.matmul(x, w, out)
    if b is not None:
        K.add_bias_activation(out, b, "identity")
    return out


def _check_dense(x, w, b):
    if x.shape[1] != w.shape[0]:
        raise ValueError(f"x has {x.shape[1]} features but w expects {w.shape[0]} (w is "
                         f"(n_in, n_out) = {w.shape})")
    if b is not None and b.shape[0] != w.shape[1]:
        raise ValueError(f"b has {b.shape[0]} entries, w has {w.shape[1]} outputs")


def dense_backward(grad_out, x, w):
    """(grad_x, grad_w, grad_b) of ``dense``."""
    x = _check(x, "x", 2)
    grad_out, w = _same_dtype(x, (grad_out, "grad_out", 2), (w, "w", 2))
    _check_dense(x, w, None)
    if grad_out.shape != (x.shape[0], w.shape[1]):
        raise ValueError(f"grad_out must have shape {(x.shape[0], w.shape[1])}, "
                         f"got {grad_out.shape}")
    K = _kernels(grad_out, x, w)
    grad_x, grad_w = _empty_like(K, x), _empty_like(K, w)
    grad_b = K.empty((w.shape[1],), x.dtype)
    K.matmul(grad_out, w, grad_x, trans_b=True)
    K.matmul(x, grad_out, grad_w, trans_a=True)
    K.bias_grad(grad_out, grad_b)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------------------------------------
# convolution

def _conv_geometry(x, w, stride, padding):
    stride, padding = pair(stride, "stride", 1), pair(padding, "padding", 0)
    if w.shape[1] != x.shape[1]:
        raise ValueError(f"x has {x.shape[1]} channels but the filters expect {w.shape[1]}")
    sizes = []
    for axis in (0, 1):
        padded = x.shape[2 + axis] + 2 * padding[axis]
        if w.shape[2 + axis] > padded:
            raise ValueError(f"the kernel {w.shape[2:]} is larger than the padded input "
                             f"{(x.shape[2] + 2 * padding[0], x.shape[3] + 2 * padding[1])}")
        sizes.append((padded - w.shape[2 + axis]) // stride[axis] + 1)
    return stride, padding, (x.shape[0], w.shape[0], *sizes)


def conv2d(x, w, b=None, stride=1, padding=0):
    """2-D cross-correlation (no kernel flip, as torch) of x (N, C, H, W) with filters
    w (F, C, KH, KW), zero padding, plus b (F,). Returns (N, F, Hout, Wout)."""
    x = _check(x, "x", 4)
    w, b = _same_dtype(x, (w, "w", 4), (b, "b", 1))
    stride, padding, out_shape = _conv_geometry(x, w, stride, padding)
    if b is not None and b.shape[0] != w.shape[0]:
        raise ValueError(f"b has {b.shape[0]} entries for {w.shape[0]} filters")
    K = _kernels(x, w, b)
    return K.conv2d(x, w, stride, padding, K.empty(out_shape, x.dtype), bias=b)


def conv2d_backward(grad_out, x, w, stride=1, padding=0):
    """(grad_x, grad_w, grad_b) of ``conv2d``."""
    x = _check(x, "x", 4)
    grad_out, w = _same_dtype(x, (grad_out, "grad_out", 4), (w, "w", 4))
    stride, padding, out_shape = _conv_geometry(x, w, stride, padding)
    if tuple(grad_out.shape) != out_shape:
        raise ValueError(f"grad_out must have shape {out_shape}, got {grad_out.shape}")
    K = _kernels(grad_out, x, w)
    grad_x, grad_w = _empty_like(K, x), _empty_like(K, w)
    grad_b = K.empty((w.shape[0],), x.dtype)
    K.conv2d_grad(grad_out, x, w, stride, padding, grad_x, grad_w, grad_b)
    return grad_x, grad_w, grad_b


# ---------------------------------------------------------------------------------------------
# pooling (no padding; windows that do not fit are dropped, as torch's floor mode)

def _pool_geometry(x, kernel_size, stride):
    kernel = pair(kernel_size, "kernel_size", 1)
    stride = kernel if stride is None else pair(stride, "stride", 1)
    if kernel[0] > x.shape[2] or kernel[1] > x.shape[3]:
        raise ValueError(f"the pooling window {kernel} is larger than the input "
                         f"{tuple(x.shape[2:])}")
    out_shape = (*x.shape[:2], (x.shape[2] - kernel[0]) // stride[0] + 1,
                 (x.shape[3] - kernel[1]) // stride[1] + 1)
    return kernel, stride, out_shape


def _max_pool(x, kernel_size, stride):
    x = _check(x, "x", 4)
    kernel, stride, out_shape = _pool_geometry(x, kernel_size, stride)
    K = _kernels(x)
    out, argmax = K.empty(out_shape, x.dtype), K.empty(out_shape, np.int32)
    K.max_pool2d(x, kernel, stride, out, argmax)
    return K, x, out, argmax


def max_pool2d(x, kernel_size, stride=None):
    """Window maxima of x (N, C, H, W); stride defaults to the window size."""
    return _max_pool(x, kernel_size, stride)[2]


def max_pool2d_backward(grad_out, x, kernel_size, stride=None):
    """grad_x of ``max_pool2d``: each window's gradient goes to its first maximum."""
    K, x, out, argmax = _max_pool(x, kernel_size, stride)
    grad_out = _same_dtype(x, (grad_out, "grad_out", 4))[0]
    _kernels(grad_out, x)  # both in one place
    _check_shape(grad_out, out.shape)
    grad_x = _empty_like(K, x)
    K.max_pool2d_grad(grad_out, argmax, grad_x)
    return grad_x


def avg_pool2d(x, kernel_size, stride=None):
    """Window means of x (N, C, H, W); stride defaults to the window size."""
    x = _check(x, "x", 4)
    kernel, stride, out_shape = _pool_geometry(x, kernel_size, stride)
    K = _kernels(x)
    out = K.empty(out_shape, x.dtype)
    K.avg_pool2d(x, kernel, stride, out)
    return out


def avg_pool2d_backward(grad_out, x, kernel_size, stride=None):
    """grad_x of ``avg_pool2d``."""
    x = _check(x, "x", 4)
    kernel, stride, out_shape = _pool_geometry(x, kernel_size, stride)
    grad_out = _same_dtype(x, (grad_out, "grad_out", 4))[0]
    _check_shape(grad_out, out_shape)
    K = _kernels(grad_out, x)
    grad_x = _empty_like(K, x)
    K.avg_pool2d_grad(grad_out, kernel, stride, grad_x)
    return grad_x


def _check_shape(grad_out, shape):
    if tuple(grad_out.shape) != tuple(shape):
        raise ValueError(f"grad_out must have shape {tuple(shape)}, got {grad_out.shape}")


# ---------------------------------------------------------------------------------------------
# activations

def _activation(x, name):
    x = _check(x, "x", np.ndim(x) if not _on_device(x) else x.ndim)
    K = _kernels(x)
    out = K.copy(x)
    K.add_bias_activation(out.reshape(1, -1), None, name)  # elementwise: any 2-D view will do
    return out


def _activation_backward(grad_out, x, name):
    x = _check(x, "x", np.ndim(x) if not _on_device(x) else x.ndim)
    grad_out = _same_dtype(x, (grad_out, "grad_out", x.ndim))[0]
    _check_shape(grad_out, x.shape)
    K = _kernels(grad_out, x)
    grad_x = K.copy(grad_out)
    K.activation_grad_from_input(grad_x, x, name)
    return grad_x


def relu(x):
    return _activation(x, "relu")


def relu_backward(grad_out, x):
    """Gradient of relu; 0 where x == 0."""
    return _activation_backward(grad_out, x, "relu")


def tanh(x):
    return _activation(x, "tanh")


def tanh_backward(grad_out, x):
    return _activation_backward(grad_out, x, "tanh")


def sigmoid(x):
    return _activation(x, "logistic")


def sigmoid_backward(grad_out, x):
    return _activation_backward(grad_out, x, "logistic")


def log_softmax(x):
    """log of the softmax over each row of x (n, K), stable for large values."""
    x = _host(_check(x, "x", 2))
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(x):
    """Softmax over each row of x (n, K)."""
    return np.exp(log_softmax(x))


def softmax_backward(grad_out, x):
    """grad_x of ``softmax``: s * (g - sum(g * s)) row by row."""
    s = softmax(x)
    grad_out = _host(_same_dtype(s, (grad_out, "grad_out", 2))[0])
    _check_shape(grad_out, s.shape)
    return s * (grad_out - (grad_out * s).sum(axis=1, keepdims=True))


def _host(array):
    """Softmax is fused into the loss kernels for training; alone it runs in NumPy."""
    return array.copy_to_host() if _on_device(array) else array


# ---------------------------------------------------------------------------------------------
# dropout

def dropout_mask(shape, p, random_state=None):
    """Boolean mask of the kept units: each kept with probability 1 - p."""
    _check_probability(p)
    rng = (random_state if isinstance(random_state, np.random.Generator)
           else check_random_state(random_state))
    return rng.uniform(size=shape) >= p


def _check_probability(p):
    if isinstance(p, bool) or not isinstance(p, Real):
        raise TypeError(f"the dropout probability p must be a number, got {type(p).__name__}")
    if not 0 <= p < 1:
        raise ValueError(f"the dropout probability p must be in [0, 1), got {p!r}")


def dropout(x, p, mask):
    """Inverted dropout: x * mask / (1 - p)."""
    _check_probability(p)
    x = _check(x, "x", np.ndim(x) if not _on_device(x) else x.ndim)
    K = _kernels(x, mask)
    mask = K.to_device(np.asarray(mask, dtype=bool)) if not _on_device(mask) else mask
    if tuple(mask.shape) != tuple(x.shape):
        raise ValueError(f"mask must have the shape of x, {tuple(x.shape)}, got {mask.shape}")
    out = K.copy(x)
    K.apply_dropout(out, mask, 1.0 / (1.0 - p))
    return out


def dropout_backward(grad_out, mask, p):
    """grad_x of ``dropout``."""
    return dropout(grad_out, p, mask)


# ---------------------------------------------------------------------------------------------
# batch normalisation (training mode: the batch's own statistics, biased variance)

def _batch_norm(x, gamma, beta, eps):
    """Checked arrays, kernels and the forward pass; beta None stands for zeros."""
    x = _check(x, "x", np.ndim(x) if not _on_device(x) else x.ndim)
    if x.ndim not in (2, 4):
        raise ValueError(f"batch_norm takes (n, F) or (N, C, H, W) input, got {x.ndim}-D")
    gamma, beta = _same_dtype(x, (gamma, "gamma", 1), (beta, "beta", 1))
    K = _kernels(x, gamma, beta)
    if beta is None:
        beta = K.zeros(gamma.shape, x.dtype)
    if gamma.shape[0] != x.shape[1] or beta.shape[0] != x.shape[1]:
        raise ValueError(f"gamma and beta need {x.shape[1]} entries, got {gamma.shape[0]} "
                         f"and {beta.shape[0]}")
    if not eps > 0:
        raise ValueError(f"eps must be positive, got {eps!r}")
    out = _empty_like(K, x)
    mean = K.empty((x.shape[1],), np.float64)
    inv_std = K.empty((x.shape[1],), np.float64)
    K.batch_norm(x, gamma, beta, float(eps), out, mean, inv_std)
    return K, x, gamma, out, mean, inv_std


def batch_norm(x, gamma, beta, eps=1e-5):
    """(x - mean) / sqrt(var + eps) * gamma + beta with statistics per column (2-D x) or per
    channel over N, H, W (4-D x)."""
    return _batch_norm(x, gamma, beta, eps)[3]


def batch_norm_backward(grad_out, x, gamma, eps=1e-5):
    """(grad_x, grad_gamma, grad_beta) of ``batch_norm``."""
    K, x, gamma, _, mean, inv_std = _batch_norm(x, gamma, None, eps)
    grad_out = _same_dtype(x, (grad_out, "grad_out", x.ndim))[0]
    _check_shape(grad_out, x.shape)
    grad_x = _empty_like(K, x)
    grad_gamma, grad_beta = K.empty((x.shape[1],), x.dtype), K.empty((x.shape[1],), x.dtype)
    K.batch_norm_grad(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta)
    return grad_x, grad_gamma, grad_beta


# ---------------------------------------------------------------------------------------------
# losses (means over rows, weighted by sample_weight when given)

def _targets(logits, y, kind):
    logits = _host(_check(logits, "logits", 2))
    y = np.asarray(_host(y))
    if kind == "softmax" and y.ndim == 1:
        if y.dtype.kind not in "iu":
            raise TypeError(f"class indices y must be integers, got dtype {y.dtype}")
        if y.size and (y.min() < 0 or y.max() >= logits.shape[1]):
            raise ValueError(f"class indices must be in [0, {logits.shape[1]}), got "
                             f"[{y.min()}, {y.max()}]")
        y = np.eye(logits.shape[1], dtype=logits.dtype)[y]
    y = np.ascontiguousarray(y, dtype=logits.dtype)
    if y.shape != logits.shape:
        raise ValueError(f"y must have shape {logits.shape} (or ({logits.shape[0]},) class "
                         f"indices for cross_entropy), got {y.shape}")
    return logits, y


def row_weights(n, sample_weight=None):
    """Each row's share of a mean: 1 / n, or sample_weight / sum(sample_weight) (float64)."""
    if sample_weight is None:
        return np.full(n, 1.0 / n)
    weight = np.asarray(sample_weight, dtype=np.float64)
    if weight.shape != (n,):
        raise ValueError(f"sample_weight must have shape ({n},), got {weight.shape}")
    if not np.isfinite(weight).all() or weight.min() < 0 or not weight.sum() > 0:
        raise ValueError("sample_weight must be finite, non-negative and not all zero")
    return weight / weight.sum()


def _loss(kind, output, y, sample_weight):
    output, y = _targets(output, y, kind)
    grad = np.empty_like(output)
    weight = row_weights(output.shape[0], sample_weight)
    return _kernels_cpu.loss_and_grad(kind, output, y, weight, grad), grad


def cross_entropy(logits, y, sample_weight=None):
    """Mean over rows of -log softmax(logits)[i, y_i]; y holds class indices (n,) or target
    probabilities (n, K)."""
    return _loss("softmax", logits, y, sample_weight)[0]


def cross_entropy_backward(logits, y, sample_weight=None):
    """(softmax(logits) - onehot(y)) / n (rows weighted by sample_weight / its sum)."""
    return _loss("softmax", logits, y, sample_weight)[1]


def binary_cross_entropy(logits, y, sample_weight=None):
    """Mean over rows of the summed logistic losses of logits against y in [0, 1]."""
    return _loss("logistic", logits, y, sample_weight)[0]


def binary_cross_entropy_backward(logits, y, sample_weight=None):
    """(sigmoid(logits) - y) / n (rows weighted by sample_weight / its sum)."""
    return _loss("logistic", logits, y, sample_weight)[1]


def squared_error(pred, y, sample_weight=None):
    """Half the mean over rows of the squared row norms of pred - y."""
    return _loss("squared", pred, y, sample_weight)[0]


def squared_error_backward(pred, y, sample_weight=None):
    """(pred - y) / n (rows weighted by sample_weight / its sum)."""
    return _loss("squared", pred, y, sample_weight)[1]


# ---------------------------------------------------------------------------------------------
# optimizer steps on one parameter array (the estimators run the same kernels on one flat
# buffer of all their parameters); weight_decay adds weight_decay * p to the gradient

def _step_state(p, g, *state):
    """Checked p, g and state arrays, and flat copies of p and the state for the kernels."""
    p = _check(p, "p", np.ndim(p) if not _on_device(p) else p.ndim)
    arrays = _same_dtype(p, (g, "g", p.ndim), *[(a, name, p.ndim) for a, name in state])
    for array, name in zip(arrays, ["g"] + [name for _, name in state]):
        if tuple(array.shape) != tuple(p.shape):
            raise ValueError(f"{name} must have the shape of p, {tuple(p.shape)}, got "
                             f"{tuple(array.shape)}")
    K = _kernels(p, *arrays)
    flat = [K.copy(a).reshape(-1) for a in [p] + arrays[1:]]
    return K, p.shape, arrays[0].reshape(-1), flat


def sgd_step(p, g, velocity, lr, momentum=0.0, nesterov=False, weight_decay=0.0):
    """(p, velocity) after one step of SGD with momentum in scikit-learn's formulation:
    v = momentum v - lr g, then p + v (or p + momentum v - lr g with Nesterov)."""
    K, shape, g, (p, velocity) = _step_state(p, g, (velocity, "velocity"))
    K.sgd(p, g, velocity, lr, momentum, bool(nesterov), weight_decay, p.shape[0])
    return p.reshape(shape), velocity.reshape(shape)


def adagrad_step(p, g, accum, lr, eps=1e-10, weight_decay=0.0):
    """(p, accum) after one AdaGrad step: accum + g^2, p - lr g / (sqrt(accum) + eps)."""
    K, shape, g, (p, accum) = _step_state(p, g, (accum, "accum"))
    K.adagrad(p, g, accum, lr, eps, weight_decay, p.shape[0])
    return p.reshape(shape), accum.reshape(shape)


def adam_step(p, g, m, v, t, lr, beta_1=0.9, beta_2=0.999, eps=1e-8, weight_decay=0.0):
    """(p, m, v) after Adam's step t (1-based) in scikit-learn's formulation."""
    if t < 1:
        raise ValueError(f"t is the 1-based step count, got {t}")
    K, shape, g, (p, m, v) = _step_state(p, g, (m, "m"), (v, "v"))
    K.adam(p, g, m, v, adam_step_size(lr, beta_1, beta_2, t), beta_1, beta_2, eps,
           weight_decay, p.shape[0])
    return p.reshape(shape), m.reshape(shape), v.reshape(shape)
