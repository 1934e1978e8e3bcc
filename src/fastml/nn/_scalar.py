"""Scalar functions of the kernels, written once in plain Python: ``_kernels_cuda`` compiles
them (``cuda.jit(device=True)``); the C++ CPU core writes the same formulas out in
csrc/include/fastml/nn_ops.hpp, and tests/nn/test_nn_core.py holds it to these functions,
evaluated in double, to the bit."""
import math

# Activation codes (scikit-learn's names).
ACTIVATIONS = {"identity": 0, "relu": 1, "tanh": 2, "logistic": 3}


def activate(v, code):
    if code == 1:
        return v if v > 0 else v * 0
    if code == 2:
        return math.tanh(v)
    if code == 3:
        return 1 / (1 + math.exp(-v))
    return v


def derivative_from_output(y, code):
    """The activation's derivative expressed through its output y = act(z)."""
    if code == 1:
        return 1 if y > 0 else 0
    if code == 2:
        return 1 - y * y
    if code == 3:
        return y * (1 - y)
    return 1


def window_max(x, n, c, y0, x0, kh, kw):
    """(maximum, its flat index in the H x W plane) of the kh x kw window of image n, channel
    c at (y0, x0): the first maximum in row-major order wins, and a NaN wins like in np.max."""
    W = x.shape[3]
    best = x[n, c, y0, x0]
    where = y0 * W + x0
    for dy in range(kh):
        for dx in range(kw):
            v = x[n, c, y0 + dy, x0 + dx]
            if v > best or (v != v and best == best):
                best = v
                where = (y0 + dy) * W + x0 + dx
    return best, where
