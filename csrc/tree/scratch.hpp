// A thread's scratch for the split searches: grown as a search needs, reused node after node.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "common.hpp"
#include "running_median.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// The proxies of a tiny node's left sides by their rows (see tiny_memo_scan): in a node of at
// most kRows rows a left side holds one or two rows, whose sums are the same in either order
// (a + b == b + a), so a set of rows has one proxy whatever feature puts it left. Cleared for
// each node (NodeSearch::find_split).
struct TinyMemo {
  static constexpr int kRows = 3;
  double proxy[1 << kRows];
  unsigned known = 0;  // which entries of proxy are set, as bits
};

// A tiny scan's key of a row: its code, then its position in the node (which breaks ties
// between equal codes as the rows ascend). 14 bits: the ranks below compare 8 keys of 16 bits
// a vector instead of 4 of 32 (1.3-1.6x faster at 32-63 rows).
using TinyKey = std::int16_t;
constexpr int kTinyPositionBits = 6;
constexpr int kTinyPositionMask = (1 << kTinyPositionBits) - 1;
inline TinyKey tiny_key(int code, index_t position) {
  return static_cast<TinyKey>(code << kTinyPositionBits | static_cast<int>(position));
}
inline int tiny_code(TinyKey key) { return key >> kTinyPositionBits; }
inline int tiny_position(TinyKey key) { return key & kTinyPositionMask; }

// A node under kTinyFeaturesNode rows gathered for SplitSearch::tiny_node_features: each row's
// codes (row-major, every feature) and its statistics block of 4 channels, so that the
// features' searches read them from here instead of gathering them from the rows feature after
// feature.
struct TinyRows {
  index_t n = 0;
  const std::uint8_t* codes[kTinyFeaturesNode];
  double block[kTinyFeaturesNode][4];
  // the first best candidate of the features searched so far
  struct Best {
    double proxy;
    index_t feature;
    int below, above;  // the occupied bins either side of the threshold
  };
};

// The subtree of a node under kTinyFeaturesNode rows, every feature searched at each of its
// nodes (NodeSearch::find_split): its root's rows gathered once, by their position there (an
// id), and each feature's keys of a node's rows in order, in a list the node's split
// partitions stably for its children (as partition_rows moves the rows), so that a node below
// the root neither gathers nor ranks its rows (ranking costs n^2 / 8 vector compares a
// feature, the partition n moves). A node of the subtree finds its keys at the offset of its
// rows from the root's in each feature's list; the ties in code stay in id order, as the rows
// ascend.
struct TinyRegion {
  index_t begin = 0, end = 0;  // the root's range of rows; none while end is 0
  TinyRows rows;
  std::vector<TinyKey> lists;  // (n_features, kTinyFeaturesNode)

  bool holds(index_t first, index_t last) const { return first >= begin && last <= end; }
  const TinyKey* list(index_t f, index_t offset) const {
    return lists.data() + f * kTinyFeaturesNode + offset;
  }

  // Each feature's list of the n keys at offset partitioned stably: the keys of the rows whose
  // code of `feature` is at most cut (the split's left child) first.
  void partition(index_t offset, index_t n, index_t feature, int cut, index_t n_features) {
    bool left[kTinyFeaturesNode];
    for (index_t id = 0; id < rows.n; ++id) left[id] = rows.codes[id][feature] <= cut;
    for (index_t f = 0; f < n_features; ++f) {
      TinyKey* keys = lists.data() + f * kTinyFeaturesNode + offset;
      TinyKey right[kTinyFeaturesNode];
      index_t n_left = 0, n_right = 0;
      // each key written to both sides, the count of its own advanced: no branch on the side
      for (index_t i = 0; i < n; ++i) {
        const TinyKey key = keys[i];
        const bool is_left = left[tiny_position(key)];
        keys[n_left] = key;
        right[n_right] = key;
        n_left += is_left;
        n_right += !is_left;
      }
      std::copy(right, right + n_right, keys + n_left);
    }
  }
};

struct Scratch {
  TinyMemo memo;
  TinyRows tiny;
  std::vector<std::uint64_t> codes;
  std::vector<double> bins;  // a small node's histogram of one feature (see small_node_search)
  std::vector<std::uint64_t> packed_bins;  // its packed sums, kBins, zero between searches
  std::vector<double> batch;             // a Batch's candidates and proxies, (5, kBins)
  std::vector<std::uint64_t> batch_packed;  // or their packed sums, kBins
  std::vector<std::int16_t> batch_cuts;  // and their bins, (kBins, 2)
  std::vector<double> left, missing, right, present;
  std::vector<double> stored;  // sparse_histogram_search's: the rows not stored
  std::vector<double> agreement;  // surrogate search: (kBins, 3), see agreement_histogram
  // absolute error: the rows in scan order, and per position the running sums of either side
  std::vector<std::int32_t> sequence, missing_rows;
  std::vector<std::pair<double, double>> targets;  // (y, w) of a set of rows, sorted
  std::vector<double> target_y;                     // their y
  std::vector<double> error_left, median_left, error_right, median_right;
  RankSums sums;

  // Sized for blocks of C channels, and for histograms when the search uses them.
  void reserve(int C, bool histograms) {
    if (histograms) {
      bins.resize(static_cast<std::size_t>(kBins) * C);
      packed_bins.assign(kBins, 0);
      batch.resize(5 * kBins);
      batch_packed.resize(kBins);
      batch_cuts.resize(2 * kBins);
    }
    left.resize(C);
    missing.resize(C);
    right.resize(C);
    present.resize(C);
    stored.resize(C);
  }
};

}  // namespace
}  // namespace fastml::cart::detail
