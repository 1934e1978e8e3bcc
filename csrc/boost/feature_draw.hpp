// The features a boosted tree's node searches under max_features < 1: one stream per tree
// (std::mt19937_64 seeded by the tree's seed), a draw per searched node in the grower's order.
// In one header so that the grower and fastml.dask's client-side grower (through
// _boost_dist_fast.FeatureDraw) draw the same features: the stream is libstdc++'s
// uniform_int_distribution, which NumPy cannot reproduce.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "fastml/boost.hpp"

namespace fastml::boost::detail {

class FeatureDraw {
 public:
  FeatureDraw(double fraction, std::uint64_t seed) : fraction_(fraction), rng_(seed) {}

  // A uniform draw of max(1, ceil(fraction * allowed)) of the allowed features, kept in their
  // order.
  std::vector<std::int32_t> operator()(const std::vector<std::int32_t>& allowed) {
    const index_t n = static_cast<index_t>(allowed.size());
    const index_t k = std::max<index_t>(
        1, static_cast<index_t>(std::ceil(fraction_ * static_cast<double>(n))));
    std::vector<index_t> order(n);
    std::iota(order.begin(), order.end(), 0);
    for (index_t i = 0; i < std::min(k, n - 1); ++i) {
      std::uniform_int_distribution<index_t> pick(i, n - 1);
      std::swap(order[i], order[pick(rng_)]);
    }
    order.resize(std::min(k, n));
    std::sort(order.begin(), order.end());
    std::vector<std::int32_t> out;
    for (const index_t i : order) out.push_back(allowed[i]);
    return out;
  }

 private:
  double fraction_;
  std::mt19937_64 rng_;
};

}  // namespace fastml::boost::detail
