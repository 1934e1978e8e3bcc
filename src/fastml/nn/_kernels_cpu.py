"""CPU drivers of the neural networks: BLAS for the matrix products, C++ for everything else.

The drivers here and in ``_kernels_cuda`` have the same names and arguments (``__all__``); the
layers and ``fastml.nn.functional`` call them on NumPy arrays here, on device arrays there.
The kernels live in two pybind11 modules built from csrc/nn: ``_conv_fast``, the stride-1
convolution (register-blocked direct kernels that reach the machine's multiply-add rate, where
BLAS products with the channel count as their inner dimension ran at about 60% of it), and
``_nn_fast``, the rest (activations, sums, dropout, losses, optimizer steps, im2col/col2im,
pooling, batch normalisation). No Numba is imported on the CPU path: the kernels are compiled
into the wheel, so a first fit costs no compilation.

Other strides than 1 unfold a chunk of images at a time into one column matrix (im2col, C++),
multiplied by BLAS here (one 2-D product per chunk, chunks on parallel threads, see conv2d); the
chunks depend on the shapes only, so the weight gradient's sums run in the same order for any
thread count.

Kernels run on ``effective_n_threads()`` threads: the estimators set ``n_jobs`` for the length of
a fit or a prediction through ``config_context``, and ``fastml.nn.functional`` ops follow the
configuration. Every driver writes into arrays it is given (OUT) or updates them in place
(IN/OUT); the callers (``functional.py``, ``_layers.py``) validate shapes and dtypes first, and
the C++ modules check them again. Arrays are C-contiguous float32 or float64.
"""
from contextlib import contextmanager

import numpy as np
import scipy.sparse as sp

from .._backend import effective_n_threads
from ..decomposition import _decomposition_fast
from ..decomposition._operators import as_csr_arrays, csr_matmat
from . import _conv_fast, _nn_fast
from ._scalar import ACTIVATIONS

__all__ = [
    "empty", "zeros", "copy", "to_device", "copy_into", "to_host", "squared_norm", "matmul",
    "add_bias_activation", "activation_grad", "activation_grad_from_input", "bias_grad",
    "conv2d", "conv2d_grad", "max_pool2d", "max_pool2d_grad", "avg_pool2d", "avg_pool2d_grad",
    "batch_norm", "batch_norm_grad", "batch_norm_fixed", "apply_dropout", "loss_and_grad",
    "sgd", "adagrad", "adam",
]


def _threads(size):
    """Threads for a kernel over size values: the kernels run below _nn_fast.PARALLEL_MIN
    values on one thread whatever they are given, so the configuration (1 us) is read only
    above it."""
    return effective_n_threads() if size >= _PARALLEL_MIN else 1


_PARALLEL_MIN = _nn_fast.PARALLEL_MIN


def _channels_view(a):
    """(n, C, S) view of a 2-D (n, C) or 4-D (n, C, H, W) array."""
    return a.reshape(a.shape[0], a.shape[1], -1)


# ---------------------------------------------------------------------------------------------
# memory

def empty(shape, dtype):
    return np.empty(shape, dtype=dtype)


def zeros(shape, dtype):
    return np.zeros(shape, dtype=dtype)


def copy(array):
    return array.copy()


def to_device(array):
    """Dense values as a C-ordered array; sparse rows (an MLP's input) stay CSR, for matmul."""
    if sp.issparse(array):
        return array.tocsr()
    return np.asarray(array, order="C")


def copy_into(target, source):
    """OUT target: overwritten by the values of source (same shape)."""
    target[...] = source


def to_host(array):
    return array


def squared_norm(params, n):
    """Sum of squares of params[:n] (a float)."""
    head = params[:n]
    return float(np.dot(head, head))


def matmul(a, b, out, trans_a=False, trans_b=False):
    """OUT out = op(a) @ op(b), op transposing when asked (BLAS, no copies). A CSR a (sparse
    input rows) goes to the compiled row-parallel CSR product, a^T through its transpose, so the
    first layer's products stay sparse."""
    if sp.issparse(a):
        arrays, n_cols = as_csr_arrays(a), a.shape[1]
        if trans_a:
            arrays, n_cols = _decomposition_fast.csr_transpose(*arrays, n_cols), a.shape[0]
        out[...] = csr_matmat(arrays, n_cols, b.T if trans_b else b, effective_n_threads())
        return out
    return np.matmul(a.T if trans_a else a, b.T if trans_b else b, out=out)


# ---------------------------------------------------------------------------------------------
# elementwise

def add_bias_activation(z, b, activation):
    """IN/OUT z: act(z + b) in place, b broadcast over columns (2-D) or channels (4-D)."""
    _nn_fast.bias_activation(_channels_view(z), b, ACTIVATIONS[activation], _threads(z.size))


