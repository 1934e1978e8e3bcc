"""Classification metrics with scikit-learn's signatures, checks, warnings and results.

Integer and boolean labels (the output of nearly every classifier) take the compiled path: one
scan finds the labels and the target type (fastml.metrics._labels), one pass of the core counts
the confusion matrix or the per-label sums, and the small arrays that come out are turned into
the metric exactly as scikit-learn turns its own (its _prf_divide, _nanaverage and _average).
Any other input (string or float labels, multilabel indicators, sparse targets, empty arrays,
average="samples") is handed to scikit-learn's function of the same name, so that every argument
combination gives scikit-learn's answer.

Each function validates its parameters against scikit-learn's own constraints.
"""
import warnings

import numpy as np
import sklearn.metrics as sk
from sklearn.utils import check_array, check_consistent_length, column_or_1d

from .._backend import effective_n_threads
from ..utils._sklearn_compat import (check_zero_division, nanaverage, parameter_constraints,
                                     prf_divide, validate_params, weighted_average)
from . import _clf_fast
from ._labels import LabelScan, check_targets, integer_labels

__all__ = ["accuracy_score", "balanced_accuracy_score", "classification_report",
           "confusion_matrix", "f1_score", "fbeta_score", "log_loss", "matthews_corrcoef",
           "precision_recall_fscore_support", "precision_score", "recall_score"]


def validated_like(sklearn_function):
    """Validate the parameters as scikit-learn's function of the same name does."""
    return validate_params(parameter_constraints(sklearn_function),
                           prefer_skip_nested_validation=True)


@validated_like(sk.accuracy_score)
def accuracy_score(y_true, y_pred, *, normalize=True, sample_weight=None):
    """Accuracy classification score, as :func:`sklearn.metrics.accuracy_score`."""
    targets = check_targets(y_true, y_pred, sample_weight)
    if targets is None:
        return sk.accuracy_score(y_true, y_pred, normalize=normalize, sample_weight=sample_weight)
    score = targets.y_true == targets.y_pred
    return float(weighted_average(score, weights=targets.sample_weight, normalize=normalize))


@validated_like(sk.confusion_matrix)
def confusion_matrix(y_true, y_pred, *, labels=None, sample_weight=None, normalize=None):
    """Confusion matrix, as :func:`sklearn.metrics.confusion_matrix`; counted in one compiled
    pass for integer labels."""
    targets = check_targets(y_true, y_pred, sample_weight)
    numeric_labels = labels is None or np.asarray(labels).dtype.kind in "biuf"
    if targets is None or not numeric_labels:
        return sk.confusion_matrix(y_true, y_pred, labels=labels, sample_weight=sample_weight,
                                   normalize=normalize)
    if labels is None:
        labels = targets.labels
    else:
        labels = np.asarray(labels)
        if labels.size == 0:
            raise ValueError("'labels' should contain at least one label.")
        if not np.any(np.isin(labels, targets.scan.values[0])):
            raise ValueError("At least one label specified must be in y_true")
    cm = targets.counts(labels, "matrix")
    with np.errstate(all="ignore"):
        if normalize == "true":
            cm = cm / cm.sum(axis=1, keepdims=True)
        elif normalize == "pred":
            cm = cm / cm.sum(axis=0, keepdims=True)
        elif normalize == "all":
            cm = cm / cm.sum()
        cm = np.nan_to_num(cm)
    if cm.shape == (1, 1):
        warnings.warn("A single label was found in 'y_true' and 'y_pred'. For the confusion "
                      "matrix to have the correct shape, use the 'labels' parameter to pass "
                      "all known labels.", UserWarning, stacklevel=2)
    return cm


def _set_wise_labels(targets, average, labels, pos_label):
    """The labels a set-wise metric reports, as scikit-learn's _check_set_wise_labels."""
    present = targets.labels
    if average == "binary":
        if targets.y_type == "binary":
            if pos_label not in present and len(present) >= 2:
                raise ValueError(f"pos_label={pos_label} is not a valid label. It should be "
                                 f"one of {present}")
            return [pos_label]
        raise ValueError("Target is %s but average='binary'. Please choose another average "
                         "setting, one of %r." % (targets.y_type,
                                                  [None, "micro", "macro", "weighted"]))
    if pos_label not in (None, 1):
        warnings.warn("Note that pos_label (set to %r) is ignored when average != 'binary' "
                      "(got %r). You may use labels=[pos_label] to specify a single positive "
                      "class." % (pos_label, average), UserWarning, stacklevel=3)
    return labels


