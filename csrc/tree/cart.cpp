// CART tree builder, forest driver, prediction and binning (see fastml/cart.hpp).
//
// Statistics of a set of rows are `channels` doubles: [0] the row count, [1] the weight, then
// the weight of each class of each output, the outputs one after the other (classification), or
// sum w*y of each output, then sum w*q of each output (regression, q = y^2, or y log y for
// poisson); see Outputs. A histogram is kBins such blocks per feature; a node's totals are one.
// The absolute error is no sum of per-row statistics: its searches run over the node's rows in
// scan order with running weighted medians (see RankSums), and never use histograms.
#include "fastml/cart.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <numeric>
#include <queue>
#include <utility>

#include "fastml/openmp_helpers.h"

namespace fastml::cart {
namespace {

constexpr double kEpsilon = 10 * std::numeric_limits<double>::epsilon();
constexpr double kInf = std::numeric_limits<double>::infinity();
// Nodes with fewer rows are searched over the bins they occupy alone (small_node_search):
// cheaper than filling and scanning 256-bin histograms. Up to 4096 rows measured no faster.
constexpr index_t kSmallNode = 64;
// Nodes of fewer rows are not grown as they come but deferred, and the subtrees they root grown
// in parallel afterwards (see Builder::grow_depth_first): most nodes of a deep tree are small,
// too small to share one node's work between threads.
constexpr index_t kSubtreeRows = 1 << 14;
// Rows x features below which a node's work stays on one thread. Threads are woken per node, and
// waking a sleeping thread costs up to milliseconds on virtual machines, so only nodes with
// millions of row-features are worth it.
constexpr index_t kParallelWork = 1 << 20;

// splitmix64: tiny state, good enough statistics for feature draws and bootstraps.
struct Random {
  std::uint64_t state;
  std::uint64_t next() {
    std::uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }
  index_t below(index_t n) {  // uniform in [0, n), Lemire's multiply-shift
    return static_cast<index_t>((static_cast<unsigned __int128>(next()) * n) >> 64);
  }
};

// The split stream of a tree is apart from its bootstrap stream, and from the streams of its
// deferred subtrees (see Builder::grow_depth_first).
constexpr std::uint64_t kSplitStream = 0xD1B54A32D192ED03ULL;
constexpr std::uint64_t kSubtreeStream = 0x8CB92BA72F3D8DD7ULL;

// ---- criteria ------------------------------------------------------------------------------

double xlogx_ratio(double x, double w) { return x > 0 ? x * std::log(x / w) : 0.0; }

// Where the outputs' statistics lie in a block (see the top of this file). Classification: the
// classes of output o are channels 2 + start[o] .. 2 + start[o + 1], n_classes = start[n] of
// them in all. Regression: output o's sum w*y is channel 2 + o, its sum w*q channel 2 + n + o.
// Gini's and entropy's proxies sum over every class channel alike, whatever output it is of.
struct Outputs {
  int n = 1;
  int n_classes = 0;           // 0 for regression
  const int* start = nullptr;  // (n + 1), classification only
};

// scikit-learn's proxy of the impurity decrease, summed over the outputs: larger is better,
// -inf forbids the split. friedman_mse sums the outputs' sums first, as scikit-learn. The loops
// over the regression outputs start with output 0 outside them: a single output costs no loop.
// kC > 0 is the channel count known when compiling (see Builder::dispatch): 2 + the classes, or
// 2 + 2 x the outputs.
template <int Crit, int kC = 0>
double proxy(const double* L, const double* R, const Outputs& out) {
  const double wl = L[1], wr = R[1];
  const int n_classes = kC > 0 ? kC - 2 : out.n_classes;
  const int n_outputs = kC > 0 ? (kC - 2) / 2 : out.n;
  if constexpr (Crit == kGini) {
    double l = 0, r = 0;
    for (int k = 0; k < n_classes; ++k) {
      l += L[2 + k] * L[2 + k];
      r += R[2 + k] * R[2 + k];
    }
    return l / wl + r / wr;
  } else if constexpr (Crit == kEntropy) {
    double s = 0;
    for (int k = 0; k < n_classes; ++k)
      s += xlogx_ratio(L[2 + k], wl) + xlogx_ratio(R[2 + k], wr);
    return s;
  } else if constexpr (Crit == kSquaredError) {
    double l = L[2] * L[2], r = R[2] * R[2];
    for (int o = 1; o < n_outputs; ++o) {
      l += L[2 + o] * L[2 + o];
      r += R[2 + o] * R[2 + o];
    }
    return l / wl + r / wr;
  } else if constexpr (Crit == kFriedmanMSE) {
    double sl = L[2], sr = R[2];
    for (int o = 1; o < n_outputs; ++o) {
      sl += L[2 + o];
      sr += R[2 + o];
    }
    const double d = wr * sl - wl * sr;
    return d * d / (wl * wr);
  } else {
    static_assert(Crit == kPoisson);
    double s = 0;
    for (int o = 0; o < n_outputs; ++o) {
      if (L[2 + o] <= kEpsilon || R[2 + o] <= kEpsilon) return -kInf;
      s += L[2 + o] * std::log(L[2 + o] / wl) + R[2 + o] * std::log(R[2 + o] / wr);
    }
    return s;
  }
}

// The proxy's term of the rows S left unsplit, so that proxy(L, R) - parent_term(L + R) is the
// weighted impurity decrease of the split (not for friedman_mse: see present_candidates).
template <int Crit>
double parent_term(const double* S, const Outputs& out) {
  const double w = S[1];
  if constexpr (Crit == kGini) {
    double s = 0;
    for (int k = 0; k < out.n_classes; ++k) s += S[2 + k] * S[2 + k];
    return s / w;
  } else if constexpr (Crit == kEntropy) {
    double s = 0;
    for (int k = 0; k < out.n_classes; ++k) s += xlogx_ratio(S[2 + k], w);
    return s;
  } else if constexpr (Crit == kSquaredError) {
    double s = 0;
    for (int o = 0; o < out.n; ++o) s += S[2 + o] * S[2 + o];
    return s / w;
  } else if constexpr (Crit == kFriedmanMSE) {
    return 0.0;
  } else {
    static_assert(Crit == kPoisson);
    double s = 0;
    for (int o = 0; o < out.n; ++o)
      if (S[2 + o] > kEpsilon) s += S[2 + o] * std::log(S[2 + o] / w);
    return s;
  }
}

// The impurity of output o of the rows S (not for the absolute error).
double output_impurity(int crit, const double* S, const Outputs& out, int o) {
  const double w = S[1];
  switch (crit) {
    case kGini: {
      double s = 0;
      for (int k = out.start[o]; k < out.start[o + 1]; ++k) s += (S[2 + k] / w) * (S[2 + k] / w);
      return 1.0 - s;
    }
    case kEntropy: {
      double s = 0;
      for (int k = out.start[o]; k < out.start[o + 1]; ++k)
        if (S[2 + k] > 0) s -= (S[2 + k] / w) * std::log2(S[2 + k] / w);
      return s;
    }
    case kPoisson:
      return (S[2 + out.n + o] - xlogx_ratio(S[2 + o], w)) / w;
    default: {  // squared error, friedman_mse
      const double mean = S[2 + o] / w;
      return S[2 + out.n + o] / w - mean * mean;
    }
  }
}

// A node's impurity: the mean of its outputs' (scikit-learn's).
double impurity(int crit, const double* S, const Outputs& out) {
  double s = 0;
  for (int o = 0; o < out.n; ++o) s += output_impurity(crit, S, out, o);
  return s / out.n;
}

// The weighted impurity decrease of a split, relative to the root weight (scikit-learn's).
double improvement(int crit, const double* T, const double* L, const double* R,
                   const Outputs& out, double root_weight) {
  const double w = T[1], wl = L[1], wr = R[1];
  if (crit == kFriedmanMSE) {
    double sl = 0, sr = 0;
    for (int o = 0; o < out.n; ++o) {
      sl += L[2 + o];
      sr += R[2 + o];
    }
    const double d = (wr * sl - wl * sr) / out.n;
    return d * d / (wl * wr * w);
  }
  return (w / root_weight) * (impurity(crit, T, out) - wl / w * impurity(crit, L, out) -
                              wr / w * impurity(crit, R, out));
}

// What monotonic constraints bound (single output only): the fraction of class 0, or the mean.
double monotonic_value(const double* S) { return S[2] / S[1]; }

// ---- split search --------------------------------------------------------------------------

// A backup split on another feature for the rows missing the split's (see Tree).
struct Surrogate {
  index_t feature = -1;
  double threshold = 0;
  double cut = 0;             // the same rule in the searched keys (a bin code for codes)
  bool reversed = false;      // keys <= cut go right
  double agreement = -kInf;   // the weight routed as the split routes it
};

struct Split {
  double proxy = -kInf;
  // absolute error only: the children's summed absolute errors and medians (their values)
  double error_left = 0, error_right = 0, median_left = 0, median_right = 0;
  index_t feature = -1;
  double threshold = 0;       // x <= threshold goes left
  double cut = 0;             // the same rule in the searched keys (a bin code for codes)
  bool missing_left = false;  // where rows with a missing value go
  bool has_missing = false;   // whether the node has such rows for this feature
  bool constant = true;       // no candidate could exist: one value and no missing, or all missing
  std::vector<Surrogate> surrogates;  // most agreeing first (Params::surrogates)
};

// What a candidate must satisfy besides its proxy, and scratch for the right-hand statistics.
struct Candidates {
  const double* totals;
  int channels;
  Outputs outputs;
  double min_leaf;
  double min_weight;
  int monotonic;  // constraint of the feature searched
  double lower, upper;
  double* right;
  // Applied to every proxy: proxy * scale + shift. Searches over the rows present on a feature
  // (surrogate splits) set them so that proxies of features with different missing rows compare
  // as impurity decreases (see present_candidates).
  double scale = 1, shift = 0;

  // scikit-learn's test: both children's values within the node's bounds, in the constraint's
  // order.
  bool monotonic_ok(double vl, double vr) const {
    return monotonic == 0 || (vl >= lower && vr >= lower && vl <= upper && vr <= upper &&
                              (vl - vr) * monotonic <= 0);
  }

  template <int Crit, int kC = 0>
  double evaluate(const double* L) const {
    if (L[0] < min_leaf || totals[0] - L[0] < min_leaf) return -kInf;
    const int C = kC > 0 ? kC : channels;
    for (int c = 0; c < C; ++c) right[c] = totals[c] - L[c];
    if (L[1] < min_weight || right[1] < min_weight) return -kInf;
    if (!monotonic_ok(monotonic_value(L), monotonic_value(right))) return -kInf;
    return proxy<Crit, kC>(L, right, outputs) * scale + shift;
  }

  // The absolute error's candidate: n_left rows of weight wl, the children's absolute errors
  // (summed over the rows and the outputs) and medians (of output 0, for the monotonic
  // constraint). scikit-learn's proxy, -(w_l imp_l + w_r imp_r), up to the factor 1 / n_outputs.
  double evaluate_absolute(index_t n_left, double wl, double error_l, double median_l,
                           double error_r, double median_r) const {
    const double wr = totals[1] - wl;
    if (n_left < min_leaf || totals[0] - n_left < min_leaf) return -kInf;
    if (wl < min_weight || wr < min_weight) return -kInf;
    if (!monotonic_ok(median_l, median_r)) return -kInf;
    return -(wr * (error_r / wr)) - (wl * (error_l / wl)) + shift;
  }
};

// Running weighted medians for the absolute error: the weights and weighted targets of the rows
// added so far, summed by target rank in a Fenwick tree. The median follows scikit-learn's rule:
// the smallest target whose cumulative weight exceeds half the total, or the mean of the two
// targets either side when the cumulative weight meets half exactly.
struct RankSums {
  std::vector<double> w, wy;  // 1-based Fenwick arrays over ranks
  index_t size = 0, top = 0;  // top: the largest power of two <= size
  double total_w = 0, total_wy = 0;

