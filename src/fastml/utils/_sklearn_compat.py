"""Every private scikit-learn name fastml uses, in one place, so that an upgrade touches one file."""
from sklearn.base import _fit_context as fit_context
from sklearn.cluster._agglomerative import _hc_cut as hc_cut
from sklearn.cluster._hdbscan._linkage import MST_edge_dtype as mst_edge_dtype
from sklearn.cluster._hdbscan._tree import tree_to_labels as hdbscan_tree_to_labels
from sklearn.cluster._hdbscan.hdbscan import _OUTLIER_ENCODING as hdbscan_outlier_encoding
from sklearn.cluster._hdbscan.hdbscan import _process_mst as hdbscan_process_mst
from sklearn.cluster._hdbscan.hdbscan import \
    remap_single_linkage_tree as hdbscan_remap_single_linkage_tree
from sklearn.cluster._hierarchical_fast import single_linkage_label
from sklearn.metrics._base import _average_binary_score as average_binary_score
from sklearn.metrics._base import _average_multiclass_ovo_score as average_multiclass_ovo_score
from sklearn.metrics._classification import _check_targets as check_targets
from sklearn.metrics._classification import _check_zero_division as check_zero_division
from sklearn.metrics._classification import _prf_divide as prf_divide
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
from sklearn.utils.validation import _check_pos_label_consistency as check_pos_label_consistency
from sklearn.utils.validation import _check_sample_weight as check_sample_weight


def parameter_constraints(sklearn_function):
    """The parameter constraints of one of scikit-learn's validated public functions, which
    fastml's function of the same name and signature validates against."""
    return sklearn_function.__wrapped__._skl_parameter_constraints


# fastml.feature_extraction.text subclasses scikit-learn's vectorizers and calls these private
# methods of theirs (tests/feature_extraction check that they exist).
VECTORIZER_PRIVATE_METHODS = ("_validate_ngram_range", "_warn_for_unused_params",
                              "_validate_vocabulary", "_check_vocabulary")

__all__ = ["Interval", "Options", "RealNotInt", "StrOptions", "VECTORIZER_PRIVATE_METHODS",
           "align_api_if_sparse", "average_binary_score", "average_multiclass_ovo_score",
           "check_chunk_size", "check_optimize_result", "check_partial_fit_first_call",
           "check_pos_label_consistency", "check_sample_weight", "check_targets",
           "check_zero_division", "fit_context", "get_chunk_n_rows", "hc_cut",
           "hdbscan_outlier_encoding", "hdbscan_process_mst", "hdbscan_remap_single_linkage_tree",
           "hdbscan_tree_to_labels", "lbfgs_options", "mst_edge_dtype", "single_linkage_label",
           "nanaverage", "parameter_constraints", "prf_divide", "unique_values",
           "validate_params", "weighted_average"]
