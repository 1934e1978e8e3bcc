// The tree builder: grows one tree by a growth policy (growth.hpp), evaluating each node with
// NodeSearch, partitioning its rows, and recording it in scikit-learn's node arrays.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "growth.hpp"
#include "node_search.hpp"
#include "partition.hpp"
#include "statistics.hpp"
#include "surrogates.hpp"
#include "tree_nodes.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// scikit-learn's tree builders' EPSILON (tree/_tree.pyx): a classification node of no more
// impurity is a leaf, a split improving less than min_impurity_decrease by more is none. Its
// criteria's EPSILON, kEpsilon, is ten times as large.
constexpr double kLeafEpsilon = std::numeric_limits<double>::epsilon();

// Per-row state: a builder and the builders of its deferred subtrees share it, each touching
// only the rows (and ranges of rows and of the presorted lists) of its own nodes.
template <class T>
struct RowState {
  std::vector<std::int32_t> rows;  // the rows of non-zero weight, each node's a range
  RowStatistics stats;
  PresortedColumns<T> presorted;        // exact search (see PresortedColumns::presort)
  std::vector<std::int32_t> rank_of;    // absolute error, see AbsoluteErrorSearch
  std::vector<std::uint8_t> primary_side;  // surrogate splits, see SurrogateSearch
  std::vector<std::int32_t> position;   // sparse X: each row's index in rows, -1 if absent
  ChainRows chain;                      // sparse X's histogram search, see ChainRows
  SklearnOrder<T> order;                // see Builder::sklearn_order_
};

// Whether every sum of the rows' statistics is exact in doubles: each term an integer and
// every sum of their magnitudes below 2^53.
inline bool exact_sums(const RowStatistics& st, const std::vector<std::int32_t>& rows) {
  const double limit = 9007199254740992.0;  // 2^53
  double w = 0, wy = 0, wq = 0;
  const std::size_t n_out = static_cast<std::size_t>(st.n_out);
  for (std::int32_t r : rows) {
    const double wr = st.w[r];
    if (wr != std::floor(wr)) return false;
    w += std::fabs(wr);
    if (st.K > 0) continue;
    for (std::size_t o = 0; o < n_out; ++o) {
      const double a = st.wy[r * n_out + o], b = st.wq[r * n_out + o];
      if (a != std::floor(a) || b != std::floor(b)) return false;
      wy += std::fabs(a);
      wq += std::fabs(b);
    }
  }
  return w < limit && wy < limit && wq < limit;
}

template <class T>
class Builder {
 public:
  // The builder of a tree over the rows of non-zero weight.
  Builder(const Dataset<T>& data, const Params& params, const double* weight, std::uint64_t seed,
          int n_threads)
      : Builder(data, params, seed, std::max(n_threads, 1), std::make_unique<RowState<T>>(),
                nullptr) {
    for (index_t r = 0; r < d_.n_rows; ++r)
      if (weight[r] != 0) rows_.push_back(static_cast<std::int32_t>(r));
    rs_.stats.init(d_, ch_, p_.criterion, weight, !absolute_ && !p_.random_splitter);
    if (surrogate_) rs_.primary_side.resize(d_.n_rows);
    if (absolute_) rs_.rank_of.resize(d_.n_rows * ch_.n_out);
    if (d_.csc_indptr) {
      rs_.position.assign(d_.n_rows, -1);
      for (std::size_t i = 0; i < rows_.size(); ++i) rs_.position[rows_[i]] = static_cast<std::int32_t>(i);
      rs_.chain.index(d_, rs_.stats, rows_);
    }
    // scikit-learn's order wherever a sum of the rows' statistics may round (fractional
    // weights, targets not integers, the Poisson loss's w y log y): in another order it rounds
    // otherwise and near-ties go the other way. scikit-learn (>= 1.9) has no friedman_mse
    // criterion of its own: the core's keeps its sums
    if (!hist_mode_ && !p_.random_splitter && !surrogate_ &&
        p_.criterion != kFriedmanMSE &&
        !exact_sums(rs_.stats, rows_)) {
      sklearn_order_ = sklearn_sums_ = true;
      rs_.order.rows = rows_;  // scikit-learn's samples: the rows of non-zero weight, ascending
      if (d_.csc_indptr) rs_.order.index_rows(d_.n_rows);
      search_.use_sklearn_order(&rs_.order);
    }
    exact_sums_ = d_.csc_codes && !absolute_ && !surrogate_ && !p_.random_splitter &&
                  exact_sums(rs_.stats, rows_);
    if (exact_sums_) search_.rows_unordered();
  }

