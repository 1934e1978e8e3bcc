// fastml.metrics._radius_fast: the compiled radius search (fastml/radius.hpp) for float32 and
// float64 rows. Checks shapes and parameters at entry, then releases the GIL. The lists come back
// as CSR arrays (indptr, indices, distances), which the caller splits or wraps as a graph.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <utility>

#include "fastml/binding_checks.hpp"
#include "fastml/radius.hpp"

namespace py = pybind11;
using fastml::bindings::owned_array;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using namespace fastml::radius;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

// The tree's median splits need an order of the values: NaN and infinities are refused.
template <class T>
Rows<T> rows(const In<T>& X, const char* name) {
  require(X.ndim() == 2 && X.shape(1) > 0, std::string(name) + " must be 2-dimensional with "
                                           "at least one feature");
  const T* data = X.data();
  bool finite = true;
  for (py::ssize_t i = 0; i < X.size(); ++i) finite &= std::isfinite(data[i]);
  require(finite, std::string(name) + " must be finite");
  return {data, X.shape(0), X.shape(1)};
}

void require_radius(double radius) {
  require(radius >= 0 && !std::isnan(radius), "radius must be >= 0");
}

template <class T>
py::tuple lists(const In<T>& Q, const In<T>& Y, const std::string& metric, double p,
                double radius, bool self_query, bool with_distances, bool sort_by_distance,
                int n_threads) {
  const MetricSpec spec = parse_metric(metric, p);
  const Rows<T> q = rows(Q, "queries"), y = rows(Y, "train");
  require(q.d == y.d, "queries and train must have the same number of features");
  require(!self_query || q.n == y.n, "self_query needs the queries to be the training rows");
  require_radius(radius);
  require_threads(n_threads);
  Lists out;
  {
    py::gil_scoped_release release;
    out = radius_lists(q, y, spec, radius, self_query, with_distances, sort_by_distance,
                       n_threads);
  }
  return py::make_tuple(owned_array(std::move(out.indptr)), owned_array(std::move(out.indices)),
                        owned_array(std::move(out.distances)));
}

template <class T>
void counts(const In<T>& X, const std::string& metric, double p, double radius,
            const In<double>& weights, py::array_t<double, py::array::c_style> out,
            int n_threads) {
  const MetricSpec spec = parse_metric(metric, p);
  const Rows<T> x = rows(X, "X");
  require_radius(radius);
  require_threads(n_threads);
  require_shape(out, "out", {x.n});
  const bool weighted = weights.size() > 0;
  if (weighted) require_shape(weights, "weights", {x.n});
  double* dst = out.mutable_data();
  py::gil_scoped_release release;
  radius_counts(x, spec, radius, weighted ? weights.data() : nullptr, dst, n_threads);
}

template <class T>
void define(py::module_& m) {
  m.def("radius_lists", &lists<T>, py::arg("queries"), py::arg("train"), py::arg("metric"),
        py::arg("p"), py::arg("radius"), py::arg("self_query"), py::arg("with_distances"),
        py::arg("sort_by_distance"), py::arg("n_threads"),
        "Training rows within radius of every query: (indptr, indices, distances), CSR; "
        "distances empty unless asked for.");
  m.def("radius_counts", &counts<T>, py::arg("X"), py::arg("metric"), py::arg("p"),
        py::arg("radius"), py::arg("weights"), py::arg("out"), py::arg("n_threads"),
        "out[i] = the rows of X within radius of row i, itself included (their weights' sum "
        "when weights is not empty).");
}

}  // namespace

PYBIND11_MODULE(_radius_fast, m) {
  m.doc() = "Compiled radius search over a kd partition of the rows (fastml/radius.hpp).";
  define<float>(m);
  define<double>(m);
  py::list names;
  for (const char* name : kMetricNames) names.append(name);
  m.attr("METRICS") = py::tuple(names);
}
