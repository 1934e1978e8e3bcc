"""Assertions and numerical helpers shared by the test modules."""
import numpy as np


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


# Every node array of a fitted tree (scikit-learn's names).
TREE_ARRAYS = ("children_left", "children_right", "feature", "threshold", "missing_go_to_left",
               "impurity", "n_node_samples", "weighted_n_node_samples", "value")


def assert_same_tree(tree, expected, what=""):
    """Two trees with equal node arrays, bit for bit."""
    assert tree.node_count == expected.node_count, what
    for name in TREE_ARRAYS:
        np.testing.assert_array_equal(getattr(tree, name), getattr(expected, name),
                                      err_msg=f"{what} {name}".strip())