  Tree grow() {
    Task root = root_task();
    if (root.end == 0) return finish();  // no row of non-zero weight: see build_forest
    // sparse X is searched from its columns node by node (sparse_columns.hpp), never presorted
    if (!hist_mode_ && !p_.random_splitter && !d_.csc_indptr) {
      rs_.presorted.presort(d_, rows_, n_threads_);
      if (sklearn_order_)
        rs_.order.note_columns(rs_.presorted.column(0, 0), static_cast<index_t>(rows_.size()),
                               d_.n_features);
    }
    if (p_.max_leaf_nodes > 0) {
      grow_best_first(*this, std::move(root), p_.max_leaf_nodes);
    } else {
      // scikit-learn's draws carry their state from node to node in preorder: with them no
      // subtree is set aside to grow apart
      defer_ = !search_.sklearn_draws();
      if (defer_) search_.defer_tasks_below(kSubtreeRows);
      grow_depth_first(*this, std::move(root), defer_);
      if (defer_) grow_deferred();
    }
    return finish();
  }

  // The root alone, a leaf over every row of non-zero weight.
  Tree grow_leaf() {
    Task root = root_task();
    if (root.end > 0) add_node(root);
    return finish();
  }

  // ---- the grower of growth.hpp ----

  // Adds the node of task as a leaf and searches its split; a split found is applied to the
  // rows (the node becomes internal only when commit() is called).
  Outcome evaluate(Task& task) {
    Outcome out;
    out.node = add_node(task);
    const double* S = task.totals.data();
    const index_t n = task.end - task.begin;
    const double imp = tree_.impurity[out.node];
    const bool sklearn_sums = sklearn_sums_;
    const double epsilon = sklearn_sums ? kLeafEpsilon : kEpsilon;
    bool leaf = task.depth >= p_.max_depth || n < p_.min_samples_split ||
                n < 2 * p_.min_samples_leaf || S[1] < 2 * p_.min_weight_leaf || imp <= epsilon;
    Split split;
    AbsoluteErrorSearch& absolute = search_.absolute();
    if (!leaf) {
      if (sklearn_sums && ch_.K > 0) task.pure = is_pure(S);
      absolute.node_error = imp * S[1] * ch_.n_out;
      split = search_.find_split(task);
      leaf = split.feature < 0;
    }
    if (!leaf) {
      if (surrogate_) surrogates_.find_surrogates(task.begin, task.end, split);
      out.left = child_of(task, out.node, true);
      out.right = child_of(task, out.node, false);
      partition(task, split, out.left, out.right);
      if (absolute_ && surrogate_ && split.has_missing) {
        // the search saw the present rows alone: the children's errors and medians over the
        // rows the surrogates routed too
        split.median_left = absolute.median_and_error(scratch_[0], rows_.data() + out.left.begin,
                                                      out.left.end - out.left.begin,
                                                      split.error_left);
        split.median_right = absolute.median_and_error(
            scratch_[0], rows_.data() + out.right.begin, out.right.end - out.right.begin,
            split.error_right);
      }
      if (sklearn_sums) {
        out.improvement = sklearn_children(task, imp, out.left, out.right);
      } else if (absolute_) {
        const int n_out = ch_.n_out;
        const double w = S[1], wl = out.left.totals[1], wr = out.right.totals[1];
        out.improvement = (w / root_weight_) * (imp - wl / w * (split.error_left / wl / n_out) -
                                                wr / w * (split.error_right / wr / n_out));
      } else {
        out.improvement = improvement(p_.criterion, S, out.left.totals.data(),
                                      out.right.totals.data(), ch_.outputs, root_weight_);
      }
      leaf = out.improvement + epsilon < p_.min_impurity_decrease;
    }
    if (leaf) {
      search_.release(task.hist);
      return out;
    }
    out.leaf = false;
    pending_[out.node] = split;
    bound_children(split, out.left, out.right);
    search_.share_histograms(task, out.left, out.right, defer_);
    return out;
  }

