// Binning for the histogram search (see encode_bins in fastml/cart.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <memory>

#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();
}  // namespace

template <class T>
void encode_bins(const T* X, index_t n_rows, index_t n_features, const double* bin_threshold,
                 std::uint8_t* codes, double* bin_bounds, int n_threads) {
  const index_t F = n_features;
  std::fill(bin_bounds, bin_bounds + F * kBins, kInf);
  std::fill(bin_bounds + F * kBins, bin_bounds + 2 * F * kBins, -kInf);
  const int threads = static_cast<int>(std::clamp<index_t>(n_rows, 1, std::max(n_threads, 1)));
  // Each thread's bounds, merged at the end (min and max do not depend on the order). They are
  // allocated before the threads start, as an allocation failing inside an OpenMP region would
  // end the process instead of raising MemoryError; each thread fills its own.
  const std::unique_ptr<double[]> bounds_all(new double[2 * threads * F * kBins]);
#pragma omp parallel num_threads(threads)
  {
    double* low = bounds_all.get() + 2 * omp_get_thread_num() * F * kBins;
    double* high = low + F * kBins;
    std::fill(low, high, kInf);
    std::fill(high, high + F * kBins, -kInf);
#pragma omp for schedule(static)
    for (index_t i = 0; i < n_rows; ++i) {
      const T* x = X + i * F;
      for (index_t f = 0; f < F; ++f) {
        const double v = x[f];
        // the number of thresholds below v (the +inf padding never is), by a branch-free
        // binary search over the kMissingBin thresholds
        const double* base = bin_threshold + f * kBins;
        index_t len = kMissingBin;
        while (len > 1) {
          const index_t half = len / 2;
          base += (base[half - 1] < v) * half;  // arithmetic, not a mispredicted branch
          len -= half;
        }
        const index_t code = (base - (bin_threshold + f * kBins)) + (*base < v);
        if (std::isnan(v)) {
          codes[i * F + f] = kMissingBin;
          continue;
        }
        codes[i * F + f] = static_cast<std::uint8_t>(code);
        double& lo = low[f * kBins + code];
        double& hi = high[f * kBins + code];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
#pragma omp critical
    for (index_t j = 0; j < F * kBins; ++j) {
      bin_bounds[j] = std::min(bin_bounds[j], low[j]);
      bin_bounds[F * kBins + j] = std::max(bin_bounds[F * kBins + j], high[j]);
    }
  }
}

template void encode_bins<float>(const float*, index_t, index_t, const double*, std::uint8_t*,
                                 double*, int);
template void encode_bins<double>(const double*, index_t, index_t, const double*, std::uint8_t*,
                                  double*, int);

}  // namespace fastml::cart
