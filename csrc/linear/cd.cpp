// One coordinate-descent skeleton (Solver) over views of the least-squares term: the dense
// design matrix with its residual R = y - Xw (DenseTerm), the sparse one (SparseTerm, in
// cd_sparse_term.hpp) and the Gram matrix with Qw (GramTerm, ColumnsTerm).
// A view answers four questions: a column's squared norm, X_j'R, how R changes when w_j moves,
// and R'R with R'y; the sweeps, the duality gap, the screening and the working sets are written
// once, here.
#include "cd.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "cd_dense.hpp"
#include "cd_gram_columns.hpp"
#include "cd_kernels.hpp"
#include "cd_sparse_term.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::linear {
namespace {

using kernels::axpy;
using kernels::dot;
using kernels::kStreamNs;
using kernels::lanes_sum;
using kernels::rand_int;
using dense::column_pass;
using dense::gather_columns;

// R -= X_eff w (the residual of a warm start), one pass over X.
template <class T>
void subtract_product(const DenseX<T>& X, const T* w, T* R, int n_threads) {
  const index_t n = X.n, d = X.d;
  std::vector<index_t> nz;
  for (index_t j = 0; j < d; ++j)
    if (w[j] != 0) nz.push_back(j);
  const index_t m = static_cast<index_t>(nz.size());
  const int threads = fastml_region_threads(static_cast<double>(n) * m * kStreamNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t i = 0; i < n; ++i) {
    double s = 0.0;
    for (index_t j : nz) s += X.at(i, j) * static_cast<double>(w[j]);
    if (X.scale) s *= static_cast<double>(X.scale[i]);
    R[i] = static_cast<T>(static_cast<double>(R[i]) - s);
  }
}

// The dense design matrix as the solver sees it: column j is (X[:, j] - mean_j) * scale, with
// X in either order, so that fitting an intercept or sample weights needs no centred copy of X
// (scikit-learn copies and centres it, and makes it Fortran-ordered: most of its fit time on
// 50k x 1000). The columns the sweeps visit are gathered, centred and scaled, into a cache that
// lives along the whole path; the full X'R of the gap is one pass over X in its own order.
template <class T>
struct DenseTerm {
  DenseX<T> X;
  const T* y;
  index_t n, d;
  int n_threads;
  std::vector<T> R;
  std::vector<double> norms;
  std::vector<std::vector<T>> cache;
  std::vector<double> v, v2;  // per-row multipliers of a pass: scale * R and scale^2
  bool norms_pending = true;  // the column norms come with the first pass for X'R
  static constexpr bool kGram = false;

