// CART cores behind fastml.tree and fastml.ensemble (bound in csrc/bindings/cart_module.cpp).
//
// One builder grows a tree depth first (preorder node ids, as scikit-learn) or best
// first (max_leaf_nodes). Splits are searched on feature values ("exact": the node's values sorted,
// every boundary between distinct values a candidate) or on bin codes ("hist": per-node histograms
// over at most 255 bins, the larger child's histogram derived as parent minus the smaller child's).
// A tree has one or more outputs (scikit-learn's multi-output trees): a split's proxy is the sum
// of the outputs' proxies and a node's impurity their mean, as scikit-learn's criteria.
// Both searches follow the same rules, written down in fastml.reference.cart: sklearn's proxies,
// min_samples_leaf / min_weight_leaf / monotonic constraints, and missing values (NaN, or code
// kMissingBin) tried on both sides of every threshold, the side that wins stored in the node.
// With surrogate splits (Params::surrogates, rpart's idea) a split is searched over the rows
// present on its feature instead, and the rows missing it follow backup splits on other
// features that best mimic it (see Tree).
//
// Entry points trust their arguments; the bindings check shapes and indices first (PackedForest
// checks the indices it packs itself).
//
// The parts, in csrc/tree (the growth parts are header templates that forest.cpp alone includes,
// so that one unit sees a tree's hot loops):
//   criterion.hpp       the criteria's proxies, impurities and improvements over statistics
//                       blocks; dispatch: criterion and channel count as compile-time constants
//   statistics.hpp      a block's channels, and what each row adds to one
//   keys.hpp            a feature's keys (values or bin codes), (key, row) pairs, occupied bins
//   histogram.hpp       histogram pool, the pass that fills histograms, subtraction
//   split.hpp           a split, and what a candidate must satisfy (Candidates)
//   split_search.hpp    the searches over a histogram, a small node's bins, sorted rows
//   absolute_error.hpp  the absolute error's searches (running weighted medians,
//                       running_median.hpp)
//   random_split.hpp    scikit-learn's random splitter
//   partition.hpp       row partition, presorted lists (exact search)
//   surrogates.hpp      surrogate splits
//   growth.hpp          growth policies: depth first (with deferred subtrees), best first
//   node_search.hpp     one node's search: feature draws, the search each calls for, threads
//   builder.hpp         a tree: nodes evaluated, rows partitioned, node arrays recorded
//   tree_nodes.cpp      subtrees linked in, preorder numbering
//   forest.cpp          build_tree, build_forest (bootstraps), bootstrap_draws
//   packing.cpp         PackedForest;   predict.cpp: apply, predict_mean (and _csr);   binning.cpp
#pragma once

#include <cstddef>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace fastml::cart {

using index_t = std::ptrdiff_t;

enum Criterion : int {
  kGini = 0,
  kEntropy = 1,
  kSquaredError = 2,
  kFriedmanMSE = 3,
  kPoisson = 4,
  kAbsoluteError = 5,
};

// Codes are uint8: bins 0..254 hold values, kMissingBin holds NaN.
constexpr int kBins = 256;
constexpr int kMissingBin = 255;

