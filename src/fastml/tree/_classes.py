"""DecisionTreeClassifier and DecisionTreeRegressor over the C++ CART core (fastml.tree._cart).

The estimators validate, resolve scikit-learn's parameters into the core's, and store what it
grows in a `Tree` (scikit-learn's node arrays). The forests (fastml.ensemble) share everything
here: `prepare_problem` (validation, class encoding, weights, the split search's data) and
`pack_trees` (compiled prediction over one tree or many).
"""
import warnings
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.utils import Bunch, check_random_state, compute_sample_weight
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from .._backend import effective_n_threads, region_threads
from ..utils._sklearn_compat import (FRIEDMAN_MSE_DEPRECATED, Interval, RealNotInt, StrOptions,
                                     check_sample_weight, fit_context)
from . import _cart
from ._binning import bin_thresholds, sparse_bins
from ._model import Tree

# Rows up to which split_finder="auto" searches exact values (cheap there, and scikit-learn's
# trees); above it, histograms.
EXACT_UP_TO = 10_000
_MAX_INT = np.iinfo(np.int32).max
_UNLIMITED_DEPTH = np.iinfo(np.int32).max


@dataclass
class Problem:
    """A validated fitting problem in the form the core takes."""
    X: np.ndarray               # (n_samples, n_features), float32 or float64, C-contiguous
    y: np.ndarray               # float64: class indices or targets, (n_samples,) for a single
                                # output, else (n_samples, n_outputs)
    sample_weight: np.ndarray   # float64, class weights applied
    n_classes: np.ndarray       # (n_outputs,) classes per output; zeros for regression
    params: _cart.Params        # the core's parameters
    data: dict                  # values=, codes= and bin_bounds=, or csc= and csr= (sparse
                                # X), with sparse_codes= for "hist"
    split_finder: str


def _finite_rule(X):
    """scikit-learn's trees take NaN in dense X alone: sparse X must be finite."""
    return True if sp.issparse(X) else "allow-nan"


def _require_int32_indices(X):
    if sp.issparse(X) and (X.indices.dtype != np.intc or X.indptr.dtype != np.intc):
        raise ValueError("No support for np.int64 index based sparse matrices")


def _check_X(estimator, X, reset):
    """X for prediction: dense C-contiguous, or CSR (any sparse format converted to it, as
    scikit-learn's trees do), float32 kept."""
    X = validate_data(estimator, X, reset=reset, dtype=[np.float64, np.float32], order="C",
                      accept_sparse="csr", ensure_all_finite=_finite_rule(X))
    _require_int32_indices(X)
    return X


def walk_packed(packed, X, n_threads, mean):
    """`packed`'s apply (mean False) or predict_mean over validated X, dense or CSR."""
    if sp.issparse(X):
        csr = (X.indptr.astype(np.int64), X.indices, X.data)
        return packed.predict_mean_csr(*csr, n_threads) if mean else packed.apply_csr(*csr,
                                                                                      n_threads)
    return packed.predict_mean(X, n_threads) if mean else packed.apply(X, n_threads)


def _sparse_data(X):
    """Validated sparse X (CSR or CSC) as the core reads it: csc=, CSC columns with their rows
    sorted and no duplicate (summed, as a dense X would hold them), and csr=, the same as CSR
    rows (small nodes read their rows), each (indptr int64, indices int32, data). One of
    them is X itself where it is canonical: the fit holds one copy of X."""
    def canonical(M):
        if not M.has_canonical_format:
            M = M.copy()
            M.sum_duplicates()
        return M

    X = canonical(X)
    csc = X if X.format == "csc" else canonical(X.tocsc())
    csr = X if X.format == "csr" else canonical(X.tocsr())
    if max(X.shape) > _MAX_INT:  # 64-bit indices where scikit-learn's conversion keeps them
        raise ValueError("No support for np.int64 index based sparse matrices")
    return {name: (M.indptr.astype(np.int64), M.indices.astype(np.int32, copy=False), M.data)
            for name, M in (("csc", csc), ("csr", csr))}


def _resolve_max_features(max_features, n_features):
    if max_features is None:
        return n_features
    if isinstance(max_features, str):
        count = np.sqrt(n_features) if max_features == "sqrt" else np.log2(n_features)
        return max(1, int(count))
    if isinstance(max_features, Integral):
        if max_features > n_features:
            raise ValueError(f"max_features must be <= n_features = {n_features}, "
                             f"got {max_features}")
        return int(max_features)
    return max(1, int(max_features * n_features))