def activation_grad(grad, y, activation):
    """IN/OUT grad *= act'(z), from the activation's output y."""
    if ACTIVATIONS[activation]:
        _nn_fast.activation_backward(grad, y, ACTIVATIONS[activation], False,
                                     _threads(grad.size))


def activation_grad_from_input(grad, x, activation):
    """IN/OUT grad *= act'(x), from the activation's input x."""
    if ACTIVATIONS[activation]:
        _nn_fast.activation_backward(grad, x, ACTIVATIONS[activation], True,
                                     _threads(grad.size))


def bias_grad(grad, out):
    """OUT out (C,): grad summed over every axis but 1."""
    _nn_fast.channel_sums(_channels_view(grad), out, _threads(grad.size))


def apply_dropout(x, mask, scale):
    """IN/OUT x = x * mask * scale."""
    _nn_fast.dropout(x, mask, scale, _threads(x.size))


# ---------------------------------------------------------------------------------------------
# convolution

# Strided convolutions unfold a chunk of images into one column matrix, the images side by side
# (im2col, C++), so that each product is one 2-D BLAS call on contiguous operands (a stacked
# np.matmul over a transposed operand does not reach BLAS at speed). The chunks run on n_threads
# Python threads (the C++ kernels and BLAS release the GIL), each product on one BLAS thread:
# coarse, independent pieces of work, as the Numba kernels had. Finer splits fight on a busy
# machine: BLAS's threads hand each product over by spinning, and an OpenMP team waking between
# products fights BLAS's spinning threads for the cores (one chunk's product on 2 cores, median
# 15-30 ms against 1.7 ms on one thread; its im2col 16 ms against 0.4 ms). Chunks depend on the
# shapes alone and the weight gradient adds their products in chunk order, so results do not
# depend on the thread count.

# Values of a chunk's column matrix (2 MB in float64): enough for BLAS to run at speed, and
# chunks enough to share between threads.
_CHUNK_VALUES = 1 << 18


