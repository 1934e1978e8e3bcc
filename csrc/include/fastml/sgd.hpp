// Plain stochastic gradient descent for linear models (fastml.linear_model._sgd_fast), one epoch
// per call, in scikit-learn's _plain_sgd arithmetic: the weight vector is stored as
// wscale * w with running squared and L1 norms, the L1 penalty is the truncated gradient of
// Tsuruoka et al. (2009) with its accumulated q, and averaging keeps scikit-learn's
// (average_a, average_b) lazy form. Operation order and the precision of every intermediate are
// scikit-learn's (float32 weights round where its float32 build rounds), so that the same data,
// order and schedule give its coefficients to the last bit or to rounding.
// The epoch loop is templated on the loss: no per-sample dispatch.
#pragma once
#include <cstddef>
#include <cstdint>

#include "fastml/matrix_views.hpp"

namespace fastml::sgd {

using index_t = std::ptrdiff_t;

enum class Loss : int {
  hinge = 0,          // parameter: threshold (0 is the perceptron)
  squared_hinge = 1,  // parameter: threshold
  modified_huber = 2,
  log_loss = 3,  // scikit-learn's half binomial loss on labels in {0, 1}
  squared_error = 4,
  huber = 5,                        // parameter: epsilon
  epsilon_insensitive = 6,          // parameter: epsilon
  squared_epsilon_insensitive = 7,  // parameter: epsilon
};

// scikit-learn's codes (PENALTY_TYPES and LEARNING_RATE_TYPES).
enum Penalty : int { kNoPenalty = 0, kL1 = 1, kL2 = 2, kElasticNet = 3 };
enum Schedule : int { kConstant = 1, kOptimal = 2, kInvScaling = 3, kAdaptive = 4, kPA1 = 5, kPA2 = 6 };

struct Options {
  Loss loss = Loss::hinge;
  double loss_parameter = 1.0;
  int penalty = kL2;
  double alpha = 1e-4;
  double l1_ratio = 0.0;  // already 0 for l2 and 1 for l1, as _plain_sgd sets it
  int schedule = kOptimal;
  double eta0 = 0.0;  // the constant step, or the passive-aggressive C
  double power_t = 0.5;
  double optimal_init = 0.0;  // 1 / (initial_eta0 * alpha) for the optimal schedule
  bool fit_intercept = true;
  double weight_pos = 1.0, weight_neg = 1.0;
  double intercept_decay = 1.0;
  std::int64_t average = 0;      // averaging starts at update `average` (0: none)
  bool track_objective = true;   // scikit-learn sums the loss and objective unless early stopping
  bool shuffle = true;
  std::uint32_t seed = 1;  // the shuffle seed, the same every epoch as scikit-learn's
};

// What carries over from one epoch to the next (doubles in scikit-learn's WeightVector).
struct State {
  double intercept = 0.0, average_intercept = 0.0;
  double wscale = 1.0, average_a = 0.0, average_b = 1.0;
  double sq_norm = 0.0, l1_norm = 0.0;
  double u = 0.0;  // accumulated L1 penalty
  double t = 1.0;
  double eta = 0.0;
};

struct EpochSums {
  double loss = 0.0, objective = 0.0;
  bool nonfinite = false;  // a weight or the intercept is not finite after the epoch
};

template <class T>
using Dense = DenseRows<T>;
template <class T, class I>
using Csr = CsrRows<T, I>;

// The weights (d), and the averaged weights and truncated-gradient accumulators when used.
template <class T>
struct Weights {
  T* w;
  T* aw;  // nullptr without averaging
  T* q;   // nullptr without an L1 part
  index_t d;
};

// One epoch over the rows of X in the order of `index` (shuffled first when opt.shuffle),
// skipping rows whose validation mask is set. y and sample_weight have X's dtype, as
// scikit-learn's SequentialDataset.
template <class T, class X>
EpochSums epoch(const X& x, const T* y, const T* sample_weight, const std::uint8_t* validation,
                std::int32_t* index, const Weights<T>& weights, State& state,
                const Options& opt);

// Folds wscale (and average_a, average_b) into the stored vectors: WeightVector.reset_wscale.
template <class T>
void reset_scale(const Weights<T>& weights, State& state);

// The norms a fresh WeightVector computes from w.
template <class T>
void init_norms(const Weights<T>& weights, State& state);

// The loss gradient at (y, p) for the optimal schedule's initial step.
double loss_gradient(Loss loss, double parameter, double y, double p);

}  // namespace fastml::sgd
