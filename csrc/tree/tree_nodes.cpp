// Tree assembly after growth (see tree_nodes.hpp).
#include "tree_nodes.hpp"

#include <cstddef>
#include <utility>
#include <vector>

namespace fastml::cart::detail {

namespace {

// Appends from's nodes [first, last) (and their surrogates) to tree, their children's ids
// shifted by `shift` (leaves keep -1).
void append_nodes(Tree& tree, const Tree& from, index_t first, index_t last, std::int64_t shift) {
  // in's entries [begin, end) appended to `to`
  const auto extend = [](auto& to, const auto& in, std::size_t begin, std::size_t end) {
    to.insert(to.end(), in.begin() + begin, in.begin() + end);
  };
  for (auto [to, in] : {std::pair{&tree.children_left, &from.children_left},
                        std::pair{&tree.children_right, &from.children_right}})
    for (index_t i = first; i < last; ++i)
      to->push_back((*in)[i] < 0 ? (*in)[i] : (*in)[i] + shift);
  extend(tree.feature, from.feature, first, last);
  extend(tree.n_node_samples, from.n_node_samples, first, last);
  extend(tree.threshold, from.threshold, first, last);
  extend(tree.impurity, from.impurity, first, last);
  extend(tree.weighted_n_node_samples, from.weighted_n_node_samples, first, last);
  const std::size_t V = from.value.size() / from.n_nodes();
  extend(tree.value, from.value, first * V, last * V);
  extend(tree.missing_go_to_left, from.missing_go_to_left, first, last);
  const std::int64_t s_first = from.surrogate_ptr[first], s_last = from.surrogate_ptr[last];
  const auto s_shift = static_cast<std::int64_t>(tree.surrogate_feature.size()) - s_first;
  for (index_t i = first; i < last; ++i)
    tree.surrogate_ptr.push_back(from.surrogate_ptr[i + 1] + s_shift);
  extend(tree.surrogate_feature, from.surrogate_feature, s_first, s_last);
  extend(tree.surrogate_threshold, from.surrogate_threshold, s_first, s_last);
  extend(tree.surrogate_reversed, from.surrogate_reversed, s_first, s_last);
}

}  // namespace

// top's nodes walked in preorder, each subtree copied whole (its ids shifted) where its place
// in the walk comes: one copy of each node into arrays sized once, where appending the
// subtrees and renumbering the result copied every node twice into growing arrays.
Tree link_subtrees(const Tree& top, const std::vector<Tree>& subtrees,
                   const std::vector<SubtreeLink>& links) {
  const index_t n_top = top.n_nodes();
  std::size_t n = n_top, n_surrogates = top.surrogate_feature.size();
  for (const Tree& sub : subtrees) {
    n += sub.n_nodes();
    n_surrogates += sub.surrogate_feature.size();
  }
  Tree out;
  out.children_left.reserve(n);
  out.children_right.reserve(n);
  out.feature.reserve(n);
  out.n_node_samples.reserve(n);
  out.threshold.reserve(n);
  out.impurity.reserve(n);
  out.weighted_n_node_samples.reserve(n);
  out.value.reserve(n * (top.value.size() / n_top));
  out.missing_go_to_left.reserve(n);
  out.surrogate_ptr.reserve(n + 1);
  out.surrogate_ptr.assign(1, 0);
  out.surrogate_feature.reserve(n_surrogates);
  out.surrogate_threshold.reserve(n_surrogates);
  out.surrogate_reversed.reserve(n_surrogates);
  // each child of top's nodes that is a subtree's root: its subtree's index, else -1
  std::vector<std::int64_t> subtree_of(2 * static_cast<std::size_t>(n_top), -1);
  for (std::size_t i = 0; i < links.size(); ++i)
    subtree_of[2 * links[i].parent + (links[i].is_left ? 0 : 1)] = static_cast<std::int64_t>(i);
  // a node of top (or a subtree, whole) to place, and its parent's id in out
  struct Place {
    std::int64_t node;
    bool subtree;
    std::int64_t parent;
    bool is_left;
  };
  std::vector<Place> stack{{0, false, -1, false}};
  while (!stack.empty()) {
    const Place p = stack.back();
    stack.pop_back();
    const auto id = static_cast<std::int64_t>(out.n_nodes());
    if (p.parent >= 0) (p.is_left ? out.children_left : out.children_right)[p.parent] = id;
    if (p.subtree) {
      const Tree& sub = subtrees[p.node];
      append_nodes(out, sub, 0, sub.n_nodes(), id);
      continue;
    }
    // an inner node's children ids are top's until its children are placed
    append_nodes(out, top, p.node, p.node + 1, 0);
    if (top.feature[p.node] < 0) continue;  // a leaf
    for (const bool is_left : {false, true}) {  // the left child popped first
      const std::int64_t sub = subtree_of[2 * p.node + (is_left ? 0 : 1)];
      const std::int64_t child = is_left ? top.children_left[p.node] : top.children_right[p.node];
      stack.push_back(sub >= 0 ? Place{sub, true, id, is_left} : Place{child, false, id, is_left});
    }
  }
  return out;
}

}  // namespace fastml::cart::detail
