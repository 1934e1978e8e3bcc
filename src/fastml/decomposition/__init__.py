"""Matrix decompositions with scikit-learn's API: PCA, TruncatedSVD, IncrementalPCA."""
from ._incremental_pca import IncrementalPCA
from ._pca import PCA
from ._truncated_svd import TruncatedSVD

__all__ = ["IncrementalPCA", "PCA", "TruncatedSVD"]
