"""Distances and metrics on compiled cores."""
from ._cluster import silhouette_samples, silhouette_score
from .pairwise import PAIRWISE_DISTANCE_METRICS, pairwise_distances, pairwise_distances_chunked

__all__ = ["PAIRWISE_DISTANCE_METRICS", "pairwise_distances", "pairwise_distances_chunked",
           "silhouette_samples", "silhouette_score"]