  void commit(std::int64_t node) {
    const Split& s = pending_[node];
    tree_.feature[node] = s.feature;
    tree_.threshold[node] = s.threshold;
    tree_.missing_go_to_left[node] = s.missing_left;
  }

  void defer(Task&& task) {
    search_.release(task.hist);  // a subtree fills its own histograms
    deferred_.push_back(std::move(task));
  }

 private:
  Builder(const Dataset<T>& data, const Params& params, std::uint64_t seed, int n_threads,
          std::unique_ptr<RowState<T>> own_rows, RowState<T>* shared_rows)
      : d_(data),
        p_(params),
        seed_(seed),
        n_threads_(n_threads),
        own_rows_(std::move(own_rows)),
        rs_(own_rows_ ? *own_rows_ : *shared_rows),
        rows_(rs_.rows),
        ch_(data),
        hist_mode_(data.binned()),
        absolute_(params.criterion == kAbsoluteError),
        surrogate_(params.surrogates),
        sklearn_sums_(ch_.K > 0 && params.criterion != kAbsoluteError && !data.binned()),
        scratch_(n_threads),
        sorted_tmp_(n_threads),
        search_(data, params, ch_, rs_.stats, rs_.rows, rs_.presorted, rs_.rank_of, rs_.position,
                rs_.chain, scratch_,
                seed, n_threads),
        surrogates_{data,
                    params.monotonic_cst.empty() ? nullptr : params.monotonic_cst.data(),
                    rs_.rows,
                    rs_.stats.w,
                    rs_.presorted,
                    rs_.primary_side,
                    sorted_tmp_,
                    scratch_,
                    n_threads,
                    {}} {
    for (Scratch& s : scratch_) s.reserve(ch_.C, hist_mode_);
    if (surrogate_) surrogates_.results.resize(d_.n_features);
  }

  // The builder of a subtree deferred by `parent` (see grow_deferred), on one thread: it shares
  // the parent's per-row state, whose rows it alone touches, and has its own scratch.
  Builder(const Builder& parent, std::uint64_t seed)
      : Builder(parent.d_, parent.p_, seed, 1, nullptr, &parent.rs_) {
    root_weight_ = parent.root_weight_;
    exact_sums_ = parent.exact_sums_;
    if (exact_sums_) search_.rows_unordered();
  }

  // The subtree below a deferred task, its root node 0.
  Tree grow_subtree(Task root) {
    grow_depth_first(*this, std::move(root), false);
    return finish();
  }

  // Grows the deferred subtrees on n_threads_ threads; finish() links them in.
  void grow_deferred() {
    search_.release_histograms();  // the subtrees fill histograms of their own
    subtrees_ = grow_subtrees(deferred_, seed_, n_threads_, [&](std::uint64_t seed, Task task) {
      return Builder(*this, seed).grow_subtree(std::move(task));
    });
  }

  Task root_task() {
    Task root;
    root.begin = 0;
    root.end = static_cast<index_t>(rows_.size());
    root.totals.assign(ch_.C, 0.0);
    for (std::int32_t r : rows_) rs_.stats.add(root.totals.data(), r);
    root_weight_ = root.totals[1];
    if (sklearn_order_) sklearn_node_start(root, rows_.data());
    return root;
  }

  Task child_of(const Task& parent, std::int64_t node, bool is_left) const {
    Task c;
    c.depth = parent.depth + 1;
    c.parent = node;
    c.is_left = is_left;
    c.lower = parent.lower;
    c.upper = parent.upper;
    // scikit-learn's best-first builder forgets the constants found above each node
    c.n_constant = p_.max_leaf_nodes > 0 ? 0 : parent.n_constant;
    c.totals.assign(ch_.C, 0.0);
    return c;
  }

