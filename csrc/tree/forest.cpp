// The entry points that grow trees (see fastml/cart.hpp): one tree, or a forest of trees grown in
// parallel, each from its bootstrap draw. The builder's parts are header templates included
// here alone, so that the compiler sees all of a tree's hot loops in this one unit.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <vector>

#include "builder.hpp"
#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {

using detail::Builder;
using detail::Random;

template <class T>
Tree build_tree(const Dataset<T>& data, const Params& params, std::uint64_t seed, int n_threads) {
  return Builder<T>(data, params, data.sample_weight, seed, n_threads).grow();
}

void bootstrap_draws(std::uint64_t seed, index_t n_rows, index_t n_draws, const double* weight,
                     std::int32_t* draws) {
  Random random{seed};
  if (!weight) {
    for (index_t i = 0; i < n_draws; ++i) draws[i] = static_cast<std::int32_t>(random.below(n_rows));
    return;
  }
  std::vector<double> cumulative(n_rows);
  std::partial_sum(weight, weight + n_rows, cumulative.begin());
  const double total = cumulative.back();
  for (index_t i = 0; i < n_draws; ++i) {
    // the first row whose cumulative weight passes u: a row of weight 0 adds no width
    const double u = random.uniform() * total;
    const auto row = std::upper_bound(cumulative.begin(), cumulative.end(), u) - cumulative.begin();
    draws[i] = static_cast<std::int32_t>(std::min<index_t>(row, n_rows - 1));
  }
}

namespace {

// Multiplies each row's weight by the times the bootstrap drew it and, for balanced_subsample,
// by scikit-learn's "balanced" class weight of each output computed on the draws (the product
// over the outputs, as scikit-learn's compute_sample_weight).
template <class T>
void weigh_draws(const Dataset<T>& data, const Bootstrap& bootstrap, const std::int32_t* counts,
                 double* weight) {
  const index_t n_out = data.n_outputs;
  std::vector<double> factor(data.n_rows, 1.0);
  for (index_t o = 0; bootstrap.balanced_subsample && data.n_classes && o < n_out; ++o) {
    const int K = data.n_classes[o];
    const auto class_of = [&](index_t r) { return static_cast<int>(data.y[r * n_out + o]); };
    std::vector<double> drawn(K, 0.0);
    for (index_t r = 0; r < data.n_rows; ++r) drawn[class_of(r)] += counts[r];
    int present = 0;
    for (double c : drawn) present += c > 0;
    for (index_t r = 0; r < data.n_rows; ++r) {
      const double c = drawn[class_of(r)];
      factor[r] *= c > 0 ? bootstrap.n_draws / (present * c) : 0.0;
    }
  }
  for (index_t r = 0; r < data.n_rows; ++r) weight[r] *= counts[r] * factor[r];
}

}  // namespace

template <class T>
std::vector<Tree> build_forest(const Dataset<T>& data, const Params& params,
                               const Bootstrap& bootstrap, const std::uint64_t* seeds,
                               index_t n_trees, int n_threads) {
  std::vector<Tree> trees(n_trees);
  FirstException error;  // once a tree fails, the trees not yet started are skipped
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(n_threads, 1))
  for (index_t t = 0; t < n_trees; ++t) {
    error.run([&] {
      std::vector<double> weight(data.sample_weight, data.sample_weight + data.n_rows);
      if (bootstrap.enabled) {
        std::vector<std::int32_t> draws(bootstrap.n_draws), counts(data.n_rows, 0);
        bootstrap_draws(seeds[t], data.n_rows, bootstrap.n_draws,
                        bootstrap.by_weight ? data.sample_weight : nullptr, draws.data());
        for (std::int32_t row : draws) ++counts[row];
        // drawn by weight, a row's weight is its draws alone (its sample weight chose them)
        if (bootstrap.by_weight) std::fill(weight.begin(), weight.end(), 1.0);
        weigh_draws(data, bootstrap, counts.data(), weight.data());
      }
      // min_weight_fraction_leaf is a fraction of the weight the tree is grown on (the draws'),
      // as scikit-learn's trees compute it from the weights they are given
      Params tree_params = params;
      if (bootstrap.enabled && params.min_weight_leaf > 0) {
        const double grown_on = std::accumulate(weight.begin(), weight.end(), 0.0);
        const double given = std::accumulate(data.sample_weight, data.sample_weight + data.n_rows, 0.0);
        tree_params.min_weight_leaf = params.min_weight_leaf * grown_on / given;
      }
      trees[t] = Builder<T>(data, tree_params, weight.data(), seeds[t], 1).grow();
      // A bootstrap that drew no row of positive weight (likely with few weighted rows) gives a
      // single leaf over the whole weighted data: its value is the training data's.
      if (trees[t].n_nodes() == 0)
        trees[t] = Builder<T>(data, params, data.sample_weight, seeds[t], 1).grow_leaf();
    });
  }
  error.rethrow();
  return trees;
}

#define FASTML_CART_INSTANTIATE(T)                                                              \
  template Tree build_tree<T>(const Dataset<T>&, const Params&, std::uint64_t, int);            \
  template std::vector<Tree> build_forest<T>(const Dataset<T>&, const Params&, const Bootstrap&, \
                                             const std::uint64_t*, index_t, int);

FASTML_CART_INSTANTIATE(float)
FASTML_CART_INSTANTIATE(double)

}  // namespace fastml::cart
