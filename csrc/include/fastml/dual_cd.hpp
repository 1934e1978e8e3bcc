// Dual coordinate descent for L2-regularised linear SVMs (fastml.linear_model._dual_cd_fast), in
// liblinear's formulation as scikit-learn bundles it (Hsieh et al. 2008, with shrinking):
//   classification, hinge (L1) or squared hinge (L2) loss:
//     min_a 1/2 a'Qa - sum a,  0 <= a_i <= U_i,  Q = (y_i y_j x_i'x_j) + diag(D_i)
//   regression, epsilon-insensitive (L1) or its square (L2):
//     min_b 1/2 b'Qb - y'b + p |b|_1,  -U_i <= b_i <= U_i
// with U_i = C_i, D_i = 0 for the L1 losses and U_i = inf, D_i = 1 / (2 C_i) for the L2 ones.
// The coordinates are visited in liblinear's order: a permutation drawn each pass from
// scikit-learn's Mersenne twister with its bounded draw, so the same seed gives its model.
// X is float64 (scikit-learn converts), with an optional constant bias column appended.
#pragma once
#include <cstdint>
#include <random>

#include "fastml/sgd.hpp"

namespace fastml::dual_cd {

using sgd::Csr;
using sgd::Dense;
using sgd::index_t;

struct Problem {
  const double* C;  // per-sample upper bounds C_i (> 0), class and sample weights folded in
  double bias = -1.0;  // the appended column's value; < 0: none
  bool squared = false;  // the L2 (squared) loss
  double eps = 1e-4;
  std::int64_t max_iter = 1000;
};

// scikit-learn's random stream for liblinear (sklearn/svm/src/newrand): a 32-bit Mersenne
// twister and Lemire's bounded integer with its rejection step.
struct Rng {
  std::mt19937 mt;
  explicit Rng(std::uint32_t seed) : mt(seed) {}
  std::uint32_t below(std::uint32_t range);
};

// Classification on rows `rows` (indices into X, in liblinear's class-grouped order) with
// labels sign[k] in {-1, +1}: w (d, plus one for the bias) is overwritten; returns the passes.
template <class X>
std::int64_t svc(const X& x, const std::int32_t* rows, const std::int8_t* sign, index_t l,
                 const Problem& problem, Rng& rng, double* w);

// Regression on every row with targets y and tube half-width p.
template <class X>
std::int64_t svr(const X& x, const double* y, double p, index_t l, const std::int32_t* rows,
                 const Problem& problem, Rng& rng, double* w);

}  // namespace fastml::dual_cd
