"""HistGradientBoostingClassifier and HistGradientBoostingRegressor on fastml's compiled booster.

They subclass scikit-learn's estimators, so that every parameter, attribute, error message and
method that does not grow or walk trees is scikit-learn's own (parameter validation, target
encoding, class weights, the losses' baselines and early-stopping scores, staged methods). fit
runs scikit-learn's loop with the work in C++ (fastml.ensemble._boost_fast): gradients of the
loss, tree growth (histograms, subtraction, split search), raw predictions updated in place;
prediction walks the trees packed once, in compiled code, with no thread start-up for a small
batch. The bin thresholds are scikit-learn's _BinMapper's (so models compare tree for tree)
and the codes fastml.tree's compiled encoder's; float32 X is binned and walked as float32.
Categorical features go through scikit-learn's own preprocessing (an OrdinalEncoder in a
ColumnTransformer that puts them first, unknown categories becoming NaN), or, for NumPy X whose
categories are integers, through IntegerCategoryEncoder, which gives the same codes in O(n), so
that each category is its own bin code and the compiled split search sorts them as
scikit-learn's. A categorical feature may have up to 65535 categories (scikit-learn raises
past max_bins): one of more than max_bins categories is "wide", its codes uint16 in an array of
their own (the other features' stay uint8, so a model without wide features is unchanged) and
its histograms sized to its categories; such a model's categorical bitsets are wider than
scikit-learn's 8 words, and its binned X is uint16.
Sparse X (CSR or CSC; scikit-learn's estimators reject it) is binned column by column from its
CSC form, every implicit zero taking its feature's bin of 0, so that the model is the one the
dense matrix gives; prediction walks its CSR rows, made dense in compiled code a block of
rows at a time.

The fitted trees are kept as scikit-learn's TreePredictor objects in ``_predictors``, so that the
inherited methods that read them (partial dependence, verbose statistics) work unchanged.
"""
from numbers import Integral
from time import time

import numpy as np
from scipy import sparse
from sklearn.ensemble import HistGradientBoostingClassifier as _SkClassifier
from sklearn.ensemble import HistGradientBoostingRegressor as _SkRegressor
from sklearn.metrics import check_scoring
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted, validate_data

from .._backend import effective_n_threads
from ..metrics._labels import LabelScan, integer_labels
from ..tree import _cart
from ..utils._sklearn_compat import (HGB_PREDICTOR_RECORD_DTYPE, HGB_SCORERS, TreePredictor,
                                     check_categorical_features, check_monotonic_cst,
                                     check_sample_weight, check_y, fit_context,
                                     hgb_binning_thresholds, is_scalar_nan)
from ..utils._threads import for_each_in_threads
from . import _boost_fast
from ._categorical_encoding import IntegerCategoryEncoder

# the bin thresholds are chosen from at most this many rows, as scikit-learn's _BinMapper
_BIN_SUBSAMPLE = 200_000
# scikit-learn's TreeGrower default
_MIN_HESSIAN_TO_SPLIT = 1e-3
_LOSS_CODES = {"squared_error": _boost_fast.Loss.squared_error,
               "absolute_error": _boost_fast.Loss.absolute_error,
               "quantile": _boost_fast.Loss.quantile,
               "poisson": _boost_fast.Loss.poisson,
               "gamma": _boost_fast.Loss.gamma}
_N_JOBS_CONSTRAINT = [Integral, None]
# quantized_gradients: gradients rounded to the integers -2 .. 2, hessians 0 .. 4 (LightGBM's
# default num_grad_quant_bins)
_QUANTIZED_LEVELS = 4
_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_NO_FEATURES = np.zeros(0, dtype=np.int64)
# the most categories of a categorical feature (its uint16 codes keep one for missing values)
MAX_CATEGORIES = int(_boost_fast.MAX_CATEGORIES)
# categorical features of more categories than this are wide (see the module's docstring);
# None: max_bins, so that every model scikit-learn fits is fitted as scikit-learn fits it.
# The tests lower it to run the wide code on features that scikit-learn takes.
_WIDE_ABOVE = None
# several rows are predicted through the trees' leaf bitmasks (csrc/boost/leaf_masks*); the
# tests turn it off to compare with the walk
_LEAF_MASKS = True


def check_cardinality(name, n_categories):
    """scikit-learn's _check_categories' error, at fastml's bound MAX_CATEGORIES instead of
    max_bins."""
    if n_categories > MAX_CATEGORIES:
        raise ValueError(
            f"Categorical feature {name} is expected to have a cardinality <= "
            f"{MAX_CATEGORIES} but actually has a cardinality of {n_categories}.")



# scikit-learn's cap on thresholds (ALMOST_INF): +inf is left for the split of missing values
_ALMOST_INF = 1e300


def _column_thresholds(column, max_bins, sample_weight):
    """scikit-learn's _find_binning_thresholds, value for value. Unweighted, it sorts the column
    once (scikit-learn sorts it three times: argsort, unique, percentile)."""
    if sample_weight is not None:
        return hgb_binning_thresholds(column.astype(np.float64), max_bins, sample_weight)
    # sorted in X's dtype (float32: a third faster), then widened: the same values in order
    column = np.sort(column[~np.isnan(column)]).astype(np.float64, copy=False)
    distinct = column[np.r_[True, column[1:] != column[:-1]]] if len(column) else column
    if len(distinct) <= 1:
        return np.empty(0)
    if len(distinct) <= max_bins:
        thresholds = (distinct[:-1] + distinct[1:]) / 2  # numpy's mean of each pair
    else:
        percentiles = np.linspace(0, 100, num=max_bins + 1)[1:-1]
        thresholds = np.percentile(column, percentiles, method="averaged_inverted_cdf")
        unique = np.unique(thresholds)
        if len(unique) != len(thresholds):
            thresholds = unique
    return np.minimum(thresholds, _ALMOST_INF)


