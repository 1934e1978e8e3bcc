// fastml.cluster._hierarchy_fast: the hierarchical clustering cores of csrc/cluster/hierarchy_*
// for float32 and float64 rows. Checks shapes and values at entry, then releases the GIL.
// Arrays must already be C-contiguous and of the declared dtype (fastml.cluster converts them):
// nothing is converted here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastml/binding_checks.hpp"
#include "fastml/hierarchy.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_threads;
namespace h = fastml::hierarchy;
using h::index_t;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

template <class T>
h::Rows<T> rows(const In<T>& X) {
  require(X.ndim() == 2, "X must be 2-dimensional");
  require(X.shape(0) >= 2 && X.shape(1) >= 1, "X needs at least 2 rows and 1 column");
  return h::Rows<T>{X.data(), X.shape(0), X.shape(1)};
}

// scipy's linkage as scikit-learn keeps it: children (n - 1, 2) and distances (n - 1).
py::tuple labelled(const std::vector<h::Merge>& merges, index_t n) {
  py::array_t<std::int64_t> children({n - 1, index_t{2}});
  py::array_t<double> distances(n - 1);
  std::int64_t* c = children.mutable_data();
  double* dist = distances.mutable_data();
  {
    py::gil_scoped_release release;
    h::label_merges(merges.data(), n, c, dist);
  }
  return py::make_tuple(children, distances);
}

template <class T>
py::tuple ward_tree(const In<T>& X, int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  std::vector<h::Merge> merges(x.n - 1);
  {
    py::gil_scoped_release release;
    h::ward_chain(x, merges.data(), n_threads);
  }
  return labelled(merges, x.n);
}

py::tuple condensed_tree(In<double> condensed, index_t n, const std::string& linkage,
                         int n_threads) {
  require(n >= 2, "n must be >= 2");
  require_threads(n_threads);
  require(condensed.ndim() == 1 && condensed.shape(0) == n * (n - 1) / 2,
          "condensed must hold n (n - 1) / 2 distances");
  require(linkage == "complete" || linkage == "average", "linkage must be complete or average");
  const h::Linkage kind = linkage == "complete" ? h::Linkage::complete : h::Linkage::average;
  double* D = condensed.mutable_data();
  std::vector<h::Merge> merges(n - 1);
  {
    py::gil_scoped_release release;
    h::condensed_chain(D, n, kind, merges.data(), n_threads);
  }
  return labelled(merges, n);
}

template <class T>
py::tuple euclidean_tree(const In<T>& X, const std::string& linkage, int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  require(linkage == "complete" || linkage == "average", "linkage must be complete or average");
  const h::Linkage kind = linkage == "complete" ? h::Linkage::complete : h::Linkage::average;
  std::vector<h::Merge> merges(x.n - 1);
  {
    py::gil_scoped_release release;
    h::euclidean_chain(x, kind, merges.data(), n_threads);
  }
  return labelled(merges, x.n);
}

template <class T>
py::array_t<double> condensed_euclidean(const In<T>& X, int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  py::array_t<double> out(x.n * (x.n - 1) / 2);
  double* D = out.mutable_data();
  py::gil_scoped_release release;
  h::condensed_euclidean(x, D, n_threads);
  return out;
}

// (from, to, weight) of Prim's tree; core distances for HDBSCAN, None for single linkage.
template <class T>
py::tuple prim_mst(const In<T>& X, const std::optional<In<double>>& core, double alpha,
                   int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  const double* c = nullptr;
  if (core) {
    require(core->ndim() == 1 && core->shape(0) == x.n, "core_distances must hold one per row");
    require(std::isfinite(alpha) && alpha > 0.0, "alpha must be a positive number");
    c = core->data();
  }
  py::array_t<std::int64_t> from(x.n - 1), to(x.n - 1);
  py::array_t<double> weight(x.n - 1);
  std::int64_t* f = from.mutable_data();
  std::int64_t* t = to.mutable_data();
  double* w = weight.mutable_data();
  {
    py::gil_scoped_release release;
    h::prim_mst(x, c, alpha, f, t, w, n_threads);
  }
  return py::make_tuple(from, to, weight);
}

template <class T>
py::array_t<double> core_distances(const In<T>& X, index_t k, int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  require(k >= 1 && k <= x.n, "k must be in [1, n_samples]");
  py::array_t<double> out(x.n);
  double* core = out.mutable_data();
  py::gil_scoped_release release;
  h::core_distances(x, k, core, n_threads);
  return out;
}

// scikit-learn's ward_tree with connectivity: (children, parent, distances).
template <class T>
py::tuple ward_graph(const In<T>& X, const In<std::int64_t>& indptr,
                     const In<std::int64_t>& indices, index_t n_nodes, int n_threads) {
  const auto x = rows(X);
  require_threads(n_threads);
  require(fastml::bindings::require_csr(indptr, indices, x.n) == x.n,
          "the graph must have one row per row of X");
  require(n_nodes >= x.n && n_nodes <= 2 * x.n - 1, "n_nodes must be in [n, 2 n - 1]");
  const h::Graph graph{indptr.data(), indices.data()};
  py::array_t<std::int64_t> children({n_nodes - x.n, index_t{2}});
  py::array_t<std::int64_t> parent(n_nodes);
  py::array_t<double> distances(n_nodes - x.n);
  std::int64_t* c = children.mutable_data();
  std::int64_t* p = parent.mutable_data();
  double* dist = distances.mutable_data();
  {
    py::gil_scoped_release release;
    h::ward_graph(x, graph, n_nodes, c, p, dist, n_threads);
  }
  return py::make_tuple(children, parent, distances);
}

