"""HistGradientBoostingRanker: LambdaMART on fastml's compiled booster (scikit-learn has no
ranker; the model of reference is LightGBM's LGBMRanker, objective "lambdarank").

Each iteration takes the NDCG lambdas of the current scores (compiled, query by query:
fastml.ensemble._boost_fast.lambdarank_gradients, LightGBM's lambdarank defaults) and grows one
tree on them with the booster's grower (the regressor's: histograms, best-first growth,
min_samples_leaf, l2), shrunk by learning_rate. The bins are the regressor's, and so is
prediction (the packed compiled walk); sparse X is taken as by the regressor.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from .._backend import effective_n_threads
from ..utils._sklearn_compat import check_y, fit_context
from . import _boost_fast
from ._hist_gradient_boosting import _CompiledBoosting

# LightGBM's label_gain covers labels 0 .. 30 (gain 2^label - 1)
_MAX_LABEL = 30


def query_offsets(n_samples, group, qid):
    """(offsets, order): the first row of each query and the end (int64, n_queries + 1), and
    the permutation that makes each query's rows consecutive (None when they already are).
    group: the sizes of consecutive queries; qid: each row's query (any order; rows of a query
    keep their order); neither: one query."""
    if group is not None and qid is not None:
        raise ValueError("Pass either group or qid to fit, not both.")
    order = None
    if group is not None:
        sizes = column_or_1d(group)
        if not np.issubdtype(sizes.dtype, np.integer) or np.any(sizes < 1):
            raise ValueError("group must hold the sizes of the queries: integers >= 1.")
        if sizes.sum() != n_samples:
            raise ValueError(f"The group sizes sum to {int(sizes.sum())}, but X has "
                             f"{n_samples} samples: they must sum to n_samples.")
    elif qid is not None:
        qid = column_or_1d(qid)
        if len(qid) != n_samples:
            raise ValueError(f"qid has {len(qid)} entries, but X has {n_samples} samples.")
        order = np.argsort(qid, kind="stable")
        _, sizes = np.unique(qid[order], return_counts=True)
        if np.array_equal(order, np.arange(n_samples)):
            order = None
    else:
        sizes = np.array([n_samples])
    offsets = np.zeros(len(sizes) + 1, dtype=np.int64)
    np.cumsum(sizes, out=offsets[1:])
    return offsets, order


class HistGradientBoostingRanker(_CompiledBoosting, BaseEstimator):
    """Histogram-based gradient boosting for learning to rank (LambdaMART for NDCG), grown by
    fastml's compiled booster.

    fit takes the queries as ``group`` (sizes of consecutive queries, as LightGBM) or ``qid``
    (each row's query, as XGBoost); with neither, all rows are one query. Labels are relevance
    grades, integers or not, in [0, 30] (gain 2**y - 1). predict gives scores (higher ranks
    first). Not there: sample weights, categorical features, early stopping.

    Parameters
    ----------
    learning_rate, max_iter, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization,
    max_bins, verbose, random_state : as HistGradientBoostingRegressor's (random_state only
        draws the rows the bin thresholds come from, above 200,000 rows).
    lambdarank_truncation_level : int, default=30
        Only pairs with a row among the first this many ranks of the current scores count,
        and the ideal DCG is taken at this depth (LightGBM's lambdarank_truncation_level).
    lambdarank_norm : bool, default=True
        Weigh each pair by 1 / (0.01 + its score gap) and rescale a query's lambdas by
        log2(1 + S) / S (LightGBM's lambdarank_norm).
    sigmoid : float, default=1.0
        The scale of score gaps in the pairs' logistic probability (LightGBM's sigmoid).
    n_jobs : int, default=None
        Threads of fit and predict (None: all of fastml's); the model never depends on it.

    Attributes
    ----------
    n_iter_, n_trees_per_iteration_ (1), n_features_in_, feature_names_in_,
    feature_importances_ (gain), is_categorical_ (None).
    """

    _parameter_constraints = {
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "max_bins": [Interval(Integral, 2, 255, closed="both")],
        "lambdarank_truncation_level": [Interval(Integral, 1, None, closed="left")],
        "lambdarank_norm": ["boolean"],
        "sigmoid": [Interval(Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }
    # the regressor's input handling, without categorical features
    categorical_features = None

    def __init__(self, *, learning_rate=0.1, max_iter=100, max_leaf_nodes=31, max_depth=None,
                 min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                 lambdarank_truncation_level=30, lambdarank_norm=True, sigmoid=1.0, verbose=0,
                 random_state=None, n_jobs=None):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.lambdarank_truncation_level = lambdarank_truncation_level
        self.lambdarank_norm = lambdarank_norm
        self.sigmoid = sigmoid
        self.verbose = verbose
        self.random_state = random_state
        self.n_jobs = n_jobs

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, *, group=None, qid=None):
        """Fit the ranker.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,): relevance labels in [0, 30]
        group : array-like of int, default=None: sizes of consecutive queries, summing to
            n_samples
        qid : array-like of shape (n_samples,), default=None: each row's query

        Returns
        -------
        self : object
        """
        self._n_threads = effective_n_threads(self.n_jobs)
        X, _ = self._preprocess_X(X, reset=True)
        y = check_y(y, estimator=self).astype(np.float64)
        check_consistent_length(X, y)
        if np.any(y < 0) or np.any(y > _MAX_LABEL):
            raise ValueError(f"HistGradientBoostingRanker takes relevance labels in "
                             f"[0, {_MAX_LABEL}] (gain 2**y - 1).")
        offsets, order = query_offsets(X.shape[0], group, qid)
        if order is not None:
            X, y = X[order], y[order]
        self._random_seed = check_random_state(self.random_state).randint(
            np.iinfo(np.uint32).max, dtype="u8")
        self._n_features = X.shape[1]
        codes = self._bin_data(X, None, is_training_data=True)
        growth = self._growth(codes, False, None, None, 1.0)
        codes = np.asfortranarray(codes)  # read feature by feature, as in the estimators' fit
        y = np.ascontiguousarray(y)
        raw = np.zeros((codes.shape[0], 1))
        gh = np.empty((codes.shape[0], 2), dtype=np.float32)
        self._predictors = []
        for _ in range(self.max_iter):
            _boost_fast.lambdarank_gradients(
                y, raw[:, 0], offsets, self.lambdarank_truncation_level,
                bool(self.lambdarank_norm), float(self.sigmoid), gh, self._n_threads)
            tree = _boost_fast.grow_tree(codes=codes, gh=gh, seed=0, **growth)
            self._predictors.append([self._make_predictor(tree)])
            tree.add_leaf_values(raw, 0, self._n_threads)
        self.n_iter_ = self.max_iter
        self.n_trees_per_iteration_ = 1
        self._pack_model()
        return self

    def predict(self, X):
        """Scores of X's rows (higher ranks first), shape (n_samples,)."""
        check_is_fitted(self)
        X = self._preprocess_X(X, reset=False)
        raw = np.zeros((X.shape[0], 1))
        self._predict_iterations(X, self._predictors, raw, False, None)
        return raw[:, 0]
