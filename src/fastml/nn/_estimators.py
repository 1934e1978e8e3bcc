"""MLPClassifier, MLPRegressor and ConvNetClassifier over the layers of ``_layers.py``.

Training follows scikit-learn's MLP step for step: the same minibatches, loss (mean data loss plus
alpha/2 * |W|^2 / batch size), optimizers, learning-rate schedules, early stopping and stopping
rules, so the fitted attributes mean what they mean there.
"""
import time
import warnings
from contextlib import contextmanager
from numbers import Integral, Real

import numpy as np
import scipy.optimize
import scipy.sparse as sp
from scipy.special import expit
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin, is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, r2_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data
from threadpoolctl import threadpool_limits

from .._backend import cuda_status, effective_n_threads, kernels_for, resolve_device
from .._config import config_context, get_config
from ..utils._sklearn_compat import (Interval, Options, StrOptions, check_optimize_result,
                                     check_partial_fit_first_call, check_sample_weight,
                                     get_chunk_n_rows, lbfgs_options)
from . import init
from ._layers import (SGD, Adagrad, Adam, BatchNorm, Conv2d, Dense, Dropout, Flatten, Network,
                      Pool2d, parameter_layout, split_params)

_INITS = {
    "glorot_uniform": lambda shape, rng, gain: init.xavier_uniform(shape, rng, gain),
    "glorot_normal": lambda shape, rng, gain: init.xavier_normal(shape, rng, gain),
    "he_uniform": lambda shape, rng, gain: init.kaiming_uniform(shape, rng),
    "he_normal": lambda shape, rng, gain: init.kaiming_normal(shape, rng),
}