# Rough one-thread nanoseconds per value of X (row x feature), from which small problems take
# one thread (region_threads; the core also keeps nodes under a million values on one thread):
# binning a value (a binary search of its bin), the part of a fit the core can run in parallel
# (presorting every feature, the largest nodes), and a row's walk down one tree. On a busy 2-core
# machine 1000 x 20 float32 rows fit in 5-13 ms on one thread and 13-48 ms on two, and two
# threads won at no size up to 100k rows, so the fit's share is set low: two threads from 200k
# values.
_BIN_VALUE_NS = 20.0
_PARALLEL_FIT_VALUE_NS = 10.0
_WALK_ROW_TREE_NS = 50.0
# ... and packing a node for the walk (PackedForest: 0.26 s for a 30-tree forest's 3.8M nodes,
# one thread on a loaded machine).
_PACK_NODE_NS = 70.0


def prepare_problem(estimator, X, y, sample_weight, *, is_classifier, random_state, n_threads,
                    class_weight=None):
    """Validates X, y and sample_weight for `estimator` and resolves its parameters.

    y is (n_samples,) or (n_samples, n_outputs), as scikit-learn's trees take it; a column
    vector is a single output (with scikit-learn's DataConversionWarning). Sets
    ``n_features_in_``, ``feature_names_in_``, ``n_outputs_``, ``max_features_`` and, for
    classifiers, ``classes_`` and ``n_classes_`` on the estimator (for several outputs a list of
    arrays and an array, as scikit-learn's).
    """
    shape = getattr(y, "shape", ())  # before validation (whose message speaks of features)
    if len(shape) == 2 and shape[1] == 0:
        raise ValueError(f"y must have at least one output (column), got shape {shape}")
    X, y = validate_data(estimator, X, y, dtype=[np.float64, np.float32], order="C",
                         accept_sparse=("csr", "csc"), ensure_all_finite=_finite_rule(X),
                         ensure_min_samples=1, multi_output=True, y_numeric=not is_classifier)
    if sp.issparse(y):  # multi_output=True lets a sparse y through; scikit-learn's trees reject it
        raise TypeError("A sparse y was passed, but fastml trees need a dense y.")
    if y.ndim == 2 and y.shape[1] == 1:
        y = column_or_1d(y, warn=True)
    n_samples, n_features = X.shape
    columns = y.reshape(n_samples, -1)  # (n_samples, n_outputs), a view
    n_outputs = columns.shape[1]
    estimator.n_outputs_ = n_outputs
    if is_classifier:
        check_classification_targets(y)
        classes, codes = zip(*(np.unique(column, return_inverse=True) for column in columns.T))
        n_classes = np.array([len(c) for c in classes], dtype=np.intp)
        y_core = np.column_stack(codes).astype(np.float64).reshape(y.shape)
        if n_outputs == 1:
            estimator.classes_, estimator.n_classes_ = classes[0], int(n_classes[0])
        else:
            estimator.classes_, estimator.n_classes_ = list(classes), n_classes
    else:
        n_classes = np.zeros(n_outputs, dtype=np.intp)
        y_core = np.ascontiguousarray(y, dtype=np.float64)
    sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64,
                                        ensure_non_negative=True)
    if class_weight is not None:
        # several outputs: "balanced" or a dict per output, the outputs' weights multiplied
        sample_weight = sample_weight * compute_sample_weight(class_weight, y)
    if not (sample_weight > 0).any():
        raise ValueError("sample_weight must have at least one positive entry")
    if estimator.criterion == "poisson":
        if (y_core < 0).any():
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson "
                             "regression.")
        if np.sum(columns * sample_weight[:, None]) <= 0:
            raise ValueError("Sum of y is not positive which is necessary for Poisson regression.")

    min_samples_leaf = estimator.min_samples_leaf
    if isinstance(min_samples_leaf, Real) and not isinstance(min_samples_leaf, Integral):
        min_samples_leaf = int(np.ceil(min_samples_leaf * n_samples))
    min_samples_split = estimator.min_samples_split
    if isinstance(min_samples_split, Real) and not isinstance(min_samples_split, Integral):
        min_samples_split = max(2, int(np.ceil(min_samples_split * n_samples)))
    min_samples_split = max(min_samples_split, 2 * min_samples_leaf)
    estimator.max_features_ = _resolve_max_features(estimator.max_features, n_features)
    monotonic_cst = _monotonic_cst(estimator.monotonic_cst, n_features, n_classes[0],
                                   n_outputs)

    params = _cart.Params(
        # the core's criteria go by scikit-learn's names, log_loss by its other one
        criterion=getattr(_cart.Criterion,
                          "entropy" if estimator.criterion == "log_loss" else estimator.criterion),
        random_splitter=getattr(estimator, "splitter", "best") == "random",
        max_depth=_UNLIMITED_DEPTH if estimator.max_depth is None else estimator.max_depth,
        min_samples_split=int(min_samples_split), min_samples_leaf=int(min_samples_leaf),
        min_weight_leaf=estimator.min_weight_fraction_leaf * float(np.sum(sample_weight)),
        max_features=int(estimator.max_features_),
        max_leaf_nodes=0 if estimator.max_leaf_nodes is None else int(estimator.max_leaf_nodes),
        min_impurity_decrease=float(estimator.min_impurity_decrease),
        monotonic_cst=monotonic_cst,
        # sparse X holds no missing values to route
        surrogates=estimator.missing_values == "surrogate" and not sp.issparse(X))

    split_finder = estimator.split_finder
    if split_finder == "auto":
        split_finder = "exact" if n_samples <= EXACT_UP_TO else "hist"
    if sp.issparse(X):
        data = _sparse_data(X)
        # the histogram search on sparse X takes neither the random splitter nor the absolute
        # error: those search the exact values
        if split_finder == "hist" and (params.random_splitter
                                       or estimator.criterion == "absolute_error"):
            split_finder = "exact"
        if split_finder == "hist":
            threads = region_threads(X.nnz * _BIN_VALUE_NS, n_threads)
            data["sparse_codes"] = sparse_bins(data["csc"], data["csr"], X.shape,
                                               estimator.max_bins, random_state, threads)
            # the search reads the codes; a split's threshold and nothing else the values, which
            # X's own format holds: the copy's data goes (as much memory as X's data)
            copy = "csr" if X.format == "csc" else "csc"
            data[copy] = data[copy][:2] + (None,)
    elif split_finder == "hist":
        threads = region_threads(X.size * _BIN_VALUE_NS, n_threads)
        thresholds = bin_thresholds(X, estimator.max_bins, random_state, threads)
        codes, bounds = _cart.encode_bins(X, thresholds, threads)
        data = dict(codes=codes, bin_bounds=bounds)
    else:
        data = dict(values=np.ascontiguousarray(X.T))
    return Problem(X, y_core, sample_weight, n_classes, params, data, split_finder)


