"""LogisticRegression and LogisticRegressionCV, drop-in for scikit-learn 1.9's, on fastml's
compiled logistic loss (csrc/linear/logistic*.cpp).

What is computed where:
- l2 or no penalty (every solver but liblinear): the loss, gradient and, for newton-cholesky,
  Hessian are fastml's fused one-pass core (CompiledLogisticLoss). lbfgs runs scipy's L-BFGS-B
  with scikit-learn's start, options and loss scaling, so it follows scikit-learn's iterates;
  newton-cholesky runs scikit-learn's own NewtonCholeskySolver over the compiled loss. newton-cg,
  sag and saga minimise the same objective, so they are answered by lbfgs (their n_iter_ then
  counts L-BFGS iterations, not their own).
- l1 and elasticnet penalties with saga: proximal Newton steps over the compiled gradient and
  Hessian (_logistic_l1), to the optimum that saga approaches (n_iter_ counts Newton steps).
  LogisticRegressionCV runs the same steps along its Cs, each fold's path warm-started.
  Problems whose Hessian would exceed _L1_MAX_DOF coefficients and the liblinear solver
  (whose objective penalises the intercept) are handed to scikit-learn.
The classes subclass scikit-learn's, so every parameter, attribute, prediction method, error and
warning is scikit-learn's, and isinstance checks against them hold.
"""
import inspect
import warnings
from numbers import Integral, Number

import numpy as np
from scipy import optimize
from sklearn import linear_model as sk_linear_model
from sklearn.metrics import get_scorer, make_scorer
from sklearn.model_selection import check_cv
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import compute_class_weight
from sklearn.utils.metadata_routing import process_routing
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import validate_data

from .._backend import effective_n_threads
from ..utils._sklearn_compat import (NewtonCholeskySolver, check_method_params,
                                     check_optimize_result, check_sample_weight, fit_context,
                                     lbfgs_options, manual_routing, raise_for_params,
                                     routing_enabled)
from ._logistic_l1 import l1_newton
from ._logistic_loss import CompiledLogisticLoss

_CONVERGENCE_HINT = (
    "Please also refer to the documentation for alternative solver options:\n"
    "    https://scikit-learn.org/stable/modules/linear_model.html"
    "#logistic-regression"
)


def _check_solver(solver, penalty, dual):
    """scikit-learn's solver/penalty/dual compatibility errors."""
    if solver not in ("liblinear", "saga") and penalty not in ("l2", None):
        raise ValueError(
            f"Solver {solver} supports only 'l2' or None penalties, got {penalty} penalty.")
    if solver != "liblinear" and dual:
        raise ValueError(f"Solver {solver} supports only dual=False, got dual={dual}")
    if penalty == "elasticnet" and solver != "saga":
        raise ValueError(
            f"Only 'saga' solver supports elasticnet penalty, got solver={solver}.")
    if solver == "liblinear" and penalty is None:
        raise ValueError(
            "C=np.inf as well as penalty=None is not supported for the liblinear solver")


def _is_compiled(solver, penalty):
    """Whether fastml solves this problem: an l2 or no penalty with any solver but liblinear,
    l1 and elasticnet with saga."""
    if penalty in ("l1", "elasticnet"):
        return solver == "saga"
    return solver != "liblinear" and penalty in ("l2", None)


# The proximal Newton steps of the l1 penalty hold the (k (d + 1))^2 Hessian: larger problems
# are handed to scikit-learn's saga.
_L1_MAX_DOF = 2000


def _l1_too_large(penalty, n_classes, n_features, fit_intercept):
    k = 1 if n_classes == 2 else n_classes
    return penalty in ("l1", "elasticnet") and k * (n_features + fit_intercept) > _L1_MAX_DOF


