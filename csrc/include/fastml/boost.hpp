// Gradient boosting core behind fastml.ensemble.HistGradientBoosting* (bound in
// csrc/bindings/boost_module.cpp), following scikit-learn 1.9's histogram booster rule for rule:
//
//   losses.cpp    gradients and hessians of each loss, in float64, stored as float32 pairs
//                 (scikit-learn's G_H_DTYPE) packed per row: one 8-byte load per row in the
//                 histogram pass
//   grower.cpp    one tree grown best first (a max-heap of nodes on split gain), histograms of the
//                 smaller child built and the larger one derived by subtraction from a pool of
//                 buffers, the split search with scikit-learn's gain, constraints (min_samples_leaf,
//                 min_hessian_to_split, monotonic and interaction constraints) and missing values
//                 tried on both sides, rows partitioned stably (so that every sum adds in row
//                 order, as scikit-learn's does), leaf values -G / (H + l2) shrunk at the end
//   predict.cpp   trees packed end to end, walked on raw values or on bin codes
//   lambdarank.cpp  the ranker's LambdaMART gradients, query by query
//
// The bin codes are those of fastml.tree's encode_bins (csrc/tree/binning.cpp, shared): row-major
// uint8, kMissingBin for NaN. A histogram bin sums in float64 as scikit-learn's do; every sum is
// taken in a fixed order (features are split between threads, rows never), so a model does not
// depend on the thread count.
//
// Entry points trust their arguments; the binding checks shapes and indices first.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <vector>