  // Whether each output's weight is in one class: scikit-learn's children's class sums then
  // equal their weights to the bit, whichever candidate, and every proxy is -0.0 (the first
  // candidate wins), where fastml's proxies would differ in their rounding.
  bool is_pure(const double* S) const {
    for (int o = 0; o < ch_.n_out; ++o) {
      int nonzero = 0;
      for (int k = ch_.class_start[o]; k < ch_.class_start[o + 1]; ++k) nonzero += S[2 + k] != 0;
      if (nonzero > 1) return false;
    }
    return true;
  }

  // The children's impurities and the split's improvement as scikit-learn computes them after
  // its search (Criterion.reset, update(pos), children_impurity, impurity_improvement), over
  // the node's rows in its order (sklearn_order_, else the rows' own): the left sums by
  // scikit-learn's running-sum rule (SklearnSums), the right the node's less those. Their
  // rounding, not that of the children's own sums, decides whether a pure child is a leaf (its
  // impurity ~1e-16 or 0). The squared error's sums of w y^2 and the Poisson loss are summed
  // over each side's rows afresh, as there. The children's totals stay their own sums (its
  // node_reset). Returns the improvement; sets the children's impurity.
  [[gnu::noinline]] double sklearn_children(const Task& task, double parent_impurity, Task& left, Task& right) {
    const int C = ch_.C;
    const double* S = task.totals.data();
    std::vector<double>& L = sums_left_;
    std::vector<double>& R = sums_right_;
    L.assign(C, 0.0);
    R.resize(C);
    const index_t n = task.end - task.begin, n_left = left.end - left.begin;
    const std::int32_t* rows = (sklearn_order_ ? rs_.order.rows : rows_).data() + task.begin;
    const double w = S[1];
    if (absolute_) {  // its criterion reset over the partitioned rows; update adds forward
      Scratch& s = scratch_[0];
      search_.absolute().sklearn_reset(rows, n, s);
      double wl = 0;
      for (index_t j = 0; j < n_left; ++j) wl += rs_.stats.w[rows[j]];
      const double wr = w - wl;
      left.impurity = s.error_left[n_left - 1] / (wl * ch_.n_out);
      right.impurity = s.error_right[n_left] / (wr * ch_.n_out);
      return w / root_weight_ *
             (parent_impurity - wr / w * right.impurity - wl / w * left.impurity);
    }
    SklearnSums sums{rs_.stats, S, C, n, L.data()};
    sums.move_to(n_left, [&](index_t j) { return rows[j]; });
    for (int c = 0; c < C; ++c) R[c] = S[c] - L[c];
    const double wl = L[1], wr = R[1];
    if (ch_.K > 0) {
      left.impurity = impurity(p_.criterion, L.data(), ch_.outputs);
      right.impurity = impurity(p_.criterion, R.data(), ch_.outputs);
    } else if (p_.criterion == kPoisson) {
      left.impurity = poisson_loss(rows, n_left, L.data());
      right.impurity = poisson_loss(rows + n_left, n - n_left, R.data());
    } else {
      const double sq_left = left.sq_total;  // sklearn_totals': the same sum
      left.impurity = squared_error(sq_left, L.data());
      right.impurity = squared_error(task.sq_total - sq_left, R.data());
    }
    return w / root_weight_ * (parent_impurity - wr / w * right.impurity - wl / w * left.impurity);
  }

  // What scikit-learn's criterion takes from a node's rows when the node starts (node_reset,
  // rows in its order): the squared error's sq_sum_total, and the root's impurity
  // (node_impurity; a child's is its parent's split's).
  [[gnu::noinline]] void sklearn_node_start(Task& task, const std::int32_t* rows) {
    const index_t n = task.end - task.begin;
    if (absolute_ && task.parent < 0 && n > 0) {
      Scratch& s = scratch_[0];
      search_.absolute().sklearn_reset(rows, n, s);
      task.impurity = s.error_right[0] / (task.totals[1] * ch_.n_out);
    } else if (p_.criterion == kSquaredError) {
      // one output: the totals' sum of w y^2, which are summed over the same rows in the same
      // order (sklearn_totals, root_task)
      task.sq_total = ch_.n_out == 1 ? task.totals[3] : sklearn_squares(rows, n);
      if (task.parent < 0) task.impurity = squared_error(task.sq_total, task.totals.data());
    } else if (p_.criterion == kPoisson && task.parent < 0) {
      task.impurity = poisson_loss(rows, n, task.totals.data());
    }
  }

