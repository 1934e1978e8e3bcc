// Sums over rows in a fixed order: the rows [0, n) are cut into ranges that depend on the problem's
// shape alone, each range adds into a partial of its own, and the partials are added in range
// order. The result is therefore the same bits for any thread count. Used by every core whose
// output is a sum over samples (Gram matrices, logistic gradients, naive Bayes statistics).
#pragma once

#include <algorithm>
#include <cstddef>
#include <limits>
#include <vector>

#include "fastml/openmp_helpers.h"

namespace fastml {

struct RowRanges {
  std::ptrdiff_t n, size, count;
  std::ptrdiff_t begin(std::ptrdiff_t r) const { return r * size; }
  std::ptrdiff_t end(std::ptrdiff_t r) const { return std::min(n, (r + 1) * size); }
};

// How finely a core cuts its rows: at most max_ranges ranges of at least min_rows rows each, and
// all partials together at most partial_bytes (a partial is zeroed and merged once per call, so it
// must cost less than its range's rows).
struct RangeLimits {
  std::ptrdiff_t max_ranges = 64;
  std::ptrdiff_t min_rows = 256;
  double partial_bytes = 64.0 * (1 << 20);
};

// Ranges of equal size for n rows whose partials hold `width` doubles. `values`, where given, is
// the number of values the rows carry: a range then also carries at least as many values as its
// partial holds entries.
inline RowRanges row_ranges(std::ptrdiff_t n, std::ptrdiff_t width, const RangeLimits& limits,
                            double values = std::numeric_limits<double>::infinity()) {
  const double w = static_cast<double>(std::max<std::ptrdiff_t>(width, 1));
  const double count = std::min({static_cast<double>(limits.max_ranges), values / w,
                                 limits.partial_bytes / (w * sizeof(double)),
                                 static_cast<double>((n + limits.min_rows - 1) / limits.min_rows)});
  const std::ptrdiff_t c = std::max<std::ptrdiff_t>(1, static_cast<std::ptrdiff_t>(count));
  const std::ptrdiff_t size = std::max<std::ptrdiff_t>(1, (n + c - 1) / c);
  return RowRanges{n, size, n == 0 ? 0 : (n + size - 1) / size};
}

// Runs body(begin, end, partial) on every range (partial: `width` zeroed doubles) on up to
// n_threads threads (as many as work_ns, the one-thread estimate, is worth) and writes the sum of
// the partials, added in range order, to out[width]. One range writes out directly.
template <class Body>
void sum_over_ranges(const RowRanges& ranges, std::ptrdiff_t width, double work_ns, int n_threads,
                     double* out, Body&& body) {
  constexpr double kMergeNsPerEntry = 0.5;
  std::fill(out, out + width, 0.0);
  if (ranges.count <= 1) {
    if (ranges.count == 1) body(std::ptrdiff_t(0), ranges.n, out);
    return;
  }
  std::vector<double> partials(static_cast<std::size_t>(ranges.count * width), 0.0);
  const int threads = static_cast<int>(
      std::min<std::ptrdiff_t>(fastml_region_threads(work_ns, n_threads), ranges.count));
  FirstException error;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (std::ptrdiff_t r = 0; r < ranges.count; ++r)
    error.run([&] { body(ranges.begin(r), ranges.end(r), partials.data() + r * width); });
  error.rethrow();
  const int merge_threads = fastml_region_threads(
      static_cast<double>(width) * ranges.count * kMergeNsPerEntry, n_threads);
#pragma omp parallel for num_threads(merge_threads) schedule(static)
  for (std::ptrdiff_t e = 0; e < width; ++e) {
    double s = 0.0;
    for (std::ptrdiff_t r = 0; r < ranges.count; ++r) s += partials[r * width + e];
    out[e] = s;
  }
}

}  // namespace fastml