  DenseTerm(const DenseX<T>& X_, const T* y_, const T* w, int n_threads_)
      : X(X_), y(y_), n(X_.n), d(X_.d), n_threads(n_threads_), R(y_, y_ + X_.n), norms(X_.d),
        cache(X_.d), v(X_.n), v2(X_.n) {
    for (index_t i = 0; i < n; ++i)
      v2[i] = X.scale ? static_cast<double>(X.scale[i]) * X.scale[i] : 1.0;
    if (direct()) {
      column_pass<false, true>(X, nullptr, v2.data(), nullptr, norms.data(), n_threads);
      norms_pending = false;
    }
    bool any = false;
    for (index_t j = 0; j < d; ++j) any |= w[j] != 0;
    if (any) subtract_product(X, w, R.data(), n_threads);
  }
  bool direct() const { return !X.c_order && !X.mean && !X.scale; }
  const T* col(index_t j) {
    if (direct()) return X.data + j * n;
    if (cache[j].empty()) {
      const index_t one[1] = {j};
      gather(one, 1);
    }
    return cache[j].data();
  }
  // Gathers the listed columns that are not cached yet, and then the extra ones (one pass over
  // X for all of them).
  void gather(const index_t* feats, index_t m, const index_t* extra = nullptr, index_t e = 0) {
    if (direct()) return;
    std::vector<index_t> missing;
    for (index_t k = 0; k < m; ++k)
      if (cache[feats[k]].empty()) missing.push_back(feats[k]);
    if (missing.empty()) return;
    for (index_t k = 0; k < e; ++k)
      if (cache[extra[k]].empty()) missing.push_back(extra[k]);
    std::vector<T*> dst;
    for (index_t j : missing) {
      cache[j].resize(n);
      dst.push_back(cache[j].data());
    }
    gather_columns(X, missing.data(), static_cast<index_t>(missing.size()), dst.data(), n_threads);
  }
  double norm2(index_t j) const { return norms[j]; }
  double y_norm2() const { return dot(y, y, n); }
  double corr(index_t j) { return dot(col(j), R.data(), n); }
  void move(index_t j, double delta) { axpy(static_cast<T>(-delta), col(j), R.data(), n); }
  std::pair<double, double> residual_stats(const T*) const {
    return {dot(R.data(), R.data(), n), dot(R.data(), y, n)};
  }
  // out[k] = X_j'R for j = feats[k]: from the cached columns when all are cached (a working
  // set), else by one pass over X for all features.
  void correlations(const index_t* feats, index_t m, double* out, int) {
    bool cached = true;
    if (!direct())
      for (index_t k = 0; k < m && cached; ++k) cached = !cache[feats[k]].empty();
    if (cached) {
      const int threads = fastml_region_threads(static_cast<double>(n) * m * kStreamNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (index_t k = 0; k < m; ++k)
        out[k] = dot(direct() ? X.data + feats[k] * n : cache[feats[k]].data(), R.data(), n);
      return;
    }
    for (index_t i = 0; i < n; ++i) v[i] = X.scale ? static_cast<double>(X.scale[i]) * R[i] : R[i];
    std::vector<double> all(d);
    if (norms_pending)
      column_pass<true, true>(X, v.data(), v2.data(), all.data(), norms.data(), n_threads);
    else
      column_pass<true, false>(X, v.data(), nullptr, all.data(), nullptr, n_threads);
    norms_pending = false;
    for (index_t k = 0; k < m; ++k) out[k] = all[feats[k]];
  }
};

// The design seen through Gram columns G[:, j] computed on demand by a Source (cd_gram_columns.hpp:
// the design's own, or a cross-validation fold's from its row blocks), with q = X'y, the column
// norms and y'y. X'R = q - G w and R'R = y'y - 2 q'w + w'G w need nothing else, so a feature's
// correlation, the gap and the screening cost O(n_features) and read no column of a feature still
// at zero: a path on 50k x 1000 with 67 nonzeros at its end needs about a tenth of the Gram matrix
// that scikit-learn's precompute="auto" builds (the whole of it: 1.04 s of its 2.1 s, one thread).
template <class T, class Source>
struct ColumnsTerm {
  Source& src;
  index_t d;
  std::vector<double> Qw;
  static constexpr bool kGram = true;

  ColumnsTerm(Source& src_, index_t d_, const T* w) : src(src_), d(d_), Qw(d_, 0.0) {
    for (index_t j = 0; j < d; ++j)
      if (w[j] != 0) move(j, static_cast<double>(w[j]));
  }
  void gather(const index_t*, index_t, const index_t* = nullptr, index_t = 0) {}  // on demand
  double norm2(index_t j) const { return src.norms[j]; }
  double y_norm2() const { return src.yy; }
  double corr(index_t j) const { return src.q[j] - Qw[j]; }
  void move(index_t j, double delta) {
    const double* g = src.column(j, [this](index_t i) { return corr(i); });
    for (index_t i = 0; i < d; ++i) Qw[i] += delta * g[i];
  }
  std::pair<double, double> residual_stats(const T* w) const {
    double qw = 0, wQw = 0;
    for (index_t j = 0; j < d; ++j) {
      qw += src.q[j] * static_cast<double>(w[j]);
      wQw += Qw[j] * static_cast<double>(w[j]);
    }
    return {src.yy + wQw - 2.0 * qw, src.yy - qw};
  }
  void correlations(const index_t* feats, index_t m, double* out, int) const {
    for (index_t k = 0; k < m; ++k) out[k] = corr(feats[k]);
  }
};

// Qw is kept in double whatever T: in float32 its running sums drifted over the path's updates
// (breast_cancer without an intercept, whose Gram entries reach 1e11: LassoCV's mean squared
// errors 8% off scikit-learn's, coefficients 2e-2 off the float64 optimum where scikit-learn's
// were 1e-5 off).
template <class T>
struct GramTerm {
  const T* Q;
  const T* q;
  double yy;
  index_t d;
  std::vector<double> Qw;
  static constexpr bool kGram = true;

