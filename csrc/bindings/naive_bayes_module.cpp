// fastml.naive_bayes._nb_fast: the naive Bayes cores of csrc/naive_bayes for float32 and float64
// data (CSR with int32 or int64 indices; CategoricalNB's codes as int64). Checks every shape,
// label, index and category code at entry (the cores trust them), then releases the GIL.
// Arrays must already be C-contiguous and of one dtype (fastml.naive_bayes converts them once):
// no argument is converted, so an output array can never be a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "fastml/binding_checks.hpp"
#include "fastml/naive_bayes.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::dense_view;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::naive_bayes::Csr;
using fastml::naive_bayes::Dense;
using fastml::naive_bayes::index_t;
using fastml::naive_bayes::label_t;
using fastml::naive_bayes::Labels;
using fastml::naive_bayes::Output;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;
using Weights = std::optional<In<double>>;
using Codes = In<std::int64_t>;

Labels labels(const std::optional<In<label_t>>& y, const Weights& w, index_t n, index_t n_classes) {
  require(n_classes >= 1, "n_classes must be >= 1");
  const label_t* labels = nullptr;
  if (y) {
    require_shape(*y, "y", {n});
    labels = y->data();
    for (index_t i = 0; i < n; ++i)
      require(labels[i] >= 0 && labels[i] < n_classes, "y must lie in [0, n_classes)");
  } else {
    require(n_classes == 1, "without y every row is in class 0: n_classes must be 1");
  }
  if (w) require_shape(*w, "sample_weight", {n});
  return Labels{labels, w ? w->data() : nullptr, n_classes};
}

Output output(int what) {
  require(what >= 0 && what <= 2, "output must be 0 (joint), 1 (log_proba) or 2 (proba)");
  return static_cast<Output>(what);
}

const double* optional_value(const std::optional<double>& v) { return v ? &*v : nullptr; }

// Offsets of each feature's categories in the flat count and log-probability arrays.
std::vector<index_t> category_offsets(const Codes& n_categories, index_t d) {
  require_shape(n_categories, "n_categories", {d});
  std::vector<index_t> offsets(static_cast<std::size_t>(d + 1), 0);
  for (index_t f = 0; f < d; ++f) {
    require(n_categories.data()[f] >= 1, "n_categories must be >= 1");
    offsets[f + 1] = offsets[f] + n_categories.data()[f];
  }
  return offsets;
}

// Codes out of range raise IndexError with NumPy's words (scikit-learn indexes the log
// probabilities of feature f with them): an unknown category at prediction.
void require_codes(const Dense<std::int64_t>& X, const std::vector<index_t>& offsets) {
  for (index_t i = 0; i < X.n; ++i)
    for (index_t f = 0; f < X.d; ++f) {
      const std::int64_t v = X.x[i * X.d + f];
      const index_t size = offsets[f + 1] - offsets[f];
      if (v < 0 || v >= size)
        throw py::index_error("index " + std::to_string(v) +
                              " is out of bounds for axis 1 with size " + std::to_string(size));
    }
}

py::array_t<double> matrix(index_t rows, index_t cols) {
  return py::array_t<double>({rows, cols});
}

template <class T>
py::tuple count_features_dense(const In<T>& X, const In<label_t>& y, const Weights& w,
                               index_t n_classes, std::optional<double> threshold, int n_threads) {
  const Dense<T> x = dense_view(X);
  const Labels lab = labels(y, w, x.n, n_classes);
  require_threads(n_threads);
  py::array_t<double> class_count(n_classes);
  py::array_t<double> feature_count = matrix(n_classes, x.d);
  double* cc = class_count.mutable_data();
  double* fc = feature_count.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::count_features(x, lab, optional_value(threshold), cc, fc, n_threads);
  }
  return py::make_tuple(class_count, feature_count);
}

template <class T, class I>
py::tuple count_features_csr(const In<I>& indptr, const In<I>& indices, const In<T>& data,
                             index_t n_features, const In<label_t>& y, const Weights& w,
                             index_t n_classes, std::optional<double> threshold, int n_threads) {
  const Csr<T, I> x = csr_view(indptr, indices, data, n_features);
  const Labels lab = labels(y, w, x.n, n_classes);
  require_threads(n_threads);
  py::array_t<double> class_count(n_classes);
  py::array_t<double> feature_count = matrix(n_classes, x.d);
  double* cc = class_count.mutable_data();
  double* fc = feature_count.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::count_features(x, lab, optional_value(threshold), cc, fc, n_threads);
  }
  return py::make_tuple(class_count, feature_count);
}

