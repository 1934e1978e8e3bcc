// radius_lists and radius_counts (fastml/radius.hpp): two Actions of the radius reducer.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastml/radius.hpp"
#include "radius_engine.hpp"

namespace fastml::radius {
namespace {

struct Hit {
  std::int64_t query, train;
  double value;  // the reduced distance; the distance once finish_lists needs it
};

// Per-query growing lists: every task keeps its hits in its own slot (its queries are its own),
// merged once into CSR after the search.
struct ListAction {
  struct Local {};
  std::vector<std::vector<Hit>> per_task;
  bool self_query;

  void init(Local&) const {}
  void pair(Local&, index_t task, index_t q, index_t j, double reduced) {
    if (self_query && q == j) return;
    per_task[task].push_back({q, j, reduced});
  }
};

// Counts (or weights) within reach: a query belongs to one task, so its sum is written by one
// thread, in the task's fixed order.
struct CountAction {
  struct Local {};
  const double* weights;
  double* counts;

  void init(Local&) const {}
  void pair(Local&, index_t, index_t q, index_t j, double) {
    counts[q] += weights ? weights[j] : 1.0;
  }
};

template <class Terms>
void finish_lists(ListAction& action, Lists& out, index_t n_queries, Terms terms,
                  bool with_distances, bool sort_by_distance, int n_threads) {
  const index_t n_tasks = static_cast<index_t>(action.per_task.size());
  out.indptr.assign(static_cast<std::size_t>(n_queries) + 1, 0);
  for (const auto& hits : action.per_task)
    for (const Hit& h : hits) ++out.indptr[h.query + 1];
  for (index_t i = 0; i < n_queries; ++i) out.indptr[i + 1] += out.indptr[i];
  const std::size_t total = static_cast<std::size_t>(out.indptr[n_queries]);
  out.indices.resize(total);
  if (with_distances) out.distances.resize(total);
  FirstException first;
#pragma omp parallel for schedule(dynamic) num_threads(n_threads)
  for (index_t t = 0; t < n_tasks; ++t) {
    first.run([&] {
      std::vector<Hit>& hits = action.per_task[t];
      // sorted by the distances themselves: two reduced distances that differ in the last bit
      // can have the same square root, and then the index decides
      if (with_distances || sort_by_distance)
        for (Hit& h : hits) h.value = terms.finish(h.value);
      std::sort(hits.begin(), hits.end(), [&](const Hit& a, const Hit& b) {
        if (a.query != b.query) return a.query < b.query;
        if (sort_by_distance && a.value != b.value) return a.value < b.value;
        return a.train < b.train;
      });
      std::size_t k = 0;
      while (k < hits.size()) {
        std::size_t at = static_cast<std::size_t>(out.indptr[hits[k].query]);
        const std::int64_t q = hits[k].query;
        for (; k < hits.size() && hits[k].query == q; ++k, ++at) {
          out.indices[at] = hits[k].train;
          if (with_distances) out.distances[at] = hits[k].value;
        }
      }
      std::vector<Hit>().swap(hits);
    });
  }
  first.rethrow();
}

}  // namespace

MetricSpec parse_metric(const std::string& name, double p) {
  for (int code = 0; code < static_cast<int>(std::size(kMetricNames)); ++code) {
    if (name != kMetricNames[code]) continue;
    if (code == kMinkowski && !(p > 0 && std::isfinite(p)))
      throw std::invalid_argument("minkowski needs a finite p > 0");
    return {code, p};
  }
  throw std::invalid_argument("the compiled radius search has no metric '" + name + "'");
}

template <class T>
Lists radius_lists(Rows<T> queries, Rows<T> train, MetricSpec metric, double radius,
                   bool self_query, bool with_distances, bool sort_by_distance, int n_threads) {
  const BlockTree<T> train_tree(train, nullptr, kTrainLeafRows, true);
  const BlockTree<T> query_tree(queries, nullptr, kQueryLeafRows, false);
  ListAction action{{}, self_query};
  action.per_task.resize(query_tree.leaves().size());
  const int threads = radius_threads(queries.n, train.n, train.d, n_threads);
  run_radius(queries, query_tree, train_tree, metric, radius, action, threads);
  Lists out;
  with_terms(metric, queries.d, [&](auto terms) {
    finish_lists(action, out, queries.n, terms, with_distances, sort_by_distance, threads);
    return 0;
  });
  return out;
}

template <class T>
void radius_counts(Rows<T> X, MetricSpec metric, double radius, const double* weights,
                   double* counts, int n_threads) {
  std::fill(counts, counts + X.n, 0.0);
  const BlockTree<T> tree(X, nullptr, kTrainLeafRows, true);
  CountAction action{weights, counts};
  run_radius(X, tree, tree, metric, radius, action, radius_threads(X.n, X.n, X.d, n_threads));
}

template Lists radius_lists(Rows<float>, Rows<float>, MetricSpec, double, bool, bool, bool, int);
template Lists radius_lists(Rows<double>, Rows<double>, MetricSpec, double, bool, bool, bool,
                            int);
template void radius_counts(Rows<float>, MetricSpec, double, const double*, double*, int);
template void radius_counts(Rows<double>, MetricSpec, double, const double*, double*, int);

}  // namespace fastml::radius
