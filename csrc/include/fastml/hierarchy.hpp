// Hierarchical clustering cores (fastml.cluster._hierarchy_fast): the nearest-neighbour chain for
// ward, complete and average linkage, and Prim's minimum spanning tree computed on the fly for
// single linkage and HDBSCAN's mutual reachability. Each reproduces the merge or edge order of the
// scipy / scikit-learn routine it replaces, so that ties are broken the same way.
#pragma once

#include <cstdint>

namespace fastml::hierarchy {

using index_t = std::int64_t;

// Dense rows, C-contiguous, n x d. Coordinates are read as double, as scipy and scikit-learn
// convert them, so float32 input needs no float64 copy and gives the same distances.
template <class T>
struct Rows {
  const T* data;
  index_t n, d;
};

// A merge of the chain in the order it was found: slots a < b and their linkage distance.
struct Merge {
  index_t a, b;
  double distance;
};

// Ward linkage of the rows by the nearest-neighbour chain on cluster centroids and sizes (no
// distance matrix: O(n d) memory). The distance of clusters A, B is
// sqrt(2 |A| |B| / (|A| + |B|)) * ||mean(A) - mean(B)||, scipy's ward distance.
// OUT merges[n - 1], in the order found.
template <class T>
void ward_chain(const Rows<T>& X, Merge* merges, int n_threads);

enum class Linkage { complete, average };

// Complete or average linkage by the nearest-neighbour chain on a condensed distance matrix
// (scipy's layout, n (n - 1) / 2 values, overwritten by the Lance-Williams updates); scans and
// updates split over n_threads, merges the same for any count. OUT merges[n - 1], in the order
// found.
void condensed_chain(double* condensed, index_t n, Linkage linkage, Merge* merges,
                     int n_threads);

// Complete or average linkage of the rows' euclidean distances, the merges of condensed_chain on
// scipy's pdist to the bit, without the condensed matrix: while more than 3 n / 10 clusters
// remain, the distances between unmerged rows are recomputed from X where a scan or an update
// needs them and each merged cluster keeps a row of its distances to every slot; then the live
// clusters' square matrix (0.09 n^2 values). OUT merges[n - 1], in the order found.
template <class T>
void euclidean_chain(const Rows<T>& X, Linkage linkage, Merge* merges, int n_threads);

// The condensed euclidean distance matrix of the rows, scipy's pdist: each distance summed over
// the features in order, as scipy does, then square-rooted. OUT condensed[n (n - 1) / 2].
template <class T>
void condensed_euclidean(const Rows<T>& X, double* condensed, int n_threads);

// HDBSCAN's core distances: OUT core[i], the distance of row i to its k-th nearest row (itself
// the first), found on a kd partition of the rows; the values of scikit-learn's KDTree to the bit.
template <class T>
void core_distances(const Rows<T>& X, index_t k, double* core, int n_threads);

// A connectivity graph as CSR rows: row a lists the neighbours of node a (self loops ignored).
struct Graph {
  const std::int64_t* indptr;
  const std::int64_t* indices;
};

// scikit-learn's ward_tree with connectivity (graph symmetric, connected, n rows): merges the
// graph's edges by smallest ward inertia, ties by (a, b) as Python orders its heap tuples, until
// n_nodes nodes exist (2 n - 1 for the whole tree, 2 n - n_clusters for a partial one).
// OUT children[(n_nodes - n) x 2] (scikit-learn's order), parent[n_nodes],
// distances[n_nodes - n] (sqrt(2 inertia)). Throws std::runtime_error if the edges run out.
template <class T>
void ward_graph(const Rows<T>& X, const Graph& graph, index_t n_nodes, std::int64_t* children,
                std::int64_t* parent, double* distances, int n_threads);

// scikit-learn's linkage_tree with connectivity, complete or average: the graph's edges with
// their weights (the paired distances of its ends, weights[p] for indices[p]) merged by smallest
// weight in heapq's order; a merged cluster's weight to a neighbour is the larger of its parts'
// (complete) or their mean weighted by size (average). Self loops are ignored.
// OUT children[(n_nodes - n) x 2], parent[n_nodes], distances[n_nodes - n].
void linkage_graph(const Graph& graph, const double* weights, index_t n, index_t n_nodes,
                   Linkage linkage, std::int64_t* children, std::int64_t* parent,
                   double* distances);

// scipy's linkage output from the merges of a chain: merges stably sorted by distance, the
// clusters renamed as scipy names them (node n + i for the i-th merge, children as (smaller,
// larger) root). OUT children[(n - 1) x 2], distances[n - 1].
void label_merges(const Merge* merges, index_t n, std::int64_t* children, double* distances);

// Prim's minimum spanning tree from row 0, distances computed row by row (O(n d) memory), with
// scikit-learn's order of edges and choice among equal distances.
//  - core == nullptr: single linkage (mst_linkage_core); edge i is (current node, new node,
//    distance), where the current node is the one added at step i - 1.
//  - core != nullptr: HDBSCAN (mst_from_data_matrix): the mutual reachability
//    max(core[a], core[b], ||a - b|| / alpha); edge i is (tree node, new node, reachability).
// OUT from[n - 1], to[n - 1], weight[n - 1].
template <class T>
void prim_mst(const Rows<T>& X, const double* core, double alpha, std::int64_t* from,
              std::int64_t* to, double* weight, int n_threads);

// scipy's minimum_spanning_tree (Kruskal) of a graph given as its stored edges (from[e], to[e],
// weight[e]) in storage order: edges taken by increasing weight, equal weights in storage order
// (scipy's stable argsort), each kept when it joins two components, until n - 1 are kept.
// OUT keep[n_edges]: 1 for the edges of the tree.
void kruskal_mst(index_t n, index_t n_edges, const std::int64_t* from, const std::int64_t* to,
                 const double* weight, std::uint8_t* keep);

// The instruction-set builds of the distance kernel (csrc/cluster/hierarchy_kernels_isa.cpp).
struct HierarchyTable {
  // out[l] = sum over k of (x[k] - coord[k * stride + l])^2 for l < count, summed in feature
  // order: the squared distances of x to `count` points packed feature-major.
  void (*packed_sq_distances)(const double* coord, index_t stride, index_t count,
                              const double* x, index_t d, double* out);
  // out[l] = the square root of the above: euclidean distances with pdist's bits.
  void (*packed_distances)(const double* coord, index_t stride, index_t count, const double* x,
                           index_t d, double* out);
  // Ward's scan: out[l] = 2 nx size[l] / (nx + size[l]) * the squared distance above.
  void (*ward_values)(const double* coord, index_t stride, index_t count, const double* x,
                      index_t d, const double* size, double nx, double* out);
  // Prim's filter: the squared distances sq[count] as above, and maybe[l] = 0 where point l
  // cannot come closer than link[l] (its distance / alpha or its bound max(node_core, core[l])
  // is not below it; core == nullptr: no bound, alpha = 1). Returns whether any maybe[l] != 0.
  bool (*flag_closer)(const double* coord, index_t stride, index_t count, const double* x,
                      index_t d, const double* link, const double* core, double node_core,
                      double alpha, double* sq, std::int64_t* maybe);
  // The chain's scan: the least v[l] + bias[l] over l < count into *least and the first l
  // holding it (scipy's first strict minimum), -1 where none is below +inf (bias[l] = +inf
  // hides l). NaN values are never taken.
  index_t (*first_min)(const double* v, const double* bias, index_t count, double* least);
  // A merge's Lance-Williams row: out[l] = max(dx[l], dy[l]) (complete) or
  // (wx dx[l] + wy dy[l]) / (wx + wy) (average), scipy's operations to the bit.
  void (*lance_williams)(bool complete, double wx, const double* dx, double wy, const double* dy,
                         index_t count, double* out);
};
namespace baseline { HierarchyTable kernel_table(); }
namespace x86_64_v3 { HierarchyTable kernel_table(); }
namespace x86_64_v4 { HierarchyTable kernel_table(); }

// The build this CPU runs (FASTML_SIMD may cap it) and its name.
const HierarchyTable& kernels();
const char* simd_target();

}  // namespace fastml::hierarchy
