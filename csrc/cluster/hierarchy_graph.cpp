// Agglomeration restricted to a connectivity graph: scikit-learn's ward_tree and linkage_tree
// (complete, average) with connectivity. Candidate merges are the graph's edges in a heap; a merge
// joins the two clusters of the smallest edge whose ends are both live, and the new cluster's
// edges go to the live clusters its two parts had edges to.
//
// The heap is Python's heapq, step for step (PyHeap): ward's entries are tuples (inertia, a, b),
// a total order, but linkage_tree's are WeightedEdges compared by weight alone, so which of two
// equal weights comes out first is decided by heapq's sifting and the order of the pushes.
// Replaying both gives scikit-learn's merges, order and tie-breaking.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <utility>
#include <vector>

#include "fastml/hierarchy.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::hierarchy {

namespace {

struct Edge {
  double value;
  index_t a, b;
};

// Python's tuple order on (value, a, b): ward's heap entries.
struct TupleLess {
  bool operator()(const Edge& x, const Edge& y) const {
    if (x.value != y.value) return x.value < y.value;
    if (x.a != y.a) return x.a < y.a;
    return x.b < y.b;
  }
};

// WeightedEdge.__lt__: the weights alone.
struct WeightLess {
  bool operator()(const Edge& x, const Edge& y) const { return x.value < y.value; }
};

// CPython's heapq (Modules/_heapqmodule.c) on a vector: the same comparisons in the same order,
// so that equal keys leave in the same order. (Its heapify visits large heaps in another order,
// but sifts every node once after both subtrees: the same array.)
template <class Less>
class PyHeap {
 public:
  explicit PyHeap(std::vector<Edge> items) : heap_(std::move(items)) {
    for (index_t i = static_cast<index_t>(heap_.size()) / 2 - 1; i >= 0; --i) sift_up(i);
  }
  bool empty() const { return heap_.empty(); }
  void push(const Edge& item) {
    heap_.push_back(item);
    sift_down(0, static_cast<index_t>(heap_.size()) - 1);
  }
  Edge pop() {
    const Edge last = heap_.back();
    heap_.pop_back();
    if (heap_.empty()) return last;
    const Edge top = heap_[0];
    heap_[0] = last;
    sift_up(0);
    return top;
  }

 private:
  // the item at pos moves towards the root while it is less than its parent
  void sift_down(index_t start, index_t pos) {
    const Edge item = heap_[pos];
    while (pos > start) {
      const index_t up = (pos - 1) >> 1;
      if (!less_(item, heap_[up])) break;
      heap_[pos] = heap_[up];
      pos = up;
    }
    heap_[pos] = item;
  }
  // the smaller child (the right one unless left < right) moves up to a leaf, then the item
  // placed there sifts down
  void sift_up(index_t pos) {
    const index_t end = static_cast<index_t>(heap_.size()), start = pos;
    const Edge item = heap_[pos];
    while (pos < end / 2) {
      index_t child = 2 * pos + 1;
      if (child + 1 < end && !less_(heap_[child], heap_[child + 1])) ++child;
      heap_[pos] = heap_[child];
      pos = child;
    }
    heap_[pos] = item;
    sift_down(start, pos);
  }

