// Small kernels shared by the coordinate-descent solvers of csrc/linear (cd.cpp, cd_multitask.cpp).
#pragma once
#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>
#include <vector>

#include "cd.hpp"

namespace fastml::linear::kernels {

// The eight lanes of a sum and its tail, added in one fixed order.
inline double lanes_sum(const double (&a)[8], double tail) {
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;
}

// x'y accumulated in double over eight lanes, summed in a fixed order: the lanes let the loop
// vectorise (a single running sum cannot be reordered without -ffast-math) and keep float32
// inputs from losing digits over 50k rows.
template <class T>
double dot(const T* x, const T* y, index_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k)
      acc[k] += static_cast<double>(x[i + k]) * static_cast<double>(y[i + k]);
  double tail = 0.0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  return lanes_sum(acc, tail);
}

// y += a x
template <class T>
void axpy(T a, const T* x, T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// scikit-learn's our_rand_r (xorshift32 reduced to [0, 2^31)) and rand_int, so that random
// selection visits the features in scikit-learn's order.
inline std::uint32_t rand_int(std::uint32_t end, std::uint32_t& state) {
  if (state == 0) state = 1;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return (state % (static_cast<std::uint32_t>(2147483647) + 1u)) % end;
}

// The smallest working set. Each new set costs a pass over X for the full gap (and, in C order, one
// to gather its columns), while a sweep over the set reads only its columns: on 50k x 1000 with
// 50 (Lasso) and 150 (ElasticNet) nonzeros, 64 instead of 16 saved one or two sets, Lasso 1.76 s
// -> 0.94 s and ElasticNet 2.97 s -> 1.76 s (medians of three alternated fits, load 9); 128 was
// no better, and paths, LassoCV and a 500 x 5000 problem did not move beyond the noise.
constexpr index_t kFirstSize = 64;

// The next working set (Massias et al. 2018, celer; Bertrand et al. 2022, skglm) among the
// unscreened features `active`: the nonzero ones and the closest others to the dual constraint
// (score(j): its distance, -inf for a nonzero feature), twice the support, four times when the
// last set filled up (every feature in it nonzero: the support is likely larger still), at least
// kFirstSize. ws gets the set, sorted (the sweeps stream X forwards), then `prefetch` next-ranked
// features whose columns are worth gathering along; returns the set's size.
template <class Score>
index_t pick_working_set(const std::vector<index_t>& active, index_t nnz, index_t& last_size,
                         index_t prefetch, Score score, std::vector<index_t>& ws) {
  const index_t n_active = static_cast<index_t>(active.size());
  const index_t grow = nnz >= last_size ? 4 : 2;
  const index_t size = std::min(n_active, std::max<index_t>(kFirstSize, grow * nnz));
  last_size = size;
  std::vector<std::pair<double, index_t>> ranked;
  ranked.reserve(active.size());
  for (index_t j : active) ranked.emplace_back(score(j), j);
  const index_t reach = std::min(n_active, size + prefetch);
  if (reach < n_active) std::nth_element(ranked.begin(), ranked.begin() + reach, ranked.end());
  if (size < reach)
    std::nth_element(ranked.begin(), ranked.begin() + size, ranked.begin() + reach);
  ws.clear();
  for (index_t k = 0; k < reach; ++k) ws.push_back(ranked[k].second);
  std::sort(ws.begin(), ws.begin() + size);
  return size;
}

// Roughly one streamed element per 0.25 ns: what a column dot product costs from memory.
constexpr double kStreamNs = 0.25;

}  // namespace fastml::linear::kernels
