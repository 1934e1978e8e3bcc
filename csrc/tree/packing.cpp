// Packing fitted trees for the prediction walk (see PackedForest in fastml/cart.hpp).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {

namespace {

// The packing's checks: the indices every walk follows.
void check(bool ok, const char* message) {
  if (!ok) throw std::invalid_argument(message);
}

// The float32 records, derived from the float64 ones when float32 X first arrives.
template <class From, class To, class Convert>
const std::vector<To>& derived(const std::vector<From>& from64, std::vector<To>& to32,
                               Convert convert) {
  if (to32.size() != from64.size()) {
    to32.resize(from64.size());
    std::transform(from64.begin(), from64.end(), to32.begin(), convert);
  }
  return to32;
}

}  // namespace

PackedForest::PackedForest(const NodeArrays& a, index_t n_features, int n_threads)
    : n_features_(n_features) {
  check(n_features >= 1 && n_features < (index_t{1} << 31), "n_features must be >= 1");
  n_trees_ = static_cast<index_t>(a.trees.size());
  n_values_ = a.n_values;
  // before any read of a tree (the surrogate count below, the passes on threads)
  check(n_trees_ >= 1, "a forest needs a tree");
  const bool surrogates = a.surrogates;
  for (const TreeArrays& tree : a.trees) {
    check(tree.n_nodes >= 1 && tree.n_nodes < (std::int64_t{1} << 31),
          "every tree needs 1 to 2^31 nodes");
    check(!surrogates || tree.surrogate_count, "every tree needs its surrogate_count");
  }
  // each tree's first surrogate: the surrogates of the nodes before it
  std::vector<std::int64_t> first_surrogate(n_trees_, 0);
  if (surrogates) {
    index_t counted = 0;  // compared with what is left, so that the sum cannot overflow
    for (index_t t = 0; t < n_trees_; ++t) {
      const TreeArrays& tree = a.trees[t];
      first_surrogate[t] = counted;
      for (index_t i = 0; i < tree.n_nodes; ++i) {
        const std::int64_t count = tree.surrogate_count[i];
        check(count >= 0 && (count == 0 || tree.children_left[i] >= 0),
              "surrogate_count must be >= 0, and 0 at leaves");
        check(count <= a.n_surrogates - counted,
              "surrogate_count must sum to the length of surrogate_feature");
        counted += count;
      }
    }
    check(counted == a.n_surrogates,
          "surrogate_count must sum to the length of surrogate_feature");
  }
  // Two passes over the trees, each on threads (the trees apart): each tree's splits, leaves
  // and surrogates counted and its indices checked, then each written at its offsets into
  // records sized once. Packed serially, growing every record node by node, a fully grown
  // 30-tree regression forest's 3.8M nodes took a tenth of its fit (0.26 s on a loaded VM).
  // The first failing tree's message is raised, as a serial pass would.
  const int threads = static_cast<int>(std::max<index_t>(1, std::min<index_t>(n_threads, n_trees_)));
  std::vector<const char*> error(n_trees_, nullptr);
  split_offsets_.assign(n_trees_ + 1, 0);
  leaf_offsets_.assign(n_trees_ + 1, 0);
  // nothing in the regions allocates or throws: each tree's failure is kept as a message
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
  for (index_t t = 0; t < n_trees_; ++t) {
    const TreeArrays& tree = a.trees[t];
    const std::int64_t* l = tree.children_left;
    const std::int64_t* r = tree.children_right;
    const std::int64_t size = tree.n_nodes;
    std::int64_t n_splits = 0;
    for (std::int64_t i = 0, k = first_surrogate[t]; i < size && !error[t]; ++i) {
      if (l[i] < 0) continue;
      ++n_splits;
      if (!(l[i] > i && l[i] < size && r[i] > i && r[i] < size))
        error[t] = "children ids out of range";
      else if (!(tree.feature[i] >= 0 && tree.feature[i] < n_features))
        error[t] = "feature index out of range";
      if (error[t]) break;  // the node's first failure, as a serial pass raises it
      for (const std::int64_t end = k + (surrogates ? tree.surrogate_count[i] : 0); k < end; ++k)
        if (!(a.surrogate_feature[k] >= 0 && a.surrogate_feature[k] < n_features))
          error[t] = "surrogate feature index out of range";
    }
    split_offsets_[t + 1] = n_splits;
    leaf_offsets_[t + 1] = size - n_splits;
  }
  for (index_t t = 0; t < n_trees_; ++t) check(error[t] == nullptr, error[t]);
  for (index_t t = 0; t < n_trees_; ++t) {
    split_offsets_[t + 1] += split_offsets_[t];
    leaf_offsets_[t + 1] += leaf_offsets_[t];
  }
  roots_.resize(n_trees_);
  leaf_node_.resize(leaf_offsets_[n_trees_]);
  value_.resize(leaf_offsets_[n_trees_] * n_values_);
  splits64_.resize(split_offsets_[n_trees_]);
  missing_left_.resize(split_offsets_[n_trees_]);
  if (surrogates) {
    surrogates64_.resize(a.n_surrogates);
    surrogate_offsets_.resize(split_offsets_[n_trees_] + 1);
    surrogate_offsets_[0] = 0;
  }
  std::int64_t largest = 0;
  for (const TreeArrays& tree : a.trees) largest = std::max(largest, tree.n_nodes);
  // a split's index, or ~(leaf index) for a leaf: one buffer per thread
  std::vector<std::vector<std::int32_t>> child_codes(threads,
                                                     std::vector<std::int32_t>(largest));
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
  for (index_t t = 0; t < n_trees_; ++t) {
    std::int32_t* child_code = child_codes[omp_get_thread_num()].data();
    const TreeArrays& tree = a.trees[t];
    const std::int64_t* l = tree.children_left;
    const std::int64_t* r = tree.children_right;
    const std::int64_t size = tree.n_nodes;
    std::int32_t n_splits = 0, n_leaves = 0;
    for (std::int64_t i = 0; i < size; ++i) {
      if (l[i] >= 0) {
        child_code[i] = n_splits++;
        continue;
      }
      const std::int64_t leaf = leaf_offsets_[t] + n_leaves;
      child_code[i] = ~n_leaves++;
      leaf_node_[leaf] = static_cast<std::int32_t>(i);
      std::copy_n(tree.value + i * n_values_, n_values_, value_.data() + leaf * n_values_);
    }
    std::int64_t next_split = split_offsets_[t], next_surrogate = first_surrogate[t];
    for (std::int64_t i = 0; i < size; ++i) {
      if (l[i] < 0) continue;
      const std::int64_t split = next_split++;
      splits64_[split] = {tree.threshold[i], static_cast<std::int32_t>(tree.feature[i]),
                          {child_code[r[i]], child_code[l[i]]}};
      missing_left_[split] = tree.missing_go_to_left[i] != 0;
      if (!surrogates) continue;
      for (std::int64_t k = 0; k < tree.surrogate_count[i]; ++k, ++next_surrogate)
        surrogates64_[next_surrogate] = {
            a.surrogate_threshold[next_surrogate],
            static_cast<std::int32_t>(a.surrogate_feature[next_surrogate]),
            a.surrogate_reversed[next_surrogate] != 0};
      surrogate_offsets_[split + 1] = next_surrogate;
    }
    roots_[t] = child_code[0];
  }
}

