// Growth policies: the order in which nodes are split, apart from how a node is searched. A
// grower provides
//   Outcome evaluate(Task&)   add the task's node as a leaf and search its split (a split found
//                             is applied to the rows, and the children's tasks returned);
//   void commit(node)         make the node internal (its split as evaluate found it);
//   void defer(Task&&)        (depth first with deferral only) set a small task aside.
#pragma once

#include <cstdint>
#include <limits>
#include <queue>
#include <utility>
#include <vector>

#include "fastml/openmp_helpers.h"
#include "common.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// A node to grow: its rows (a range of the builder's rows), its place in the tree, the bounds
// monotonic constraints put on its value, its statistics, and its histogram.
struct Task {
  index_t begin = 0, end = 0, depth = 0;
  std::int64_t parent = -1;
  bool is_left = false;
  double lower = -kInf, upper = kInf;
  std::vector<double> totals;
  int hist = -1;  // histogram buffer, or -1
  index_t n_constant = 0;  // features known constant here (scikit-learn's draws, see NodeSearch)
  // classification: the impurity the parent's split gave the node (scikit-learn's
  // split.impurity_left/right, see Builder::sklearn_children), NaN at the root
  double impurity = std::numeric_limits<double>::quiet_NaN();
  // the squared error in scikit-learn's order (Builder::sklearn_order_): its sq_sum_total, the
  // sum of w y^2 over the node's rows and outputs in its order when the node starts
  double sq_total = 0;
  // every class channel but one per output is empty: scikit-learn's proxies all tie there (see
  // Builder::evaluate)
  bool pure = false;
};

// A node evaluated: a leaf, or its split's improvement and children.
struct Outcome {
  std::int64_t node;
  bool leaf = true;
  double improvement = 0;
  Task left, right;
};

// Depth first, left child first: node ids in preorder, as scikit-learn's. With defer, a task of
// fewer than kSubtreeRows rows (not the root) is set aside with its parent's link, to be grown
// as a subtree of its own (grow_subtrees). The rule depends on row counts alone, so the tree
// does not depend on the thread count.
template <class Grower>
void grow_depth_first(Grower& grower, Task root, bool defer) {
  std::vector<Task> stack;
  stack.push_back(std::move(root));
  while (!stack.empty()) {
    Task task = std::move(stack.back());
    stack.pop_back();
    if (defer && task.parent >= 0 && task.end - task.begin < kSubtreeRows) {
      grower.defer(std::move(task));
      continue;
    }
    Outcome out = grower.evaluate(task);
    if (out.leaf) continue;
    grower.commit(out.node);
    stack.push_back(std::move(out.right));  // the left child is popped first: preorder ids
    stack.push_back(std::move(out.left));
  }
}

// Grows the deferred tasks' subtrees, grow(seed, task) each, on n_threads threads, each from
// its own random stream, so that the trees do not depend on the thread count.
template <class Grow>
std::vector<Tree> grow_subtrees(const std::vector<Task>& deferred, std::uint64_t seed,
                                int n_threads, Grow&& grow) {
  std::vector<Tree> subtrees(deferred.size());
  FirstException error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads) \
    if (n_threads > 1 && deferred.size() > 1)
  for (std::size_t i = 0; i < deferred.size(); ++i) {
    error.run([&] {
      Random stream{seed ^ kSubtreeStream ^ (0x9E3779B97F4A7C15ULL * (i + 1))};
      Task task = deferred[i];
      task.parent = -1;  // the subtree's root is its node 0
      subtrees[i] = grow(stream.next(), std::move(task));
    });
  }
  error.rethrow();
  return subtrees;
}

// Best first (max_leaf_nodes): the evaluated node of largest improvement is split next, until
// the tree has max_leaf_nodes leaves. The frontier is scikit-learn's: a binary heap (the
// standard library's, as its BestFirstTreeBuilder) of every evaluated node, leaves with
// improvement 0, ordered by improvement alone, so that equal improvements leave it in the same
// order as scikit-learn's.
template <class Grower>
void grow_best_first(Grower& grower, Task root, index_t max_leaf_nodes) {
  auto lower_priority = [](const Outcome& a, const Outcome& b) {
    return a.improvement < b.improvement;
  };
  std::priority_queue<Outcome, std::vector<Outcome>, decltype(lower_priority)> frontier(
      lower_priority);
  auto push = [&](Outcome&& out) {
    if (out.leaf) out.improvement = 0;
    frontier.push(std::move(out));
  };
  push(grower.evaluate(root));
  index_t splits_left = max_leaf_nodes - 1;
  while (splits_left > 0 && !frontier.empty()) {
    Outcome out = std::move(const_cast<Outcome&>(frontier.top()));
    frontier.pop();
    if (out.leaf) continue;
    grower.commit(out.node);
    --splits_left;
    for (Task* child : {&out.left, &out.right}) push(grower.evaluate(*child));
  }
}

}  // namespace
}  // namespace fastml::cart::detail
