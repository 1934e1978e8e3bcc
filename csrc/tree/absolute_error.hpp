// The absolute error's searches. Its criterion is no sum of per-row statistics: a search runs
// over the node's rows in scan order with running weighted medians (RankSums), O(n log n) per
// feature, and never uses histograms.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "keys.hpp"
#include "scratch.hpp"
#include "sklearn_order.hpp"
#include "split.hpp"
#include "statistics.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

struct AbsoluteErrorSearch {
  const double* y;  // (n_rows, n_out) targets
  const RowStatistics& stats;
  std::vector<std::int32_t>& rank_of;  // per row and output, the rank of its y in its node;
                                       // shared with the builders of deferred subtrees
  int n_out, C;
  bool surrogate;   // Params::surrogates
  double node_error = 0;  // the summed error of the node being searched
  // the node's targets in ascending order (ranks in rank_of), the outputs one after the other
  std::vector<std::pair<double, std::int32_t>> ranked;
  std::vector<double> ranked_y;
  std::vector<std::int32_t> positions;  // rank_in_order's

  // The node's non-missing rows sorted by code into s.codes (the search on codes); the missing
  // rows' statistics into s.missing, and the rows themselves into s.missing_rows.
  void sort_codes(const std::int32_t* rows, index_t n, const CodeKeys& keys, Scratch& s) const {
    auto& pairs = s.codes;
    pairs.clear();
    s.missing_rows.clear();
    double* M = s.missing.data();
    std::fill(M, M + C, 0.0);
    for (index_t i = 0; i < n; ++i) {
      const std::int32_t r = rows[i];
      if (keys.missing(r)) {
        stats.add(M, r);
        s.missing_rows.push_back(r);
      } else {
        pairs.push_back(static_cast<std::uint64_t>(keys.code(r)) << 32 | static_cast<std::uint32_t>(r));
      }
    }
    std::sort(pairs.begin(), pairs.end());
  }

  // Per output, the weighted median of the rows (RankSums holds the rule), into medians when
  // given; and their absolute error from it, summed directly over the rows and the outputs:
  // exactly 0 for a pure node, where the prefix sums of a running median could leave rounding.
  // Returns output 0's median.
  double median_and_error(Scratch& s, const std::int32_t* rows, index_t n, double& error,
                          double* medians = nullptr) const {
    auto& t = s.targets;
    error = 0;
    double first = 0;
    for (int o = 0; o < n_out; ++o) {
      t.clear();
      for (index_t i = 0; i < n; ++i)
        t.emplace_back(y[static_cast<index_t>(rows[i]) * n_out + o], stats.w[rows[i]]);
      std::sort(t.begin(), t.end());
      s.target_y.resize(n);
      s.sums.reset(n);
      for (index_t i = 0; i < n; ++i) {
        s.target_y[i] = t[i].first;
        s.sums.add(i, t[i].first, t[i].second);
      }
      double unused, e = 0;
      const double m = s.sums.median(s.target_y.data(), unused);
      for (const auto& [y, w] : t) e += w * std::abs(y - m);
      error += e;
      if (medians) medians[o] = m;
      if (o == 0) first = m;
    }
    return first;
  }

  // Ranks the node's targets of each output (rank_of, ranked_y: the outputs' ranks one after
  // the other) for the running medians of its searches.
  void rank_targets(const std::int32_t* rows, index_t n) {
    ranked_y.resize(n * n_out);
    for (int o = 0; o < n_out; ++o) {
      ranked.clear();
      for (index_t i = 0; i < n; ++i)
        ranked.emplace_back(y[static_cast<index_t>(rows[i]) * n_out + o], rows[i]);
      std::sort(ranked.begin(), ranked.end());
      for (index_t k = 0; k < n; ++k) {
        ranked_y[o * n + k] = ranked[k].first;
        rank_of[static_cast<index_t>(ranked[k].second) * n_out + o] =
            static_cast<std::int32_t>(k);
      }
    }
  }

  // scikit-learn's ranks of the targets of rows[0, n) (its compute_ranks, at each reset of its
  // criterion): each output's targets, in the rows' order, sorted by its introsort, the ties
  // ranked as that leaves them. With fractional weights the running sums of the ranks (RankSums)
  // round as the ranks of tied targets fall.
  [[gnu::noinline]] void rank_in_order(const std::int32_t* rows, index_t n) {
    ranked_y.resize(n * n_out);
    positions.resize(n);
    for (int o = 0; o < n_out; ++o) {
      double* v = ranked_y.data() + o * n;
      for (index_t j = 0; j < n; ++j) {
        v[j] = y[static_cast<index_t>(rows[j]) * n_out + o];
        positions[j] = static_cast<std::int32_t>(j);
      }
      SklearnSort<double>().sort(v, positions.data(), n);
      for (index_t k = 0; k < n; ++k)
        rank_of[static_cast<index_t>(rows[positions[k]]) * n_out + o] = static_cast<std::int32_t>(k);
    }
  }

