// Surrogate splits (Params::surrogates, rpart's idea): backup splits on other features for the
// rows missing a split's feature, each the threshold split that best mimics the split over the
// rows present on both (see Tree in fastml/cart.hpp).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "fastml/openmp_helpers.h"
#include "keys.hpp"
#include "partition.hpp"
#include "scratch.hpp"
#include "split.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

constexpr std::uint8_t kMissingSide = 2;

// Where the split sends row r: 1 left, 0 right, kMissingSide when r misses its feature.
template <class T>
std::uint8_t primary_side(const Dataset<T>& d, const Split& split, std::int32_t r) {
  if (d.codes) {
    const int code = d.codes[static_cast<index_t>(r) * d.n_features + split.feature];
    return code == kMissingBin ? kMissingSide : code <= split.cut;
  }
  const double x = d.values[split.feature * d.n_rows + r];
  return std::isnan(x) ? kMissingSide : x <= split.threshold;
}

// Where row r, missing the split's feature, goes: by the first surrogate it is present on.
template <class T>
bool missing_goes_left(const Dataset<T>& d, const Split& split, std::int32_t r) {
  for (const Surrogate& s : split.surrogates) {
    if (d.codes) {
      const int code = d.codes[static_cast<index_t>(r) * d.n_features + s.feature];
      if (code != kMissingBin) return (code <= s.cut) != s.reversed;
    } else {
      const double x = d.values[s.feature * d.n_rows + r];
      if (!std::isnan(x)) return (x <= s.threshold) != s.reversed;
    }
  }
  return split.missing_left;
}

// The candidates of one feature's surrogate: between neighbouring distinct keys of the rows
// present on both features, the weight routed as the split routes it (agreement) and
// reversed.
struct AgreementScan {
  double total_left = 0, total_right = 0;  // by the split, over the rows scanned
  double left = 0, right = 0;              // the same over the keys below the candidate
  Surrogate best;
  double next = 0;                         // the node's next key after best.cut
  // a: the largest key left of the candidate; b: the node's next key
  void candidate(double a, double b) {
    const double agreement = left + (total_right - right);
    const double reversed = right + (total_left - left);
    for (bool rev : {false, true}) {
      const double v = rev ? reversed : agreement;
      if (v > best.agreement) {
        best.agreement = v;
        best.cut = a;
        best.reversed = rev;
        next = b;
      }
    }
  }
  bool beats_majority() const {
    return best.agreement - std::max(total_left, total_right) >
           kEpsilon * (total_left + total_right);
  }
};

// The surrogate search of one builder: its rows and their sides under the split being
// searched, shared with the builders of deferred subtrees like the rest of the per-row state.
template <class T>
struct SurrogateSearch {
  using Sorted = typename PresortedColumns<T>::Sorted;
  const Dataset<T>& d;
  const std::int8_t* monotonic_cst;  // or nullptr
  const std::vector<std::int32_t>& rows;
  const std::vector<double>& w;
  const PresortedColumns<T>& presorted;
  std::vector<std::uint8_t>& sides;  // per row: primary_side() of the split searched
  std::vector<std::vector<Sorted>>& sorted_tmp;  // per thread
  std::vector<Scratch>& scratch;                 // per thread
  int n_threads;
  std::vector<Surrogate> results;  // per feature