  GramTerm(const T* Q_, const T* q_, double yy_, index_t d_, const T* w)
      : Q(Q_), q(q_), yy(yy_), d(d_), Qw(d_, 0.0) {
    for (index_t j = 0; j < d; ++j)
      if (w[j] != 0) move(j, static_cast<double>(w[j]));
  }
  double norm2(index_t j) const { return Q[j * d + j]; }
  double y_norm2() const { return yy; }
  double corr(index_t j) const { return static_cast<double>(q[j]) - Qw[j]; }
  void move(index_t j, double delta) {
    const T* g = Q + j * d;
    for (index_t i = 0; i < d; ++i) Qw[i] += delta * static_cast<double>(g[i]);
  }
  // R'R = y'y + w'Qw - 2 q'w and R'y = y'y - q'w, as scikit-learn's gap_enet_gram.
  std::pair<double, double> residual_stats(const T* w) const {
    double qw = 0, wQw = 0;
    for (index_t j = 0; j < d; ++j) {
      qw += static_cast<double>(q[j]) * static_cast<double>(w[j]);
      wQw += static_cast<double>(w[j]) * Qw[j];
    }
    return {yy + wQw - 2.0 * qw, yy - qw};
  }
  void correlations(const index_t* feats, index_t m, double* out, int) const {
    for (index_t k = 0; k < m; ++k) out[k] = corr(feats[k]);
  }
  void gather(const index_t*, index_t, const index_t* = nullptr, index_t = 0) {}
};

// Gathering columns for a working set (DenseTerm) reads all of X when it is in C order (a column is
// strided), whatever their number: each gather takes kPrefetch more of the best-ranked features
// along, which later working sets (the next alphas of a path) are likely to need.
constexpr index_t kPrefetch = 16;

template <class Term, class T>
class Solver {
 public:
  Solver(Term& term, T* w, const CdOptions& opt)
      : term_(term), w_(w), d_(term.d), opt_(opt), xta_(term.d), corr_(term.d),
        excluded_(term.d, 0) {
    for (index_t j = 0; j < d_; ++j) all_.push_back(j);
  }

  CdResult run() {
    CdResult res;
    res.tol = opt_.tol * term_.y_norm2();
    const bool l1 = opt_.alpha != 0;
    screening_ = opt_.screening && l1;
    double dual_norm = 0;
    double gap = full_gap(dual_norm);
    // Gram: a singular Q can give a negative gap, which scikit-learn does not trust at the start.
    if (gap <= res.tol && (!Term::kGram || gap >= 0)) {
      res.gap = gap;
      res.converged = true;
      return res;
    }
    active_ = all_;
    if (screening_) screen(gap, dual_norm, true);
    if (!(opt_.working_sets && !opt_.random && l1))
      term_.gather(active_.data(), static_cast<index_t>(active_.size()));
    if (opt_.working_sets && !opt_.random && l1)
      working_set_loop(gap, dual_norm, res);
    else
      sweep_loop(gap, dual_norm, res);
    res.gap = gap;
    return res;
  }

 private:
  // scikit-learn's loop: sweep the unscreened features; when the largest step is small against
  // the largest coefficient (or at the last sweep), compute the gap, stop or screen again.
  void sweep_loop(double& gap, double& dual_norm, CdResult& res) {
    std::uint32_t state = opt_.seed;
    for (std::int64_t it = 0; it < opt_.max_iter; ++it) {
      const auto [w_max, dw_max] = sweep(active_.data(), static_cast<index_t>(active_.size()),
                                         opt_.random ? &state : nullptr);
      res.n_iter = it + 1;
      if (w_max == 0 || dw_max / w_max <= opt_.tol || it == opt_.max_iter - 1) {
        gap = full_gap(dual_norm);
        if (gap <= res.tol) {
          res.converged = true;
          return;
        }
        if (screening_) screen(gap, dual_norm, false);
      }
    }
  }

