"""fastml's LinearSVC and LinearSVR against scikit-learn's on its shipped data sets (iris,
digits, breast_cancer, wine, diabetes), dense and CSR: the same coef_ (values, shape, memory
order), intercept_ and n_iter_ for both losses, class_weight, sample_weight (zeros included),
intercept_scaling, fit_intercept; the solvers handed to scikit-learn; warnings, errors, pickling."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import svm as sk
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

from fastml import svm as fm


def _scaled(loader):
    X, y = loader(return_X_y=True)
    return StandardScaler().fit_transform(X), y


DATA = {"iris": _scaled(load_iris), "breast_cancer": _scaled(load_breast_cancer),
        "digits": _scaled(load_digits), "wine": _scaled(load_wine),
        "diabetes": _scaled(load_diabetes)}


def _fit_both(name, data, layout, fit_params=None, **params):
    """Both models on the same data; dual=True unless given (the solver that is the same to
    rounding: dual="auto" picks the primal one for these tall data sets)."""
    params = {"dual": True, **params}
    X, y = DATA[data]
    X = sp.csr_matrix(X) if layout == "csr" else X
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        ours = getattr(fm, name)(random_state=0, **params).fit(X, y, **(fit_params or {}))
        theirs = getattr(sk, name)(random_state=0, **params).fit(X, y, **(fit_params or {}))
    return ours, theirs, X


def _same_model(a, b):
    assert a.coef_.shape == b.coef_.shape and a.coef_.flags.f_contiguous == b.coef_.flags.f_contiguous
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-12, atol=1e-14)
    assert a.n_iter_ == b.n_iter_


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("data", ["iris", "breast_cancer", "wine"])
@pytest.mark.parametrize("params", [
    {}, dict(loss="hinge", max_iter=200), dict(class_weight="balanced"),
    dict(C=0.05, intercept_scaling=3.0), dict(fit_intercept=False), dict(tol=1e-6, C=10.0)],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()) or "default")
def test_linear_svc_matches_scikit_learn(params, data, layout):
    ours, theirs, X = _fit_both("LinearSVC", data, layout, **params)
    _same_model(ours, theirs)
    np.testing.assert_array_equal(ours.predict(X), theirs.predict(X))


@pytest.mark.parametrize("layout", ["dense", "csr"])
def test_linear_svc_ten_digits_match_scikit_learn(layout):
    _same_model(*_fit_both("LinearSVC", "digits", layout, C=0.1)[:2])


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("params", [
    {}, dict(loss="squared_epsilon_insensitive"), dict(epsilon=5.0, C=0.1),
    dict(fit_intercept=False, loss="squared_epsilon_insensitive"),
    dict(intercept_scaling=10.0, max_iter=50)],
    ids=lambda p: "-".join(f"{k}={v}" for k, v in p.items()) or "default")
def test_linear_svr_matches_scikit_learn(params, layout):
    ours, theirs, X = _fit_both("LinearSVR", "diabetes", layout, **params)
    _same_model(ours, theirs)
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-12)


def test_sample_weight_with_zeros_and_handed_over_solvers():
    rng = np.random.default_rng(0)
    for data in ("iris", "breast_cancer"):
        sw = rng.uniform(0.0, 2.0, size=len(DATA[data][1]))
        sw[::7] = 0.0
        _same_model(*_fit_both("LinearSVC", data, "dense", dict(sample_weight=sw))[:2])
    sw = rng.uniform(0.0, 2.0, size=len(DATA["diabetes"][1]))
    sw[::5] = 0.0
    _same_model(*_fit_both("LinearSVR", "diabetes", "dense", dict(sample_weight=sw))[:2])
    for params in (dict(penalty="l1", dual=False), dict(multi_class="crammer_singer")):
        _same_model(*_fit_both("LinearSVC", "iris", "dense", **params)[:2])


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("name, data, params", [
    ("LinearSVC", "iris", {}), ("LinearSVC", "breast_cancer", dict(class_weight="balanced")),
    ("LinearSVC", "wine", dict(fit_intercept=False, C=0.1)),
    ("LinearSVR", "diabetes", dict(loss="squared_epsilon_insensitive", epsilon=0.5))])
def test_primal_newton_reaches_liblinears_optimum(name, data, params, layout):
    """dual=False: the optimum liblinear's trust-region Newton approaches; with its tol at 1e-12
    the two agree to 1e-6, with the default tol to liblinear's own stopping error."""
    X, y = DATA[data]
    X = sp.csr_matrix(X) if layout == "csr" else X
    if name == "LinearSVR":
        y = y / 100.0
    ours = getattr(fm, name)(dual=False, **params).fit(X, y)
    tight = getattr(sk, name)(dual=False, tol=1e-12, max_iter=10_000, **params).fit(X, y)
    np.testing.assert_allclose(ours.coef_, tight.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(ours.intercept_, tight.intercept_, rtol=1e-6, atol=1e-8)
    assert ours.coef_.shape == tight.coef_.shape
    default = getattr(sk, name)(dual=False, **params).fit(X, y)
    scale = np.abs(default.coef_).max()
    assert np.abs(ours.coef_ - default.coef_).max() <= 5e-2 * scale


def test_warnings_errors_pickling():
    X, y = DATA["breast_cancer"]
    with pytest.warns(ConvergenceWarning, match="Liblinear failed to converge"):
        fm.LinearSVC(loss="hinge", max_iter=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="at least 2 classes"):
        fm.LinearSVC().fit(X, np.zeros(len(y)))
    with pytest.raises(ValueError, match="Unsupported set of arguments"):
        fm.LinearSVC(penalty="l1", loss="hinge").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        fm.LinearSVR().fit(np.full((3, 2), np.nan), np.ones(3))
    model = fm.LinearSVC(random_state=0).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.decision_function(X), model.decision_function(X))
    assert isinstance(model, sk.LinearSVC) and isinstance(fm.LinearSVR(), sk.LinearSVR)
