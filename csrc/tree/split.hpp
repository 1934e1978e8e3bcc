// A split as the searches find it, and what a candidate threshold must satisfy.
#pragma once

#include <vector>

#include "criterion.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// A backup split on another feature for the rows missing the split's (see Tree).
struct Surrogate {
  index_t feature = -1;
  double threshold = 0;
  double cut = 0;             // the same rule in the searched keys (a bin code for codes)
  bool reversed = false;      // keys <= cut go right
  double agreement = -kInf;   // the weight routed as the split routes it
};

struct Split {
  double proxy = -kInf;
  // absolute error only: the children's summed absolute errors and medians (their values)
  double error_left = 0, error_right = 0, median_left = 0, median_right = 0;
  index_t feature = -1;
  double threshold = 0;       // x <= threshold goes left
  double cut = 0;             // the same rule in the searched keys (a bin code for codes)
  bool missing_left = false;  // where rows with a missing value go
  bool has_missing = false;   // whether the node has such rows for this feature
  bool constant = true;       // no candidate could exist: one value and no missing, or all missing
  std::vector<Surrogate> surrogates;  // most agreeing first (Params::surrogates)
};

// Keeps the candidate when it beats the best so far (the first of equal proxies wins).
inline void take(Split& out, double proxy, double threshold, double cut, bool missing_left) {
  if (proxy > out.proxy) {
    out.proxy = proxy;
    out.threshold = threshold;
    out.cut = cut;
    out.missing_left = missing_left;
  }
}

// What a candidate must satisfy besides its proxy, and scratch for the right-hand statistics.
struct Candidates {
  const double* totals;
  int channels;
  Outputs outputs;
  double min_leaf;
  double min_weight;
  int monotonic;  // constraint of the feature searched
  double lower, upper;
  double* right;
  // Applied to every proxy: proxy * scale + shift. Searches over the rows present on a feature
  // (surrogate splits) set them so that proxies of features with different missing rows compare
  // as impurity decreases (see SplitSearch::present_candidates).
  double scale = 1, shift = 0;
  // Set where no candidate can fall short of min_samples_leaf or min_weight_leaf on either
  // side (the packed sparse search: each occupied bin holds a row of whole weight >= 1, and
  // neither bound asks for more): batch_first_best then skips their test.
  bool sides_enough = false;

  // scikit-learn's test: both children's values within the node's bounds, in the constraint's
  // order.
  bool monotonic_ok(double vl, double vr) const {
    return monotonic == 0 || (vl >= lower && vr >= lower && vl <= upper && vr <= upper &&
                              (vl - vr) * monotonic <= 0);
  }

  template <Criterion Crit, int kC = 0>
  FASTML_CART_INLINE double evaluate(const double* L) const {
    if (L[0] < min_leaf || totals[0] - L[0] < min_leaf) return -kInf;
    const int C = kC > 0 ? kC : channels;
    for (int c = 0; c < C; ++c) right[c] = totals[c] - L[c];
    if (L[1] < min_weight || right[1] < min_weight) return -kInf;
    if (!monotonic_ok(monotonic_value(L), monotonic_value(right))) return -kInf;
    return proxy<Crit, kC>(L, right, outputs) * scale + shift;
  }

  // The absolute error's candidate: n_left rows of weight wl, the children's absolute errors
  // (summed over the rows and the outputs) and medians (of output 0, for the monotonic
  // constraint). scikit-learn's proxy, -(w_r imp_r + w_l imp_l), each imp its error over the
  // side's weight times the outputs, to the rounding.
  double evaluate_absolute(index_t n_left, double wl, double error_l, double median_l,
                           double error_r, double median_r) const {
    const double wr = totals[1] - wl;
    if (n_left < min_leaf || totals[0] - n_left < min_leaf) return -kInf;
    if (wl < min_weight || wr < min_weight) return -kInf;
    if (!monotonic_ok(median_l, median_r)) return -kInf;
    const double n_out = outputs.n;
    return -(wr * (error_r / (wr * n_out))) - (wl * (error_l / (wl * n_out))) + shift;
  }

  // The candidates of a search over the rows present on a feature (surrogate splits): the
  // node's totals less the missing rows' M, into P (channels doubles). The caller sets the
  // shift.
  Candidates without_missing(const double* M, double* P) const {
    for (int c = 0; c < channels; ++c) P[c] = totals[c] - M[c];
    Candidates present = *this;
    present.totals = P;
    return present;
  }
};

}  // namespace
}  // namespace fastml::cart::detail
