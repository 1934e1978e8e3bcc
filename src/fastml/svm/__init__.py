"""Linear support vector machines with scikit-learn's API, drop-in for ``sklearn.svm``'s
LinearSVC and LinearSVR (see _classes for what is compiled)."""
from ._classes import LinearSVC, LinearSVR

__all__ = ["LinearSVC", "LinearSVR"]
