// fastml.linear_model._sgd_fast: one epoch of plain SGD (csrc/linear/sgd.cpp) over float32 or
// float64 X (dense, or CSR with int32 or int64 indices). Every shape, index and row order is
// checked at entry (the epoch trusts them), then the GIL is released. Arrays are never converted:
// the estimator converts once per fit, and the in/out arrays (index, coef, average_coef, q) must
// be updated in place.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "fastml/binding_checks.hpp"
#include "fastml/sgd.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::dense_view;
using fastml::bindings::require_shape;
using namespace fastml::sgd;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

template <class T>
T* optional_vector(std::optional<In<T>>& a, const char* name, index_t d) {
  if (!a) return nullptr;
  require_shape(*a, name, {d});
  return a->mutable_data();
}

template <class T, class X>
EpochSums run(const X& x, const In<T>& y, const In<T>& sw, const In<std::uint8_t>& validation,
              In<std::int32_t>& index, In<T>& coef, std::optional<In<T>>& average_coef,
              std::optional<In<T>>& q, State& state, const Options& opt) {
  require_shape(y, "y", {x.n});
  require_shape(sw, "sample_weight", {x.n});
  require_shape(validation, "validation_mask", {x.n});
  require_shape(index, "index", {x.n});
  require_shape(coef, "coef", {x.d});
  require(x.n <= INT32_MAX, "more than 2**31 - 1 rows");
  const Weights<T> w{coef.mutable_data(), optional_vector(average_coef, "average_coef", x.d),
                     optional_vector(q, "q", x.d), x.d};
  require(opt.average == 0 || w.aw, "averaging needs average_coef");
  require(!(opt.penalty == kL1 || opt.penalty == kElasticNet) || w.q, "an L1 penalty needs q");
  std::int32_t* order = index.mutable_data();
  // a permutation of the rows: every row once (the epoch indexes y, X and the mask by it)
  std::vector<char> seen(x.n, 0);
  bool permutation = true;
  for (index_t i = 0; i < x.n; ++i) {
    const std::int32_t r = order[i];
    permutation &= r >= 0 && r < x.n && !seen[r];
    if (r >= 0 && r < x.n) seen[r] = 1;
  }
  require(permutation, "index must be a permutation of the rows");
  py::gil_scoped_release release;
  return epoch(x, y.data(), sw.data(), validation.data(), order, w, state, opt);
}

const char* kEpochDoc =
    "One SGD epoch in scikit-learn's _plain_sgd arithmetic: shuffles `index` in place (when\n"
    "options.shuffle), updates coef, average_coef and q in place and `state`; returns the\n"
    "epoch's sums (loss, objective, nonfinite).";

template <class T>
void define_dtype(py::module_& m) {
  m.def("epoch",
        [](const In<T>& X, const In<T>& y, const In<T>& sw, const In<std::uint8_t>& validation,
           In<std::int32_t>& index, In<T>& coef, std::optional<In<T>> average_coef,
           std::optional<In<T>> q, State& state, const Options& opt) {
          return run(dense_view(X), y, sw, validation, index, coef, average_coef, q, state, opt);
        },
        py::arg("X").noconvert(), py::arg("y").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("validation_mask").noconvert(), py::arg("index").noconvert(),
        py::arg("coef").noconvert(), py::arg("average_coef").noconvert(),
        py::arg("q").noconvert(), py::arg("state"), py::arg("options"), kEpochDoc);
  m.def("reset_scale",
        [](In<T>& coef, std::optional<In<T>> average_coef, State& state) {
          const index_t d = coef.ndim() == 1 ? coef.shape(0) : -1;
          require(d >= 0, "coef must be 1-dimensional");
          reset_scale(Weights<T>{coef.mutable_data(),
                                 optional_vector(average_coef, "average_coef", d), nullptr, d},
                      state);
        },
        py::arg("coef").noconvert(), py::arg("average_coef").noconvert(), py::arg("state"),
        "Folds state.wscale (and the averaging scalars) into coef and average_coef.");
  m.def("init_norms",
        [](In<T>& coef, State& state) {
          require(coef.ndim() == 1, "coef must be 1-dimensional");
          init_norms(Weights<T>{coef.mutable_data(), nullptr, nullptr, coef.shape(0)}, state);
        },
        py::arg("coef").noconvert(), py::arg("state"),
        "Sets state.sq_norm and state.l1_norm from coef.");
}

