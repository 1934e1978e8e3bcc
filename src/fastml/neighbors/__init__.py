"""Nearest-neighbour estimators on fastml's compiled brute-force search."""
from ._estimators import KNeighborsClassifier, KNeighborsRegressor, NearestNeighbors

__all__ = ["KNeighborsClassifier", "KNeighborsRegressor", "NearestNeighbors"]
