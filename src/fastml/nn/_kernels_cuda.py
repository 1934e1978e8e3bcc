"""CUDA kernels of the neural networks (Numba), with the drivers of ``_kernels_cpu`` under the
same names and arguments, on device arrays (``numba.cuda`` device arrays, C-contiguous float32
or float64; the callers check shapes and dtypes).

Layout: elementwise work, the convolution, the pooling and the losses run one thread per output
element (per row for the losses) in grid-stride loops; a thread that needs values from several
outputs gathers them (the convolution's and average pooling's backward passes), so no kernel
uses atomics. Max pooling's backward pass is not told the windows, so it scatters one
(image, channel) plane per thread. Sums over images (bias and weight gradients, batch-norm
statistics) run one block per channel or weight: each thread sums a fixed strided share in
float64, then a tree reduction in shared memory adds the shares in a fixed order, so results do
not vary from run to run. The matrix product stages TILE x TILE tiles of both operands in shared
memory and reads a transposed operand in place. The product and the convolution's other sums
accumulate in the arrays' dtype, as BLAS does on the CPU; the rest accumulates in float64 where
the CPU kernels do. Tested under NUMBA_ENABLE_CUDASIM=1.
"""
import math

import numpy as np
import scipy.sparse as sp
from numba import config, cuda, float64

from ..utils._cuda import block_sum
from . import _scalar
from ._scalar import ACTIVATIONS

# The drivers, as in _kernels_cpu (tests/test_backend.py holds both to the same list).
__all__ = [
    "empty", "zeros", "copy", "to_device", "copy_into", "to_host", "squared_norm", "matmul",
    "add_bias_activation", "activation_grad", "activation_grad_from_input", "bias_grad",
    "conv2d", "conv2d_grad", "max_pool2d", "max_pool2d_grad", "avg_pool2d", "avg_pool2d_grad",
    "batch_norm", "batch_norm_grad", "batch_norm_fixed", "apply_dropout", "loss_and_grad",
    "sgd", "adagrad", "adam",
]

THREADS = 128  # threads per block; the size of the per-block reduction buffers
TILE = 16  # side of the matrix product's tiles (TILE x TILE threads per block)
_GRID = 2048  # most blocks of a grid-stride launch: about what an H100 keeps resident
if config.ENABLE_CUDASIM:
    # The simulator runs every thread as a Python thread: small blocks keep tests fast and run
    # the same code (any power of two up to THREADS works).
    THREADS, TILE, _GRID = 4, 4, 4
_TILE_ROW = TILE + 1  # a padding column: transposed stores hit distinct shared-memory banks


# ---------------------------------------------------------------------------------------------
# device helpers

_activate = cuda.jit(device=True)(_scalar.activate)
_derivative_from_output = cuda.jit(device=True)(_scalar.derivative_from_output)
_window_max = cuda.jit(device=True)(_scalar.window_max)


@cuda.jit(device=True)
def _first_window(i, k, s):
    """The first window o (start o*s, k wide) that reaches index i."""
    lo = i - k + 1
    return (lo + s - 1) // s if lo > 0 else 0


# ---------------------------------------------------------------------------------------------
# elementwise (flat views)

@cuda.jit
def _fill_kernel(a, value):
    for e in range(cuda.grid(1), a.shape[0], cuda.gridsize(1)):
        a[e] = value