template <class T, class I>
void define_csr(py::module_& m) {
  m.def("epoch_csr",
        [](const In<I>& indptr, const In<I>& indices, const In<T>& data, index_t n_features,
           const In<T>& y, const In<T>& sw, const In<std::uint8_t>& validation,
           In<std::int32_t>& index, In<T>& coef, std::optional<In<T>> average_coef,
           std::optional<In<T>> q, State& state, const Options& opt) {
          return run(csr_view(indptr, indices, data, n_features), y, sw, validation, index, coef,
                     average_coef, q, state, opt);
        },
        py::arg("indptr").noconvert(), py::arg("indices").noconvert(),
        py::arg("data").noconvert(), py::arg("n_features"), py::arg("y").noconvert(),
        py::arg("sample_weight").noconvert(), py::arg("validation_mask").noconvert(),
        py::arg("index").noconvert(), py::arg("coef").noconvert(),
        py::arg("average_coef").noconvert(), py::arg("q").noconvert(), py::arg("state"),
        py::arg("options"), "epoch over a CSR matrix.");
}

}  // namespace

PYBIND11_MODULE(_sgd_fast, m) {
  m.doc() = "Plain SGD epochs for linear models in scikit-learn's arithmetic (C++).";
  py::enum_<Loss>(m, "Loss")
      .value("hinge", Loss::hinge)
      .value("squared_hinge", Loss::squared_hinge)
      .value("modified_huber", Loss::modified_huber)
      .value("log_loss", Loss::log_loss)
      .value("squared_error", Loss::squared_error)
      .value("huber", Loss::huber)
      .value("epsilon_insensitive", Loss::epsilon_insensitive)
      .value("squared_epsilon_insensitive", Loss::squared_epsilon_insensitive);
  py::class_<Options>(m, "Options")
      .def(py::init<>())
      .def_readwrite("loss", &Options::loss)
      .def_readwrite("loss_parameter", &Options::loss_parameter)
      .def_readwrite("penalty", &Options::penalty)
      .def_readwrite("alpha", &Options::alpha)
      .def_readwrite("l1_ratio", &Options::l1_ratio)
      .def_readwrite("schedule", &Options::schedule)
      .def_readwrite("eta0", &Options::eta0)
      .def_readwrite("power_t", &Options::power_t)
      .def_readwrite("optimal_init", &Options::optimal_init)
      .def_readwrite("fit_intercept", &Options::fit_intercept)
      .def_readwrite("weight_pos", &Options::weight_pos)
      .def_readwrite("weight_neg", &Options::weight_neg)
      .def_readwrite("intercept_decay", &Options::intercept_decay)
      .def_readwrite("average", &Options::average)
      .def_readwrite("track_objective", &Options::track_objective)
      .def_readwrite("shuffle", &Options::shuffle)
      .def_readwrite("seed", &Options::seed);
  py::class_<State>(m, "State")
      .def(py::init<>())
      .def_readwrite("intercept", &State::intercept)
      .def_readwrite("average_intercept", &State::average_intercept)
      .def_readwrite("wscale", &State::wscale)
      .def_readwrite("average_a", &State::average_a)
      .def_readwrite("average_b", &State::average_b)
      .def_readwrite("sq_norm", &State::sq_norm)
      .def_readwrite("l1_norm", &State::l1_norm)
      .def_readwrite("u", &State::u)
      .def_readwrite("t", &State::t)
      .def_readwrite("eta", &State::eta);
  py::class_<EpochSums>(m, "EpochSums")
      .def_readonly("loss", &EpochSums::loss)
      .def_readonly("objective", &EpochSums::objective)
      .def_readonly("nonfinite", &EpochSums::nonfinite);
  define_dtype<double>(m);
  define_dtype<float>(m);
  define_csr<double, std::int32_t>(m);
  define_csr<double, std::int64_t>(m);
  define_csr<float, std::int32_t>(m);
  define_csr<float, std::int64_t>(m);
  m.def("loss_gradient", &loss_gradient, py::arg("loss"), py::arg("parameter"), py::arg("y"),
        py::arg("p"), "The loss's derivative in p (the optimal schedule's first step).");
}
