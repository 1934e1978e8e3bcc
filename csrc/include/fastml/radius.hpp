// Radius search and DBSCAN on fastml's chunked loop (fastml/tile_loop.hpp), for the metrics whose
// distance to a box of points has a cheap lower bound: euclidean, sqeuclidean, manhattan,
// chebyshev, minkowski and hamming. Rows are grouped into the leaves of a kd partition
// (csrc/neighbors/block_tree.hpp); a task takes a leaf of queries, each of which walks the training tree, skips
// the nodes whose box is out of its reach and evaluates the leaves left, a whole leaf at once.
//
// Distances are accumulated in float64 from coordinate differences, feature after feature, and a
// pair is within reach when its reduced distance (the sum of squares for euclidean, of |d|^p for
// minkowski) is at most the reduced radius: the arithmetic of scikit-learn's KDTree, so that
// pairs at exactly the radius fall on the same side. float32 rows are widened, as KDTree does.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fastml::radius {

using index_t = std::ptrdiff_t;

enum Metric : int { kEuclidean = 0, kSqEuclidean = 1, kManhattan = 2, kChebyshev = 3,
                     kMinkowski = 4, kHamming = 5 };

// A metric code and minkowski's p (ignored by the others).
struct MetricSpec {
  int metric;
  double p;
};

// The metrics by name, in code order, as the bindings accept them.
constexpr const char* kMetricNames[] = {"euclidean", "sqeuclidean", "manhattan", "chebyshev",
                                        "minkowski", "hamming"};

// The MetricSpec of a metric name; throws std::invalid_argument for another name, or for
// minkowski without a finite p > 0.
MetricSpec parse_metric(const std::string& name, double p);

// n rows of d features, row-major.
template <class T>
struct Rows {
  const T* data;
  index_t n, d;
};

// The neighbours of every query as CSR: query i's are indices[indptr[i]:indptr[i + 1]], in index
// order or by (distance, index); distances only when asked for.
struct Lists {
  std::vector<std::int64_t> indptr, indices;
  std::vector<double> distances;
};

// Training rows within `radius` of every query. IN self_query: queries and train are the same
// rows; each row is then left out of its own list. Throws std::bad_alloc when memory runs out.
template <class T>
Lists radius_lists(Rows<T> queries, Rows<T> train, MetricSpec metric, double radius,
                   bool self_query, bool with_distances, bool sort_by_distance, int n_threads);

// OUT counts[i]: the number of rows of X within `radius` of row i (itself included), or the sum
// of their weights when weights is not null.
template <class T>
void radius_counts(Rows<T> X, MetricSpec metric, double radius, const double* weights,
                   double* counts, int n_threads);

// DBSCAN of the rows of X, labels as scikit-learn's (clusters numbered in the order of their
// lowest core row; a border row takes the lowest-numbered cluster that reaches it). OUT is_core,
// labels (-1: noise). Returns the number of clusters. Holds no neighbour lists: core rows come
// from radius_counts, clusters from a concurrent union-find over core pairs, border rows from
// the lowest cluster label within reach.
template <class T>
std::int64_t dbscan(Rows<T> X, MetricSpec metric, double eps, const double* weights,
                    double min_samples, std::uint8_t* is_core, std::int64_t* labels,
                    int n_threads);

// scikit-learn's dbscan_inner on a neighbourhood graph in CSR form (any graph, also asymmetric,
// as a sparse precomputed matrix gives): a depth-first search from every unlabelled core row in
// index order. IN indptr (n + 1), indices, is_core (n). OUT labels (n). Returns the number of
// clusters.
std::int64_t dbscan_graph(index_t n, const std::int64_t* indptr, const std::int64_t* indices,
                          const std::uint8_t* is_core, std::int64_t* labels);

}  // namespace fastml::radius
