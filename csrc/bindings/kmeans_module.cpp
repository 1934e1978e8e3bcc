// fastml.cluster._kmeans_fast: the k-means cores of csrc/cluster for float32 and float64 arrays.
// Checks every shape and index at entry (the cores trust them), then releases the GIL.
// Arrays must already be C-contiguous and of one dtype (fastml.cluster converts them once): no
// argument is converted, so an output array can never be a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <optional>
#include <vector>
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
using fastml::kmeans::Csr;
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

// ---- CSR input ------------------------------------------------------------------------------

// A CSR matrix checked once (it is passed to every iteration of a fit): require_csr's checks, and
// every column index at most once in its row (the kernels sum squared norms from the stored
// values). Holds the arrays.
template <class T>
struct CsrInput {
  In<T> data;
  In<std::int32_t> indices;
  In<std::int32_t> indptr;
  index_t n, d;

  CsrInput(In<T> data_, In<std::int32_t> indices_, In<std::int32_t> indptr_, index_t n_features)
      : data(std::move(data_)), indices(std::move(indices_)), indptr(std::move(indptr_)),
        n(0), d(n_features) {
    require(d > 0, "X must not be empty");
    n = fastml::bindings::require_csr(indptr, indices, d, &data);
    require(n >= 1, "X must not be empty");
    const std::int32_t* ptr = indptr.data();
    const std::int32_t* idx = indices.data();
    bool unique = true;
    {
      py::gil_scoped_release release;
      std::vector<index_t> seen(static_cast<std::size_t>(d), -1);  // the last row that had column f
      for (index_t i = 0; i < n && unique; ++i)
        for (std::int32_t v = ptr[i]; v < ptr[i + 1]; ++v) {
          unique &= seen[idx[v]] != i;
          seen[idx[v]] = i;
        }
    }
    require(unique, "a column must appear at most once in a row (sum the duplicates first)");
  }
  Csr<T> view(const In<T>& sample_weight) const {
    require_shape(sample_weight, "sample_weight", {n});
    return Csr<T>{data.data(), indices.data(), indptr.data(), sample_weight.data(), n, d};
  }
};

// The kernels' view of X, dense rows or a csr_input, with its sample weights: the functions that
// take either are written once over it.
template <class T>
Points<T> view(const In<T>& X, const In<T>& sample_weight) {
  return points(X, sample_weight);
}
template <class T>
Csr<T> view(const CsrInput<T>& X, const In<T>& sample_weight) {
  return X.view(sample_weight);
}
template <class Rows> struct ValueOf;
template <class T> struct ValueOf<In<T>> { using type = T; };
template <class T> struct ValueOf<CsrInput<T>> { using type = T; };