@cuda.jit
def _bias_activation_kernel(z, b, C, S, code):
    """z (m,) flat over (n, C, S); b (C,) or empty."""
    for e in range(cuda.grid(1), z.shape[0], cuda.gridsize(1)):
        v = z[e]
        if b.shape[0] > 0:
            v += b[(e // S) % C]
        z[e] = _activate(v, code)


@cuda.jit
def _activation_grad_kernel(grad, y, code, from_input):
    for e in range(cuda.grid(1), grad.shape[0], cuda.gridsize(1)):
        out = _activate(y[e], code) if from_input else y[e]
        grad[e] *= _derivative_from_output(out, code)


@cuda.jit
def _dropout_kernel(x, mask, scale):
    for e in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        x[e] = x[e] * scale if mask[e] else x[e] * 0


@cuda.jit
def _batch_norm_fixed_kernel(x, gamma, beta, mean, var, eps, C, S, out):
    for e in range(cuda.grid(1), x.shape[0], cuda.gridsize(1)):
        c = (e // S) % C
        scale = gamma[c] / math.sqrt(var[c] + eps)
        out[e] = x[e] * scale + (beta[c] - scale * mean[c])


# ---------------------------------------------------------------------------------------------
# matrix product

@cuda.jit
def _matmul_kernel(a, b, out, trans_a, trans_b):
    """out (M, N) = op(a) @ op(b). Threads along x load along the operands' rows (coalesced);
    a transposed operand's tile is stored transposed. Rows go on grid x, whose limit is far
    above grid y's."""
    tile_a = cuda.shared.array((TILE, _TILE_ROW), a.dtype)
    tile_b = cuda.shared.array((TILE, _TILE_ROW), b.dtype)
    tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
    row0, col0 = cuda.blockIdx.x * TILE, cuda.blockIdx.y * TILE
    M, N = out.shape
    K = a.shape[0] if trans_a else a.shape[1]
    zero = out.dtype.type(0)
    acc = zero
    for k0 in range(0, K, TILE):
        if trans_a:  # a is (K, M)
            r, k = row0 + tx, k0 + ty
            tile_a[tx, ty] = a[k, r] if r < M and k < K else zero
        else:
            r, k = row0 + ty, k0 + tx
            tile_a[ty, tx] = a[r, k] if r < M and k < K else zero
        if trans_b:  # b is (N, K)
            col, k = col0 + ty, k0 + tx
            tile_b[tx, ty] = b[col, k] if col < N and k < K else zero
        else:
            col, k = col0 + tx, k0 + ty
            tile_b[ty, tx] = b[k, col] if col < N and k < K else zero
        cuda.syncthreads()
        for j in range(TILE):
            acc += tile_a[ty, j] * tile_b[j, tx]
        cuda.syncthreads()
    row, col = row0 + ty, col0 + tx
    if row < M and col < N:
        out[row, col] = acc


# ---------------------------------------------------------------------------------------------
# per-channel sums, batch normalisation: one block per channel of (n, C, S) views

@cuda.jit
def _bias_grad_kernel(g, out):
    buf = cuda.shared.array(THREADS, float64)
    c = cuda.blockIdx.x
    S = g.shape[2]
    part = 0.0
    for j in range(cuda.threadIdx.x, g.shape[0] * S, cuda.blockDim.x):
        part += g[j // S, c, j % S]
    total = block_sum(part, buf)
    if cuda.threadIdx.x == 0:
        out[c] = total


@cuda.jit
def _batch_norm_kernel(x, gamma, beta, eps, out, mean, inv_std):
    """Two passes over the channel, as on the CPU: the mean, then the squared deviations."""
    buf = cuda.shared.array(THREADS, float64)
    c = cuda.blockIdx.x
    S = x.shape[2]
    count = x.shape[0] * S
    part = 0.0
    for j in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        part += x[j // S, c, j % S]
    mu = block_sum(part, buf) / count
    part = 0.0
    for j in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        d = x[j // S, c, j % S] - mu
        part += d * d
    r = 1.0 / math.sqrt(block_sum(part, buf) / count + eps)
    if cuda.threadIdx.x == 0:
        mean[c], inv_std[c] = mu, r
    scale, shift = gamma[c] * r, beta[c] - gamma[c] * r * mu
    for j in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        i, s = j // S, j % S
        out[i, c, s] = x[i, c, s] * scale + shift


@cuda.jit
def _batch_norm_grad_kernel(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta):
    buf = cuda.shared.array(THREADS, float64)
    c = cuda.blockIdx.x
    S = x.shape[2]
    count = x.shape[0] * S
    mu = mean[c]
    part_g, part_gx = 0.0, 0.0
    for j in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        i, s = j // S, j % S
        g = grad_out[i, c, s]
        part_g += g
        part_gx += g * (x[i, c, s] - mu)
    sum_g = block_sum(part_g, buf)
    sum_gx = block_sum(part_gx, buf)
    r = inv_std[c]
    if cuda.threadIdx.x == 0:
        grad_beta[c] = sum_g
        grad_gamma[c] = sum_gx * r
    scale = gamma[c] * r / count
    for j in range(cuda.threadIdx.x, count, cuda.blockDim.x):
        i, s = j // S, j % S
        x_hat = (x[i, c, s] - mu) * r
        grad_x[i, c, s] = scale * (count * grad_out[i, c, s] - sum_g - x_hat * sum_gx * r)


# ---------------------------------------------------------------------------------------------
# convolution: input position o*stride - pad + k of output position o

@cuda.jit
def _conv2d_kernel(x, w, sh, sw, ph, pw, out):
    """One thread per output element (n, f, oy, ox)."""
    N, F, Ho, Wo = out.shape
    C, H, W = x.shape[1], x.shape[2], x.shape[3]
    KH, KW = w.shape[2], w.shape[3]
    for e in range(cuda.grid(1), N * F * Ho * Wo, cuda.gridsize(1)):
        ox, oy = e % Wo, (e // Wo) % Ho
        f, n = (e // (Wo * Ho)) % F, e // (Wo * Ho * F)
        acc = out.dtype.type(0)
        for c in range(C):
            for ky in range(KH):
                iy = oy * sh - ph + ky
                if 0 <= iy < H:
                    for kx in range(KW):
                        ix = ox * sw - pw + kx
                        if 0 <= ix < W:
                            acc += x[n, c, iy, ix] * w[f, c, ky, kx]
        out[n, f, oy, ox] = acc


@cuda.jit
def _conv2d_grad_x_kernel(grad_out, w, sh, sw, ph, pw, grad_x):
    """One thread per input element (n, c, y, x), gathering over the outputs that read it."""
    N, C, H, W = grad_x.shape
    F, Ho, Wo = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    KH, KW = w.shape[2], w.shape[3]
    for e in range(cuda.grid(1), N * C * H * W, cuda.gridsize(1)):
        ix, iy = e % W, (e // W) % H
        c, n = (e // (W * H)) % C, e // (W * H * C)
        acc = grad_x.dtype.type(0)
        for f in range(F):
            for ky in range(KH):
                ty = iy + ph - ky
                oy = ty // sh
                if ty >= 0 and oy * sh == ty and oy < Ho:
                    for kx in range(KW):
                        tx = ix + pw - kx
                        ox = tx // sw
                        if tx >= 0 and ox * sw == tx and ox < Wo:
                            acc += grad_out[n, f, oy, ox] * w[f, c, ky, kx]
        grad_x[n, c, iy, ix] = acc


@cuda.jit
def _conv2d_grad_w_kernel(grad_out, x, sh, sw, ph, pw, grad_w):
    """One block per weight (f, c, ky, kx): its threads split the (n, oy, ox) sum."""
    buf = cuda.shared.array(THREADS, float64)
    F, C, KH, KW = grad_w.shape
    N, Ho, Wo = grad_out.shape[0], grad_out.shape[2], grad_out.shape[3]
    H, W = x.shape[2], x.shape[3]
    e = cuda.blockIdx.x
    kx, ky = e % KW, (e // KW) % KH
    c, f = (e // (KW * KH)) % C, e // (KW * KH * C)
    part = 0.0
    for j in range(cuda.threadIdx.x, N * Ho * Wo, cuda.blockDim.x):
        ox, oy, n = j % Wo, (j // Wo) % Ho, j // (Wo * Ho)
        iy, ix = oy * sh - ph + ky, ox * sw - pw + kx
        if 0 <= iy < H and 0 <= ix < W:
            part += grad_out[n, f, oy, ox] * x[n, c, iy, ix]
    total = block_sum(part, buf)
    if cuda.threadIdx.x == 0:
        grad_w[f, c, ky, kx] = total


# ---------------------------------------------------------------------------------------------
# pooling (no padding): window (oy, ox) covers rows oy*sh .. oy*sh + kh - 1

@cuda.jit
def _max_pool_kernel(x, kh, kw, sh, sw, out, argmax):
    """argmax: flat index in the H x W plane of the window's first maximum (row-major)."""
    N, C, Ho, Wo = out.shape
    for e in range(cuda.grid(1), N * C * Ho * Wo, cuda.gridsize(1)):
        ox, oy = e % Wo, (e // Wo) % Ho
        c, n = (e // (Wo * Ho)) % C, e // (Wo * Ho * C)
        best, where = _window_max(x, n, c, oy * sh, ox * sw, kh, kw)
        out[n, c, oy, ox] = best
        argmax[n, c, oy, ox] = where


@cuda.jit
def _avg_pool_kernel(x, kh, kw, sh, sw, out):
    N, C, Ho, Wo = out.shape
    scale = 1.0 / (kh * kw)
    for e in range(cuda.grid(1), N * C * Ho * Wo, cuda.gridsize(1)):
        ox, oy = e % Wo, (e // Wo) % Ho
        c, n = (e // (Wo * Ho)) % C, e // (Wo * Ho * C)
        total = 0.0
        for dy in range(kh):
            for dx in range(kw):
                total += x[n, c, oy * sh + dy, ox * sw + dx]
        out[n, c, oy, ox] = total * scale


@cuda.jit
def _max_pool_grad_kernel(grad_out, argmax, grad_x):
    """One thread per (n, c) plane of the zeroed grad_x, adding its outputs' gradients in the
    CPU's order. The windows (kernel, stride) are not known here, so no thread can tell which
    outputs could reach an input to gather them; a plane never races with another."""
    N, C, Ho, Wo = grad_out.shape
    W = grad_x.shape[3]
    for nc in range(cuda.grid(1), N * C, cuda.gridsize(1)):
        n, c = nc // C, nc % C
        for oy in range(Ho):
            for ox in range(Wo):
                where = argmax[n, c, oy, ox]
                grad_x[n, c, where // W, where % W] += grad_out[n, c, oy, ox]


@cuda.jit
def _avg_pool_grad_kernel(grad_out, kh, kw, sh, sw, grad_x):
    """One thread per input element, gathering over the windows that hold it (they overlap when
    stride < kernel)."""
    N, C, H, W = grad_x.shape
    Ho, Wo = grad_out.shape[2], grad_out.shape[3]
    scale = 1.0 / (kh * kw)
    for e in range(cuda.grid(1), N * C * H * W, cuda.gridsize(1)):
        ix, iy = e % W, (e // W) % H
        c, n = (e // (W * H)) % C, e // (W * H * C)
        total = 0.0
        for oy in range(_first_window(iy, kh, sh), min(Ho, iy // sh + 1)):
            for ox in range(_first_window(ix, kw, sw), min(Wo, ix // sw + 1)):
                total += grad_out[n, c, oy, ox] * scale
        grad_x[n, c, iy, ix] = total


# ---------------------------------------------------------------------------------------------
# losses: one thread per row, its loss into row_loss (summed on the host)

@cuda.jit
def _softmax_kernel(logits, target, weight, grad, row_loss):
    """grad may be logits itself: each entry is read before it is written."""
    n, K = logits.shape
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        top = logits[i, 0]
        for k in range(1, K):
            top = max(top, logits[i, k])
        total = 0.0
        for k in range(K):
            total += math.exp(logits[i, k] - top)
        log_total = math.log(total)
        loss = 0.0
        for k in range(K):
            log_p = logits[i, k] - top - log_total
            loss -= target[i, k] * log_p
            grad[i, k] = (math.exp(log_p) - target[i, k]) * weight[i]
        row_loss[i] = weight[i] * loss


@cuda.jit
def _logistic_kernel(logits, target, weight, grad, row_loss):
    n, K = logits.shape
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        loss = 0.0
        for k in range(K):
            z = float64(logits[i, k])
            # log(1 + exp(-|z|)) + max(z, 0) - t z, stable for any z
            loss += math.log1p(math.exp(-abs(z))) + max(z, 0.0) - target[i, k] * z
            grad[i, k] = (1 / (1 + math.exp(-z)) - target[i, k]) * weight[i]
        row_loss[i] = weight[i] * loss


@cuda.jit
def _squared_kernel(pred, target, weight, grad, row_loss):
    n, K = pred.shape
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        loss = 0.0
        for k in range(K):
            d = float64(pred[i, k]) - target[i, k]
            loss += d * d
            grad[i, k] = d * weight[i]
        row_loss[i] = 0.5 * weight[i] * loss


@cuda.jit
def _poisson_kernel(output, target, weight, grad, row_loss):
    """Half the Poisson deviance of exp(output), as the CPU's Loss::kPoisson."""
    n, K = output.shape
    for i in range(cuda.grid(1), n, cuda.gridsize(1)):
        loss = 0.0
        for k in range(K):
            v, y = float64(output[i, k]), float64(target[i, k])
            p = math.exp(v)
            if y > 0:
                loss += y * (math.log(y) - v)
            loss += p - y
            grad[i, k] = (p - y) * weight[i]
        row_loss[i] = weight[i] * loss


# ---------------------------------------------------------------------------------------------
# optimizer steps over flat parameter buffers; entries below n_decayed get the L2 penalty

# The scalars come in the parameters' dtype (see _scalars), so float32 parameters are updated
# in float32 arithmetic, as on the CPU.

@cuda.jit
def _sgd_kernel(params, grads, velocity, lr, momentum, nesterov, decay, zero, n_decayed):
    for i in range(cuda.grid(1), params.shape[0], cuda.gridsize(1)):
        g = grads[i] + (decay if i < n_decayed else zero) * params[i]
        v = momentum * velocity[i] - lr * g
        velocity[i] = v
        params[i] += momentum * v - lr * g if nesterov else v


@cuda.jit
def _adagrad_kernel(params, grads, accum, lr, eps, decay, zero, n_decayed):
    for i in range(cuda.grid(1), params.shape[0], cuda.gridsize(1)):
        g = grads[i] + (decay if i < n_decayed else zero) * params[i]
        a = accum[i] + g * g
        accum[i] = a
        params[i] -= lr * g / (math.sqrt(a) + eps)


@cuda.jit
def _adam_kernel(params, grads, m, v, step_size, beta_1, rest_1, beta_2, rest_2, eps, decay,
                 zero, n_decayed):
    """rest_1, rest_2: 1 - beta_1 and 1 - beta_2."""
    for i in range(cuda.grid(1), params.shape[0], cuda.gridsize(1)):
        g = grads[i] + (decay if i < n_decayed else zero) * params[i]
        mi = beta_1 * m[i] + rest_1 * g
        vi = beta_2 * v[i] + rest_2 * g * g
        m[i], v[i] = mi, vi
        params[i] -= step_size * mi / (math.sqrt(vi) + eps)


# ---------------------------------------------------------------------------------------------
# Drivers: the functions of _kernels_cpu, same names and arguments, on device arrays.

def _launch(kernel, size, *args):
    """Grid-stride launch over `size` items (none when empty)."""
    if size > 0:
        blocks = min(_GRID, (size + THREADS - 1) // THREADS)
        kernel[blocks, THREADS](*args)


def _flat(a):
    return a.reshape(a.size)


def _channels_view(a):
    """(n, C, S) view of a 2-D (n, C) or 4-D (n, C, H, W) array."""
    n, C = a.shape[0], a.shape[1]
    return a.reshape(n, C, a.size // (n * C) if n * C else 1)


def empty(shape, dtype):
    return cuda.device_array(shape, dtype=dtype)


def zeros(shape, dtype):
    a = cuda.device_array(shape, dtype=dtype)
    _launch(_fill_kernel, a.size, _flat(a), 0)
    return a


def to_device(array):
    """Sparse rows are densified here, one batch at a time (the kernels take dense arrays)."""
    return cuda.to_device(np.ascontiguousarray(array.toarray() if sp.issparse(array) else array))


def copy(array):
    out = cuda.device_array_like(array)
    out.copy_to_device(array)
    return out


def copy_into(target, source):
    """OUT target: overwritten by the values of source (a host or device array)."""
    target.copy_to_device(source if hasattr(source, "copy_to_host")
                          else np.ascontiguousarray(source, dtype=target.dtype))


@cuda.jit
def _squared_norm_kernel(params, n, out):
    """One block, a fixed summation order: the same float for the same parameters."""
    buf = cuda.shared.array(THREADS, float64)
    part = 0.0
    for i in range(cuda.threadIdx.x, n, cuda.blockDim.x):
        part += params[i] * params[i]
    total = block_sum(part, buf)
    if cuda.threadIdx.x == 0:
        out[0] = total


def squared_norm(params, n):
    """Sum of squares of params[:n] (a float)."""
    out = empty(1, np.float64)
    _squared_norm_kernel[1, THREADS](params, n, out)
    return float(out.copy_to_host()[0])


def to_host(array):
    return array.copy_to_host()


def matmul(a, b, out, trans_a=False, trans_b=False):
    """OUT out = op(a) @ op(b), op transposing when asked (read in place, no copies)."""
    M = a.shape[1] if trans_a else a.shape[0]
    N = b.shape[0] if trans_b else b.shape[1]
    if out is None:
        out = empty((M, N), np.result_type(a.dtype, b.dtype))
    if M and N:
        grid = ((M + TILE - 1) // TILE, (N + TILE - 1) // TILE)
        _matmul_kernel[grid, (TILE, TILE)](a, b, out, trans_a, trans_b)
    return out


def add_bias_activation(z, b, activation):
    """IN/OUT z: act(z + b) in place, b broadcast over columns (2-D) or channels (4-D)."""
    bias = b if b is not None else empty(0, z.dtype)
    view = _channels_view(z)
    _launch(_bias_activation_kernel, z.size, _flat(z), bias, view.shape[1], view.shape[2],
            ACTIVATIONS[activation])


def activation_grad(grad, y, activation):
    """IN/OUT grad *= act'(z), from the activation's output y."""
    if ACTIVATIONS[activation]:
        _launch(_activation_grad_kernel, grad.size, _flat(grad), _flat(y),
                ACTIVATIONS[activation], False)


def activation_grad_from_input(grad, x, activation):
    """IN/OUT grad *= act'(x), from the activation's input x."""
    if ACTIVATIONS[activation]:
        _launch(_activation_grad_kernel, grad.size, _flat(grad), _flat(x),
                ACTIVATIONS[activation], True)


def bias_grad(grad, out):
    """OUT out (C,): grad summed over every axis but 1."""
    if out.shape[0]:
        _bias_grad_kernel[out.shape[0], THREADS](_channels_view(grad), out)


def conv2d(x, w, stride, padding, out, bias=None, activation="identity"):
    """OUT out (N, F, Ho, Wo): act(cross-correlation of x with the filters w + bias)."""
    _launch(_conv2d_kernel, out.size, x, w, *stride, *padding, out)
    if bias is not None or activation != "identity":
        add_bias_activation(out, bias, activation)
    return out


def conv2d_grad(grad_out, x, w, stride, padding, grad_x, grad_w, grad_b=None):
    """OUT grad_x (skipped when None), OUT grad_w, OUT grad_b (skipped when None): gradients
    of the convolution."""
    if grad_x is not None:
        _launch(_conv2d_grad_x_kernel, grad_x.size, grad_out, w, *stride, *padding, grad_x)
    if grad_w.size:
        _conv2d_grad_w_kernel[grad_w.size, THREADS](grad_out, x, *stride, *padding, grad_w)
    if grad_b is not None:
        bias_grad(grad_out, grad_b)


def max_pool2d(x, kernel, stride, out, argmax):
    _launch(_max_pool_kernel, out.size, x, *kernel, *stride, out, argmax)


def max_pool2d_grad(grad_out, argmax, grad_x):
    _launch(_fill_kernel, grad_x.size, _flat(grad_x), 0)
    _launch(_max_pool_grad_kernel, grad_out.shape[0] * grad_out.shape[1], grad_out, argmax,
            grad_x)


def avg_pool2d(x, kernel, stride, out):
    _launch(_avg_pool_kernel, out.size, x, *kernel, *stride, out)


def avg_pool2d_grad(grad_out, kernel, stride, grad_x):
    _launch(_avg_pool_grad_kernel, grad_x.size, grad_out, *kernel, *stride, grad_x)


def batch_norm(x, gamma, beta, eps, out, mean, inv_std):
    _batch_norm_kernel[x.shape[1], THREADS](_channels_view(x), gamma, beta, eps,
                                            _channels_view(out), mean, inv_std)


def batch_norm_grad(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta):
    _batch_norm_grad_kernel[x.shape[1], THREADS](
        _channels_view(grad_out), _channels_view(x), gamma, mean, inv_std,
        _channels_view(grad_x), grad_gamma, grad_beta)


def batch_norm_fixed(x, gamma, beta, mean, var, eps, out):
    _launch(_batch_norm_fixed_kernel, x.size, _flat(x), gamma, beta, mean, var, eps, x.shape[1],
            _channels_view(x).shape[2], _flat(out))


def apply_dropout(x, mask, scale):
    _launch(_dropout_kernel, x.size, _flat(x), _flat(mask), scale)


_LOSSES = {"softmax": _softmax_kernel, "logistic": _logistic_kernel, "squared": _squared_kernel,
           "poisson": _poisson_kernel}


def loss_and_grad(kind, output, target, weight, grad):
    """OUT grad: the loss gradient for the outputs, rows weighted by weight (float64, summing
    to 1); returns the weighted mean loss (a float)."""
    n = output.shape[0]
    row_loss = empty(n, np.float64)
    _launch(_LOSSES[kind], n, output, target, weight, grad, row_loss)
    return float(row_loss.copy_to_host().sum())


def _scalars(params, *values):
    kind = params.dtype.type
    return [kind(value) for value in values]


def sgd(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed):
    _launch(_sgd_kernel, params.size, params, grads, velocity,
            *_scalars(params, lr, momentum), nesterov, *_scalars(params, decay, 0), n_decayed)


def adagrad(params, grads, accum, lr, eps, decay, n_decayed):
    _launch(_adagrad_kernel, params.size, params, grads, accum,
            *_scalars(params, lr, eps, decay, 0), n_decayed)


def adam(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed):
    one = params.dtype.type(1)
    beta_1, beta_2 = _scalars(params, beta_1, beta_2)
    _launch(_adam_kernel, params.size, params, grads, m, v, *_scalars(params, step_size),
            beta_1, one - beta_1, beta_2, one - beta_2, *_scalars(params, eps, decay, 0),
            n_decayed)
