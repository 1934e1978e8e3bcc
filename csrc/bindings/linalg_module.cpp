// fastml._linalg_fast: the weighted Gram core of csrc/linalg for float32 and float64 X (dense in
// any memory order, read-only allowed, or CSR with int32 or int64 indices). Checks every shape,
// stride and index at entry (the cores trust them), then releases the GIL. No argument is
// converted: the caller passes X in its dtype, Y in X's, sample_weight as float64.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>

#include "fastml/binding_checks.hpp"
#include "fastml/gram.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::linalg::Csr;
using fastml::linalg::index_t;
using fastml::linalg::Strided;

namespace {

template <class T>
using Any = py::array_t<T>;  // any strides: X is read in place
template <class T>
using In = py::array_t<T, py::array::c_style>;
using Weights = std::optional<In<double>>;

template <class T>
Strided<T> strided(const Any<T>& M, const char* name) {
  require(M.ndim() == 2, std::string(name) + " must be 2-dimensional");
  const auto item = static_cast<index_t>(sizeof(T));
  require(M.strides(0) % item == 0 && M.strides(1) % item == 0,
          std::string(name) + " has strides that are not whole elements");
  return Strided<T>{M.data(), M.shape(0), M.shape(1), M.strides(0) / item, M.strides(1) / item};
}

template <class T>
Strided<T> no_targets(index_t n) { return Strided<T>{nullptr, n, 0, 0, 0}; }

const double* weights(const Weights& w, index_t n) {
  if (!w) return nullptr;
  require_shape(*w, "sample_weight", {n});
  return w->data();
}

struct Outputs {
  py::array_t<double> G, XtY, x_mean, y_mean;
  Outputs(index_t d, index_t t) : G({d, d}), XtY({d, t}), x_mean(d), y_mean(t) {}
};

template <class Matrix, class T>
Outputs run(const Matrix& X, const Strided<T>& Y, const double* w, bool center, int n_threads) {
  require_threads(n_threads);
  Outputs out(X.d, Y.d);
  double* G = out.G.mutable_data();
  double* XtY = out.XtY.mutable_data();
  double* xm = out.x_mean.mutable_data();
  double* ym = out.y_mean.mutable_data();
  py::gil_scoped_release release;
  fastml::linalg::weighted_gram(X, Y, w, center, G, XtY, xm, ym, n_threads);
  return out;
}

template <class T>
Strided<T> targets(const Any<T>& Y, index_t n) {
  const Strided<T> y = strided(Y, "Y");
  require(y.n == n, "Y must have as many rows as X");
  return y;
}

template <class T>
void define_dense(py::module_& m) {
  m.def(
      "weighted_gram",
      [](const Any<T>& X, const Weights& w, bool center, int n_threads) {
        const Strided<T> x = strided(X, "X");
        Outputs o = run(x, no_targets<T>(x.n), weights(w, x.n), center, n_threads);
        return py::make_tuple(o.G, o.x_mean);
      },
      py::arg("X").noconvert(), py::arg("sample_weight").noconvert(), py::arg("center"),
      py::arg("n_threads"),
      "(G, mean): G = (X - mean)^T diag(w) (X - mean), float64 (d, d) symmetric; mean the\n"
      "weighted column mean (zeros when center is False). Any memory order; float64 sums.");
  m.def(
      "weighted_gram_xty",
      [](const Any<T>& X, const Any<T>& Y, const Weights& w, bool center, int n_threads) {
        const Strided<T> x = strided(X, "X");
        Outputs o = run(x, targets(Y, x.n), weights(w, x.n), center, n_threads);
        return py::make_tuple(o.G, o.XtY, o.x_mean, o.y_mean);
      },
      py::arg("X").noconvert(), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
      py::arg("center"), py::arg("n_threads"),
      "(G, XtY, x_mean, y_mean) in one pass over X: XtY = (X - x_mean)^T diag(w) (Y - y_mean),\n"
      "float64 (d, t); Y of shape (n, t) in X's dtype.");
}

template <class T, class I>
void define_csr(py::module_& m) {
  m.def(
      "weighted_gram_csr",
      [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
         const Weights& w, bool center, int n_threads) {
        const Csr<T, I> x = csr_view(indptr, indices, data, n_features);
        Outputs o = run(x, no_targets<T>(x.n), weights(w, x.n), center, n_threads);
        return py::make_tuple(o.G, o.x_mean);
      },
      py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
      py::arg("n_features"), py::arg("sample_weight").noconvert(), py::arg("center"),
      py::arg("n_threads"),
      "weighted_gram of a CSR matrix: X^T W X - S mean mean^T in float64 when centering.");
  m.def(
      "weighted_gram_xty_csr",
      [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
         const Any<T>& Y, const Weights& w, bool center, int n_threads) {
        const Csr<T, I> x = csr_view(indptr, indices, data, n_features);
        Outputs o = run(x, targets(Y, x.n), weights(w, x.n), center, n_threads);
        return py::make_tuple(o.G, o.XtY, o.x_mean, o.y_mean);
      },
      py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data").noconvert(),
      py::arg("n_features"), py::arg("Y").noconvert(), py::arg("sample_weight").noconvert(),
      py::arg("center"), py::arg("n_threads"), "weighted_gram_xty of a CSR matrix.");
}

}  // namespace

PYBIND11_MODULE(_linalg_fast, m) {
  m.doc() = "Weighted Gram matrices (and X^T W Y) of dense or CSR X (C++, OpenMP).";
  define_dense<double>(m);
  define_dense<float>(m);
  define_csr<double, std::int32_t>(m);
  define_csr<double, std::int64_t>(m);
  define_csr<float, std::int32_t>(m);
  define_csr<float, std::int64_t>(m);
  m.def("simd_build", &fastml::linalg::simd_target,
        "Instruction-set build of the dense Gram kernel chosen for this CPU.");
}
