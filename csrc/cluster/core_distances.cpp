// HDBSCAN's core distances (each row's distance to its k-th nearest row, itself the first) on the
// kd partition of the radius search (csrc/neighbors/block_tree.hpp), instead of a brute-force
// k-nearest search over all n^2 pairs: in few dimensions a leaf of rows finds its k nearest
// within a few leaves around it. Only the k-th distance is kept, not which row it is, so equal
// distances need no tie-breaking. Each distance is summed over the features in order in float64
// and square-rooted, the arithmetic of scikit-learn's KDTree, so that the values are its bits.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../neighbors/block_tree.hpp"
#include "fastml/hierarchy.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {

namespace {

using radius::BlockTree;
using radius::TreeNode;

constexpr double kInf = std::numeric_limits<double>::infinity();
// Rows per leaf. Measured on 50k x 8 blobs, k = 25, one thread, CPU seconds on the loaded
// shared machine: 16 rows 1.16, 32 rows 0.85, 64 rows 0.69, 128 rows 0.64 (brute-force
// k-nearest 1.9, scikit-learn's KDTree 2.2 to 3.1).
constexpr index_t kLeafRows = 64;

// The squared distance between two boxes, a lower bound of every pair's computed squared
// distance: rounding is monotonic, so a coordinate difference is never rounded below the gap.
double box_gap(const double* lo_a, const double* hi_a, const double* lo_b, const double* hi_b,
               index_t d) {
  double acc = 0.0;
  for (index_t f = 0; f < d; ++f) {
    const double g = std::max(0.0, std::max(lo_a[f] - hi_b[f], lo_b[f] - hi_a[f]));
    acc += g * g;
  }
  return acc;
}

// One leaf of queries: the k smallest squared distances of each, as max-heaps of k values.
template <class T>
class LeafSearch {
 public:
  LeafSearch(const BlockTree<T>& tree, index_t k)
      : tree_(tree), k_(k), d_(tree.dim()),
        heaps_(static_cast<std::size_t>(tree.max_leaf_rows() * k)),
        fill_(static_cast<std::size_t>(tree.max_leaf_rows())),
        sq_(static_cast<std::size_t>(tree.max_leaf_rows())) {}

  // OUT core[row] for the rows of leaf `q`.
  void run(index_t q, double* core) {
    q_ = q;
    const TreeNode& qn = tree_.nodes()[q];
    nq_ = qn.end - qn.begin;
    std::fill(fill_.begin(), fill_.begin() + nq_, 0);
    bound_ = kInf;
    visit(0);
    const index_t* rows = tree_.rows().data() + qn.begin;
    for (index_t j = 0; j < nq_; ++j) core[rows[j]] = std::sqrt(heaps_[j * k_]);
  }

 private:
  // Nearer child first, so the bound tightens early; a node whose box is farther than every
  // query's k-th distance so far cannot change any of them.
  void visit(index_t node) {
    const TreeNode& n = tree_.nodes()[node];
    if (n.left < 0) {
      scan_leaf(node);
      return;
    }
    const double gl = gap(n.left), gr = gap(n.right);
    const index_t first = gl <= gr ? n.left : n.right, second = gl <= gr ? n.right : n.left;
    if (std::min(gl, gr) > bound_) return;
    visit(first);
    if (std::max(gl, gr) <= bound_) visit(second);
  }

  double gap(index_t node) const {
    return box_gap(tree_.lo(q_), tree_.hi(q_), tree_.lo(node), tree_.hi(node), d_);
  }

  void scan_leaf(index_t node) {
    const TreeNode& t = tree_.nodes()[node];
    const index_t nt = t.end - t.begin;
    const T* train = tree_.packed(node);  // feature-major
    const T* query = tree_.packed(q_);
    const double* lo = tree_.lo(node);
    const double* hi = tree_.hi(node);
    double worst = 0.0;
    for (index_t j = 0; j < nq_; ++j) {
      double* heap = &heaps_[j * k_];
      index_t& fill = fill_[j];
      // the leaf's box farther than this query's k-th distance: none of its rows can enter
      if (fill == k_ && point_gap(query, j, lo, hi) > heap[0]) {
        worst = std::max(worst, heap[0]);
        continue;
      }
      std::fill(sq_.begin(), sq_.begin() + nt, 0.0);
      for (index_t f = 0; f < d_; ++f) {
        const double x = static_cast<double>(query[f * nq_ + j]);
        const T* col = train + f * nt;
        for (index_t l = 0; l < nt; ++l) {
          const double diff = x - static_cast<double>(col[l]);
          sq_[l] += diff * diff;
        }
      }
      for (index_t l = 0; l < nt; ++l) push(heap, fill, sq_[l]);
      worst = std::max(worst, fill < k_ ? kInf : heap[0]);
    }
    bound_ = worst;
  }

  // The squared distance from query j (column j of the feature-major leaf) to a box.
  double point_gap(const T* query, index_t j, const double* lo, const double* hi) const {
    double acc = 0.0;
    for (index_t f = 0; f < d_; ++f) {
      const double v = static_cast<double>(query[f * nq_ + j]);
      const double g = std::max(0.0, std::max(v - hi[f], lo[f] - v));
      acc += g * g;
    }
    return acc;
  }

  void push(double* heap, index_t& fill, double v) const {
    if (fill < k_) {
      heap[fill++] = v;
      std::push_heap(heap, heap + fill);
    } else if (v < heap[0]) {
      std::pop_heap(heap, heap + k_);
      heap[k_ - 1] = v;
      std::push_heap(heap, heap + k_);
    }
  }

  const BlockTree<T>& tree_;
  index_t k_, d_;
  std::vector<double> heaps_;  // query j's heap at [j * k, (j + 1) * k)
  std::vector<index_t> fill_;
  std::vector<double> sq_;
  index_t q_ = 0, nq_ = 0;
  double bound_ = kInf;
};

}  // namespace

template <class T>
void core_distances(const Rows<T>& X, index_t k, double* core, int n_threads) {
  const radius::Rows<T> rows{X.data, static_cast<radius::index_t>(X.n),
                             static_cast<radius::index_t>(X.d)};
  const BlockTree<T> tree(rows, nullptr, kLeafRows, true);
  const std::vector<radius::index_t>& leaves = tree.leaves();
  const index_t n_leaves = static_cast<index_t>(leaves.size());
  // a leaf's queries meet a few dozen leaves of k-sized work each
  const int threads = fastml_region_threads(
      static_cast<double>(X.n) * (20.0 * kLeafRows) * (1.0 + 0.5 * X.d), n_threads);
  // every thread's heaps allocated here, so that nothing in the region allocates or throws
  std::vector<LeafSearch<T>> searches(static_cast<std::size_t>(threads), LeafSearch<T>(tree, k));
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
  for (index_t i = 0; i < n_leaves; ++i) searches[omp_get_thread_num()].run(leaves[i], core);
}

template void core_distances<float>(const Rows<float>&, index_t, double*, int);
template void core_distances<double>(const Rows<double>&, index_t, double*, int);

}  // namespace fastml::hierarchy