  void reset(index_t n) {
    size = n;
    w.assign(n + 1, 0.0);
    wy.assign(n + 1, 0.0);
    total_w = total_wy = 0;
    for (top = 1; top <= n; top <<= 1) {}
    top >>= 1;
  }
  void add(index_t rank, double y, double weight) {
    total_w += weight;
    total_wy += weight * y;
    for (index_t i = rank + 1; i <= size; i += i & -i) {
      w[i] += weight;
      wy[i] += weight * y;
    }
  }
  // The median of the rows added (targets by rank in sorted_y) and their summed absolute error
  // from it: sum over y >= m of w (y - m) plus sum over y < m of w (m - y).
  double median(const double* sorted_y, double& error) const {
    const double half = 0.5 * total_w;
    index_t at = 0;  // ranks below `at` hold less than half the weight
    double rest = half, below_w = 0, below_wy = 0;
    index_t bit = top;
    for (; bit != 0; bit >>= 1) {
      const index_t next = at + bit;
      if (next > size) continue;
      if (rest == w[next]) break;  // the cumulative weight meets half exactly
      if (rest > w[next]) {
        rest -= w[next];
        at = next;
        below_w += w[next];
        below_wy += wy[next];
      }
    }
    double m;
    if (bit == 0) {
      m = sorted_y[at];
    } else {
      // `before`: the rank that completes half the weight; `at`: the next rank holding weight
      index_t before = at;
      double rest_before = rest;
      for (index_t b = bit; b != 0; b >>= 1) {
        const index_t next = before + b;
        if (next <= size && rest_before > w[next]) {
          rest_before -= w[next];
          before = next;
        }
      }
      for (index_t b = bit; b != 0; b >>= 1) {
        const index_t next = at + b;
        if (next <= size && rest >= w[next]) {
          rest -= w[next];
          at = next;
          below_w += w[next];
          below_wy += wy[next];
        }
      }
      m = (sorted_y[before] + sorted_y[at]) / 2;
    }
    const double above_w = total_w - below_w, above_wy = total_wy - below_wy;
    error = (above_wy - m * above_w) + (m * below_w - below_wy);
    return m;
  }
};

// Keys of one feature for the row-level searches: values (exact) or bin codes.
template <class T>
struct ValueKeys {
  const T* column;
  bool missing(std::int32_t r) const { return std::isnan(column[r]); }
  double key(std::int32_t r) const { return static_cast<double>(column[r]); }
  // scikit-learn's midpoint, kept strictly below b
  static double between(double a, double b) {
    double t = a / 2.0 + b / 2.0;
    if (t == b || std::isinf(t)) t = a;
    return t;
  }
  double threshold_between(double a, double b) const { return between(a, b); }
  double random_cut(double lo, double hi, double u) const {
    const double t = lo + u * (hi - lo);
    return t == hi ? lo : t;
  }
  double threshold_at(double cut) const { return cut; }
};

// A split between bins a < b (both holding rows) is placed at scikit-learn's midpoint between the
// largest value of bin a and the smallest of bin b over all rows: with a bin per distinct value
// that is the exact search's threshold, and every training row is routed as its code says.
struct CodeKeys {
  const std::uint8_t* column;  // the feature's code of row 0; row r's is column[r * stride]
  index_t stride;
  const double* low;           // kBins: smallest value of each bin (+inf when empty)
  const double* high;          // kBins: largest value of each bin (-inf when empty)
  std::uint8_t code(std::int32_t r) const { return column[r * stride]; }
  bool missing(std::int32_t r) const { return code(r) == kMissingBin; }
  double key(std::int32_t r) const { return code(r); }
  double threshold_between(double a, double b) const {
    return ValueKeys<float>::between(high[static_cast<int>(a)], low[static_cast<int>(b)]);
  }
  double random_cut(double lo, double hi, double u) const {
    return lo + std::floor(u * (hi - lo));
  }
  // bins <= cut go left: the split lies between the nearest bins holding rows on either side
  double threshold_at(double cut) const {
    int a = static_cast<int>(cut), b = a + 1;
    while (a > 0 && std::isinf(high[a])) --a;
    while (b < kMissingBin - 1 && std::isinf(low[b])) ++b;
    return threshold_between(a, b);
  }
};

// A row of a node and its key, as the sorted searches read them: (value, row) pairs, or a bin
// code and row packed in one integer (code in the high half), which sorts fastest.
template <class T>
double key_of(const std::pair<T, std::int32_t>& p) { return p.first; }
template <class T>
std::int32_t row_of(const std::pair<T, std::int32_t>& p) { return p.second; }
inline double key_of(std::uint64_t p) { return static_cast<double>(p >> 32); }
inline std::int32_t row_of(std::uint64_t p) { return static_cast<std::int32_t>(p & 0xFFFFFFFFu); }

// The occupied bins of a histogram, visited in ascending order by their bits.
struct BinSet {
  std::uint64_t words[kBins / 64] = {};
  bool contains(int b) const { return (words[b >> 6] >> (b & 63)) & 1; }
  void insert(int b) { words[b >> 6] |= std::uint64_t{1} << (b & 63); }
  void erase(int b) { words[b >> 6] &= ~(std::uint64_t{1} << (b & 63)); }
  int first() const {
    for (int w = 0; w < kBins / 64; ++w)
      if (words[w]) return 64 * w + __builtin_ctzll(words[w]);
    return -1;
  }
  int last() const {
    for (int w = kBins / 64 - 1; w >= 0; --w)
      if (words[w]) return 64 * w + 63 - __builtin_clzll(words[w]);
    return -1;
  }
  template <class Visit>
  void for_each(Visit&& visit) const {
    for (int w = 0; w < kBins / 64; ++w)
      for (std::uint64_t bits = words[w]; bits; bits &= bits - 1)
        visit(64 * w + __builtin_ctzll(bits));
  }
};

struct Scratch {
  std::vector<std::uint64_t> codes;
  std::vector<double> bins;  // a small node's histogram of one feature (see small_node_search)
  std::vector<double> batch;             // batched_scan's candidates, (5, kBins)
  std::vector<std::int16_t> batch_cuts;  // and their bins, (kBins, 2)
  std::vector<double> left, missing, right, present;
  std::vector<double> agreement;  // surrogate search: (kBins, 3), see agreement_histogram
  // absolute error: the rows in scan order, and per position the running sums of either side
  std::vector<std::int32_t> sequence, missing_rows;
  std::vector<std::pair<double, double>> targets;  // (y, w) of a set of rows, sorted
  std::vector<double> target_y;                     // their y
  std::vector<double> error_left, median_left, error_right, median_right;
  RankSums sums;
};

}  // namespace

// ---- builder -------------------------------------------------------------------------------

template <class T>
class Builder {
 private:
  struct Task {
    index_t begin = 0, end = 0, depth = 0;
    std::int64_t parent = -1;
    bool is_left = false;
    double lower = -kInf, upper = kInf;
    std::vector<double> totals;
    int hist = -1;  // histogram buffer, or -1
  };
  struct Outcome {
    std::int64_t node;
    bool leaf = true;
    double improvement = 0;
    Task left, right;
  };

 public:
  Builder(const Dataset<T>& data, const Params& params, const double* weight, std::uint64_t seed,
          int n_threads)
      : d_(data),
        p_(params),
        seed_(seed),
        random_{seed ^ kSplitStream},
        n_threads_(std::max(n_threads, 1)),
        own_rows_(std::make_unique<RowState>()),
        rows_(own_rows_->rows),
        cls_(own_rows_->cls),
        w_(own_rows_->w),
        wy_(own_rows_->wy),
        wq_(own_rows_->wq),
        sorted_(own_rows_->sorted),
        side_(own_rows_->side),
        rank_of_(own_rows_->rank_of),
        primary_side_(own_rows_->primary_side) {
    configure();
    for (index_t r = 0; r < d_.n_rows; ++r)
      if (weight[r] != 0) rows_.push_back(static_cast<std::int32_t>(r));
    w_.assign(weight, weight + d_.n_rows);
    // per row and output (row-major): the class's channel less 2, or w*y and w*q
    const index_t n_values = d_.n_rows * n_out_;
    if (K_ > 0) {
      cls_.resize(n_values);
      for (index_t i = 0; i < n_values; ++i)
        cls_[i] = class_start_[i % n_out_] + static_cast<std::int32_t>(d_.y[i]);
    } else {
      wy_.resize(n_values);
      wq_.resize(n_values);
      for (index_t i = 0; i < n_values; ++i) {
        const double y = d_.y[i], w = w_[i / n_out_];
        wy_[i] = w * y;
        wq_[i] = w * (p_.criterion == kPoisson ? (y > 0 ? y * std::log(y) : 0.0) : y * y);
      }
    }
    if (surrogate_) primary_side_.resize(d_.n_rows);
    if (absolute_) rank_of_.resize(n_values);
  }

  // The builder of a subtree deferred by `parent` (see grow_depth_first), on one thread: it
  // shares the parent's per-row state, whose rows it alone touches, and has its own scratch.
  Builder(const Builder& parent, std::uint64_t seed)
      : d_(parent.d_),
        p_(parent.p_),
        seed_(seed),
        random_{seed ^ kSplitStream},
        n_threads_(1),
        rows_(parent.rows_),
        cls_(parent.cls_),
        w_(parent.w_),
        wy_(parent.wy_),
        wq_(parent.wq_),
        sorted_(parent.sorted_),
        side_(parent.side_),
        rank_of_(parent.rank_of_),
        primary_side_(parent.primary_side_) {
    configure();
    root_weight_ = parent.root_weight_;
  }

  // The subtree below a deferred task, its root node 0.
  Tree grow_subtree(Task root) {
    grow_depth_first(std::move(root), false);
    return finish();
  }

 private:
  // What a builder sets up for itself: its options and scratch.
  void configure() {
    n_out_ = static_cast<int>(d_.n_outputs);
    class_start_.assign(1, 0);
    max_classes_ = 0;
    for (int o = 0; o < n_out_ && d_.n_classes; ++o) {
      class_start_.push_back(class_start_.back() + d_.n_classes[o]);
      max_classes_ = std::max(max_classes_, d_.n_classes[o]);
    }
    K_ = class_start_.back();
    outputs_ = Outputs{n_out_, K_, K_ > 0 ? class_start_.data() : nullptr};
    C_ = K_ > 0 ? 2 + K_ : 2 + 2 * n_out_;
    hist_mode_ = d_.codes != nullptr;
    absolute_ = p_.criterion == kAbsoluteError;
    surrogate_ = p_.surrogates;
    subtract_ = hist_mode_ && !absolute_ && !p_.random_splitter &&
                p_.max_features >= d_.n_features && p_.max_leaf_nodes == 0;
    scratch_.resize(n_threads_);
    for (Scratch& s : scratch_) {
      if (hist_mode_) {
        s.bins.resize(static_cast<std::size_t>(kBins) * C_);
        s.batch.resize(5 * kBins);
        s.batch_cuts.resize(2 * kBins);
      }
      s.left.resize(C_);
      s.missing.resize(C_);
      s.right.resize(C_);
      s.present.resize(C_);
    }
    order_.resize(d_.n_features);
    all_features_.resize(d_.n_features);
    std::iota(all_features_.begin(), all_features_.end(), index_t{0});
    results_.resize(d_.n_features);
    sorted_tmp_.resize(n_threads_);
    if (surrogate_) surrogate_results_.resize(d_.n_features);
    draw_u_.resize(d_.n_features);
    draw_side_.resize(d_.n_features);
  }

