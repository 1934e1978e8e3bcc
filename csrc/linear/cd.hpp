// Coordinate descent for the elastic net (fastml._cd_fast), in scikit-learn's cd_fast scaling:
//   min_w 1/2 ||y - X w||^2 + alpha ||w||_1 + beta/2 ||w||^2
// with alpha and beta already multiplied by n_samples, stopped by the duality gap
// (formulation A for alpha > 0, B for alpha = 0 < beta, the gradient norm for OLS) against
// tol * ||y||^2, as scikit-learn's enet_coordinate_descent{,_gram}.
#pragma once
#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastml::linear {

using index_t = std::ptrdiff_t;

// BLAS matrix products (Fortran calling convention), taken from scipy.linalg.cython_blas by the
// binding: the Gram columns X'X_S of the working sets are the one dense product of the solver.
using DgemmFn = void (*)(char*, char*, int*, int*, int*, double*, double*, int*, double*, int*,
                         double*, double*, int*);
using SgemmFn = void (*)(char*, char*, int*, int*, int*, float*, float*, int*, float*, int*,
                         float*, float*, int*);
struct Gemm {
  DgemmFn dgemm = nullptr;
  SgemmFn sgemm = nullptr;
};

struct CdOptions {
  double alpha = 0.0;  // L1 strength (times n_samples)
  double beta = 0.0;   // L2 strength (times n_samples)
  std::int64_t max_iter = 1000;
  double tol = 1e-4;  // relative: converged when gap <= tol * ||y||^2
  // scikit-learn's rand_r state (rng.randint(0, 2**31 - 1)), used when `random`: the features are
  // drawn from the same stream as scikit-learn's, so selection="random" gives its model.
  std::uint32_t seed = 1;
  bool random = false;
  bool positive = false;
  bool screening = true;  // gap-safe screening (Fercoq et al. 2015), as scikit-learn's do_screening
  // Solve growing working sets of features (celer/skglm) instead of sweeping every unscreened
  // feature: only with cyclic selection and alpha > 0 (the random stream is scikit-learn's only
  // when every sweep covers the unscreened features as its own does).
  bool working_sets = true;
  // Dense X only: solve on the Gram columns X'x_j of the features that leave zero (BLAS products
  // of a batch of them at a time) instead of the residual, so that an update costs O(n_features)
  // and the gap needs no pass over X. Needs `gemm`.
  bool gram_columns = false;
  const Gemm* gemm = nullptr;
  int n_threads = 1;
};

struct CdResult {
  double gap = 0.0;        // duality gap reached (unscaled: scikit-learn divides by n_samples)
  double tol = 0.0;        // tol * ||y||^2, the bound the gap was held to
  std::int64_t n_iter = 0;  // sweeps over features (0 when the start already converged)
  bool converged = false;
};

// Column j of the design is (data[:, j] - mean[j]) * scale (mean and scale optional): the centring
// for an intercept and the square roots of the sample weights, applied on the fly.
template <class T>
struct DenseX {
  const T* data;
  index_t n, d;
  bool c_order;
  const T* mean;   // d values or nullptr
  const T* scale;  // n values or nullptr
  double at(index_t i, index_t j) const {
    const double x = c_order ? data[i * d + j] : data[j * n + i];
    return x - (mean ? static_cast<double>(mean[j]) : 0.0);
  }
};

// CSC X (int32 indices, as scikit-learn's sparse solvers take) whose column j is
// (x_j - mean[j]) * sqrt(weight) (mean and weight optional): the intercept's centring and the
// sample weights, with the weights kept apart from X as scikit-learn's sparse solver does.
template <class T>
struct SparseX {
  const T* data;
  const std::int32_t* indices;
  const std::int32_t* indptr;  // d + 1 offsets
  index_t n, d;
  const T* mean;    // d values or nullptr
  const T* weight;  // n values or nullptr
};

// A path: the problem solved for alphas[a], betas[a] (a = 0 .. n_alphas - 1, in that order), each
// from the previous solution. w: d coefficients, IN the first warm start, OUT the last solution;
// coefs: n_alphas x d, OUT each solution; results: n_alphas, OUT; seeds: n_alphas rand_r states
// (scikit-learn draws one per alpha). opt's alpha, beta and seed are ignored.
struct Path {
  index_t n_alphas;
  const double* alphas;
  const double* betas;
  const std::uint32_t* seeds;
};

template <class T>
void enet_path_dense(const DenseX<T>& X, const T* y, const Path& path, T* w, T* coefs,
                     CdResult* results, const CdOptions& opt);

template <class T>
void enet_path_sparse(const SparseX<T>& X, const T* y, const Path& path, T* w, T* coefs,
                      CdResult* results, const CdOptions& opt);

// Q = X'X (d x d, symmetric, C order), q = X'y, y_norm2 = y'y.
template <class T>
void enet_path_gram(const T* Q, const T* q, double y_norm2, index_t d, const Path& path, T* w,
                    T* coefs, CdResult* results, const CdOptions& opt);

// The Gram columns of a cross-validation's row blocks (its test sets), computed on demand and
// shared by its folds: S[j][b * d + i] = sum_{r in block b} v_r (x_ri - m_i)(x_rj - m_j), X's
// rows grouped by block (block b: rows starts[b] .. starts[b + 1] - 1), m = X.mean the centre of
// all rows (or none), v the sample weights (or none); X.scale is not used.
template <class T>
struct BlockColumns {
  DenseX<T> X;
  const double* v;
  std::vector<index_t> starts;
  const Gemm* gemm;
  int n_threads;
  std::vector<std::vector<double>> S;  // empty until computed
  index_t held = 0;                    // columns computed
};

// One fold's problem on BlockColumns: the Gram matrix c (sum_{b != skip} S_b - W delta delta'),
// q = X'y, norms its diagonal, yy = y'y (d values each; skip < 0: all the blocks).
struct Fold {
  index_t skip;
  double c, W;
  const double* delta;
  const double* q;
  const double* norms;
  double yy;
};

template <class T>
void enet_path_blocks(BlockColumns<T>& blocks, const Fold& fold, const Path& path, T* w, T* coefs,
                      CdResult* results, const CdOptions& opt);

// Block coordinate descent for the multi-task elastic net, as scikit-learn's
// enet_coordinate_descent_multi_task (same sweeps, screening, stopping rule and random stream
// without working sets):
//   min_W 1/2 ||Y - X W'||_F^2 + alpha sum_j ||W[:, j]||_2 + beta/2 ||W||_F^2
// X: n x d dense view (column j centred and scaled on the fly); Y: n x k in C order, already
// centred and weighted; W: k x d in C order, IN the first warm start, OUT the last solution;
// coefs: n_alphas x k x d, OUT each solution; the rest as enet_path_dense (opt.gram_columns and
// opt.positive are not used; the gap's bound is tol * ||Y||_F^2).
template <class T>
void enet_path_multitask(const DenseX<T>& X, const T* Y, index_t k, const Path& path, T* W,
                         T* coefs, CdResult* results, const CdOptions& opt);

}  // namespace fastml::linear
