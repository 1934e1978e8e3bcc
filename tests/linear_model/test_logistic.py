"""LogisticRegression and LogisticRegressionCV against scikit-learn's on the data it ships
(iris, wine, breast_cancer, digits), dense and sparse: the same coefficients (tight tol), the
same iteration counts, predictions, attributes with their dtypes and shapes, errors and
warnings."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_iris, load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler

import fastml
from fastml import linear_model as fm


@pytest.fixture(autouse=True)
def _one_core_thread():
    """The fits run the core on one thread: on a busy machine, waking a second one for these
    small problems costs more than the fit (threads are tested in test_logistic_core.py and by
    explicit n_jobs below)."""
    with fastml.config_context(n_jobs=1):
        yield


def _data(name, n=None):
    X, y = {"iris": load_iris, "wine": load_wine, "cancer": load_breast_cancer}[name](
        return_X_y=True)
    X = StandardScaler().fit_transform(X)
    return (X[:n], y[:n]) if n else (X, y)


def _fit_both(cls_name, X, y, sample_weight=None, **params):
    """The scikit-learn and the fastml fit, with the warnings each raised."""
    fitted, caught = [], []
    for module in (sk, fm):
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            fitted.append(getattr(module, cls_name)(**params).fit(X, y,
                                                                  sample_weight=sample_weight))
        caught.append(sorted((w.category.__name__, str(w.message)) for w in record))
    assert caught[0] == caught[1]
    return fitted


def _assert_same_model(a, b, rtol=1e-6):
    assert type(b).__module__.startswith("fastml.") and isinstance(b, type(a))
    for attr in ("coef_", "intercept_"):
        assert getattr(a, attr).shape == getattr(b, attr).shape
        assert getattr(a, attr).dtype == getattr(b, attr).dtype
    scale = np.max(np.abs(a.coef_))
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_allclose(b.intercept_, a.intercept_, rtol=rtol, atol=rtol * scale)
    np.testing.assert_array_equal(b.classes_, a.classes_)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
@pytest.mark.parametrize("name", ["iris", "cancer", "wine"])
@pytest.mark.parametrize("sparse", [False, True])
def test_same_iterates_as_scikit_learn(solver, name, sparse):
    X, y = _data(name)
    X = sp.csr_matrix(X) if sparse else X
    a, b = _fit_both("LogisticRegression", X, y, solver=solver, tol=1e-8, max_iter=500)
    _assert_same_model(a, b)
    np.testing.assert_array_equal(b.n_iter_, a.n_iter_)
    assert b.n_iter_.dtype == a.n_iter_.dtype and b.n_iter_.shape == (1,)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))
    np.testing.assert_allclose(b.predict_proba(X), a.predict_proba(X), atol=1e-6)
    np.testing.assert_allclose(b.decision_function(X), a.decision_function(X), atol=1e-5)
    assert b.score(X, y) == a.score(X, y)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
@pytest.mark.parametrize("params", [
    {"class_weight": "balanced"}, {"class_weight": {0: 3.0, 1: 0.5}}, {"fit_intercept": False},
    {"C": np.inf}, {"C": 0.05}, {"sample_weight": True}])
def test_options_as_scikit_learn(solver, params):
    X, y = _data("iris")
    params = dict(params)
    sw = (np.random.default_rng(0).uniform(0, 2, len(y))
          if params.pop("sample_weight", False) else None)
    a, b = _fit_both("LogisticRegression", X, y, sample_weight=sw, solver=solver, tol=1e-8,
                     max_iter=1000, **params)
    if params.get("C") == np.inf:
        # Unpenalised, iris is nearly separable: the loss is flat along a direction in which
        # the coefficients grow, so rounding (fastml sums the products in another order than
        # scikit-learn's BLAS) moves the stopping point along it. Both stop at the same
        # iteration with the same loss to 1e-10 and coefficients within 1e-4.
        np.testing.assert_array_equal(b.n_iter_, a.n_iter_)
        np.testing.assert_allclose(_half_loss(b, X, y), _half_loss(a, X, y), rtol=1e-10)
        _assert_same_model(a, b, rtol=1e-4)
    else:
        _assert_same_model(a, b, rtol=1e-5)


def _half_loss(model, X, y):
    """The mean half multinomial loss of the fitted model on (X, y)."""
    proba = model.predict_proba(X)
    return -np.mean(np.log(proba[np.arange(len(y)), np.searchsorted(model.classes_, y)]))


def test_binary_with_weights_and_no_intercept():
    X, y = _data("cancer")
    sw = np.random.default_rng(1).uniform(0, 2, len(y))
    a, b = _fit_both("LogisticRegression", X, y, sample_weight=sw, fit_intercept=False, tol=1e-8)
    _assert_same_model(a, b)
    np.testing.assert_array_equal(b.n_iter_, a.n_iter_)


@pytest.mark.parametrize("solver", ["lbfgs", "newton-cholesky"])
def test_float32_is_kept(solver):
    X, y = _data("iris")
    exact = sk.LogisticRegression(solver=solver, tol=1e-10, max_iter=500).fit(X, y).coef_
    a, b = _fit_both("LogisticRegression", X.astype(np.float32), y, solver=solver, tol=1e-6,
                     max_iter=500)
    assert b.coef_.dtype == b.intercept_.dtype == np.float32
    # scikit-learn computes the products in float32, fastml sums them in float64: fastml's
    # float32 fit is within scikit-learn's rounding of its own, and no further from the exact
    # optimum.
    _assert_same_model(a, b, rtol=1e-3)
    assert np.abs(b.coef_ - exact).max() <= np.abs(a.coef_ - exact).max() * 1.01 + 1e-6


@pytest.mark.parametrize("solver", ["newton-cg", "sag", "saga"])
def test_other_l2_solvers_reach_the_same_optimum(solver):
    X, y = _data("wine")
    a = sk.LogisticRegression(solver="newton-cholesky", tol=1e-10, max_iter=1000).fit(X, y)
    b = fm.LogisticRegression(solver=solver, tol=1e-10, max_iter=1000).fit(X, y)
    _assert_same_model(a, b, rtol=1e-6)


# l1 and elasticnet with saga: fastml's proximal Newton steps reach the optimum that
# scikit-learn's saga reaches at a tight tol (in epochs: the fits where it gets there in well
# under a second; on breast_cancer at C=1 its 20000 epochs stop 7e-2 away).
@pytest.mark.parametrize("name, l1_ratio, C", [
    ("iris", 1.0, 0.1), ("iris", 0.5, 0.1), ("wine", 1.0, 0.1), ("wine", 0.5, 0.1),
    ("cancer", 0.5, 0.1)])
@pytest.mark.parametrize("sparse", [False, True])
def test_l1_saga_reaches_scikit_learns_optimum(name, l1_ratio, C, sparse):
    X, y = _data(name)
    a, b = _fit_both("LogisticRegression", X, y, solver="saga", l1_ratio=l1_ratio, C=C,
                     tol=1e-10, max_iter=5000)
    if sparse:  # the same optimum (scikit-learn's sparse saga takes many more epochs to it)
        X = sp.csr_matrix(X)
        b = fm.LogisticRegression(solver="saga", l1_ratio=l1_ratio, C=C, tol=1e-10).fit(X, y)
    assert b.n_iter_.dtype == a.n_iter_.dtype and b.n_iter_.shape == (1,)
    assert b.n_iter_[0] < a.n_iter_[0]  # Newton steps, not epochs
    _assert_same_model(a, b, rtol=1e-6)
    np.testing.assert_array_equal(b.coef_ == 0, a.coef_ == 0)
    np.testing.assert_array_equal(b.predict(X), a.predict(X))


@pytest.mark.parametrize("params", [
    {"class_weight": "balanced"}, {"fit_intercept": False}, {"sample_weight": True},
    {"float32": True}])
def test_l1_saga_options_as_scikit_learn(params):
    X, y = _data("iris")
    params = dict(params)
    sw = (np.random.default_rng(0).uniform(0, 2, len(y))
          if params.pop("sample_weight", False) else None)
    if params.pop("float32", False):
        X = X.astype(np.float32)
    a, b = _fit_both("LogisticRegression", X, y, sample_weight=sw, solver="saga", l1_ratio=0.8,
                     C=0.3, tol=1e-10, max_iter=5000, **params)
    rtol = 1e-4 if X.dtype == np.float32 else 1e-6
    _assert_same_model(a, b, rtol=rtol)


def test_l1_saga_too_large_for_the_hessian_is_handed_to_scikit_learn(monkeypatch):
    from fastml.linear_model import _logistic
    monkeypatch.setattr(_logistic, "_L1_MAX_DOF", 10)  # iris: 3 classes x 5 > 10
    X, y = _data("iris")
    a, b = _fit_both("LogisticRegression", X, y, solver="saga", l1_ratio=1.0, random_state=0,
                     max_iter=30)
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.n_iter_, a.n_iter_)


def test_l1_saga_warns_at_max_iter():
    X, y = _data("wine")
    with pytest.warns(ConvergenceWarning, match="max_iter was reached"):
        model = fm.LogisticRegression(solver="saga", l1_ratio=1.0, max_iter=1).fit(X, y)
    assert model.n_iter_[0] == 1


@pytest.mark.parametrize("params", [{"solver": "liblinear"},
                                    {"solver": "liblinear", "l1_ratio": 1.0}])
def test_handed_to_scikit_learn(params):
    X, y = _data("cancer")
    a, b = _fit_both("LogisticRegression", X, y, random_state=0, max_iter=50, **params)
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.n_iter_, a.n_iter_)


def test_warm_start_continues_from_the_previous_fit():
    X, y = _data("iris")
    fitted = []
    for module in (sk, fm):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = module.LogisticRegression(warm_start=True, max_iter=5).fit(X, y)
            model.set_params(max_iter=200, tol=1e-8).fit(X, y)
        fitted.append(model)
    _assert_same_model(*fitted)
    np.testing.assert_array_equal(fitted[1].n_iter_, fitted[0].n_iter_)


def test_warnings_and_errors_as_scikit_learn():
    X, y = _data("iris")
    # ConvergenceWarning, the deprecated penalty and n_jobs, penalty=None with C.
    _fit_both("LogisticRegression", X, y, max_iter=3)
    _fit_both("LogisticRegression", X, y, penalty="l2", n_jobs=1)
    _fit_both("LogisticRegression", X, y, penalty=None, C=2.0)
    _fit_both("LogisticRegression", X, y, l1_ratio=None)
    for params, match in [({"solver": "lbfgs", "l1_ratio": 1.0}, "supports only 'l2'"),
                          ({"dual": True}, "dual=False"), ({"C": -1.0}, "'C' parameter"),
                          ({"solver": "bad"}, "'solver' parameter")]:
        with pytest.raises(ValueError, match=match):
            fm.LogisticRegression(**params).fit(X, y)
    with pytest.raises(ValueError, match="only one class"):
        fm.LogisticRegression().fit(X[:10], y[:10])
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fm.LogisticRegression().fit(bad, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        fm.LogisticRegression().fit(X, y + 0.5)


def test_pickle_and_threads():
    X, y = _data("wine")
    one = fm.LogisticRegression(n_jobs=1).fit(X, y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        two = fm.LogisticRegression(n_jobs=2).fit(X, y)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    again = pickle.loads(pickle.dumps(one))
    np.testing.assert_array_equal(again.predict_proba(X), one.predict_proba(X))


# ---- LogisticRegressionCV ---------------------------------------------------------------------

def _assert_same_cv(a, b, same_n_iter=True):
    """Same fitted attributes; with same_n_iter=False n_iter_ only in shape and dtype (Newton
    steps against saga's epochs)."""
    _assert_same_model(a, b, rtol=1e-5)
    for attr in ("C_", "l1_ratio_", "l1_ratios_", "Cs_"):
        np.testing.assert_array_equal(getattr(b, attr), getattr(a, attr))
    for attr in ("scores_", "coefs_paths_", "n_iter_"):
        A, B = getattr(a, attr), getattr(b, attr)
        if isinstance(A, dict):
            assert list(A) == list(B)
            pairs = [(A[key], B[key]) for key in A]
        else:
            pairs = [(A, B)]
        for x, z in pairs:
            assert x.shape == z.shape and x.dtype == z.dtype
            if attr != "n_iter_" or same_n_iter:
                np.testing.assert_allclose(z, x, rtol=1e-5, atol=1e-5)


# Well-conditioned fits, where the paths agree to rounding: at C = 10 and above breast_cancer is
# nearly separable and L-BFGS, from iterates that differ in the last bits, may stop a few
# iterations apart.
CS = np.logspace(-3, 0, 4)


@pytest.mark.parametrize("name, params", [
    ("iris", {}), ("cancer", {}),
    ("cancer", {"use_legacy_attributes": False, "l1_ratios": (0.0,), "scoring": "neg_log_loss"}),
    ("iris", {"refit": False, "use_legacy_attributes": True, "scoring": "accuracy"}),
    ("cancer", {"refit": False, "use_legacy_attributes": False, "scoring": "roc_auc"}),
    # A scorer with `labels`: scored against every class, whatever the test fold holds.
    ("iris", {"class_weight": "balanced", "use_legacy_attributes": False,
              "scoring": "f1_macro"}),
    ("iris", {"sample_weight": True, "use_legacy_attributes": True,
              "solver": "newton-cholesky"}),
    ("cancer", {"sample_weight": True, "use_legacy_attributes": False,
                "l1_ratios": (0.0,), "scoring": "neg_log_loss"})])
def test_cv_as_scikit_learn(name, params):
    X, y = _data(name)
    params = dict(params)
    sw = (np.random.default_rng(0).uniform(0.5, 2, len(y))
          if params.pop("sample_weight", False) else None)
    a, b = _fit_both("LogisticRegressionCV", X, y, sample_weight=sw, Cs=CS, cv=3, tol=1e-8,
                     max_iter=500, **params)
    _assert_same_cv(a, b)


def test_cv_sparse_and_threads():
    X, y = _data("iris")
    a, b = _fit_both("LogisticRegressionCV", sp.csr_matrix(X), y, Cs=CS, cv=3, tol=1e-8,
                     use_legacy_attributes=False, scoring="accuracy", l1_ratios=(0.0,))
    _assert_same_cv(a, b)
    one = fm.LogisticRegressionCV(Cs=3, cv=3, n_jobs=1, use_legacy_attributes=False,
                                  scoring="accuracy", l1_ratios=(0.0,)).fit(X, y)
    two = fm.LogisticRegressionCV(Cs=3, cv=3, n_jobs=2, use_legacy_attributes=False,
                                  scoring="accuracy", l1_ratios=(0.0,)).fit(X, y)
    np.testing.assert_array_equal(one.coefs_paths_, two.coefs_paths_)


# l1 and elasticnet in LogisticRegressionCV: each fold's path over Cs by proximal Newton steps,
# warm-started, against scikit-learn's saga at a tight tol (fits where it reaches the optimum in
# well under a second; binary: breast_cancer at small C).
@pytest.mark.parametrize("name, params", [
    ("iris", {"l1_ratios": (1.0,), "use_legacy_attributes": False}),
    ("wine", {"l1_ratios": (0.5, 1.0), "use_legacy_attributes": False}),
    ("wine", {"l1_ratios": (1.0,), "use_legacy_attributes": True}),
    # refit=False with elasticnet: an array (scikit-learn indexes l1_ratios by an array there
    # and raises TypeError for a tuple; fastml answers).
    ("iris", {"l1_ratios": np.array([0.0, 0.5]), "refit": False,
              "use_legacy_attributes": False}),
    ("wine", {"l1_ratios": np.array([0.3, 0.7]), "refit": False, "use_legacy_attributes": True,
              "scoring": "accuracy"}),
    ("iris", {"l1_ratios": (0.5,), "class_weight": "balanced", "sample_weight": True,
              "use_legacy_attributes": False}),
    ("wine", {"l1_ratios": (1.0,), "fit_intercept": False, "use_legacy_attributes": False}),
    ("cancer", {"l1_ratios": (0.5, 1.0), "Cs": [0.01, 0.03],
                "use_legacy_attributes": False})])
def test_cv_l1_as_scikit_learn(name, params):
    X, y = _data(name)
    params = {"Cs": [0.03, 0.1, 0.3], "scoring": "neg_log_loss", **params}
    sw = (np.random.default_rng(0).uniform(0.5, 2, len(y))
          if params.pop("sample_weight", False) else None)
    a, b = _fit_both("LogisticRegressionCV", X, y, sample_weight=sw, cv=3, solver="saga",
                     tol=1e-10, max_iter=5000, **params)
    _assert_same_cv(a, b, same_n_iter=False)
    np.testing.assert_array_equal(b.coef_ == 0, a.coef_ == 0)
    assert np.max(b.n_iter_) < np.max(a.n_iter_)  # Newton steps, not epochs


def test_cv_l1_sparse_and_threads():
    X, y = _data("wine")
    params = dict(Cs=[0.03, 0.1, 0.3], cv=3, solver="saga", l1_ratios=(0.5, 1.0), tol=1e-10,
                  scoring="neg_log_loss", use_legacy_attributes=False)
    dense = fm.LogisticRegressionCV(**params).fit(X, y)
    sparse = fm.LogisticRegressionCV(**params).fit(sp.csr_matrix(X), y)
    _assert_same_cv(dense, sparse, same_n_iter=False)  # a step more or less from rounding
    two = fm.LogisticRegressionCV(n_jobs=2, **params).fit(X, y)
    np.testing.assert_array_equal(two.coefs_paths_, dense.coefs_paths_)


def test_cv_l1_errors_and_too_large_as_scikit_learn(monkeypatch):
    X, y = _data("iris")
    for l1_ratios in [[0.5, 1.5], [-0.5, 0.5], [0.5, "a"]]:
        for module in (sk, fm):
            with pytest.raises(ValueError, match="l1_ratios must be an array-like"):
                module.LogisticRegressionCV(solver="saga", l1_ratios=l1_ratios).fit(X, y)
    from fastml.linear_model import _logistic
    monkeypatch.setattr(_logistic, "_L1_MAX_DOF", 10)  # iris: 3 classes x 5 > 10
    a, b = _fit_both("LogisticRegressionCV", X, y, Cs=2, cv=2, solver="saga", l1_ratios=(1.0,),
                     max_iter=20, random_state=0, scoring="accuracy",
                     use_legacy_attributes=False)
    np.testing.assert_array_equal(b.coef_, a.coef_)
    np.testing.assert_array_equal(b.n_iter_, a.n_iter_)


def test_cv_handed_to_scikit_learn_for_l1():
    X, y = _data("cancer", 200)
    a, b = _fit_both("LogisticRegressionCV", X, y, Cs=2, cv=2, solver="liblinear",
                     l1_ratios=(1.0,), scoring="accuracy", use_legacy_attributes=False,
                     random_state=0)
    np.testing.assert_array_equal(b.coef_, a.coef_)
