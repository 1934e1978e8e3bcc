// The prediction walk of boosted trees packed end to end (see PackedTrees).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/boost_leaf_masks.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {

PackedTrees::PackedTrees(index_t n_trees, const std::int64_t* offsets, const std::int64_t* output,
                         const std::uint8_t* is_leaf, const std::int64_t* feature,
                         const double* threshold, const std::uint8_t* bin,
                         const std::uint8_t* missing_left, const std::int64_t* left,
                         const std::int64_t* right, const double* value,
                         const std::uint8_t* is_categorical, const std::int64_t* bitset_idx,
                         const std::uint32_t* bitsets, index_t n_bitsets,
                         index_t bitset_words, const std::uint8_t* lockstep)
    : bitsets_(bitsets, bitsets + n_bitsets * bitset_words) {
  if (bitset_words < kBitsetWords || n_bitsets * bitset_words > (index_t{1} << 31) - 1)
    throw std::invalid_argument("bitsets must have at least 8 words and fewer than 2**31 in all");
  nodes_.reserve(static_cast<std::size_t>(offsets[n_trees]));
  for (index_t t = 0; t < n_trees; ++t) {
    const index_t first = offsets[t], n = offsets[t + 1] - first;
    if (n < 1) throw std::invalid_argument("a tree has no node");
    roots_.push_back(first);
    if (lockstep[t]) lockstep_trees_.push_back(t);
    output_.push_back(output[t]);
    for (index_t i = first; i < first + n; ++i) {
      const auto self = static_cast<std::int32_t>(i - first);
      PackedNode node{threshold[i], value[i], -1, {self, self}, missing_left[i], bin[i]};
      if (!is_leaf[i]) {
        // a child lies after its parent, so that every walk ends
        if (left[i] <= i - first || left[i] >= n || right[i] <= i - first || right[i] >= n)
          throw std::invalid_argument("a child index is out of its tree");
        node.feature = static_cast<std::int32_t>(feature[i]);
        node.child[0] = static_cast<std::int32_t>(left[i]);
        node.child[1] = static_cast<std::int32_t>(right[i]);
        if (is_categorical[i]) {
          if (bitset_idx[i] < 0 || bitset_idx[i] >= n_bitsets)
            throw std::invalid_argument("a bitset index is out of the bitsets");
          // the raw walks read the bit of any value below it (the leaf masks compare values
          // with it in float32: exact for an integer below 2**24)
          if (!(threshold[i] >= 0 && threshold[i] <= 32.0 * static_cast<double>(bitset_words) &&
                threshold[i] == std::floor(threshold[i]) && threshold[i] < 16777216.0))
            throw std::invalid_argument(
                "a categorical split's number of categories must be an integer that fits its "
                "bitset");
          node.bitset = static_cast<std::int32_t>(bitset_idx[i] * bitset_words);
        }
      }
      nodes_.push_back(node);
    }
  }
  masks_ = LeafMasks::build(nodes_, roots_, output_, bitsets_);
}

template <class Goes>
void PackedTrees::walk(index_t n_rows, double* raw, index_t n_outputs, int n_threads,
                       double work_per_row_ns, const Goes& goes_left) const {
  // Rows go through the trees in blocks of kBlock. A tree whose rows mostly end near its
  // deepest leaf (balanced splits) is walked in lockstep: the whole block one level per step
  // until a step moves no row (leaves are their own children), the child picked by index, so
  // that a level costs one load latency for the block instead of a mispredicted branch per
  // row. The other trees (skewed splits: rows mostly stop early, on well predicted branches)
  // are walked one row at a time, each row through all of them, where lockstep would make
  // every row wait for the block's deepest one. The leaves' values are added in tree order.
  constexpr index_t kBlock = 16, kLockstepRows = 4;
  // a small batch (one row) runs on the calling thread: no region to start
  const int threads = fastml_region_threads(work_per_row_ns * n_rows, n_threads);
  const PackedNode* nodes = nodes_.data();
  const index_t T = n_trees(), n_blocks = (n_rows + kBlock - 1) / kBlock;
  const index_t L = static_cast<index_t>(lockstep_trees_.size());
#pragma omp parallel for schedule(static) num_threads(threads) if (threads > 1)
  for (index_t b = 0; b < n_blocks; ++b) {
    const index_t first = b * kBlock, m = std::min(kBlock, n_rows - first);
    double* block_raw = raw + first * n_outputs;
    // a block of a few rows (a one-row call) gains nothing from lockstep: every tree row by row
    const index_t Lb = m >= kLockstepRows ? L : 0;
    // The trees up to the next lockstep tree one row at a time, each row through all of them,
    // then the lockstep tree over the whole block: each row's values go to raw in tree order.
    for (index_t j = 0, t = 0; j <= Lb; ++j) {
      const index_t stop = j < Lb ? lockstep_trees_[j] : T;
      for (index_t k = 0; k < m && t < stop; ++k) {
        for (index_t u = t; u < stop; ++u) {
          const PackedNode* tree = nodes + roots_[u];
          const PackedNode* node = tree;
          // a branch, not an index: on well predicted splits the next node's load starts
          // before the comparison is known
          while (node->feature >= 0)
            node = tree + (goes_left(first + k, node->feature, *node) ? node->child[0]
                                                                      : node->child[1]);
          block_raw[k * n_outputs + output_[u]] += node->value;
        }
      }
      t = stop;
      if (j == Lb) break;
      const PackedNode* tree = nodes + roots_[t];
      std::int32_t at[kBlock] = {};
      for (bool moved = true; moved;) {
        moved = false;
        for (index_t k = 0; k < m; ++k) {
          const PackedNode& node = tree[at[k]];
          const bool left = goes_left(first + k, std::max(node.feature, 0), node);
          const std::int32_t next = node.child[left ? 0 : 1];
          moved |= next != at[k];
          at[k] = next;
        }
      }
      for (index_t k = 0; k < m; ++k) block_raw[k * n_outputs + output_[t]] += tree[at[k]].value;
      ++t;
    }
  }
}