def _monotonic_cst(monotonic_cst, n_features, n_classes, n_outputs):
    """scikit-learn's checks; for classifiers the signs are flipped, as the core constrains the
    fraction of class 0 (scikit-learn does the same)."""
    if monotonic_cst is None:
        return None
    if n_outputs > 1:
        raise ValueError("Monotonicity constraints are not supported with multiple outputs.")
    cst = np.asarray(monotonic_cst)
    if cst.shape != (n_features,):
        raise ValueError(f"monotonic_cst has shape {cst.shape} but the input data X has "
                         f"{n_features} features.")
    if not np.isin(cst, (-1, 0, 1)).all():
        raise ValueError("monotonic_cst must be None or an array-like of -1, 0 or 1, but got "
                         f"{np.unique(cst)}")
    if n_classes > 2:
        raise ValueError("Monotonicity constraints are not supported with multiclass "
                         "classification")
    cst = cst.astype(np.int8)
    return -cst if n_classes > 0 else cst


def pack_trees(trees, n_features, n_threads=1):
    """`Tree` objects packed once for the compiled walk, on up to n_threads threads, each read
    where it lies: a `_cart.PackedForest`, with ``apply(X, n_threads)`` and
    ``predict_mean(X, n_threads)``."""
    n_nodes = sum(tree.node_count for tree in trees)
    n_threads = region_threads(n_nodes * _PACK_NODE_NS, n_threads)
    return _cart.PackedForest.from_trees(trees, n_features, n_threads)


