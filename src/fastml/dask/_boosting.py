"""Distributed HistGradientBoostingClassifier / Regressor: the rows stay partitioned on the
workers, the trees are grown on the client from histograms summed across partitions.

- Bins: the thresholds are scikit-learn's _BinMapper's, found once on the client from the
  same subsample as the single-machine booster's (at most 200,000 rows drawn with the same
  seed, gathered once; all the rows below that), then every partition is encoded where it
  lives with fastml's compiled encoder. CSR partitions (a dask array of scipy.sparse blocks)
  are binned and encoded by columns as the single-machine booster does sparse X, never
  densified (the codes are dense uint8, as on one machine): the dense matrix's model.
- Categorical features (indices, a mask, names or "from_dtype" for dataframes): the
  single-machine booster's preprocessing (the categorical features first, ordinally encoded)
  fitted to the categories of every partition, as the single-machine fit finds them on all
  its rows, not on the bin subsample (see _categories); each partition (and X_val's)
  transformed where it lives; the core's categorical split search on the summed histograms,
  its bitsets in the packed predictor.
- Each partition keeps its bin codes, targets, raw predictions, gradients and the node of each
  of its rows in a _Shard on its worker. A tree is grown best first as fastml's grower
  (csrc/boost/grower.cpp) does: every partition sends the rows of the nodes to split to their
  children and builds the smaller child's histograms on the compiled core
  (csrc/boost/histogram.hpp), for all the nodes waiting in the heap at once (one round trip
  per batch, see _TreeGrower); the client adds them in partition order, derives the larger
  child's by subtraction and searches both with the core's split search
  (csrc/boost/split_search.hpp). The same node order, heap ties, limits and leaf values as the
  single-machine grower.
- What can differ: a bin's float64 gradient (and, with non-constant hessians, hessian) sum is
  added per partition and then across partitions, where one machine adds all the rows in one
  pass. Counts are exact, and so are the sums whenever the float32 gradients add without
  rounding in float64 (their magnitudes within about 2^30 of each other over the rows): then
  the trees are the single-machine booster's. Otherwise a last-bit difference can change a
  split whose gain ties another's to rounding.
- Early stopping: the validation rows are the single machine's (its train_test_split on the row
  numbers, same random_state and stratification); each partition keeps them, routed through
  the trees but in no histogram, and the client takes the training rows in the single
  machine's order wherever order matters (baseline, bin subsample, leaf refits). The loss is
  summed per partition and added in partition order (equal to one machine's mean to the last
  bits); a scorer scores the raw predictions of the validation rows and of scikit-learn's small
  training subset, gathered from the partitions each iteration (a callable scorer predicts on
  their bin codes, gathered once, as one machine's does).
- absolute_error / quantile: each leaf's value is the loss's intercept of its rows' residuals,
  the (residual, weight) pairs of every training row gathered to the client after each tree.
- max_features < 1: each node's features are drawn by the compiled core's own stream
  (_boost_dist_fast.FeatureDraw, the grower's), one per tree seeded as on one machine.

  X_val / y_val given to fit are put after X's rows, in partitions of their own.

Missing (NotImplementedError): a loss given as an object.
"""
import heapq
from types import SimpleNamespace

import dask
import dask.array as da
import numpy as np
from scipy import sparse
from sklearn.metrics import check_scoring
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_consistent_length, check_is_fitted

from .. import ensemble as _local
from ..ensemble import _boost_dist_fast, _boost_fast
from ..ensemble._hist_gradient_boosting import (_BIN_SUBSAMPLE, _MIN_HESSIAN_TO_SPLIT, _pack,
                                                bin_thresholds, encode_sparse)
from ..tree import _cart
from ..utils._sklearn_compat import (HGB_SCORERS, check_categorical_features,
                                     check_monotonic_cst, check_sample_weight, check_y)
from ._categories import fit_categorical, transform_categorical
from ._partitions import (PartitionStates, as_dask_array, block_lengths, capped_threads,
                          checked_local, is_dask_collection, is_dataframe, is_sparse_array,
                          row_blocks, row_partitioned)
from ._postfit import partitionwise

HIST_DTYPE = np.dtype([("g", "f8"), ("h", "f8"), ("count", "u8")])
_MISSING = int(_boost_fast.MISSING_BIN)


# ----- on the workers -------------------------------------------------------------------------

def _encode(X, thresholds, n_threads):
    """A partition's bin codes: dense rows by the compiled encoder, CSR rows as the
    single-machine booster encodes sparse X (by columns, never densified, each implicit zero
    its feature's bin of 0). The thresholds are finite, +inf padded (scikit-learn caps them)."""
    if sparse.issparse(X):
        return encode_sparse(X, thresholds, np.isfinite(thresholds).sum(axis=1))
    return _cart.encode_bins(np.ascontiguousarray(X), thresholds, n_threads, bounds=False)[0]


