"""CPU kernels of the neural networks: BLAS for the matrix products, Numba for everything else,
and C++ for stride-1 convolutions.

Stride-1 convolutions run in fastml.nn._conv_fast (csrc/nn): register-blocked direct kernels
that reach the machine's multiply-add rate, where BLAS products with the channel count as their
inner dimension ran at about 60% of it (forward 17.6 ms against 12.6 ms on 64 x 32 x 32 x 32
images, 3 x 3 to 64 channels; the whole backward pass 37.5 ms against 27.7 ms). Other strides unfold a band
of output rows at a time into a column matrix that fits in the L2 cache (im2col), multiplied by
BLAS on one thread per block of images (the ``conv2d`` drivers set the limit). Weight gradients
are summed per fixed block of images and merged in order, so results do not depend on the
thread count.

Elementwise kernels and optimizer steps run on one thread. They follow BLAS calls of the dense
layers, and a Numba thread pool starting up while BLAS's threads still spin costs milliseconds
per switch on a small machine (measured: 8.7 ms against 0.34 ms for one product and one update).
Convolution, pooling and batch normalisation run in parallel: the network estimators run them
with BLAS on one thread.

Kernels release the GIL. Every kernel writes into arrays it is given (OUT) or updates them in
place (IN/OUT). The callers (``functional.py``, ``_layers.py``) validate shapes and dtypes
first: the Numba kernels do not check bounds (the C++ core checks its arguments again). Arrays
are C-contiguous float32 or float64.
"""
import numba
import numpy as np
# Numba's np.dot calls SciPy's BLAS: loading it now lets threadpoolctl find it and limit its
# threads inside the parallel convolution loops.
import scipy.linalg.cython_blas  # noqa: F401
from numba import njit, prange
from threadpoolctl import ThreadpoolController

from . import _conv_fast, _scalar
from ._scalar import ACTIVATIONS

# Reassociation lets LLVM vectorise sums; NaN and inf keep their IEEE meaning. The NumPy error
# model divides without a zero check (IEEE results, no ZeroDivisionError): the check's branch
# kept LLVM from vectorising any loop with a division (Adam's step was 9x slower).
_KERNEL = dict(nogil=True, cache=True, error_model="numpy",
               fastmath={"reassoc", "contract", "arcp", "nsz"})


# Convolutions split the images into this many contiguous blocks, each with its work arrays
# allocated once (a fresh 1 MB array per image costs page faults) and its own partial weight
# gradient; a fixed count keeps the summation order independent of the thread count.
_IMAGE_BLOCKS = 16


@njit(nogil=True, cache=True, inline="always")
def _block_images(block, n_blocks, N):
    return block * N // n_blocks, (block + 1) * N // n_blocks


# ---------------------------------------------------------------------------------------------
# elementwise

_activate = njit(**_KERNEL, inline="always")(_scalar.activate)
_derivative_from_output = njit(**_KERNEL, inline="always")(_scalar.derivative_from_output)
_window_max = njit(**_KERNEL, inline="always")(_scalar.window_max)


@njit(**_KERNEL)
def bias_activation(z, b, code):
    """IN/OUT z (n, C, S): z = act(z + b[c]) in place; b (C,) (may be empty: no bias)."""
    n, C, S = z.shape
    if b.shape[0] == 0:
        b = np.zeros(C, dtype=z.dtype)
    if S == 1:  # dense layers: the loop over columns is the one to vectorise
        rows = z.reshape((n, C))
        for i in range(n):
            for c in range(C):
                rows[i, c] = _activate(rows[i, c] + b[c], code)
        return
    for i in range(n):
        for c in range(C):
            for s in range(S):
                z[i, c, s] = _activate(z[i, c, s] + b[c], code)


@njit(**_KERNEL)
def activation_backward(grad, y, code):
    """IN/OUT grad (m,), IN y (m,): grad *= act'(z), from the outputs y (flat views)."""
    if code == 0:
        return
    for i in range(grad.shape[0]):
        grad[i] *= _derivative_from_output(y[i], code)