// scikit-learn's linkage_tree with connectivity, complete or average: (children, parent,
// distances).
py::tuple linkage_graph(const In<std::int64_t>& indptr, const In<std::int64_t>& indices,
                        const In<double>& weights, index_t n_nodes, const std::string& linkage) {
  const index_t n = fastml::bindings::require_csr(indptr, indices, indptr.shape(0) - 1);
  require(weights.ndim() == 1 && weights.shape(0) == indices.shape(0),
          "weights must hold one value per stored edge");
  require(n >= 1 && n_nodes >= n && n_nodes <= 2 * n - 1, "n_nodes must be in [n, 2 n - 1]");
  require(linkage == "complete" || linkage == "average", "linkage must be complete or average");
  const h::Linkage kind = linkage == "complete" ? h::Linkage::complete : h::Linkage::average;
  const h::Graph graph{indptr.data(), indices.data()};
  py::array_t<std::int64_t> children({n_nodes - n, index_t{2}});
  py::array_t<std::int64_t> parent(n_nodes);
  py::array_t<double> distances(n_nodes - n);
  std::int64_t* c = children.mutable_data();
  std::int64_t* p = parent.mutable_data();
  double* dist = distances.mutable_data();
  const double* w = weights.data();
  {
    py::gil_scoped_release release;
    h::linkage_graph(graph, w, n, n_nodes, kind, c, p, dist);
  }
  return py::make_tuple(children, parent, distances);
}

// scipy's minimum_spanning_tree of the stored edges: a 0/1 mask of the tree's edges.
py::array_t<std::uint8_t> kruskal_mst(index_t n, const In<std::int64_t>& from,
                                      const In<std::int64_t>& to, const In<double>& weight) {
  require(n >= 1, "n must be positive");
  require(from.ndim() == 1 && to.ndim() == 1 && weight.ndim() == 1 &&
              to.shape(0) == from.shape(0) && weight.shape(0) == from.shape(0),
          "from, to and weight must be 1-d of one length");
  const index_t n_edges = from.shape(0);
  const std::int64_t* f = from.data();
  const std::int64_t* t = to.data();
  for (index_t e = 0; e < n_edges; ++e)
    require(f[e] >= 0 && f[e] < n && t[e] >= 0 && t[e] < n, "edge ends must be in [0, n)");
  py::array_t<std::uint8_t> keep(n_edges);
  std::uint8_t* k = keep.mutable_data();
  const double* w = weight.data();
  {
    py::gil_scoped_release release;
    h::kruskal_mst(n, n_edges, f, t, w, k);
  }
  return keep;
}

template <class T>
void define_for(py::module_& m) {
  m.def("core_distances", &core_distances<T>, py::arg("X").noconvert(), py::arg("k"),
        py::arg("n_threads"),
        "Distance of every row to its k-th nearest row, itself the first (HDBSCAN's core\n"
        "distances, as scikit-learn's KDTree computes them).");
  m.def("ward_tree", &ward_tree<T>, py::arg("X").noconvert(), py::arg("n_threads"),
        "Ward linkage of the rows by the nearest-neighbour chain on centroids: (children,\n"
        "distances) as scipy.cluster.hierarchy.ward gives them.");
  m.def("ward_graph", &ward_graph<T>, py::arg("X").noconvert(), py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("n_nodes"), py::arg("n_threads"),
        "Ward linkage restricted to a connectivity graph (CSR rows, symmetric, connected) as\n"
        "scikit-learn's ward_tree builds it: (children, parent, distances) for n_nodes nodes.");
  m.def("euclidean_tree", &euclidean_tree<T>, py::arg("X").noconvert(), py::arg("linkage"),
        py::arg("n_threads"),
        "Complete or average linkage of the rows' euclidean distances by the nearest-neighbour\n"
        "chain, without the condensed matrix: (children, distances) as scipy's linkage of\n"
        "pdist(X) gives them.");
  m.def("condensed_euclidean", &condensed_euclidean<T>, py::arg("X").noconvert(),
        py::arg("n_threads"), "scipy's pdist(X, 'euclidean'), computed in parallel.");
  m.def("prim_mst", &prim_mst<T>, py::arg("X").noconvert(), py::arg("core_distances").noconvert(),
        py::arg("alpha"), py::arg("n_threads"),
        "Prim's minimum spanning tree of the euclidean rows (core_distances None: scikit-learn's\n"
        "mst_linkage_core) or of their mutual reachability (mst_from_data_matrix): from, to,\n"
        "weight.");
}

}  // namespace

PYBIND11_MODULE(_hierarchy_fast, m) {
  m.doc() = "Hierarchical clustering: nearest-neighbour chain and Prim's tree (C++, OpenMP).";
  define_for<float>(m);
  define_for<double>(m);
  m.def("condensed_tree", &condensed_tree, py::arg("condensed").noconvert(), py::arg("n"),
        py::arg("linkage"), py::arg("n_threads"),
        "Complete or average linkage of a condensed distance matrix (overwritten) by the\n"
        "nearest-neighbour chain: (children, distances) as scipy's linkage gives them.");
  m.def("linkage_graph", &linkage_graph, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("weights").noconvert(), py::arg("n_nodes"),
        py::arg("linkage"),
        "Complete or average linkage restricted to a weighted graph (CSR rows, symmetric,\n"
        "connected) as scikit-learn's linkage_tree builds it: (children, parent, distances).");
  m.def("kruskal_mst", &kruskal_mst, py::arg("n"), py::arg("from").noconvert(),
        py::arg("to").noconvert(), py::arg("weight").noconvert(),
        "scipy's minimum_spanning_tree (Kruskal, equal weights in storage order) of the stored\n"
        "edges of an n-node graph: a uint8 mask of the edges kept.");
  m.def("simd_build", &h::simd_target,
        "Instruction-set build of the hierarchy kernels chosen for this CPU.");
}
