// The leaf-bitmask walk of a block of rows (see fastml/boost_leaf_masks.hpp), compiled once per
// instruction set (CMake defines FASTML_ISA and the -march). As in the other *_isa.cpp files,
// everything but kernel_table() has internal linkage and no standard library template is used,
// so no function built for a wider instruction set can be linked into another build. The lane
// lanes of a block are GCC vectors: one operation per split for the whole block.
#include <cstdint>
#include <cstring>
#if defined(__AVX2__)
#include <immintrin.h>  // the gathers of categorical_fails
#endif

#include "fastml/boost_leaf_masks.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::boost::FASTML_ISA {
namespace {

constexpr int kLanes = kMaskLanes;

// The thresholds a value of type T is compared with.
inline const float* thresholds(const LeafMaskView& model, const float*) {
  return model.threshold32;
}
inline const double* thresholds(const LeafMaskView& model, const double*) {
  return model.threshold;
}

// A block's lanes as GCC vectors (one AVX-512 register for 16 floats or masks; the narrower
// builds split them). Loops over the lanes were left scalar by the compiler.
typedef std::uint32_t U16 __attribute__((vector_size(64)));
typedef std::uint32_t U8 __attribute__((vector_size(32)));
typedef std::int32_t I8 __attribute__((vector_size(32)));
typedef std::int64_t L8 __attribute__((vector_size(64)));
typedef float F16 __attribute__((vector_size(64)));
typedef double D8 __attribute__((vector_size(64)));

template <class V>
inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// s in every lane: s - 0 is s for any float (s + 0 is not, for -0, so it would be computed), and
// folds to one broadcast; a loop over the lanes did not.
template <class V, class S>
inline V splat(S s) {
  return s - V{};
}

// The block's values of a feature, compared as a whole with a split's threshold.
struct Lanes32 {
  F16 x;
  explicit Lanes32(const float* p) : x(load<F16>(p)) {}
  // all ones in the lanes whose value lies above t (NaN does not), zeros elsewhere
  U16 above(float t) const { return (U16)(x > splat<F16>(t)); }
};
struct Lanes64 {
  D8 low, high;
  explicit Lanes64(const double* p) : low(load<D8>(p)), high(load<D8>(p + 8)) {}
  U16 above(double t) const {
    const D8 v = splat<D8>(t);
    return (U16)__builtin_shufflevector(__builtin_convertvector(low > v, I8),
                                        __builtin_convertvector(high > v, I8), 0, 1, 2, 3, 4,
                                        5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  }
};
inline Lanes32 lanes(const float* p) { return Lanes32(p); }
inline Lanes64 lanes(const double* p) { return Lanes64(p); }

inline U16 is_nan(const float* x) { return (U16)(load<F16>(x) != load<F16>(x)); }
inline U16 is_nan(const double* x) {
  const I8 low = __builtin_convertvector(load<D8>(x) != load<D8>(x), I8);
  const I8 high = __builtin_convertvector(load<D8>(x + 8) != load<D8>(x + 8), I8);
  return (U16)__builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                      14, 15);
}

// state &= mask in the lanes where fails is set.
inline void clear_where(std::uint32_t* state, std::uint32_t mask, U16 fails) {
  const U16 s = load<U16>(state);
  const U16 cleared = fails ? s & splat<U16>(mask) : s;
  std::memcpy(state, &cleared, sizeof(U16));
}

// The words[index] of each lane.
inline U16 gather(const std::uint32_t* words, U16 index) {
#if defined(__AVX512F__)
  return (U16)_mm512_i32gather_epi32((__m512i)index, words, 4);
#elif defined(__AVX2__)
  const auto* base = reinterpret_cast<const int*>(words);
  const U8 low = (U8)_mm256_i32gather_epi32(
      base, (__m256i)__builtin_shufflevector(index, index, 0, 1, 2, 3, 4, 5, 6, 7), 4);
  const U8 high = (U8)_mm256_i32gather_epi32(
      base, (__m256i)__builtin_shufflevector(index, index, 8, 9, 10, 11, 12, 13, 14, 15), 4);
  return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                 15);
#else
  U16 out;
  for (int l = 0; l < kLanes; ++l) out[l] = words[index[l]];
  return out;
#endif
}