def _resolve_penalty(est):
    """(penalty, C) that LogisticRegression.fit solves for, from the deprecated `penalty`,
    `l1_ratio` and `C`, with scikit-learn's warnings and errors in its order."""
    if est.penalty == "deprecated":
        if est.l1_ratio == 0 or est.l1_ratio is None:
            penalty = "l2"
            if est.l1_ratio is None:
                warnings.warn(
                    "'l1_ratio=None' was deprecated in version 1.8 and will trigger an error "
                    "in 1.10. Use 0<=l1_ratio<=1 instead.", FutureWarning)
        elif est.l1_ratio == 1:
            penalty = "l1"
        else:
            penalty = "elasticnet"
        if est.C == np.inf:
            penalty = None
    else:
        penalty = est.penalty
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
            "this warning, leave 'penalty' set to its default value and use 'l1_ratio' or 'C' "
            "instead. Use l1_ratio=0 instead of penalty='l2', l1_ratio=1 instead of "
            "penalty='l1', l1_ratio set to a float between 0 and 1 instead of "
            "penalty='elasticnet', and C=np.inf instead of penalty=None.", FutureWarning)
    _check_solver(est.solver, penalty, est.dual)
    if penalty != "elasticnet" and est.l1_ratio is not None and 0 < est.l1_ratio < 1:
        warnings.warn(
            f"l1_ratio parameter is only used when penalty is 'elasticnet'. Got "
            f"(penalty={penalty})")
    if (est.penalty == "l2" and est.l1_ratio != 0) or (est.penalty == "l1" and est.l1_ratio != 1):
        warnings.warn(
            f"Inconsistent values: penalty={est.penalty} with l1_ratio={est.l1_ratio}. penalty "
            f"is deprecated. Please use l1_ratio only.")
    if penalty == "elasticnet" and est.l1_ratio is None:
        raise ValueError("l1_ratio must be specified when penalty is elasticnet.")
    C = est.C
    if est.penalty is None:
        if est.C != 1.0:
            warnings.warn("Setting penalty=None will ignore the C and l1_ratio parameters")
        C, penalty = np.inf, "l2"
    return penalty, C


def _initial_coef(coef, n_classes, n_dof, dtype):
    """The starting point: zeros, or `coef` checked against scikit-learn's shapes; (n_dof,)
    for binomial, else the F-order ravel of (n_classes, n_dof)."""
    binary = n_classes == 2
    w0 = np.zeros(n_dof if binary else (n_classes, n_dof), dtype=dtype, order="F")
    if coef is not None:
        if binary:
            if coef.ndim == 1 and coef.shape[0] == n_dof:
                w0[:] = coef
            elif coef.ndim == 2 and coef.shape == (1, n_dof):
                w0[:] = coef[0]
            else:
                raise ValueError(f"Initialization coef is of shape {coef.shape}, expected "
                                 f"shape {w0.shape} or (1, {w0.shape[0]})")
        elif coef.ndim == 2 and coef.shape == (n_classes, n_dof):
            w0[:, :] = coef
        else:
            raise ValueError(
                f"Initialization coef is of shape {coef.shape}, expected shape {w0.shape}")
    return w0 if binary else w0.ravel(order="F")