def _label_sums(targets, labels):
    """(tp_sum, pred_sum, true_sum) per label of `labels` (None: the present labels), as
    scikit-learn's multilabel_confusion_matrix gives them: int64 counts, or float64 sums when
    there are sample weights."""
    if labels is None:
        labels = targets.labels
    sums = targets.counts(labels, "sums", float_weights=True)
    tp, true, pred = sums[0], sums[1], sums[2]
    # scikit-learn rebuilds the totals as tp + (total - tp): the same rounding for weights.
    return tp, tp + (pred - tp), tp + (true - tp)


def _prf_from_sums(tp_sum, pred_sum, true_sum, *, beta, average, warn_for, zero_division):
    """Precision, recall, F-beta and support from per-label sums, as scikit-learn computes
    them (average="samples" never comes here)."""
    if average == "micro":
        tp_sum = np.reshape(np.sum(tp_sum), (1,))
        pred_sum = np.reshape(np.sum(pred_sum), (1,))
        true_sum = np.reshape(np.sum(true_sum), (1,))
    beta2 = beta**2
    precision = prf_divide(tp_sum, pred_sum, "precision", "predicted", average, warn_for,
                           zero_division)
    recall = prf_divide(tp_sum, true_sum, "recall", "true", average, warn_for, zero_division)
    if np.isposinf(beta):
        f_score = recall
    elif beta == 0:
        f_score = precision
    else:
        denom = beta2 * true_sum.astype(np.float64) + pred_sum.astype(np.float64)
        f_score = prf_divide((1 + beta2) * tp_sum.astype(np.float64), denom, "f-score",
                             "true nor predicted", average, warn_for, zero_division)
    weights = true_sum if average == "weighted" else None
    if average is not None:
        precision = float(nanaverage(precision, weights=weights))
        recall = float(nanaverage(recall, weights=weights))
        f_score = float(nanaverage(f_score, weights=weights))
        true_sum = None
    return precision, recall, f_score, true_sum


@validated_like(sk.precision_recall_fscore_support)
def precision_recall_fscore_support(y_true, y_pred, *, beta=1.0, labels=None, pos_label=1,
                                    average=None, warn_for=("precision", "recall", "f-score"),
                                    sample_weight=None, zero_division="warn"):
    """Precision, recall, F-beta and support, as
    :func:`sklearn.metrics.precision_recall_fscore_support`; the per-label sums are counted in
    one compiled pass for integer labels."""
    check_zero_division(zero_division)
    targets = None if average == "samples" else check_targets(y_true, y_pred, sample_weight)
    if targets is None:
        return sk.precision_recall_fscore_support(
            y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label, average=average,
            warn_for=warn_for, sample_weight=sample_weight, zero_division=zero_division)
    labels = _set_wise_labels(targets, average, labels, pos_label)
    tp, pred, true = _label_sums(targets, labels)
    return _prf_from_sums(tp, pred, true, beta=beta, average=average, warn_for=warn_for,
                          zero_division=zero_division)


def _one_score(which, warn_for):
    def score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
              zero_division="warn", beta=1.0):
        result = precision_recall_fscore_support(
            y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label, average=average,
            warn_for=warn_for, sample_weight=sample_weight, zero_division=zero_division)
        return result[which]
    return score


_precision = _one_score(0, ("precision",))
_recall = _one_score(1, ("recall",))
_fbeta = _one_score(2, ("f-score",))


@validated_like(sk.precision_score)
def precision_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary",
                    sample_weight=None, zero_division="warn"):
    """Precision, as :func:`sklearn.metrics.precision_score`."""
    return _precision(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                      sample_weight=sample_weight, zero_division=zero_division)


@validated_like(sk.recall_score)
def recall_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary",
                 sample_weight=None, zero_division="warn"):
    """Recall, as :func:`sklearn.metrics.recall_score`."""
    return _recall(y_true, y_pred, labels=labels, pos_label=pos_label, average=average,
                   sample_weight=sample_weight, zero_division=zero_division)


@validated_like(sk.fbeta_score)
def fbeta_score(y_true, y_pred, *, beta, labels=None, pos_label=1, average="binary",
                sample_weight=None, zero_division="warn"):
    """F-beta score, as :func:`sklearn.metrics.fbeta_score`."""
    return _fbeta(y_true, y_pred, beta=beta, labels=labels, pos_label=pos_label,
                  average=average, sample_weight=sample_weight, zero_division=zero_division)