def bin_thresholds(X, max_bins, sample_weight, n_threads, known_categories=None):
    """(thresholds, counts): (n_features, N_BINS) float64, each feature's thresholds +inf padded
    (as encode_bins reads them), and how many each has. Features in threads: unweighted dense
    X's in compiled code, the others' in Python threads (NumPy's sort releases the GIL). A
    categorical feature (known_categories[f] not None: its encoded
    categories 0 .. n - 1) has the thresholds 0 .. n - 2, so that category c is bin c."""
    categorical = [known_categories is not None and known_categories[f] is not None
                   for f in range(X.shape[1])]
    if sparse.issparse(X) or sample_weight is not None:
        out = np.full((X.shape[1], _cart.N_BINS), np.inf)
        counts = np.zeros(X.shape[1], dtype=np.int64)
        left = range(X.shape[1])
    else:
        # unweighted dense columns in compiled code (a radix sort, the percentiles computed as
        # NumPy computes them): the bench's 200k x 28 float32 subsample, one thread, medians of
        # 5: 0.063 s of CPU against 0.32 s for _column_thresholds. A feature whose thresholds
        # came out NaN (infinite values) is left to NumPy.
        numerical = np.flatnonzero(~np.asarray(categorical, dtype=bool)).astype(np.int64)
        quantiles = np.true_divide(np.linspace(0, 100, num=max_bins + 1)[1:-1], 100)
        out, counts = _cart.dense_bin_thresholds(np.ascontiguousarray(X), numerical, max_bins,
                                                 quantiles, n_threads)
        left = [f for f in range(X.shape[1]) if categorical[f] or counts[f] < 0]
    if sparse.issparse(X):
        X = X.tocsc()

    def column(f):
        """Feature f's values, one per row (of a sparse X, only this column made dense)."""
        if not sparse.issparse(X):
            return X[:, f]
        out = np.zeros(X.shape[0], dtype=X.dtype)
        part = slice(X.indptr[f], X.indptr[f + 1])
        out[X.indices[part]] = X.data[part]
        return out

    def one(f):
        if categorical[f]:
            t = known_categories[f][:-1]
        else:
            t = _column_thresholds(column(f), max_bins, sample_weight)
        counts[f] = len(t)
        out[f] = np.inf
        if len(t) < _cart.N_BINS:  # a wide feature's codes are its categories (uint16 codes)
            out[f, :len(t)] = t

    for_each_in_threads(lambda k: one(left[k]), len(left), n_threads)
    return out, counts


def _pack(predictors, n_features, n_outputs, n_categories):
    """The trees of predictors (a list of iterations, each a list of TreePredictor, one per
    output) packed for the compiled walk. A categorical split reads its tree's binned bitsets
    (renumbered into one array; all of one width, wider than 8 words in a model with wide
    features) and, in place of a threshold, its feature's number of known categories
    (n_categories, per feature)."""
    trees = [(k, p) for iteration in predictors for k, p in enumerate(iteration)]
    nodes = np.concatenate([p.nodes for _, p in trees])
    offsets = np.zeros(len(trees) + 1, dtype=np.int64)
    np.cumsum([len(p.nodes) for _, p in trees], out=offsets[1:])
    bitsets = np.concatenate([p.binned_left_cat_bitsets for _, p in trees])
    first_bitset = np.cumsum([0] + [len(p.binned_left_cat_bitsets) for _, p in trees])[:-1]
    is_cat = np.ascontiguousarray(nodes["is_categorical"])
    bitset_idx = nodes["bitset_idx"].astype(np.int64) + np.repeat(first_bitset,
                                                                  np.diff(offsets))
    threshold = np.array(nodes["num_threshold"], dtype=np.float64)
    cat = is_cat.astype(bool) & (nodes["is_leaf"] == 0)
    threshold[cat] = np.asarray(n_categories, dtype=np.float64)[nodes["feature_idx"][cat]]
    return _boost_fast.PackedTrees(
        offsets=offsets, output=np.array([k for k, _ in trees], dtype=np.int64),
        is_leaf=np.ascontiguousarray(nodes["is_leaf"]),
        feature=nodes["feature_idx"].astype(np.int64), threshold=threshold,
        bin=np.ascontiguousarray(nodes["bin_threshold"]),
        missing_left=np.ascontiguousarray(nodes["missing_go_to_left"]),
        left=nodes["left"].astype(np.int64), right=nodes["right"].astype(np.int64),
        value=np.ascontiguousarray(nodes["value"]), is_categorical=is_cat,
        bitset_idx=np.where(cat, bitset_idx, 0), bitsets=np.ascontiguousarray(bitsets),
        lockstep=_balanced(nodes, offsets), n_features=n_features, n_outputs=n_outputs)


def _balanced(nodes, offsets):
    """Per tree, whether its training rows reached leaves at 0.6 of its greatest leaf depth or
    deeper on average: such trees are walked by blocks of rows in lockstep (see the walk in
    csrc/boost/predict.cpp). Measured on trees of 31 leaves fitted to 200k x 28 rows, one
    thread: regression trees (the ratio's deciles 0.63 and 0.84) predicted 2.1x faster in
    lockstep, classification trees (0.16 and 0.50) slower, so the threshold lies between."""
    tree = np.repeat(np.arange(len(offsets) - 1), np.diff(offsets))
    leaf = nodes["is_leaf"].astype(bool)
    # one more row per leaf: trees without counts (all 0) weigh their leaves alike
    depth, count = nodes["depth"][leaf].astype(np.float64), nodes["count"][leaf] + 1.0
    mean = (np.bincount(tree[leaf], weights=count * depth, minlength=len(offsets) - 1)
            / np.bincount(tree[leaf], weights=count, minlength=len(offsets) - 1))
    deepest = np.zeros(len(offsets) - 1)
    np.maximum.at(deepest, tree[leaf], depth)
    return (mean >= 0.6 * deepest).astype(np.uint8)


