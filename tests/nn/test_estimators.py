"""MLPClassifier, MLPRegressor and ConvNetClassifier: scikit-learn's results, accuracy on real
data, reproducibility, the training options and bad input."""
import pickle
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import neural_network
from sklearn.datasets import (load_breast_cancer, load_diabetes, load_digits, load_iris,
                              load_wine, make_multilabel_classification)
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler

from fastml._backend import DeviceFallbackWarning, cuda_status
from fastml.nn import ConvNetClassifier, MLPClassifier, MLPRegressor

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


def _digits(dtype=np.float64):
    X, y = load_digits(return_X_y=True)
    return train_test_split((X / 16).astype(dtype), y, test_size=0.25, random_state=0,
                            stratify=y)


def _standardized(loader):
    X, y = loader(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.3, random_state=0)
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def _assert_same_fit(a, b, rtol=1e-12, atol=1e-12):
    for name in ("coefs_", "intercepts_"):
        for x, y in zip(getattr(a, name), getattr(b, name)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol)
    if a.solver == "lbfgs":  # no loss curve
        np.testing.assert_allclose(a.loss_, b.loss_, rtol=rtol)
    else:
        np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=rtol)


# ---------------------------------------------------------------------------------------------
# scikit-learn's results

@pytest.mark.parametrize("params", [
    dict(),
    dict(solver="sgd", learning_rate="invscaling", nesterovs_momentum=False),
    dict(solver="sgd", learning_rate="adaptive", momentum=0.5),
    dict(activation="tanh", early_stopping=True, validation_fraction=0.2),
    dict(hidden_layer_sizes=(20, 10), activation="logistic", alpha=0.1, batch_size=50),
    dict(activation="identity", shuffle=False),
], ids=["adam", "sgd-invscaling", "sgd-adaptive", "tanh-early-stopping", "logistic-two-layers",
        "identity-no-shuffle"])
def test_classifier_reproduces_sklearn(params):
    """float64, the same random_state: scikit-learn's weights, losses and predictions."""
    X_train, X_test, y_train, _ = _digits()
    params = {"hidden_layer_sizes": (32,), "max_iter": 6, "random_state": 0, **params}
    ours = MLPClassifier(device="cpu", **params).fit(X_train, y_train)
    theirs = neural_network.MLPClassifier(**params).fit(X_train, y_train)
    _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ and ours.t_ == theirs.t_
    if params.get("early_stopping"):
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
        assert ours.best_validation_score_ == theirs.best_validation_score_
    else:
        assert ours.best_loss_ == pytest.approx(theirs.best_loss_, rel=1e-9)
    np.testing.assert_array_equal(ours.predict(X_test), theirs.predict(X_test))
    np.testing.assert_allclose(ours.predict_proba(X_test), theirs.predict_proba(X_test),
                               rtol=1e-7, atol=1e-12)


@pytest.mark.parametrize("make, params, sample_weight", [
    (MLPClassifier, dict(hidden_layer_sizes=(32,), max_iter=25), False),
    (MLPClassifier, dict(hidden_layer_sizes=(16, 8), activation="tanh", alpha=1e-2,
                         max_iter=20), True),
    (MLPClassifier, dict(hidden_layer_sizes=(10,), max_iter=200, max_fun=40), False),
    (MLPRegressor, dict(hidden_layer_sizes=(20,), activation="logistic", max_iter=20), True),
], ids=["classifier", "tanh-two-layers-weighted", "max_fun", "regressor-weighted"])
def test_lbfgs_reproduces_sklearn(make, params, sample_weight):
    """solver="lbfgs": scipy's L-BFGS-B on the same packed parameters takes scikit-learn's
    steps: the same iterations, loss and weights (float64; over many iterations the rounding
    of the sums grows past the tolerance, so the runs are short)."""
    if make is MLPClassifier:
        X, _, y, _ = _digits()
    else:
        X, _, y, _ = _standardized(load_diabetes)
    weight = np.random.default_rng(0).random(len(y)) if sample_weight else None
    params = {"solver": "lbfgs", "random_state": 0, **params}
    ours = make(device="cpu", **params).fit(X, y, sample_weight=weight)
    theirs = getattr(neural_network, make.__name__)(**params).fit(X, y, sample_weight=weight)
    for name in ("coefs_", "intercepts_"):
        for x, y_ in zip(getattr(ours, name), getattr(theirs, name)):
            np.testing.assert_allclose(x, y_, rtol=1e-6, atol=1e-8)
    assert ours.n_iter_ == theirs.n_iter_
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    np.testing.assert_array_equal(ours.predict(X[:100]), theirs.predict(X[:100])) \
        if make is MLPClassifier else None
    # scikit-learn's lbfgs keeps no loss curve
    for name in ("loss_curve_", "best_loss_", "validation_scores_"):
        assert not hasattr(ours, name) and not hasattr(theirs, name)
    # nor partial_fit (scikit-learn 1.9's MLPRegressor tests its solver check without calling
    # it, so it offers a partial_fit that runs lbfgs; its classifier's is the rule followed)
    assert not hasattr(ours, "partial_fit")
    with pytest.raises(AttributeError, match="has no attribute 'partial_fit'"):
        ours.partial_fit(X, y)