template <class T>
py::tuple gaussian_stats(const In<T>& X, const std::optional<In<label_t>>& y, const Weights& w,
                         index_t n_classes, int n_threads) {
  const Dense<T> x = dense_view(X);
  const Labels lab = labels(y, w, x.n, n_classes);
  require_threads(n_threads);
  py::array_t<double> weight(n_classes);
  py::array_t<double> mean = matrix(n_classes, x.d), var = matrix(n_classes, x.d);
  double* pw = weight.mutable_data();
  double* pm = mean.mutable_data();
  double* pv = var.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::gaussian_stats(x, lab, pw, pm, pv, n_threads);
  }
  return py::make_tuple(weight, mean, var);
}

py::tuple count_categories(const Codes& X, const In<label_t>& y, const Weights& w,
                           index_t n_classes, const Codes& n_categories, int n_threads) {
  const Dense<std::int64_t> x = dense_view(X);
  const Labels lab = labels(y, w, x.n, n_classes);
  const std::vector<index_t> offsets = category_offsets(n_categories, x.d);
  require_codes(x, offsets);
  require_threads(n_threads);
  py::array_t<double> class_count(n_classes);
  py::array_t<double> counts = matrix(n_classes, offsets[x.d]);
  double* cc = class_count.mutable_data();
  double* pc = counts.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::count_categories(x, lab, offsets.data(), cc, pc, n_threads);
  }
  return py::make_tuple(class_count, counts);
}

// The model of a linear likelihood: coef (n_classes x n_features) and bias (n_classes).
index_t linear_classes(const In<double>& coef, const In<double>& bias, index_t n_features) {
  require(coef.ndim() == 2 && coef.shape(1) == n_features && coef.shape(0) >= 1,
          "coef must have shape (n_classes, n_features)");
  require_shape(bias, "bias", {coef.shape(0)});
  return coef.shape(0);
}

template <class T>
py::array_t<double> linear_jll_dense(const In<T>& X, const In<double>& coef,
                                     const In<double>& bias, std::optional<double> threshold,
                                     int what, int n_threads) {
  const Dense<T> x = dense_view(X);
  const index_t k = linear_classes(coef, bias, x.d);
  const Output out_kind = output(what);
  require_threads(n_threads);
  py::array_t<double> out = matrix(x.n, k);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::linear_jll(x, coef.data(), bias.data(), k, optional_value(threshold),
                                    out_kind, o, n_threads);
  }
  return out;
}

template <class T, class I>
py::array_t<double> linear_jll_csr(const In<I>& indptr, const In<I>& indices, const In<T>& data,
                                   index_t n_features, const In<double>& coef,
                                   const In<double>& bias, std::optional<double> threshold,
                                   int what, int n_threads) {
  const Csr<T, I> x = csr_view(indptr, indices, data, n_features);
  const index_t k = linear_classes(coef, bias, x.d);
  const Output out_kind = output(what);
  require_threads(n_threads);
  py::array_t<double> out = matrix(x.n, k);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::linear_jll(x, coef.data(), bias.data(), k, optional_value(threshold),
                                    out_kind, o, n_threads);
  }
  return out;
}

template <class T>
py::array_t<double> gaussian_jll(const In<T>& X, const In<double>& theta, const In<double>& var,
                                 const In<double>& constant, const In<double>& log_prior,
                                 int what, int n_threads) {
  const Dense<T> x = dense_view(X);
  require(theta.ndim() == 2 && theta.shape(1) == x.d && theta.shape(0) >= 1,
          "theta must have shape (n_classes, n_features)");
  const index_t k = theta.shape(0);
  require_shape(var, "var", {k, x.d});
  require_shape(constant, "constant", {k});
  require_shape(log_prior, "log_prior", {k});
  const Output out_kind = output(what);
  require_threads(n_threads);
  py::array_t<double> out = matrix(x.n, k);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::gaussian_jll(x, theta.data(), var.data(), constant.data(),
                                      log_prior.data(), k, out_kind, o, n_threads);
  }
  return out;
}