def row_major_codes(codes, wide):
    """grow_tree's row_codes: the codes (n_rows, n_features) row-major as uint8, each wide
    feature's (the features of int64 array wide, in wide_codes' order) low byte in its own
    column and its high byte in a column after the others, so that a node's histograms read
    every code of a row, the wide ones' too, from its row of n_features + len(wide) bytes."""
    if not wide.size:
        return np.ascontiguousarray(codes, np.uint8)
    out = np.empty((codes.shape[0], codes.shape[1] + wide.size), dtype=np.uint8)
    out[:, :codes.shape[1]] = codes & 0xFF
    out[:, codes.shape[1]:] = codes[:, wide] >> 8
    return out


def encode_sparse(X, thresholds, counts):
    """Bin codes (n_rows, n_features) uint8, row-major, of sparse X: encode_bins's codes (a
    value's bin is the number of thresholds below it, MISSING_BIN for NaN) with each implicit
    zero given its feature's bin of 0, from the CSC columns."""
    X = X.tocsc()
    n, F = X.shape
    zero_bins = np.array([np.searchsorted(thresholds[f, :counts[f]], 0.0) for f in range(F)],
                         dtype=np.uint8)
    codes = np.empty((n, F), dtype=np.uint8)
    codes[...] = zero_bins
    for f in range(F):
        part = slice(X.indptr[f], X.indptr[f + 1])
        values = X.data[part].astype(np.float64)
        bins = np.searchsorted(thresholds[f, :counts[f]], values, side="left")
        bins[np.isnan(values)] = _boost_fast.MISSING_BIN
        codes[X.indices[part], f] = bins
    return codes