class CompiledWalk:
    """Prediction over fitted trees packed once by `pack_trees`: what trees and forests
    share. Subclasses list their trees in ``_fitted_trees()``."""

    def _pack(self):
        self._packed = pack_trees(self._fitted_trees(), self.n_features_in_,
                                  effective_n_threads(self.n_jobs))

    def _walk(self, X, mean):
        """For validated X: the leaf values averaged over the trees (mean), (n_samples,
        n_outputs, K), or the leaves."""
        check_is_fitted(self)
        X = _check_X(self, X, reset=False)
        if getattr(self, "_packed", None) is None:  # unpickled, or a tree of a forest
            self._pack()
        n_rows = X.shape[0]
        n_threads = region_threads(n_rows * len(self._fitted_trees()) * _WALK_ROW_TREE_NS,
                                   effective_n_threads(self.n_jobs))
        if not mean:
            return walk_packed(self._packed, X, n_threads, mean=False)
        return walk_packed(self._packed, X, n_threads, mean=True).reshape(n_rows,
                                                                          self.n_outputs_, -1)

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_packed", None)  # compiled, and a second copy of the nodes: packed again
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True  # in dense X, as scikit-learn's trees
        tags.input_tags.sparse = True
        tags.target_tags.multi_output = True
        return tags


class LeafValueRegressor:
    """predict of the tree and forest regressors: the leaf values, averaged over the trees."""

    def predict(self, X):
        value = self._walk(X, mean=True)[:, :, 0]
        return value[:, 0] if self.n_outputs_ == 1 else value


class LeafProbabilityClassifier:
    """predict_proba, predict and predict_log_proba of the tree and forest classifiers, as
    scikit-learn's: for several outputs, a list of one probability array per output and
    predictions of shape (n_samples, n_outputs)."""

    def predict_proba(self, X):
        """Class probabilities: the leaf class fractions, averaged over the trees."""
        value = self._walk(X, mean=True)
        if self.n_outputs_ == 1:
            return value[:, 0, :]
        return [value[:, k, :n] for k, n in enumerate(self.n_classes_)]

    def predict(self, X):
        proba = self.predict_proba(X)
        if self.n_outputs_ == 1:
            return self.classes_[np.argmax(proba, axis=1)]
        predictions = np.empty((len(proba[0]), self.n_outputs_), dtype=self.classes_[0].dtype)
        for k, (classes, p) in enumerate(zip(self.classes_, proba)):
            predictions[:, k] = classes[np.argmax(p, axis=1)]
        return predictions

    def predict_log_proba(self, X):
        proba = self.predict_proba(X)
        with np.errstate(divide="ignore"):
            return np.log(proba) if self.n_outputs_ == 1 else [np.log(p) for p in proba]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags


_TREE_CONSTRAINTS = {
    "splitter": [StrOptions({"best", "random"})],
    "max_depth": [Interval(Integral, 1, None, closed="left"), None],
    "min_samples_split": [Interval(Integral, 2, None, closed="left"),
                          Interval(RealNotInt, 0.0, 1.0, closed="right")],
    "min_samples_leaf": [Interval(Integral, 1, None, closed="left"),
                         Interval(RealNotInt, 0.0, 1.0, closed="neither")],
    "min_weight_fraction_leaf": [Interval(Real, 0.0, 0.5, closed="both")],
    "max_features": [Interval(Integral, 1, None, closed="left"),
                     Interval(RealNotInt, 0.0, 1.0, closed="right"), StrOptions({"sqrt", "log2"}),
                     None],
    "random_state": ["random_state"],
    "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
    "min_impurity_decrease": [Interval(Real, 0.0, None, closed="left")],
    "ccp_alpha": [Interval(Real, 0.0, None, closed="left")],
    "monotonic_cst": ["array-like", None],
    "split_finder": [StrOptions({"auto", "hist", "exact"})],
    "max_bins": [Interval(Integral, 2, 255, closed="both")],
    "missing_values": [StrOptions({"learn", "surrogate"})],
    "n_jobs": [Integral, None],
}


