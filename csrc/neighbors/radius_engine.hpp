// The radius search as a Reducer of fastml::for_each_task: task t is leaf t of the queries' tree
// (nearby queries, so that their walks share the cached upper nodes); each query walks the
// training tree, skips the nodes whose box is out of its reach and computes its reduced distances
// to a whole training leaf at once. What happens to a pair within reach is the Action's business
// (lists, counts, union-find, labels): Action::Local is its per-thread state and
//   void pair(Local&, index_t task, index_t query_row, index_t train_row, double reduced);
// is called in a fixed order for each task (training leaves in walk order, rows in leaf order).
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

#include "block_tree.hpp"
#include "fastml/radius.hpp"
#include "fastml/tile_loop.hpp"

namespace fastml::radius {

// Reduced distances: a sum (or max) of per-feature terms, and the map back to the distance.
struct SqEuclideanTerms {
  double term(double diff) const { return diff * diff; }
  double add(double acc, double t) const { return acc + t; }
  double reduce(double r) const { return r; }
  double finish(double red) const { return red; }
};
struct EuclideanTerms : SqEuclideanTerms {
  double reduce(double r) const { return r * r; }
  double finish(double red) const { return std::sqrt(red); }
};
struct ManhattanTerms {
  double term(double diff) const { return std::fabs(diff); }
  double add(double acc, double t) const { return acc + t; }
  double reduce(double r) const { return r; }
  double finish(double red) const { return red; }
};
struct ChebyshevTerms : ManhattanTerms {
  double add(double acc, double t) const { return std::max(acc, t); }
};
struct MinkowskiTerms {
  double p;
  double term(double diff) const { return std::pow(std::fabs(diff), p); }
  double add(double acc, double t) const { return acc + t; }
  double reduce(double r) const { return std::pow(r, p); }
  double finish(double red) const { return std::pow(red, 1.0 / p); }
};

// Hamming on values: the count of differing features, divided by their number at the end, as
// scikit-learn's BallTree (and fastml's pairwise hamming) divide it. A box is out of a feature's
// reach when the query's value lies outside the box's range there.
struct HammingTerms {
  double dim;
  double term(double diff) const { return diff != 0.0 ? 1.0 : 0.0; }
  double add(double acc, double t) const { return acc + t; }
  // The largest count whose distance count / dim is <= r (-1: none), found on the quotients
  // themselves, so that a count is kept exactly when its distance passes the test.
  double reduce(double r) const {
    double c = std::min(std::floor(r * dim), dim);
    while (c < dim && (c + 1.0) / dim <= r) c += 1.0;
    while (c >= 0.0 && c / dim > r) c -= 1.0;
    return c;
  }
  double finish(double red) const { return red / dim; }
};

// Calls fn(terms) with the terms of `metric` on rows of d features: the one switch from metric
// codes to types.
template <class Fn>
decltype(auto) with_terms(MetricSpec metric, index_t d, Fn&& fn) {
  switch (metric.metric) {
    case kEuclidean: return fn(EuclideanTerms{});
    case kSqEuclidean: return fn(SqEuclideanTerms{});
    case kManhattan: return fn(ManhattanTerms{});
    case kChebyshev: return fn(ChebyshevTerms{});
    case kHamming: return fn(HammingTerms{static_cast<double>(d)});
    default: return fn(MinkowskiTerms{metric.p});
  }
}

template <class T, class Terms, class Action>
class RadiusReducer {
 public:
  struct Workspace {
    std::vector<double> acc;
    std::vector<index_t> stack;
    typename Action::Local local;
  };

  RadiusReducer(Rows<T> queries, const BlockTree<T>& query_tree, const BlockTree<T>& train,
                Terms terms, double radius, Action& action)
      : queries_(queries), qtree_(query_tree), train_(train), terms_(terms), action_(action),
        reduced_(terms.reduce(radius)),
        // Boxes skip a node only when its bound exceeds the radius by more than rounding could
        // explain, so that no pair the exact test would keep is skipped.
        prune_(terms.reduce(radius) * (1.0 + 1e-9) + 1e-300) {}

  void init(Workspace& w) const {
    w.acc.resize(static_cast<std::size_t>(std::max<index_t>(train_.max_leaf_rows(), 1)));
    w.stack.reserve(128);
    action_.init(w.local);
  }

