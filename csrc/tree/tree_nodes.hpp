// Tree assembly after growth: deferred subtrees linked into their tree, the nodes numbered in
// scikit-learn's preorder.
#pragma once

#include <cstdint>
#include <vector>

#include "fastml/cart.hpp"

namespace fastml::cart::detail {

// Where a deferred subtree hangs in its tree: its root is the left or right child of parent.
struct SubtreeLink {
  std::int64_t parent;
  bool is_left;
};

// The tree of top's nodes with subtrees[i] linked in at links[i], its nodes numbered in
// depth-first preorder (scikit-learn's numbering). top's nodes and each subtree's are numbered
// in preorder already (grown depth first, left child first).
Tree link_subtrees(const Tree& top, const std::vector<Tree>& subtrees,
                   const std::vector<SubtreeLink>& links);

}  // namespace fastml::cart::detail