  std::vector<Edge> heap_;
  Less less_;
};

// The smallest edge whose two ends are live clusters (stale edges are dropped as found).
template <class Heap, class Live>
Edge pop_live(Heap& heap, const Live& live) {
  for (;;) {
    if (heap.empty()) throw std::runtime_error("the connectivity graph ran out of edges");
    const Edge e = heap.pop();
    if (live[e.a] && live[e.b]) return e;
  }
}

// Ward's inertia of merging clusters r and c from their sizes m1 and coordinate sums m2, written
// term for term as scikit-learn's compute_ward_dist (the same roundings: means subtracted, the
// squares summed in feature order, scaled by |r| |c| / (|r| + |c|) last).
double ward_inertia(const double* m1, const double* m2, index_t d, index_t r, index_t c) {
  const double scale = (m1[r] * m1[c]) / (m1[r] + m1[c]);
  const double* xr = m2 + r * d;
  const double* xc = m2 + c * d;
  double sum = 0.0;
  for (index_t f = 0; f < d; ++f) {
    const double t = xr[f] / m1[r] - xc[f] / m1[c];
    sum += t * t;
  }
  return sum * scale;
}

// The live cluster holding a node: the roots of the merge forest, found with path compression
// on a copy of the parents (the parents returned to the caller stay uncompressed).
class Roots {
 public:
  explicit Roots(index_t n_nodes) : up_(n_nodes) { std::iota(up_.begin(), up_.end(), 0); }
  void join(index_t a, index_t b, index_t into) { up_[a] = up_[b] = into; }
  index_t find(index_t node) {
    index_t root = node;
    while (up_[root] != root) root = up_[root];
    while (up_[node] != root) {
      const index_t next = up_[node];
      up_[node] = root;
      node = next;
    }
    return root;
  }

 private:
  std::vector<index_t> up_;
};

}  // namespace

template <class T>
void ward_graph(const Rows<T>& X, const Graph& graph, index_t n_nodes, std::int64_t* children,
                std::int64_t* parent, double* distances, int n_threads) {
  const index_t n = X.n, d = X.d;
  // sizes and coordinate sums of every node, leaves first (float64, as scikit-learn keeps them)
  std::vector<double> m1(n_nodes, 0.0), m2(static_cast<std::size_t>(n_nodes) * d, 0.0);
  std::fill(m1.begin(), m1.begin() + n, 1.0);
  std::copy(X.data, X.data + n * d, m2.begin());

  // the graph's lower triangle (b < a) holds each edge once, as scikit-learn takes it
  std::vector<Edge> edges;
  for (index_t a = 0; a < n; ++a)
    for (index_t p = graph.indptr[a]; p < graph.indptr[a + 1]; ++p)
      if (graph.indices[p] < a) edges.push_back({0.0, a, graph.indices[p]});
  const auto n_edges = static_cast<std::ptrdiff_t>(edges.size());
#pragma omp parallel for num_threads(n_threads) schedule(static)
  for (std::ptrdiff_t e = 0; e < n_edges; ++e)
    edges[e].value = ward_inertia(m1.data(), m2.data(), d, edges[e].a, edges[e].b);
  PyHeap<TupleLess> heap(std::move(edges));

  std::vector<std::vector<index_t>> neighbours(n_nodes);
  for (index_t a = 0; a < n; ++a)
    neighbours[a].assign(graph.indices + graph.indptr[a], graph.indices + graph.indptr[a + 1]);
  std::iota(parent, parent + n_nodes, index_t{0});
  std::vector<char> live(n_nodes, 1);
  std::vector<index_t> seen(n_nodes, -1);  // seen[r] == k: root r already a neighbour of k
  Roots roots(n_nodes);

  for (index_t k = n; k < n_nodes; ++k) {
    const Edge best = pop_live(heap, live);
    const index_t i = best.a, j = best.b;
    parent[i] = parent[j] = k;
    roots.join(i, j, k);
    live[i] = live[j] = 0;
    children[2 * (k - n)] = j;  // scikit-learn reverses each pair at the end
    children[2 * (k - n) + 1] = i;
    distances[k - n] = best.value;
    m1[k] = m1[i] + m1[j];
    for (index_t f = 0; f < d; ++f) m2[k * d + f] = m2[i * d + f] + m2[j * d + f];

    std::vector<index_t>& joined = neighbours[k];
    seen[k] = k;
    for (index_t part : {i, j})
      for (index_t node : neighbours[part]) {
        const index_t root = roots.find(node);
        if (seen[root] != k) {
          seen[root] = k;
          joined.push_back(root);
        }
      }
    for (index_t part : {i, j}) std::vector<index_t>().swap(neighbours[part]);
    for (index_t c : joined) {
      neighbours[c].push_back(k);
      heap.push({ward_inertia(m1.data(), m2.data(), d, k, c), k, c});
    }
  }
  // scikit-learn reports sqrt(2 inertia), the unstructured ward distance
  for (index_t m = 0; m < n_nodes - n; ++m) distances[m] = std::sqrt(2.0 * distances[m]);
}

