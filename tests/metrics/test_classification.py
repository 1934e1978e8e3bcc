"""fastml's classification metrics and curves against scikit-learn (values, dtypes, errors,
warnings) and the compiled core against fastml.reference.metrics."""
import inspect
import warnings

import numpy as np
import pytest
import sklearn.metrics as sk
from sklearn.exceptions import UndefinedMetricWarning

import fastml.metrics as fm
from fastml.metrics import _clf_fast
from fastml.reference import metrics as ref

NAMES = ["accuracy_score", "confusion_matrix", "precision_recall_fscore_support",
         "precision_score", "recall_score", "f1_score", "fbeta_score", "classification_report",
         "roc_curve", "roc_auc_score", "precision_recall_curve", "average_precision_score",
         "log_loss", "balanced_accuracy_score", "matthews_corrcoef", "mean_squared_error",
         "mean_absolute_error", "r2_score"]


def assert_same(a, b, rtol=1e-12):
    if isinstance(a, tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y, rtol)
        return
    if a is None or b is None:
        assert a is None and b is None
        return
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape
    np.testing.assert_allclose(a, b, rtol=rtol, atol=0)


def both(name, *args, **kwargs):
    """fastml's and scikit-learn's result and warnings (as (category, message) lists)."""
    out = []
    for module in (fm, sk):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            result = getattr(module, name)(*args, **kwargs)
        out.append((result, [(w.category, str(w.message)) for w in caught]))
    return out


@pytest.mark.parametrize("name", NAMES)
def test_signature_is_scikit_learns(name):
    assert inspect.signature(getattr(fm, name)) == inspect.signature(getattr(sk, name))


def label_cases(rng):
    n = 300
    yield rng.integers(0, 2, n), rng.integers(0, 2, n)  # binary
    yield rng.integers(-3, 4, n), rng.integers(-3, 4, n)  # multiclass, negative labels
    yield rng.integers(0, 2, n).astype(bool), rng.integers(0, 2, n).astype(bool)
    yield rng.integers(0, 5, n).astype(np.int8), rng.integers(0, 6, n).astype(np.int32)
    big = np.array([-10**12, 5, 10**12])  # wider than the lookup table: np.unique encoding
    yield big[rng.integers(0, 3, n)], big[rng.integers(0, 3, n)]
    yield np.array(["a", "b", "c"])[rng.integers(0, 3, n)], \
        np.array(["a", "b", "c"])[rng.integers(0, 3, n)]  # strings: scikit-learn's path


@pytest.mark.parametrize("weighted", [False, "float", "int"])
def test_counting_metrics_match_scikit_learn(rng, weighted):
    for y_true, y_pred in label_cases(rng):
        w = None if not weighted else (rng.random(y_true.size) if weighted == "float"
                                       else rng.integers(0, 4, y_true.size))
        for name in ["accuracy_score", "confusion_matrix", "balanced_accuracy_score",
                     "matthews_corrcoef"]:
            (a, wa), (b, wb) = both(name, y_true, y_pred, sample_weight=w)
            assert_same(a, b)
            assert wa == wb
        binary = np.unique(np.r_[y_true, y_pred]).size <= 2
        for average in [None, "micro", "macro", "weighted"] + (["binary"] if binary else []):
            pos = {"pos_label": True} if y_true.dtype == bool and average == "binary" else {}
            (a, wa), (b, wb) = both("precision_recall_fscore_support", y_true, y_pred,
                                    average=average, sample_weight=w, **pos)
            assert_same(a, b)
            assert wa == wb
        for output_dict in (False, True):
            (a, wa), (b, wb) = both("classification_report", y_true, y_pred, sample_weight=w,
                                    output_dict=output_dict, digits=4)
            if output_dict:
                assert a.keys() == b.keys()
                for key in a:
                    assert_same(np.array(list(a[key].values()) if isinstance(a[key], dict)
                                         else a[key]),
                                np.array(list(b[key].values()) if isinstance(b[key], dict)
                                         else b[key]))
            else:
                assert a == b
            assert wa == wb


def test_labels_argument(rng):
    y_true, y_pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    for labels in ([3, 1], [0, 1, 2, 3, 7], [2.0, 1.0], [1, 1, 2]):
        assert_same(fm.confusion_matrix(y_true, y_pred, labels=labels),
                    sk.confusion_matrix(y_true, y_pred, labels=labels))
    for labels in ([3, 1], [0, 1, 2, 3, 7]):
        for average in (None, "macro", "micro", "weighted"):
            (a, wa), (b, wb) = both("precision_recall_fscore_support", y_true, y_pred,
                                    labels=labels, average=average)
            assert_same(a, b)
            assert wa == wb
        (a, _), (b, _) = both("classification_report", y_true, y_pred, labels=labels)
        assert a == b
    for module in (fm, sk):
        with pytest.raises(ValueError, match="At least one label specified must be in y_true"):
            module.confusion_matrix(y_true, y_pred, labels=[9])
        with pytest.raises(ValueError, match="should contain at least one label"):
            module.confusion_matrix(y_true, y_pred, labels=[])


