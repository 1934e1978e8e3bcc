"""RandomForestClassifier and RandomForestRegressor over the C++ CART core.

The data is validated and binned (or transposed for the exact search) once, and the core grows
all trees in parallel C++ threads from that one copy. Tree t is grown from its own seed (its
bootstrap draw and its feature draws), so a forest depends on random_state and never on n_jobs.
Prediction walks every tree for blocks of rows in compiled code.
"""
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.utils import check_random_state
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted
from scipy import sparse

from .._backend import effective_n_threads
from ..tree import DecisionTreeClassifier, DecisionTreeRegressor
from ..tree import _cart
from ..tree._classes import (_TREE_CONSTRAINTS, CompiledWalk, LeafProbabilityClassifier,
                             LeafValueRegressor, pack_trees, prepare_problem, walk_packed,
                             regression_criterion)
from ..tree._model import Tree
from ..utils._sklearn_compat import Interval, RealNotInt, StrOptions, fit_context

_MAX_INT = np.iinfo(np.int32).max
# The tree parameters a forest passes on to its trees.
_TREE_PARAMS = ("criterion", "max_depth", "min_samples_split", "min_samples_leaf",
                "min_weight_fraction_leaf", "max_features", "max_leaf_nodes",
                "min_impurity_decrease", "ccp_alpha", "monotonic_cst", "split_finder", "max_bins",
                "missing_values")


def _n_draws(max_samples, n_samples, draw_weight):
    """Rows each tree's bootstrap draws: scikit-learn 1.9's count, a float max_samples being a
    fraction of the total sample weight where the rows are drawn by weight."""
    if max_samples is None:
        return n_samples
    if isinstance(max_samples, Integral):
        return int(max_samples)
    if draw_weight is None:
        total, what = n_samples, f"the number of samples is {n_samples} "
    else:
        total = draw_weight.sum()
        what = f"the total sum of sample weights is {total} "
    n_draws = max(int(max_samples * total), 1)
    if n_draws < max(10, n_samples ** (1 / 3)):
        warnings.warn(f"Using the fractional value max_samples={max_samples} when {what}results "
                      f"in a low number ({n_draws}) of bootstrap samples. We recommend passing "
                      "`max_samples` as an integer instead.")
    return n_draws


def _choice_cdf(weight):
    """The cumulative probabilities numpy's RandomState.choice draws from, for the normalised
    weights scikit-learn passes it: the same floating-point steps, so the same draws."""
    cdf = (weight / np.sum(weight)).cumsum()
    cdf /= cdf[-1]
    return cdf