// The training data. Values are feature-major (the exact search walks one feature's values);
// codes are row-major (a histogram pass reads every code of a row from one cache line).
template <class T>
struct Dataset {
  index_t n_rows;
  index_t n_features;
  const T* values;              // (n_features, n_rows), NaN = missing; read by the exact search
                                // (nullptr when X is sparse: csc_* below)
  const std::uint8_t* codes;    // (n_rows, n_features) bin codes; nullptr for the exact search
  const double* bin_bounds;     // (2, n_features, kBins): smallest, largest value of each bin
  const double* y;              // (n_rows, n_outputs): per output the class index
                                // 0..n_classes[o]-1, or the regression target
  const double* sample_weight;  // (n_rows), >= 0; rows of weight 0 take no part
  index_t n_outputs;            // >= 1
  const int* n_classes;         // (n_outputs) classes of each output, >= 1; nullptr: regression
  // Sparse X for the exact search (see csrc/tree/sparse_columns.hpp), as scikit-learn takes it:
  // CSC columns, rows strictly ascending in each, no NaN; a value not stored is 0.0, as is a
  // stored 0. csc_indptr is nullptr for dense X.
  const std::int64_t* csc_indptr = nullptr;   // (n_features + 1)
  const std::int32_t* csc_indices = nullptr;  // (nnz) rows
  const T* csc_data = nullptr;                // (nnz) values
  // The same matrix as CSR rows (no duplicates), or nullptr: small nodes then find their
  // features' entries from their rows (see NodeEntries in csrc/tree/sparse_columns.hpp).
  const std::int64_t* csr_indptr = nullptr;   // (n_rows + 1)
  const std::int32_t* csr_indices = nullptr;  // (nnz) features
  const T* csr_data = nullptr;                // (nnz) values
  // Sparse X for the histogram search (see csrc/tree/sparse_hist.hpp): the bin of every stored
  // entry of csc_data and csr_data, and of 0.0 per feature (the rows not stored); feature f
  // has bins 0 to bin_start[f + 1] - bin_start[f] - 1. nullptr: the exact search.
  const std::uint8_t* csc_codes = nullptr;    // (nnz)
  const std::uint8_t* csr_codes = nullptr;    // (nnz), with csr_indptr
  const std::uint8_t* zero_codes = nullptr;   // (n_features)
  const std::int64_t* bin_start = nullptr;    // (n_features + 1)
  // With csc_codes and csr_indptr, or nullptr: each CSR entry's index in the CSC arrays, and
  // each CSC entry's in the CSR arrays (set by the growers, see with_csc_positions in
  // csrc/tree/sparse_hist.hpp).
  const std::uint32_t* csr_to_csc = nullptr;  // (nnz)
  const std::uint32_t* csc_to_csr = nullptr;  // (nnz)
  // With csc_codes, or nullptr: the smallest and largest value of each bin of the features of
  // long columns, 0.0 counted in the zero's bin (set by the growers, see with_sparse_bounds in
  // csrc/tree/sparse_hist.hpp): feature f's bin b at sparse_bounds[sparse_bounds_start[f] + 2b]
  // and + 1, none where sparse_bounds_start[f] < 0.
  const double* sparse_bounds = nullptr;
  const std::int64_t* sparse_bounds_start = nullptr;  // (n_features)

  // Whether splits are searched over bins (codes, dense or sparse) rather than values.
  bool binned() const { return codes != nullptr || csc_codes != nullptr; }
};

struct Params {
  Criterion criterion;
  bool random_splitter;     // one random threshold per feature (scikit-learn's "random")
  index_t max_depth;
  index_t min_samples_split;
  index_t min_samples_leaf;
  double min_weight_leaf;   // absolute weight
  index_t max_features;     // features drawn per node (more while all drawn are constant)
  index_t max_leaf_nodes;   // 0: depth first without a leaf limit
  double min_impurity_decrease;
  std::vector<std::int8_t> monotonic_cst;  // (n_features) of -1/0/1, or empty (single output
                                           // only); for classification it constrains the
                                           // fraction of class 0, as scikit-learn
  bool surrogates;          // missing values follow surrogate splits (see Tree)
};

// Surrogate splits kept per split, the most agreeing first (rpart's default).
constexpr int kMaxSurrogates = 5;

// A grown tree in scikit-learn's arrays; value is (n_nodes, n_outputs, n_values): per output the
// weighted class counts divided by the node weight (fractions, n_values the largest class count,
// zeros past an output's classes) for classification, the weighted mean (n_values 1) for
// regression.
//
// Surrogate splits: node i's are entries surrogate_ptr[i] to surrogate_ptr[i + 1], the most
// agreeing first. A row missing the split's feature goes where the first surrogate it is present
// on sends it, a row missing all of them to missing_go_to_left (then the side with more of the
// rows present). A surrogate sends values <= its threshold left, or right when
// reversed. It is the threshold split on its feature that routes the largest weight of the rows
// present on both features as the split does; it is kept only if that weight beats the
// majority rule's (every row to the heavier side) on the same rows.
struct Tree {
  std::vector<std::int64_t> children_left, children_right, feature, n_node_samples;
  std::vector<double> threshold, impurity, weighted_n_node_samples, value;
  std::vector<std::uint8_t> missing_go_to_left;
  std::vector<std::int64_t> surrogate_ptr{0}, surrogate_feature;
  std::vector<double> surrogate_threshold;
  std::vector<std::uint8_t> surrogate_reversed;
  index_t n_nodes() const { return static_cast<index_t>(feature.size()); }
};

