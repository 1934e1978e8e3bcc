"""Decision trees grown by fastml's C++ CART core, drop-in for ``sklearn.tree``."""
from ._classes import DecisionTreeClassifier, DecisionTreeRegressor
from ._export import export_graphviz, export_text, plot_tree

__all__ = ["DecisionTreeClassifier", "DecisionTreeRegressor", "export_graphviz", "export_text",
           "plot_tree"]