def test_zero_division_and_pos_label(rng):
    y_true = np.array([0, 0, 1, 1])
    y_pred = np.array([0, 0, 0, 0])
    for zero_division in ("warn", 0.0, 1.0, np.nan):
        (a, wa), (b, wb) = both("precision_score", y_true, y_pred, zero_division=zero_division)
        assert_same(a, b)
        assert wa == wb and (zero_division != "warn" or wa)
    (a, wa), (b, wb) = both("f1_score", y_true, y_pred, average="macro", pos_label=0)
    assert_same(a, b)
    assert wa == wb and any("pos_label" in m for _, m in wa)
    for module in (fm, sk):
        with pytest.raises(ValueError, match="pos_label=2 is not a valid label"):
            module.recall_score(y_true, y_pred, pos_label=2)
        with pytest.raises(ValueError, match="Target is multiclass but average='binary'"):
            module.f1_score([0, 1, 2], [0, 1, 1])


def test_bad_input_raises_scikit_learns_errors():
    for module in (fm, sk):
        with pytest.raises(ValueError, match="inconsistent numbers of samples"):
            module.confusion_matrix([0, 1, 1], [0, 1])
        with pytest.raises(ValueError, match="continuous"):
            module.accuracy_score([0.5, 1.0], [0, 1])
        with pytest.raises(ValueError, match="mix of"):
            module.f1_score([0, 1, 2], [[0, 1], [1, 0], [1, 1]])
        with pytest.raises(ValueError, match="average"):
            module.precision_score([0, 1], [0, 1], average="mean")
        with pytest.raises(ValueError, match="y_true takes value in"):
            module.roc_curve([1, 2, 2], [0.1, 0.2, 0.3])
        with pytest.raises(ValueError, match="NaN"):
            module.roc_auc_score([0, 1, 1], [0.1, np.nan, 0.3])
        with pytest.raises(ValueError, match="greater than 1"):
            module.log_loss([0, 1], np.array([[0.5, 0.5], [-0.5, 1.5]]))


