// fastml.linear_model._logistic_fast: the logistic loss core of csrc/linear for float32 and
// float64 X (dense, or CSR with int32 or int64 indices). Every shape, label and index is checked
// at entry (the kernels trust them), then the GIL is released. Arrays must already be
// C-contiguous and of one dtype: no argument is converted (fastml.linear_model converts once
// per fit, not once per evaluation).
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>

#include "fastml/binding_checks.hpp"
#include "fastml/logistic.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::dense_view;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::logistic::Csr;
using fastml::logistic::Dense;
using fastml::logistic::index_t;
using fastml::logistic::Model;
using fastml::logistic::Sums;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;
using Optional = std::optional<In<double>>;

// The model of n rows of d features: coef (k x d), intercept (k), y (n) with labels valid for k
// (0 or 1 when k == 1, else integers in [0, k)), optional weights (n) and raw predictions (n x k).
Model model(index_t n, index_t d, const In<double>* y, const Optional& sw, const In<double>& coef,
            const In<double>& intercept, const Optional& raw) {
  require(coef.ndim() == 2 && coef.shape(1) == d && coef.shape(0) >= 1,
          "coef must have shape (k, n_features)");
  const index_t k = coef.shape(0);
  require_shape(intercept, "intercept", {k});
  const double* labels = nullptr;
  if (y) {
    require_shape(*y, "y", {n});
    labels = y->data();
    bool ok = true;
    if (k == 1) {
      for (index_t i = 0; i < n; ++i) ok &= labels[i] >= 0.0 && labels[i] <= 1.0;
      require(ok, "y must lie in [0, 1] for the binomial loss");
    } else {
      for (index_t i = 0; i < n; ++i)
        ok &= labels[i] >= 0.0 && labels[i] < static_cast<double>(k) &&
              labels[i] == std::floor(labels[i]);
      require(ok, "y must hold class indices in [0, k)");
    }
  }
  if (sw) require_shape(*sw, "sample_weight", {n});
  if (raw) require_shape(*raw, "raw_prediction", {n, k});
  return Model{labels, sw ? sw->data() : nullptr, coef.data(), intercept.data(),
               raw ? raw->data() : nullptr, k};
}

template <class X>
py::tuple loss_gradient(const X& x, const In<double>& y, const Optional& sw,
                        const In<double>& coef, const In<double>& intercept, const Optional& raw,
                        int n_threads) {
  const Model m = model(x.n, x.d, &y, sw, coef, intercept, raw);
  require_threads(n_threads);
  py::array_t<double> grad_w({m.k, x.d}), grad_b(m.k);
  Sums sums{0.0, grad_w.mutable_data(), grad_b.mutable_data(), nullptr, 0.0};
  {
    py::gil_scoped_release release;
    fastml::logistic::loss_gradient(x, m, sums, n_threads);
  }
  return py::make_tuple(sums.loss, grad_w, grad_b);
}

template <class X>
py::tuple gradient_hessian(const X& x, const In<double>& y, const Optional& sw,
                           const In<double>& coef, const In<double>& intercept,
                           const Optional& raw, bool fit_intercept, int n_threads) {
  const Model m = model(x.n, x.d, &y, sw, coef, intercept, raw);
  require_threads(n_threads);
  const index_t size = m.k * (x.d + (fit_intercept ? 1 : 0));
  py::array_t<double> grad_w({m.k, x.d}), grad_b(m.k), hessian({size, size});
  Sums sums{0.0, grad_w.mutable_data(), grad_b.mutable_data(), hessian.mutable_data(), 0.0};
  {
    py::gil_scoped_release release;
    fastml::logistic::gradient_hessian(x, m, fit_intercept, sums, n_threads);
  }
  return py::make_tuple(sums.loss, grad_w, grad_b, hessian, sums.nonpositive_weight);
}

template <class X>
py::array_t<double> raw_prediction(const X& x, const In<double>& coef,
                                   const In<double>& intercept, int n_threads) {
  const Model m = model(x.n, x.d, nullptr, std::nullopt, coef, intercept, std::nullopt);
  require_threads(n_threads);
  py::array_t<double> out({x.n, m.k});
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::logistic::raw_prediction(x, m, o, n_threads);
  }
  return out;
}

const char* kLossGradientDoc =
    "(loss, grad_coef, grad_intercept): sums over the rows of sw_i * loss_i and its gradient\n"
    "for the binomial (coef of 1 row) or multinomial (k rows) half loss; raw replaces X coef^T\n"
    "+ intercept when given.";
const char* kHessianDoc =
    "(loss, grad_coef, grad_intercept, hessian, nonpositive_weight): as loss_gradient, plus\n"
    "the Hessian sum in scikit-learn's layout (coefficient (j, c) at j * k + c).";

