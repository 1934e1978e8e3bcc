"""Assertions and numerical helpers shared by the test modules."""
import functools
import re

import numpy as np
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_iris, load_wine
from sklearn.model_selection import KFold, StratifiedKFold

#: The real datasets shipped with scikit-learn that estimators are scored on; diabetes is the
#: regression one.
SCORED_DATASETS = {"iris": load_iris, "digits": load_digits, "wine": load_wine,
                   "breast_cancer": load_breast_cancer, "diabetes": load_diabetes}


@functools.cache
def scored_dataset(name):
    return SCORED_DATASETS[name](return_X_y=True)


def cross_validated_score(make, name, repeats):
    """The mean test score (accuracy or R^2) of make(seed) on a SCORED_DATASETS entry over
    `repeats` shuffled 5-fold cross-validations, repetition r splitting with seed r and fitting
    make(r)."""
    X, y = scored_dataset(name)
    splitter = KFold if name == "diabetes" else StratifiedKFold
    scores = []
    for r in range(repeats):
        for train, test in splitter(5, shuffle=True, random_state=r).split(X, y):
            scores.append(make(r).fit(X[train], y[train]).score(X[test], y[test]))
    return np.mean(scores)


def assert_relative_close(actual, expected, rtol, atol=1e-15):
    """Every entry within rtol of the expected value, relative to that value.

    atol only absorbs float64 rounding where the expected value is (nearly) zero.
    """
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape
    error = np.abs(actual - expected)
    bad = ~(error <= rtol * np.abs(expected) + atol)
    assert not bad.any(), (
        f"{bad.sum()} of {bad.size} entries off by more than rtol={rtol}; worst relative error "
        f"{np.max(error / np.maximum(np.abs(expected), np.finfo(np.float64).tiny)):.3g}")


def numerical_gradient(f, A, eps):
    """Central differences of the scalar function f at the float64 array A."""
    grad = np.zeros_like(A)
    for idx in np.ndindex(A.shape):
        plus, minus = A.copy(), A.copy()
        plus[idx] += eps
        minus[idx] -= eps
        grad[idx] = (f(plus) - f(minus)) / (2 * eps)
    return grad


# Every node array of a fitted tree (scikit-learn's names), then fastml's surrogate splits.
TREE_ARRAYS = ("children_left", "children_right", "feature", "threshold", "missing_go_to_left",
               "impurity", "n_node_samples", "weighted_n_node_samples", "value")
SURROGATE_ARRAYS = ("surrogate_ptr", "surrogate_feature", "surrogate_threshold",
                    "surrogate_reversed")


def surrogates_at(nodes, node):
    """A node's surrogate splits as (feature, threshold, reversed) tuples, most agreeing first;
    nodes: a dict of a tree's arrays (a reference tree, or vars() of a fitted Tree)."""
    ptr = nodes["surrogate_ptr"]
    return [(int(nodes["surrogate_feature"][e]), float(nodes["surrogate_threshold"][e]),
             bool(nodes["surrogate_reversed"][e])) for e in range(ptr[node], ptr[node + 1])]


def assert_same_tree(tree, expected, what=""):
    """Two fastml trees with equal node arrays and surrogate splits, bit for bit."""
    assert tree.node_count == expected.node_count, what
    for name in TREE_ARRAYS + SURROGATE_ARRAYS:
        np.testing.assert_array_equal(getattr(tree, name), getattr(expected, name),
                                      err_msg=f"{what} {name}".strip())


def set_at(i, value):
    """An edit setting entry i of an array (in place) and returning it."""
    def edit(a):
        a[i] = value
        return a
    return edit


def _sets_sorted(message):
    """The message with each {...} listing's items sorted: scikit-learn prints its parameter
    constraints' option sets in Python's set order, which changes with the hash seed."""
    return re.sub(r"\{([^{}]*)\}", lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}",
                  message)


def assert_same_message(ours, theirs):
    """Two exceptions (pytest ExceptionInfo or exceptions) say the same thing."""
    ours, theirs = getattr(ours, "value", ours), getattr(theirs, "value", theirs)
    assert _sets_sorted(str(ours)) == _sets_sorted(str(theirs))
