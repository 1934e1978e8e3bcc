"""The reference itself against SciPy, so that the oracle can be trusted."""
import numpy as np
import pytest
from scipy.spatial.distance import cdist

from fastml.reference import distances as reference

SCIPY_NAMES = {"euclidean": "euclidean", "sqeuclidean": "sqeuclidean", "manhattan": "cityblock",
               "chebyshev": "chebyshev", "minkowski": "minkowski", "cosine": "cosine",
               "hamming": "hamming"}


@pytest.mark.parametrize("metric", sorted(SCIPY_NAMES))
def test_reference_matches_scipy(metric):
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(15, 6)), rng.normal(size=(11, 6))
    if metric == "hamming":
        X, Y = np.round(X), np.round(Y)
    kwds = {"p": 3.0} if metric == "minkowski" else {}
    np.testing.assert_allclose(reference.pairwise_distances(X, Y, metric, **kwds),
                               cdist(X, Y, SCIPY_NAMES[metric], **kwds), rtol=1e-12, atol=1e-14)


def test_reference_jaccard_matches_scipy_on_booleans():
    rng = np.random.default_rng(2)
    X, Y = rng.random((12, 9)) < 0.4, rng.random((10, 9)) < 0.4
    X[0] = Y[0] = False  # scipy defines 0/0 as 0, like the reference
    np.testing.assert_allclose(reference.pairwise_distances(X, Y, "jaccard"),
                               cdist(X, Y, "jaccard"))


def test_reference_rejects_unknown_metric():
    with pytest.raises(ValueError, match="unknown metric"):
        reference.pairwise_distances(np.ones((2, 2)), metric="nope")