 public:
  Tree grow() {
    Task root = root_task();
    if (root.end == 0) return finish();  // no row of non-zero weight: see build_forest
    if (!hist_mode_ && !p_.random_splitter) presort();
    if (p_.max_leaf_nodes > 0) {
      grow_best_first(std::move(root));
    } else {
      grow_depth_first(std::move(root), true);
      grow_deferred();
    }
    return finish();
  }

  // The root alone, a leaf over every row of non-zero weight.
  Tree grow_leaf() {
    Task root = root_task();
    if (root.end > 0) add_node(root);
    return finish();
  }

 private:
  Task root_task() {
    Task root;
    root.begin = 0;
    root.end = static_cast<index_t>(rows_.size());
    root.totals.assign(C_, 0.0);
    for (std::int32_t r : rows_) add_row(root.totals.data(), r);
    root_weight_ = root.totals[1];
    return root;
  }

  // ---- growth orders ----

  // With defer, a task of fewer than kSubtreeRows rows (not the root) is set aside with its
  // parent's link; grow_deferred() grows them. The rule depends on row counts alone, and each
  // subtree draws from its own stream, so the tree does not depend on the thread count.
  void grow_depth_first(Task root, bool defer) {
    defer_ = defer;
    std::vector<Task> stack;
    stack.push_back(std::move(root));
    while (!stack.empty()) {
      Task task = std::move(stack.back());
      stack.pop_back();
      if (defer && task.parent >= 0 && task.end - task.begin < kSubtreeRows) {
        release(task.hist);  // a subtree fills its own histograms
        deferred_.push_back(std::move(task));
        continue;
      }
      Outcome out = evaluate(task);
      if (out.leaf) continue;
      commit(out.node);
      stack.push_back(std::move(out.right));  // the left child is popped first: preorder ids
      stack.push_back(std::move(out.left));
    }
  }

  // Grows the deferred subtrees, on n_threads_ threads, subtree i from its own stream; finish()
  // links them in.
  void grow_deferred() {
    // the subtrees fill histograms of their own: this builder's are done with
    hists_ = {};
    valid_ = {};
    free_ = {};
    subtrees_.resize(deferred_.size());
    FirstException error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads_) \
    if (n_threads_ > 1 && deferred_.size() > 1)
    for (std::size_t i = 0; i < deferred_.size(); ++i) {
      error.run([&] {
        Random stream{seed_ ^ kSubtreeStream ^ (0x9E3779B97F4A7C15ULL * (i + 1))};
        Task task = deferred_[i];
        task.parent = -1;  // the subtree's root is its node 0
        subtrees_[i] = Builder(*this, stream.next()).grow_subtree(std::move(task));
      });
    }
    error.rethrow();
  }

  void grow_best_first(Task root) {
    auto lower_priority = [](const Outcome& a, const Outcome& b) {
      return a.improvement < b.improvement || (a.improvement == b.improvement && a.node > b.node);
    };
    std::priority_queue<Outcome, std::vector<Outcome>, decltype(lower_priority)> frontier(
        lower_priority);
    Outcome first = evaluate(root);
    if (!first.leaf) frontier.push(std::move(first));
    for (index_t splits_left = p_.max_leaf_nodes - 1; splits_left > 0 && !frontier.empty();
         --splits_left) {
      Outcome out = std::move(const_cast<Outcome&>(frontier.top()));
      frontier.pop();
      commit(out.node);
      for (Task* child : {&out.left, &out.right}) {
        Outcome next = evaluate(*child);
        if (!next.leaf) frontier.push(std::move(next));
      }
    }
  }

  // ---- one node ----

  // Adds the node of task as a leaf and searches its split; a split found is applied to the
  // rows (the node becomes internal only when commit() is called).
  Outcome evaluate(Task& task) {
    Outcome out;
    out.node = add_node(task);
    const double* S = task.totals.data();
    const index_t n = task.end - task.begin;
    const double imp = tree_.impurity[out.node];
    bool leaf = task.depth >= p_.max_depth || n < p_.min_samples_split ||
                n < 2 * p_.min_samples_leaf || S[1] < 2 * p_.min_weight_leaf || imp <= kEpsilon;
    Split split;
    if (!leaf) {
      node_error_ = imp * S[1] * n_out_;
      split = find_split(task);
      leaf = split.feature < 0;
    }
    if (!leaf) {
      if (surrogate_) find_surrogates(task, split);
      out.left = child_of(task, out.node, true);
      out.right = child_of(task, out.node, false);
      partition(task, split, out.left, out.right);
      if (absolute_ && surrogate_ && split.has_missing) {
        // the search saw the present rows alone: the children's errors and medians over the
        // rows the surrogates routed too
        split.median_left = median_and_error(scratch_[0], rows_.data() + out.left.begin,
                                             out.left.end - out.left.begin, split.error_left);
        split.median_right = median_and_error(scratch_[0], rows_.data() + out.right.begin,
                                              out.right.end - out.right.begin, split.error_right);
      }
      if (absolute_) {
        const double w = S[1], wl = out.left.totals[1], wr = out.right.totals[1];
        out.improvement = (w / root_weight_) * (imp - wl / w * (split.error_left / wl / n_out_) -
                                                wr / w * (split.error_right / wr / n_out_));
      } else {
        out.improvement = improvement(p_.criterion, S, out.left.totals.data(),
                                      out.right.totals.data(), outputs_, root_weight_);
      }
      leaf = out.improvement + kEpsilon < p_.min_impurity_decrease;
    }
    if (leaf) {
      release(task.hist);
      return out;
    }
    out.leaf = false;
    pending_[out.node] = split;
    bound_children(split, out.left, out.right);
    share_histograms(task, out.left, out.right);
    return out;
  }

  std::int64_t add_node(const Task& task) {
    const std::int64_t id = tree_.n_nodes();
    const double* S = task.totals.data();
    tree_.children_left.push_back(-1);
    tree_.children_right.push_back(-1);
    tree_.feature.push_back(-2);
    tree_.threshold.push_back(-2.0);
    tree_.missing_go_to_left.push_back(0);
    tree_.n_node_samples.push_back(static_cast<std::int64_t>(S[0]));
    tree_.weighted_n_node_samples.push_back(S[1]);
    // regression: the node's values before clipping
    std::vector<double>& target = node_target_;
    target.resize(n_out_);
    if (absolute_) {
      double error = 0;
      median_and_error(scratch_[0], rows_.data() + task.begin, task.end - task.begin, error,
                       target.data());
      tree_.impurity.push_back(error / S[1] / n_out_);
    } else {
      if (K_ == 0)
        for (int o = 0; o < n_out_; ++o) target[o] = S[2 + o] / S[1];
      tree_.impurity.push_back(impurity(p_.criterion, S, outputs_));
    }
    // monotonic constraints come with a single output
    const bool clip = p_.monotonic_cst != nullptr;
    if (K_ > 0) {
      const std::size_t first = tree_.value.size();
      for (int o = 0; o < n_out_; ++o)
        for (int k = class_start_[o]; k < class_start_[o] + max_classes_; ++k)
          tree_.value.push_back(k < class_start_[o + 1] ? S[2 + k] / S[1] : 0.0);
      if (clip && K_ == 2) {
        tree_.value[first] = std::clamp(tree_.value[first], task.lower, task.upper);
        tree_.value[first + 1] = 1.0 - tree_.value[first];
      }
    } else {
      for (double v : target)
        tree_.value.push_back(clip ? std::clamp(v, task.lower, task.upper) : v);
    }
    if (task.parent >= 0)
      (task.is_left ? tree_.children_left : tree_.children_right)[task.parent] = id;
    pending_.emplace_back();
    return id;
  }

  void commit(std::int64_t node) {
    const Split& s = pending_[node];
    tree_.feature[node] = s.feature;
    tree_.threshold[node] = s.threshold;
    tree_.missing_go_to_left[node] = s.missing_left;
  }

  // The surrogates of the committed splits, by node id (splits are committed out of id order
  // when growing best first); then the deferred subtrees linked in, and the nodes numbered in
  // preorder.
  Tree finish() {
    tree_.surrogate_ptr.assign(1, 0);
    for (index_t node = 0; node < tree_.n_nodes(); ++node) {
      if (tree_.feature[node] >= 0) {
        for (const Surrogate& s : pending_[node].surrogates) {
          tree_.surrogate_feature.push_back(s.feature);
          tree_.surrogate_threshold.push_back(s.threshold);
          tree_.surrogate_reversed.push_back(s.reversed);
        }
      }
      tree_.surrogate_ptr.push_back(static_cast<std::int64_t>(tree_.surrogate_feature.size()));
    }
    if (subtrees_.empty()) return std::move(tree_);
    for (std::size_t i = 0; i < subtrees_.size(); ++i)
      append(subtrees_[i], deferred_[i].parent, deferred_[i].is_left);
    return preorder(tree_);
  }

  // Appends a subtree's nodes, its root the given child of `parent`.
  void append(const Tree& sub, std::int64_t parent, bool is_left) {
    const auto base = static_cast<std::int64_t>(tree_.n_nodes());
    const auto base_surrogate = static_cast<std::int64_t>(tree_.surrogate_feature.size());
    auto extend = [](auto& to, const auto& from) { to.insert(to.end(), from.begin(), from.end()); };
    for (auto [to, from] : {std::pair{&tree_.children_left, &sub.children_left},
                            std::pair{&tree_.children_right, &sub.children_right}})
      for (std::int64_t child : *from) to->push_back(child < 0 ? child : child + base);
    extend(tree_.feature, sub.feature);
    extend(tree_.n_node_samples, sub.n_node_samples);
    extend(tree_.threshold, sub.threshold);
    extend(tree_.impurity, sub.impurity);
    extend(tree_.weighted_n_node_samples, sub.weighted_n_node_samples);
    extend(tree_.value, sub.value);
    extend(tree_.missing_go_to_left, sub.missing_go_to_left);
    for (std::size_t i = 1; i < sub.surrogate_ptr.size(); ++i)
      tree_.surrogate_ptr.push_back(base_surrogate + sub.surrogate_ptr[i]);
    extend(tree_.surrogate_feature, sub.surrogate_feature);
    extend(tree_.surrogate_threshold, sub.surrogate_threshold);
    extend(tree_.surrogate_reversed, sub.surrogate_reversed);
    (is_left ? tree_.children_left : tree_.children_right)[parent] = base;
  }