  void task(index_t t, Workspace& w) {
    if (train_.nodes().empty()) return;
    const TreeNode& leaf = qtree_.nodes()[qtree_.leaves()[t]];
    for (index_t r = leaf.begin; r < leaf.end; ++r) query(t, qtree_.rows()[r], w);
  }

 private:
  // One query's walk down the training tree: a node is skipped when its box is out of reach of
  // the query. Walking per query rather than per leaf of queries measured 2.5x faster on 100k x 8
  // blobs at eps 0.5 (1.6 s -> 0.66 s on one thread): a leaf's box is wide in 8 dimensions, and
  // the 400 training leaves within reach of it cost a bound per query each, against some 110
  // nodes a query visits on its own.
  void query(index_t t, index_t q, Workspace& w) {
    const index_t d = queries_.d;
    const T* x = queries_.data + q * d;
    double* acc = w.acc.data();
    w.stack.clear();
    w.stack.push_back(0);
    while (!w.stack.empty()) {
      const index_t node = w.stack.back();
      w.stack.pop_back();
      if (point_bound(x, train_.lo(node), train_.hi(node)) > prune_) continue;
      const TreeNode& tn = train_.nodes()[node];
      if (tn.left >= 0) {
        w.stack.push_back(tn.right);
        w.stack.push_back(tn.left);
        continue;
      }
      // the tile: this query against the whole leaf, feature after feature
      const index_t size = tn.end - tn.begin;
      const T* packed = train_.packed(node);
      std::fill(acc, acc + size, 0.0);
      for (index_t f = 0; f < d; ++f) {
        const double xf = static_cast<double>(x[f]);
        const T* col = packed + f * size;
        for (index_t j = 0; j < size; ++j)
          acc[j] = terms_.add(acc[j], terms_.term(xf - static_cast<double>(col[j])));
      }
      const index_t* train_rows = train_.rows().data() + tn.begin;
      for (index_t j = 0; j < size; ++j)
        if (acc[j] <= reduced_) action_.pair(w.local, t, q, train_rows[j], acc[j]);
    }
  }

 private:
  Rows<T> queries_;
  const BlockTree<T>& qtree_;
  const BlockTree<T>& train_;
  Terms terms_;
  Action& action_;
  double reduced_, prune_;

  // A lower bound of the reduced distance from x to any point of a box; stops summing once
  // beyond the radius (the terms only grow).
  double point_bound(const T* x, const double* lo, const double* hi) const {
    double acc = 0.0;
    for (index_t f = 0; f < queries_.d; ++f) {
      const double v = static_cast<double>(x[f]);
      acc = terms_.add(acc, terms_.term(std::max(0.0, std::max(v - hi[f], lo[f] - v))));
      if (acc > prune_) break;
    }
    return acc;
  }
};

// Rows per training leaf: fewer leaves to walk to, more pairs to compute in each. Measured on one
// thread over 100k x 8 blobs (CPU time, loaded machine): at eps 0.5 on unit blobs (the bench)
// 32 rows 1.04 s, 64 rows 0.90 s, 128 rows 0.96 s; on 20 blobs of spread 0.3 (some 30
// neighbours a point) 3.1 s, 2.5 s, 2.2 s (8 and 16 rows: slower still than 32).
constexpr index_t kTrainLeafRows = 64;
constexpr index_t kQueryLeafRows = 32;

// Runs `action` over every pair within `radius` of queries x train (rows given by the trees).
template <class T, class Action>
void run_radius(Rows<T> queries, const BlockTree<T>& query_tree, const BlockTree<T>& train,
                MetricSpec metric, double radius, Action& action, int n_threads) {
  with_terms(metric, queries.d, [&](auto terms) {
    RadiusReducer<T, decltype(terms), Action> reducer(queries, query_tree, train, terms, radius,
                                                      action);
    for_each_task(static_cast<index_t>(query_tree.leaves().size()), n_threads, reducer);
    return 0;
  });
}

// Threads worth waking for a search from n queries (their tree pruned, a few leaves each).
inline int radius_threads(index_t n_queries, index_t n_train, index_t d, int n_threads) {
  const double pairs = static_cast<double>(n_queries) *
                       static_cast<double>(std::min<index_t>(n_train, 64 * kTrainLeafRows));
  return fastml_region_threads(pairs * (1.0 + 0.5 * static_cast<double>(d)), n_threads);
}

}  // namespace fastml::radius
