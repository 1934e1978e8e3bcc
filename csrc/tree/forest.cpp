// The entry points that grow trees (see fastml/cart.hpp): one tree, or a forest of trees grown in
// parallel, each from its bootstrap draw. The builder's parts are header templates included
// here alone, so that the compiler sees all of a tree's hot loops in this one unit.
#include <algorithm>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "builder.hpp"
#include "fastml/cart.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::cart {

using detail::Builder;

template <class T>
Tree build_tree(const Dataset<T>& data, const Params& params, std::uint64_t seed, int n_threads) {
  detail::SparseFitArrays sparse_arrays;
  return Builder<T>(detail::sparse_fit_view(data, sparse_arrays), params, data.sample_weight, seed,
                    n_threads)
      .grow();
}

namespace {

// numpy's legacy RandomState(seed) for an integer seed: MT19937 seeded by init_genrand, as
// std::mt19937 is; the draws scikit-learn's forests take from a tree's random_state.
struct NumpyRandomState {
  std::mt19937 mt;
  explicit NumpyRandomState(std::uint64_t seed) : mt(static_cast<std::uint32_t>(seed)) {}
  // randint(0, n) for n <= 2**32: numpy's masked rejection (none drawn when n is 1)
  std::uint32_t below(std::uint64_t n) {
    const std::uint32_t range = static_cast<std::uint32_t>(n - 1);
    std::uint32_t mask = range;
    for (int shift = 1; shift < 32; shift *= 2) mask |= mask >> shift;
    std::uint32_t v = 0;
    if (range > 0)
      while ((v = static_cast<std::uint32_t>(mt()) & mask) > range) {
      }
    return v;
  }
  // random_sample(): 53 bits from two draws
  double uniform() {
    const std::uint32_t a = static_cast<std::uint32_t>(mt()) >> 5;
    const std::uint32_t b = static_cast<std::uint32_t>(mt()) >> 6;
    return (a * 67108864.0 + b) / 9007199254740992.0;
  }
};

// scikit-learn's splitter seed for a tree of random_state seed: randint(0, RAND_R_MAX).
std::uint64_t splitter_seed(std::uint64_t seed) {
  return NumpyRandomState(seed).below(0x7FFFFFFF);
}

}  // namespace

void bootstrap_draws(std::uint64_t seed, index_t n_rows, index_t n_draws, const double* cdf,
                     std::int32_t* draws) {
  NumpyRandomState random(seed);
  for (index_t i = 0; i < n_draws; ++i) {
    if (!cdf) {
      draws[i] = static_cast<std::int32_t>(random.below(static_cast<std::uint64_t>(n_rows)));
    } else {  // searchsorted(cdf, u, side="right")
      const auto row = std::upper_bound(cdf, cdf + n_rows, random.uniform()) - cdf;
      draws[i] = static_cast<std::int32_t>(std::min<index_t>(row, n_rows - 1));
    }
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
std::vector<Tree> build_forest(const Dataset<T>& given, const Params& params,
                               const Bootstrap& bootstrap, const std::uint64_t* seeds,
                               index_t n_trees, int n_threads) {
  detail::SparseFitArrays sparse_arrays;  // once for all the trees
  const Dataset<T> data = detail::sparse_fit_view(given, sparse_arrays);
  std::vector<Tree> trees(n_trees);
  FirstException error;  // once a tree fails, the trees not yet started are skipped
#pragma omp parallel for schedule(dynamic, 1) num_threads(std::max(n_threads, 1))
  for (index_t t = 0; t < n_trees; ++t) {
    error.run([&] {
      std::vector<double> weight(data.sample_weight, data.sample_weight + data.n_rows);
      if (bootstrap.enabled) {
        std::vector<std::int32_t> draws(bootstrap.n_draws), counts(data.n_rows, 0);
        bootstrap_draws(seeds[t], data.n_rows, bootstrap.n_draws, bootstrap.cdf, draws.data());
        for (std::int32_t row : draws) ++counts[row];
        // drawn by weight, a row's weight is its draws alone (its sample weight chose them)
        if (bootstrap.cdf) std::fill(weight.begin(), weight.end(), 1.0);
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
      const std::uint64_t split_seed = splitter_seed(seeds[t]);
      trees[t] = Builder<T>(data, tree_params, weight.data(), split_seed, 1).grow();
      // A bootstrap that drew no row of positive weight (likely with few weighted rows) gives a
      // single leaf over the whole weighted data: its value is the training data's.
      if (trees[t].n_nodes() == 0)
        trees[t] = Builder<T>(data, params, data.sample_weight, split_seed, 1).grow_leaf();
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
