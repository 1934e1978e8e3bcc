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
#include <limits>
#include <vector>

#include "fastml/hierarchy.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {
namespace {

constexpr index_t kBlock = 64;  // points per block of distances held in registers / L1

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

// The points outside the tree, their best link to it so far and that link's tree end.
class Outside {
 public:
  template <class T>
  Outside(const Rows<T>& X, const double* core)
      : n_(X.n), d_(X.d), m_(X.n - 1), coord_(static_cast<std::size_t>(X.n * X.d)),
        point_(X.n), reach_(X.n, std::numeric_limits<double>::infinity()), source_(X.n, 1),
        core_(X.n, 0.0) {
    // row 0 starts the tree: the others are packed from position 0
    for (index_t p = 0; p < m_; ++p) {
      point_[p] = p + 1;
      if (core) core_[p] = core[p + 1];
      for (index_t k = 0; k < d_; ++k)
        coord_[k * n_ + p] = static_cast<double>(X.data[(p + 1) * d_ + k]);
    }
  }
  index_t size() const { return m_; }

  // Links the packed points [lo, hi) to tree node `node` (coordinates x, core distance
  // node_core) and returns the best of them. kMutual: by mutual reachability, else by distance.
  template <bool kMutual>
  Candidate link(index_t lo, index_t hi, index_t node, const double* x, double node_core,
                 double alpha, double limit) {
    Candidate best{limit, -1, -1};
    double sq[kBlock];
    for (index_t b0 = lo; b0 < hi; b0 += kBlock) {
      const index_t len = std::min(kBlock, hi - b0);
      for (index_t l = 0; l < len; ++l) sq[l] = 0.0;
      for (index_t k = 0; k < d_; ++k) {
        const double* c = &coord_[k * n_ + b0];
        const double xk = x[k];
        for (index_t l = 0; l < len; ++l) {
          const double t = xk - c[l];
          sq[l] += t * t;
        }
      }
      for (index_t l = 0; l < len; ++l) {
        const index_t p = b0 + l;
        double value = std::sqrt(sq[l]);
        if constexpr (kMutual) value = std::max(std::max(node_core, core_[p]), value / alpha);
        if (value < reach_[p]) {
          reach_[p] = value;
          source_[p] = node;
        }
        const Candidate here{reach_[p], p, point_[p]};
        if (reach_[p] < limit && here.beats(best)) best = here;
      }
    }
    return best;
  }
  index_t point(index_t pos) const { return point_[pos]; }
  index_t source(index_t pos) const { return source_[pos]; }

  // Takes the point at `pos` into the tree (the last packed point moves into its place).
  void remove(index_t pos) {
    const index_t last = --m_;
    point_[pos] = point_[last];
    reach_[pos] = reach_[last];
    source_[pos] = source_[last];
    core_[pos] = core_[last];
    for (index_t k = 0; k < d_; ++k) coord_[k * n_ + pos] = coord_[k * n_ + last];
  }

 private:
  index_t n_, d_, m_;
  std::vector<double> coord_;  // coord_[k * n + pos]: feature k of the point packed at pos
  std::vector<index_t> point_;
  std::vector<double> reach_;
  std::vector<index_t> source_;
  std::vector<double> core_;
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
  const int threads = fastml_region_threads(0.5 * n * n * (0.4 * d + 2.0), n_threads);
  std::vector<Candidate> best(threads);
  // One region for the whole tree: each step, every thread links its share of the outside
  // points, then one thread takes the best of the shares (in a fixed order) into the tree.
#pragma omp parallel num_threads(threads)
  {
    const int t = omp_get_thread_num();
    for (index_t step = 0; step < n - 1; ++step) {
      const index_t m = outside.size();
      const double node_core = kMutual ? core[node] : 0.0;
      best[t] = outside.link<kMutual>(m * t / threads, m * (t + 1) / threads, node, x.data(),
                                      node_core, alpha, limit);
#pragma omp barrier
#pragma omp single
      {
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