class _Shard:
    """One partition's boosting state, kept (and changed in place) on its worker. `step` counts
    the calls it has had: a call meant for another step (the shard recomputed after its worker
    died, or a stale copy) raises rather than grow a tree from the wrong state."""

    def __init__(self, X, y, sample_weight, thresholds, baseline, n_outputs, first, position,
                 scored):
        with capped_threads() as n_threads:
            self.codes = np.asfortranarray(_encode(X, thresholds, n_threads))
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.sample_weight = (None if sample_weight is None
                              else np.ascontiguousarray(sample_weight, dtype=np.float64))
        self.raw = np.zeros((len(y), n_outputs)) + baseline
        self.gh = np.empty((n_outputs, len(y), 2), dtype=np.float32)
        self.node = np.zeros(len(y), dtype=np.int32)  # the node each row lies in
        # each row's place in the single-machine fit's training rows (-1: a validation row for
        # early stopping, routed through the trees as the others but in no histogram; None:
        # every row trains, in row order from row number `first`), and the rows whose raw
        # predictions an early-stopping scorer reads (None: none)
        self.position = (first + np.arange(len(y)) if position is None
                         else np.asarray(position, dtype=np.int64))
        self.train = self.position >= 0
        self.all_train = bool(self.train.all())
        self.scored = np.zeros(len(y), bool) if scored is None else np.asarray(scored, bool)
        self.k = 0
        self.step = 0

    def check(self, step):
        if step != self.step:
            raise RuntimeError(
                f"a partition's boosting state is at step {self.step}, not {step}: it was lost "
                f"(a worker died?) and recomputed, or copied; fit again")
        self.step += 1

    def histogram(self, node, constant_hessian):
        hist = np.zeros((self.codes.shape[1], _boost_dist_fast.N_BINS), dtype=HIST_DTYPE)
        in_node = self.node == node
        rows = np.flatnonzero(in_node if self.all_train else in_node & self.train).astype(np.int32)
        with capped_threads() as n_threads:
            _boost_dist_fast.node_histogram(self.codes, self.gh[self.k], rows, constant_hessian,
                                            hist, n_threads)
        return hist


def _has_missing(shard):
    codes = shard.codes if shard.all_train else shard.codes[shard.train]
    return (codes == _MISSING).any(axis=0)


def _start_tree(shard, step, k, previous, loss, quantile, constant_hessian):
    """The last tree's leaf values added (previous: (output, value of each node id)), the
    gradients at the start of an iteration (k == 0), every row at the root; the root's
    histograms."""
    shard.check(step)
    if previous is not None:
        output, values = previous
        shard.raw[:, output] += values[shard.node]
    if k == 0:
        with capped_threads() as n_threads:
            _boost_fast.gradients(loss, shard.y, shard.raw, shard.sample_weight, quantile,
                                  shard.gh, n_threads)
    shard.k = k
    shard.node[:] = 0
    return shard.histogram(0, constant_hessian)


def _split(shard, step, splits, constant_hessian):
    """For each split: the rows of node split["node"] sent to its children (ids split["left"],
    ["right"]), as the grower's partition; the histograms of child split["build"]."""
    shard.check(step)
    hists = []
    for split in splits:
        rows = np.flatnonzero(shard.node == split["node"])
        codes = shard.codes[rows, split["feature"]]
        if split["left_cat"] is not None:  # a categorical split: the codes of its bitset
            left = _bitset_codes(split["left_cat"])[codes]
        else:
            left = np.where(codes == _MISSING, split["missing_left"], codes <= split["bin"])
        shard.node[rows] = np.where(left, split["left"], split["right"])
        hists.append(shard.histogram(split["build"], constant_hessian))
    return hists


def _bitset_codes(bitset):
    """A categorical split's 8 x uint32 bitset as 256 booleans, one per bin code (code c is
    bit c % 32 of word c // 32)."""
    return np.unpackbits(np.asarray(bitset, dtype="<u4").view(np.uint8),
                         bitorder="little").astype(bool)


def _continue_from(shard, step, predictors, n_features, n_bins_non_missing):
    """warm_start: the raw predictions of the trees fitted so far, from the baseline, by the
    compiled walk on the partition's bin codes (the single-machine fit's _raw_predict)."""
    shard.check(step)
    packed = _pack(predictors, n_features, shard.raw.shape[1], n_bins_non_missing)
    with capped_threads() as n_threads:
        packed.predict_binned(np.ascontiguousarray(shard.codes), shard.raw, n_features,
                              n_threads)


def _add_last_tree(shard, step, previous):
    shard.check(step)
    if previous is not None:
        output, values = previous
        shard.raw[:, output] += values[shard.node]


def _loss_sums(shard, step, previous, loss):
    """Early stopping on the loss: the last tree added, [[sum of w * loss, sum of w]] over the
    training rows, then over the validation rows (w: the sample weights, or ones)."""
    _add_last_tree(shard, step, previous)
    out = np.zeros((2, 2))
    for j, rows in enumerate((shard.train, ~shard.train)):
        if not rows.any():
            continue
        pointwise = loss.loss(y_true=shard.y[rows], raw_prediction=shard.raw[rows],
                              sample_weight=None, n_threads=1)
        w = None if shard.sample_weight is None else shard.sample_weight[rows]
        out[j] = ((pointwise.sum(), len(pointwise)) if w is None
                  else (np.multiply(pointwise, w).sum(), w.sum()))
    return out


