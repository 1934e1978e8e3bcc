// LambdaMART's gradients (lambdas) for NDCG, per query: the rows of a query ranked by their
// current score, every pair of different labels with at least one member among the first
// truncation_level ranks pushed apart by the NDCG change of swapping them (gain 2^label - 1,
// discount 1 / log2(2 + rank), over the query's ideal DCG at truncation_level) times the
// logistic probability that the pair is misordered; with norm, the pair's weight divided by
// 0.01 + |score gap| and the query's lambdas rescaled by log2(1 + S) / S (S their sum),
// LightGBM's lambdarank defaults. With sample weights, each row's lambda and hessian are then
// multiplied by its own weight, as LightGBM weighs lambdarank (row by row, not per query).
// Queries are independent: one thread takes a query whole, so
// the result never depends on the thread count. query_dcg ranks each query as the lambdas do
// and sums its DCG@k: the NDCG of the ranker's score and early stopping.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {

namespace {

// Queries of at most this many rows are ranked by insertion sort (stable, in place).
constexpr index_t kInsertionSortRows = 64;

struct Scratch {
  std::vector<index_t> order;
  // by rank: labels' gains, scores and their exps, discounts, and the lambdas and hessians summed
  std::vector<double> gain, score, exp_score, lambda, hess, ideal, discount;
};

// The discounts 1 / log2(2 + rank) of ranks 0 .. n - 1, kept from query to query (a pair would
// take two logarithms).
const double* discounts(index_t n, Scratch& s) {
  for (index_t i = static_cast<index_t>(s.discount.size()); i < n; ++i)
    s.discount.push_back(1.0 / std::log2(2.0 + static_cast<double>(i)));
  return s.discount.data();
}

// s.order: the rows 0 .. n - 1 by decreasing score, equal scores in row order.
void rank_by_score(const double* score, index_t n, Scratch& s) {
  s.order.resize(n);
  std::iota(s.order.begin(), s.order.end(), 0);
  const auto higher = [score](index_t a, index_t b) { return score[a] > score[b]; };
  if (n <= kInsertionSortRows) {
    // the order stable_sort gives, without the buffer it allocates at each call
    for (index_t i = 1; i < n; ++i) {
      const index_t r = s.order[i];
      index_t k = i;
      for (; k > 0 && higher(r, s.order[k - 1]); --k) s.order[k] = s.order[k - 1];
      s.order[k] = r;
    }
  } else {
    std::stable_sort(s.order.begin(), s.order.end(), higher);
  }
}

void one_query(const double* y, const double* score, const double* weight, index_t n,
               index_t truncation, bool norm, double sigmoid, GradHess* gh, Scratch& s) {
  const double* discount = discounts(n, s);
  // the ideal DCG over the first `truncation` ranks
  s.ideal.resize(n);
  for (index_t i = 0; i < n; ++i) s.ideal[i] = std::exp2(y[i]) - 1.0;
  std::sort(s.ideal.begin(), s.ideal.end(), std::greater<double>());
  double max_dcg = 0;
  for (index_t i = 0; i < std::min(n, truncation); ++i) max_dcg += s.ideal[i] * discount[i];
  if (n < 2 || max_dcg <= 0) {
    for (index_t i = 0; i < n; ++i) gh[i] = {0.f, 0.f};
    return;
  }
  const double inverse_max_dcg = 1.0 / max_dcg;
  rank_by_score(score, n, s);
  // the pairs work in rank order on contiguous copies
  s.gain.resize(n);
  s.score.resize(n);
  // and each rank's exp(sigmoid * (score - top score)) in (0, 1], once: a pair's logistic
  // 1 / (1 + exp(sigmoid * (s_high - s_low))) is then e_low / (e_high + e_low), a division
  // in place of an exp per pair (exact up to rounding)
  s.exp_score.resize(n);
  for (index_t r = 0; r < n; ++r) {
    s.gain[r] = std::exp2(y[s.order[r]]) - 1.0;
    s.score[r] = score[s.order[r]];
    s.exp_score[r] = std::exp(sigmoid * (s.score[r] - s.score[0]));
  }
  const double* ex = s.exp_score.data();
  s.lambda.assign(n, 0.0);
  s.hess.assign(n, 0.0);
  const double* gain = s.gain.data();
  const double* sc = s.score.data();
  double* lambda = s.lambda.data();
  double* hess = s.hess.data();
  const bool scale_by_gap = norm && sc[0] != sc[n - 1];
  double sum_lambdas = 0;
  for (index_t i = 0; i < std::min(n - 1, truncation); ++i) {
    for (index_t j = i + 1; j < n; ++j) {
      // a pair of equal labels has no gain gap and would add zeros: skipped (a third of the
      // pairs with grades 0..4)
      if (gain[i] == gain[j]) continue;
      // the better-labelled row of the pair is "high" (sign 1: rank i)
      const double sign = gain[i] > gain[j] ? 1.0 : -1.0;
      const double delta_score = sign * (sc[i] - sc[j]);
      double delta_ndcg = std::fabs(gain[i] - gain[j]) * std::fabs(discount[i] - discount[j]) *
                          inverse_max_dcg;
      if (scale_by_gap) delta_ndcg /= 0.01 + std::fabs(delta_score);
      // both exps underflow only for scores more than ~745 / sigmoid below the top one
      const double both = ex[i] + ex[j];
      const double p = both > 0 ? (sign > 0 ? ex[j] : ex[i]) / both
                                : 1.0 / (1.0 + std::exp(sigmoid * delta_score));
      const double l = -sigmoid * delta_ndcg * p;
      const double h = sigmoid * sigmoid * delta_ndcg * p * (1.0 - p);
      lambda[i] += sign * l;
      lambda[j] -= sign * l;
      hess[i] += h;
      hess[j] += h;
      sum_lambdas -= 2 * l;
    }
  }
  const double factor = norm && sum_lambdas > 0 ? std::log2(1 + sum_lambdas) / sum_lambdas : 1.0;
  for (index_t r = 0; r < n; ++r) {
    const index_t row = s.order[r];
    const double w = weight != nullptr ? factor * weight[row] : factor;
    gh[row] = {static_cast<float>(lambda[r] * w), static_cast<float>(hess[r] * w)};
  }
}

}  // namespace

