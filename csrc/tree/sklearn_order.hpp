// scikit-learn's order of a node's rows, for the exact search where sums round (see Builder's
// constructor: fractional weights, regression targets not integers, the Poisson loss). Its
// criterion's sums (the node's totals, the running sums of a scan, the children's sums after a
// split) are taken in the order its splitter keeps the node's samples in: each visited
// feature's sort (an introsort, not stable, so rows of equal values come out in an order that
// depends on the order they went in), the missing rows moved to the end and, for the second
// pass, to the front, and the final partition's swaps. Where every sum is exact (integer weights
// and integer classification or regression statistics) any order gives the same trees and the
// presorted search is kept; where a sum may round, another order rounds differently and
// scikit-learn's trees are reproduced only by keeping its order. SklearnOrder keeps it: the same operations on the same arrays give the same order. On
// sparse X the operations are its sparse splitter's, whose order differs from the dense one's
// (so do its trees): each visited feature's non-zero rows swapped out to either end, each end
// sorted, the zero rows left between in the order the swaps leave them.
//
// Regression with targets that are not integers needs it too, whatever the weights: its sums
// of w*y round differently in another order (so do the Poisson loss's w y log y). Most
// searches there sort a node's rows whose values are all present and all different: whatever the order they
// come in, the sort's result is the node's segment of the feature's presorted list, which the
// search then scans in place, its rows copied to SklearnOrder::rows only when a later sort or
// the node's partition needs them (keeps_presorted, settle).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "common.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// A node's rows and their values of one feature, sorted together as scikit-learn's
// simultaneous_sort with its three-way partition sorts them (utils/_sorting.pyx): the same
// pivots and the same swaps, so rows of equal values end in the same order.
template <class T>
class SklearnSort {
 public:
  void sort(T* v, std::int32_t* r, index_t n) {
    if (n == 0) return;
    introsort(v, r, n, 2 * static_cast<index_t>(std::log2(static_cast<double>(n))));
  }

 private:
  static void swap(T* v, std::int32_t* r, index_t i, index_t j) {
    std::swap(v[i], v[j]);
    std::swap(r[i], r[j]);
  }

  // the median of the first, middle and last values (Bentley and McIlroy's comparisons)
  static T median3(const T* v, index_t n) {
    const T a = v[0], b = v[n / 2], c = v[n - 1];
    if (a < b) return b < c ? b : (a < c ? c : a);
    if (b < c) return a < c ? a : c;
    return b;
  }

  static void introsort(T* v, std::int32_t* r, index_t n, index_t depth) {
    while (n > 15) {
      if (depth <= 0) {
        heapsort(v, r, n);
        return;
      }
      --depth;
      const T pivot = median3(v, n);
      // [0, lo) below the pivot, [lo, hi) equal to it, [hi, n) above it
      index_t i = 0, lo = 0, hi = n;
      while (i < hi) {
        if (v[i] < pivot) {
          swap(v, r, i++, lo++);
        } else if (v[i] > pivot) {
          swap(v, r, i, --hi);
        } else {
          ++i;
        }
      }
      introsort(v, r, lo, depth);
      v += hi;
      r += hi;
      n -= hi;
    }
    for (index_t i = 1; i < n; ++i) {  // insertion sort
      const T key = v[i];
      const std::int32_t row = r[i];
      index_t j = i;
      for (; j > 0 && v[j - 1] > key; --j) {
        v[j] = v[j - 1];
        r[j] = r[j - 1];
      }
      v[j] = key;
      r[j] = row;
    }
  }

  static void sift_down(T* v, std::int32_t* r, index_t root, index_t end) {
    for (;;) {
      const index_t child = 2 * root + 1;
      index_t largest = root;
      if (child < end && v[largest] < v[child]) largest = child;
      if (child + 1 < end && v[largest] < v[child + 1]) largest = child + 1;
      if (largest == root) return;
      swap(v, r, root, largest);
      root = largest;
    }
  }

  static void heapsort(T* v, std::int32_t* r, index_t n) {
    for (index_t start = (n - 2) / 2;; --start) {
      sift_down(v, r, start, n);
      if (start == 0) break;
    }
    for (index_t end = n - 1; end > 0; --end) {
      swap(v, r, 0, end);
      sift_down(v, r, 0, end);
    }
  }
};