def _scored_raw(shard, step, previous):
    """Early stopping on a scorer: the last tree added, the raw predictions of the rows it
    scores (validation rows and the small training subset), in row order."""
    _add_last_tree(shard, step, previous)
    return shard.raw[shard.scored]


def _scored_codes(shard):
    return shard.codes[shard.scored]


def _residuals(shard, step, k):
    """absolute_error / quantile: each training row's node, place among the training rows,
    residual y - raw[:, k] (the tree of output k not yet added) and weight, for the leaves'
    values."""
    shard.check(step)
    rows = np.flatnonzero(shard.train)
    w = None if shard.sample_weight is None else shard.sample_weight[rows]
    return shard.node[rows], shard.position[rows], shard.y[rows] - shard.raw[rows, k], w


class _Shards(PartitionStates):
    """The non-empty partitions' shards, kept where their partitions live, and the calls on
    them (PartitionStates)."""

    def __init__(self, X, y, sample_weight, thresholds, baseline, n_outputs, position, scored):
        lengths = block_lengths(X)
        offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)

        def part(v, a, b):
            return None if v is None else v[a:b]

        super().__init__([dask.delayed(_Shard, pure=False)(
                              block, y[a:b], part(sample_weight, a, b), thresholds, baseline,
                              n_outputs, a, part(position, a, b), part(scored, a, b))
                          for block, a, b in zip(row_blocks(X), offsets[:-1], offsets[1:])
                          if b > a])


# ----- on the client --------------------------------------------------------------------------

def _gathered(X):
    """Rows of a dask array in this process: C-contiguous, or CSR for sparse partitions (dask
    joins them in another sparse format)."""
    X = X.compute()
    return X.tocsr() if sparse.issparse(X) else np.ascontiguousarray(X)


def _summed(hists):
    """The partitions' histograms added in partition order."""
    total = hists[0].copy()
    for h in hists[1:]:
        for name in ("g", "h", "count"):
            total[name] += h[name]
    return total


def _subtract(parent, smaller):
    for name in ("g", "h", "count"):
        parent[name] -= smaller[name]
    return parent


class _Node(SimpleNamespace):
    pass


