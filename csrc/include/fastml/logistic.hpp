// Logistic regression core: the half binomial (k == 1) or half multinomial (k >= 2) loss of a
// linear model, its gradient and its Hessian, each fused in one pass over the rows of X.
//
// The loss of row i is sw_i * l(y_i, z_i), z_i = W x_i + b (k values), with
//   binomial:    l = log(1 + exp(z)) - y z,          dl/dz = sigmoid(z) - y
//   multinomial: l = logsumexp(z) - z_y,             dl/dz_c = softmax(z)_c - [c == y]
// Results are plain sums over the rows (never divided by sum(sw), no penalty): the caller scales
// them as scikit-learn's LinearModelLoss does. Rows are cut into chunks that depend on the
// problem only; each chunk's partial sums are added in chunk order, so results do not depend on
// the thread count.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastml/matrix_views.hpp"

namespace fastml::logistic {

using index_t = std::ptrdiff_t;

template <class T>
using Dense = DenseRows<T>;
template <class T, class I>
using Csr = CsrRows<T, I>;

// The model and targets, in float64.
struct Model {
  const double* y;    // n: 0/1 (binomial) or the class index 0..k-1 (multinomial)
  const double* sw;   // n sample weights, or null for ones
  const double* w;    // k x d, row-major
  const double* b;    // k intercepts (zeros without one)
  const double* raw;  // n x k raw predictions to use instead of W x + b, or null
  index_t k;          // 1: binomial; >= 2: multinomial over k classes
};

// Sums over the rows, written by the drivers below.
struct Sums {
  double loss;             // sum_i sw_i l_i
  double* grad_w;          // k x d: sum_i sw_i dl/dz_c x_i
  double* grad_b;          // k:     sum_i sw_i dl/dz_c
  double* hessian;         // (k d') x (k d') in scikit-learn's layout (coefficient (j, c) at
                           // j * k + c; j == d the intercept when d' = d + 1), or null
  double nonpositive_weight;  // binomial Hessian only: sum of the weights of rows whose
                              // pointwise Hessian sw_i l''_i is <= 0 (scikit-learn falls back
                              // to lbfgs when they outweigh a quarter)
};

// loss and gradient; sums.hessian is ignored.
template <class X>
void loss_gradient(const X& x, const Model& m, Sums& sums, int n_threads);

// loss, gradient and the Hessian with (fit_intercept) or without the intercept's row and column.
template <class X>
void gradient_hessian(const X& x, const Model& m, bool fit_intercept, Sums& sums, int n_threads);

// out (n x k) = X W^T + b, in float64.
template <class X>
void raw_prediction(const X& x, const Model& m, double* out, int n_threads);

const char* simd_target();

// The step d (p) of a proximal Newton iteration for the l1 (or elastic-net) penalty: the
// minimiser of g.d + 0.5 d^T H d + l1 sum_{j penalised} |w_j + d_j| by cyclic coordinate
// descent from d = 0, sweeps in coordinate order until no coordinate moves by more than tol or
// max_sweeps. H (p x p, symmetric, row-major), g, w (p), penalised (p, 0 or 1). Returns the
// sweeps run. A coordinate whose H_jj is not positive is left at 0.
int l1_quadratic_cd(const double* H, const double* g, const double* w,
                    const std::uint8_t* penalised, index_t p, double l1, double tol,
                    int max_sweeps, double* d);

// ---- kernels (one instruction-set build each; see logistic_kernels_isa.cpp) --------------------

// Rows [begin, end) of one chunk, added to the chunk's partial sums (zeroed by the caller):
// loss into *loss, gradient into grad_w (k x d) and grad_b (k).
template <class X>
using LossGradientRows = void (*)(const X& x, const Model& m, index_t begin, index_t end,
                                  double* loss, double* grad_w, double* grad_b);
// As LossGradientRows, plus the Hessian's upper blocks into hess: for classes c <= l, the
// d' x d' block of (c, l) at ((c * k + l) * d' * d'), entries (a, b) with a <= b only; and the
// weight of rows whose pointwise Hessian is <= 0 into *nonpositive.
template <class X>
using HessianRows = void (*)(const X& x, const Model& m, bool fit_intercept, index_t begin,
                             index_t end, double* loss, double* grad_w, double* grad_b,
                             double* hess, double* nonpositive);
template <class X>
using RawRows = void (*)(const X& x, const Model& m, index_t begin, index_t end, double* out);

template <class X>
struct Kernels {
  LossGradientRows<X> loss_gradient;
  HessianRows<X> hessian;
  RawRows<X> raw;
};

template <class T>
struct TypeKernels {
  Kernels<Dense<T>> dense;
  Kernels<Csr<T, std::int32_t>> csr32;
  Kernels<Csr<T, std::int64_t>> csr64;
};

struct LogisticTable {
  TypeKernels<float> f32;
  TypeKernels<double> f64;
};

namespace baseline { LogisticTable kernel_table(); }
namespace x86_64_v3 { LogisticTable kernel_table(); }
namespace x86_64_v4 { LogisticTable kernel_table(); }

}  // namespace fastml::logistic
