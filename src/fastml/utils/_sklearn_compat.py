"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.ensemble._hist_gradient_boosting.binning import (
    _find_binning_thresholds as hgb_binning_thresholds)
from sklearn.ensemble._hist_gradient_boosting.common import (
    PREDICTOR_RECORD_DTYPE as HGB_PREDICTOR_RECORD_DTYPE)
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.metrics._base import _average_binary_score as average_binary_score
from sklearn.metrics._base import _average_multiclass_ovo_score as average_multiclass_ovo_score
from sklearn.metrics._classification import _check_targets as check_targets
from sklearn.metrics._classification import _check_zero_division as check_zero_division
from sklearn.metrics._classification import _prf_divide as prf_divide
from sklearn.metrics._scorer import _SCORERS as HGB_SCORERS
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.utils._array_api import _average as weighted_average
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._encode import _unique as unique_values
from sklearn.utils._param_validation import (Interval, Options, RealNotInt, StrOptions,
                                            validate_params)
from sklearn.utils._sparse import _align_api_if_sparse as align_api_if_sparse
from sklearn.utils.extmath import _nanaverage as nanaverage
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict as lbfgs_options
from sklearn.utils.multiclass import _check_partial_fit_first_call as check_partial_fit_first_call
from sklearn.utils.optimize import _check_optimize_result as check_optimize_result
from sklearn.utils.validation import _check_categorical_features as check_categorical_features
from sklearn.utils.validation import _check_monotonic_cst as check_monotonic_cst
from sklearn.utils.validation import _check_pos_label_consistency as check_pos_label_consistency
from sklearn.utils.validation import _check_sample_weight as check_sample_weight
from sklearn.utils.validation import _check_y as check_y


def parameter_constraints(sklearn_function):
    """The parameter constraints of one of scikit-learn's validated public functions, which
    fastml's function of the same name and signature validates against."""
    return sklearn_function.__wrapped__._skl_parameter_constraints


# fastml.feature_extraction.text subclasses scikit-learn's vectorizers and calls these private
# methods of theirs (tests/feature_extraction check that they exist).
VECTORIZER_PRIVATE_METHODS = ("_validate_ngram_range", "_warn_for_unused_params",
                              "_validate_vocabulary", "_check_vocabulary")

# fastml.ensemble's HistGradientBoosting* subclass scikit-learn's and call these private methods
# of theirs (tests/ensemble check that they exist).
HGB_PRIVATE_METHODS = ("_encode_y", "_encode_y_val", "_get_loss", "_finalize_sample_weight",
                       "_validate_parameters", "_check_interaction_cst", "_is_fitted",
                       "_clear_state", "_get_small_trainset", "_check_early_stopping_loss",
                       "_check_early_stopping_scorer", "_should_stop", "_print_iteration_stats",
                       "_raw_predict", "_staged_raw_predict")

__all__ = ["hgb_binning_thresholds", "HGB_PREDICTOR_RECORD_DTYPE", "HGB_PRIVATE_METHODS", "HGB_SCORERS",
           "TreePredictor", "check_categorical_features", "check_monotonic_cst", "check_y",
           "Interval", "Options", "RealNotInt", "StrOptions", "VECTORIZER_PRIVATE_METHODS",
           "align_api_if_sparse", "average_binary_score", "average_multiclass_ovo_score",
           "check_chunk_size", "check_optimize_result", "check_partial_fit_first_call",
           "check_pos_label_consistency", "check_sample_weight", "check_targets",
           "check_zero_division", "fit_context", "get_chunk_n_rows", "lbfgs_options",
           "nanaverage", "parameter_constraints", "prf_divide", "unique_values",
           "validate_params", "weighted_average"]
