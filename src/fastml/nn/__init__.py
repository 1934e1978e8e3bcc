"""Neural networks: MLPClassifier, MLPRegressor and ConvNetClassifier, with the operations they
are built from in ``fastml.nn.functional`` and the weight initializers in ``fastml.nn.init``.
Every op has a CPU kernel (BLAS products and a C++ core, csrc/nn) and a CUDA kernel (Numba,
imported only when a GPU is asked for)."""
from . import functional, init
from ._estimators import ConvNetClassifier, MLPClassifier, MLPRegressor

__all__ = ["ConvNetClassifier", "MLPClassifier", "MLPRegressor", "functional", "init"]
