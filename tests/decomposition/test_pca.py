"""fastml.decomposition.PCA against scikit-learn's and the NumPy reference, on iris, digits and
random sparse data, every solver, both float dtypes."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import decomposition as skd
from sklearn.datasets import load_digits, load_iris

from fastml.decomposition import PCA
from fastml.reference import decomposition as reference
from tests._assertions import assert_same_message

pytestmark = pytest.mark.usefixtures("one_thread")

SOLVERS = ["full", "covariance_eigh", "randomized", "arpack"]
ATTRIBUTES = ["components_", "explained_variance_", "explained_variance_ratio_",
              "singular_values_", "mean_", "noise_variance_"]


def _data(name, dtype):
    X = {"iris": load_iris, "digits": load_digits}[name]().data
    return X.astype(dtype)


def _tol(dtype):
    # float32: scikit-learn decomposes in float32, fastml from float64 sums (closer to exact)
    return dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-6, atol=1e-8)


def assert_same_pca(ours, theirs, dtype):
    assert ours.n_components_ == theirs.n_components_
    assert ours.n_samples_ == theirs.n_samples_
    assert ours._fit_svd_solver == theirs._fit_svd_solver
    # components of (near) zero variance are any basis of the null space: not compared
    ev = np.asarray(theirs.explained_variance_, dtype=np.float64)
    defined = ev > 1e-6 * ev.max()
    for name in ATTRIBUTES:
        a, b = np.asarray(getattr(ours, name)), np.asarray(getattr(theirs, name))
        assert a.dtype == b.dtype, name
        if name == "components_":
            a, b = a[defined], b[defined]
        scale = max(1.0, float(np.abs(b).max())) if name != "components_" else 1.0
        np.testing.assert_allclose(a / scale, b / scale, err_msg=name, **_tol(dtype))


@pytest.mark.parametrize("solver", SOLVERS + ["auto"])
@pytest.mark.parametrize("name, n_components", [("iris", 2), ("digits", 10), ("digits", 40)])
def test_matches_scikit_learn(name, n_components, solver, dtype):
    X = _data(name, dtype)
    ours = PCA(n_components, svd_solver=solver, random_state=0).fit(X)
    theirs = skd.PCA(n_components, svd_solver=solver, random_state=0).fit(X)
    assert_same_pca(ours, theirs, dtype)
    scale = np.abs(theirs.transform(X)).max()
    np.testing.assert_allclose(ours.transform(X) / scale, theirs.transform(X) / scale,
                               **_tol(dtype))
    np.testing.assert_allclose(PCA(n_components, svd_solver=solver, random_state=0)
                               .fit_transform(X) / scale,
                               theirs.fit_transform(X) / scale, **_tol(dtype))


@pytest.mark.parametrize("solver", ["full", "covariance_eigh"])
def test_matches_the_exact_reference(solver, dtype):
    X = _data("digits", dtype)
    ours = PCA(8, svd_solver=solver).fit(X)
    mean, components, variance, singular = reference.pca(X, 8)
    tol = dict(rtol=1e-4, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(ours.components_, components, **tol)
    np.testing.assert_allclose(ours.explained_variance_, variance, **tol)
    np.testing.assert_allclose(ours.singular_values_, singular, **tol)
    np.testing.assert_allclose(ours.mean_, mean, **tol)
    np.testing.assert_allclose(ours.transform(X),
                               reference.pca_transform(X, mean, components), rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("n_components", [None, 0.8, 0.95, "mle"])
def test_n_components_forms(n_components):
    X = _data("digits", np.float64)
    for solver in ("full", "covariance_eigh", "auto"):
        ours = PCA(n_components, svd_solver=solver).fit(X)
        theirs = skd.PCA(n_components, svd_solver=solver).fit(X)
        assert_same_pca(ours, theirs, np.float64)


@pytest.mark.parametrize("solver", SOLVERS)
def test_whiten_and_the_probabilistic_model(solver, dtype):
    X = _data("iris", dtype)
    ours = PCA(3, whiten=True, svd_solver=solver, random_state=0).fit(X)
    theirs = skd.PCA(3, whiten=True, svd_solver=solver, random_state=0).fit(X)
    tol = _tol(dtype)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), **tol)
    np.testing.assert_allclose(ours.fit_transform(X), theirs.fit_transform(X), **tol)
    Z = theirs.transform(X)
    np.testing.assert_allclose(ours.inverse_transform(Z), theirs.inverse_transform(Z), **tol)
    np.testing.assert_allclose(ours.get_covariance(), theirs.get_covariance(), **tol)
    np.testing.assert_allclose(ours.get_precision(), theirs.get_precision(), rtol=1e-3, atol=1e-3)
    rel = 1e-3 if dtype == np.float32 else 1e-8
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=rel)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=rel)


def _sparse(dtype, seed=0):
    return sp.random(400, 60, density=0.1, format="csr", random_state=seed, dtype=dtype)


@pytest.mark.parametrize("solver", ["arpack", "covariance_eigh", "auto"])
@pytest.mark.parametrize("fmt", ["csr", "csc"])
def test_sparse_input(solver, fmt, dtype):
    X = _sparse(dtype).asformat(fmt)
    ours = PCA(5, svd_solver=solver, random_state=0).fit(X)
    theirs = skd.PCA(5, svd_solver=solver, random_state=0).fit(X)
    assert_same_pca(ours, theirs, dtype)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), **_tol(dtype))
    np.testing.assert_allclose(ours.transform(X), ours.transform(X.toarray()), **_tol(dtype))


def test_digits_as_sparse_matrix():
    X = sp.csr_matrix(_data("digits", np.float64))
    ours = PCA(10, svd_solver="arpack", random_state=0).fit(X)
    theirs = skd.PCA(10, svd_solver="arpack", random_state=0).fit(X)
    assert_same_pca(ours, theirs, np.float64)


@pytest.mark.parametrize("solver", ["full", "randomized"])
def test_sparse_input_with_other_solvers_raises_as_scikit_learn(solver):
    with pytest.raises(TypeError, match="PCA only support sparse inputs"):
        PCA(2, svd_solver=solver).fit(_sparse(np.float64))


@pytest.mark.parametrize("shape", [(60, 300), (300, 60)])
def test_randomized_on_wide_and_tall_data(shape):
    """Wide data take the transposed path and tall data the Gram matrix, both through the
    normal products; the same random_state gives scikit-learn's components."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape) * np.linspace(5, 0.1, shape[1])
    for n_components in (3, 20):
        ours = PCA(n_components, svd_solver="randomized", random_state=1).fit(X)
        theirs = skd.PCA(n_components, svd_solver="randomized", random_state=1).fit(X)
        assert_same_pca(ours, theirs, np.float64)
        np.testing.assert_allclose(
            PCA(n_components, svd_solver="randomized", random_state=1).fit_transform(X),
            theirs.fit_transform(X), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("normalizer", ["auto", "QR", "LU", "none"])
@pytest.mark.parametrize("iterated_power", [0, 2, 5])
def test_randomized_options(normalizer, iterated_power):
    X = _data("digits", np.float64)
    kwargs = dict(svd_solver="randomized", power_iteration_normalizer=normalizer,
                  iterated_power=iterated_power, n_oversamples=5, random_state=3)
    assert_same_pca(PCA(6, **kwargs).fit(X), skd.PCA(6, **kwargs).fit(X), np.float64)


def test_rank_deficient_data_falls_back_to_the_range_finder():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3)) @ rng.normal(size=(3, 12))  # rank 3 < n_components
    ours = PCA(6, svd_solver="randomized", random_state=0).fit(X)
    theirs = skd.PCA(6, svd_solver="randomized", random_state=0).fit(X)
    np.testing.assert_allclose(ours.components_[:3], theirs.components_[:3], atol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_, theirs.explained_variance_, atol=1e-8)


