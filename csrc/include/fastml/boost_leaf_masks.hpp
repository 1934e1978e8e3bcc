// Boosted trees as leaf bitmasks (QuickScorer, Lucchese et al. 2015), for the bulk prediction
// of csrc/boost/predict.cpp: built by csrc/boost/leaf_masks.cpp from the packed trees, walked
// by csrc/boost/leaf_masks_isa.cpp (one build per instruction set).
//
// A tree of at most 32 leaves numbers them left to right; a row's state for the tree is a 32-bit
// mask of the leaves it may still reach, all set at first. A split whose test fails for the row
// (it goes right) clears the leaves of its left subtree, and once every failed split of the tree
// is applied the row's leaf is the lowest bit left (the leftmost leaf whose path the row keeps).
// The failed splits are found feature by feature without walking: a feature's splits are sorted
// by threshold, and a row fails exactly those below its value, a prefix of the list. Blocks of
// 16 rows go through the lists together, one vector operation per split, with no branch that
// depends on a row; the walk instead pays a load latency and often a mispredicted branch per
// level of every tree.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "fastml/boost.hpp"

namespace fastml::boost {

constexpr int kMaskLanes = 16;  // rows of a block

// The masks of a model, as plain arrays (the instruction-set builds take no std:: type).
struct LeafMaskView {
  index_t n_trees, n_features;  // features up to the greatest one split on
  // numerical splits, feature by feature, thresholds ascending: feature f's are
  // split_begin[f] .. split_begin[f + 1]
  const index_t* split_begin;
  const double* threshold;
  const float* threshold32;  // the greatest float not above threshold: for a float x,
                             // x <= threshold exactly when x <= threshold32
  const std::uint32_t* tree;  // the split's tree
  const std::uint32_t* mask;  // every leaf but those of the split's left subtree
  // the numerical splits that send missing values right, feature by feature (a NaN fails no
  // threshold comparison, so these are cleared apart)
  const index_t* nan_begin;
  const std::uint32_t* nan_tree;
  const std::uint32_t* nan_mask;
  // categorical splits, their packed nodes copied, by feature and number of categories
  // (threshold): a block's lanes tested against each one's bitset (categorical_fails in
  // leaf_masks_isa.cpp)
  index_t n_categorical;
  const PackedNode* cat_node;
  const std::uint32_t* cat_tree;
  const std::uint32_t* cat_mask;
  const std::uint32_t* bitsets;
  // the leaves' values left to right, tree after tree: tree t's from leaf_value + leaf_begin[t];
  // tree t adds to output column output[t]
  const index_t* leaf_begin;
  const double* leaf_value;
  const std::int64_t* output;
};

// A thread's buffers for one block (see mask_scratch_sizes in leaf_masks.cpp).
struct LeafMaskScratch {
  std::uint32_t* state;     // (n_trees, kMaskLanes)
  void* values;             // (n_features, kMaskLanes) of the input type: the block transposed
  void* largest;            // (n_features) of the input type: each feature's largest value
  std::uint8_t* has_nan;    // (n_features)
  double* sums;             // (n_outputs, kMaskLanes)
};

// raw (n_rows <= kMaskLanes, n_outputs) += every tree's leaf value, trees added in order.
template <class T>
using LeafMaskKernel = void (*)(const LeafMaskView& model, const T* X, index_t n_rows,
                                index_t n_features, double* raw, index_t n_outputs,
                                const LeafMaskScratch& scratch);

struct LeafMaskTable {
  LeafMaskKernel<float> f32;
  LeafMaskKernel<double> f64;
};

// The masks of a model, built from its packed trees (csrc/boost/leaf_masks.cpp).
class LeafMasks {
 public:
  // nullptr when a tree has more than 32 leaves. nodes: the trees end to end, tree t's from
  // roots[t], child ids local to the tree; bitsets: the categorical splits' (copied).
  static std::shared_ptr<const LeafMasks> build(const std::vector<PackedNode>& nodes,
                                                const std::vector<std::int64_t>& roots,
                                                const std::vector<std::int64_t>& output,
                                                const std::vector<std::uint32_t>& bitsets);
  // raw (n_rows, n_outputs) += every tree's leaf value, trees added in order; X has
  // n_features >= n_features_used() columns.
  template <class T>
  void predict(const T* X, index_t n_rows, index_t n_features, double* raw, index_t n_outputs,
               int n_threads) const;
  index_t n_features_used() const { return n_features_; }

 private:
  LeafMaskView view() const;
  index_t n_trees_ = 0, n_features_ = 0;
  std::vector<index_t> split_begin_, nan_begin_, leaf_begin_;
  std::vector<double> threshold_, leaf_value_;
  std::vector<float> threshold32_;
  std::vector<std::uint32_t> tree_, mask_, nan_tree_, nan_mask_, cat_tree_, cat_mask_;
  std::vector<PackedNode> cat_node_;
  std::vector<std::int64_t> output_;
  std::vector<std::uint32_t> bitsets_;
};

namespace baseline { LeafMaskTable kernel_table(); }
namespace x86_64_v3 { LeafMaskTable kernel_table(); }
namespace x86_64_v4 { LeafMaskTable kernel_table(); }

}  // namespace fastml::boost