template <class Rows, class T = typename ValueOf<Rows>::type>
py::array_t<std::int64_t> kmeans_plusplus(const Rows& X, const In<T>& sample_weight,
                                          index_t n_clusters, index_t first,
                                          const In<double>& uniforms, int n_threads) {
  const auto pts = view(X, sample_weight);
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

template <class Rows, class T = typename ValueOf<Rows>::type>
void elkan_init(const Rows& X, const In<T>& sample_weight, const In<T>& centers,
                In<label_t> labels, In<T> upper, In<T> lower, int n_threads) {
  const auto pts = view(X, sample_weight);
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

template <class Rows, class T = typename ValueOf<Rows>::type>
index_t elkan_iteration(const Rows& X, const In<T>& sample_weight, const In<T>& centers,
                        In<T> centers_new, In<label_t> labels, In<T> upper, In<T> lower,
                        In<double> center_shift, bool update_centers, int n_threads) {
  const auto pts = view(X, sample_weight);
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

template <class Rows, class T = typename ValueOf<Rows>::type>
double inertia(const Rows& X, const In<T>& sample_weight, const In<T>& centers,
               const In<label_t>& labels, int n_threads) {
  const auto pts = view(X, sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(labels, "labels", {pts.n});
  require_threads(n_threads);
  require_labels(labels.data(), pts.n, k);
  py::gil_scoped_release release;
  return fastml::kmeans::inertia(pts, centers.data(), k, labels.data(), n_threads);
}

template <class T>
index_t lloyd_iteration_csr(const CsrInput<T>& X, const In<T>& sample_weight,
                            const In<T>& centers, In<T> centers_new, In<label_t> labels,
                            In<double> center_shift, bool update_centers, int n_threads) {
  const Csr<T> pts = X.view(sample_weight);
  const index_t k = n_centers(centers, pts.d);
  require_shape(centers_new, "centers_new", {k, pts.d});
  require_shape(labels, "labels", {pts.n});
  require_shape(center_shift, "center_shift", {k});
  require_threads(n_threads);
  T* c_new = centers_new.mutable_data();
  label_t* lab = labels.mutable_data();
  double* shift = center_shift.mutable_data();
  py::gil_scoped_release release;
  return fastml::kmeans::lloyd_iteration(pts, centers.data(), k, c_new, lab, shift,
                                         update_centers, n_threads);
}

template <class T>
py::array_t<T> distances_csr(const CsrInput<T>& X, const In<T>& centers, int n_threads) {
  const index_t k = n_centers(centers, X.d);
  require_threads(n_threads);
  py::array_t<T> out({X.n, k});
  T* o = out.mutable_data();
  const Csr<T> pts{X.data.data(), X.indices.data(), X.indptr.data(), nullptr, X.n, X.d};
  {
    py::gil_scoped_release release;
    fastml::kmeans::distances(pts, centers.data(), k, o, n_threads);
  }
  return out;
}

template <class T>
void define_csr_for(py::module_& m, const char* class_name) {
  py::class_<CsrInput<T>>(m, class_name,
                          "A CSR matrix checked once for the k-means functions (holds its arrays).")
      .def_property_readonly("shape", [](const CsrInput<T>& X) { return py::make_tuple(X.n, X.d); })
      .def_property_readonly("dtype", [](const CsrInput<T>&) { return py::dtype::of<T>(); });
  m.def("csr_input",
        [](In<T> data, In<std::int32_t> indices, In<std::int32_t> indptr, index_t n_features) {
          return CsrInput<T>(std::move(data), std::move(indices), std::move(indptr), n_features);
        },
        py::arg("data").noconvert(), py::arg("indices").noconvert(), py::arg("indptr").noconvert(),
        py::arg("n_features"),
        "X (data, int32 indices, int32 indptr) checked once, to pass as X to the functions below.");
  m.def("kmeans_plusplus", &kmeans_plusplus<CsrInput<T>>, py::arg("X"), py::arg("sample_weight").noconvert(),
        py::arg("n_clusters"), py::arg("first"), py::arg("uniforms").noconvert(), py::arg("n_threads"));
  m.def("lloyd_iteration", &lloyd_iteration_csr<T>, py::arg("X"), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(),
        py::arg("center_shift").noconvert(), py::arg("update_centers"), py::arg("n_threads"));
  m.def("elkan_init", &elkan_init<CsrInput<T>>, py::arg("X"), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("labels").noconvert(), py::arg("upper_bounds").noconvert(),
        py::arg("lower_bounds").noconvert(), py::arg("n_threads"));
  m.def("elkan_iteration", &elkan_iteration<CsrInput<T>>, py::arg("X"), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(),
        py::arg("upper_bounds").noconvert(), py::arg("lower_bounds").noconvert(),
        py::arg("center_shift").noconvert(), py::arg("update_centers"), py::arg("n_threads"));
  m.def("inertia", &inertia<CsrInput<T>>, py::arg("X"), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("labels").noconvert(), py::arg("n_threads"));
  m.def("distances", &distances_csr<T>, py::arg("X"), py::arg("centers").noconvert(),
        py::arg("n_threads"),
        "Euclidean distances (n_samples x n_clusters) of the rows of a csr_input to the centers.");
}

template <class T>
void define_for(py::module_& m) {
  m.def("kmeans_plusplus", &kmeans_plusplus<In<T>>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("n_clusters"), py::arg("first"), py::arg("uniforms").noconvert(), py::arg("n_threads"),
        "Greedy k-means++ indices; uniforms[(c - 1), t] draws candidate t of center c.");
  m.def("lloyd_iteration", &lloyd_iteration<T>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(), py::arg("center_shift").noconvert(),
        py::arg("update_centers"), py::arg("n_threads"), py::arg("X_panels").noconvert() = py::none(),
        "One Lloyd iteration in place; returns the number of labels that changed. X_panels: X as\n"
        "pack_point_panels gives it, packed once for all the iterations of a fit (None: packed here).");
  m.def("pack_point_panels", &pack_point_panels<T>, py::arg("X").noconvert(), py::arg("n_threads"),
        "X in panels of 64 bytes of points, feature-major: shape (n_panels, n_features, points per panel).");
  m.def("elkan_init", &elkan_init<In<T>>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(), py::arg("centers").noconvert(),
        py::arg("labels").noconvert(), py::arg("upper_bounds").noconvert(), py::arg("lower_bounds").noconvert(), py::arg("n_threads"),
        "Labels and distance bounds for Elkan's iterations.");
  m.def("elkan_iteration", &elkan_iteration<In<T>>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(),
        py::arg("centers").noconvert(), py::arg("centers_new").noconvert(), py::arg("labels").noconvert(), py::arg("upper_bounds").noconvert(),
        py::arg("lower_bounds").noconvert(), py::arg("center_shift").noconvert(), py::arg("update_centers"),
        py::arg("n_threads"),
        "One Elkan iteration in place; returns the number of labels that changed.");
  m.def("inertia", &inertia<In<T>>, py::arg("X").noconvert(), py::arg("sample_weight").noconvert(), py::arg("centers").noconvert(),
        py::arg("labels").noconvert(), py::arg("n_threads"),
        "Sum of weighted squared distances of the points to their centers.");
}

}  // namespace

PYBIND11_MODULE(_kmeans_fast, m) {
  m.doc() = "k-means++ seeding, Lloyd and Elkan iterations (C++, OpenMP).";
  define_for<float>(m);
  define_for<double>(m);
  // The same functions with X a csr_input (overloads: X's type picks them).
  define_csr_for<float>(m, "CsrInputFloat32");
  define_csr_for<double>(m, "CsrInputFloat64");
  m.def("simd_build", &fastml::kmeans::simd_target,
        "Instruction-set build of the k-means kernels chosen for this CPU.");
}
