// The nearest-neighbour chain (Murtagh; scipy's nn_chain) for ward, complete and average linkage,
// and scipy's labelling of its merges. The chain is written once over a linkage policy that
// measures a cluster against the live ones and merges two of them: ward keeps centroids and
// sizes (no distance matrix), complete and average keep a condensed matrix updated by
// Lance-Williams. Scans visit the live slots in ascending order and keep the first strict
// minimum, preferring the chain's previous element, as scipy does, so that equal distances are
// broken as scipy breaks them.
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <vector>

#include "fastml/hierarchy.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Live cluster slots in ascending order. Dead slots are skipped by the scans and dropped when
// they make up an eighth of the list (erasing each at once cost O(n) per merge).
class LiveSlots {
 public:
  explicit LiveSlots(index_t n) : slots_(n), size_(n, 1) { std::iota(slots_.begin(), slots_.end(), 0); }
  const std::vector<index_t>& slots() const { return slots_; }
  index_t size(index_t slot) const { return size_[slot]; }
  index_t first() const {
    for (index_t s : slots_)
      if (size_[s]) return s;
    return -1;
  }
  // Cluster a (dropped) and b (kept, now holding both).
  void merge(index_t a, index_t b) {
    size_[b] += size_[a];
    size_[a] = 0;
    if (++dead_ * 8 > static_cast<index_t>(slots_.size())) {
      slots_.erase(std::remove_if(slots_.begin(), slots_.end(),
                                  [this](index_t s) { return size_[s] == 0; }),
                   slots_.end());
      dead_ = 0;
    }
  }

 private:
  std::vector<index_t> slots_;
  std::vector<index_t> size_;
  index_t dead_ = 0;
};

// The closest live cluster to x, starting from (best, best_dist) and replacing it only by a
// strictly smaller distance found in ascending slot order. The live list is cut into blocks
// scanned in parallel whose winners are merged in block order, which keeps the serial answer.
template <class Policy>
void nearest(const Policy& p, const LiveSlots& live, index_t x, index_t& best, double& best_dist,
             int n_threads) {
  const auto& slots = live.slots();
  const index_t m = static_cast<index_t>(slots.size());
  const int threads = fastml_region_threads(static_cast<double>(m) * p.pair_cost_ns(), n_threads);
  auto scan = [&](index_t lo, index_t hi, index_t& b, double& bd) {
    for (index_t k = lo; k < hi; ++k) {
      const index_t i = slots[k];
      if (i == x || live.size(i) == 0) continue;
      const double d = p.distance(x, i);
      if (d < bd) {
        bd = d;
        b = i;
      }
    }
  };
  if (threads <= 1) {
    scan(0, m, best, best_dist);
    return;
  }
  std::vector<index_t> block_best(threads, -1);
  std::vector<double> block_dist(threads, kInf);
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    const index_t lo = m * t / threads, hi = m * (t + 1) / threads;
    scan(lo, hi, block_best[t], block_dist[t]);
  }
  for (int t = 0; t < threads; ++t)
    if (block_dist[t] < best_dist) {
      best_dist = block_dist[t];
      best = block_best[t];
    }
}

// The chain itself; records each merge of two reciprocal nearest neighbours (a < b) with the
// policy's output distance. Merged clusters live on in slot b.
template <class Policy>
void nn_chain(Policy& p, index_t n, Merge* merges, int n_threads) {
  LiveSlots live(n);
  std::vector<index_t> chain;
  chain.reserve(n);
  for (index_t k = 0; k < n - 1; ++k) {
    if (chain.empty()) chain.push_back(live.first());
    index_t x, y;
    double dist;
    for (;;) {
      x = chain.back();
      const index_t prev = chain.size() > 1 ? chain[chain.size() - 2] : -1;
      y = prev;
      dist = prev >= 0 ? p.distance(x, prev) : kInf;
      nearest(p, live, x, y, dist, n_threads);
      if (y == prev) break;
      chain.push_back(y);
    }
    chain.resize(chain.size() - 2);
    if (x > y) std::swap(x, y);
    merges[k] = Merge{x, y, p.output(dist)};
    const index_t nx = live.size(x), ny = live.size(y);
    live.merge(x, y);
    p.merge(x, y, nx, ny, dist, live);
  }
}

// ---- ward: centroids and sizes ------------------------------------------------------------