template <class T>
void PackedTrees::predict(const T* X, index_t n_rows, index_t n_features, double* raw,
                          index_t n_outputs, int n_threads, bool leaf_masks) const {
  // Blocks of rows through the leaf masks, from kMaskRows rows on: one row walks the trees
  // alone (a few hundred nodes against the masks' scan of a block through every split).
  constexpr index_t kMaskRows = 4;
  if (leaf_masks && masks_ && n_rows >= kMaskRows && masks_->n_features_used() <= n_features)
    return masks_->predict(X, n_rows, n_features, raw, n_outputs, n_threads);
  walk(n_rows, raw, n_outputs, n_threads, 10.0 * n_trees(),
       [X, n_features, bits = bitsets_.data()](index_t r, std::int32_t f, const PackedNode& node) {
         return raw_goes_left(X[r * n_features + f], node, bits);
       });
}

template <class T>
void PackedTrees::predict_csr(const T* data, const std::int64_t* indices,
                              const std::int64_t* indptr, index_t n_rows, index_t n_features,
                              double* raw, index_t n_outputs, int n_threads,
                              bool leaf_masks) const {
  // blocks of rows made dense in one buffer (about 64k values; allocated here, outside any
  // parallel region) and walked as dense rows: a split then reads its value directly instead
  // of searching the row's entries
  const index_t block = std::max<index_t>(1, (index_t{1} << 16) / std::max<index_t>(n_features, 1));
  std::vector<T> dense(static_cast<std::size_t>(std::min(block, n_rows) * n_features), T(0));
  for (index_t first = 0; first < n_rows; first += block) {
    const index_t rows = std::min(block, n_rows - first);
    for (index_t r = 0; r < rows; ++r)
      for (std::int64_t k = indptr[first + r]; k < indptr[first + r + 1]; ++k)
        dense[r * n_features + indices[k]] = data[k];
    predict(dense.data(), rows, n_features, raw + first * n_outputs, n_outputs, n_threads,
            leaf_masks);
    for (index_t r = 0; r < rows; ++r)  // zeros again for the next block
      for (std::int64_t k = indptr[first + r]; k < indptr[first + r + 1]; ++k)
        dense[r * n_features + indices[k]] = T(0);
  }
}

template <class Code>
void PackedTrees::predict_binned(const Code* codes, index_t n_rows, index_t n_features,
                                 double* raw, index_t n_outputs, int n_threads) const {
  walk(n_rows, raw, n_outputs, n_threads, 10.0 * n_trees(),
       [codes, n_features, bits = bitsets_.data()](index_t r, std::int32_t f,
                                                   const PackedNode& node) {
         const unsigned c = codes[r * n_features + f];
         if constexpr (sizeof(Code) > 1) {
           // a wide feature's missing code is its number of categories (the split's
           // threshold), and its category 255 is no missing value
           if (node.bitset >= 0)
             return c < node.threshold ? in_bitset(bits + node.bitset, c)
                                       : node.missing_left != 0;
         }
         if (c == kMissingBin) return node.missing_left != 0;
         if (node.bitset >= 0) return in_bitset(bits + node.bitset, c);
         return c <= node.bin;
       });
}

template void PackedTrees::predict_binned<std::uint8_t>(const std::uint8_t*, index_t, index_t,
                                                      double*, index_t, int) const;
template void PackedTrees::predict_binned<std::uint16_t>(const std::uint16_t*, index_t, index_t,
                                                       double*, index_t, int) const;
template void PackedTrees::predict<float>(const float*, index_t, index_t, double*, index_t, int,
                                          bool) const;
template void PackedTrees::predict<double>(const double*, index_t, index_t, double*, index_t,
                                           int, bool) const;
template void PackedTrees::predict_csr<float>(const float*, const std::int64_t*,
                                              const std::int64_t*, index_t, index_t, double*,
                                              index_t, int, bool) const;
template void PackedTrees::predict_csr<double>(const double*, const std::int64_t*,
                                               const std::int64_t*, index_t, index_t, double*,
                                               index_t, int, bool) const;

}  // namespace fastml::boost
