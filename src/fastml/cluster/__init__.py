"""Clustering on fastml's C++ cores: KMeans, kmeans_plusplus, DBSCAN and dbscan."""
from ._dbscan import DBSCAN, dbscan
from ._kmeans import KMeans, kmeans_plusplus

__all__ = ["DBSCAN", "KMeans", "dbscan", "kmeans_plusplus"]
