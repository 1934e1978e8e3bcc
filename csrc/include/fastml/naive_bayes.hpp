// Naive Bayes cores behind fastml.naive_bayes (bound in csrc/bindings/naive_bayes_module.cpp):
// the sufficient statistics of a batch (class x feature sums, per-class means and variances,
// class x category counts) and the joint log-likelihoods with their normalisation.
//
// Drivers own memory and the OpenMP loops. Statistics are summed over fixed ranges of rows into
// per-range partials merged in range order, and every likelihood row is computed by one thread,
// so no result depends on the thread count. Everything is accumulated in float64, also for
// float32 input. The cores trust their arguments: the binding checks shapes and indices.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastml/matrix_views.hpp"

namespace fastml::naive_bayes {

using index_t = std::ptrdiff_t;
using label_t = std::int32_t;

template <class T>
using Dense = DenseRows<T>;
template <class T, class I>
using Csr = CsrRows<T, I>;

// The class of each row, y[i] in [0, n_classes), and its weight w[i] (w null: every weight 1;
// y null: every row in class 0, for statistics over all rows).
struct Labels {
  const label_t* y;
  const double* w;
  index_t n_classes;
};

// What a likelihood call writes per row: the joint log-likelihood jll, jll - logsumexp(jll), or
// exp of that, with scikit-learn's logsumexp (the maximum's ties counted apart, log1p of the
// rest), so that rows of -inf or +inf give what scikit-learn gives.
enum class Output : int { joint = 0, log_proba = 1, proba = 2 };

// ---- statistics -----------------------------------------------------------------------------

// class_count[c] = sum of w over the rows of class c; feature_count[c * d + f] = sum of w * x_f
// over them. With `threshold` (BernoulliNB's binarize), x_f counts as 1 where x_f > threshold
// (compared in T, as NumPy compares a float32 array with a Python float) and 0 elsewhere.
// OUT class_count[n_classes], feature_count[n_classes * d], overwritten.
template <class T>
void count_features(const Dense<T>& X, const Labels& y, const double* threshold,
                    double* class_count, double* feature_count, int n_threads);
template <class T, class I>
void count_features(const Csr<T, I>& X, const Labels& y, const double* threshold,
                    double* class_count, double* feature_count, int n_threads);

// Per class: weight[c] = sum of w, mean[c * d + f] the weighted mean of x_f and var[c * d + f]
// its weighted variance (divided by weight[c]), exact two-pass sums per block of rows combined
// by Chan, Golub and LeVeque's update. A class without weight gets mean = var = 0.
// OUT weight[n_classes], mean[n_classes * d], var[n_classes * d], overwritten.
template <class T>
void gaussian_stats(const Dense<T>& X, const Labels& y, double* weight, double* mean,
                    double* var, int n_threads);

// Category counts of X's integer codes: counts[c * total + offsets[f] + x_f] += w for each row
// of class c, where feature f's categories occupy [offsets[f], offsets[f + 1]) of `total` =
// offsets[d] columns. Codes must lie in [0, offsets[f + 1] - offsets[f]).
// OUT class_count[n_classes], counts[n_classes * total], overwritten.
void count_categories(const Dense<std::int64_t>& X, const Labels& y, const index_t* offsets,
                      double* class_count, double* counts, int n_threads);

// ---- joint log-likelihoods --------------------------------------------------------------------

// Linear models (Multinomial, Complement, Bernoulli): jll[i, c] = sum_f x_if coef[c * d + f]
// + bias[c], x binarized as in count_features when threshold is given. coef: the log
// probabilities as scikit-learn holds them (k x d). OUT out[n * k].
template <class T>
void linear_jll(const Dense<T>& X, const double* coef, const double* bias, index_t k,
                const double* threshold, Output what, double* out, int n_threads);
template <class T, class I>
void linear_jll(const Csr<T, I>& X, const double* coef, const double* bias, index_t k,
                const double* threshold, Output what, double* out, int n_threads);

// GaussianNB: jll[i, c] = log_prior[c] + (constant[c] - 0.5 * sum_f (x_if - theta[c, f])^2 /
// var[c, f]), the order of scikit-learn's sums (constant[c] = -0.5 * sum_f log(2 pi var[c, f])).
// OUT out[n * k].
template <class T>
void gaussian_jll(const Dense<T>& X, const double* theta, const double* var,
                  const double* constant, const double* log_prior, index_t k, Output what,
                  double* out, int n_threads);

// CategoricalNB: jll[i, c] = sum_f log_prob[(offsets[f] + x_if) * k + c] (features in order)
// + log_prior[c]. Codes must lie in range (see count_categories). OUT out[n * k].
void categorical_jll(const Dense<std::int64_t>& X, const double* log_prob, const index_t* offsets,
                     const double* log_prior, index_t k, Output what, double* out,
                     int n_threads);

// Rows of n x k joint log-likelihoods normalised in place (what: log_proba or proba).
void normalize_rows(double* jll, index_t n, index_t k, Output what, int n_threads);

// Name of the instruction-set build of the likelihood kernels chosen for this CPU.
const char* simd_target();

// ---- kernels (one instruction-set build each; see naive_bayes_kernels_isa.cpp) ---------------

// A linear model as the kernels read it: coef transposed and padded, coef[f * k_pad + c] (zeros
// for c >= k; k_pad a multiple of pad_width(k)), 64-byte aligned, so that the classes of a
// feature are whole vectors.
struct LinearModel {
  const double* coef;
  const double* bias;      // k
  const double* bias_pad;  // k_pad: bias, then -inf
  index_t k;
  index_t k_pad;
  bool binarize;
  double threshold;
  Output what;
};

// Doubles per vector of the kernels' class loop: 8 (64 bytes), or fewer for 2 to 4 classes, so
// that a binary model does not read four times its coefficients.
constexpr index_t pad_width(index_t k) { return k <= 2 ? 2 : k <= 4 ? 4 : 8; }

template <class T>
struct LinearKernels {
  // Rows [begin, end): out[i * k + c] the joint log-likelihood, normalised as m.what asks.
  void (*dense)(const Dense<T>& X, const LinearModel& m, index_t begin, index_t end, double* out);
  void (*csr32)(const Csr<T, std::int32_t>& X, const LinearModel& m, index_t begin, index_t end,
                double* out);
  void (*csr64)(const Csr<T, std::int64_t>& X, const LinearModel& m, index_t begin, index_t end,
                double* out);
};

struct NaiveBayesTable {
  LinearKernels<float> f32;
  LinearKernels<double> f64;
  // Rows of n x k joint log-likelihoods normalised in place (log_proba or proba).
  void (*normalize)(double* jll, index_t n, index_t k, Output what);
};

namespace baseline { NaiveBayesTable kernel_table(); }
namespace x86_64_v3 { NaiveBayesTable kernel_table(); }
namespace x86_64_v4 { NaiveBayesTable kernel_table(); }

}  // namespace fastml::naive_bayes
