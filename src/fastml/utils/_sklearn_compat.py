"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.utils._chunking import get_chunk_n_rows

__all__ = ["check_chunk_size", "get_chunk_n_rows"]