  // The tree with its nodes renumbered in depth-first preorder (scikit-learn's numbering).
  static Tree preorder(const Tree& t) {
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

  Task child_of(const Task& parent, std::int64_t node, bool is_left) const {
    Task c;
    c.depth = parent.depth + 1;
    c.parent = node;
    c.is_left = is_left;
    c.lower = parent.lower;
    c.upper = parent.upper;
    c.totals.assign(C_, 0.0);
    return c;
  }

  // scikit-learn's bounds: a constrained split puts the children on either side of their mean.
  void bound_children(const Split& s, Task& left, Task& right) const {
    const int cst = p_.monotonic_cst ? p_.monotonic_cst[s.feature] : 0;
    if (cst == 0) return;
    const double middle =
        absolute_ ? (s.median_left + s.median_right) / 2
                  : (monotonic_value(left.totals.data()) + monotonic_value(right.totals.data())) / 2;
    Task& below = cst > 0 ? left : right;
    Task& above = cst > 0 ? right : left;
    below.upper = middle;
    above.lower = middle;
  }

  void add_row(double* S, std::int32_t r) const {
    if (n_out_ == 1)
      add_row_of<1>(S, r);
    else
      add_row_of<0>(S, r);
  }

  // add_row for kOutputs outputs, 0 meaning n_out_ (see fill_rows).
  template <int kOutputs>
  void add_row_of(double* S, std::int32_t r) const {
    const int n_out = kOutputs > 0 ? kOutputs : n_out_;
    S[0] += 1;
    S[1] += w_[r];
    const index_t at = static_cast<index_t>(r) * n_out;
    if (K_ > 0) {
      for (int o = 0; o < n_out; ++o) S[2 + cls_[at + o]] += w_[r];
    } else {
      for (int o = 0; o < n_out; ++o) {
        S[2 + o] += wy_[at + o];
        S[2 + n_out + o] += wq_[at + o];
      }
    }
  }

  // Moves the left rows to the front of the task's range, in their order (stable: rows keep
  // ascending, so gathers stay close to sequential), and sums both children's statistics.
  void partition(const Task& task, Split& split, Task& left, Task& right) {
    const index_t f = split.feature;
    buffer_.resize(task.end - task.begin);
    index_t n_left = 0, n_right = 0;
    auto route = [&](auto goes_left) {
      for (index_t i = task.begin; i < task.end; ++i) {
        const std::int32_t r = rows_[i];
          if (goes_left(r)) {
          rows_[task.begin + n_left++] = r;
          add_row(left.totals.data(), r);
        } else {
          buffer_[n_right++] = r;
          add_row(right.totals.data(), r);
        }
      }
    };
    if (hist_mode_) {
      const CodeKeys keys{d_.codes + f, d_.n_features, nullptr, nullptr};
      const int cut = static_cast<int>(split.cut);
      route([&](std::int32_t r) {
        const int code = keys.code(r);
        return code == kMissingBin ? missing_goes_left(split, r) : code <= cut;
      });
    } else {
      const T* col = d_.values + f * d_.n_rows;
      const double t = split.threshold;
      route([&](std::int32_t r) {
        const double x = col[r];
        return std::isnan(x) ? missing_goes_left(split, r) : x <= t;
      });
    }
    std::copy(buffer_.begin(), buffer_.begin() + n_right, rows_.begin() + task.begin + n_left);
    left.begin = task.begin;
    left.end = right.begin = task.begin + n_left;
    right.end = task.end;
    if (!sorted_.empty()) partition_presorted(task, n_left);
    if (!split.has_missing && !surrogate_) split.missing_left = n_left > n_right;
  }

  // Where row r, missing the split's feature, goes: by the first surrogate it is present on.
  bool missing_goes_left(const Split& split, std::int32_t r) const {
    for (const Surrogate& s : split.surrogates) {
      if (hist_mode_) {
        const int code = d_.codes[static_cast<index_t>(r) * d_.n_features + s.feature];
        if (code != kMissingBin) return (code <= s.cut) != s.reversed;
      } else {
        const double x = d_.values[s.feature * d_.n_rows + r];
        if (!std::isnan(x)) return (x <= s.threshold) != s.reversed;
      }
    }
    return split.missing_left;
  }

  // ---- presorted lists (exact search) ----

  // Every feature's rows sorted once by value, missing values last; partition() keeps each
  // node's segment sorted, so no node sorts again (the classic presorting CART).
  void presort() {
    const index_t m = static_cast<index_t>(rows_.size()), F = d_.n_features;
    sorted_.resize(static_cast<std::size_t>(m) * F);
    side_.assign(d_.n_rows, 0);
    // nothing in the region allocates (std::sort does not), so no exception can leave it
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads_) if (n_threads_ > 1)
    for (index_t f = 0; f < F; ++f) {
      const T* col = d_.values + f * d_.n_rows;
      Sorted* seg = sorted_.data() + f * m;
      for (index_t i = 0; i < m; ++i) seg[i] = Sorted(col[rows_[i]], rows_[i]);
      std::sort(seg, seg + m, [](const Sorted& a, const Sorted& b) {
        const bool na = std::isnan(a.first), nb = std::isnan(b.first);
        if (na != nb) return nb;
        if (na) return a.second < b.second;
        return a < b;
      });
    }
  }

  // Splits every feature's segment of the task into the children's, in order.
  void partition_presorted(const Task& task, index_t n_left) {
    const index_t m = static_cast<index_t>(rows_.size()), F = d_.n_features;
    const index_t n = task.end - task.begin;
    for (index_t i = task.begin; i < task.end; ++i) side_[rows_[i]] = i < task.begin + n_left;
    const int threads = n_threads_ > 1 && n * F >= kParallelWork
                            ? static_cast<int>(std::min<index_t>(n_threads_, F)) : 1;
    // Every feature sends the same n - n_left rows right: each thread's buffer is reserved for
    // them here, as an allocation failing inside the region would end the process.
    for (int t = 0; t < threads; ++t) sorted_tmp_[t].reserve(n - n_left);
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (index_t f = 0; f < F; ++f) {
      Sorted* seg = sorted_.data() + f * m;
      std::vector<Sorted>& right = sorted_tmp_[omp_get_thread_num()];
      right.clear();
      index_t out = task.begin;
      for (index_t i = task.begin; i < task.end; ++i) {
        if (side_[seg[i].second])
          seg[out++] = seg[i];
        else
          right.push_back(seg[i]);
      }
      std::copy(right.begin(), right.end(), seg + out);
    }
  }

  // ---- histograms ----

  int acquire() {
    if (free_.empty()) {
      hists_.emplace_back(static_cast<std::size_t>(d_.n_features) * kBins * C_);
      valid_.emplace_back(d_.n_features, 0);
      return static_cast<int>(hists_.size()) - 1;
    }
    const int h = free_.back();
    free_.pop_back();
    std::fill(valid_[h].begin(), valid_[h].end(), 0);
    return h;
  }
  void release(int& h) {
    if (h >= 0) free_.push_back(h);
    h = -1;
  }
  double* hist(int h, index_t f) { return hists_[h].data() + f * kBins * C_; }

  // Fills the histograms of the given features for the task's rows. Codes are row-major, so a
  // row's codes of every feature share one cache line: rows are visited once, and each thread
  // (over a contiguous share of the features) fills whole histograms in row order.
  void fill_histograms(const Task& task, int h, const index_t* features, index_t count) {
    if (count == 0) return;
    const index_t n = task.end - task.begin;
    const int chunks = n * count >= kParallelWork ? std::min<int>(n_threads_, count) : 1;
    if (chunks == 1) {  // no region: see search_batch
      fill_some(task, h, features, count);
    } else {
      // fill_some() writes into the histogram alone: nothing in the region allocates
#pragma omp parallel for schedule(static, 1) num_threads(chunks)
      for (int chunk = 0; chunk < chunks; ++chunk) {
        const index_t first = count * chunk / chunks, last = count * (chunk + 1) / chunks;
        fill_some(task, h, features + first, last - first);
      }
    }
    for (index_t j = 0; j < count; ++j) valid_[h][features[j]] = 1;
  }

  void fill_some(const Task& task, int h, const index_t* features, index_t count) {
    if (n_out_ == 1)
      fill_rows<1>(task, h, features, count);
    else
      fill_rows<0>(task, h, features, count);
  }