def logistic_path(X, y, *, classes, Cs, fit_intercept=True, max_iter=100, tol=1e-4, verbose=0,
                  solver="lbfgs", coef=None, class_weight=None, sample_weight=None,
                  n_threads=1, penalty="l2", l1_ratio=None):
    """The penalised (l2, C = inf: unpenalised; l1 or elasticnet: see _logistic_l1) logistic
    fits of X (validated, float32 or float64, C-contiguous or CSR) for each C of Cs in turn,
    each started from the previous one, as scikit-learn's _logistic_regression_path. Returns
    (coefs, n_iter): coefs of shape
    (n_Cs, n_dof) for two classes, else (n_Cs, n_classes, n_dof), intercepts last, in X's
    dtype; n_iter (n_Cs,) int32."""
    n_samples, n_features = X.shape
    n_classes = len(classes)
    if sample_weight is not None or class_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X, dtype=X.dtype, copy=True)
    # Every label of y is in classes (sorted, from np.unique or LabelEncoder): its index is its
    # place in the sorted classes, as LabelEncoder.transform gives it without the unknown-label
    # check (a second unique of y: 5 ms of a 100k-row multinomial fit).
    codes = np.searchsorted(classes, y) if n_classes > 2 or class_weight is not None else None
    if class_weight is not None:
        weights = compute_class_weight(class_weight, classes=classes, y=y,
                                       sample_weight=sample_weight)
        sample_weight *= np.asarray(weights[codes], dtype=X.dtype)
    target = (y == classes[1]) if n_classes == 2 else codes
    n_dof = n_features + int(fit_intercept)
    w0 = _initial_coef(coef, n_classes, n_dof, X.dtype)
    loss = CompiledLogisticLoss(X, target, sample_weight, n_classes=n_classes,
                                fit_intercept=fit_intercept, n_threads=n_threads)
    iprint = [-1, 50, 1, 100, 101][np.searchsorted(np.array([0, 1, 2, 3]), verbose)]
    coefs, n_iter = [], np.zeros(len(Cs), dtype=np.int32)
    for i, C in enumerate(Cs):
        l2_reg_strength = 1.0 / (C * loss.sw_sum)
        if penalty in ("l1", "elasticnet"):
            rho = 1.0 if penalty == "l1" else l1_ratio
            w0, n_iter[i], _ = l1_newton(loss, w0, l1_strength=rho * l2_reg_strength,
                                         l2_strength=(1.0 - rho) * l2_reg_strength, tol=tol,
                                         max_iter=max_iter)
            if n_iter[i] == max_iter:
                warnings.warn("The max_iter was reached which means the coef_ did not converge",
                              ConvergenceWarning)
            if n_classes > 2 and fit_intercept:
                # The softmax does not see a shift of every class's intercept: the one with
                # zero sum, which saga keeps from its zero start.
                w0 = np.reshape(w0, (n_classes, -1), order="F")
                w0[:, -1] -= w0[:, -1].mean()
                w0 = w0.ravel(order="F")
        elif solver == "newton-cholesky":
            newton = NewtonCholeskySolver(coef=w0, linear_loss=loss,
                                          l2_reg_strength=l2_reg_strength, tol=tol,
                                          max_iter=max_iter, n_threads=n_threads,
                                          verbose=verbose)
            w0 = newton.solve(X=X, y=target, sample_weight=sample_weight)
            n_iter[i] = newton.iteration
        else:
            result = optimize.minimize(
                loss.loss_gradient, w0, method="L-BFGS-B", jac=True,
                args=(X, target, sample_weight, l2_reg_strength, n_threads),
                options={"maxiter": max_iter, "maxls": 50, "gtol": tol,
                         "ftol": 64 * np.finfo(float).eps, **lbfgs_options("iprint", iprint)})
            n_iter[i] = check_optimize_result("lbfgs", result, max_iter,
                                              extra_warning_msg=_CONVERGENCE_HINT)
            w0 = result.x
        w = w0 if n_classes == 2 else np.reshape(w0, (n_classes, -1), order="F")
        # A copy: the next C's Newton solver shifts the multinomial intercepts of w0 in place.
        coefs.append(np.array(w, dtype=X.dtype))
    return np.stack(coefs), n_iter


def _split_coef(w, n_classes, n_features, fit_intercept, dtype):
    """(coef_, intercept_) from one fit's coefficients, intercepts last."""
    w = np.atleast_2d(w) if n_classes == 2 else w
    if fit_intercept:
        return w[:, :n_features], w[:, n_features]
    return w, np.zeros(w.shape[0], dtype=dtype)


