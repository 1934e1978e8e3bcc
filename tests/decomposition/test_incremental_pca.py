"""fastml.decomposition.IncrementalPCA against scikit-learn's (fit is scikit-learn's; transform
of sparse X is the compiled product)."""
import numpy as np
import pytest
import scipy.sparse as sp
from sklearn import decomposition as skd
from sklearn.datasets import load_digits, load_iris

from fastml.decomposition import IncrementalPCA

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("whiten", [False, True])
def test_matches_scikit_learn_dense_and_sparse(whiten, dtype):
    X = load_digits().data.astype(dtype)
    tol = dict(rtol=1e-3, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-8, atol=1e-8)
    for data in (X, sp.csr_matrix(X)):
        ours = IncrementalPCA(7, whiten=whiten, batch_size=300).fit(data)
        theirs = skd.IncrementalPCA(7, whiten=whiten, batch_size=300).fit(data)
        for name in ("components_", "explained_variance_", "singular_values_", "mean_"):
            np.testing.assert_allclose(getattr(ours, name), getattr(theirs, name), **tol)
        out = ours.transform(data)
        assert out.dtype == dtype
        np.testing.assert_allclose(out, theirs.transform(data), **tol)


def test_partial_fit_and_errors():
    X = load_iris().data
    ours, theirs = IncrementalPCA(2), skd.IncrementalPCA(2)
    for batch in np.array_split(X, 5):
        ours.partial_fit(batch)
        theirs.partial_fit(batch)
    np.testing.assert_allclose(ours.components_, theirs.components_, atol=1e-10)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), atol=1e-10)
    with pytest.raises(ValueError, match="n_components=10 invalid for n_features=4"):
        IncrementalPCA(10).fit(X)
    with pytest.raises(TypeError, match="does not support sparse input"):
        IncrementalPCA(2).partial_fit(sp.csr_matrix(X))