  // The histogram pass for kOutputs outputs, 0 meaning n_out_: with one output the compiler sees
  // loops of length 1, and the pass runs as fast as a single-output one can.
  template <int kOutputs>
  void fill_rows(const Task& task, int h, const index_t* features, index_t count) {
    const int C = C_;
    const int n_out = kOutputs > 0 ? kOutputs : n_out_;
    const index_t F = d_.n_features;
    for (index_t j = 0; j < count; ++j) {
      double* H = hist(h, features[j]);
      std::fill(H, H + kBins * C, 0.0);
    }
    double* base = hists_[h].data();
    const index_t stride = kBins * C;
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      const std::uint8_t* codes = d_.codes + static_cast<index_t>(r) * F;
      const double w = w_[r];
      const index_t at = static_cast<index_t>(r) * n_out;
      if (K_ > 0) {
        const std::int32_t* k = cls_.data() + at;
        for (index_t j = 0; j < count; ++j) {
          const index_t f = features[j];
          double* bin = base + f * stride + codes[f] * C;
          bin[0] += 1;
          bin[1] += w;
          for (int o = 0; o < n_out; ++o) bin[2 + k[o]] += w;
        }
      } else {
        const double* wy = wy_.data() + at;
        const double* wq = wq_.data() + at;
        for (index_t j = 0; j < count; ++j) {
          const index_t f = features[j];
          double* bin = base + f * stride + codes[f] * C;
          bin[0] += 1;
          bin[1] += w;
          for (int o = 0; o < n_out; ++o) {
            bin[2 + o] += wy[o];
            bin[2 + n_out + o] += wq[o];
          }
        }
      }
    }
  }

  // The smaller child's histograms are filled, the larger's are the parent's minus them.
  void share_histograms(Task& parent, Task& left, Task& right) {
    const index_t nl = left.end - left.begin, nr = right.end - right.begin;
    const bool complete = parent.hist >= 0 &&
        std::all_of(valid_[parent.hist].begin(), valid_[parent.hist].end(), [](char v) { return v; });
    // children searched by sorting, or both deferred, need no histogram
    const index_t no_histogram_below = defer_ ? std::max(kSmallNode, kSubtreeRows) : kSmallNode;
    if (!subtract_ || !complete || std::max(nl, nr) < no_histogram_below) {
      release(parent.hist);
      return;
    }
    Task& small = nl <= nr ? left : right;
    Task& large = nl <= nr ? right : left;
    small.hist = acquire();
    large.hist = parent.hist;
    parent.hist = -1;
    fill_histograms(small, small.hist, all_features_.data(), d_.n_features);
    const double* hs = hists_[small.hist].data();
    double* hl = hists_[large.hist].data();
    for (std::size_t i = 0; i < hists_[large.hist].size(); ++i) hl[i] -= hs[i];
  }

  // ---- feature search ----

  // Draws features without replacement (Fisher-Yates, as scikit-learn) until max_features have
  // been searched and one of them was not constant; the best proxy wins, ties to the first drawn.
  Split find_split(Task& task) {
    const index_t F = d_.n_features;
    std::iota(order_.begin(), order_.end(), index_t{0});
    const index_t n = task.end - task.begin;
    const bool histograms = hist_mode_ && !absolute_ && !p_.random_splitter && n >= kSmallNode;
    if (histograms && task.hist < 0) task.hist = acquire();
    if (absolute_ && !p_.random_splitter) rank_targets(task);  // the random search sorts sides
    Split best;
    bool found_variable = false;
    index_t visited = 0;
    while (visited < F && (visited < p_.max_features || !found_variable)) {
      const index_t batch = std::min(std::max(p_.max_features - visited, index_t{1}), F - visited);
      for (index_t i = visited; i < visited + batch; ++i) {
        std::swap(order_[i], order_[i + random_.below(F - i)]);
        if (p_.random_splitter) {
          draw_u_[i] = random_.uniform();
          draw_side_[i] = random_.next() & 1;
        }
      }
      if (histograms) {
        missing_.clear();
        for (index_t i = visited; i < visited + batch; ++i)
          if (!valid_[task.hist][order_[i]]) missing_.push_back(order_[i]);
        fill_histograms(task, task.hist, missing_.data(), static_cast<index_t>(missing_.size()));
      }
      search_batch(task, visited, batch, histograms);
      for (index_t i = visited; i < visited + batch; ++i) {
        const Split& s = results_[i];
        found_variable = found_variable || !s.constant;
        if (s.proxy > best.proxy) best = s;
      }
      visited += batch;
    }
    if (!subtract_) release(task.hist);
    return best;
  }

  void search_batch(Task& task, index_t first, index_t count, bool histograms) {
    const index_t n = task.end - task.begin;
    // a histogram's scan does not depend on n, and is too short to share
    if (n_threads_ == 1 || histograms || count == 1 || n * count < kParallelWork) {
      // no region at all: entering one, even with if(false), costs the OpenMP runtime about a
      // thousand instructions (callgrind), 3% of those of a fully grown regression tree, whose
      // nodes mostly hold a few rows
      for (index_t i = first; i < first + count; ++i)
        results_[i] = search_feature(task, order_[i], i, histograms, scratch_[0]);
      return;
    }
    // a search grows its thread's scratch as it needs, which can throw: FirstException carries
    // the exception out of the region
    FirstException error;
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads_)
    for (index_t i = first; i < first + count; ++i) {
      error.run([&] {
        results_[i] = search_feature(task, order_[i], i, histograms,
                                     scratch_[omp_get_thread_num()]);
      });
    }
    error.rethrow();
  }

  Split search_feature(Task& task, index_t f, index_t draw, bool histograms, Scratch& s) {
    Candidates cand{task.totals.data(), C_, outputs_, static_cast<double>(p_.min_samples_leaf),
                    p_.min_weight_leaf, p_.monotonic_cst ? p_.monotonic_cst[f] : 0,
                    task.lower, task.upper, s.right.data()};
    Split out;
    if (hist_mode_) {
      const CodeKeys keys{d_.codes + f, d_.n_features, d_.bin_bounds + f * kBins,
                          d_.bin_bounds + (d_.n_features + f) * kBins};
      if (p_.random_splitter) {
        random_search(task, keys, cand, s, draw_u_[draw], draw_side_[draw], out);
      } else if (histograms) {
        const double* H = hist(task.hist, f);
        dispatch([&](auto crit, auto kc) {
          histogram_search<decltype(crit)::value, decltype(kc)::value>(H, keys, cand, s, out);
        });
      } else if (absolute_) {
        sort_codes(task, keys, s);
        absolute_search(s.codes.data(), static_cast<index_t>(s.codes.size()), keys, cand, s, out);
      } else {
        dispatch([&](auto crit, auto kc) {
          small_node_search<decltype(crit)::value, decltype(kc)::value>(task, keys, cand, s, out);
        });
      }
    } else {
      const ValueKeys<T> keys{d_.values + f * d_.n_rows};
      if (p_.random_splitter) {
        random_search(task, keys, cand, s, draw_u_[draw], draw_side_[draw], out);
      } else {
        const index_t m = presorted_segment(task, f, s);
        const Sorted* pairs = sorted_.data() + f * rows_.size() + task.begin;
        const ValueKeys<T> no_column{nullptr};  // the keys are in the pairs
        if (absolute_)
          absolute_search(pairs, m, no_column, cand, s, out);
        else
          dispatch([&](auto crit, auto kc) {
            sorted_search<decltype(crit)::value, decltype(kc)::value>(pairs, m, no_column, cand, s,
                                                                      out);
          });
      }
    }
    out.feature = out.proxy > -kInf ? f : -1;
    return out;
  }

  // Calls search(criterion, channels) with both as compile-time constants; channels is 4 for
  // one output of two classes or one regression output (the common cases, whose loops then
  // unroll), else 0 for C_ at run time.
  template <class F>
  void dispatch(F&& search) const {
    if (C_ == 4 && n_out_ == 1)
      dispatch_criterion<4>(search);
    else
      dispatch_criterion<0>(search);
  }
  template <int kC, class F>
  void dispatch_criterion(F& search) const {
    const std::integral_constant<int, kC> channels;
    switch (p_.criterion) {
      case kGini: return search(std::integral_constant<int, kGini>{}, channels);
      case kEntropy: return search(std::integral_constant<int, kEntropy>{}, channels);
      case kSquaredError: return search(std::integral_constant<int, kSquaredError>{}, channels);
      case kFriedmanMSE: return search(std::integral_constant<int, kFriedmanMSE>{}, channels);
      default: return search(std::integral_constant<int, kPoisson>{}, channels);
    }
  }

  static void take(Split& out, double proxy, double threshold, double cut, bool missing_left) {
    if (proxy > out.proxy) {
      out.proxy = proxy;
      out.threshold = threshold;
      out.cut = cut;
      out.missing_left = missing_left;
    }
  }

  template <int kC = 0>
  void add(double* L, const double* S) const {
    const int C = kC > 0 ? kC : C_;
    for (int c = 0; c < C; ++c) L[c] += S[c];
  }

  // The search over a node's histogram of one feature, in both_sides' order.
  template <int Crit, int kC, class Keys>
  void histogram_search(const double* H, const Keys& keys, const Candidates& cand, Scratch& s,
                        Split& out) const {
    BinSet occupied;
    for (int b = 0; b < kMissingBin; ++b)
      if (H[b * C_] > 0) occupied.insert(b);
    bins_search<Crit, kC>(H, occupied, H + kMissingBin * C_, keys, cand, s, out);
  }

  // The search of a node under kSmallNode rows: a histogram of the bins its rows occupy, each
  // zeroed when first met and visited in order from a bitmap. Filling and scanning 256 bins, or
  // sorting the rows by code, each cost more than the rows themselves here. A bin's rows are
  // added in row order, as the node's rows ascend: the sums of a sort by (code, row).
  template <int Crit, int kC>
  void small_node_search(const Task& task, const CodeKeys& keys, const Candidates& cand,
                         Scratch& s, Split& out) const {
    double* H = s.bins.data();
    BinSet occupied;
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      const int b = keys.code(r);
      double* bin = H + b * C_;
      if (!occupied.contains(b)) {
        occupied.insert(b);
        std::fill(bin, bin + C_, 0.0);
      }
      if constexpr (kC > 0)
        add_row_of<1>(bin, r);
      else
        add_row(bin, r);
    }
    double* M = s.missing.data();
    if (occupied.contains(kMissingBin)) {
      std::copy(H + kMissingBin * C_, H + kBins * C_, M);
      occupied.erase(kMissingBin);
    } else {
      std::fill(M, M + C_, 0.0);
    }
    bins_search<Crit, kC>(H, occupied, M, keys, cand, s, out);
  }

  // Every threshold between two occupied bins of H, scanned in both_sides' order; M holds the
  // missing rows' statistics.
  template <int Crit, int kC, class Keys>
  void bins_search(const double* H, const BinSet& occupied, const double* M, const Keys& keys,
                   const Candidates& cand, Scratch& s, Split& out) const {
    out.has_missing = M[0] > 0;
    const int first = occupied.first(), last = occupied.last();
    out.constant = first < 0 || (first == last && (surrogate_ || !out.has_missing));
    if (out.constant) return;
    both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left, const Candidates& c) {
      if constexpr (kC == 4 && (Crit == kGini || Crit == kSquaredError || Crit == kFriedmanMSE)) {
        if (c.monotonic == 0)
          return batched_scan<Crit>(H, occupied, keys, c, s, L, missing_left, out);
      }
      int prev = -1;
      occupied.for_each([&](int b) {
        if (prev >= 0)
          take(out, c.template evaluate<Crit, kC>(L), keys.threshold_between(prev, b), prev,
               missing_left);
        add<kC>(L, H + b * C_);
        prev = b;
      });
    });
  }

  // bins_search's scan for 4 channels, without monotonic constraint: the left statistics at
  // every threshold are stored first, then every proxy is computed in one loop without branches
  // (the compiler's vector loop: a candidate a few cycles instead of a chain of tests and two
  // divisions), then the first best is taken. The same operations in the same order as
  // Candidates::evaluate, so the same proxies to the bit.
  template <int Crit, class Keys>
  void batched_scan(const double* H, const BinSet& occupied, const Keys& keys,
                    const Candidates& c, Scratch& s, double* L, bool missing_left,
                    Split& out) const {
    double* count = s.batch.data();
    double* weight = count + kBins;
    double* stat2 = weight + kBins;
    double* stat3 = stat2 + kBins;
    double* proxies = stat3 + kBins;
    std::int16_t* cuts = s.batch_cuts.data();  // (kBins, 2): the bins either side
    int m = 0, prev = -1;
    occupied.for_each([&](int b) {
      if (prev >= 0) {
        count[m] = L[0];
        weight[m] = L[1];
        stat2[m] = L[2];
        stat3[m] = L[3];
        cuts[2 * m] = static_cast<std::int16_t>(prev);
        cuts[2 * m + 1] = static_cast<std::int16_t>(b);
        ++m;
      }
      add<4>(L, H + b * 4);
      prev = b;
    });
    const double* totals = c.totals;
    for (int j = 0; j < m; ++j) {
      const double left[4] = {count[j], weight[j], stat2[j], stat3[j]};
      double right[4];
      for (int k = 0; k < 4; ++k) right[k] = totals[k] - left[k];
      const bool ok = left[0] >= c.min_leaf && right[0] >= c.min_leaf &&
                      left[1] >= c.min_weight && right[1] >= c.min_weight;
      const double p = proxy<Crit, 4>(left, right, c.outputs);
      proxies[j] = ok ? p * c.scale + c.shift : -kInf;
    }
    for (int j = 0; j < m; ++j)
      if (proxies[j] > out.proxy)
        take(out, proxies[j], keys.threshold_between(cuts[2 * j], cuts[2 * j + 1]), cuts[2 * j],
             missing_left);
  }

  // The node's non-missing rows sorted by code into s.codes (the absolute error's search on
  // codes); the missing rows' statistics into s.missing, and the rows themselves into
  // s.missing_rows.
  void sort_codes(const Task& task, const CodeKeys& keys, Scratch& s) const {
    auto& pairs = s.codes;
    pairs.clear();
    s.missing_rows.clear();
    double* M = s.missing.data();
    std::fill(M, M + C_, 0.0);
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      if (keys.missing(r)) {
        add_row(M, r);
        s.missing_rows.push_back(r);
      } else {
        pairs.push_back(static_cast<std::uint64_t>(keys.code(r)) << 32 | static_cast<std::uint32_t>(r));
      }
    }
    std::sort(pairs.begin(), pairs.end());
  }

  // The exact search's rows: the node's segment of the feature's presorted list, whose missing
  // values come last. Returns the count of non-missing rows; the missing rows as sort_codes.
  index_t presorted_segment(const Task& task, index_t f, Scratch& s) const {
    const Sorted* seg = sorted_.data() + f * rows_.size();
    double* M = s.missing.data();
    std::fill(M, M + C_, 0.0);
    s.missing_rows.clear();
    index_t m = task.end;
    while (m > task.begin && std::isnan(seg[m - 1].first)) {
      add_row(M, seg[--m].second);
      if (absolute_) s.missing_rows.push_back(seg[m].second);
    }
    // ascending rows, as sort_codes queues them: the same running sums, the same rounding
    std::reverse(s.missing_rows.begin(), s.missing_rows.end());
    return m - task.begin;
  }

  // The search over the non-missing rows of a node in ascending key order (pairs of key and row;
  // s.missing holds the statistics of the missing rows): candidates sit between distinct keys.
  template <int Crit, int kC, class Keys, class Pair>
  void sorted_search(const Pair* pairs, index_t m, const Keys& keys, const Candidates& cand,
                     Scratch& s, Split& out) const {
    const double* M = s.missing.data();
    out.has_missing = M[0] > 0;
    out.constant = m == 0 ||
        (key_of(pairs[0]) == key_of(pairs[m - 1]) && (surrogate_ || !out.has_missing));
    if (out.constant) return;
    both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left, const Candidates& c) {
      for (index_t i = 0; i + 1 < m; ++i) {
        add_row(L, row_of(pairs[i]));
        const double a = key_of(pairs[i]), b = key_of(pairs[i + 1]);
        if (a == b) continue;
        take(out, c.template evaluate<Crit, kC>(L), keys.threshold_between(a, b), a, missing_left);
      }
    });
  }

  // The scan order of both searches, scikit-learn's: every threshold with the missing rows
  // (statistics M) right, then the split of the values from the missing rows (threshold +inf),
  // then every threshold with them left. scan(L, missing_left, candidates) walks the thresholds
  // ascending, adding to L (which starts with the missing rows' statistics, or none). With
  // surrogate splits the missing rows take no part: one scan over the present rows.
  template <int Crit, int kC, class Scan>
  void both_sides(const double* M, const Candidates& cand, Scratch& s, Split& out,
                  Scan&& scan) const {
    double* L = s.left.data();
    if (surrogate_ && out.has_missing) {
      std::fill(L, L + C_, 0.0);
      scan(L, false, present_candidates<Crit>(cand, M, s));
      return;
    }
    for (int pass = 0; pass < (out.has_missing ? 2 : 1); ++pass) {
      const bool missing_left = pass == 1;
      if (missing_left)
        std::copy(M, M + C_, L);
      else
        std::fill(L, L + C_, 0.0);
      scan(L, missing_left, cand);
      if (!missing_left && out.has_missing) {
        for (int c = 0; c < C_; ++c) L[c] = cand.totals[c] - M[c];
        take(out, cand.template evaluate<Crit, kC>(L), kInf, kMissingBin - 1, false);
      }
    }
  }

  // The candidates of a search over the rows present on a feature (surrogate splits): the
  // node's totals less the missing rows' M. The caller sets the shift.
  Candidates without_missing(const Candidates& cand, const double* M, Scratch& s) const {
    double* P = s.present.data();
    for (int c = 0; c < C_; ++c) P[c] = cand.totals[c] - M[c];
    Candidates present = cand;
    present.totals = P;
    return present;
  }

  // The same with proxies that compare as impurity decreases across features. A proxy minus
  // the parent term of its rows is their decrease: shifted by parent_term(node) -
  // parent_term(present rows), it is the node's parent term plus that decrease, as for a feature
  // without missing rows. friedman_mse's proxy is the rows' weight times their decrease: scaled
  // by the node's weight over theirs instead.
  template <int Crit>
  Candidates present_candidates(const Candidates& cand, const double* M, Scratch& s) const {
    Candidates present = without_missing(cand, M, s);
    if constexpr (Crit == kFriedmanMSE)
      present.scale = cand.totals[1] / present.totals[1];
    else
      present.shift =
          parent_term<Crit>(cand.totals, outputs_) - parent_term<Crit>(present.totals, outputs_);
    return present;
  }

  // ---- absolute error ----

  // Per output, the weighted median of the rows (RankSums holds the rule), into medians when
  // given; and their absolute error from it, summed directly over the rows and the outputs:
  // exactly 0 for a pure node, where the prefix sums of a running median could leave rounding.
  // Returns output 0's median.
  double median_and_error(Scratch& s, const std::int32_t* rows, index_t n, double& error,
                          double* medians = nullptr) const {
    auto& t = s.targets;
    error = 0;
    double first = 0;
    for (int o = 0; o < n_out_; ++o) {
      t.clear();
      for (index_t i = 0; i < n; ++i)
        t.emplace_back(d_.y[static_cast<index_t>(rows[i]) * n_out_ + o], w_[rows[i]]);
      std::sort(t.begin(), t.end());
      s.target_y.resize(n);
      s.sums.reset(n);
      for (index_t i = 0; i < n; ++i) {
        s.target_y[i] = t[i].first;
        s.sums.add(i, t[i].first, t[i].second);
      }
      double unused, e = 0;
      const double m = s.sums.median(s.target_y.data(), unused);
      for (const auto& [y, w] : t) e += w * std::abs(y - m);
      error += e;
      if (medians) medians[o] = m;
      if (o == 0) first = m;
    }
    return first;
  }

  // Ranks the node's targets of each output (rank_of_, ranked_y_: the outputs' ranks one after
  // the other) for the running medians of its searches.
  void rank_targets(const Task& task) {
    const index_t n = task.end - task.begin;
    ranked_y_.resize(n * n_out_);
    for (int o = 0; o < n_out_; ++o) {
      ranked_.clear();
      for (index_t i = task.begin; i < task.end; ++i)
        ranked_.emplace_back(d_.y[static_cast<index_t>(rows_[i]) * n_out_ + o], rows_[i]);
      std::sort(ranked_.begin(), ranked_.end());
      for (index_t k = 0; k < n; ++k) {
        ranked_y_[o * n + k] = ranked_[k].first;
        rank_of_[static_cast<index_t>(ranked_[k].second) * n_out_ + o] =
            static_cast<std::int32_t>(k);
      }
    }
  }

  // The absolute error (summed over the outputs) and output 0's median of every prefix (forward)
  // or suffix of the rows in order.
  void running_errors(const std::int32_t* order, index_t n, bool forward, RankSums& sums,
                      double* error, double* median) const {
    const index_t m = static_cast<index_t>(ranked_y_.size()) / n_out_;  // the node's rows
    for (int o = 0; o < n_out_; ++o) {
      sums.reset(m);
      for (index_t k = 0; k < n; ++k) {
        const index_t at = forward ? k : n - 1 - k;
        const index_t i = static_cast<index_t>(order[at]) * n_out_ + o;
        sums.add(rank_of_[i], d_.y[i], w_[order[at]]);
        double e;
        const double med = sums.median(ranked_y_.data() + o * m, e);
        if (o == 0) {
          median[at] = med;
          error[at] = e;
        } else {
          error[at] += e;
        }
      }
    }
  }

  // The absolute error's search of one feature, in both_sides' order, over the scan order
  // scikit-learn uses: the non-missing rows in key order (pairs, m of them) with the missing
  // rows (s.missing_rows) after them, then before them. Every candidate reads the running
  // errors and medians of its two sides: O(n log n) per feature.
  template <class Keys, class Pair>
  void absolute_search(const Pair* pairs, index_t m, const Keys& keys, const Candidates& cand,
                       Scratch& s, Split& out) const {
    out.has_missing = !s.missing_rows.empty();
    out.constant = m == 0 ||
        (key_of(pairs[0]) == key_of(pairs[m - 1]) && (surrogate_ || !out.has_missing));
    if (out.constant) return;
    // the missing rows in the scan: none with surrogate splits, which search the present rows
    const bool present_only = surrogate_ && out.has_missing;
    Candidates c = present_only ? without_missing(cand, s.missing.data(), s) : cand;
    const auto n_missing = present_only ? index_t{0} : static_cast<index_t>(s.missing_rows.size());
    const index_t n = m + n_missing;
    s.sequence.resize(n);
    for (auto* v : {&s.error_left, &s.median_left, &s.error_right, &s.median_right}) v->resize(n);
    const auto consider = [&](index_t n_left, double wl, double threshold, double cut,
                              bool missing_left) {
      const double el = s.error_left[n_left - 1], ml = s.median_left[n_left - 1];
      const double er = s.error_right[n_left], mr = s.median_right[n_left];
      const double proxy = c.evaluate_absolute(n_left, wl, el, ml, er, mr);
      if (proxy <= out.proxy) return;
      take(out, proxy, threshold, cut, missing_left);
      out.error_left = el;
      out.error_right = er;
      out.median_left = ml;
      out.median_right = mr;
    };
    for (int pass = 0; pass < (n_missing > 0 ? 2 : 1); ++pass) {
      const bool missing_left = pass == 1;
      const index_t offset = missing_left ? n_missing : 0;  // where the non-missing rows start
      for (index_t i = 0; i < m; ++i) s.sequence[offset + i] = row_of(pairs[i]);
      if (n_missing > 0)
        std::copy(s.missing_rows.begin(), s.missing_rows.end(),
                  s.sequence.begin() + (missing_left ? 0 : m));
      running_errors(s.sequence.data(), n, true, s.sums, s.error_left.data(), s.median_left.data());
      running_errors(s.sequence.data(), n, false, s.sums, s.error_right.data(),
                     s.median_right.data());
      // the parent term of the absolute error is minus the error: the present rows' is the
      // error of the whole scan
      if (present_only) c.shift = s.error_left[n - 1] - node_error_;
      double wl = 0;  // the left side's weight, summed in scan order as scikit-learn does
      for (index_t i = 0; i < offset; ++i) wl += w_[s.sequence[i]];
      for (index_t i = 0; i + 1 < m; ++i) {
        wl += w_[row_of(pairs[i])];
        const double a = key_of(pairs[i]), b = key_of(pairs[i + 1]);
        if (a == b) continue;
        consider(offset + i + 1, wl, keys.threshold_between(a, b), a, missing_left);
      }
      if (!missing_left && n_missing > 0) {
        wl += w_[row_of(pairs[m - 1])];
        consider(m, wl, kInf, kMissingBin - 1, false);
      }
    }
  }

  // scikit-learn's "random" splitter: one threshold drawn uniformly between the node's smallest
  // and largest value, the missing rows sent to a random side (with surrogate splits they take
  // no part).
  template <class Keys>
  void random_search(const Task& task, const Keys& keys, const Candidates& cand, Scratch& s,
                     double u, bool bit, Split& out) const {
    double lo = kInf, hi = -kInf;
    bool has_missing = false;
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      if (keys.missing(r)) {
        has_missing = true;
        continue;
      }
      lo = std::min(lo, keys.key(r));
      hi = std::max(hi, keys.key(r));
    }
    out.has_missing = has_missing;
    out.constant = !(lo < hi);  // scikit-learn skips a feature whose values are all equal
    if (out.constant) return;
    const double cut = keys.random_cut(lo, hi, u);
    const bool present_only = surrogate_ && has_missing;
    const bool missing_left = has_missing && bit && !surrogate_;
    double* M = s.missing.data();
    std::fill(M, M + C_, 0.0);
    if (absolute_) {
      auto& left = s.sequence;
      auto& right = s.missing_rows;
      left.clear();
      right.clear();
      double wl = 0;
      for (index_t i = task.begin; i < task.end; ++i) {
        const std::int32_t r = rows_[i];
        if (present_only && keys.missing(r)) {
          add_row(M, r);
          continue;
        }
        const bool goes_left = keys.missing(r) ? missing_left : keys.key(r) <= cut;
        (goes_left ? left : right).push_back(r);
        if (goes_left) wl += w_[r];
      }
      if (left.empty() || right.empty()) return;
      Candidates c = present_only ? without_missing(cand, M, s) : cand;
      if (present_only) {
        std::vector<std::int32_t> present(left);
        present.insert(present.end(), right.begin(), right.end());
        double error;
        median_and_error(s, present.data(), static_cast<index_t>(present.size()), error);
        c.shift = error - node_error_;
      }
      double el, er;
      const double ml = median_and_error(s, left.data(), static_cast<index_t>(left.size()), el);
      const double mr = median_and_error(s, right.data(), static_cast<index_t>(right.size()), er);
      const double proxy =
          c.evaluate_absolute(static_cast<index_t>(left.size()), wl, el, ml, er, mr);
      if (proxy <= out.proxy) return;
      take(out, proxy, keys.threshold_at(cut), cut, missing_left);
      out.error_left = el;
      out.error_right = er;
      out.median_left = ml;
      out.median_right = mr;
      return;
    }
    double* L = s.left.data();
    std::fill(L, L + C_, 0.0);
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      if (present_only && keys.missing(r))
        add_row(M, r);
      else if (keys.missing(r) ? missing_left : keys.key(r) <= cut)
        add_row(L, r);
    }
    double p = -kInf;
    dispatch([&](auto crit, auto) {
      constexpr int Crit = decltype(crit)::value;
      p = present_only ? present_candidates<Crit>(cand, M, s).template evaluate<Crit>(L)
                       : cand.evaluate<Crit>(L);
    });
    take(out, p, keys.threshold_at(cut), cut, missing_left);
  }

  // ---- surrogate splits ----

  static constexpr std::uint8_t kMissingSide = 2;

  // Where the split sends row r: 1 left, 0 right, kMissingSide when r misses its feature.
  std::uint8_t primary_side(const Split& split, std::int32_t r) const {
    if (hist_mode_) {
      const int code = d_.codes[static_cast<index_t>(r) * d_.n_features + split.feature];
      return code == kMissingBin ? kMissingSide : code <= split.cut;
    }
    const double x = d_.values[split.feature * d_.n_rows + r];
    return std::isnan(x) ? kMissingSide : x <= split.threshold;
  }

  // The split's surrogates (see Tree): on every other feature (without a monotonic constraint:
  // a surrogate on one would break it for the rows it routes), the split that agrees most with
  // it over the rows present on both, kept when it beats the majority rule; the most agreeing
  // first (ties: the lower feature), at most kMaxSurrogates. For rows missing every surrogate,
  // the split's missing_left is the side with more of the rows present (scikit-learn's rule for
  // missing values unseen in training).
  void find_surrogates(const Task& task, Split& split) {
    const index_t F = d_.n_features, n = task.end - task.begin;
    index_t n_left = 0, n_right = 0;
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      const std::uint8_t side = primary_side(split, r);
      primary_side_[r] = side;
      if (side != kMissingSide) ++(side ? n_left : n_right);
    }
    split.missing_left = n_left > n_right;
    FirstException error;  // as in search_batch(): surrogate_of() grows its thread's scratch