class LogisticRegression(sk_linear_model.LogisticRegression):
    __doc__ = (
        "scikit-learn's LogisticRegression fitted by fastml's compiled loss (l2 or no penalty,"
        " every solver but liblinear; see fastml.linear_model._logistic). ``n_jobs`` sets the"
        " core's threads (scikit-learn 1.9 ignores it and warns that it is deprecated; so"
        " does this class, but honours it).\n\n" + (sk_linear_model.LogisticRegression.__doc__
                                                    or ""))

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model to X (dense or sparse) and y, as scikit-learn's fit."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            penalty, _ = _resolve_penalty(self)
        if not _is_compiled(self.solver, penalty):
            return super().fit(X, y, sample_weight=sample_weight)
        penalty, C = _resolve_penalty(self)
        if self.n_jobs is not None:
            warnings.warn("'n_jobs' has no effect since 1.8 and will be removed in 1.10. "
                          f"You provided 'n_jobs={self.n_jobs}', please leave it unspecified.",
                          category=FutureWarning)
        n_threads = effective_n_threads(self.n_jobs)
        X_in, y_in = X, y
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=[np.float64, np.float32],
                             order="C", accept_large_sparse=self.solver not in ("sag", "saga"))
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {self.classes_[0]!r}")
        if _l1_too_large(penalty, n_classes, X.shape[1], self.fit_intercept):
            with warnings.catch_warnings():
                # Its deprecation warnings were raised above.
                warnings.simplefilter("ignore", FutureWarning)
                return super().fit(X_in, y_in, sample_weight=sample_weight)
        warm = getattr(self, "coef_", None) if self.warm_start else None
        if warm is not None and self.fit_intercept:
            warm = np.concatenate([warm, self.intercept_[:, None]], axis=1)
        coefs, n_iter = logistic_path(
            X, y, classes=self.classes_, Cs=[C], fit_intercept=self.fit_intercept,
            max_iter=self.max_iter, tol=self.tol, verbose=self.verbose, solver=self.solver,
            coef=warm, class_weight=self.class_weight, sample_weight=sample_weight,
            n_threads=n_threads, penalty=penalty, l1_ratio=self.l1_ratio)
        self.n_iter_ = n_iter
        self.coef_, self.intercept_ = _split_coef(coefs[0], n_classes, X.shape[1],
                                                  self.fit_intercept, X.dtype)
        return self


def _resolve_cv_penalty(est):
    """(l1_ratios, penalty, scoring, use_legacy_attributes) of LogisticRegressionCV.fit, from
    its deprecated parameters, with scikit-learn's warnings and errors in its order."""
    if isinstance(est.l1_ratios, str) and est.l1_ratios == "warn":
        l1_ratios = None
        warnings.warn(
            "The default value for l1_ratios will change from None to (0.0,) in version 1.10. "
            "From version 1.10 onwards, only array-like with values in [0, 1] will be allowed, "
            "None will be forbidden. To avoid this warning, explicitly set a value, e.g. "
            "l1_ratios=(0,).", FutureWarning)
    else:
        l1_ratios = est.l1_ratios
    if est.penalty == "deprecated":
        if est.l1_ratios is None:
            warnings.warn(
                "'l1_ratios=None' was deprecated in version 1.8 and will trigger an error in "
                "1.10. Use an array-like with valuesin [0, 1] instead.", FutureWarning)
        if l1_ratios is None or np.all(np.asarray(l1_ratios) == 0):
            penalty = "l2"
        elif np.all(np.asarray(l1_ratios) == 1):
            penalty = "l1"
        else:
            penalty = "elasticnet"
    else:
        penalty = est.penalty
        warnings.warn(
            "'penalty' was deprecated in version 1.8 and will be removed in 1.10. To avoid "
            "this warning, leave 'penalty' set to its default value and use 'l1_ratios' and "
            "'Cs' instead. Use l1_ratios=(0,) instead of penalty='l2', l1_ratios=(1,) instead "
            "of penalty='l1', l1_ratios set to floats between 0 and 1 instead of "
            "penalty='elasticnet', and Cs=(np.inf,) instead of penalty=None.", FutureWarning)
    scoring = est.scoring
    if scoring == "warn":
        warnings.warn(
            "The default value of the parameter 'scoring' will change from None, i.e. "
            "accuracy, to 'neg_log_loss' in version 1.11. To silence this warning, explicitly "
            "set the scoring parameter: scoring='neg_log_loss' for the new, "
            "scoring='accuracy' or scoring=None for the old default.", FutureWarning)
        scoring = None
    legacy = est.use_legacy_attributes
    if legacy == "warn":
        name = type(est).__name__
        warnings.warn(
            f"The fitted attributes of {name} will be simplified in scikit-learn 1.10 to remove "
            "redundancy. Set`use_legacy_attributes=False` to enable the new behavior now, or "
            "set it to `True` to silence this warning during the transition period while "
            "keeping the deprecated behavior for the time being. The default value of "
            "use_legacy_attributes will change from True to False in scikit-learn 1.10. See "
            f"the docstring of {name} for more details.", FutureWarning)
        legacy = True
    _check_solver(est.solver, penalty, est.dual)
    if penalty == "elasticnet":
        if (l1_ratios is None or len(l1_ratios) == 0
                or any(not isinstance(r, Number) or r < 0 or r > 1 for r in l1_ratios)):
            # scikit-learn's formatting, which raises TypeError for a tuple of other than one
            # value: so does this.
            raise ValueError("l1_ratios must be an array-like of numbers between 0 and 1; got "
                             "(l1_ratios=%r)" % l1_ratios)
    elif l1_ratios is not None and est.penalty != "deprecated":
        warnings.warn("l1_ratios parameter is only used when penalty is 'elasticnet'. Got "
                      f"(penalty={penalty})")
    return l1_ratios, penalty, scoring, legacy


