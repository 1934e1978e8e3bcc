"""The naive Bayes family on fastml's C++ core (fastml.naive_bayes._nb_fast).

Each estimator follows scikit-learn 1.9's of the same name step for step: the same validation
and errors, the same smoothing and prior formulas on the same sufficient statistics, the same
attributes and dtypes. The core computes what touches every row of X: the class x feature sums
(dense or CSR, weighted, BernoulliNB's binarization fused in), GaussianNB's per-class means and
variances, CategoricalNB's category counts, and the joint log-likelihoods with their
normalisation into (log) probabilities. Sums are accumulated in float64 over fixed ranges of rows
merged in a fixed order, so results do not depend on ``n_jobs``.
"""
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import check_is_fitted, check_non_negative, validate_data

from .._backend import effective_n_threads
from ..utils._sklearn_compat import (Interval, check_partial_fit_first_call, check_sample_weight,
                                     fit_context)
from . import _nb_fast

# What a likelihood call of the core returns per row (fastml::naive_bayes::Output).
_JOINT, _LOG_PROBA, _PROBA = 0, 1, 2


# ---- data and labels as the core takes them ----------------------------------------------------

def _core_rows(X):
    """X (validated: an ndarray or a CSR matrix/array) as the core reads it: float32 stays
    float32, any other dtype becomes float64; dense rows C-contiguous; CSR arrays whose indptr and
    indices share one integer type. Returns (dense array or None, csr arrays or None)."""
    dtype = np.float32 if X.dtype == np.float32 else np.float64
    if sp.issparse(X):
        indptr, indices = X.indptr, X.indices
        if indptr.dtype != indices.dtype or indptr.dtype not in (np.int32, np.int64):
            indptr, indices = indptr.astype(np.int64), indices.astype(np.int64)
        data = np.ascontiguousarray(X.data, dtype=dtype)
        return None, (np.ascontiguousarray(indptr), np.ascontiguousarray(indices), data,
                      X.shape[1])
    return np.ascontiguousarray(X, dtype=dtype), None


def _sorted_unique(y):
    """np.unique(y); for integer labels of a narrow range by counting (O(n), where sorting a
    million labels took 60 ms, a tenth of a GaussianNB fit of 1M x 50)."""
    if y.dtype.kind in "iu" and y.size:
        lo, hi = int(y.min()), int(y.max())
        if hi - lo <= max(1 << 16, 2 * y.size):
            present = np.flatnonzero(np.bincount((y - lo).astype(np.intp, copy=False)))
            return (present + lo).astype(y.dtype)
    return np.unique(y)


def _class_indices(y, classes):
    """Index of each label of y in the sorted labels `classes` (int32), -1 where it is not one."""
    y = np.asarray(y)
    if y.dtype.kind in "iu" and classes.dtype.kind in "iu" and y.size:
        lo, hi = int(classes[0]), int(classes[-1])
        if hi - lo <= max(1 << 16, 2 * y.size):
            table = np.full(hi - lo + 2, -1, dtype=np.int32)  # the last slot: out of range
            table[(classes.astype(np.int64) - lo)] = np.arange(len(classes), dtype=np.int32)
            shifted = y.astype(np.int64) - lo
            shifted[(shifted < 0) | (shifted > hi - lo)] = hi - lo + 1
            return table[shifted]
    pos = np.searchsorted(classes, y)
    pos_in = np.minimum(pos, len(classes) - 1)
    found = (pos < len(classes)) & (classes[pos_in] == y)
    return np.where(found, pos_in, -1).astype(np.int32)


def _known_rows(X, y_idx, sample_weight):
    """Rows whose label is one of the classes (scikit-learn's label_binarize gives the others an
    all-zero row: they add nothing)."""
    known = y_idx >= 0
    if known.all():
        return X, y_idx, sample_weight
    return (X[known], y_idx[known], None if sample_weight is None else sample_weight[known])


# ---- the base of every naive Bayes ---------------------------------------------------------------

