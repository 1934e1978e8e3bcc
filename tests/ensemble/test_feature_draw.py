"""_boost_dist_fast.FeatureDraw: the booster's per-tree stream of feature draws under
max_features < 1 (csrc/boost/feature_draw.hpp), as the distributed booster's client reads it.
That it is the grower's own stream is tested by the trees (tests/dask/test_boosting.py)."""
import math

import numpy as np
import pytest

from fastml.ensemble import _boost_dist_fast


@pytest.mark.parametrize("fraction", [0.01, 0.3, 0.5, 0.99])
@pytest.mark.parametrize("n", [1, 2, 7, 40])
def test_draws_are_sorted_subsets_of_the_stated_size(fraction, n):
    allowed = np.sort(np.random.default_rng(n).choice(100, n, replace=False)).astype(np.int32)
    draw = _boost_dist_fast.FeatureDraw(fraction, 11)
    for _ in range(5):
        got = draw(allowed)
        assert got.dtype == np.int32
        assert len(got) == min(n, max(1, math.ceil(fraction * n)))
        assert np.all(np.diff(got) > 0) and np.isin(got, allowed).all()


def test_one_stream_per_seed():
    allowed = np.arange(30, dtype=np.int32)
    a, b = _boost_dist_fast.FeatureDraw(0.3, 5), _boost_dist_fast.FeatureDraw(0.3, 5)
    first = [a(allowed) for _ in range(4)]
    for got in first:
        np.testing.assert_array_equal(got, b(allowed))
    # the stream moves on from node to node, and another seed draws otherwise
    assert any((x != first[0]).any() for x in first[1:])
    other = _boost_dist_fast.FeatureDraw(0.3, 6)
    assert any((other(allowed) != x).any() for x in first)


def test_checks():
    with pytest.raises(ValueError, match="fraction"):
        _boost_dist_fast.FeatureDraw(0.0, 1)
    with pytest.raises(ValueError, match="fraction"):
        _boost_dist_fast.FeatureDraw(1.5, 1)
    draw = _boost_dist_fast.FeatureDraw(0.5, 1)
    with pytest.raises(ValueError, match="allowed"):
        draw(np.zeros(0, dtype=np.int32))
    with pytest.raises(ValueError, match="allowed"):
        draw(np.arange(4, dtype=np.int64))