void lambdarank_gradients(const double* y, const double* score, const double* sample_weight,
                          const std::int64_t* offsets, index_t n_queries, index_t truncation_level,
                          bool norm, double sigmoid, GradHess* gh, int n_threads) {
  // about 5 ns a pair, a row pairing with up to the mean query size of others
  const index_t n_rows = offsets[n_queries];
  const double mean_size = static_cast<double>(n_rows) / static_cast<double>(std::max<index_t>(n_queries, 1));
  const int threads = fastml_region_threads(5.0 * n_rows * mean_size, n_threads);
  FirstException error;
#pragma omp parallel num_threads(threads)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 16)
    for (index_t q = 0; q < n_queries; ++q) {
      const index_t first = offsets[q];
      error.run([&] {
        one_query(y + first, score + first, sample_weight ? sample_weight + first : nullptr,
                  offsets[q + 1] - first, truncation_level, norm, sigmoid, gh + first, scratch);
      });
    }
  }
  error.rethrow();
}

void query_dcg(const double* y, const double* score, const std::int64_t* offsets,
               index_t n_queries, index_t k, double* dcg, int n_threads) {
  // about 20 ns a row (its share of a sort)
  const int threads = fastml_region_threads(20.0 * static_cast<double>(offsets[n_queries]), n_threads);
  FirstException error;  // the scratch grows inside the region
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
    Scratch scratch;
#pragma omp for schedule(dynamic, 64)
    for (index_t q = 0; q < n_queries; ++q) {
      error.run([&] {
        const index_t first = offsets[q], n = offsets[q + 1] - first;
        const index_t depth = std::min(n, k);
        const double* discount = discounts(depth, scratch);
        // only the first k ranks count: for a long query a partial sort would do, but the
        // queries' rows are few and the stable order of equal scores must be kept
        rank_by_score(score + first, n, scratch);
        double sum = 0;
        for (index_t r = 0; r < depth; ++r)
          sum += (std::exp2(y[first + scratch.order[r]]) - 1.0) * discount[r];
        dcg[q] = sum;
      });
    }
  }
  error.rethrow();
}

}  // namespace fastml::boost
