// The sparse (CSC) design as a view of the coordinate-descent Solver in cd.cpp, centred and
// weighted without densifying (scikit-learn's sparse_enet_coordinate_descent keeps a dense
// centred residual and pays O(n_samples) per coordinate update for the centring).
//
// Column j of the design is z_j = (x_j - m_j) * sqrt(v) for the stored column x_j, its mean m_j
// and the sample weights v. The residual of that problem, R = sqrt(v) * (y - Z w), is kept as
// U = y - X w (over the stored entries only) plus the scalar c = m'w: R_i = sqrt(v_i) (U_i + c).
// Then, with S = sum_i v_i U_i, V = sum_i v_i and a_j = sum_i v_i x_ij,
//   z_j'R = sum_i x_ij v_i U_i + c a_j - m_j (S + c V),
// and moving w_j by delta changes U on x_j's entries, c by delta m_j and S by -delta a_j: an
// update costs the column's stored entries only.
#pragma once
#include <cstdint>
#include <utility>
#include <vector>

#include "cd.hpp"
#include "cd_kernels.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::linear {

template <class T>
struct SparseTerm {
  SparseX<T> X;
  const T* y;
  index_t n, d;
  int n_threads;
  std::vector<double> U, a, norms;
  double c = 0.0, S = 0.0, V = 0.0;
  static constexpr bool kGram = false;

  SparseTerm(const SparseX<T>& X_, const T* y_, const T* w, int n_threads_)
      : X(X_), y(y_), n(X_.n), d(X_.d), n_threads(n_threads_), U(y_, y_ + X_.n), a(X_.d),
        norms(X_.d) {
    for (index_t i = 0; i < n; ++i) V += weight(i);
    for (index_t j = 0; j < d; ++j) {
      // sum over the stored entries of v (x - m)^2, plus m^2 v for the implicit zeros: no
      // cancellation between sum v x^2 and m^2 V.
      const double m = mean(j);
      double aj = 0.0, sq = 0.0, v_stored = 0.0;
      for (std::int64_t p = X.indptr[j]; p < X.indptr[j + 1]; ++p) {
        const double v = weight(X.indices[p]), x = X.data[p];
        aj += v * x;
        sq += v * (x - m) * (x - m);
        v_stored += v;
      }
      a[j] = aj;
      norms[j] = sq + m * m * (V - v_stored);
      if (w[j] != 0) move(j, static_cast<double>(w[j]));
    }
    refresh();
  }
  double weight(index_t i) const { return X.weight ? static_cast<double>(X.weight[i]) : 1.0; }
  double mean(index_t j) const { return X.mean ? static_cast<double>(X.mean[j]) : 0.0; }
  // S recomputed exactly (its running updates drift over many sweeps) before each full gap.
  void refresh() {
    double s = 0.0;
    for (index_t i = 0; i < n; ++i) s += weight(i) * U[i];
    S = s;
  }
  double norm2(index_t j) const { return norms[j]; }
  double y_norm2() const {
    double s = 0.0;
    for (index_t i = 0; i < n; ++i) s += weight(i) * static_cast<double>(y[i]) * y[i];
    return s;
  }
  double corr(index_t j) const {
    double s = 0.0;
    for (std::int64_t p = X.indptr[j]; p < X.indptr[j + 1]; ++p) {
      const index_t i = X.indices[p];
      s += static_cast<double>(X.data[p]) * weight(i) * U[i];
    }
    return s + c * a[j] - mean(j) * (S + c * V);
  }
  void move(index_t j, double delta) {
    for (std::int64_t p = X.indptr[j]; p < X.indptr[j + 1]; ++p)
      U[X.indices[p]] -= delta * static_cast<double>(X.data[p]);
    c += delta * mean(j);
    S -= delta * a[j];
  }
  // R'R = sum v (U + c)^2 and R'(sqrt(v) y) = sum v (U + c) y.
  std::pair<double, double> residual_stats(const T*) const {
    double r2 = 0.0, ry = 0.0;
    for (index_t i = 0; i < n; ++i) {
      const double r = U[i] + c, v = weight(i);
      r2 += v * r * r;
      ry += v * r * static_cast<double>(y[i]);
    }
    return {r2, ry};
  }
  void correlations(const index_t* feats, index_t m, double* out, int) {
    refresh();
    const double nnz = static_cast<double>(X.indptr[d] - X.indptr[0]);
    const int threads =
        fastml_region_threads(nnz * m / static_cast<double>(d) * 4 * kernels::kStreamNs,
                              n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t k = 0; k < m; ++k) out[k] = corr(feats[k]);
  }
  void gather(const index_t*, index_t, const index_t* = nullptr, index_t = 0) {}
};

}  // namespace fastml::linear
