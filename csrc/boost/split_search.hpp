// The split search of one node over its histograms: scikit-learn's splitting.pyx rules (gain of
// XGBoost's equation 7 on bounded node values, min_samples_leaf, min_hessian_to_split, monotonic
// constraints, missing values sent right on a left-to-right scan and left on a right-to-left
// one, the first feature of the largest gain winning; categorical features by its
// _find_best_bin_to_split_category).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <utility>
#include <vector>

#include "histogram.hpp"

namespace fastml::boost::detail {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

struct Split {
  double gain = -1;
  std::int32_t feature = 0;
  int bin = 0;
  bool missing_left = false;
  double g_left = 0, h_left = 0, g_right = 0, h_right = 0;
  index_t n_left = 0, n_right = 0;
  double value_left = 0, value_right = 0;
  bool categorical = false;
  // categorical: the codes going left (the missing bin among them), Data::bitset_words words;
  // empty otherwise
  std::vector<std::uint32_t> left_cat;
};

// A node's value -G / (H + l2), kept within the bounds of the monotonic constraints.
inline double node_value(double g, double h, double lower, double upper, double l2) {
  double v = -g / (h + l2 + 1e-15);
  if (v < lower)
    v = lower;
  else if (v > upper)
    v = upper;
  return v;
}

// What a node's search needs besides its histograms.
struct NodeStats {
  index_t n;
  double sum_g, sum_h, value, lower, upper;
};

// The split's gain and its children: the left child's sums as found, the right child's the
// node's minus them, and both children's bounded values.
inline void set_children(Split& s, double gain, double g_left, double h_left, index_t n_left,
                         const NodeStats& node, double l2) {
  s.gain = gain;
  s.g_left = g_left;
  s.g_right = node.sum_g - g_left;
  s.h_left = h_left;
  s.h_right = node.sum_h - h_left;
  s.n_left = n_left;
  s.n_right = node.n - n_left;
  s.value_left = node_value(s.g_left, s.h_left, node.lower, node.upper, l2);
  s.value_right = node_value(s.g_right, s.h_right, node.lower, node.upper, l2);
}

// scikit-learn's _split_gain: the loss reduction of a split (XGBoost's equation 7) on the
// bounded values of the children, -1 where they break the monotonic constraint cst.
inline double split_gain(double gl, double hl, double gr, double hr, double loss_node,
                         std::int8_t cst, const NodeStats& node, double l2) {
  const double vl = node_value(gl, hl, node.lower, node.upper, l2);
  const double vr = node_value(gr, hr, node.lower, node.upper, l2);
  if ((cst == 1 && vl > vr) || (cst == -1 && vl < vr)) return -1;
  double gain = loss_node;
  gain -= gl * vl;
  gain -= gr * vr;
  return gain;
}

// A category of a categorical split search, laid out as scikit-learn's categorical_info and
// sorted by the same C library qsort with the same comparator (never 0, so that equal ratios
// come out in the order that qsort gives scikit-learn too).
struct CatInfo {
  std::uint16_t bin;  // a wide feature's too (see Data); the record is 16 bytes either way
  double value;
};
inline int compare_cat_infos(const void* a, const void* b) {
  return static_cast<const CatInfo*>(a)->value < static_cast<const CatInfo*>(b)->value ? -1 : 1;
}
// cats[0 .. n) by value (none NaN), least significant byte of a key first, each pass stable: the
// order of std::sort where the values are distinct (those of equal values, and -0.0 before 0.0,
// in an order that the caller's check for strictly increasing values turns away). scratch: room
// for n. A wide feature's search sorts up to its thousands of categories a node, where
// std::sort's comparisons are a coin toss to the branch predictor: normal ratios, one thread,
// best of 200, 5000 categories 261 us -> 59 us, 1000 44 -> 13 us, 300 11 -> 4 us, the same
// order.
inline void radix_sort_by_value(CatInfo* cats, CatInfo* scratch, int n) {
  constexpr int kDigits = sizeof(std::uint64_t);
  // the value's bits as an unsigned key of the same order: negatives' flipped, the others'
  // sign bit set
  auto key = [](double v) {
    std::uint64_t bits;
    std::memcpy(&bits, &v, sizeof bits);
    return bits >> 63 ? ~bits : bits | std::uint64_t{1} << 63;
  };
  std::uint32_t counts[kDigits][256] = {};
  for (int i = 0; i < n; ++i) {
    const std::uint64_t k = key(cats[i].value);
    for (int d = 0; d < kDigits; ++d) ++counts[d][(k >> (8 * d)) & 0xFF];
  }
  CatInfo* from = cats;
  CatInfo* to = scratch;
  for (int d = 0; d < kDigits; ++d) {
    std::uint32_t* at = counts[d];
    if (at[(key(from[0].value) >> (8 * d)) & 0xFF] == static_cast<std::uint32_t>(n))
      continue;  // every key has this byte: the pass would keep the order
    std::uint32_t sum = 0;
    for (int b = 0; b < 256; ++b) {
      const std::uint32_t c = at[b];
      at[b] = sum;
      sum += c;
    }
    for (int i = 0; i < n; ++i) to[at[(key(from[i].value) >> (8 * d)) & 0xFF]++] = from[i];
    std::swap(from, to);
  }
  if (from != cats) std::copy(from, from + n, cats);
}

// scikit-learn's MIN_CAT_SUPPORT (LightGBM's cat_smooth): categories of a smaller hessian sum
// are never sent left on their own, and the ratios are smoothed by it.
constexpr double kMinCatSupport = 10.0;

class SplitSearch {
 public:
  SplitSearch(const Data& data, const GrowParams& params) : data_(data), p_(params) {}

