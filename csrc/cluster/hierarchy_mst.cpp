// Prim's minimum spanning tree with distances computed on the fly, for single linkage
// (scikit-learn's mst_linkage_core) and HDBSCAN (its mst_from_data_matrix): the same edges in the
// same order, with O(n d) memory instead of a distance matrix.
//
// The points not yet in the tree are kept packed, feature-major, so that the distances from the
// newest tree node to all of them are computed with one point per SIMD lane, each summing its
// squared differences over the features in order as scikit-learn's EuclideanDistance does: the
// distances are scikit-learn's to the bit, hence so are the reachabilities and the choices.
// scikit-learn takes the first point with the smallest value in index order; the packed order
// changes as points leave, so the choice is made on (value, point index), which is the same.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "fastml/hierarchy.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {
namespace {

constexpr index_t kBlock = 256;  // points per block of distances, kept in L1

struct Candidate {
  double value;
  index_t pos;    // packed position, -1 when none
  index_t point;  // row of X
  // The better of two candidates: the smaller value, then the lower row of X.
  bool beats(const Candidate& other) const {
    return pos >= 0 && (other.pos < 0 || value < other.value ||
                        (value == other.value && point < other.point));
  }
};

// The points outside the tree, their best link to it so far and that link's tree end, packed
// in blocks of kBlock positions. Each block keeps its best point, recomputed only when one of
// its links changed or a point moved: after the first steps few blocks change per step, and the
// step's choice reads one candidate per block instead of every point.
class Outside {
 public:
  template <class T>
  Outside(const Rows<T>& X, const double* core)
      : n_(X.n), d_(X.d), m_(X.n - 1), coord_(static_cast<std::size_t>(X.n * X.d)),
        point_(X.n), reach_(X.n, std::numeric_limits<double>::infinity()), source_(X.n, 1),
        core_(core ? X.n : 0), block_best_((X.n + kBlock - 1) / kBlock),
        stale_((X.n + kBlock - 1) / kBlock, 1) {
    // row 0 starts the tree: the others are packed from position 0
    for (index_t p = 0; p < m_; ++p) {
      point_[p] = p + 1;
      if (core) core_[p] = core[p + 1];
      for (index_t k = 0; k < d_; ++k)
        coord_[k * n_ + p] = static_cast<double>(X.data[(p + 1) * d_ + k]);
    }
  }
  index_t size() const { return m_; }
  index_t blocks() const { return (m_ + kBlock - 1) / kBlock; }

  // Links the points of blocks [b_lo, b_hi) to tree node `node` (coordinates x, core distance
  // node_core): a link becomes the node's where it is shorter, by mutual reachability
  // max(node_core, core, distance / alpha) with core distances, else by distance.
  void link(index_t b_lo, index_t b_hi, index_t node, const double* x, double node_core,
            double alpha) {
    double sq[kBlock];
    std::int64_t maybe[kBlock];
    const HierarchyTable& kern = kernels();
    const double* core_all = core_.empty() ? nullptr : core_.data();
    for (index_t b = b_lo; b < b_hi; ++b) {
      const index_t b0 = b * kBlock, len = std::min(kBlock, m_ - b0);
      double* reach = &reach_[b0];
      const double* core = core_all ? core_all + b0 : nullptr;
      // Few points come closer at each step: the kernel flags those that may; only they pay
      // for the square root and the division, computed as scikit-learn computes them.
      if (!kern.flag_closer(&coord_[b0], n_, len, x, d_, reach, core, node_core, alpha, sq,
                            maybe))
        continue;
      for (index_t l = 0; l < len; ++l) {
        if (!maybe[l]) continue;
        double value = std::sqrt(sq[l]);
        if (core) value = std::max(std::max(node_core, core[l]), value / alpha);
        if (value < reach[l]) {
          reach[l] = value;
          source_[b0 + l] = node;
          stale_[b] = 1;
        }
      }
    }
  }

  // The best point of blocks [b_lo, b_hi) with a link below `limit`.
  Candidate best(index_t b_lo, index_t b_hi, double limit) {
    Candidate best{limit, -1, std::numeric_limits<index_t>::max()};
    for (index_t b = b_lo; b < b_hi; ++b) {
      if (stale_[b]) refresh(b, limit);
      if (block_best_[b].beats(best)) best = block_best_[b];
    }
    return best;
  }

