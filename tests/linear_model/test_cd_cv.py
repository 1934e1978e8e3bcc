"""LassoCV and ElasticNetCV on fold Gram matrices built from row blocks (fastml.linear_model._cd_cv)
against scikit-learn's own loop, which builds a Gram matrix per fold, and the block algebra
against the Gram matrix of each fold's centred, weighted training rows."""
import warnings

import numpy as np
import pytest
from sklearn import linear_model as sk
from sklearn.datasets import load_breast_cancer, load_diabetes
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, PredefinedSplit, ShuffleSplit

import fastml.linear_model as fm
from fastml.linear_model import _cd_cv
from fastml.linear_model._coordinate_descent import solve_fold_path, solve_gram_path

X_DIABETES, Y_DIABETES = load_diabetes(return_X_y=True)
# breast_cancer's features have means up to ~900 times their spread: the centring is tested
X_CANCER, Y_CANCER = load_breast_cancer(return_X_y=True)


def _data(name, dtype):
    X, y = (X_DIABETES, Y_DIABETES) if name == "diabetes" else (X_CANCER, Y_CANCER * 10.0)
    return X.astype(dtype), y.astype(dtype)


def _fit_both(name, X, y, sample_weight=None, **params):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return [getattr(m, name)(**params).fit(X, y, sample_weight=sample_weight)
                for m in (fm, sk)]


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("data", ["diabetes", "cancer"])
@pytest.mark.parametrize("name,params", [
    ("LassoCV", dict()),
    ("LassoCV", dict(fit_intercept=False, cv=KFold(4, shuffle=True, random_state=0))),
    ("ElasticNetCV", dict(l1_ratio=[0.2, 0.8], positive=True)),
    ("ElasticNetCV", dict(l1_ratio=0.5, alphas=[5.0, 0.5, 0.05, 0.005],
                          cv=PredefinedSplit(np.arange(442) % 4 - 1))),
])
def test_matches_scikit_learn(name, params, data, weighted, dtype):
    X, y = _data(data, dtype)
    if isinstance(params.get("cv"), PredefinedSplit):
        X, y = X[:442], y[:442]
    params = {"cv": 3, "alphas": 12, "tol": 1e-10 if dtype == np.float64 else 1e-5,
              "max_iter": 100000, **params}
    sw = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y)) if weighted else None
    ours, theirs = _fit_both(name, X, y, sw, **params)
    assert ours.alpha_ == theirs.alpha_
    assert getattr(ours, "l1_ratio_", None) == getattr(theirs, "l1_ratio_", None)
    np.testing.assert_array_equal(ours.alphas_, theirs.alphas_)
    if dtype == np.float64:
        np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-7)
        scale = max(1.0, float(np.abs(theirs.coef_).max()))
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-7 * scale)
        np.testing.assert_allclose(ours.intercept_, theirs.intercept_, rtol=0, atol=1e-7 * scale)
    else:
        # float32 at tol=1e-5: within 2e-3 of the largest value (the float32 bound of
        # test_coordinate_descent) of scikit-learn's float64 answer, or, on ill-conditioned data
        # (cancer) where float32 stops a few per cent off, no further than twice scikit-learn's
        # float32 answer is
        exact, _ = _fit_both(name, X.astype(np.float64), y.astype(np.float64), sw,
                             **{**params, "tol": 1e-12})
        for attr in ("mse_path_", "coef_", "intercept_"):
            ref = np.asarray(getattr(exact, attr))
            off = np.max(np.abs(getattr(ours, attr) - ref))
            assert off <= max(2 * np.max(np.abs(getattr(theirs, attr) - ref)),
                              2e-3 * max(1.0, np.abs(ref).max()))
    assert ours.mse_path_.dtype == theirs.mse_path_.dtype
    assert ours.coef_.dtype == theirs.coef_.dtype == dtype
    assert type(ours.intercept_) is type(theirs.intercept_)
    assert type(ours.dual_gap_) is type(theirs.dual_gap_)
    assert isinstance(ours.n_iter_, int)
    assert ours.n_features_in_ == X.shape[1]


def test_other_splits_and_inputs_run_scikit_learns_loop():
    """ShuffleSplit (rows in no training set) and a list X go through scikit-learn's loop with
    fastml's paths; the answers are scikit-learn's either way."""
    X, y = X_DIABETES, Y_DIABETES
    for cv, X_in in [(ShuffleSplit(3, test_size=0.2, random_state=0), X), (3, X.tolist())]:
        ours, theirs = _fit_both("LassoCV", X_in, y, cv=cv, alphas=10, tol=1e-10)
        assert ours.alpha_ == theirs.alpha_
        np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-7)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=0, atol=1e-8 * 600)


