"""Binary threshold curves and the areas under them, with scikit-learn's signatures, checks,
warnings and results: roc_curve, precision_recall_curve, roc_auc_score,
average_precision_score.

For binary integer (or boolean) labels and 1-D numeric scores, the compiled core sorts the scores
(a stable radix sort, float32 kept) and sweeps them once for the cumulative counts at each
distinct score; roc_auc_score takes the area from that sweep without building the curve. Sums
run in float64 in scikit-learn's order (descending score, ties in sample order), so curves match
scikit-learn's value for value. Multiclass and multilabel targets and every other input are
handed to scikit-learn's function of the same name.
"""
import warnings

import numpy as np
import sklearn.metrics as sk
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.utils import assert_all_finite, check_array, check_consistent_length, column_or_1d

from ..utils._sklearn_compat import check_pos_label_consistency, check_sample_weight
from . import _clf_fast
from ._classification import validated_like
from ._labels import LabelScan, integer_labels

__all__ = ["average_precision_score", "precision_recall_curve", "roc_auc_score", "roc_curve"]


def _numeric_scores(y_score):
    """y_score as a 1-D float array the core sorts (integers as float64), or None."""
    if isinstance(y_score, (str, bytes)) or hasattr(y_score, "toarray"):
        return None
    try:
        s = np.asarray(y_score)
    except Exception:  # noqa: BLE001 - scikit-learn says what is wrong
        return None
    if s.ndim == 2 and s.shape[1] == 1:
        s = s[:, 0]
    if s.ndim != 1 or s.dtype.kind not in "fiub" or s.dtype == np.float16 or s.size == 0:
        return None
    return s


def _sweep_inputs(is_pos, score, sample_weight):
    """The arrays the core reads, zero-weight samples left out as scikit-learn leaves them."""
    check_consistent_length(is_pos, score, sample_weight)
    score = column_or_1d(score)
    assert_all_finite(score)
    weight = None
    if sample_weight is not None:
        weight = check_sample_weight(column_or_1d(sample_weight), is_pos)
        weight = np.ascontiguousarray(weight, dtype=np.float64)
        nonzero = weight != 0
        if not nonzero.all():
            is_pos, score, weight = is_pos[nonzero], score[nonzero], weight[nonzero]
    if score.dtype not in (np.float32, np.float64):
        score = score.astype(np.float64)
    return (np.ascontiguousarray(is_pos.view(np.uint8)), np.ascontiguousarray(score), weight)


def _binary_counts(y_true, y_score, pos_label, sample_weight):
    """(fps, tps, thresholds) as scikit-learn's confusion_matrix_at_thresholds computes them,
    or None where the input does not take the compiled path."""
    a, score = integer_labels(y_true), _numeric_scores(y_score)
    if a is None or score is None:
        return None
    scan = LabelScan(a)
    present = scan.values[0]
    y_type = "binary" if present.size <= 2 else "multiclass"
    if not (y_type == "binary" or (y_type == "multiclass" and pos_label is not None)):
        raise ValueError("{0} format is not supported".format(y_type))
    # The distinct labels stand for y_true: the check looks at nothing else.
    pos_label = check_pos_label_consistency(pos_label, present)
    is_pos = scan.arrays[0] == pos_label
    is_pos, sorted_score, weight = _sweep_inputs(is_pos, score, sample_weight)
    if sorted_score.size == 0:
        return None
    fps, tps, thresholds = _clf_fast.threshold_counts(sorted_score, is_pos, weight,
                                                      scan.n_threads)
    if score.dtype.kind != "f":
        thresholds = thresholds.astype(score.dtype)
    return fps, tps, thresholds


@validated_like(sk.roc_curve)
def roc_curve(y_true, y_score, *, pos_label=None, sample_weight=None, drop_intermediate=True):
    """Receiver operating characteristic, as :func:`sklearn.metrics.roc_curve`."""
    counts = _binary_counts(y_true, y_score, pos_label, sample_weight)
    if counts is None:
        return sk.roc_curve(y_true, y_score, pos_label=pos_label, sample_weight=sample_weight,
                            drop_intermediate=drop_intermediate)
    fps, tps, thresholds = counts
    if drop_intermediate and fps.shape[0] > 2:
        # Points on a straight line between their neighbours add nothing to the curve.
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)),
                                    True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    tps = np.r_[0.0, tps]
    fps = np.r_[0.0, fps]
    thresholds = np.r_[np.inf, thresholds.astype(np.float64)]
    return _rate(fps, "negative"), _rate(tps, "positive"), thresholds


def _rate(counts, kind):
    if counts[-1] <= 0:
        what = "false" if kind == "negative" else "true"
        warnings.warn(f"No {kind} samples in y_true, {what} positive value should be "
                      "meaningless", UndefinedMetricWarning, stacklevel=3)
        return np.full(counts.shape, np.nan)
    return counts / counts[-1]


