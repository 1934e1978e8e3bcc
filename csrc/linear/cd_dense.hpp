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

// The calling thread's contiguous range of `total` items inside a parallel region (all of them
// outside one); which thread sums which feature never changes a sum (each is accumulated over the
// rows in order), so results ignore the thread count.
inline std::pair<index_t, index_t> thread_share(index_t total) {
  int part = 0, parts = 1;
#ifdef _OPENMP
  part = omp_get_thread_num();
  parts = omp_get_num_threads();
#endif
  return {total * part / parts, total * (part + 1) / parts};
}

// Rows per chunk of a C-order pass: each chunk's sums are kept apart and added in chunk order,
// so the split (fixed by n alone) never depends on the thread count; 2048 rows of 1000 float64
// features are 16 MB of X against 16 KB of sums, which stay in cache.
constexpr index_t kPassRows = 2048;

// out[j] = sum_i e_ij v_i (when Corr) and sq[j] = sum_i e_ij^2 v2_i (when Norms), with
// e_ij = data[i, j] - mean[j]: one pass over X for both, in its storage order.
template <bool Corr, bool Norms, class T>
void column_pass(const DenseX<T>& X, const double* v, const double* v2, double* out, double* sq,
                 int n_threads) {
  const index_t n = X.n, d = X.d;
  const int threads = fastml_region_threads(static_cast<double>(n) * d * kStreamNs, n_threads);
  if (X.c_order) {
    // Threads take chunks of whole rows (the inner loop runs along a row and vectorises), each
    // streaming X forwards. Splitting the features instead (each thread half of every row) cost
    // three times the CPU time on two threads of the shared 2-core machine (ElasticNet 50k x 1000:
    // its three passes 0.20 s CPU, 0.81 s wall, against 0.074 s and 0.27 s; 0.07 s on one thread;
    // load 11).
    constexpr index_t kSums = (Corr ? 1 : 0) + (Norms ? 1 : 0);
    const index_t chunks = (n + kPassRows - 1) / kPassRows;
    std::vector<double> mean(static_cast<std::size_t>(d), 0.0);
    if (X.mean)
      for (index_t j = 0; j < d; ++j) mean[j] = X.mean[j];
    // chunk c's sums: kSums * d values (X'v first, then the squares), at most X's size / 1024
    std::vector<double> sums(static_cast<std::size_t>(chunks * kSums * d), 0.0);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t c = 0; c < chunks; ++c) {
      double* acc = sums.data() + c * kSums * d;
      double* acc2 = acc + (Corr ? d : 0);
      const double* m = mean.data();
      for (index_t i = c * kPassRows; i < std::min(n, (c + 1) * kPassRows); ++i) {
        const T* row = X.data + i * d;
        const double vi = Corr ? v[i] : 0.0, v2i = Norms ? v2[i] : 0.0;
        for (index_t j = 0; j < d; ++j) {
          const double e = static_cast<double>(row[j]) - m[j];
          if (Corr) acc[j] += e * vi;
          if (Norms) acc2[j] += e * e * v2i;
        }
      }
    }
    for (index_t j = 0; j < d; ++j) {
      if (Corr) out[j] = 0.0;
      if (Norms) sq[j] = 0.0;
    }
    for (index_t c = 0; c < chunks; ++c) {
      const double* acc = sums.data() + c * kSums * d;
      const double* acc2 = acc + (Corr ? d : 0);
      for (index_t j = 0; j < d; ++j) {
        if (Corr) out[j] += acc[j];
        if (Norms) sq[j] += acc2[j];
      }
    }
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
#pragma omp parallel num_threads(threads)
    {
      const auto [j0, j1] = thread_share(d);
      const index_t w = j1 - j0;
      std::vector<double> acc(static_cast<std::size_t>(w * k), 0.0), mean(w, 0.0);
      if (X.mean)
        for (index_t j = 0; j < w; ++j) mean[j] = X.mean[j0 + j];
      for (index_t i = 0; i < n; ++i) {
        const T* row = X.data + i * d + j0;
        for (index_t t = 0; t < k; ++t) {
          const double vt = v[t * n + i];
          double* a = acc.data() + t * w;
          for (index_t j = 0; j < w; ++j) a[j] += (static_cast<double>(row[j]) - mean[j]) * vt;
        }
      }
      for (index_t j = 0; j < w; ++j)
        for (index_t t = 0; t < k; ++t) out[(j0 + j) * k + t] = acc[t * w + j];
    }
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