def _Cs_grid(Cs):
    return np.logspace(-4, 4, Cs) if isinstance(Cs, Integral) else np.asarray(Cs)


def _fold_path(X, y, train, test, *, classes, Cs, scoring, score_params, sample_weight,
               **path_params):
    """(coefs, scores, n_iter) of the path over Cs fitted on the train rows and scored on the
    test rows, as scikit-learn's _log_reg_scoring_path."""
    sw_train = sw_test = None
    if sample_weight is not None:
        sample_weight = check_sample_weight(sample_weight, X)
        sw_train, sw_test = sample_weight[train], sample_weight[test]
    X_test, y_test = X[test], y[test]
    coefs, n_iter = logistic_path(X[train], y[train], classes=classes, Cs=Cs,
                                  sample_weight=sw_train, **path_params)
    model = sk_linear_model.LogisticRegression(solver=path_params["solver"])
    model.classes_ = classes
    scorer = get_scorer(scoring)
    if scorer is None:
        def score(m):
            return m.score(X_test, y_test, sample_weight=sw_test)
    else:
        params = check_method_params(X=X, params=score_params or {}, indices=test)
        signature = (inspect.signature(scorer._score_func).parameters
                     if hasattr(scorer, "_score_func") else [])
        if "labels" in signature:
            # The test fold may miss classes: score against all of them, positive the last.
            pos_label = ({"pos_label": classes[-1]}
                         if len(classes) <= 2 and "pos_label" in signature else {})
            scorer = make_scorer(scorer._score_func, greater_is_better=scorer._sign == 1,
                                 response_method=scorer._response_method, labels=classes,
                                 **pos_label, **getattr(scorer, "_kwargs", {}))

        def score(m):
            return scorer(m, X_test, y_test, **params)
    scores = []
    fit_intercept = path_params["fit_intercept"]
    for w, C in zip(coefs, Cs):
        model.C = C
        model.coef_ = w[..., :-1] if fit_intercept else w
        model.intercept_ = w[..., -1] if fit_intercept else 0.0
        scores.append(score(model))
    return coefs, np.array(scores), n_iter


