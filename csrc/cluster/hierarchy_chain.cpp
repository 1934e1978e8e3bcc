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
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {

namespace {

const IsaChoice<HierarchyTable>& selected() {
  static const IsaChoice<HierarchyTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

}  // namespace

const HierarchyTable& kernels() { return selected().table; }
const char* simd_target() { return selected().name; }

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// Live cluster slots in ascending order. Dead slots are skipped by the scans and dropped when
// they make up an eighth of the list (erasing each at once cost O(n) per merge).
class LiveSlots {
 public:
  explicit LiveSlots(index_t n) : slots_(n), size_(n, 1) {
    std::iota(slots_.begin(), slots_.end(), 0);
  }
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

// The closest live cluster to x by scanning the live slots in ascending order from
// (prev, distance to prev) and taking only strictly smaller distances: scipy's scan. (One
// thread: a scan of the condensed matrix is a few microseconds per thousand clusters, far below
// what waking a second thread costs here; see fastml_region_threads.)
template <class Policy>
void scan_live(const Policy& p, const LiveSlots& live, index_t x, index_t prev, index_t& best,
               double& best_dist) {
  best = prev;
  best_dist = prev >= 0 ? p.distance(x, prev) : kInf;
  for (index_t i : live.slots()) {
    if (i == x || live.size(i) == 0) continue;
    const double d = p.distance(x, i);
    if (d < best_dist) {
      best_dist = d;
      best = i;
    }
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
      p.nearest(x, prev, live, y, dist, n_threads);
      if (y == prev) break;
      chain.push_back(y);
    }
    chain.resize(chain.size() - 2);
    if (x > y) std::swap(x, y);
    merges[k] = Merge{x, y, p.output(dist)};
    const index_t nx = live.size(x), ny = live.size(y);
    live.merge(x, y);
    p.merge(x, y, nx, ny, live);
  }
}

// ---- ward: centroids and sizes ------------------------------------------------------------

// Compares clusters by 2 |A| |B| / (|A| + |B|) ||mean(A) - mean(B)||^2, the square of scipy's
// ward distance (the square root is taken once, for the merge recorded). The live centroids are
// packed feature-major, so that a scan computes one cluster per SIMD lane; a merged-away
// cluster's place is taken by the last one. Packed order is not slot order: scipy's choice (the
// first strict minimum in slot order, the chain's previous element first) is made on
// (value, slot).
class WardPolicy {
 public:
  template <class T>
  explicit WardPolicy(const Rows<T>& X)
      : n_(X.n), d_(X.d), m_(X.n), coord_(static_cast<std::size_t>(X.n * X.d)), size_(X.n, 1.0),
        slot_(X.n), pos_(X.n), x_(X.d) {
    for (index_t i = 0; i < n_; ++i) {
      slot_[i] = pos_[i] = i;
      for (index_t k = 0; k < d_; ++k)
        coord_[k * n_ + i] = static_cast<double>(X.data[i * d_ + k]);
    }
  }
  double output(double dist) const { return std::sqrt(dist); }

  void nearest(index_t x, index_t prev, const LiveSlots&, index_t& best, double& best_dist,
               int n_threads) {
    const index_t px = pos_[x];
    for (index_t k = 0; k < d_; ++k) x_[k] = coord_[k * n_ + px];
    const double nx = size_[px];
    const int threads = fastml_region_threads(m_ * (0.3 * d_ + 2.0), n_threads);
    std::vector<Found> found(threads);
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t)
      found[t] = scan(m_ * t / threads, m_ * (t + 1) / threads, px, nx, prev);
    Found all = found[0];
    for (int t = 1; t < threads; ++t) all.absorb(found[t]);
    if (prev >= 0 && all.prev_value == all.value) {
      best = prev;
      best_dist = all.prev_value;
    } else {
      best = all.slot;
      best_dist = all.value;
    }
  }

  void merge(index_t x, index_t y, index_t nx, index_t ny, const LiveSlots&) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    const index_t px = pos_[x], py = pos_[y];
    for (index_t k = 0; k < d_; ++k) {
      double& c = coord_[k * n_ + py];
      c = (wx * coord_[k * n_ + px] + wy * c) / (wx + wy);
    }
    size_[py] = wx + wy;
    const index_t last = --m_;  // x leaves: the last packed cluster takes its place
    for (index_t k = 0; k < d_; ++k) coord_[k * n_ + px] = coord_[k * n_ + last];
    size_[px] = size_[last];
    slot_[px] = slot_[last];
    pos_[slot_[px]] = px;
  }

 private:
  struct Found {
    double value = kInf;
    index_t slot = -1;
    double prev_value = kInf;  // the chain's previous element, when in this share
    void take(double v, index_t s) {
      if (v < value || (v == value && s < slot)) {
        value = v;
        slot = s;
      }
    }
    void absorb(const Found& other) {
      if (other.slot >= 0) take(other.value, other.slot);
      if (other.prev_value < kInf) prev_value = other.prev_value;
    }
  };

  Found scan(index_t lo, index_t hi, index_t px, double nx, index_t prev) const {
    constexpr index_t kBlock = 256;
    double value[kBlock];
    Found f;
    const HierarchyTable& kern = kernels();
    for (index_t b0 = lo; b0 < hi; b0 += kBlock) {
      const index_t len = std::min(kBlock, hi - b0);
      kern.ward_values(&coord_[b0], n_, len, x_.data(), d_, &size_[b0], nx, value);
      for (index_t l = 0; l < len; ++l) {
        const index_t p = b0 + l;
        if (p == px || !(value[l] <= f.value)) continue;
        const index_t s = slot_[p];
        if (s == prev) f.prev_value = value[l];
        f.take(value[l], s);
      }
    }
    return f;
  }

  index_t n_, d_, m_;
  std::vector<double> coord_;  // coord_[k * n + pos]: feature k of the centroid packed at pos
  std::vector<double> size_;   // by packed position
  std::vector<index_t> slot_;  // slot of the cluster packed at pos
  std::vector<index_t> pos_;   // packed position of a live slot
  std::vector<double> x_;      // the centroid being scanned from
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
  void nearest(index_t x, index_t prev, const LiveSlots& live, index_t& best, double& best_dist,
               int) const {
    scan_live(*this, live, x, prev, best, best_dist);
  }
  // scipy's update formulas, to the operation, so that distances match it to the bit.
  void merge(index_t x, index_t y, index_t nx, index_t ny, const LiveSlots& live) {
    const double wx = static_cast<double>(nx), wy = static_cast<double>(ny);
    for (index_t i : live.slots()) {
      if (live.size(i) == 0 || i == y) continue;
      const double dxi = at(i, x);
      double& dyi = at(i, y);
      dyi = linkage_ == Linkage::complete ? std::max(dxi, dyi)
                                          : (wx * dxi + wy * dyi) / (wx + wy);
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
  // X feature-major, so that the distances of a row to the rows after it are computed one row
  // per SIMD lane; each lane sums over the features in order, as scipy's pdist: the same bits.
  std::vector<double> packed(static_cast<std::size_t>(n * d));
  for (index_t i = 0; i < n; ++i)
    for (index_t k = 0; k < d; ++k) packed[k * n + i] = static_cast<double>(X.data[i * d + k]);
  const HierarchyTable& kern = kernels();
  const int threads = fastml_region_threads(0.5 * n * n * (0.2 * d + 1.0), n_threads);
  std::vector<double> row(static_cast<std::size_t>(threads * d));  // each thread's row i
  // Row i holds n - 1 - i distances: small dynamic chunks even out the threads' shares.
#pragma omp parallel for schedule(dynamic, 16) num_threads(threads)
  for (index_t i = 0; i < n - 1; ++i) {
    double* out = condensed + n * i - i * (i + 1) / 2;  // the distances of i to i + 1, ...
    const index_t count = n - 1 - i;
    double* xi = &row[static_cast<std::size_t>(omp_get_thread_num() * d)];
    for (index_t k = 0; k < d; ++k) xi[k] = packed[k * n + i];
    kern.packed_sq_distances(&packed[i + 1], n, count, xi, d, out);
    for (index_t j = 0; j < count; ++j) out[j] = std::sqrt(out[j]);
  }
}

template void ward_chain<float>(const Rows<float>&, Merge*, int);
template void ward_chain<double>(const Rows<double>&, Merge*, int);
template void condensed_euclidean<float>(const Rows<float>&, double*, int);
template void condensed_euclidean<double>(const Rows<double>&, double*, int);

}  // namespace fastml::hierarchy
