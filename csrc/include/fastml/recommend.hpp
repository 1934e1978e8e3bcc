// Matrix factorization and top-k cores behind fastml.recommend (bound in
// csrc/bindings/recommend_module.cpp).
//
// Two layers, as for k-means: kernels (recommend_kernels_isa.cpp, built once per instruction set,
// no allocation, no threads) do the vector work of implicit ALS on one row or one block of rows;
// drivers (recommend.cpp) own memory, plan the work and run the OpenMP loops. Every row is
// computed from inputs no other row writes, and the way its sums are split depends on the row
// alone, so results do not depend on the thread count. Indices are int64.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastml::recommend {

using index_t = std::ptrdiff_t;

// CSR rows of an interaction matrix: row r holds the entries [indptr[r], indptr[r + 1]) of
// indices (column ids) and values.
template <class T>
struct Rows {
  const std::int64_t* indptr;
  const std::int64_t* indices;
  const T* values;
  index_t n_rows;
};

// Ratings as (user, item, value) triplets.
template <class T>
struct Triplets {
  const std::int64_t* users;
  const std::int64_t* items;
  const T* ratings;
  index_t n;
};

// ---- drivers (the public entry points) -------------------------------------------------------

// Implicit-feedback ALS: every row x of X (n_rows x k) against the fixed Y (n_cols x k), with
// confidences c = rows.values (1 + alpha r) and gram_reg = Y^T Y + reg I (k x k). cg_steps > 0:
// that many conjugate gradient steps warm-started at X's row (a row without entries gets 0);
// cg_steps == 0: the exact solve, (Y^T C Y + reg I) x = Y^T C p by Cholesky in float64.
// row_loss (n_rows, or null): each row's share of the loss after its solve,
// x^T gram_reg x + sum over its entries of c (1 - s)^2 - s^2 with s = x . y.
// Returns the number of rows whose exact solve met singular equations (their X is NaN).
template <class T>
index_t implicit_sweep(const Rows<T>& rows, T* X, const T* Y, index_t k, const T* gram_reg,
                       int cg_steps, double* row_loss, int n_threads);

// out (k x k) = A^T A + regularization I for A (n x k): sums over fixed blocks of rows in T,
// the blocks added in float64 in block order.
template <class T>
void gram(const T* A, index_t n, index_t k, double regularization, T* out, int n_threads);

// Explicit ALS: every row's factors (and bias) solved exactly against Y. With biases, row u
// solves w = [x_u, b_u] on z_i = [y_i, 1], targets r - global_mean - col_bias[i]; without, w = x_u
// on y_i and targets r. (Z^T Z + reg I) w = Z^T t in float64 by Cholesky; rows without entries
// get w = 0. OUT X (n_rows x k), row_bias (n_rows); row_loss as for implicit_sweep (or null):
// squared errors + reg |w|^2. Returns the number of singular rows (their factors are NaN).
template <class T>
index_t explicit_sweep(const Rows<T>& rows, const T* Y, index_t k, const T* col_bias,
                       double global_mean, double regularization, bool biases, T* X, T* row_bias,
                       double* row_loss, int n_threads);

// One SGD epoch over the ratings bucket by bucket: order[starts[b] .. starts[b + 1]) are the
// rating indices of bucket b = stratum * n_blocks + block; the buckets of one stratum touch
// disjoint users and items and run in parallel. X, Y, user_bias, item_bias: IN/OUT.
template <class T>
void sgd_epoch(const Triplets<T>& r, const std::int64_t* order, const std::int64_t* starts,
               index_t n_blocks, T* X, T* Y, index_t k, T* user_bias, T* item_bias,
               double global_mean, double learning_rate, double regularization, bool biases,
               int n_threads);

// out[j] = (r_j - global_mean - user_bias[u] - item_bias[i] - x_u . y_i)^2 in float64.
template <class T>
void explicit_errors(const Triplets<T>& r, const T* X, const T* Y, index_t k,
                     const T* user_bias, const T* item_bias, double global_mean, double* out,
                     int n_threads);

