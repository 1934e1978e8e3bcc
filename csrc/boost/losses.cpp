// Gradients and hessians of the boosting losses, scikit-learn's formulas (sklearn/_loss/_loss.pyx.tp)
// term for term, so that the float32 values they round to are scikit-learn's.
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {

namespace {

struct Pair {
  double g, h;
};

// One-output losses: (gradient, hessian) of raw for target y.
template <Loss L>
inline Pair point(double y, double raw, double quantile) {
  if constexpr (L == kSquaredError) {
    return {raw - y, 1.0};
  } else if constexpr (L == kAbsoluteError) {
    return {raw > y ? 1.0 : -1.0, 1.0};
  } else if constexpr (L == kQuantile) {
    return {y >= raw ? -quantile : 1.0 - quantile, 1.0};
  } else if constexpr (L == kPoisson) {
    const double e = std::exp(raw);
    return {e - y, e};
  } else if constexpr (L == kGamma) {
    const double e = std::exp(-raw);
    return {1.0 - y * e, e * y};
  } else {  // kBinomial; below -37 exp(raw) is the first-order expansion (as scikit-learn)
    if (raw > -37) {
      const double e = std::exp(-raw);
      return {((1 - y) - y * e) / (1 + e), e / ((1 + e) * (1 + e))};
    }
    const double e = std::exp(raw);
    return {e - y, e};
  }
}

template <Loss L>
void one_output(const double* y, const double* raw, const double* sw, index_t n, double quantile,
                GradHess* gh, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (index_t i = 0; i < n; ++i) {
    Pair p = point<L>(y[i], raw[i], quantile);
    if (sw) {
      p.g *= sw[i];
      p.h *= sw[i];
    }
    gh[i] = {static_cast<float>(p.g), static_cast<float>(p.h)};
  }
}

// Softmax of each row after subtracting its largest raw value; class k's gradient p_k - [y == k]
// and hessian p_k (1 - p_k).
void multinomial(const double* y, const double* raw, const double* sw, index_t n, index_t K,
                 GradHess* gh, int threads) {
  FirstException error;
#pragma omp parallel num_threads(threads)
  {
    std::vector<double> p;
    error.run([&] { p.resize(K); });
#pragma omp for schedule(static)
    for (index_t i = 0; i < n; ++i) {
      if (p.empty()) continue;  // the allocation failed: rethrown below
      const double* r = raw + i * K;
      double top = r[0], sum = 0;
      for (index_t k = 1; k < K; ++k) top = top < r[k] ? r[k] : top;
      for (index_t k = 0; k < K; ++k) {
        p[k] = std::exp(r[k] - top);
        sum += p[k];
      }
      const double w = sw ? sw[i] : 1.0;
      for (index_t k = 0; k < K; ++k) {
        const double pk = p[k] / sum;
        double g = pk - (y[i] == static_cast<double>(k)), h = pk * (1. - pk);
        if (sw) {
          g *= w;
          h *= w;
        }
        gh[k * n + i] = {static_cast<float>(g), static_cast<float>(h)};
      }
    }
  }
  error.rethrow();
}

}  // namespace

void gradients(Loss loss, const double* y, const double* raw, const double* sw, index_t n_rows,
               index_t n_trees, double quantile, GradHess* gh, int n_threads) {
  // about 2 ns a row (20 with an exp)
  const int threads = fastml_region_threads(20.0 * n_rows * n_trees, n_threads);
  switch (loss) {
    case kSquaredError: return one_output<kSquaredError>(y, raw, sw, n_rows, quantile, gh, threads);
    case kAbsoluteError: return one_output<kAbsoluteError>(y, raw, sw, n_rows, quantile, gh, threads);
    case kQuantile: return one_output<kQuantile>(y, raw, sw, n_rows, quantile, gh, threads);
    case kPoisson: return one_output<kPoisson>(y, raw, sw, n_rows, quantile, gh, threads);
    case kGamma: return one_output<kGamma>(y, raw, sw, n_rows, quantile, gh, threads);
    case kBinomial: return one_output<kBinomial>(y, raw, sw, n_rows, quantile, gh, threads);
    case kMultinomial: return multinomial(y, raw, sw, n_rows, n_trees, gh, threads);
  }
}

}  // namespace fastml::boost