@njit(**_KERNEL)
def activation_backward_from_input(grad, x, code):
    """IN/OUT grad (m,), IN x (m,): grad *= act'(x), from the inputs x (flat views)."""
    if code == 0:
        return
    for i in range(grad.shape[0]):
        grad[i] *= _derivative_from_output(_activate(x[i], code), code)


@njit(**_KERNEL)
def channel_sums(g, out):
    """IN g (n, C, S), OUT out (C,): sums over images and positions, accumulated in float64."""
    n, C, S = g.shape
    for c in range(C):
        total = 0.0
        for i in range(n):
            for s in range(S):
                total += g[i, c, s]
        out[c] = total


@njit(**_KERNEL)
def column_sums(g, out):
    """IN g (n, m), OUT out (m,): column sums, row by row (vectorised over columns)."""
    n, m = g.shape
    acc = np.zeros(m)
    for i in range(n):
        for j in range(m):
            acc[j] += g[i, j]
    for j in range(m):
        out[j] = acc[j]


@njit(**_KERNEL)
def dropout(x, mask, scale):
    """IN/OUT x (m,), IN mask (m,) bool: x = x * mask * scale in place (flat views)."""
    for i in range(x.shape[0]):
        x[i] = x[i] * scale if mask[i] else x[i] * 0


# ---------------------------------------------------------------------------------------------
# losses on the output layer

@njit(**_KERNEL)
def softmax_cross_entropy(logits, target, weight, grad):
    """IN logits (n, K), IN target (n, K) probabilities, IN weight (n,): the rows' weights
    (summing to 1), OUT grad (n, K) = weight * (softmax - target). Returns the weighted mean
    cross-entropy (float64). grad may be logits itself."""
    n, K = logits.shape
    loss = 0.0
    for i in range(n):
        top = logits[i, 0]
        for k in range(1, K):
            top = max(top, logits[i, k])
        total = 0.0
        for k in range(K):
            total += np.exp(logits[i, k] - top)
        log_total = np.log(total)
        for k in range(K):
            log_p = logits[i, k] - top - log_total
            loss -= weight[i] * target[i, k] * log_p
            grad[i, k] = (np.exp(log_p) - target[i, k]) * weight[i]
    return loss


@njit(**_KERNEL)
def sigmoid_cross_entropy(logits, target, weight, grad):
    """IN logits (n, K), IN target (n, K) in [0, 1], IN weight (n,) (summing to 1), OUT grad
    (n, K) = weight * (sigmoid - target). Returns the weighted mean over rows of the summed
    logistic losses (float64)."""
    n, K = logits.shape
    loss = 0.0
    for i in range(n):
        for k in range(K):
            z = np.float64(logits[i, k])
            # log(1 + exp(-|z|)) + max(z, 0) - t z, stable for any z
            loss += weight[i] * (np.log1p(np.exp(-abs(z))) + max(z, 0.0) - target[i, k] * z)
            grad[i, k] = (1 / (1 + np.exp(-z)) - target[i, k]) * weight[i]
    return loss


@njit(**_KERNEL)
def squared_error(pred, target, weight, grad):
    """IN pred (n, K), IN target (n, K), IN weight (n,) (summing to 1), OUT grad (n, K) =
    weight * (pred - target). Returns half the weighted mean over rows of the squared row
    norms (float64)."""
    n, K = pred.shape
    loss = 0.0
    for i in range(n):
        for k in range(K):
            d = np.float64(pred[i, k]) - target[i, k]
            loss += weight[i] * d * d
            grad[i, k] = d * weight[i]
    return 0.5 * loss


# ---------------------------------------------------------------------------------------------
# convolution

# Each image is unfolded a band of output rows at a time (im2col), into a column matrix of
# about _BAND_POSITIONS positions that stays in the L2 cache next to the filters, and multiplied
# by BLAS; whole-image column matrices (1.2 MB for 32 x 32 x 32 inputs) spill to L3 and made the
# convolution 1.5x slower here. im2col copies from a zero-padded copy of the image, so that its
# loops have no bounds logic and vectorise (5x faster than clipping rows).
_BAND_POSITIONS = 256


