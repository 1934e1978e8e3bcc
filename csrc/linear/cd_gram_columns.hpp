// Gram columns computed on demand (cd.cpp's ColumnsTerm): for dense X with more rows than
// features, the coordinate descent reads the Gram matrix only through the columns of the features
// that leave zero, so only those are computed, by BLAS, a batch at a time. Two sources of them:
// the design itself (DesignColumns: lasso_path, enet_path) and the row blocks of a
// cross-validation (FoldColumns over BlockColumns: LassoCV, ElasticNetCV, whose folds share them).
#pragma once
#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "cd.hpp"
#include "cd_dense.hpp"
#include "cd_kernels.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::linear::columns {

using kernels::kStreamNs;

// A product of k columns costs about 60 ms of passes over X (the gather, BLAS packing X) and
// 2.4 ms a column (50k x 1000, one thread): the first miss computes kFirstBatch columns, later ones
// half as many as are held, at least kMinBatch. On the bench's lasso_path (67 nonzeros at its end)
// 64 then 32 took 0.37-0.40 s, 64 then 64 0.43-0.50 s, 64 then 16 then 20 0.41 s, 48 then 24 then
// 36 0.40-0.44 s.
constexpr index_t kFirstBatch = 64;
constexpr index_t kMinBatch = 16;
// A cross-validation's later folds miss few columns (the features their noise brings in): their
// batches grow by a quarter of the columns held, not a half (LassoCV 20k x 1000, 3 folds: 195
// columns in six products, 0.47-0.56 s a fit, against 324 in five, 0.62-0.77 s; an eighth: 162 in
// seven, 0.52-0.78 s).
constexpr index_t kFoldGrowth = 4;
// Features per BLAS call of a product: a fixed split whatever the thread count (the same sums),
// coarse enough that B is packed twice at most for 1000 features (256 took 185 ms against 160 ms
// in one call for 64 columns).
constexpr index_t kGemmRows = 512;

inline void gemm_call(const Gemm& g, char ta, char tb, int m, int n, int k, const double* A,
                      int lda, const double* B, int ldb, double* C, int ldc) {
  double one = 1.0, zero = 0.0;
  g.dgemm(&ta, &tb, &m, &n, &k, &one, const_cast<double*>(A), &lda, const_cast<double*>(B), &ldb,
          &zero, C, &ldc);
}
inline void gemm_call(const Gemm& g, char ta, char tb, int m, int n, int k, const float* A,
                      int lda, const float* B, int ldb, float* C, int ldc) {
  float one = 1.0f, zero = 0.0f;
  g.sgemm(&ta, &tb, &m, &n, &k, &one, const_cast<float*>(A), &lda, const_cast<float*>(B), &ldb,
          &zero, C, &ldc);
}

// The features a miss on j computes: j and those without a column most correlated with the
// residual (scaled by their norms: the next to leave zero along a path), a batch whose size grows
// with the columns held. has(i): column i is there; corr(i): X_i'R.
template <class Has, class Corr>
std::vector<index_t> batch_around(index_t j, index_t d, index_t held, index_t growth,
                                  const double* norms, Has has, Corr corr) {
  const index_t batch = held == 0 ? kFirstBatch : std::max(kMinBatch, held / growth);
  std::vector<std::pair<double, index_t>> ranked;
  for (index_t i = 0; i < d; ++i)
    if (i != j && !has(i) && norms[i] > 0)
      ranked.emplace_back(-std::fabs(corr(i)) / std::sqrt(norms[i]), i);
  const index_t extra = std::min<index_t>(batch - 1, static_cast<index_t>(ranked.size()));
  if (extra < static_cast<index_t>(ranked.size()))
    std::nth_element(ranked.begin(), ranked.begin() + extra, ranked.end());
  std::vector<index_t> feats{j};
  for (index_t k = 0; k < extra; ++k) feats.push_back(ranked[k].second);
  std::sort(feats.begin(), feats.end());
  return feats;
}

