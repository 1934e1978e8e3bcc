// The split criteria over statistics blocks: scikit-learn's proxies of the impurity decrease,
// node impurities and improvements, and the dispatch that makes criterion and channel count
// compile-time constants of a search (the hot loops are written once per pair).
//
// A block of statistics is `channels` doubles: [0] the row count, [1] the weight, then the
// weight of each class of each output, the outputs one after the other (classification), or
// sum w*y of each output, then sum w*q of each output (regression, q = y^2, or y log y for
// poisson); see Outputs. The absolute error is no sum of per-row statistics: see
// absolute_error.hpp.
#pragma once

#include <cmath>
#include <type_traits>

#include "common.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

inline double xlogx_ratio(double x, double w) { return x > 0 ? x * std::log(x / w) : 0.0; }

// scikit-learn's log of its criteria (tree/_utils.pyx), which is the log base 2.
inline double sklearn_log(double x) { return std::log(x) / std::log(2.0); }

// Where the outputs' statistics lie in a block. Classification: the classes of output o are
// channels 2 + start[o] .. 2 + start[o + 1], n_classes = start[n] of them in all. Regression:
// output o's sum w*y is channel 2 + o, its sum w*q channel 2 + n + o. Gini's and entropy's
// proxies sum over every class channel alike, whatever output it is of.
struct Outputs {
  int n = 1;
  int n_classes = 0;           // 0 for regression
  const int* start = nullptr;  // (n + 1), classification only
};

// scikit-learn's gini or entropy of the class sums S of weight w (its node_impurity and
// children_impurity, to the rounding): the outputs' impurities summed, over their count. A
// pure node whose sums differ in their last bits has ~1e-16 there, which decides whether it is
// split (see kLeafEpsilon in builder.hpp). kC as in proxy below.
template <Criterion Crit, int kC = 0>
FASTML_CART_INLINE double class_impurity(const double* S, double w, const Outputs& out) {
  const int n_out = kC > 0 ? 1 : out.n;
  double s = 0;
  for (int o = 0; o < n_out; ++o) {
    const int first = kC > 0 ? 0 : out.start[o], last = kC > 0 ? kC - 2 : out.start[o + 1];
    if constexpr (Crit == kGini) {
      double sq = 0;
      for (int k = first; k < last; ++k) sq += S[2 + k] * S[2 + k];
      s += 1.0 - sq / (w * w);
    } else {
      static_assert(Crit == kEntropy);
      for (int k = first; k < last; ++k) {
        if (S[2 + k] > 0) {
          const double p = S[2 + k] / w;
          s -= p * sklearn_log(p);
        }
      }
    }
  }
  return s / n_out;
}

// scikit-learn's proxy of the impurity decrease, summed over the outputs: larger is better,
// -inf forbids the split. friedman_mse sums the outputs' sums first, as scikit-learn. The loops
// over the regression outputs start with output 0 outside them: a single output costs no loop.
// kC > 0 is the channel count known when compiling (see dispatch): 2 + the classes, or
// 2 + 2 x the outputs.
template <Criterion Crit, int kC = 0>
double proxy(const double* L, const double* R, const Outputs& out) {
  const double wl = L[1], wr = R[1];
  const int n_classes = kC > 0 ? kC - 2 : out.n_classes;
  const int n_outputs = kC > 0 ? (kC - 2) / 2 : out.n;
  if constexpr (Crit == kGini || Crit == kEntropy) {
    // scikit-learn's -(wr imp_r + wl imp_l) to the rounding: candidates equal in exact
    // arithmetic tie, or not, as they do there (the first of equal proxies wins)
    (void)n_classes;
    return -wr * class_impurity<Crit, kC>(R, wr, out) - wl * class_impurity<Crit, kC>(L, wl, out);
  } else if constexpr (Crit == kSquaredError) {
    double l = L[2] * L[2], r = R[2] * R[2];
    for (int o = 1; o < n_outputs; ++o) {
      l += L[2 + o] * L[2 + o];
      r += R[2 + o] * R[2 + o];
    }
    return l / wl + r / wr;
  } else if constexpr (Crit == kFriedmanMSE) {
    double sl = L[2], sr = R[2];
    for (int o = 1; o < n_outputs; ++o) {
      sl += L[2 + o];
      sr += R[2 + o];
    }
    const double d = wr * sl - wl * sr;
    return d * d / (wl * wr);
  } else {
    static_assert(Crit == kPoisson);
    // scikit-learn's sums, each side's over the outputs, and its log (tree/_utils.pyx: the
    // natural log over log 2), to the rounding
    double l = 0, r = 0;
    for (int o = 0; o < n_outputs; ++o) {
      if (L[2 + o] <= kEpsilon || R[2 + o] <= kEpsilon) return -kInf;
      l -= L[2 + o] * sklearn_log(L[2 + o] / wl);
      r -= R[2 + o] * sklearn_log(R[2 + o] / wr);
    }
    return -l - r;
  }
}

