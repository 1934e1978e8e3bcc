// Prim's minimum spanning tree with distances computed on the fly, for single linkage
// (scikit-learn's mst_linkage_core) and HDBSCAN (its mst_from_data_matrix): the same edges in the
// same order, with O(n d) memory instead of a distance matrix.
//
// The points are packed feature-major, so that the distances from the newest tree node to them
// are computed with one point per SIMD lane, each summing its squared differences over the
// features in order as scikit-learn's EuclideanDistance does: the distances are scikit-learn's to
// the bit, hence so are the reachabilities and the choices. The packing is spatial (blocks of
// nearby points, from recursive median splits), and a block is skipped when its bounding box is
// too far from the node for any of its links to shorten: after the first steps most are.
// scikit-learn takes the first point with the smallest value in row order; here the choice is
// made on (value, row), which is the same whatever the packing.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <limits>
#include <utility>
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

// (1 + 1e-12): a squared distance above (link * alpha)^2 by this factor gives a distance above
// the link whatever the rounding of the products (each off by a few 1e-16).
constexpr double kSlack = 1.0 + 1e-12;

// Rows of X in an order where consecutive blocks of kBlock rows are spatially compact: the
// range is split at a block boundary near its middle, on its widest feature, recursively.
template <class T>
std::vector<index_t> spatial_order(const Rows<T>& X) {
  std::vector<index_t> order(X.n);
  for (index_t i = 0; i < X.n; ++i) order[i] = i;
  std::vector<std::pair<index_t, index_t>> todo{{0, X.n}};
  while (!todo.empty()) {
    const auto [lo, hi] = todo.back();
    todo.pop_back();
    if (hi - lo <= kBlock) continue;
    index_t widest = 0;
    double widest_spread = -1.0;
    for (index_t k = 0; k < X.d; ++k) {
      double a = std::numeric_limits<double>::infinity(), b = -a;
      for (index_t i = lo; i < hi; ++i) {
        const double v = static_cast<double>(X.data[order[i] * X.d + k]);
        a = std::min(a, v);
        b = std::max(b, v);
      }
      if (b - a > widest_spread) {
        widest_spread = b - a;
        widest = k;
      }
    }
    const index_t mid = lo + std::max<index_t>(1, (hi - lo) / 2 / kBlock) * kBlock;
    std::nth_element(order.begin() + lo, order.begin() + mid, order.begin() + hi,
                     [&](index_t u, index_t v) {
                       return X.data[u * X.d + widest] < X.data[v * X.d + widest];
                     });
    todo.push_back({lo, mid});
    todo.push_back({mid, hi});
  }
  return order;
}

// Every point, its best link to the tree so far (NaN once in the tree: no comparison with it
// holds, so it is never linked nor chosen) and that link's tree end, packed in blocks of kBlock
// positions. Each block keeps its bounding box, its best point and its longest link, the last
// two recomputed only when one of its links changed.
class Points {
 public:
  template <class T>
  Points(const Rows<T>& X, const double* core)
      : n_(X.n), d_(X.d), n_blocks_((X.n + kBlock - 1) / kBlock), coord_(X.n * X.d),
        point_(spatial_order(X)), pos_(X.n), reach_(X.n, std::numeric_limits<double>::infinity()),
        source_(X.n, 1), core_(core ? X.n : 0), box_(2 * n_blocks_ * X.d),
        block_best_(n_blocks_), longest_(n_blocks_), left_(n_blocks_), stale_(n_blocks_, 1) {
    for (index_t p = 0; p < n_; ++p) {
      const index_t row = point_[p];
      pos_[row] = p;
      if (core) core_[p] = core[row];
      for (index_t k = 0; k < d_; ++k)
        coord_[k * n_ + p] = static_cast<double>(X.data[row * d_ + k]);
    }
    for (index_t b = 0; b < n_blocks_; ++b) {
      const index_t b0 = b * kBlock, len = std::min(kBlock, n_ - b0);
      left_[b] = len;
      for (index_t k = 0; k < d_; ++k) {
        const double* c = &coord_[k * n_ + b0];
        box_[(2 * b) * d_ + k] = *std::min_element(c, c + len);
        box_[(2 * b + 1) * d_ + k] = *std::max_element(c, c + len);
      }
    }
  }
  index_t blocks() const { return n_blocks_; }

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
      if (left_[b] == 0) continue;
      if (stale_[b]) refresh(b);
      // the squared distance from x to the block's box bounds every point's from below
      const double* lo = &box_[(2 * b) * d_];
      const double* hi = &box_[(2 * b + 1) * d_];
      double gap = 0.0;
      for (index_t k = 0; k < d_; ++k) {
        const double below = lo[k] - x[k], above = x[k] - hi[k];
        const double g = below > 0.0 ? below : (above > 0.0 ? above : 0.0);
        gap += g * g;
      }
      const double longest = longest_[b] * alpha;
      if (gap > longest * longest * kSlack) continue;
      const index_t b0 = b * kBlock, len = std::min(kBlock, n_ - b0);
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
      if (left_[b] == 0) continue;
      if (stale_[b]) refresh(b);
      const Candidate& c = block_best_[b];
      if (c.value < limit && c.beats(best)) best = c;
    }
    return best;
  }

  index_t source(index_t pos) const { return source_[pos]; }

  // Takes the point of row `row` into the tree.
  void take(index_t row) {
    const index_t p = pos_[row];
    if (std::isnan(reach_[p])) return;
    reach_[p] = std::numeric_limits<double>::quiet_NaN();
    --left_[p / kBlock];
    stale_[p / kBlock] = 1;
  }

 private:
  void refresh(index_t b) {
    const index_t b0 = b * kBlock, len = std::min(kBlock, n_ - b0);
    Candidate best{std::numeric_limits<double>::infinity(), -1,
                   std::numeric_limits<index_t>::max()};
    double longest = -std::numeric_limits<double>::infinity();
    for (index_t l = 0; l < len; ++l) {
      const double r = reach_[b0 + l];
      if (std::isnan(r)) continue;
      longest = std::max(longest, r);
      if (best.pos < 0 || r < best.value || (r == best.value && point_[b0 + l] < best.point))
        best = Candidate{r, b0 + l, point_[b0 + l]};
    }
    block_best_[b] = best;
    longest_[b] = longest;
    stale_[b] = 0;
  }

  index_t n_, d_, n_blocks_;
  std::vector<double> coord_;  // coord_[k * n + pos]: feature k of the point packed at pos
  std::vector<index_t> point_;  // row of the point packed at pos
  std::vector<index_t> pos_;    // packed position of a row
  std::vector<double> reach_;
  std::vector<index_t> source_;
  std::vector<double> core_;  // empty for single linkage
  std::vector<double> box_;   // box_[(2 b) d + k], box_[(2 b + 1) d + k]: block b's low, high
  std::vector<Candidate> block_best_;
  std::vector<double> longest_;  // the longest link of a block (-inf when all are in the tree)
  std::vector<index_t> left_;    // points of a block outside the tree
  std::vector<char> stale_;
};

