// DBSCAN labelling (fastml/radius.hpp): core rows by weighted counts within eps, clusters by a
// concurrent union-find over pairs of core rows within eps, border rows by the lowest cluster
// label within eps: three passes of the radius reducer, none of which keeps a neighbour list.
//
// Why this gives scikit-learn's labels: its dbscan_inner starts a cluster at every unlabelled core
// row in index order and labels everything reachable through core rows before the next one, so
// cluster c is the component of core rows whose lowest row is the c-th lowest of such rows, and a
// border row gets the first, hence lowest-numbered, cluster with a core row within its reach.
// With a symmetric metric, reach is symmetric and the components are those of the union-find.
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <limits>
#include <memory>
#include <vector>

#include "../neighbors/radius_engine.hpp"
#include "fastml/radius.hpp"

namespace fastml::radius {
namespace {

// Union-find whose roots are the lowest row of their set, safe to use from several threads: a
// root is linked under a lower root by compare-and-swap, and finds halve paths with benign races
// (a parent only ever moves to a lower ancestor). The final sets do not depend on the order of
// the unions, so neither do the labels.
class ConcurrentUnionFind {
 public:
  explicit ConcurrentUnionFind(index_t n) : parent_(new std::atomic<index_t>[n]) {
    for (index_t i = 0; i < n; ++i) parent_[i].store(i, std::memory_order_relaxed);
  }
  index_t find(index_t x) const {
    while (true) {
      index_t p = parent_[x].load(std::memory_order_relaxed);
      if (p == x) return x;
      const index_t g = parent_[p].load(std::memory_order_relaxed);
      if (g != p) parent_[x].compare_exchange_weak(p, g, std::memory_order_relaxed);
      x = g;
    }
  }
  void unite(index_t a, index_t b) {
    while (true) {
      a = find(a);
      b = find(b);
      if (a == b) return;
      if (a < b) std::swap(a, b);  // link the higher root under the lower
      index_t expected = a;
      if (parent_[a].compare_exchange_strong(expected, b, std::memory_order_acq_rel)) return;
    }
  }

 private:
  std::unique_ptr<std::atomic<index_t>[]> parent_;
};

struct UnionAction {
  struct Local {};
  ConcurrentUnionFind& sets;
  void init(Local&) const {}
  void pair(Local&, index_t, index_t q, index_t j, double) {
    if (j < q) sets.unite(q, j);  // each pair is seen from both ends: once is enough
  }
};

struct MinLabelAction {
  struct Local {};
  const std::int64_t* labels;  // of the core rows
  std::int64_t* best;          // of the queries, INT64_MAX when none
  void init(Local&) const {}
  void pair(Local&, index_t, index_t q, index_t j, double) {
    best[q] = std::min(best[q], labels[j]);
  }
};

}  // namespace

template <class T>
std::int64_t dbscan(Rows<T> X, MetricSpec metric, double eps, const double* weights,
                    double min_samples, std::uint8_t* is_core, std::int64_t* labels,
                    int n_threads) {
  const index_t n = X.n;
  std::vector<double> counts(static_cast<std::size_t>(n));
  radius_counts(X, metric, eps, weights, counts.data(), n_threads);
  std::vector<index_t> core, border;
  for (index_t i = 0; i < n; ++i) {
    is_core[i] = counts[i] >= min_samples;
    (is_core[i] ? core : border).push_back(i);
    labels[i] = -1;
  }
  if (core.empty()) return 0;
  std::vector<double>().swap(counts);

  const BlockTree<T> core_tree(X, &core, kTrainLeafRows, true);
  const int threads = radius_threads(static_cast<index_t>(core.size()),
                                     static_cast<index_t>(core.size()), X.d, n_threads);
  ConcurrentUnionFind sets(n);
  UnionAction unite{sets};
  run_radius(X, core_tree, core_tree, metric, eps, unite, threads);

  // core rows in index order: a root is its set's lowest row, so it is met first
  std::int64_t n_clusters = 0;
  for (index_t i : core) {
    const index_t root = sets.find(i);
    labels[i] = root == i ? n_clusters++ : labels[root];
  }
  if (border.empty()) return n_clusters;

  const BlockTree<T> border_tree(X, &border, kQueryLeafRows, false);
  std::vector<std::int64_t> best(static_cast<std::size_t>(n),
                                 std::numeric_limits<std::int64_t>::max());
  MinLabelAction lowest{labels, best.data()};
  run_radius(X, border_tree, core_tree, metric, eps, lowest,
             radius_threads(static_cast<index_t>(border.size()),
                            static_cast<index_t>(core.size()), X.d, n_threads));
  for (index_t i : border)
    if (best[i] != std::numeric_limits<std::int64_t>::max()) labels[i] = best[i];
  return n_clusters;
}

std::int64_t dbscan_graph(index_t n, const std::int64_t* indptr, const std::int64_t* indices,
                          const std::uint8_t* is_core, std::int64_t* labels) {
  std::fill(labels, labels + n, std::int64_t{-1});
  std::int64_t label = 0;
  std::vector<std::int64_t> stack;
  for (index_t start = 0; start < n; ++start) {
    if (labels[start] != -1 || !is_core[start]) continue;
    std::int64_t i = start;
    while (true) {
      if (labels[i] == -1) {
        labels[i] = label;
        if (is_core[i])
          for (std::int64_t k = indptr[i]; k < indptr[i + 1]; ++k)
            if (labels[indices[k]] == -1) stack.push_back(indices[k]);
      }
      if (stack.empty()) break;
      i = stack.back();
      stack.pop_back();
    }
    ++label;
  }
  return label;
}

template std::int64_t dbscan(Rows<float>, MetricSpec, double, const double*, double,
                             std::uint8_t*, std::int64_t*, int);
template std::int64_t dbscan(Rows<double>, MetricSpec, double, const double*, double,
                             std::uint8_t*, std::int64_t*, int);

}  // namespace fastml::radius
