// The booster's categorical preprocessing of X whose categories are small non-negative integers
// (fastml.ensemble._categorical_encoding; the NumPy reference is fastml.reference.boosting's
// integer_categories and encode_categories). One pass over the rows for each: NumPy took ten
// passes a column (masks, casts, a lookup, a where) and a copy of the other columns, 0.11 s of
// one thread for the 1.2M x 14 rows of the categorical bench workload.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {

namespace {
// v as a category below limit, or -1 where v is not an integer in [0, limit) (NaN and the
// infinities are not).
template <class T>
inline index_t category_of(T v, index_t limit) {
  if (!(v >= T(0) && v < static_cast<T>(limit))) return -1;
  const auto c = static_cast<index_t>(v);
  return static_cast<T>(c) == v ? c : -1;
}
}  // namespace

template <class T>
void integer_categories(const T* X, index_t n_rows, index_t n_features,
                        const std::int64_t* columns, index_t n_columns, index_t limit,
                        std::uint8_t* present, std::uint8_t* valid, int n_threads) {
  const int threads = fastml_region_threads(2.0 * n_rows * n_columns, n_threads);
  // each thread's columns that hold a value other than NaN and the categories, allocated here:
  // nothing in the region throws
  std::vector<std::uint8_t> invalid(static_cast<std::size_t>(threads * n_columns), 0);
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::uint8_t* own = invalid.data() + omp_get_thread_num() * n_columns;
#pragma omp for schedule(static)
    for (index_t i = 0; i < n_rows; ++i) {
      const T* row = X + i * n_features;
      for (index_t j = 0; j < n_columns; ++j) {
        const T v = row[columns[j]];
        const index_t c = category_of(v, limit);
        if (c >= 0) {
          // threads may mark the same category: an atomic store, in any order, and only where
          // the mark is missing, so that the threads' caches share the table's lines instead of
          // passing them to and fro on every row
          std::uint8_t* mark = present + j * limit + c;
          if (!__atomic_load_n(mark, __ATOMIC_RELAXED))
            __atomic_store_n(mark, std::uint8_t{1}, __ATOMIC_RELAXED);
        }
        else
          own[j] |= !std::isnan(v);
      }
    }
  }
  for (index_t j = 0; j < n_columns; ++j) {
    valid[j] = 1;
    for (int t = 0; t < threads; ++t) valid[j] &= !invalid[t * n_columns + j];
  }
}

template <class T>
bool encode_categories(const T* X, index_t n_rows, index_t n_features,
                       const std::uint8_t* is_categorical, const double* tables,
                       const std::int64_t* table_offsets, T* out, int n_threads) {
  // out's columns: the categorical features' first (each with its table), the others after
  std::vector<index_t> source, table_begin, table_size;
  for (index_t f = 0; f < n_features; ++f)
    if (is_categorical[f]) {
      const index_t j = static_cast<index_t>(source.size());
      source.push_back(f);
      table_begin.push_back(table_offsets[j]);
      table_size.push_back(table_offsets[j + 1] - table_offsets[j]);
    }
  const index_t k = static_cast<index_t>(source.size());
  for (index_t f = 0; f < n_features; ++f)
    if (!is_categorical[f]) source.push_back(f);
  const T nan = std::numeric_limits<T>::quiet_NaN();
  const int threads = fastml_region_threads(1.0 * n_rows * n_features, n_threads);
  int infinite = 0;
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1) \
    reduction(| : infinite)
  for (index_t i = 0; i < n_rows; ++i) {
    const T* row = X + i * n_features;
    T* encoded = out + i * n_features;
    for (index_t j = 0; j < k; ++j) {
      const T v = row[source[j]];
      infinite |= std::isinf(v);
      const index_t c = category_of(v, table_size[j]);
      // a table entry is a rank (exact in T: fewer than 2**20 categories) or NaN
      encoded[j] = c >= 0 ? static_cast<T>(tables[table_begin[j] + c]) : nan;
    }
    for (index_t j = k; j < n_features; ++j) encoded[j] = row[source[j]];
  }
  return !infinite;
}

template void integer_categories<float>(const float*, index_t, index_t, const std::int64_t*,
                                        index_t, index_t, std::uint8_t*, std::uint8_t*, int);
template void integer_categories<double>(const double*, index_t, index_t, const std::int64_t*,
                                         index_t, index_t, std::uint8_t*, std::uint8_t*, int);
template bool encode_categories<float>(const float*, index_t, index_t, const std::uint8_t*,
                                       const double*, const std::int64_t*, float*, int);
template bool encode_categories<double>(const double*, index_t, index_t, const std::uint8_t*,
                                        const double*, const std::int64_t*, double*, int);

}  // namespace fastml::boost