def test_blocks_of_a_split():
    n = 20
    kfold = list(KFold(4).split(np.zeros((n, 1))))
    blocks = _cd_cv._blocks(kfold, n)
    assert [list(b) for b in blocks] == [list(test) for _, test in kfold]
    assert _cd_cv._blocks(list(ShuffleSplit(3, test_size=0.2, train_size=0.5,
                                            random_state=0).split(np.zeros((n, 1)))), n) is None
    # rows in no test set make a last block
    predefined = list(PredefinedSplit(np.arange(n) % 3 - 1).split())
    blocks = _cd_cv._blocks(predefined, n)
    assert len(blocks) == 3 and list(blocks[-1]) == list(np.flatnonzero(np.arange(n) % 3 == 0))
    # overlapping test sets
    assert _cd_cv._blocks([(np.arange(5, 20), np.arange(5)), (np.arange(3, 20), np.arange(3))],
                          n) is None


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("center", [True, False])
def test_block_sums_give_each_folds_gram_matrix(center, weighted, dtype):
    """Gram matrix (through a path on the blocks' Gram columns), X'y, y'y and offsets of each
    fold's training rows, centred by their weighted
    means and weighted by the weights rescaled to sum to their number (scikit-learn's folds),
    against NumPy on those rows; several chunks per block."""
    X, y = _data("cancer", dtype)
    n = len(y)
    w = np.random.default_rng(1).uniform(0.2, 3.0, size=n) if weighted else None
    folds = list(KFold(3, shuffle=True, random_state=0).split(X))
    blocks = _cd_cv._blocks(folds, n)
    chunk = _cd_cv._CHUNK_BYTES
    try:
        _cd_cv._CHUNK_BYTES = 50 * X.shape[1] * X.itemsize  # 50 rows a chunk
        sums = _cd_cv._BlockSums(X, y.astype(np.float64), w, blocks, center, n_threads=2)
    finally:
        _cd_cv._CHUNK_BYTES = chunk
    for k, (train, _) in enumerate(list(folds) + [(np.arange(n), None)]):
        Xt, yt = X[train].astype(np.float64), y[train].astype(np.float64)
        wt = np.ones(len(train)) if w is None else w[train] * len(train) / w[train].sum()
        Xo = np.average(Xt, axis=0, weights=wt) if center else np.zeros(X.shape[1])
        yo = np.average(yt, weights=wt) if center else 0.0
        Xc = (Xt - Xo) * np.sqrt(wt)[:, None]
        yc = (yt - yo) * np.sqrt(wt)
        fold, X_offset, y_offset = sums.problem(y.astype(np.float64), w, train,
                                                k if k < len(folds) else None)
        rtol = 1e-10 if dtype == np.float64 else 1e-5
        gram = Xc.T @ Xc
        np.testing.assert_allclose(fold["norms"], np.diag(gram), rtol=0,
                                   atol=rtol * np.abs(gram).max())
        np.testing.assert_allclose(fold["q"], Xc.T @ yc, rtol=0,
                                   atol=rtol * np.abs(Xc.T @ yc).max())
        np.testing.assert_allclose(fold["yy"], yc @ yc, rtol=rtol)
        np.testing.assert_allclose(X_offset, Xo, rtol=rtol, atol=rtol)
        # the fold's Gram columns from the blocks' (computed by the core on demand): its path
        # as on NumPy's Gram matrix of the fold
        amax = np.abs(Xc.T @ yc).max() / len(train)
        alphas = [0.3 * amax, 0.03 * amax, 0.003 * amax]
        solver = dict(tol=1e-12 if dtype == np.float64 else 1e-5, max_iter=100000, n_jobs=1)
        ours, _, _ = solve_fold_path(sums.store, fold, dtype, len(train), alphas, 0.9, **solver)
        theirs, _, _ = solve_gram_path(gram.astype(dtype), (Xc.T @ yc).astype(dtype), yc @ yc,
                                       len(train), alphas, 0.9, **solver)
        np.testing.assert_allclose(ours, theirs, rtol=0,
                                   atol=(1e-8 if dtype == np.float64 else 1e-2)
                                   * np.abs(theirs).max())
        np.testing.assert_allclose(y_offset, yo, rtol=rtol, atol=rtol)


def test_choice_of_alpha_takes_last_bit_differences_as_ties():
    alphas = [np.array([3.0, 2.0, 1.0, 0.5])] * 2
    # the lowest error by a clear margin wins, whatever its place (scikit-learn's argmin)
    mse = np.array([[[5.0, 4.0, 3.0, 3.5]], [[5.0, 4.0, 2.9, 3.5]]])
    assert _cd_cv._choose([0.2, 0.8], alphas, mse) == (1.0, 0.8)
    # errors a few ulps apart are a tie: the first alpha, the first l1_ratio
    tied = np.array([[[5.0, 3.0, 3.0 * (1 - 4e-16), 3.0 * (1 - 8e-16)]],
                     [[5.0, 3.0 * (1 - 8e-16), 4.0, 4.0]]])
    assert _cd_cv._choose([0.2, 0.8], alphas, tied) == (2.0, 0.2)
    assert np.argmin(tied[0, 0]) == 3  # where a plain argmin would go


def test_same_answer_for_any_n_jobs():
    """Block products on several chunks, on 1 or 2 threads: the same sums, to the bit (with
    OpenBLAS's own threads, these errors differed by 5e-13)."""
    from sklearn.datasets import make_regression
    X, y = make_regression(n_samples=3000, n_features=300, n_informative=20, noise=10.0,
                           random_state=0)
    chunk = _cd_cv._CHUNK_BYTES
    try:
        _cd_cv._CHUNK_BYTES = 700 * X.shape[1] * X.itemsize
        one, two = (fm.LassoCV(cv=3, alphas=10, n_jobs=n_jobs).fit(X, y) for n_jobs in (1, 2))
    finally:
        _cd_cv._CHUNK_BYTES = chunk
    np.testing.assert_array_equal(one.mse_path_, two.mse_path_)
    np.testing.assert_array_equal(one.coef_, two.coef_)
    assert one.alpha_ == two.alpha_ and one.intercept_ == two.intercept_