#pragma omp parallel for schedule(dynamic, 1) num_threads(n_threads_) \
    if (n_threads_ > 1 && n * F >= kParallelWork)
    for (index_t g = 0; g < F; ++g) {
      error.run([&] {
        // a feature under a monotonic constraint routes only by splits that respect it
        const bool constrained = p_.monotonic_cst != nullptr && p_.monotonic_cst[g] != 0;
        surrogate_results_[g] = g == split.feature || constrained
            ? Surrogate{} : surrogate_of(task, g, scratch_[omp_get_thread_num()]);
      });
    }
    error.rethrow();
    split.surrogates.clear();
    for (const Surrogate& s : surrogate_results_)
      if (s.feature >= 0) split.surrogates.push_back(s);
    std::stable_sort(split.surrogates.begin(), split.surrogates.end(),
                     [](const Surrogate& a, const Surrogate& b) { return a.agreement > b.agreement; });
    if (split.surrogates.size() > kMaxSurrogates) split.surrogates.resize(kMaxSurrogates);
  }

  // Feature g's most agreeing split over the task's rows present on g and the split's feature
  // (primary_side_), or feature -1 when it does not beat the majority rule. Its threshold lies
  // midway between the cut and the next key any row of the node holds, so that the rows missing
  // the split's feature are routed in training as the threshold routes them in prediction.
  Surrogate surrogate_of(const Task& task, index_t g, Scratch& s) {
    AgreementScan scan;
    if (hist_mode_) {
      const CodeKeys keys{d_.codes + g, d_.n_features, d_.bin_bounds + g * kBins,
                          d_.bin_bounds + (d_.n_features + g) * kBins};
      if (task.end - task.begin >= kSmallNode) {
        agreement_histogram(task, keys, s, scan);
      } else {
        auto& pairs = s.codes;
        pairs.clear();
        for (index_t i = task.begin; i < task.end; ++i) {
          const std::int32_t r = rows_[i];
          if (!keys.missing(r))
            pairs.push_back(static_cast<std::uint64_t>(keys.code(r)) << 32 |
                            static_cast<std::uint32_t>(r));
        }
        std::sort(pairs.begin(), pairs.end());
        agreement_sorted(pairs.data(), static_cast<index_t>(pairs.size()), scan);
      }
      scan.best.threshold = keys.threshold_between(scan.best.cut, scan.next);
    } else {
      const T* col = d_.values + g * d_.n_rows;
      if (!sorted_.empty()) {  // the node's segment of g's presorted list, missing values last
        const Sorted* seg = sorted_.data() + g * rows_.size() + task.begin;
        index_t m = task.end - task.begin;
        while (m > 0 && std::isnan(seg[m - 1].first)) --m;
        agreement_sorted(seg, m, scan);
      } else {
        auto& pairs = sorted_tmp_[omp_get_thread_num()];
        pairs.clear();
        for (index_t i = task.begin; i < task.end; ++i) {
          const std::int32_t r = rows_[i];
          if (!std::isnan(col[r])) pairs.emplace_back(col[r], r);
        }
        std::sort(pairs.begin(), pairs.end());
        agreement_sorted(pairs.data(), static_cast<index_t>(pairs.size()), scan);
      }
      scan.best.threshold = ValueKeys<T>::between(scan.best.cut, scan.next);
    }
    if (!scan.beats_majority()) return Surrogate{};
    scan.best.feature = g;
    return scan.best;
  }

  // The candidates of one feature's surrogate: between neighbouring distinct keys of the rows
  // present on both features, the weight routed as the split routes it (agreement) and
  // reversed.
  struct AgreementScan {
    double total_left = 0, total_right = 0;  // by the split, over the rows scanned
    double left = 0, right = 0;              // the same over the keys below the candidate
    Surrogate best;
    double next = 0;                         // the node's next key after best.cut
    // a: the largest key left of the candidate; b: the node's next key
    void candidate(double a, double b) {
      const double agreement = left + (total_right - right);
      const double reversed = right + (total_left - left);
      for (bool rev : {false, true}) {
        const double v = rev ? reversed : agreement;
        if (v > best.agreement) {
          best.agreement = v;
          best.cut = a;
          best.reversed = rev;
          next = b;
        }
      }
    }
    bool beats_majority() const {
      return best.agreement - std::max(total_left, total_right) >
             kEpsilon * (total_left + total_right);
    }
  };

  // The node's rows present on the feature in ascending key order; those missing the split's
  // feature count for the next key only.
  template <class Pair>
  void agreement_sorted(const Pair* pairs, index_t m, AgreementScan& scan) const {
    for (index_t i = 0; i < m; ++i) {
      const std::int32_t r = row_of(pairs[i]);
      const std::uint8_t side = primary_side_[r];
      if (side != kMissingSide) (side ? scan.total_left : scan.total_right) += w_[r];
    }
    double previous = 0, next = 0;  // the last key scanned of both features, the key after it
    bool any = false, need_next = false;
    for (index_t i = 0; i < m; ++i) {
      const std::int32_t r = row_of(pairs[i]);
      const double key = key_of(pairs[i]);
      if (need_next && key != previous) {
        next = key;
        need_next = false;
      }
      const std::uint8_t side = primary_side_[r];
      if (side == kMissingSide) continue;
      if (any && key != previous) scan.candidate(previous, next);
      (side ? scan.left : scan.right) += w_[r];
      previous = key;
      any = need_next = true;
    }
  }

  // The same over a histogram of the weights going right and left and the node's rows, per bin.
  void agreement_histogram(const Task& task, const CodeKeys& keys, Scratch& s,
                           AgreementScan& scan) const {
    auto& H = s.agreement;
    H.assign(3 * kBins, 0.0);
    for (index_t i = task.begin; i < task.end; ++i) {
      const std::int32_t r = rows_[i];
      if (keys.missing(r)) continue;
      double* bin = H.data() + 3 * keys.code(r);
      const std::uint8_t side = primary_side_[r];
      if (side != kMissingSide) bin[side] += w_[r];
      bin[2] += 1;
    }
    for (int b = 0; b < kMissingBin; ++b) {
      scan.total_right += H[3 * b];
      scan.total_left += H[3 * b + 1];
    }
    int previous = -1, next = -1;  // the last bin of rows present on both features, the next
    for (int b = 0; b < kMissingBin; ++b) {
      const double* bin = H.data() + 3 * b;
      if (bin[2] == 0) continue;
      if (previous >= 0 && next < 0) next = b;
      if (bin[0] == 0 && bin[1] == 0) continue;
      if (previous >= 0) scan.candidate(previous, next);
      scan.right += bin[0];
      scan.left += bin[1];
      previous = b;
      next = -1;
    }
  }

  using Sorted = std::pair<T, std::int32_t>;
  // Per-row state: a builder and the builders of its deferred subtrees share it, each touching
  // only the rows (and rows_ and sorted_ ranges) of its own nodes.
  struct RowState {
    std::vector<std::int32_t> rows, cls;
    std::vector<double> w, wy, wq;
    std::vector<Sorted> sorted;
    std::vector<char> side;
    std::vector<std::int32_t> rank_of;
    std::vector<std::uint8_t> primary_side;
  };

  const Dataset<T>& d_;
  const Params& p_;
  std::uint64_t seed_;
  Random random_;
  int n_threads_;
  std::unique_ptr<RowState> own_rows_;  // the top builder's; a subtree's builder has none
  std::vector<std::int32_t>& rows_;     // the rows of non-zero weight, each node's a range
  std::vector<std::int32_t>& cls_;     // per row and output, see Builder()
  std::vector<double>& w_;
  std::vector<double>& wy_;
  std::vector<double>& wq_;
  std::vector<Sorted>& sorted_;         // (n_features, rows of non-zero weight), see presort()
  std::vector<char>& side_;             // per row: goes to the left child of the node being split
  std::vector<std::int32_t>& rank_of_;  // absolute error: per row and output, the rank of its y
                                        // in its node
  std::vector<std::uint8_t>& primary_side_;  // per row, see primary_side()
  std::vector<Task> deferred_;               // see grow_depth_first
  std::vector<Tree> subtrees_;               // grown from deferred_
  int n_out_ = 1, K_ = 0, C_ = 0;  // outputs, class channels of all outputs, channels
  int max_classes_ = 0;            // classification: the most classes of an output
  std::vector<int> class_start_;   // see Outputs
  Outputs outputs_;
  std::vector<double> node_target_;  // add_node's scratch: a regression node's values
  bool hist_mode_ = false, subtract_ = false, absolute_ = false, surrogate_ = false;
  double root_weight_ = 0;
  double node_error_ = 0;  // absolute error: the summed error of the node being searched
  bool defer_ = false;     // small tasks are deferred (see grow_depth_first)
  std::vector<std::int32_t> buffer_;
  std::vector<Scratch> scratch_;
  std::vector<index_t> order_, all_features_, missing_;  // missing_: features without histogram
  std::vector<std::vector<Sorted>> sorted_tmp_;
  // absolute error: the node's targets in ascending order (ranks in rank_of_)
  std::vector<std::pair<double, std::int32_t>> ranked_;
  std::vector<double> ranked_y_;
  std::vector<double> draw_u_;     // the random splitter's draws, taken before the parallel search
  std::vector<char> draw_side_;
  std::vector<Split> results_, pending_;
  std::vector<Surrogate> surrogate_results_;  // per feature
  std::vector<std::vector<double>> hists_;
  std::vector<std::vector<char>> valid_;
  std::vector<int> free_;
  Tree tree_;
};