template <class T>
void define_dense(py::module_& m) {
  m.def("loss_gradient",
        [](const In<T>& X, const In<double>& y, const Optional& sw, const In<double>& coef,
           const In<double>& intercept, const Optional& raw, int n_threads) {
          return loss_gradient(dense_view(X), y, sw, coef, intercept, raw, n_threads);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("coef").noconvert(), py::arg("intercept").noconvert(),
        py::arg("raw_prediction").noconvert(), py::arg("n_threads"), kLossGradientDoc);
  m.def("gradient_hessian",
        [](const In<T>& X, const In<double>& y, const Optional& sw, const In<double>& coef,
           const In<double>& intercept, const Optional& raw, bool fit_intercept, int n_threads) {
          return gradient_hessian(dense_view(X), y, sw, coef, intercept, raw, fit_intercept,
                                  n_threads);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("coef").noconvert(), py::arg("intercept").noconvert(),
        py::arg("raw_prediction").noconvert(), py::arg("fit_intercept"), py::arg("n_threads"),
        kHessianDoc);
  m.def("raw_prediction",
        [](const In<T>& X, const In<double>& coef, const In<double>& intercept, int n_threads) {
          return raw_prediction(dense_view(X), coef, intercept, n_threads);
        },
        py::arg("X").noconvert(), py::arg("coef").noconvert(), py::arg("intercept").noconvert(),
        py::arg("n_threads"), "X @ coef.T + intercept in float64, (n, k).");
}

template <class T, class I>
void define_csr(py::module_& m) {
  m.def("loss_gradient_csr",
        [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
           const In<double>& y, const Optional& sw, const In<double>& coef,
           const In<double>& intercept, const Optional& raw, int n_threads) {
          return loss_gradient(csr_view(indptr, indices, data, n_features), y, sw, coef, intercept,
                               raw, n_threads);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(), py::arg("raw_prediction").noconvert(),
        py::arg("n_threads"), "loss_gradient of a CSR matrix.");
  m.def("gradient_hessian_csr",
        [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
           const In<double>& y, const Optional& sw, const In<double>& coef,
           const In<double>& intercept, const Optional& raw, bool fit_intercept, int n_threads) {
          return gradient_hessian(csr_view(indptr, indices, data, n_features), y, sw, coef, intercept,
                                  raw, fit_intercept, n_threads);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(), py::arg("raw_prediction").noconvert(),
        py::arg("fit_intercept"), py::arg("n_threads"), "gradient_hessian of a CSR matrix.");
  m.def("raw_prediction_csr",
        [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
           const In<double>& coef, const In<double>& intercept, int n_threads) {
          return raw_prediction(csr_view(indptr, indices, data, n_features), coef, intercept,
                                n_threads);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("coef").noconvert(),
        py::arg("intercept").noconvert(), py::arg("n_threads"), "raw_prediction of a CSR matrix.");
}

}  // namespace

PYBIND11_MODULE(_logistic_fast, m) {
  m.doc() = "Logistic loss, gradient and Hessian fused in one pass over X (C++, OpenMP).";
  // float64 first: the common case resolves on the first overload tried.
  define_dense<double>(m);
  define_dense<float>(m);
  define_csr<double, std::int32_t>(m);
  define_csr<double, std::int64_t>(m);
  define_csr<float, std::int32_t>(m);
  define_csr<float, std::int64_t>(m);
  m.def("l1_quadratic_cd",
        [](const In<double>& H, const In<double>& g, const In<double>& w,
           const In<std::uint8_t>& penalised, double l1, double tol, int max_sweeps) {
          require(g.ndim() == 1, "g must be 1-dimensional");
          const index_t p = g.shape(0);
          require_shape(H, "H", {p, p});
          require_shape(w, "w", {p});
          require_shape(penalised, "penalised", {p});
          require(l1 >= 0.0 && tol >= 0.0 && max_sweeps >= 1,
                  "l1 and tol must be >= 0 and max_sweeps >= 1");
          py::array_t<double> d(p);
          double* out = d.mutable_data();
          int sweeps;
          {
            py::gil_scoped_release release;
            sweeps = fastml::logistic::l1_quadratic_cd(H.data(), g.data(), w.data(),
                                                       penalised.data(), p, l1, tol, max_sweeps,
                                                       out);
          }
          return py::make_tuple(d, sweeps);
        },
        py::arg("H").noconvert(), py::arg("g").noconvert(), py::arg("w").noconvert(),
        py::arg("penalised").noconvert(), py::arg("l1"), py::arg("tol"), py::arg("max_sweeps"),
        "(d, sweeps): the proximal Newton step of an l1-penalised quadratic model by cyclic\n"
        "coordinate descent (see fastml/logistic.hpp).");
  m.def("simd_build", &fastml::logistic::simd_target,
        "Instruction-set build of the logistic kernels chosen for this CPU.");
}
