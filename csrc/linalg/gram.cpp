// Weighted Gram drivers (see fastml/gram.hpp): means, ranges of rows, per-range partials merged in
// range order, the sparse products, and the final symmetric G and XtY.
#include "fastml/gram.hpp"

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"
#include "fastml/ranged_sum.hpp"

namespace fastml::linalg {
namespace {

const IsaChoice<GramTable>& selected() {
  static const IsaChoice<GramTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

// Rough one-thread nanoseconds per unit, for the thread count of a loop (fastml_region_threads).
constexpr double kValueNs = 0.5;   // reading a value into a sum
constexpr double kFmaNs = 0.05;    // a multiply-add of the packed dense product
constexpr double kPairNs = 1.0;    // a pair of nonzeros of a sparse row

// Rows in ranges of at most 16 (see fastml/ranged_sum.hpp).
constexpr RangeLimits kRanges{16, 256, 64.0 * (1 << 20)};
// Rows whose plain mean is the dense kernel's shift.
constexpr index_t kShiftRows = 256;

// sums[j] += sum_i w_i M(i, j) over rows [begin, end), along M's unit stride.
template <class T>
void add_column_sums(const Strided<T>& M, const double* w, index_t begin, index_t end,
                     double* sums) {
  if (std::abs(M.cs) <= std::abs(M.rs)) {
    for (index_t i = begin; i < end; ++i) {
      const double wi = w ? w[i] : 1.0;
      for (index_t j = 0; j < M.d; ++j) sums[j] += wi * static_cast<double>(M.at(i, j));
    }
  } else {
    for (index_t j = 0; j < M.d; ++j) {
      double s = 0.0;
      for (index_t i = begin; i < end; ++i) s += (w ? w[i] : 1.0) * static_cast<double>(M.at(i, j));
      sums[j] += s;
    }
  }
}

double weight_sum(const double* w, index_t begin, index_t end) {
  if (!w) return static_cast<double>(end - begin);
  double s = 0.0;
  for (index_t i = begin; i < end; ++i) s += w[i];
  return s;
}

// The layout of P (see RowsKernel) into the symmetric G and the d x t XtY.
void unpack(const double* P, index_t d, index_t t, double* G, double* XtY) {
  for (index_t k = 0; k < d; ++k)
    for (index_t j = 0; j <= k; ++j) G[j * d + k] = G[k * d + j] = P[k * d + j];
  for (index_t y = 0; y < t; ++y)
    for (index_t j = 0; j < d; ++j) XtY[j * t + y] = P[(d + y) * d + j];
}

// Block rows so that the two packed panels of a block take about 512 KiB (half an L2), from 16
// to 512 rows. The blocks and the ranges depend on n and d only, not on the targets, so that G
// has the same bits whether XtY is asked for or not.
index_t block_rows(index_t d) {
  const index_t rows = (512 * 1024 / 16) / std::max<index_t>(1, d);
  return std::clamp<index_t>(rows, 16, 512);
}

}  // namespace

template <class T>
void weighted_gram(const Strided<T>& X, const Strided<T>& Y, const double* w, bool center,
                   double* G, double* XtY, double* x_mean, double* y_mean, int n_threads) {
  const index_t n = X.n, d = X.d, t = Y.d;
  // The shift: the plain mean of the first rows (any shift is exact; a close one keeps the
  // final correction small). Zeros when not centering.
  std::vector<double> shift(static_cast<std::size_t>(d + t), 0.0);
  const index_t first = std::min(n, kShiftRows);
  if (center && first > 0) {
    add_column_sums(X, nullptr, 0, first, shift.data());
    add_column_sums(Y, nullptr, 0, first, shift.data() + d);
    for (double& s : shift) s /= static_cast<double>(first);
  }
  const GramTable& table = selected().table;
  const GramProblem<T> p{X, Y, w, shift.data(), shift.data() + d, block_rows(d)};
  const auto kernel = kernels_for<T>(table);
  const index_t width = (d + t) * d + (d + t) + 1;
  const index_t scratch = table.scratch_doubles(d, t, p.block_rows);
  std::vector<double> P(static_cast<std::size_t>(width));
  const double work = static_cast<double>(n) * d * (0.5 * d + t) * kFmaNs;
  sum_over_ranges(row_ranges(n, d * d, kRanges), width, work, n_threads, P.data(),
                  [&](index_t b, index_t e, double* partial) {
                    std::vector<double> buffer(static_cast<std::size_t>(scratch));
                    kernel(p, b, e, partial, buffer.data());
                  });
  // delta = m - s from sum w (z - s) / S; then the products about the mean.
  const double* sums = P.data() + (d + t) * d;
  const double S = sums[d + t];
  std::vector<double> delta(static_cast<std::size_t>(d + t), 0.0);
  if (center && n > 0)
    for (index_t c = 0; c < d + t; ++c) delta[c] = sums[c] / S;
  for (index_t j = 0; j < d; ++j) x_mean[j] = shift[j] + delta[j];
  for (index_t y = 0; y < t; ++y) y_mean[y] = shift[d + y] + delta[d + y];
  if (center) {
    for (index_t k = 0; k < d + t; ++k)
      for (index_t j = 0; j <= std::min(k, d - 1); ++j) P[k * d + j] -= S * delta[j] * delta[k];
  }
  unpack(P.data(), d, t, G, XtY);
}

template <class T, class I>
void weighted_gram(const Csr<T, I>& X, const Strided<T>& Y, const double* w, bool center,
                   double* G, double* XtY, double* x_mean, double* y_mean, int n_threads) {
  const index_t n = X.n, d = X.d, t = Y.d;
  const double nnz = static_cast<double>(X.indptr[n]);
  // Pass 1: [sum w x | sum w y | sum w] (needed for the means and the rank-one correction).
  const index_t sw = d + t + 1;
  std::vector<double> sums(static_cast<std::size_t>(sw), 0.0);
  if (center && n > 0) {
    sum_over_ranges(row_ranges(n, d + 1, kRanges), sw, (nnz + static_cast<double>(n) * (t + 1)) * kValueNs,
                    n_threads, sums.data(), [&](index_t b, index_t e, double* s) {
                      for (index_t i = b; i < e; ++i) {
                        const double wi = w ? w[i] : 1.0;
                        for (I a = X.indptr[i]; a < X.indptr[i + 1]; ++a)
                          s[X.indices[a]] += wi * static_cast<double>(X.data[a]);
                      }
                      add_column_sums(Y, w, b, e, s + d);
                      s[d + t] = weight_sum(w, b, e);
                    });
  }
  const double S = sums[d + t];
  for (index_t j = 0; j < d; ++j) x_mean[j] = center ? sums[j] / S : 0.0;
  for (index_t y = 0; y < t; ++y) y_mean[y] = center ? sums[d + y] / S : 0.0;
  // Pass 2: P (raw X, centered Y) and r[y] = sum w (y - m_y), which is 0 up to rounding.
  const index_t width = (d + t) * d + t;
  std::vector<double> P(static_cast<std::size_t>(width));
  double work = static_cast<double>(n) * t * kValueNs;
  for (index_t i = 0; i < n; ++i) {
    const double k = static_cast<double>(X.indptr[i + 1] - X.indptr[i]);
    work += (0.5 * k * k + k * t) * kPairNs;
  }
  sum_over_ranges(row_ranges(n, d * d, kRanges), width, work, n_threads, P.data(),
                  [&](index_t b, index_t e, double* part) {
                    double* r = part + (d + t) * d;
                    for (index_t i = b; i < e; ++i) {
                      const double wi = w ? w[i] : 1.0;
                      const I lo = X.indptr[i], hi = X.indptr[i + 1];
                      for (I a = lo; a < hi; ++a) {
                        const index_t ca = X.indices[a];
                        const double va = wi * static_cast<double>(X.data[a]);
                        part[ca * d + ca] += va * static_cast<double>(X.data[a]);
                        for (I b2 = a + 1; b2 < hi; ++b2) {
                          const index_t cb = X.indices[b2];
                          const double prod = va * static_cast<double>(X.data[b2]);
                          // A repeated column is the pair (a, b) and (b, a) of the same entry.
                          if (ca == cb) part[ca * d + ca] += 2.0 * prod;
                          else part[std::max(ca, cb) * d + std::min(ca, cb)] += prod;
                        }
                        for (index_t y = 0; y < t; ++y)
                          part[(d + y) * d + ca] += va * (static_cast<double>(Y.at(i, y)) - y_mean[y]);
                      }
                      for (index_t y = 0; y < t; ++y)
                        r[y] += wi * (static_cast<double>(Y.at(i, y)) - y_mean[y]);
                    }
                  });
  // sum w (x - m)(x - m)^T = X^T W X - S m m^T;  sum w (x - m)(y - m_y) = X^T W (y - m_y) - m r.
  if (center) {
    for (index_t k = 0; k < d; ++k)
      for (index_t j = 0; j <= k; ++j) P[k * d + j] -= S * x_mean[j] * x_mean[k];
    for (index_t y = 0; y < t; ++y)
      for (index_t j = 0; j < d; ++j) P[(d + y) * d + j] -= x_mean[j] * P[(d + t) * d + y];
  }
  unpack(P.data(), d, t, G, XtY);
}

const char* simd_target() { return selected().name; }

template void weighted_gram<float>(const Strided<float>&, const Strided<float>&, const double*,
                                   bool, double*, double*, double*, double*, int);
template void weighted_gram<double>(const Strided<double>&, const Strided<double>&,
                                    const double*, bool, double*, double*, double*, double*, int);
#define FASTML_GRAM_CSR(T, I)                                                                   \
  template void weighted_gram<T, I>(const Csr<T, I>&, const Strided<T>&, const double*, bool, \
                                    double*, double*, double*, double*, int);
FASTML_GRAM_CSR(float, std::int32_t)
FASTML_GRAM_CSR(float, std::int64_t)
FASTML_GRAM_CSR(double, std::int32_t)
FASTML_GRAM_CSR(double, std::int64_t)
#undef FASTML_GRAM_CSR

}  // namespace fastml::linalg