class LogisticRegressionCV(sk_linear_model.LogisticRegressionCV):
    __doc__ = (
        "scikit-learn's LogisticRegressionCV whose paths (warm-started over Cs, one per fold)"
        " and refit run on fastml's compiled loss (l2 penalty, every solver but liblinear; l1"
        " and elasticnet with saga; see fastml.linear_model._logistic); folds run on"
        " ``n_jobs`` threads.\n\n"
        + (sk_linear_model.LogisticRegressionCV.__doc__ or ""))

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, **params):
        """Fit the model over the grid of Cs (and l1_ratios) by cross-validation, as
        scikit-learn's fit."""
        raise_for_params(params, self, "fit")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                penalty = _resolve_cv_penalty(self)[1]
        except ValueError:
            penalty = "l2"  # raised again below, after scikit-learn's warnings
        if not _is_compiled(self.solver, penalty):
            return super().fit(X, y, sample_weight=sample_weight, **params)
        l1_ratios, penalty, scoring, legacy = _resolve_cv_penalty(self)
        l1_ratios_ = [None] if l1_ratios is None else l1_ratios
        X_in, y_in = X, y
        X, y = validate_data(self, X, y, accept_sparse="csr", dtype=np.float64, order="C",
                             accept_large_sparse=self.solver not in ("sag", "saga"))
        n_features = X.shape[1]
        check_classification_targets(y)
        self.classes_ = LabelEncoder().fit(y).classes_
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError("This solver needs samples of at least 2 classes in the data, but "
                             f"the data contains only one class: {self.classes_[0]}.")
        if _l1_too_large(penalty, n_classes, n_features, self.fit_intercept):
            with warnings.catch_warnings():
                # Its deprecation and l1_ratios warnings were raised above.
                warnings.simplefilter("ignore", FutureWarning)
                warnings.filterwarnings("ignore", message="l1_ratios parameter is only used")
                return super().fit(X_in, y_in, sample_weight=sample_weight, **params)
        if routing_enabled():
            routed = process_routing(self, "fit", sample_weight=sample_weight, **params)
        else:
            score_kwargs = dict(params)
            if sample_weight is not None:
                score_kwargs["sample_weight"] = sample_weight
            routed = manual_routing({"splitter": {}, "scorer": {"score": score_kwargs}})
        cv = check_cv(self.cv, y, classifier=True)
        folds = list(cv.split(X, y, **routed.splitter.split))
        class_weight = self.class_weight
        if isinstance(class_weight, dict):
            if not set(class_weight.keys()) <= set(self.classes_):
                raise ValueError("The given class_weight dict must have the class labels as "
                                 f"keys; classes={self.classes_} but key={class_weight.keys()}")
        elif class_weight == "balanced":
            weights = compute_class_weight(class_weight, classes=self.classes_, y=y,
                                           sample_weight=sample_weight)
            class_weight = dict(zip(self.classes_, weights))
        Cs = _Cs_grid(self.Cs)
        path_params = dict(fit_intercept=self.fit_intercept, max_iter=self.max_iter,
                           tol=self.tol, solver=self.solver, class_weight=class_weight,
                           penalty=penalty)
        n_threads = effective_n_threads(self.n_jobs)
        tasks = [(train, test, l1_ratio) for train, test in folds for l1_ratio in l1_ratios_]
        # Folds on threads (the core releases the GIL), the rest of the threads in each core
        # call; results do not depend on either count.
        workers = max(1, min(n_threads, len(tasks)))
        results = Parallel(n_jobs=workers, prefer="threads")(
            delayed(_fold_path)(X, y, train, test, classes=self.classes_, Cs=Cs,
                                scoring=scoring, score_params=routed.scorer.score,
                                sample_weight=sample_weight, verbose=self.verbose,
                                n_threads=max(1, n_threads // workers), l1_ratio=l1_ratio,
                                **path_params)
            for train, test, l1_ratio in tasks)
        self._set_cv_results(X, y, results, Cs, folds, l1_ratios, l1_ratios_, penalty, legacy,
                             sample_weight, path_params, n_threads)
        return self

    def _set_cv_results(self, X, y, results, Cs, folds, l1_ratios, l1_ratios_, penalty, legacy,
                        sample_weight, path_params, n_threads):
        """scores_, coefs_paths_, n_iter_, C_, l1_ratio_, l1_ratios_, coef_, intercept_ from
        the paths of every (fold, l1_ratio), in scikit-learn's shapes."""
        n_features, n_folds, n_cs, n_l1 = X.shape[1], len(folds), len(Cs), len(l1_ratios_)
        binary = len(self.classes_) == 2
        n_classes = 1 if binary else len(self.classes_)
        keys = self.classes_[1:] if binary else self.classes_
        coefs_paths, scores, n_iter = zip(*results)
        self.Cs_ = Cs
        if binary:
            paths = np.reshape(coefs_paths, (n_folds, n_l1, n_cs, -1))
            paths = np.swapaxes(paths, 1, 2)[None, ...]
        else:
            paths = np.reshape(coefs_paths, (n_folds, n_l1, n_cs, n_classes, -1))
            paths = np.moveaxis(paths, (0, 1, 3), (1, 3, 0))
        self.n_iter_ = np.swapaxes(np.reshape(n_iter, (n_folds, n_l1, n_cs)), 1, 2)[None, ...]
        scores = np.swapaxes(np.reshape(scores, (n_folds, n_l1, n_cs)), 1, 2)[None, ...]
        scores = np.tile(scores, (n_classes, 1, 1, 1))
        self.scores_ = dict(zip(keys, scores))
        self.coefs_paths_ = dict(zip(keys, paths))
        scores = self.scores_[keys[0]]
        if self.refit:
            total = scores.sum(axis=0)
            best = np.unravel_index(np.argmax(total), total.shape)
            C_, l1_ratio_ = Cs[best[0]], l1_ratios_[best[1]]
            start = paths[0, :, *best, :] if binary else paths[:, :, *best, :]
            start = np.mean(start, axis=0 if binary else 1)
            params = dict(path_params, verbose=max(0, self.verbose - 1))
            w = logistic_path(X, y, classes=self.classes_, Cs=[C_], coef=start,
                              sample_weight=sample_weight, n_threads=n_threads,
                              l1_ratio=l1_ratio_, **params)[0][0]
            self.C_, self.l1_ratio_ = [C_], [l1_ratio_]
        else:
            best = np.unravel_index(np.argmax(scores.reshape(n_folds, -1), axis=1), (n_cs, n_l1))
            best = list(zip(*best))
            if binary:
                w = np.mean([paths[0, i, *best[i], :] for i in range(n_folds)], axis=0)
            else:
                w = np.mean([paths[:, i, b[0], b[1], :] for i, b in enumerate(best)], axis=0)
            best = np.asarray(best)
            self.C_ = [np.mean(Cs[best[:, 0]])]
            # scikit-learn's values: 0 for the l1 penalty too.
            self.l1_ratio_ = [np.mean(np.asarray(l1_ratios_)[best[:, 1]])
                              if penalty == "elasticnet" else 0.0]
        if binary:
            w = w[None, :] if w.ndim == 1 else w
            self.coef_ = w[:, :n_features]
            self.intercept_ = w[:, -1].copy() if self.fit_intercept else np.zeros(1)
        else:
            self.C_ = np.tile(self.C_, n_classes)
            self.l1_ratio_ = np.tile(self.l1_ratio_, n_classes)
            self.coef_ = w[:, :n_features]
            self.intercept_ = w[:, -1] if self.fit_intercept else np.zeros(n_classes)
        self.C_ = np.asarray(self.C_)
        self.l1_ratio_ = np.asarray(self.l1_ratio_)
        self.l1_ratios_ = np.asarray(l1_ratios_)
        if l1_ratios is None:
            self.coefs_paths_ = {c: p[:, :, 0, :] for c, p in self.coefs_paths_.items()}
            self.scores_ = {c: s[:, :, 0] for c, s in self.scores_.items()}
            self.n_iter_ = self.n_iter_[:, :, :, 0]
        if not legacy:
            self._set_new_attributes(X, n_folds, n_cs, n_classes, l1_ratios, keys)

    def _set_new_attributes(self, X, n_folds, n_cs, n_classes, l1_ratios, keys):
        """The attributes of use_legacy_attributes=False (scikit-learn 1.10's)."""
        n_dof = X.shape[1] + int(self.fit_intercept)
        self.C_ = float(self.C_[0])
        paths = np.concatenate(list(self.coefs_paths_.values()))
        scores = self.scores_[keys[0]]
        n_iter = self.n_iter_[0]
        n_l1 = 1 if l1_ratios is None else len(self.l1_ratios_)
        paths = paths.reshape(n_classes, n_folds, n_cs, n_l1, n_dof)  # n_classes 1 if binary
        if l1_ratios is None:
            scores = scores.reshape(n_folds, n_cs, 1)
            n_iter = n_iter.reshape(n_folds, n_cs, 1)
            self.l1_ratio_ = 1.0 if self.penalty == "l1" else 0.0
        else:
            self.l1_ratio_ = float(self.l1_ratio_[0])
        self.coefs_paths_ = np.moveaxis(paths, (0, 1, 3), (3, 0, 1))
        self.scores_ = np.moveaxis(scores, (1, 2), (2, 1))
        self.n_iter_ = np.moveaxis(n_iter, (1, 2), (2, 1))
