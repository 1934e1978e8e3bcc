// The split search of one node: features drawn as scikit-learn draws them, each searched by the
// search its options call for (histogram, small node, presorted values, absolute error,
// random), on several threads when the node is large; and the node's histograms, filled, kept
// for its children and subtracted.
#pragma once

#include <algorithm>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

#include "absolute_error.hpp"
#include "fastml/openmp_helpers.h"
#include "growth.hpp"
#include "histogram.hpp"
#include "partition.hpp"
#include "random_split.hpp"
#include "sparse_columns.hpp"
#include "sparse_hist.hpp"
#include "split_search.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

template <class T>
class NodeSearch {
 public:
  using Sorted = typename PresortedColumns<T>::Sorted;

  // rows, presorted and rank_of: the per-row state, shared with the builders of deferred
  // subtrees; scratch: one per thread.
  NodeSearch(const Dataset<T>& d, const Params& p, const Channels& ch, const RowStatistics& stats,
             const std::vector<std::int32_t>& rows, const PresortedColumns<T>& presorted,
             std::vector<std::int32_t>& rank_of, const std::vector<std::int32_t>& position,
             ChainRows& chain_rows, std::vector<Scratch>& scratch,
             std::uint64_t seed, int n_threads)
      : d_(d),
        p_(p),
        rows_(rows),
        position_(position),
        presorted_(presorted),
        scratch_(scratch),
        random_{seed ^ kSplitStream},
        sklearn_random_{static_cast<std::uint32_t>(seed)},
        n_threads_(n_threads),
        monotonic_(p.monotonic_cst.empty() ? nullptr : p.monotonic_cst.data()),
        hist_mode_(d.binned()),
        absolute_(p.criterion == kAbsoluteError),
        subtract_(d.codes && !absolute_ && !p.random_splitter &&
                  p.max_features >= d.n_features && p.max_leaf_nodes == 0),
        sklearn_draws_(!hist_mode_ && !p.random_splitter),
        tiny_nodes_(d.codes && !d.csc_codes && !absolute_ && !p.random_splitter && !p.surrogates &&
                    p.monotonic_cst.empty()),
        search_{stats, ch.outputs, ch.C, p.surrogates},
        absolute_search_{d.y, stats, rank_of, ch.n_out, ch.C, p.surrogates, 0, {}, {}},
        pool_(d.n_features, ch.C, stats),
        fill_{d.codes, d.n_features, stats, ch.C},
        chain_(chain_rows) {
    const index_t F = d.n_features;
    order_.resize(F);
    std::iota(order_.begin(), order_.end(), index_t{0});
    all_features_.resize(F);
    std::iota(all_features_.begin(), all_features_.end(), index_t{0});
    draw_u_.resize(F);
    draw_side_.resize(F);
    if (d.csc_indptr) sparse_.resize(scratch.size());
    if (sklearn_draws_) {
      features_ = all_features_;
      constant_features_.resize(F);
      searched_.resize(F);
    }
  }

  AbsoluteErrorSearch& absolute() { return absolute_search_; }

  // The builder's partition leaves a node's rows in no order (see NodeRows::ascending).
  void rows_unordered() { ascending_ = false; }

  // The growth sets tasks under `rows` rows aside for other builders (see grow_depth_first):
  // a node whose children are all set aside keeps no chain histograms for them.
  void defer_tasks_below(index_t rows) { defer_below_ = rows; }

  // The exact search with the best splitter draws features as scikit-learn's splitter does (see
  // sklearn_split), so that the same random_state gives scikit-learn's tree.
  bool sklearn_draws() const { return sklearn_draws_; }

  // The exact search where sums round over rows kept in scikit-learn's order (see
  // sklearn_order.hpp), which each visited feature's search sorts in turn.
  void use_sklearn_order(SklearnOrder<T>* order) { sklearn_order_ = order; }