class _BaseNB(ClassifierMixin, BaseEstimator):
    """Prediction for every naive Bayes: the core writes the joint log-likelihood, or normalises
    it into log probabilities or probabilities, in one pass over X."""

    def _check_X(self, X):
        raise NotImplementedError

    def _likelihood(self, X, output):
        """The (n_samples, n_classes) joint log-likelihood of validated X, normalised by output."""
        raise NotImplementedError

    def _n_threads(self):
        return effective_n_threads(self.n_jobs)

    def predict_joint_log_proba(self, X):
        """Return the joint log probability ``log P(x, y) = log P(y) + log P(x|y)``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
            Columns in the order of :term:`classes_`.
        """
        check_is_fitted(self)
        return self._likelihood(self._check_X(X), _JOINT)

    def predict(self, X):
        """Perform classification on an array of test vectors X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        C : ndarray of shape (n_samples,)
            The class of highest joint log probability (the first of ties).
        """
        check_is_fitted(self)
        jll = self._likelihood(self._check_X(X), _JOINT)
        return self.classes_[np.argmax(jll, axis=1)]

    def predict_log_proba(self, X):
        """Return log-probability estimates for the test vectors X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
            Columns in the order of :term:`classes_`.
        """
        check_is_fitted(self)
        return self._likelihood(self._check_X(X), _LOG_PROBA)

    def predict_proba(self, X):
        """Return probability estimates for the test vectors X.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        C : ndarray of shape (n_samples, n_classes)
            Columns in the order of :term:`classes_`.
        """
        check_is_fitted(self)
        return self._likelihood(self._check_X(X), _PROBA)


# ---- GaussianNB ----------------------------------------------------------------------------------