namespace fastml::boost {

using index_t = std::ptrdiff_t;

constexpr int kBins = 256;        // as fastml::cart::kBins: codes are uint8
constexpr int kMissingBin = 255;  // as fastml::cart::kMissingBin
// A categorical split's left categories: one bit per bin code (the missing bin included), as
// scikit-learn's 8 x uint32 bitsets; a model with a "wide" categorical feature (more
// categories than max_bins, see Data) has wider bitsets, of Data::bitset_words.
constexpr int kBitsetWords = kBins / 32;
// the most categories of a wide feature: its codes are uint16, the missing one after them
constexpr int kMaxCategories = 65535;
// static: internal linkage, so that the instruction-set builds of leaf_masks_isa.cpp that call
// it each keep their own copy
static inline bool in_bitset(const std::uint32_t* bits, unsigned code) {
  return (bits[code / 32] >> (code % 32)) & 1u;
}

enum Loss : int {
  kSquaredError = 0,
  kAbsoluteError = 1,
  kQuantile = 2,
  kPoisson = 3,
  kGamma = 4,
  kBinomial = 5,     // log_loss, two classes
  kMultinomial = 6,  // log_loss, more classes
};

// A row's gradient and hessian, side by side.
struct GradHess {
  float g, h;
};

// OUT gh (n_trees, n_rows): per tree (class) the gradients and hessians of the loss at raw
// (n_rows, n_trees, C-order), times sample_weight when it is not nullptr. quantile is the
// pinball loss's. With a constant hessian (squared error, absolute error, quantile, without
// weights) h is 1.
void gradients(Loss loss, const double* y, const double* raw, const double* sample_weight,
               index_t n_rows, index_t n_trees, double quantile, GradHess* gh, int n_threads);

// OUT gh (n_rows): LambdaMART's gradients and hessians for NDCG (csrc/boost/lambdarank.cpp) at
// scores, for labels y (gain 2^y - 1); query q's rows are offsets[q] .. offsets[q + 1]. Only
// pairs with a member among the first truncation_level ranks count; norm: LightGBM's
// lambdarank_norm. sigmoid scales the score gaps. sample_weight (or nullptr): each row's
// gradient and hessian times its weight (LightGBM's weighting).
void lambdarank_gradients(const double* y, const double* score, const double* sample_weight,
                          const std::int64_t* offsets, index_t n_queries, index_t truncation_level,
                          bool norm, double sigmoid, GradHess* gh, int n_threads);

// OUT dcg (n_queries): each query's DCG@k of scores for labels y (gain 2^y - 1, discount
// 1 / log2(2 + rank), equal scores ranked in row order; csrc/boost/lambdarank.cpp). With
// score = y, the ideal DCG@k.
void query_dcg(const double* y, const double* score, const std::int64_t* offsets,
               index_t n_queries, index_t k, double* dcg, int n_threads);

// Categorical preprocessing of X (n_rows, n_features) C-order, T float or double, whose
// categorical columns hold small non-negative integers (csrc/boost/categories.cpp).
// integer_categories: OUT present (n_columns, limit), zeroed by the caller: present[j][c] set
// where category c (an integer value below limit) occurs in column columns[j]; OUT valid
// (n_columns): whether every value of that column is NaN or such a category.
template <class T>
void integer_categories(const T* X, index_t n_rows, index_t n_features,
                        const std::int64_t* columns, index_t n_columns, index_t limit,
                        std::uint8_t* present, std::uint8_t* valid, int n_threads);
// OUT out (n_rows, n_features): the features of is_categorical first, in their order, the j-th
// one's value v replaced by tables[table_offsets[j] + v] where v is an integer in
// [0, table_offsets[j + 1] - table_offsets[j]), by NaN otherwise; the other features after
// them, unchanged (scikit-learn's ColumnTransformer of an OrdinalEncoder). false where a
// categorical value is infinite (out is then unspecified).
template <class T>
bool encode_categories(const T* X, index_t n_rows, index_t n_features,
                       const std::uint8_t* is_categorical, const double* tables,
                       const std::int64_t* table_offsets, T* out, int n_threads);

struct GrowParams {
  index_t max_leaf_nodes;  // 0: no limit
  index_t max_depth;       // 0: no limit
  index_t min_samples_leaf;
  double l2_regularization;
  double min_hessian_to_split;
  double shrinkage;
  bool constant_hessian;   // hessians are 1: a bin's hessian sum is its count (scikit-learn's
                           // hessians_are_constant)
  std::vector<std::int8_t> monotonic_cst;  // (n_features) -1/0/1, or empty
  // Interaction constraints: groups of features; empty: none. A node may split on the
  // features of the groups that contain every feature its ancestors split on.
  std::vector<std::vector<std::int32_t>> interaction_cst;
  // max_features: the fraction of the allowed features searched at each node, drawn from a
  // stream seeded by seed (scikit-learn draws the same number from numpy's generator).
  double feature_fraction;
  std::uint64_t seed;
  // Quantized gradients (fastml's addition, csrc/boost/quantized.hpp): 0 for scikit-learn's
  // exact float sums; otherwise gradients are rounded to integers in [-levels / 2, levels / 2]
  // and hessians to [0, levels], stochastically from a stream keyed by quantize_seed and the
  // row, and the leaves valued from the exact gradients. n_rows * levels must stay below 2**31.
  int quantized_levels = 0;
  std::uint64_t quantize_seed = 0;
};

// What a tree needs of the data, all row-major over n_features.
struct Data {
  index_t n_rows, n_features;
  index_t n_bins;                          // max_bins + 1 (scikit-learn's n_bins)
  const std::uint8_t* codes;               // (n_rows, n_features), column-major
  const std::uint16_t* n_bins_non_missing; // (n_features)
  const std::uint8_t* has_missing;         // (n_features)
  // (n_features) or nullptr: categorical features, whose codes are their categories (the
  // estimator encodes them 0 .. n_bins_non_missing - 1) and split by scikit-learn's rule of
  // categories sorted by gradient / hessian
  const std::uint8_t* is_categorical = nullptr;
  // Categorical features of more categories than one byte codes ("wide", scikit-learn rejects
  // them): their codes are uint16, in wide_codes (n_rows, n_wide) column-major, category c as
  // c and a missing value as n_bins_non_missing[f] (one past the categories), so that their
  // histograms are sized to their categories; wide_column[f] is feature f's column there, or
  // -1 for a feature whose codes are in `codes` (then that column is not read). nullptr: none.
  const std::uint16_t* wide_codes = nullptr;
  const std::int32_t* wide_column = nullptr;
  // the width of a categorical split's bitset: kBitsetWords, or enough for every wide
  // feature's missing code
  index_t bitset_words = kBitsetWords;
  // The same codes row-major, row_width() bytes a row, or nullptr: each feature's uint8 code (a
  // wide feature's low byte), then the wide features' high bytes, in wide_codes' column order.
  // A node's histograms then read each of its rows' codes, the wide ones' too, from one cache
  // line (see build_histogram) rather than one line per feature.
  const std::uint8_t* row_codes = nullptr;
  index_t n_wide = 0;  // wide_codes' columns