class _BaseForest(CompiledWalk, BaseEstimator):
    """What both forests share: growing, warm start, out-of-bag scores, prediction."""

    _parameter_constraints = {
        "n_estimators": [Interval(Integral, 1, None, closed="left")],
        "bootstrap": ["boolean"],
        "oob_score": ["boolean", callable],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "max_samples": [None, Interval(RealNotInt, 0.0, None, closed="neither"),
                        Interval(Integral, 1, None, closed="left")],
        **{k: v for k, v in _TREE_CONSTRAINTS.items() if k != "splitter"},
    }

    def _fit(self, X, y, sample_weight):
        if sparse.issparse(y):
            raise ValueError("sparse multilabel-indicator for y is not supported.")
        if not self.bootstrap and self.max_samples is not None:
            raise ValueError("`max_sample` cannot be set if `bootstrap=False`. Either switch to "
                             "`bootstrap=True` or set `max_sample=None`.")
        if not self.bootstrap and self.oob_score:
            raise ValueError("Out of bag estimation only available if bootstrap=True")
        random_state = check_random_state(self.random_state)
        n_threads = effective_n_threads(self.n_jobs)
        class_weight = getattr(self, "class_weight", None)
        # "balanced_subsample" weighs each tree's draw; without draws it is "balanced", as in
        # scikit-learn
        per_draw = class_weight == "balanced_subsample" and self.bootstrap
        if class_weight == "balanced_subsample" and not self.bootstrap:
            class_weight = "balanced"
        problem = prepare_problem(self, X, y, sample_weight,
                                  is_classifier=self._is_classifier,
                                  random_state=random_state, n_threads=n_threads,
                                  class_weight=None if per_draw else class_weight)
        if self._is_classifier and self.n_outputs_ > 1:
            self.n_classes_ = list(self.n_classes_)  # scikit-learn's forests keep a list
        n_samples = problem.X.shape[0]
        # scikit-learn (>= 1.9) draws rows in proportion to their sample and class weights and
        # grows each tree on its draws' counts alone
        weighted = sample_weight is not None or (class_weight is not None and not per_draw)
        draw_weight = problem.sample_weight if weighted and self.bootstrap else None
        n_draws = (_n_draws(self.max_samples, n_samples, draw_weight) if self.bootstrap
                   else n_samples)
        draw_cdf = None if draw_weight is None else _choice_cdf(draw_weight)

        if not self.warm_start or not hasattr(self, "estimators_"):
            self.estimators_ = []
        n_more = self._n_more_trees(len(self.estimators_))
        if n_more > 0:
            # the seeds of earlier trees are drawn again so that a warm-started forest equals
            # one grown at once (scikit-learn's rule)
            random_state.randint(_MAX_INT, size=len(self.estimators_))
            seeds = random_state.randint(_MAX_INT, size=n_more).astype(np.uint64)
            grown = _cart.grow_forest(problem.y, problem.sample_weight,
                                      problem.n_classes.tolist(), problem.params, seeds,
                                      self.bootstrap, n_draws,
                                      per_draw, draw_cdf, n_threads,
                                      **problem.data)
            problem.data = None  # the search's copy of X (sparse X's other format) goes now
            n_classes = np.maximum(problem.n_classes, 1)
            for seed, nodes in zip(seeds, grown):
                tree = Tree(problem.X.shape[1], n_classes, nodes,
                            _grown_depth=nodes["max_depth"])
                self.estimators_.append(self._make_tree(int(seed), tree, problem.split_finder))
            if self.verbose:
                print(f"grew {n_more} trees ({problem.split_finder} split search, "
                      f"{n_threads} threads)")
        self.split_finder_ = problem.split_finder
        self.estimator_ = self._tree_class()  # the template each tree is made from, as scikit-learn
        self._n_draws = n_draws
        self._draw_cdf = draw_cdf
        self._n_samples_fitted = n_samples
        self._pack()
        if self.oob_score:
            self._set_oob_score(problem.X, problem.y, n_threads)
        return self

    def _fitted_trees(self):
        return [estimator.tree_ for estimator in self.estimators_]

    def _n_more_trees(self, n_kept):
        """The trees a fit adds to the n_kept it keeps (warm_start), with scikit-learn's error
        where n_estimators is below them and its warning where it equals them."""
        n_more = self.n_estimators - n_kept
        if n_more < 0:
            raise ValueError(f"n_estimators={self.n_estimators} must be larger or equal to "
                             f"len(estimators_)={n_kept} when warm_start==True")
        if n_more == 0:
            warnings.warn("Warm-start fitting without increasing n_estimators does not fit new "
                          "trees.")
        return n_more

    def _make_tree(self, seed, tree, split_finder):
        """A fitted DecisionTree* holding one grown tree, as scikit-learn's estimators_ (its
        compiled layout is made if it is used on its own)."""
        params = {name: getattr(self, name) for name in _TREE_PARAMS}
        estimator = self._tree_class(**params, random_state=seed)
        if self.ccp_alpha > 0:
            tree = tree.prune(self.ccp_alpha)
        estimator.tree_ = tree
        estimator.n_features_in_ = self.n_features_in_
        if hasattr(self, "feature_names_in_"):
            estimator.feature_names_in_ = self.feature_names_in_
        estimator.n_outputs_ = self.n_outputs_
        estimator.max_features_ = self.max_features_
        estimator.split_finder_ = split_finder
        if self._is_classifier:
            estimator.classes_ = self.classes_
            # a tree of several outputs keeps an array of counts where the forest keeps a list
            estimator.n_classes_ = (np.asarray(self.n_classes_) if self.n_outputs_ > 1
                                    else self.n_classes_)
        return estimator

    def _set_oob_score(self, X, y, n_threads):
        """Every row predicted by the trees whose bootstrap left it out (scikit-learn's); y holds
        the class indices or targets. Several outputs: oob_decision_function_ is (n_samples,
        n_classes, n_outputs), oob_prediction_ (n_samples, n_outputs), as scikit-learn's."""
        self._check_oob_target(y)
        self._set_oob_from_sums(y, *self._oob_sums(X, n_threads))

    def _check_oob_target(self, y):
        if self._is_classifier and type_of_target(y) == "multiclass-multioutput":
            raise ValueError("The type of target cannot be used to compute OOB estimates. Got "
                             "multiclass-multioutput while only the following are supported: "
                             "continuous, continuous-multioutput, binary, multiclass, "
                             "multilabel-indicator.")

    def _oob_sums(self, X, n_threads):
        """(each row's predictions summed over the trees whose bootstrap left it out, (n_samples,
        n_values); how many such trees each row has)."""
        n_samples = X.shape[0]
        if sparse.issparse(X):
            X = X.tocsr()  # rows picked per tree, walked as CSR
        n_values = self.n_outputs_ * self.estimators_[0].tree_.max_n_classes
        total = np.zeros((n_samples, n_values))
        n_predictions = np.zeros(n_samples)
        for estimator, draws in zip(self.estimators_, self.estimators_samples_):
            rows = np.flatnonzero(np.bincount(draws, minlength=n_samples) == 0)
            if len(rows):
                tree = pack_trees([estimator.tree_], self.n_features_in_)
                total[rows] += walk_packed(tree, X[rows], n_threads, mean=True)
                n_predictions[rows] += 1
        return total, n_predictions

    def _set_oob_from_sums(self, y, total, n_predictions):
        n_samples = len(n_predictions)
        if (n_predictions == 0).any():
            warnings.warn("Some inputs do not have OOB scores. This probably means too few "
                          "trees were used to compute any reliable OOB estimates.", UserWarning)
            n_predictions[n_predictions == 0] = 1
        # (n_samples, n_values, n_outputs), the outputs' axis dropped for a single output
        oob = (total / n_predictions[:, None]).reshape(n_samples, self.n_outputs_, -1)
        oob = oob.transpose(0, 2, 1) if self.n_outputs_ > 1 else oob[:, 0, :]
        score = self.oob_score if callable(self.oob_score) else None
        if self._is_classifier:
            self.oob_decision_function_ = oob
            self.oob_score_ = (score or accuracy_score)(y, np.argmax(oob, axis=1))
        else:
            self.oob_prediction_ = oob[:, 0]
            self.oob_score_ = (score or r2_score)(y, self.oob_prediction_)

    def apply(self, X):
        """Leaf index of every sample in every tree, (n_samples, n_estimators)."""
        return self._walk(X, mean=False)

    def decision_path(self, X):
        """Sparse indicator of the nodes each sample passes in every tree, and the column
        offsets of the trees (n_nodes_ptr), as scikit-learn's."""
        leaves = self.apply(X)  # the compiled walk; then each leaf's path
        paths = [estimator.tree_.paths_to(leaves[:, t])
                 for t, estimator in enumerate(self.estimators_)]
        n_nodes_ptr = np.cumsum([0] + [path.shape[1] for path in paths])
        return sparse.hstack(paths).tocsr(), n_nodes_ptr

    @property
    def feature_importances_(self):
        """Mean of the trees' normalised impurity-based importances (trees of one node apart)."""
        check_is_fitted(self)
        importances = [e.tree_.compute_feature_importances() for e in self.estimators_
                       if e.tree_.node_count > 1]
        if not importances:
            return np.zeros(self.n_features_in_)
        mean = np.mean(importances, axis=0)
        return mean / np.sum(mean)

    @property
    def estimators_samples_(self):
        """The rows drawn for each tree, in draw order with repeats (int32), as scikit-learn's;
        every row where there is no bootstrap."""
        check_is_fitted(self)
        n_samples = self._n_samples_fitted
        if not self.bootstrap:
            return [np.arange(n_samples, dtype=np.int32) for _ in self.estimators_]
        return [_cart.bootstrap_draws(e.random_state, n_samples, self._n_draws, self._draw_cdf)
                for e in self.estimators_]

    def __len__(self):
        return len(self.estimators_)

    def __getitem__(self, index):
        return self.estimators_[index]

    def __iter__(self):
        return iter(self.estimators_)