class GaussianNB(_BaseNB):
    """Gaussian naive Bayes, drop-in for ``sklearn.naive_bayes.GaussianNB``.

    Per-class means and variances of a batch are computed by the core in one pass over X (exact
    two-pass sums per block of rows, in float64) and combined with earlier batches by
    scikit-learn's update (Chan, Golub and LeVeque), so that fit and partial_fit sequences give
    its attributes to rounding. float32 X gives float32 attributes and probabilities, as in
    scikit-learn.

    Parameters
    ----------
    priors : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; if given, not adjusted to the data.
    var_smoothing : float, default=1e-9
        Portion of the largest variance of all features added to the variances.
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    class_count_ : ndarray of shape (n_classes,)
    class_prior_ : ndarray of shape (n_classes,)
    classes_ : ndarray of shape (n_classes,)
    epsilon_ : float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
    var_ : ndarray of shape (n_classes, n_features)
    theta_ : ndarray of shape (n_classes, n_features)
    """

    _parameter_constraints: dict = {
        "priors": ["array-like", None],
        "var_smoothing": [Interval(Real, 0, None, closed="left")],
        "n_jobs": [Integral, None],
    }

    def __init__(self, *, priors=None, var_smoothing=1e-9, n_jobs=None):
        self.priors = priors
        self.var_smoothing = var_smoothing
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit Gaussian naive Bayes according to X, y.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        y = validate_data(self, y=y)
        return self._partial_fit(X, y, _sorted_unique(y), _refit=True,
                                 sample_weight=sample_weight)

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Incremental fit on a batch of samples.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that y may hold; required on the first call only.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return self._partial_fit(X, y, classes, _refit=False, sample_weight=sample_weight)

    def _check_X(self, X):
        return validate_data(self, X, reset=False)

    def _partial_fit(self, X, y, classes=None, _refit=False, sample_weight=None):
        if _refit:
            self.classes_ = None
        first_call = check_partial_fit_first_call(self, classes)
        X, y = validate_data(self, X, y, reset=first_call)
        float_dtype = X.dtype if X.dtype.kind == "f" else np.dtype(np.float64)
        if sample_weight is not None:
            # Rounded to X's float type first, as scikit-learn weights in it.
            sample_weight = check_sample_weight(sample_weight, X, dtype=float_dtype)
        n_threads = self._n_threads()
        rows, _ = _core_rows(X)
        weights = (None if sample_weight is None
                   else np.ascontiguousarray(sample_weight, dtype=np.float64))

        y_idx = _class_indices(y, self.classes_)
        y_ok = np.ascontiguousarray(np.maximum(y_idx, 0))  # unknown labels raise below
        n_classes = len(self.classes_)
        batch_weight, batch_mean, batch_var = _nb_fast.gaussian_stats(
            rows, y_ok, weights, n_classes, n_threads)
        # epsilon from the variance of every feature over the whole batch, unweighted: the
        # classes' moments pooled, or, where they are weighted, a pass of the core of its own.
        if weights is None:
            total_var = _pooled_variance(batch_weight, batch_mean, batch_var)
        else:
            total_var = _nb_fast.gaussian_stats(rows, None, None, 1, n_threads)[2][0]
        self.epsilon_ = self.var_smoothing * float_dtype.type(np.max(total_var))

        if first_call:
            n_features = X.shape[1]
            self.theta_ = np.zeros((n_classes, n_features), dtype=float_dtype)
            self.var_ = np.zeros((n_classes, n_features), dtype=float_dtype)
            self.class_count_ = np.zeros(n_classes, dtype=float_dtype)
            if self.priors is not None:
                priors = np.asarray(self.priors, dtype=float_dtype)
                if priors.shape[0] != n_classes:
                    raise ValueError("Number of priors must match number of classes.")
                if not np.isclose(priors.sum(), 1.0):
                    raise ValueError("The sum of the priors should be 1.")
                if (priors < 0).any():
                    raise ValueError("Priors must be non-negative.")
                self.class_prior_ = priors
            else:
                self.class_prior_ = np.zeros(n_classes, dtype=float_dtype)
        else:
            if X.shape[1] != self.theta_.shape[1]:
                msg = "Number of features %d does not match previous data %d."
                raise ValueError(msg % (X.shape[1], self.theta_.shape[1]))
            # scikit-learn takes the new batch's epsilon back out (not the last one's).
            self.var_[:, :] -= self.epsilon_

        if (y_idx < 0).any():
            unique_y = _sorted_unique(np.asarray(y))
            unknown = unique_y[_class_indices(unique_y, self.classes_) < 0]
            raise ValueError("The target label(s) %s in y do not exist in the initial classes %s"
                             % (unknown, self.classes_))

        rows_per_class = np.bincount(y_ok, minlength=n_classes)
        for i in np.flatnonzero(rows_per_class):
            if weights is None:
                n_new = int(rows_per_class[i])
                count_add = n_new
            else:
                n_new = float(batch_weight[i])
                count_add = float_dtype.type(batch_weight[i])
            new_mu = batch_mean[i].astype(float_dtype)
            new_var = batch_var[i].astype(float_dtype)
            self.theta_[i, :], self.var_[i, :] = _update_mean_variance(
                self.class_count_[i], self.theta_[i, :], self.var_[i, :], n_new, new_mu, new_var)
            self.class_count_[i] += count_add

        self.var_[:, :] += self.epsilon_
        if self.priors is None:
            self.class_prior_ = self.class_count_ / np.sum(self.class_count_)
        return self

    def _likelihood(self, X, output):
        rows, _ = _core_rows(X)
        var = np.ascontiguousarray(self.var_, dtype=np.float64)
        # The per-class constants in the model's dtype, as scikit-learn computes them.
        constant = np.array([-0.5 * np.sum(np.log(2.0 * np.pi * self.var_[i, :]))
                             for i in range(len(self.classes_))], dtype=np.float64)
        log_prior = np.log(self.class_prior_).astype(np.float64)
        out = _nb_fast.gaussian_jll(rows, np.ascontiguousarray(self.theta_, dtype=np.float64),
                                    var, constant, log_prior, output, self._n_threads())
        out_dtype = np.result_type(X.dtype, self.theta_.dtype, self.var_.dtype)
        return out if out_dtype == np.float64 else out.astype(out_dtype)


def _update_mean_variance(n_past, mu, var, n_new, new_mu, new_var):
    """scikit-learn's GaussianNB._update_mean_variance from a batch's count, mean and variance
    (computed by the core), in the same operations and dtypes; a batch of weight close to 0
    leaves the class as it was."""
    if isinstance(n_new, float) and np.isclose(n_new, 0.0):
        return mu, var
    if n_past == 0:
        return new_mu, new_var
    n_total = float(n_past + n_new)
    total_mu = (n_new * new_mu + n_past * mu) / n_total
    old_ssd = n_past * var
    new_ssd = n_new * new_var
    total_ssd = old_ssd + new_ssd + (n_new * n_past / n_total) * (mu - new_mu) ** 2
    return total_mu, total_ssd / n_total


