"""k-means clustering on fastml's C++ core: KMeans and kmeans_plusplus."""
from ._kmeans import KMeans, kmeans_plusplus

__all__ = ["KMeans", "kmeans_plusplus"]