class _BaseDecisionTree(CompiledWalk, BaseEstimator):
    """What the classifier and the regressor share: fit, apply, paths, pruning."""

    def _fit(self, X, y, sample_weight, class_weight=None):
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_jobs)
        # the first draw, as scikit-learn's splitter seed: the exact search with the best
        # splitter then draws scikit-learn's features from it (see cart::SklearnRandom)
        seed = int(random_state.randint(_MAX_INT))
        problem = prepare_problem(self, X, y, sample_weight, is_classifier=self._is_classifier,
                                  random_state=random_state, n_threads=n_threads,
                                  class_weight=class_weight)
        n_threads = region_threads(problem.X.size * _PARALLEL_FIT_VALUE_NS, n_threads)
        nodes = _cart.grow_tree(problem.y, problem.sample_weight, problem.n_classes.tolist(),
                                problem.params, seed, n_threads, **problem.data)
        tree = Tree(problem.X.shape[1], np.maximum(problem.n_classes, 1), nodes,
                    _grown_depth=nodes["max_depth"])
        self.tree_ = tree.prune(self.ccp_alpha) if self.ccp_alpha > 0 else tree
        self.split_finder_ = problem.split_finder
        self._pack()
        return self

    def _fitted_trees(self):
        return [self.tree_]

    def apply(self, X, check_input=True):
        """Index of the leaf each sample ends in."""
        return self._walk(X, mean=False)[:, 0]

    def decision_path(self, X, check_input=True):
        """Sparse indicator (n_samples, n_nodes) of the nodes each sample passes: the leaves
        from the compiled walk, then each leaf's path."""
        return self.tree_.paths_to(self.apply(X))

    def get_depth(self):
        check_is_fitted(self)
        return self.tree_.max_depth

    def get_n_leaves(self):
        check_is_fitted(self)
        return self.tree_.n_leaves

    @property
    def feature_importances_(self):
        check_is_fitted(self)
        return self.tree_.compute_feature_importances()

    def cost_complexity_pruning_path(self, X, y, sample_weight=None):
        """Effective alphas and total leaf impurities of minimal cost-complexity pruning, as
        scikit-learn's: the tree grown without pruning, then pruned step by step."""
        unpruned = self.__class__(**{**self.get_params(), "ccp_alpha": 0.0})
        unpruned.fit(X, y, sample_weight=sample_weight)
        alphas, impurities = unpruned.tree_.cost_complexity_pruning_path()
        return Bunch(ccp_alphas=alphas, impurities=impurities)


class DecisionTreeClassifier(LeafProbabilityClassifier, ClassifierMixin, _BaseDecisionTree):
    """A decision tree classifier, drop-in for ``sklearn.tree.DecisionTreeClassifier``.

    Grown by fastml's C++ CART core: an exact search over presorted values (scikit-learn's
    splits) or a histogram search over at most ``max_bins`` quantile bins, OpenMP over features.
    Missing values (NaN) are supported: each split learns which side they go to, or follows
    surrogate splits. y may have several outputs (columns), as in scikit-learn: a split
    maximises the sum of the outputs' proxies and a node's impurity is their mean.

    Parameters
    ----------
    criterion : {"gini", "entropy", "log_loss"}, default="gini"
    splitter : {"best", "random"}, default="best"
    max_depth, min_samples_split, min_samples_leaf, min_weight_fraction_leaf, max_features,
    random_state, max_leaf_nodes, min_impurity_decrease, class_weight, ccp_alpha, monotonic_cst
        As in scikit-learn. max_leaf_nodes grows the tree best first.
    split_finder : {"auto", "hist", "exact"}, default="auto"
        "exact" searches every threshold between distinct values; "hist" the thresholds between
        quantile bins; "auto" is "exact" up to 10,000 rows and "hist" above, on dense and
        sparse X alike. On sparse X "hist" bins the stored values of each CSC column (never
        densified) and gives the tree it gives on X densified; with the random splitter or
        criterion="absolute_error" sparse X is searched exactly.
    max_bins : int in [2, 255], default=255
        Bins per feature of the histogram search.
    missing_values : {"learn", "surrogate"}, default="learn"
        How rows missing a split's feature are routed, in fitting and prediction.
        "learn" (scikit-learn's rule): each split tries them on both sides of every threshold
        and keeps the better side (with none in training, the side with more rows).
        "surrogate" (CART's surrogate splits, as R's rpart): a split is searched over the rows
        present on its feature, its proxies compared across features as impurity decreases;
        then on every other feature the threshold split that routes the largest weight of the
        rows present on both features as the split does is found, and kept if it beats sending
        them all to the heavier side (features under a monotonic constraint are never
        surrogates: they would break it); up to 5 are stored, the most agreeing first
        (``tree_.surrogate_*``). A row missing the feature goes by the first surrogate it has a
        value for, else to the side with more of the rows present on the feature. Rows with
        NaN at prediction follow them too, also when training had no missing values.
    n_jobs : int, default=None
        Threads; None uses ``fastml.get_config()["n_jobs"]``. The tree does not depend on it.

    Attributes
    ----------
    tree_ : Tree
        scikit-learn's node arrays (children_left, children_right, feature, threshold,
        missing_go_to_left, value, impurity, n_node_samples, weighted_n_node_samples) and the
        surrogate splits (surrogate_ptr, surrogate_feature, surrogate_threshold,
        surrogate_reversed).
    classes_, n_classes_, n_features_in_, feature_names_in_, n_outputs_, max_features_,
    feature_importances_
        As in scikit-learn.
    split_finder_ : {"hist", "exact"}
        The search that ran.
    """

    _is_classifier = True
    _parameter_constraints = {
        "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
        "class_weight": [dict, list, StrOptions({"balanced"}), None],
        **_TREE_CONSTRAINTS,
    }

    def __init__(self, *, criterion="gini", splitter="best", max_depth=None, min_samples_split=2,
                 min_samples_leaf=1, min_weight_fraction_leaf=0.0, max_features=None,
                 random_state=None, max_leaf_nodes=None, min_impurity_decrease=0.0,
                 class_weight=None, ccp_alpha=0.0, monotonic_cst=None, split_finder="auto",
                 max_bins=255, missing_values="learn", n_jobs=None):
        self.criterion = criterion
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.class_weight = class_weight
        self.ccp_alpha = ccp_alpha
        self.monotonic_cst = monotonic_cst
        self.split_finder = split_finder
        self.max_bins = max_bins
        self.missing_values = missing_values
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Grow the tree from (X, y); sample_weight scales each row's contribution."""
        return self._fit(X, y, sample_weight, class_weight=self.class_weight)

    def predict_proba(self, X, check_input=True):
        """Class probabilities: the weighted class fractions of each sample's leaf (a list of
        one array per output for several outputs)."""
        return super().predict_proba(X)

    def predict(self, X, check_input=True):
        return super().predict(X)


