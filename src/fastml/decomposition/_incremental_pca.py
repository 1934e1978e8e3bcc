"""IncrementalPCA, drop-in for ``sklearn.decomposition.IncrementalPCA`` (a subclass of it).

Fitting is scikit-learn's: each batch is one small LAPACK SVD of (components + batch) x
n_features, which is where its time goes; sparse input is densified one batch at a time, as
there. transform is fastml's: sparse X is projected whole by the compiled sparse-dense product
(scikit-learn densifies it batch by batch), dense X block by block without a copy.
"""
import numpy as np
from sklearn.decomposition import IncrementalPCA as _SkIncrementalPCA
from sklearn.utils.validation import check_is_fitted, validate_data

from .._backend import effective_n_threads
from ._pca import project


class IncrementalPCA(_SkIncrementalPCA):
    """Incremental principal component analysis, drop-in for
    ``sklearn.decomposition.IncrementalPCA``: its parameters, attributes, fit, partial_fit."""

    def transform(self, X):
        """Project X (dense or sparse) on the components, whitened if ``whiten``."""
        check_is_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], accept_sparse=("csr", "csc"),
                          reset=False)
        return project(self, X, effective_n_threads(None))
