// Per-node histograms for the histogram search: a pool of buffers reused node after node, the
// pass that fills them from the rows' bin codes, and the subtraction that derives a child's
// histograms from its parent's and its sibling's.
//
// A histogram holds kBins statistics blocks (see criterion.hpp) per feature, feature after
// feature; whether a feature's histogram is filled is tracked per feature, as a node fills only
// the features it draws (max_features).
//
// Each feature's histogram also keeps the set of bins its rows occupy, and every bin outside it
// is zero: most nodes a histogram serves hold a few hundred rows in a few dozen bins of each
// feature, and clearing, subtracting and scanning all kBins bins of every feature (163 KB for
// 20 features of a regression's 4 channels) cost more than their rows.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "fastml/openmp_helpers.h"
#include "keys.hpp"
#include "statistics.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

class HistogramPool {
 public:
  // stats: whether a histogram holds packed sums (RowStatistics::packed), read when a buffer is
  // first made (the builder sets the statistics after the search is made).
  HistogramPool(index_t n_features, int channels, const RowStatistics& stats)
      : n_features_(n_features), C_(channels), stats_(stats) {}

  // A histogram with no feature filled.
  int acquire() {
    if (free_.empty()) {
      // packed: a feature's histogram is kBins integers, a quarter of two classes' blocks, and
      // is searched as it is (SplitSearch::packed_histogram_search), never unpacked
      if (stats_.bits)
        packed_.emplace_back(static_cast<std::size_t>(n_features_) * kBins);
      else
        hists_.emplace_back(static_cast<std::size_t>(n_features_) * kBins * C_);
      valid_.emplace_back(n_features_, 0);
      occupied_.emplace_back(n_features_);  // a new buffer is zero: no bin occupied
      return static_cast<int>(valid_.size()) - 1;
    }
    const int h = free_.back();
    free_.pop_back();
    std::fill(valid_[h].begin(), valid_[h].end(), 0);
    return h;
  }
  // Returns h (unless -1) to the pool; h becomes -1.
  void release(int& h) {
    if (h >= 0) free_.push_back(h);
    h = -1;
  }
  // Frees every buffer.
  void clear() {
    hists_ = {};
    packed_ = {};
    valid_ = {};
    occupied_ = {};
    free_ = {};
  }

  bool packed() const { return stats_.bits != 0; }
  // Feature f's histogram: kBins blocks of C doubles, or kBins packed sums where packed().
  double* of(int h, index_t f) { return hists_[h].data() + f * kBins * C_; }
  std::uint64_t* packed_of(int h, index_t f) { return packed_[h].data() + f * kBins; }
  // The bins of feature f's histogram holding rows (count above zero); every other bin is zero.
  const BinSet& occupied(int h, index_t f) const { return occupied_[h][f]; }
  BinSet& occupied(int h, index_t f) { return occupied_[h][f]; }
  // Zeroes feature f's occupied bins (left by the buffer's last use) before a fill: a node's
  // few bins, where clearing the whole histogram cost more than filling it; many bins (a large
  // node's, the packed forests' of 256 rows and more) cleared at once, a loop of wide stores
  void clear_feature(int h, index_t f) {
    BinSet& set = occupied_[h][f];
    int count = 0;
    for (std::uint64_t word : set.words) count += __builtin_popcountll(word);
    const bool all = count > kBins / 8;
    if (packed()) {
      std::uint64_t* P = packed_of(h, f);
      if (all)
        std::fill_n(P, kBins, 0);
      else
        set.for_each([&](int b) { P[b] = 0; });
    } else {
      double* H = of(h, f);
      if (all)
        std::fill_n(H, kBins * C_, 0.0);
      else
        set.for_each([&](int b) { std::fill_n(H + b * C_, C_, 0.0); });
    }
    set = BinSet{};
  }
  bool filled(int h, index_t f) const { return valid_[h][f] != 0; }
  void mark_filled(int h, const index_t* features, index_t count) {
    for (index_t j = 0; j < count; ++j) valid_[h][features[j]] = 1;
  }
  bool complete(int h) const {
    return std::all_of(valid_[h].begin(), valid_[h].end(), [](char v) { return v; });
  }
  // Histogram subtraction: h -= other, every feature, over the bins other occupies (the rest of
  // other is zero, and x - 0 is x). Packed sums subtract field by field without a borrow, as
  // every field of h (the parent's) holds at least other's (a child's). A bin left without rows
  // leaves h's occupied bins, zeroed: its sums of doubles may keep the rounding of the
  // subtraction, which the searches never read (they read occupied bins only).
  void subtract(int h, int other) {
    for (index_t f = 0; f < n_features_; ++f) {
      BinSet& left = occupied_[h][f];
      const BinSet& taken = occupied_[other][f];
      if (packed()) {
        std::uint64_t* P = packed_of(h, f);
        const std::uint64_t* Q = packed_of(other, f);
        taken.for_each([&](int b) {
          P[b] -= Q[b];
          left.words[b >> 6] &= ~(std::uint64_t{P[b] == 0} << (b & 63));
        });
      } else if (C_ == 4) {  // one output's blocks (or two classes'): their loop unrolled
        subtract_bins<4>(of(h, f), of(other, f), taken, left);
      } else {
        subtract_bins<0>(of(h, f), of(other, f), taken, left);
      }
    }
  }

