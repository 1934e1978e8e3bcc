// LambdaMART's gradients (lambdas) for NDCG, per query: the rows of a query ranked by their
// current score, every pair of different labels with at least one member among the first
// truncation_level ranks pushed apart by the NDCG change of swapping them (gain 2^label - 1,
// discount 1 / log2(2 + rank), over the query's ideal DCG at truncation_level) times the
// logistic probability that the pair is misordered; with norm, the pair's weight divided by
// 0.01 + |score gap| and the query's lambdas rescaled by log2(1 + S) / S (S their sum),
// LightGBM's lambdarank defaults. Queries are independent: one thread takes a query whole, so
// the result never depends on the thread count.
#include <algorithm>
#include <cmath>
#include <functional>
#include <numeric>
#include <vector>

#include "fastml/boost.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::boost {

namespace {

struct Scratch {
  std::vector<index_t> order;
  std::vector<double> lambda, hess, gains, ideal, discount;
};

void one_query(const double* y, const double* score, index_t n, index_t truncation, bool norm,
               double sigmoid, GradHess* gh, Scratch& s) {
  s.order.resize(n);
  s.lambda.assign(n, 0.0);
  s.hess.assign(n, 0.0);
  // the ideal DCG over the first `truncation` ranks
  s.gains.resize(n);
  for (index_t i = 0; i < n; ++i) s.gains[i] = std::exp2(y[i]) - 1.0;
  s.ideal.assign(s.gains.begin(), s.gains.end());
  std::sort(s.ideal.begin(), s.ideal.end(), std::greater<double>());
  // the discounts of the ranks, once (a pair would take two logarithms)
  for (index_t i = static_cast<index_t>(s.discount.size()); i < n; ++i)
    s.discount.push_back(1.0 / std::log2(2.0 + static_cast<double>(i)));
  const double* discount = s.discount.data();
  double max_dcg = 0;
  for (index_t i = 0; i < std::min(n, truncation); ++i) max_dcg += s.ideal[i] * discount[i];
  if (n < 2 || max_dcg <= 0) {
    for (index_t i = 0; i < n; ++i) gh[i] = {0.f, 0.f};
    return;
  }
  const double inverse_max_dcg = 1.0 / max_dcg;
  std::iota(s.order.begin(), s.order.end(), 0);
  std::stable_sort(s.order.begin(), s.order.end(),
                   [score](index_t a, index_t b) { return score[a] > score[b]; });
  const double best = score[s.order[0]], worst = score[s.order[n - 1]];
  double sum_lambdas = 0;
  for (index_t i = 0; i < std::min(n - 1, truncation); ++i) {
    for (index_t j = i + 1; j < n; ++j) {
      const index_t a = s.order[i], b = s.order[j];
      if (y[a] == y[b]) continue;
      // high: the better label, at rank hr; low: the other
      const bool a_high = y[a] > y[b];
      const index_t high = a_high ? a : b, low = a_high ? b : a;
      const index_t hr = a_high ? i : j, lr = a_high ? j : i;
      const double delta_score = score[high] - score[low];
      const double paired_discount = std::fabs(discount[hr] - discount[lr]);
      double delta_ndcg = (s.gains[high] - s.gains[low]) * paired_discount * inverse_max_dcg;
      if (norm && best != worst) delta_ndcg /= 0.01 + std::fabs(delta_score);
      const double p = 1.0 / (1.0 + std::exp(sigmoid * delta_score));
      const double lambda = -sigmoid * delta_ndcg * p;
      const double hessian = sigmoid * sigmoid * delta_ndcg * p * (1.0 - p);
      s.lambda[high] += lambda;
      s.hess[high] += hessian;
      s.lambda[low] -= lambda;
      s.hess[low] += hessian;
      sum_lambdas -= 2 * lambda;
    }
  }
  const double factor = norm && sum_lambdas > 0 ? std::log2(1 + sum_lambdas) / sum_lambdas : 1.0;
  for (index_t i = 0; i < n; ++i)
    gh[i] = {static_cast<float>(s.lambda[i] * factor), static_cast<float>(s.hess[i] * factor)};
}

}  // namespace

void lambdarank_gradients(const double* y, const double* score, const std::int64_t* offsets,
                          index_t n_queries, index_t truncation_level, bool norm, double sigmoid,
                          GradHess* gh, int n_threads) {
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
        one_query(y + first, score + first, offsets[q + 1] - first, truncation_level, norm,
                  sigmoid, gh + first, scratch);
      });
    }
  }
  error.rethrow();
}

}  // namespace fastml::boost