  // Working sets (Massias et al. 2018, celer; Bertrand et al. 2022, skglm): rank the unscreened
  // features by their distance to the dual constraint, solve the problem restricted to the
  // nonzero ones and the closest others (twice the support, at least 10) until its own gap is a
  // third of the full one, then take the full gap again. The full gap, over every feature, is the
  // stopping rule, so the answer is scikit-learn's optimum at the same tolerance; the sweeps in
  // between touch only the working set's columns instead of all unscreened ones.
  void working_set_loop(double& gap, double& dual_norm, CdResult& res) {
    std::int64_t sweeps = 0;
    index_t last_size = 0;
    std::vector<index_t> ws;
    while (true) {
      index_t nnz = 0;
      for (index_t j : active_) nnz += w_[j] != 0;
      const index_t n_active = static_cast<index_t>(active_.size());
      const double scale = std::max(opt_.alpha, dual_norm);
      const index_t size = kernels::pick_working_set(
          active_, nnz, last_size, kPrefetch,
          [&](index_t j) {
            return w_[j] != 0 ? -std::numeric_limits<double>::infinity()
                              : (1.0 - std::fabs(xta_[j]) / scale) /
                                    std::sqrt(term_.norm2(j) + opt_.beta);
          },
          ws);
      term_.gather(ws.data(), size, ws.data() + size, static_cast<index_t>(ws.size()) - size);
      const double inner_tol = size == n_active ? res.tol : std::max(res.tol, 0.3 * gap);

      for (std::int64_t inner = 1;; ++inner) {
        const auto [w_max, dw_max] = sweep(ws.data(), size, nullptr);
        ++sweeps;
        if (sweeps >= opt_.max_iter) break;
        if (w_max == 0 || dw_max / w_max <= opt_.tol || inner % 10 == 0) {
          double sub_norm = 0;
          if (gap_over(ws.data(), size, sub_norm) <= inner_tol) break;
        }
      }
      res.n_iter = sweeps;
      gap = full_gap(dual_norm);
      if (gap <= res.tol) {
        res.converged = true;
        return;
      }
      if (sweeps >= opt_.max_iter) return;
      if (screening_) screen(gap, dual_norm, false);
    }
  }

  // One sweep over feats (in order, or drawn with scikit-learn's stream when state is given):
  // returns the largest |w_j| and the largest step.
  std::pair<double, double> sweep(const index_t* feats, index_t m, std::uint32_t* state) {
    double w_max = 0, dw_max = 0;
    const double alpha = opt_.alpha, beta = opt_.beta;
    for (index_t k = 0; k < m; ++k) {
      const index_t j = state ? feats[rand_int(static_cast<std::uint32_t>(m), *state)] : feats[k];
      const double nj = term_.norm2(j);
      if (nj == 0.0) continue;
      const double old = w_[j];
      const double tmp = term_.corr(j) + old * nj;
      double next = 0.0;
      if (!(opt_.positive && tmp < 0)) {
        const double shrunk = std::max(std::fabs(tmp) - alpha, 0.0);
        next = (tmp > 0 ? shrunk : tmp < 0 ? -shrunk : 0.0) / (nj + beta);
      }
      w_[j] = static_cast<T>(next);
      const double now = w_[j];
      if (now != old) term_.move(j, now - old);
      dw_max = std::max(dw_max, std::fabs(now - old));
      w_max = std::max(w_max, std::fabs(now));
    }
    return {w_max, dw_max};
  }

  double full_gap(double& dual_norm) { return gap_over(all_.data(), d_, dual_norm); }

  // The duality gap with the dual point built from the residual and the features listed (all of
  // them for the problem's gap, the working set for its subproblem's); fills xta_ for them.
  double gap_over(const index_t* feats, index_t m, double& dual_norm) {
    term_.correlations(feats, m, corr_.data(), opt_.n_threads);
    const double alpha = opt_.alpha, beta = opt_.beta;
    double l1 = 0, l2 = 0;
    for (index_t j = 0; j < d_; ++j) {
      const double v = w_[j];
      l1 += std::fabs(v);
      l2 += v * v;
    }
    const auto [r2, ry] = term_.residual_stats(w_);
    if (alpha == 0) {
      double g2 = 0;
      for (index_t k = 0; k < m; ++k) {
        xta_[feats[k]] = corr_[k];
        g2 += corr_[k] * corr_[k];
      }
      dual_norm = g2;
      if (beta == 0) return g2;  // OLS: no dual, the gradient's squared norm
      return r2 + 0.5 * beta * l2 - ry + g2 / (2 * beta);  // formulation B
    }
    double norm = -std::numeric_limits<double>::infinity();
    for (index_t k = 0; k < m; ++k) {
      const index_t j = feats[k];
      const double v = corr_[k] - beta * static_cast<double>(w_[j]);
      xta_[j] = v;
      norm = std::max(norm, opt_.positive ? v : std::fabs(v));
    }
    dual_norm = norm;
    const double scale = norm > alpha ? alpha / norm : 1.0;
    const double primal = 0.5 * (r2 + beta * l2) + alpha * l1;
    const double dual = -0.5 * scale * scale * (r2 + beta * l2) + scale * ry;
    return primal - dual;
  }

