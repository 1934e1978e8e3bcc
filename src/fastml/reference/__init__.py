"""Plain NumPy implementations of fastml's compiled cores: slow, obviously correct, and the oracle
the tests compare the cores against. One module per core."""
from . import (boosting, cart, cluster_density, decomposition, distances, hierarchy, kmeans,
               linear, logistic, metrics, mf, naive_bayes, neighbors, nn, text)

__all__ = ["boosting", "cart", "cluster_density", "decomposition", "distances", "hierarchy",
           "kmeans", "linear", "logistic", "metrics", "mf", "naive_bayes", "neighbors", "nn",
           "text"]
