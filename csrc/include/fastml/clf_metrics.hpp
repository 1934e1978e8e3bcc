// Classification-metric cores behind fastml.metrics (bound in csrc/bindings/clf_metrics_module.cpp):
// label scans and confusion counts over encoded labels (csrc/metrics_clf/label_counts.cpp), a
// stable radix sort of float scores and the cumulative counts at distinct thresholds that the
// ROC and precision-recall curves are made of (threshold_counts.cpp), and per-sample log loss
// (log_loss.cpp).
//
// Every driver owns its OpenMP loops and returns results that do not depend on the thread count:
// integer counts are exact, float64 sums are taken over chunks whose bounds depend only on the
// problem size and merged in chunk order, and the sweep over sorted scores runs in one order.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace fastml::clf_metrics {

using index_t = std::ptrdiff_t;

// ---- labels -------------------------------------------------------------------------------------

// Smallest and largest of y[n] (n >= 1), for an integer label type L.
template <class L>
void label_range(const L* y, index_t n, L* lo, L* hi, int n_threads);

// present[v - lo] = 1 for each value v of y[n] in [lo, lo + n_values); returns false when some
// value lies outside (it is not flagged). OUT present[n_values] (zeroed here).
template <class L>
bool label_presence(const L* y, index_t n, L lo, index_t n_values, std::uint8_t* present,
                    int n_threads);

// How a raw label becomes a label index: index = lut[y - offset] for y in [offset, offset +
// n_lut), -1 (not counted) elsewhere and where lut holds -1. Labels already encoded as 0..k-1
// use lut = 0..k-1 and offset 0.
template <class L>
struct Encoding {
  const std::int32_t* lut;
  index_t n_lut;
  L offset;
};

// Weights: none (each sample counts 1, integer counts), int64 (integer sums) or float64 (sums
// in float64, in chunks fixed by n and the output size, merged in chunk order).
enum class WeightKind { none, int64, float64 };
struct Weights {
  WeightKind kind;
  const void* data;  // int64_t[n] or double[n]; null for none
};

// What is counted, for k labels:
//   matrix: out[k * k], out[t * k + p] = weight of the samples with true index t, predicted p
//           (samples with either index -1 left out);
//   sums:   out[3 * k]: row 0 the weight of the samples with true == predicted == j (tp), row 1
//           those with true j (whatever was predicted), row 2 those predicted j.
enum class CountKind { matrix, sums };

// OUT out (int64_t when weights are none or int64, else double), of k * k or 3 * k values.
template <class L>
void confusion_counts(const L* y_true, const L* y_pred, index_t n, const Encoding<L>& enc,
                      index_t k, const Weights& w, CountKind kind, void* out, int n_threads);

// ---- scores -------------------------------------------------------------------------------------

// Positions 0..n-1 ordered by decreasing score[i], equal scores in increasing position (NumPy's
// stable descending argsort, as scikit-learn sorts for its curves); -0.0 and 0.0 are equal.
// Scores must not be NaN (the caller checks them finite). n must be below 2^32.
template <class T>
std::vector<std::uint32_t> descending_order(const T* score, index_t n, int n_threads);

// The sweep of a binary curve over the scores in decreasing order, one point per distinct score:
//   tps[j] = weight of the positives (is_pos[i] != 0) scoring >= thresholds[j],
//   fps[j] = that of the negatives (unweighted: 1 + last position - tps, as scikit-learn).
// Sums run in float64 in the sorted order, as scikit-learn's cumulative sums do.
template <class T>
struct Curve {
  std::vector<T> thresholds;
  std::vector<double> tps;
  std::vector<double> fps;
};
template <class T>
Curve<T> threshold_counts(const T* score, const std::uint8_t* is_pos, const double* weight,
                          index_t n, int n_threads);

// Area under the ROC curve of the same sweep, by the trapezoidal rule on the distinct-score
// points, normalised once at the end (unweighted: the area is summed exactly in integers).
// OUT n_pos, n_neg: the total positive and negative weight (the area is NaN when one is 0).
template <class T>
double roc_auc(const T* score, const std::uint8_t* is_pos, const double* weight, index_t n,
               double* n_pos, double* n_neg, int n_threads);

// ---- probabilities --------------------------------------------------------------------------------

// Per-sample log loss of rows of probabilities prob[n x m] with true column code[i] in [0, m):
// loss[i] = -log(clip(prob[i, code[i]], eps, 1 - eps)), computed in T as scikit-learn does.
// Also the checks scikit-learn makes over the whole matrix:
// OUT stats[0] = max, stats[1] = min of prob, stats[2] = rows whose sum is not within
// rtol * 1 of 1 (as numpy.isclose(sum, 1, rtol)); the row sums are taken in T, pairwise.
template <class T>
void log_loss_rows(const T* prob, index_t n, index_t m, const std::int64_t* code, T eps, T rtol,
                   T* loss, double* stats, int n_threads);

}  // namespace fastml::clf_metrics
