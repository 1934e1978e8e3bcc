// Drivers of the CSR x dense products (kernels in sparse_products_isa.cpp): threads, scratch and
// the transpose that turns X^T @ P into a row-parallel product.
#include <cstdint>
#include <type_traits>
#include <vector>

#include "fastml/decomposition.hpp"
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::decomposition {
namespace {

const IsaChoice<KernelTable>& chosen() {
  static const IsaChoice<KernelTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T, class I>
RowsKernel<T, I> rows_kernel() {
  const TypedKernels<T>& typed = kernels_for<T>(chosen().table);
  if constexpr (std::is_same_v<I, std::int32_t>) {
    return typed.i32;
  } else {
    return typed.i64;
  }
}

// One-thread cost of a nonzero times one column of B, in ns (a multiply-add on a row of B that
// is mostly out of cache), for fastml_region_threads.
constexpr double kNonzeroColumnNs = 0.3;
// Rows a thread takes at a time: rows differ in length, so threads take them dynamically; a
// row's sum never depends on which thread takes it.
constexpr index_t kRowChunk = 64;

}  // namespace

template <class T, class I>
void csr_matmat(const Csr<T, I>& X, const T* B, index_t k, T* out, int n_threads) {
  const RowsKernel<T, I> kernel = rows_kernel<T, I>();
  const double nnz = static_cast<double>(X.indptr[X.n_rows]);
  const int threads =
      fastml_region_threads((nnz * kNonzeroColumnNs + X.n_rows) * static_cast<double>(k) + 1.0,
                            n_threads);
  const index_t n_chunks = (X.n_rows + kRowChunk - 1) / kRowChunk;
  FirstException failure;
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    std::vector<double> acc;
    failure.run([&] { acc.resize(static_cast<std::size_t>(k)); });
#pragma omp for schedule(dynamic, 1)
    for (index_t chunk = 0; chunk < n_chunks; ++chunk) {
      failure.run([&] {
        const index_t begin = chunk * kRowChunk;
        const index_t end = begin + kRowChunk < X.n_rows ? begin + kRowChunk : X.n_rows;
        kernel(X, B, k, out, acc.data(), begin, end);
      });
    }
  }
  failure.rethrow();
}

template <class T, class I>
void csr_transpose(const Csr<T, I>& X, I* indptr_t, I* indices_t, T* data_t) {
  // A counting sort by column: rows are visited in order, so each transposed row lists its
  // values by increasing original row (scipy's tocsc gives the same arrays).
  for (index_t j = 0; j <= X.n_cols; ++j) indptr_t[j] = 0;
  const index_t nnz = X.indptr[X.n_rows];
  for (index_t p = 0; p < nnz; ++p) ++indptr_t[static_cast<index_t>(X.indices[p]) + 1];
  for (index_t j = 0; j < X.n_cols; ++j) indptr_t[j + 1] += indptr_t[j];
  std::vector<I> next(indptr_t, indptr_t + X.n_cols);
  for (index_t i = 0; i < X.n_rows; ++i) {
    for (index_t p = X.indptr[i]; p < X.indptr[i + 1]; ++p) {
      const I slot = next[static_cast<std::size_t>(X.indices[p])]++;
      indices_t[slot] = static_cast<I>(i);
      data_t[slot] = X.data[p];
    }
  }
}

const char* simd_target() { return chosen().name; }

#define FASTML_DECOMPOSITION_INSTANTIATE(T, I)                                               \
  template void csr_matmat<T, I>(const Csr<T, I>&, const T*, index_t, T*, int);            \
  template void csr_transpose<T, I>(const Csr<T, I>&, I*, I*, T*);
FASTML_DECOMPOSITION_INSTANTIATE(float, std::int32_t)
FASTML_DECOMPOSITION_INSTANTIATE(float, std::int64_t)
FASTML_DECOMPOSITION_INSTANTIATE(double, std::int32_t)
FASTML_DECOMPOSITION_INSTANTIATE(double, std::int64_t)
#undef FASTML_DECOMPOSITION_INSTANTIATE

}  // namespace fastml::decomposition