class _BaseNetwork(BaseEstimator):
    """Parameters, training loop and prediction shared by the estimators. Subclasses give the
    layers (``_build_layers``), the input (``_prepare_X``) and the targets (``_encode``,
    ``_score_output``)."""

    _parameter_constraints = {
        "hidden_layer_sizes": ["array-like", Interval(Integral, 1, None, closed="left")],
        "activation": [StrOptions({"identity", "logistic", "tanh", "relu"})],
        "solver": [StrOptions({"sgd", "adam", "adagrad"})],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), Interval(Integral, 1, None, closed="left")],
        "learning_rate": [StrOptions({"constant", "invscaling", "adaptive"})],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "power_t": [Interval(Real, 0, None, closed="left")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "shuffle": ["boolean"],
        "random_state": ["random_state"],
        "tol": [Interval(Real, 0, None, closed="left")],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "momentum": [Interval(Real, 0, 1, closed="both")],
        "nesterovs_momentum": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "epsilon": [Interval(Real, 0, None, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left"), Options(Real, {np.inf})],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "init": [StrOptions(set(_INITS))],
        "device": [StrOptions({"auto", "cpu", "cuda"})],
        "n_jobs": [Integral, None],
    }

    _accepts_sparse = False

    # --------------------------------------------------------------------------- structure

    def _hidden_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        if any(isinstance(s, bool) or not isinstance(s, Integral) or s < 1 for s in sizes):
            raise ValueError(f"hidden_layer_sizes must hold positive ints, got {sizes}")
        return sizes

    def _dense_stack(self, n_in, rng):
        """Dense hidden layers (each followed by dropout when asked) and the output layer."""
        layers = []
        for size in self._hidden_sizes():
            layers.append(Dense(n_in, size, self.activation))
            if self.dropout > 0:
                layers.append(Dropout(self.dropout, rng))
            n_in = size
        layers.append(Dense(n_in, self.n_outputs_, "identity"))
        return layers

    def _initial_params(self, layers, dtype):
        """Weights by ``init``, each followed by its bias drawn from the glorot bound: the
        order and the bounds of scikit-learn's MLP, so glorot_uniform starts from its
        weights. With logistic units the gain 1/sqrt(3) gives scikit-learn's factor-2 bound.
        Batch-norm scales start at 1 and shifts at 0."""
        gain = 1 / np.sqrt(3) if self.activation == "logistic" else 1.0
        values = {}
        for layer in layers:
            for name, shape, _ in layer.parameter_specs():
                if isinstance(layer, BatchNorm):
                    values[id(layer), name] = np.full(shape, 1.0 if name == "gamma" else 0.0)
                elif name == "weight":
                    values[id(layer), name] = _INITS[self.init](shape, self._random_state, gain)
                else:
                    fan_in, fan_out = init.fans(_weight_shape(layer))
                    bound = gain * np.sqrt(6.0 / (fan_in + fan_out))
                    values[id(layer), name] = self._random_state.uniform(-bound, bound, shape)
        return np.concatenate([values[id(layer), name].ravel()
                               for layer, name, _, _ in parameter_layout(layers)]).astype(dtype)

    def _store(self, net):
        """Keep the fitted parameters as host arrays: coefs_, intercepts_, batch-norm state."""
        arrays = dict(zip(((id(layer), name) for layer, name, _, _ in net.layout),
                          split_params(net.layout, net.host_params())))
        self.coefs_, self.intercepts_, self._norm_state = [], [], []
        for layer in net.layers:
            if isinstance(layer, (Dense, Conv2d)):
                self.coefs_.append(arrays[(id(layer), "weight")])
                # a convolution followed by batch norm has no bias of its own
                self.intercepts_.append(arrays.get((id(layer), "bias"),
                                                   np.zeros(_weight_shape(layer)[0], self._dtype)))
            elif isinstance(layer, BatchNorm):
                self._norm_state.append([arrays[(id(layer), "gamma")],
                                         arrays[(id(layer), "beta")],
                                         layer.running_mean.copy(), layer.running_var.copy()])

    def _stored_params(self, layers):
        """The flat host buffer of the stored parameters, in the layers' layout."""
        coefs, intercepts, norms = iter(self.coefs_), iter(self.intercepts_), iter(
            self._norm_state)
        values = {}
        for layer in layers:
            if isinstance(layer, (Dense, Conv2d)):
                values[(id(layer), "weight")] = next(coefs)
                values[(id(layer), "bias")] = next(intercepts)
            elif isinstance(layer, BatchNorm):
                gamma, beta, mean, var = next(norms)
                values[(id(layer), "gamma")], values[(id(layer), "beta")] = gamma, beta
                layer.running_mean, layer.running_var = mean.copy(), var.copy()
        return np.concatenate([np.ravel(values[(id(layer), name)])
                               for layer, name, _, _ in parameter_layout(layers)])

    def _network(self, params=None, device=None):
        """The network with the given flat parameters or the stored ones, on ``device``
        (default ``device_``)."""
        layers = self._build_layers(check_random_state(self._random_state))
        if params is None:
            params = self._stored_params(layers)
        return Network(layers, kernels_for("nn", device or self.device_), params, self._dtype)

    # --------------------------------------------------------------------------- fitting

    def _validate(self, X, y="no_validation", reset=False):
        """X checked as scikit-learn does (rows of n_features_in_ values; images are flattened
        first) in the fitted dtype, then shaped for the first layer; y checked with it."""
        X, image_shape = self._flat_input(X)
        options = dict(accept_sparse=["csr", "csc"] if self._accepts_sparse else False,
                       dtype=(np.float64, np.float32))
        if isinstance(y, str) and y == "no_validation":  # predicting (y=None is an error)
            X = validate_data(self, X, reset=reset, **options)
        else:
            X, y = validate_data(self, X, y, reset=reset, multi_output=True,
                                 y_numeric=not is_classifier(self), **options)
        if not reset and X.dtype != self._dtype:
            X = X.astype(self._dtype)
        if sp.issparse(X):
            X = X.tocsr()  # batches are row slices
        return self._prepare_X(X, reset, image_shape), y

    def _flat_input(self, X):
        """(X, None): rows as given (the convnet flattens images here)."""
        return X, None

    def _batch_size(self, n_samples):
        if self.batch_size == "auto":
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn("Got `batch_size` larger than the sample size. It is going to be "
                          "clipped", UserWarning)
        return int(min(self.batch_size, n_samples))

    def _start(self, X, Y):
        """State of a fresh fit; returns the initial flat parameters."""
        self._dtype = X.dtype
        self.n_outputs_ = Y.shape[1]
        self.n_layers_ = self._n_weight_layers() + 1
        self.n_iter_, self.t_ = 0, 0
        for name in ("loss_curve_", "best_loss_", "validation_scores_", "best_validation_score_"):
            self.__dict__.pop(name, None)  # a refit with lbfgs has none of a stochastic fit's
        if self.solver == "lbfgs":  # scikit-learn's lbfgs keeps no curve or best scores
            self._optimizer_state = None
            return self._initial_params(self._build_layers(self._random_state), X.dtype)
        self.loss_curve_ = []
        self._no_improvement_count = 0
        if self.early_stopping:
            self.validation_scores_, self.best_validation_score_ = [], -np.inf
            self.best_loss_ = None
        else:
            self.validation_scores_ = self.best_validation_score_ = None
            self.best_loss_ = np.inf
        self._optimizer_state = None
        return self._initial_params(self._build_layers(self._random_state), X.dtype)

    def fit(self, X, y, sample_weight=None):
        """Train on (X, y) for up to max_iter epochs (continuing from the fitted weights when
        warm_start). sample_weight weighs each row's loss, as in scikit-learn."""
        self._validate_params()
        return self._fit(X, y, incremental=False, sample_weight=sample_weight)

    def _fit(self, X, y, incremental, sample_weight=None, classes=None):
        if incremental and self.early_stopping:
            raise ValueError("partial_fit does not support early_stopping=True")
        fresh = not hasattr(self, "coefs_") or not (incremental or self.warm_start)
        X, y = self._validate(X, y, reset=fresh)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64,
                                                ensure_non_negative=True)
        # reseeded by every call, as scikit-learn does: an int random_state repeats its draws
        self._random_state = check_random_state(self.random_state)
        Y = self._encode(y, reset=fresh, classes=classes).astype(X.dtype)
        self.device_ = resolve_device(self.device)
        params = self._start(X, Y) if fresh else None
        if not fresh and Y.shape[1] != self.n_outputs_:
            raise ValueError(f"y has {Y.shape[1]} outputs, the fitted network {self.n_outputs_}")
        if not incremental or self._optimizer_state is None or (
                self._optimizer_state["solver"] != self.solver):
            # Every fit starts a new optimizer, also with warm_start (scikit-learn's rule);
            # partial_fit carries it from call to call.
            self._optimizer_state = None
            self._learning_rate = self.learning_rate_init
        with self._threads():
            net = self._network(params)
            if self.solver == "lbfgs":
                self._train_lbfgs(net, X, Y, sample_weight)
            else:
                self._train(net, X, Y, incremental, sample_weight)
        if not all(np.isfinite(w).all() for w in self.coefs_ + self.intercepts_):
            raise ValueError("Solver produced non-finite parameter weights. The input data may"
                             " contain large values and need to be preprocessed.")
        return self

    def _optimizer(self, K, net):
        n, dtype = net.params.shape[0], net.params.dtype
        if self.solver == "sgd":
            optimizer = SGD(K, n, dtype, self.momentum, self.nesterovs_momentum)
        elif self.solver == "adagrad":
            optimizer = Adagrad(K, n, dtype)
        else:
            optimizer = Adam(K, n, dtype, self.beta_1, self.beta_2, self.epsilon)
        if self._optimizer_state is not None:
            optimizer.load_state(K, self._optimizer_state)
        return optimizer

    def _train(self, net, X, Y, incremental, sample_weight):
        K = net.K
        optimizer = self._optimizer(K, net)
        X_val = y_val = weight_val = None
        early_stopping = self.early_stopping and not incremental
        if early_stopping:
            arrays = (X, Y) if sample_weight is None else (X, Y, sample_weight)
            split = train_test_split(*arrays, random_state=self._random_state,
                                     test_size=self.validation_fraction,
                                     stratify=self._stratify_by(Y))
            X, X_val, Y, y_val = split[:4]
            if sample_weight is not None:
                sample_weight, weight_val = split[4:]
            if X_val.shape[0] < 2:
                raise ValueError("The validation set is too small. Increase "
                                 "'validation_fraction' or the size of your dataset.")
            self._best_state = net.snapshot()
        n_samples = X.shape[0]
        batch = self._batch_size(n_samples)
        order = np.arange(n_samples)
        loss_grads, uniform = {}, {}  # by batch size: the last batch may be smaller
        self.n_iter_ = 0  # epochs of this call (scikit-learn's count); t_ counts all samples
        for _ in range(self.max_iter):
            started = time.perf_counter()
            if self.shuffle:
                order = self._random_state.permutation(order)
            total = 0.0
            for start in range(0, n_samples, batch):
                rows = order[start:start + batch]
                if sample_weight is None:
                    weight_sum = len(rows)
                    if weight_sum not in uniform:
                        uniform[weight_sum] = K.to_device(np.full(weight_sum, 1.0 / weight_sum))
                    weight = uniform[weight_sum]
                else:
                    weight_sum = sample_weight[rows].sum()
                    if weight_sum == 0:
                        continue  # rows without weight carry nothing to learn from
                    weight = K.to_device(sample_weight[rows] / weight_sum)
                out = net.forward(K.to_device(_rows(X, rows)), training=True)
                if out.shape not in loss_grads:
                    loss_grads[out.shape] = K.empty(out.shape, out.dtype)
                grad = loss_grads[out.shape]
                loss = K.loss_and_grad(self._loss_kind, out, K.to_device(Y[rows]), weight, grad)
                net.backward(grad)
                # scikit-learn's L2 term: alpha / 2 * |W|^2 over the batch's total weight
                if self.alpha > 0:
                    loss += (0.5 * self.alpha * K.squared_norm(net.params, net.n_decayed)
                             / weight_sum)
                optimizer.step(net, self._learning_rate, self.alpha / weight_sum)
                total += loss * len(rows)
            self.n_iter_ += 1
            self.t_ += n_samples
            self.loss_ = total / n_samples
            self.loss_curve_.append(self.loss_)
            self._track_progress(net, X_val, y_val, weight_val, time.perf_counter() - started)
            if self.solver == "sgd" and self.learning_rate == "invscaling":
                self._learning_rate = self.learning_rate_init / (self.t_ + 1) ** self.power_t
            if self._no_improvement_count > self.n_iter_no_change and self._stop_or_slow_down():
                break
            if incremental:
                break
            if self.n_iter_ == self.max_iter:
                warnings.warn(f"Stochastic Optimizer: Maximum iterations ({self.max_iter}) "
                              "reached and the optimization hasn't converged yet.",
                              ConvergenceWarning)
        if early_stopping:
            net.restore(self._best_state)
            del self._best_state
        self._optimizer_state = {"solver": self.solver, **optimizer.state(K)}
        self._store(net)

    def _train_lbfgs(self, net, X, Y, sample_weight):
        """scikit-learn's full-batch L-BFGS-B (scipy's) on the loss of all rows, alpha/2 * |W|^2
        over their total weight added. The flat parameter buffer is scikit-learn's packed vector
        (every layer's weights, then every bias, each weight of shape (fan_in, fan_out)), so the
        optimizer takes the same steps."""
        if self.dropout > 0:
            raise ValueError("dropout needs a stochastic solver: lbfgs minimizes one fixed loss")
        K = net.K
        n_samples = X.shape[0]
        weight_sum = n_samples if sample_weight is None else float(sample_weight.sum())
        weight = (np.full(n_samples, 1.0 / n_samples) if sample_weight is None
                  else sample_weight / weight_sum)
        X_all, Y_all, weight = K.to_device(_rows(X, slice(None))), K.to_device(Y), K.to_device(weight)
        grad_out = K.empty(Y.shape, Y.dtype)
        n_decayed = net.n_decayed

        def loss_and_gradient(theta):
            K.copy_into(net.params, theta.astype(self._dtype))
            out = net.forward(X_all, training=True)
            loss = float(K.loss_and_grad(self._loss_kind, out, Y_all, weight, grad_out))
            net.backward(grad_out)
            grad = np.array(K.to_host(net.grads), dtype=np.float64)
            if self.alpha > 0:
                decayed = theta[:n_decayed]
                loss += 0.5 * self.alpha * float(decayed @ decayed) / weight_sum
                grad[:n_decayed] += (self.alpha / weight_sum) * decayed
            return loss, grad

        result = scipy.optimize.minimize(
            loss_and_gradient, net.host_params().astype(np.float64), method="L-BFGS-B",
            jac=True, options={"maxfun": self.max_fun, "maxiter": self.max_iter, "gtol": self.tol,
                               **lbfgs_options("iprint", 1 if self.verbose else -1)})
        self.n_iter_ = check_optimize_result("lbfgs", result, self.max_iter)
        self.loss_ = float(result.fun)
        K.copy_into(net.params, result.x.astype(self._dtype))
        self._store(net)

    def _track_progress(self, net, X_val, y_val, weight_val, seconds):
        """scikit-learn's no-improvement count on the validation score or the training loss;
        verbose prints one line per epoch."""
        line = f"Iteration {self.n_iter_}, loss = {self.loss_:.8f}"
        if X_val is not None:
            score = self._score_output(self._forward(net, X_val), y_val, weight_val)
            self.validation_scores_.append(score)
            line += f", validation score = {score:.6f}"
            worse = score < self.best_validation_score_ + self.tol
            self._no_improvement_count = self._no_improvement_count + 1 if worse else 0
            if score > self.best_validation_score_:
                self.best_validation_score_ = score
                self._best_state = net.snapshot()
        else:
            worse = self.loss_ > self.best_loss_ - self.tol
            self._no_improvement_count = self._no_improvement_count + 1 if worse else 0
            self.best_loss_ = min(self.best_loss_, self.loss_)
        if self.verbose:
            print(f"{line}, time = {seconds:.2f}s")

    def _stop_or_slow_down(self):
        """After n_iter_no_change epochs without progress: adaptive SGD divides its learning
        rate by 5 and goes on (until it falls to 1e-6); everything else stops."""
        what = "Validation score" if self.early_stopping else "Training loss"
        message = (f"{what} did not improve more than tol={self.tol:f} for "
                   f"{self.n_iter_no_change} consecutive epochs.")
        if (self.solver == "sgd" and self.learning_rate == "adaptive"
                and self._learning_rate > 1e-6):
            self._learning_rate /= 5
            self._no_improvement_count = 0
            if self.verbose:
                print(f"{message} Setting learning rate to {self._learning_rate:f}")
            return False
        if self.verbose:
            print(f"{message} Stopping.")
        return True

    # --------------------------------------------------------------------------- prediction

    def _forward(self, net, X):
        """Output-layer values (before the output activation) in row chunks that keep the
        activations within working_memory."""
        K = net.K
        row_bytes = 4 * X.dtype.itemsize * self._activation_size(net)
        chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=X.shape[0],
                                 working_memory=get_config()["working_memory"])
        out = np.empty((X.shape[0], self.n_outputs_), dtype=X.dtype)
        for start in range(0, X.shape[0], chunk):
            rows = slice(start, start + chunk)  # a view of X: no gathered copy
            out[rows] = K.to_host(net.forward(K.to_device(_rows(X, rows))))
        return out

    def _activation_size(self, net):
        """Values per row held by the largest layer output."""
        shape, largest = self._input_shape(), 1
        for layer in net.layers:
            shape = layer.output_shape(shape)
            largest = max(largest, int(np.prod(shape)))
        return largest

    def _decision(self, X):
        check_is_fitted(self, "coefs_")
        X, _ = self._validate(X)
        # The fitted weights are host arrays: a model trained on a GPU predicts anywhere.
        device = self.device_ if self.device_ == "cpu" or cuda_status().available else "cpu"
        with self._threads():
            return self._forward(self._network(device=device), X)

    @contextmanager
    def _threads(self):
        """n_jobs threads for the compiled kernels (the CPU drivers read them from the
        configuration), and for BLAS where the network's parallel work is its matrix products
        (see ``_parallel_blas``)."""
        n_threads = effective_n_threads(self.n_jobs)
        with config_context(n_jobs=n_threads):
            with threadpool_limits(n_threads if self._parallel_blas else 1, "blas"):
                yield

    # Dense networks spend their time in BLAS products, so BLAS gets the threads. Convolutional
    # ones spend it in the convolution core's OpenMP threads; BLAS's own threads keep spinning
    # after each product of the dense head and take cores from them (measured: ConvNetClassifier
    # two epochs on 7188 digits, 32 and 64 filters, 2.9-3.1 s with parallel BLAS, 1.1-1.6 s
    # without).
    _parallel_blas = True

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accepts_sparse
        return tags


