"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.metrics._base import _average_binary_score as average_binary_score
from sklearn.metrics._base import _average_multiclass_ovo_score as average_multiclass_ovo_score
from sklearn.metrics._classification import _check_targets as check_targets
from sklearn.metrics._classification import _check_zero_division as check_zero_division
from sklearn.metrics._classification import _prf_divide as prf_divide
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.utils._array_api import _average as weighted_average
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._encode import _unique as unique_values
from sklearn.utils._param_validation import Interval, RealNotInt, StrOptions, validate_params
from sklearn.utils.extmath import _nanaverage as nanaverage
from sklearn.utils.multiclass import _check_partial_fit_first_call as check_partial_fit_first_call
from sklearn.utils.validation import _check_pos_label_consistency as check_pos_label_consistency
from sklearn.utils.validation import _check_sample_weight as check_sample_weight


def parameter_constraints(sklearn_function):
    """The parameter constraints of one of scikit-learn's validated public functions, which
    fastml's function of the same name and signature validates against."""
    return sklearn_function.__wrapped__._skl_parameter_constraints


__all__ = ["Interval", "RealNotInt", "StrOptions", "average_binary_score",
           "average_multiclass_ovo_score", "check_chunk_size", "check_partial_fit_first_call",
           "check_pos_label_consistency", "check_sample_weight", "check_targets",
           "check_zero_division", "fit_context", "get_chunk_n_rows", "nanaverage",
           "parameter_constraints", "prf_divide", "unique_values", "validate_params",
           "weighted_average"]
