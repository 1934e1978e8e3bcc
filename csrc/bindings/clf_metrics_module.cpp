// fastml.metrics._clf_fast: the classification-metric cores of csrc/metrics_clf for integer label
// arrays (int8..int64, uint8..uint64) and float32/float64 scores. Checks every shape and every
// index at entry (the cores trust them), then releases the GIL. Arrays are taken as they are
// (noconvert, C-contiguous): fastml.metrics converts them once.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include "fastml/binding_checks.hpp"
#include "fastml/clf_metrics.hpp"

namespace py = pybind11;
namespace cm = fastml::clf_metrics;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using cm::index_t;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

template <class L>
index_t labels_1d(const In<L>& y, const char* name) {
  require(y.ndim() == 1, std::string(name) + " must be 1-dimensional");
  return y.shape(0);
}

template <class L>
py::tuple label_range(const In<L>& y, int n_threads) {
  const index_t n = labels_1d(y, "y");
  require(n > 0, "y must not be empty");
  require_threads(n_threads);
  L lo, hi;
  {
    py::gil_scoped_release release;
    cm::label_range<L>(y.data(), n, &lo, &hi, n_threads);
  }
  return py::make_tuple(lo, hi);
}

// Flags of the values of y in [lo, lo + n_values); every value must lie there (label_range).
template <class L>
py::array_t<std::uint8_t> label_presence(const In<L>& y, L lo, index_t n_values, int n_threads) {
  const index_t n = labels_1d(y, "y");
  require(n_values >= 1, "n_values must be >= 1");
  require_threads(n_threads);
  py::array_t<std::uint8_t> present(n_values);
  std::uint8_t* out = present.mutable_data();
  bool ok;
  {
    py::gil_scoped_release release;
    ok = cm::label_presence<L>(y.data(), n, lo, n_values, out, n_threads);
  }
  require(ok, "y holds values outside [lo, lo + n_values)");
  return present;
}

// kind "matrix": k x k counts; "sums": 3 x k (tp, true, pred). Weights: None (int64 counts),
// int64 (int64 sums) or float64 (float64 sums).
template <class L>
py::array confusion_counts(const In<L>& y_true, const In<L>& y_pred, const In<std::int32_t>& lut,
                           L offset, index_t k, const py::object& sample_weight,
                           const std::string& kind, int n_threads) {
  const index_t n = labels_1d(y_true, "y_true");
  require_shape(y_pred, "y_pred", {n});
  require(lut.ndim() == 1, "lut must be 1-dimensional");
  require(k >= 1 && k <= INT32_MAX, "k must lie in [1, 2^31)");
  require(kind == "matrix" || kind == "sums", "kind must be 'matrix' or 'sums'");
  require_threads(n_threads);
  const index_t n_lut = lut.shape(0);
  const std::int32_t* table = lut.data();
  for (index_t v = 0; v < n_lut; ++v)
    require(table[v] >= -1 && table[v] < k, "lut values must lie in [-1, k)");
  const cm::CountKind count_kind = kind == "matrix" ? cm::CountKind::matrix : cm::CountKind::sums;
  cm::Weights w{cm::WeightKind::none, nullptr};
  std::optional<In<std::int64_t>> w_int;
  std::optional<In<double>> w_float;
  if (py::isinstance<In<std::int64_t>>(sample_weight)) {
    w_int = sample_weight.cast<In<std::int64_t>>();
    require_shape(*w_int, "sample_weight", {n});
    w = {cm::WeightKind::int64, w_int->data()};
  } else if (py::isinstance<In<double>>(sample_weight)) {
    w_float = sample_weight.cast<In<double>>();
    require_shape(*w_float, "sample_weight", {n});
    w = {cm::WeightKind::float64, w_float->data()};
  } else {
    require(sample_weight.is_none(),
            "sample_weight must be a C-contiguous int64 or float64 array, or None");
  }
  std::vector<py::ssize_t> shape;
  if (count_kind == cm::CountKind::matrix) shape = {k, k}; else shape = {3, k};
  py::array out = w.kind == cm::WeightKind::float64 ? py::array(py::dtype::of<double>(), shape)
                                                    : py::array(py::dtype::of<std::int64_t>(), shape);
  void* data = out.mutable_data();
  {
    py::gil_scoped_release release;
    cm::confusion_counts<L>(y_true.data(), y_pred.data(), n, cm::Encoding<L>{table, n_lut, offset},
                            k, w, count_kind, data, n_threads);
  }
  return out;
}

template <class T>
const std::uint8_t* binary_inputs(const In<T>& score, const In<std::uint8_t>& is_pos,
                                  const std::optional<In<double>>& weight) {
  require(score.ndim() == 1, "y_score must be 1-dimensional");
  const index_t n = score.shape(0);
  require(n > 0, "y_score must not be empty");
  require(n < (index_t{1} << 31), "at most 2^31 - 1 scores");
  require_shape(is_pos, "is_pos", {n});
  if (weight) require_shape(*weight, "sample_weight", {n});
  return is_pos.data();
}