def regression_criterion(criterion):
    """The criterion a regressor's __init__ stores: "friedman_mse" maps to "squared_error" with
    a FutureWarning where the installed scikit-learn does so (1.9 on; both always grew the same
    trees for one output)."""
    if FRIEDMAN_MSE_DEPRECATED and isinstance(criterion, str) and criterion == "friedman_mse":
        warnings.warn('Value `"friedman_mse"` for `criterion` is deprecated and will be removed '
                      'in 1.11. It maps to `"squared_error"` as both were always equivalent. Use '
                      '`criterion="squared_error"` to remove this warning.', FutureWarning)
        return "squared_error"
    return criterion


class DecisionTreeRegressor(LeafValueRegressor, RegressorMixin, _BaseDecisionTree):
    """A decision tree regressor, drop-in for ``sklearn.tree.DecisionTreeRegressor``.

    The same core and parameters as `DecisionTreeClassifier` (without class_weight); leaves
    predict the weighted mean of their targets, or their weighted median for "absolute_error",
    per output when y has several (friedman_mse then scores the outputs' summed targets, as
    scikit-learn's criterion does).

    Parameters
    ----------
    criterion : {"squared_error", "friedman_mse", "poisson", "absolute_error"}, \
            default="squared_error"
        "absolute_error" searches every feature's candidates with running weighted medians
        (O(n log n) per node and feature), on sorted codes rather than histograms in hist mode.
    """

    _is_classifier = False
    _parameter_constraints = {
        "criterion": [StrOptions({"squared_error", "friedman_mse", "poisson",
                                  "absolute_error"})],
        **_TREE_CONSTRAINTS,
    }

    def __init__(self, *, criterion="squared_error", splitter="best", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features=None, random_state=None, max_leaf_nodes=None,
                 min_impurity_decrease=0.0, ccp_alpha=0.0, monotonic_cst=None,
                 split_finder="auto", max_bins=255, missing_values="learn", n_jobs=None):
        self.criterion = regression_criterion(criterion)
        self.splitter = splitter
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.random_state = random_state
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.ccp_alpha = ccp_alpha
        self.monotonic_cst = monotonic_cst
        self.split_finder = split_finder
        self.max_bins = max_bins
        self.missing_values = missing_values
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, check_input=True):
        """Grow the tree from (X, y); sample_weight scales each row's contribution."""
        return self._fit(X, y, sample_weight)

    def predict(self, X, check_input=True):
        """The leaf values: (n_samples,), or (n_samples, n_outputs) for several outputs."""
        return super().predict(X)
