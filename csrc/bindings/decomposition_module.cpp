// fastml.decomposition._decomposition_fast: the CSR x dense products of csrc/decomposition for
// float32 and float64 values with int32 or int64 indices. Checks every shape and index at entry
// (the kernels trust them), then releases the GIL. Arrays must already be C-contiguous and of
// one dtype (fastml.decomposition converts them once): nothing is converted here.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <optional>

#include "fastml/binding_checks.hpp"
#include "fastml/decomposition.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::csr_view;
using fastml::bindings::require_threads;
using fastml::decomposition::Csr;
using fastml::decomposition::index_t;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

template <class T, class I>
py::array_t<T> csr_matmat(const In<I>& indptr, const In<I>& indices, const In<T>& data,
                          index_t n_cols, const In<T>& B, int n_threads,
                          std::optional<In<T>> out_given) {
  const Csr<T, I> X = csr_view(indptr, indices, data, n_cols);
  require(B.ndim() == 2 && B.shape(0) == n_cols, "B must have shape (n_cols, k)");
  require_threads(n_threads);
  const index_t k = B.shape(1);
  In<T> out = out_given ? *out_given : In<T>({X.n, k});
  require(out.ndim() == 2 && out.shape(0) == X.n && out.shape(1) == k && out.writeable(),
          "out must be a writeable array of shape (n_rows, k)");
  require(static_cast<const void*>(out.data()) != static_cast<const void*>(B.data()),
          "out must not be B");
  T* o = out.mutable_data();
  const T* b = B.data();
  {
    py::gil_scoped_release release;
    fastml::decomposition::csr_matmat(X, b, k, o, n_threads);
  }
  return out;
}

template <class T, class I>
py::array_t<T> csr_t_matmat(const In<I>& indptr, const In<I>& indices, const In<T>& data,
                            index_t n_cols, const In<T>& P, int n_threads) {
  const Csr<T, I> X = csr_view(indptr, indices, data, n_cols);
  require(P.ndim() == 2 && P.shape(0) == X.n, "P must have shape (n_rows, k)");
  require_threads(n_threads);
  const index_t k = P.shape(1);
  py::array_t<T> out({n_cols, k});
  T* o = out.mutable_data();
  const T* p = P.data();
  {
    py::gil_scoped_release release;
    fastml::decomposition::csr_t_matmat(X, p, k, o, n_threads);
  }
  return out;
}

template <class T, class I>
py::tuple csr_transpose(const In<I>& indptr, const In<I>& indices, const In<T>& data,
                        index_t n_cols) {
  const Csr<T, I> X = csr_view(indptr, indices, data, n_cols);
  const index_t nnz = indices.shape(0);
  // int32 indices of the transpose hold row numbers: they must fit.
  require(X.n <= static_cast<index_t>(std::numeric_limits<I>::max()),
          "too many rows for the index type");
  py::array_t<I> indptr_t(n_cols + 1), indices_t(nnz);
  py::array_t<T> data_t(nnz);
  I* pt = indptr_t.mutable_data();
  I* it = indices_t.mutable_data();
  T* dt = data_t.mutable_data();
  {
    py::gil_scoped_release release;
    fastml::decomposition::csr_transpose(X, pt, it, dt);
  }
  return py::make_tuple(indptr_t, indices_t, data_t);
}

template <class T, class I>
void define(py::module_& m) {
  m.def("csr_matmat", &csr_matmat<T, I>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("n_cols"),
        py::arg("B").noconvert(), py::arg("n_threads"), py::arg("out").noconvert() = py::none(),
        "X @ B for X in CSR arrays (n_rows x n_cols) and B (n_cols x k), in X's dtype; sums\n"
        "carried in float64, each row by one thread in the order of its nonzeros. out: None or\n"
        "a C-contiguous writeable array of X's dtype and shape (n_rows, k) to write into.");
  m.def("csr_t_matmat", &csr_t_matmat<T, I>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("n_cols"),
        py::arg("P").noconvert(), py::arg("n_threads"),
        "X^T @ P for X in CSR arrays (n_rows x n_cols) and P (n_rows x k), in X's dtype; sums\n"
        "carried in float64, each output row by one thread in ascending row of X.");
  m.def("csr_transpose", &csr_transpose<T, I>, py::arg("indptr").noconvert(),
        py::arg("indices").noconvert(), py::arg("data").noconvert(), py::arg("n_cols"),
        "(indptr, indices, data) of X^T in CSR: each row's values by increasing row of X.");
}

}  // namespace

PYBIND11_MODULE(_decomposition_fast, m) {
  m.doc() = "CSR x dense products for PCA and TruncatedSVD (C++, OpenMP).";
  define<double, std::int32_t>(m);
  define<double, std::int64_t>(m);
  define<float, std::int32_t>(m);
  define<float, std::int64_t>(m);
  m.def("simd_build", &fastml::decomposition::simd_target,
        "Instruction-set build of the row kernels chosen for this CPU.");
}
