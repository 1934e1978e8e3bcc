// Cores behind fastml.decomposition (bound in csrc/bindings/decomposition_module.cpp): the
// products of a CSR matrix with dense blocks that the randomized range finder, ARPACK's operator
// and TruncatedSVD's transform need (csrc/decomposition/sparse_products.cpp, with the row kernels
// built per instruction set in sparse_products_isa.cpp).
//
// X^T @ P is scattered from X's rows (csr_t_matmat): each thread owns a range of output rows
// (X's columns) and adds v * P[i, :] for every nonzero (i, j, v) in its range in ascending i, so
// every output row is summed by one thread in the order of its nonzeros and results do not depend
// on the thread count.
#pragma once

#include <cstdint>

#include "fastml/matrix_views.hpp"

namespace fastml::decomposition {

using index_t = std::int64_t;

template <class T, class I>
using Csr = CsrRows<T, I>;

// out[i, :k] = sum over the nonzeros (i, j, v) of v * B[j, :], for rows begin <= i < end; B is
// (n_cols x k) row-major, out's rows are ldo apart. Sums are carried in float64 in `acc` (k
// doubles of the calling thread) and rounded once to T.
template <class T, class I>
using RowsKernel = void (*)(const Csr<T, I>& X, const T* B, index_t k, T* out, index_t ldo,
                            double* acc, index_t begin, index_t end);

// out[j, :k] += v * P[i, :k] for the nonzeros (i, j, v) with j_begin <= j < j_end, rows i in
// ascending order; P's rows are ldp apart, out (float64) is row-major with k columns.
template <class T, class I>
using ScatterKernel = void (*)(const Csr<T, I>& X, const T* P, index_t ldp, index_t k,
                               double* out, index_t j_begin, index_t j_end);

template <class T>
struct TypedKernels {
  RowsKernel<T, std::int32_t> i32;
  RowsKernel<T, std::int64_t> i64;
  ScatterKernel<T, std::int32_t> scatter_i32;
  ScatterKernel<T, std::int64_t> scatter_i64;
};

struct KernelTable {
  TypedKernels<float> f32;
  TypedKernels<double> f64;
};

namespace baseline { KernelTable kernel_table(); }
namespace x86_64_v3 { KernelTable kernel_table(); }
namespace x86_64_v4 { KernelTable kernel_table(); }

// OUT out (X.n_rows x k) = X @ B, B (X.n_cols x k); parallel over rows.
template <class T, class I>
void csr_matmat(const Csr<T, I>& X, const T* B, index_t k, T* out, int n_threads);

// OUT out (X.n_cols x k) = X^T @ P, P (X.n_rows x k); parallel over ranges of X's columns, sums
// in float64 rounded once to T.
template <class T, class I>
void csr_t_matmat(const Csr<T, I>& X, const T* P, index_t k, T* out, int n_threads);

// OUT the CSR arrays of X^T (n_cols + 1 offsets, nnz indices and values): each transposed row
// holds its values in increasing original row.
template <class T, class I>
void csr_transpose(const Csr<T, I>& X, I* indptr_t, I* indices_t, T* data_t);

// Instruction-set build of the row kernels chosen for this CPU.
const char* simd_target();

}  // namespace fastml::decomposition
