// The leaf bitmasks of boosted trees (fastml/boost_leaf_masks.hpp): built from the packed trees,
// and the bulk prediction's driver (blocks of rows over the threads, kernels per instruction
// set in leaf_masks_isa.cpp).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastml/boost_leaf_masks.hpp"
#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {
namespace {

const IsaChoice<LeafMaskTable>& selected() {
  static const IsaChoice<LeafMaskTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

constexpr int kMaxLeaves = 32;  // the bits of a tree's state

struct Split {
  std::int32_t feature;
  double threshold;
  std::uint32_t tree, mask;
  bool missing_right;
};

// The greatest float not above t: for a float x, x <= t exactly when x <= the result (t = +inf
// and values above the greatest float give +inf and the greatest float).
float round_down(double t) {
  float f = static_cast<float>(t);
  if (static_cast<double>(f) > t) f = std::nextafter(f, -INFINITY);
  return f;
}

// Numbers the leaves under node i of tree t left to right from *n_leaves on (their values
// appended to leaf_value), and records each split with the mask that clears its left
// subtree's leaves. Returns the leaves' range [first, end) under i.
std::pair<int, int> number_leaves(const PackedNode* tree, std::int32_t i, std::uint32_t t,
                                  int* n_leaves, std::vector<double>& leaf_value,
                                  std::vector<Split>& splits,
                                  std::vector<std::pair<PackedNode, std::uint32_t>>& categorical,
                                  std::vector<std::uint32_t>& categorical_mask) {
  const PackedNode& node = tree[i];
  if (node.feature < 0) {
    leaf_value.push_back(node.value);
    const int k = (*n_leaves)++;
    return {k, k + 1};
  }
  const auto left = number_leaves(tree, node.child[0], t, n_leaves, leaf_value, splits,
                                  categorical, categorical_mask);
  const auto right = number_leaves(tree, node.child[1], t, n_leaves, leaf_value, splits,
                                   categorical, categorical_mask);
  // the left subtree has at most 31 leaves: the right one has one at least
  const std::uint32_t mask = ~(((1u << (left.second - left.first)) - 1u) << left.first);
  if (node.bitset >= 0) {
    categorical.push_back({node, t});
    categorical_mask.push_back(mask);
  } else {
    splits.push_back({node.feature, node.threshold, t, mask, node.missing_left == 0});
  }
  return {left.first, right.second};
}

// Offsets of each feature's entries in a list sorted by feature: begin[f] .. begin[f + 1].
template <class Feature>
std::vector<index_t> feature_offsets(index_t n_features, index_t n, const Feature& feature_of) {
  std::vector<index_t> begin(static_cast<std::size_t>(n_features + 1), 0);
  for (index_t i = 0; i < n; ++i) ++begin[feature_of(i) + 1];
  for (index_t f = 0; f < n_features; ++f) begin[f + 1] += begin[f];
  return begin;
}

}  // namespace

std::shared_ptr<const LeafMasks> LeafMasks::build(const std::vector<PackedNode>& nodes,
                                                  const std::vector<std::int64_t>& roots,
                                                  const std::vector<std::int64_t>& output,
                                                  const std::vector<std::uint32_t>& bitsets) {
  const index_t T = static_cast<index_t>(roots.size());
  for (index_t t = 0; t < T; ++t) {
    const index_t end = t + 1 < T ? roots[t + 1] : static_cast<index_t>(nodes.size());
    index_t leaves = 0;
    for (index_t i = roots[t]; i < end; ++i) leaves += nodes[i].feature < 0;
    if (leaves > kMaxLeaves) return nullptr;
  }
  auto masks = std::make_shared<LeafMasks>();
  masks->n_trees_ = T;
  masks->output_ = output;
  masks->bitsets_ = bitsets;
  std::vector<Split> splits;
  std::vector<std::pair<PackedNode, std::uint32_t>> categorical;
  std::vector<std::uint32_t> categorical_mask;
  for (index_t t = 0; t < T; ++t) {
    masks->leaf_begin_.push_back(static_cast<index_t>(masks->leaf_value_.size()));
    int n_leaves = 0;
    number_leaves(nodes.data() + roots[t], 0, static_cast<std::uint32_t>(t), &n_leaves,
                  masks->leaf_value_, splits, categorical, categorical_mask);
  }
  index_t F = 0;
  for (const Split& s : splits) F = std::max<index_t>(F, s.feature + 1);
  for (const auto& c : categorical) F = std::max<index_t>(F, c.first.feature + 1);
  masks->n_features_ = F;
  // the categorical splits by feature (and number of categories): the kernel reads a block's
  // categories of a feature once for all its splits (the order of the splits that clear leaves
  // does not change the states)
  std::vector<std::size_t> by_feature(categorical.size());
  for (std::size_t i = 0; i < by_feature.size(); ++i) by_feature[i] = i;
  std::stable_sort(by_feature.begin(), by_feature.end(), [&](std::size_t a, std::size_t b) {
    const PackedNode &x = categorical[a].first, &y = categorical[b].first;
    return x.feature != y.feature ? x.feature < y.feature : x.threshold < y.threshold;
  });
  for (const std::size_t i : by_feature) {
    masks->cat_node_.push_back(categorical[i].first);
    masks->cat_tree_.push_back(categorical[i].second);
    masks->cat_mask_.push_back(categorical_mask[i]);
  }
  std::stable_sort(splits.begin(), splits.end(), [](const Split& a, const Split& b) {
    return a.feature != b.feature ? a.feature < b.feature : a.threshold < b.threshold;
  });
  const index_t S = static_cast<index_t>(splits.size());
  masks->split_begin_ = feature_offsets(F, S, [&](index_t i) { return splits[i].feature; });
  for (const Split& s : splits) {
    masks->threshold_.push_back(s.threshold);
    masks->threshold32_.push_back(round_down(s.threshold));
    masks->tree_.push_back(s.tree);
    masks->mask_.push_back(s.mask);
  }
  std::vector<Split> nan_right;
  for (const Split& s : splits)
    if (s.missing_right) nan_right.push_back(s);
  masks->nan_begin_ = feature_offsets(F, static_cast<index_t>(nan_right.size()),
                                      [&](index_t i) { return nan_right[i].feature; });
  for (const Split& s : nan_right) {
    masks->nan_tree_.push_back(s.tree);
    masks->nan_mask_.push_back(s.mask);
  }
  return masks;
}

LeafMaskView LeafMasks::view() const {
  return {n_trees_,          n_features_,       split_begin_.data(), threshold_.data(),
          threshold32_.data(), tree_.data(),    mask_.data(),        nan_begin_.data(),
          nan_tree_.data(),  nan_mask_.data(),  static_cast<index_t>(cat_node_.size()),
          cat_node_.data(),  cat_tree_.data(),  cat_mask_.data(),    bitsets_.data(),
          leaf_begin_.data(), leaf_value_.data(), output_.data()};
}

template <class T>
void LeafMasks::predict(const T* X, index_t n_rows, index_t n_features, double* raw,
                        index_t n_outputs, int n_threads) const {
  const LeafMaskKernel<T> kernel = kernels_for<T>(selected().table);
  const LeafMaskView model = view();
  const index_t n_blocks = (n_rows + kMaskLanes - 1) / kMaskLanes;
  // a row's rough nanoseconds on one thread: a sixteenth of a vector operation per split, and
  // a leaf's value per tree
  const double row_ns = 0.1 * static_cast<double>(threshold_.size()) + 1.0 * n_trees_;
  const int threads = fastml_region_threads(row_ns * n_rows, n_threads);
  // each thread's buffers, allocated here: nothing in the region throws
  const index_t F = std::max<index_t>(n_features_, 1), L = kMaskLanes;
  std::vector<std::uint32_t> state(static_cast<std::size_t>(threads * n_trees_ * L));
  std::vector<T> values(static_cast<std::size_t>(threads * F * L)),
      largest(static_cast<std::size_t>(threads * F));
  std::vector<std::uint8_t> has_nan(static_cast<std::size_t>(threads * F));
  std::vector<double> sums(static_cast<std::size_t>(threads * n_outputs * L));
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    const int id = omp_get_thread_num();
    const LeafMaskScratch scratch{state.data() + id * n_trees_ * L, values.data() + id * F * L,
                                  largest.data() + id * F, has_nan.data() + id * F,
                                  sums.data() + id * n_outputs * L};
#pragma omp for schedule(static)
    for (index_t b = 0; b < n_blocks; ++b) {
      const index_t first = b * L;
      kernel(model, X + first * n_features, std::min(L, n_rows - first), n_features,
             raw + first * n_outputs, n_outputs, scratch);
    }
  }
}

template void LeafMasks::predict<float>(const float*, index_t, index_t, double*, index_t,
                                        int) const;
template void LeafMasks::predict<double>(const double*, index_t, index_t, double*, index_t,
                                         int) const;

}  // namespace fastml::boost
