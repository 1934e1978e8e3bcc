// Histograms of gradients and hessians over bin codes: the pool of per-node buffers, the pass
// that fills one from a node's rows and the subtraction that derives a sibling's.
#pragma once

#include <algorithm>
#include <cstdint>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost::detail {
namespace {  // internal linkage: one unit (grower.cpp) includes this

// One bin's sums, in float64 as scikit-learn's hist_struct.
struct Bin {
  double g, h;
  std::uint64_t count;
};

class HistogramPool {
 public:
  explicit HistogramPool(index_t n_features) : size_(static_cast<std::size_t>(n_features) * kBins) {}
  int acquire() {
    if (free_.empty()) {
      hists_.emplace_back(size_);
      return static_cast<int>(hists_.size()) - 1;
    }
    const int h = free_.back();
    free_.pop_back();
    return h;
  }
  void release(int& h) {
    if (h >= 0) free_.push_back(h);
    h = -1;
  }
  Bin* of(int h, index_t f) { return hists_[h].data() + f * kBins; }

 private:
  std::size_t size_;
  std::vector<std::vector<Bin>> hists_;
  std::vector<int> free_;
};

// Fills the histograms of the given features of a node from its rows. Codes are row-major, so a
// row's codes of every feature share a cache line; each thread fills whole features (a
// contiguous share of them) in row order, so that every bin sums its rows in the same order
// whatever the thread count. Nothing in the region allocates.
template <bool kConstantHessian>
void fill_features(HistogramPool& pool, int h, const Data& data, const GradHess* gh,
                   const std::int32_t* rows, index_t n, const std::int32_t* features,
                   index_t count) {
  const index_t F = data.n_features;
  for (index_t j = 0; j < count; ++j) {
    Bin* H = pool.of(h, features[j]);
    std::fill(H, H + kBins, Bin{0.0, 0.0, 0});
  }
  Bin* base = pool.of(h, 0);
  for (index_t i = 0; i < n; ++i) {
    const std::int32_t r = rows[i];
    const std::uint8_t* c = data.codes + static_cast<index_t>(r) * F;
    const double g = gh[r].g;
    const double hh = gh[r].h;
    for (index_t j = 0; j < count; ++j) {
      const index_t f = features[j];
      Bin& b = base[f * kBins + c[f]];
      b.g += g;
      if (!kConstantHessian) b.h += hh;
      b.count += 1;
    }
  }
}

template <bool kConstantHessian>
void build_histogram(HistogramPool& pool, int h, const Data& data, const GradHess* gh,
                     const std::int32_t* rows, index_t n, const std::vector<std::int32_t>& features,
                     int n_threads) {
  const index_t count = static_cast<index_t>(features.size());
  // about 1.5 ns a code
  const int chunks = std::min<int>(fastml_region_threads(1.5 * n * count, n_threads),
                                   static_cast<int>(std::max<index_t>(count, 1)));
  if (chunks <= 1) {
    fill_features<kConstantHessian>(pool, h, data, gh, rows, n, features.data(), count);
    return;
  }
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const index_t first = count * chunk / chunks, last = count * (chunk + 1) / chunks;
    fill_features<kConstantHessian>(pool, h, data, gh, rows, n, features.data() + first,
                                    last - first);
  }
}

// Histogram subtraction in place: the parent's buffer becomes the larger child's, parent - the
// smaller child's, for the given features.
inline void subtract_into(HistogramPool& pool, int parent, int smaller,
                          const std::vector<std::int32_t>& features) {
  for (const std::int32_t f : features) {
    Bin* P = pool.of(parent, f);
    const Bin* S = pool.of(smaller, f);
    for (int b = 0; b < kBins; ++b) {
      P[b].g -= S[b].g;
      P[b].h -= S[b].h;
      P[b].count -= S[b].count;
    }
  }
}

}  // namespace
}  // namespace fastml::boost::detail
