// The weighted Gram core behind fastml._linalg_fast (bound in csrc/bindings/linalg_module.cpp),
// shared by the least-squares linear models and PCA:
//
//   G   = (X - 1 m^T)^T W (X - 1 m^T)          (d x d, symmetric, full)
//   XtY = (X - 1 m^T)^T W (Y - 1 m_y^T)        (d x t), fused in the same pass over X
//
// with W = diag(w) and m, m_y the weighted column means (zeros when not centering). Everything
// is accumulated in float64, also for float32 X. Dense X is read once, through strides (C or F
// order, or any view), never copied: each block of rows is shifted, weighted, converted to
// float64 and packed into thread-local panels that fit in L2, and a register-tiled product of
// the panels (built per instruction set, gram_kernels_isa.cpp) adds the block's contribution to
// the lower triangle.
//
// The means come out of the same pass: the products are taken about a shift s (the plain mean of
// the first rows), along with sum w (x - s), and G = sum w (x - s)(x - s)^T - S (m - s)(m - s)^T.
// The correction cancels a relative ((m - s) / spread)^2 of an entry: nothing for rows in no
// particular order (m - s is then the error of a mean of 256 rows), about one digit for normal
// data sorted on a column (|m - s| a few spreads; tested); the uncentered X^T W X - S m m^T
// loses every digit where |m| is large against the spread.
//
// Rows are split into ranges whose sizes depend on (n, d) only; each range has its own
// partial, and partials are added in range order: no result depends on the thread count.
// CSR X (sparse products over each row's nonzeros) is centered by the rank-one correction, in
// float64, as scikit-learn centers sparse X implicitly.
//
// The cores trust their arguments: the binding checks shapes, strides and indices.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastml/matrix_views.hpp"

namespace fastml::linalg {

using index_t = std::ptrdiff_t;

// Element (i, j) of an n x d matrix is x[i * rs + j * cs] (strides in elements).
template <class T>
struct Strided {
  const T* x;
  index_t n, d, rs, cs;
  T at(index_t i, index_t j) const { return x[i * rs + j * cs]; }
};

template <class T, class I>
using Csr = CsrRows<T, I>;

// What a kernel reads: X, the optional targets Y (t = 0: none), the weights (null: all 1) and
// the shifts subtracted from X's and Y's columns before their products (never null: zeros when
// not centering), and the rows per packed block.
template <class T>
struct GramProblem {
  Strided<T> X;
  Strided<T> Y;
  const double* w;
  const double* x_shift;  // d
  const double* y_shift;  // t
  index_t block_rows;
};

// The product's layout: P holds (d + t) * d + (d + t) + 1 doubles. P[k * d + j] for j <= k < d
// holds sum w (x_j - s_j)(x_k - s_k), P[(d + y) * d + j] sum w (x_j - s_j)(y_y - s_y); then come
// the column sums sum w (z - s) of z = [X | Y], and sum w. The kernels only ever add to P's
// lower triangle, its target rows and the sums (entries above the diagonal may hold anything:
// the driver mirrors the triangle).
//
// Adds the rows [begin, end) of the problem to P; scratch holds scratch_doubles(d, t, rows).
template <class T>
using RowsKernel = void (*)(const GramProblem<T>& p, index_t begin, index_t end, double* P,
                            double* scratch);

struct GramTable {
  RowsKernel<float> f32;
  RowsKernel<double> f64;
  index_t (*scratch_doubles)(index_t d, index_t t, index_t block_rows);
};

namespace baseline { GramTable kernel_table(); }
namespace x86_64_v3 { GramTable kernel_table(); }
namespace x86_64_v4 { GramTable kernel_table(); }

// OUT G[d * d], XtY[d * t] (row-major, may be null when t = 0), x_mean[d], y_mean[t]:
// overwritten. center false: the means are zeros and nothing is subtracted.
template <class T>
void weighted_gram(const Strided<T>& X, const Strided<T>& Y, const double* w, bool center,
                   double* G, double* XtY, double* x_mean, double* y_mean, int n_threads);

// The same for CSR X (Y dense as above).
template <class T, class I>
void weighted_gram(const Csr<T, I>& X, const Strided<T>& Y, const double* w, bool center,
                   double* G, double* XtY, double* x_mean, double* y_mean, int n_threads);

// Instruction-set build of the dense kernels chosen for this CPU.
const char* simd_target();

}  // namespace fastml::linalg