def test_lbfgs_rejects_dropout_and_float32_stays_float32():
    X, _, y, _ = _digits(np.float32)
    model = MLPClassifier((16,), solver="lbfgs", max_iter=5, random_state=0).fit(X, y)
    assert model.coefs_[0].dtype == np.float32 and model.predict_proba(X).dtype == np.float32
    with pytest.raises(ValueError, match="dropout needs a stochastic solver"):
        MLPClassifier((16,), solver="lbfgs", dropout=0.5).fit(X, y)


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_poisson_loss_reproduces_sklearn(solver):
    X, X_test, y, _ = _standardized(load_diabetes)
    y = np.floor(y / 25)  # counts
    params = dict(loss="poisson", hidden_layer_sizes=(16,), max_iter=8, solver=solver,
                  random_state=0)
    ours = MLPRegressor(device="cpu", **params).fit(X, y)
    theirs = neural_network.MLPRegressor(**params).fit(X, y)
    assert ours.out_activation_ == theirs.out_activation_ == "exp"
    for x, y_ in zip(ours.coefs_ + ours.intercepts_, theirs.coefs_ + theirs.intercepts_):
        np.testing.assert_allclose(x, y_, rtol=1e-7, atol=1e-9)
    assert ours.loss_ == pytest.approx(theirs.loss_, rel=1e-9)
    np.testing.assert_allclose(ours.predict(X_test), theirs.predict(X_test), rtol=1e-7)
    assert ours.score(X_test, y[:len(X_test)]) == pytest.approx(
        theirs.score(X_test, y[:len(X_test)]), rel=1e-7)
    with pytest.raises(ValueError, match="negative which is not allowed for Poisson"):
        MLPRegressor(**params).fit(X, np.where(np.arange(len(y)) == 3, -1.0, y))


def test_regressor_signature_is_sklearns():
    import inspect
    ours = list(inspect.signature(MLPRegressor).parameters)
    theirs = list(inspect.signature(neural_network.MLPRegressor).parameters)
    assert ours[:len(theirs)] == theirs or set(theirs) <= set(ours) and ours[:3] == theirs[:3]


def test_n_iter_no_change_may_be_infinite():
    X, _, y, _ = _digits()
    params = dict(hidden_layer_sizes=(8,), max_iter=12, tol=10.0, random_state=0)
    assert MLPClassifier(n_iter_no_change=np.inf, **params).fit(X, y).n_iter_ == 12
    assert MLPClassifier(n_iter_no_change=2, **params).fit(X, y).n_iter_ < 12


def test_diverging_early_stopping_scores_nan_as_sklearn():
    rng = np.random.default_rng(0)
    X = rng.random((200, 3)) * 1e10
    y = X.sum(axis=1) * 1e20
    params = dict(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=1e8,
                  early_stopping=True, max_iter=8, random_state=0)
    ours = MLPRegressor(**params).fit(X, y)
    theirs = neural_network.MLPRegressor(**params).fit(X, y)
    assert np.isnan(ours.validation_scores_).any()
    np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_, rtol=1e-9)
    assert ours.n_iter_ == theirs.n_iter_


