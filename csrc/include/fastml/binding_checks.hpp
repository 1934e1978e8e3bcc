// Entry checks shared by the pybind11 modules in csrc/bindings: each raises ValueError with a
// message that names the argument, before any work or any write.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "fastml/matrix_views.hpp"

namespace fastml::bindings {

// A literal message becomes a std::string only when the check fails: some checks run once per
// node or per label, where building it every time cost more than the work they guard.
template <class Message>
void require(bool ok, const Message& message) {
  if (!ok) throw std::invalid_argument(std::string(message));
}

// `a` (a NumPy array) has exactly the given shape.
template <class A>
void require_shape(const A& a, const char* name, std::initializer_list<std::ptrdiff_t> shape) {
  bool ok = a.ndim() == static_cast<pybind11::ssize_t>(shape.size());
  pybind11::ssize_t axis = 0;
  for (std::ptrdiff_t extent : shape) ok = ok && a.shape(axis++) == extent;
  require(ok, std::string(name) + " has the wrong shape");
}

inline void require_threads(int n_threads) {
  require(n_threads >= 1, "n_threads must be >= 1");
}

// Which offsets a CSR indptr may hold: a whole matrix's (from 0 to the number of stored values, as
// scipy keeps them) or a range of rows' (a slice of a whole indptr: offsets within indices).
enum class CsrSpan { whole, rows };

// The arrays of a CSR matrix of n_cols columns as scipy keeps them: indptr 1-D, n_rows + 1 offsets
// that never decrease and span indices as `span` says; indices (and data, where given) 1-D of one
// length; every column index the offsets reach in [0, n_cols). Returns n_rows. The passes over the
// arrays run without the GIL and branch-free, so that they vectorise: one check per element cost
// 3-4 ms on 4M indices, a tenth of a naive Bayes predict_proba on them.
template <class Ids>
std::ptrdiff_t require_csr(const Ids& indptr, const Ids& indices, std::ptrdiff_t n_cols,
                           const pybind11::array* data = nullptr, CsrSpan span = CsrSpan::whole) {
  using I = typename Ids::value_type;
  require(indptr.ndim() == 1 && indptr.shape(0) >= 1, "indptr must be 1-dimensional, not empty");
  require(indices.ndim() == 1, "indices must be 1-dimensional");
  require(!data || (data->ndim() == 1 && data->shape(0) == indices.shape(0)),
          "indices and data must be 1-dimensional, of one length");
  require(n_cols >= 0, "the number of columns must be >= 0");
  const std::ptrdiff_t n = indptr.shape(0) - 1, nnz = indices.shape(0);
  const I* p = indptr.data();
  const I* idx = indices.data();
  pybind11::gil_scoped_release release;
  if (span == CsrSpan::whole)
    require(p[0] == 0 && static_cast<std::ptrdiff_t>(p[n]) == nnz,
            "indptr must start at 0 and end at the number of stored values");
  else
    require(p[0] >= 0 && static_cast<std::ptrdiff_t>(p[n]) <= nnz, "indptr must lie within indices");
  bool increasing = true;
  for (std::ptrdiff_t i = 0; i < n; ++i) increasing &= p[i] <= p[i + 1];
  require(increasing, "indptr must not decrease");
  I lowest = 0, highest = 0;
  for (std::ptrdiff_t j = p[0]; j < static_cast<std::ptrdiff_t>(p[n]); ++j) {
    lowest = std::min(lowest, idx[j]);
    highest = std::max(highest, idx[j]);
  }
  require(lowest >= 0 && (p[n] == p[0] || static_cast<std::ptrdiff_t>(highest) < n_cols),
          "column indices must lie in [0, the number of columns)");
  return n;
}

// The kernels' view of a 2-D C-contiguous array.
template <class T>
DenseRows<T> dense_view(const pybind11::array_t<T, pybind11::array::c_style>& X) {
  require(X.ndim() == 2, "X must be 2-dimensional");
  return DenseRows<T>{X.data(), X.shape(0), X.shape(1)};
}

// The kernels' view of a CSR matrix of n_cols columns, its arrays checked (require_csr).
template <class T, class I>
CsrRows<T, I> csr_view(const pybind11::array_t<I, pybind11::array::c_style>& indptr,
                       const pybind11::array_t<I, pybind11::array::c_style>& indices,
                       const pybind11::array_t<T, pybind11::array::c_style>& data,
                       std::ptrdiff_t n_cols) {
  const std::ptrdiff_t n = require_csr(indptr, indices, n_cols, &data);
  return CsrRows<T, I>{indptr.data(), indices.data(), data.data(), n, n_cols};
}

// The vector's elements handed to NumPy without a copy: the array owns the vector (moved to the
// heap, freed with the array), of the given shape (default: 1-D, its size).
template <class E>
pybind11::array_t<E> owned_array(std::vector<E>&& v, std::vector<pybind11::ssize_t> shape = {}) {
  auto* owned = new std::vector<E>(std::move(v));
  pybind11::capsule free_when_done(owned,
                                   [](void* p) { delete static_cast<std::vector<E>*>(p); });
  if (shape.empty()) shape.push_back(static_cast<pybind11::ssize_t>(owned->size()));
  return pybind11::array_t<E>(shape, owned->data(), free_when_done);
}

}  // namespace fastml::bindings
