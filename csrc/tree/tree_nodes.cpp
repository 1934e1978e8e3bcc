// Tree assembly after growth (see tree_nodes.hpp).
#include "tree_nodes.hpp"

#include <utility>
#include <vector>

namespace fastml::cart::detail {

void append_subtree(Tree& tree, const Tree& sub, std::int64_t parent, bool is_left) {
  const auto base = static_cast<std::int64_t>(tree.n_nodes());
  const auto base_surrogate = static_cast<std::int64_t>(tree.surrogate_feature.size());
  auto extend = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
  for (auto [to, from] : {std::pair{&tree.children_left, &sub.children_left},
                          std::pair{&tree.children_right, &sub.children_right}})
    for (std::int64_t child : *from) to->push_back(child < 0 ? child : child + base);
  extend(tree.feature, sub.feature);
  extend(tree.n_node_samples, sub.n_node_samples);
  extend(tree.threshold, sub.threshold);
  extend(tree.impurity, sub.impurity);
  extend(tree.weighted_n_node_samples, sub.weighted_n_node_samples);
  extend(tree.value, sub.value);
  extend(tree.missing_go_to_left, sub.missing_go_to_left);
  for (std::size_t i = 1; i < sub.surrogate_ptr.size(); ++i)
    tree.surrogate_ptr.push_back(base_surrogate + sub.surrogate_ptr[i]);
  extend(tree.surrogate_feature, sub.surrogate_feature);
  extend(tree.surrogate_threshold, sub.surrogate_threshold);
  extend(tree.surrogate_reversed, sub.surrogate_reversed);
  (is_left ? tree.children_left : tree.children_right)[parent] = base;
}

Tree preorder(const Tree& t) {
  const index_t n = t.n_nodes();
  std::vector<std::int64_t> order, stack{0};
  order.reserve(n);
  while (!stack.empty()) {
    const std::int64_t node = stack.back();
    stack.pop_back();
    order.push_back(node);
    if (t.children_left[node] >= 0) {
      stack.push_back(t.children_right[node]);
      stack.push_back(t.children_left[node]);
    }
  }
  std::vector<std::int64_t> new_id(n);
  for (index_t i = 0; i < n; ++i) new_id[order[i]] = i;
  Tree out;
  const index_t V = static_cast<index_t>(t.value.size()) / n;
  out.surrogate_ptr.assign(1, 0);
  for (std::int64_t node : order) {
    for (auto [to, from] : {std::pair{&out.children_left, &t.children_left},
                            std::pair{&out.children_right, &t.children_right}})
      to->push_back((*from)[node] < 0 ? (*from)[node] : new_id[(*from)[node]]);
    out.feature.push_back(t.feature[node]);
    out.n_node_samples.push_back(t.n_node_samples[node]);
    out.threshold.push_back(t.threshold[node]);
    out.impurity.push_back(t.impurity[node]);
    out.weighted_n_node_samples.push_back(t.weighted_n_node_samples[node]);
    out.value.insert(out.value.end(), t.value.begin() + node * V,
                     t.value.begin() + (node + 1) * V);
    out.missing_go_to_left.push_back(t.missing_go_to_left[node]);
    for (std::int64_t k = t.surrogate_ptr[node]; k < t.surrogate_ptr[node + 1]; ++k) {
      out.surrogate_feature.push_back(t.surrogate_feature[k]);
      out.surrogate_threshold.push_back(t.surrogate_threshold[k]);
      out.surrogate_reversed.push_back(t.surrogate_reversed[k]);
    }
    out.surrogate_ptr.push_back(static_cast<std::int64_t>(out.surrogate_feature.size()));
  }
  return out;
}

}  // namespace fastml::cart::detail