  // scikit-learn's reset of its criterion over rows[0, n) in its order: the targets ranked
  // (rank_in_order), then the errors and medians of every prefix and suffix into s.
  [[gnu::noinline]] void sklearn_reset(const std::int32_t* rows, index_t n, Scratch& s) {
    rank_in_order(rows, n);
    for (auto* v : {&s.error_left, &s.median_left, &s.error_right, &s.median_right}) v->resize(n);
    running_errors(rows, n, true, s.sums, s.error_left.data(), s.median_left.data());
    running_errors(rows, n, false, s.sums, s.error_right.data(), s.median_right.data());
  }

  // The absolute error (summed over the outputs) and output 0's median of every prefix (forward)
  // or suffix of the rows in order.
  void running_errors(const std::int32_t* order, index_t n, bool forward, RankSums& sums,
                      double* error, double* median) const {
    const index_t m = static_cast<index_t>(ranked_y.size()) / n_out;  // the node's rows
    for (int o = 0; o < n_out; ++o) {
      sums.reset(m);
      for (index_t k = 0; k < n; ++k) {
        const index_t at = forward ? k : n - 1 - k;
        const index_t i = static_cast<index_t>(order[at]) * n_out + o;
        sums.add(rank_of[i], y[i], stats.w[order[at]]);
        double e;
        const double med = sums.median(ranked_y.data() + o * m, e);
        if (o == 0) {
          median[at] = med;
          error[at] = e;
        } else {
          error[at] += e;
        }
      }
    }
  }

  // The absolute error's search of one feature, in both_sides' order, over the scan order
  // scikit-learn uses: the non-missing rows in key order (pairs, m of them) with the missing
  // rows (s.missing_rows) after them, then before them. Every candidate reads the running
  // errors and medians of its two sides: O(n log n) per feature.
  template <class Keys, class Pair>
  void absolute_search(const Pair* pairs, index_t m, const Keys& keys, const Candidates& cand,
                       Scratch& s, Split& out) const {
    out.has_missing = !s.missing_rows.empty();
    out.constant = m == 0 ||
        (!keys.apart(key_of(pairs[0]), key_of(pairs[m - 1])) &&
         (surrogate || !out.has_missing));
    if (out.constant) return;
    // the missing rows in the scan: none with surrogate splits, which search the present rows
    const bool present_only = surrogate && out.has_missing;
    Candidates c = present_only ? cand.without_missing(s.missing.data(), s.present.data()) : cand;
    const auto n_missing = present_only ? index_t{0} : static_cast<index_t>(s.missing_rows.size());
    const index_t n = m + n_missing;
    s.sequence.resize(n);
    for (auto* v : {&s.error_left, &s.median_left, &s.error_right, &s.median_right}) v->resize(n);
    const auto consider = [&](index_t n_left, double wl, double threshold, double cut,
                              bool missing_left) {
      const double el = s.error_left[n_left - 1], ml = s.median_left[n_left - 1];
      const double er = s.error_right[n_left], mr = s.median_right[n_left];
      const double proxy = c.evaluate_absolute(n_left, wl, el, ml, er, mr);
      if (proxy <= out.proxy) return;
      take(out, proxy, threshold, cut, missing_left);
      out.error_left = el;
      out.error_right = er;
      out.median_left = ml;
      out.median_right = mr;
    };
    for (int pass = 0; pass < (n_missing > 0 ? 2 : 1); ++pass) {
      const bool missing_left = pass == 1;
      const index_t offset = missing_left ? n_missing : 0;  // where the non-missing rows start
      for (index_t i = 0; i < m; ++i) s.sequence[offset + i] = row_of(pairs[i]);
      if (n_missing > 0)
        std::copy(s.missing_rows.begin(), s.missing_rows.end(),
                  s.sequence.begin() + (missing_left ? 0 : m));
      running_errors(s.sequence.data(), n, true, s.sums, s.error_left.data(), s.median_left.data());
      running_errors(s.sequence.data(), n, false, s.sums, s.error_right.data(),
                     s.median_right.data());
      // the parent term of the absolute error is minus the error over the outputs: the
      // present rows' is the error of the whole scan
      if (present_only) c.shift = (s.error_left[n - 1] - node_error) / n_out;
      double wl = 0;  // the left side's weight, summed in scan order as scikit-learn does
      for (index_t i = 0; i < offset; ++i) wl += stats.w[s.sequence[i]];
      for (index_t i = 0; i + 1 < m; ++i) {
        wl += stats.w[row_of(pairs[i])];
        const double a = key_of(pairs[i]), b = key_of(pairs[i + 1]);
        if (!keys.apart(a, b)) continue;
        consider(offset + i + 1, wl, keys.threshold_between(a, b), a, missing_left);
      }
      if (!missing_left && n_missing > 0) {
        wl += stats.w[row_of(pairs[m - 1])];
        consider(m, wl, kInf, kMissingBin - 1, false);
      }
    }
  }
};

}  // namespace
}  // namespace fastml::cart::detail