  bool is_wide(index_t f) const { return wide_column != nullptr && wide_column[f] >= 0; }
  // the code (and histogram bin) of feature f's missing values; its histogram has one bin more
  int missing_bin(index_t f) const { return is_wide(f) ? n_bins_non_missing[f] : kMissingBin; }
  const std::uint8_t* column(index_t f) const { return codes + f * n_rows; }
  const std::uint16_t* wide(index_t f) const { return wide_codes + wide_column[f] * n_rows; }
  index_t row_width() const { return n_features + n_wide; }
};

// A grown tree as scikit-learn's TreePredictor nodes, in preorder (left subtree first). Leaves
// hold their shrunk value, splits their unshrunk one (as scikit-learn). rows holds the training
// rows partitioned by leaf: leaf node i's are rows[leaf_start[i] .. leaf_stop[i]). A categorical
// split's left categories are the bitset_words words of cat_bitsets from bitset_idx[i] *
// bitset_words (bitset_idx 0 for other nodes).
struct Tree {
  std::vector<double> value, gain;
  std::vector<std::uint32_t> count, depth, left, right, bitset_idx;
  std::vector<std::uint32_t> cat_bitsets;
  index_t bitset_words = kBitsetWords;
  std::vector<std::int64_t> feature;
  std::vector<std::uint8_t> missing_go_to_left, is_leaf, bin_threshold, is_categorical;
  std::vector<std::int64_t> leaf_start, leaf_stop;  // per node, -1 for splits
  std::vector<std::int32_t> rows;
  index_t n_nodes() const { return static_cast<index_t>(value.size()); }
};

// The scratch a tree's growth takes in proportion to the rows (the partition's, the gathered
// gradients and codes, the quantized gradients), kept from one tree to the next of a fit: a
// fresh allocation a tree is a fresh mapping whose pages the kernel faults in and zeroes again
// each tree (up to 28 MB a tree of the bench's 1M x 28 with two threads). Its contents between
// trees are unspecified; one fit (one thread) uses it at a time.
class GrowBuffers {
 public:
  enum Slot { kScratch, kOrdered, kNodeCodes, kQuantized, kLeafMap, kSlots };
  // slot's buffer, with room for at least n values of T (grown, contents dropped, if smaller)
  template <class T>
  T* get(Slot slot, std::size_t n) {
    static_assert(std::is_trivial_v<T>, "the bytes are reused as T without construction");
    Buffer& b = buffers_[slot];
    if (b.bytes < n * sizeof(T)) {
      b.data.reset();  // the old one freed first: the two never held at once
      b.bytes = 0;     // and none recorded should the new one not be had (bad_alloc)
      b.data.reset(new std::byte[n * sizeof(T)]);
      b.bytes = n * sizeof(T);
    }
    return reinterpret_cast<T*>(b.data.get());
  }