@njit(nogil=True, cache=True, inline="always")
def _band_rows(Wo):
    return max(1, _BAND_POSITIONS // Wo)


@njit(**_KERNEL)
def _pad_image(x, n, padded, ph, pw):
    """OUT padded (C, H + 2ph, W + 2pw): image n of x inside; the border must already be 0."""
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    for c in range(C):
        for i in range(H):
            for j in range(W):
                padded[c, i + ph, j + pw] = x[n, c, i, j]


@njit(**_KERNEL)
def _im2col(padded, cols, KH, KW, sh, sw, oy0, oy1, Wo):
    """OUT cols (C*KH*KW, (oy1 - oy0)*Wo): receptive fields of output rows [oy0, oy1)."""
    for c in range(padded.shape[0]):
        for ky in range(KH):
            for kx in range(KW):
                row = (c * KH + ky) * KW + kx
                for oy in range(oy0, oy1):
                    base = (oy - oy0) * Wo
                    if sw == 1:  # a contiguous copy, vectorised (a strided one is not)
                        for ox in range(Wo):
                            cols[row, base + ox] = padded[c, oy * sh + ky, ox + kx]
                    else:
                        for ox in range(Wo):
                            cols[row, base + ox] = padded[c, oy * sh + ky, ox * sw + kx]


@njit(**_KERNEL)
def _col2im(cols, padded, KH, KW, sh, sw, oy0, oy1, Wo):
    """IN/OUT padded: adds the column gradients of output rows [oy0, oy1) to their fields."""
    for c in range(padded.shape[0]):
        for ky in range(KH):
            for kx in range(KW):
                row = (c * KH + ky) * KW + kx
                for oy in range(oy0, oy1):
                    base = (oy - oy0) * Wo
                    if sw == 1:
                        for ox in range(Wo):
                            padded[c, oy * sh + ky, ox + kx] += cols[row, base + ox]
                    else:
                        for ox in range(Wo):
                            padded[c, oy * sh + ky, ox * sw + kx] += cols[row, base + ox]


@njit(**_KERNEL)
def _unpad_image(padded, grad_x, n, ph, pw):
    """OUT grad_x[n]: the inside of the padded gradient."""
    C, H, W = grad_x.shape[1], grad_x.shape[2], grad_x.shape[3]
    for c in range(C):
        for i in range(H):
            for j in range(W):
                grad_x[n, c, i, j] = padded[c, i + ph, j + pw]


@njit(nogil=True, cache=True, inline="always")
def _matrix(buffer, rows, cols):
    """A C-contiguous (rows, cols) view of the start of a 1-D work buffer."""
    return buffer[:rows * cols].reshape((rows, cols))


@njit(parallel=True, **_KERNEL)
def conv2d_forward(x, w2d, KH, KW, sh, sw, ph, pw, out):
    """IN x (N, C, H, W), IN w2d (F, C*KH*KW), OUT out (N, F, Ho, Wo) = w2d @ im2col(x[n])."""
    N, F, Ho, Wo = out.shape
    rows, band = w2d.shape[1], _band_rows(Wo)
    n_blocks = min(N, _IMAGE_BLOCKS)
    for block in prange(n_blocks):
        cols_buffer = np.empty(rows * band * Wo, dtype=x.dtype)
        out_buffer = np.empty(F * band * Wo, dtype=x.dtype)
        padded = np.zeros((x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
        first, stop = _block_images(block, n_blocks, N)
        for n in range(first, stop):
            _pad_image(x, n, padded, ph, pw)
            for oy0 in range(0, Ho, band):
                oy1 = min(Ho, oy0 + band)
                L = (oy1 - oy0) * Wo
                cols = _matrix(cols_buffer, rows, L)
                _im2col(padded, cols, KH, KW, sh, sw, oy0, oy1, Wo)
                product = _matrix(out_buffer, F, L)
                np.dot(w2d, cols, product)
                for f in range(F):
                    for oy in range(oy0, oy1):
                        for ox in range(Wo):
                            out[n, f, oy, ox] = product[f, (oy - oy0) * Wo + ox]


@njit(parallel=True, **_KERNEL)
def conv2d_backward(grad_out, x, w2d_t, KH, KW, sh, sw, ph, pw, grad_x, grad_w2d, need_grad_x):
    """IN grad_out (N, F, Ho, Wo), IN x (N, C, H, W), IN w2d_t (C*KH*KW, F): the filters
    transposed; OUT grad_x (N, C, H, W) (left alone unless need_grad_x), OUT grad_w2d
    (F, C*KH*KW) summed over images in fixed blocks."""
    N, F, Ho, Wo = grad_out.shape
    rows, band = w2d_t.shape[0], _band_rows(Wo)
    n_blocks = min(N, _IMAGE_BLOCKS)
    partial = np.zeros((n_blocks, F, rows), dtype=grad_w2d.dtype)
    for block in prange(n_blocks):
        cols_buffer = np.empty(rows * band * Wo, dtype=x.dtype)
        cols_grad_buffer = np.empty(rows * band * Wo, dtype=x.dtype)
        grad_buffer = np.empty(F * band * Wo, dtype=x.dtype)
        band_grad_w = np.empty((F, rows), dtype=x.dtype)
        padded = np.zeros((x.shape[1], x.shape[2] + 2 * ph, x.shape[3] + 2 * pw), dtype=x.dtype)
        padded_grad = np.empty_like(padded)
        first, stop = _block_images(block, n_blocks, N)
        for n in range(first, stop):
            _pad_image(x, n, padded, ph, pw)
            padded_grad[:] = 0
            for oy0 in range(0, Ho, band):
                oy1 = min(Ho, oy0 + band)
                L = (oy1 - oy0) * Wo
                g = _matrix(grad_buffer, F, L)
                for f in range(F):
                    for oy in range(oy0, oy1):
                        for ox in range(Wo):
                            g[f, (oy - oy0) * Wo + ox] = grad_out[n, f, oy, ox]
                cols = _matrix(cols_buffer, rows, L)
                _im2col(padded, cols, KH, KW, sh, sw, oy0, oy1, Wo)
                np.dot(g, cols.T, band_grad_w)
                for f in range(F):
                    for r in range(rows):
                        partial[block, f, r] += band_grad_w[f, r]
                if need_grad_x:
                    cols_grad = _matrix(cols_grad_buffer, rows, L)
                    np.dot(w2d_t, g, cols_grad)
                    _col2im(cols_grad, padded_grad, KH, KW, sh, sw, oy0, oy1, Wo)
            if need_grad_x:
                _unpad_image(padded_grad, grad_x, n, ph, pw)
    grad_w2d[:] = 0
    for block in range(n_blocks):
        grad_w2d += partial[block]


# ---------------------------------------------------------------------------------------------
# pooling

@njit(parallel=True, **_KERNEL)
def max_pool2d_forward(x, kh, kw, sh, sw, out, argmax):
    """IN x (N, C, H, W), OUT out (N, C, Ho, Wo), OUT argmax (N, C, Ho, Wo) int32: flat index
    in the H x W plane of each window's first maximum."""
    N, C, Ho, Wo = out.shape
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for oy in range(Ho):
            for ox in range(Wo):
                best, where = _window_max(x, n, c, oy * sh, ox * sw, kh, kw)
                out[n, c, oy, ox] = best
                argmax[n, c, oy, ox] = where


@njit(parallel=True, **_KERNEL)
def max_pool2d_backward(grad_out, argmax, grad_x):
    """IN grad_out, IN argmax (N, C, Ho, Wo), OUT grad_x (N, C, H, W)."""
    N, C, Ho, Wo = grad_out.shape
    W = grad_x.shape[3]
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        grad_x[n, c] = 0
        for oy in range(Ho):
            for ox in range(Wo):
                where = argmax[n, c, oy, ox]
                grad_x[n, c, where // W, where % W] += grad_out[n, c, oy, ox]


@njit(parallel=True, **_KERNEL)
def avg_pool2d_forward(x, kh, kw, sh, sw, out):
    """IN x (N, C, H, W), OUT out (N, C, Ho, Wo): window means."""
    N, C, Ho, Wo = out.shape
    scale = 1.0 / (kh * kw)
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        for oy in range(Ho):
            for ox in range(Wo):
                total = 0.0
                for dy in range(kh):
                    for dx in range(kw):
                        total += x[n, c, oy * sh + dy, ox * sw + dx]
                out[n, c, oy, ox] = total * scale


@njit(parallel=True, **_KERNEL)
def avg_pool2d_backward(grad_out, kh, kw, sh, sw, grad_x):
    """IN grad_out (N, C, Ho, Wo), OUT grad_x (N, C, H, W)."""
    N, C, Ho, Wo = grad_out.shape
    scale = 1.0 / (kh * kw)
    for nc in prange(N * C):
        n, c = nc // C, nc % C
        grad_x[n, c] = 0
        for oy in range(Ho):
            for ox in range(Wo):
                share = grad_out[n, c, oy, ox] * scale
                for dy in range(kh):
                    for dx in range(kw):
                        grad_x[n, c, oy * sh + dy, ox * sw + dx] += share


# ---------------------------------------------------------------------------------------------
# batch normalisation over (n, C, S) views: statistics per channel c over images and positions

@njit(parallel=True, **_KERNEL)
def batch_norm_forward(x, gamma, beta, eps, out, mean, inv_std):
    """IN x (n, C, S), OUT out (n, C, S), OUT mean (C,), OUT inv_std (C,) (float64)."""
    n, C, S = x.shape
    count = n * S
    for c in prange(C):
        total = 0.0
        for i in range(n):
            for s in range(S):
                total += x[i, c, s]
        mu = total / count
        squares = 0.0
        for i in range(n):
            for s in range(S):
                d = x[i, c, s] - mu
                squares += d * d
        r = 1.0 / np.sqrt(squares / count + eps)
        mean[c], inv_std[c] = mu, r
        scale, shift = gamma[c] * r, beta[c] - gamma[c] * r * mu
        for i in range(n):
            for s in range(S):
                out[i, c, s] = x[i, c, s] * scale + shift


@njit(parallel=True, **_KERNEL)
def batch_norm_backward(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta):
    """IN grad_out, x (n, C, S), IN gamma, mean, inv_std (C,); OUT grad_x (n, C, S),
    OUT grad_gamma (C,), OUT grad_beta (C,)."""
    n, C, S = x.shape
    count = n * S
    for c in prange(C):
        sum_g, sum_gx = 0.0, 0.0
        for i in range(n):
            for s in range(S):
                g = grad_out[i, c, s]
                sum_g += g
                sum_gx += g * (x[i, c, s] - mean[c])
        r = inv_std[c]
        grad_beta[c] = sum_g
        grad_gamma[c] = sum_gx * r
        scale = gamma[c] * r / count
        for i in range(n):
            for s in range(S):
                x_hat = (x[i, c, s] - mean[c]) * r
                grad_x[i, c, s] = scale * (count * grad_out[i, c, s] - sum_g
                                           - x_hat * sum_gx * r)


@njit(parallel=True, **_KERNEL)
def batch_norm_inference(x, gamma, beta, mean, var, eps, out):
    """IN x (n, C, S), IN gamma, beta, mean, var (C,), OUT out: normalised by fixed statistics."""
    n, C, S = x.shape
    for c in prange(C):
        scale = gamma[c] / np.sqrt(var[c] + eps)
        shift = beta[c] - scale * mean[c]
        for i in range(n):
            for s in range(S):
                out[i, c, s] = x[i, c, s] * scale + shift


# ---------------------------------------------------------------------------------------------
# optimizer steps over flat parameter buffers; entries below n_decayed get the L2 penalty.
# Each range is its own loop and the scalars are cast to the parameters' dtype, so the loops
# vectorise (float32 parameters are updated in float32 arithmetic, as NumPy would).

@njit(**_KERNEL, inline="always")
def _sgd_range(params, grads, velocity, lo, hi, lr, momentum, nesterov, decay):
    for i in range(lo, hi):
        g = grads[i] + decay * params[i]
        v = momentum * velocity[i] - lr * g
        velocity[i] = v
        params[i] += momentum * v - lr * g if nesterov else v


@njit(**_KERNEL)
def sgd_update(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed):
    """IN/OUT params, velocity (m,), IN grads (m,): scikit-learn's SGD with momentum."""
    t = params.dtype.type
    _sgd_range(params, grads, velocity, 0, n_decayed, t(lr), t(momentum), nesterov, t(decay))
    _sgd_range(params, grads, velocity, n_decayed, params.shape[0], t(lr), t(momentum),
               nesterov, t(0))


@njit(**_KERNEL, inline="always")
def _adagrad_range(params, grads, accum, lo, hi, lr, eps, decay):
    for i in range(lo, hi):
        g = grads[i] + decay * params[i]
        a = accum[i] + g * g
        accum[i] = a
        params[i] -= lr * g / (np.sqrt(a) + eps)


@njit(**_KERNEL)
def adagrad_update(params, grads, accum, lr, eps, decay, n_decayed):
    """IN/OUT params, accum (m,), IN grads (m,)."""
    t = params.dtype.type
    _adagrad_range(params, grads, accum, 0, n_decayed, t(lr), t(eps), t(decay))
    _adagrad_range(params, grads, accum, n_decayed, params.shape[0], t(lr), t(eps), t(0))


@njit(**_KERNEL, inline="always")
def _adam_range(params, grads, m, v, lo, hi, step_size, beta_1, beta_2, eps, decay):
    one = params.dtype.type(1)
    for i in range(lo, hi):
        g = grads[i] + decay * params[i]
        mi = beta_1 * m[i] + (one - beta_1) * g
        vi = beta_2 * v[i] + (one - beta_2) * g * g
        m[i] = mi
        v[i] = vi
        params[i] -= step_size * mi / (np.sqrt(vi) + eps)


@njit(**_KERNEL)
def adam_update(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed):
    """IN/OUT params, m, v (m,), IN grads; step_size = lr * sqrt(1 - b2^t) / (1 - b1^t)."""
    t = params.dtype.type
    _adam_range(params, grads, m, v, 0, n_decayed, t(step_size), t(beta_1), t(beta_2), t(eps),
                t(decay))
    _adam_range(params, grads, m, v, n_decayed, params.shape[0], t(step_size), t(beta_1),
                t(beta_2), t(eps), t(0))


# ---------------------------------------------------------------------------------------------
# Drivers: the interface the layers and fastml.nn.functional call. _kernels_cuda.py has the same
# functions with the same arguments on device arrays. Shapes are checked by the callers.

def empty(shape, dtype):
    return np.empty(shape, dtype=dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def copy(array):
    return array.copy()


def to_device(array):
    return np.asarray(array, order="C")


def copy_into(target, source):
    """OUT target: overwritten by the values of source (same shape)."""
    target[...] = source


def to_host(array):
    return array


def matmul(a, b, out, trans_a=False, trans_b=False):
    """OUT out = op(a) @ op(b), op transposing when asked (BLAS, no copies)."""
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)


def _channels_view(a):
    """(n, C, S) view of a 2-D (n, C) or 4-D (n, C, H, W) array."""
    return a.reshape(a.shape[0], a.shape[1], -1)


def add_bias_activation(z, b, activation):
    """IN/OUT z: act(z + b) in place, b broadcast over columns (2-D) or channels (4-D)."""
    bias = b if b is not None else np.empty(0, dtype=z.dtype)
    bias_activation(_channels_view(z), bias, ACTIVATIONS[activation])


def activation_grad(grad, y, activation):
    """IN/OUT grad *= act'(z), from the activation's output y."""
    activation_backward(grad.reshape(-1), y.reshape(-1), ACTIVATIONS[activation])


def activation_grad_from_input(grad, x, activation):
    """IN/OUT grad *= act'(x), from the activation's input x."""
    activation_backward_from_input(grad.reshape(-1), x.reshape(-1), ACTIVATIONS[activation])


def bias_grad(grad, out):
    """OUT out (C,): grad summed over every axis but 1."""
    if grad.ndim == 2:
        column_sums(grad, out)
    else:
        channel_sums(_channels_view(grad), out)


_BLAS = ThreadpoolController().select(user_api="blas")


def conv2d(x, w, stride, padding, out, bias=None, activation="identity"):
    """OUT out (N, F, Ho, Wo): act(cross-correlation of x with the filters w + bias)."""
    if stride == (1, 1):
        _conv_fast.forward(x, w, bias, *padding, out, numba.get_num_threads())
        if activation != "identity":
            add_bias_activation(out, None, activation)
        return out
    F, _, KH, KW = w.shape
    # One BLAS thread per image product: the images are the parallel loop.
    with _BLAS.limit(limits=1):
        conv2d_forward(x, w.reshape(F, -1), KH, KW, *stride, *padding, out)
    if bias is not None or activation != "identity":
        add_bias_activation(out, bias, activation)
    return out


def conv2d_grad(grad_out, x, w, stride, padding, grad_x, grad_w, grad_b=None):
    """OUT grad_x (skipped when None), OUT grad_w, OUT grad_b (skipped when None): gradients
    of the convolution."""
    F, C, KH, KW = w.shape
    if stride == (1, 1):
        n_threads = numba.get_num_threads()
        if grad_x is not None:
            # The input gradient is grad_out correlated with the filters turned by 180 degrees,
            # their channel axes swapped, under padding K - 1 - p (negative: cropped).
            turned = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            _conv_fast.forward(grad_out, turned, None, KH - 1 - padding[0], KW - 1 - padding[1],
                               grad_x, n_threads)
        bias_target = grad_b if grad_b is not None else np.empty(F, dtype=x.dtype)
        _conv_fast.weight_grad(grad_out, x, *padding, grad_w, bias_target, n_threads)
        return
    need_grad_x = grad_x is not None
    target = grad_x if need_grad_x else np.empty((0, 0, 0, 0), dtype=x.dtype)
    with _BLAS.limit(limits=1):
        conv2d_backward(grad_out, x, np.ascontiguousarray(w.reshape(F, -1).T), KH, KW, *stride,
                        *padding, target, grad_w.reshape(F, -1), need_grad_x)
    if grad_b is not None:
        bias_grad(grad_out, grad_b)


def max_pool2d(x, kernel, stride, out, argmax):
    max_pool2d_forward(x, *kernel, *stride, out, argmax)


def max_pool2d_grad(grad_out, argmax, grad_x):
    max_pool2d_backward(grad_out, argmax, grad_x)


def avg_pool2d(x, kernel, stride, out):
    avg_pool2d_forward(x, *kernel, *stride, out)


def avg_pool2d_grad(grad_out, kernel, stride, grad_x):
    avg_pool2d_backward(grad_out, *kernel, *stride, grad_x)


def batch_norm(x, gamma, beta, eps, out, mean, inv_std):
    batch_norm_forward(_channels_view(x), gamma, beta, eps, _channels_view(out), mean, inv_std)


def batch_norm_grad(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta):
    batch_norm_backward(_channels_view(grad_out), _channels_view(x), gamma, mean, inv_std,
                        _channels_view(grad_x), grad_gamma, grad_beta)


def batch_norm_fixed(x, gamma, beta, mean, var, eps, out):
    batch_norm_inference(_channels_view(x), gamma, beta, mean, var, eps, _channels_view(out))


def apply_dropout(x, mask, scale):
    dropout(x.reshape(-1), mask.reshape(-1), scale)


def squared_norm(params, n):
    """Sum of squares of params[:n] (a float)."""
    head = params[:n]
    return float(np.dot(head, head))


def loss_and_grad(kind, output, target, weight, grad):
    """OUT grad: the loss gradient for the outputs, rows weighted by weight (float64, summing
    to 1); returns the weighted mean loss (a float)."""
    return float(_LOSSES[kind](output, target, weight, grad))


_LOSSES = {"softmax": softmax_cross_entropy, "logistic": sigmoid_cross_entropy,
           "squared": squared_error}


def sgd(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed):
    sgd_update(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed)


def adagrad(params, grads, accum, lr, eps, decay, n_decayed):
    adagrad_update(params, grads, accum, lr, eps, decay, n_decayed)


def adam(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed):
    adam_update(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed)
