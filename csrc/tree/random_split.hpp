// scikit-learn's "random" splitter: one threshold per feature drawn uniformly between the
// node's smallest and largest value, the missing rows sent to a random side (with surrogate
// splits they take no part).
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "absolute_error.hpp"
#include "split_search.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// The node's rows [rows, rows + n) on one feature (keys); u and bit are the node's draws for
// it. absolute is the absolute error's search, or nullptr for the other criteria.
template <class Keys>
void random_search(const SplitSearch& search, Criterion criterion,
                   const AbsoluteErrorSearch* absolute, const std::int32_t* rows, index_t n,
                   const Keys& keys, const Candidates& cand, Scratch& s, double u, bool bit,
                   Split& out) {
  const RowStatistics& stats = search.stats;
  const int C = search.C;
  const bool surrogate = search.surrogate;
  double lo = kInf, hi = -kInf;
  bool has_missing = false;
  for (index_t i = 0; i < n; ++i) {
    const std::int32_t r = rows[i];
    if (keys.missing(r)) {
      has_missing = true;
      continue;
    }
    lo = std::min(lo, keys.key(r));
    hi = std::max(hi, keys.key(r));
  }
  out.has_missing = has_missing;
  out.constant = !(lo <= hi && keys.apart(lo, hi));  // scikit-learn skips a constant feature
  if (out.constant) return;
  const double cut = keys.random_cut(lo, hi, u);
  const bool present_only = surrogate && has_missing;
  const bool missing_left = has_missing && bit && !surrogate;
  double* M = s.missing.data();
  std::fill(M, M + C, 0.0);
  if (absolute) {
    auto& left = s.sequence;
    auto& right = s.missing_rows;
    left.clear();
    right.clear();
    double wl = 0;
    for (index_t i = 0; i < n; ++i) {
      const std::int32_t r = rows[i];
      if (present_only && keys.missing(r)) {
        stats.add(M, r);
        continue;
      }
      const bool goes_left = keys.missing(r) ? missing_left : keys.key(r) <= cut;
      (goes_left ? left : right).push_back(r);
      if (goes_left) wl += stats.w[r];
    }
    if (left.empty() || right.empty()) return;
    Candidates c = present_only ? cand.without_missing(M, s.present.data()) : cand;
    if (present_only) {
      std::vector<std::int32_t> present(left);
      present.insert(present.end(), right.begin(), right.end());
      double error;
      absolute->median_and_error(s, present.data(), static_cast<index_t>(present.size()), error);
      c.shift = error - absolute->node_error;
    }
    double el, er;
    const double ml =
        absolute->median_and_error(s, left.data(), static_cast<index_t>(left.size()), el);
    const double mr =
        absolute->median_and_error(s, right.data(), static_cast<index_t>(right.size()), er);
    const double proxy =
        c.evaluate_absolute(static_cast<index_t>(left.size()), wl, el, ml, er, mr);
    if (proxy <= out.proxy) return;
    take(out, proxy, keys.threshold_at(cut), cut, missing_left);
    out.error_left = el;
    out.error_right = er;
    out.median_left = ml;
    out.median_right = mr;
    return;
  }
  double* L = s.left.data();
  std::fill(L, L + C, 0.0);
  for (index_t i = 0; i < n; ++i) {
    const std::int32_t r = rows[i];
    if (present_only && keys.missing(r))
      stats.add(M, r);
    else if (keys.missing(r) ? missing_left : keys.key(r) <= cut)
      stats.add(L, r);
  }
  double p = -kInf;
  dispatch(criterion, C, search.outputs.n, [&](auto crit, auto) {
    constexpr Criterion Crit = decltype(crit)::value;
    p = present_only ? search.present_candidates<Crit>(cand, M, s).template evaluate<Crit>(L)
                     : cand.evaluate<Crit>(L);
  });
  take(out, p, keys.threshold_at(cut), cut, missing_left);
}

}  // namespace
}  // namespace fastml::cart::detail
