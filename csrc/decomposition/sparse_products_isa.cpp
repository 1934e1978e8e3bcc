// Row kernels of the CSR x dense product, compiled once per instruction set (CMake defines
// FASTML_ISA and the -march). Everything but kernel_table() has internal linkage and no standard
// library template is used, so no function built for a wider instruction set can be linked into
// another build (as in kmeans_kernels_isa.cpp).
//
// A row's result depends on that row and B only, summed in the order of its nonzeros: no result
// depends on how rows are grouped onto threads.
#include <cstdint>

#include "fastml/decomposition.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::decomposition::FASTML_ISA {
namespace {

// How many nonzeros ahead the row of B a nonzero will read is prefetched: the rows of B are
// read in the column order of X's nonzeros, at random for a sparse matrix, and a row of 100
// float32 values spans 7 cache lines that the hardware prefetcher cannot guess.
constexpr index_t kAhead = 6;
constexpr index_t kLine = 64;

template <class T>
inline void prefetch_row(const T* row, index_t bytes) {
  const char* p = reinterpret_cast<const char*>(row);
  for (index_t off = 0; off < bytes; off += kLine) __builtin_prefetch(p + off, 0, 1);
}

template <class T, class I>
void rows_kernel(const Csr<T, I>& X, const T* B, index_t k, T* out, index_t ldo, double* acc,
                 index_t begin, index_t end) {
  const index_t row_bytes = k * static_cast<index_t>(sizeof(T));
  for (index_t i = begin; i < end; ++i) {
    for (index_t c = 0; c < k; ++c) acc[c] = 0.0;
    const index_t first = X.indptr[i], last = X.indptr[i + 1];
    for (index_t p = first; p < last; ++p) {
      if (p + kAhead < last) prefetch_row(B + static_cast<index_t>(X.indices[p + kAhead]) * k,
                                          row_bytes);
      const double v = static_cast<double>(X.data[p]);
      const T* __restrict b = B + static_cast<index_t>(X.indices[p]) * k;
      double* __restrict a = acc;
      for (index_t c = 0; c < k; ++c) a[c] += v * static_cast<double>(b[c]);
    }
    T* o = out + i * ldo;
    for (index_t c = 0; c < k; ++c) o[c] = static_cast<T>(acc[c]);
  }
}

// X^T @ P from X's rows: P is read once, row after row, and the rows of out written at random
// stay within X.n_cols x k doubles (17.6 MB for the TruncatedSVD bench, against 88 MB of P
// that gathering P's rows for X^T's rows read at random).
template <class T, class I>
void scatter_kernel(const Csr<T, I>& X, const T* P, index_t ldp, index_t k, double* out,
                    index_t j_begin, index_t j_end) {
  const index_t row_bytes = k * static_cast<index_t>(sizeof(double));
  const index_t nnz = X.indptr[X.n];
  for (index_t i = 0; i < X.n; ++i) {
    const T* __restrict b = P + i * ldp;
    const index_t first = X.indptr[i], last = X.indptr[i + 1];
    for (index_t p = first; p < last; ++p) {
      if (p + kAhead < nnz) prefetch_row(out + static_cast<index_t>(X.indices[p + kAhead]) * k,
                                         row_bytes);
      const index_t j = static_cast<index_t>(X.indices[p]);
      if (j < j_begin || j >= j_end) continue;
      const double v = static_cast<double>(X.data[p]);
      double* __restrict a = out + j * k;
      for (index_t c = 0; c < k; ++c) a[c] += v * static_cast<double>(b[c]);
    }
  }
}

}  // namespace

KernelTable kernel_table() {
  KernelTable t;
  t.f32.i32 = &rows_kernel<float, std::int32_t>;
  t.f32.i64 = &rows_kernel<float, std::int64_t>;
  t.f64.i32 = &rows_kernel<double, std::int32_t>;
  t.f64.i64 = &rows_kernel<double, std::int64_t>;
  t.f32.scatter_i32 = &scatter_kernel<float, std::int32_t>;
  t.f32.scatter_i64 = &scatter_kernel<float, std::int64_t>;
  t.f64.scatter_i32 = &scatter_kernel<double, std::int32_t>;
  t.f64.scatter_i64 = &scatter_kernel<double, std::int64_t>;
  return t;
}

}  // namespace fastml::decomposition::FASTML_ISA