  // Gap-safe sphere test (Ndiaye et al. 2017, eq. 11 of arXiv:1802.07481, as scikit-learn):
  // a feature whose correlation with the dual point stays below 1 over the whole sphere of radius
  // sqrt(2 gap) / alpha is zero at the optimum; it is set to 0 and never visited again.
  void screen(double gap, double dual_norm, bool first) {
    const double radius = std::sqrt(2 * std::fabs(gap)) / opt_.alpha;
    const double scale = std::max(opt_.alpha, dual_norm);
    active_.clear();
    for (index_t j = 0; j < d_; ++j) {
      if (excluded_[j]) continue;
      const double nj = term_.norm2(j);
      if (first && nj == 0) {
        w_[j] = 0;
        excluded_[j] = 1;
        continue;
      }
      const double dj = (1 - std::fabs(xta_[j] / scale)) / std::sqrt(nj + opt_.beta);
      if (dj <= radius) {
        active_.push_back(j);
      } else {
        if (w_[j] != 0) {
          term_.move(j, -static_cast<double>(w_[j]));
          w_[j] = 0;
        }
        excluded_[j] = 1;
      }
    }
  }

  Term& term_;
  T* w_;
  index_t d_;
  const CdOptions& opt_;
  std::vector<double> xta_, corr_;
  std::vector<unsigned char> excluded_;
  std::vector<index_t> all_, active_;
  bool screening_ = false;
};

template <class Term, class T>
void run_path(Term& term, index_t d, const Path& path, T* w, T* coefs, CdResult* results,
              const CdOptions& opt) {
  for (index_t a = 0; a < path.n_alphas; ++a) {
    CdOptions o = opt;
    o.alpha = path.alphas[a];
    o.beta = path.betas[a];
    o.seed = path.seeds[a];
    results[a] = Solver<Term, T>(term, w, o).run();
    std::copy(w, w + d, coefs + a * d);
  }
}

}  // namespace

template <class T>
void enet_path_dense(const DenseX<T>& X, const T* y, const Path& path, T* w, T* coefs,
                     CdResult* results, const CdOptions& opt) {
  if (opt.gram_columns) {
    if (!opt.gemm) throw std::invalid_argument("gram_columns needs BLAS");
    columns::DesignColumns<T> src(X, y, *opt.gemm, opt.n_threads);
    ColumnsTerm<T, columns::DesignColumns<T>> term(src, X.d, w);
    run_path(term, X.d, path, w, coefs, results, opt);
    return;
  }
  DenseTerm<T> term(X, y, w, opt.n_threads);
  run_path<DenseTerm<T>, T>(term, X.d, path, w, coefs, results, opt);
}

template <class T>
void enet_path_sparse(const SparseX<T>& X, const T* y, const Path& path, T* w, T* coefs,
                      CdResult* results, const CdOptions& opt) {
  SparseTerm<T> term(X, y, w, opt.n_threads);
  run_path<SparseTerm<T>, T>(term, X.d, path, w, coefs, results, opt);
}

template <class T>
void enet_path_gram(const T* Q, const T* q, double y_norm2, index_t d, const Path& path, T* w,
                    T* coefs, CdResult* results, const CdOptions& opt) {
  GramTerm<T> term(Q, q, y_norm2, d, w);
  run_path<GramTerm<T>, T>(term, d, path, w, coefs, results, opt);
}

template <class T>
void enet_path_blocks(BlockColumns<T>& blocks, const Fold& fold, const Path& path, T* w, T* coefs,
                      CdResult* results, const CdOptions& opt) {
  columns::FoldColumns<T> src(blocks, fold);
  ColumnsTerm<T, columns::FoldColumns<T>> term(src, blocks.X.d, w);
  run_path(term, blocks.X.d, path, w, coefs, results, opt);
}

#define FASTML_CD_INSTANTIATE(T)                                                              \
  template void enet_path_dense<T>(const DenseX<T>&, const T*, const Path&, T*, T*, CdResult*, \
                                   const CdOptions&);                                         \
  template void enet_path_sparse<T>(const SparseX<T>&, const T*, const Path&, T*, T*,         \
                                    CdResult*, const CdOptions&);                             \
  template void enet_path_gram<T>(const T*, const T*, double, index_t, const Path&, T*, T*,    \
                                  CdResult*, const CdOptions&);                             \
  template void enet_path_blocks<T>(BlockColumns<T>&, const Fold&, const Path&, T*, T*,         \
                                    CdResult*, const CdOptions&);
FASTML_CD_INSTANTIATE(float)
FASTML_CD_INSTANTIATE(double)

}  // namespace fastml::linear
