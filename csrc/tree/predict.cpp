// Prediction over packed trees (see Forest in fastml/cart.hpp): rows walk the trees block by
// block, several rows at a time per thread.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <vector>

#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {
namespace {

// Calls visit(t, i, leaf) for every tree t in [first_tree, last_tree) and row i in
// [start, stop) (X's row start at x_start) with the leaf (its index among the tree's leaves) it
// reaches. One row's walk is a chain of dependent loads, so kLanes walks go at once and the
// core overlaps their chains; a lane whose row reaches its leaf takes the next walk at once
// (lanes moving in lockstep would all wait for the deepest row). The walks are taken tree by
// tree, a tree's rows one after the other, and a lane that finds a tree's rows all taken goes
// on with the next tree's: a block of few rows (sparse X's, densified a few rows at a time)
// kept all its lanes busy for one tree's first rows alone, and its last rows walked each alone.
// 10 lanes measured fastest here (8: 4% slower, 16: 12%).
template <bool kAnyMissing, class T, class Visit>
void walk_rows(const Forest<T>& f, index_t first_tree, index_t last_tree, const T* x_start,
               index_t n_features, index_t start, index_t stop, Visit&& visit) {
  constexpr int kLanes = 10;
  if (stop <= start) return;
  index_t tree = first_tree;  // the next walk's
  index_t next = start;
  const auto skip_leaf_trees = [&] {  // a single leaf's rows reach it with no walk
    while (tree < last_tree && f.roots[tree] < 0) {
      for (index_t i = start; i < stop; ++i) visit(tree, i, ~f.roots[tree]);
      ++tree;
    }
  };
  skip_leaf_trees();
  index_t lane_tree[kLanes], row[kLanes];
  const T* x[kLanes];                     // the lane's row of X
  const WalkSplit<T>* splits[kLanes];     // its tree's
  std::int32_t node[kLanes];
  // a row missing the split's feature: its first surrogate it is present on, else the side
  const auto missing_goes_left = [&](index_t t, std::int32_t at, const T* xr) -> int {
    const std::int64_t s_at = f.split_offsets[t] + at;
    if (f.surrogate_offsets) {
      for (std::int64_t k = f.surrogate_offsets[s_at]; k < f.surrogate_offsets[s_at + 1]; ++k) {
        const WalkSurrogate<T>& s = f.surrogates[k];
        const T v = xr[s.feature];
        if (!std::isnan(v)) return (v <= s.threshold) != (s.reversed != 0);
      }
    }
    return f.missing_left[s_at];
  };
  const auto step = [&](int k) {
    const WalkSplit<T>& s = splits[k][node[k]];
    const T v = x[k][s.feature];
    // which way a row goes is a coin toss the branch predictor loses: it indexes the child
    const int go_left = kAnyMissing && std::isnan(v) ? missing_goes_left(lane_tree[k], node[k], x[k])
                                                     : v <= s.threshold;
    return s.child[go_left];
  };
  // lane k takes the next walk; false where none is left
  const auto take = [&](int k) {
    if (tree >= last_tree) return false;
    lane_tree[k] = tree;
    row[k] = next;
    x[k] = x_start + (next - start) * n_features;
    splits[k] = f.splits + f.split_offsets[tree];
    node[k] = f.roots[tree];
    if (++next == stop) {
      next = start;
      ++tree;
      skip_leaf_trees();
    }
    return true;
  };
  int active = 0;
  while (active < kLanes && take(active)) ++active;
  if (active == kLanes) {
    // every lane busy while walks remain: a fixed, unrolled round the compiler keeps in registers
    while (tree < last_tree) {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) {
        const std::int32_t child = step(k);
        if (child >= 0) {
          node[k] = child;
          continue;
        }
        visit(lane_tree[k], row[k], ~child);
        if (!take(k)) node[k] = -1;  // idle
      }
    }
    active = 0;
    for (int k = 0; k < kLanes; ++k)
      if (node[k] >= 0) {
        lane_tree[active] = lane_tree[k];
        row[active] = row[k];
        x[active] = x[k];
        splits[active] = splits[k];
        node[active++] = node[k];
      }
  }
  while (active > 0) {
    for (int k = 0; k < active;) {
      const std::int32_t child = step(k);
      if (child >= 0) {
        node[k++] = child;
        continue;
      }
      visit(lane_tree[k], row[k], ~child);
      --active;  // no walks left: the last lane takes this one's place
      lane_tree[k] = lane_tree[active];
      row[k] = row[active];
      x[k] = x[active];
      splits[k] = splits[active];
      node[k] = node[active];
    }
  }
}