class _TreeGrower:
    """fastml's grower (csrc/boost/grower.cpp) step for step, its histograms from the shards.

    Round trips are batched: whenever the node to split next has not been sent to the shards,
    every node waiting in the heap is (its rows partitioned on its best split, its smaller
    child's histograms built), in one trip. The best-first order, the limits and the node ids
    (heap ties) stay the grower's; a node that ends a leaf after all keeps its rows' children
    ids on the shards, which take its value. One trip per batch rather than per split: about
    the tree's depth instead of its number of leaves."""

    def __init__(self, shards, growth, n_features):
        self.shards, self.g, self.F = shards, growth, n_features
        self.features = np.arange(n_features, dtype=np.int32)
        self.groups = [np.array(sorted(group), dtype=np.int32)
                       for group in growth.get("interaction_cst") or []]

    def _allowed(self, groups):
        """The features a node may split on: all, or the union of its interaction groups (the
        groups that hold every feature split on above it), sorted as the grower's."""
        if not self.groups:
            return self.features
        return np.unique(np.concatenate([self.groups[i] for i in groups]).astype(np.int32))

    def _child_groups(self, groups, feature):
        return [i for i in groups if feature in self.groups[i]] if self.groups else None

    def _search(self, node_id):
        node = self.nodes[node_id]
        g = self.g
        features = self._allowed(node.groups)
        if self.draw is not None:  # max_features < 1: the grower's draw, node by node
            features = self.draw(features)
        node.split = _boost_dist_fast.best_split(
            node.hist, node.n, node.sum_g, node.sum_h, node.value, node.lower, node.upper,
            features, g["n_bins_non_missing"], g["has_missing"],
            g["min_samples_leaf"], g["l2_regularization"], _MIN_HESSIAN_TO_SPLIT,
            g["constant_hessian"], g["monotonic_cst"], g["is_categorical"])
        node.searched = True
        if node.split["gain"] <= 0:
            self._finalize(node_id)
        else:
            if not self.g["has_missing"][node.split["feature"]]:
                node.split["missing_left"] = node.split["n_left"] > node.split["n_right"]
            heapq.heappush(self.heap, (-node.split["gain"], node_id))

    def _finalize(self, node_id):
        self.nodes[node_id].leaf = True
        self.n_leaves += 1

    def _expand(self, step):
        """Every node of the heap not yet sent: partitioned on the shards, the smaller child's
        histograms back (summed over the partitions)."""
        batch = [i for _, i in self.heap if self.nodes[i].sent is None]
        splits = []
        for i in batch:
            node, s = self.nodes[i], self.nodes[i].split
            left, right = self.next_shard_id, self.next_shard_id + 1
            self.next_shard_id += 2
            small_is_left = s["n_left"] < s["n_right"]
            splits.append({"node": node.shard_id, "feature": int(s["feature"]),
                           "bin": int(s["bin"]), "missing_left": bool(s["missing_left"]),
                           "left_cat": s["left_cat"] if s["categorical"] else None,
                           "left": left, "right": right,
                           "build": left if small_is_left else right})
            node.sent = (left, right, small_is_left)
        per_shard = self.shards.run(_split, step, splits, self.g["constant_hessian"])
        for j, i in enumerate(batch):
            self.nodes[i].small_hist = _summed([hists[j] for hists in per_shard])
        return step + 1

    def grow(self, step, k, previous, loss, quantile, seed):
        """One tree for output k (seed: its stream of feature draws under max_features < 1);
        returns (its node arrays in preorder, the next step, the leaf value of each shard node
        id)."""
        g = self.g
        self.draw = (_boost_dist_fast.FeatureDraw(g["max_features"], seed)
                     if g["max_features"] < 1 else None)
        const = g["constant_hessian"]
        hist = _summed(self.shards.run(_start_tree, step, k, previous, loss, quantile, const))
        step += 1
        n_bins = g["n_bins"]
        # the root's sums as the grower takes them: numpy's sum of the first feature's bins (the
        # interaction groups cover every feature: scikit-learn adds the rest as a group)
        first = hist[0]
        column = np.concatenate([first["g"][:n_bins - 1], first["g"][_MISSING:_MISSING + 1]])
        sum_g = float(np.sum(column))
        n = int(first["count"].sum())
        if const:
            sum_h = float(n)
        else:
            column = np.concatenate([first["h"][:n_bins - 1], first["h"][_MISSING:_MISSING + 1]])
            sum_h = float(np.sum(column))
        root_groups = list(range(len(self.groups))) if self.groups else None
        self.nodes = [self._node(n, sum_g, sum_h, 0.0, 0, -np.inf, np.inf, 0, root_groups)]
        self.nodes[0].hist = hist
        self.heap, self.n_leaves, self.next_shard_id = [], 0, 1
        if n < 2 * g["min_samples_leaf"] or sum_h < _MIN_HESSIAN_TO_SPLIT:
            self._finalize(0)
        else:
            self._search(0)
        while self.heap:
            if self.nodes[self.heap[0][1]].sent is None:
                step = self._expand(step)
            _, node_id = heapq.heappop(self.heap)
            self._split_node(node_id)
        leaves = [node for node in self.nodes if node.leaf]
        # a leaf's rows are under its shard id, or its children's if it was sent
        ids = [[node.shard_id] + ([] if node.sent is None else list(node.sent[:2]))
               for node in leaves]
        for node in leaves:
            node.value *= g["shrinkage"]
        if g["leaf_refit"] is not None:
            step = self._refit_leaves(step, k, leaves, ids)
        values = np.zeros(self.next_shard_id)
        for node, at in zip(leaves, ids):
            values[at] = node.value
        return self._emit(), step, values

    def _refit_leaves(self, step, k, leaves, ids):
        """Losses whose leaves are refitted (absolute_error, quantile): each leaf's value is
        shrinkage * the loss's intercept of its rows' residuals, as the single machine's
        _update_leaves_values; the (residual, weight) pairs are gathered from the shards and
        each leaf's taken in the single-machine training order (its rows' order there)."""
        parts = self.shards.run(_residuals, step, k)
        node, position, residual = (np.concatenate([p[j] for p in parts]) for j in range(3))
        weight = None if parts[0][3] is None else np.concatenate([p[3] for p in parts])
        leaf_of = np.full(self.next_shard_id, -1)
        for j, at in enumerate(ids):
            leaf_of[at] = j
        leaf = leaf_of[node]
        order = np.lexsort((position, leaf))
        bounds = np.searchsorted(leaf[order], np.arange(len(leaves) + 1))
        for j, node in enumerate(leaves):
            rows = order[bounds[j]:bounds[j + 1]]
            node.value = self.g["shrinkage"] * self.g["leaf_refit"](
                y_true=residual[rows], sample_weight=None if weight is None else weight[rows])
        return step + 1

    @staticmethod
    def _node(n, sum_g, sum_h, value, depth, lower, upper, shard_id, groups):
        return _Node(n=n, sum_g=sum_g, sum_h=sum_h, value=value, depth=depth, lower=lower,
                     upper=upper, hist=None, searched=False, leaf=False, split=None, left=-1,
                     right=-1, shard_id=shard_id, sent=None, small_hist=None, groups=groups)

    def _split_node(self, node_id):
        g, nodes = self.g, self.nodes
        node = nodes[node_id]
        s = node.split
        left_sid, right_sid, small_is_left = node.sent
        groups = self._child_groups(node.groups, int(s["feature"]))
        left = self._node(int(s["n_left"]), s["g_left"], s["h_left"], s["value_left"],
                          node.depth + 1, node.lower, node.upper, left_sid, groups)
        right = self._node(int(s["n_right"]), s["g_right"], s["h_right"], s["value_right"],
                           node.depth + 1, node.lower, node.upper, right_sid, groups)
        cst = g["monotonic_cst"]
        if cst is not None and cst[s["feature"]] != 0:
            mid = (left.value + right.value) / 2
            if cst[s["feature"]] == 1:
                left.upper, right.lower = mid, mid
            else:
                left.lower, right.upper = mid, mid
        li, ri = len(nodes), len(nodes) + 1
        nodes += [left, right]
        node.left, node.right = li, ri
        node.sent = None  # split for good: its rows are its children's
        parent_hist, small_hist = node.hist, node.small_hist
        node.hist = node.small_hist = None
        if g["max_leaf_nodes"] and self.n_leaves + len(self.heap) + 2 == g["max_leaf_nodes"]:
            self._finalize(li)
            self._finalize(ri)
            while self.heap:
                self._finalize(heapq.heappop(self.heap)[1])
            return
        if g["max_depth"] and left.depth == g["max_depth"]:
            self._finalize(li)
            self._finalize(ri)
            return
        if left.n < 2 * g["min_samples_leaf"]:
            self._finalize(li)
        if right.n < 2 * g["min_samples_leaf"]:
            self._finalize(ri)
        if left.leaf and right.leaf:
            return
        small, large = (li, ri) if small_is_left else (ri, li)
        nodes[small].hist = small_hist
        nodes[large].hist = _subtract(parent_hist, small_hist)
        for child in (li, ri):
            if nodes[child].leaf:
                nodes[child].hist = None
            else:
                self._search(child)

    def _emit(self):
        """The tree's node arrays in preorder (left subtree first), as GrownTree's."""
        out = {name: [] for name in ("value", "count", "depth", "gain", "is_leaf", "feature",
                                     "bin_threshold", "missing_go_to_left", "left", "right",
                                     "is_categorical", "bitset_idx")}
        bitsets = []  # the categorical splits' left categories, in preorder (the grower's)

        def emit(node_id):
            node = self.nodes[node_id]
            at = len(out["value"])
            split = node.split if not node.leaf else None
            out["value"].append(node.value)
            out["count"].append(node.n)
            out["depth"].append(node.depth)
            out["gain"].append(node.split["gain"] if node.searched else -1.0)
            out["is_leaf"].append(node.leaf)
            out["feature"].append(split["feature"] if split else 0)
            out["bin_threshold"].append(split["bin"] if split else 0)
            out["missing_go_to_left"].append(split["missing_left"] if split else 0)
            categorical = bool(split and split["categorical"])
            out["is_categorical"].append(categorical)
            out["bitset_idx"].append(len(bitsets) if categorical else 0)
            if categorical:
                bitsets.append(split["left_cat"])
            out["left"].append(0)
            out["right"].append(0)
            if node.leaf:
                return
            out["left"][at] = len(out["value"])
            emit(node.left)
            out["right"][at] = len(out["value"])
            emit(node.right)

        emit(0)
        tree = SimpleNamespace(**{k: np.asarray(v) for k, v in out.items()})
        tree.feature = tree.feature.astype(np.int64)
        tree.is_categorical = tree.is_categorical.astype(np.uint8)
        tree.bitset_idx = tree.bitset_idx.astype(np.uint32)
        tree.cat_bitsets = np.array(bitsets, dtype=np.uint32).reshape(-1, 8)
        return tree