// The words[index] of each lane for an index below 8 (a bitset's first kBitsetWords words, which
// every bitset has): the eight words held in a register and picked by a permutation, one
// instruction where a gather loads each lane from memory. Measured on a 200k-row prediction of
// the categorical bench row's 100 trees (1162 of their 3000 splits categorical, one thread,
// medians of 5): see categorical_fails.
inline U16 pick_of_eight(const std::uint32_t* words, U16 index) {
#if defined(__AVX512F__)
  const __m512i eight = _mm512_zextsi256_si512(
      _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words)));
  return (U16)_mm512_permutexvar_epi32((__m512i)index, eight);
#elif defined(__AVX2__)
  const __m256i eight = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(words));
  const U8 low = (U8)_mm256_permutevar8x32_epi32(
      eight, (__m256i)__builtin_shufflevector(index, index, 0, 1, 2, 3, 4, 5, 6, 7));
  const U8 high = (U8)_mm256_permutevar8x32_epi32(
      eight, (__m256i)__builtin_shufflevector(index, index, 8, 9, 10, 11, 12, 13, 14, 15));
  return __builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
                                 15);
#else
  return gather(words, index);
#endif
}

// A block's values of a categorical feature as categories: all ones in the lanes of a known
// category (0 <= value < n_known; NaN is not), and each such lane's category (0 elsewhere).
struct Categories {
  U16 known, code;
};
inline Categories categories(const float* x, float n_known) {
  const F16 v = load<F16>(x);
  const U16 known = (U16)((v >= splat<F16>(0.0f)) & (v < splat<F16>(n_known)));
  return {known, __builtin_convertvector(known ? v : F16{}, U16)};
}
inline Categories categories(const double* x, double n_known) {
  const auto half = [n_known](const double* p, U8& code) {
    const D8 v = load<D8>(p);
    const L8 known = (v >= splat<D8>(0.0)) & (v < splat<D8>(n_known));
    code = __builtin_convertvector(known ? v : D8{}, U8);
    return __builtin_convertvector(known, I8);
  };
  U8 low_code, high_code;
  const I8 low = half(x, low_code), high = half(x + 8, high_code);
  return {(U16)__builtin_shufflevector(low, high, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13,
                                       14, 15),
          __builtin_shufflevector(low_code, high_code, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
                                  13, 14, 15)};
}

// All ones in the lanes that a categorical split sends right, as raw_goes_left decides: a known
// category (0 .. threshold - 1) by its bit, NaN and any other value the missing values' way;
// c: the block's categories of the split's feature (below its number of categories).
// As vector operations and a pick of the bitset's words: raw_goes_left lane by lane (branches
// on each value and a scalar load per lane) made a 200k-row prediction of 100 trees, half of
// whose splits are categorical, take 0.58 s of one thread, against 0.15 s for numerical ones.
inline U16 categorical_fails(const Categories& c, const PackedNode& node,
                             const std::uint32_t* bits) {
  // a feature of at most 256 known categories reads only its bitset's first 8 words (a lane
  // of another value has code 0)
  const U16 words = node.threshold <= 32.0 * kBitsetWords
                        ? pick_of_eight(bits + node.bitset, c.code >> 5)
                        : gather(bits + node.bitset, c.code >> 5);
  const U16 bit = (words >> (c.code & 31u)) & 1u;
  return c.known ? bit - 1u : splat<U16>(node.missing_left ? 0u : ~0u);
}

