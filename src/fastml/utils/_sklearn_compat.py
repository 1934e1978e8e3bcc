"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.cluster._agglomerative import _fix_connectivity as fix_connectivity
from sklearn.cluster._agglomerative import _hc_cut as hc_cut
from sklearn.cluster._hdbscan._linkage import MST_edge_dtype as mst_edge_dtype
from sklearn.cluster._hdbscan._tree import tree_to_labels as hdbscan_tree_to_labels
from sklearn.cluster._hdbscan.hdbscan import \
    remap_single_linkage_tree as hdbscan_remap_single_linkage_tree
from sklearn.cluster._hdbscan.hdbscan import _OUTLIER_ENCODING as hdbscan_outlier_encoding
from sklearn.cluster._hdbscan.hdbscan import _process_mst as hdbscan_process_mst
from sklearn.cluster._hierarchical_fast import hc_get_heads, single_linkage_label
from sklearn.decomposition._pca import _infer_dimension as infer_dimension
from sklearn.ensemble._hist_gradient_boosting.binning import (
    _find_binning_thresholds as hgb_binning_thresholds)
from sklearn.ensemble._hist_gradient_boosting.gradient_boosting import (
    BaseHistGradientBoosting as HGBBase)
from sklearn.ensemble._hist_gradient_boosting.common import (
    PREDICTOR_RECORD_DTYPE as HGB_PREDICTOR_RECORD_DTYPE)
from sklearn.ensemble._hist_gradient_boosting.predictor import TreePredictor
from sklearn.linear_model._base import _pre_fit as pre_fit
from sklearn.linear_model._coordinate_descent import _alpha_grid as alpha_grid
from sklearn.linear_model._glm._newton_solver import NewtonCholeskySolver
from sklearn.linear_model._ridge import _RidgeGCV as RidgeGCV
from sklearn.linear_model._ridge import _get_valid_accept_sparse as ridge_accept_sparse
from sklearn.metrics._base import _average_binary_score as average_binary_score
from sklearn.metrics._base import _average_multiclass_ovo_score as average_multiclass_ovo_score
from sklearn.metrics._classification import _check_targets as check_targets
from sklearn.metrics._classification import _check_zero_division as check_zero_division
from sklearn.metrics._classification import _prf_divide as prf_divide
from sklearn.metrics._scorer import _SCORERS as HGB_SCORERS
from sklearn.metrics.pairwise import _VALID_METRICS as VALID_PAIRWISE_METRICS
from sklearn.metrics.pairwise import _check_chunk_size as check_chunk_size
from sklearn.neighbors._base import _check_precomputed as check_precomputed
from sklearn.neighbors._base import _kneighbors_from_graph as kneighbors_from_graph
from sklearn.utils._arpack import _init_arpack_v0 as init_arpack_v0
from sklearn.svm import _liblinear as sk_liblinear
from sklearn.svm._base import _get_liblinear_solver_type as liblinear_solver_type
from sklearn.svm._classes import _validate_dual_parameter as validate_dual_parameter
from sklearn.utils._array_api import _average as weighted_average
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._encode import _unique as unique_values
from sklearn.utils._missing import is_scalar_nan
from sklearn.utils._param_validation import (Interval, Options, RealNotInt, StrOptions,
                                            validate_params)
from sklearn.utils._sparse import _align_api_if_sparse as align_api_if_sparse
from sklearn.utils.extmath import _nanaverage as nanaverage
from sklearn.utils.fixes import _get_additional_lbfgs_options_dict as lbfgs_options
from sklearn.utils.metadata_routing import _manual_routing as manual_routing
from sklearn.utils.metadata_routing import _raise_for_params as raise_for_params
from sklearn.utils.metadata_routing import _routing_enabled as routing_enabled
from sklearn.utils.multiclass import _check_partial_fit_first_call as check_partial_fit_first_call
from sklearn.utils.optimize import _check_optimize_result as check_optimize_result
from sklearn.utils.validation import _check_categorical_features as check_categorical_features
from sklearn.utils.validation import _check_method_params as check_method_params
from sklearn.utils.validation import _check_monotonic_cst as check_monotonic_cst
from sklearn.utils.validation import _check_pos_label_consistency as check_pos_label_consistency
from sklearn.utils.validation import _check_sample_weight as check_sample_weight
from sklearn.utils.validation import _check_y as check_y

import sklearn as _sklearn
from sklearn.utils.fixes import parse_version as _parse_version

# scikit-learn 1.9 deprecated criterion="friedman_mse", mapping it to "squared_error" in __init__
FRIEDMAN_MSE_DEPRECATED = (_parse_version(_parse_version(_sklearn.__version__).base_version)
                           >= _parse_version("1.9"))


def parameter_constraints(sklearn_function):
    """The parameter constraints of one of scikit-learn's validated public functions, which
    fastml's function of the same name and signature validates against."""
    return sklearn_function.__wrapped__._skl_parameter_constraints


# fastml.feature_extraction.text subclasses scikit-learn's vectorizers and calls these private
# methods of theirs (tests/feature_extraction check that they exist).
VECTORIZER_PRIVATE_METHODS = ("_validate_ngram_range", "_warn_for_unused_params",
                              "_validate_vocabulary", "_check_vocabulary")

# fastml.ensemble's HistGradientBoosting* subclass scikit-learn's and call these private methods
# of theirs; the ranker borrows _preprocess_X, _check_categories and _should_stop from their
# base, HGBBase (tests/ensemble check that they exist).
HGB_PRIVATE_METHODS = ("_encode_y", "_encode_y_val", "_get_loss", "_finalize_sample_weight",
                       "_validate_parameters", "_check_interaction_cst", "_is_fitted",
                       "_clear_state", "_get_small_trainset", "_check_early_stopping_loss",
                       "_check_early_stopping_scorer", "_should_stop", "_print_iteration_stats",
                       "_raw_predict", "_staged_raw_predict", "_preprocess_X",
                       "_check_categories")

# every name above, for `from ._sklearn_compat import *` and linters (kept by the code itself,
# so that modules adding names never collide here)
__all__ = sorted(name for name in dir() if not name.startswith("_"))