  // The best split over the features, or gain -1.
  template <bool kConstantHessian>
  Split best(HistogramPool& pool, int h, const NodeStats& node,
             const std::vector<std::int32_t>& features) const {
    Split best_split;
    bool first = true;
    for (const std::int32_t f : features) {
      Split s;
      s.feature = f;
      if (data_.is_categorical && data_.is_categorical[f]) {
        scan_categorical<kConstantHessian>(pool.of(h, f), f, node, s);
      } else {
        scan<kConstantHessian, false>(pool.of(h, f), f, node, s);
        if (data_.has_missing[f]) scan<kConstantHessian, true>(pool.of(h, f), f, node, s);
      }
      if (first || s.gain > best_split.gain) best_split = std::move(s);
      first = false;
    }
    return best_split;
  }

 private:
  // kReverse: right to left, missing values left (called only when the feature has some);
  // otherwise left to right, missing values right. s holds the best so far.
  template <bool kConstantHessian, bool kReverse>
  void scan(const Bin* H, std::int32_t f, const NodeStats& node, Split& s) const {
    const std::int8_t cst = p_.monotonic_cst.empty() ? 0 : p_.monotonic_cst[f];
    const double l2 = p_.l2_regularization;
    const index_t msl = p_.min_samples_leaf;
    const double mh = p_.min_hessian_to_split;
    const double loss_node = node.sum_g * node.value;
    const int nbnm = data_.n_bins_non_missing[f];
    double best_gain = kReverse ? s.gain : -1.0;
    bool found = false;
    int best_bin = 0;
    double best_g_left = 0, best_h_left = 0;
    index_t best_n_left = 0;
    // on one side, the bins summed so far ("near"); the other side is the node minus them
    double g_near = 0, h_near = 0;
    index_t n_near = 0;
    const int end = kReverse ? -1 : nbnm - 1 + data_.has_missing[f];
    for (int bin = kReverse ? nbnm - 2 : 0; bin != end; bin += kReverse ? -1 : 1) {
      const Bin& b = H[kReverse ? bin + 1 : bin];
      n_near += static_cast<index_t>(b.count);
      h_near += kConstantHessian ? static_cast<double>(b.count) : b.h;
      g_near += b.g;
      const index_t n_far = node.n - n_near;
      const double h_far = node.sum_h - h_near, g_far = node.sum_g - g_near;
      if (n_near < msl) continue;
      if (n_far < msl) break;
      if (h_near < mh) continue;
      if (h_far < mh) break;
      const double gl = kReverse ? g_far : g_near, hl = kReverse ? h_far : h_near;
      const double gr = kReverse ? g_near : g_far, hr = kReverse ? h_near : h_far;
      const double gain = split_gain(gl, hl, gr, hr, loss_node, cst, node, l2);
      if (gain > best_gain && gain > 0.0) {
        found = true;
        best_gain = gain;
        best_bin = bin;
        best_g_left = gl;
        best_h_left = hl;
        best_n_left = kReverse ? node.n - n_near : n_near;
      }
    }
    if (!found) return;
    set_children(s, best_gain, best_g_left, best_h_left, best_n_left, node, l2);
    s.bin = best_bin;
    s.missing_left = kReverse;
  }