struct Bootstrap {
  bool enabled;
  index_t n_draws;          // rows drawn with replacement per tree
  bool balanced_subsample;  // class weights from each tree's draws (classification), the
                            // product of each output's, as scikit-learn
  // (n_rows) rows drawn in proportion to their weights: the cumulative normalised weights as
  // numpy's RandomState.choice computes them, the tree then weighing each row by its draws
  // alone (scikit-learn >= 1.9); nullptr: uniform draws
  const double* cdf;
};

// Grows one tree from data.sample_weight.
template <class T>
Tree build_tree(const Dataset<T>& data, const Params& params, std::uint64_t seed, int n_threads);

// Grows n_trees trees in parallel, tree t as scikit-learn grows the tree of random_state seeds[t]:
// its bootstrap and its splitter's seed drawn from numpy's RandomState(seeds[t]) as scikit-learn
// draws them, so the forest does not depend on the thread count, and the exact search gives
// scikit-learn's forest.
template <class T>
std::vector<Tree> build_forest(const Dataset<T>& data, const Params& params,
                               const Bootstrap& bootstrap, const std::uint64_t* seeds,
                               index_t n_trees, int n_threads);

// The rows drawn, in draw order, by the bootstrap of the tree of random_state seed: numpy's
// RandomState(seed).randint(0, n_rows, n_draws), or with cdf (see Bootstrap) its
// .choice(n_rows, n_draws, p=...), as scikit-learn's forests draw them. OUT draws[n_draws].
void bootstrap_draws(std::uint64_t seed, index_t n_rows, index_t n_draws, const double* cdf,
                     std::int32_t* draws);

// A split as the prediction walk reads it: one step's needs in one record, 16 bytes for
// float32 X (scikit-learn's node arrays lie apart and cost a cache miss per array per step).
// Leaves get no record: a child that is a leaf is stored as ~(its leaf index in the tree), so
// the walk stops on a negative child without loading anything more.
template <class T>
struct WalkSplit {
  T threshold;              // a row goes left when its value is <= threshold
  std::int32_t feature;
  std::int32_t child[2];    // [right, left]: indexed by "goes left"
};

// A surrogate split as the walk reads it (see Tree): values <= threshold go left unless reversed.
template <class T>
struct WalkSurrogate {
  T threshold;
  std::int32_t feature;
  std::int32_t reversed;
};

// For float32 X the threshold is the largest float <= the tree's (double) threshold: a float
// value is <= one exactly when it is <= the other.
template <class T>
T walk_threshold(double threshold) {
  const T rounded = static_cast<T>(threshold);
  return rounded > threshold ? std::nextafter(rounded, -std::numeric_limits<T>::infinity())
                             : rounded;
}

// Trees packed end to end. Tree t's splits follow one another from splits + split_offsets[t],
// its root is roots[t] (a split index, or ~0 when the tree is a single leaf), its leaves from
// leaf_offsets[t] in leaf_node (their node ids) and value, which holds leaves only, so that the
// values a walk reads lie close together. Where a split sends missing values is a byte of
// missing_left beside it, read only for a NaN, after the split's surrogates: those of split s
// (counted over all trees) are surrogates[surrogate_offsets[s] .. surrogate_offsets[s + 1]].
template <class T>
struct Forest {
  index_t n_trees;
  const std::int64_t* split_offsets;
  const std::int64_t* leaf_offsets;
  const std::int32_t* roots;
  const WalkSplit<T>* splits;
  const std::uint8_t* missing_left;
  const std::int64_t* surrogate_offsets;  // (total splits + 1), or nullptr: no surrogates
  const WalkSurrogate<T>* surrogates;
  const std::int32_t* leaf_node;
  const double* value;  // (total leaves, n_values)
  index_t n_values;
};