class _EarlyStopping:
    """The early-stopping scores of a distributed fit, as the single machine's: the loss from
    per-partition sums added in partition order (it may differ from one machine's mean in the
    last bits), a scorer on the raw predictions of the validation rows and the small training
    subset gathered from the shards (for a callable, on their bin codes, gathered once, as one
    machine's scorer predicts on them)."""

    def __init__(self, model, shards, stopping):
        self.model, self.shards, self.s = model, shards, stopping
        self.should_stop = False
        if model.scoring == "loss":
            return
        model._scorer = check_scoring(model, model.scoring)
        self.rows = np.flatnonzero(stopping.scored)
        self.predefined = model.scoring in HGB_SCORERS
        if self.predefined:  # the scorer reads raw predictions only: stand-ins for X
            self.X_small, self.X_val = stopping.small[:, None], stopping.val[:, None]
        else:
            codes = np.concatenate(shards.run(_scored_codes))
            self.X_small, self.X_val = (np.ascontiguousarray(codes[self._at(r)])
                                        for r in (stopping.small, stopping.val))

    def _at(self, rows):
        """Where the rows (numbers) lie among the scored rows."""
        return np.searchsorted(self.rows, rows)

    def update(self, step, previous):
        """The scores once the last tree (previous) is added; returns the next step."""
        m, s = self.model, self.s
        if m.scoring == "loss":
            sums = np.sum(self.shards.run(_loss_sums, step, previous, m._loss), axis=0)
            m.train_score_.append(-sums[0, 0] / sums[0, 1])
            if m._use_validation_data:
                m.validation_score_.append(-sums[1, 0] / sums[1, 1])
            self.should_stop = m._should_stop(m.validation_score_ if m._use_validation_data
                                              else m.train_score_)
            return step + 1
        raw = np.concatenate(self.shards.run(_scored_raw, step, previous))
        raw_small, raw_val = (raw[self._at(r)] if self.predefined else None
                              for r in (s.small, s.val))
        self.should_stop = m._check_early_stopping_scorer(
            self.X_small, s.y_small, s.sw_small, self.X_val, s.y_val, s.sw_val,
            raw_predictions_small_train=raw_small,
            raw_predictions_val=raw_val)
        return step + 1


