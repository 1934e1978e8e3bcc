"""fastml's SGDClassifier and SGDRegressor against scikit-learn's on its shipped data sets (iris,
digits, breast_cancer, diabetes), dense and CSR, float64 and float32: the same coefficients,
intercepts, n_iter_ and t_ for every loss, penalty, schedule, averaging, early stopping,
class_weight and sample_weight; partial_fit and warm_start sequences; n_jobs; pickling; errors."""
import contextlib
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from fastml import linear_model as fm


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


DATA = {"iris": _scaled(load_iris), "breast_cancer": _scaled(load_breast_cancer),
        "digits": _scaled(load_digits), "diabetes": _scaled(load_diabetes)}
DATA["diabetes"] = (DATA["diabetes"][0], DATA["diabetes"][1] / 100.0)


def _input(name, layout, dtype):
    X, y = DATA[name]
    X = X.astype(dtype)
    return (sp.csr_matrix(X) if layout == "csr" else X), y


def _same_model(a, b):
    """The same fitted state; averaging folds its scale with BLAS in scikit-learn, so the
    averaged models may differ in the last bits."""
    rtol = 1e-5 if b.coef_.dtype == np.float32 else 1e-12
    assert a.coef_.dtype == b.coef_.dtype and a.intercept_.dtype == b.intercept_.dtype
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=rtol, atol=rtol * np.abs(b.coef_).max())
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=rtol, atol=rtol)
    assert a.n_iter_ == b.n_iter_ and a.t_ == b.t_


def _fit_both(name, data, layout, dtype, **params):
    X, y = _input(data, layout, dtype)
    with np.errstate(all="ignore"), _quiet():
        ours = getattr(fm, name)(random_state=0, **params).fit(X, y)
        theirs = getattr(sk, name)(random_state=0, **params).fit(X, y)
    return ours, theirs, X


@contextlib.contextmanager
def _quiet():
    """Both sides warn alike when max_iter is reached; the tests compare models, not warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        yield


CLASSIFIER_LOSSES = ["hinge", "log_loss", "modified_huber", "squared_hinge", "perceptron",
                     "squared_error", "huber", "epsilon_insensitive",
                     "squared_epsilon_insensitive"]


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("data", ["breast_cancer", "iris"])
@pytest.mark.parametrize("loss", CLASSIFIER_LOSSES)
def test_classifier_losses_match_scikit_learn(loss, data, layout, dtype):
    ours, theirs, X = _fit_both("SGDClassifier", data, layout, dtype, loss=loss, max_iter=30)
    _same_model(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("params", [
    dict(penalty="l1"), dict(penalty="elasticnet", l1_ratio=0.3), dict(penalty=None),
    dict(learning_rate="constant", eta0=0.01), dict(learning_rate="invscaling", eta0=0.05),
    dict(learning_rate="adaptive", eta0=0.05), dict(learning_rate="pa1", eta0=0.1),
    dict(learning_rate="pa2", eta0=0.1), dict(average=True), dict(average=50, penalty="l1"),
    dict(early_stopping=True), dict(early_stopping=True, learning_rate="adaptive", eta0=0.05),
    dict(class_weight="balanced"), dict(class_weight={0: 2.0, 1: 0.5, 2: 1.0}),
    dict(shuffle=False), dict(fit_intercept=False), dict(tol=None, max_iter=7)],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_classifier_options_match_scikit_learn(params, layout, dtype):
    for data in ("iris", "breast_cancer"):
        if isinstance(params.get("class_weight"), dict) and data == "breast_cancer":
            continue
        ours, theirs, _ = _fit_both("SGDClassifier", data, layout, dtype,
                                    **{"max_iter": 40, **params})
        _same_model(ours, theirs)


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("params", [
    dict(loss="squared_error"), dict(loss="huber"), dict(loss="epsilon_insensitive"),
    dict(loss="squared_epsilon_insensitive", epsilon=0.2), dict(penalty="elasticnet"),
    dict(penalty="l1", alpha=0.01), dict(learning_rate="adaptive"), dict(learning_rate="optimal"),
    dict(average=True), dict(average=10, penalty="elasticnet"), dict(early_stopping=True),
    dict(loss="epsilon_insensitive", learning_rate="pa2")],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()))
def test_regressor_matches_scikit_learn(params, layout, dtype):
    ours, theirs, X = _fit_both("SGDRegressor", "diabetes", layout, dtype, max_iter=50, **params)
    _same_model(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5)


def test_digits_one_vs_all_any_n_jobs_and_sample_weight():
    X, y = DATA["digits"]
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    theirs = sk.SGDClassifier(random_state=3, max_iter=20, tol=None).fit(X, y, sample_weight=sw)
    for n_jobs in (1, 2):
        with _quiet():
            ours = fm.SGDClassifier(random_state=3, max_iter=20, tol=None, n_jobs=n_jobs).fit(
                X, y, sample_weight=sw)
        _same_model(ours, theirs)


def test_partial_fit_and_warm_start_sequences():
    X, y = DATA["iris"]
    ours, theirs = fm.SGDClassifier(random_state=1), sk.SGDClassifier(random_state=1)
    for start in range(0, 150, 50):
        rows = slice(start, start + 50)
        ours.partial_fit(X[rows], y[rows], classes=np.unique(y))
        theirs.partial_fit(X[rows], y[rows], classes=np.unique(y))
        _same_model(ours, theirs)
    Xr, yr = DATA["diabetes"]
    ours = fm.SGDRegressor(random_state=2, warm_start=True, max_iter=5, average=True)
    theirs = sk.SGDRegressor(random_state=2, warm_start=True, max_iter=5, average=True)
    with _quiet():
        for _ in range(3):
            ours.fit(Xr, yr)
            theirs.fit(Xr, yr)
            _same_model(ours, theirs)
    with _quiet():
        init = fm.SGDClassifier(random_state=0, max_iter=3).fit(X, y, coef_init=np.ones((3, 4)),
                                                                 intercept_init=np.zeros(3))
        ref = sk.SGDClassifier(random_state=0, max_iter=3).fit(X, y, coef_init=np.ones((3, 4)),
                                                                intercept_init=np.zeros(3))
    _same_model(init, ref)


def test_pickle_round_trip_and_isinstance():
    X, y = DATA["breast_cancer"]
    model = fm.SGDClassifier(random_state=0, loss="log_loss").fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    assert isinstance(model, sk.SGDClassifier) and isinstance(fm.SGDRegressor(), sk.SGDRegressor)


def test_errors_are_scikit_learns():
    X, y = DATA["iris"]
    for params, match in [(dict(alpha=0.0), "alpha must be > 0"),
                          (dict(learning_rate="pa1", loss="log_loss"), "only works with loss"),
                          (dict(loss="nonsense"), "loss"), (dict(eta0=0.0), "eta0")]:
        with pytest.raises(ValueError, match=match):
            fm.SGDClassifier(**params).fit(X, y)
    with pytest.raises(ValueError, match="early_stopping should be False"):
        fm.SGDClassifier(early_stopping=True).partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="classes has to be greater than one"):
        fm.SGDClassifier().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="NaN"):
        fm.SGDRegressor().fit(np.full((4, 2), np.nan), np.ones(4))
    with pytest.raises(ValueError, match="Floating-point under-/overflow occurred at epoch #1"):
        fm.SGDRegressor(learning_rate="constant", eta0=1.0).fit(np.full((20, 2), 1e300),
                                                                np.ones(20))
