"""LinearSVC and LinearSVR, drop-in for scikit-learn 1.9's, on fastml's compiled dual coordinate
descent (csrc/linear/dual_cd.cpp).

What is computed where:
- the dual solvers (LinearSVC with dual=True and an l2 penalty, one-vs-rest; LinearSVR with
  dual=True) run fastml's core, which follows liblinear's iterates with scikit-learn's random
  stream (the same seed from random_state, the same bounded draws, the rows grouped by class as
  liblinear groups them), so coef_ equals scikit-learn's to rounding;
- the primal squared-loss solvers (dual=False, or dual="auto" with more rows than features:
  LinearSVC squared_hinge with an l2 penalty, LinearSVR squared_epsilon_insensitive) up to
  2,000 features run Newton's method on the compiled Gram core (_primal.py): the same optimum
  as liblinear's trust-region Newton to liblinear's tol, n_iter_ counting Newton steps;
- the l1 penalty, crammer_singer and wider primal problems are handed to scikit-learn's
  liblinear. The classes subclass scikit-learn's, so every parameter, attribute,
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
from . import _primal
from ..utils._sklearn_compat import (check_sample_weight, fit_context, liblinear_solver_type,
                                     sk_liblinear, validate_dual_parameter)

# liblinear's solver codes that fastml solves: (regression, squared loss, dual)
_SOLVERS = {1: (False, True, True), 3: (False, False, True), 12: (True, True, True),
            13: (True, False, True), 2: (False, True, False), 11: (True, True, False)}


def _x_args(X):
    if sp.issparse(X):
        return "_csr", (X.indptr.astype(np.int32, copy=False),
                        X.indices.astype(np.int32, copy=False), X.data, X.shape[1])
    return "", (X,)


def _class_problems(labels, C, class_weight):
    """liblinear's binary sub-problems of labels (class indices of the kept rows): for each,
    (positive rows mask, C of the positives, C of the negatives). Two classes: one problem,
    the second class positive; more: each class against the rest, the rest bounded by the plain
    C."""
    present = np.unique(labels)
    weighted_C = C * class_weight[present] if class_weight.size else np.full(len(present), C)
    if len(present) == 2:
        return [(labels == present[1], weighted_C[1], weighted_C[0])]
    return [(labels == target, weighted_C[i], C) for i, target in enumerate(present)]


def _train(X, y_ind, solver_type, tol, bias, C, class_weight, max_iter, seed, epsilon,
           sample_weight):
    """liblinear's train as scikit-learn calls it: (raw coef, n_iter per sub-problem)."""
    n_features = X.shape[1]
    if solver_type not in _SOLVERS or (not _SOLVERS[solver_type][2] and
                                       n_features + 1 > _primal.MAX_DIMENSION):
        return sk_liblinear.train_wrap(X, y_ind, sp.issparse(X), solver_type, tol, bias, C,
                                       class_weight, max_iter, seed, epsilon, sample_weight)
    regression, squared, dual = _SOLVERS[solver_type]
    keep = np.flatnonzero(sample_weight > 0)  # liblinear drops the rows of weight 0
    if not dual:
        Xk = X if len(keep) == X.shape[0] else X[keep]
        problems = ([(None, C, C)] if regression else
                    _class_problems(y_ind[keep].astype(np.intp), C, class_weight))
        coefs, n_iters = [], []
        for positive, c_pos, c_neg in problems:
            bounds = sample_weight[keep] * (C if regression else np.where(positive, c_pos, c_neg))
            target = y_ind[keep] if regression else np.where(positive, 1.0, -1.0)
            w, n_iter, converged = _primal.solve(Xk, target, bounds, bias=bias,
                                                 regression=regression, p=epsilon,
                                                 max_iter=max_iter)
            coefs.append(w)
            n_iters.append(n_iter if converged else max_iter)
        return np.asfortranarray(np.vstack(coefs)), np.array(n_iters, dtype=np.intc)
    suffix, x_args = _x_args(X)
    rng = _dual_cd_fast.Generator(seed)
    common = dict(bias=bias, squared=squared, eps=tol, max_iter=max_iter, rng=rng)
    if regression:
        w, n_iter = getattr(_dual_cd_fast, "svr" + suffix)(
            *x_args, y_ind, epsilon, keep.astype(np.int32), C * sample_weight[keep], **common)
        return np.asfortranarray(w[None, :]), np.array([n_iter], dtype=np.intc)
    # liblinear groups the rows by class, classes in increasing order, rows in their order;
    # the sub-problems draw from one random stream in turn
    labels = y_ind[keep].astype(np.intp)
    order = np.argsort(labels, kind="stable")
    rows = keep[order].astype(np.int32)
    svc = getattr(_dual_cd_fast, "svc" + suffix)
    coefs, n_iters = [], []
    for positive, c_pos, c_neg in _class_problems(labels[order], C, class_weight):
        sign = np.where(positive, 1, -1).astype(np.int8)
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