  // scikit-learn's sum of w y^2 over n rows and every output (its squared error's sq_sum):
  // one sum, the rows' terms added in their order, each row's outputs in turn.
  double sklearn_squares(const std::int32_t* rows, index_t n) const {
    const int n_out = ch_.n_out;
    double sq = 0;
    for (index_t j = 0; j < n; ++j)
      for (int o = 0; o < n_out; ++o) sq += rs_.stats.wq[rows[j] * n_out + o];
    return sq;
  }

  // scikit-learn's squared error of rows whose sum of w y^2 is sq and whose sums are S.
  double squared_error(double sq, const double* S) const {
    const int n_out = ch_.n_out;
    const double w = S[1];
    double imp = sq / w;
    for (int o = 0; o < n_out; ++o) imp -= (S[2 + o] / w) * (S[2 + o] / w);
    return imp / n_out;
  }

  // scikit-learn's Poisson impurity of n rows whose sums are S (its poisson_loss): the rows'
  // terms added in their order.
  [[gnu::noinline]] double poisson_loss(const std::int32_t* rows, index_t n, const double* S) const {
    const int n_out = ch_.n_out;
    const double w = S[1];
    double loss = 0;
    for (int o = 0; o < n_out; ++o) {
      if (S[2 + o] <= kEpsilon) return kInf;
      const double mean = S[2 + o] / w;
      for (index_t j = 0; j < n; ++j) {
        const double y = d_.y[static_cast<index_t>(rows[j]) * n_out + o];
        loss += rs_.stats.w[rows[j]] * (y == 0 ? 0.0 : y * std::log(y / mean));
      }
    }
    return loss / (w * n_out);
  }

  // scikit-learn's bounds: a constrained split puts the children on either side of their mean.
  void bound_children(const Split& s, Task& left, Task& right) const {
    const int cst = p_.monotonic_cst.empty() ? 0 : p_.monotonic_cst[s.feature];
    if (cst == 0) return;
    const double middle =
        absolute_ ? (s.median_left + s.median_right) / 2
                  : (monotonic_value(left.totals.data()) + monotonic_value(right.totals.data())) / 2;
    Task& below = cst > 0 ? left : right;
    Task& above = cst > 0 ? right : left;
    below.upper = middle;
    above.lower = middle;
  }