// The proxy's term of the rows S left unsplit, so that proxy(L, R) - parent_term(L + R) is the
// weighted impurity decrease of the split (not for friedman_mse: see present_candidates).
template <Criterion Crit>
double parent_term(const double* S, const Outputs& out) {
  const double w = S[1];
  if constexpr (Crit == kGini || Crit == kEntropy) {
    return -w * class_impurity<Crit>(S, w, out);
  } else if constexpr (Crit == kSquaredError) {
    double s = 0;
    for (int o = 0; o < out.n; ++o) s += S[2 + o] * S[2 + o];
    return s / w;
  } else if constexpr (Crit == kFriedmanMSE) {
    return 0.0;
  } else {
    static_assert(Crit == kPoisson);
    double s = 0;
    for (int o = 0; o < out.n; ++o)
      if (S[2 + o] > kEpsilon) s += S[2 + o] * sklearn_log(S[2 + o] / w);
    return s;
  }
}

// The impurity of regression output o of the rows S (not for the absolute error).
inline double output_impurity(Criterion crit, const double* S, const Outputs& out, int o) {
  const double w = S[1];
  switch (crit) {
    case kPoisson:
      return (S[2 + out.n + o] - xlogx_ratio(S[2 + o], w)) / w;
    default: {  // squared error, friedman_mse
      const double mean = S[2 + o] / w;
      return S[2 + out.n + o] / w - mean * mean;
    }
  }
}

// A node's impurity: the mean of its outputs' (scikit-learn's).
inline double impurity(Criterion crit, const double* S, const Outputs& out) {
  if (crit == kGini) return class_impurity<kGini>(S, S[1], out);
  if (crit == kEntropy) return class_impurity<kEntropy>(S, S[1], out);
  double s = 0;
  for (int o = 0; o < out.n; ++o) s += output_impurity(crit, S, out, o);
  return s / out.n;
}

// The weighted impurity decrease of a split, relative to the root weight (scikit-learn's).
inline double improvement(Criterion crit, const double* T, const double* L, const double* R,
                          const Outputs& out, double root_weight) {
  const double w = T[1], wl = L[1], wr = R[1];
  if (crit == kFriedmanMSE) {
    double sl = 0, sr = 0;
    for (int o = 0; o < out.n; ++o) {
      sl += L[2 + o];
      sr += R[2 + o];
    }
    const double d = (wr * sl - wl * sr) / out.n;
    return d * d / (wl * wr * w);
  }
  return (w / root_weight) * (impurity(crit, T, out) - wl / w * impurity(crit, L, out) -
                              wr / w * impurity(crit, R, out));
}

// What monotonic constraints bound (single output only): the fraction of class 0, or the mean.
inline double monotonic_value(const double* S) { return S[2] / S[1]; }

// Calls search(criterion, channels) with both as compile-time constants
// (std::integral_constant); channels is 4 for one output of two classes or one regression
// output (the common cases, whose loops then unroll), else 0 for the count at run time. Not for
// the absolute error, whose searches are its own.
template <int kC, class F>
void dispatch_criterion(Criterion criterion, F& search) {
  const std::integral_constant<int, kC> channels;
  switch (criterion) {
    case kGini: return search(std::integral_constant<Criterion, kGini>{}, channels);
    case kEntropy: return search(std::integral_constant<Criterion, kEntropy>{}, channels);
    case kSquaredError:
      return search(std::integral_constant<Criterion, kSquaredError>{}, channels);
    case kFriedmanMSE: return search(std::integral_constant<Criterion, kFriedmanMSE>{}, channels);
    default: return search(std::integral_constant<Criterion, kPoisson>{}, channels);
  }
}
template <class F>
void dispatch(Criterion criterion, int channels, int n_outputs, F&& search) {
  if (channels == 4 && n_outputs == 1)
    dispatch_criterion<4>(criterion, search);
  else
    dispatch_criterion<0>(criterion, search);
}

}  // namespace
}  // namespace fastml::cart::detail