// ---- entry points ----------------------------------------------------------------------------

template <class T>
Tree build_tree(const Dataset<T>& data, const Params& params, std::uint64_t seed, int n_threads) {
  return Builder<T>(data, params, data.sample_weight, seed, n_threads).grow();
}

void bootstrap_counts(std::uint64_t seed, index_t n_rows, index_t n_draws, std::int32_t* counts) {
  std::fill(counts, counts + n_rows, 0);
  Random random{seed};
  for (index_t i = 0; i < n_draws; ++i) ++counts[random.below(n_rows)];
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
        std::vector<std::int32_t> counts(data.n_rows);
        bootstrap_counts(seeds[t], data.n_rows, bootstrap.n_draws, counts.data());
        weigh_draws(data, bootstrap, counts.data(), weight.data());
      }
      trees[t] = Builder<T>(data, params, weight.data(), seeds[t], 1).grow();
      // A bootstrap that drew no row of positive weight (likely with few weighted rows) gives a
      // single leaf over the whole weighted data: its value is the training data's.
      if (trees[t].n_nodes() == 0)
        trees[t] = Builder<T>(data, params, data.sample_weight, seeds[t], 1).grow_leaf();
    });
  }
  error.rethrow();
  return trees;
}

namespace {

// Calls visit(i, leaf) for every row i in [start, stop) with the leaf (its index among the
// tree's leaves) it reaches in tree t. One row's walk is a chain of dependent loads, so
// kLanes rows walk at once and the core overlaps their chains; a lane whose row reaches its
// leaf takes the next row at once (lanes moving in lockstep would all wait for the deepest
// row). 10 lanes measured fastest here (8: 4% slower, 16: 12%).
template <bool kAnyMissing, class T, class Visit>
void walk_rows(const Forest<T>& f, index_t t, const T* X, index_t n_features, index_t start,
               index_t stop, Visit&& visit) {
  const std::int32_t root = f.roots[t];
  if (root < 0) {  // a single leaf
    for (index_t i = start; i < stop; ++i) visit(i, ~root);
    return;
  }
  constexpr int kLanes = 10;
  const WalkSplit<T>* splits = f.splits + f.split_offsets[t];
  const std::uint8_t* missing_left = f.missing_left + f.split_offsets[t];
  const std::int64_t* surrogate_offsets =
      f.surrogate_offsets ? f.surrogate_offsets + f.split_offsets[t] : nullptr;
  index_t row[kLanes];
  const T* x[kLanes];  // the lane's row of X
  std::int32_t node[kLanes];
  // a row missing the split's feature: its first surrogate it is present on, else the side
  const auto missing_goes_left = [&](std::int32_t at, const T* xr) -> int {
    if (surrogate_offsets) {
      for (std::int64_t k = surrogate_offsets[at]; k < surrogate_offsets[at + 1]; ++k) {
        const WalkSurrogate<T>& s = f.surrogates[k];
        const T v = xr[s.feature];
        if (!std::isnan(v)) return (v <= s.threshold) != (s.reversed != 0);
      }
    }
    return missing_left[at];
  };
  const auto step = [&](std::int32_t at, const T* xr) {
    const WalkSplit<T>& s = splits[at];
    const T v = xr[s.feature];
    // which way a row goes is a coin toss the branch predictor loses: it indexes the child
    const int go_left = kAnyMissing && std::isnan(v) ? missing_goes_left(at, xr) : v <= s.threshold;
    return s.child[go_left];
  };
  int active = 0;
  index_t next = start;
  for (; active < kLanes && next < stop; ++active, ++next) {
    row[active] = next;
    x[active] = X + next * n_features;
    node[active] = root;
  }
  if (active == kLanes) {
    // every lane busy while rows remain: a fixed, unrolled round the compiler keeps in registers
    while (next < stop) {
#pragma GCC unroll 16
      for (int k = 0; k < kLanes; ++k) {
        const std::int32_t child = step(node[k], x[k]);
        if (child >= 0) {
          node[k] = child;
          continue;
        }
        visit(row[k], ~child);
        if (next < stop) {
          row[k] = next;
          x[k] = X + next++ * n_features;
          node[k] = root;
        } else {
          node[k] = -1;  // idle
        }
      }
    }
    active = 0;
    for (int k = 0; k < kLanes; ++k)
      if (node[k] >= 0) {
        row[active] = row[k];
        x[active] = x[k];
        node[active++] = node[k];
      }
  }
  while (active > 0) {
    for (int k = 0; k < active;) {
      const std::int32_t child = step(node[k], x[k]);
      if (child >= 0) {
        node[k++] = child;
        continue;
      }
      visit(row[k], ~child);
      --active;  // no rows left: the last lane takes this one's place
      row[k] = row[active];
      x[k] = x[active];
      node[k] = node[active];
    }
  }
}

// Calls visit(t, start, stop, leaves) for every tree t and block of rows [start, stop) with
// the leaves they reach. Each thread takes a block of rows and walks it through the trees one
// after the other. A tree's deep splits are read by few rows,
// so large blocks read each tree from memory fewer times: one block per thread measured 2.5x
// faster than blocks of 4096 rows on a 100-tree forest. Rows meet the trees in order, so sums
// over trees do not depend on the thread count.
constexpr index_t kWalkBlock = 1 << 16;

template <class T, class Visit>
void walk_blocks(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                 int n_threads, Visit&& visit) {
  if (n_rows == 0) return;
  n_threads = std::max(n_threads, 1);
  const index_t block = std::min<index_t>(kWalkBlock, (n_rows + n_threads - 1) / n_threads);
  const int threads = static_cast<int>(std::min<index_t>(n_threads, (n_rows + block - 1) / block));
  // Each thread's leaves of a block, allocated before the threads start: an allocation failing
  // inside an OpenMP region would end the process instead of raising MemoryError.
  const std::unique_ptr<std::int32_t[]> leaves_all(new std::int32_t[threads * block]);
#pragma omp parallel num_threads(threads)
  {
    std::int32_t* leaves = leaves_all.get() + omp_get_thread_num() * block;
#pragma omp for schedule(dynamic, 1)
    for (index_t start = 0; start < n_rows; start += block) {
      const index_t stop = std::min(start + block, n_rows);
      const T* x = X + start * n_features;
      const bool any_missing = std::any_of(x, x + (stop - start) * n_features,
                                           [](T v) { return std::isnan(v); });
      const auto record = [&](index_t i, std::int32_t leaf) { leaves[i - start] = leaf; };
      for (index_t t = 0; t < forest.n_trees; ++t) {
        // a block without NaN skips the test for it, an eighth of a step's instructions
        if (any_missing)
          walk_rows<true>(forest, t, X, n_features, start, stop, record);
        else
          walk_rows<false>(forest, t, X, n_features, start, stop, record);
        visit(t, start, stop, leaves);
      }
    }
  }
}

}  // namespace

