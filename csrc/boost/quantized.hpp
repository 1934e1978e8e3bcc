// Quantized gradients (fastml's opt-in `quantized_gradients`, after LightGBM 4's gradient
// discretization): each tree's float gradients and hessians become small integers, so that a
// histogram bin sums them with one int64 add (QBin, histogram.hpp) instead of two float64 adds,
// subtraction is exact, and the split search reads the sums back through the scales. The leaf
// values are then recomputed from the exact float gradients of each leaf's rows (LightGBM's
// renewal), which is what keeps the accuracy.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "histogram.hpp"

namespace fastml::boost::detail {
namespace {

// One integer unit of gradient and of hessian, and where a QRow keeps them: the gradient from bit
// g_shift up (signed), the hessian from bit h_shift, the count below h_shift when h_shift > 0.
// Sums of rows keep every field apart as long as each field's sum fits its bits. Layouts:
//   constant hessian  g << 32 | h, h = 1 a row: the hessian sum is the count;
//   small nodes       g << 42 | h << 20 | 1 (fewer than 2**20 rows, levels * rows < 2**22):
//                     one add a row carries all three sums;
//   otherwise         g << 32 | h, the count in QBin::count (a second add).
struct QuantScales {
  double g = 1, h = 1;
  int g_shift = 32, h_shift = 0;
  bool constant_hessian = true;
  // whether a row's QRow carries its count (QBin::count unused)
  bool count_in_row() const { return constant_hessian || h_shift > 0; }
};

// splitmix64's finaliser
inline std::uint64_t mix64(std::uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// A uniform [0, 1) draw for (key, row, lane) from a counter-based hash: it depends on nothing
// but its arguments, so any thread count rounds each row the same. key: a mixed seed, so that
// nearby seeds give unrelated streams.
inline double keyed_uniform(std::uint64_t key, std::uint64_t row, std::uint64_t lane) {
  const std::uint64_t z = mix64(key + (2 * row + lane + 1) * 0x9E3779B97F4A7C15ull);
  return static_cast<double>(z >> 11) * 0x1.0p-53;
}

// Stochastic rounding: floor(v + u), v's floor or ceiling with the odds that make its mean v.
// Truncation, less one where it rounded a negative sum up (v + u is a few units), rather than
// std::floor, which the baseline x86-64 build calls out of line (no SSE4.1 roundsd): quantize's
// rows of 1M random gradients, one thread, best of 7, quiet machine, the same rows: 6.85 ->
// 5.78 ns a row with hessians, 3.78 -> 3.64 without.
inline std::int64_t round_stochastic(double v, double u) {
  const double sum = v + u;
  const auto truncated = static_cast<std::int64_t>(sum);
  return truncated - (sum < static_cast<double>(truncated));
}

// out[i]: row i's gradient scaled so that the largest |g| is n_levels / 2 units and its hessian
// so that the largest is n_levels units (a constant hessian stays 1: the low half counts rows),
// both stochastically rounded, packed as a QRow. Returns the scales.
inline QuantScales quantize(const GradHess* gh, index_t n, int n_levels, bool constant_hessian,
                            std::uint64_t seed, QRow* out, int n_threads) {
  double max_g = 0, max_h = 0;
  const int threads = fastml_hot_region_threads(1.0 * n, n_threads);  // ~1 ns a row
#pragma omp parallel for schedule(static) num_threads(threads) reduction(max : max_g, max_h) \
    if (threads > 1)
  for (index_t i = 0; i < n; ++i) {
    max_g = std::max(max_g, static_cast<double>(std::fabs(gh[i].g)));
    max_h = std::max(max_h, static_cast<double>(gh[i].h));
  }
  QuantScales s;
  s.constant_hessian = constant_hessian;
  if (!constant_hessian && n < (index_t{1} << 20) && n * n_levels < (index_t{1} << 22)) {
    s.g_shift = 42;
    s.h_shift = 20;
  }
  s.g = max_g > 0 ? max_g / (n_levels / 2) : 1.0;
  s.h = constant_hessian ? 1.0 : (max_h > 0 ? max_h / n_levels : 1.0);
  const double inv_g = 1.0 / s.g, inv_h = 1.0 / s.h;
  const std::uint64_t key = mix64(seed);
  const std::int64_t count = s.h_shift > 0 ? 1 : 0;
  const int quantize_threads = fastml_hot_region_threads(10.0 * n, n_threads);  // ~10 ns a row
#pragma omp parallel for schedule(static) num_threads(quantize_threads) if (quantize_threads > 1)
  for (index_t i = 0; i < n; ++i) {
    const auto row = static_cast<std::uint64_t>(i);
    // clamped: a product one ulp past the largest level must not round to a unit more than the
    // layout's fields hold
    const std::int64_t g = std::clamp<std::int64_t>(
        round_stochastic(gh[i].g * inv_g, keyed_uniform(key, row, 0)), -n_levels / 2,
        n_levels / 2);
    const std::int64_t h =
        constant_hessian ? 1
                         : std::clamp<std::int64_t>(
                               round_stochastic(gh[i].h * inv_h, keyed_uniform(key, row, 1)), 0,
                               n_levels);
    out[i] = g * (std::int64_t{1} << s.g_shift) + h * (std::int64_t{1} << s.h_shift) + count;
  }
  return s;
}

// A QBin's sums in the layout of s (the masks keep the same bits whatever the sign).
inline std::int64_t hessian_units(std::int64_t gh, const QuantScales& s) {
  return (gh >> s.h_shift) & ((std::int64_t{1} << (s.g_shift - s.h_shift)) - 1);
}
inline std::int64_t gradient_units(std::int64_t gh, const QuantScales& s) {
  return (gh - (gh & ((std::int64_t{1} << s.g_shift) - 1))) / (std::int64_t{1} << s.g_shift);
}
// a QBin is used only where the rows carry no count (QuantScales::count_in_row false): beside
inline std::int64_t count_units(const QBin& b, const QuantScales&) { return b.count; }
inline std::int64_t count_units(const QPackedBin& b, const QuantScales& s) {
  return s.constant_hessian ? hessian_units(b.gh, s) : b.gh & ((std::int64_t{1} << s.h_shift) - 1);
}

// The float sums of the given features' integer bins, for the split search.
template <class QBinT>
void dequantize(BasicHistogramPool<QBinT>& pool, int h, const std::vector<std::int32_t>& features,
                const QuantScales& s, HistogramPool& out, int out_h) {
  for (const std::int32_t f : features) {
    const QBinT* Q = pool.of(h, f);
    Bin* B = out.of(out_h, f);
    for (index_t b = 0, nb = pool.bins(f); b < nb; ++b) {
      B[b].g = static_cast<double>(gradient_units(Q[b].gh, s)) * s.g;
      B[b].h = static_cast<double>(hessian_units(Q[b].gh, s)) * s.h;
      B[b].count = static_cast<std::uint64_t>(count_units(Q[b], s));
    }
  }
}

}  // namespace
}  // namespace fastml::boost::detail
