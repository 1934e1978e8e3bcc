"""LinearSVC and LinearSVR, drop-in for scikit-learn 1.9's, on fastml's compiled dual coordinate
descent (csrc/linear/dual_cd.cpp).

What is computed where: the dual solvers (LinearSVC with dual=True and an l2 penalty,
one-vs-rest; LinearSVR with dual=True) run fastml's core, which follows liblinear's iterates
with scikit-learn's random stream (the same seed from random_state, the same bounded draws,
the rows grouped by class as liblinear groups them), so coef_ equals scikit-learn's to rounding.
The primal solvers (dual=False, and the l1 penalty) and crammer_singer are handed to
scikit-learn's liblinear. The classes subclass scikit-learn's, so every parameter, attribute,
error and warning is scikit-learn's.
"""
import warnings

import numpy as np
import scipy.sparse as sp
from sklearn import svm as sk_svm
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state, compute_class_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

from ..linear_model import _dual_cd_fast
from ..utils._sklearn_compat import (check_sample_weight, fit_context, liblinear_solver_type,
                                     sk_liblinear, validate_dual_parameter)

# liblinear's solver codes of the dual problems fastml solves: (regression, squared loss)
_DUAL_SOLVERS = {1: (False, True), 3: (False, False), 12: (True, True), 13: (True, False)}


def _x_args(X):
    if sp.issparse(X):
        return "_csr", (X.indptr.astype(np.int32, copy=False),
                        X.indices.astype(np.int32, copy=False), X.data, X.shape[1])
    return "", (X,)


def _train(X, y_ind, solver_type, tol, bias, C, class_weight, max_iter, seed, epsilon,
           sample_weight):
    """liblinear's train as scikit-learn calls it: (raw coef, n_iter per sub-problem)."""
    if solver_type not in _DUAL_SOLVERS:
        return sk_liblinear.train_wrap(X, y_ind, sp.issparse(X), solver_type, tol, bias, C,
                                       class_weight, max_iter, seed, epsilon, sample_weight)
    regression, squared = _DUAL_SOLVERS[solver_type]
    suffix, x_args = _x_args(X)
    rng = _dual_cd_fast.Generator(seed)
    keep = np.flatnonzero(sample_weight > 0)  # liblinear drops the rows of weight 0
    common = dict(bias=bias, squared=squared, eps=tol, max_iter=max_iter, rng=rng)
    if regression:
        w, n_iter = getattr(_dual_cd_fast, "svr" + suffix)(
            *x_args, y_ind, epsilon, keep.astype(np.int32), C * sample_weight[keep], **common)
        return np.asfortranarray(w[None, :]), np.array([n_iter], dtype=np.intc)
    # liblinear groups the rows by class, classes in increasing order, rows in their order
    labels = y_ind[keep].astype(np.intp)
    order = np.argsort(labels, kind="stable")
    rows, labels = keep[order].astype(np.int32), labels[order]
    present = np.unique(labels)
    weighted_C = C * class_weight[present] if class_weight.size else np.full(len(present), C)
    svc = getattr(_dual_cd_fast, "svc" + suffix)
    # two classes: one problem, the second class positive; more: each class against the rest,
    # the rest bounded by the plain C, drawing from one random stream in class order
    targets = present[1:] if len(present) == 2 else present
    coefs, n_iters = [], []
    for i, target in enumerate(targets):
        positive = labels == target
        sign = np.where(positive, 1, -1).astype(np.int8)
        c_pos = weighted_C[1] if len(present) == 2 else weighted_C[np.flatnonzero(present == target)[0]]
        c_neg = weighted_C[0] if len(present) == 2 else C
        bounds = sample_weight[rows] * np.where(positive, c_pos, c_neg)
        w, n_iter = svc(*x_args, rows, sign, bounds, **common)
        coefs.append(w)
        n_iters.append(n_iter)
    return np.asfortranarray(np.vstack(coefs)), np.array(n_iters, dtype=np.intc)


def fit_liblinear(X, y, C, fit_intercept, intercept_scaling, class_weight, penalty, dual,
                  verbose, max_iter, tol, random_state=None, multi_class="ovr",
                  loss="logistic_regression", epsilon=0.1, sample_weight=None):
    """scikit-learn's _fit_liblinear with the dual solvers compiled: (coef, intercept, n_iter)."""
    if loss not in ("epsilon_insensitive", "squared_epsilon_insensitive"):
        encoder = LabelEncoder()
        y_ind = encoder.fit_transform(y)
        classes = encoder.classes_
        if len(classes) < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                             "the data contains only one class: %r" % classes[0])
        class_weight_ = compute_class_weight(class_weight, classes=classes, y=y,
                                             sample_weight=sample_weight)
    else:
        class_weight_ = np.empty(0, dtype=np.float64)
        y_ind = y
    sk_liblinear.set_verbosity_wrap(verbose)
    rnd = check_random_state(random_state)
    bias = -1.0
    if fit_intercept:
        if intercept_scaling <= 0:
            raise ValueError("Intercept scaling is %r but needs to be greater than 0. To "
                             "disable fitting an intercept, set fit_intercept=False."
                             % intercept_scaling)
        bias = intercept_scaling
    y_ind = np.require(np.asarray(y_ind, dtype=np.float64).ravel(), requirements="W")
    sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64)
    solver_type = liblinear_solver_type(multi_class, penalty, loss, dual)
    raw_coef, n_iter = _train(X, y_ind, solver_type, tol, bias, C, class_weight_, max_iter,
                              rnd.randint(np.iinfo("i").max), epsilon, sample_weight)
    if max(n_iter) >= max_iter:
        warnings.warn("Liblinear failed to converge, increase the number of iterations.",
                      ConvergenceWarning)
    if fit_intercept:
        return raw_coef[:, :-1], intercept_scaling * raw_coef[:, -1], n_iter
    return raw_coef, 0.0, n_iter


def _validate(est, X, y):
    return validate_data(est, X, y, accept_sparse="csr", dtype=np.float64, order="C",
                         accept_large_sparse=False)


class LinearSVC(sk_svm.LinearSVC):
    __doc__ = sk_svm.LinearSVC.__doc__

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y = _validate(self, X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        dual = validate_dual_parameter(self.dual, self.loss, self.penalty, self.multi_class, X)
        self.coef_, self.intercept_, n_iter = fit_liblinear(
            X, y, self.C, self.fit_intercept, self.intercept_scaling, self.class_weight,
            self.penalty, dual, self.verbose, self.max_iter, self.tol, self.random_state,
            self.multi_class, self.loss, sample_weight=sample_weight)
        self.n_iter_ = n_iter.max().item()
        if self.multi_class == "crammer_singer" and len(self.classes_) == 2:
            self.coef_ = (self.coef_[1] - self.coef_[0]).reshape(1, -1)
            if self.fit_intercept:
                self.intercept_ = np.array([self.intercept_[1] - self.intercept_[0]])
        return self


class LinearSVR(sk_svm.LinearSVR):
    __doc__ = sk_svm.LinearSVR.__doc__

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        X, y = _validate(self, X, y)
        dual = validate_dual_parameter(self.dual, self.loss, "l2", "ovr", X)
        self.coef_, self.intercept_, n_iter = fit_liblinear(
            X, y, self.C, self.fit_intercept, self.intercept_scaling, None, "l2", dual,
            self.verbose, self.max_iter, self.tol, self.random_state, loss=self.loss,
            epsilon=self.epsilon, sample_weight=sample_weight)
        self.coef_ = self.coef_.ravel()
        self.n_iter_ = n_iter.max().item()
        return self