  // Draws features without replacement (Fisher-Yates, as scikit-learn) until max_features have
  // been searched and one of them was not constant; the best proxy wins, ties to the first drawn.
  Split find_split(Task& task) {
    const index_t F = d_.n_features;
    const index_t n = task.end - task.begin;
    // the random search sorts sides; scikit-learn's order ranks them at each feature
    if (absolute_ && !p_.random_splitter && !sklearn_order_)
      absolute_search_.rank_targets(rows_.data() + task.begin, n);
    if (sklearn_draws_) return sklearn_split(task);
    const index_t small = search_.stats.bits && !subtract_ ? kSmallPackedNode : kSmallNode;
    const bool histograms = d_.codes && !absolute_ && !p_.random_splitter && n >= small;
    // sparse X: each drawn feature's bins from the node's entries (sparse_hist.hpp), a small
    // node's of the first batch drawn grouped by feature once
    const bool entries = d_.csc_codes &&
                         NodeEntries<T>::worth_it(d_, n, p_.max_features, kRowsCheaper);
    node_chain_ = entries ? nullptr : chain_for(task);
    if (histograms && task.hist < 0) task.hist = pool_.acquire();
    for (Scratch& s : scratch_) s.memo.known = 0;
    // a small node of one block of 4 channels (under kTinyNode rows where the blocks are
    // packed): every drawn feature searched at once, on this thread (tiny_node_features), its
    // rows gathered once. Gathering reads every feature's code of each row (to find missing
    // ones): worth it while the features drawn are a fair share of them (kTinyDrawnShare).
    // Where every feature is drawn, a node of more rows than a memo takes searches its
    // region's lists (see TinyRegion), the region started at the first such node of a subtree.
    const bool tiny_shape = tiny_nodes_ &&
                            n < (search_.stats.bits ? kTinyNode : kTinyFeaturesNode) &&
                            search_.C == 4 && search_.outputs.n == 1 &&
                            F <= kTinyDrawnShare * p_.max_features;
    bool regional = false, missing_found = false;  // a failed region start found a missing code
    if (tiny_shape && p_.max_features >= F && n > TinyMemo::kRows) {
      regional = region_.holds(task.begin, task.end) || start_region(task);
      missing_found = !regional;
    }
    const bool tiny = regional || (tiny_shape && !missing_found &&
                                   search_.gather_tiny(rows_.data() + task.begin, n, d_.codes, F,
                                                       scratch_[0].tiny));
    TinyRows::Best tiny_best{-kInf, -1, -1, -1};
    const Candidates cand = candidates(task, 0, scratch_[0]);
    Split best;
    bool found_variable = false;
    index_t visited = 0;
    while (visited < F && (visited < p_.max_features || !found_variable)) {
      const index_t batch = std::min(std::max(p_.max_features - visited, index_t{1}), F - visited);
      for (index_t i = visited; i < visited + batch; ++i) {
        const index_t j = i + random_.below(F - i);
        std::swap(order_[i], order_[j]);
        swapped_.push_back(j);
        if (p_.random_splitter) {
          draw_u_[i] = random_.uniform();
          draw_side_[i] = random_.next() & 1;
        }
      }
      if (entries && visited == 0)
        node_entries_.build(d_, rows_.data() + task.begin, n, false, order_.data(), batch);
      else if (entries && !node_entries_.every_feature)
        // the first batch all constant, as in most tiny nodes (a few rows' entries, of few
        // features): each feature drawn one by one after it scanned its column, where grouping
        // every feature's entries of the node once finds the constant ones at no cost
        node_entries_.build(d_, rows_.data() + task.begin, n, false);
      if (node_chain_) node_chain_->prefetch(d_, order_.data() + visited, batch);
      if (histograms) {
        unfilled_.clear();
        for (index_t i = visited; i < visited + batch; ++i)
          if (!pool_.filled(task.hist, order_[i])) unfilled_.push_back(order_[i]);
        fill_(pool_, task.hist, rows_.data() + task.begin, n, unfilled_.data(),
              static_cast<index_t>(unfilled_.size()), n_threads_);
      }
      if (tiny) {
        dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto) {
          search_.tiny_node_features<decltype(crit)::value>(
              regional ? region_.rows : scratch_[0].tiny, regional ? &region_ : nullptr,
              task.begin - region_.begin, n, order_.data() + visited, batch, cand, scratch_[0],
              tiny_best, found_variable);
        });
      } else {
        search_batch(task, visited, batch, histograms);
        for (index_t i = visited; i < visited + batch; ++i) {
          const Split& s = results_[i];
          found_variable = found_variable || !s.constant;
          if (s.proxy > best.proxy) best = s;
        }
      }
      visited += batch;
    }
    if (tiny && tiny_best.feature >= 0) {
      best.feature = tiny_best.feature;
      best.has_missing = false;
      best.constant = false;
      take(best, tiny_best.proxy,
           code_keys(best.feature).threshold_between(tiny_best.below, tiny_best.above),
           tiny_best.below, false);
    }
    node_entries_.active = false;
    node_chain_ = nullptr;
    chain_.unmark_node(rows_.data() + task.begin, n);
    // order_ back to the identity by undoing the node's swaps, latest first: O(features drawn)
    // where refilling it costs O(n_features) a node (6% of a sparse forest's fit at 5000)
    for (index_t i = static_cast<index_t>(swapped_.size()); i-- > 0;)
      std::swap(order_[i], order_[swapped_[i]]);
    swapped_.clear();
    if (d_.csc_codes && best.feature >= 0)
      best.threshold = sparse_threshold(d_, best.feature, best);
    if (!subtract_) pool_.release(task.hist);
    return best;
  }

  // The children's histograms after a split: the smaller child's are filled, the larger's are
  // the parent's minus them. Without subtraction (or children searched by sorting, or both
  // deferred when small tasks are deferred) the parent's are released.
  void share_histograms(Task& parent, Task& left, Task& right, bool deferring) {
    const index_t nl = left.end - left.begin, nr = right.end - right.begin;
    if (chain_.holds(parent.begin, parent.end)) {
      // the larger child takes the chain's histograms where it will search them itself
      const Task& small = nl <= nr ? left : right;
      const Task& large = nl <= nr ? right : left;
      const index_t n_large = large.end - large.begin;
      if (n_large >= defer_below_ && !chain_skips(n_large))
        chain_.keep_child(d_, rows_.data() + small.begin, small.end - small.begin, large.begin,
                          large.end);
      else
        chain_.release();
    }
    const bool complete = parent.hist >= 0 && pool_.complete(parent.hist);
    const index_t no_histogram_below = deferring ? std::max(kSmallNode, kSubtreeRows) : kSmallNode;
    if (!subtract_ || !complete || std::max(nl, nr) < no_histogram_below) {
      pool_.release(parent.hist);
      return;
    }
    Task& small = nl <= nr ? left : right;
    Task& large = nl <= nr ? right : left;
    small.hist = pool_.acquire();
    large.hist = parent.hist;
    parent.hist = -1;
    fill_(pool_, small.hist, rows_.data() + small.begin, small.end - small.begin,
          all_features_.data(), d_.n_features, n_threads_);
    pool_.subtract(large.hist, small.hist);
  }

  // After the split of a node its rows partitioned, n_left of them left: a node of the tiny
  // region partitions its lists for its children, unless both search apart from the region
  // (TinyMemo::kRows rows at most).
  void partition_tiny(const Task& task, index_t n_left, const Split& split) {
    const index_t n = task.end - task.begin;
    if (region_.holds(task.begin, task.end) && std::max(n_left, n - n_left) > TinyMemo::kRows)
      region_.partition(task.begin - region_.begin, n, split.feature,
                        static_cast<int>(split.cut), d_.n_features);
  }

  void release(int& hist) { pool_.release(hist); }
  // The subtrees set aside grow with histograms of their own, and may take the chain buffers.
  void release_histograms() {
    pool_.clear();
    chain_.give_back();
  }

 private:
  // scikit-learn's Splitter.node_split_best draws: Fisher-Yates over a features array kept from
  // node to node, whose first task.n_constant entries are the features found constant above
  // (drawn but never searched), until max_features features have been visited and one of them
  // was not constant. Whether a drawn feature is constant decides where the array's entries
  // go, hence the features drawn after it: the draws are replayed from the node's start, each
  // feature not yet searched taken as not constant, and the features the replay visits
  // searched together (in parallel), until a replay visits only searched features. The best
  // proxy wins, ties to the first visited, as scikit-learn's strict comparison in visit order.
  Split sklearn_split(Task& task) {
    const index_t n = task.end - task.begin;
    // one thread's searches, or searches too small to share: scikit-learn's loop as it is, each
    // feature searched as it is drawn (a replay costs O(n_features), and on sparse X most
    // features of a deep node are constant, each a replay)
    // scikit-learn's order of the rows: each feature's search starts from the order the one
    // before left, so the features are searched one after the other
    if (n_threads_ == 1 || d_.csc_indptr || sklearn_order_ || n * p_.max_features < kParallelWork)
      return sklearn_split_in_turn(task);
    const index_t F = d_.n_features, n_known = task.n_constant;
    of_feature_.resize(F);  // sized on first use: sklearn_split_in_turn needs none
    std::fill(searched_.begin(), searched_.end(), 0);
    std::vector<index_t>& work = draw_features_;
    SklearnRandom random = sklearn_random_;
    index_t n_found = 0;
    for (;;) {
      work = features_;
      random = sklearn_random_;
      visited_.clear();
      index_t unsearched = 0, f_i = F, n_visited = 0, n_drawn = 0, n_total = n_known;
      n_found = 0;
      while (f_i > n_total && (n_visited < p_.max_features || n_visited <= n_found + n_drawn)) {
        ++n_visited;
        index_t j = random.between(n_drawn, f_i - n_found);
        if (j < n_known) {  // a feature known constant
          std::swap(work[n_drawn], work[j]);
          ++n_drawn;
          continue;
        }
        j += n_found;
        const index_t f = work[j];
        if (searched_[f] && of_feature_[f].constant) {
          std::swap(work[j], work[n_total]);
          ++n_found;
          ++n_total;
          continue;
        }
        if (!searched_[f]) order_[unsearched++] = f;
        std::swap(work[--f_i], work[j]);
        visited_.push_back(f);
      }
      if (unsearched == 0) {
        task.n_constant = n_total;
        break;
      }
      search_batch(task, 0, unsearched, false);
      for (index_t i = 0; i < unsearched; ++i) {
        of_feature_[order_[i]] = results_[i];
        searched_[order_[i]] = 1;
      }
    }
    sklearn_random_ = random;
    features_.swap(work);
    // the array's known constants keep their order for the node's siblings and descendants;
    // the constants found here follow them
    std::copy_n(constant_features_.begin(), n_known, features_.begin());
    std::copy_n(features_.begin() + n_known, n_found, constant_features_.begin() + n_known);
    Split best;
    for (index_t f : visited_)
      if (of_feature_[f].proxy > best.proxy) best = of_feature_[f];
    return best;
  }

  // sklearn_split drawing and searching one feature at a time on one thread, scikit-learn's
  // node_split_best loop: its features array reordered in place.
  Split sklearn_split_in_turn(Task& task) {
    const index_t F = d_.n_features, n_known = task.n_constant;
    std::vector<index_t>& features = features_;
    SklearnRandom& random = sklearn_random_;
    index_t f_i = F, n_visited = 0, n_drawn = 0, n_found = 0, n_total = n_known;
    Split best;
    const index_t n = task.end - task.begin;
    if (d_.csc_indptr && NodeEntries<T>::worth_it(d_, n, p_.max_features))
      node_entries_.build(d_, rows_.data() + task.begin, n, true);
    while (f_i > n_total && (n_visited < p_.max_features || n_visited <= n_found + n_drawn)) {
      ++n_visited;
      index_t j = random.between(n_drawn, f_i - n_found);
      if (j < n_known) {  // a feature known constant
        std::swap(features[n_drawn], features[j]);
        ++n_drawn;
        continue;
      }
      j += n_found;
      const index_t f = features[j];
      const Split result = search_feature(task, f, 0, false, scratch_[0]);
      if (result.constant) {
        std::swap(features[j], features[n_total]);
        ++n_found;
        ++n_total;
        continue;
      }
      std::swap(features[--f_i], features[j]);
      if (result.proxy > best.proxy) best = result;
    }
    node_entries_.active = false;
    task.n_constant = n_total;
    // as sklearn_split: the known constants keep their order, the ones found here follow
    std::copy_n(constant_features_.begin(), n_known, features.begin());
    std::copy_n(features.begin() + n_known, n_found, constant_features_.begin() + n_known);
    return best;
  }

  // Makes the task's node the root of the tiny region: its rows gathered, each feature's keys
  // ranked into its list. False, no region held, where a row has a missing code.
  bool start_region(const Task& task) {
    const index_t F = d_.n_features, n = task.end - task.begin;
    region_.end = 0;
    if (!search_.gather_tiny(rows_.data() + task.begin, n, d_.codes, F, region_.rows))
      return false;
    region_.lists.resize(static_cast<std::size_t>(F) * kTinyFeaturesNode);
    for (index_t f = 0; f < F; ++f)
      search_.tiny_order(region_.rows, f, region_.lists.data() + f * kTinyFeaturesNode);
    region_.begin = task.begin;
    region_.end = task.end;
    return true;
  }

  // Chain histograms of a large node on sparse X (see ChainHistograms): the ones its parent
  // left it, else built for it where a chain's worth of its descendants may search them (a
  // build reads every entry of its rows, as much as kChainBuild nodes' column scans), else its
  // rows marked (unmarked at the end of find_split). nullptr: its drawn columns are scanned.
  static constexpr double kChainBuild = 8.0;
  bool chain_skips(index_t n) const {
    return NodeEntries<T>::worth_it(d_, n, p_.max_features, kRowsCheaper);
  }
  const ChainHistograms<T>* chain_for(const Task& task) {
    if (!chain_.usable()) return nullptr;
    const index_t n = task.end - task.begin;
    if (chain_.holds(task.begin, task.end)) {
      if (chain_.shrunk()) chain_.build(d_, rows_.data() + task.begin, n, task.begin);
      return &chain_;
    }
    // both children set aside, or too few rows for a chain to repay the build
    if (n - 1 < defer_below_ || NodeEntries<T>::worth_it(d_, n, p_.max_features, kChainBuild))
      chain_.mark_node(d_, rows_.data() + task.begin, n);
    else
      chain_.build(d_, rows_.data() + task.begin, n, task.begin);
    return &chain_;
  }

  void search_batch(Task& task, index_t first, index_t count, bool histograms) {
    const index_t n = task.end - task.begin;
    // sized on first use: a Split per feature, megabytes with many features, which
    // sklearn_split_in_turn (every tree of a forest on sparse X) never needs
    results_.resize(d_.n_features);
    // a histogram's scan does not depend on n, and is too short to share
    if (n_threads_ == 1 || histograms || count == 1 || n * count < kParallelWork) {
      // no region at all: entering one, even with if(false), costs the OpenMP runtime about a
      // thousand instructions (callgrind), 3% of those of a fully grown regression tree, whose
      // nodes mostly hold a few rows
      for (index_t i = first; i < first + count; ++i)
        results_[i] = drawn_split(task, i, histograms, scratch_[0]);
      return;
    }
    // a search grows its thread's scratch as it needs, which can throw: FirstException carries
    // the exception out of the region
    FirstException error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads_)
    for (index_t i = first; i < first + count; ++i) {
      error.run([&] {
        results_[i] = drawn_split(task, i, histograms, scratch_[omp_get_thread_num()]);
      });
    }
    error.rethrow();
  }

  // The best split on the i-th drawn feature (Split{} where the node stores none of it).
  Split drawn_split(Task& task, index_t i, bool histograms, Scratch& s) {
    return stores_none(order_[i]) ? Split{} : search_feature(task, order_[i], i, histograms, s);
  }

  // Whether sparse X's small node, its entries grouped, stores no entry of feature f: the
  // feature is constant there (sparse_histogram_search's Split{}), known before its candidates
  // are set up and its search dispatched (most features a deep node draws).
  bool stores_none(index_t f) const {
    return node_entries_.active && d_.csc_codes && node_entries_.covers(f) &&
           node_entries_.begin(f) == node_entries_.end(f);
  }

  // What a candidate of feature f must satisfy in the task's node.
  Candidates candidates(const Task& task, index_t f, Scratch& s) const {
    Candidates cand{task.totals.data(), search_.C, search_.outputs,
                    static_cast<double>(p_.min_samples_leaf), p_.min_weight_leaf,
                    monotonic_ ? monotonic_[f] : 0, task.lower, task.upper, s.right.data()};
    if (task.pure) cand.scale = 0;  // scikit-learn's proxies all tie: the first candidate wins
    return cand;
  }

  // Feature f's bin codes and bounds.
  CodeKeys code_keys(index_t f) const {
    return CodeKeys{d_.codes + f, d_.n_features, d_.bin_bounds + f * kBins,
                    d_.bin_bounds + (d_.n_features + f) * kBins};
  }

  Split search_feature(Task& task, index_t f, index_t draw, bool histograms, Scratch& s) {
    const Candidates cand = candidates(task, f, s);
    const std::int32_t* rows = rows_.data() + task.begin;
    const index_t n = task.end - task.begin;
    const AbsoluteErrorSearch* absolute = absolute_ ? &absolute_search_ : nullptr;
    Split out;
    if (d_.csc_codes) {
      const NodeRows node{rows, n, position_.data(), task.begin, ascending_};
      const NodeEntries<T>* entries = node_entries_.active ? &node_entries_ : nullptr;
      dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto kc) {
        sparse_histogram_search<decltype(crit)::value, decltype(kc)::value>(
            d_, search_, f, node, entries, node_chain_, cand, s, out);
      });
    } else if (hist_mode_) {
      const CodeKeys keys = code_keys(f);
      if (p_.random_splitter) {
        random_search(search_, p_.criterion, absolute, rows, n, keys, cand, s, draw_u_[draw],
                      draw_side_[draw], out);
      } else if (histograms) {
        dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto kc) {
          constexpr Criterion kCrit = decltype(crit)::value;
          constexpr int kC = decltype(kc)::value;
          const BinSet& occupied = pool_.occupied(task.hist, f);
          if (pool_.packed())
            search_.packed_histogram_search<kCrit, kC>(pool_.packed_of(task.hist, f), occupied,
                                                       keys, cand, s, out);
          else
            search_.histogram_search<kCrit, kC>(pool_.of(task.hist, f), occupied, keys, cand, s,
                                                out);
        });
      } else if (absolute_) {
        absolute_search_.sort_codes(rows, n, keys, s);
        absolute_search_.absolute_search(s.codes.data(), static_cast<index_t>(s.codes.size()),
                                         keys, cand, s, out);
      } else {
        dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto kc) {
          search_.small_node_search<decltype(crit)::value, decltype(kc)::value>(rows, n, keys,
                                                                                cand, s, out);
        });
      }
    } else if (d_.csc_indptr) {
      SparseSegment<T>& seg = sparse_[&s - scratch_.data()];  // the thread's, as its scratch
      const NodeRows node{rows, n, position_.data(), task.begin, ascending_};
      const NodeEntries<T>* entries = node_entries_.active ? &node_entries_ : nullptr;
      sparse_feature_search(d_, p_, search_, absolute_ ? &absolute_search_ : nullptr, f, node,
                            entries, sklearn_order_, cand, draw_u_[draw], draw_side_[draw], s,
                            seg, out);
    } else {
      const ValueKeys<T> keys{d_.values + f * d_.n_rows};
      if (p_.random_splitter) {
        random_search(search_, p_.criterion, absolute, rows, n, keys, cand, s, draw_u_[draw],
                      draw_side_[draw], out);
      } else if (sklearn_order_ && !absolute_ && !keeps_presorted(f, task)) {
        const T* column = d_.values + f * d_.n_rows;
        const Sorted* presorted =
            presorted_.column(f, static_cast<index_t>(rows_.size())) + task.begin;
        dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto kc) {
          search_.sklearn_order_search<decltype(crit)::value, decltype(kc)::value>(
              *sklearn_order_, column, presorted, task.begin, task.end, cand, s, out);
        });
      } else if (sklearn_order_ && absolute_ && absolute_in_order(f, task, cand, s, out)) {
        // searched
      } else {
        const Sorted* column = presorted_.column(f, static_cast<index_t>(rows_.size()));
        const index_t m = search_.presorted_segment(column, task.begin, task.end, absolute_, s);
        const Sorted* pairs = column + task.begin;
        const ValueKeys<T> no_column{nullptr};  // the keys are in the pairs
        if (absolute_)
          absolute_search_.absolute_search(pairs, m, no_column, cand, s, out);
        else
          dispatch(p_.criterion, search_.C, search_.outputs.n, [&](auto crit, auto kc) {
            search_.sorted_search<decltype(crit)::value, decltype(kc)::value>(pairs, m, no_column,
                                                                              cand, s, out);
          });
      }
    }
    out.feature = out.proxy > -kInf ? f : -1;
    return out;
  }

  // Whether scikit-learn's sort of the task's rows by feature f gives its segment of the
  // presorted list, which is then their order (SklearnOrder::keeps_presorted) and is searched
  // as it is, the sort skipped.
  bool keeps_presorted(index_t f, const Task& task) {
    const Sorted* column = presorted_.column(f, static_cast<index_t>(rows_.size()));
    return sklearn_order_->keeps_presorted(f, column + task.begin, task.begin, task.end);
  }

  // The absolute error's search of feature f over the node's rows sorted in scikit-learn's
  // order, its targets ranked as its criterion ranks them (rank_in_order). False where the node
  // has missing values on f (scikit-learn's absolute error takes none): the targets are then
  // ranked for the search over the presorted rows, and nothing is searched.
  [[gnu::noinline]] bool absolute_in_order(index_t f, const Task& task, const Candidates& cand, Scratch& s,
                         Split& out) {
    SklearnOrder<T>& order = *sklearn_order_;
    const index_t n = task.end - task.begin;
    const Sorted* presorted = presorted_.column(f, static_cast<index_t>(rows_.size())) + task.begin;
    if (order.sort(d_.values + f * d_.n_rows, presorted, task.begin, task.end) > 0) {
      absolute_search_.rank_targets(rows_.data() + task.begin, n);
      return false;
    }
    in_order_.resize(n);
    for (index_t j = 0; j < n; ++j)
      in_order_[j] = {order.values[task.begin + j], order.rows[task.begin + j]};
    absolute_search_.rank_in_order(order.rows.data() + task.begin, n);
    std::fill(s.missing.begin(), s.missing.end(), 0.0);
    s.missing_rows.clear();
    const ValueKeys<T> no_column{nullptr};  // the keys are in the pairs
    absolute_search_.absolute_search(in_order_.data(), n, no_column, cand, s, out);
    return true;
  }

  const Dataset<T>& d_;
  const Params& p_;
  const std::vector<std::int32_t>& rows_;
  const std::vector<std::int32_t>& position_;  // sparse X: each row's index in rows_
  const PresortedColumns<T>& presorted_;
  std::vector<Scratch>& scratch_;
  Random random_;
  SklearnRandom sklearn_random_;
  int n_threads_;
  const std::int8_t* monotonic_;  // (n_features) or nullptr
  bool hist_mode_, absolute_;
  bool subtract_;  // children's histograms derived by subtraction
  bool sklearn_draws_;
  // small nodes may search their features at once (see find_split): dense
  // codes, a criterion of sums, no constraint, missing values tried on both sides
  bool tiny_nodes_;
  TinyRegion region_;  // the subtree of tiny nodes being grown (see find_split)
  SklearnOrder<T>* sklearn_order_ = nullptr;  // see use_sklearn_order
  bool ascending_ = true;  // a node's rows ascend (see rows_unordered)
  SplitSearch search_;
  AbsoluteErrorSearch absolute_search_;
  HistogramPool pool_;
  HistogramFill fill_;
  std::vector<index_t> order_, all_features_, unfilled_;  // unfilled_: drawn, no histogram yet
  std::vector<index_t> swapped_;  // find_split's: the position each draw swapped order_[i] with
  std::vector<double> draw_u_;  // the random splitter's draws, taken before the parallel search
  std::vector<char> draw_side_;
  std::vector<Split> results_;
  // scikit-learn's draws (sklearn_split): its features and constant_features arrays, a replay's
  // copy, the features a replay visits, and this node's searches by feature
  std::vector<index_t> features_, constant_features_, draw_features_, visited_;
  std::vector<char> searched_;
  std::vector<Split> of_feature_;
  std::vector<SparseSegment<T>> sparse_;  // per thread, for sparse X
  NodeEntries<T> node_entries_;           // a small node's entries, for sparse X
  ChainHistograms<T> chain_;              // a large node's histograms, for sparse X
  const ChainHistograms<T>* node_chain_ = nullptr;  // find_split's node's, or nullptr
  index_t defer_below_ = 0;               // see defer_tasks_below
  std::vector<Sorted> in_order_;          // absolute_in_order's
};

}  // namespace
}  // namespace fastml::cart::detail
