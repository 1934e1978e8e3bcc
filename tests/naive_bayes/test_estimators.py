"""fastml.naive_bayes against scikit-learn's on its shipped data sets and a text-like sparse count
matrix: the same attributes (values and dtypes), probabilities, partial_fit sequences,
sample_weight, errors and warnings; every sparse format; pickling; n_jobs."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import naive_bayes as sk
from sklearn.datasets import load_breast_cancer, load_digits, load_iris, load_wine

from fastml import naive_bayes as fm

NAMES = ["GaussianNB", "MultinomialNB", "ComplementNB", "BernoulliNB", "CategoricalNB"]
DISCRETE = ["MultinomialNB", "ComplementNB", "BernoulliNB"]
ATTRIBUTES = ["classes_", "class_count_", "class_prior_", "class_log_prior_", "feature_count_",
              "feature_all_", "feature_log_prob_", "category_count_", "n_categories_", "theta_",
              "var_", "epsilon_", "n_features_in_"]
METHODS = ["predict_joint_log_proba", "predict_log_proba", "predict_proba", "predict"]


def _datasets():
    out = {}
    for name, loader in [("iris", load_iris), ("digits", load_digits),
                         ("breast_cancer", load_breast_cancer), ("wine", load_wine)]:
        out[name] = loader(return_X_y=True)
    rng = np.random.default_rng(0)
    n, vocab = 400, 300
    p = 1.0 / np.arange(1, vocab + 1)
    cols = rng.choice(vocab, size=n * 12, p=p / p.sum())
    X = sp.csr_matrix((np.ones(n * 12), (np.repeat(np.arange(n), 12), cols)), shape=(n, vocab))
    X.sum_duplicates()
    out["text"] = (X, rng.integers(0, 4, size=n))
    return out


DATA = _datasets()


def _for(name, X):
    """X as the estimator takes it: counts for CategoricalNB (small non-negative codes)."""
    if name == "CategoricalNB":
        X = X.toarray() if sp.issparse(X) else X
        return np.floor(X / (X.max(axis=0, keepdims=True) + 1e-12) * 4).astype(np.int64)
    if name == "GaussianNB" and sp.issparse(X):
        return X.toarray()
    return X


def _tolerance(X, name):
    if X.dtype == np.float32 and name == "GaussianNB":
        # scikit-learn sums float32 in float32; fastml in float64 (closer to the exact value)
        return {"rtol": 2e-4, "atol": 1e-6}
    return {"rtol": 1e-10, "atol": 1e-12}


def assert_same_model(ours, theirs, X, tol=None):
    tol = tol or _tolerance(X, type(ours).__name__)
    for attr in ATTRIBUTES:
        if not hasattr(theirs, attr):
            assert not hasattr(ours, attr), attr
            continue
        a, b = getattr(ours, attr), getattr(theirs, attr)
        if isinstance(b, list):
            assert len(a) == len(b)
            for u, v in zip(a, b):
                assert u.dtype == v.dtype and u.shape == v.shape
                np.testing.assert_allclose(u, v, **tol)
            continue
        assert np.asarray(a).dtype == np.asarray(b).dtype, attr
        assert type(a) is type(b) or np.ndim(b) > 0, (attr, type(a), type(b))
        if np.asarray(b).dtype.kind in "fc":
            np.testing.assert_allclose(a, b, err_msg=attr, **tol)
        else:
            np.testing.assert_array_equal(a, b, err_msg=attr)
    jll = theirs.predict_joint_log_proba(X)
    # A score of magnitude s is known to eps * s, and so are the (log) probabilities computed
    # from differences of scores (GaussianNB's reach 1e10 on digits).
    scale = 8 * np.finfo(jll.dtype).eps * np.abs(jll[np.isfinite(jll)]).max()
    for method in METHODS:
        a, b = getattr(ours, method)(X), getattr(theirs, method)(X)
        assert a.dtype == b.dtype and a.shape == b.shape, method
        if method == "predict":
            assert np.mean(a == b) >= 0.995, method  # ties of near-equal scores may differ
        elif method == "predict_joint_log_proba":
            np.testing.assert_allclose(a, b, err_msg=method, rtol=1e-9 if a.dtype == np.float64
                                       else 2e-5, atol=1e-11 if a.dtype == np.float64
                                       else 100 * scale)
        else:
            np.testing.assert_allclose(a, b, err_msg=method, rtol=1e-9,
                                       atol=max(scale, 1e-11) * (1 if a.dtype == np.float64
                                                                 else 100))


@pytest.mark.parametrize("data", sorted(DATA))
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fit_matches_sklearn(name, data, dtype):
    X, y = DATA[data]
    X = _for(name, X)
    if name != "CategoricalNB":
        X = X.astype(dtype)
    assert_same_model(getattr(fm, name)().fit(X, y), getattr(sk, name)().fit(X, y), X)


PARAMS = {
    "GaussianNB": [{"var_smoothing": 1e-3}, {"priors": [0.2, 0.3, 0.5]}, {"var_smoothing": 0.0}],
    "MultinomialNB": [{"alpha": 0.01}, {"fit_prior": False}, {"class_prior": [0.2, 0.3, 0.5]},
                      {"alpha": 0.0, "force_alpha": True}],
    "ComplementNB": [{"norm": True}, {"alpha": 0.3}, {"fit_prior": False}],
    "BernoulliNB": [{"binarize": 2.0}, {"binarize": None}, {"alpha": 0.5, "fit_prior": False}],
    "CategoricalNB": [{"min_categories": 7}, {"alpha": 0.2}, {"class_prior": [0.2, 0.3, 0.5]}],
}


@pytest.mark.parametrize("name,params", [(n, p) for n in NAMES for p in PARAMS[n]])
def test_parameters_match_sklearn(name, params):
    X, y = DATA["wine"]
    X = _for(name, X)
    if name == "BernoulliNB" and params.get("binarize", 0) is None:
        X = (X > np.median(X, axis=0)).astype(np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # alpha = 0: log(0)
        ours, theirs = getattr(fm, name)(**params).fit(X, y), getattr(sk, name)(**params).fit(X, y)
        assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("name", DISCRETE)
def test_array_alpha_matches_sklearn(name):
    X, y = DATA["iris"]
    alpha = np.array([0.1, 1.0, 2.0, 0.5])
    if name == "BernoulliNB":  # scikit-learn adds 2 * alpha (features) to the class counts
        for module in (fm, sk):
            with pytest.raises(ValueError, match="operands could not be broadcast together"):
                getattr(module, name)(alpha=alpha).fit(X, y)
        return
    assert_same_model(getattr(fm, name)(alpha=alpha).fit(X, y),
                      getattr(sk, name)(alpha=alpha).fit(X, y), X)
    with pytest.raises(ValueError, match="When alpha is an array"):
        getattr(fm, name)(alpha=np.ones(3)).fit(X, y)
    with pytest.raises(ValueError, match="All values in alpha must be greater than 0"):
        getattr(fm, name)(alpha=np.array([1.0, -1.0, 1.0, 1.0])).fit(X, y)


@pytest.mark.parametrize("name", DISCRETE + ["CategoricalNB"])
def test_alpha_too_small_warns_as_sklearn(name):
    X, y = _for(name, DATA["iris"][0]), DATA["iris"][1]
    with pytest.warns(UserWarning, match="alpha too small will result in numeric errors"):
        ours = getattr(fm, name)(alpha=0.0, force_alpha=False).fit(X, y)
    with pytest.warns(UserWarning, match="alpha too small"):
        theirs = getattr(sk, name)(alpha=0.0, force_alpha=False).fit(X, y)
    assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("data", ["digits", "text"])
def test_partial_fit_sequence_matches_sklearn(name, data):
    X, y = DATA[data]
    X = _for(name, X)
    classes = np.unique(y)
    # Every category known from the first batch on, so that all of X can be scored.
    params = {"min_categories": X.max(axis=0) + 1} if name == "CategoricalNB" else {}
    ours, theirs = getattr(fm, name)(**params), getattr(sk, name)(**params)
    rng = np.random.default_rng(0)
    w = rng.uniform(0.2, 2.0, size=X.shape[0])
    bounds = [0, 7, 150, 151, X.shape[0]]
    for i, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:])):
        kwargs = {"classes": classes} if i == 0 else {}
        sw = w[lo:hi] if i % 2 else None
        ours.partial_fit(X[lo:hi], y[lo:hi], sample_weight=sw, **kwargs)
        theirs.partial_fit(X[lo:hi], y[lo:hi], sample_weight=sw, **kwargs)
        assert_same_model(ours, theirs, X, tol={"rtol": 1e-9, "atol": 1e-11})


@pytest.mark.parametrize("name", NAMES)
def test_sample_weight_matches_sklearn(name):
    X, y = DATA["breast_cancer"]
    X = _for(name, X)
    w = np.random.default_rng(1).uniform(0, 3, size=len(y))
    w[::10] = 0.0
    assert_same_model(getattr(fm, name)().fit(X, y, sample_weight=w),
                      getattr(sk, name)().fit(X, y, sample_weight=w), X)
    if name == "GaussianNB":
        return  # its epsilon comes from the unweighted variance: weights are not repeated rows
    # Integer weights are repeated rows.
    counts = np.random.default_rng(2).integers(0, 3, size=len(y))
    params = {"min_categories": X.max(axis=0) + 1} if name == "CategoricalNB" else {}
    a = getattr(fm, name)(**params).fit(X, y, sample_weight=counts)
    b = getattr(fm, name)(**params).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("name", ["MultinomialNB", "ComplementNB", "BernoulliNB"])
@pytest.mark.parametrize("fmt", ["csr_matrix", "csc_matrix", "coo_matrix", "csr_array",
                                 "csc_array", "coo_array"])
def test_sparse_formats_match_dense(name, fmt, dtype):
    X, y = DATA["text"]
    X = X.astype(dtype)
    Xs = getattr(sp, fmt)(X)
    ours, theirs = getattr(fm, name)().fit(Xs, y), getattr(sk, name)().fit(Xs, y)
    assert_same_model(ours, theirs, Xs)
    dense = getattr(fm, name)().fit(X.toarray(), y)
    np.testing.assert_allclose(ours.predict_proba(Xs), dense.predict_proba(X.toarray()),
                               rtol=1e-10, atol=1e-12)


def test_int64_sparse_indices_and_unsorted_columns():
    X, y = DATA["text"]
    X64 = X.copy()
    X64.indptr, X64.indices = X64.indptr.astype(np.int64), X64.indices.astype(np.int64)
    Xu = X.copy()
    for i in range(Xu.shape[0]):  # reverse each row's columns
        lo, hi = Xu.indptr[i], Xu.indptr[i + 1]
        Xu.indices[lo:hi], Xu.data[lo:hi] = Xu.indices[lo:hi][::-1], Xu.data[lo:hi][::-1]
    Xu.has_sorted_indices = False
    ref = fm.MultinomialNB().fit(X, y)
    for Xv in (X64, Xu):
        model = fm.MultinomialNB().fit(Xv, y)
        np.testing.assert_allclose(model.feature_count_, ref.feature_count_)
        np.testing.assert_allclose(model.predict_proba(Xv), ref.predict_proba(X), rtol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_float32_dtypes_as_sklearn(name):
    X, y = DATA["iris"]
    X32 = _for(name, X.astype(np.float32))
    ours, theirs = getattr(fm, name)().fit(X32, y), getattr(sk, name)().fit(X32, y)
    for Xp in (X32, _for(name, X), X.astype(np.int64) if name != "CategoricalNB" else X32):
        for method in METHODS[:3]:
            assert getattr(ours, method)(Xp).dtype == getattr(theirs, method)(Xp).dtype


@pytest.mark.parametrize("name", NAMES)
def test_string_labels_and_one_class(name):
    X, y = DATA["iris"]
    X = _for(name, X)
    labels = np.array(["setosa", "versicolor", "virginica"])[y]
    assert_same_model(getattr(fm, name)().fit(X, labels), getattr(sk, name)().fit(X, labels), X)
    one = np.zeros(len(y), dtype=int)
    assert_same_model(getattr(fm, name)().fit(X, one), getattr(sk, name)().fit(X, one), X)


@pytest.mark.parametrize("name", NAMES)
def test_errors_as_sklearn(name):
    X, y = DATA["iris"]
    X = _for(name, X)
    est = getattr(fm, name)
    with pytest.raises(ValueError, match="classes must be passed on the first call"):
        est().partial_fit(X, y)
    model = est().partial_fit(X, y, classes=[0, 1, 2])
    with pytest.raises(ValueError, match="is not the same as on last call to partial_fit"):
        model.partial_fit(X, y, classes=[0, 1])
    with pytest.raises(ValueError, match="X has 3 features, but"):
        model.predict(X[:, :3])
    with pytest.raises(ValueError, match="Unknown label type"):
        est().fit(X, y + 0.5)
    if name in ("MultinomialNB", "ComplementNB", "CategoricalNB"):
        with pytest.raises(ValueError, match=f"Negative values in data passed to {name}"):
            est().fit(X - 1, y)
    if name in DISCRETE + ["CategoricalNB"]:
        with pytest.raises(ValueError, match="Number of priors must match number of classes"):
            est(class_prior=[0.5, 0.5]).fit(X, y)
    if name == "GaussianNB":
        with pytest.raises(ValueError, match="The sum of the priors should be 1"):
            est(priors=[0.5, 0.5, 0.5]).fit(X, y)
        with pytest.raises(ValueError, match="Priors must be non-negative"):
            est(priors=[1.5, -0.5, 0.0]).fit(X, y)
        with pytest.raises(ValueError, match="Number of priors must match"):
            est(priors=[0.5, 0.5]).fit(X, y)
        with pytest.raises(ValueError, match="do not exist in the initial classes"):
            est().partial_fit(X, y, classes=[0, 1, 2]).partial_fit(X, y + 1)
    if name == "CategoricalNB":
        fitted = est().fit(X, y)
        bad = X.copy()
        bad[0, 1] = 99
        with pytest.raises(IndexError, match="index 99 is out of bounds for axis 1"):
            fitted.predict(bad)
        with pytest.raises(IndexError, match="index 99 is out of bounds for axis 1"):
            sk.CategoricalNB().fit(X, y).predict(bad)
        for module in (fm, sk):  # the shapes are broadcast before they are checked
            with pytest.raises(ValueError, match="operands could not be broadcast"):
                getattr(module, name)(min_categories=[2, 2]).fit(X, y)
            with pytest.raises(ValueError, match="'min_categories' should have shape"):
                getattr(module, name)(min_categories=[[2, 2, 2, 2]] * 2).fit(X, y)
        with pytest.raises(ValueError, match="'min_categories' should have integral type"):
            est(min_categories=np.array([2.0, 2, 2, 2])).fit(X, y)


@pytest.mark.parametrize("name", DISCRETE)
def test_unknown_labels_in_later_batches_add_nothing_as_sklearn(name):
    X, y = DATA["iris"]
    ours = getattr(fm, name)().partial_fit(X[:50], y[:50], classes=[0, 1])
    theirs = getattr(sk, name)().partial_fit(X[:50], y[:50], classes=[0, 1])
    ours.partial_fit(X[40:], y[40:])
    theirs.partial_fit(X[40:], y[40:])
    assert_same_model(ours, theirs, X)


@pytest.mark.parametrize("name", NAMES)
def test_pickle_and_n_jobs(name):
    X, y = DATA["digits"]
    X = _for(name, X)
    model = getattr(fm, name)(n_jobs=1).fit(X, y)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(again.predict_proba(X), model.predict_proba(X))
    two = getattr(fm, name)(n_jobs=2).fit(X, y)
    for attr in ATTRIBUTES:
        if hasattr(model, attr) and not isinstance(getattr(model, attr), list):
            np.testing.assert_array_equal(getattr(two, attr), getattr(model, attr))
    np.testing.assert_array_equal(two.predict_proba(X), model.predict_proba(X))
