// A thread's scratch for the split searches: grown as a search needs, reused node after node.
#pragma once

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
