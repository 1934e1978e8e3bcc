// Tree assembly after growth: deferred subtrees linked into their tree, and the nodes renumbered
// in scikit-learn's preorder.
#pragma once

#include <cstdint>

#include "fastml/cart.hpp"

namespace fastml::cart::detail {

// Appends sub's nodes (and surrogates) to tree, sub's root the given child of parent.
void append_subtree(Tree& tree, const Tree& sub, std::int64_t parent, bool is_left);

// The tree with its nodes renumbered in depth-first preorder (scikit-learn's numbering).
Tree preorder(const Tree& t);

}  // namespace fastml::cart::detail
