"""SGDClassifier and SGDRegressor, drop-in for scikit-learn 1.9's, on fastml's compiled SGD epoch
(csrc/linear/sgd.cpp).

The classes subclass scikit-learn's, so every parameter, attribute, validation, error, warning,
prediction method and the bookkeeping of partial_fit, warm_start and averaging are scikit-learn's.
What is replaced is the training loop itself: scikit-learn's `_plain_sgd` becomes `plain_sgd`
below, which runs the compiled epoch (one per call, the GIL released) and keeps, in Python, what
happens between epochs (the tolerance and early-stopping rules, the adaptive schedule, verbose
output). The random numbers are drawn from `random_state` in scikit-learn's order (the dataset's
seed, then the shuffle seed; per class for one-vs-all), and the epoch shuffles with
scikit-learn's generator, so the same random_state gives scikit-learn's coefficients.
One-vs-all runs the classes on joblib threads as scikit-learn does (n_jobs), each class on its
own seed, so the result does not depend on n_jobs.
"""
import numpy as np
import scipy.sparse as sp
from sklearn import linear_model as sk_linear_model
from sklearn.utils import check_random_state
from sklearn.utils.parallel import Parallel, delayed

from . import _sgd_fast

_MAX_INT = np.iinfo(np.int32).max
_PENALTIES = {"none": 0, "l2": 2, "l1": 1, "elasticnet": 3}
_SCHEDULES = {"constant": 1, "optimal": 2, "invscaling": 3, "adaptive": 4, "pa1": 5, "pa2": 6}
_L1, _L2, _ADAPTIVE = 1, 2, 4
# loss name -> (compiled loss, its threshold or None for the estimator's epsilon)
_LOSSES = {
    "hinge": (_sgd_fast.Loss.hinge, 1.0),
    "perceptron": (_sgd_fast.Loss.hinge, 0.0),
    "squared_hinge": (_sgd_fast.Loss.squared_hinge, 1.0),
    "modified_huber": (_sgd_fast.Loss.modified_huber, 0.0),
    "log_loss": (_sgd_fast.Loss.log_loss, 0.0),
    "squared_error": (_sgd_fast.Loss.squared_error, 0.0),
    "huber": (_sgd_fast.Loss.huber, None),
    "epsilon_insensitive": (_sgd_fast.Loss.epsilon_insensitive, None),
    "squared_epsilon_insensitive": (_sgd_fast.Loss.squared_epsilon_insensitive, None),
}
# scikit-learn's damping of the intercept's step for sparse X (SPARSE_INTERCEPT_DECAY)
_SPARSE_INTERCEPT_DECAY = 0.01


def _options(est, loss, alpha, learning_rate, seed, pos_weight, neg_weight, intercept_decay):
    """The compiled epoch's options for `est` fitting `loss`, as _plain_sgd receives them."""
    opt = _sgd_fast.Options()
    opt.loss, parameter = _LOSSES[loss]
    opt.loss_parameter = est.epsilon if parameter is None else parameter
    opt.penalty = _PENALTIES[str(est.penalty).lower()]
    opt.alpha = alpha
    l1_ratio = 0.0 if est.l1_ratio is None else est.l1_ratio
    opt.l1_ratio = {_L2: 0.0, _L1: 1.0}.get(opt.penalty, l1_ratio)
    opt.schedule = _SCHEDULES[learning_rate]
    opt.eta0 = est.eta0
    opt.power_t = est.power_t
    if learning_rate == "optimal":
        # Bottou's heuristic start, as scikit-learn's: the step of a typical weight
        typw = np.sqrt(1.0 / np.sqrt(alpha))
        initial_eta0 = typw / max(1.0, _sgd_fast.loss_gradient(opt.loss, opt.loss_parameter,
                                                                1.0, -typw))
        opt.optimal_init = 1.0 / (initial_eta0 * alpha)
    opt.fit_intercept = bool(est.fit_intercept)
    opt.weight_pos, opt.weight_neg = float(pos_weight), float(neg_weight)
    opt.intercept_decay = intercept_decay
    opt.average = int(est.average)
    opt.track_objective = bool(est.verbose) or not est.early_stopping
    opt.shuffle = bool(est.shuffle)
    opt.seed = int(seed)
    return opt


def _epoch_function(X):
    """(epoch over X, X's leading arguments)."""
    if sp.issparse(X):
        return _sgd_fast.epoch_csr, (X.indptr, X.indices, X.data, X.shape[1])
    return _sgd_fast.epoch, (X,)