def _weight_shape(layer):
    specs = dict((name, shape) for name, shape, _ in layer.parameter_specs())
    return specs["weight"]


def _column_to_1d(y):
    """A column vector y becomes 1-D, with scikit-learn's DataConversionWarning."""
    y = np.asarray(y)
    return column_or_1d(y, warn=True) if y.ndim == 2 and y.shape[1] == 1 else y


def _rows(X, rows):
    """Rows of X: a C-contiguous array, or CSR rows of sparse X (the CPU kernels' products take
    them as they are; the CUDA kernels' to_device densifies them)."""
    batch = X[rows]
    return batch.tocsr() if sp.issparse(batch) else np.ascontiguousarray(batch)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    np.exp(z, out=z)
    z /= z.sum(axis=1, keepdims=True)
    return z


def _sigmoid(z):
    return expit(z)


def _stochastic_solver(estimator):
    """partial_fit exists for the stochastic solvers only, as in scikit-learn."""
    if estimator.solver == "lbfgs":
        raise AttributeError("partial_fit is only available for stochastic optimizers. "
                             "lbfgs is not stochastic.")
    return True


class _Classifier(ClassifierMixin):
    """Targets binarised as in scikit-learn's MLPClassifier: one logistic unit for two classes,
    one per label for multilabel y, a softmax over the classes otherwise."""

    def _encode(self, y, reset, classes=None):
        y = _column_to_1d(y)
        if reset:
            self._label_binarizer = LabelBinarizer().fit(y if classes is None else classes)
            self.classes_ = self._label_binarizer.classes_
            self._multilabel = self._label_binarizer.y_type_ == "multilabel-indicator"
        if not self._multilabel:
            unseen = np.setdiff1d(np.unique(y), self.classes_)
            if unseen.size:
                raise ValueError(f"y has classes {unseen.tolist()} not in classes_ "
                                 f"{self.classes_.tolist()}")
        Y = self._label_binarizer.transform(y)
        binary_or_multilabel = self._multilabel or Y.shape[1] == 1
        self._loss_kind = "logistic" if binary_or_multilabel else "softmax"
        self.out_activation_ = "logistic" if binary_or_multilabel else "softmax"
        return Y

    def _stratify_by(self, Y):
        # scikit-learn stratifies the validation split for one output unit only
        return Y if Y.shape[1] == 1 else None

    def _probabilities(self, z):
        return _softmax(z) if self.out_activation_ == "softmax" else _sigmoid(z)

    def _labels(self, z):
        return self._label_binarizer.inverse_transform(self._probabilities(z))

    def _score_output(self, z, Y, sample_weight):
        return accuracy_score(self._label_binarizer.inverse_transform(Y), self._labels(z),
                              sample_weight=sample_weight)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over (X, y); ``classes`` (all the labels) is needed on the first call."""
        if not hasattr(self, "coefs_"):
            self._validate_params()
        first = check_partial_fit_first_call(self, classes)
        return self._fit(X, y, incremental=True, sample_weight=sample_weight,
                         classes=self.classes_ if first else None)

    def predict(self, X):
        """Class labels (label indicator rows for multilabel y)."""
        return self._labels(self._decision(X))

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes); per label for multilabel y."""
        p = self._probabilities(self._decision(X))
        return np.hstack([1 - p, p]) if p.shape[1] == 1 and not self._multilabel else p

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