@validated_like(sk.precision_recall_curve)
def precision_recall_curve(y_true, y_score, *, pos_label=None, sample_weight=None,
                           drop_intermediate=False):
    """Precision-recall pairs for every threshold, as
    :func:`sklearn.metrics.precision_recall_curve`."""
    counts = _binary_counts(y_true, y_score, pos_label, sample_weight)
    if counts is None:
        return sk.precision_recall_curve(y_true, y_score, pos_label=pos_label,
                                         sample_weight=sample_weight,
                                         drop_intermediate=drop_intermediate)
    fps, tps, thresholds = counts
    if drop_intermediate and fps.shape[0] > 2:
        # Thresholds where the true positives do not change give the same recall.
        keep = np.flatnonzero(np.r_[True, np.logical_or(np.diff(tps[:-1]), np.diff(tps[1:])),
                                    True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    ps = tps + fps
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(ps != 0, np.divide(tps, ps), 0.0)
    if tps[-1] == 0:
        warnings.warn("No positive class found in y_true, recall is set to one for all "
                      "thresholds.", stacklevel=2)
        recall = np.full(tps.shape, 1.0)
    else:
        recall = tps / tps[-1]
    return (np.r_[np.flip(precision), 1.0], np.r_[np.flip(recall), 0.0], np.flip(thresholds))


@validated_like(sk.roc_auc_score)
def roc_auc_score(y_true, y_score, *, average="macro", sample_weight=None, max_fpr=None,
                  multi_class="raise", labels=None):
    """Area under the ROC curve, as :func:`sklearn.metrics.roc_auc_score`. Binary targets with
    1-D scores are sorted and swept by the compiled core, which sums the area exactly for
    unweighted samples and normalises it once; multiclass and multilabel targets are scored by
    scikit-learn."""
    a, score = integer_labels(y_true), _numeric_scores(y_score)
    scan = None if a is None or score is None else LabelScan(a)
    if scan is None or scan.values[0].size > 2:
        return sk.roc_auc_score(y_true, y_score, average=average, sample_weight=sample_weight,
                                max_fpr=max_fpr, multi_class=multi_class, labels=labels)
    check_array(score, ensure_2d=False)  # scikit-learn's errors for NaN and infinity
    if sample_weight is not None:
        sample_weight = column_or_1d(sample_weight)
    present = scan.values[0]
    if present.size != 2:
        warnings.warn("Only one class is present in y_true. ROC AUC score is not defined in "
                      "that case.", UndefinedMetricWarning, stacklevel=2)
        return np.nan
    is_pos = scan.arrays[0] == present[1]  # label_binarize's positive class: the larger label
    if max_fpr is not None and max_fpr != 1:
        fpr, tpr, _ = roc_curve(is_pos.astype(np.int64), score, sample_weight=sample_weight)
        stop = np.searchsorted(fpr, max_fpr, "right")
        x_interp = [fpr[stop - 1], fpr[stop]]
        y_interp = [tpr[stop - 1], tpr[stop]]
        tpr = np.append(tpr[:stop], np.interp(max_fpr, x_interp, y_interp))
        fpr = np.append(fpr[:stop], max_fpr)
        partial_auc = sk.auc(fpr, tpr)
        # McClish correction: 0.5 for a chance curve, 1 for a perfect one.
        min_area = 0.5 * max_fpr**2
        max_area = max_fpr
        return 0.5 * (1 + (partial_auc - min_area) / (max_area - min_area))
    is_pos, score, weight = _sweep_inputs(is_pos, score, sample_weight)
    if score.size == 0:
        return sk.roc_auc_score(y_true, y_score, average=average, sample_weight=sample_weight,
                                max_fpr=max_fpr, multi_class=multi_class, labels=labels)
    area, n_pos, n_neg = _clf_fast.roc_auc(score, is_pos, weight, scan.n_threads)
    if n_neg <= 0:
        _rate(np.zeros(1), "negative")
    if n_pos <= 0:
        _rate(np.zeros(1), "positive")
    return float(area)


@validated_like(sk.average_precision_score)
def average_precision_score(y_true, y_score, *, average="macro", pos_label=1,
                            sample_weight=None):
    """Average precision, as :func:`sklearn.metrics.average_precision_score`; binary targets
    with 1-D scores on the compiled sweep."""
    a, score = integer_labels(y_true), _numeric_scores(y_score)
    scan = None if a is None or score is None else LabelScan(a)
    if scan is None or scan.values[0].size > 2:
        return sk.average_precision_score(y_true, y_score, average=average, pos_label=pos_label,
                                          sample_weight=sample_weight)
    if sample_weight is not None:
        sample_weight = column_or_1d(sample_weight)
    present = scan.values[0]
    if present.shape[0] == 2 and pos_label not in present:
        raise ValueError(f"pos_label={pos_label} is not a valid label. It should be one of "
                         f"{present}")
    precision, recall, _ = precision_recall_curve(y_true, y_score, pos_label=pos_label,
                                                  sample_weight=sample_weight)
    return float(max(0.0, -np.sum(np.diff(recall) * precision[:-1])))