@pytest.mark.parametrize("n, ties", [(50, False), (2000, True), (70000, False), (70000, True)])
@pytest.mark.parametrize("weighted", [False, True])
def test_curves_match_scikit_learn(rng, dtype, n, ties, weighted):
    y_true = rng.integers(0, 2, n)
    score = (rng.integers(0, 20, n) / 20 if ties else rng.normal(size=n)).astype(dtype)
    score[: n // 10] *= -0.0 if ties else 1.0  # -0.0 and 0.0 are one threshold
    w = rng.random(n) * (rng.random(n) > 0.1) if weighted else None  # some zero weights
    for name, kwargs in [("roc_curve", {}), ("roc_curve", {"drop_intermediate": False}),
                         ("precision_recall_curve", {}),
                         ("precision_recall_curve", {"drop_intermediate": True})]:
        (a, _), (b, _) = both(name, y_true, score, sample_weight=w, **kwargs)
        for x, y in zip(a, b):
            assert x.dtype == y.dtype
            np.testing.assert_array_equal(x, y)  # same sums in the same order
    for name, kwargs in [("roc_auc_score", {}), ("roc_auc_score", {"max_fpr": 0.3}),
                         ("average_precision_score", {})]:
        (a, _), (b, _) = both(name, y_true, score, sample_weight=w, **kwargs)
        assert_same(a, b, rtol=1e-12)


def test_curve_labels_and_single_class(rng):
    y = np.array(["no", "yes"])[rng.integers(0, 2, 100)]
    score = rng.random(100)
    assert_same(fm.roc_auc_score(y, score), sk.roc_auc_score(y, score))  # scikit-learn's path
    assert_same(fm.roc_curve(y, score, pos_label="yes"), sk.roc_curve(y, score, pos_label="yes"))
    (a, wa), (b, wb) = both("roc_auc_score", np.ones(10, dtype=int), score[:10])
    assert np.isnan(a) and np.isnan(b) and wa == wb
    assert wa[0][0] is UndefinedMetricWarning
    (a, wa), (b, wb) = both("roc_curve", np.zeros(10, dtype=int), score[:10], pos_label=1)
    assert_same(a, b)  # NaN rates where there are no positives, as scikit-learn's
    assert wa == wb
    yk = rng.integers(0, 3, 200)
    proba = rng.random((200, 3))
    proba /= proba.sum(axis=1, keepdims=True)
    for multi_class in ("ovr", "ovo"):
        assert_same(fm.roc_auc_score(yk, proba, multi_class=multi_class),
                    sk.roc_auc_score(yk, proba, multi_class=multi_class))
    Y = rng.integers(0, 2, (200, 3))
    assert_same(fm.roc_auc_score(Y, proba), sk.roc_auc_score(Y, proba))


def test_log_loss_matches_scikit_learn(rng, dtype):
    for k in (2, 5):
        y = rng.integers(0, k, 500)
        proba = rng.random((500, k)).astype(dtype)
        proba /= proba.sum(axis=1, keepdims=True)
        proba[0] = 0
        proba[0, y[0]] = 1  # clipped
        w = rng.random(500)
        rtol = 1e-6 if dtype == np.float32 else 1e-12
        for kwargs in ({}, {"sample_weight": w}, {"normalize": False},
                       {"labels": list(range(k))}):
            (a, wa), (b, wb) = both("log_loss", y, proba, **kwargs)
            assert_same(a, b, rtol=rtol)
            assert wa == wb
        (a, wa), (b, wb) = both("log_loss", y, proba * 1.5 / 1.6)  # rows do not sum to 1
        assert_same(a, b, rtol=rtol)
        assert wa == wb and wa


# ---- the core against the reference ------------------------------------------------------------

@pytest.mark.parametrize("n, k", [(1, 1), (1000, 3), (200_000, 7), (300_000, 300)])
@pytest.mark.parametrize("weighted", [None, np.int64, np.float64])
def test_confusion_counts_against_reference(rng, n, k, weighted):
    t = rng.integers(0, k + 1, n) - 1  # -1 is left out
    p = rng.integers(0, k + 1, n) - 1
    w = None if weighted is None else (rng.random(n) if weighted is np.float64
                                       else rng.integers(0, 5, n)).astype(weighted)
    lut = np.arange(-1, k, dtype=np.int32)  # value v -> v, through an offset of -1
    for kind in ("matrix", "sums"):
        got = [_clf_fast.confusion_counts(t, p, lut, -1, k, w, kind, threads)
               for threads in (1, 2, 3)]
        want = ref.confusion_counts(t, p, k, w, kind)
        assert got[0].dtype == (np.float64 if weighted is np.float64 else np.int64)
        np.testing.assert_allclose(got[0], want, rtol=1e-12)
        for other in got[1:]:
            np.testing.assert_array_equal(other, got[0])  # bit for bit, any thread count


@pytest.mark.parametrize("n", [1, 31, 1000, 100_000])
@pytest.mark.parametrize("kind", ["uniform", "ties", "constant", "extremes"])
def test_sort_and_sweep_against_reference(rng, dtype, n, kind):
    if kind == "uniform":
        s = rng.random(n)
    elif kind == "ties":
        s = rng.integers(-3, 3, n) / 3
    elif kind == "constant":
        s = np.full(n, 0.25)
    else:
        s = rng.choice([-np.inf, np.inf, -1e300, 1e-300, 0.0, -0.0, 1.0], n)
    with np.errstate(over="ignore"):  # float32: 1e300 becomes inf
        s = s.astype(dtype)
    pos = (rng.random(n) < 0.4).astype(np.uint8)
    w = rng.random(n)
    for threads in (1, 2):
        np.testing.assert_array_equal(_clf_fast.descending_order(s, threads),
                                      ref.descending_order(s))
        for weight in (None, w):
            fps, tps, thr = _clf_fast.threshold_counts(s, pos, weight, threads)
            want = ref.threshold_counts(s, pos, weight)
            np.testing.assert_array_equal(fps, want[0])
            np.testing.assert_array_equal(tps, want[1])
            np.testing.assert_array_equal(thr, want[2])
            area = _clf_fast.roc_auc(s, pos, weight, threads)[0]
            np.testing.assert_allclose(area, ref.roc_auc(s, pos, weight), rtol=1e-12)


def test_core_entry_checks():
    y = np.zeros(4, dtype=np.int64)
    with pytest.raises(ValueError, match="wrong shape"):
        _clf_fast.confusion_counts(y, y[:3], np.zeros(1, np.int32), 0, 1, None, "matrix", 1)
    with pytest.raises(ValueError, match="lut values"):
        _clf_fast.confusion_counts(y, y, np.array([5], np.int32), 0, 1, None, "matrix", 1)
    with pytest.raises(ValueError, match="outside"):
        _clf_fast.label_presence(np.array([0, 9]), 0, 3, 1)
    with pytest.raises(ValueError, match="codes must lie"):
        _clf_fast.log_loss_rows(np.ones((2, 2)), np.array([0, 2]), 1e-15, 1e-8, 1)
    with pytest.raises(ValueError, match="n_threads"):
        _clf_fast.roc_auc(np.ones(2), np.ones(2, np.uint8), None, 0)