template <bool kMutual, class T>
void prim(const Rows<T>& X, const double* core, double alpha, std::int64_t* from,
          std::int64_t* to, double* weight, int n_threads) {
  const index_t n = X.n, d = X.d;
  Points points(X, core);
  points.take(0);
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
    const index_t n_blocks = points.blocks(), m = n - 1 - step;
    const double node_core = kMutual ? core[node] : 0.0;
    // A region per step, where the step is worth it (fastml_region_threads): the shares are
    // whole blocks, merged in a fixed order and on (value, row), so the tree does not depend on
    // the threads.
    const int threads = static_cast<int>(std::min<index_t>(
        fastml_region_threads(m * (0.2 * d + 1.0), n_threads), n_blocks));
#pragma omp parallel for num_threads(threads) schedule(static, 1)
    for (int t = 0; t < threads; ++t) {
      const index_t lo = n_blocks * t / threads, hi = n_blocks * (t + 1) / threads;
      points.link(lo, hi, node, x.data(), node_core, alpha);
      best[t] = points.best(lo, hi, limit);
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
      from[step] = kMutual ? points.source(win.pos) : node;
      to[step] = win.point;
      weight[step] = win.value;
      node = win.point;
      points.take(node);
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

void kruskal_mst(index_t n, index_t n_edges, const std::int64_t* from, const std::int64_t* to,
                 const double* weight, std::uint8_t* keep) {
  std::vector<index_t> order(static_cast<std::size_t>(n_edges));
  for (index_t e = 0; e < n_edges; ++e) order[e] = e;
  std::stable_sort(order.begin(), order.end(),
                   [weight](index_t a, index_t b) { return weight[a] < weight[b]; });
  std::fill(keep, keep + n_edges, std::uint8_t{0});
  // Which edges join two components depends on the order of the edges only, not on how the
  // union-find links its trees.
  std::vector<index_t> root(static_cast<std::size_t>(n));
  for (index_t v = 0; v < n; ++v) root[v] = v;
  auto find = [&root](index_t v) {
    while (root[v] != v) {
      root[v] = root[root[v]];  // path halving
      v = root[v];
    }
    return v;
  };
  index_t joined = 0;
  for (index_t q = 0; q < n_edges && joined < n - 1; ++q) {
    const index_t e = order[q];
    const index_t a = find(from[e]), b = find(to[e]);
    if (a == b) continue;
    root[a] = b;
    keep[e] = 1;
    ++joined;
  }
}

template void prim_mst<float>(const Rows<float>&, const double*, double, std::int64_t*,
                              std::int64_t*, double*, int);
template void prim_mst<double>(const Rows<double>&, const double*, double, std::int64_t*,
                               std::int64_t*, double*, int);

}  // namespace fastml::hierarchy
