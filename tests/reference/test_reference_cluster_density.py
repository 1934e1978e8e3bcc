"""The brute-force DBSCAN reference against scikit-learn, and its labelling against a plain
connected-components reading of DBSCAN."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from scipy.sparse.csgraph import connected_components
from sklearn.cluster import DBSCAN
from sklearn.datasets import load_iris

from fastml.reference import cluster_density as reference


@pytest.mark.parametrize("metric,p", [("euclidean", 2.0), ("manhattan", 2.0),
                                      ("chebyshev", 2.0), ("minkowski", 3.0)])
@pytest.mark.parametrize("eps,min_samples", [(0.3, 4), (0.5, 10)])
def test_matches_scikit_learn_on_iris(metric, p, eps, min_samples):
    X = load_iris().data
    core, labels = reference.dbscan(X, eps, min_samples, metric, p)
    theirs = DBSCAN(eps=eps, min_samples=min_samples, metric=metric, p=p).fit(X)
    assert_array_equal(core, theirs.core_sample_indices_)
    assert_array_equal(labels, theirs.labels_)


def test_clusters_are_components_of_core_samples(rng):
    X = rng.normal(size=(300, 2))
    core, labels = reference.dbscan(X, 0.2, 4)
    within = reference.reduced_distances(X[core], X[core]) <= 0.04
    n, components = connected_components(within, directed=False)
    # the same partition of the core samples, numbered by their lowest member
    first = {c: np.flatnonzero(components == c)[0] for c in range(n)}
    order = sorted(range(n), key=lambda c: first[c])
    renumbered = np.array([order.index(c) for c in components])
    assert_array_equal(labels[core], renumbered)