  // Moves the left rows to the front of the task's range and sums both children's statistics;
  // the presorted lists follow.
  void partition(const Task& task, Split& split, Task& left, Task& right) {
    const index_t f = split.feature, n = task.end - task.begin;
    std::int32_t* rows = rows_.data() + task.begin;
    double* L = left.totals.data();
    double* R = right.totals.data();
    index_t n_left;
    if (exact_sums_) {
      n_left = sides_.partition_stored(d_, f, NodeRows{rows, n, rs_.position.data(), task.begin,
                                                       false},
                                       split, rows, rs_.position.data(), rs_.stats,
                                       task.totals.data(), ch_.C, L, R);
    } else if (d_.csc_indptr) {
      // the node's stored entries of the feature alone (SparseSides); a histogram split's by
      // their codes, which route every row as its threshold would
      const NodeRows node{rows, n, rs_.position.data(), task.begin};
      if (sklearn_order_) {
        // before partition_rows, while the node's rows still ascend (node_nonzeros)
        entries_.resize(static_cast<std::size_t>(d_.csc_indptr[f + 1] - d_.csc_indptr[f]));
        const index_t count = node_nonzeros(d_, f, node, entries_.data());
        rs_.order.partition_sparse(entries_.data(), count, task.begin, task.end,
                                   split.threshold);
      }
      sides_.mark(d_, f, node, split);
      n_left = partition_rows(rows, n, buffer_, rs_.stats, L, R,
                              [&](std::int32_t r) { return sides_.goes_left(r); });
      for (index_t i = task.begin; i < task.end; ++i)
        rs_.position[rows_[i]] = static_cast<std::int32_t>(i);
    } else if (hist_mode_) {
      const CodeKeys keys{d_.codes + f, d_.n_features, nullptr, nullptr};
      const int cut = static_cast<int>(split.cut);
      n_left = partition_rows(
          rows, n, buffer_, rs_.stats, L, R,
          [&](std::int32_t r) {
            const int code = keys.code(r);
            return code == kMissingBin ? missing_goes_left(d_, split, r) : code <= cut;
          },
          [&](std::int32_t r) { __builtin_prefetch(&keys.column[r * keys.stride]); });
      search_.partition_tiny(task, n_left, split);
    } else {
      const T* col = d_.values + f * d_.n_rows;
      const double t = split.threshold;
      const auto goes_left = [&](std::int32_t r) {
        const double x = col[r];
        return std::isnan(x) ? missing_goes_left(d_, split, r) : x <= t;
      };
      // in scikit-learn's order the children's sums are sklearn_totals'
      n_left = partition_rows(rows, n, buffer_, rs_.stats, sklearn_order_ ? nullptr : L,
                              sklearn_order_ ? nullptr : R, goes_left);
      if (sklearn_order_) rs_.order.partition(task.begin, task.end, goes_left);
    }
    left.begin = task.begin;
    left.end = right.begin = task.begin + n_left;
    right.end = task.end;
    if (sklearn_order_) sklearn_totals(task, left, right);
    if (!rs_.presorted.empty())
      rs_.presorted.partition(rows_, task.begin, task.end, n_left, d_.n_features, n_threads_,
                              sorted_tmp_);
    if (!split.has_missing && !surrogate_) split.missing_left = n_left > n - n_left;
  }

  // The children's sums as scikit-learn's node_reset takes them: over its order of the task's
  // rows, partitioned (the first n_left rows left); left's and right's begin and end are set.
  [[gnu::noinline]] void sklearn_totals(const Task& task, Task& left, Task& right) {
    const std::int32_t* order = rs_.order.rows.data() + task.begin;
    const index_t n_left = left.end - left.begin;
    double* L = left.totals.data();
    double* R = right.totals.data();
    std::fill(L, L + ch_.C, 0.0);
    std::fill(R, R + ch_.C, 0.0);
    for (index_t i = 0; i < task.end - task.begin; ++i)
      rs_.stats.add(i < n_left ? L : R, order[i]);
    sklearn_node_start(left, order);
    sklearn_node_start(right, order + n_left);
  }

  std::int64_t add_node(const Task& task) {
    const std::int64_t id = tree_.n_nodes();
    const double* S = task.totals.data();
    const int n_out = ch_.n_out, K = ch_.K;
    tree_.children_left.push_back(-1);
    tree_.children_right.push_back(-1);
    tree_.feature.push_back(-2);
    tree_.threshold.push_back(-2.0);
    tree_.missing_go_to_left.push_back(0);
    tree_.n_node_samples.push_back(static_cast<std::int64_t>(S[0]));
    tree_.weighted_n_node_samples.push_back(S[1]);
    // regression: the node's values before clipping
    std::vector<double>& target = node_target_;
    target.resize(n_out);
    if (absolute_) {
      double error = 0;
      search_.absolute().median_and_error(scratch_[0], rows_.data() + task.begin,
                                          task.end - task.begin, error, target.data());
      tree_.impurity.push_back(sklearn_sums_ && !std::isnan(task.impurity) ? task.impurity
                                                                           : error / S[1] / n_out);
    } else {
      if (K == 0)
        for (int o = 0; o < n_out; ++o) target[o] = S[2 + o] / S[1];
      tree_.impurity.push_back(sklearn_sums_ && !std::isnan(task.impurity)
                                   ? task.impurity
                                   : impurity(p_.criterion, S, ch_.outputs));
    }
    // monotonic constraints come with a single output
    const bool clip = !p_.monotonic_cst.empty();
    if (K > 0) {
      const std::size_t first = tree_.value.size();
      const std::vector<int>& start = ch_.class_start;
      for (int o = 0; o < n_out; ++o)
        for (int k = start[o]; k < start[o] + ch_.max_classes; ++k)
          tree_.value.push_back(k < start[o + 1] ? S[2 + k] / S[1] : 0.0);
      if (clip && K == 2) {
        tree_.value[first] = std::clamp(tree_.value[first], task.lower, task.upper);
        tree_.value[first + 1] = 1.0 - tree_.value[first];
      }
    } else {
      for (double v : target)
        tree_.value.push_back(clip ? std::clamp(v, task.lower, task.upper) : v);
    }
    if (task.parent >= 0)
      (task.is_left ? tree_.children_left : tree_.children_right)[task.parent] = id;
    pending_.emplace_back();
    return id;
  }

