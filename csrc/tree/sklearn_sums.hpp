// scikit-learn's running sums of a split search, to the rounding. Its criterion holds the sums
// of the rows left of a position and moves to the next candidate position (Criterion.update)
// by adding the rows in between, or, when that is longer than the way back from the node's
// end, by restarting from the node's totals and taking out the rows from the last one down
// (reverse_reset). With fractional weights the two ways round differently, and equal-gain
// candidates then tie or not, and a pure child's impurity is 0 or ~1e-16, as they do there.
#pragma once

#include <algorithm>
#include <cstdint>

#include "statistics.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

struct SklearnSums {
  const RowStatistics& stats;
  const double* totals;  // (C) of the n rows scanned
  int C;
  index_t n;
  double* L;        // (C) the sums of rows [0, pos) of the scan order, zero to start
  index_t pos = 0;

  // Moves to position p > pos; row_at(j) is the row at position j of the scan order.
  template <class RowAt>
  FASTML_CART_INLINE void move_to(index_t p, RowAt&& row_at) {
    if (p - pos <= n - p) {
      for (index_t j = pos; j < p; ++j) stats.add(L, row_at(j));
    } else {
      std::copy(totals, totals + C, L);
      for (index_t j = n - 1; j >= p; --j) stats.sub(L, row_at(j));
    }
    pos = p;
  }
};

}  // namespace
}  // namespace fastml::cart::detail
