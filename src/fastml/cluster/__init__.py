"""Clustering on fastml's C++ cores: KMeans and kmeans_plusplus (k-means), DBSCAN and dbscan
(density), AgglomerativeClustering, ward_tree, linkage_tree and HDBSCAN (hierarchy)."""
from ._agglomerative import AgglomerativeClustering, linkage_tree, ward_tree
from ._dbscan import DBSCAN, dbscan
from ._hdbscan import HDBSCAN
from ._kmeans import KMeans, kmeans_plusplus

__all__ = ["AgglomerativeClustering", "DBSCAN", "HDBSCAN", "KMeans", "dbscan", "kmeans_plusplus",
           "linkage_tree", "ward_tree"]
