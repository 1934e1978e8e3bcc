"""The stride-1 convolution core (fastml.nn._conv_fast, csrc/nn) against fastml.reference.nn.

The shapes sit on the edges of the kernels' register tiles (16 float32 lanes, blocks of 8
filters and 6 taps in the AVX-512 build; 8 lanes, 4 filters and 5 taps in the AVX2 one): output
widths a lane either side of whole vectors, filter counts one past a block, more images than the
weight gradient's fixed blocks, partial tap tiles, kernels larger than the input, and paddings
past the kernel, where the input gradient's correlation crops instead of padding.
"""
import sys

import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml import config_context
from fastml.nn import _conv_fast as core
from fastml.nn import functional as F
from fastml.reference import nn as R

from .test_functional import RTOL, _close, _rand

CORE_CASES = [  # N, C, H, W, filters, KH, KW, padding
    (1, 1, 1, 1, 1, 1, 1, 0),
    (2, 3, 4, 17, 9, 3, 3, 1),           # 17 columns: a 16-lane vector and one lane
    (3, 2, 5, 16, 8, 3, 3, 1),           # whole vectors, one whole filter block
    (2, 2, 3, 33, 17, 1, 3, (0, 1)),
    (17, 2, 4, 5, 3, 2, 2, 0),           # more images than the gradient's 16 blocks
    (2, 5, 6, 7, 70, 5, 5, 2),           # more filters than one gradient tile holds
    (1, 3, 3, 4, 2, 2, 3, (3, 2)),       # padding past the kernel: the input gradient crops
    (2, 1, 9, 2, 4, 4, 1, (1, 0)),
    (3, 4, 6, 6, 33, 3, 2, (0, 1)),
    (2, 2, 3, 15, 5, 3, 1, (1, 0)),      # 15 columns: a lane short of a 16-lane vector
    (2, 1, 2, 31, 3, 1, 1, 0),           # 31 columns
    (2, 1, 3, 5, 3, 1, 2, (0, 4)),       # cropped in width only
    (1, 2, 2, 2, 4, 3, 3, 1),            # kernel larger than the input, not the padded one
]


def _case(case, dtype, rng):
    N, C, H, W, n_filters, KH, KW, padding = case
    x = _rand(rng, (N, C, H, W), dtype)
    w = _rand(rng, (n_filters, C, KH, KW), dtype)
    b = _rand(rng, (n_filters,), dtype)
    return x, w, b, padding


@pytest.mark.parametrize("case", CORE_CASES, ids=str)
def test_core_matches_the_reference(case, dtype, rng):
    x, w, b, padding = _case(case, dtype, rng)
    rtol = RTOL[np.dtype(dtype)]
    for bias in (b, None):
        y = F.conv2d(x, w, bias, padding=padding)
        assert y.dtype == dtype
        _close(y, R.conv2d(x, w, bias, padding=padding), rtol)
    g = _rand(rng, y.shape, dtype)
    for got, expected in zip(F.conv2d_backward(g, x, w, padding=padding),
                             R.conv2d_backward(g, x, w, padding=padding)):
        assert got.dtype == dtype
        _close(got, expected, rtol)


def test_core_with_more_threads_than_images(dtype, rng):
    x, w, b, _ = _case((2, 3, 5, 7, 4, 3, 3, 1), dtype, rng)
    rtol = RTOL[np.dtype(dtype)]
    out = np.empty((2, 4, 5, 7), dtype)
    core.forward(x, w, b, 1, 1, out, 8)
    _close(out, R.conv2d(x, w, b, padding=1), rtol)
    g = _rand(rng, out.shape, dtype)
    grad_w, grad_b = np.empty_like(w), np.empty_like(b)
    core.weight_grad(g, x, 1, 1, grad_w, grad_b, 8)
    _, expected_w, expected_b = R.conv2d_backward(g, x, w, padding=1)
    _close(grad_w, expected_w, rtol)
    _close(grad_b, expected_b, rtol)