class _DaskBoostingMixin:
    """fit over a dask (or NumPy) X, the model a fastml booster in this process."""

    def _check_supported(self):
        unsupported = {
            "a loss object": not isinstance(self.loss, str),
        }
        missing = [name for name, used in unsupported.items() if used]
        if missing:
            raise NotImplementedError(f"fastml.dask's HistGradientBoosting does not take "
                                      f"{', '.join(missing)} yet")

    def fit(self, X, y, sample_weight=None, *, X_val=None, y_val=None, sample_weight_val=None):
        """Fit on the partitions of X (a dask array or dataframe, or array-like: one partition),
        y and sample_weight gathered to this process (one value a row); X_val (its partitions
        put after X's), y_val, sample_weight_val: validation data for early stopping, as
        scikit-learn's. See the module's docstring for what is distributed and what is
        missing."""
        self._validate_params()
        self._check_supported()
        X, known_categories = self._partitioned_input(X, y)
        y, sample_weight = (v.compute() if is_dask_collection(v) else v
                            for v in (y, sample_weight))
        n_samples, self._n_features = X.shape
        if n_samples == 0:
            raise ValueError("Found array with 0 sample(s) while a minimum of 1 is required.")
        self.n_features_in_ = self._n_features
        y = check_y(y, estimator=self)
        y = np.ascontiguousarray(self._encode_y(y), dtype=np.float64)
        if len(y) != n_samples:
            raise ValueError(f"Found input variables with inconsistent numbers of samples: "
                             f"[{n_samples}, {len(y)}]")
        if sample_weight is not None:
            sample_weight = check_sample_weight(sample_weight, y, dtype=np.float64)
            self._fitted_with_sw = True
        sample_weight = self._finalize_sample_weight(sample_weight, y)
        X, y_rows, sw_rows, val = self._append_validation(X, y, sample_weight, X_val, y_val,
                                                          sample_weight_val)
        warm = self.warm_start and self._is_fitted()
        if warm and self.max_iter < self.n_iter_:
            raise ValueError(f"max_iter={self.max_iter} must be larger than or equal to "
                             f"n_iter_={self.n_iter_} when warm_start==True")
        if not warm:  # a warm start keeps the seeds, as the single-machine fit
            rng = check_random_state(self.random_state)
            self._random_seed = rng.randint(np.iinfo(np.uint32).max, dtype="u8")
            self._feature_subsample_rng = np.random.default_rng(
                rng.randint(np.iinfo(np.uint32).max, dtype="u8"))
        self._validate_parameters()
        monotonic_cst = check_monotonic_cst(self, self.monotonic_cst)
        if self.is_categorical_ is not None:  # their columns come first: their constraints too
            monotonic_cst = np.concatenate((monotonic_cst[self.is_categorical_],
                                            monotonic_cst[~self.is_categorical_]))
        self._n_threads = 1
        self._loss = self._get_loss(sample_weight=sample_weight)
        stopping = self._split_validation(y, sample_weight, val)
        train = stopping.train
        y_train = y[train]
        sw_train = None if sample_weight is None else sample_weight[train]
        # again under warm_start, as one machine bins
        self._bin_thresholds(X, train, sw_train, known_categories)
        K = self.n_trees_per_iteration_
        if not warm:
            self._clear_state()
            self._predictors = []
            self._scorer = None
            self.train_score_, self.validation_score_ = [], []
            self._baseline_prediction = self._loss.fit_intercept_only(
                y_true=y_train, sample_weight=sw_train).reshape((1, -1))
        self.train_score_ = list(self.train_score_)
        self.validation_score_ = list(self.validation_score_)
        self.__dict__.pop("_packed", None)  # the last fit's: _predictors grows anew
        shards = _Shards(X, y_rows, sw_rows, self._thresholds, self._baseline_prediction, K,
                         None if (stopping.position >= 0).all() else stopping.position,
                         stopping.scored if stopping.scored.any() else None)
        self._in_fit = True  # a scorer's predict reads bin codes, as one machine's
        try:
            self._boost(shards, monotonic_cst, stopping, warm)
        finally:
            shards.release()
            del self._in_fit
        self.train_score_ = np.asarray(self.train_score_)
        self.validation_score_ = np.asarray(self.validation_score_)
        self._pack_model()
        return self

    def _partitioned_input(self, X, y):
        """X as the shards encode it, persisted: a dask array of float partitions, dense or CSR
        (a dataframe's as an array), and each feature's known categories (None: no categorical
        feature). With categorical features (found as scikit-learn finds them; a dask
        dataframe's by its meta, an empty frame of its names and dtypes), the partitions are
        the single-machine booster's preprocessing of them (see _categories)."""
        is_categorical = check_categorical_features(X._meta if is_dataframe(X) else X,
                                                    self.categorical_features)
        if is_categorical is not None:
            if sparse.issparse(X) or is_sparse_array(X):
                raise ValueError("fastml's HistGradientBoosting takes categorical features "
                                 "with dense X only; pass X as an array or a DataFrame.")
            return fit_categorical(self, X, is_categorical)
        self.is_categorical_ = None
        self._preprocessor = None
        self._is_categorical_remapped = None
        if not is_dask_collection(X):
            X = checked_local(X, accept_sparse=True, allow_nan=True)
            if not is_dask_collection(y) and y is not None:
                check_consistent_length(X, y)
        return row_partitioned(as_dask_array(X), floating=True).persist(), None

    def _append_validation(self, X, y, sample_weight, X_val, y_val, sample_weight_val):
        """X_val's rows put after X's (their own partitions), checked as scikit-learn's fit
        checks them. Returns X, y and the sample weights of all the rows (ones for the side
        given none, when the other has some: a weight of 1 changes no gradient or loss sum), and
        val: (y_val, sample_weight_val) or None."""
        if X_val is None and y_val is None:
            return X, y, sample_weight, None
        if y_val is None:
            raise ValueError("X_val is provided, but y_val was not provided.")
        if X_val is None:
            raise ValueError("y_val is provided, but X_val was not provided.")
        if self.is_categorical_ is not None:  # the training partitions' preprocessing
            X_val = transform_categorical(self, X_val)
        else:
            if not is_dask_collection(X_val):
                X_val = checked_local(X_val, accept_sparse=True, allow_nan=True)
            X_val = row_partitioned(as_dask_array(X_val), floating=True)
        if X_val.shape[1] != self._n_features:
            raise ValueError(f"X has {X_val.shape[1]} features, but "
                             f"{type(self).__name__} is expecting {self._n_features} "
                             f"features as input.")
        y_val = y_val.compute() if is_dask_collection(y_val) else y_val
        y_val = np.ascontiguousarray(self._encode_y_val(check_y(y_val, estimator=self)),
                                     dtype=np.float64)
        check_consistent_length(X_val, y_val)
        if sample_weight_val is not None:
            sample_weight_val = check_sample_weight(sample_weight_val, y_val, dtype=np.float64)
        if self.early_stopping is False:
            raise ValueError(
                "X_val and y_val are passed to fit while at the same time early_stopping is "
                "False. When passing X_val and y_val to fit,early_stopping should be set to "
                "either 'auto' or True.")
        rows = None
        if sample_weight is not None or sample_weight_val is not None:
            rows = np.concatenate([np.ones(len(y)) if w is None else w
                                   for w in (sample_weight, sample_weight_val)])
        return (da.concatenate([X, X_val]).persist(), np.concatenate([y, y_val]), rows,
                (y_val, sample_weight_val))

    def _split_validation(self, y, sample_weight, given):
        """Early stopping's rows, as the single-machine fit's: its train_test_split applied to
        the row numbers (the same random_state and stratification), so that the training rows
        are the same rows in the same order. Returns train (the training rows' numbers, in
        that order), position (each row's place among them, -1 for a validation row), val
        (the validation rows' numbers, in the single machine's order), and for a scorer the
        small training subset's numbers (small), its targets and weights, and scored (the rows
        whose raw predictions the scorer reads). given: (y_val, sample_weight_val) of X_val's
        rows, put after y's, or None."""
        n = len(y)
        n_val = 0 if given is None else len(given[0])
        rows = np.arange(n)
        parts = self._early_stopping_split(n, given is not None, y, rows)
        out = SimpleNamespace(train=rows, val=rows[:0], small=None,
                              scored=np.zeros(n + n_val, bool), y_val=None,
                              sw_val=None)
        if given is not None:  # X_val's rows follow X's; no early stopping: they sit idle
            out.val = np.arange(n, n + n_val) if self.do_early_stopping_ else rows[:0]
            out.y_val, out.sw_val = given
        elif parts is not None:
            out.train, out.val = parts
            out.y_val = y[out.val]
            out.sw_val = None if sample_weight is None else sample_weight[out.val]
        out.position = np.full(n + n_val, -1, dtype=np.int64)
        out.position[out.train] = np.arange(len(out.train))
        if self.do_early_stopping_ and self.scoring != "loss":
            sw_train = None if sample_weight is None else sample_weight[out.train]
            # scikit-learn's subset, drawn on the training rows' places (a stand-in for their
            # bin codes)
            places = np.arange(len(out.train))[:, None]
            small = self._get_small_trainset(places, y[out.train], sw_train, self._random_seed)
            out.small = out.train[small[0][:, 0]]
            out.y_small, out.sw_small = small[1], small[2]
            out.scored[out.small] = True
            out.scored[out.val] = True
        return out

    def _bin_thresholds(self, X, train, sample_weight, known_categories):
        """scikit-learn's bin thresholds of the single-machine booster's subsample (of the
        training rows: train, their numbers in its order, and their weights), gathered once (a
        categorical feature's from its known categories)."""
        for f, known in enumerate(known_categories or ()):
            # the single machine's wide features (more categories than max_bins) are not
            # taken here: their histograms would not fit the (n_features, N_BINS) exchange
            if known is not None and len(known) > self.max_bins:
                raise ValueError(
                    f"Categorical feature at index {f} is expected to have a cardinality <= "
                    f"{self.max_bins} but actually has a cardinality of {len(known)} "
                    "(fastml.dask's booster takes at most max_bins categories).")
        n_samples = len(train)
        rows, sw_fit = train, sample_weight
        if n_samples > _BIN_SUBSAMPLE:
            rng = check_random_state(self._random_seed)
            p = None if sample_weight is None else sample_weight / np.sum(sample_weight)
            rows = train[rng.choice(n_samples, _BIN_SUBSAMPLE, p=p, replace=True)]
            sw_fit = None
        distinct, back = np.unique(rows, return_inverse=True)
        X_fit = _gathered(X if len(distinct) == X.shape[0] else X[distinct])[back]
        self._thresholds, counts = bin_thresholds(X_fit, self.max_bins, sw_fit, 1,
                                                  known_categories)
        self._n_bins_non_missing = (counts + 1).astype(np.uint16)

    def _boost(self, shards, monotonic_cst, stopping, warm):
        """The iterations after those of _predictors (the trees kept by warm_start), appended
        to it; with early stopping, the scores after each (and before the first, when cold)."""
        K = self.n_trees_per_iteration_
        has_missing = np.zeros(self._n_features, dtype=bool)
        for part in shards.run(_has_missing):
            has_missing |= part
        growth = dict(
            n_bins_non_missing=self._n_bins_non_missing,
            has_missing=has_missing.astype(np.uint8), n_bins=self.max_bins + 1,
            max_leaf_nodes=self.max_leaf_nodes or 0, max_depth=self.max_depth or 0,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=float(self.l2_regularization), shrinkage=float(self.learning_rate),
            constant_hessian=bool(self._loss.constant_hessian),
            monotonic_cst=None if monotonic_cst is None else monotonic_cst.astype(np.int8),
            interaction_cst=self._check_interaction_cst(self._n_features),
            max_features=float(self.max_features),
            leaf_refit=None if self._loss.differentiable else self._loss.fit_intercept_only,
            is_categorical=self._categorical_mask())
        grower = _TreeGrower(shards, growth, self._n_features)
        loss, quantile = int(self._loss_code()), float(getattr(self, "quantile", None) or 0.0)
        predictors, previous, step = self._predictors, None, 0
        if predictors:
            shards.run(_continue_from, step, predictors, self._n_features,
                       self._n_bins_non_missing)
            step += 1
        scores = _EarlyStopping(self, shards, stopping) if self.do_early_stopping_ else None
        if scores is not None and not warm:
            step = scores.update(step, None)
        for _ in range(len(predictors), self.max_iter):
            iteration = []
            for k in range(K):
                seed = 0
                if self.max_features < 1:  # the single machine's draw of the tree's seed
                    seed = int(self._feature_subsample_rng.integers(np.iinfo(np.int64).max))
                tree, step, values = grower.grow(step, k, previous, loss, quantile, seed)
                previous = (k, values)
                iteration.append(self._make_predictor(tree))
            predictors.append(iteration)
            if scores is not None:
                step = scores.update(step, previous)
                previous = None  # added to the shards' raw predictions
                if scores.should_stop:
                    break


    def _dask_or_local(self, method, X):
        if not is_dask_collection(X):
            return getattr(super(), method)(X)
        check_is_fitted(self)
        return partitionwise(self._local_model(), method, X, self.n_features_in_)

    def _local_model(self):
        """The fitted model as the single-machine fastml estimator (what a partition runs)."""
        local = self._local_class.__new__(self._local_class)
        local.__setstate__(self.__getstate__())
        return local

    def predict(self, X):
        return self._dask_or_local("predict", X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags


class HistGradientBoostingRegressor(_DaskBoostingMixin, _local.HistGradientBoostingRegressor):
    """fastml.ensemble.HistGradientBoostingRegressor fitted on the partitions of a dask array
    (see the module fastml.dask._boosting for what is distributed, what can differ from the
    single-machine model, and what is missing). predict takes dask or NumPy input."""

    _local_class = _local.HistGradientBoostingRegressor


class HistGradientBoostingClassifier(_DaskBoostingMixin, _local.HistGradientBoostingClassifier):
    """fastml.ensemble.HistGradientBoostingClassifier fitted on the partitions of a dask array
    (see HistGradientBoostingRegressor). predict, predict_proba and decision_function take
    dask or NumPy input."""

    _local_class = _local.HistGradientBoostingClassifier

    def predict_proba(self, X):
        return self._dask_or_local("predict_proba", X)

    def decision_function(self, X):
        return self._dask_or_local("decision_function", X)
