// Histograms of gradients and hessians over bin codes: the pool of per-node buffers, the pass
// that fills one from a node's rows and the subtraction that derives a sibling's.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <type_traits>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost::detail {
namespace {  // internal linkage: one unit (grower.cpp) includes this

// One bin's sums, in float64 as scikit-learn's hist_struct.
struct Bin {
  double g, h;
  std::uint64_t count;
};
inline void subtract_bin(Bin& p, const Bin& s) {
  p.g -= s.g;
  p.h -= s.h;
  p.count -= s.count;
}

// The float fill adds a row's (g, h) to a bin as one pair of doubles, one vector add rather than
// two scalar read-modify-writes. With constant hessians the h lane counts the row (adds 1.0) and
// the fill's end moves that count into the count field (FillTarget: a count up to 2**53 is exact
// as a double); otherwise the count is added beside, as an integer. Each lane is the same IEEE
// double addition as the scalar fill's, in the same row order: the same sums to the bit.
// With the four-feature steps below, 20 trees of the bench's 1M x 28 on one thread (grow_tree's
// CPU time, medians of 4 processes alternating with the old build, loaded machine): regressor
// 1.96 s before, 1.72 s after; classifier 1.81 s, 1.60 s.
typedef double DoublePair __attribute__((vector_size(16)));
template <bool kConstantHessian>
inline DoublePair row_increment(const GradHess& r) {
  return DoublePair{static_cast<double>(r.g), kConstantHessian ? 1.0 : static_cast<double>(r.h)};
}
template <bool kConstantHessian>
inline void add_row(Bin& b, DoublePair x) {
  static_assert(offsetof(Bin, h) == sizeof(double), "g and h side by side");
  char* gh = reinterpret_cast<char*>(&b);
  DoublePair sums;
  std::memcpy(&sums, gh, sizeof sums);
  sums += x;
  std::memcpy(gh, &sums, sizeof sums);
  if (!kConstantHessian) b.count += 1;
}
// (constant hessians: FillTarget<true, Bin> moves the h lane's count into the count)

// Quantized gradients (quantized.hpp): a row is one int64 packing its integer gradient and
// hessian (and its count, where the layout has room: QuantScales), so that a bin's sums take one
// add and its fields never carry into each other. Where the row does not carry its count, the
// fill is asked for it (count_in_row false) and keeps it beside (QBin); where it does, a bin is
// that one integer (QPackedBin: 8 bytes, so a node's 28 x 256 bins take 56 KiB, not 112):
// the bench's 1M x 28 classifier, 20 trees on one thread, grow_tree's CPU time 1.41 s against
// 1.62 s with QBin (medians of 3 processes alternating, loaded machine; the same model).
using QRow = std::int64_t;
struct QBin {
  std::int64_t gh;
  std::int64_t count;
};
struct QPackedBin {
  std::int64_t gh;
};
inline void subtract_bin(QBin& p, const QBin& s) {
  p.gh -= s.gh;
  p.count -= s.count;
}
inline void subtract_bin(QPackedBin& p, const QPackedBin& s) { p.gh -= s.gh; }
// integer bins: a row is one add (or two), nothing to finish
template <bool kCountInRow>
inline QRow row_increment(QRow r) {
  return r;
}
template <bool kCountInRow>
inline void add_row(QBin& b, QRow r) {
  b.gh += r;
  if (!kCountInRow) b.count += 1;
}
template <bool kCountInRow>
inline void add_row(QPackedBin& b, QRow r) {
  static_assert(kCountInRow, "a packed bin has no count beside");
  b.gh += r;
}

// Where a fill adds its rows: the bins of n_bins given, zeroed first and finished last. By
// default the bins themselves. With constant hessians a float bin's rows add (g, 1) as a pair
// and its count field waits for the end, so the fill keeps only the pairs, 16 bytes apart
// (aligned: no add straddles two cache lines, where one in eight of a 24-byte Bin's did), laid
// over the first two thirds of the Bins' own buffer, and spreads them into the Bins at the end:
// a node's 28 x 256 bins of the bench are 112 KiB to keep in L2 rather than 168. A captured
// bench regressor tree, one thread, CPU time, best of 6 in each of 5 processes alternating with
// the old build: root 15.0-15.4 -> 13.8-14.0 ms (0.54 -> 0.50 ns an add), its 30 smaller
// children 42-47 -> 39-42 ms (within the loaded machine's noise); grow_tree on it 70-93 -> 62-68
// ms (4 pairs). The same model. (The classifier's pairs with their counts apart, as uint32:
// 5-10% slower than its Bins, whose count add shares the pair's cache line.)
// kQuads: the classifier's bins summed as 32-byte quads (FillTarget<false, Bin, true>).
template <bool kConstantHessian, class BinT, bool kQuads = false>
struct FillTarget {
  FillTarget() = default;
  explicit FillTarget(BinT* bins) : H(bins) {}
  // the bins of feature f of the pool's histogram h
  template <class Pool>
  FillTarget(Pool& pool, int h, index_t f) : H(pool.of(h, f)) {}
  void clear(index_t n_bins) const { std::fill(H, H + n_bins, BinT{}); }
  template <class Increment>
  void add(index_t bin, Increment x) const {
    add_row<kConstantHessian>(H[bin], x);
  }
  void finish(index_t) const {}  // the bins hold their sums as added
  // the target of the bins from `bin` on
  FillTarget from(index_t bin) const { return FillTarget(H + bin); }
  BinT* H = nullptr;
};
template <>
struct FillTarget<true, Bin> {
  // a pool's buffers (operator new) and a uint8 feature's bins within them are 16-byte aligned
  // (a feature after a wide one of an odd count of bins is not: its adds stay correct, unaligned)
  static_assert(__STDCPP_DEFAULT_NEW_ALIGNMENT__ >= sizeof(DoublePair) &&
                    kBins * sizeof(Bin) % sizeof(DoublePair) == 0,
                "pairs 16-byte aligned");
  FillTarget() = default;
  explicit FillTarget(Bin* bins) : pairs(reinterpret_cast<char*>(bins)) {}
  template <class Pool>
  FillTarget(Pool& pool, int h, index_t f) : FillTarget(pool.of(h, f)) {}
  void clear(index_t n_bins) const { std::memset(pairs, 0, n_bins * sizeof(DoublePair)); }
  void add(index_t bin, DoublePair x) const {
    char* at = pairs + bin * sizeof(DoublePair);
    DoublePair sums;
    std::memcpy(&sums, at, sizeof sums);
    sums += x;
    std::memcpy(at, &sums, sizeof sums);
  }
  // from the last bin down: Bin b's bytes overlap pairs b and after only, already read
  void finish(index_t n_bins) const {
    for (index_t b = n_bins; b-- > 0;) {
      DoublePair sums;
      std::memcpy(&sums, pairs + b * sizeof(DoublePair), sizeof sums);
      // h as the scalar fill left it: the search reads the count (exact as a double to 2**53)
      const Bin bin{sums[0], 0.0, static_cast<std::uint64_t>(sums[1])};
      std::memcpy(pairs + b * sizeof(Bin), &bin, sizeof bin);
    }
  }
  FillTarget from(index_t bin) const {
    FillTarget rest;
    rest.pairs = pairs + bin * sizeof(DoublePair);
    return rest;
  }
  char* pairs = nullptr;
};

// The classifier's exact bins as (g, h, count, unused) quads of doubles, each row one 32-byte add
// (one AVX instruction: fill_rows_quads and fill_share_quads are built for AVX2 and taken where
// the CPU is x86-64-v3) where the 24-byte Bin takes a pair add and an integer add, one in eight
// of them across two cache lines. The quads lie in the pool's scratch (quads(f): only one node
// is filled at a time, each thread its own features), their sums spread into the Bins at the
// end. Each lane is the same IEEE double addition in the same row order (and a count up to 2**53
// is exact as a double): the same sums to the bit. A captured bench classifier tree, one thread,
// CPU time, 3 processes alternating with the old build: its 30 smaller children (rows in place,
// caches flushed between children, medians of 5) 57.5-64.3 -> 43.5-53.6 ms (1.41 -> 1.08 ns an
// add); its root (medians of 9) 19.9-21.5 -> 17.4-17.9 ms; grow_tree (bests of 9, 5 processes
// each) 64.1-66.4 -> 54.8-57.8 ms. Their rows gathered in node order (the two-thread fill): 0.81
// -> 0.62 ns an add. The same pair-and-count add into aligned 32-byte bins without AVX: slower
// than the Bins (1.31 ns an add in place, 0.92 gathered).
typedef double DoubleQuad __attribute__((vector_size(32)));
template <>
struct FillTarget<false, Bin, true> {
  FillTarget() = default;
  template <class Pool>
  FillTarget(Pool& pool, int h, index_t f)
      : bins(pool.of(h, f)), quads(reinterpret_cast<char*>(pool.quads(f))) {}
  void clear(index_t n_bins) const { std::memset(quads, 0, n_bins * sizeof(DoubleQuad)); }
  void add(index_t bin, DoublePair x) const {
    char* at = quads + bin * sizeof(DoubleQuad);
    DoubleQuad sums;
    std::memcpy(&sums, at, sizeof sums);
    sums += DoubleQuad{x[0], x[1], 1.0, 0.0};
    std::memcpy(at, &sums, sizeof sums);
  }
  void finish(index_t n_bins) const {
    for (index_t b = 0; b < n_bins; ++b) {
      DoubleQuad sums;
      std::memcpy(&sums, quads + b * sizeof(DoubleQuad), sizeof sums);
      bins[b] = Bin{sums[0], sums[1], static_cast<std::uint64_t>(sums[2])};
    }
  }
  FillTarget from(index_t bin) const {
    FillTarget rest;
    rest.bins = bins + bin;
    rest.quads = quads + bin * sizeof(DoubleQuad);
    return rest;
  }
  Bin* bins = nullptr;
  char* quads = nullptr;
};

// Buffers of every feature's histogram end to end: kBins bins a feature, a wide categorical
// feature's (see Data) its categories and its missing bin.
template <class BinT>
class BasicHistogramPool {
 public:
  explicit BasicHistogramPool(index_t n_features) : offsets_(n_features + 1) {
    for (index_t f = 0; f <= n_features; ++f) offsets_[f] = f * kBins;
  }
  // with_quads: the classifier's exact fills will sum quads where this CPU takes them (the
  // scratch is then allocated at the first acquire; pools that never fill quads keep none)
  explicit BasicHistogramPool(const Data& data, bool with_quads = false)
      : offsets_(data.n_features + 1, 0),
        with_quads_(with_quads && std::is_same_v<BinT, Bin> && isa_v3_or_wider()) {
    for (index_t f = 0; f < data.n_features; ++f)
      offsets_[f + 1] = offsets_[f] + data.missing_bin(f) + 1;
  }
  int acquire() {
    if (free_.empty()) {
      if (with_quads_ && !quads_)  // the first, on the thread that grows the tree
        quads_.reset(new DoubleQuad[static_cast<std::size_t>(offsets_.back())]);
      hists_.emplace_back(static_cast<std::size_t>(offsets_.back()));
      return static_cast<int>(hists_.size()) - 1;
    }
    const int h = free_.back();
    free_.pop_back();
    return h;
  }
  void release(int& h) {
    if (h >= 0) free_.push_back(h);
    h = -1;
  }
  BinT* of(int h, index_t f) { return hists_[h].data() + offsets_[f]; }
  index_t bins(index_t f) const { return offsets_[f + 1] - offsets_[f]; }
  // feature f's quads (FillTarget<false, Bin, true>): one scratch for every histogram
  DoubleQuad* quads(index_t f) { return quads_.get() + offsets_[f]; }
  bool has_quads() const { return with_quads_; }

