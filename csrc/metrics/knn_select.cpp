// Final step of the k-nearest-neighbour search: each query's k best candidates, sorted. It runs
// once per query on k-sized data, so it is compiled once (not per instruction set) and may use the
// standard library's algorithms.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "fastml/distances.hpp"

namespace fastml::distances {
namespace {

template <class T>
int select_row(index_t n_cand, const double* keys, const std::int64_t* idx, index_t k,
               T* out_keys, std::int64_t* out_idx) {
  std::vector<index_t> order(static_cast<std::size_t>(n_cand));
  std::iota(order.begin(), order.end(), index_t{0});
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](index_t a, index_t b) {
    return keys[a] < keys[b] || (keys[a] == keys[b] && idx[a] < idx[b]);
  });
  for (index_t m = 0; m < k; ++m) {
    if (idx[order[m]] == INT64_MAX) return -1;
    out_keys[m] = static_cast<T>(keys[order[m]]);
    out_idx[m] = idx[order[m]];
  }
  return 0;
}

// Runs inside OpenMP regions, where no exception may escape: allocation failure becomes -2.
template <class T>
int guarded_select_row(index_t n_cand, const double* keys, const std::int64_t* idx, index_t k,
                       T* out_keys, std::int64_t* out_idx) {
  try {
    return select_row(n_cand, keys, idx, k, out_keys, out_idx);
  } catch (...) {
    return -2;
  }
}

}  // namespace

int knn_select_row(index_t n_cand, const double* cand_keys, const std::int64_t* cand_idx,
                   index_t k, float* out_keys, std::int64_t* out_idx) {
  return guarded_select_row(n_cand, cand_keys, cand_idx, k, out_keys, out_idx);
}

int knn_select_row(index_t n_cand, const double* cand_keys, const std::int64_t* cand_idx,
                   index_t k, double* out_keys, std::int64_t* out_idx) {
  return guarded_select_row(n_cand, cand_keys, cand_idx, k, out_keys, out_idx);
}

}  // namespace fastml::distances