template <class T>
void apply(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
           std::int64_t* leaves, int n_threads) {
  walk_blocks(forest, X, n_rows, n_features, n_threads,
              [&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
                const std::int32_t* node = forest.leaf_node + forest.leaf_offsets[t];
                for (index_t i = start; i < stop; ++i)
                  leaves[i * forest.n_trees + t] = node[leaf[i - start]];
              });
}

template <class T>
void predict_mean(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                  double* mean, int n_threads) {
  const index_t V = forest.n_values;
  std::fill(mean, mean + n_rows * V, 0.0);
  walk_blocks(forest, X, n_rows, n_features, n_threads,
              [&](index_t t, index_t start, index_t stop, const std::int32_t* leaf) {
                const double* value = forest.value + forest.leaf_offsets[t] * V;
                for (index_t i = start; i < stop; ++i) {
                  const double* v = value + leaf[i - start] * V;
                  double* out = mean + i * V;
                  for (index_t c = 0; c < V; ++c) out[c] += v[c];
                }
              });
  const double n_trees = static_cast<double>(forest.n_trees);
  for (index_t i = 0; i < n_rows * V; ++i) mean[i] /= n_trees;
}

template <class T>
void encode_bins(const T* X, index_t n_rows, index_t n_features, const double* bin_threshold,
                 std::uint8_t* codes, double* bin_bounds, int n_threads) {
  const index_t F = n_features;
  std::fill(bin_bounds, bin_bounds + F * kBins, kInf);
  std::fill(bin_bounds + F * kBins, bin_bounds + 2 * F * kBins, -kInf);
  const int threads = static_cast<int>(std::clamp<index_t>(n_rows, 1, std::max(n_threads, 1)));
  // Each thread's bounds, merged at the end (min and max do not depend on the order). They are
  // allocated before the threads start, as an allocation failing inside an OpenMP region would
  // end the process instead of raising MemoryError; each thread fills its own.
  const std::unique_ptr<double[]> bounds_all(new double[2 * threads * F * kBins]);
#pragma omp parallel num_threads(threads)
  {
    double* low = bounds_all.get() + 2 * omp_get_thread_num() * F * kBins;
    double* high = low + F * kBins;
    std::fill(low, high, kInf);
    std::fill(high, high + F * kBins, -kInf);
#pragma omp for schedule(static)
    for (index_t i = 0; i < n_rows; ++i) {
      const T* x = X + i * F;
      for (index_t f = 0; f < F; ++f) {
        const double v = x[f];
        // the number of thresholds below v (the +inf padding never is), by a branch-free
        // binary search over the kMissingBin thresholds
        const double* base = bin_threshold + f * kBins;
        index_t len = kMissingBin;
        while (len > 1) {
          const index_t half = len / 2;
          base += (base[half - 1] < v) * half;  // arithmetic, not a mispredicted branch
          len -= half;
        }
        const index_t code = (base - (bin_threshold + f * kBins)) + (*base < v);
        if (std::isnan(v)) {
          codes[i * F + f] = kMissingBin;
          continue;
        }
        codes[i * F + f] = static_cast<std::uint8_t>(code);
        double& lo = low[f * kBins + code];
        double& hi = high[f * kBins + code];
        lo = std::min(lo, v);
        hi = std::max(hi, v);
      }
    }
#pragma omp critical
    for (index_t j = 0; j < F * kBins; ++j) {
      bin_bounds[j] = std::min(bin_bounds[j], low[j]);
      bin_bounds[F * kBins + j] = std::max(bin_bounds[F * kBins + j], high[j]);
    }
  }
}

#define FASTML_CART_INSTANTIATE(T)                                                              \
  template Tree build_tree<T>(const Dataset<T>&, const Params&, std::uint64_t, int);            \
  template std::vector<Tree> build_forest<T>(const Dataset<T>&, const Params&, const Bootstrap&, \
                                             const std::uint64_t*, index_t, int);               \
  template void apply<T>(const Forest<T>&, const T*, index_t, index_t, std::int64_t*, int);      \
  template void predict_mean<T>(const Forest<T>&, const T*, index_t, index_t, double*, int);     \
  template void encode_bins<T>(const T*, index_t, index_t, const double*, std::uint8_t*,       \
                               double*, int);

FASTML_CART_INSTANTIATE(float)
FASTML_CART_INSTANTIATE(double)

}  // namespace fastml::cart
