// Binning for the histogram search (see encode_bins in fastml/cart.hpp).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <vector>

#include "fastml/binning_kernels.hpp"
#include "fastml/cart.hpp"
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"
#include "fastml/sort_keys.hpp"

namespace fastml::cart {

namespace {
constexpr double kInf = std::numeric_limits<double>::infinity();

// The number of a feature's thresholds (kBins, +inf padded) below v (the padding never is), by
// a branch-free binary search over the kMissingBin thresholds.
inline index_t bin_of(const double* threshold, double v) {
  const double* base = threshold;
  index_t len = kMissingBin;
  while (len > 1) {
    const index_t half = len / 2;
    base += (base[half - 1] < v) * half;  // arithmetic, not a mispredicted branch
    len -= half;
  }
  return (base - threshold) + (*base < v);
}

// The largest T <= threshold t (NaN for t = +inf or NaN, which no value lies above): for a T
// value v, t < v exactly when the result < v. Not the smallest T above t with <=: for t = 0
// that is a subnormal, which a process with denormals-are-zero set compares as 0.
template <class T>
T search_key(double t) {
  if (!(t < kInf)) return std::numeric_limits<T>::quiet_NaN();
  return walk_threshold<T>(t);
}

const IsaChoice<EncodeTable>& encode_kernels() {
  static const IsaChoice<EncodeTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}
}  // namespace

template <class T>
void encode_bins(const T* X, index_t n_rows, index_t n_features, const double* bin_threshold,
                 std::uint8_t* codes, double* bin_bounds, int n_threads,
                 std::uint8_t* column_codes) {
  const index_t F = n_features;
  if (bin_bounds == nullptr) {  // the codes alone (the booster's)
    // Each feature's keys (see fastml/binning_kernels.hpp) searched by the widest kernel this
    // CPU runs (csrc/tree/binning_isa.cpp, which says what it saves), on blocks of rows.
    std::vector<T> keys(static_cast<std::size_t>(F) * kEncodeKeys);
    for (index_t f = 0; f < F; ++f) {
      T* k = keys.data() + f * kEncodeKeys;
      for (int j = 0; j < kBins; ++j)
        k[j] = j < kMissingBin ? search_key<T>(bin_threshold[f * kBins + j])
                               : std::numeric_limits<T>::quiet_NaN();
      for (int run = 0; run < 16; ++run) k[kBins + run] = k[16 * run + 15];
    }
    const EncodeKernel<T> kernel = kernels_for<T>(encode_kernels().table);
    // a block's values and codes: 36 KiB at 28 float32 features
    constexpr index_t kRowBlock = 256;
    const index_t n_blocks = (n_rows + kRowBlock - 1) / kRowBlock;
    const int threads = fastml_region_threads(2.0 * static_cast<double>(n_rows) * F, n_threads);
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
    for (index_t block = 0; block < n_blocks; ++block) {
      const index_t begin = block * kRowBlock, end = std::min(n_rows, begin + kRowBlock);
      kernel(X + begin * F, end - begin, F, keys.data(), codes + begin * F);
      // the block's codes transposed from L1, in the threads: NumPy's asfortranarray of the
      // codes after the encoding was a serial pass over both copies, 23-57 ms of one thread at
      // the bench's 1M x 28
      if (column_codes != nullptr)
        for (index_t f = 0; f < F; ++f)
          for (index_t i = begin; i < end; ++i) column_codes[f * n_rows + i] = codes[i * F + f];
    }
    return;
  }
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
        const index_t code = bin_of(bin_threshold + f * kBins, v);
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

namespace {
// The thresholds of one column (see sparse_bin_thresholds) from its `stored` values and
// n_rows - stored zeros (the rows not stored), written to out (room for max_bins - 1);
// returns their count. Its vectors are reused from column to column.
template <class T>
struct ColumnThresholds {
  std::vector<T> sorted;
  std::vector<double> v, first, last;
  std::vector<index_t> start;  // each run's first position among the n_rows values

  index_t operator()(const T* values, index_t stored, index_t n_rows, int max_bins,
                     double* out) {
    const index_t zeros = n_rows - stored;
    sorted.assign(values, values + stored);
    if (zeros > 0) sorted.push_back(T(0));
    std::sort(sorted.begin(), sorted.end());  // in X's dtype, as the reference sorts
    v.assign(sorted.begin(), sorted.end());
    // the runs; the one 0.0 stands for `zeros` positions
    start.clear();
    first.clear();
    last.clear();
    index_t position = 0;
    bool zero_seen = false;
    for (std::size_t j = 0; j < v.size(); ++j) {
      if (j == 0 || v[j] > v[j - 1] + 1e-7) {  // fastml.tree._binning.FEATURE_THRESHOLD
        if (j > 0) last.push_back(v[j - 1]);
        start.push_back(position);
        first.push_back(v[j]);
      }
      // the stand-in 0.0 is the first 0 in sorted order, a stored -0.0 or 0.0 beside it: any
      // of them may count the block, the positions after them are the same
      const bool block = zeros > 0 && v[j] == 0 && !zero_seen;
      zero_seen = zero_seen || block;
      position += block ? zeros : 1;
    }
    if (!v.empty()) last.push_back(v.back());
    const index_t runs = static_cast<index_t>(start.size());
    index_t m = 0;
    const auto edge = [&](index_t run) {  // between run and run + 1, scikit-learn's midpoint
      const double lo = last[run], hi = first[run + 1];
      double mid = lo / 2.0 + hi / 2.0;
      if (mid == hi || std::isinf(mid)) mid = lo;
      out[m++] = mid;
    };
    if (runs <= max_bins) {
      for (index_t r = 0; r + 1 < runs; ++r) edge(r);
    } else {
      // the runs holding positions (i * n_rows) // max_bins, each cut from the run above it
      index_t run = 0, previous = -1;
      for (int i = 1; i < max_bins; ++i) {
        const index_t rank = (static_cast<index_t>(i) * n_rows) / max_bins;
        while (run + 1 < runs && start[run + 1] <= rank) ++run;
        if (run != previous && run < runs - 1) edge(run);
        previous = run;
      }
    }
    return m;
  }
};
}  // namespace

template <class T>
void sparse_bins(const std::int64_t* csc_indptr, const std::int32_t* csc_indices,
                 const T* csc_data, index_t n_rows, index_t n_features,
                 const std::int64_t* csr_indptr, const std::int64_t* sample_indptr,
                 const T* sample_data, index_t sample_rows, int max_bins,
                 std::uint8_t* csc_codes, std::uint8_t* csr_codes, std::uint8_t* zero_codes,
                 std::int64_t* bin_start, int n_threads) {
  const index_t F = n_features;
  if (!sample_indptr) {
    sample_indptr = csc_indptr;
    sample_data = csc_data;
    sample_rows = n_rows;
  }
  // the columns in parallel, each thread its own thresholds; a column's bins counted in
  // bin_start[f + 1] and summed once after
  FirstException error;
#pragma omp parallel num_threads(std::max(n_threads, 1)) if (n_threads > 1)
  {
    ColumnThresholds<T> thresholds_of;
    double t[kMissingBin];  // a column's thresholds, max_bins - 1 <= 254 of them
#pragma omp for schedule(dynamic, 16)
    for (index_t f = 0; f < F; ++f) {
      error.run([&] {
        const std::int64_t a = sample_indptr[f];
        const index_t m =
            thresholds_of(sample_data + a, sample_indptr[f + 1] - a, sample_rows, max_bins, t);
        bin_start[f + 1] = m + 1;
        const auto bin = [&](double v) { return std::lower_bound(t, t + m, v) - t; };
        zero_codes[f] = static_cast<std::uint8_t>(bin(0.0));
        for (std::int64_t k = csc_indptr[f]; k < csc_indptr[f + 1]; ++k)
          csc_codes[k] = static_cast<std::uint8_t>(bin(static_cast<double>(csc_data[k])));
      });
    }
  }
  error.rethrow();
  bin_start[0] = 0;
  for (index_t f = 0; f < F; ++f) bin_start[f + 1] += bin_start[f];
  if (!csr_codes) return;
  // the CSR entries come feature by feature within a row: visiting the columns in order, each
  // row's next CSR entry is the one met (a transposition, where a search per CSR entry would
  // jump between features' entries)
  std::vector<std::int64_t> next(csr_indptr, csr_indptr + n_rows);
  for (std::int64_t k = 0; k < csc_indptr[F]; ++k) csr_codes[next[csc_indices[k]]++] = csc_codes[k];
}

template <class T>
index_t sparse_bin_thresholds(const std::int64_t* csc_indptr, const T* csc_data, index_t n_rows,
                              index_t n_features, int max_bins, std::int64_t* offsets,
                              double* thresholds) {
  ColumnThresholds<T> thresholds_of;
  offsets[0] = 0;
  for (index_t f = 0; f < n_features; ++f) {
    const std::int64_t a = csc_indptr[f];
    offsets[f + 1] = offsets[f] + thresholds_of(csc_data + a, csc_indptr[f + 1] - a, n_rows,
                                                 max_bins, thresholds + offsets[f]);
  }
  return offsets[n_features];
}

const char* simd_target() { return encode_kernels().name; }

namespace {
// values sorted ascending by an LSD radix sort of 11-bit digits (3 passes for float, 6 for
// double), buffer as large. np.sort (AVX-512 quicksort) took 5.6 ms a 200k-row float32
// column under the machine's load, this 1.3 ms.
template <class T>
void radix_sort(std::vector<T>& values, std::vector<T>& buffer) {
  using Key = SortKey<T>;
  constexpr int kDigitBits = 11, kDigits = (8 * sizeof(Key) + kDigitBits - 1) / kDigitBits;
  constexpr std::size_t kRadix = std::size_t{1} << kDigitBits;
  const std::size_t n = values.size();
  if (n < 2) return;
  buffer.resize(n);
  std::vector<std::size_t> count(kDigits * kRadix, 0);
  for (const T v : values) {
    const Key k = ascending_key(v);
    for (int d = 0; d < kDigits; ++d) ++count[d * kRadix + ((k >> (d * kDigitBits)) & (kRadix - 1))];
  }
  T* from = values.data();
  T* to = buffer.data();
  for (int d = 0; d < kDigits; ++d) {
    std::size_t* c = count.data() + d * kRadix;
    if (c[(ascending_key(from[0]) >> (d * kDigitBits)) & (kRadix - 1)] == n) continue;  // one digit
    std::size_t start = 0;
    for (std::size_t b = 0; b < kRadix; ++b) {
      const std::size_t m = c[b];
      c[b] = start;
      start += m;
    }
    for (std::size_t i = 0; i < n; ++i)
      to[c[(ascending_key(from[i]) >> (d * kDigitBits)) & (kRadix - 1)]++] = from[i];
    std::swap(from, to);
  }
  if (from != values.data()) values.swap(buffer);
}

// scikit-learn's cap on thresholds (fastml.ensemble._hist_gradient_boosting._ALMOST_INF)
constexpr double kAlmostInf = 1e300;

// One column's thresholds into out (room for max_bins - 1), as _column_thresholds computes
// them from the sorted values v; returns their count, or -1 where a threshold came out NaN
// (infinite values: left to NumPy, whose np.unique places NaN).
index_t thresholds_of_sorted(const std::vector<double>& v, int max_bins, const double* quantiles,
                             double* out) {
  const index_t n = static_cast<index_t>(v.size());
  index_t distinct = n > 0;
  for (index_t j = 1; j < n; ++j) distinct += v[j] != v[j - 1];
  if (distinct <= 1) return 0;
  index_t m = 0;
  if (distinct <= max_bins) {
    // the first value of each run of equal values, and NumPy's mean of each pair
    double previous = v[0];
    for (index_t j = 1; j < n; ++j) {
      if (v[j] == v[j - 1]) continue;
      out[m++] = (previous + v[j]) / 2;
      previous = v[j];
    }
  } else {
    // np.percentile(v, 100 * quantiles, method="averaged_inverted_cdf") step by step
    // (numpy's _quantile, _get_indexes, _get_gamma and _lerp): the virtual index n q - 1, its
    // floor and the next index (both the last value above the last index, both the first below
    // 0), gamma 0.5 where the index is whole, else 1, and b - (b - a) (1 - gamma). The products
    // are those of plain float64 operations: this file is built without FMA contraction
    // (CMakeLists.txt).
    for (int j = 0; j + 1 < max_bins; ++j) {
      const double virtual_index = static_cast<double>(n) * quantiles[j] - 1.0;
      double previous = std::floor(virtual_index);
      index_t a = static_cast<index_t>(previous), b = a + 1;
      if (virtual_index >= static_cast<double>(n - 1)) {
        a = b = n - 1;
        previous = -1.0;
      } else if (virtual_index < 0) {
        a = b = 0;
        previous = 0.0;
      }
      const double gamma = virtual_index - previous == 0 ? 0.5 : 1.0;
      const double difference = v[b] - v[a];
      out[m++] = v[b] - difference * (1.0 - gamma);
    }
    // np.unique of the ascending thresholds
    index_t kept = 1;
    for (index_t j = 1; j < m; ++j)
      if (out[j] != out[kept - 1]) out[kept++] = out[j];
    m = kept;
  }
  for (index_t j = 0; j < m; ++j) {
    if (std::isnan(out[j])) return -1;
    out[j] = std::min(out[j], kAlmostInf);
  }
  return m;
}
}  // namespace

template <class T>
void dense_bin_thresholds(const T* X, index_t n_rows, index_t n_features,
                          const std::int64_t* features, index_t n_chosen, int max_bins,
                          const double* quantiles, double* thresholds, std::int64_t* counts,
                          int n_threads) {
  FirstException error;
#pragma omp parallel num_threads(std::max(n_threads, 1)) if (n_threads > 1)
  {
    std::vector<T> column, buffer;
    std::vector<double> widened;
#pragma omp for schedule(dynamic, 1)
    for (index_t c = 0; c < n_chosen; ++c) {
      error.run([&] {
        const index_t f = features[c];
        column.clear();
        for (index_t i = 0; i < n_rows; ++i) {
          const T v = X[i * n_features + f];
          if (!std::isnan(v)) column.push_back(v);
        }
        radix_sort(column, buffer);
        widened.assign(column.begin(), column.end());
        double* out = thresholds + f * kBins;
        counts[f] = thresholds_of_sorted(widened, max_bins, quantiles, out);
        for (index_t j = std::max<std::int64_t>(counts[f], 0); j < kBins; ++j) out[j] = kInf;
      });
    }
  }
  error.rethrow();
}

template void dense_bin_thresholds<float>(const float*, index_t, index_t, const std::int64_t*,
                                          index_t, int, const double*, double*, std::int64_t*,
                                          int);
template void dense_bin_thresholds<double>(const double*, index_t, index_t, const std::int64_t*,
                                           index_t, int, const double*, double*, std::int64_t*,
                                           int);

template index_t sparse_bin_thresholds<float>(const std::int64_t*, const float*, index_t,
                                              index_t, int, std::int64_t*, double*);
template index_t sparse_bin_thresholds<double>(const std::int64_t*, const double*, index_t,
                                               index_t, int, std::int64_t*, double*);
template void sparse_bins<float>(const std::int64_t*, const std::int32_t*, const float*, index_t,
                                 index_t, const std::int64_t*, const std::int64_t*, const float*,
                                 index_t, int, std::uint8_t*, std::uint8_t*, std::uint8_t*,
                                 std::int64_t*, int);
template void sparse_bins<double>(const std::int64_t*, const std::int32_t*, const double*,
                                  index_t, index_t, const std::int64_t*, const std::int64_t*,
                                  const double*, index_t, int, std::uint8_t*, std::uint8_t*,
                                  std::uint8_t*, std::int64_t*, int);

template void encode_bins<float>(const float*, index_t, index_t, const double*, std::uint8_t*,
                                 double*, int, std::uint8_t*);
template void encode_bins<double>(const double*, index_t, index_t, const double*, std::uint8_t*,
                                  double*, int, std::uint8_t*);

}  // namespace fastml::cart
