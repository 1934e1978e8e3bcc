"""Plain NumPy versions of the classification-metric core (fastml.metrics._clf_fast): confusion
counts with np.add.at, and the curve sweep and ROC area from a stable argsort."""
import numpy as np


def confusion_counts(code_true, code_pred, k, sample_weight=None, kind="matrix"):
    """Counts of label codes in [0, k) (-1: not counted): kind "matrix" (k x k) or "sums"
    (3 x k: true positives, true totals, predicted totals). int64, or float64 with weights."""
    t = np.asarray(code_true, dtype=np.int64)
    p = np.asarray(code_pred, dtype=np.int64)
    w = np.ones(t.shape[0], dtype=np.int64) if sample_weight is None else \
        np.asarray(sample_weight)
    if kind == "matrix":
        out = np.zeros((k, k), dtype=w.dtype)
        both = (t >= 0) & (p >= 0)
        np.add.at(out, (t[both], p[both]), w[both])
        return out
    out = np.zeros((3, k), dtype=w.dtype)
    np.add.at(out[0], t[(t >= 0) & (t == p)], w[(t >= 0) & (t == p)])
    np.add.at(out[1], t[t >= 0], w[t >= 0])
    np.add.at(out[2], p[p >= 0], w[p >= 0])
    return out


def descending_order(score):
    """Positions by decreasing score, equal scores in increasing position."""
    score = np.asarray(score)
    n = score.shape[0]
    return n - 1 - np.argsort(score[::-1], kind="stable")[::-1]


def threshold_counts(score, is_pos, sample_weight=None):
    """(fps, tps, thresholds) at each distinct score, scores decreasing."""
    order = descending_order(score)
    s = np.asarray(score)[order]
    y = np.asarray(is_pos, dtype=np.float64)[order]
    w = np.ones_like(y) if sample_weight is None else np.asarray(sample_weight)[order]
    last = np.r_[np.flatnonzero(s[1:] != s[:-1]), s.shape[0] - 1]
    tps = np.cumsum(y * w)[last]
    fps = np.cumsum((1 - y) * w)[last]
    return fps, tps, s[last]


def roc_auc(score, is_pos, sample_weight=None):
    """Area under the ROC curve by the trapezoidal rule over the distinct-score points."""
    fps, tps, _ = threshold_counts(score, is_pos, sample_weight)
    if fps[-1] <= 0 or tps[-1] <= 0:
        return np.nan
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1]) / 2))


def log_loss_rows(prob, code, eps):
    """-log(clip(prob[i, code[i]], eps, 1 - eps)) per row."""
    prob = np.asarray(prob)
    p = prob[np.arange(prob.shape[0]), np.asarray(code)]
    return -np.log(np.clip(p, eps, 1 - eps))