class _DenseNetwork(_BaseNetwork):
    """Rows of features into dense layers (sparse rows are densified a batch at a time)."""

    _parameter_constraints = {
        **_BaseNetwork._parameter_constraints,
        "solver": [StrOptions({"sgd", "adam", "adagrad", "lbfgs"})],
        "max_fun": [Interval(Integral, 1, None, closed="left")],
    }
    _accepts_sparse = True

    def __init__(self, hidden_layer_sizes=(100,), activation="relu", *, solver="adam",
                 alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, init="glorot_uniform", device="auto", n_jobs=None):
        _set_params(self, locals())

    def _prepare_X(self, X, reset, image_shape):
        return X

    def _input_shape(self):
        return (self.n_features_in_,)

    def _build_layers(self, rng):
        return self._dense_stack(self.n_features_in_, rng)

    def _n_weight_layers(self):
        return len(self._hidden_sizes()) + 1


class MLPClassifier(_Classifier, _DenseNetwork):
    """Multi-layer perceptron classifier, a drop-in for scikit-learn's ``MLPClassifier`` trained
    on compiled kernels (CPU: BLAS and Numba; CUDA: Numba).

    Parameters are scikit-learn's, plus:

    dropout : float in [0, 1), default=0.0
        Probability of dropping each hidden unit in training (inverted dropout).
    init : {"glorot_uniform", "glorot_normal", "he_uniform", "he_normal"}, default="glorot_uniform"
        Weight initializer; "glorot_uniform" is scikit-learn's.
    solver : {"adam", "sgd", "adagrad", "lbfgs"}, default="adam"
        scikit-learn's solvers plus adagrad; "lbfgs" is scipy's L-BFGS-B on the full batch, as
        in scikit-learn (with ``max_fun``), for float32 input in float32 (scikit-learn's turns
        the weights into float64).
    device : {"auto", "cpu", "cuda"}, default="auto"
        "auto" uses CUDA when a GPU is found, else warns once and uses the CPU.
    n_jobs : int, default=None
        CPU threads for the kernels and BLAS; None uses ``fastml.get_config()["n_jobs"]``.

    float32 input is trained in float32, float64 in float64. ``device_`` says where the fit
    ran. Attributes are scikit-learn's: classes_, coefs_, intercepts_, loss_, loss_curve_,
    best_loss_, validation_scores_, best_validation_score_ (the last four not with lbfgs),
    n_iter_, t_, n_layers_, n_outputs_, out_activation_, n_features_in_.
    """


