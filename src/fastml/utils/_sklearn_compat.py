"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = ["Interval", "StrOptions", "check_chunk_size", "fit_context", "get_chunk_n_rows",
           "validate_params"]