// The trees walked together by a block of `rows` rows (see walk_rows): as many as hold
// kGroupWalks walks, so that a large block still walks one tree at a time (each tree read from
// memory once per block) and a small one keeps its lanes busy over many trees.
constexpr index_t kGroupWalks = 4096;
index_t trees_per_group(index_t rows, index_t n_trees) {
  return std::max<index_t>(1, std::min<index_t>(n_trees, kGroupWalks / std::max<index_t>(rows, 1)));
}

// Walks the block of rows [start, stop) (X's row start at x_start) through every tree, and
// calls visit(t, start, stop, leaves) for the trees in order, leaves (group x block, see
// trees_per_group) a thread's own buffer.
template <class T, class Visit>
void walk_block(const Forest<T>& forest, const T* x_start, index_t n_features, index_t start,
                index_t stop, bool any_missing, index_t group, std::int32_t* leaves,
                Visit&& visit) {
  const index_t rows = stop - start;
  for (index_t t0 = 0; t0 < forest.n_trees; t0 += group) {
    const index_t t1 = std::min(t0 + group, forest.n_trees);
    const auto record = [&](index_t t, index_t i, std::int32_t leaf) {
      leaves[(t - t0) * rows + (i - start)] = leaf;
    };
    // a block without NaN skips the test for it, an eighth of a step's instructions
    if (any_missing)
      walk_rows<true>(forest, t0, t1, x_start, n_features, start, stop, record);
    else
      walk_rows<false>(forest, t0, t1, x_start, n_features, start, stop, record);
    for (index_t t = t0; t < t1; ++t) visit(t, start, stop, leaves + (t - t0) * rows);
  }
}

// Calls visit(t, start, stop, leaves) for every tree t and block of rows [start, stop) with
// the leaves they reach. Each thread takes a block of rows and walks it through the trees a
// group at a time (walk_block, trees_per_group). A tree's deep splits are read by few rows,
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
  const index_t group = trees_per_group(block, forest.n_trees);
  // Each thread's leaves of a block, allocated before the threads start: an allocation failing
  // inside an OpenMP region would end the process instead of raising MemoryError.
  const std::unique_ptr<std::int32_t[]> leaves_all(new std::int32_t[threads * group * block]);
#pragma omp parallel num_threads(threads)
  {
    std::int32_t* leaves = leaves_all.get() + omp_get_thread_num() * group * block;
#pragma omp for schedule(dynamic, 1)
    for (index_t start = 0; start < n_rows; start += block) {
      const index_t stop = std::min(start + block, n_rows);
      const T* x = X + start * n_features;
      const bool any_missing = std::any_of(x, x + (stop - start) * n_features,
                                           [](T v) { return std::isnan(v); });
      walk_block(forest, x, n_features, start, stop, any_missing, group, leaves, visit);
    }
  }
}

// walk_blocks for CSR X (a row's later duplicate wins, as in scikit-learn's sparse walk): each
// thread scatters a block of rows into its own dense block of about kCsrBlockBytes, walks it
// through every tree, and zeroes its stored entries again, so memory stays O(nnz + threads x
// block). The block fits in L2: a wide sparse row is read at a few scattered features per
// split, and trees grown on sparse X are deep (the bench's TF-IDF forest: 210 splits per row
// and tree), so blocks of 16 MB made nearly every step a cache miss (4k rows x 5000, 30 trees:
// 0.23-0.29 s one-thread CPU, 0.06-0.07 s in blocks of 512 kB; 128 kB, 3 rows: 0.16 s; 1 MB:
// 0.08 s). Since lanes go on to the next trees (walk_rows), fewer rows a block lose no lanes:
// 256 kB (6 rows) measured 52-54 ms against 512 kB's 56-64 (predict_proba of that forest, one
// thread, medians of 9; 128 kB: 52 ms). A block has a NaN where a stored entry of its rows is
// one: its dense values are not scanned for them (a step's work per value).
constexpr index_t kCsrBlockBytes = index_t{1} << 18;