  index_t source(index_t pos) const { return source_[pos]; }

  // Takes the point at `pos` into the tree (the last packed point moves into its place).
  void remove(index_t pos) {
    const index_t last = --m_;
    point_[pos] = point_[last];
    reach_[pos] = reach_[last];
    source_[pos] = source_[last];
    if (!core_.empty()) core_[pos] = core_[last];
    for (index_t k = 0; k < d_; ++k) coord_[k * n_ + pos] = coord_[k * n_ + last];
    stale_[pos / kBlock] = stale_[last / kBlock] = 1;
  }

 private:
  void refresh(index_t b, double limit) {
    const index_t b0 = b * kBlock, len = std::min(kBlock, m_ - b0);
    Candidate best{limit, -1, std::numeric_limits<index_t>::max()};
    for (index_t l = 0; l < len; ++l) {
      const double r = reach_[b0 + l];
      if (r < limit && (r < best.value || (r == best.value && point_[b0 + l] < best.point)))
        best = Candidate{r, b0 + l, point_[b0 + l]};
    }
    block_best_[b] = best;
    stale_[b] = 0;
  }

  index_t n_, d_, m_;
  std::vector<double> coord_;  // coord_[k * n + pos]: feature k of the point packed at pos
  std::vector<index_t> point_;
  std::vector<double> reach_;
  std::vector<index_t> source_;
  std::vector<double> core_;  // empty for single linkage
  std::vector<Candidate> block_best_;
  std::vector<char> stale_;
};

template <bool kMutual, class T>
void prim(const Rows<T>& X, const double* core, double alpha, std::int64_t* from,
          std::int64_t* to, double* weight, int n_threads) {
  const index_t n = X.n, d = X.d;
  Outside outside(X, core);
  // scikit-learn's starting bounds: a candidate must be below them to be taken
  const double limit = kMutual ? DBL_MAX : std::numeric_limits<double>::infinity();
  std::vector<double> x(d);
  index_t node = 0;
  auto load = [&](index_t row) {
    for (index_t k = 0; k < d; ++k) x[k] = static_cast<double>(X.data[row * d + k]);
  };
  load(0);
  std::vector<Candidate> best(std::max(n_threads, 1));
  for (index_t step = 0; step < n - 1; ++step) {
    const index_t m = outside.size(), n_blocks = outside.blocks();
    const double node_core = kMutual ? core[node] : 0.0;
    // A region per step, where the step is worth it (fastml_region_threads): the shares are
    // whole blocks, merged in a fixed order and on (value, row), so the tree does not depend on
    // the threads.
    const int threads = static_cast<int>(std::min<index_t>(
        fastml_region_threads(m * (0.2 * d + 1.0), n_threads), n_blocks));
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
      const index_t lo = n_blocks * t / threads, hi = n_blocks * (t + 1) / threads;
      outside.link(lo, hi, node, x.data(), node_core, alpha);
      best[t] = outside.best(lo, hi, limit);
    }
    Candidate win = best[0];
    for (int s = 1; s < threads; ++s)
      if (best[s].beats(win)) win = best[s];
    if (win.pos < 0) {  // nothing below the limit: scikit-learn records node 0
      from[step] = kMutual ? 0 : node;
      to[step] = 0;
      weight[step] = limit;
      node = 0;
    } else {
      from[step] = kMutual ? outside.source(win.pos) : node;
      to[step] = win.point;
      weight[step] = win.value;
      node = win.point;
      outside.remove(win.pos);
    }
    load(node);
  }
}

}  // namespace

template <class T>
void prim_mst(const Rows<T>& X, const double* core, double alpha, std::int64_t* from,
              std::int64_t* to, double* weight, int n_threads) {
  if (core)
    prim<true>(X, core, alpha, from, to, weight, n_threads);
  else
    prim<false>(X, core, alpha, from, to, weight, n_threads);
}

template void prim_mst<float>(const Rows<float>&, const double*, double, std::int64_t*,
                              std::int64_t*, double*, int);
template void prim_mst<double>(const Rows<double>&, const double*, double, std::int64_t*,
                               std::int64_t*, double*, int);

}  // namespace fastml::hierarchy