  // scikit-learn's categorical search: the categories of enough support (the missing values
  // one of them) sorted by smoothed gradient / hessian, then scanned from each end up to the
  // middle, the categories passed going left; the others, low-support ones included, right.
  template <bool kConstantHessian>
  void scan_categorical(const Bin* H, std::int32_t f, const NodeStats& node, Split& s) const {
    const int nbnm = data_.n_bins_non_missing[f];
    const bool has_missing = data_.has_missing[f] != 0;
    const int missing = data_.missing_bin(f);
    const double support_factor = static_cast<double>(node.n) / node.sum_h;
    CatInfo on_stack[kBins];
    // a wide feature's categories do not fit on_stack, and its sort takes as many more as
    // scratch; not zeroed (80 KB a node of 5000 categories): every slot read is written first
    std::unique_ptr<CatInfo[]> wide;
    if (missing >= kBins) wide.reset(new CatInfo[2 * (static_cast<std::size_t>(missing) + 1)]);
    CatInfo* cats = wide ? wide.get() : on_stack;
    int n_used = 0;
    bool any_nan = false;
    auto consider = [&](int bin) {
      const double hb = kConstantHessian ? static_cast<double>(H[bin].count) : H[bin].h;
      if (hb * support_factor >= kMinCatSupport) {
        const double ratio = H[bin].g / (hb + kMinCatSupport);
        any_nan |= ratio != ratio;
        cats[n_used++] = CatInfo{static_cast<std::uint16_t>(bin), ratio};
      }
    };
    auto collect = [&] {
      n_used = 0;
      for (int bin = 0; bin < nbnm; ++bin) consider(bin);
      if (has_missing) consider(missing);
    };
    collect();
    if (n_used <= 1) return;
    // std::sort, its comparisons inlined (qsort's through a pointer took 13% of a wide
    // feature's growth, 5000 categories a node), or for a wide feature a radix sort (std::sort
    // took 6% of the wide bench row's growth); the same order wherever the ratios come out
    // strictly increasing. Where two are not (equal, or NaN) their order is qsort's own
    // algorithm's, on the categories in bin order: collected again and sorted by qsort. With a
    // NaN, < is no strict weak order, which std::sort may not be given: qsort at once.
    bool increasing = !any_nan;
    if (increasing) {
      if (wide)
        radix_sort_by_value(cats, cats + missing + 1, n_used);
      else
        std::sort(cats, cats + n_used,
                  [](const CatInfo& a, const CatInfo& b) { return a.value < b.value; });
      for (int i = 1; i < n_used && increasing; ++i) increasing = cats[i - 1].value < cats[i].value;
    }
    if (!increasing) {
      collect();
      std::qsort(cats, static_cast<std::size_t>(n_used), sizeof(CatInfo), compare_cat_infos);
    }
    const double l2 = p_.l2_regularization;
    const index_t msl = p_.min_samples_leaf;
    const double mh = p_.min_hessian_to_split;
    const double loss_node = node.sum_g * node.value;
    double best_gain = -1.0, best_g_left = 0, best_h_left = 0;
    index_t best_n_left = 0;
    int best_direction = 0, best_thresh = 0;
    for (const int direction : {1, -1}) {
      const int middle = direction == 1 ? (n_used + 1) / 2 : (n_used + 1) / 2 - 1;
      double gl = 0, hl = 0;
      index_t nl = 0;
      for (int i = 0; i < middle; ++i) {
        const int sorted = direction == 1 ? i : n_used - 1 - i;
        const Bin& b = H[cats[sorted].bin];
        nl += static_cast<index_t>(b.count);
        const index_t nr = node.n - nl;
        hl += kConstantHessian ? static_cast<double>(b.count) : b.h;
        const double hr = node.sum_h - hl;
        gl += b.g;
        const double gr = node.sum_g - gl;
        if (nl < msl || hl < mh) continue;
        if (nr < msl || hr < mh) break;
        const double gain = split_gain(gl, hl, gr, hr, loss_node, 0, node, l2);
        if (gain > best_gain && gain > 0.0) {
          best_gain = gain;
          best_thresh = sorted;
          best_g_left = gl;
          best_h_left = hl;
          best_n_left = nl;
          best_direction = direction;
        }
      }
    }
    if (best_direction == 0) return;
    set_children(s, best_gain, best_g_left, best_h_left, best_n_left, node, l2);
    s.bin = 0;
    s.categorical = true;
    s.left_cat.assign(static_cast<std::size_t>(data_.bitset_words), 0u);
    const int first = best_direction == 1 ? 0 : best_thresh;
    const int last = best_direction == 1 ? best_thresh : n_used - 1;
    for (int i = first; i <= last; ++i)
      s.left_cat[cats[i].bin / 32] |= 1u << (cats[i].bin % 32);
    s.missing_left = has_missing && in_bitset(s.left_cat.data(), static_cast<unsigned>(missing));
  }

  const Data& data_;
  const GrowParams& p_;
};

}  // namespace
}  // namespace fastml::boost::detail