template <class T>
Forest<T> PackedForest::forest() {
  const WalkSplit<T>* splits;
  const WalkSurrogate<T>* surrogates = nullptr;
  // no surrogate anywhere: the walk's NaN branch reads missing_left alone
  const bool any_surrogate = !surrogates64_.empty();
  if constexpr (std::is_same_v<T, double>) {
    splits = splits64_.data();
    if (any_surrogate) surrogates = surrogates64_.data();
  } else {
    splits = derived(splits64_, splits32_, [](const WalkSplit<double>& s) {
               return WalkSplit<float>{walk_threshold<float>(s.threshold), s.feature,
                                       {s.child[0], s.child[1]}};
             }).data();
    if (any_surrogate)
      surrogates = derived(surrogates64_, surrogates32_, [](const WalkSurrogate<double>& s) {
                     return WalkSurrogate<float>{walk_threshold<float>(s.threshold), s.feature,
                                                 s.reversed};
                   }).data();
  }
  return Forest<T>{n_trees_,
                   split_offsets_.data(),
                   leaf_offsets_.data(),
                   roots_.data(),
                   splits,
                   missing_left_.data(),
                   any_surrogate ? surrogate_offsets_.data() : nullptr,
                   surrogates,
                   leaf_node_.data(),
                   value_.data(),
                   n_values_};
}

template Forest<float> PackedForest::forest<float>();
template Forest<double> PackedForest::forest<double>();

}  // namespace fastml::cart
