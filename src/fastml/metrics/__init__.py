"""Distances and metrics on compiled cores."""
from ._cluster import silhouette_samples, silhouette_score
from ._ranking import (mean_average_precision, mean_reciprocal_rank, ndcg_at_k, precision_at_k,
                       recall_at_k)
from .pairwise import PAIRWISE_DISTANCE_METRICS, pairwise_distances, pairwise_distances_chunked

__all__ = ["PAIRWISE_DISTANCE_METRICS", "pairwise_distances", "pairwise_distances_chunked",
           "silhouette_samples", "silhouette_score",
           "mean_average_precision", "mean_reciprocal_rank", "ndcg_at_k", "precision_at_k",
           "recall_at_k"]
