// How the searches read a feature: its keys (values for the exact search, bin codes for the
// histogram search), the (key, row) pairs of the sorted searches, and the set of bins a node
// occupies.
#pragma once

#include <cmath>
#include <cstdint>
#include <utility>

#include "common.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// Keys of one feature for the row-level searches: values (exact) or bin codes.
template <class T>
struct ValueKeys {
  const T* column;
  bool missing(std::int32_t r) const { return std::isnan(column[r]); }
  double key(std::int32_t r) const { return static_cast<double>(column[r]); }
  // scikit-learn's midpoint, kept strictly below b
  static double between(double a, double b) {
    double t = a / 2.0 + b / 2.0;
    if (t == b || std::isinf(t)) t = a;
    return t;
  }
  double threshold_between(double a, double b) const { return between(a, b); }
  // whether a threshold may lie between sorted values a <= b
  static bool apart(double a, double b) { return b > a + kFeatureThreshold; }
  double random_cut(double lo, double hi, double u) const {
    const double t = lo + u * (hi - lo);
    return t == hi ? lo : t;
  }
  double threshold_at(double cut) const { return cut; }
};

// A split between bins a < b (both holding rows) is placed at scikit-learn's midpoint between the
// largest value of bin a and the smallest of bin b over all rows: with a bin per distinct value
// that is the exact search's threshold, and every training row is routed as its code says.
struct CodeKeys {
  const std::uint8_t* column;  // the feature's code of row 0; row r's is column[r * stride]
  index_t stride;
  const double* low;           // kBins: smallest value of each bin (+inf when empty)
  const double* high;          // kBins: largest value of each bin (-inf when empty)
  std::uint8_t code(std::int32_t r) const { return column[r * stride]; }
  bool missing(std::int32_t r) const { return code(r) == kMissingBin; }
  double key(std::int32_t r) const { return code(r); }
  double threshold_between(double a, double b) const {
    return ValueKeys<float>::between(high[static_cast<int>(a)], low[static_cast<int>(b)]);
  }
  static bool apart(double a, double b) { return a != b; }
  double random_cut(double lo, double hi, double u) const {
    return lo + std::floor(u * (hi - lo));
  }
  // bins <= cut go left: the split lies between the nearest bins holding rows on either side
  double threshold_at(double cut) const {
    int a = static_cast<int>(cut), b = a + 1;
    while (a > 0 && std::isinf(high[a])) --a;
    while (b < kMissingBin - 1 && std::isinf(low[b])) ++b;
    return threshold_between(a, b);
  }
};

// A row of a node and its key, as the sorted searches read them: (value, row) pairs, or a bin
// code and row packed in one integer (code in the high half), which sorts fastest.
template <class T>
double key_of(const std::pair<T, std::int32_t>& p) { return p.first; }
template <class T>
std::int32_t row_of(const std::pair<T, std::int32_t>& p) { return p.second; }
inline double key_of(std::uint64_t p) { return static_cast<double>(p >> 32); }
inline std::int32_t row_of(std::uint64_t p) { return static_cast<std::int32_t>(p & 0xFFFFFFFFu); }

// The occupied bins of a histogram, visited in ascending order by their bits.
struct BinSet {
  std::uint64_t words[kBins / 64] = {};
  bool contains(int b) const { return (words[b >> 6] >> (b & 63)) & 1; }
  void insert(int b) { words[b >> 6] |= std::uint64_t{1} << (b & 63); }
  void erase(int b) { words[b >> 6] &= ~(std::uint64_t{1} << (b & 63)); }
  int first() const {
    for (int w = 0; w < kBins / 64; ++w)
      if (words[w]) return 64 * w + __builtin_ctzll(words[w]);
    return -1;
  }
  int last() const {
    for (int w = kBins / 64 - 1; w >= 0; --w)
      if (words[w]) return 64 * w + 63 - __builtin_clzll(words[w]);
    return -1;
  }
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (int w = 0; w < kBins / 64; ++w)
      for (std::uint64_t bits = words[w]; bits; bits &= bits - 1)
        visit(64 * w + __builtin_ctzll(bits));
  }
};

}  // namespace
}  // namespace fastml::cart::detail
