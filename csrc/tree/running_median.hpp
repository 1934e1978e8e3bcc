// Running weighted medians for the absolute error's searches.
#pragma once

#include <vector>

#include "common.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// Running weighted medians for the absolute error: the weights and weighted targets of the rows
// added so far, summed by target rank in a Fenwick tree. The median follows scikit-learn's rule:
// the smallest target whose cumulative weight exceeds half the total, or the mean of the two
// targets either side when the cumulative weight meets half exactly.
struct RankSums {
  std::vector<double> w, wy;  // 1-based Fenwick arrays over ranks
  index_t size = 0, top = 0;  // top: the largest power of two <= size
  double total_w = 0, total_wy = 0;

  void reset(index_t n) {
    size = n;
    w.assign(n + 1, 0.0);
    wy.assign(n + 1, 0.0);
    total_w = total_wy = 0;
    for (top = 1; top <= n; top <<= 1) {}
    top >>= 1;
  }
  void add(index_t rank, double y, double weight) {
    total_w += weight;
    total_wy += weight * y;
    for (index_t i = rank + 1; i <= size; i += i & -i) {
      w[i] += weight;
      wy[i] += weight * y;
    }
  }
  // The median of the rows added (targets by rank in sorted_y) and their summed absolute error
  // from it: sum over y >= m of w (y - m) plus sum over y < m of w (m - y).
  double median(const double* sorted_y, double& error) const {
    const double half = 0.5 * total_w;
    index_t at = 0;  // ranks below `at` hold less than half the weight
    double rest = half, below_w = 0, below_wy = 0;
    index_t bit = top;
    for (; bit != 0; bit >>= 1) {
      const index_t next = at + bit;
      if (next > size) continue;
      if (rest == w[next]) break;  // the cumulative weight meets half exactly
      if (rest > w[next]) {
        rest -= w[next];
        at = next;
        below_w += w[next];
        below_wy += wy[next];
      }
    }
    double m;
    if (bit == 0) {
      m = sorted_y[at];
    } else {
      // `before`: the rank that completes half the weight; `at`: the next rank holding weight
      index_t before = at;
      double rest_before = rest;
      for (index_t b = bit; b != 0; b >>= 1) {
        const index_t next = before + b;
        if (next <= size && rest_before > w[next]) {
          rest_before -= w[next];
          before = next;
        }
      }
      for (index_t b = bit; b != 0; b >>= 1) {
        const index_t next = at + b;
        if (next <= size && rest >= w[next]) {
          rest -= w[next];
          at = next;
          below_w += w[next];
          below_wy += wy[next];
        }
      }
      m = (sorted_y[before] + sorted_y[at]) / 2;
    }
    const double above_w = total_w - below_w, above_wy = total_wy - below_wy;
    error = (above_wy - m * above_w) + (m * below_w - below_wy);
    return m;
  }
};

}  // namespace
}  // namespace fastml::cart::detail