def plain_sgd(est, X, y, sample_weight, coef, intercept, average_coef, average_intercept,
              opt, validation_mask, validation_score_cb, max_iter):
    """scikit-learn's _plain_sgd over the compiled epoch: trains coef (and average_coef) in place
    and returns (coef, intercept, average_coef, average_intercept, n_iter)."""
    state = _sgd_fast.State()
    state.intercept, state.average_intercept = float(intercept), float(average_intercept)
    state.t, state.eta = float(est.t_), float(est.eta0)
    _sgd_fast.init_norms(coef, state)
    q = np.zeros_like(coef) if opt.penalty in (_L1, 3) else None
    average = average_coef if opt.average > 0 else None
    index = np.arange(X.shape[0], dtype=np.int32)
    mask = np.ascontiguousarray(validation_mask).view(np.uint8)
    train_count = X.shape[0] - int(np.sum(validation_mask))
    epoch_fn, x_args = _epoch_function(X)
    tol = -np.inf if est.tol is None else est.tol
    best_objective, best_score, no_improvement = np.inf, -np.inf, 0
    for epoch in range(max_iter):
        if est.verbose > 0:
            print("-- Epoch %d" % (epoch + 1))
        sums = epoch_fn(*x_args, y, sample_weight, mask, index, coef, average, q, state, opt)
        if sums.nonfinite:
            raise ValueError("Floating-point under-/overflow occurred at epoch #%d. Scaling "
                             "input data with StandardScaler or MinMaxScaler might help."
                             % (epoch + 1))
        if est.early_stopping:
            # scikit-learn scores the stored vector, before its scale is folded in
            score = validation_score_cb(coef, state.intercept)
            _report(est, coef, state, train_count, sums, score)
            no_improvement = no_improvement + 1 if score < best_score + tol else 0
            best_score = max(best_score, score)
        else:
            _report(est, coef, state, train_count, sums)
            objective = sums.objective / train_count
            no_improvement = no_improvement + 1 if objective > best_objective - tol else 0
            best_objective = min(best_objective, objective)
        if no_improvement >= est.n_iter_no_change:
            if opt.schedule == _ADAPTIVE and state.eta > 1e-6:
                state.eta /= 5
                no_improvement = 0
            else:
                if est.verbose:
                    print("Convergence after %d epochs" % (epoch + 1))
                break
    _sgd_fast.reset_scale(coef, average, state)
    return coef, state.intercept, average_coef, state.average_intercept, epoch + 1


def _report(est, coef, state, train_count, sums, score=None):
    """scikit-learn's per-epoch verbose line."""
    if est.verbose <= 0:
        return
    line = ("Norm: %.2f, NNZs: %d, Bias: %.6f, T: %d, Avg. loss: %f, Objective: %f"
            % (np.sqrt(state.sq_norm), np.count_nonzero(coef), state.intercept,
               state.t - est.t_, sums.loss / train_count, sums.objective / train_count))
    if score is not None:
        line += ", Validation score: %f" % score
    print(line)


def _dataset_seed(random_state):
    """Consumes the draw scikit-learn's make_dataset takes for its dataset (unused by SGD, which
    shuffles with its own seed), so that later draws match scikit-learn's."""
    random_state.randint(1, _MAX_INT)


def fit_binary(est, i, X, y, alpha, learning_rate, max_iter, pos_weight, neg_weight,
               sample_weight, validation_mask=None, random_state=None):
    """Class `i` against the rest, as scikit-learn's fit_binary: (coef, intercept, n_iter)."""
    label_encode = est.loss == "log_loss"  # labels {0, 1} for the binomial loss, else {-1, 1}
    y_i = np.ones(y.shape, dtype=X.dtype, order="C")
    y_i[y != est.classes_[i]] = 0.0 if label_encode else -1.0
    binary = len(est.classes_) == 2
    row = slice(None) if binary else i
    average_coef, average_intercept = None, 0.0
    if est.average:
        coef, intercept = est._standard_coef[row].ravel(), est._standard_intercept[0 if binary else i]
        average_coef = est._average_coef[row].ravel()
        average_intercept = est._average_intercept[0 if binary else i]
    else:
        coef, intercept = est.coef_[row].ravel(), est.intercept_[0 if binary else i]
    random_state = check_random_state(random_state)
    _dataset_seed(random_state)
    intercept_decay = _SPARSE_INTERCEPT_DECAY if sp.issparse(X) else 1.0
    if validation_mask is None:
        validation_mask = est._make_validation_split(y_i, sample_mask=sample_weight > 0)
    validation_score_cb = est._make_validation_score_cb(
        validation_mask, X, y_i, sample_weight, classes=np.array([-1, 1], dtype=y_i.dtype))
    seed = random_state.randint(_MAX_INT)
    opt = _options(est, est.loss, alpha, learning_rate, seed, pos_weight, neg_weight,
                   intercept_decay)
    coef, intercept, _, average_intercept, n_iter = plain_sgd(
        est, X, y_i, sample_weight, coef, intercept, average_coef, average_intercept, opt,
        validation_mask, validation_score_cb, max_iter)
    if est.average:
        est._average_intercept[0 if binary else i] = average_intercept
    return coef, intercept, n_iter