def test_core_results_do_not_depend_on_the_thread_count(dtype, rng):
    x, w, b, padding = _case((37, 3, 6, 19, 11, 3, 3, 1), dtype, rng)
    g = _rand(rng, (37, 11, 6, 19), dtype)
    results = []
    for n_threads in (1, 2, 3):
        with config_context(n_jobs=n_threads):
            results.append([F.conv2d(x, w, b, padding=padding),
                            *F.conv2d_backward(g, x, w, padding=padding)])
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert_array_equal(a, b)


def _valid_arguments(dtype):
    rng = np.random.default_rng(0)
    x, w, b = _rand(rng, (2, 3, 5, 6), dtype), _rand(rng, (4, 3, 3, 3), dtype), _rand(rng, 4, dtype)
    return dict(x=x, w=w, b=b, out=np.zeros((2, 4, 5, 6), dtype),
                grad_out=_rand(rng, (2, 4, 5, 6), dtype), grad_w=np.zeros_like(w),
                grad_b=np.zeros(4, dtype))


def _forward(a, **changes):
    a = {**a, **changes}
    core.forward(a["x"], a["w"], a["b"], a.get("pad_h", 1), 1, a["out"], a.get("n_threads", 1))


def _weight_grad(a, **changes):
    a = {**a, **changes}
    core.weight_grad(a["grad_out"], a["x"], a.get("pad_h", 1), 1, a["grad_w"], a["grad_b"],
                     a.get("n_threads", 1))


ENTRY_ERRORS = [  # (call, changes, error, message)
    (_forward, dict(x=np.zeros((2, 3, 5, 6), np.float16)), TypeError, None),
    (_forward, dict(out=np.zeros((2, 4, 6, 5)).T.copy().T), TypeError, None),  # not C-contiguous
    (_forward, dict(out=np.zeros((2, 4, 5, 5))), ValueError, "out has the wrong shape"),
    (_forward, dict(b=np.zeros(5)), ValueError, "bias has the wrong shape"),
    (_forward, dict(b=np.zeros(4, np.float16)), TypeError, "bias must be"),
    (_forward, dict(w=np.zeros((4, 2, 3, 3))), ValueError, "channels"),
    (_forward, dict(x=np.zeros((0, 3, 5, 6))), ValueError, "x must not be empty"),
    (_forward, dict(pad_h=-2), ValueError, "larger than the padded input"),
    (_forward, dict(pad_h=-5), ValueError, "padding is out of range"),
    (_forward, dict(pad_h=2**63 - 1), ValueError, "padding is out of range"),
    (_forward, dict(n_threads=0), ValueError, "n_threads"),
    (_weight_grad, dict(grad_out=np.zeros((2, 4, 5, 5))), ValueError, "grad_out has the wrong"),
    (_weight_grad, dict(grad_b=np.zeros(3)), ValueError, "grad_b has the wrong shape"),
    (_weight_grad, dict(grad_w=np.zeros((4, 3, 3))), ValueError, "4-dimensional"),
    (_weight_grad, dict(grad_w=np.zeros((4, 3, 3, 3), np.float32)), TypeError, None),
    (_weight_grad, dict(n_threads=-1), ValueError, "n_threads"),
]


@pytest.mark.parametrize("call, changes, error, message", ENTRY_ERRORS,
                         ids=[f"{c.__name__}-{'-'.join(ch)}-{i}"
                              for i, (c, ch, _, _) in enumerate(ENTRY_ERRORS)])
def test_core_entry_checks(call, changes, error, message):
    arguments = _valid_arguments(np.float64)
    untouched = {k: v.copy() for k, v in arguments.items()}
    with pytest.raises(error, match=message):
        call(arguments, **changes)
    for name, value in arguments.items():
        assert_array_equal(value, untouched[name], err_msg=f"{name} changed by a failed call")


def test_core_repeated_calls_do_not_leak_references(dtype):
    arguments = _valid_arguments(dtype)
    before = {k: sys.getrefcount(v) for k, v in arguments.items()}
    for _ in range(30):
        _forward(arguments)
        _forward(arguments, b=None)
        _weight_grad(arguments)
        with pytest.raises(ValueError):
            _forward(arguments, n_threads=0)
    assert {k: sys.getrefcount(v) for k, v in arguments.items()} == before
