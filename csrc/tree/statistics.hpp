// The criterion statistics of rows: the layout of a statistics block (see criterion.hpp) for a
// dataset, and the per-row terms that sum into blocks. Histograms, partitions and searches all
// add rows through RowStatistics::add, so a block means the same wherever it was summed.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "criterion.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// The rows ahead at which the histogram fill and the partition prefetch a row's codes and
// statistics: a node's rows are scattered over X, so each row's are cache misses the loops
// otherwise wait on.
constexpr index_t kRowPrefetchAhead = 16;

// Two doubles, one SSE2 register (the baseline of x86-64), and its lanes' bits: a block of one
// output's 4 channels is two, its adds and subtractions two vector operations (each lane the
// scalar operation, the same doubles to the bit).
typedef double Pair __attribute__((vector_size(16)));
typedef std::int64_t PairBits __attribute__((vector_size(16)));
inline Pair load_pair(const double* p) {
  Pair v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_pair(double* p, Pair v) { std::memcpy(p, &v, sizeof v); }
// v's lanes where keep's bits are all ones, +0.0 where they are zero
inline Pair masked(Pair v, PairBits keep) { return (Pair)((PairBits)v & keep); }

// A block of one output's 4 channels, (1, w, w y, w q), as two pairs: the partition's sums of a
// side in registers.
struct PairBlock {
  Pair low{}, high{};
  // adds the block at b where keep's bits are all ones, +0.0 elsewhere: a sum started at +0.0
  // is never -0.0, so adding +0.0 leaves it as it is, and the sums are the ones stats.add's
  // (the same terms in the same order), without a branch on the side
  void add(const double* b, PairBits keep) {
    low += masked(load_pair(b), keep);
    high += masked(load_pair(b + 2), keep);
  }
  void add_to(double* S) const {
    store_pair(S, load_pair(S) + low);
    store_pair(S + 2, load_pair(S + 2) + high);
  }
};

// The channels of a dataset's blocks. Not copyable: outputs points into class_start.
struct Channels {
  int n_out = 1;        // outputs
  int K = 0;            // class channels of all outputs (0: regression)
  int C = 0;            // channels of a block
  int max_classes = 0;  // classification: the most classes of an output
  std::vector<int> class_start;  // see Outputs
  Outputs outputs;

  template <class T>
  explicit Channels(const Dataset<T>& d) {
    n_out = static_cast<int>(d.n_outputs);
    class_start.assign(1, 0);
    for (int o = 0; o < n_out && d.n_classes; ++o) {
      class_start.push_back(class_start.back() + d.n_classes[o]);
      max_classes = std::max(max_classes, d.n_classes[o]);
    }
    K = class_start.back();
    outputs = Outputs{n_out, K, K > 0 ? class_start.data() : nullptr};
    C = K > 0 ? 2 + K : 2 + 2 * n_out;
  }
  Channels(const Channels&) = delete;
  Channels& operator=(const Channels&) = delete;
};

// Per row (and output, row-major) what it adds to a block: its weight, and its class's channel
// (less 2) or w*y and w*q.
struct RowStatistics {
  int n_out = 1, K = 0;
  std::vector<std::int32_t> cls;
  std::vector<double> w, wy, wq;
  // Classification of one output on whole weights (a bootstrap's draw counts, no fractional
  // sample weight): each row's block packed in one integer, fields of `bits` bits, its count
  // then its weight in its class's field (the weight channel is their sum). Whole numbers add
  // exactly in double as in integers, so packed sums unpack to the blocks the rows' doubles sum
  // to, to the bit, and a histogram adds one integer per row and feature instead of three
  // doubles. bits 0: not packed (fractional weights, regression, several outputs, or a field
  // too narrow for the rows' total).
  int bits = 0;
  std::vector<std::uint64_t> packed;
  // Regression on binned X: each row's whole block (1, w, w y..., w q...), C doubles side by
  // side, for the histogram fill: a bin adds the block as it is, one output's 4 channels as two
  // vector adds (the same terms in the same order: the same sums to the bit), and a row's
  // statistics are one line to fetch instead of three.
  std::vector<double> blocks;

  template <class T>
  // fills_histograms: whether histograms of binned X will be filled (not for absolute_error,
  // nor for the random splitter), which alone read blocks.
  void init(const Dataset<T>& d, const Channels& ch, Criterion criterion, const double* weight,
            bool fills_histograms) {
    n_out = ch.n_out;
    K = ch.K;
    w.assign(weight, weight + d.n_rows);
    const index_t n_values = d.n_rows * n_out;
    if (K > 0) {
      cls.resize(n_values);
      for (index_t i = 0; i < n_values; ++i)
        cls[i] = ch.class_start[i % n_out] + static_cast<std::int32_t>(d.y[i]);
    } else {
      wy.resize(n_values);
      wq.resize(n_values);
      for (index_t i = 0; i < n_values; ++i) {
        const double y = d.y[i], wr = w[i / n_out];
        wy[i] = wr * y;
        // w y y as (w y) y, scikit-learn's rounding of its sums of squares
        wq[i] = criterion == kPoisson ? wr * (y > 0 ? y * std::log(y) : 0.0) : wy[i] * y;
      }
      if (d.codes && fills_histograms) {
        blocks.resize(static_cast<std::size_t>(d.n_rows) * ch.C);
        for (index_t r = 0; r < d.n_rows; ++r) {
          double* block = blocks.data() + r * ch.C;
          block[0] = 1;
          block[1] = w[r];
          std::copy_n(wy.data() + r * n_out, n_out, block + 2);
          std::copy_n(wq.data() + r * n_out, n_out, block + 2 + n_out);
        }
      }
    }
    pack(d.n_rows);
  }

  // Sets packed and bits where the rows' blocks fit (see packed).
  void pack(index_t n_rows) {
    bits = 0;
    packed.clear();
    if (K == 0 || n_out != 1) return;
    const int b = 64 / (K + 1);
    double total = 0;
    for (index_t r = 0; r < n_rows; ++r) {
      if (!(w[r] >= 0 && w[r] == std::floor(w[r]))) return;
      total += w[r];
    }
    const double limit = std::ldexp(1.0, b);
    if (total >= limit || static_cast<double>(n_rows) >= limit) return;
    bits = b;
    packed.resize(n_rows);
    for (index_t r = 0; r < n_rows; ++r)
      packed[r] = 1 | static_cast<std::uint64_t>(w[r]) << (b * (1 + cls[r]));
  }

  // Adds the block a packed sum holds to S.
  FASTML_CART_INLINE void add_packed(double* S, std::uint64_t v) const {
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    double weight = 0;
    for (int k = 0; k < K; ++k) {
      const double wk = static_cast<double>(v >> (bits * (1 + k)) & mask);
      S[2 + k] += wk;
      weight += wk;
    }
    S[0] += static_cast<double>(v & mask);
    S[1] += weight;
  }

  // The block a packed sum holds, into S: add_packed's to a zero block, to the bit. kClasses is
  // K when known when compiling, else 0. Integer operations and subtractions alone (see
  // exact_double): a loop of unpacks is a vector loop.
  template <int kClasses = 0>
  FASTML_CART_INLINE void unpack(double* S, std::uint64_t v) const {
    const int n_classes = kClasses > 0 ? kClasses : K;
    const std::uint64_t mask = (std::uint64_t{1} << bits) - 1;
    double weight = 0;
    for (int k = 0; k < n_classes; ++k) {
      S[2 + k] = exact_double(v >> (bits * (1 + k)) & mask);
      weight += S[2 + k];
    }
    S[0] = exact_double(v & mask);
    S[1] = weight;
  }

  // unpack's inverse: the packed sum of a block of whole numbers (a node's totals where its
  // rows' blocks are packed), to the bit.
  FASTML_CART_INLINE std::uint64_t pack_block(const double* S) const {
    std::uint64_t v = static_cast<std::uint64_t>(S[0]);
    for (int k = 0; k < K; ++k) v |= static_cast<std::uint64_t>(S[2 + k]) << (bits * (1 + k));
    return v;
  }

  // x < 2^52 as a double, exactly: the double of bits 2^52 + x, less 2^52. SSE2 has no
  // conversion of 64-bit integers, so the compiler vectorises this where it cannot a cast.
  FASTML_CART_INLINE static double exact_double(std::uint64_t x) {
    const std::uint64_t biased = x | 0x4330000000000000ULL;  // 2^52's exponent
    double d;
    std::memcpy(&d, &biased, sizeof d);
    return d - 0x1p52;
  }

  FASTML_CART_INLINE void add(double* S, std::int32_t r) const {
    if (n_out == 1)
      add_of<1>(S, r);
    else
      add_of<0>(S, r);
  }

  // add's inverse: scikit-learn's criterion takes rows out of its sums one by one when that is
  // its shorter way to a position (see SklearnSums in sklearn_sums.hpp).
  FASTML_CART_INLINE void sub(double* S, std::int32_t r) const {
    if (n_out == 1)
      sub_of<1>(S, r);
    else
      sub_of<0>(S, r);
  }
  template <int kOutputs>
  FASTML_CART_INLINE void sub_of(double* S, std::int32_t r) const {
    const int n = kOutputs > 0 ? kOutputs : n_out;
    S[0] -= 1;
    S[1] -= w[r];
    const index_t at = static_cast<index_t>(r) * n;
    if (K > 0) {
      for (int o = 0; o < n; ++o) S[2 + cls[at + o]] -= w[r];
    } else {
      for (int o = 0; o < n; ++o) {
        S[2 + o] -= wy[at + o];
        S[2 + n + o] -= wq[at + o];
      }
    }
  }

  // add for kOutputs outputs, 0 meaning n_out (see fill_histogram_rows).
  template <int kOutputs>
  FASTML_CART_INLINE void add_of(double* S, std::int32_t r) const {
    const int n = kOutputs > 0 ? kOutputs : n_out;
    S[0] += 1;
    S[1] += w[r];
    const index_t at = static_cast<index_t>(r) * n;
    if (K > 0) {
      for (int o = 0; o < n; ++o) S[2 + cls[at + o]] += w[r];
    } else {
      for (int o = 0; o < n; ++o) {
        S[2 + o] += wy[at + o];
        S[2 + n + o] += wq[at + o];
      }
    }
  }
};

}  // namespace
}  // namespace fastml::cart::detail
