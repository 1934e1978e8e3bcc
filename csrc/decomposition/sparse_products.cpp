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

// The kernel of the chosen build for index type I: its int32 or its int64 instance.
template <class I, class K32, class K64>
auto for_index(K32 k32, K64 k64) {
  if constexpr (std::is_same_v<I, std::int32_t>) {
    return k32;
  } else {
    return k64;
  }
}

template <class T, class I>
RowsKernel<T, I> rows_kernel() {
  const TypedKernels<T>& typed = kernels_for<T>(chosen().table);
  return for_index<I>(typed.i32, typed.i64);
}

template <class T, class I>
ScatterKernel<T, I> scatter_kernel() {
  const TypedKernels<T>& typed = kernels_for<T>(chosen().table);
  return for_index<I>(typed.scatter_i32, typed.scatter_i64);
}

// One-thread cost of a nonzero times one column of B, in ns (a multiply-add on a row of B that
// is mostly out of cache), for fastml_region_threads.
constexpr double kNonzeroColumnNs = 0.3;
// Rows a thread takes at a time: rows differ in length, so threads take them dynamically; a
// row's sum never depends on which thread takes it.
constexpr index_t kRowChunk = 64;

}  // namespace

// B is read a panel of columns at a time when its rows are read at random from beyond the
// cache: X @ B for the 100k x 20k bench matrix (2M nonzeros) and k = 110 float64 columns, one
// thread, load 11-13 on 2 cores: 0.39-0.83 s whole, 0.25-0.28 s by panels of 32 columns copied
// out (5 MB each); X^T @ P (100k rows of P, 25 MB panels) gained nothing. Every output value is
// the same sum in the same order either way.
constexpr index_t kPanelColumns = 32;
constexpr double kPanelBytes = 8.0 * 1024 * 1024;

template <class T, class I>
void csr_matmat(const Csr<T, I>& X, const T* B, index_t k, T* out, int n_threads) {
  const RowsKernel<T, I> kernel = rows_kernel<T, I>();
  const double nnz = static_cast<double>(X.indptr[X.n]);
  const int threads =
      fastml_region_threads((nnz * kNonzeroColumnNs + X.n) * static_cast<double>(k) + 1.0,
                            n_threads);
  const index_t n_chunks = (X.n + kRowChunk - 1) / kRowChunk;
  const double row_bytes = static_cast<double>(X.d) * sizeof(T);
  const bool panels = k > kPanelColumns && row_bytes * k > kPanelBytes &&
                      row_bytes * kPanelColumns <= kPanelBytes;
  const index_t width = panels ? kPanelColumns : k;
  std::vector<T> panel;
  if (panels) panel.resize(static_cast<std::size_t>(X.d * width));
  FirstException failure;
  for (index_t c0 = 0; c0 < k; c0 += width) {
    const index_t kb = c0 + width < k ? width : k - c0;
    const T* Bp = B;
    if (panels) {
      for (index_t j = 0; j < X.d; ++j)
        for (index_t c = 0; c < kb; ++c) panel[j * kb + c] = B[j * k + c0 + c];
      Bp = panel.data();
    }
#pragma omp parallel num_threads(threads) if (threads > 1)
    {
      std::vector<double> acc;
      failure.run([&] { acc.resize(static_cast<std::size_t>(kb)); });
#pragma omp for schedule(dynamic, 1)
      for (index_t chunk = 0; chunk < n_chunks; ++chunk) {
        failure.run([&] {
          const index_t begin = chunk * kRowChunk;
          const index_t end = begin + kRowChunk < X.n ? begin + kRowChunk : X.n;
          kernel(X, Bp, kb, out + c0, k, acc.data(), begin, end);
        });
      }
    }
    failure.rethrow();
  }
}

// X^T @ P scattered from X's rows rather than gathered for the rows of X's transpose: one
// thread, the TruncatedSVD bench's 100k x 20k matrix (2M nonzeros), k = 110, load 13 on 2
// cores, CPU medians of 4: 0.120 s scattered against 0.155-0.179 s gathered (the same bits).
// Panels of 16-56 columns of out, as csr_matmat takes B, gained nothing here.
template <class T, class I>
void csr_t_matmat(const Csr<T, I>& X, const T* P, index_t k, T* out, int n_threads) {
  const ScatterKernel<T, I> kernel = scatter_kernel<T, I>();
  const index_t nnz = X.indptr[X.n];
  const int threads =
      fastml_region_threads((static_cast<double>(nnz) * kNonzeroColumnNs + X.d) *
                                static_cast<double>(k) + 1.0, n_threads);
  // Thread t owns X's columns [bound[t], bound[t + 1]), about nnz / threads nonzeros each.
  std::vector<index_t> bound(static_cast<std::size_t>(threads) + 1, X.d);
  bound[0] = 0;
  if (threads > 1) {
    std::vector<index_t> count(static_cast<std::size_t>(X.d), 0);
    for (index_t p = 0; p < nnz; ++p) ++count[static_cast<std::size_t>(X.indices[p])];
    index_t seen = 0;
    int t = 1;
    for (index_t j = 0; j < X.d && t < threads; ++j) {
      seen += count[static_cast<std::size_t>(j)];
      while (t < threads && seen * threads >= nnz * t) bound[t++] = j + 1;
    }
  }
  std::vector<double> acc(static_cast<std::size_t>(X.d * k), 0.0);
  FirstException failure;
#pragma omp parallel for schedule(static, 1) num_threads(threads) if (threads > 1)
  for (int t = 0; t < threads; ++t)
    failure.run([&] { kernel(X, P, k, k, acc.data(), bound[t], bound[t + 1]); });
  failure.rethrow();
  for (index_t q = 0; q < X.d * k; ++q) out[q] = static_cast<T>(acc[q]);
}

template <class T, class I>
void csr_transpose(const Csr<T, I>& X, I* indptr_t, I* indices_t, T* data_t) {
  // A counting sort by column: rows are visited in order, so each transposed row lists its
  // values by increasing original row (scipy's tocsc gives the same arrays).
  for (index_t j = 0; j <= X.d; ++j) indptr_t[j] = 0;
  const index_t nnz = X.indptr[X.n];
  for (index_t p = 0; p < nnz; ++p) ++indptr_t[static_cast<index_t>(X.indices[p]) + 1];
  for (index_t j = 0; j < X.d; ++j) indptr_t[j + 1] += indptr_t[j];
  std::vector<I> next(indptr_t, indptr_t + X.d);
  for (index_t i = 0; i < X.n; ++i) {
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
  template void csr_transpose<T, I>(const Csr<T, I>&, I*, I*, T*);                          \
  template void csr_t_matmat<T, I>(const Csr<T, I>&, const T*, index_t, T*, int);
FASTML_DECOMPOSITION_INSTANTIATE(float, std::int32_t)
FASTML_DECOMPOSITION_INSTANTIATE(float, std::int64_t)
FASTML_DECOMPOSITION_INSTANTIATE(double, std::int32_t)
FASTML_DECOMPOSITION_INSTANTIATE(double, std::int64_t)
#undef FASTML_DECOMPOSITION_INSTANTIATE

}  // namespace fastml::decomposition
