// What the dense (kmeans.cpp) and the CSR (kmeans_sparse.cpp) k-means drivers share: the kernel
// table, the cost model that sizes their parallel loops, fixed ranges of points, the center update
// from merged sums (relocation of empty clusters included), the k-means++ sampling step and
// Elkan's center distances and bound shifts. Internal to csrc/cluster.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/kmeans.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::kmeans::detail {

inline const IsaChoice<KmeansTable>& selected() {
  static const IsaChoice<KmeansTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T> const Kernels<T>& kernels() { return kernels_for<T>(selected().table); }

// Rough one-thread nanoseconds of the loops' units of work, from which each loop takes its thread
// count (fastml_region_threads): a small problem runs on the calling thread rather than wake the
// pool for microseconds of work. Measured with the AVX-512 kernels on a Zen 4 core: a point x
// feature x center of k-means++ (500k x 16 float32, k = 64: 0.06-0.09 ns) and of Lloyd's
// assignment (0.023 ns); a point x feature of the packing and of the scalar loops (sums,
// distances to the own center); a point x center of Elkan's bound checks.
template <class T> constexpr double kSeedNs = sizeof(T) == 4 ? 0.06 : 0.12;
constexpr double kStreamByteNs = 0.05;  // a byte read from memory (about 20 GB/s)
template <class T> constexpr double kAssignNs = sizeof(T) == 4 ? 0.025 : 0.05;
constexpr double kPointFeatureNs = 0.5;
constexpr double kBoundNs = 1.0;

inline int threads_for(double work_ns, int n_threads) {
  return fastml_region_threads(work_ns, n_threads);
}

// A fixed division of [0, n) into ranges; partial results are kept per range and merged in range
// order. The number of ranges depends on the problem only, never on the thread count.
struct Ranges {
  index_t n, size, count;
  Ranges(index_t n_, index_t size_) : n(n_), size(size_), count((n_ + size_ - 1) / size_) {}
  index_t begin(index_t r) const { return r * size; }
  index_t end(index_t r) const { return std::min(n, (r + 1) * size); }
};

// Sums and weights (merged: k x d sums, then k weights, in float64) to centers: relocation of
// empty clusters, means, shifts. The data enter through two callables:
//   own_distances(double* dist): dist[i] = squared distance of point i to its center (n values);
//   move_point(p, double* from, double* to): from -= w_p x_p and to = w_p x_p (`to` holds zeros:
//   the sums of an empty cluster).
// An empty cluster (zero weight) takes the point farthest from its center (farthest first, lower
// index on ties), which leaves its old cluster; labels are not changed.
template <class T, class OwnDistances, class MovePoint>
void finish_centers(index_t n, const T* w, index_t d, const T* centers, index_t k,
                    const label_t* labels, std::vector<double>& merged, T* centers_new,
                    double* center_shift, OwnDistances&& own_distances, MovePoint&& move_point) {
  double* sums = merged.data();
  double* weights = sums + k * d;
  std::vector<index_t> empty;
  for (index_t j = 0; j < k; ++j)
    if (weights[j] == 0.0) empty.push_back(j);
  if (!empty.empty()) {
    std::vector<double> dist(static_cast<std::size_t>(n));
    own_distances(dist.data());
    // With more clusters than distinct points every distance can be 0: nothing to relocate.
    if (*std::max_element(dist.begin(), dist.end()) > 0.0) {
      const index_t n_far = std::min<index_t>(static_cast<index_t>(empty.size()), n);
      std::vector<index_t> far(static_cast<std::size_t>(n));
      std::iota(far.begin(), far.end(), index_t(0));
      std::partial_sort(far.begin(), far.begin() + n_far, far.end(), [&](index_t a, index_t b) {
        return dist[a] > dist[b] || (dist[a] == dist[b] && a < b);
      });
      for (index_t e = 0; e < n_far; ++e) {
        const index_t p = far[e], to = empty[e], from = labels[p];
        move_point(p, sums + from * d, sums + to * d);
        weights[to] = w[p];
        weights[from] -= w[p];
      }
    }
  }
  // A cluster still without weight is placed on the heaviest cluster's center (the first of
  // equals), as scikit-learn does, rather than at the origin.
  const index_t heaviest = std::max_element(weights, weights + k) - weights;
  for (index_t j = 0; j < k; ++j) {
    const index_t from = weights[j] > 0.0 ? j : heaviest;
    double shift = 0.0;
    for (index_t f = 0; f < d; ++f) {
      const T c = static_cast<T>(sums[from * d + f] / weights[from]);
      const double diff = static_cast<double>(c) - static_cast<double>(centers[j * d + f]);
      shift += diff * diff;
      centers_new[j * d + f] = c;
    }
    center_shift[j] = std::sqrt(shift);
  }
}

// The running sum of w * D over points [begin, end) (starting from `before`) first reaching v;
// if rounding leaves it short, the last point with positive weight, as scikit-learn's clip does.
template <class T>
index_t sample_in_block(const T* w, const T* D, index_t begin, index_t end, double before,
                        double v) {
  double running = before;
  index_t last_positive = end - 1;
  for (index_t i = begin; i < end; ++i) {
    const double mass = static_cast<double>(w[i] * D[i]);
    if (mass > 0.0) last_positive = i;
    running += mass;
    if (running >= v) return i;
  }
  return last_positive;
}

// half[i * k + j] = |c_i - c_j| / 2; next[j] = the smallest half[i * k + j] over i != j.
template <class T>
void center_half_distances(const T* centers, index_t k, index_t d, std::vector<T>& half,
                           std::vector<T>& next) {
  half.assign(static_cast<std::size_t>(k * k), T(0));
  next.assign(static_cast<std::size_t>(k), std::numeric_limits<T>::infinity());
  for (index_t i = 0; i < k; ++i)
    for (index_t j = 0; j < i; ++j) {
      double s = 0.0;
      for (index_t f = 0; f < d; ++f) {
        const double diff = static_cast<double>(centers[i * d + f]) - centers[j * d + f];
        s += diff * diff;
      }
      half[i * k + j] = half[j * k + i] = static_cast<T>(std::sqrt(s) / 2);
    }
  for (index_t j = 0; j < k; ++j)
    for (index_t i = 0; i < k; ++i)
      if (i != j) next[j] = std::min(next[j], half[i * k + j]);
}

// Elkan's bounds follow the centers: the own center moved at most its shift away, the others too.
template <class T>
void shift_bounds(index_t n, index_t k, const label_t* labels, const double* center_shift,
                  T* upper, T* lower, int n_threads) {
  const int threads = threads_for(static_cast<double>(n) * k * kBoundNs / 2, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    upper[i] += static_cast<T>(center_shift[labels[i]]);
    for (index_t j = 0; j < k; ++j) {
      const T lb = lower[i * k + j] - static_cast<T>(center_shift[j]);
      lower[i * k + j] = lb > T(0) ? lb : T(0);
    }
  }
}

}  // namespace fastml::kmeans::detail