// out[c][b * d + j] = sum_{i in block b} v_i (x_ij - m_j)(x_ic - m_c) for c = feats[.], m = X.mean
// (or 0), v row weights (or 1), blocks the row ranges [starts[b], starts[b + 1]). One pass gathers
// the new columns weighted (B); BLAS multiplies X'B block by block and kGemmRows features at a
// time, those tasks shared by the threads (BLAS itself on one thread): a fixed split, so the sums
// are the same for any thread count.
template <class T>
void column_products(const DenseX<T>& X, const double* v, const std::vector<index_t>& starts,
                     const std::vector<index_t>& feats, const Gemm& gemm, int n_threads,
                     std::vector<double>* const* out) {
  const index_t n = X.n, d = X.d, k = static_cast<index_t>(feats.size());
  const index_t nb = static_cast<index_t>(starts.size()) - 1;
  // B: n x k, row-major for C-order X (written along X's rows), else column-major.
  std::vector<T> B(static_cast<std::size_t>(n * k));
  const auto at = [&](index_t i, index_t c) -> T& { return B[X.c_order ? i * k + c : c * n + i]; };
  const int gather_threads =
      fastml_region_threads(static_cast<double>(n) * d * kStreamNs, n_threads);
#pragma omp parallel for num_threads(gather_threads) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    const double s = v ? v[i] : 1.0;
    for (index_t c = 0; c < k; ++c) at(i, c) = static_cast<T>(X.at(i, feats[c]) * s);
  }
  std::vector<T> C(static_cast<std::size_t>(nb * d * k));  // block b: d x k column-major
  const index_t chunks = (d + kGemmRows - 1) / kGemmRows;
  const index_t tasks = nb * chunks;
  const int threads = std::min<int>(
      fastml_region_threads(static_cast<double>(n) * d * k * kStreamNs, n_threads),
      static_cast<int>(tasks));
  const int ki = static_cast<int>(k), di = static_cast<int>(d), ni = static_cast<int>(n);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t b = t / chunks, j0 = (t % chunks) * kGemmRows;
    const index_t r0 = starts[b], rows = starts[b + 1] - starts[b];
    const int m = static_cast<int>(std::min(d, j0 + kGemmRows) - j0);
    T* Cb = C.data() + b * d * k + j0;
    if (rows == 0) {
      for (index_t c = 0; c < k; ++c) std::fill(Cb + c * d, Cb + c * d + m, T(0));
    } else if (X.c_order) {  // X in C order is X' in column-major with leading dimension d
      gemm_call(gemm, 'N', 'T', m, ki, static_cast<int>(rows), X.data + r0 * d + j0, di,
                B.data() + r0 * k, ki, Cb, di);
    } else {
      gemm_call(gemm, 'T', 'N', m, ki, static_cast<int>(rows), X.data + j0 * n + r0, ni,
                B.data() + r0, ni, Cb, di);
    }
  }
  for (index_t c = 0; c < k; ++c) {
    std::vector<double>& o = *out[c];
    o.assign(static_cast<std::size_t>(nb * d), 0.0);
    for (index_t b = 0; b < nb; ++b) {
      double colsum = 0.0;
      if (X.mean)
        for (index_t i = starts[b]; i < starts[b + 1]; ++i) colsum += static_cast<double>(at(i, c));
      const T* Cbc = C.data() + b * d * k + c * d;
      for (index_t j = 0; j < d; ++j)
        o[b * d + j] = static_cast<double>(Cbc[j]) -
                       (X.mean ? static_cast<double>(X.mean[j]) * colsum : 0.0);
    }
  }
}

// The design's own Gram columns G[:, j] = X_eff'x_j (X_eff: X centred by X.mean, rows scaled by
// X.scale), with q = X_eff'y and the column norms from one pass over X.
template <class T>
struct DesignColumns {
  DenseX<T> X;
  const Gemm& gemm;
  int n_threads;
  std::vector<double> v2, q, norms;  // v2: the squared row scales
  double yy;
  std::vector<std::vector<double>> G;
  index_t held = 0;

  DesignColumns(const DenseX<T>& X_, const T* y, const Gemm& gemm_, int n_threads_)
      : X(X_), gemm(gemm_), n_threads(n_threads_), v2(X_.n), q(X_.d), norms(X_.d), G(X_.d) {
    std::vector<double> v(X.n);
    for (index_t i = 0; i < X.n; ++i) {
      const double s = X.scale ? static_cast<double>(X.scale[i]) : 1.0;
      v[i] = s * static_cast<double>(y[i]);
      v2[i] = s * s;
    }
    dense::column_pass<true, true>(X, v.data(), v2.data(), q.data(), norms.data(), n_threads);
    yy = kernels::dot(y, y, X.n);
  }
  template <class Corr>
  const double* column(index_t j, Corr corr) {
    if (G[j].empty()) {
      const std::vector<index_t> feats = batch_around(
          j, X.d, held, 2, norms.data(), [&](index_t i) { return !G[i].empty(); }, corr);
      std::vector<std::vector<double>*> out;
      for (index_t f : feats) out.push_back(&G[f]);
      column_products(X, X.scale ? v2.data() : nullptr, {0, X.n}, feats, gemm, n_threads,
                      out.data());
      held += static_cast<index_t>(feats.size());
    }
    return G[j].data();
  }
};

// A fold of a cross-validation on the block columns: its Gram matrix is
// c (sum_{b != skip} S_b - W delta delta'), its X'y q, its diagonal norms, its y'y yy (skip < 0:
// every block, the refit). Its columns are assembled from the blocks' once and kept.
template <class T>
struct FoldColumns {
  BlockColumns<T>& blocks;
  const Fold& f;
  std::vector<double> q, norms;
  double yy;
  std::vector<std::vector<double>> G;

  FoldColumns(BlockColumns<T>& blocks_, const Fold& f_)
      : blocks(blocks_), f(f_), q(f_.q, f_.q + blocks_.X.d),
        norms(f_.norms, f_.norms + blocks_.X.d), yy(f_.yy), G(blocks_.X.d) {}
  template <class Corr>
  const double* column(index_t j, Corr corr) {
    const index_t d = blocks.X.d;
    if (G[j].empty()) {
      if (blocks.S[j].empty()) {
        const std::vector<index_t> feats = batch_around(
            j, d, blocks.held, kFoldGrowth, norms.data(),
            [&](index_t i) { return !blocks.S[i].empty(); }, corr);
        std::vector<std::vector<double>*> out;
        for (index_t c : feats) out.push_back(&blocks.S[c]);
        column_products(blocks.X, blocks.v, blocks.starts, feats, *blocks.gemm,
                        blocks.n_threads, out.data());
        blocks.held += static_cast<index_t>(feats.size());
      }
      const std::vector<double>& S = blocks.S[j];
      std::vector<double>& g = G[j];
      g.assign(static_cast<std::size_t>(d), 0.0);
      const index_t nb = static_cast<index_t>(blocks.starts.size()) - 1;
      for (index_t b = 0; b < nb; ++b)  // blocks added in order: the same sums for every fold
        if (b != f.skip)
          for (index_t i = 0; i < d; ++i) g[i] += S[b * d + i];
      for (index_t i = 0; i < d; ++i) g[i] = f.c * (g[i] - f.W * f.delta[i] * f.delta[j]);
    }
    return G[j].data();
  }
};

}  // namespace fastml::linear::columns
