"""HistGradientBoostingRanker: LambdaMART on fastml's compiled booster (scikit-learn has no
ranker; the model of reference is LightGBM's LGBMRanker, objective "lambdarank").

Each iteration takes the NDCG lambdas of the current scores (compiled, query by query:
fastml.ensemble._boost_fast.lambdarank_gradients, LightGBM's lambdarank defaults, each row's
times its sample weight as LightGBM's) and grows one tree on them with the booster's grower
(the regressor's: histograms, best-first growth, min_samples_leaf, l2, categorical splits),
shrunk by learning_rate. The bins and the categorical preprocessing are the regressor's, and so
is prediction (the packed compiled walk); sparse X is taken as by the regressor. Early stopping
is the booster's rule on NDCG@eval_at, with whole queries held out.
"""
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.ensemble import HistGradientBoostingRegressor as _SkRegressor
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d

from .._backend import effective_n_threads
from ..utils._sklearn_compat import HGBBase, check_sample_weight, check_y, fit_context
from . import _boost_fast
from ._hist_gradient_boosting import _CompiledBoosting

# LightGBM's label_gain covers labels 0 .. 30 (gain 2^label - 1)
_MAX_LABEL = 30
# the training NDCG of early stopping is taken on whole queries of at most this many rows, as
# scikit-learn's booster scores a subsample of 10,000 training rows
_SMALL_TRAINSET = 10_000


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


def select_queries(offsets, chosen):
    """(rows, offsets) of the queries chosen (a boolean mask over the queries), in their
    order: a boolean mask over the rows and the chosen queries' offsets among them."""
    sizes = np.diff(offsets)
    new_offsets = np.zeros(int(chosen.sum()) + 1, dtype=np.int64)
    np.cumsum(sizes[chosen], out=new_offsets[1:])
    return np.repeat(chosen, sizes), new_offsets


class QueryNDCG:
    """The mean NDCG@k over the queries of labels y (query q: rows offsets[q] .. offsets[q +
    1]) of any scores, as LightGBM's ndcg metric: gain 2^y - 1, discount 1 / log2(2 + rank),
    equal scores ranked in row order, a query whose ideal DCG is 0 counted as 1, and with
    sample_weight a mean weighted by each query's mean row weight (LightGBM's query weights;
    LightGBM adds such a query's 1 unweighted, fastml weighs it as the others). The DCGs are
    compiled (_boost_fast.query_dcg: one sort per query) and the ideal ones taken once, so that
    early stopping scores an iteration in a pass over its rows."""

    def __init__(self, y, offsets, k, sample_weight=None, n_threads=1):
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.offsets, self.k, self.n_threads = offsets, k, n_threads
        self.ideal = self._dcg(y)
        sizes = np.diff(offsets)
        self.weight = (None if sample_weight is None else
                       np.add.reduceat(sample_weight, offsets[:-1]) / sizes)

    def _dcg(self, score):
        dcg = np.empty(len(self.offsets) - 1)
        _boost_fast.query_dcg(self.y, np.ascontiguousarray(score, dtype=np.float64),
                              self.offsets, self.k, dcg, self.n_threads)
        return dcg

    def __call__(self, score):
        relevant = self.ideal > 0
        ndcg = np.ones(len(self.ideal))
        ndcg[relevant] = self._dcg(score)[relevant] / self.ideal[relevant]
        return float(np.average(ndcg, weights=self.weight))


class _ScikitLearnCategories:
    """scikit-learn's categorical preprocessing of its boosters (an OrdinalEncoder in a
    ColumnTransformer), to which _CompiledBoosting._preprocess_X hands the categories it does
    not encode itself (pandas categoricals, strings); the regressor inherits it from
    scikit-learn's estimator, the ranker borrows it (its cardinality check is
    _CompiledBoosting._check_categories, first in the ranker's bases)."""

    _preprocess_X = HGBBase._preprocess_X


# parameters whose constraints are the regressor's
_BOOSTER_PARAMETERS = ("categorical_features", "early_stopping", "validation_fraction",
                       "n_iter_no_change", "tol")