// One tree's scikit-learn node arrays, child ids local to it, as PackedForest reads them.
// surrogate_count (a count per node) is nullptr in a forest without surrogate splits.
struct TreeArrays {
  index_t n_nodes;
  const std::int64_t* children_left;
  const std::int64_t* children_right;
  const std::int64_t* feature;
  const double* threshold;
  const std::uint8_t* missing_go_to_left;
  const double* value;  // (n_nodes, n_values)
  const std::int64_t* surrogate_count;
};

// The trees PackedForest packs, each read where it lies (a forest's trees are not copied end
// to end first: that copy cost a fully grown 30-tree regression forest 0.26 s of serial fit).
// Surrogate splits, when surrogates is set, come as every tree's count per node and the
// surrogates of all the trees' nodes one after the other (n_surrogates of them).
struct NodeArrays {
  std::vector<TreeArrays> trees;
  index_t n_values;
  bool surrogates;
  index_t n_surrogates;
  const std::int64_t* surrogate_feature;
  const double* surrogate_threshold;
  const std::uint8_t* surrogate_reversed;
};

// Fitted trees packed once for the prediction walk (see Forest), kept beside the estimator:
// packing reads every node, which cost a 100-tree forest 40 ms, a quarter of its predict_proba,
// when it was done per call. It owns what the walk reads, every index checked when it was
// packed (std::invalid_argument otherwise: a child id must be larger than its parent's, so
// every walk ends), so no later change to the arrays it came from can misdirect a walk.
class PackedForest {
 public:
  // n_threads: the threads packing the trees (each tree on one), for a forest of many.
  PackedForest(const NodeArrays& nodes, index_t n_features, int n_threads = 1);

  // The walk's view for X of dtype T. The float32 records are derived from the float64 ones on
  // first use: not to be called from two threads at once.
  template <class T>
  Forest<T> forest();

  index_t n_features() const { return n_features_; }
  index_t n_trees() const { return n_trees_; }
  index_t n_values() const { return n_values_; }

 private:
  index_t n_features_, n_trees_ = 0, n_values_ = 0;
  std::vector<std::int64_t> split_offsets_, leaf_offsets_;
  std::vector<std::int32_t> roots_, leaf_node_;
  std::vector<WalkSplit<double>> splits64_;
  std::vector<WalkSplit<float>> splits32_;
  std::vector<std::uint8_t> missing_left_;
  std::vector<std::int64_t> surrogate_offsets_;  // per split, when there are surrogates
  std::vector<WalkSurrogate<double>> surrogates64_;
  std::vector<WalkSurrogate<float>> surrogates32_;
  std::vector<double> value_;
};

// OUT leaves (n_rows, n_trees): the leaf (local id) each row reaches in each tree.
template <class T>
void apply(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
           std::int64_t* leaves, int n_threads);

// OUT mean (n_rows, n_values): the leaf values averaged over the trees, summed in tree order.
template <class T>
void predict_mean(const Forest<T>& forest, const T* X, index_t n_rows, index_t n_features,
                  double* mean, int n_threads);

// CSR rows of X as the walk reads them (indices checked in range by the caller, each row's
// later duplicate winning, as in scikit-learn's sparse walk).
template <class T>
struct CsrRows {
  const std::int64_t* indptr;   // (n_rows + 1)
  const std::int32_t* indices;  // (nnz) features, each < n_features
  const T* data;                // (nnz)
  index_t n_rows, n_features;
};

// apply and predict_mean for CSR X, each thread densifying a few rows at a time.
template <class T>
void apply_csr(const Forest<T>& forest, const CsrRows<T>& X, std::int64_t* leaves,
               int n_threads);
template <class T>
void predict_mean_csr(const Forest<T>& forest, const CsrRows<T>& X, double* mean,
                      int n_threads);