def _pooled_variance(count, mean, var):
    """The variance of every feature over all classes, from the classes' counts, means and
    variances (float64), by the same update."""
    n_past, mu, pooled = 0.0, 0.0, 0.0
    for c in np.flatnonzero(count):
        mu, pooled = _update_mean_variance(n_past, mu, pooled, float(count[c]), mean[c], var[c])
        n_past += float(count[c])
    return pooled


# ---- the discrete naive Bayes ---------------------------------------------------------------

class _BaseDiscreteNB(_BaseNB):
    """Fit and partial_fit of the naive Bayes on counts: class and feature counts from the core,
    smoothing and priors as scikit-learn."""

    _parameter_constraints: dict = {
        "alpha": [Interval(Real, 0, None, closed="left"), "array-like"],
        "fit_prior": ["boolean"],
        "class_prior": ["array-like", None],
        "force_alpha": ["boolean"],
        "n_jobs": [Integral, None],
    }

    # BernoulliNB's binarize threshold (None: X counted as it is).
    def _threshold(self):
        return None

    def _check_X(self, X):
        return validate_data(self, X, accept_sparse="csr", reset=False)

    def _check_X_y(self, X, y, reset=True):
        return validate_data(self, X, y, accept_sparse="csr", reset=reset)

    def _check_counts(self, X):
        """Checks of X before counting (negative values for the multinomial models)."""

    def _batch_counts(self, X, y_idx, sample_weight, n_classes):
        """(class_count, feature_count) of a batch, from the core."""
        self._check_counts(X)
        X, y_idx, sample_weight = _known_rows(X, y_idx, sample_weight)
        dense, csr = _core_rows(X)
        y_idx = np.ascontiguousarray(y_idx)
        weights = (None if sample_weight is None
                   else np.ascontiguousarray(sample_weight, dtype=np.float64))
        if csr is not None:
            return _nb_fast.count_features_csr(*csr, y_idx, weights, n_classes, self._threshold(),
                                               self._n_threads())
        return _nb_fast.count_features(dense, y_idx, weights, n_classes, self._threshold(),
                                       self._n_threads())

    def _count(self, X, y_idx, sample_weight):
        class_count, feature_count = self._batch_counts(X, y_idx, sample_weight,
                                                        len(self.classes_))
        self.feature_count_ += feature_count
        self.class_count_ += class_count

    def _init_counters(self, n_classes, n_features):
        self.class_count_ = np.zeros(n_classes, dtype=np.float64)
        self.feature_count_ = np.zeros((n_classes, n_features), dtype=np.float64)

    def _update_class_log_prior(self, class_prior=None):
        n_classes = len(self.classes_)
        if class_prior is not None:
            if len(class_prior) != n_classes:
                raise ValueError("Number of priors must match number of classes.")
            self.class_log_prior_ = np.log(class_prior)
        elif self.fit_prior:
            with warnings.catch_warnings():
                # a class not yet observed has count 0
                warnings.simplefilter("ignore", RuntimeWarning)
                log_class_count = np.log(self.class_count_)
            self.class_log_prior_ = log_class_count - np.log(self.class_count_.sum())
        else:
            self.class_log_prior_ = np.full(n_classes, -np.log(n_classes))

    def _check_alpha(self):
        alpha = np.asarray(self.alpha) if not isinstance(self.alpha, Real) else self.alpha
        alpha_min = np.min(alpha)
        if isinstance(alpha, np.ndarray):
            if not alpha.shape[0] == self.n_features_in_:
                raise ValueError("When alpha is an array, it should contains `n_features`. "
                                 f"Got {alpha.shape[0]} elements instead of "
                                 f"{self.n_features_in_}.")
            if alpha_min < 0:
                raise ValueError("All values in alpha must be greater than 0.")
        alpha_lower_bound = 1e-10
        if alpha_min < alpha_lower_bound and not self.force_alpha:
            warnings.warn("alpha too small will result in numeric errors, setting alpha ="
                          f" {alpha_lower_bound:.1e}. Use `force_alpha=True` to keep alpha"
                          " unchanged.")
            return np.maximum(alpha, alpha_lower_bound)
        return alpha

    def _sample_weight(self, sample_weight, X):
        if sample_weight is None:
            return None
        return check_sample_weight(sample_weight, X)

    def _finish(self):
        alpha = self._check_alpha()
        self._update_feature_log_prob(alpha)
        self._update_class_log_prior(class_prior=self.class_prior)
        return self

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the naive Bayes classifier according to X, y.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        X, y = self._check_X_y(X, y)
        self.classes_ = unique_labels(_sorted_unique(y))
        y_idx = _class_indices(y, self.classes_)
        sample_weight = self._sample_weight(sample_weight, X)
        self._init_counters(len(self.classes_), X.shape[1])
        self._count(X, y_idx, sample_weight)
        return self._finish()

    @fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Incremental fit on a batch of samples.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        classes : array-like of shape (n_classes,), default=None
            Every class that y may hold; required on the first call only. Labels of later
            batches that are not among them add nothing, as in scikit-learn.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        first_call = not hasattr(self, "classes_")
        X, y = self._check_X_y(X, y, reset=first_call)
        if check_partial_fit_first_call(self, classes):
            self._init_counters(len(classes), X.shape[1])
        y_idx = _class_indices(y, self.classes_)
        sample_weight = self._sample_weight(sample_weight, X)
        self._count(X, y_idx, sample_weight)
        return self._finish()

    def _linear_likelihood(self, X, coef, bias, output):
        """bias + X @ coef.T by the core (coef: n_classes x n_features), normalised by output."""
        dense, csr = _core_rows(X)
        coef = np.ascontiguousarray(coef, dtype=np.float64)
        bias = np.ascontiguousarray(bias, dtype=np.float64)
        if csr is not None:
            return _nb_fast.linear_jll_csr(*csr, coef, bias, self._threshold(), output,
                                           self._n_threads())
        return _nb_fast.linear_jll(dense, coef, bias, self._threshold(), output,
                                   self._n_threads())

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.classifier_tags.poor_score = True
        return tags