// The k best items of every row of scores (n_rows x n_items), best first, ties to the lower
// index; the items of seen row r (seen_indptr/seen_indices, CSR) are left out: their scores are
// overwritten with -inf, and NaN scores are never ranked. OUT items (n_rows x k, -1 padding) and
// best (n_rows x k, -inf padding).
template <class T>
void top_k(T* scores, index_t n_rows, index_t n_items, const std::int64_t* seen_indptr,
           const std::int64_t* seen_indices, index_t k, std::int64_t* items, T* best,
           int n_threads);

// Name of the instruction-set build of the kernels chosen for this CPU.
const char* simd_target();

// The least work (multiply-adds) for which a driver starts one more thread, 2^18 by default;
// tests set 0 to run every thread on small shapes.
double min_thread_work();
void set_min_thread_work(double work);

// ---- kernels (one instruction-set build each; see recommend_kernels_isa.cpp) ------------------

// Work vectors (a row's x, r, p, Ap, the Gram matrix's rows and gathered factor rows) are padded
// with zeros to kp, a multiple of kLanes<T> (one 64-byte vector), and are 64-byte aligned.
template <class T>
constexpr index_t kLanes = 64 / static_cast<index_t>(sizeof(T));
constexpr index_t padded(index_t k, index_t lanes) { return (k + lanes - 1) / lanes * lanes; }

// Where the factor rows of a run of entries are: row j at base + (index ? index[j] : j) * stride,
// k values each (gathered copies have stride kp; rows read in place have stride k).
template <class T>
struct Source {
  const T* base;
  index_t stride;
  const std::int64_t* index;
};

template <class T>
struct Kernels {
  // out[r] = sum_{g < k} A[r, g] G[g] for the n rows of A (stride kp) and G (kp x kp).
  void (*times_gram)(const T* A, index_t n, index_t k, index_t kp, const T* G, T* out);
  // out[f] += sum_i A[i, f] A[i] for f < k, over the n rows of A (stride kp); out is kp x kp.
  void (*add_gram)(const T* A, index_t n, index_t k, index_t kp, T* out);
  // Over n entries (factor rows y_j from src, confidences c_j), for the vector x:
  //   residual:  out += sum_j (c_j - (c_j - 1) y_j . x) y_j      (Y^T C p - Y^T (C - I) Y x)
  //   conjugate: out += sum_j (c_j - 1) (y_j . x) y_j            (Y^T (C - I) Y x)
  // in order of j, so that a row's sum is the same wherever it is computed.
  void (*residual_pass)(Source<T> src, const T* c, index_t n, index_t k, const T* x, T* out);
  void (*conjugate_pass)(Source<T> src, const T* c, index_t n, index_t k, const T* x, T* out);
  // sum_j c_j (1 - s_j)^2 - s_j^2 with s_j = y_j . x, in float64.
  double (*loss_pass)(Source<T> src, const T* c, index_t n, index_t k, const T* x);
  // Yg[j] = Y[indices[j]] (k values into rows of kp, the padding left as it is), c[j] =
  // values[j], for j < n.
  void (*gather)(const T* Y, index_t k, const std::int64_t* indices, const T* values, index_t n,
                 index_t kp, T* Yg, T* c);
  // a . b over kp padded values.
  T (*dot)(const T* a, const T* b, index_t kp);
  // One conjugate gradient update after Ap (kp padded values): x += a p, r -= a Ap,
  // p = r + beta p with a = rs / p.Ap and beta = |r|^2 / rs; rs becomes |r|^2, or 0 (and p is
  // left) once |r|^2 < converged.
  void (*cg_update)(T* x, T* r, T* p, const T* ap, index_t kp, double& rs, double converged);
};

struct RecommendTable {
  Kernels<float> f32;
  Kernels<double> f64;
};

namespace baseline { RecommendTable kernel_table(); }
namespace x86_64_v3 { RecommendTable kernel_table(); }
namespace x86_64_v4 { RecommendTable kernel_table(); }

}  // namespace fastml::recommend