template <class T>
void block(const LeafMaskView& model, const T* X, index_t n_rows, index_t n_features,
           double* raw, index_t n_outputs, const LeafMaskScratch& scratch) noexcept {
  const index_t F = model.n_features, n_trees = model.n_trees;
  T* values = static_cast<T*>(scratch.values);
  T* largest = static_cast<T*>(scratch.largest);
  std::uint32_t* state = scratch.state;
  // The block transposed, feature by feature. Lanes past n_rows hold -inf, which fails no
  // split, and the largest value leaves NaN out (it fails no comparison either).
  for (index_t f = 0; f < F; ++f) {
    largest[f] = -__builtin_inf();
    scratch.has_nan[f] = 0;
  }
  for (index_t l = 0; l < n_rows; ++l) {
    const T* row = X + l * n_features;
    for (index_t f = 0; f < F; ++f) {
      const T v = row[f];
      values[f * kLanes + l] = v;
      largest[f] = v > largest[f] ? v : largest[f];
      scratch.has_nan[f] |= v != v;
    }
  }
  for (index_t l = n_rows; l < kLanes; ++l)
    for (index_t f = 0; f < F; ++f) values[f * kLanes + l] = -__builtin_inf();
  for (index_t i = 0; i < n_trees * kLanes; ++i) state[i] = ~0u;

  const T* threshold = thresholds(model, X);
  const std::uint32_t *tree = model.tree, *mask = model.mask;
  for (index_t f = 0; f < F; ++f) {
    const T* x = values + f * kLanes;
    // a row fails the splits whose threshold lies below its value: the sorted list's prefix
    // below the block's largest value holds every split that some row fails
    const T top = largest[f];
    const auto block_values = lanes(x);
    for (index_t i = model.split_begin[f], end = model.split_begin[f + 1];
         i < end && threshold[i] < top; ++i) {
      clear_where(state + tree[i] * kLanes, mask[i], block_values.above(threshold[i]));
    }
    if (!scratch.has_nan[f]) continue;
    const U16 nan = is_nan(x);
    for (index_t i = model.nan_begin[f]; i < model.nan_begin[f + 1]; ++i)
      clear_where(state + model.nan_tree[i] * kLanes, model.nan_mask[i], nan);
  }
  // the categorical splits come by feature and number of categories: the block's categories
  // are read again only where either changes
  Categories categories_of_block{};
  for (index_t c = 0; c < model.n_categorical; ++c) {
    const PackedNode& node = model.cat_node[c];
    if (c == 0 || node.feature != model.cat_node[c - 1].feature ||
        node.threshold != model.cat_node[c - 1].threshold) {
      // the number of categories is an integer below 2**24 (PackedTrees checks it), exact in
      // T: comparing in T is raw_goes_left's comparison in double
      categories_of_block = categories(values + node.feature * kLanes,
                                       static_cast<T>(node.threshold));
    }
    clear_where(state + model.cat_tree[c] * kLanes, model.cat_mask[c],
                categorical_fails(categories_of_block, node, model.bitsets));
  }

  // Each row's leaf values added in tree order, as the walk and scikit-learn add them.
  double* sums = scratch.sums;
  for (index_t o = 0; o < n_outputs; ++o)
    for (int l = 0; l < kLanes; ++l) sums[o * kLanes + l] = l < n_rows ? raw[l * n_outputs + o] : 0.0;
  for (index_t t = 0; t < n_trees; ++t) {
    const double* leaves = model.leaf_value + model.leaf_begin[t];
    double* s = sums + model.output[t] * kLanes;
    const std::uint32_t* st = state + t * kLanes;
    for (int l = 0; l < kLanes; ++l) s[l] += leaves[__builtin_ctz(st[l])];
  }
  for (index_t l = 0; l < n_rows; ++l)
    for (index_t o = 0; o < n_outputs; ++o) raw[l * n_outputs + o] = sums[o * kLanes + l];
}

}  // namespace

LeafMaskTable kernel_table() { return {&block<float>, &block<double>}; }

}  // namespace fastml::boost::FASTML_ISA