  // The surrogates of the committed splits, by node id (splits are committed out of id order
  // when growing best first); then the deferred subtrees linked in, and the nodes numbered in
  // preorder.
  Tree finish() {
    tree_.surrogate_ptr.assign(1, 0);
    for (index_t node = 0; node < tree_.n_nodes(); ++node) {
      if (tree_.feature[node] >= 0) {
        for (const Surrogate& s : pending_[node].surrogates) {
          tree_.surrogate_feature.push_back(s.feature);
          tree_.surrogate_threshold.push_back(s.threshold);
          tree_.surrogate_reversed.push_back(s.reversed);
        }
      }
      tree_.surrogate_ptr.push_back(static_cast<std::int64_t>(tree_.surrogate_feature.size()));
    }
    if (subtrees_.empty()) return std::move(tree_);
    std::vector<SubtreeLink> links;
    links.reserve(deferred_.size());
    for (const Task& task : deferred_) links.push_back({task.parent, task.is_left});
    return link_subtrees(tree_, subtrees_, links);
  }

  const Dataset<T>& d_;
  const Params& p_;
  std::uint64_t seed_;
  int n_threads_;
  std::unique_ptr<RowState<T>> own_rows_;  // the top builder's; a subtree's builder has none
  RowState<T>& rs_;
  std::vector<std::int32_t>& rows_;  // rs_.rows
  Channels ch_;
  bool hist_mode_, absolute_, surrogate_;
  // classification by the exact search (scikit-learn's trees): nodes' impurities and
  // improvements, and the leaf tests, as scikit-learn's (see sklearn_children); the histogram
  // search, which has no scikit-learn tree to give, keeps pure nodes leaves
  bool sklearn_sums_ = false;
  // the exact search where sums round (see the constructor): the rows kept in scikit-learn's
  // order too (see sklearn_order.hpp), for regression (the absolute error included) and on
  // sparse X as well
  bool sklearn_order_ = false;
  std::vector<double> sums_left_, sums_right_;  // sklearn_children's
  // the histogram search on sparse X with every row's statistics integral (bootstraps, unit
  // weights, classes or integer targets): every sum is exact, whatever the order of its terms
  // or whether a side is the node's less the other, so partition moves the stored rows alone
  // (SparseSides::partition_stored) and gives the trees a stable partition gives
  bool exact_sums_ = false;
  bool defer_ = false;  // small tasks are deferred (see grow_depth_first)
  double root_weight_ = 0;
  std::vector<Scratch> scratch_;  // per thread
  std::vector<std::vector<typename PresortedColumns<T>::Sorted>> sorted_tmp_;  // per thread
  NodeSearch<T> search_;
  SurrogateSearch<T> surrogates_;
  std::vector<std::int32_t> buffer_;  // partition's
  SparseSides<T> sides_;              // partition's, on sparse X
  std::vector<std::pair<T, std::int32_t>> entries_;  // partition's, on sparse X in sklearn order
  std::vector<double> node_target_;   // add_node's: a regression node's values
  std::vector<Task> deferred_;        // see grow_depth_first
  std::vector<Tree> subtrees_;        // grown from deferred_
  std::vector<Split> pending_;        // per node: its split, until committed
  Tree tree_;
};

}  // namespace
}  // namespace fastml::cart::detail
