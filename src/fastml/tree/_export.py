"""export_text, export_graphviz and plot_tree for fastml trees, drawn by scikit-learn's own.

scikit-learn's exporters read only ``tree_`` (its node arrays, which `fastml.tree._model.Tree`
provides under the same names), ``criterion``, ``classes_`` and ``n_features_in_``, but
``export_text`` and ``plot_tree`` accept only instances of ``DecisionTreeClassifier`` /
``DecisionTreeRegressor`` (``export_text`` also picks its leaf format by that class). So each
function here hands them an unfitted scikit-learn estimator of the matching class carrying the
fastml tree and those attributes, and passes every other argument through unchanged.

Missing values: a split is printed as ``feature <= threshold``; a row whose feature is NaN goes
left when the node's ``missing_go_to_left`` is 1 and right otherwise, which the exports do not show
(nor do scikit-learn's for its own trees).
"""
import numpy as np
from sklearn import tree as _sk_tree
from sklearn.exceptions import NotFittedError
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from ._model import Tree

__all__ = ["export_graphviz", "export_text", "plot_tree"]


def _as_sklearn(decision_tree):
    """A scikit-learn DecisionTreeClassifier/Regressor reading decision_tree's tree.

    decision_tree: a fitted estimator with ``tree_`` (a classifier when it has ``classes_``),
    a bare `Tree` (a classifier when K > 1; classes 0..n_classes-1 per output, criterion printed
    as "impurity"), or a scikit-learn tree, returned as it is. Several outputs are printed as
    scikit-learn prints its own multi-output trees."""
    if isinstance(decision_tree, (DecisionTreeClassifier, DecisionTreeRegressor)):
        return decision_tree
    if isinstance(decision_tree, Tree):
        tree, criterion = decision_tree, "impurity"
        classes = None
        if tree.max_n_classes > 1:
            classes = [np.arange(k) for k in tree.n_classes]
            classes = classes[0] if tree.n_outputs == 1 else classes
    else:
        tree = getattr(decision_tree, "tree_", None)
        if tree is None:
            raise NotFittedError(f"This {type(decision_tree).__name__} instance is not fitted "
                                 f"yet (it has no tree_); call 'fit' first.")
        criterion = getattr(decision_tree, "criterion", "impurity")
        classes = getattr(decision_tree, "classes_", None)
    if classes is not None:
        view = DecisionTreeClassifier(criterion=criterion)
        view.classes_ = classes
        view.n_classes_ = (len(classes) if tree.n_outputs == 1
                           else np.array([len(c) for c in classes], dtype=np.intp))
    else:
        view = DecisionTreeRegressor(criterion=criterion)
    view.tree_ = tree
    view.n_features_in_ = tree.n_features
    view.n_outputs_ = tree.n_outputs
    names = getattr(decision_tree, "feature_names_in_", None)
    if names is not None:
        view.feature_names_in_ = names
    return view


def export_text(decision_tree, **kwargs):
    """scikit-learn's ``sklearn.tree.export_text`` for a fitted fastml tree estimator (or a bare
    `Tree`); keyword arguments as there (feature_names, class_names, max_depth, spacing,
    decimals, show_weights). NaN routing (``missing_go_to_left``) is not shown."""
    return _sk_tree.export_text(_as_sklearn(decision_tree), **kwargs)


def export_graphviz(decision_tree, out_file=None, **kwargs):
    """scikit-learn's ``sklearn.tree.export_graphviz`` for a fitted fastml tree estimator (or a
    bare `Tree`): the DOT source, returned when out_file is None; keyword arguments as there.
    NaN routing (``missing_go_to_left``) is not shown."""
    return _sk_tree.export_graphviz(_as_sklearn(decision_tree), out_file, **kwargs)


def plot_tree(decision_tree, **kwargs):
    """scikit-learn's ``sklearn.tree.plot_tree`` (needs matplotlib) for a fitted fastml tree
    estimator (or a bare `Tree`); keyword arguments as there. NaN routing
    (``missing_go_to_left``) is not shown."""
    return _sk_tree.plot_tree(_as_sklearn(decision_tree), **kwargs)
