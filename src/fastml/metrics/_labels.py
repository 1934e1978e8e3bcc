"""Label checks and encoding for the classification metrics, on the compiled label core.

scikit-learn finds the type and the labels of a target with np.unique, once per call of every
helper (a 10M-sample classification_report sorts the labels 14 times); here integer and boolean
label arrays are scanned once by fastml.metrics._clf_fast (range, then presence flags over it)
and encoded by a lookup table over that range. Any other input (strings, floats, sparse or 2-D
targets, empty arrays) is not taken by this module: the metrics hand it to scikit-learn.
"""
import numpy as np
from scipy import sparse
from sklearn.utils import check_consistent_length

from .._backend import effective_n_threads
from ..utils._sklearn_compat import check_sample_weight
from . import _clf_fast

# Label ranges up to this many values get presence flags and a lookup table (4 MB of flags at
# most); wider ranges are found with np.unique and encoded by np.searchsorted.
MAX_TABLE = 1 << 22


def integer_labels(y):
    """y as a 1-D NumPy integer array (booleans as they are) where the compiled path takes it,
    else None. A column vector counts as 1-D, as scikit-learn's column_or_1d makes it."""
    if y is None or sparse.issparse(y) or isinstance(y, (str, bytes)):
        return None
    try:
        a = np.asarray(y)
    except Exception:  # noqa: BLE001 - ragged or odd input: scikit-learn says what is wrong
        return None
    if a.dtype.kind not in "biu" or a.dtype == np.uint64 or a.size == 0:
        return None
    if a.ndim == 2 and a.shape[1] == 1:
        a = a[:, 0]
    return a if a.ndim == 1 else None


def _work_array(a, dtype):
    """The array the core reads: C-contiguous, booleans as uint8."""
    a = np.ascontiguousarray(a, dtype=dtype)
    return a.view(np.uint8) if a.dtype == np.bool_ else a


class LabelScan:
    """The distinct values of one or two integer label arrays of the same length.

    values_true, values_pred: sorted distinct values of each; classes: of both (what
    scikit-learn's unique_labels returns, in the arrays' common dtype). When the values span at
    most MAX_TABLE integers, ``lo``/``span`` describe that range and encoding uses a table.
    n_threads: of the scans (None: all of fastml's).
    """

    def __init__(self, *arrays, n_threads=None):
        self.n_threads = effective_n_threads() if n_threads is None else n_threads
        dtype = np.result_type(*[a.dtype for a in arrays])
        self.dtype = dtype
        self.arrays = [_work_array(a, dtype) for a in arrays]
        ranges = [_clf_fast.label_range(a, self.n_threads) for a in self.arrays]
        lo = min(int(r[0]) for r in ranges)
        hi = max(int(r[1]) for r in ranges)
        if hi - lo + 1 <= MAX_TABLE:
            self.lo, self.span = lo, hi - lo + 1
            flags = [_clf_fast.label_presence(a, lo, self.span, self.n_threads)
                     for a in self.arrays]
            self.values = [(np.flatnonzero(f) + lo).astype(dtype) for f in flags]
            union = np.flatnonzero(np.bitwise_or.reduce(flags)) if len(flags) > 1 \
                else np.flatnonzero(flags[0])
            self.classes = (union + lo).astype(dtype)
        else:
            self.lo = self.span = None
            self.values = [np.unique(a).astype(dtype) for a in self.arrays]
            self.classes = np.unique(np.concatenate(self.values))

    def encoded(self, labels):
        """(arrays, lut, offset) for the core: lut[v - offset] is the index of value v in
        `labels` (its last occurrence, as a dict built over labels keeps it) or -1."""
        if self.lo is not None:
            values = np.arange(self.lo, self.lo + self.span, dtype=np.int64)
            return self.arrays, positions(labels, values), self.lo
        codes = [np.searchsorted(self.classes, a).astype(np.int64) for a in self.arrays]
        return codes, positions(labels, self.classes.astype(np.int64)), 0


def positions(labels, values):
    """int32 index in `labels` of each integer of `values` (the last occurrence), or -1.

    Labels compare as numbers, as Python's dict and NumPy's comparisons do: 1.0 and True match
    the integer 1; other labels (strings, 1.5) match nothing."""
    lab = np.asarray(labels)
    if lab.dtype.kind == "b":
        lab = lab.astype(np.int64)
    if lab.dtype.kind == "f":
        keep = np.isfinite(lab) & (np.floor(lab) == lab) & (np.abs(lab) < 2.0**62)
    elif lab.dtype.kind in "iu":
        keep = np.ones(lab.shape, dtype=bool)
    else:
        keep = np.zeros(lab.shape, dtype=bool)
    where = np.flatnonzero(keep.ravel())
    keys = lab.ravel()[where].astype(np.int64)
    out = np.full(values.shape[0], -1, dtype=np.int32)
    if keys.size == 0:
        return out
    distinct, first_from_end = np.unique(keys[::-1], return_index=True)
    last = where[keys.size - 1 - first_from_end]
    at = np.minimum(np.searchsorted(distinct, values), distinct.size - 1)
    match = distinct[at] == values
    out[match] = last[at[match]]
    return out


class Targets:
    """What scikit-learn's _check_targets finds for two integer label arrays, from one scan.

    Built by check_targets(); None there means the input is not integer labels."""

    def __init__(self, y_type, scan, sample_weight):
        self.y_type = y_type
        self.scan = scan
        self.labels = scan.classes
        self.y_true, self.y_pred = scan.arrays
        self.sample_weight = sample_weight

    def counts(self, labels, kind, float_weights=False):
        """Compiled confusion counts over `labels`: kind "matrix" (k x k) or "sums" (3 x k:
        true positives, true and predicted totals). int64 without weights or with integer
        weights (unless float_weights), else float64."""
        arrays, lut, offset = self.scan.encoded(labels)
        w = self.sample_weight
        if w is not None:
            w = np.ascontiguousarray(
                w, dtype=np.float64 if float_weights or w.dtype.kind not in "biu" else np.int64)
        return _clf_fast.confusion_counts(arrays[0], arrays[1], lut, offset,
                                          int(np.asarray(labels).shape[0]), w, kind,
                                          self.scan.n_threads)


def check_targets(y_true, y_pred, sample_weight=None):
    """Targets for integer label arrays, checked as scikit-learn's _check_targets checks them
    (same errors), or None where the input is anything else."""
    a, b = integer_labels(y_true), integer_labels(y_pred)
    if a is None or b is None or np.result_type(a.dtype, b.dtype).kind not in "biu":
        return None
    check_consistent_length(a, b, sample_weight)
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, a, force_float_dtype=False)
    scan = LabelScan(a, b)
    types = {"binary" if v.size <= 2 else "multiclass" for v in scan.values}
    y_type = "multiclass" if "multiclass" in types or scan.classes.size > 2 else "binary"
    return Targets(y_type, scan, sample_weight)
