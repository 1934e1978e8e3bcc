"""Distances and metrics on compiled cores."""
from .pairwise import PAIRWISE_DISTANCE_METRICS, pairwise_distances, pairwise_distances_chunked

__all__ = ["PAIRWISE_DISTANCE_METRICS", "pairwise_distances", "pairwise_distances_chunked"]
