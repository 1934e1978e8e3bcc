"""Distances and metrics on compiled cores."""
from ._classification import (accuracy_score, balanced_accuracy_score, classification_report,
                              confusion_matrix, f1_score, fbeta_score, log_loss,
                              matthews_corrcoef, precision_recall_fscore_support,
                              precision_score, recall_score)
from ._cluster import silhouette_samples, silhouette_score
from ._curves import average_precision_score, precision_recall_curve, roc_auc_score, roc_curve
from ._ranking import (mean_average_precision, mean_reciprocal_rank, ndcg_at_k, precision_at_k,
                       recall_at_k)
from ._regression import mean_absolute_error, mean_squared_error, r2_score
from .pairwise import PAIRWISE_DISTANCE_METRICS, pairwise_distances, pairwise_distances_chunked

__all__ = ["PAIRWISE_DISTANCE_METRICS", "pairwise_distances", "pairwise_distances_chunked",
           "silhouette_samples", "silhouette_score",
           "mean_average_precision", "mean_reciprocal_rank", "ndcg_at_k", "precision_at_k",
           "recall_at_k",
           "accuracy_score", "balanced_accuracy_score", "classification_report",
           "confusion_matrix", "f1_score", "fbeta_score", "log_loss", "matthews_corrcoef",
           "precision_recall_fscore_support", "precision_score", "recall_score",
           "average_precision_score", "precision_recall_curve", "roc_auc_score", "roc_curve",
           "mean_absolute_error", "mean_squared_error", "r2_score"]