def test_non_finite_weights_raise_as_sklearn():
    X, y = np.array([[1e30], [2e30], [3e30]]), np.array([1e30, 2e30, 3e30])
    with pytest.raises(ValueError, match="Solver produced non-finite parameter weights"):
        MLPRegressor(hidden_layer_sizes=(4,), solver="sgd", learning_rate_init=10.0, max_iter=3,
                     random_state=0).fit(X, y)


@pytest.mark.parametrize("early_stopping", [False, True], ids=["", "early-stopping"])
def test_sample_weight_reproduces_sklearn(early_stopping):
    X_train, _, y_train, _ = _digits()
    weights = np.random.default_rng(0).integers(0, 4, size=len(y_train)).astype(float)
    params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=0, alpha=0.01,
                  early_stopping=early_stopping, batch_size=64)
    ours = MLPClassifier(device="cpu", **params).fit(X_train, y_train, sample_weight=weights)
    theirs = neural_network.MLPClassifier(**params).fit(X_train, y_train,
                                                         sample_weight=weights)
    _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-10)
    if early_stopping:
        np.testing.assert_allclose(ours.validation_scores_, theirs.validation_scores_)
    X, y = load_diabetes(return_X_y=True)
    X, y = StandardScaler().fit_transform(X), y / 100
    regression = dict(hidden_layer_sizes=(8,), max_iter=3, random_state=0)
    w = np.linspace(0.5, 2.0, len(y))
    ours = MLPRegressor(device="cpu", **regression).fit(X, y, sample_weight=w)
    theirs = neural_network.MLPRegressor(**regression).fit(X, y, sample_weight=w)
    _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-10)


def test_sample_weight_scales_each_rows_pull():
    """Unit weights are no weights; doubling every weight changes nothing without the L2 term
    (which scikit-learn divides by the batch's total weight)."""
    X_train, _, y_train, _ = _digits()
    params = dict(hidden_layer_sizes=(8,), max_iter=2, random_state=0, shuffle=False, alpha=0.0,
                  device="cpu")
    ones = MLPClassifier(**params).fit(X_train, y_train, sample_weight=np.ones(len(y_train)))
    twos = MLPClassifier(**params).fit(X_train, y_train,
                                       sample_weight=np.full(len(y_train), 2.0))
    plain = MLPClassifier(**params).fit(X_train, y_train)
    _assert_same_fit(ones, plain, rtol=1e-12, atol=1e-14)
    _assert_same_fit(twos, plain, rtol=1e-12, atol=1e-14)
    with pytest.raises(ValueError, match="Negative values"):
        MLPClassifier(**params).fit(X_train, y_train, sample_weight=-np.ones(len(y_train)))


def test_binary_and_multilabel_reproduce_sklearn():
    X, y = load_breast_cancer(return_X_y=True)
    X = StandardScaler().fit_transform(X)
    X_ml, Y_ml = make_multilabel_classification(n_samples=120, n_classes=4, random_state=0)
    for X_fit, y_fit in ((X, y), (X_ml, Y_ml)):
        params = dict(hidden_layer_sizes=(16,), max_iter=4, random_state=1)
        ours = MLPClassifier(device="cpu", **params).fit(X_fit, y_fit)
        theirs = neural_network.MLPClassifier(**params).fit(X_fit, y_fit)
        _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-10)
        assert ours.out_activation_ == theirs.out_activation_ == "logistic"
        np.testing.assert_array_equal(ours.predict(X_fit), theirs.predict(X_fit))
        np.testing.assert_allclose(ours.predict_proba(X_fit), theirs.predict_proba(X_fit),
                                   rtol=1e-7)


def test_regressor_reproduces_sklearn():
    X_train, X_test, y_train, _ = _standardized(load_diabetes)
    params = dict(hidden_layer_sizes=(16,), max_iter=5, random_state=0, learning_rate_init=0.01)
    ours = MLPRegressor(device="cpu", **params).fit(X_train, y_train)
    theirs = neural_network.MLPRegressor(**params).fit(X_train, y_train)
    _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(ours.predict(X_test), theirs.predict(X_test), rtol=1e-9)
    assert ours.predict(X_test).shape == (X_test.shape[0],)


# ---------------------------------------------------------------------------------------------
# accuracy on real data