// Compares clusters by 2 |A| |B| / (|A| + |B|) ||mean(A) - mean(B)||^2, the square of scipy's
// ward distance (the square root is taken once, for the merge recorded).
class WardPolicy {
 public:
  template <class T>
  explicit WardPolicy(const Rows<T>& X) : d_(X.d), size_(X.n, 1.0),
      centroid_(static_cast<std::size_t>(X.n * X.d)) {
    for (index_t i = 0; i < X.n * X.d; ++i) centroid_[i] = static_cast<double>(X.data[i]);
  }
  double distance(index_t x, index_t i) const {
    const double* a = &centroid_[x * d_];
    const double* b = &centroid_[i * d_];
    // four running sums that the compiler keeps in one vector register
    double acc[4] = {0.0, 0.0, 0.0, 0.0};
    index_t k = 0;
    for (; k + 4 <= d_; k += 4)
      for (int l = 0; l < 4; ++l) {
        const double t = a[k + l] - b[k + l];
        acc[l] += t * t;
      }
    for (; k < d_; ++k) {
      const double t = a[k] - b[k];
      acc[0] += t * t;
    }
    const double sq = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    const double na = size_[x], nb = size_[i];
    return 2.0 * na * nb / (na + nb) * sq;
  }
  double output(double dist) const { return std::sqrt(dist); }
  double pair_cost_ns() const { return 0.3 * static_cast<double>(d_) + 2.0; }
  void merge(index_t x, index_t y, index_t nx, index_t ny, double, const LiveSlots&) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    double* a = &centroid_[x * d_];
    double* b = &centroid_[y * d_];
    for (index_t k = 0; k < d_; ++k) b[k] = (wx * a[k] + wy * b[k]) / (wx + wy);
    size_[y] = wx + wy;
  }

 private:
  index_t d_;
  std::vector<double> size_;
  std::vector<double> centroid_;
};

// ---- complete and average: a condensed matrix ---------------------------------------------

class CondensedPolicy {
 public:
  CondensedPolicy(double* D, index_t n, Linkage linkage) : D_(D), n_(n), linkage_(linkage) {}
  double& at(index_t i, index_t j) const {
    if (i > j) std::swap(i, j);
    return D_[n_ * i - i * (i + 1) / 2 + (j - i - 1)];
  }
  double distance(index_t x, index_t i) const { return at(x, i); }
  double output(double dist) const { return dist; }
  double pair_cost_ns() const { return 3.0; }
  // scipy's update formulas, to the operation, so that distances match it to the bit.
  void merge(index_t x, index_t y, index_t nx, index_t ny, double, const LiveSlots& live) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    for (index_t i : live.slots()) {
      if (live.size(i) == 0 || i == y) continue;
      const double dxi = at(i, x);
      double& dyi = at(i, y);
      dyi = linkage_ == Linkage::complete ? std::max(dxi, dyi) : (wx * dxi + wy * dyi) / (wx + wy);
    }
  }

 private:
  double* D_;
  index_t n_;
  Linkage linkage_;
};

// scipy's union-find for naming the clusters of sorted merges.
class MergeNames {
 public:
  explicit MergeNames(index_t n) : parent_(2 * n - 1), next_(n) {
    std::iota(parent_.begin(), parent_.end(), 0);
  }
  index_t find(index_t x) {
    index_t root = x;
    while (parent_[root] != root) root = parent_[root];
    while (parent_[x] != root) {
      const index_t up = parent_[x];
      parent_[x] = root;
      x = up;
    }
    return root;
  }
  void merge(index_t a, index_t b) { parent_[a] = parent_[b] = next_++; }

 private:
  std::vector<index_t> parent_;
  index_t next_;
};

}  // namespace

template <class T>
void ward_chain(const Rows<T>& X, Merge* merges, int n_threads) {
  WardPolicy p(X);
  nn_chain(p, X.n, merges, n_threads);
}

void condensed_chain(double* condensed, index_t n, Linkage linkage, Merge* merges) {
  CondensedPolicy p(condensed, n, linkage);
  nn_chain(p, n, merges, 1);
}

void label_merges(const Merge* merges, index_t n, std::int64_t* children, double* distances) {
  std::vector<index_t> order(n - 1);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [merges](index_t a, index_t b) {
    return merges[a].distance < merges[b].distance;
  });
  MergeNames names(n);
  for (index_t k = 0; k < n - 1; ++k) {
    const Merge& m = merges[order[k]];
    index_t a = names.find(m.a), b = names.find(m.b);
    if (a > b) std::swap(a, b);
    children[2 * k] = a;
    children[2 * k + 1] = b;
    distances[k] = m.distance;
    names.merge(a, b);
  }
}

template <class T>
void condensed_euclidean(const Rows<T>& X, double* condensed, int n_threads) {
  const index_t n = X.n, d = X.d;
  const int threads = fastml_region_threads(0.5 * n * n * (0.5 * d + 1.0), n_threads);
  // Row i holds n - 1 - i distances: small dynamic chunks even out the threads' shares.
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (index_t i = 0; i < n - 1; ++i) {
    const T* a = X.data + i * d;
    double* out = condensed + n * i - i * (i + 1) / 2 - i - 1;
    for (index_t j = i + 1; j < n; ++j) {
      const T* b = X.data + j * d;
      double s = 0.0;
      for (index_t k = 0; k < d; ++k) {
        const double t = static_cast<double>(a[k]) - static_cast<double>(b[k]);
        s += t * t;
      }
      out[j] = std::sqrt(s);
    }
  }
}

template void ward_chain<float>(const Rows<float>&, Merge*, int);
template void ward_chain<double>(const Rows<double>&, Merge*, int);
template void condensed_euclidean<float>(const Rows<float>&, double*, int);
template void condensed_euclidean<double>(const Rows<double>&, double*, int);

}  // namespace fastml::hierarchy
