"""encode_bins's codes-only kernels (csrc/tree/binning_isa.cpp): each feature's thresholds are
turned into keys of X's type (the smallest value above each threshold) and counted in runs of 16;
the codes must be np.searchsorted's over the float64 thresholds for every value, those at and
next to a threshold and the infinities included. tests/test_simd_builds.py runs this file on the
narrower instruction-set builds."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal

from fastml.tree import _cart


def _searchsorted_codes(X, thresholds):
    codes = np.empty(X.shape, dtype=np.uint8)
    for f in range(X.shape[1]):
        finite = thresholds[f][thresholds[f] < np.inf]
        codes[:, f] = np.searchsorted(finite, X[:, f].astype(np.float64), side="left")
    codes[np.isnan(X)] = _cart.MISSING_BIN
    return codes


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", ["plain", "ties", "infinite", "huge", "float_gap"])
def test_codes_alone_are_searchsorted(dtype, case):
    rng = np.random.default_rng(0)
    counts = [0, 1, 2, 15, 16, 17, 100, _cart.MISSING_BIN - 1]
    n, F = 1200, len(counts)
    X = rng.standard_normal((n, F)).astype(dtype)
    thresholds = np.full((F, _cart.N_BINS), np.inf)
    for f, m in enumerate(counts):
        t = np.sort(rng.standard_normal(m))
        if case == "ties":  # equal thresholds side by side
            t = np.round(t, 1)
        elif case == "infinite" and m:
            t[0] = -np.inf
        elif case == "huge" and m:  # beyond float32's range: scikit-learn's cap is 1e300
            t[0], t[-1] = -1e300, 1e300
        elif case == "float_gap" and m > 2:  # thresholds between two adjacent floats
            t[-2:] = [0.5 + 2.0 ** -30, 0.5 + 2.0 ** -29]
            t.sort()
        thresholds[f, :m] = t
        if m:  # values at the thresholds and the next value of X's type above them
            with np.errstate(over="ignore"):  # 1e300 is +inf in float32
                at = t[rng.integers(0, m, n // 3)].astype(dtype)
            X[:n // 3, f] = at
            X[n // 3:2 * n // 3, f] = np.nextafter(at, np.array(np.inf, dtype=dtype))
    for value, share in [(np.nan, 0.05), (np.inf, 0.01), (-np.inf, 0.01),
                         (np.finfo(dtype).max, 0.01), (-0.0, 0.01)]:
        X[rng.random(X.shape) < share] = value
    expected = _searchsorted_codes(X, thresholds)
    for n_threads in (1, 2):
        codes, bounds = _cart.encode_bins(X, thresholds, n_threads, bounds=False)
        assert bounds is None
        assert_array_equal(codes, expected)
        # the booster's column-major copy, written beside them
        columns = np.empty(X.shape, dtype=np.uint8, order="F")
        codes, _ = _cart.encode_bins(X, thresholds, n_threads, bounds=False, columns=columns)
        assert_array_equal(codes, expected)
        assert_array_equal(columns, expected)
    # the forest's path (with bounds) gives the same codes
    assert_array_equal(_cart.encode_bins(X, thresholds, 1)[0], expected)
    # a block of rows cut short, and a single row
    assert_array_equal(_cart.encode_bins(X[:300], thresholds, 2, bounds=False)[0],
                       expected[:300])
    assert_array_equal(_cart.encode_bins(X[7:8], thresholds, 1, bounds=False)[0], expected[7:8])


def test_columns_are_checked():
    """columns: a writeable Fortran-ordered uint8 array of X's shape, with the codes alone."""
    X = np.zeros((10, 3), dtype=np.float32)
    thresholds = np.full((3, _cart.N_BINS), np.inf)
    for bad in (np.empty((10, 3), dtype=np.uint8), np.empty((10, 2), np.uint8, order="F"),
                np.empty((10, 3), np.int16, order="F")):
        with pytest.raises(ValueError, match="columns"):
            _cart.encode_bins(X, thresholds, 1, bounds=False, columns=bad)
    read_only = np.empty((10, 3), np.uint8, order="F")
    read_only.flags.writeable = False
    with pytest.raises(ValueError, match="columns"):
        _cart.encode_bins(X, thresholds, 1, bounds=False, columns=read_only)
    with pytest.raises(ValueError, match="bounds=False"):
        _cart.encode_bins(X, thresholds, 1, columns=np.empty((10, 3), np.uint8, order="F"))


def test_simd_build_is_named():
    assert _cart.simd_build() in ("baseline", "x86_64_v3", "x86_64_v4")
