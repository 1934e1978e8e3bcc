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

// Buffers of every feature's histogram end to end: kBins bins a feature, a wide categorical
// feature's (see Data) its categories and its missing bin.
class HistogramPool {
 public:
  explicit HistogramPool(index_t n_features) : offsets_(n_features + 1) {
    for (index_t f = 0; f <= n_features; ++f) offsets_[f] = f * kBins;
  }
  explicit HistogramPool(const Data& data) : offsets_(data.n_features + 1, 0) {
    for (index_t f = 0; f < data.n_features; ++f)
      offsets_[f + 1] = offsets_[f] + data.missing_bin(f) + 1;
  }
  int acquire() {
    if (free_.empty()) {
      hists_.emplace_back(static_cast<std::size_t>(offsets_.back()));
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
  Bin* of(int h, index_t f) { return hists_[h].data() + offsets_[f]; }
  index_t bins(index_t f) const { return offsets_[f + 1] - offsets_[f]; }

 private:
  std::vector<index_t> offsets_;
  std::vector<std::vector<Bin>> hists_;
  std::vector<int> free_;
};

// A node's rows are increasing but spread over the whole column: past about 1M rows a feature's
// codes (1 byte a row) outgrow L2 and each row's code is a cache miss that the hardware
// prefetcher does not foresee. The fill asks for the code kPrefetchAhead rows ahead: one
// thread, 1M x 14 (4 categorical), medians of 3 alternating runs, the 100 trees' growth took
// 6.8 s without, 6.1 s with 64 rows ahead, 6.3-6.5 s with 24 at load 10-15, and 7.5 s against
// 7.0 s at load 4-6 (no change at 200k, where the codes fit in L2). The same in the partition
// and the gradient gather made the growth slower (6.5 s; the gather's alone 8.1 s against
// 6.9 s): not there.
constexpr index_t kPrefetchAhead = 64;
template <class Code>
inline void prefetch_code(const Code* column, const std::int32_t* rows, index_t i, index_t end) {
  if (i + kPrefetchAhead < end) __builtin_prefetch(column + rows[i + kPrefetchAhead]);
}

// One feature's bins += the rows [begin, end) of the node; Code: uint8, or uint16 for a wide
// categorical feature (whose missing code is its last bin).
template <bool kConstantHessian, bool kAllRows, class Code>
inline void fill_column(Bin* H, const Code* column, const GradHess* ordered,
                        const std::int32_t* rows, index_t begin, index_t end) {
  for (index_t i = begin; i < end; ++i) {
    if (!kAllRows) prefetch_code(column, rows, i, end);
    Bin& b = H[column[kAllRows ? i : rows[i]]];
    b.g += ordered[i].g;
    if (!kConstantHessian) b.h += ordered[i].h;
    b.count += 1;
  }
}

// Fills the histograms of the given features of a node from its rows, feature by feature: the
// codes are column-major, so one feature's codes and its 256 bins (6 KiB, in L1) are all a pass
// touches, with the node's gradients read in order from `ordered` (its rows' gradients gathered
// once, scikit-learn's ordered_gradients). The rows go in blocks whose row ids and gradients
// stay in L2 while every feature passes over them (rather than every feature streaming all of
// them from memory). kAllRows: the node holds every row in row order (a root), so rows[i] is i
// and `ordered` is gh itself: the codes stream in order and no gather is needed. Every bin sums
// its rows in row order whatever the thread count (each thread fills whole features). Nothing
// here allocates.
template <bool kConstantHessian, bool kAllRows>
void fill_features(HistogramPool& pool, int h, const Data& data, const GradHess* ordered,
                   const std::int32_t* rows, index_t n, const std::int32_t* features,
                   index_t count) {
  constexpr index_t kRowBlock = 8192;  // 96 KiB of row ids and gradients
  for (index_t j = 0; j < count; ++j) {
    Bin* H = pool.of(h, features[j]);
    std::fill(H, H + pool.bins(features[j]), Bin{0.0, 0.0, 0});
  }
  for (index_t begin = 0; begin < n; begin += kRowBlock) {
    const index_t end = std::min(n, begin + kRowBlock);
    for (index_t j = 0; j < count; ++j) {
      const index_t f = features[j];
      Bin* H = pool.of(h, f);
      if (data.is_wide(f))
        fill_column<kConstantHessian, kAllRows>(H, data.wide(f), ordered, rows, begin, end);
      else
        fill_column<kConstantHessian, kAllRows>(H, data.column(f), ordered, rows, begin, end);
    }
  }
}

// The features [first, first + count) of the node, on the calling thread.
template <bool kConstantHessian>
void fill_share(HistogramPool& pool, int h, const Data& data, const GradHess* ordered,
                const std::int32_t* rows, index_t n, const std::int32_t* features, index_t count,
                bool all_rows) {
  if (all_rows)
    fill_features<kConstantHessian, true>(pool, h, data, ordered, rows, n, features, count);
  else
    fill_features<kConstantHessian, false>(pool, h, data, ordered, rows, n, features, count);
}

// The histograms of a node's features; `ordered` has room for the node's rows. rows increase
// (a node's rows keep their order), so a node of every row has rows[i] == i.
template <bool kConstantHessian>
void build_histogram(HistogramPool& pool, int h, const Data& data, const GradHess* gh,
                     const std::int32_t* rows, index_t n, const std::vector<std::int32_t>& features,
                     GradHess* ordered, int n_threads) {
  const bool all_rows = n == data.n_rows;
  if (!all_rows) {
    const int gather_threads = fastml_hot_region_threads(2.0 * n, n_threads);  // ~2 ns a row
#pragma omp parallel for schedule(static) num_threads(gather_threads) if (gather_threads > 1)
    for (index_t i = 0; i < n; ++i) ordered[i] = gh[rows[i]];
  }
  const GradHess* source = all_rows ? gh : ordered;
  const index_t count = static_cast<index_t>(features.size());
  // about 1 ns a code
  const int chunks = std::min<int>(fastml_hot_region_threads(1.0 * n * count, n_threads),
                                   static_cast<int>(std::max<index_t>(count, 1)));
  if (chunks <= 1) {
    fill_share<kConstantHessian>(pool, h, data, source, rows, n, features.data(), count, all_rows);
    return;
  }
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const index_t first = count * chunk / chunks, last = count * (chunk + 1) / chunks;
    fill_share<kConstantHessian>(pool, h, data, source, rows, n, features.data() + first,
                                 last - first, all_rows);
  }
}

// Histogram subtraction in place: the parent's buffer becomes the larger child's, parent - the
// smaller child's, for the given features.
inline void subtract_into(HistogramPool& pool, int parent, int smaller,
                          const std::vector<std::int32_t>& features) {
  for (const std::int32_t f : features) {
    Bin* P = pool.of(parent, f);
    const Bin* S = pool.of(smaller, f);
    for (index_t b = 0, nb = pool.bins(f); b < nb; ++b) {
      P[b].g -= S[b].g;
      P[b].h -= S[b].h;
      P[b].count -= S[b].count;
    }
  }
}

}  // namespace
}  // namespace fastml::boost::detail