def test_float32_data_with_a_large_mean_keeps_its_digits():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(5000, 10)) * np.arange(1, 11) + 1e4).astype(np.float32)
    exact = reference.pca(X, 3)
    for solver in SOLVERS:
        ours = PCA(3, svd_solver=solver, random_state=0).fit(X)
        np.testing.assert_allclose(ours.explained_variance_, exact[2], rtol=1e-4)
        np.testing.assert_allclose(ours.transform(X),
                                   reference.pca_transform(X, exact[0], exact[1]), atol=2e-2)


def test_thread_count_does_not_change_the_result():
    for X, solver in ((_data("digits", np.float64)[:600], "covariance_eigh"),
                      (_data("digits", np.float32)[:600], "randomized"),
                      (_sparse(np.float64), "arpack")):
        first = PCA(5, svd_solver=solver, random_state=0, n_jobs=1).fit(X)
        second = PCA(5, svd_solver=solver, random_state=0, n_jobs=2).fit(X)
        np.testing.assert_array_equal(first.components_, second.components_)
        np.testing.assert_array_equal(first.transform(X), second.transform(X))


@pytest.mark.parametrize("solver", SOLVERS)
def test_bad_input_raises_as_scikit_learn(solver):
    X = _data("iris", np.float64)
    for n_components in (5, 200):
        with pytest.raises(ValueError) as ours:
            PCA(n_components, svd_solver=solver).fit(X)
        with pytest.raises(ValueError) as theirs:
            skd.PCA(n_components, svd_solver=solver).fit(X)
        assert_same_message(ours, theirs)
    X_nan = X.copy()
    X_nan[3, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        PCA(2, svd_solver=solver).fit(X_nan)
    with pytest.raises(ValueError, match="NaN"):
        PCA(2, svd_solver=solver).fit(X).transform(X_nan)


def test_is_a_scikit_learn_pca_and_keeps_input_unchanged():
    X = _data("digits", np.float32)
    copy = X.copy()
    model = PCA(4, svd_solver="randomized", random_state=0)
    model.fit_transform(X)
    assert isinstance(model, skd.PCA)
    np.testing.assert_array_equal(X, copy)