template <class T, class Visit>
void walk_csr_blocks(const Forest<T>& forest, const CsrRows<T>& X, int n_threads,
                     Visit&& visit) {
  const index_t n = X.n_rows, d = X.n_features;
  if (n == 0) return;
  const index_t block = std::max<index_t>(
      1, std::min<index_t>(n, kCsrBlockBytes / (std::max<index_t>(d, 1) * index_t{sizeof(T)})));
  const index_t n_blocks = (n + block - 1) / block;
  const int threads =
      static_cast<int>(std::max<index_t>(1, std::min<index_t>(std::max(n_threads, 1), n_blocks)));
  const index_t group = trees_per_group(block, forest.n_trees);
  // allocated before the region: an allocation failing inside it would end the process
  std::vector<T> dense(static_cast<std::size_t>(threads * block * d), T(0));
  std::vector<std::int32_t> leaves_all(static_cast<std::size_t>(threads * group * block));
  const std::int64_t* p = X.indptr;
#pragma omp parallel num_threads(threads)
  {
    T* mine = dense.data() + static_cast<std::size_t>(omp_get_thread_num()) * block * d;
    std::int32_t* leaves = leaves_all.data() + omp_get_thread_num() * group * block;
#pragma omp for schedule(dynamic, 1)
    for (index_t b = 0; b < n_blocks; ++b) {
      const index_t start = b * block, stop = std::min(start + block, n);
      bool any_missing = false;
      for (index_t i = start; i < stop; ++i)
        for (std::int64_t k = p[i]; k < p[i + 1]; ++k) {
          mine[(i - start) * d + X.indices[k]] = X.data[k];
          any_missing = any_missing || std::isnan(X.data[k]);
        }
      walk_block(forest, mine, d, start, stop, any_missing, group, leaves, visit);
      for (index_t i = start; i < stop; ++i)
        for (std::int64_t k = p[i]; k < p[i + 1]; ++k) mine[(i - start) * d + X.indices[k]] = T(0);
    }
  }
}

// apply and predict_mean over the rows a walk reads: walk(visit) runs walk_blocks or
// walk_csr_blocks with the visit.
template <class T, class Walk>
void apply_with(const Forest<T>& forest, std::int64_t* leaves, Walk&& walk) {
  walk([&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
    const std::int32_t* node = forest.leaf_node + forest.leaf_offsets[t];
    for (index_t i = start; i < stop; ++i) leaves[i * forest.n_trees + t] = node[leaf[i - start]];
  });
}

template <class T, class Walk>
void predict_mean_with(const Forest<T>& forest, index_t n_rows, double* mean, Walk&& walk) {
  const index_t V = forest.n_values;
  std::fill(mean, mean + n_rows * V, 0.0);
  walk([&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
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

}  // namespace

template <class T>
void apply(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
           std::int64_t* leaves, int n_threads) {
  apply_with(forest, leaves, [&](auto&& visit) {
    walk_blocks(forest, X, n_rows, n_features, n_threads, visit);
  });
}

template <class T>
void predict_mean(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                  double* mean, int n_threads) {
  predict_mean_with(forest, n_rows, mean, [&](auto&& visit) {
    walk_blocks(forest, X, n_rows, n_features, n_threads, visit);
  });
}

template <class T>
void apply_csr(const Forest<T>& forest, const CsrRows<T>& X, std::int64_t* leaves,
               int n_threads) {
  apply_with(forest, leaves,
             [&](auto&& visit) { walk_csr_blocks(forest, X, n_threads, visit); });
}

template <class T>
void predict_mean_csr(const Forest<T>& forest, const CsrRows<T>& X, double* mean,
                      int n_threads) {
  predict_mean_with(forest, X.n_rows, mean,
                    [&](auto&& visit) { walk_csr_blocks(forest, X, n_threads, visit); });
}

#define FASTML_PREDICT_INSTANTIATE(T)                                                           \
  template void apply<T>(const Forest<T>&, const T*, index_t, index_t, std::int64_t*, int);      \
  template void predict_mean<T>(const Forest<T>&, const T*, index_t, index_t, double*, int);     \
  template void apply_csr<T>(const Forest<T>&, const CsrRows<T>&, std::int64_t*, int);           \
  template void predict_mean_csr<T>(const Forest<T>&, const CsrRows<T>&, double*, int);

FASTML_PREDICT_INSTANTIATE(float)
FASTML_PREDICT_INSTANTIATE(double)

}  // namespace fastml::cart