class MLPRegressor(RegressorMixin, _DenseNetwork):
    """Multi-layer perceptron regressor, a drop-in for scikit-learn's ``MLPRegressor``.

    Parameters are ``MLPClassifier``'s, plus scikit-learn's first one:

    loss : {"squared_error", "poisson"}, default="squared_error"
        "squared_error": half the mean squared error summed over the outputs (for one output,
        scikit-learn's); "poisson": half the Poisson deviance with a log link (the output layer
        predicts exp of its value; y must be >= 0), as scikit-learn's.
    """

    _parameter_constraints = {**_DenseNetwork._parameter_constraints,
                              "loss": [StrOptions({"squared_error", "poisson"})]}

    def __init__(self, loss="squared_error", hidden_layer_sizes=(100,), activation="relu", *,
                 solver="adam", alpha=0.0001, batch_size="auto", learning_rate="constant",
                 learning_rate_init=0.001, power_t=0.5, max_iter=200, shuffle=True,
                 random_state=None, tol=1e-4, verbose=False, warm_start=False, momentum=0.9,
                 nesterovs_momentum=True, early_stopping=False, validation_fraction=0.1,
                 beta_1=0.9, beta_2=0.999, epsilon=1e-8, n_iter_no_change=10, max_fun=15000,
                 dropout=0.0, init="glorot_uniform", device="auto", n_jobs=None):
        _set_params(self, locals())

    def _encode(self, y, reset, classes=None):
        y = _column_to_1d(y)
        if self.loss == "poisson":
            if np.any(y < 0):
                raise ValueError("Some value(s) of y are negative which is not allowed for "
                                 "Poisson regression.")
            self._loss_kind, self.out_activation_ = "poisson", "exp"
        else:
            self._loss_kind, self.out_activation_ = "squared", "identity"
        return y.reshape(-1, 1) if y.ndim == 1 else y

    def _stratify_by(self, Y):
        return None

    def _score_output(self, z, Y, sample_weight):
        prediction = np.exp(z) if self.out_activation_ == "exp" else z
        if not np.isfinite(prediction).all():
            return np.nan  # scikit-learn's validation score of a network that diverged
        return r2_score(Y, prediction, sample_weight=sample_weight)

    @available_if(_stochastic_solver)
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over (X, y)."""
        if not hasattr(self, "coefs_"):
            self._validate_params()
        return self._fit(X, y, incremental=True, sample_weight=sample_weight)

    def predict(self, X):
        z = self._decision(X)
        if self.out_activation_ == "exp":
            np.exp(z, out=z)
        return z.ravel() if z.shape[1] == 1 else z


def _set_params(estimator, arguments):
    for name, value in arguments.items():
        if name not in ("self", "__class__"):
            setattr(estimator, name, value)


class ConvNetClassifier(_Classifier, _BaseNetwork):
    """Convolutional network classifier for images, with MLPClassifier's training options.

    The network is, for each ``(filters, kernel_size)`` in ``conv_layers``: a convolution with
    stride 1 and zero padding (kernel_size - 1) // 2 (odd kernels keep the image size), batch
    normalisation when ``batch_norm``, the activation, and ``pooling`` over pool_size x
    pool_size windows (an axis shorter than pool_size is not pooled); then the dense hidden
    layers of ``hidden_layer_sizes`` (with ``dropout``) and the output layer.

    Parameters
    ----------
    conv_layers : sequence of (filters, kernel_size), default=((32, 3), (64, 3))
    pooling : {"max", "avg"} or None, default="max"
    pool_size : int, default=2
    batch_norm : bool, default=False
    image_shape : (H, W), (C, H, W) or None, default=None
        Shape of each image when X is given as flat rows (n, C*H*W). None takes square
        single-channel images when n_features is a square, else 1 x n_features rows. Images
        may also be given as (n, H, W) or (n, C, H, W).
    hidden_layer_sizes : sequence of int, default=(128,)
    The other parameters and the attributes are MLPClassifier's (coefs_ holds the filter
    banks (F, C, KH, KW) of the convolutions, then the dense weights); ``image_shape_`` is the
    (C, H, W) the network was built for.
    """

    _parameter_constraints = {
        **_BaseNetwork._parameter_constraints,
        "conv_layers": ["array-like"],
        "pooling": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "batch_norm": ["boolean"],
        "image_shape": ["array-like", None],
    }

    def __init__(self, conv_layers=((32, 3), (64, 3)), *, pooling="max", pool_size=2,
                 batch_norm=False, image_shape=None, hidden_layer_sizes=(128,),
                 activation="relu", solver="adam", alpha=0.0001, batch_size="auto",
                 learning_rate="constant", learning_rate_init=0.001, power_t=0.5, max_iter=200,
                 shuffle=True, random_state=None, tol=1e-4, verbose=False, warm_start=False,
                 momentum=0.9, nesterovs_momentum=True, early_stopping=False,
                 validation_fraction=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-8,
                 n_iter_no_change=10, dropout=0.0, init="he_uniform", device="auto",
                 n_jobs=None):
        _set_params(self, locals())

    _parallel_blas = False

    def _conv_specs(self):
        specs = []
        for spec in self.conv_layers:
            if (len(spec) != 2 or not all(isinstance(v, Integral) and not isinstance(v, bool)
                                          and v >= 1 for v in spec)):
                raise ValueError("conv_layers must hold (filters, kernel_size) pairs of "
                                 f"positive ints, got {spec!r}")
            specs.append((int(spec[0]), int(spec[1])))
        return specs

    def _flat_input(self, X):
        """Images (n, H, W) or (n, C, H, W) as rows of C*H*W values, and their (C, H, W)."""
        if sp.issparse(X) or getattr(X, "ndim", 3) not in (3, 4):
            return X, None  # rows, or input validate_data rejects with its own message
        X = np.asarray(X)
        if X.ndim not in (3, 4):
            return X, None
        shape = (1, *X.shape[1:]) if X.ndim == 3 else tuple(X.shape[1:])
        return X.reshape(X.shape[0], -1), shape

    def _shape_of_rows(self, n_features):
        """(C, H, W) of flat rows at fit time: image_shape, else a square single channel, else
        one row of n_features."""
        if self.image_shape is None:
            side = int(np.sqrt(n_features))
            return (1, side, side) if side * side == n_features else (1, 1, n_features)
        shape = tuple(int(v) for v in self.image_shape)
        if len(shape) == 2:
            shape = (1, *shape)
        if len(shape) != 3 or min(shape) < 1 or int(np.prod(shape)) != n_features:
            raise ValueError(f"image_shape {self.image_shape!r} does not describe rows of "
                             f"{n_features} values")
        return shape

    def _prepare_X(self, X, reset, image_shape):
        if reset:
            self.image_shape_ = image_shape or self._shape_of_rows(X.shape[1])
        elif image_shape is not None and image_shape != self.image_shape_:
            raise ValueError(f"X holds images of shape {image_shape}, the network was fitted on "
                             f"{self.image_shape_}")
        return np.ascontiguousarray(X.reshape(X.shape[0], *self.image_shape_))

    def _input_shape(self):
        return self.image_shape_

    def _n_weight_layers(self):
        return len(self._conv_specs()) + len(self._hidden_sizes()) + 1

    def _build_layers(self, rng):
        layers, shape = [], self.image_shape_
        for filters, kernel in self._conv_specs():
            conv = Conv2d(shape[0], filters, kernel, (kernel - 1) // 2,
                          "identity" if self.batch_norm else self.activation,
                          bias=not self.batch_norm)
            if kernel > shape[1] + 2 * conv.padding[0] or kernel > shape[2] + 2 * conv.padding[1]:
                raise ValueError(f"kernel_size {kernel} is larger than the padded image "
                                 f"{shape[1:]} it is applied to")
            layers.append(conv)
            shape = conv.output_shape(shape)
            if self.batch_norm:
                layers.append(BatchNorm(filters, self.activation))
            window = tuple(self.pool_size if size >= self.pool_size else 1 for size in shape[1:])
            if self.pooling is not None and window != (1, 1):
                layers.append(Pool2d(self.pooling, window))
                shape = layers[-1].output_shape(shape)
        layers.append(Flatten())
        return layers + self._dense_stack(int(np.prod(shape)), rng)
