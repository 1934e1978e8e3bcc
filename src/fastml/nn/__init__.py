"""Neural networks: MLPClassifier, MLPRegressor and ConvNetClassifier, with the operations they
are built from in ``fastml.nn.functional`` and the weight initializers in ``fastml.nn.init``.
Every op has a CPU kernel (BLAS and Numba; C++ for stride-1 convolutions) and a CUDA kernel
(Numba)."""
from . import functional, init
from ._estimators import ConvNetClassifier, MLPClassifier, MLPRegressor

__all__ = ["ConvNetClassifier", "MLPClassifier", "MLPRegressor", "functional", "init"]
