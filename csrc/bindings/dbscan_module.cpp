// fastml.cluster._dbscan_fast: DBSCAN's labelling (fastml/radius.hpp) on dense rows for the
// metrics of the compiled radius search, and scikit-learn's depth-first labelling of any
// neighbourhood graph given as CSR. Checks at entry, then releases the GIL.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cmath>
#include <cstdint>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/radius.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_csr;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using namespace fastml::radius;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;
template <class T>
using Out = py::array_t<T, py::array::c_style>;

template <class T>
std::int64_t fit(const In<T>& X, const std::string& metric, double p, double eps,
                 const In<double>& weights, double min_samples, Out<std::uint8_t> is_core,
                 Out<std::int64_t> labels, int n_threads) {
  const MetricSpec spec = parse_metric(metric, p);
  require(X.ndim() == 2 && X.shape(1) > 0, "X must be 2-dimensional with at least one feature");
  const index_t n = X.shape(0);
  const T* data = X.data();
  bool finite = true;  // the tree's median splits need an order of the values
  for (py::ssize_t i = 0; i < X.size(); ++i) finite &= std::isfinite(data[i]);
  require(finite, "X must be finite");
  require(eps > 0 && std::isfinite(eps), "eps must be > 0");
  require_threads(n_threads);
  require_shape(is_core, "is_core", {n});
  require_shape(labels, "labels", {n});
  const bool weighted = weights.size() > 0;
  if (weighted) require_shape(weights, "weights", {n});
  std::uint8_t* core = is_core.mutable_data();
  std::int64_t* lab = labels.mutable_data();
  py::gil_scoped_release release;
  return dbscan(Rows<T>{data, n, X.shape(1)}, spec, eps, weighted ? weights.data() : nullptr,
                min_samples, core, lab, n_threads);
}

std::int64_t graph(const In<std::int64_t>& indptr, const In<std::int64_t>& indices,
                   const In<std::uint8_t>& is_core, Out<std::int64_t> labels) {
  // A square graph: n rows, column indices in [0, n).
  const index_t n = indptr.ndim() == 1 ? indptr.shape(0) - 1 : 0;
  require_csr(indptr, indices, n);
  require_shape(is_core, "is_core", {n});
  require_shape(labels, "labels", {n});
  std::int64_t* lab = labels.mutable_data();
  py::gil_scoped_release release;
  return dbscan_graph(n, indptr.data(), indices.data(), is_core.data(), lab);
}

}  // namespace

PYBIND11_MODULE(_dbscan_fast, m) {
  m.doc() = "DBSCAN labelling: compiled radius passes on dense rows, or a neighbourhood graph.";
  m.def("fit", &fit<float>, py::arg("X"), py::arg("metric"), py::arg("p"), py::arg("eps"),
        py::arg("weights"), py::arg("min_samples"), py::arg("is_core"), py::arg("labels"),
        py::arg("n_threads"));
  m.def("fit", &fit<double>, py::arg("X"), py::arg("metric"), py::arg("p"), py::arg("eps"),
        py::arg("weights"), py::arg("min_samples"), py::arg("is_core"), py::arg("labels"),
        py::arg("n_threads"),
        "DBSCAN of the rows of X: fills is_core and labels (scikit-learn's numbering), returns "
        "the number of clusters.");
  m.def("graph_labels", &graph, py::arg("indptr"), py::arg("indices"), py::arg("is_core"),
        py::arg("labels"),
        "scikit-learn's dbscan_inner on the neighbourhood graph (indptr, indices): fills labels, "
        "returns the number of clusters.");
}