template <class T>
py::tuple threshold_counts(const In<T>& score, const In<std::uint8_t>& is_pos,
                           const std::optional<In<double>>& weight, int n_threads) {
  const std::uint8_t* pos = binary_inputs(score, is_pos, weight);
  require_threads(n_threads);
  const double* w = weight ? weight->data() : nullptr;
  cm::Curve<T> curve;
  {
    py::gil_scoped_release release;
    curve = cm::threshold_counts<T>(score.data(), pos, w, score.shape(0), n_threads);
  }
  auto to_array = [](auto& v) {
    using V = typename std::decay_t<decltype(v)>::value_type;
    py::array_t<V> a(static_cast<py::ssize_t>(v.size()));
    std::copy(v.begin(), v.end(), a.mutable_data());
    return a;
  };
  return py::make_tuple(to_array(curve.fps), to_array(curve.tps), to_array(curve.thresholds));
}

template <class T>
py::tuple roc_auc(const In<T>& score, const In<std::uint8_t>& is_pos,
                  const std::optional<In<double>>& weight, int n_threads) {
  const std::uint8_t* pos = binary_inputs(score, is_pos, weight);
  require_threads(n_threads);
  const double* w = weight ? weight->data() : nullptr;
  double auc, n_pos, n_neg;
  {
    py::gil_scoped_release release;
    auc = cm::roc_auc<T>(score.data(), pos, w, score.shape(0), &n_pos, &n_neg, n_threads);
  }
  return py::make_tuple(auc, n_pos, n_neg);
}

template <class T>
py::array_t<std::int64_t> descending_order(const In<T>& score, int n_threads) {
  require(score.ndim() == 1, "score must be 1-dimensional");
  const index_t n = score.shape(0);
  require(n < (index_t{1} << 31), "at most 2^31 - 1 scores");
  require_threads(n_threads);
  std::vector<std::uint32_t> order;
  {
    py::gil_scoped_release release;
    if (n > 0) order = cm::descending_order<T>(score.data(), n, n_threads);
  }
  py::array_t<std::int64_t> out(n);
  std::copy(order.begin(), order.end(), out.mutable_data());
  return out;
}

template <class T>
py::tuple log_loss_rows(const In<T>& prob, const In<std::int64_t>& code, T eps, T rtol,
                        int n_threads) {
  require(prob.ndim() == 2 && prob.shape(1) >= 1, "y_prob must be 2-dimensional");
  const index_t n = prob.shape(0), m = prob.shape(1);
  require(n > 0, "y_prob must not be empty");
  require_shape(code, "code", {n});
  require_threads(n_threads);
  const std::int64_t* c = code.data();
  for (index_t i = 0; i < n; ++i) require(c[i] >= 0 && c[i] < m, "codes must lie in [0, m)");
  py::array_t<T> loss(n);
  T* out = loss.mutable_data();
  double stats[3];
  {
    py::gil_scoped_release release;
    cm::log_loss_rows<T>(prob.data(), n, m, c, eps, rtol, out, stats, n_threads);
  }
  return py::make_tuple(loss, stats[0], stats[1], static_cast<index_t>(stats[2]));
}

template <class L>
void define_labels(py::module_& m) {
  m.def("label_range", &label_range<L>, py::arg("y").noconvert(), py::arg("n_threads"),
        "(min, max) of a non-empty label array.");
  m.def("label_presence", &label_presence<L>, py::arg("y").noconvert(), py::arg("lo"),
        py::arg("n_values"), py::arg("n_threads"),
        "uint8 flags: present[v - lo] = 1 for each value v of y.");
  m.def("confusion_counts", &confusion_counts<L>, py::arg("y_true").noconvert(),
        py::arg("y_pred").noconvert(), py::arg("lut").noconvert(), py::arg("offset"), py::arg("k"),
        py::arg("sample_weight"), py::arg("kind"), py::arg("n_threads"),
        "Confusion counts of labels encoded by lut[y - offset] (-1: not counted): kind 'matrix'\n"
        "(k x k) or 'sums' (3 x k: tp, true, pred). int64 without weights or with int64 weights,\n"
        "float64 with float64 weights.");
}

template <class T>
void define_scores(py::module_& m) {
  m.def("threshold_counts", &threshold_counts<T>, py::arg("y_score").noconvert(),
        py::arg("is_pos").noconvert(), py::arg("sample_weight").noconvert() = py::none(),
        py::arg("n_threads"),
        "(fps, tps, thresholds) at each distinct score, scores decreasing.");
  m.def("roc_auc", &roc_auc<T>, py::arg("y_score").noconvert(), py::arg("is_pos").noconvert(),
        py::arg("sample_weight").noconvert() = py::none(), py::arg("n_threads"),
        "(area under the ROC curve, positive weight, negative weight); the area is NaN when\n"
        "either weight is 0.");
  m.def("descending_order", &descending_order<T>, py::arg("score").noconvert(),
        py::arg("n_threads"), "Stable descending argsort of the scores (the radix sort).");
  m.def("log_loss_rows", &log_loss_rows<T>, py::arg("y_prob").noconvert(),
        py::arg("code").noconvert(), py::arg("eps"), py::arg("rtol"), py::arg("n_threads"),
        "(per-row loss, max, min, rows whose sum is not close to 1).");
}

}  // namespace

PYBIND11_MODULE(_clf_fast, m) {
  m.doc() = "Confusion counts, radix-sorted threshold sweeps and log loss (C++, OpenMP).";
  define_labels<std::int64_t>(m);
  define_labels<std::int32_t>(m);
  define_labels<std::int16_t>(m);
  define_labels<std::int8_t>(m);
  define_labels<std::uint64_t>(m);
  define_labels<std::uint32_t>(m);
  define_labels<std::uint16_t>(m);
  define_labels<std::uint8_t>(m);
  define_scores<double>(m);
  define_scores<float>(m);
}
