"""Naive Bayes statistics and likelihoods in plain NumPy, float64 throughout: what the C++ core
(fastml.naive_bayes._nb_fast) computes, written as directly as possible. Labels are class
indices 0 .. n_classes - 1; sparse X is densified here (the reference is for small tests)."""
import numpy as np
import scipy.sparse as sp
from scipy.special import logsumexp


def _dense(X):
    return np.asarray(X.toarray() if sp.issparse(X) else X, dtype=np.float64)


def _weights(sample_weight, n):
    if sample_weight is None:
        return np.ones(n)
    return np.asarray(sample_weight, dtype=np.float64)


def count_features(X, y, n_classes, sample_weight=None, threshold=None):
    """(class_count, feature_count): the weight of each class's rows, and the weighted sum of
    each feature over them; x counts as (x > threshold) when a threshold is given, compared in
    X's own float type."""
    if threshold is not None:
        data = X.toarray() if sp.issparse(X) else np.asarray(X)
        X = data > (data.dtype.type(threshold) if data.dtype.kind == "f" else threshold)
    X = _dense(X)
    w = _weights(sample_weight, X.shape[0])
    one_hot = np.zeros((X.shape[0], n_classes))
    one_hot[np.arange(X.shape[0]), y] = w
    return one_hot.sum(axis=0), one_hot.T @ X


def gaussian_stats(X, y, n_classes, sample_weight=None):
    """(weight, mean, var) per class: the total weight of its rows and the weighted mean and
    variance (two passes) of every feature; zeros for a class without weight."""
    X = _dense(X)
    w = _weights(sample_weight, X.shape[0])
    weight = np.zeros(n_classes)
    mean = np.zeros((n_classes, X.shape[1]))
    var = np.zeros((n_classes, X.shape[1]))
    for c in range(n_classes):
        rows, wc = X[y == c], w[y == c]
        weight[c] = wc.sum()
        if weight[c] != 0:
            mean[c] = (wc[:, None] * rows).sum(axis=0) / weight[c]
            var[c] = (wc[:, None] * (rows - mean[c]) ** 2).sum(axis=0) / weight[c]
    return weight, mean, var


def count_categories(X, y, n_classes, n_categories, sample_weight=None):
    """(class_count, counts): counts[f][c, v] the weight of class c's rows whose feature f is v."""
    X = np.asarray(X)
    w = _weights(sample_weight, X.shape[0])
    class_count = np.bincount(y, weights=w, minlength=n_classes).astype(np.float64)
    counts = []
    for f, n_cat in enumerate(n_categories):
        table = np.zeros((n_classes, n_cat))
        np.add.at(table, (y, X[:, f]), w)
        counts.append(table)
    return class_count, counts


def linear_jll(X, coef, bias, threshold=None):
    """X @ coef.T + bias: the joint log-likelihood of the multinomial, complement and Bernoulli
    models (coef: n_classes x n_features log probabilities or weights). Sparse X stays sparse."""
    if sp.issparse(X):
        X = sp.csr_matrix(X, dtype=np.float64 if X.dtype != np.float32 else np.float32)
        if threshold is not None:
            X = X.copy()
            X.data = (X.data > X.dtype.type(threshold)).astype(X.dtype)
        X = X.astype(np.float64)
    else:
        if threshold is not None:
            X = np.asarray(X)
            X = X > (X.dtype.type(threshold) if X.dtype.kind == "f" else threshold)
        X = _dense(X)
    product = X @ np.asarray(coef, dtype=np.float64).T
    return np.asarray(product) + np.asarray(bias, dtype=np.float64)


def gaussian_jll(X, theta, var, class_prior):
    """log prior + the Gaussian log density of every row under each class."""
    X = _dense(X)
    theta, var = np.asarray(theta, np.float64), np.asarray(var, np.float64)
    out = np.empty((X.shape[0], theta.shape[0]))
    for c in range(theta.shape[0]):
        out[:, c] = (np.log(np.float64(class_prior[c]))
                     - 0.5 * np.sum(np.log(2.0 * np.pi * var[c]))
                     - 0.5 * np.sum((X - theta[c]) ** 2 / var[c], axis=1))
    return out


def categorical_jll(X, feature_log_prob, class_log_prior):
    """sum over features of log P(x_f | class) + log prior; feature_log_prob[f] has shape
    (n_classes, n_categories of f)."""
    X = np.asarray(X)
    out = np.zeros((X.shape[0], len(class_log_prior)))
    for f, log_prob in enumerate(feature_log_prob):
        out += np.asarray(log_prob, np.float64)[:, X[:, f]].T
    return out + np.asarray(class_log_prior, np.float64)


def log_proba(jll):
    """jll normalised per row: jll - logsumexp(jll)."""
    return jll - logsumexp(jll, axis=1, keepdims=True)


def proba(jll):
    return np.exp(log_proba(jll))