 private:
  // subtract's loop over the bins of blocks of kC channels (0: C_): each block of H less O's,
  // a pair of channels a vector step and an odd last channel a scalar one, or zero where the
  // counts are equal (no row left), without a branch on emptied bins (which mispredicted in a
  // third of them).
  template <int kC>
  void subtract_bins(double* H, const double* O, const BinSet& taken, BinSet& left) const {
    const int C = kC > 0 ? kC : C_;
    const int paired = C & ~1;
    taken.for_each([&](int b) {
      double* bin = H + b * C;
      const double* sub = O + b * C;
      const bool empty = bin[0] == sub[0];  // the counts: whole numbers, exact
      const PairBits keep = PairBits{} - PairBits{!empty, !empty};  // all ones, or zero
      for (int c = 0; c < paired; c += 2)
        store_pair(bin + c, masked(load_pair(bin + c) - load_pair(sub + c), keep));
      if (C & 1) bin[C - 1] = empty ? 0.0 : bin[C - 1] - sub[C - 1];
      left.words[b >> 6] &= ~(std::uint64_t{empty} << (b & 63));
    });
  }

  index_t n_features_;
  int C_;
  const RowStatistics& stats_;
  std::vector<std::vector<double>> hists_;
  std::vector<std::vector<std::uint64_t>> packed_;
  std::vector<std::vector<char>> valid_;
  std::vector<std::vector<BinSet>> occupied_;  // per buffer and feature, see occupied()
  std::vector<int> free_;
};

// Fills histograms from row-major bin codes (codes of row r: codes + r * n_features).
struct HistogramFill {
  const std::uint8_t* codes;
  index_t n_features;
  const RowStatistics& stats;
  int C;  // channels of a block

  // Fills the histograms of the given features of pool histogram h for the rows. Codes are
  // row-major, so a row's codes of every feature share one cache line: rows are visited once,
  // and each thread (over a contiguous share of the features) fills whole histograms in row
  // order.
  void operator()(HistogramPool& pool, int h, const std::int32_t* rows, index_t n,
                  const index_t* features, index_t count, int n_threads) const {
    if (count == 0) return;
    const int chunks = n * count >= kParallelWork ? std::min<int>(n_threads, count) : 1;
    if (chunks == 1) {  // no region: see NodeSearch::search_batch
      some(pool, h, rows, n, features, count);
    } else {
      // some() writes into the histogram alone: nothing in the region allocates
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
      for (int chunk = 0; chunk < chunks; ++chunk) {
        const index_t first = count * chunk / chunks, last = count * (chunk + 1) / chunks;
        some(pool, h, rows, n, features + first, last - first);
      }
    }
    pool.mark_filled(h, features, count);
  }

 private:
  // Nodes of fewer rows note each row's bin in its feature's occupied bins as they fill (a few
  // instructions a row and feature); larger ones find them from the counts afterwards (kBins
  // reads a feature).
  static constexpr index_t kNoteRows = kBins;

  void some(HistogramPool& pool, int h, const std::int32_t* rows, index_t n,
            const index_t* features, index_t count) const {
    for (index_t j = 0; j < count; ++j) pool.clear_feature(h, features[j]);
    if (n < kNoteRows) {
      pass_of<true>(pool, h, rows, n, features, count);
    } else {
      pass_of<false>(pool, h, rows, n, features, count);
      for (index_t j = 0; j < count; ++j) find_occupied(pool, h, features[j]);
    }
  }

  template <bool kNote>
  void pass_of(HistogramPool& pool, int h, const std::int32_t* rows, index_t n,
               const index_t* features, index_t count) const {
    if (stats.bits)
      packed_pass<kNote>(pool, h, rows, n, features, count);
    else if (stats.n_out == 1)
      pass<1, kNote>(pool, h, rows, n, features, count);
    else
      pass<0, kNote>(pool, h, rows, n, features, count);
  }

  // The occupied bins of feature f's filled histogram, from its counts.
  void find_occupied(HistogramPool& pool, int h, index_t f) const {
    BinSet& set = pool.occupied(h, f);
    constexpr int kWordBins = 64;
    for (int w = 0; w < kBins / kWordBins; ++w) {
      std::uint64_t word = 0;
      if (pool.packed()) {
        const std::uint64_t* P = pool.packed_of(h, f) + w * kWordBins;
        for (int k = 0; k < kWordBins; ++k) word |= std::uint64_t{P[k] != 0} << k;
      } else {
        const double* H = pool.of(h, f) + w * kWordBins * C;
        for (int k = 0; k < kWordBins; ++k) word |= std::uint64_t{H[k * C] > 0} << k;
      }
      set.words[w] = word;
    }
  }