def _image_chunks(n_images, values_per_image):
    """[start, stop) of consecutive chunks of images, sized by the shapes alone."""
    step = max(1, min(n_images, _CHUNK_VALUES // max(values_per_image, 1)))
    return [(start, min(n_images, start + step)) for start in range(0, n_images, step)]


_blas_libraries = None
_pools = {}  # thread count -> ThreadPoolExecutor, made on first use


@contextmanager
def _one_blas_thread():
    """BLAS on one thread for the length of a with block (threadpoolctl's controllers, called
    directly: its limit() costs 11 us, as much as a small convolution's products)."""
    global _blas_libraries
    if _blas_libraries is None:  # looked up on first use: it scans the loaded libraries
        from threadpoolctl import ThreadpoolController
        _blas_libraries = ThreadpoolController().select(user_api="blas").lib_controllers
    before = [lib.get_num_threads() for lib in _blas_libraries]
    for lib, n in zip(_blas_libraries, before):
        if n != 1:
            lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in zip(_blas_libraries, before):
            if n != 1:
                lib.set_num_threads(n)


def _map_chunks(work, chunks, n_threads):
    """[work(start, stop) for each chunk], on up to n_threads threads, BLAS on one."""
    with _one_blas_thread():
        if n_threads == 1 or len(chunks) == 1:
            return [work(start, stop) for start, stop in chunks]
        n_threads = min(n_threads, len(chunks))
        if n_threads not in _pools:
            from concurrent.futures import ThreadPoolExecutor
            _pools[n_threads] = ThreadPoolExecutor(n_threads, "fastml-conv")
        return list(_pools[n_threads].map(lambda chunk: work(*chunk), chunks))


def conv2d(x, w, stride, padding, out, bias=None, activation="identity"):
    """OUT out (N, F, Ho, Wo): act(cross-correlation of x with the filters w + bias)."""
    n_threads = effective_n_threads()
    if stride == (1, 1):
        _conv_fast.forward(x, w, bias, *padding, out, n_threads)
        if activation != "identity":
            add_bias_activation(out, None, activation)
        return out
    F, C, KH, KW = w.shape
    N, _, Ho, Wo = out.shape
    rows, positions = C * KH * KW, Ho * Wo
    w2d = w.reshape(F, rows)

    def chunk(start, stop):
        cols = np.empty((rows, (stop - start) * positions), dtype=x.dtype)
        _nn_fast.im2col(x[start:stop], KH, KW, *stride, *padding, cols, 1)
        out[start:stop] = (w2d @ cols).reshape(F, stop - start, Ho, Wo).transpose(1, 0, 2, 3)

    _map_chunks(chunk, _image_chunks(N, rows * positions), n_threads)
    if bias is not None or activation != "identity":
        add_bias_activation(out, bias, activation)
    return out


def conv2d_grad(grad_out, x, w, stride, padding, grad_x, grad_w, grad_b=None):
    """OUT grad_x (skipped when None), OUT grad_w, OUT grad_b (skipped when None): gradients
    of the convolution."""
    F, C, KH, KW = w.shape
    n_threads = effective_n_threads()
    if stride == (1, 1):
        if grad_x is not None:
            # The input gradient is grad_out correlated with the filters turned by 180 degrees,
            # their channel axes swapped, under padding K - 1 - p (negative: cropped).
            turned = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            _conv_fast.forward(grad_out, turned, None, KH - 1 - padding[0], KW - 1 - padding[1],
                               grad_x, n_threads)
        bias_target = grad_b if grad_b is not None else np.empty(F, dtype=x.dtype)
        _conv_fast.weight_grad(grad_out, x, *padding, grad_w, bias_target, n_threads)
        return
    N, _, Ho, Wo = grad_out.shape
    rows, positions = C * KH * KW, Ho * Wo
    w2d = w.reshape(F, rows)

    def chunk(start, stop):
        """The chunk's weight gradient (F, rows); its images' input gradients into grad_x."""
        n = stop - start
        g = np.empty((F, n * positions), dtype=x.dtype)
        g.reshape(F, n, positions)[...] = (
            grad_out[start:stop].reshape(n, F, positions).transpose(1, 0, 2))
        cols = np.empty((rows, n * positions), dtype=x.dtype)
        _nn_fast.im2col(x[start:stop], KH, KW, *stride, *padding, cols, 1)
        chunk_grad_w = g @ cols.T
        if grad_x is not None:
            np.matmul(w2d.T, g, out=cols)  # the columns' gradients, in their place
            _nn_fast.col2im(cols, KH, KW, *stride, *padding, grad_x[start:stop], 1)
        return chunk_grad_w

    partial = _map_chunks(chunk, _image_chunks(N, rows * positions), n_threads)
    grad_w2d = grad_w.reshape(F, rows)
    grad_w2d[...] = partial[0]
    for p in partial[1:]:  # in chunk order
        grad_w2d += p
    if grad_b is not None:
        bias_grad(grad_out, grad_b)


# ---------------------------------------------------------------------------------------------
# pooling

def max_pool2d(x, kernel, stride, out, argmax):
    """OUT out, OUT argmax (int32): window maxima and the flat index of each in its plane."""
    _nn_fast.max_pool_forward(x, *kernel, *stride, out, argmax, effective_n_threads())


def max_pool2d_grad(grad_out, argmax, grad_x):
    _nn_fast.max_pool_backward(grad_out, argmax, grad_x, effective_n_threads())


def avg_pool2d(x, kernel, stride, out):
    _nn_fast.avg_pool_forward(x, *kernel, *stride, out, effective_n_threads())


def avg_pool2d_grad(grad_out, kernel, stride, grad_x):
    _nn_fast.avg_pool_backward(grad_out, *kernel, *stride, grad_x, effective_n_threads())


# ---------------------------------------------------------------------------------------------
# batch normalisation: statistics per channel over images and positions

def batch_norm(x, gamma, beta, eps, out, mean, inv_std):
    """OUT out, OUT mean, inv_std (float64): normalised by the batch's statistics."""
    _nn_fast.batch_norm_forward(_channels_view(x), gamma, beta, eps, _channels_view(out), mean,
                                inv_std, effective_n_threads())


def batch_norm_grad(grad_out, x, gamma, mean, inv_std, grad_x, grad_gamma, grad_beta):
    _nn_fast.batch_norm_backward(_channels_view(grad_out), _channels_view(x), gamma, mean,
                                 inv_std, _channels_view(grad_x), grad_gamma, grad_beta,
                                 effective_n_threads())


def batch_norm_fixed(x, gamma, beta, mean, var, eps, out):
    """OUT out: x normalised by fixed statistics mean and var (the running ones are float64;
    others are converted, as they are small)."""
    _nn_fast.batch_norm_inference(_channels_view(x), gamma, beta,
                                  np.ascontiguousarray(mean, dtype=np.float64),
                                  np.ascontiguousarray(var, dtype=np.float64), eps,
                                  _channels_view(out), effective_n_threads())


# ---------------------------------------------------------------------------------------------
# losses and optimizer steps (on one thread: see csrc/include/fastml/nn_ops.hpp)

def loss_and_grad(kind, output, target, weight, grad):
    """OUT grad: the loss gradient for the outputs, rows weighted by weight (float64, summing
    to 1); returns the weighted mean loss (a float)."""
    return _nn_fast.loss_and_grad(kind, output, target, weight, grad)


def sgd(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed):
    _nn_fast.sgd(params, grads, velocity, lr, momentum, nesterov, decay, n_decayed)


def adagrad(params, grads, accum, lr, eps, decay, n_decayed):
    _nn_fast.adagrad(params, grads, accum, lr, eps, decay, n_decayed)


def adam(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed):
    _nn_fast.adam(params, grads, m, v, step_size, beta_1, beta_2, eps, decay, n_decayed)
