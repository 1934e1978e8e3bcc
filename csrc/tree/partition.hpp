// Row partition: a split moves its node's rows into the children's ranges, and, for the exact
// search, every feature's presorted list of the node into the children's segments, so that no
// node sorts again (the classic presorting CART).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <utility>
#include <vector>

#include "fastml/openmp_helpers.h"
#include "statistics.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// Moves the rows r of rows[0, n) with goes_left(r) to the front, in their order (stable: rows
// keep ascending, so gathers stay close to sequential), the others after them, and sums each
// side's statistics into left and right (unless they are nullptr). prefetch(r) fetches what
// goes_left(r) reads, kRowPrefetchAhead rows ahead. buffer is scratch. Returns the count of left
// rows.
template <class GoesLeft, class Prefetch>
index_t partition_rows(std::int32_t* rows, index_t n, std::vector<std::int32_t>& buffer,
                       const RowStatistics& stats, double* left, double* right,
                       GoesLeft&& goes_left, Prefetch&& prefetch) {
  buffer.resize(n);
  index_t n_left = 0, n_right = 0;
  // Each row is written to both places and the count of its side advanced: no branch on the
  // side, which a split's rows take at random (rows[n_left] is at or before the row just read).
  auto place = [&](auto fetch, auto add) {
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowPrefetchAhead < n) {
        prefetch(rows[i + kRowPrefetchAhead]);
        fetch(rows[i + kRowPrefetchAhead]);
      }
      const std::int32_t r = rows[i];
      const bool is_left = goes_left(r);
      rows[n_left] = r;
      buffer[n_right] = r;
      n_left += is_left;
      n_right += !is_left;
      add(is_left, r);
    }
  };
  if (left == nullptr) {
    place([](std::int32_t) {}, [](bool, std::int32_t) {});
  } else if (stats.bits) {  // packed blocks: two integer sums, unpacked once
    std::uint64_t sums[2] = {0, 0};
    const std::uint64_t* packed = stats.packed.data();
    place([&](std::int32_t r) { __builtin_prefetch(packed + r); },
          [&](bool is_left, std::int32_t r) { sums[is_left] += packed[r]; });
    stats.add_packed(left, sums[1]);
    stats.add_packed(right, sums[0]);
  } else if (!stats.blocks.empty() && stats.n_out == 1) {
    // a regression's blocks: a row's statistics one line away (two where its block crosses
    // one), summed in registers instead of through the children's totals in memory
    const double* blocks = stats.blocks.data();
    PairBlock sums_left, sums_right;
    place(
        [&](std::int32_t r) {
          __builtin_prefetch(blocks + static_cast<index_t>(r) * 4);
          __builtin_prefetch(blocks + static_cast<index_t>(r) * 4 + 3);
        },
        [&](bool is_left, std::int32_t r) {
          const PairBits keep = PairBits{} - PairBits{is_left, is_left};  // all ones, or zero
          const double* b = blocks + static_cast<index_t>(r) * 4;
          sums_left.add(b, keep);
          sums_right.add(b, ~keep);
        });
    sums_left.add_to(left);
    sums_right.add_to(right);
  } else {
    place([](std::int32_t) {},
          [&](bool is_left, std::int32_t r) { stats.add(is_left ? left : right, r); });
  }
  std::copy(buffer.begin(), buffer.begin() + n_right, rows + n_left);
  return n_left;
}

template <class GoesLeft>
index_t partition_rows(std::int32_t* rows, index_t n, std::vector<std::int32_t>& buffer,
                       const RowStatistics& stats, double* left, double* right,
                       GoesLeft&& goes_left) {
  return partition_rows(rows, n, buffer, stats, left, right, goes_left, [](std::int32_t) {});
}

// Every feature's rows (of non-zero weight) sorted by value, missing values last; each node's
// rows are a segment [begin, end) of every feature's list, as they are a range of the rows.
template <class T>
struct PresortedColumns {
  using Sorted = std::pair<T, std::int32_t>;  // (value, row)
  std::vector<Sorted> sorted;  // (n_features, rows of non-zero weight)
  std::vector<char> side;      // per row: goes to the left child of the node being split

  bool empty() const { return sorted.empty(); }
  // Feature f's list; m is the count of rows of non-zero weight.
  const Sorted* column(index_t f, index_t m) const { return sorted.data() + f * m; }

  void presort(const Dataset<T>& d, const std::vector<std::int32_t>& rows, int n_threads) {
    const index_t m = static_cast<index_t>(rows.size()), F = d.n_features;
    sorted.resize(static_cast<std::size_t>(m) * F);
    side.assign(d.n_rows, 0);
    // nothing in the region allocates (std::sort does not), so no exception can leave it
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) if (n_threads > 1)
    for (index_t f = 0; f < F; ++f) {
      const T* col = d.values + f * d.n_rows;
      Sorted* seg = sorted.data() + f * m;
      for (index_t i = 0; i < m; ++i) seg[i] = Sorted(col[rows[i]], rows[i]);
      std::sort(seg, seg + m, [](const Sorted& a, const Sorted& b) {
        const bool na = std::isnan(a.first), nb = std::isnan(b.first);
        if (na != nb) return nb;
        if (na) return a.second < b.second;
        return a < b;
      });
    }
  }

  // Splits every feature's segment [begin, end) into the children's, in order, after the rows
  // were partitioned: rows[begin, begin + n_left) went left. tmp: one buffer per thread.
  void partition(const std::vector<std::int32_t>& rows, index_t begin, index_t end,
                 index_t n_left, index_t n_features, int n_threads,
                 std::vector<std::vector<Sorted>>& tmp) {
    const index_t m = static_cast<index_t>(rows.size()), F = n_features;
    const index_t n = end - begin;
    for (index_t i = begin; i < end; ++i) side[rows[i]] = i < begin + n_left;
    const int threads = n_threads > 1 && n * F >= kParallelWork
                            ? static_cast<int>(std::min<index_t>(n_threads, F)) : 1;
    // Every feature sends the same n - n_left rows right: each thread's buffer is reserved for
    // them here, as an allocation failing inside the region would end the process.
    for (int t = 0; t < threads; ++t) tmp[t].reserve(n - n_left);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (index_t f = 0; f < F; ++f) {
      Sorted* seg = sorted.data() + f * m;
      std::vector<Sorted>& right = tmp[omp_get_thread_num()];
      right.clear();
      index_t out = begin;
      for (index_t i = begin; i < end; ++i) {
        if (side[seg[i].second])
          seg[out++] = seg[i];
        else
          right.push_back(seg[i]);
      }
      std::copy(right.begin(), right.end(), seg + out);
    }
  }
};

}  // namespace
}  // namespace fastml::cart::detail
