"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._sparse import _align_api_if_sparse as align_api_if_sparse
from sklearn.utils._param_validation import (Interval, Options, RealNotInt, StrOptions,
                                            validate_params)
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict as lbfgs_options
from sklearn.utils.multiclass import _check_partial_fit_first_call as check_partial_fit_first_call
from sklearn.utils.optimize import _check_optimize_result as check_optimize_result
from sklearn.utils.validation import _check_sample_weight as check_sample_weight

__all__ = ["Interval", "Options", "RealNotInt", "StrOptions", "align_api_if_sparse",
           "check_chunk_size", "check_optimize_result", "lbfgs_options",
           "check_partial_fit_first_call", "check_sample_weight", "fit_context", "get_chunk_n_rows",
           "validate_params"]

# fastml.feature_extraction.text subclasses scikit-learn's vectorizers and calls these private
# methods of theirs: _validate_ngram_range, _warn_for_unused_params, _validate_vocabulary,
# _check_vocabulary (tests/feature_extraction check that they exist).
VECTORIZER_PRIVATE_METHODS = ("_validate_ngram_range", "_warn_for_unused_params",
                              "_validate_vocabulary", "_check_vocabulary")
