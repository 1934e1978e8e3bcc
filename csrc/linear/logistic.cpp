// Logistic loss drivers (see fastml/logistic.hpp): rows in fixed chunks, one partial sum per
// chunk, partials added in chunk order. Chunk bounds depend on the problem only (rows and the
// partial's size), so results are the same for any thread count.
#include "fastml/logistic.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"
#include "fastml/ranged_sum.hpp"

namespace fastml::logistic {
namespace {

const IsaChoice<LogisticTable>& selected() {
  static const IsaChoice<LogisticTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T>
const Kernels<Dense<T>>& kernels_of(const Dense<T>&) {
  return kernels_for<T>(selected().table).dense;
}
template <class T>
const Kernels<Csr<T, std::int32_t>>& kernels_of(const Csr<T, std::int32_t>&) {
  return kernels_for<T>(selected().table).csr32;
}
template <class T>
const Kernels<Csr<T, std::int64_t>>& kernels_of(const Csr<T, std::int64_t>&) {
  return kernels_for<T>(selected().table).csr64;
}

// Rough one-thread nanoseconds, from which a call takes its thread count (fastml_region_threads).
constexpr double kProductNs = 0.15;  // one multiply-add of a row with a class's coefficients
constexpr double kRowNs = 20.0;      // a row's exp/log per class

template <class T>
double gradient_work_ns(const Dense<T>& x, const Model& m) {
  return static_cast<double>(x.n) * m.k * (2.0 * x.d * kProductNs + kRowNs);
}
template <class T, class I>
double gradient_work_ns(const Csr<T, I>& x, const Model& m) {
  return (2.0 * static_cast<double>(x.indptr[x.n]) * kProductNs + x.n * kRowNs) * m.k;
}

// Partial layout: loss, nonpositive weight, grad_w (k x d), grad_b (k), then the Hessian blocks.
constexpr index_t kHead = 2;

// The merged blocks (upper triangles of the class pairs c <= l) written out symmetrically in
// scikit-learn's layout: coefficient (a, c) at a * k + c.
void scatter_hessian(const double* blocks, index_t k, index_t dd, double* hessian) {
  const index_t n = k * dd;
  for (index_t c = 0; c < k; ++c)
    for (index_t l = c; l < k; ++l) {
      const double* block = blocks + (c * k + l) * dd * dd;
      for (index_t a = 0; a < dd; ++a)
        for (index_t b = a; b < dd; ++b) {
          const double v = block[a * dd + b];
          hessian[(a * k + c) * n + b * k + l] = v;
          hessian[(b * k + l) * n + a * k + c] = v;
          hessian[(b * k + c) * n + a * k + l] = v;
          hessian[(a * k + l) * n + b * k + c] = v;
        }
    }
}

template <class X>
void run(const X& x, const Model& m, bool hessian, bool fit_intercept, Sums& sums,
         int n_threads) {
  const index_t k = m.k, d = x.d, dd = d + (fit_intercept ? 1 : 0);
  const index_t hess_size = hessian ? k * k * dd * dd : 0;
  const index_t width = kHead + k * d + k + hess_size;
  double work = gradient_work_ns(x, m);
  if (hessian) work += static_cast<double>(x.n) * k * (k + 1) / 2 * dd * dd / 2 * kProductNs;
  std::vector<double> merged(static_cast<std::size_t>(width));
  const auto& kernels = kernels_of(x);
  sum_over_ranges(row_ranges(x.n, width, RangeLimits{}), width, work, n_threads, merged.data(),
             [&](index_t begin, index_t end, double* part) {
               double* gw = part + kHead;
               double* gb = gw + k * d;
               if (hessian)
                 kernels.hessian(x, m, fit_intercept, begin, end, part, gw, gb, gb + k,
                                 part + 1);
               else
                 kernels.loss_gradient(x, m, begin, end, part, gw, gb);
             });
  sums.loss = merged[0];
  sums.nonpositive_weight = merged[1];
  std::copy_n(merged.data() + kHead, k * d, sums.grad_w);
  std::copy_n(merged.data() + kHead + k * d, k, sums.grad_b);
  if (hessian) scatter_hessian(merged.data() + kHead + k * d + k, k, dd, sums.hessian);
}

}  // namespace

template <class X>
void loss_gradient(const X& x, const Model& m, Sums& sums, int n_threads) {
  run(x, m, false, false, sums, n_threads);
}

template <class X>
void gradient_hessian(const X& x, const Model& m, bool fit_intercept, Sums& sums, int n_threads) {
  run(x, m, true, fit_intercept, sums, n_threads);
}

template <class X>
void raw_prediction(const X& x, const Model& m, double* out, int n_threads) {
  const RowRanges chunks = row_ranges(x.n, 1, RangeLimits{});
  const auto& kernels = kernels_of(x);
  const int threads = fastml_region_threads(gradient_work_ns(x, m) / 2.0, n_threads);
  FirstException error;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (index_t c = 0; c < chunks.count; ++c)
    error.run([&] { kernels.raw(x, m, chunks.begin(c), chunks.end(c), out); });
  error.rethrow();
}

const char* simd_target() { return selected().name; }

int l1_quadratic_cd(const double* H, const double* g, const double* w,
                    const std::uint8_t* penalised, index_t p, double l1, double tol,
                    int max_sweeps, double* d) {
  std::vector<double> hd(static_cast<std::size_t>(p), 0.0);  // H d, kept up to date
  std::fill_n(d, p, 0.0);
  int sweep = 0;
  while (sweep < max_sweeps) {
    ++sweep;
    double largest = 0.0;
    for (index_t j = 0; j < p; ++j) {
      const double a = H[j * p + j];
      if (!(a > 0.0)) continue;
      const double b = g[j] + hd[static_cast<std::size_t>(j)];
      double delta = -b / a;
      if (penalised[j]) {
        // The new w_j + d_j is the soft-thresholded Newton point.
        const double z = w[j] + d[j], target = z - b / a, cut = l1 / a;
        const double moved = target > cut ? target - cut : (target < -cut ? target + cut : 0.0);
        delta = moved - z;
      }
      if (delta == 0.0) continue;
      d[j] += delta;
      const double* column = H + j * p;  // H is symmetric: row j is column j
      for (index_t i = 0; i < p; ++i) hd[static_cast<std::size_t>(i)] += delta * column[i];
      largest = std::max(largest, std::abs(delta));
    }
    if (largest <= tol) break;
  }
  return sweep;
}

// ---- explicit instantiations ----------------------------------------------------------------

#define FASTML_LOGISTIC(...)                                                                  \
  template void loss_gradient<__VA_ARGS__>(const __VA_ARGS__&, const Model&, Sums&, int);        \
  template void gradient_hessian<__VA_ARGS__>(const __VA_ARGS__&, const Model&, bool, Sums&,    \
                                              int);                                             \
  template void raw_prediction<__VA_ARGS__>(const __VA_ARGS__&, const Model&, double*, int);
FASTML_LOGISTIC(Dense<float>)
FASTML_LOGISTIC(Dense<double>)
FASTML_LOGISTIC(Csr<float, std::int32_t>)
FASTML_LOGISTIC(Csr<float, std::int64_t>)
FASTML_LOGISTIC(Csr<double, std::int32_t>)
FASTML_LOGISTIC(Csr<double, std::int64_t>)
#undef FASTML_LOGISTIC

}  // namespace fastml::logistic