class _CompiledBoosting:
    """fit and the prediction walk over the compiled core, for both estimators."""

    # ----- input ------------------------------------------------------------------------------

    def _preprocess_X(self, X, *, reset):
        """scikit-learn's validation, keeping float32 X float32 (scikit-learn converts it to
        float64). With categorical features, the categorical features first, ordinally
        encoded: by IntegerCategoryEncoder for NumPy X of integer categories (X's dtype kept),
        else by scikit-learn's own preprocessing (its ColumnTransformer, in float64)."""
        kwargs = dict(dtype=[np.float64, np.float32], ensure_all_finite=False, order="C",
                      accept_sparse=["csr", "csc"])
        if not reset:
            preprocessor = getattr(self, "_preprocessor", None)
            if preprocessor is None:
                return validate_data(self, X, reset=False, **kwargs)
            if isinstance(preprocessor, IntegerCategoryEncoder):
                return preprocessor.transform(validate_data(self, X, reset=False, **kwargs),
                                              effective_n_threads(self.n_jobs))
            return np.ascontiguousarray(preprocessor.transform(X), dtype=np.float64)
        self.is_categorical_ = check_categorical_features(X, self.categorical_features)
        if self.is_categorical_ is not None:
            if sparse.issparse(X):
                raise ValueError("fastml's HistGradientBoosting takes categorical features "
                                 "with dense X only; pass X as an array or a DataFrame.")
            encoded = self._encode_integer_categories(X, kwargs)
            if encoded is not None:
                return encoded
            X, known_categories = super()._preprocess_X(X, reset=True)
            return np.ascontiguousarray(X, dtype=np.float64), known_categories
        self._preprocessor = None
        self._is_categorical_remapped = None
        return validate_data(self, X, **kwargs), None

    def _encode_integer_categories(self, X, validation_kwargs):
        """fit's categorical preprocessing by IntegerCategoryEncoder (the same codes as
        scikit-learn's OrdinalEncoder, in O(n)) when X is a NumPy array whose categorical
        columns hold integers; (X encoded, known_categories), or None for scikit-learn's."""
        if not (isinstance(X, np.ndarray) and X.ndim == 2 and X.dtype.kind in "fiu"):
            return None
        X = validate_data(self, X, **validation_kwargs)
        n_threads = effective_n_threads(self.n_jobs)
        encoder = IntegerCategoryEncoder.fit(X, self.is_categorical_, n_threads)
        if encoder is None:
            return None
        for j, categories in enumerate(encoder.categories_):
            check_cardinality(f"at index {j}", categories.size)
        k = len(encoder.categories_)
        self._preprocessor = encoder
        self._is_categorical_remapped = np.arange(X.shape[1]) < k
        known_categories = ([np.arange(c.size, dtype=np.float64) for c in encoder.categories_]
                            + [None] * (X.shape[1] - k))
        return encoder.transform(X, n_threads), known_categories

    def _check_categories(self):
        """scikit-learn's (called by its _preprocess_X): the known categories of each feature
        (None for the numerical ones), at most MAX_CATEGORIES of them instead of max_bins."""
        encoder = self._preprocessor.named_transformers_["encoder"]
        known_categories = [None] * self._preprocessor.n_features_in_
        columns = np.arange(self._preprocessor.n_features_in_)[
            self._preprocessor.output_indices_["encoder"]]
        for f, categories in zip(columns, encoder.categories_):
            # the OrdinalEncoder lists NaN last where the column has missing values: not a
            # category here
            n_categories = len(categories) - (len(categories) > 0
                                              and is_scalar_nan(categories[-1]))
            names = getattr(encoder, "feature_names_in_", ())  # indexed as scikit-learn does
            check_cardinality(repr(names[f]) if f < len(names) else f"at index {f}",
                              n_categories)
            known_categories[f] = np.arange(n_categories, dtype=np.float64)
        return known_categories

    def _wide(self):
        """The indices of the wide categorical features (int64; none for a model fitted before
        they existed)."""
        return getattr(self, "_wide_features", _NO_FEATURES)

    def _missing_codes(self):
        """Each feature's code of missing values: MISSING_BIN, a wide feature's number of
        categories."""
        missing = np.full(len(self._n_bins_non_missing), int(_boost_fast.MISSING_BIN))
        wide = self._wide()
        missing[wide] = self._n_bins_non_missing[wide]
        return missing

    def _bin_data(self, X, sample_weight, is_training_data, known_categories=None,
                  columns=None):
        """Bin codes of X (row-major uint8, MISSING_BIN for NaN). For training data the bin
        thresholds are found first, scikit-learn's _BinMapper's on the same subsample as its
        own. columns: None, or OUT for dense X the same uint8 codes column-major (those of a
        wide feature cut to a byte), written as they are encoded."""
        tic = time()
        if is_training_data:
            n_samples = X.shape[0]
            if n_samples > _BIN_SUBSAMPLE:
                rng = check_random_state(self._random_seed)
                p = None if sample_weight is None else sample_weight / np.sum(sample_weight)
                subset = rng.choice(n_samples, _BIN_SUBSAMPLE, p=p, replace=True)
                X_fit, sw_fit = X[subset] if sparse.issparse(X) else X.take(subset, axis=0), None
            else:
                X_fit, sw_fit = X, sample_weight
            self._thresholds, counts = bin_thresholds(X_fit, self.max_bins, sw_fit,
                                                      self._n_threads, known_categories)
            self._n_bins_non_missing = (counts + 1).astype(np.uint16)
            above = self.max_bins if _WIDE_ABOVE is None else _WIDE_ABOVE
            self._wide_features = np.array(
                [f for f, known in enumerate(known_categories or ())
                 if known is not None and len(known) > above], dtype=np.int64)
        if sparse.issparse(X):
            codes = encode_sparse(X, self._thresholds, self._n_bins_non_missing - 1)
        else:
            codes, _ = _cart.encode_bins(X, self._thresholds, self._n_threads, bounds=False,
                                         columns=columns)
            if self._wide().size:
                # uint16, a wide feature's codes its categories (X holds them encoded, unknown
                # ones NaN), its missing code its number of categories
                codes = codes.astype(np.uint16)
                for f, missing in zip(self._wide(), self._missing_codes()[self._wide()]):
                    codes[:, f] = np.where(np.isnan(X[:, f]), missing, X[:, f])
                if columns is not None:  # their bytes as _grower_codes cuts them
                    columns[:, self._wide()] = codes[:, self._wide()].astype(np.uint8)
        if self.verbose:
            nbytes = X.data.nbytes if sparse.issparse(X) else X.nbytes
            print(f"Binning {nbytes / 1e9:.3f} GB of "
                  f"{'training' if is_training_data else 'validation'} data: {time() - tic:.3f} s")
        return codes

    # ----- fit --------------------------------------------------------------------------------

    def _loss_code(self):
        if self.n_trees_per_iteration_ > 1:
            return _boost_fast.Loss.multinomial
        if self._is_classifier_loss:
            return _boost_fast.Loss.binomial
        return _LOSS_CODES[self.loss]

    def _categorical_mask(self):
        """The categorical features of the preprocessed X (uint8), or None."""
        mask = getattr(self, "_is_categorical_remapped", None)
        return None if mask is None else np.ascontiguousarray(mask, dtype=np.uint8)

    def _make_predictor(self, tree):
        """scikit-learn's TreePredictor of a grown tree."""
        nodes = np.zeros(len(tree.value), dtype=HGB_PREDICTOR_RECORD_DTYPE)
        for name in ("value", "count", "depth", "gain", "is_leaf", "missing_go_to_left",
                     "left", "right", "bin_threshold"):
            nodes[name] = getattr(tree, name)
        feature = tree.feature
        nodes["feature_idx"] = feature
        # a split on the last non-missing bin sends the missing values alone one way: its
        # threshold is the +inf padding (a categorical split's, on bin 0, is its first
        # category, 0, or +inf for a single category: scikit-learn's values)
        split = nodes["is_leaf"] == 0
        nodes["num_threshold"][split] = self._thresholds[feature[split],
                                                         nodes["bin_threshold"][split]]
        binned = tree.cat_bitsets
        if not len(binned):  # no categorical split: empty bitsets of the model's width
            return TreePredictor(nodes, binned, binned)
        nodes["is_categorical"] = tree.is_categorical
        nodes["bitset_idx"] = tree.bitset_idx
        # a category is its own bin code: the raw bitsets are the binned ones less the
        # missing values' bit (scikit-learn's set_raw_bitset_from_binned_bitset)
        raw = binned.copy()
        split = nodes["is_categorical"].astype(bool) & (nodes["is_leaf"] == 0)
        missing = self._missing_codes()[nodes["feature_idx"][split]]
        raw[nodes["bitset_idx"][split], missing // 32] &= ~np.left_shift(
            np.uint32(1), (missing % 32).astype(np.uint32))
        return TreePredictor(nodes, binned, raw)

    @staticmethod
    def _grower_codes(codes):
        """The codes as grow_tree reads them, feature by feature (histograms, partitions):
        column-major uint8 (a wide feature's column, wrapped here, is not read: the grower reads
        _growth's wide_codes)."""
        return np.asfortranarray(codes, dtype=np.uint8)

    def _growth(self, codes, columns, constant_hessian, monotonic_cst, interaction_cst,
                max_features):
        """grow_tree's arguments other than codes, gh and seed: the tree parameters, the bins
        of the training codes (codes, and columns: _grower_codes's of them)."""
        wide = self._wide()
        # a feature's missing code is its largest (its bins lie below it): the column maxima of
        # the column-major codes, 1 ms at 1M x 28 where (codes == missing).any(axis=0) took
        # 25-90 ms and a 28 MB temporary
        has_missing = (columns.max(axis=0) == _boost_fast.MISSING_BIN).astype(np.uint8)
        # the row-major codes kept beside, for the histograms (row_codes, the wide features'
        # two bytes there too); the wide features' uint16 codes also apart, column-major (the
        # root's histograms and the partitions read by feature)
        code_arrays = dict(row_codes=row_major_codes(codes, wide))
        if wide.size:
            code_arrays.update(wide_codes=np.asfortranarray(codes[:, wide]), wide_features=wide)
            has_missing[wide] = (code_arrays["wide_codes"].max(axis=0)
                                 == self._missing_codes()[wide])
        return dict(**code_arrays, buffers=_boost_fast.GrowBuffers(),
            n_bins_non_missing=self._n_bins_non_missing, has_missing=has_missing,
            n_bins=self.max_bins + 1,
            max_leaf_nodes=0 if self.max_leaf_nodes is None else self.max_leaf_nodes,
            max_depth=0 if self.max_depth is None else self.max_depth,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=float(self.l2_regularization),
            min_hessian_to_split=_MIN_HESSIAN_TO_SPLIT, shrinkage=float(self.learning_rate),
            constant_hessian=constant_hessian,
            monotonic_cst=None if monotonic_cst is None else monotonic_cst.astype(np.int8),
            interaction_cst=([] if interaction_cst is None
                             else [sorted(int(f) for f in group) for group in interaction_cst]),
            feature_fraction=float(max_features), n_threads=self._n_threads,
            quantized_levels=(_QUANTIZED_LEVELS if getattr(self, "quantized_gradients", False)
                              else 0))

    def _quantize_seed(self, iteration, k):
        """The stochastic rounding's seed of tree k of an iteration (quantized_gradients): from
        the fit's random seed, so that random_state fixes the model."""
        return ((int(self._random_seed) << 32) + iteration * self.n_trees_per_iteration_
                + k) % (1 << 64)

    def _update_leaves_values(self, tree, y, raw_k, sample_weight):
        """Non-differentiable losses: each leaf's value is the loss's intercept of the residuals
        of its rows (scikit-learn's _update_leaves_values)."""
        rows = tree.rows
        values = tree.value
        for i in np.flatnonzero(tree.is_leaf):
            idx = rows[tree.leaf_start[i]:tree.leaf_stop[i]]
            sw = None if sample_weight is None else sample_weight[idx]
            values[i] = self.learning_rate * self._loss.fit_intercept_only(
                y_true=y[idx] - raw_k[idx], sample_weight=sw)
        tree.set_leaf_values(values)

    def _grow_iteration(self, codes, y, raw, sample_weight, gh, growth, gradients_ready,
                        last):
        """One boosting iteration: a tree per output, raw predictions updated. gh holds the
        gradients at raw where gradients_ready, else they are computed first. Returns the
        iteration's predictors and whether gh now holds the next iteration's gradients: with
        one output, and unless last, they are taken in the pass that adds the tree's leaf
        values to raw: a pass over raw and a thread team's start less an iteration (a tree of
        the bench's 1M x 28, one thread, CPU: regressor 2.19 -> 1.93 ms; the classifier's exp
        keeps it at 6.4 ms)."""
        quantile = float(getattr(self, "quantile", None) or 0.0)
        if not gradients_ready:
            _boost_fast.gradients(self._loss_code(), y, raw, sample_weight, quantile, gh,
                                  self._n_threads)
        iteration = []
        fuse = self.n_trees_per_iteration_ == 1 and not last
        for k in range(self.n_trees_per_iteration_):
            seed = 0
            if self.max_features < 1:
                seed = int(self._feature_subsample_rng.integers(np.iinfo(np.int64).max))
            tree = _boost_fast.grow_tree(
                codes=codes, gh=gh[k], seed=seed, is_categorical=self._categorical_mask(),
                quantize_seed=self._quantize_seed(len(self._predictors), k), **growth)
            if not self._loss.differentiable:
                self._update_leaves_values(tree, y, raw[:, k], sample_weight)
            iteration.append(self._make_predictor(tree))
            if fuse:
                tree.add_leaf_values_and_gradients(self._loss_code(), y, raw, sample_weight,
                                                   quantile, gh, self._n_threads,
                                                   growth["buffers"])
            else:
                tree.add_leaf_values(raw, k, self._n_threads, growth["buffers"])
        return iteration, fuse

    @fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit the gradient boosting model (scikit-learn's fit, trees grown in compiled code).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
        X_val, y_val, sample_weight_val : validation data for early stopping, default=None

        Returns
        -------
        self : object
        """
        fit_start_time = time()
        if not isinstance(self.loss, str):
            raise ValueError("fastml's HistGradientBoosting takes loss by name only, not a "
                             "BaseLoss instance.")
        self._n_threads = effective_n_threads(self.n_jobs)
        X, known_categories = self._preprocess_X(X, reset=True)
        y = check_y(y, estimator=self)
        y = self._encode_y(y)
        check_consistent_length(X, y)
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, X, dtype=np.float64)
            self._fitted_with_sw = True
        sample_weight = self._finalize_sample_weight(sample_weight, y)
        validation_data_provided = X_val is not None or y_val is not None
        if validation_data_provided:
            if y_val is None:
                raise ValueError("X_val is provided, but y_val was not provided.")
            if X_val is None:
                raise ValueError("y_val is provided, but X_val was not provided.")
            X_val = self._preprocess_X(X_val, reset=False)
            y_val = self._encode_y_val(check_y(y_val, estimator=self))
            check_consistent_length(X_val, y_val)
            if sample_weight_val is not None:
                sample_weight_val = check_sample_weight(sample_weight_val, X_val,
                                                        dtype=np.float64)
            if self.early_stopping is False:
                raise ValueError(
                    "X_val and y_val are passed to fit while at the same time "
                    "early_stopping is False. When passing X_val and y_val to fit,"
                    "early_stopping should be set to either 'auto' or True.")

        rng = check_random_state(self.random_state)
        if not self.warm_start or not self._is_fitted():
            self._random_seed = rng.randint(np.iinfo(np.uint32).max, dtype="u8")
            feature_subsample_seed = rng.randint(np.iinfo(np.uint32).max, dtype="u8")
            self._feature_subsample_rng = np.random.default_rng(feature_subsample_seed)
        self._validate_parameters()
        monotonic_cst = check_monotonic_cst(self, self.monotonic_cst)
        # the preprocessing puts the categorical features first: their constraints too
        if self.is_categorical_ is not None:
            monotonic_cst = np.concatenate((monotonic_cst[self.is_categorical_],
                                            monotonic_cst[~self.is_categorical_]))
        n_samples, self._n_features = X.shape
        interaction_cst = self._check_interaction_cst(self._n_features)
        self._in_fit = True
        try:
            self._fit_loop(X, y, sample_weight, X_val, y_val, sample_weight_val,
                           validation_data_provided, monotonic_cst, interaction_cst,
                           fit_start_time, known_categories)
        finally:
            del self._in_fit
        return self

    def _early_stopping_split(self, n_samples, validation_data_provided, y, *arrays):
        """scikit-learn's early-stopping set-up: sets do_early_stopping_ and
        _use_validation_data, and returns train_test_split's parts of arrays (the validation
        rows drawn with the fit's seed, stratified by y for a classifier), or None where no
        rows are held out. The distributed booster splits its row numbers with it."""
        self.do_early_stopping_ = (n_samples > 10_000 if self.early_stopping == "auto"
                                   else self.early_stopping)
        self._use_validation_data = (self.validation_fraction is not None
                                     or validation_data_provided)
        if validation_data_provided or not (self.do_early_stopping_
                                            and self._use_validation_data):
            return None
        return train_test_split(*arrays, test_size=self.validation_fraction,
                                stratify=y if self._is_classifier_loss else None,
                                random_state=self._random_seed)

    def _fit_loop(self, X, y, sample_weight, X_val, y_val, sample_weight_val,
                  validation_data_provided, monotonic_cst, interaction_cst, fit_start_time,
                  known_categories):
        n_samples = X.shape[0]
        self._loss = self._get_loss(sample_weight=sample_weight)
        arrays = (X, y) if sample_weight is None else (X, y, sample_weight)
        parts = self._early_stopping_split(n_samples, validation_data_provided, y, *arrays)
        if parts is not None:
            X_train, X_val, y_train, y_val = parts[:4]
            sample_weight_train, sample_weight_val = (parts[4:] if sample_weight is not None
                                                      else (None, None))
        else:
            X_train, y_train, sample_weight_train = X, y, sample_weight
            if not validation_data_provided:
                X_val = y_val = sample_weight_val = None
        y_train = np.ascontiguousarray(y_train, dtype=np.float64)
        if sample_weight_train is not None:
            sample_weight_train = np.ascontiguousarray(sample_weight_train, dtype=np.float64)

        # the grower's column-major codes, from the encoder's threads (dense X)
        columns = (None if sparse.issparse(X_train)
                   else np.empty(X_train.shape, dtype=np.uint8, order="F"))
        codes = self._bin_data(X_train, sample_weight_train, is_training_data=True,
                               known_categories=known_categories, columns=columns)
        codes_val = (self._bin_data(X_val, sample_weight_val, is_training_data=False)
                     if X_val is not None else None)
        if self.verbose:
            print("Fitting gradient boosted rounds:")
        n_samples = codes.shape[0]
        scoring_is_predefined_string = self.scoring in HGB_SCORERS
        need_raw_val = codes_val is not None and (scoring_is_predefined_string
                                                  or self.scoring == "loss")
        K = self.n_trees_per_iteration_
        raw_val = None
        if not (self._is_fitted() and self.warm_start):
            self._clear_state()
            self._baseline_prediction = self._loss.fit_intercept_only(
                y_true=y_train, sample_weight=sample_weight_train).reshape((1, -1))
            raw = np.zeros((n_samples, K), dtype=np.float64) + self._baseline_prediction
            self._predictors = predictors = []
            self._scorer = None
            self.train_score_ = []
            self.validation_score_ = []
            if self.do_early_stopping_:
                if need_raw_val:
                    raw_val = (np.zeros((codes_val.shape[0], K), dtype=np.float64)
                               + self._baseline_prediction)
                if self.scoring == "loss":
                    self._check_early_stopping_loss(
                        raw_predictions=raw, y_train=y_train,
                        sample_weight_train=sample_weight_train, raw_predictions_val=raw_val,
                        y_val=y_val, sample_weight_val=sample_weight_val,
                        n_threads=self._n_threads)
                else:
                    self._scorer = check_scoring(self, self.scoring)
                    small = self._get_small_trainset(codes, y_train, sample_weight_train,
                                                     self._random_seed)
                    self._check_early_stopping_scorer(
                        *small[:3], codes_val, y_val, sample_weight_val,
                        raw_predictions_small_train=(raw[small[3]]
                                                     if scoring_is_predefined_string else None),
                        raw_predictions_val=raw_val)
            begin_at_stage = 0
        else:
            if self.max_iter < self.n_iter_:
                raise ValueError(
                    "max_iter=%d must be larger than or equal to "
                    "n_iter_=%d when warm_start==True" % (self.max_iter, self.n_iter_))
            self.train_score_ = self.train_score_.tolist()
            self.validation_score_ = self.validation_score_.tolist()
            raw = np.ascontiguousarray(self._raw_predict(codes))
            if self.do_early_stopping_ and need_raw_val:
                raw_val = np.ascontiguousarray(self._raw_predict(codes_val))
            if self.do_early_stopping_ and self.scoring != "loss":
                small = self._get_small_trainset(codes, y_train, sample_weight_train,
                                                 self._random_seed)
            predictors = self._predictors
            begin_at_stage = self.n_iter_

        if columns is None:
            columns = self._grower_codes(codes)
        growth = self._growth(codes, columns, bool(self._loss.constant_hessian), monotonic_cst,
                              interaction_cst, self.max_features)
        codes = columns
        gh = np.empty((K, n_samples, 2), dtype=np.float32)
        gradients_ready = False
        for iteration in range(begin_at_stage, self.max_iter):
            if self.verbose >= 2:
                iteration_start_time = time()
                print(f"[{iteration + 1}/{self.max_iter}] ", end="", flush=True)
            trees, gradients_ready = self._grow_iteration(
                codes, y_train, raw, sample_weight_train, gh, growth, gradients_ready,
                last=iteration + 1 == self.max_iter)
            predictors.append(trees)
            should_early_stop = False
            if self.do_early_stopping_:
                if need_raw_val:
                    _pack(predictors[-1:], self._n_features, K,
                          self._n_bins_non_missing).predict_binned(
                        codes_val, raw_val, self._n_features, self._n_threads)
                if self.scoring == "loss":
                    should_early_stop = self._check_early_stopping_loss(
                        raw_predictions=raw, y_train=y_train,
                        sample_weight_train=sample_weight_train, raw_predictions_val=raw_val,
                        y_val=y_val, sample_weight_val=sample_weight_val,
                        n_threads=self._n_threads)
                else:
                    should_early_stop = self._check_early_stopping_scorer(
                        *small[:3], codes_val, y_val, sample_weight_val,
                        raw_predictions_small_train=(raw[small[3]]
                                                     if scoring_is_predefined_string else None),
                        raw_predictions_val=raw_val)
            if self.verbose >= 2:
                self._print_iteration_stats(iteration_start_time)
            if should_early_stop:
                break
        if self.verbose:
            n_leaves = sum(p.get_n_leaf_nodes() for it in self._predictors for p in it)
            n_trees = sum(len(it) for it in self._predictors)
            print(f"Fit {n_trees} trees in {time() - fit_start_time:.3f} s, "
                  f"({n_leaves} total leaves)")
        self.train_score_ = np.asarray(self.train_score_)
        self.validation_score_ = np.asarray(self.validation_score_)
        self._pack_model()

    def _pack_model(self):
        """Packs the fitted trees once for the compiled walk (kept beside _predictors; predict
        never changes the estimator)."""
        self._packed = (len(self._predictors),
                        _pack(self._predictors, self._n_features, self.n_trees_per_iteration_,
                              self._n_bins_non_missing))

    # ----- prediction -------------------------------------------------------------------------

    def _packed_trees(self, predictors):
        """The compiled walk of predictors: the model's own packed at the end of fit, others
        (one iteration's, or the model's while it grows) packed for the call."""
        packed = getattr(self, "_packed", None)
        if predictors is self._predictors and packed is not None and packed[0] == len(predictors):
            return packed[1]
        return _pack(predictors, self._n_features, self.n_trees_per_iteration_,
                     self._n_bins_non_missing)

    def __sklearn_is_fitted__(self):
        # check_is_fitted otherwise scans every attribute's name on each call: a tenth of a
        # one-row prediction's time
        return hasattr(self, "_predictors")

    def _raw_predict(self, X, n_threads=None):
        """scikit-learn's, without its validation where that would pass X on unchanged: a
        C-ordered float ndarray of the fitted width, to a model fitted without feature names or
        categorical features. The validation is most of a one-row prediction's time."""
        plain = (type(X) is np.ndarray and X.ndim == 2 and X.dtype in _FLOAT_DTYPES
                 and X.flags.c_contiguous and X.shape[0] > 0
                 and X.shape[1] == getattr(self, "n_features_in_", -1)
                 and not hasattr(self, "feature_names_in_")
                 and getattr(self, "_preprocessor", None) is None
                 and not getattr(self, "_in_fit", False) and hasattr(self, "_packed"))
        if not plain:
            return super()._raw_predict(X, n_threads)
        raw = np.empty((X.shape[0], self.n_trees_per_iteration_),
                       dtype=self._baseline_prediction.dtype)
        raw[...] = self._baseline_prediction
        self._predict_iterations(X, self._predictors, raw, False, n_threads)
        return raw

    def _predict_iterations(self, X, predictors, raw_predictions, is_binned, n_threads):
        """Adds the trees of predictors to raw_predictions, by the compiled walk on X's values
        or, during fit, on its bin codes."""
        if not predictors:
            return
        packed = self._packed_trees(predictors)
        n_threads = effective_n_threads(self.n_jobs)
        raw = np.ascontiguousarray(raw_predictions)
        if is_binned:
            packed.predict_binned(np.ascontiguousarray(X), raw, self._n_features, n_threads)
        elif sparse.issparse(X):
            X = X.tocsr()
            if not X.has_canonical_format:  # the walk takes no duplicate entries
                X = X.copy()
                X.sum_duplicates()
            packed.predict_csr(X.data, X.indices.astype(np.int64), X.indptr.astype(np.int64),
                               raw, self._n_features, n_threads, _LEAF_MASKS)
        else:
            packed.predict(np.ascontiguousarray(X), raw, self._n_features, n_threads, _LEAF_MASKS)
        if raw is not raw_predictions:
            raw_predictions[...] = raw

    @property
    def feature_importances_(self):
        """Gain importances: the split gains of each feature summed over all trees, normalised
        to sum to 1 (zeros when no tree splits)."""
        check_is_fitted(self)
        total = np.zeros(self._n_features)
        for iteration in self._predictors:
            for p in iteration:
                split = p.nodes["is_leaf"] == 0
                np.add.at(total, p.nodes["feature_idx"][split], p.nodes["gain"][split])
        s = total.sum()
        return total / s if s > 0 else total

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: object.__getstate__ gives __dict__
        state.pop("_packed", None)  # compiled; packed again when loaded
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        if getattr(self, "_predictors", None):
            self._pack_model()

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.sparse = True
        return tags


# What both estimators' docstrings say of the parameters fastml adds or treats apart.
_PARAMETERS_DOC = """
    Every parameter is scikit-learn 1.9's (see its documentation), plus ``n_jobs``: the threads
    of fit and predict (None: all of fastml's; the model never depends on it), and
    ``quantized_gradients`` (default False, scikit-learn's exact model): True grows each tree on
    gradients and hessians rounded stochastically to a few integer levels (as LightGBM's
    ``use_quantized_grad``; the rounding drawn from random_state, the same for any n_jobs), with
    integer histograms, then values its leaves from the exact gradients: a faster fit of a
    slightly different model. Categorical features as scikit-learn's, with up to 65535
    categories (scikit-learn: at most max_bins); X may also be a sparse CSR/CSC matrix (without
    categorical features), giving the dense matrix's model. Not supported yet: a ``loss`` given
    as a BaseLoss object (ValueError); with ``max_features < 1`` the features searched are drawn
    from fastml's own stream, so the model differs from scikit-learn's for the same
    random_state.
"""


class HistGradientBoostingRegressor(_CompiledBoosting, _SkRegressor):
    __doc__ = f"""Histogram-based gradient boosting regression trees, drop-in for scikit-learn's,
    grown by fastml's compiled booster.
{_PARAMETERS_DOC}
    Attributes
    ----------
    As scikit-learn's (do_early_stopping_, n_iter_, n_trees_per_iteration_, train_score_,
    validation_score_, is_categorical_, n_features_in_, feature_names_in_), plus
    feature_importances_ (gain).
    """

    _parameter_constraints = {**_SkRegressor._parameter_constraints,
                              "n_jobs": _N_JOBS_CONSTRAINT,
                              "quantized_gradients": ["boolean"]}
    _is_classifier_loss = False

    def __init__(self, loss="squared_error", *, quantile=None, learning_rate=0.1, max_iter=100,
                 max_leaf_nodes=31, max_depth=None, min_samples_leaf=20, l2_regularization=0.0,
                 max_features=1.0, max_bins=255, categorical_features="from_dtype",
                 monotonic_cst=None, interaction_cst=None, warm_start=False,
                 early_stopping="auto", scoring="loss", validation_fraction=0.1,
                 n_iter_no_change=10, tol=1e-7, verbose=0, random_state=None, n_jobs=None,
                 quantized_gradients=False):
        super().__init__(
            loss=loss, quantile=quantile, learning_rate=learning_rate, max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
            min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
            max_features=max_features, max_bins=max_bins,
            categorical_features=categorical_features, monotonic_cst=monotonic_cst,
            interaction_cst=interaction_cst, warm_start=warm_start,
            early_stopping=early_stopping, scoring=scoring,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            tol=tol, verbose=verbose, random_state=random_state)
        self.n_jobs = n_jobs
        self.quantized_gradients = quantized_gradients


class HistGradientBoostingClassifier(_CompiledBoosting, _SkClassifier):
    __doc__ = f"""Histogram-based gradient boosting classification trees, drop-in for
    scikit-learn's, grown by fastml's compiled booster (log_loss: one tree per iteration for two
    classes, one per class otherwise).
{_PARAMETERS_DOC}
    Attributes
    ----------
    As scikit-learn's (classes_, do_early_stopping_, n_iter_, n_trees_per_iteration_,
    train_score_, validation_score_, is_categorical_, n_features_in_, feature_names_in_), plus
    feature_importances_ (gain).
    """

    _parameter_constraints = {**_SkClassifier._parameter_constraints,
                              "n_jobs": _N_JOBS_CONSTRAINT,
                              "quantized_gradients": ["boolean"]}
    _is_classifier_loss = True

    def _encode_y(self, y):
        """scikit-learn's (classes_, _label_encoder and n_trees_per_iteration_ set, y as class
        indices in float64). Integer or boolean labels are scanned in compiled code (their
        range, then which values occur: fastml.metrics' LabelScan) and encoded by a table over
        their range: scikit-learn's np.unique sorts y twice, 0.12 s of one thread, serial, for
        the bench's 1M labels, a twentieth of a two-thread fit. Other labels, or integers over
        too wide a range, as scikit-learn encodes them."""
        labels = integer_labels(y)
        scan = None if labels is None else LabelScan(
            labels, n_threads=effective_n_threads(self.n_jobs))
        if scan is None or scan.lo is None:
            return super()._encode_y(y)
        # scikit-learn's check_classification_targets passes any 1-d integer labels (binary or
        # multiclass); its LabelEncoder's classes_ are scan.classes (sorted, in y's dtype)
        self._label_encoder = LabelEncoder()
        self._label_encoder.classes_ = scan.classes
        self.classes_ = scan.classes
        n_classes = self.classes_.shape[0]
        self.n_trees_per_iteration_ = 1 if n_classes <= 2 else n_classes
        rank = np.zeros(scan.span, dtype=np.int32)  # a quarter of a float64 table's size
        rank[scan.classes.astype(np.int64) - scan.lo] = np.arange(n_classes)
        return rank[scan.arrays[0].astype(np.int64) - scan.lo].astype(np.float64)

    def __init__(self, loss="log_loss", *, learning_rate=0.1, max_iter=100, max_leaf_nodes=31,
                 max_depth=None, min_samples_leaf=20, l2_regularization=0.0, max_features=1.0,
                 max_bins=255, categorical_features="from_dtype", monotonic_cst=None,
                 interaction_cst=None, warm_start=False, early_stopping="auto",
                 scoring="loss", validation_fraction=0.1, n_iter_no_change=10, tol=1e-7,
                 verbose=0, random_state=None, class_weight=None, n_jobs=None,
                 quantized_gradients=False):
        super().__init__(
            loss=loss, learning_rate=learning_rate, max_iter=max_iter,
            max_leaf_nodes=max_leaf_nodes, max_depth=max_depth,
            min_samples_leaf=min_samples_leaf, l2_regularization=l2_regularization,
            max_features=max_features, max_bins=max_bins,
            categorical_features=categorical_features, monotonic_cst=monotonic_cst,
            interaction_cst=interaction_cst, warm_start=warm_start,
            early_stopping=early_stopping, scoring=scoring,
            validation_fraction=validation_fraction, n_iter_no_change=n_iter_no_change,
            tol=tol, verbose=verbose, random_state=random_state, class_weight=class_weight)
        self.n_jobs = n_jobs
        self.quantized_gradients = quantized_gradients
