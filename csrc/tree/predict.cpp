// Prediction over packed trees (see Forest in fastml/cart.hpp): rows walk the trees block by
// block, several rows at a time per thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>

#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {
namespace {

// Calls visit(i, leaf) for every row i in [start, stop) with the leaf (its index among the
// tree's leaves) it reaches in tree t. One row's walk is a chain of dependent loads, so
// kLanes rows walk at once and the core overlaps their chains; a lane whose row reaches its
// leaf takes the next row at once (lanes moving in lockstep would all wait for the deepest
// row). 10 lanes measured fastest here (8: 4% slower, 16: 12%).
template <bool kAnyMissing, class T, class Visit>
void walk_rows(const Forest<T>& f, index_t t, const T* X, index_t n_features, index_t start,
               index_t stop, Visit&& visit) {
  const std::int32_t root = f.roots[t];
  if (root < 0) {  // a single leaf
    for (index_t i = start; i < stop; ++i) visit(i, ~root);
    return;
  }
  constexpr int kLanes = 10;
  const WalkSplit<T>* splits = f.splits + f.split_offsets[t];
  const std::uint8_t* missing_left = f.missing_left + f.split_offsets[t];
  const std::int64_t* surrogate_offsets =
      f.surrogate_offsets ? f.surrogate_offsets + f.split_offsets[t] : nullptr;
  index_t row[kLanes];
  const T* x[kLanes];  // the lane's row of X
  std::int32_t node[kLanes];
  // a row missing the split's feature: its first surrogate it is present on, else the side
  const auto missing_goes_left = [&](std::int32_t at, const T* xr) -> int {
    if (surrogate_offsets) {
      for (std::int64_t k = surrogate_offsets[at]; k < surrogate_offsets[at + 1]; ++k) {
        const WalkSurrogate<T>& s = f.surrogates[k];
        const T v = xr[s.feature];
        if (!std::isnan(v)) return (v <= s.threshold) != (s.reversed != 0);
      }
    }
    return missing_left[at];
  };
  const auto step = [&](std::int32_t at, const T* xr) {
    const WalkSplit<T>& s = splits[at];
    const T v = xr[s.feature];
    // which way a row goes is a coin toss the branch predictor loses: it indexes the child
    const int go_left = kAnyMissing && std::isnan(v) ? missing_goes_left(at, xr) : v <= s.threshold;
    return s.child[go_left];
  };
  int active = 0;
  index_t next = start;
  for (; active < kLanes && next < stop; ++active, ++next) {
    row[active] = next;
    x[active] = X + next * n_features;
    node[active] = root;
  }
  if (active == kLanes) {
    // every lane busy while rows remain: a fixed, unrolled round the compiler keeps in registers
    while (next < stop) {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) {
        const std::int32_t child = step(node[k], x[k]);
        if (child >= 0) {
          node[k] = child;
          continue;
        }
        visit(row[k], ~child);
        if (next < stop) {
          row[k] = next;
          x[k] = X + next++ * n_features;
          node[k] = root;
        } else {
          node[k] = -1;  // idle
        }
      }
    }
    active = 0;
    for (int k = 0; k < kLanes; ++k)
      if (node[k] >= 0) {
        row[active] = row[k];
        x[active] = x[k];
        node[active++] = node[k];
      }
  }
  while (active > 0) {
    for (int k = 0; k < active;) {
      const std::int32_t child = step(node[k], x[k]);
      if (child >= 0) {
        node[k++] = child;
        continue;
      }
      visit(row[k], ~child);
      --active;  // no rows left: the last lane takes this one's place
      row[k] = row[active];
      x[k] = x[active];
      node[k] = node[active];
    }
  }
}

// Calls visit(t, start, stop, leaves) for every tree t and block of rows [start, stop) with
// the leaves they reach. Each thread takes a block of rows and walks it through the trees one
// after the other. A tree's deep splits are read by few rows,
// so large blocks read each tree from memory fewer times: one block per thread measured 2.5x
// faster than blocks of 4096 rows on a 100-tree forest. Rows meet the trees in order, so sums
// over trees do not depend on the thread count.
constexpr index_t kWalkBlock = 1 << 16;

template <class T, class Visit>
void walk_blocks(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                 int n_threads, Visit&& visit) {
  if (n_rows == 0) return;
  n_threads = std::max(n_threads, 1);
  const index_t block = std::min<index_t>(kWalkBlock, (n_rows + n_threads - 1) / n_threads);
  const int threads = static_cast<int>(std::min<index_t>(n_threads, (n_rows + block - 1) / block));
  // Each thread's leaves of a block, allocated before the threads start: an allocation failing
  // inside an OpenMP region would end the process instead of raising MemoryError.
  const std::unique_ptr<std::int32_t[]> leaves_all(new std::int32_t[threads * block]);
#pragma omp parallel num_threads(threads)
  {
    std::int32_t* leaves = leaves_all.get() + omp_get_thread_num() * block;
#pragma omp for schedule(dynamic, 1)
    for (index_t start = 0; start < n_rows; start += block) {
      const index_t stop = std::min(start + block, n_rows);
      const T* x = X + start * n_features;
      const bool any_missing = std::any_of(x, x + (stop - start) * n_features,
                                           [](T v) { return std::isnan(v); });
      const auto record = [&](index_t i, std::int32_t leaf) { leaves[i - start] = leaf; };
      for (index_t t = 0; t < forest.n_trees; ++t) {
        // a block without NaN skips the test for it, an eighth of a step's instructions
        if (any_missing)
          walk_rows<true>(forest, t, X, n_features, start, stop, record);
        else
          walk_rows<false>(forest, t, X, n_features, start, stop, record);
        visit(t, start, stop, leaves);
      }
    }
  }
}

}  // namespace

template <class T>
void apply(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
           std::int64_t* leaves, int n_threads) {
  walk_blocks(forest, X, n_rows, n_features, n_threads,
              [&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
                const std::int32_t* node = forest.leaf_node + forest.leaf_offsets[t];
                for (index_t i = start; i < stop; ++i)
                  leaves[i * forest.n_trees + t] = node[leaf[i - start]];
              });
}

template <class T>
void predict_mean(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                  double* mean, int n_threads) {
  const index_t V = forest.n_values;
  std::fill(mean, mean + n_rows * V, 0.0);
  walk_blocks(forest, X, n_rows, n_features, n_threads,
              [&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
                const double* value = forest.value + forest.leaf_offsets[t] * V;
                for (index_t i = start; i < stop; ++i) {
                  const double* v = value + leaf[i - start] * V;
                  double* out = mean + i * V;
                  for (index_t c = 0; c < V; ++c) out[c] += v[c];
                }
              });
  const double n_trees = static_cast<double>(forest.n_trees);
  for (index_t i = 0; i < n_rows * V; ++i) mean[i] /= n_trees;
}

#define FASTML_PREDICT_INSTANTIATE(T)                                                           \
  template void apply<T>(const Forest<T>&, const T*, index_t, index_t, std::int64_t*, int);      \
  template void predict_mean<T>(const Forest<T>&, const T*, index_t, index_t, double*, int);

FASTML_PREDICT_INSTANTIATE(float)
FASTML_PREDICT_INSTANTIATE(double)

}  // namespace fastml::cart
