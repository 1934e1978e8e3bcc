// Gradients and hessians of the boosting losses, scikit-learn's formulas (sklearn/_loss/_loss.pyx.tp)
// term for term, so that the float32 values they round to are scikit-learn's (the one-output
// losses' in loss_point.hpp).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"
#include "loss_point.hpp"

namespace fastml::boost {

namespace {
using detail::row_gradient;

template <Loss L>
void one_output(const double* y, const double* raw, const double* sw, index_t n, double quantile,
                GradHess* gh, int threads) {
#pragma omp parallel for schedule(static) num_threads(threads)
  for (index_t i = 0; i < n; ++i) gh[i] = row_gradient<L>(y, raw[i], sw, i, quantile);
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
  if (loss == kMultinomial) return multinomial(y, raw, sw, n_rows, n_trees, gh, threads);
  detail::with_one_output_loss(loss, [&](auto L) {
    one_output<decltype(L)::value>(y, raw, sw, n_rows, quantile, gh, threads);
  });
}

}  // namespace fastml::boost