 private:
  std::vector<index_t> offsets_;
  bool with_quads_ = false;
  std::unique_ptr<DoubleQuad[]> quads_;  // not zeroed: each fill clears its features' quads
  std::vector<std::vector<BinT>> hists_;
  std::vector<int> free_;
};
using HistogramPool = BasicHistogramPool<Bin>;

// A node's rows are increasing but spread over the whole column: past about 1M rows a feature's
// codes (1 byte a row) outgrow L2 and each row's code is a cache miss that the hardware
// prefetcher does not foresee. The fill asks for the code kPrefetchAhead rows ahead.
// always_inline: GCC (-O2 and above) takes a void function that only prefetches for one without
// side effects and deletes its calls, so until it was forced inline this prefetch was not in the
// binary (the figures first given for it were noise). Measured in the binary: one thread, the
// bench's make_regression 1M x 28, 100 trees, medians of 3 fits alternating in one process,
// load 14-18: 13.5 s of CPU without, 12.0 s with. Prefetching in the partition as well: no gain
// on the bench's classifier (10.26 s against 10.18 s, medians of 2).
constexpr index_t kPrefetchAhead = 64;
template <index_t kAhead = kPrefetchAhead, class T>
__attribute__((always_inline)) inline void prefetch_code(const T* column,
                                                         const std::int32_t* rows, index_t i,
                                                         index_t end) {
  if (i + kAhead < end) __builtin_prefetch(column + rows[i + kAhead]);
}

// One feature's bins += the rows [begin, end) of the node; Code: uint8, or uint16 for a wide
// categorical feature (whose missing code is its last bin). Row i's gradient is ordered[i]
// (gathered in node order), or ordered[rows[i]] where kByRow (read in place, prefetched as
// the code is); kAhead: how many rows ahead the codes are asked for.
template <bool kConstantHessian, bool kAllRows, index_t kAhead = kPrefetchAhead,
          bool kByRow = false, class Target, class RowT, class Code>
inline void fill_column(const Target& H, const Code* column, const RowT* ordered,
                        const std::int32_t* rows, index_t begin, index_t end) {
  for (index_t i = begin; i < end; ++i) {
    if (!kAllRows) prefetch_code<kAhead>(column, rows, i, end);
    if (kByRow) prefetch_code<kAhead>(ordered, rows, i, end);
    const index_t r = kAllRows ? i : rows[i];
    H.add(column[r], row_increment<kConstantHessian>(ordered[kByRow ? r : i]));
  }
}

// K uint8 features' bins += the rows [begin, end) at once: a row's gradients are loaded and
// widened once for the K (four: 24 KiB of bins, still in L1), where one feature a pass did so
// for each.
template <int K, bool kConstantHessian, bool kAllRows, class Target, class RowT>
inline void fill_columns(const Target* H, const std::uint8_t* const* column, const RowT* ordered,
                         const std::int32_t* rows, index_t begin, index_t end) {
  for (index_t i = begin; i < end; ++i) {
    if (!kAllRows)
      for (int k = 0; k < K; ++k) prefetch_code(column[k], rows, i, end);
    const index_t r = kAllRows ? i : rows[i];
    const auto x = row_increment<kConstantHessian>(ordered[i]);
    for (int k = 0; k < K; ++k) H[k].add(column[k][r], x);
  }
}

// Fills the histograms of the given features of a node from its rows, four features a pass (a
// wide one, or the last few, alone): the codes are column-major, so four features' codes and
// their bins (24 KiB of Bin, 16 KiB of QBin: in L1; a wide feature's up to 65536) are all a
// pass touches, with the node's
// gradients read in order from `ordered` (its rows' gradients gathered once, scikit-learn's
// ordered_gradients). The rows go in blocks whose row ids and gradients
// stay in L2 while every feature passes over them (rather than every feature streaming all of
// them from memory). kAllRows: the node holds every row in row order (a root), so rows[i] is i
// and `ordered` is gh itself: the codes stream in order and no gather is needed. Every bin sums
// its rows in row order whatever the thread count (each thread fills whole features). Nothing
// here allocates.
template <bool kConstantHessian, bool kAllRows, bool kQuads, class BinT, class RowT>
void fill_features(BasicHistogramPool<BinT>& pool, int h, const Data& data, const RowT* ordered,
                   const std::int32_t* rows, index_t n, const std::int32_t* features,
                   index_t count) {
  constexpr index_t kRowBlock = 8192;  // 96 KiB of row ids and gradients
  using Target = FillTarget<kConstantHessian, BinT, kQuads>;
  auto target = [&](index_t j) { return Target(pool, h, features[j]); };
  for (index_t j = 0; j < count; ++j) target(j).clear(pool.bins(features[j]));
  for (index_t begin = 0; begin < n; begin += kRowBlock) {
    const index_t end = std::min(n, begin + kRowBlock);
    auto narrow = [&](index_t j) { return !data.is_wide(features[j]); };
    // k narrow features from the j-th on, in one pass
    auto fill_narrow = [&](auto k, index_t j) {
      constexpr int K = decltype(k)::value;
      for (int q = 0; q < K; ++q)
        if (j + q >= count || !narrow(j + q)) return false;
      Target bins[K];
      const std::uint8_t* columns[K];
      for (int q = 0; q < K; ++q) {
        bins[q] = target(j + q);
        columns[q] = data.column(features[j + q]);
      }
      fill_columns<K, kConstantHessian, kAllRows>(bins, columns, ordered, rows, begin, end);
      return true;
    };
    for (index_t j = 0; j < count;) {
      // four a pass, and the last two of a thread's share (14 of the bench's 28 features on
      // either of two threads) two, not one: a root's 14 features, one thread, best of 6 in 3
      // alternating processes: regressor 7.2-7.4 -> 7.0-7.1 ms, quantized 5.0-5.4 -> 4.7-4.8
      if (fill_narrow(std::integral_constant<int, 4>{}, j)) {
        j += 4;
        continue;
      }
      if (fill_narrow(std::integral_constant<int, 2>{}, j)) {
        j += 2;
        continue;
      }
      const Target H = target(j);
      const index_t f = features[j++];
      if (data.is_wide(f))
        fill_column<kConstantHessian, kAllRows>(H, data.wide(f), ordered, rows, begin, end);
      else
        fill_column<kConstantHessian, kAllRows>(H, data.column(f), ordered, rows, begin, end);
    }
  }
  for (index_t j = 0; j < count; ++j) target(j).finish(pool.bins(features[j]));
}

// The features [first, first + count) of the node, on the calling thread.
template <bool kConstantHessian, bool kQuads, class BinT, class RowT>
void fill_share(BasicHistogramPool<BinT>& pool, int h, const Data& data, const RowT* ordered,
                const std::int32_t* rows, index_t n, const std::int32_t* features, index_t count,
                bool all_rows) {
  if (all_rows)
    fill_features<kConstantHessian, true, kQuads>(pool, h, data, ordered, rows, n, features,
                                                  count);
  else
    fill_features<kConstantHessian, false, kQuads>(pool, h, data, ordered, rows, n, features,
                                                   count);
}

// A wide categorical feature filled in a row-wise pass: its code's two bytes' places in a row
// of row_codes (Data::wide_code), its largest code (the missing one) and its bins.
template <class BinT>
struct WideFill {
  index_t low, high, missing;
  BinT* bins;
};

// Row-wise fill (LightGBM's row-wise histograms) of a node's n rows (not a root's: see
// build_histogram): the narrow features [first, first + count), whose bins lie kBins apart,
// and the n_wide wide ones of `wide`. Each row's codes of these features lie together in its
// row of data.row_codes (one or two cache lines; a wide feature's two bytes there too) and its
// gradient is read once for all of them, where the column-wise fill reads one cache line per
// feature for each row of a node whose rows are scattered over the columns. The narrow bins
// (6 KiB a feature) stay in L2. kGathered: row i's codes are codes[i * row_width ..] and its
// gradient gh[i] (gather_rows put them in node order); otherwise they are row rows[i]'s of
// data.row_codes and gh. Every bin sums its rows in row order. kWide: n_wide may be above 0 (a
// fill of narrow features only keeps the loop it had without wide ones: on the 4-categorical
// bench row, 30 trees' growth on one thread, best of 2 fits, 1.15-1.22 s of CPU before any wide
// feature was read here, 1.29-1.33 s with the wide loop in every fill)
// kQuads: the narrow features' bins summed as quads (FillTarget<false, Bin, true>).
template <bool kConstantHessian, bool kGathered, bool kQuads, bool kWide, class BinT, class RowT>
void fill_rows(BasicHistogramPool<BinT>& pool, int h, const Data& data, const std::uint8_t* codes,
               const RowT* gh, const std::int32_t* rows, index_t n, index_t first, index_t count,
               const WideFill<BinT>* wide, index_t n_wide) {
  if (!kWide) n_wide = 0;
  using Target = FillTarget<kConstantHessian, BinT>;  // a wide feature's bins
  // the narrow features' bins as one run (row_wise_features: none is wide)
  const FillTarget<kConstantHessian, BinT, kQuads> H(pool, h, first);
  H.clear(count * kBins);
  for (index_t w = 0; w < n_wide; ++w) Target(wide[w].bins).clear(wide[w].missing + 1);
  const index_t width = data.row_width();
  // the bytes of a row read: its narrow codes, and the wide codes' high bytes at its end
  const index_t read_first = n_wide > 0 ? 0 : first;
  const index_t read_last = n_wide > 0 ? width - 1 : first + count - 1;
  for (index_t i = 0; i < n; ++i) {
    const index_t r = kGathered ? i : rows[i];
    if (!kGathered && i + kPrefetchAhead < n) {
      // into L2, not L1 (locality 2): the bins' read-modify-writes pass through L1 so fast
      // (a line a code) that a line brought 64 rows ahead was mostly gone by its use. The
      // bench's 1M x 28, a captured tree (grow_tree alone, one thread, CPU ms, 3 runs each of
      // the best of 4, interleaved): regressor 75-78 -> 63-68, classifier 67-68 -> 64-66.
      const index_t ahead = rows[i + kPrefetchAhead];
      __builtin_prefetch(codes + ahead * width + read_first, 0, 2);
      __builtin_prefetch(codes + ahead * width + read_last, 0, 2);
      __builtin_prefetch(gh + ahead, 0, 2);
    }
    const std::uint8_t* row = codes + r * width;
    const std::uint8_t* c = row + first;
    const auto x = row_increment<kConstantHessian>(gh[r]);
    // four features a step, their bins at fixed offsets from one pointer: the compiler then
    // addresses each bin from its code alone (it did not unroll so by itself)
    auto Hj = H;
    index_t j = 0;
    for (; j + 4 <= count; j += 4, Hj = Hj.from(4 * kBins)) {
      Hj.add(c[j], x);
      Hj.add(kBins + c[j + 1], x);
      Hj.add(2 * kBins + c[j + 2], x);
      Hj.add(3 * kBins + c[j + 3], x);
    }
    for (; j < count; ++j, Hj = Hj.from(kBins)) Hj.add(c[j], x);
    for (index_t w = 0; kWide && w < n_wide; ++w) {
      // the grower's bound on row_codes' wide bytes (the binding checks wide_codes, from
      // which the estimator writes them): a larger code than the missing one is read as it
      const WideFill<BinT>& v = wide[w];
      const index_t code = row[v.low] | static_cast<index_t>(row[v.high]) << 8;
      Target(v.bins).add(std::min(code, v.missing), x);
    }
  }
  H.finish(count * kBins);
  for (index_t w = 0; w < n_wide; ++w) Target(wide[w].bins).finish(wide[w].missing + 1);
}

// The classifier's exact fills sum quads (FillTarget<false, Bin, true>) where this module has
// its x86-64-v3 build of them and the pool has their scratch (with_quads, and isa_v3_or_wider:
// the CPU and FASTML_SIMD allow it).
#if defined(FASTML_HAVE_ISA_x86_64_v3) && (defined(__x86_64__) || defined(__i386__))
#define FASTML_BOOST_QUAD_BINS 1
// the quads' fills built for AVX2: flatten inlines the fill and its adds into these, where the
// target applies (a fill called out of line would be built for the baseline)
template <bool kGathered, bool kWide, class RowT>
__attribute__((target("avx2"), flatten)) void fill_rows_quads(
    HistogramPool& pool, int h, const Data& data, const std::uint8_t* codes, const RowT* gh,
    const std::int32_t* rows, index_t n, index_t first, index_t count,
    const WideFill<Bin>* wide, index_t n_wide) {
  fill_rows<false, kGathered, true, kWide>(pool, h, data, codes, gh, rows, n, first, count, wide,
                                           n_wide);
}
template <class RowT>
__attribute__((target("avx2"), flatten)) void fill_share_quads(
    HistogramPool& pool, int h, const Data& data, const RowT* ordered, const std::int32_t* rows,
    index_t n, const std::int32_t* features, index_t count, bool all_rows) {
  fill_share<false, true>(pool, h, data, ordered, rows, n, features, count, all_rows);
}
#endif
// fill_rows and fill_share with the quads where they apply
template <bool kConstantHessian, bool kGathered, bool kWide, class BinT, class RowT>
void fill_rows_best(BasicHistogramPool<BinT>& pool, int h, const Data& data,
                    const std::uint8_t* codes, const RowT* gh, const std::int32_t* rows, index_t n,
                    index_t first, index_t count, const WideFill<BinT>* wide, index_t n_wide) {
#ifdef FASTML_BOOST_QUAD_BINS
  if constexpr (!kConstantHessian && std::is_same_v<BinT, Bin>)
    if (pool.has_quads())
      return fill_rows_quads<kGathered, kWide>(pool, h, data, codes, gh, rows, n, first, count,
                                               wide, n_wide);
#endif
  fill_rows<kConstantHessian, kGathered, false, kWide>(pool, h, data, codes, gh, rows, n, first,
                                                       count, wide, n_wide);
}
template <bool kConstantHessian, class BinT, class RowT>
void fill_share_best(BasicHistogramPool<BinT>& pool, int h, const Data& data, const RowT* ordered,
                     const std::int32_t* rows, index_t n, const std::int32_t* features,
                     index_t count, bool all_rows) {
#ifdef FASTML_BOOST_QUAD_BINS
  if constexpr (!kConstantHessian && std::is_same_v<BinT, Bin>)
    if (pool.has_quads())
      return fill_share_quads(pool, h, data, ordered, rows, n, features, count, all_rows);
#endif
  fill_share<kConstantHessian, false>(pool, h, data, ordered, rows, n, features, count, all_rows);
}

// The node's rows [begin, end) in node order: row rows[i]'s codes (its row of row_codes) to
// node_codes[i * row_width ..] and its gradient to ordered[i], so that the threads that then
// fill the node's histograms, each its share of the features, stream them rather than each
// taking every row's cache misses (their sums are not changed: only where the rows are read
// from).
template <class RowT>
void gather_rows(const Data& data, const RowT* gh, const std::int32_t* rows, index_t begin,
                 index_t end, std::uint8_t* node_codes, RowT* ordered) {
  const index_t width = data.row_width();
  for (index_t i = begin; i < end; ++i) {
    const index_t r = rows[i];
    if (i + kPrefetchAhead < end) {
      // into L2 as fill_rows does: the 30 smaller children of a captured bench tree, one
      // thread, CPU ms, interleaved runs: classifier 16-18 -> 10-10.5, regressor 21-24 -> 13-14
      const index_t ahead = rows[i + kPrefetchAhead];
      __builtin_prefetch(data.row_codes + ahead * width, 0, 2);
      __builtin_prefetch(data.row_codes + ahead * width + width - 1, 0, 2);
      __builtin_prefetch(gh + ahead, 0, 2);
    }
    std::memcpy(node_codes + i * width, data.row_codes + r * width,
                static_cast<std::size_t>(width));
    ordered[i] = gh[r];
  }
}

inline bool is_empty(const Bin& b) { return b.count == 0; }
// a QBin keeps its rows' count beside the sums (QuantScales::count_in_row false)
inline bool is_empty(const QBin& b) { return b.count == 0; }
inline bool is_empty(const QPackedBin& b) { return b.gh == 0; }

// Whether the given features' histograms hold no row in a bin that is not their feature's
// (from n_bins_non_missing up to the missing bin), where a uint8 code that is neither a bin of
// its feature nor kMissingBin puts its row. Every code the grower reads lands in a histogram
// it fills (a root's reads every code of its features, then the row-wise fills read rows of
// row_codes), so checking those stands for a pass over every code.
template <class BinT>
bool codes_in_bins(BasicHistogramPool<BinT>& pool, int h, const Data& data,
                   const std::vector<std::int32_t>& features) {
  for (const std::int32_t f : features) {
    if (data.is_wide(f)) continue;  // checked by the binding: a wide feature's bins are its own
    const BinT* H = pool.of(h, f);
    for (index_t b = data.n_bins_non_missing[f]; b < kMissingBin; ++b)
      if (!is_empty(H[b])) return false;
  }
  return true;
}

// The row-wise fill's view of a node's features: its narrow ones, which it takes where they are
// a run first .. first + count - 1 (every feature, unless constrained or drawn) and row-major
// codes are given; its wide ones (Data), filled in the same pass from their bytes in row_codes.
struct RowWiseFeatures {
  bool by_rows = false;
  index_t first = 0, count = 0;
  std::vector<std::int32_t> wide;
};
inline RowWiseFeatures row_wise_features(const Data& data,
                                         const std::vector<std::int32_t>& features) {
  RowWiseFeatures split;
  if (data.row_codes == nullptr) return split;
  for (const std::int32_t f : features) {
    if (data.is_wide(f)) {
      split.wide.push_back(f);
    } else {
      if (split.count == 0) split.first = f;
      if (f != split.first + split.count) return split;  // not a run
      ++split.count;
    }
  }
  split.by_rows = split.count > 0;
  return split;
}

// The histograms of a node's features; `ordered` has room for the node's rows, node_codes (or
// nullptr: the rows are then not gathered) for their row-major codes. rows increase
// (a node's rows keep their order), so a node of every row has rows[i] == i. kConstantHessian:
// of float bins, that the hessians are 1 (not summed: the count is their sum); of integer bins,
// that each row's QRow carries its count (add_row).
template <bool kConstantHessian, class BinT, class RowT>
void build_histogram(BasicHistogramPool<BinT>& pool, int h, const Data& data, const RowT* gh,
                     const std::int32_t* rows, index_t n, const std::vector<std::int32_t>& features,
                     RowT* ordered, int n_threads, std::uint8_t* node_codes = nullptr) {
  const bool all_rows = n == data.n_rows;
  const index_t count = static_cast<index_t>(features.size());
  // about 1 ns a code
  const int chunks = std::min<int>(fastml_hot_region_threads(1.0 * n * count, n_threads),
                                   static_cast<int>(std::max<index_t>(count, 1)));
  // A root reads its codes column by column in order: measured faster so (one thread, the
  // bench's 1M x 28, 10 trees, medians of 3-4 alternating in one process: classifier growth
  // 0.95 s row-wise at the root too, 0.85 s column-wise there; regressor 1.04 against 0.98);
  // the other nodes row-wise (old: 1.07-1.11 s and 1.15-1.17 s all column-wise, the same
  // trees). Row-wise below 0.3 or 0.1 of the rows only was no better.
  const RowWiseFeatures row_wise = all_rows ? RowWiseFeatures{} : row_wise_features(data, features);
  if (row_wise.by_rows) {
    const index_t f0 = row_wise.first, narrow = row_wise.count;
    const index_t n_wide = static_cast<index_t>(row_wise.wide.size());
    std::vector<WideFill<BinT>> wide;  // here: nothing in the region below allocates
    for (const std::int32_t f : row_wise.wide)
      wide.push_back({f, data.n_features + data.wide_column[f], data.missing_bin(f),
                      pool.of(h, f)});
    if (chunks <= 1 || node_codes == nullptr) {
      // one thread (every caller with threads to spare gives node_codes): each row's codes
      // and gradient read once, in place, no gather. A wide feature's codes are read beside
      // the narrow ones', where a second pass over the rows read its uint16 column and the
      // gradients again: the wide bench row (1M rows, 100 iterations, one thread, fit CPU,
      // 3 processes alternating with the old build, load 13) 6.99, 6.98, 5.75 s -> 6.18,
      // 6.22, 5.58 s, the same predictions
      if (n_wide > 0)
        fill_rows_best<kConstantHessian, false, true>(pool, h, data, data.row_codes, gh, rows, n,
                                                      f0, narrow, wide.data(), n_wide);
      else
        fill_rows_best<kConstantHessian, false, false>(pool, h, data, data.row_codes, gh, rows, n,
                                                       f0, narrow, wide.data(), 0);
      return;
    }
    // Several threads, each filling its share of the features: the rows' codes and gradients
    // are first gathered into node order, each thread a share of the rows, so that every row's
    // scattered cache lines are read once, not once by each thread (which took all of every
    // row's misses for half its codes). The bench's 1M x 28, a tree's 30 smaller children, one
    // thread running each part (the critical path of two), CPU time: classifier 31-33 ms
    // (half the features read in place) against 22-24 ms (half the rows gathered, then half
    // the features from them); regressor 37-41 against 23-26.
    // one region, the fills waiting at its barrier for every gather (a region a step paid a
    // second start and end: on a loaded machine each a wait for a descheduled thread)
#pragma omp parallel num_threads(chunks)
    {
      // the team may be smaller than asked for
      const int shares = omp_get_num_threads(), share = omp_get_thread_num();
      gather_rows(data, gh, rows, n * share / shares, n * (share + 1) / shares, node_codes,
                  ordered);
#pragma omp barrier
      // a wide feature's fill (its bins past L1) weighs as about kWideWeight narrow ones: the
      // shares split the weights, the wide features first (wide feature w the share's of its
      // first unit, kWideWeight * w)
      constexpr index_t kWideWeight = 4;
      const index_t units = kWideWeight * n_wide + narrow;
      const index_t begin = units * share / shares, end = units * (share + 1) / shares;
      const index_t wide_first = std::min(n_wide, (begin + kWideWeight - 1) / kWideWeight);
      const index_t wide_last = std::min(n_wide, (end + kWideWeight - 1) / kWideWeight);
      const index_t first = std::max(begin, kWideWeight * n_wide) - kWideWeight * n_wide;
      const index_t last = std::max(end, kWideWeight * n_wide) - kWideWeight * n_wide;
      if (wide_last > wide_first)
        fill_rows_best<kConstantHessian, true, true>(pool, h, data, node_codes, ordered, rows, n,
                                                     f0 + first, last - first,
                                                     wide.data() + wide_first,
                                                     wide_last - wide_first);
      else if (last > first)
        fill_rows_best<kConstantHessian, true, false>(pool, h, data, node_codes, ordered, rows,
                                                      n, f0 + first, last - first, wide.data(), 0);
    }
    return;
  }
  if (!all_rows) {
    const int gather_threads = fastml_hot_region_threads(2.0 * n, n_threads);  // ~2 ns a row
#pragma omp parallel for schedule(static) num_threads(gather_threads) if (gather_threads > 1)
    for (index_t i = 0; i < n; ++i) ordered[i] = gh[rows[i]];
  }
  const RowT* source = all_rows ? gh : ordered;
  if (chunks <= 1) {
    fill_share_best<kConstantHessian>(pool, h, data, source, rows, n, features.data(), count,
                                      all_rows);
    return;
  }
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
  for (int chunk = 0; chunk < chunks; ++chunk) {
    const index_t first = count * chunk / chunks, last = count * (chunk + 1) / chunks;
    fill_share_best<kConstantHessian>(pool, h, data, source, rows, n, features.data() + first,
                                      last - first, all_rows);
  }
}

// Histogram subtraction in place: the parent's buffer becomes the larger child's, parent - the
// smaller child's, for the given features.
template <class BinT>
void subtract_into(BasicHistogramPool<BinT>& pool, int parent, int smaller,
                   const std::vector<std::int32_t>& features) {
  for (const std::int32_t f : features) {
    BinT* P = pool.of(parent, f);
    const BinT* S = pool.of(smaller, f);
    for (index_t b = 0, nb = pool.bins(f); b < nb; ++b) subtract_bin(P[b], S[b]);
  }
}

}  // namespace
}  // namespace fastml::boost::detail