  // The split's surrogates (see Tree): on every other feature (without a monotonic constraint:
  // a surrogate on one would break it for the rows it routes), the split that agrees most with
  // it over the rows present on both, kept when it beats the majority rule; the most agreeing
  // first (ties: the lower feature), at most kMaxSurrogates. For rows missing every surrogate,
  // the split's missing_left is the side with more of the rows present (scikit-learn's rule for
  // missing values unseen in training).
  void find_surrogates(index_t begin, index_t end, Split& split) {
    const index_t F = d.n_features, n = end - begin;
    index_t n_left = 0, n_right = 0;
    for (index_t i = begin; i < end; ++i) {
      const std::int32_t r = rows[i];
      const std::uint8_t side = detail::primary_side(d, split, r);
      sides[r] = side;
      if (side != kMissingSide) ++(side ? n_left : n_right);
    }
    split.missing_left = n_left > n_right;
    // as in NodeSearch::search_batch: surrogate_of() grows its thread's scratch
    FirstException error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) \
    if (n_threads > 1 && n * F >= kParallelWork)
    for (index_t g = 0; g < F; ++g) {
      error.run([&] {
        // a feature under a monotonic constraint routes only by splits that respect it
        const bool constrained = monotonic_cst != nullptr && monotonic_cst[g] != 0;
        results[g] = g == split.feature || constrained
            ? Surrogate{} : surrogate_of(begin, end, g, scratch[omp_get_thread_num()]);
      });
    }
    error.rethrow();
    split.surrogates.clear();
    for (const Surrogate& s : results)
      if (s.feature >= 0) split.surrogates.push_back(s);
    std::stable_sort(split.surrogates.begin(), split.surrogates.end(),
                     [](const Surrogate& a, const Surrogate& b) { return a.agreement > b.agreement; });
    if (split.surrogates.size() > kMaxSurrogates) split.surrogates.resize(kMaxSurrogates);
  }

  // Feature g's most agreeing split over the node's rows present on g and the split's feature
  // (sides), or feature -1 when it does not beat the majority rule. Its threshold lies
  // midway between the cut and the next key any row of the node holds, so that the rows missing
  // the split's feature are routed in training as the threshold routes them in prediction.
  Surrogate surrogate_of(index_t begin, index_t end, index_t g, Scratch& s) {
    AgreementScan scan;
    if (d.codes != nullptr) {
      const CodeKeys keys{d.codes + g, d.n_features, d.bin_bounds + g * kBins,
                          d.bin_bounds + (d.n_features + g) * kBins};
      if (end - begin >= kSmallNode) {
        agreement_histogram(begin, end, keys, s, scan);
      } else {
        auto& pairs = s.codes;
        pairs.clear();
        for (index_t i = begin; i < end; ++i) {
          const std::int32_t r = rows[i];
          if (!keys.missing(r))
            pairs.push_back(static_cast<std::uint64_t>(keys.code(r)) << 32 |
                            static_cast<std::uint32_t>(r));
        }
        std::sort(pairs.begin(), pairs.end());
        agreement_sorted(pairs.data(), static_cast<index_t>(pairs.size()), scan);
      }
      scan.best.threshold = keys.threshold_between(scan.best.cut, scan.next);
    } else {
      const T* col = d.values + g * d.n_rows;
      if (!presorted.empty()) {  // the node's segment of g's presorted list, missing values last
        const Sorted* seg = presorted.column(g, static_cast<index_t>(rows.size())) + begin;
        index_t m = end - begin;
        while (m > 0 && std::isnan(seg[m - 1].first)) --m;
        agreement_sorted(seg, m, scan);
      } else {
        auto& pairs = sorted_tmp[omp_get_thread_num()];
        pairs.clear();
        for (index_t i = begin; i < end; ++i) {
          const std::int32_t r = rows[i];
          if (!std::isnan(col[r])) pairs.emplace_back(col[r], r);
        }
        std::sort(pairs.begin(), pairs.end());
        agreement_sorted(pairs.data(), static_cast<index_t>(pairs.size()), scan);
      }
      scan.best.threshold = ValueKeys<T>::between(scan.best.cut, scan.next);
    }
    if (!scan.beats_majority()) return Surrogate{};
    scan.best.feature = g;
    return scan.best;
  }


  // The node's rows present on the feature in ascending key order; those missing the split's
  // feature count for the next key only.
  template <class Pair>
  void agreement_sorted(const Pair* pairs, index_t m, AgreementScan& scan) const {
    for (index_t i = 0; i < m; ++i) {
      const std::int32_t r = row_of(pairs[i]);
      const std::uint8_t side = sides[r];
      if (side != kMissingSide) (side ? scan.total_left : scan.total_right) += w[r];
    }
    double previous = 0, next = 0;  // the last key scanned of both features, the key after it
    bool any = false, need_next = false;
    for (index_t i = 0; i < m; ++i) {
      const std::int32_t r = row_of(pairs[i]);
      const double key = key_of(pairs[i]);
      if (need_next && key != previous) {
        next = key;
        need_next = false;
      }
      const std::uint8_t side = sides[r];
      if (side == kMissingSide) continue;
      if (any && key != previous) scan.candidate(previous, next);
      (side ? scan.left : scan.right) += w[r];
      previous = key;
      any = need_next = true;
    }
  }

  // The same over a histogram of the weights going right and left and the node's rows, per bin.
  void agreement_histogram(index_t begin, index_t end, const CodeKeys& keys, Scratch& s,
                           AgreementScan& scan) const {
    auto& H = s.agreement;
    H.assign(3 * kBins, 0.0);
    for (index_t i = begin; i < end; ++i) {
      const std::int32_t r = rows[i];
      if (keys.missing(r)) continue;
      double* bin = H.data() + 3 * keys.code(r);
      const std::uint8_t side = sides[r];
      if (side != kMissingSide) bin[side] += w[r];
      bin[2] += 1;
    }
    for (int b = 0; b < kMissingBin; ++b) {
      scan.total_right += H[3 * b];
      scan.total_left += H[3 * b + 1];
    }
    int previous = -1, next = -1;  // the last bin of rows present on both features, the next
    for (int b = 0; b < kMissingBin; ++b) {
      const double* bin = H.data() + 3 * b;
      if (bin[2] == 0) continue;
      if (previous >= 0 && next < 0) next = b;
      if (bin[0] == 0 && bin[1] == 0) continue;
      if (previous >= 0) scan.candidate(previous, next);
      scan.right += bin[0];
      scan.left += bin[1];
      previous = b;
      next = -1;
    }
  }

};

}  // namespace
}  // namespace fastml::cart::detail
