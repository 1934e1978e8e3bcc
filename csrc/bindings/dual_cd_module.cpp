// fastml.linear_model._dual_cd_fast: liblinear's dual coordinate descent (csrc/linear/dual_cd.cpp)
// over float64 X, dense or CSR with int32 indices. Shapes, row indices, signs and bounds are
// checked at entry (the solver trusts them), then the GIL is released. The random stream is a
// Generator object so that one-vs-rest fits draw from one stream in turn, as liblinear does.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>

#include "fastml/binding_checks.hpp"
#include "fastml/dual_cd.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::dense_view;
using fastml::bindings::require_shape;
using namespace fastml::dual_cd;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

// rows (l) index X's rows; C (l) positive; returns the problem and checks the shared arguments.
Problem problem(index_t n, const In<std::int32_t>& rows, const In<double>& C, double bias,
                bool squared, double eps, std::int64_t max_iter) {
  require(rows.ndim() == 1, "rows must be 1-dimensional");
  const index_t l = rows.shape(0);
  require_shape(C, "C", {l});
  bool ok = true;
  for (index_t k = 0; k < l; ++k) ok &= rows.data()[k] >= 0 && rows.data()[k] < n;
  require(ok, "rows must index X's rows");
  for (index_t k = 0; k < l; ++k) ok &= C.data()[k] > 0;
  require(ok, "C must be positive");
  require(max_iter >= 0, "max_iter must be >= 0");
  return Problem{C.data(), bias, squared, eps, max_iter};
}

template <class X>
py::tuple run_svc(const X& x, const In<std::int32_t>& rows, const In<std::int8_t>& sign,
                  const In<double>& C, double bias, bool squared, double eps,
                  std::int64_t max_iter, Rng& rng) {
  const Problem pb = problem(x.n, rows, C, bias, squared, eps, max_iter);
  const index_t l = rows.shape(0);
  require_shape(sign, "sign", {l});
  bool ok = true;
  for (index_t k = 0; k < l; ++k) ok &= sign.data()[k] == 1 || sign.data()[k] == -1;
  require(ok, "sign must hold -1 or +1");
  py::array_t<double> w(x.d + (bias >= 0 ? 1 : 0));
  std::int64_t n_iter;
  {
    py::gil_scoped_release release;
    n_iter = svc(x, rows.data(), sign.data(), l, pb, rng, w.mutable_data());
  }
  return py::make_tuple(w, n_iter);
}

template <class X>
py::tuple run_svr(const X& x, const In<double>& y, double p, const In<std::int32_t>& rows,
                  const In<double>& C, double bias, bool squared, double eps,
                  std::int64_t max_iter, Rng& rng) {
  const Problem pb = problem(x.n, rows, C, bias, squared, eps, max_iter);
  require_shape(y, "y", {x.n});
  py::array_t<double> w(x.d + (bias >= 0 ? 1 : 0));
  std::int64_t n_iter;
  {
    py::gil_scoped_release release;
    n_iter = svr(x, y.data(), p, rows.shape(0), rows.data(), pb, rng, w.mutable_data());
  }
  return py::make_tuple(w, n_iter);
}

}  // namespace

PYBIND11_MODULE(_dual_cd_fast, m) {
  m.doc() = "liblinear's dual coordinate descent for linear SVMs (C++).";
  py::class_<Rng>(m, "Generator")
      .def(py::init<std::uint32_t>(), py::arg("seed"))
      .def("below", &Rng::below, py::arg("range"), "A draw in [0, range), as liblinear's.");
  const char* svc_doc =
      "(w, n_iter): the classifier on X[rows] with signs and bounds C, w of n_features (+1\n"
      "for the bias column when bias >= 0).";
  const char* svr_doc = "(w, n_iter): the regressor on X[rows], targets y, tube half-width p.";
  m.def("svc", [](const In<double>& X, const In<std::int32_t>& rows, const In<std::int8_t>& sign,
                  const In<double>& C, double bias, bool squared, double eps,
                  std::int64_t max_iter, Rng& rng) {
          return run_svc(dense_view(X), rows, sign, C, bias, squared, eps, max_iter, rng);
        },
        py::arg("X").noconvert(), py::arg("rows").noconvert(), py::arg("sign").noconvert(),
        py::arg("C").noconvert(), py::arg("bias"), py::arg("squared"), py::arg("eps"),
        py::arg("max_iter"), py::arg("rng"), svc_doc);
  m.def("svc_csr", [](const In<std::int32_t>& indptr, const In<std::int32_t>& indices,
                      const In<double>& data, index_t n_features, const In<std::int32_t>& rows,
                      const In<std::int8_t>& sign, const In<double>& C, double bias,
                      bool squared, double eps, std::int64_t max_iter, Rng& rng) {
          return run_svc(csr_view(indptr, indices, data, n_features), rows, sign, C, bias, squared,
                         eps, max_iter, rng);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("rows").noconvert(),
        py::arg("sign").noconvert(), py::arg("C").noconvert(), py::arg("bias"),
        py::arg("squared"), py::arg("eps"), py::arg("max_iter"), py::arg("rng"), svc_doc);
  m.def("svr", [](const In<double>& X, const In<double>& y, double p,
                  const In<std::int32_t>& rows, const In<double>& C, double bias, bool squared,
                  double eps, std::int64_t max_iter, Rng& rng) {
          return run_svr(dense_view(X), y, p, rows, C, bias, squared, eps, max_iter, rng);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("p"),
        py::arg("rows").noconvert(), py::arg("C").noconvert(), py::arg("bias"),
        py::arg("squared"), py::arg("eps"), py::arg("max_iter"), py::arg("rng"), svr_doc);
  m.def("svr_csr", [](const In<std::int32_t>& indptr, const In<std::int32_t>& indices,
                      const In<double>& data, index_t n_features, const In<double>& y, double p,
                      const In<std::int32_t>& rows, const In<double>& C, double bias,
                      bool squared, double eps, std::int64_t max_iter, Rng& rng) {
          return run_svr(csr_view(indptr, indices, data, n_features), y, p, rows, C, bias, squared,
                         eps, max_iter, rng);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("y").noconvert(),
        py::arg("p"), py::arg("rows").noconvert(), py::arg("C").noconvert(), py::arg("bias"),
        py::arg("squared"), py::arg("eps"), py::arg("max_iter"), py::arg("rng"), svr_doc);
}
