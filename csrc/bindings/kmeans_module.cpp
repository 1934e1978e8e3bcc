// fastml.cluster._kmeans_fast: the k-means cores of csrc/cluster for float32 and float64 arrays.
// Checks every shape and index at entry (the cores trust them), then releases the GIL.
// Arrays must already be C-contiguous and of one dtype (fastml.cluster converts them once): no
// argument is converted, so an output array can never be a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/kmeans.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::kmeans::index_t;
using fastml::kmeans::label_t;
using fastml::kmeans::Points;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

template <class T>
Points<T> points(const In<T>& X, const In<T>& sample_weight) {
  require(X.ndim() == 2, "X must be 2-dimensional");
  require(X.shape(0) > 0 && X.shape(1) > 0, "X must not be empty");
  require_shape(sample_weight, "sample_weight", {X.shape(0)});
  return Points<T>{X.data(), sample_weight.data(), X.shape(0), X.shape(1)};
}

template <class T>
index_t n_centers(const In<T>& centers, index_t d) {
  require(centers.ndim() == 2 && centers.shape(1) == d && centers.shape(0) > 0,
          "centers must have shape (n_clusters, n_features)");
  return centers.shape(0);
}

void require_labels(const label_t* labels, index_t n, index_t k) {
  for (index_t i = 0; i < n; ++i)
    require(labels[i] >= 0 && labels[i] < k, "labels must lie in [0, n_clusters)");
}

template <class T>
py::array_t<std::int64_t> kmeans_plusplus(const In<T>& X, const In<T>& sample_weight,
                                          index_t n_clusters, index_t first,
                                          const In<double>& uniforms, int n_threads) {
  const Points<T> pts = points(X, sample_weight);
  require(n_clusters >= 1 && n_clusters <= pts.n, "n_clusters must lie in [1, n_samples]");
  require(first >= 0 && first < pts.n, "first must index a row of X");
  require(uniforms.ndim() == 2 && uniforms.shape(0) == n_clusters - 1 && uniforms.shape(1) >= 1,
          "uniforms must have shape (n_clusters - 1, n_local_trials)");
  require_threads(n_threads);
  py::array_t<std::int64_t> indices(n_clusters);
  std::int64_t* out = indices.mutable_data();
  const index_t n_trials = uniforms.shape(1);
  {
    py::gil_scoped_release release;
    fastml::kmeans::kmeans_plusplus(pts, n_clusters, first, uniforms.data(), n_trials, out,
                                    n_threads);
  }
  return indices;
}

template <class T>
py::array_t<T> pack_point_panels(const In<T>& X, int n_threads) {
  require(X.ndim() == 2 && X.shape(0) > 0 && X.shape(1) > 0, "X must be 2-dimensional, not empty");
  require_threads(n_threads);
  constexpr index_t L = fastml::kmeans::kPanel<T>;
  const index_t n = X.shape(0), d = X.shape(1);
  py::array_t<T> panels({(n + L - 1) / L, d, L});
  T* out = panels.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::kmeans::pack_point_panels(Points<T>{X.data(), nullptr, n, d}, out, n_threads);
  }
  return panels;
}