def test_mlp_on_digits_reaches_97_percent(dtype):
    X_train, X_test, y_train, y_test = _digits(dtype)
    model = MLPClassifier((128,), max_iter=60, random_state=0, device="cpu")
    assert model.fit(X_train, y_train).score(X_test, y_test) >= 0.97
    assert model.coefs_[0].dtype == dtype and model.predict_proba(X_test).dtype == dtype


def test_convnet_on_digits_reaches_98_percent():
    X_train, X_test, y_train, y_test = _digits(np.float32)
    model = ConvNetClassifier(max_iter=15, random_state=0, device="cpu")
    assert model.fit(X_train, y_train).score(X_test, y_test) >= 0.98
    assert model.image_shape_ == (1, 8, 8) and model.coefs_[0].shape == (32, 1, 3, 3)


@pytest.mark.parametrize("loader", [load_iris, load_wine, load_breast_cancer],
                         ids=["iris", "wine", "breast_cancer"])
def test_classifier_accuracy_matches_sklearn(loader):
    X_train, X_test, y_train, y_test = _standardized(loader)
    params = dict(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    ours = MLPClassifier(device="cpu", **params).fit(X_train, y_train).score(X_test, y_test)
    theirs = neural_network.MLPClassifier(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours >= theirs - 0.01 and ours >= 0.9


def test_regressor_r2_on_diabetes_matches_sklearn():
    X_train, X_test, y_train, y_test = _standardized(load_diabetes)
    y_train, y_test = y_train / 100, y_test / 100
    params = dict(hidden_layer_sizes=(16,), learning_rate_init=0.01, max_iter=200,
                  random_state=0, early_stopping=True)
    ours = MLPRegressor(device="cpu", **params).fit(X_train, y_train).score(X_test, y_test)
    theirs = neural_network.MLPRegressor(**params).fit(X_train, y_train).score(X_test, y_test)
    assert ours == pytest.approx(theirs, abs=0.01) and ours > 0.2


def test_convnet_options_train():
    """Batch norm, average pooling, dropout and a non-square kernel list still learn digits."""
    X_train, X_test, y_train, y_test = _digits(np.float32)
    model = ConvNetClassifier(((8, 3), (16, 5)), pooling="avg", batch_norm=True, dropout=0.2,
                              hidden_layer_sizes=(32,), max_iter=20, random_state=0,
                              device="cpu")
    assert model.fit(X_train, y_train).score(X_test, y_test) >= 0.93
    # no dropout and running batch statistics at inference: predictions are deterministic
    np.testing.assert_array_equal(model.predict_proba(X_test), model.predict_proba(X_test))


# ---------------------------------------------------------------------------------------------
# reproducibility, state, persistence

@pytest.mark.parametrize("make", [
    lambda **kw: MLPClassifier((24, 12), dropout=0.1, max_iter=3, **kw),
    lambda **kw: ConvNetClassifier(((4, 3),), hidden_layer_sizes=(8,), batch_norm=True,
                                   max_iter=2, **kw),
], ids=["mlp", "convnet"])
def test_same_result_for_random_state_and_thread_count(make):
    X_train, _, y_train, _ = _digits(np.float32)
    one = make(random_state=3, n_jobs=1, device="cpu").fit(X_train, y_train)
    two = make(random_state=3, n_jobs=2, device="cpu").fit(X_train, y_train)
    _assert_same_fit(one, two, rtol=0, atol=0)
    other = make(random_state=4, n_jobs=2, device="cpu").fit(X_train, y_train)
    assert not np.array_equal(one.coefs_[0], other.coefs_[0])


def test_partial_fit_continues_a_fit():
    """Without shuffling (partial_fit starts each epoch from the rows' order, as scikit-learn's
    does), three partial_fit calls give the fit of three epochs: the optimizer carries over."""
    X_train, _, y_train, _ = _digits()
    params = dict(hidden_layer_sizes=(16,), random_state=0, device="cpu", shuffle=False)
    full = MLPClassifier(max_iter=3, **params).fit(X_train, y_train)
    partial = MLPClassifier(**params)
    for _ in range(3):
        partial.partial_fit(X_train, y_train, classes=np.arange(10))
    _assert_same_fit(full, partial)
    theirs = neural_network.MLPClassifier((16,), random_state=0, shuffle=False)
    for _ in range(3):
        theirs.partial_fit(X_train, y_train, classes=np.arange(10))
    _assert_same_fit(partial, theirs, rtol=1e-9, atol=1e-10)
    assert partial.n_iter_ == 1 and partial.t_ == 3 * len(y_train)
    partial.set_params(solver="sgd").partial_fit(X_train, y_train)  # a new optimizer
    assert partial.t_ == 4 * len(y_train)


def test_warm_start_restarts_the_optimizer_as_sklearn():
    X_train, _, y_train, _ = _digits()
    params = dict(hidden_layer_sizes=(16,), random_state=0, max_iter=2, warm_start=True)
    ours = MLPClassifier(device="cpu", **params).fit(X_train, y_train)
    theirs = neural_network.MLPClassifier(**params).fit(X_train, y_train)
    ours.set_params(max_iter=1, solver="sgd").fit(X_train, y_train)
    theirs.set_params(max_iter=1, solver="sgd").fit(X_train, y_train)
    _assert_same_fit(ours, theirs, rtol=1e-9, atol=1e-10)
    assert ours.n_iter_ == theirs.n_iter_ == 1 and ours.t_ == theirs.t_


def test_partial_fit_needs_classes_and_rejects_new_ones():
    X_train, _, y_train, _ = _digits()
    with pytest.raises(ValueError, match="classes must be passed"):
        MLPClassifier(device="cpu").partial_fit(X_train, y_train)
    with pytest.raises(ValueError, match="not in classes_"):
        MLPClassifier(device="cpu").partial_fit(X_train, y_train, classes=np.arange(5))
    model = MLPClassifier(device="cpu").partial_fit(X_train[y_train < 5], y_train[y_train < 5],
                                                    classes=np.arange(5))
    with pytest.raises(ValueError, match="not in classes_"):
        model.partial_fit(X_train, y_train)
    with pytest.raises(ValueError, match="early_stopping"):
        MLPClassifier(early_stopping=True).partial_fit(X_train, y_train, classes=np.arange(10))
    bad = MLPClassifier(solver="bogus")
    for _ in range(2):  # a failed first call leaves nothing behind that skips the checks
        with pytest.raises(ValueError, match="solver"):
            bad.partial_fit(X_train, y_train, classes=np.arange(10))


def test_pickle_round_trip():
    X_train, X_test, y_train, _ = _digits(np.float32)
    for model in (MLPClassifier((16,), max_iter=2, random_state=0, device="cpu"),
                  ConvNetClassifier(((4, 3),), hidden_layer_sizes=(8,), batch_norm=True,
                                    max_iter=1, random_state=0, device="cpu")):
        model.fit(X_train, y_train)
        restored = pickle.loads(pickle.dumps(model))
        np.testing.assert_array_equal(restored.predict_proba(X_test),
                                      model.predict_proba(X_test))


def test_early_stopping_keeps_the_best_validation_weights():
    X_train, _, y_train, _ = _digits()
    model = MLPClassifier((16,), early_stopping=True, n_iter_no_change=2, tol=0.5,
                          max_iter=50, random_state=0, device="cpu").fit(X_train, y_train)
    # the first epoch improves on -inf; three more without progress exceed n_iter_no_change
    assert model.n_iter_ == 4 and len(model.validation_scores_) == 4
    assert model.best_validation_score_ == max(model.validation_scores_)
    assert model.best_loss_ is None


def test_network_snapshot_restores_weights_and_batch_statistics():
    """Early stopping keeps the best epoch's snapshot: the weights with the batch-norm running
    statistics they were trained with."""
    from fastml.nn import _kernels_cpu
    from fastml.nn._layers import BatchNorm, Dense, Network, parameter_layout

    layers = [Dense(3, 4, "identity"), BatchNorm(4, "relu"), Dense(4, 2, "identity")]
    n_params = sum(int(np.prod(shape)) for _, _, shape, _ in parameter_layout(layers))
    rng = np.random.default_rng(0)
    net = Network(layers, _kernels_cpu, rng.standard_normal(n_params), np.float64)
    net.forward(rng.standard_normal((5, 3)), training=True)
    params, ((mean, var),) = snapshot = net.snapshot()
    net.params += 1.0
    net.forward(rng.standard_normal((5, 3)) + 3, training=True)
    assert not np.allclose(layers[1].running_mean, mean)
    net.restore(snapshot)
    np.testing.assert_array_equal(net.params, params)
    np.testing.assert_array_equal(layers[1].running_mean, mean)
    np.testing.assert_array_equal(layers[1].running_var, var)


def test_validation_set_too_small_is_an_error():
    X, y = np.random.default_rng(0).random((10, 3)), np.arange(10.0)
    with pytest.raises(ValueError, match="validation set is too small"):
        MLPRegressor(hidden_layer_sizes=(3,), early_stopping=True, validation_fraction=0.05,
                     device="cpu").fit(X, y)


def test_adaptive_learning_rate_shrinks_before_stopping(capsys):
    X_train, _, y_train, _ = _digits()
    model = MLPClassifier((8,), solver="sgd", learning_rate="adaptive", tol=10.0,
                          n_iter_no_change=1, max_iter=40, random_state=0, verbose=True,
                          device="cpu").fit(X_train, y_train)
    out = capsys.readouterr().out
    assert "Setting learning rate to 0.000200" in out and "Stopping." in out
    assert out.count("Iteration") == model.n_iter_ < 40
    assert "loss = " in out and "time = " in out


@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
@pytest.mark.parametrize("form", ["csr", "csc"])
def test_sparse_input_gives_the_dense_result(form, solver, monkeypatch):
    """Sparse rows stay sparse: the first layer's products are the compiled CSR products (their
    sums in another order than BLAS's, hence the tolerance), never a densified batch."""
    from fastml.nn import _kernels_cpu
    calls = []
    product = _kernels_cpu.csr_matmat
    monkeypatch.setattr(_kernels_cpu, "csr_matmat",
                        lambda *args: calls.append(args[0][2].dtype) or product(*args))
    X_train, X_test, y_train, _ = _digits()
    params = dict(hidden_layer_sizes=(16,), max_iter=2, random_state=0, device="cpu",
                  solver=solver)
    dense = MLPClassifier(**params).fit(X_train, y_train)
    assert not calls
    sparse = MLPClassifier(**params).fit(sp.csr_matrix(X_train).asformat(form), y_train)
    assert calls and set(calls) == {np.dtype(np.float64)}
    _assert_same_fit(dense, sparse, rtol=1e-9, atol=1e-11)
    np.testing.assert_array_equal(sparse.predict(sp.csr_matrix(X_test)), dense.predict(X_test))
    # float32 stays float32 through the sparse products
    calls.clear()
    sparse32 = MLPClassifier(**params).fit(sp.csr_matrix(X_train, dtype=np.float32), y_train)
    assert set(calls) == {np.dtype(np.float32)} and sparse32.coefs_[0].dtype == np.float32


def test_convnet_image_layouts_agree():
    X_train, X_test, y_train, _ = _digits(np.float32)
    params = dict(conv_layers=((4, 3),), hidden_layer_sizes=(8,), max_iter=1, random_state=0,
                  device="cpu")
    flat = ConvNetClassifier(**params).fit(X_train, y_train)
    shaped = ConvNetClassifier(image_shape=(1, 8, 8), **params).fit(X_train, y_train)
    images = ConvNetClassifier(**params).fit(X_train.reshape(-1, 8, 8), y_train)
    channels = ConvNetClassifier(**params).fit(X_train.reshape(-1, 1, 8, 8), y_train)
    for other in (shaped, images, channels):
        _assert_same_fit(flat, other, rtol=0, atol=0)
    np.testing.assert_array_equal(images.predict(X_test.reshape(-1, 8, 8)), flat.predict(X_test))
    rgb = ConvNetClassifier(image_shape=(2, 4, 8), **params).fit(X_train, y_train)
    assert rgb.coefs_[0].shape == (4, 2, 3, 3)
    # fitted on images, predicting flat rows (and the reverse): n_features_in_ is C*H*W
    assert images.n_features_in_ == channels.n_features_in_ == 64
    np.testing.assert_array_equal(channels.predict(X_test), flat.predict(X_test))
    np.testing.assert_array_equal(rgb.predict(X_test.reshape(-1, 2, 4, 8)), rgb.predict(X_test))


# ---------------------------------------------------------------------------------------------
# devices

def test_a_model_fitted_on_cuda_predicts_where_cuda_is_gone(monkeypatch):
    from fastml._backend import CudaStatus
    from fastml.nn import _estimators

    X_train, X_test, y_train, _ = _digits()
    model = MLPClassifier((8,), max_iter=2, random_state=0, device="cpu").fit(X_train, y_train)
    expected = model.predict_proba(X_test)
    model.device_ = "cuda"  # as if fitted on a GPU; the fitted weights are host arrays
    monkeypatch.setattr(_estimators, "cuda_status", lambda: CudaStatus(False, "no GPU"))
    np.testing.assert_array_equal(model.predict_proba(X_test), expected)


def test_auto_device_without_a_gpu_runs_on_the_cpu():
    if cuda_status().available and not cuda_status().simulator:
        pytest.skip("a GPU is present: device='auto' runs there")
    X_train, _, y_train, _ = _digits()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeviceFallbackWarning)
        model = MLPClassifier((4,), max_iter=1).fit(X_train, y_train)
    assert model.device_ == "cpu"


@pytest.mark.skipif(not cuda_status().available,
                    reason=f"CUDA unavailable and the simulator is off: {cuda_status().detail}")
@pytest.mark.parametrize("make", [
    lambda **kw: MLPClassifier((3,), solver="sgd", **kw),
    lambda **kw: ConvNetClassifier(((2, 3),), hidden_layer_sizes=(3,), batch_norm=True, **kw),
], ids=["mlp", "convnet"])
def test_cuda_fit_matches_the_cpu(make):
    """Tiny networks, float64: the CUDA kernels train the CPU kernels' network."""
    X, y = load_digits(return_X_y=True)
    X = X[:12, ::4] / 16  # 16 features: 4 x 4 images for the convnet
    y = y[:12] % 2
    params = dict(max_iter=2, batch_size=6, random_state=0)
    cpu = make(device="cpu", **params).fit(X, y)
    gpu = make(device="cuda", **params).fit(X, y)
    assert gpu.device_ == "cuda"
    _assert_same_fit(cpu, gpu, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(gpu.predict_proba(X), cpu.predict_proba(X), rtol=1e-9)


# ---------------------------------------------------------------------------------------------
# bad input

@pytest.mark.parametrize("make", [MLPClassifier, MLPRegressor, ConvNetClassifier])
def test_nan_in_X_is_rejected(make):
    X = np.ones((6, 4))
    X[2, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        make(device="cpu").fit(X, [0, 1, 0, 1, 0, 1])


def test_convnet_rejects_bad_shapes_and_layers():
    X = np.random.default_rng(0).random((6, 16))
    y = [0, 1] * 3
    with pytest.raises(ValueError, match="image_shape"):
        ConvNetClassifier(image_shape=(3, 3), device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="larger than the padded image"):
        ConvNetClassifier(((2, 2),), image_shape=(1, 16), pooling=None,
                          device="cpu").fit(X, y)
    with pytest.raises(ValueError, match="conv_layers"):
        ConvNetClassifier(((2, 0),), device="cpu").fit(X, y)
    model = ConvNetClassifier(((2, 3),), hidden_layer_sizes=(2,), max_iter=1,
                              device="cpu").fit(X.reshape(6, 4, 4), y)
    with pytest.raises(ValueError, match="images of shape"):
        model.predict(np.zeros((6, 2, 8)))


def test_bad_hidden_layer_sizes_and_target_width():
    X, y = np.random.default_rng(0).random((6, 3)), np.arange(6) % 2
    with pytest.raises(ValueError, match="hidden_layer_sizes"):
        MLPClassifier((4, 0), device="cpu").fit(X, y)
    model = MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, device="cpu").fit(X, np.ones((6, 2)))
    with pytest.raises(ValueError, match="outputs"):
        model.partial_fit(X, np.ones((6, 3)))
    with pytest.warns(ConvergenceWarning):
        MLPRegressor(hidden_layer_sizes=(4,), max_iter=1, device="cpu").fit(X, y)