  // A row's codes: their first line, and their last where they cross into the next (a third
  // of the rows of 20 features); the second line missed most of the fill's remaining waits.
  void prefetch_codes(const std::uint8_t* row_codes) const {
    __builtin_prefetch(row_codes);
    __builtin_prefetch(row_codes + n_features - 1);
  }
  // The pass on packed blocks: one integer added per row and feature, into the pool's packed
  // histograms (each feature's kBins sums apart, so that threads filling different features
  // share none).
  template <bool kNote>
  void packed_pass(HistogramPool& pool, int h, const std::int32_t* rows, index_t n,
                   const index_t* features, index_t count) const {
    const index_t F = n_features;
    std::uint64_t* P = pool.packed_of(h, 0);
    BinSet* occupied = &pool.occupied(h, 0);
    const std::uint64_t* packed = stats.packed.data();
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowPrefetchAhead < n) {
        const std::int32_t ahead = rows[i + kRowPrefetchAhead];
        prefetch_codes(codes + static_cast<index_t>(ahead) * F);
        __builtin_prefetch(packed + ahead);
      }
      const std::int32_t r = rows[i];
      const std::uint8_t* row_codes = codes + static_cast<index_t>(r) * F;
      const std::uint64_t v = packed[r];
      for (index_t j = 0; j < count; ++j) {
        const index_t f = features[j];
        P[f * kBins + row_codes[f]] += v;
        if constexpr (kNote) occupied[f].insert(row_codes[f]);
      }
    }
  }

  // The histogram pass for kOutputs outputs, 0 meaning stats.n_out: with one output the
  // compiler sees loops of length 1, and the pass runs as fast as a single-output one can.
  template <int kOutputs, bool kNote>
  void pass(HistogramPool& pool, int h, const std::int32_t* rows, index_t n,
            const index_t* features, index_t count) const {
    const int C = this->C;
    const int n_out = kOutputs > 0 ? kOutputs : stats.n_out;
    const index_t F = n_features;
    double* base = pool.of(h, 0);
    BinSet* occupied = &pool.occupied(h, 0);
    const index_t stride = kBins * C;
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowPrefetchAhead < n) {  // as packed_pass: the row's codes and statistics, ahead
        const index_t ahead = static_cast<index_t>(rows[i + kRowPrefetchAhead]);
        prefetch_codes(codes + ahead * F);
        if (stats.K > 0) {
          __builtin_prefetch(stats.w.data() + ahead);
          __builtin_prefetch(stats.cls.data() + ahead * n_out);
        } else {
          // and its last line, where the block crosses into the next (half the rows' blocks of
          // one output: 32 bytes at an offset of 16 from a line)
          __builtin_prefetch(stats.blocks.data() + ahead * C);
          __builtin_prefetch(stats.blocks.data() + ahead * C + C - 1);
        }
      }
      const std::int32_t r = rows[i];
      const std::uint8_t* row_codes = codes + static_cast<index_t>(r) * F;
      if (stats.K > 0) {
        const double w = stats.w[r];
        const std::int32_t* k = stats.cls.data() + static_cast<index_t>(r) * n_out;
        for (index_t j = 0; j < count; ++j) {
          const index_t f = features[j];
          double* bin = base + f * stride + row_codes[f] * C;
          bin[0] += 1;
          bin[1] += w;
          for (int o = 0; o < n_out; ++o) bin[2 + k[o]] += w;
          if constexpr (kNote) occupied[f].insert(row_codes[f]);
        }
      } else {
        if constexpr (kOutputs == 1) {
          // the block in two registers, each bin's four adds two vector adds (the fill's time
          // a third less than the scalar adds')
          const double* block = stats.blocks.data() + static_cast<index_t>(r) * 4;
          const Pair low = load_pair(block), high = load_pair(block + 2);
          const auto add_block = [&](index_t f) {
            double* bin = base + f * stride + row_codes[f] * 4;
            store_pair(bin, load_pair(bin) + low);
            store_pair(bin + 2, load_pair(bin + 2) + high);
            if constexpr (kNote) occupied[f].insert(row_codes[f]);
          };
          // every feature (the children's fills, a regression forest's drawing them all): in
          // feature order, no index read
          if (count == F)
            for (index_t f = 0; f < F; ++f) add_block(f);
          else
            for (index_t j = 0; j < count; ++j) add_block(features[j]);
        } else {
          const double* block = stats.blocks.data() + static_cast<index_t>(r) * C;
          for (index_t j = 0; j < count; ++j) {
            const index_t f = features[j];
            double* bin = base + f * stride + row_codes[f] * C;
            for (int c = 0; c < C; ++c) bin[c] += block[c];
            if constexpr (kNote) occupied[f].insert(row_codes[f]);
          }
        }
      }
    }
  }
};

}  // namespace
}  // namespace fastml::cart::detail