@validated_like(sk.f1_score)
def f1_score(y_true, y_pred, *, labels=None, pos_label=1, average="binary", sample_weight=None,
             zero_division="warn"):
    """F1 score, as :func:`sklearn.metrics.f1_score`."""
    return _fbeta(y_true, y_pred, beta=1, labels=labels, pos_label=pos_label, average=average,
                  sample_weight=sample_weight, zero_division=zero_division)


@validated_like(sk.classification_report)
def classification_report(y_true, y_pred, *, labels=None, target_names=None,
                          sample_weight=None, digits=2, output_dict=False,
                          zero_division="warn"):
    """Text or dict report of the main classification metrics, as
    :func:`sklearn.metrics.classification_report`. The per-label sums are counted once, in one
    compiled pass, for the rows and the three averages (scikit-learn counts them four times)."""
    targets = check_targets(y_true, y_pred, sample_weight)
    if targets is None:
        return sk.classification_report(
            y_true, y_pred, labels=labels, target_names=target_names,
            sample_weight=sample_weight, digits=digits, output_dict=output_dict,
            zero_division=zero_division)
    check_zero_division(zero_division)
    labels_given = labels is not None
    labels = np.asarray(labels) if labels_given else targets.labels
    micro_is_accuracy = not labels_given or set(labels) >= set(targets.labels)
    if target_names is not None and len(labels) != len(target_names):
        if labels_given:
            warnings.warn("labels size, {0}, does not match size of target_names, {1}".format(
                len(labels), len(target_names)), stacklevel=2)
        else:
            raise ValueError(
                "Number of classes, {0}, does not match size of target_names, {1}. Try "
                "specifying the labels parameter".format(len(labels), len(target_names)))
    if target_names is None:
        target_names = ["%s" % label for label in labels]
    headers = ["precision", "recall", "f1-score", "support"]
    sums = _label_sums(targets, labels)

    def prf(average):
        return _prf_from_sums(*sums, beta=1.0, average=average,
                              warn_for=("precision", "recall", "f-score"),
                              zero_division=zero_division)

    p, r, f1, s = prf(None)
    rows = zip(target_names, p, r, f1, s)
    if output_dict:
        report_dict = {row[0]: dict(zip(headers, [float(v) for v in row[1:]])) for row in rows}
    else:
        heading_width = len("weighted avg")
        width = max(max(len(name) for name in target_names), heading_width, digits)
        report = ("{:>{width}s} " + " {:>9}" * len(headers)).format("", *headers, width=width)
        report += "\n\n"
        row_fmt = "{:>{width}s} " + " {:>9.{digits}f}" * 3 + " {:>9}\n"
        for row in rows:
            report += row_fmt.format(*row, width=width, digits=digits)
        report += "\n"
    for average in ("micro", "macro", "weighted"):
        heading = "accuracy" if average == "micro" and micro_is_accuracy else average + " avg"
        avg_p, avg_r, avg_f1, _ = prf(average)
        avg = [avg_p, avg_r, avg_f1, np.sum(s)]
        if output_dict:
            report_dict[heading] = dict(zip(headers, [float(v) for v in avg]))
        elif heading == "accuracy":
            accuracy_fmt = ("{:>{width}s} " + " {:>9.{digits}}" * 2 + " {:>9.{digits}f}"
                            + " {:>9}\n")
            report += accuracy_fmt.format(heading, "", "", *avg[2:], width=width, digits=digits)
        else:
            report += row_fmt.format(heading, *avg, width=width, digits=digits)
    if output_dict:
        if "accuracy" in report_dict:
            report_dict["accuracy"] = report_dict["accuracy"]["precision"]
        return report_dict
    return report


@validated_like(sk.balanced_accuracy_score)
def balanced_accuracy_score(y_true, y_pred, *, sample_weight=None, adjusted=False):
    """Balanced accuracy, as :func:`sklearn.metrics.balanced_accuracy_score`."""
    C = confusion_matrix(y_true, y_pred, sample_weight=sample_weight)
    with np.errstate(divide="ignore", invalid="ignore"):
        per_class = np.diag(C) / C.sum(axis=1)
    if np.any(np.isnan(per_class)):
        warnings.warn("y_pred contains classes not in y_true", stacklevel=2)
        per_class = per_class[~np.isnan(per_class)]
    score = np.mean(per_class)
    if adjusted:
        chance = 1 / per_class.shape[0]
        score -= chance
        score /= 1 - chance
    return float(score)


