// Per-sample log loss and the checks scikit-learn makes on the probabilities (see
// clf_metrics.hpp), in one pass over the rows: scikit-learn clips a copy of the whole matrix,
// multiplies it by a one-hot matrix and sums it, besides a max, a min and the row sums.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fastml/clf_metrics.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::clf_metrics {

template <class T>
void log_loss_rows(const T* prob, index_t n, index_t m, const std::int64_t* code, T eps, T rtol,
                   T* loss, double* stats, int n_threads) {
  // Fixed chunks of rows, partial max/min/count merged in chunk order (max, min and counts do
  // not depend on the order; the fixed chunks keep it simple to say so).
  const index_t n_chunks = std::clamp<index_t>(n / 4096, 1, 256);
  std::vector<double> part(static_cast<std::size_t>(3 * n_chunks));
  // ~1 ns per value and ~10 ns per log, on one thread.
  const int threads = fastml_region_threads(static_cast<double>(n) * (m + 10), n_threads);
  const T one = T(1);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < n_chunks; ++c) {
    const index_t b = n * c / n_chunks, e = n * (c + 1) / n_chunks;
    T hi = -std::numeric_limits<T>::infinity(), lo = std::numeric_limits<T>::infinity();
    double off = 0.0;
    for (index_t i = b; i < e; ++i) {
      const T* row = prob + i * m;
      T sum = T(0);
      for (index_t j = 0; j < m; ++j) {
        hi = std::max(hi, row[j]);
        lo = std::min(lo, row[j]);
        sum += row[j];
      }
      // numpy.isclose(sum, 1, rtol): |sum - 1| <= atol + rtol * |1|, atol = 1e-8.
      if (!(std::abs(sum - one) <= T(1e-8) + rtol)) off += 1.0;
      const T p = std::min(std::max(row[code[i]], eps), one - eps);
      loss[i] = -std::log(p);
    }
    part[3 * c] = hi;
    part[3 * c + 1] = lo;
    part[3 * c + 2] = off;
  }
  stats[0] = -std::numeric_limits<double>::infinity();
  stats[1] = std::numeric_limits<double>::infinity();
  stats[2] = 0.0;
  for (index_t c = 0; c < n_chunks; ++c) {
    stats[0] = std::max(stats[0], part[3 * c]);
    stats[1] = std::min(stats[1], part[3 * c + 1]);
    stats[2] += part[3 * c + 2];
  }
}

template void log_loss_rows<float>(const float*, index_t, index_t, const std::int64_t*, float,
                                   float, float*, double*, int);
template void log_loss_rows<double>(const double*, index_t, index_t, const std::int64_t*, double,
                                    double, double*, double*, int);

}  // namespace fastml::clf_metrics