// The rows of every node in scikit-learn's order (its splitter's samples array: each node's
// rows a range, the same ranges as Builder's rows), and a node's values of the feature last
// sorted.
template <class T>
struct SklearnOrder {
  std::vector<std::int32_t> rows;
  std::vector<T> values;  // (rows), of the node being searched
  // sparse X: each row's index in rows (scikit-learn's index_to_samples), -1 for rows of no
  // weight; empty on dense X
  std::vector<std::int32_t> index;
  SklearnSort<T> sorter;

  // Dense X, per feature over the rows of non-zero weight (note_columns): whether no two
  // present values are equal, and whether none is missing. Then no node's segment of its
  // presorted list needs checking for either.
  void note_columns(const std::pair<T, std::int32_t>* presorted, index_t m, index_t n_features) {
    distinct_.assign(n_features, 0);
    complete_.assign(n_features, 0);
    for (index_t f = 0; f < n_features; ++f) {
      const std::pair<T, std::int32_t>* column = presorted + f * m;
      complete_[f] = m == 0 || !std::isnan(column[m - 1].first);
      distinct_[f] = !has_ties(column, m);
    }
  }

  // Whether sorting the rows [begin, end) by feature f (sort) would give its presorted segment,
  // whatever their order now: no missing value, no two values equal. Then the segment is the
  // order from now on, without a copy, until settle() copies its rows.
  bool keeps_presorted(index_t f, const std::pair<T, std::int32_t>* presorted, index_t begin,
                       index_t end) {
    settle();
    const index_t n = end - begin;
    if (n > 0 && !complete_[f] && std::isnan(presorted[n - 1].first)) return false;
    if (!distinct_[f] && has_ties(presorted, n)) return false;
    pending_ = presorted;
    pending_begin_ = begin;
    pending_end_ = end;
    return true;
  }

  // Copies the rows of the segment keeps_presorted left as the order, if any: before anything
  // reads or moves rows (a node's segments of the presorted lists change at its partition,
  // which calls this first).
  void settle() {
    if (pending_ == nullptr) return;
    for (index_t i = pending_begin_; i < pending_end_; ++i)
      rows[i] = pending_[i - pending_begin_].second;
    pending_ = nullptr;
  }

  // Sorts the rows [begin, end) by feature column's values as scikit-learn's
  // sort_samples_and_feature_values: each missing value swapped with the last present one, so
  // they end at the back, then the present ones sorted. Returns the count of missing rows; the
  // node's values are values[begin, end). presorted: the node's rows by (value, row), missing
  // last (PresortedColumns' segment): where no two present values are equal, a sort's result
  // is that order whatever the algorithm, and it is copied instead of sorted (O(n), not
  // O(n log n): continuous features mostly).
  [[gnu::noinline]] index_t sort(const T* column, const std::pair<T, std::int32_t>* presorted,
                                 index_t begin, index_t end) {
    settle();
    if (values.size() < rows.size()) values.resize(rows.size());
    std::int32_t* r = rows.data();
    T* v = values.data();
    index_t i = begin, last = end - 1, n_missing = 0;
    while (i <= last) {
      if (std::isnan(column[r[last]])) {
        ++n_missing;
        --last;
        continue;
      }
      if (std::isnan(column[r[i]])) {
        std::swap(r[i], r[last]);
        ++n_missing;
        --last;
      }
      v[i] = column[r[i]];
      ++i;
    }
    for (index_t j = end - n_missing; j < end; ++j) v[j] = column[r[j]];
    const index_t present = end - begin - n_missing;
    if (has_ties(presorted, present)) {
      sorter.sort(v + begin, r + begin, present);
    } else {
      for (index_t j = 0; j < present; ++j) {
        v[begin + j] = presorted[j].first;
        r[begin + j] = presorted[j].second;
      }
    }
    return n_missing;
  }

  // scikit-learn's second pass over a feature with missing values: the missing rows (at the
  // back) moved to the front, both sides keeping their order.
  void missing_to_front(index_t begin, index_t end, index_t n_missing) {
    std::rotate(rows.begin() + begin, rows.begin() + (end - n_missing), rows.begin() + end);
    std::rotate(values.begin() + begin, values.begin() + (end - n_missing),
                values.begin() + end);
  }

  // scikit-learn's partition_samples_final: from the front, a row going right is swapped with
  // the last row not yet placed.
  template <class GoesLeft>
  void partition(index_t begin, index_t end, GoesLeft&& goes_left) {
    settle();
    index_t lo = begin, hi = end;
    while (lo < hi) {
      if (goes_left(rows[lo]))
        ++lo;
      else
        std::swap(rows[lo], rows[--hi]);
    }
  }