py::array_t<double> categorical_jll(const Codes& X, const In<double>& log_prob,
                                    const Codes& n_categories, const In<double>& log_prior,
                                    int what, int n_threads) {
  const Dense<std::int64_t> x = dense_view(X);
  const std::vector<index_t> offsets = category_offsets(n_categories, x.d);
  require(log_prob.ndim() == 2 && log_prob.shape(0) == offsets[x.d] && log_prob.shape(1) >= 1,
          "log_prob must have shape (total categories, n_classes)");
  const index_t k = log_prob.shape(1);
  require_shape(log_prior, "log_prior", {k});
  const Output out_kind = output(what);
  require_threads(n_threads);
  require_codes(x, offsets);
  py::array_t<double> out = matrix(x.n, k);
  double* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::naive_bayes::categorical_jll(x, log_prob.data(), offsets.data(), log_prior.data(), k,
                                         out_kind, o, n_threads);
  }
  return out;
}

void normalize_rows(In<double> jll, int what, int n_threads) {
  require(jll.ndim() == 2, "jll must be 2-dimensional");
  const Output out_kind = output(what);
  require_threads(n_threads);
  double* p = jll.mutable_data();
  const index_t n = jll.shape(0), k = jll.shape(1);
  py::gil_scoped_release release;
  fastml::naive_bayes::normalize_rows(p, n, k, out_kind, n_threads);
}

template <class T>
void define_dense(py::module_& m) {
  m.def("count_features", &count_features_dense<T>, py::arg("X").noconvert(),
        py::arg("y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("n_classes"),
        py::arg("threshold"), py::arg("n_threads"),
        "(class_count, feature_count): weights and weighted feature sums per class, float64;\n"
        "threshold binarizes X (x > threshold) as BernoulliNB does.");
  m.def("gaussian_stats", &gaussian_stats<T>, py::arg("X").noconvert(), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("n_classes"), py::arg("n_threads"),
        "(weight, mean, var) per class, float64; y None: one class of every row.");
  m.def("linear_jll", &linear_jll_dense<T>, py::arg("X").noconvert(), py::arg("coef").noconvert(),
        py::arg("bias").noconvert(), py::arg("threshold"), py::arg("output"), py::arg("n_threads"),
        "X @ coef.T + bias per row (x binarized with threshold), then normalised by output:\n"
        "0 joint log-likelihood, 1 log probabilities, 2 probabilities.");
  m.def("gaussian_jll", &gaussian_jll<T>, py::arg("X").noconvert(), py::arg("theta").noconvert(),
        py::arg("var").noconvert(), py::arg("constant").noconvert(),
        py::arg("log_prior").noconvert(), py::arg("output"), py::arg("n_threads"),
        "log_prior + (constant - 0.5 * sum((x - theta)^2 / var)) per row and class, normalised\n"
        "by output as linear_jll.");
}

template <class T, class I>
void define_csr(py::module_& m) {
  m.def("count_features_csr", &count_features_csr<T, I>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("n_features"),
        py::arg("y").noconvert(), py::arg("sample_weight").noconvert(), py::arg("n_classes"),
        py::arg("threshold"), py::arg("n_threads"), "count_features of a CSR matrix.");
  m.def("linear_jll_csr", &linear_jll_csr<T, I>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("n_features"),
        py::arg("coef").noconvert(), py::arg("bias").noconvert(), py::arg("threshold"),
        py::arg("output"), py::arg("n_threads"), "linear_jll of a CSR matrix.");
}

}  // namespace

PYBIND11_MODULE(_nb_fast, m) {
  m.doc() = "Naive Bayes counts, Gaussian moments and joint log-likelihoods (C++, OpenMP).";
  // float64 first: the common case resolves on the first overload tried.
  define_dense<double>(m);
  define_dense<float>(m);
  define_csr<double, std::int32_t>(m);
  define_csr<double, std::int64_t>(m);
  define_csr<float, std::int32_t>(m);
  define_csr<float, std::int64_t>(m);
  m.def("count_categories", &count_categories, py::arg("X").noconvert(), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("n_classes"),
        py::arg("n_categories").noconvert(), py::arg("n_threads"),
        "(class_count, counts): counts[c, offset[f] + x_f] of class c (n_classes x total).");
  m.def("categorical_jll", &categorical_jll, py::arg("X").noconvert(),
        py::arg("log_prob").noconvert(), py::arg("n_categories").noconvert(),
        py::arg("log_prior").noconvert(), py::arg("output"), py::arg("n_threads"),
        "sum_f log_prob[offset[f] + x_f] + log_prior per row, normalised by output.");
  m.def("normalize_rows", &normalize_rows, py::arg("jll").noconvert(), py::arg("output"),
        py::arg("n_threads"), "Rows of joint log-likelihoods normalised in place (output 1 or 2).");
  m.def("simd_build", &fastml::naive_bayes::simd_target,
        "Instruction-set build of the likelihood kernels chosen for this CPU.");
}
