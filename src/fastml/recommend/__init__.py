"""Recommenders: matrix factorization (ALS and SGD on a C++ CPU core and CUDA Numba kernels), item-item
collaborative filtering, and a per-user train/test split."""
from ._item_knn import ItemKNN
from ._mf import MatrixFactorization
from ._split import train_test_split

__all__ = ["ItemKNN", "MatrixFactorization", "train_test_split"]