class SGDClassifier(sk_linear_model.SGDClassifier):
    __doc__ = sk_linear_model.SGDClassifier.__doc__

    def _fit_binary(self, X, y, alpha, sample_weight, learning_rate, max_iter):
        coef, intercept, n_iter = fit_binary(
            self, 1, X, y, alpha, learning_rate, max_iter, self._expanded_class_weight[1],
            self._expanded_class_weight[0], sample_weight, random_state=self.random_state)
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        if self.average > 0:
            if self.average <= self.t_ - 1:
                self.coef_ = self._average_coef.reshape(1, -1)
                self.intercept_ = self._average_intercept
            else:
                self.coef_ = self._standard_coef.reshape(1, -1)
                self._standard_intercept = np.atleast_1d(intercept)
                self.intercept_ = self._standard_intercept
        else:
            self.coef_ = coef.reshape(1, -1)
            self.intercept_ = np.atleast_1d(intercept)

    def _fit_multiclass(self, X, y, alpha, learning_rate, sample_weight, max_iter):
        # one split for every class, drawn on the multiclass labels (stratified)
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        # every class's seed drawn before the parallel loop: the same models for any n_jobs
        seeds = check_random_state(self.random_state).randint(_MAX_INT, size=len(self.classes_))
        result = Parallel(n_jobs=self.n_jobs, verbose=self.verbose, require="sharedmem")(
            delayed(fit_binary)(self, i, X, y, alpha, learning_rate, max_iter,
                                self._expanded_class_weight[i], 1.0, sample_weight,
                                validation_mask=validation_mask, random_state=seed)
            for i, seed in enumerate(seeds))
        n_iter = 0.0
        for i, (_, intercept, n_iter_i) in enumerate(result):
            self.intercept_[i] = intercept
            n_iter = max(n_iter, n_iter_i)
        self.t_ += n_iter * X.shape[0]
        self.n_iter_ = n_iter
        if self.average > 0:
            if self.average <= self.t_ - 1.0:
                self.coef_ = self._average_coef
                self.intercept_ = self._average_intercept
            else:
                self.coef_ = self._standard_coef
                self._standard_intercept = np.atleast_1d(self.intercept_)
                self.intercept_ = self._standard_intercept


class SGDRegressor(sk_linear_model.SGDRegressor):
    __doc__ = sk_linear_model.SGDRegressor.__doc__

    def _fit_regressor(self, X, y, alpha, loss, learning_rate, sample_weight, max_iter):
        if not hasattr(self, "t_"):
            self.t_ = 1.0
        validation_mask = self._make_validation_split(y, sample_mask=sample_weight > 0)
        validation_score_cb = self._make_validation_score_cb(validation_mask, X, y,
                                                             sample_weight)
        random_state = check_random_state(self.random_state)
        seed = random_state.randint(0, _MAX_INT)  # the shuffle seed first, here
        _dataset_seed(random_state)
        intercept_decay = _SPARSE_INTERCEPT_DECAY if sp.issparse(X) else 1.0
        if self.average:
            coef, intercept = self._standard_coef, self._standard_intercept[0]
            average_coef, average_intercept = self._average_coef, self._average_intercept[0]
        else:
            coef, intercept = self.coef_, self.intercept_[0]
            average_coef, average_intercept = None, 0.0
        opt = _options(self, loss, alpha, learning_rate, seed, 1.0, 1.0, intercept_decay)
        coef, intercept, average_coef, average_intercept, self.n_iter_ = plain_sgd(
            self, X, y, sample_weight, coef, intercept, average_coef, average_intercept, opt,
            validation_mask, validation_score_cb, max_iter)
        self.t_ += self.n_iter_ * X.shape[0]
        if self.average > 0:
            self._average_intercept = np.atleast_1d(average_intercept)
            self._standard_intercept = np.atleast_1d(intercept)
            if self.average <= self.t_ - 1.0:
                self.coef_ = average_coef
                self.intercept_ = np.atleast_1d(average_intercept)
            else:
                self.coef_ = coef
                self.intercept_ = np.atleast_1d(intercept)
        else:
            self.intercept_ = np.atleast_1d(intercept)