 private:
  struct Buffer {
    std::unique_ptr<std::byte[]> data;  // not zeroed: each user writes before it reads
    std::size_t bytes = 0;
  };
  std::array<Buffer, kSlots> buffers_;
};

// buffers: kept across the trees of a fit, or nullptr (then the tree's own).
Tree grow_tree(const Data& data, const GradHess* gh, const GrowParams& params, int n_threads,
               GrowBuffers* buffers = nullptr);

// The next iteration's gradients of a one-output loss (see gradients), taken in the same pass
// as the leaf values are added: y, sample_weight (or nullptr) and the OUT gh of n_rows.
struct NextGradients {
  Loss loss;
  const double* y;
  const double* sample_weight;
  double quantile;
  GradHess* gh;
};

// raw[rows[i] * stride] += value of the leaf holding row i, for every leaf of tree; then, where
// next is not nullptr (a one-output loss, stride 1), next->gh at the new raw. buffers: the fit's
// (its per-row leaf map kept from tree to tree), or nullptr.
void add_leaf_values(const Tree& tree, double* raw, index_t stride, int n_threads,
                     GrowBuffers* buffers = nullptr, const NextGradients* next = nullptr);

// Trees packed end to end for the prediction walk. Tree t adds to output column output[t].
struct PackedNode {
  double threshold;         // raw walk: value <= threshold goes left; for a categorical split
                            // the number of known categories (values 0 .. threshold - 1; any
                            // other goes the missing values' way, as scikit-learn's unknown
                            // categories)
  double value;             // leaves
  // -1 for a leaf (the lockstep walk reads feature 0 there), which has itself as both
  // children: a walk of several rows in lockstep then needs no branch on whether a row has
  // reached its leaf (see walk).
  std::int32_t feature;
  std::int32_t child[2];    // left, right: indices into the tree's nodes
  std::uint8_t missing_left;
  std::uint8_t bin;         // binned walk: code <= bin goes left
  std::int32_t bitset = -1; // categorical split: the first word of its left categories'
                            // bitset; -1 otherwise
};

// Whether value v of a row goes left at split node (the raw walk's rule, as scikit-learn's);
// bits: the model's bitsets. static for the same reason as in_bitset.
static inline bool raw_goes_left(double v, const PackedNode& node, const std::uint32_t* bits) {
  if (v != v) return node.missing_left != 0;  // NaN
  if (node.bitset < 0) return v <= node.threshold;
  // an unknown category (negative, or not below the number of known ones) goes the missing
  // values' way, as scikit-learn's
  if (v < 0 || !(v < node.threshold)) return node.missing_left != 0;
  return in_bitset(bits + node.bitset, static_cast<unsigned>(v));
}

class LeafMasks;  // fastml/boost_leaf_masks.hpp

class PackedTrees {
 public:
  // Node arrays of n_trees trees laid end to end: tree t's nodes are offsets[t] ..
  // offsets[t + 1], child ids local to the tree. Categorical splits (is_categorical) read
  // their left categories from bitsets (n_bitsets, bitset_words) at bitset_idx. Trees with
  // lockstep[t] are walked by blocks of rows in lockstep (see walk).
  PackedTrees(index_t n_trees, const std::int64_t* offsets, const std::int64_t* output,
              const std::uint8_t* is_leaf, const std::int64_t* feature,
              const double* threshold, const std::uint8_t* bin,
              const std::uint8_t* missing_left, const std::int64_t* left,
              const std::int64_t* right, const double* value,
              const std::uint8_t* is_categorical, const std::int64_t* bitset_idx,
              const std::uint32_t* bitsets, index_t n_bitsets, index_t bitset_words,
              const std::uint8_t* lockstep);
  index_t n_trees() const { return static_cast<index_t>(roots_.size()); }
  index_t n_outputs = 1;  // columns of raw (every output[t] lies below it)

  // raw (n_rows, n_outputs) += every tree's leaf value, trees added in order. Several rows go
  // through the leaf masks (fastml/boost_leaf_masks.hpp) where the trees allow, unless
  // leaf_masks is false (the tests compare both).
  template <class T>
  void predict(const T* X, index_t n_rows, index_t n_features, double* raw, index_t n_outputs,
               int n_threads, bool leaf_masks = true) const;
  // The same on CSR rows (no duplicate column in a row; an absent entry is 0).
  template <class T>
  void predict_csr(const T* data, const std::int64_t* indices, const std::int64_t* indptr,
                   index_t n_rows, index_t n_features, double* raw, index_t n_outputs,
                   int n_threads, bool leaf_masks = true) const;
  // The same on bin codes (n_rows, n_features), kMissingBin for missing: uint8, or uint16
  // for a model with wide categorical features (Data), whose missing code is their number of
  // categories.
  template <class Code>
  void predict_binned(const Code* codes, index_t n_rows, index_t n_features, double* raw,
                      index_t n_outputs, int n_threads) const;

 private:
  template <class Goes>
  void walk(index_t n_rows, double* raw, index_t n_outputs, int n_threads,
            double work_per_row_ns, const Goes& goes_left) const;
  std::vector<PackedNode> nodes_;
  std::vector<std::int64_t> roots_, output_;
  std::vector<index_t> lockstep_trees_;
  std::vector<std::uint32_t> bitsets_;
  // the trees as leaf bitmasks for blocks of rows; nullptr when a tree has more than 32 leaves
  std::shared_ptr<const LeafMasks> masks_;
};

}  // namespace fastml::boost
