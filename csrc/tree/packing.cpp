// Packing fitted trees for the prediction walk (see PackedForest in fastml/cart.hpp).
#include <algorithm>
#include <cstdint>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastml/cart.hpp"

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

PackedForest::PackedForest(const NodeArrays& a, index_t n_features) : n_features_(n_features) {
  check(n_features >= 1 && n_features < (index_t{1} << 31), "n_features must be >= 1");
  n_trees_ = a.n_trees;
  n_values_ = a.n_values;
  const index_t n = a.n_nodes;
  const std::int64_t* o = a.offsets;
  const std::int64_t* l = a.children_left;
  const std::int64_t* r = a.children_right;
  check(o[0] == 0 && o[n_trees_] == n, "offsets must span the nodes");
  const bool surrogates = a.surrogate_count != nullptr;
  const std::int64_t* s_count = a.surrogate_count;
  if (surrogates) {
    index_t counted = 0;  // compared with what is left, so that the sum cannot overflow
    for (index_t i = 0; i < n; ++i) {
      check(s_count[i] >= 0 && (s_count[i] == 0 || l[i] >= 0),
            "surrogate_count must be >= 0, and 0 at leaves");
      check(s_count[i] <= a.n_surrogates - counted,
            "surrogate_count must sum to the length of surrogate_feature");
      counted += s_count[i];
    }
    check(counted == a.n_surrogates,
          "surrogate_count must sum to the length of surrogate_feature");
    surrogate_offsets_.push_back(0);
  }
  index_t next_surrogate = 0;
  split_offsets_.assign(n_trees_ + 1, 0);
  leaf_offsets_.assign(n_trees_ + 1, 0);
  roots_.resize(n_trees_);
  std::vector<std::int32_t> child_code;  // a split's index, or ~(leaf index) for a leaf
  for (index_t t = 0; t < n_trees_; ++t) {
    const std::int64_t base = o[t], size = o[t + 1] - base;
    check(size >= 1 && size < (std::int64_t{1} << 31), "every tree needs 1 to 2^31 nodes");
    child_code.resize(size);
    std::int32_t n_splits = 0, n_leaves = 0;
    for (std::int64_t i = 0; i < size; ++i) {
      if (l[base + i] >= 0) {
        child_code[i] = n_splits++;
        continue;
      }
      child_code[i] = ~n_leaves++;
      leaf_node_.push_back(static_cast<std::int32_t>(i));
      value_.insert(value_.end(), a.value + (base + i) * n_values_,
                    a.value + (base + i + 1) * n_values_);
    }
    for (std::int64_t i = 0; i < size; ++i) {
      const std::int64_t j = base + i;
      if (l[j] < 0) continue;
      check(l[j] > i && l[j] < size && r[j] > i && r[j] < size, "children ids out of range");
      check(a.feature[j] >= 0 && a.feature[j] < n_features, "feature index out of range");
      splits64_.push_back({a.threshold[j], static_cast<std::int32_t>(a.feature[j]),
                           {child_code[r[j]], child_code[l[j]]}});
      missing_left_.push_back(a.missing_go_to_left[j] != 0);
      if (!surrogates) continue;
      for (std::int64_t k = 0; k < s_count[j]; ++k, ++next_surrogate) {
        const std::int64_t g = a.surrogate_feature[next_surrogate];
        check(g >= 0 && g < n_features, "surrogate feature index out of range");
        surrogates64_.push_back({a.surrogate_threshold[next_surrogate],
                                 static_cast<std::int32_t>(g),
                                 a.surrogate_reversed[next_surrogate] != 0});
      }
      surrogate_offsets_.push_back(next_surrogate);
    }
    roots_[t] = child_code[0];
    split_offsets_[t + 1] = split_offsets_[t] + n_splits;
    leaf_offsets_[t + 1] = leaf_offsets_[t] + n_leaves;
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