// OUT codes (n_rows, n_features): the bin of every value of X (n_rows, n_features, row-major):
// the number of bin_threshold[f] (kBins per feature, +inf padded) below it; kMissingBin for NaN.
// OUT bin_bounds (2, n_features, kBins): the smallest and largest value in each bin (+inf and
// -inf for an empty bin), which place the splits of the histogram search; nullptr: not wanted.
// column_codes (codes only, no bin_bounds): nullptr, or OUT the same codes column-major, each
// block of rows copied there while in cache (the booster reads both layouts).
template <class T>
void encode_bins(const T* X, index_t n_rows, index_t n_features, const double* bin_threshold,
                 std::uint8_t* codes, double* bin_bounds, int n_threads,
                 std::uint8_t* column_codes = nullptr);

// The booster's bin thresholds of dense X (n_rows, n_features, row-major, the rows the bins
// are drawn from): scikit-learn's _find_binning_thresholds without sample weights, for each of
// the n_chosen columns features[c], in threads: the column's values less NaN sorted; fewer than
// max_bins + 1 distinct ones give the midpoints of consecutive ones, more give
// np.percentile(method="averaged_inverted_cdf") at quantiles (max_bins - 1 of them, as
// np.percentile divides the percentiles by 100), repeated values dropped; then capped at 1e300.
// OUT thresholds (n_features, kBins): a chosen feature's row, +inf padded (the other rows
// untouched); counts (n_features): a chosen feature's count of thresholds, or -1 where one came
// out NaN (from infinite values; its row then unspecified).
template <class T>
void dense_bin_thresholds(const T* X, index_t n_rows, index_t n_features,
                          const std::int64_t* features, index_t n_chosen, int max_bins,
                          const double* quantiles, double* thresholds, std::int64_t* counts,
                          int n_threads);

// The instruction-set build of encode_bins's codes-only kernels chosen for this CPU.
const char* simd_target();

// Sparse X's bins, in a compact layout: O(the bins used) where the dense layout's tables take
// n_features x kBins values each, hundreds of megabytes for 50k features.
//
// sparse_bin_thresholds: OUT offsets (n_features + 1) and thresholds, feature f's ascending in
// thresholds[offsets[f], offsets[f + 1]) (at most max_bins - 1 of them; room for n_features x
// (max_bins - 1) values), those fastml.tree's bin_thresholds (Python, the reference) gives the
// CSC matrix densified (n_rows rows, no NaN), computed from its stored values with one 0.0
// standing for the rows not stored: a threshold between every two runs of values (values within
// kFeatureThreshold of the next) when a column has at most max_bins runs, else between the runs
// at max_bins evenly spaced ranks. Returns offsets[n_features].
template <class T>
index_t sparse_bin_thresholds(const std::int64_t* csc_indptr, const T* csc_data, index_t n_rows,
                              index_t n_features, int max_bins, std::int64_t* offsets,
                              double* thresholds);

// sparse_bins: each column's thresholds (as sparse_bin_thresholds), from its sample's column
// (sample_indptr, sample_data over sample_rows rows: the rows bin_thresholds draws; nullptr:
// the column itself), and the bins of its values, column by column: no table of thresholds is
// kept (8 bytes per distinct value, as much as X's data). The bin of a value is the number of
// its feature's thresholds below it. OUT csc_codes (nnz) the bins of the CSC columns' stored
// values, OUT csr_codes (nnz) those of the same matrix's CSR entries in CSR order
// (csr_indptr; features ascending per row; nullptr to skip), OUT zero_codes (n_features) the
// bin of 0.0, OUT bin_start (n_features + 1) feature f's bins from bin_start[f] to
// bin_start[f + 1] - 1 (its thresholds + 1). No bin bounds: the histogram search on sparse X
// places a split's threshold from its column (see sparse_threshold). The columns are binned on
// n_threads threads, the codes the same for any count.
template <class T>
void sparse_bins(const std::int64_t* csc_indptr, const std::int32_t* csc_indices,
                 const T* csc_data, index_t n_rows, index_t n_features,
                 const std::int64_t* csr_indptr, const std::int64_t* sample_indptr,
                 const T* sample_data, index_t sample_rows, int max_bins,
                 std::uint8_t* csc_codes, std::uint8_t* csr_codes, std::uint8_t* zero_codes,
                 std::int64_t* bin_start, int n_threads);

}  // namespace fastml::cart