class HistGradientBoostingRanker(_CompiledBoosting, _ScikitLearnCategories, BaseEstimator):
    """Histogram-based gradient boosting for learning to rank (LambdaMART for NDCG), grown by
    fastml's compiled booster.

    fit takes the queries as ``group`` (sizes of consecutive queries, as LightGBM) or ``qid``
    (each row's query, as XGBoost); with neither, all rows are one query. Labels are relevance
    grades, integers or not, in [0, 30] (gain 2**y - 1). predict gives scores (higher ranks
    first), staged_predict those after each iteration; score gives the mean NDCG@eval_at over
    queries.

    Where it differs from LightGBM's LGBMRanker: the bins are scikit-learn's (weighted by
    sample_weight, as the regressor's), the trees scikit-learn's booster's (min_samples_leaf,
    l2_regularization; LightGBM's min_child_weight and bagging are not there); early stopping
    is scikit-learn's booster's rule, and the model keeps every iteration up to the stop (LightGBM
    predicts with its best iteration); the NDCG of a weighted query whose ideal DCG is 0 is
    weighted (LightGBM adds its 1 unweighted).

    Parameters
    ----------
    learning_rate, max_iter, max_leaf_nodes, max_depth, min_samples_leaf, l2_regularization,
    max_bins, verbose : as HistGradientBoostingRegressor's.
    categorical_features : as HistGradientBoostingRegressor's (a boolean mask, indices,
        feature names, "from_dtype" for pandas categoricals, or None), default="from_dtype".
    early_stopping : "auto" or bool, default="auto"
        "auto": early stopping when fit has more than 10,000 rows (scikit-learn's booster's).
    validation_fraction : float, int or None, default=0.1
        The share (or number, an int) of the queries held out, whole, to score early stopping
        (drawn with random_state); None: early stopping scores the training queries.
    n_iter_no_change : int, default=10
    tol : float, default=1e-7
        Fit stops when none of the last n_iter_no_change NDCG scores improved on the one before
        them by more than tol (scikit-learn's booster's rule).
    eval_at : int, default=10
        k of the NDCG@k that early stopping and score take (LightGBM's eval_at; one k).
    lambdarank_truncation_level : int, default=30
        Only pairs with a row among the first this many ranks of the current scores count,
        and the ideal DCG is taken at this depth (LightGBM's lambdarank_truncation_level).
    lambdarank_norm : bool, default=True
        Weigh each pair by 1 / (0.01 + its score gap) and rescale a query's lambdas by
        log2(1 + S) / S (LightGBM's lambdarank_norm).
    sigmoid : float, default=1.0
        The scale of score gaps in the pairs' logistic probability (LightGBM's sigmoid).
    random_state : int, RandomState or None, default=None
        Draws the validation queries and the rows the bin thresholds come from (above 200,000
        rows) and the training queries early stopping scores (above 10,000 rows).
    n_jobs : int, default=None
        Threads of fit and predict (None: all of fastml's); the model never depends on it.

    Attributes
    ----------
    n_iter_, n_trees_per_iteration_ (1), n_features_in_, feature_names_in_,
    feature_importances_ (gain), is_categorical_, do_early_stopping_,
    train_score_, validation_score_ : NDCG@eval_at after each iteration (the first before
        any), of up to 10,000 rows of training queries and of the validation queries, when
        early stopping (empty otherwise), as the booster's.
    """

    _parameter_constraints = {
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "max_leaf_nodes": [Interval(Integral, 2, None, closed="left"), None],
        "max_depth": [Interval(Integral, 1, None, closed="left"), None],
        "min_samples_leaf": [Interval(Integral, 1, None, closed="left")],
        "l2_regularization": [Interval(Real, 0, None, closed="left")],
        "max_bins": [Interval(Integral, 2, 255, closed="both")],
        **{name: _SkRegressor._parameter_constraints[name] for name in _BOOSTER_PARAMETERS},
        "eval_at": [Interval(Integral, 1, None, closed="left")],
        "lambdarank_truncation_level": [Interval(Integral, 1, None, closed="left")],
        "lambdarank_norm": ["boolean"],
        "sigmoid": [Interval(Real, 0, None, closed="neither")],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
        "n_jobs": [Integral, None],
    }
    # the booster's early-stopping split draws without stratifying
    _is_classifier_loss = False
    _should_stop = HGBBase._should_stop

    def __init__(self, *, learning_rate=0.1, max_iter=100, max_leaf_nodes=31, max_depth=None,
                 min_samples_leaf=20, l2_regularization=0.0, max_bins=255,
                 categorical_features="from_dtype", early_stopping="auto",
                 validation_fraction=0.1, n_iter_no_change=10, tol=1e-7, eval_at=10,
                 lambdarank_truncation_level=30, lambdarank_norm=True, sigmoid=1.0, verbose=0,
                 random_state=None, n_jobs=None):
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.max_bins = max_bins
        self.categorical_features = categorical_features
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.eval_at = eval_at
        self.lambdarank_truncation_level = lambdarank_truncation_level
        self.lambdarank_norm = lambdarank_norm
        self.sigmoid = sigmoid
        self.verbose = verbose
        self.random_state = random_state
        self.n_jobs = n_jobs

    def _check_ranking(self, X, y, group, qid, sample_weight):
        """(y, sample_weight, offsets, order) of one set of queries: the labels as float64 in
        [0, 30], the weights non-negative and finite (or None), the query offsets and the row
        order that makes the queries contiguous (None when they are)."""
        y = check_y(y, estimator=self).astype(np.float64)
        check_consistent_length(X, y)
        if np.any(y < 0) or np.any(y > _MAX_LABEL):
            raise ValueError(f"HistGradientBoostingRanker takes relevance labels in "
                             f"[0, {_MAX_LABEL}] (gain 2**y - 1).")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64,
                                                ensure_non_negative=True)
        offsets, order = query_offsets(X.shape[0], group, qid)
        return y, sample_weight, offsets, order

    def _ranking_data(self, X, y, group, qid, sample_weight, reset):
        """X preprocessed (and, from fit, the known categories), then _check_ranking's, the
        rows in query order."""
        X = self._preprocess_X(X, reset=reset)
        X, known_categories = X if reset else (X, None)
        y, sample_weight, offsets, order = self._check_ranking(X, y, group, qid, sample_weight)
        if order is not None:
            X, y = X[order], y[order]
            sample_weight = None if sample_weight is None else sample_weight[order]
        return X, y, sample_weight, offsets, known_categories

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, group=None, qid=None, X_val=None, y_val=None,
            group_val=None, qid_val=None, sample_weight_val=None):
        """Fit the ranker.

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,): relevance labels in [0, 30]
        sample_weight : array-like of shape (n_samples,), default=None: each row's gradient
            and hessian are multiplied by its weight (LightGBM's weighting); early stopping's
            NDCG is a mean weighted by the queries' mean row weights
        group : array-like of int, default=None: sizes of consecutive queries, summing to
            n_samples
        qid : array-like of shape (n_samples,), default=None: each row's query
        X_val, y_val, group_val, qid_val, sample_weight_val : validation queries for early
            stopping, default=None (in place of the validation_fraction held out)

        Returns
        -------
        self : object
        """
        self._n_threads = effective_n_threads(self.n_jobs)
        X, y, sample_weight, offsets, known_categories = self._ranking_data(
            X, y, group, qid, sample_weight, reset=True)
        validation = None
        if X_val is not None or y_val is not None:
            if X_val is None or y_val is None:
                raise ValueError("Pass both X_val and y_val to fit, or neither.")
            if self.early_stopping is False:
                raise ValueError("X_val and y_val are passed to fit while early_stopping is "
                                 "False: set early_stopping to 'auto' or True.")
            validation = self._ranking_data(X_val, y_val, group_val, qid_val,
                                            sample_weight_val, reset=False)[:4]
        self._random_seed = check_random_state(self.random_state).randint(
            np.iinfo(np.uint32).max, dtype="u8")
        n_queries = len(offsets) - 1
        try:
            held_out = self._early_stopping_split(X.shape[0], validation is not None, None,
                                                  np.arange(n_queries))
        except ValueError as error:  # train_test_split's, of too few queries to hold any out
            raise ValueError(
                f"Early stopping holds out whole queries, and fit has {n_queries}: pass more "
                f"queries (group or qid), or X_val and y_val, or set early_stopping to False."
            ) from error
        if held_out is not None:
            validation, (X, y, sample_weight, offsets) = self._hold_out(
                X, y, sample_weight, offsets, held_out[1])
        self._n_features = X.shape[1]
        codes = self._bin_data(X, sample_weight, is_training_data=True,
                               known_categories=known_categories)
        self._boost(codes, np.ascontiguousarray(y), sample_weight, offsets, validation)
        return self

    def _hold_out(self, X, y, sample_weight, offsets, validation_queries):
        """(validation set, training set), each (X, y, sample_weight, offsets), the queries of
        validation_queries (their numbers) held out whole."""
        chosen = np.zeros(len(offsets) - 1, dtype=bool)
        chosen[validation_queries] = True
        sets = []
        for part in (chosen, ~chosen):
            rows, part_offsets = select_queries(offsets, part)
            sets.append((X[rows], y[rows],
                         None if sample_weight is None else sample_weight[rows], part_offsets))
        return sets

    def _small_trainset(self, offsets):
        """The rows (a boolean mask) and offsets of the training queries early stopping scores:
        all of them up to _SMALL_TRAINSET rows, else whole queries drawn with the fit's seed
        until the next would pass _SMALL_TRAINSET rows (at least one)."""
        sizes = np.diff(offsets)
        chosen = np.ones(len(sizes), dtype=bool)
        if offsets[-1] > _SMALL_TRAINSET:
            drawn = np.random.RandomState(self._random_seed).permutation(len(sizes))
            n_kept = max(1, int(np.searchsorted(np.cumsum(sizes[drawn]), _SMALL_TRAINSET,
                                                side="right")))
            chosen[:] = False
            chosen[drawn[:n_kept]] = True
        return select_queries(offsets, chosen)

    def _boost(self, codes, y, sample_weight, offsets, validation):
        """The boosting loop: lambdas, one tree, raw scores updated, and with early stopping
        the NDCG of the small trainset and of the validation queries after each iteration."""
        columns = self._grower_codes(codes)
        growth = self._growth(codes, columns, False, None, None, 1.0)
        self.n_trees_per_iteration_ = 1
        if self.do_early_stopping_:
            small_rows, small_offsets = self._small_trainset(offsets)
            train_ndcg = QueryNDCG(y[small_rows], small_offsets, self.eval_at,
                                   None if sample_weight is None else sample_weight[small_rows],
                                   self._n_threads)
            if self._use_validation_data:
                X_val, y_val, sample_weight_val, offsets_val = validation
                codes_val = self._bin_data(X_val, None, is_training_data=False)
                validation_ndcg = QueryNDCG(y_val, offsets_val, self.eval_at, sample_weight_val,
                                            self._n_threads)
                raw_val = np.zeros((codes_val.shape[0], 1))
        codes = columns
        raw = np.zeros((codes.shape[0], 1))
        gh = np.empty((codes.shape[0], 2), dtype=np.float32)
        self._predictors = []
        self.train_score_, self.validation_score_ = [], []
        for iteration in range(self.max_iter + 1):
            if self.do_early_stopping_:
                self.train_score_.append(train_ndcg(raw[small_rows, 0]))
                if self._use_validation_data:
                    if iteration:
                        self._predict_iterations(codes_val, self._predictors[-1:], raw_val,
                                                 True, None)
                    self.validation_score_.append(validation_ndcg(raw_val[:, 0]))
                if self._should_stop(self.validation_score_ if self._use_validation_data
                                     else self.train_score_):
                    break
            if iteration == self.max_iter:
                break
            _boost_fast.lambdarank_gradients(
                y, raw[:, 0], offsets, self.lambdarank_truncation_level,
                bool(self.lambdarank_norm), float(self.sigmoid), gh, self._n_threads,
                sample_weight)
            tree = _boost_fast.grow_tree(codes=codes, gh=gh, seed=0,
                                         is_categorical=self._categorical_mask(), **growth)
            self._predictors.append([self._make_predictor(tree)])
            tree.add_leaf_values(raw, 0, self._n_threads, growth["buffers"])
        self.n_iter_ = len(self._predictors)
        self.train_score_ = np.asarray(self.train_score_)
        self.validation_score_ = np.asarray(self.validation_score_)
        self._pack_model()

    def predict(self, X):
        """Scores of X's rows (higher ranks first), shape (n_samples,)."""
        check_is_fitted(self)
        return self._scores(self._preprocess_X(X, reset=False))

    def _scores(self, X):
        """predict's scores of a preprocessed X."""
        raw = np.zeros((X.shape[0], 1))
        self._predict_iterations(X, self._predictors, raw, False, None)
        return raw[:, 0]

    def staged_predict(self, X):
        """The scores of X's rows after each iteration (a generator of arrays (n_samples,))."""
        check_is_fitted(self)
        X = self._preprocess_X(X, reset=False)
        raw = np.zeros((X.shape[0], 1))
        for iteration in range(len(self._predictors)):
            self._predict_iterations(X, self._predictors[iteration:iteration + 1], raw, False,
                                     None)
            yield raw[:, 0].copy()

    def score(self, X, y, sample_weight=None, *, group=None, qid=None):
        """Mean NDCG@eval_at over the queries of X (as LightGBM's ndcg metric: gain 2**y - 1,
        a query with no relevant row counts 1; with sample_weight, weighted by the queries'
        mean row weights).

        Parameters
        ----------
        X : {array-like, sparse matrix} of shape (n_samples, n_features)
        y : array-like of shape (n_samples,): relevance labels in [0, 30]
        sample_weight : array-like of shape (n_samples,), default=None
        group, qid : the queries, as in fit (neither: one query)

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        X = self._preprocess_X(X, reset=False)
        y, sample_weight, offsets, order = self._check_ranking(X, y, group, qid, sample_weight)
        score = self._scores(X)
        if order is not None:
            y, score = y[order], score[order]
            sample_weight = None if sample_weight is None else sample_weight[order]
        return QueryNDCG(y, offsets, self.eval_at, sample_weight,
                         effective_n_threads(self.n_jobs))(score)
