// Passes over a dense design matrix seen as (X[:, j] - mean_j) * scale (DenseX, cd.hpp), shared
// by the single-output (cd.cpp) and multi-task (cd_multitask.cpp) solvers.
#pragma once
#include <algorithm>
#include <utility>
#include <vector>

#include "cd.hpp"
#include "cd_kernels.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::linear::dense {

using kernels::kStreamNs;
using kernels::lanes_sum;

// Rows per chunk of a C-order pass: each chunk's sums are kept apart and added in chunk order,
// so the split (fixed by n alone) never depends on the thread count; 2048 rows of 1000 float64
// features are 16 MB of X against 16 KB of sums, which stay in cache. A shorter X is cut in 16
// chunks (of at least 64 rows), so that a short, wide X still gives the threads chunks to take.
inline index_t pass_rows(index_t n) { return std::clamp<index_t>((n + 15) / 16, 64, 2048); }

// total[0 .. width) = the sums over the chunks of pass_rows(n) rows that body(i0, i1, acc) adds
// into acc (width zeros) for rows i0 .. i1 - 1. The threads take whole chunks, each streaming
// C-order X forwards. Splitting the features instead (each thread half of every row) cost three
// times the CPU time on two threads of the shared 2-core machine (ElasticNet 50k x 1000: its
// three passes 0.20 s CPU, 0.81 s wall, against 0.074 s and 0.27 s; 0.07 s on one thread;
// load 11). The chunks' sums take at most X's size / 64 per sum a feature.
template <class Body>
void row_chunk_sums(index_t n, index_t width, int threads, double* total, Body body) {
  const index_t rows = pass_rows(n), chunks = (n + rows - 1) / rows;
  std::vector<double> sums(static_cast<std::size_t>(chunks * width), 0.0);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t c = 0; c < chunks; ++c)
    body(c * rows, std::min(n, (c + 1) * rows), sums.data() + c * width);
  std::fill(total, total + width, 0.0);
  for (index_t c = 0; c < chunks; ++c)
    for (index_t k = 0; k < width; ++k) total[k] += sums[c * width + k];
}

// X.mean as doubles (zeros without it), read in the passes' inner loops.
template <class T>
std::vector<double> mean_of(const DenseX<T>& X) {
  std::vector<double> mean(static_cast<std::size_t>(X.d), 0.0);
  if (X.mean)
    for (index_t j = 0; j < X.d; ++j) mean[j] = X.mean[j];
  return mean;
}

// out[j] = sum_i e_ij v_i (when Corr) and sq[j] = sum_i e_ij^2 v2_i (when Norms), with
// e_ij = data[i, j] - mean[j]: one pass over X for both, in its storage order.
template <bool Corr, bool Norms, class T>
void column_pass(const DenseX<T>& X, const double* v, const double* v2, double* out, double* sq,
                 int n_threads) {
  const index_t n = X.n, d = X.d;
  const int threads = fastml_region_threads(static_cast<double>(n) * d * kStreamNs, n_threads);
  if (X.c_order) {
    // the sums of X'v first, then those of the squares
    constexpr index_t kSums = (Corr ? 1 : 0) + (Norms ? 1 : 0);
    const std::vector<double> mean = mean_of(X);
    std::vector<double> total(static_cast<std::size_t>(kSums * d));
    row_chunk_sums(n, kSums * d, threads, total.data(), [&](index_t i0, index_t i1, double* acc) {
      double* acc2 = acc + (Corr ? d : 0);
      const double* m = mean.data();
      for (index_t i = i0; i < i1; ++i) {
        const T* row = X.data + i * d;
        const double vi = Corr ? v[i] : 0.0, v2i = Norms ? v2[i] : 0.0;
        for (index_t j = 0; j < d; ++j) {
          const double e = static_cast<double>(row[j]) - m[j];
          if (Corr) acc[j] += e * vi;
          if (Norms) acc2[j] += e * e * v2i;
        }
      }
    });
    if (Corr) std::copy(total.begin(), total.begin() + d, out);
    if (Norms) std::copy(total.end() - d, total.end(), sq);
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t j = 0; j < d; ++j) {
    const T* c = X.data + j * n;
    const double m = X.mean ? static_cast<double>(X.mean[j]) : 0.0;
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0}, acc2[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    index_t i = 0;
    for (; i + 8 <= n; i += 8)
      for (int k = 0; k < 8; ++k) {
        const double e = static_cast<double>(c[i + k]) - m;
        if (Corr) acc[k] += e * v[i + k];
        if (Norms) acc2[k] += e * e * v2[i + k];
      }
    double tail = 0.0, tail2 = 0.0;
    for (; i < n; ++i) {
      const double e = static_cast<double>(c[i]) - m;
      if (Corr) tail += e * v[i];
      if (Norms) tail2 += e * e * v2[i];
    }
    if (Corr) out[j] = lanes_sum(acc, tail);
    if (Norms) sq[j] = lanes_sum(acc2, tail2);
  }
}

// dst[k][i] = (data[i, feats[k]] - mean) * scale[i]
template <class T>
void gather_columns(const DenseX<T>& X, const index_t* feats, index_t m, T* const* dst,
                    int n_threads) {
  const index_t n = X.n;
  const int threads = fastml_region_threads(static_cast<double>(n) * m * 4 * kStreamNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    const double s = X.scale ? static_cast<double>(X.scale[i]) : 1.0;
    for (index_t k = 0; k < m; ++k) dst[k][i] = static_cast<T>(X.at(i, feats[k]) * s);
  }
}

// out[j * k + t] = sum_i e_ij v[t * n + i] for the k columns of v (n x k, column-major), with
// e_ij = data[i, j] - mean[j]: the multi-task X'R of every feature in one pass over X, in its
// storage order (a C-order row slice stays in L1 while the k tasks pass over it).
template <class T>
void correlation_pass(const DenseX<T>& X, const double* v, index_t k, double* out, int n_threads) {
  const index_t n = X.n, d = X.d;
  const int threads = fastml_region_threads(static_cast<double>(n) * d * k * kStreamNs, n_threads);
  if (X.c_order) {
    // task t's sums at t * d .. (t + 1) * d - 1: the inner loop runs along a row
    const std::vector<double> mean = mean_of(X);
    std::vector<double> total(static_cast<std::size_t>(k * d));
    row_chunk_sums(n, k * d, threads, total.data(), [&](index_t i0, index_t i1, double* acc) {
      const double* m = mean.data();
      for (index_t i = i0; i < i1; ++i) {
        const T* row = X.data + i * d;
        for (index_t t = 0; t < k; ++t) {
          const double vt = v[t * n + i];
          double* a = acc + t * d;
          for (index_t j = 0; j < d; ++j) a[j] += (static_cast<double>(row[j]) - m[j]) * vt;
        }
      }
    });
    for (index_t j = 0; j < d; ++j)
      for (index_t t = 0; t < k; ++t) out[j * k + t] = total[t * d + j];
    return;
  }
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t j = 0; j < d; ++j) {
    const T* c = X.data + j * n;
    const double m = X.mean ? static_cast<double>(X.mean[j]) : 0.0;
    for (index_t t = 0; t < k; ++t) {
      const double* vt = v + t * n;
      double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      index_t i = 0;
      for (; i + 8 <= n; i += 8)
        for (int l = 0; l < 8; ++l) acc[l] += (static_cast<double>(c[i + l]) - m) * vt[i + l];
      double tail = 0.0;
      for (; i < n; ++i) tail += (static_cast<double>(c[i]) - m) * vt[i];
      out[j * k + t] = lanes_sum(acc, tail);
    }
  }
}

}  // namespace fastml::linear::dense