class RandomForestClassifier(LeafProbabilityClassifier, ClassifierMixin, _BaseForest):
    """A random forest classifier, drop-in for ``sklearn.ensemble.RandomForestClassifier``.

    Parameters are scikit-learn's (n_estimators, criterion, max_depth, min_samples_split,
    min_samples_leaf, min_weight_fraction_leaf, max_features, max_leaf_nodes,
    min_impurity_decrease, bootstrap, oob_score, n_jobs, random_state, verbose, warm_start,
    class_weight, ccp_alpha, max_samples, monotonic_cst) plus the trees' ``split_finder``,
    ``max_bins`` and ``missing_values`` (see `fastml.tree.DecisionTreeClassifier`). The forest for a random_state is the
    same for any n_jobs; its trees are drawn differently from scikit-learn's. y may have several
    outputs, as in scikit-learn (out-of-bag scores then need binary outputs: multilabel y).

    Attributes
    ----------
    estimators_ : list of DecisionTreeClassifier
    classes_, n_classes_, n_features_in_, feature_names_in_, n_outputs_, feature_importances_,
    oob_score_, oob_decision_function_, estimators_samples_
        As in scikit-learn.
    split_finder_ : {"hist", "exact"}
    """

    _is_classifier = True
    _tree_class = DecisionTreeClassifier
    _parameter_constraints = {
        **_BaseForest._parameter_constraints,
        "criterion": [StrOptions({"gini", "entropy", "log_loss"})],
        "class_weight": [StrOptions({"balanced_subsample", "balanced"}), dict, list, None],
    }

    def __init__(self, n_estimators=100, *, criterion="gini", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features="sqrt", max_leaf_nodes=None, min_impurity_decrease=0.0,
                 bootstrap=True, oob_score=False, n_jobs=None, random_state=None, verbose=0,
                 warm_start=False, class_weight=None, ccp_alpha=0.0, max_samples=None,
                 monotonic_cst=None, split_finder="auto", max_bins=255, missing_values="learn"):
        self.n_estimators = n_estimators
        self.criterion = criterion
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.class_weight = class_weight
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.split_finder = split_finder
        self.max_bins = max_bins
        self.missing_values = missing_values

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Grow n_estimators trees on bootstrap draws of (X, y)."""
        return self._fit(X, y, sample_weight)


class RandomForestRegressor(LeafValueRegressor, RegressorMixin, _BaseForest):
    """A random forest regressor, drop-in for ``sklearn.ensemble.RandomForestRegressor``.

    The same core and parameters as `RandomForestClassifier` (without class_weight); criterion
    is "squared_error", "friedman_mse", "poisson" or "absolute_error". Predictions average the
    trees' leaf values (means, or medians for "absolute_error"); y may have several outputs.
    """

    _is_classifier = False
    _tree_class = DecisionTreeRegressor
    _parameter_constraints = {
        **_BaseForest._parameter_constraints,
        "criterion": [StrOptions({"squared_error", "friedman_mse", "poisson",
                                  "absolute_error"})],
    }

    def __init__(self, n_estimators=100, *, criterion="squared_error", max_depth=None,
                 min_samples_split=2, min_samples_leaf=1, min_weight_fraction_leaf=0.0,
                 max_features=1.0, max_leaf_nodes=None, min_impurity_decrease=0.0,
                 bootstrap=True, oob_score=False, n_jobs=None, random_state=None, verbose=0,
                 warm_start=False, ccp_alpha=0.0, max_samples=None, monotonic_cst=None,
                 split_finder="auto", max_bins=255, missing_values="learn"):
        self.n_estimators = n_estimators
        self.criterion = regression_criterion(criterion)
        self.max_depth = max_depth
        self.min_samples_split = min_samples_split
        self.min_samples_leaf = min_samples_leaf
        self.min_weight_fraction_leaf = min_weight_fraction_leaf
        self.max_features = max_features
        self.max_leaf_nodes = max_leaf_nodes
        self.min_impurity_decrease = min_impurity_decrease
        self.bootstrap = bootstrap
        self.oob_score = oob_score
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.warm_start = warm_start
        self.ccp_alpha = ccp_alpha
        self.max_samples = max_samples
        self.monotonic_cst = monotonic_cst
        self.split_finder = split_finder
        self.max_bins = max_bins
        self.missing_values = missing_values

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Grow n_estimators trees on bootstrap draws of (X, y)."""
        return self._fit(X, y, sample_weight)
