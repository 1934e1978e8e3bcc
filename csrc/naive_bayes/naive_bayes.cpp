// Naive Bayes drivers (see fastml/naive_bayes.hpp). Two loop shapes serve every core:
//  - statistics: rows in fixed ranges, one partial per range, merged in range order;
//  - likelihoods: rows in blocks, each row computed by one thread from the model alone.
// Range sizes depend on the problem only, never on the thread count, so results do not either.
#include "fastml/naive_bayes.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <memory>
#include <new>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"
#include "fastml/ranged_sum.hpp"

namespace fastml::naive_bayes {
namespace {

const IsaChoice<NaiveBayesTable>& selected() {
  static const IsaChoice<NaiveBayesTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

// Rough one-thread nanoseconds per unit of work, from which a loop takes its thread count
// (fastml_region_threads): a small call stays on the calling thread rather than wake the pool.
constexpr double kValueNs = 0.5;         // reading a value and adding it to a class's sums
constexpr double kScatterNs = 2.0;       // a sparse value added to a class's sums
constexpr double kProductNs = 0.3;       // one value x class product of a likelihood
constexpr double kExpNs = 2.0;           // one value's normalisation in the vectorised kernels
constexpr double kGaussianValueNs = 2.0; // a value of Gaussian statistics (two passes, merges)

int threads_for(double work_ns, int n_threads) { return fastml_region_threads(work_ns, n_threads); }

// Statistics: rows in ranges as fastml/ranged_sum.hpp cuts them, a range carrying at least as
// many values as its partial holds entries.
constexpr RangeLimits kRanges{};

inline label_t class_of(const Labels& y, index_t i) { return y.y ? y.y[i] : 0; }
inline double weight_of(const Labels& y, index_t i) { return y.w ? y.w[i] : 1.0; }

// x as counted: itself, or 1 / 0 against the threshold compared in T.
template <bool Binarize, class T>
inline double value_of(T x, T threshold) {
  if constexpr (Binarize) {
    return x > threshold ? 1.0 : 0.0;
  } else {
    (void)threshold;
    return static_cast<double>(x);
  }
}

template <class T>
T threshold_in(const double* threshold) {
  return threshold ? static_cast<T>(*threshold) : T(0);
}

// ---- counts by class ------------------------------------------------------------------------

template <bool Binarize, class T>
void count_dense_rows(const Dense<T>& X, const Labels& y, T thr, index_t begin, index_t end,
                      double* partial) {
  const index_t d = X.d;
  double* class_count = partial;
  double* sums = partial + y.n_classes;
  for (index_t i = begin; i < end; ++i) {
    const label_t c = class_of(y, i);
    const double w = weight_of(y, i);
    class_count[c] += w;
    double* __restrict__ s = sums + c * d;
    const T* __restrict__ x = X.x + i * d;
    for (index_t f = 0; f < d; ++f) s[f] += w * value_of<Binarize>(x[f], thr);
  }
}

template <bool Binarize, class T, class I>
void count_csr_rows(const Csr<T, I>& X, const Labels& y, T thr, index_t begin, index_t end,
                    double* partial) {
  double* class_count = partial;
  double* sums = partial + y.n_classes;
  for (index_t i = begin; i < end; ++i) {
    const label_t c = class_of(y, i);
    const double w = weight_of(y, i);
    class_count[c] += w;
    double* s = sums + c * X.d;
    for (index_t j = X.indptr[i]; j < X.indptr[i + 1]; ++j)
      s[X.indices[j]] += w * value_of<Binarize>(X.data[j], thr);
  }
}

// Class counts then feature sums share one buffer, so that one merge serves both.
template <class Rows>
void count_by_class(index_t n, double values, double value_ns, const Labels& y, index_t d,
                    double* class_count, double* feature_count, int n_threads, Rows&& rows) {
  const index_t k = y.n_classes, width = k * (d + 1);
  const RowRanges ranges = row_ranges(n, width, kRanges, values);
  std::vector<double> merged(static_cast<std::size_t>(width));
  sum_over_ranges(ranges, width, values * value_ns, n_threads, merged.data(), rows);
  std::copy_n(merged.data(), k, class_count);
  std::copy_n(merged.data() + k, k * d, feature_count);
}

// ---- Gaussian statistics --------------------------------------------------------------------

// Weighted count, mean and sum of squared deviations of d features.
struct Moments {
  double* n;
  double* mean;
  double* m2;
};

// a += b by Chan, Golub and LeVeque's pairwise update (exact sums combined without cancellation).
void merge_moments(Moments a, double nb, const double* mean_b, const double* m2_b, index_t d) {
  if (nb == 0.0) return;
  const double na = *a.n;
  if (na == 0.0) {
    *a.n = nb;
    std::copy_n(mean_b, d, a.mean);
    std::copy_n(m2_b, d, a.m2);
    return;
  }
  const double total = na + nb;
  const double to_a = nb / total, cross = na * nb / total;
  for (index_t f = 0; f < d; ++f) {
    const double delta = mean_b[f] - a.mean[f];
    a.mean[f] += delta * to_a;
    a.m2[f] += m2_b[f] + delta * delta * cross;
  }
  *a.n = total;
}

constexpr index_t kGaussianBlock = 256;  // rows whose values stay in L2 between the two passes

// Moments of the rows [begin, end) of each class, added to `acc` (per class: n, mean[d], m2[d]).
// Block by block: the block's rows grouped by class (in row order), each group's exact mean and
// squared deviations in two passes over cached rows, then merged into the class's moments.
template <class T>
void gaussian_range(const Dense<T>& X, const Labels& y, index_t begin, index_t end, double* acc) {
  const index_t d = X.d, k = y.n_classes, stride = 2 * d + 1;
  std::vector<index_t> start(static_cast<std::size_t>(k + 1)), order(kGaussianBlock);
  std::vector<double> mean(static_cast<std::size_t>(d)), m2(static_cast<std::size_t>(d));
  for (index_t b0 = begin; b0 < end; b0 += kGaussianBlock) {
    const index_t b1 = std::min(end, b0 + kGaussianBlock);
    std::fill(start.begin(), start.end(), 0);
    for (index_t i = b0; i < b1; ++i) ++start[class_of(y, i) + 1];
    for (index_t c = 0; c < k; ++c) start[c + 1] += start[c];
    {
      std::vector<index_t>& next = order;  // filled in class order, rows in order within a class
      std::vector<index_t> pos(start.begin(), start.end() - 1);
      for (index_t i = b0; i < b1; ++i) next[pos[class_of(y, i)]++] = i;
    }
    for (index_t c = 0; c < k; ++c) {
      if (start[c] == start[c + 1]) continue;
      double nb = 0.0;
      std::fill(mean.begin(), mean.end(), 0.0);
      for (index_t p = start[c]; p < start[c + 1]; ++p) {
        const index_t i = order[p];
        const double w = weight_of(y, i);
        nb += w;
        const T* __restrict__ x = X.x + i * d;
        double* __restrict__ m = mean.data();
        for (index_t f = 0; f < d; ++f) m[f] += w * static_cast<double>(x[f]);
      }
      if (nb == 0.0) continue;  // rows of zero weight only: nothing to add
      for (index_t f = 0; f < d; ++f) mean[f] /= nb;
      std::fill(m2.begin(), m2.end(), 0.0);
      for (index_t p = start[c]; p < start[c + 1]; ++p) {
        const index_t i = order[p];
        const double w = weight_of(y, i);
        const T* __restrict__ x = X.x + i * d;
        const double* __restrict__ m = mean.data();
        double* __restrict__ s = m2.data();
        for (index_t f = 0; f < d; ++f) {
          const double dev = static_cast<double>(x[f]) - m[f];
          s[f] += w * dev * dev;
        }
      }
      double* a = acc + c * stride;
      merge_moments(Moments{a, a + 1, a + 1 + d}, nb, mean.data(), m2.data(), d);
    }
  }
}

// ---- likelihood rows --------------------------------------------------------------------------

constexpr index_t kRowBlock = 256;

// Runs row(i, out + i * k) for every row in blocks on the threads, then normalises each row.
template <class Row>
void likelihood_rows(index_t n, index_t k, double row_ns, Output what, double* out, int n_threads,
                     Row&& row) {
  const index_t n_blocks = (n + kRowBlock - 1) / kRowBlock;
  const double per_row = row_ns + (what == Output::joint ? 0.0 : k * kExpNs);
  const int threads = threads_for(per_row * static_cast<double>(n), n_threads);
  const auto normalize = selected().table.normalize;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t b = 0; b < n_blocks; ++b) {
    const index_t begin = b * kRowBlock, end = std::min(n, begin + kRowBlock);
    for (index_t i = begin; i < end; ++i) row(i, out + i * k);
    normalize(out + begin * k, end - begin, k, what);
  }
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};

// The kernels' form of a linear model: coef (k x d, as scikit-learn holds it) transposed into
// rows of k_pad classes per feature, zero-padded, 64-byte aligned.
struct PaddedModel {
  std::unique_ptr<double, AlignedFree> coef;
  std::vector<double> bias_pad;
  LinearModel model;
};

PaddedModel pad_model(const double* coef, const double* bias, index_t k, index_t d,
                      const double* threshold, Output what, int n_threads) {
  const index_t width = pad_width(k), k_pad = (k + width - 1) / width * width;
  const std::size_t bytes = (static_cast<std::size_t>(d * k_pad) * sizeof(double) + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes == 0 ? 64 : bytes);
  if (!p) throw std::bad_alloc();
  PaddedModel out{std::unique_ptr<double, AlignedFree>(static_cast<double*>(p)),
                  std::vector<double>(static_cast<std::size_t>(k_pad), -HUGE_VAL), LinearModel{}};
  std::copy_n(bias, k, out.bias_pad.begin());
  out.model = LinearModel{static_cast<double*>(p), bias, out.bias_pad.data(), k, k_pad,
                          threshold != nullptr, threshold ? *threshold : 0.0, what};
  double* t = out.coef.get();
  constexpr index_t kTile = 64;  // features per tile: k rows of it stay in L1 while transposed
  const index_t n_tiles = (d + kTile - 1) / kTile;
  const int threads = threads_for(static_cast<double>(d) * k_pad * kValueNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t tile = 0; tile < n_tiles; ++tile) {
    const index_t f0 = tile * kTile, f1 = std::min(d, f0 + kTile);
    for (index_t f = f0; f < f1; ++f) {
      double* row = t + f * k_pad;
      for (index_t c = 0; c < k; ++c) row[c] = coef[c * d + f];
      for (index_t c = k; c < k_pad; ++c) row[c] = 0.0;
    }
  }
  return out;
}

// Rows of a linear likelihood on the threads, in blocks of kRowBlock.
template <class Rows>
void linear_blocks(index_t n, double row_ns, const LinearModel& m, double* out, int n_threads,
                   Rows&& rows) {
  const index_t n_blocks = (n + kRowBlock - 1) / kRowBlock;
  const double per_row = row_ns + (m.what == Output::joint ? 0.0 : m.k * kExpNs);
  const int threads = threads_for(per_row * static_cast<double>(n), n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t b = 0; b < n_blocks; ++b)
    rows(b * kRowBlock, std::min(n, (b + 1) * kRowBlock), out);
}

template <class T> const LinearKernels<T>& linear_kernels() {
  return kernels_for<T>(selected().table);
}

}  // namespace

// ---- statistics -----------------------------------------------------------------------------

template <class T>
void count_features(const Dense<T>& X, const Labels& y, const double* threshold,
                    double* class_count, double* feature_count, int n_threads) {
  const T thr = threshold_in<T>(threshold);
  const double values = static_cast<double>(X.n) * X.d;
  count_by_class(X.n, values, kValueNs, y, X.d, class_count, feature_count, n_threads,
                 [&](index_t begin, index_t end, double* partial) {
                   if (threshold)
                     count_dense_rows<true>(X, y, thr, begin, end, partial);
                   else
                     count_dense_rows<false>(X, y, thr, begin, end, partial);
                 });
}

template <class T, class I>
void count_features(const Csr<T, I>& X, const Labels& y, const double* threshold,
                    double* class_count, double* feature_count, int n_threads) {
  const T thr = threshold_in<T>(threshold);
  const double values = static_cast<double>(X.indptr[X.n]) + X.n;
  count_by_class(X.n, values, kScatterNs, y, X.d, class_count, feature_count, n_threads,
                 [&](index_t begin, index_t end, double* partial) {
                   if (threshold)
                     count_csr_rows<true>(X, y, thr, begin, end, partial);
                   else
                     count_csr_rows<false>(X, y, thr, begin, end, partial);
                 });
}

template <class T>
void gaussian_stats(const Dense<T>& X, const Labels& y, double* weight, double* mean,
                    double* var, int n_threads) {
  const index_t d = X.d, k = y.n_classes, stride = 2 * d + 1;
  const double values = static_cast<double>(X.n) * d;
  const RowRanges ranges = row_ranges(X.n, k * stride, kRanges, values);
  std::vector<double> acc(static_cast<std::size_t>(ranges.count * k * stride), 0.0);
  FirstException error;
#pragma omp parallel for num_threads(threads_for(values * kGaussianValueNs, n_threads)) \
    schedule(dynamic, 1)
  for (index_t r = 0; r < ranges.count; ++r)
    error.run([&] {
      gaussian_range(X, y, ranges.begin(r), ranges.end(r), acc.data() + r * k * stride);
    });
  error.rethrow();
  // Ranges merged in range order into the first one's moments.
  for (index_t c = 0; c < k; ++c) {
    double* a = acc.data() + c * stride;
    for (index_t r = 1; r < ranges.count; ++r) {
      const double* b = acc.data() + (r * k + c) * stride;
      merge_moments(Moments{a, a + 1, a + 1 + d}, b[0], b + 1, b + 1 + d, d);
    }
    const double n = ranges.count ? a[0] : 0.0;
    weight[c] = n;
    for (index_t f = 0; f < d; ++f) {
      mean[c * d + f] = n != 0.0 ? a[1 + f] : 0.0;
      var[c * d + f] = n != 0.0 ? a[1 + d + f] / n : 0.0;
    }
  }
}

void count_categories(const Dense<std::int64_t>& X, const Labels& y, const index_t* offsets,
                      double* class_count, double* counts, int n_threads) {
  const index_t d = X.d, k = y.n_classes, total = offsets[d];
  const double values = static_cast<double>(X.n) * d;
  count_by_class(X.n, values, kScatterNs, y, total, class_count, counts, n_threads,
                 [&](index_t begin, index_t end, double* partial) {
                   double* cc = partial;
                   double* sums = partial + k;
                   for (index_t i = begin; i < end; ++i) {
                     const label_t c = class_of(y, i);
                     const double w = weight_of(y, i);
                     cc[c] += w;
                     double* s = sums + c * total;
                     const std::int64_t* x = X.x + i * d;
                     for (index_t f = 0; f < d; ++f) s[offsets[f] + x[f]] += w;
                   }
                 });
}

// ---- likelihoods ------------------------------------------------------------------------------

template <class T>
void linear_jll(const Dense<T>& X, const double* coef, const double* bias, index_t k,
                const double* threshold, Output what, double* out, int n_threads) {
  const PaddedModel pm = pad_model(coef, bias, k, X.d, threshold, what, n_threads);
  const auto rows = linear_kernels<T>().dense;
  linear_blocks(X.n, static_cast<double>(X.d * pm.model.k_pad) * kProductNs, pm.model, out,
                n_threads, [&](index_t begin, index_t end, double* o) {
                  rows(X, pm.model, begin, end, o);
                });
}

template <class T, class I>
void linear_jll(const Csr<T, I>& X, const double* coef, const double* bias, index_t k,
                const double* threshold, Output what, double* out, int n_threads) {
  const PaddedModel pm = pad_model(coef, bias, k, X.d, threshold, what, n_threads);
  const double nnz_per_row = X.n ? static_cast<double>(X.indptr[X.n]) / X.n : 0.0;
  linear_blocks(X.n, (nnz_per_row + 1) * pm.model.k_pad * kProductNs, pm.model, out, n_threads,
                [&](index_t begin, index_t end, double* o) {
                  if constexpr (sizeof(I) == 4)
                    linear_kernels<T>().csr32(X, pm.model, begin, end, o);
                  else
                    linear_kernels<T>().csr64(X, pm.model, begin, end, o);
                });
}

template <class T>
void gaussian_jll(const Dense<T>& X, const double* theta, const double* var,
                  const double* constant, const double* log_prior, index_t k, Output what,
                  double* out, int n_threads) {
  const index_t d = X.d;
  // Reciprocals once per call: a product per value instead of a division (the same value to a
  // rounding of each term).
  std::vector<double> inv(static_cast<std::size_t>(k * d));
  for (index_t e = 0; e < k * d; ++e) inv[e] = 1.0 / var[e];
  likelihood_rows(X.n, k, static_cast<double>(d * k) * kProductNs * 3, what, out, n_threads,
                  [&](index_t i, double* o) {
                    const T* __restrict__ x = X.x + i * d;
                    for (index_t c = 0; c < k; ++c) {
                      const double* __restrict__ th = theta + c * d;
                      const double* __restrict__ iv = inv.data() + c * d;
                      double s = 0.0;
                      for (index_t f = 0; f < d; ++f) {
                        const double dev = static_cast<double>(x[f]) - th[f];
                        s += dev * dev * iv[f];
                      }
                      o[c] = log_prior[c] + (constant[c] - 0.5 * s);
                    }
                  });
}

void categorical_jll(const Dense<std::int64_t>& X, const double* log_prob, const index_t* offsets,
                     const double* log_prior, index_t k, Output what, double* out,
                     int n_threads) {
  const index_t d = X.d;
  likelihood_rows(X.n, k, static_cast<double>(d * k) * kProductNs, what, out, n_threads,
                  [&](index_t i, double* acc) {
                    std::fill(acc, acc + k, 0.0);
                    const std::int64_t* x = X.x + i * d;
                    for (index_t f = 0; f < d; ++f) {
                      const double* __restrict__ row = log_prob + (offsets[f] + x[f]) * k;
                      for (index_t c = 0; c < k; ++c) acc[c] += row[c];
                    }
                    for (index_t c = 0; c < k; ++c) acc[c] += log_prior[c];
                  });
}

void normalize_rows(double* jll, index_t n, index_t k, Output what, int n_threads) {
  likelihood_rows(n, k, 0.0, what, jll, n_threads, [](index_t, double*) {});
}

const char* simd_target() { return selected().name; }

// ---- explicit instantiations ------------------------------------------------------------------

#define FASTML_NB_DENSE(T)                                                                        \
  template void count_features<T>(const Dense<T>&, const Labels&, const double*, double*,       \
                                  double*, int);                                                \
  template void gaussian_stats<T>(const Dense<T>&, const Labels&, double*, double*, double*,     \
                                  int);                                                         \
  template void linear_jll<T>(const Dense<T>&, const double*, const double*, index_t,           \
                              const double*, Output, double*, int);                             \
  template void gaussian_jll<T>(const Dense<T>&, const double*, const double*, const double*,   \
                                const double*, index_t, Output, double*, int);
#define FASTML_NB_CSR(T, I)                                                                       \
  template void count_features<T, I>(const Csr<T, I>&, const Labels&, const double*, double*,   \
                                     double*, int);                                             \
  template void linear_jll<T, I>(const Csr<T, I>&, const double*, const double*, index_t,       \
                                 const double*, Output, double*, int);

FASTML_NB_DENSE(float)
FASTML_NB_DENSE(double)
FASTML_NB_CSR(float, std::int32_t)
FASTML_NB_CSR(float, std::int64_t)
FASTML_NB_CSR(double, std::int32_t)
FASTML_NB_CSR(double, std::int64_t)

}  // namespace fastml::naive_bayes