  // ---- sparse X (scikit-learn's SparsePartitioner) ----

  // Rows of the whole fit: index filled from rows (before any node is searched).
  void index_rows(index_t n_rows) {
    index.assign(n_rows, -1);
    for (std::size_t i = 0; i < rows.size(); ++i) index[rows[i]] = static_cast<std::int32_t>(i);
  }

  // scikit-learn's extract_nnz over the rows [begin, end): entries[0, count) are the node's
  // non-zero values of a feature as (value, row), rows ascending (both of its ways of finding
  // them meet the rows in that order); each negative is swapped with the row at the front end
  // of the negatives, each positive with the row before the positives, and its value written
  // there. The zero rows are left between, in the order the swaps leave them. Returns the end
  // of the negatives and the start of the positives, as positions in rows.
  std::pair<index_t, index_t> extract_nonzeros(const std::pair<T, std::int32_t>* entries,
                                               index_t count, index_t begin, index_t end) {
    if (values.size() < rows.size()) values.resize(rows.size());
    index_t end_negative = begin, start_positive = end;
    for (index_t k = 0; k < count; ++k) {
      const T v = entries[k].first;
      const index_t at = index[entries[k].second];
      if (v > 0) {
        values[--start_positive] = v;
        swap_rows(at, start_positive);
      } else if (v < 0) {
        values[end_negative] = v;
        swap_rows(at, end_negative++);
      }
    }
    return {end_negative, start_positive};
  }

  // scikit-learn's sort_samples_and_feature_values on sparse X: the non-zero rows extracted,
  // then the negatives and the positives each sorted (SklearnSort), the zero rows between them
  // as extract_nonzeros left them. Returns the end of the negatives and the start of the
  // positives.
  [[gnu::noinline]] std::pair<index_t, index_t> sort_sparse(const std::pair<T, std::int32_t>* entries,
                                          index_t count, index_t begin, index_t end) {
    const auto [end_negative, start_positive] = extract_nonzeros(entries, count, begin, end);
    sorter.sort(values.data() + begin, rows.data() + begin, end_negative - begin);
    sorter.sort(values.data() + start_positive, rows.data() + start_positive,
                end - start_positive);
    for (index_t j = begin; j < end_negative; ++j) index[rows[j]] = static_cast<std::int32_t>(j);
    for (index_t j = start_positive; j < end; ++j) index[rows[j]] = static_cast<std::int32_t>(j);
    return {end_negative, start_positive};
  }

  // scikit-learn's partition_samples_final on sparse X: the best feature's non-zero rows
  // extracted again (unsorted), then the side of the threshold that holds it (the negatives'
  // when it is below 0, the positives' above) partitioned as partition does. Returns the count
  // of rows left.
  [[gnu::noinline]] index_t partition_sparse(const std::pair<T, std::int32_t>* entries, index_t count,
                           index_t begin, index_t end, double threshold) {
    const auto [end_negative, start_positive] = extract_nonzeros(entries, count, begin, end);
    if (threshold == 0) return start_positive - begin;
    index_t lo = threshold < 0 ? begin : start_positive;
    index_t hi = threshold < 0 ? end_negative : end;
    while (lo < hi) {
      if (static_cast<double>(values[lo]) <= threshold) {
        ++lo;
      } else {
        std::swap(values[lo], values[--hi]);
        swap_rows(lo, hi);
      }
    }
    return hi - begin;
  }

 private:
  // whether two of the n present values of a presorted segment are equal
  static bool has_ties(const std::pair<T, std::int32_t>* presorted, index_t n) {
    for (index_t j = 1; j < n; ++j)
      if (presorted[j].first == presorted[j - 1].first) return true;
    return false;
  }

  std::vector<char> distinct_, complete_;  // see note_columns
  // keeps_presorted's segment, the order of rows [pending_begin_, pending_end_); nullptr: none
  const std::pair<T, std::int32_t>* pending_ = nullptr;
  index_t pending_begin_ = 0, pending_end_ = 0;

  // swaps the rows at positions i and j, their index following (scikit-learn's sparse_swap)
  void swap_rows(index_t i, index_t j) {
    std::swap(rows[i], rows[j]);
    index[rows[i]] = static_cast<std::int32_t>(i);
    index[rows[j]] = static_cast<std::int32_t>(j);
  }
};

}  // namespace
}  // namespace fastml::cart::detail