template void ward_graph<float>(const Rows<float>&, const Graph&, index_t, std::int64_t*,
                                std::int64_t*, double*, int);
template void ward_graph<double>(const Rows<double>&, const Graph&, index_t, std::int64_t*,
                                 std::int64_t*, double*, int);


namespace {

// A cluster's edges, by ascending neighbour: scikit-learn's IntFloatDict (a std::map).
using Edges = std::vector<std::pair<index_t, double>>;

// max_merge / average_merge: the edges of a and b to clusters still live (size[key] != 0), the
// weights of a neighbour of both combined (the larger, or the mean weighted by the sizes n_a and
// n_b, computed as scikit-learn computes it).
Edges merge_edges(const Edges& a, const Edges& b, const std::vector<index_t>& size, double n_a,
                  double n_b, Linkage linkage) {
  Edges out;
  out.reserve(a.size() + b.size());
  auto ia = a.begin(), ib = b.begin();
  while (ia != a.end() || ib != b.end()) {
    if (ib == b.end() || (ia != a.end() && ia->first < ib->first)) {
      if (size[ia->first]) out.push_back(*ia);
      ++ia;
    } else if (ia == a.end() || ib->first < ia->first) {
      if (size[ib->first]) out.push_back(*ib);
      ++ib;
    } else {
      if (size[ia->first]) {
        const double w = linkage == Linkage::complete
                             ? std::fmax(ia->second, ib->second)
                             : (n_a * ia->second + n_b * ib->second) / (n_a + n_b);
        out.emplace_back(ia->first, w);
      }
      ++ia;
      ++ib;
    }
  }
  return out;
}

}  // namespace

void linkage_graph(const Graph& graph, const double* weights, index_t n, index_t n_nodes,
                   Linkage linkage, std::int64_t* children, std::int64_t* parent,
                   double* distances) {
  // each row's edges by ascending neighbour (the rows of scikit-learn's LIL graph are sorted)
  std::vector<Edges> edges(n_nodes);
  std::vector<Edge> initial;  // the lower triangle, row after row, as scikit-learn heapifies it
  for (index_t a = 0; a < n; ++a) {
    for (index_t p = graph.indptr[a]; p < graph.indptr[a + 1]; ++p)
      if (graph.indices[p] != a) edges[a].emplace_back(graph.indices[p], weights[p]);
    std::sort(edges[a].begin(), edges[a].end(),
              [](const auto& x, const auto& y) { return x.first < y.first; });
    for (const auto& [b, w] : edges[a])
      if (b < a) initial.push_back({w, a, b});
  }
  PyHeap<WeightLess> heap(std::move(initial));
  std::iota(parent, parent + n_nodes, index_t{0});
  std::vector<index_t> size(n_nodes, 1);  // 0 once merged: scikit-learn's used_node

  for (index_t k = n; k < n_nodes; ++k) {
    const Edge best = pop_live(heap, size);
    const index_t i = best.a, j = best.b;
    distances[k - n] = best.value;
    parent[i] = parent[j] = k;
    children[2 * (k - n)] = j;
    children[2 * (k - n) + 1] = i;
    const index_t n_i = size[i], n_j = size[j];
    size[k] = n_i + n_j;
    size[i] = size[j] = 0;
    edges[k] = merge_edges(edges[i], edges[j], size, static_cast<double>(n_i),
                           static_cast<double>(n_j), linkage);
    for (const auto& [c, w] : edges[k]) {
      edges[c].emplace_back(k, w);  // k is the largest name yet: the row stays sorted
      heap.push({w, k, c});
    }
    Edges().swap(edges[i]);
    Edges().swap(edges[j]);
  }
}

}  // namespace fastml::hierarchy