template <class T>
index_t lloyd_iteration(const In<T>& X, const In<T>& sample_weight, const In<T>& centers,
                        In<T> centers_new, In<label_t> labels, In<double> center_shift,
                        bool update_centers, int n_threads, const std::optional<In<T>>& X_panels) {
  const Points<T> pts = points(X, sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(centers_new, "centers_new", {k, pts.d});
  require_shape(labels, "labels", {pts.n});
  require_shape(center_shift, "center_shift", {k});
  require_threads(n_threads);
  constexpr index_t L = fastml::kmeans::kPanel<T>;
  if (X_panels)
    require_shape(*X_panels, "X_panels", {(pts.n + L - 1) / L, pts.d, L});
  const T* panels = X_panels ? X_panels->data() : nullptr;
  T* c_new = centers_new.mutable_data();
  label_t* lab = labels.mutable_data();
  double* shift = center_shift.mutable_data();
  py::gil_scoped_release release;
  return fastml::kmeans::lloyd_iteration(pts, panels, centers.data(), k, c_new, lab, shift,
                                         update_centers, n_threads);
}

template <class T>
void elkan_init(const In<T>& X, const In<T>& sample_weight, const In<T>& centers,
                In<label_t> labels, In<T> upper, In<T> lower, int n_threads) {
  const Points<T> pts = points(X, sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(labels, "labels", {pts.n});
  require_shape(upper, "upper_bounds", {pts.n});
  require_shape(lower, "lower_bounds", {pts.n, k});
  require_threads(n_threads);
  label_t* lab = labels.mutable_data();
  T* ub = upper.mutable_data();
  T* lb = lower.mutable_data();
  py::gil_scoped_release release;
  fastml::kmeans::elkan_init(pts, centers.data(), k, lab, ub, lb, n_threads);
}

template <class T>
index_t elkan_iteration(const In<T>& X, const In<T>& sample_weight, const In<T>& centers,
                        In<T> centers_new, In<label_t> labels, In<T> upper, In<T> lower,
                        In<double> center_shift, bool update_centers, int n_threads) {
  const Points<T> pts = points(X, sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(centers_new, "centers_new", {k, pts.d});
  require_shape(labels, "labels", {pts.n});
  require_shape(upper, "upper_bounds", {pts.n});
  require_shape(lower, "lower_bounds", {pts.n, k});
  require_shape(center_shift, "center_shift", {k});
  require_threads(n_threads);
  label_t* lab = labels.mutable_data();
  require_labels(lab, pts.n, k);  // the bounds index their own center
  T* c_new = centers_new.mutable_data();
  T* ub = upper.mutable_data();
  T* lb = lower.mutable_data();
  double* shift = center_shift.mutable_data();
  py::gil_scoped_release release;
  return fastml::kmeans::elkan_iteration(pts, centers.data(), k, c_new, lab, ub, lb, shift,
                                         update_centers, n_threads);
}

template <class T>
double inertia(const In<T>& X, const In<T>& sample_weight, const In<T>& centers,
               const In<label_t>& labels, int n_threads) {
  const Points<T> pts = points(X, sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(labels, "labels", {pts.n});
  require_threads(n_threads);
  require_labels(labels.data(), pts.n, k);
  py::gil_scoped_release release;
  return fastml::kmeans::inertia(pts, centers.data(), k, labels.data(), n_threads);
}

template <class T>
void define_for(py::module_& m) {
  m.def("kmeans_plusplus", &kmeans_plusplus<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("n_clusters"), py::arg("first"), py::arg("uniforms").noconvert(), py::arg("n_threads"),
        "Greedy k-means++ indices; uniforms[(c - 1), t] draws candidate t of center c.");
  m.def("lloyd_iteration", &lloyd_iteration<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(), py::arg("center_shift").noconvert(),
        py::arg("update_centers"), py::arg("n_threads"), py::arg("X_panels").noconvert() = py::none(),
        "One Lloyd iteration in place; returns the number of labels that changed. X_panels: X as\n"
        "pack_point_panels gives it, packed once for all the iterations of a fit (None: packed here).");
  m.def("pack_point_panels", &pack_point_panels<T>, py::arg("X").noconvert(), py::arg("n_threads"),
        "X in panels of 64 bytes of points, feature-major: shape (n_panels, n_features, points per panel).");
  m.def("elkan_init", &elkan_init<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(), py::arg("centers").noconvert(),
        py::arg("labels").noconvert(), py::arg("upper_bounds").noconvert(), py::arg("lower_bounds").noconvert(), py::arg("n_threads"),
        "Labels and distance bounds for Elkan's iterations.");
  m.def("elkan_iteration", &elkan_iteration<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(), py::arg("upper_bounds").noconvert(),
        py::arg("lower_bounds").noconvert(), py::arg("center_shift").noconvert(), py::arg("update_centers"),
        py::arg("n_threads"),
        "One Elkan iteration in place; returns the number of labels that changed.");
  m.def("inertia", &inertia<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(), py::arg("centers").noconvert(),
        py::arg("labels").noconvert(), py::arg("n_threads"),
        "Sum of weighted squared distances of the points to their centers.");
}

}  // namespace

PYBIND11_MODULE(_kmeans_fast, m) {
  m.doc() = "k-means++ seeding, Lloyd and Elkan iterations (C++, OpenMP).";
  define_for<float>(m);
  define_for<double>(m);
  m.def("simd_build", &fastml::kmeans::simd_target,
        "Instruction-set build of the k-means kernels chosen for this CPU.");
}