@validated_like(sk.matthews_corrcoef)
def matthews_corrcoef(y_true, y_pred, *, sample_weight=None):
    """Matthews correlation coefficient, as :func:`sklearn.metrics.matthews_corrcoef`."""
    targets = check_targets(y_true, y_pred, sample_weight)
    if targets is None:
        return sk.matthews_corrcoef(y_true, y_pred, sample_weight=sample_weight)
    C = targets.counts(targets.labels, "matrix")
    if C.shape == (1, 1):  # scikit-learn's confusion_matrix call warns
        warnings.warn("A single label was found in 'y_true' and 'y_pred'. For the confusion "
                      "matrix to have the correct shape, use the 'labels' parameter to pass "
                      "all known labels.", UserWarning, stacklevel=2)
    t_sum = C.sum(axis=1, dtype=np.float64)
    p_sum = C.sum(axis=0, dtype=np.float64)
    n_correct = np.trace(C, dtype=np.float64)
    n_samples = p_sum.sum()
    cov_ytyp = n_correct * n_samples - np.dot(t_sum, p_sum)
    cov_ypyp = n_samples**2 - np.dot(p_sum, p_sum)
    cov_ytyt = n_samples**2 - np.dot(t_sum, t_sum)
    cov_ypyp_ytyt = cov_ypyp * cov_ytyt
    if cov_ypyp_ytyt == 0:
        return 0.0
    return float(cov_ytyp / np.sqrt(cov_ypyp_ytyt))


@validated_like(sk.log_loss)
def log_loss(y_true, y_proba=None, *, normalize=True, sample_weight=None, labels=None,
             y_pred="deprecated"):
    """Log loss, as :func:`sklearn.metrics.log_loss`; for integer labels and a 2-D matrix of
    probabilities the checks and the per-sample losses come from one compiled pass over it."""
    a = integer_labels(y_true)
    fast = (a is not None and (isinstance(y_pred, str) and y_pred == "deprecated")
            and isinstance(y_proba, np.ndarray) and y_proba.ndim == 2 and y_proba.shape[1] >= 2
            and y_proba.dtype in (np.float32, np.float64)
            and (labels is None or np.asarray(labels).dtype.kind in "iu"))
    if not fast:
        return sk.log_loss(y_true, y_proba, normalize=normalize, sample_weight=sample_weight,
                           labels=labels, y_pred=y_pred)
    y_proba = check_array(y_proba, ensure_2d=False, dtype=[np.float64, np.float32])
    check_consistent_length(y_proba, a, sample_weight)
    if sample_weight is not None:
        sample_weight = column_or_1d(sample_weight)
    scan = LabelScan(a)
    if labels is not None:
        classes = np.unique(np.asarray(labels))
        if not np.array_equal(classes, np.asarray(labels)) or classes.size < 2 \
                or not np.all(np.isin(scan.values[0], classes)):
            return sk.log_loss(y_true, y_proba, normalize=normalize,
                               sample_weight=sample_weight, labels=labels)
    else:
        classes = scan.values[0]
        if classes.size < 2:
            return sk.log_loss(y_true, y_proba, normalize=normalize,
                               sample_weight=sample_weight)
    if classes.size != y_proba.shape[1]:
        return sk.log_loss(y_true, y_proba, normalize=normalize, sample_weight=sample_weight,
                           labels=labels)
    code = np.searchsorted(classes, scan.arrays[0]).astype(np.int64)
    dtype = y_proba.dtype.type
    eps = np.finfo(y_proba.dtype).eps
    loss, high, low, off = _clf_fast.log_loss_rows(np.ascontiguousarray(y_proba), code,
                                                   dtype(eps), dtype(np.sqrt(eps)),
                                                   effective_n_threads())
    if high > 1:
        raise ValueError(f"y_prob contains values greater than 1: {dtype(high)}")
    if low < 0:
        raise ValueError(f"y_prob contains values lower than 0: {dtype(low)}")
    if off:
        warnings.warn("The y_prob values do not sum to one. Make sure to pass probabilities.",
                      UserWarning, stacklevel=2)
    return float(weighted_average(loss, weights=sample_weight, normalize=normalize))