class MultinomialNB(_BaseDiscreteNB):
    """Multinomial naive Bayes, drop-in for ``sklearn.naive_bayes.MultinomialNB``.

    Class x feature counts of dense or CSR X (CSC and COO are converted to CSR, as scikit-learn
    does; nothing is densified) and the joint log-likelihood ``X @ feature_log_prob_.T +
    class_log_prior_`` with its normalisation are computed by the core in one pass each.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
        Additive (Laplace/Lidstone) smoothing parameter.
    force_alpha : bool, default=True
        If False, an alpha under 1e-10 is raised to 1e-10 with a warning.
    fit_prior : bool, default=True
        Learn the class priors; if False, use a uniform prior.
    class_prior : array-like of shape (n_classes,), default=None
        Prior probabilities of the classes; if given, not adjusted to the data.
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    class_count_, class_log_prior_, classes_, feature_count_, feature_log_prob_,
    n_features_in_, feature_names_in_ : as in scikit-learn (float64 counts and log probabilities).
    """

    def __init__(self, *, alpha=1.0, force_alpha=True, fit_prior=True, class_prior=None,
                 n_jobs=None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _check_counts(self, X):
        check_non_negative(X, "MultinomialNB (input X)")

    def _update_feature_log_prob(self, alpha):
        smoothed_fc = self.feature_count_ + alpha
        smoothed_cc = smoothed_fc.sum(axis=1)
        self.feature_log_prob_ = np.log(smoothed_fc) - np.log(smoothed_cc.reshape(-1, 1))

    def _likelihood(self, X, output):
        return self._linear_likelihood(X, self.feature_log_prob_, self.class_log_prior_, output)


class ComplementNB(_BaseDiscreteNB):
    """Complement naive Bayes (Rennie et al. 2003), drop-in for
    ``sklearn.naive_bayes.ComplementNB``; counts and scores computed by the core as for
    MultinomialNB.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
    force_alpha : bool, default=True
    fit_prior : bool, default=True
        Only used with a single class in the training set.
    class_prior : array-like of shape (n_classes,), default=None
        Not used.
    norm : bool, default=False
        Normalise the weights a second time (Table 9 of the paper).
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    class_count_, class_log_prior_, classes_, feature_all_, feature_count_, feature_log_prob_,
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    _parameter_constraints: dict = {**_BaseDiscreteNB._parameter_constraints, "norm": ["boolean"]}

    def __init__(self, *, alpha=1.0, force_alpha=True, fit_prior=True, class_prior=None,
                 norm=False, n_jobs=None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.norm = norm
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.positive_only = True
        return tags

    def _check_counts(self, X):
        check_non_negative(X, "ComplementNB (input X)")

    def _count(self, X, y_idx, sample_weight):
        super()._count(X, y_idx, sample_weight)
        self.feature_all_ = self.feature_count_.sum(axis=0)

    def _update_feature_log_prob(self, alpha):
        comp_count = self.feature_all_ + alpha - self.feature_count_
        logged = np.log(comp_count / comp_count.sum(axis=1, keepdims=True))
        # predict takes the argmax, and ComplementNB's best class has the lowest weight.
        if self.norm:
            summed = logged.sum(axis=1, keepdims=True)
            feature_log_prob = logged / summed
        else:
            feature_log_prob = -logged
        self.feature_log_prob_ = feature_log_prob

    def _likelihood(self, X, output):
        # The prior counts only when there is a single class.
        bias = (self.class_log_prior_ if len(self.classes_) == 1
                else np.zeros(len(self.classes_)))
        return self._linear_likelihood(X, self.feature_log_prob_, bias, output)


class BernoulliNB(_BaseDiscreteNB):
    """Bernoulli naive Bayes, drop-in for ``sklearn.naive_bayes.BernoulliNB``; the binarization
    of X (x > binarize) is fused into the core's counting and scoring, so X is not copied.

    Parameters
    ----------
    alpha : float or array-like of shape (n_features,), default=1.0
    force_alpha : bool, default=True
    binarize : float or None, default=0.0
        Threshold for binarizing X; None takes X as already binary.
    fit_prior : bool, default=True
    class_prior : array-like of shape (n_classes,), default=None
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    class_count_, class_log_prior_, classes_, feature_count_, feature_log_prob_,
    n_features_in_, feature_names_in_ : as in scikit-learn.
    """

    _parameter_constraints: dict = {
        **_BaseDiscreteNB._parameter_constraints,
        "binarize": [None, Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, alpha=1.0, force_alpha=True, binarize=0.0, fit_prior=True,
                 class_prior=None, n_jobs=None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.binarize = binarize
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.n_jobs = n_jobs

    def _threshold(self):
        return None if self.binarize is None else float(self.binarize)

    def _update_feature_log_prob(self, alpha):
        smoothed_fc = self.feature_count_ + alpha
        smoothed_cc = self.class_count_ + alpha * 2
        self.feature_log_prob_ = np.log(smoothed_fc) - np.log(smoothed_cc.reshape(-1, 1))

    def _likelihood(self, X, output):
        n_features = self.feature_log_prob_.shape[1]
        if X.shape[1] != n_features:
            raise ValueError("Expected input with %d features, got %d instead"
                             % (n_features, X.shape[1]))
        neg_prob = np.log(1 - np.exp(self.feature_log_prob_))
        # neg_prob . (1 - x) as sum(neg_prob) + x . (log p - neg_prob), as scikit-learn.
        bias = self.class_log_prior_ + neg_prob.sum(axis=1)
        return self._linear_likelihood(X, self.feature_log_prob_ - neg_prob, bias, output)


class CategoricalNB(_BaseDiscreteNB):
    """Categorical naive Bayes, drop-in for ``sklearn.naive_bayes.CategoricalNB``: the class x
    category counts of every feature and the joint log-likelihood are computed by the core in one
    pass over X each. Categories are the integers 0 .. n - 1 of each feature (as OrdinalEncoder
    gives them); an unknown category at prediction raises IndexError, as in scikit-learn.

    Parameters
    ----------
    alpha : float, default=1.0
    force_alpha : bool, default=True
    fit_prior : bool, default=True
    class_prior : array-like of shape (n_classes,), default=None
    min_categories : int or array-like of shape (n_features,), default=None
        Minimum number of categories per feature.
    n_jobs : int, default=None
        Threads (a fastml addition); None uses ``fastml.get_config()["n_jobs"]``.

    Attributes
    ----------
    category_count_ : list of n_features arrays of shape (n_classes, n_categories of the feature)
    class_count_, class_log_prior_, classes_, feature_log_prob_ (a list as category_count_),
    n_features_in_, feature_names_in_, n_categories_ : as in scikit-learn.
    """

    _parameter_constraints: dict = {
        **_BaseDiscreteNB._parameter_constraints,
        "min_categories": [None, "array-like", Interval(Integral, 1, None, closed="left")],
        "alpha": [Interval(Real, 0, None, closed="left")],
    }

    def __init__(self, *, alpha=1.0, force_alpha=True, fit_prior=True, class_prior=None,
                 min_categories=None, n_jobs=None):
        self.alpha = alpha
        self.force_alpha = force_alpha
        self.fit_prior = fit_prior
        self.class_prior = class_prior
        self.min_categories = min_categories
        self.n_jobs = n_jobs

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.categorical = True
        tags.input_tags.sparse = False
        tags.input_tags.positive_only = True
        return tags

    def _check_X(self, X):
        X = validate_data(self, X, dtype="int", accept_sparse=False, ensure_all_finite=True,
                          reset=False)
        check_non_negative(X, "CategoricalNB (input X)")
        return X

    def _check_X_y(self, X, y, reset=True):
        X, y = validate_data(self, X, y, dtype="int", accept_sparse=False,
                             ensure_all_finite=True, reset=reset)
        check_non_negative(X, "CategoricalNB (input X)")
        return X, y

    def _init_counters(self, n_classes, n_features):
        self.class_count_ = np.zeros(n_classes, dtype=np.float64)
        self.category_count_ = [np.zeros((n_classes, 0)) for _ in range(n_features)]

    @staticmethod
    def _validate_n_categories(X, min_categories):
        # categories are coded 0 .. n - 1: the largest code gives n
        n_categories_X = X.max(axis=0) + 1
        min_categories_ = np.array(min_categories)
        if min_categories is not None:
            if not np.issubdtype(min_categories_.dtype, np.signedinteger):
                raise ValueError("'min_categories' should have integral type. Got "
                                 f"{min_categories_.dtype} instead.")
            n_categories_ = np.maximum(n_categories_X, min_categories_, dtype=np.int64)
            if n_categories_.shape != n_categories_X.shape:
                raise ValueError(f"'min_categories' should have shape ({X.shape[1]},"
                                 ") when an array-like is provided. Got"
                                 f" {min_categories_.shape} instead.")
            return n_categories_
        return n_categories_X

    def _count(self, X, y_idx, sample_weight):
        n_classes = len(self.classes_)
        self.n_categories_ = self._validate_n_categories(X, self.min_categories)
        X, y_idx, sample_weight = _known_rows(X, y_idx, sample_weight)
        weights = (None if sample_weight is None
                   else np.ascontiguousarray(sample_weight, dtype=np.float64))
        # Codes of this batch only: the count arrays grow, never shrink, as scikit-learn's.
        batch_categories = np.ascontiguousarray(self.n_categories_, dtype=np.int64)
        class_count, counts = _nb_fast.count_categories(
            np.ascontiguousarray(X, dtype=np.int64), np.ascontiguousarray(y_idx), weights,
            n_classes, batch_categories, self._n_threads())
        self.class_count_ += class_count
        start = 0
        for i, n_cat in enumerate(batch_categories):
            cat_count = self.category_count_[i]
            if n_cat > cat_count.shape[1]:
                cat_count = np.pad(cat_count, [(0, 0), (0, n_cat - cat_count.shape[1])],
                                   "constant")
            cat_count[:, :n_cat] += counts[:, start:start + n_cat]
            self.category_count_[i] = cat_count
            start += n_cat

    def _update_feature_log_prob(self, alpha):
        feature_log_prob = []
        for i in range(self.n_features_in_):
            smoothed_cat_count = self.category_count_[i] + alpha
            smoothed_class_count = smoothed_cat_count.sum(axis=1)
            feature_log_prob.append(np.log(smoothed_cat_count)
                                    - np.log(smoothed_class_count.reshape(-1, 1)))
        self.feature_log_prob_ = feature_log_prob

    def _likelihood(self, X, output):
        # The log probabilities of all features stacked: one row of n_classes per category.
        log_prob = np.ascontiguousarray(np.concatenate([p.T for p in self.feature_log_prob_]),
                                        dtype=np.float64)
        n_categories = np.array([p.shape[1] for p in self.feature_log_prob_], dtype=np.int64)
        return _nb_fast.categorical_jll(
            np.ascontiguousarray(X, dtype=np.int64), log_prob, n_categories,
            np.ascontiguousarray(self.class_log_prior_, dtype=np.float64), output,
            self._n_threads())
