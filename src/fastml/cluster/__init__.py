"""Clustering on fastml's C++ cores: KMeans and kmeans_plusplus (k-means), AgglomerativeClustering,
ward_tree, linkage_tree and HDBSCAN (hierarchy)."""
from ._agglomerative import AgglomerativeClustering, linkage_tree, ward_tree
from ._hdbscan import HDBSCAN
from ._kmeans import KMeans, kmeans_plusplus

__all__ = ["KMeans", "kmeans_plusplus"]
__all__ += ["AgglomerativeClustering", "HDBSCAN", "linkage_tree", "ward_tree"]
