// One boosted tree grown best first, as scikit-learn's TreeGrower (grower.py): the splittable
// node of the largest gain is split next; its smaller child's histograms are built from its rows
// and the larger child's derived from the parent's buffer by subtraction; a child is searched
// right away unless max_depth, max_leaf_nodes or min_samples_leaf make it a leaf. With quantized
// gradients (params.quantized_levels > 0) the same growth runs on integer histograms
// (quantized.hpp) and the leaves get their values from the exact gradients.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <queue>
#include <random>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "fastml/boost.hpp"
#include "feature_draw.hpp"
#include "histogram.hpp"
#include "loss_point.hpp"
#include "quantized.hpp"
#include "split_search.hpp"

namespace fastml::boost {

namespace {
using namespace detail;

struct Node {
  index_t start, stop;  // its rows: rows[start .. stop)
  double sum_g, sum_h, value;
  index_t depth;
  double lower = -kInf, upper = kInf;  // bounds of its children's values (monotonic_cst)
  int hist = -1;
  bool searched = false, leaf = false;
  Split split;
  int left = -1, right = -1;
  std::vector<std::int32_t> features;  // features it may split on
  std::vector<int> groups;             // interaction groups still open to it
  index_t n() const { return stop - start; }
};

// numpy's pairwise summation of x[0..n) (what np.sum computes for a float64 array), so that a
// root's sums are scikit-learn's to the bit.
double pairwise_sum(const double* x, index_t n) {
  if (n < 8) {
    double r = 0.;
    for (index_t i = 0; i < n; ++i) r += x[i];
    return r;
  }
  if (n <= 128) {
    double r[8];
    for (int j = 0; j < 8; ++j) r[j] = x[j];
    index_t i = 8;
    for (; i < n - (n % 8); i += 8)
      for (int j = 0; j < 8; ++j) r[j] += x[i + j];
    double res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += x[i];
    return res;
  }
  index_t n2 = n / 2;
  n2 -= n2 % 8;
  return pairwise_sum(x, n2) + pairwise_sum(x + n2, n - n2);
}

// BinT, RowT: Bin and GradHess (exact), or QBin / QPackedBin (the rows carry their counts) and
// QRow (quantized: gh holds the quantized rows of exact, by scales).
template <class BinT, class RowT>
class Grower {
  static constexpr bool kQuantized = !std::is_same_v<BinT, Bin>;

 public:
  Grower(const Data& data, const RowT* gh, const GradHess* exact, QuantScales scales,
         const GrowParams& params, int n_threads, GrowBuffers& buffers)
      : data_(data), gh_(gh), exact_(exact), scales_(scales), p_(params), n_threads_(n_threads),
        buffers_(buffers), pool_(data, !params.constant_hessian), dequantized_(data),
        search_(data, params), draw_(params.feature_fraction, params.seed) {}

  Tree grow() {
    rows_.resize(data_.n_rows);
    std::iota(rows_.begin(), rows_.end(), 0);
    // the fit's buffers, not zeroed: each slot is written before it is read, and the
    // one-thread row-wise fills never touch ordered_; of node_codes_ only the pages of the
    // largest gathered node (a smaller child: at most half the rows) are ever touched
    const auto n = static_cast<std::size_t>(data_.n_rows);
    scratch_ = buffers_.get<std::int32_t>(GrowBuffers::kScratch, n);
    ordered_ = buffers_.get<RowT>(GrowBuffers::kOrdered, n);
    if (data_.row_codes != nullptr && n_threads_ > 1)
      node_codes_ = buffers_.get<std::uint8_t>(GrowBuffers::kNodeCodes,
                                               n * static_cast<std::size_t>(data_.row_width()));
    if (p_.constant_hessian)
      grow_all<true>();
    else
      grow_all<false>();
    Tree tree;
    emit(0, tree);
    tree.rows = std::move(rows_);
    return tree;
  }

 private:
  template <bool kConst>
  void grow_all() {
    init_root<kConst>();
    while (!heap_.empty()) {
      const int id = heap_.top().second;
      heap_.pop();
      split_node<kConst>(id);
    }
    if constexpr (kQuantized) renew_leaves<kConst>();
    for (Node& node : nodes_)
      if (node.leaf) node.value *= p_.shrinkage;
  }

  template <bool kConst>
  void init_root() {
    Node root;
    root.start = 0;
    root.stop = data_.n_rows;
    root.depth = 0;
    root.value = 0;
    if (p_.interaction_cst.empty()) {
      root.features.resize(data_.n_features);
      std::iota(root.features.begin(), root.features.end(), 0);
    } else {
      for (const auto& group : p_.interaction_cst)
        root.features.insert(root.features.end(), group.begin(), group.end());
      std::sort(root.features.begin(), root.features.end());
      root.features.erase(std::unique(root.features.begin(), root.features.end()),
                          root.features.end());
      root.groups.resize(p_.interaction_cst.size());
      std::iota(root.groups.begin(), root.groups.end(), 0);
    }
    root.hist = pool_.acquire();
    fill<kConst>(root.hist, 0, root.n(), root.features);
    set_root_sums<kConst>(root);
    nodes_.push_back(std::move(root));
    if (nodes_[0].n() < 2 * p_.min_samples_leaf || nodes_[0].sum_h < p_.min_hessian_to_split) {
      finalize(0);
      return;
    }
    search_and_push<kConst>(0);
  }

  // Histogram h of the n rows from rows_[start]. The integer fill's first flag says whether each
  // row carries its count (then one add a row; see QuantScales), the float fill's whether the
  // hessians are constant.
  template <bool kConst>
  void fill(int h, index_t start, index_t n, const std::vector<std::int32_t>& features) {
    const std::int32_t* rows = rows_.data() + start;
    if constexpr (std::is_same_v<BinT, QPackedBin>) {
      build_histogram<true>(pool_, h, data_, gh_, rows, n, features, ordered_,
                            n_threads_, node_codes_);
    } else if constexpr (kQuantized) {  // QBin: grow_tree takes it only where rows carry no count
      build_histogram<false>(pool_, h, data_, gh_, rows, n, features, ordered_,
                             n_threads_, node_codes_);
    } else {
      build_histogram<kConst>(pool_, h, data_, gh_, rows, n, features, ordered_,
                              n_threads_, node_codes_);
    }
    if (!codes_in_bins(pool_, h, data_, features))
      throw std::invalid_argument("codes must lie below n_bins_non_missing or be the missing bin");
  }

  // The root's sums from one feature's histogram.
  template <bool kConst>
  void set_root_sums(Node& root) {
    const index_t f0 = root.features.empty() ? 0 : root.features[0];
    const BinT* H = pool_.of(root.hist, f0);
    if constexpr (kQuantized) {  // integers: any order gives the same sums
      std::int64_t g = 0, h = 0;
      for (index_t b = 0, nb = pool_.bins(f0); b < nb; ++b) {
        g += gradient_units(H[b].gh, scales_);
        h += hessian_units(H[b].gh, scales_);
      }
      root.sum_g = static_cast<double>(g) * scales_.g;
      root.sum_h = kConst ? static_cast<double>(root.n()) : static_cast<double>(h) * scales_.h;
      return;
    } else {
      set_exact_root_sums<kConst>(root, H, f0);
    }
  }

  // scikit-learn sums one feature's histogram (its n_bins bins, the missing one last; a wide
  // feature's categories and its missing bin)
  template <bool kConst>
  void set_exact_root_sums(Node& root, const Bin* H, index_t f0) {
    const index_t nbnm = data_.n_bins_non_missing[f0], missing = data_.missing_bin(f0);
    const index_t len = std::max<index_t>(data_.n_bins, nbnm + 1);
    std::vector<double> column(len, 0.0);  // bins past the feature's own are empty
    for (index_t b = 0; b < nbnm; ++b) column[b] = H[b].g;
    column[len - 1] = H[missing].g;
    root.sum_g = pairwise_sum(column.data(), len);
    if (kConst) {
      root.sum_h = static_cast<double>(root.n());
    } else {
      for (index_t b = 0; b < nbnm; ++b) column[b] = H[b].h;
      column[len - 1] = H[missing].h;
      root.sum_h = pairwise_sum(column.data(), len);
    }
  }

  template <bool kConst>
  Split search(const Node& node, const NodeStats& stats,
               const std::vector<std::int32_t>& features) {
    if constexpr (kQuantized) {
      if (dequantized_hist_ < 0) dequantized_hist_ = dequantized_.acquire();
      dequantize(pool_, node.hist, features, scales_, dequantized_, dequantized_hist_);
      return search_.best<kConst>(dequantized_, dequantized_hist_, stats, features);
    } else {
      return search_.best<kConst>(pool_, node.hist, stats, features);
    }
  }

  // LightGBM's renewal: each leaf's value from the exact gradients of its rows, summed in row
  // order (each leaf on one thread, so any thread count gives the same values).
  template <bool kConst>
  void renew_leaves() {
    if (nodes_.size() == 1) return;  // a lone root keeps its value
    std::vector<int> leaves;
    for (int i = 0; i < static_cast<int>(nodes_.size()); ++i)
      if (nodes_[i].leaf) leaves.push_back(i);
    const int threads = fastml_hot_region_threads(2.0 * data_.n_rows, n_threads_);  // ~2 ns a row
    const int n_leaves = static_cast<int>(leaves.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (int k = 0; k < n_leaves; ++k) {
      Node& node = nodes_[leaves[k]];
      double g = 0, h = 0;
      for (index_t j = node.start; j < node.stop; ++j) {
        const GradHess& r = exact_[rows_[j]];
        g += r.g;
        if (!kConst) h += r.h;
      }
      if (kConst) h = static_cast<double>(node.n());
      node.value = node_value(g, h, node.lower, node.upper, p_.l2_regularization);
    }
  }

  template <bool kConst>
  void search_and_push(int id) {
    Node& node = nodes_[id];
    const NodeStats stats{node.n(), node.sum_g, node.sum_h, node.value, node.lower, node.upper};
    if (p_.feature_fraction < 1.0) {
      node.split = search<kConst>(node, stats, draw_(node.features));
    } else {
      node.split = search<kConst>(node, stats, node.features);
    }
    node.searched = true;
    if (node.split.gain <= 0)
      finalize(id);
    else
      heap_.emplace(node.split.gain, id);
  }

  void finalize(int id) {
    nodes_[id].leaf = true;
    ++n_leaves_;
    pool_.release(nodes_[id].hist);
  }

  // Rows of the node going left first, each side in row order (scikit-learn's split_indices).
  // In blocks, one per thread: each block reads its rows' codes once, writing its left rows
  // forward from its start in the scratch and its right rows backward from its end; then every
  // block copies its two runs to offsets summed over the blocks before it, so the order never
  // depends on the blocks.
  index_t partition(const Node& node) {
    const Split& s = node.split;
    const index_t f = s.feature;
    if (data_.is_wide(f)) {  // a wide feature is categorical: its left categories by their bits
      const std::uint32_t* left_cat = s.left_cat.data();
      return partition_codes(node, data_.wide(f),
                             [left_cat](unsigned code) { return in_bitset(left_cat, code); });
    }
    // A uint8 code's side from a table of the 256 codes, one load a row in place of the
    // comparisons (a categorical split's left categories and the missing bin by their bits).
    // Measured on the categorical bench row (1M rows, 20 trees, one thread, 5 fits alternating
    // with the old build): tree growth 1.41 s of CPU against 1.47, the same trees.
    std::uint8_t left_of[kBins];
    for (unsigned code = 0; code < kBins; ++code)
      left_of[code] = s.categorical            ? in_bitset(s.left_cat.data(), code)
                      : code == kMissingBin    ? s.missing_left
                                               : code <= static_cast<unsigned>(s.bin);
    return partition_codes(node, data_.column(f),
                           [&left_of](unsigned code) { return left_of[code] != 0; });
  }
  // Code: the split feature's codes, uint8 or (a wide categorical feature) uint16; goes_left:
  // whether a code's rows go left.
  template <class Code, class GoesLeft>
  index_t partition_codes(const Node& node, const Code* column, GoesLeft goes_left_of) {
    const index_t n = node.n();
    std::int32_t* rows = rows_.data() + node.start;
    std::int32_t* out = scratch_ + node.start;
    auto goes_left = [&](std::int32_t r) { return goes_left_of(column[r]); };
    const int blocks = fastml_hot_region_threads(3.0 * n, n_threads_);  // ~3 ns a row
    if (blocks <= 1) {
      // branch-free (which side a row takes is a coin toss to the branch predictor): the row
      // is written to both sides and only its own side's count moves on; rows[n_left] is a
      // slot already read (n_left <= i)
      index_t n_left = 0, n_right = 0;
      for (index_t i = 0; i < n; ++i) {
        const std::int32_t r = rows[i];
        const bool left = goes_left(r);
        rows[n_left] = r;
        out[n_right] = r;
        n_left += left;
        n_right += !left;
      }
      std::copy(out, out + n_right, rows + n_left);
      return n_left;
    }
    index_t lefts[kMaxBlocks + 1] = {0};
    int B = std::min(blocks, kMaxBlocks);
#pragma omp parallel num_threads(B)
    {
      // the team may be smaller than asked for (OMP_THREAD_LIMIT, nested regions, no OpenMP):
      // its blocks must still cover every row
      const int team = omp_get_num_threads(), b = omp_get_thread_num();
#pragma omp single
      B = team;  // the single's closing barrier publishes it before any block reads it
      const index_t first = n * b / B, last = n * (b + 1) / B;
      // branch-free as above: out[at_left] and out[at_right] are slots not yet written
      index_t at_left = first, at_right = last - 1;
      for (index_t i = first; i < last; ++i) {
        const std::int32_t r = rows[i];
        const bool left = goes_left(r);
        out[at_left] = r;
        out[at_right] = r;
        at_left += left;
        at_right -= !left;
      }
      lefts[b + 1] = at_left - first;
#pragma omp barrier
      index_t left_before = 0, n_left = 0;
      for (int k = 0; k < B; ++k) {
        left_before += k < b ? lefts[k + 1] : 0;
        n_left += lefts[k + 1];
      }
      const index_t n_block_left = lefts[b + 1];
      std::copy(out + first, out + first + n_block_left, rows + left_before);
      // the right rows before this block's: the rows before it less their left ones
      std::int32_t* right = rows + n_left + (first - left_before);
      for (index_t i = last - 1; i >= first + n_block_left; --i) *right++ = out[i];
    }
    index_t n_left = 0;
    for (int k = 0; k < B; ++k) n_left += lefts[k + 1];
    return n_left;
  }
  static constexpr int kMaxBlocks = 64;

  template <bool kConst>
  void split_node(int id) {
    const index_t n_left = partition(nodes_[id]);
    Node left, right;
    {
      const Node& node = nodes_[id];
      const Split& s = node.split;
      left.start = node.start;
      left.stop = node.start + n_left;
      right.start = left.stop;
      right.stop = node.stop;
      left.depth = right.depth = node.depth + 1;
      left.sum_g = s.g_left;
      left.sum_h = s.h_left;
      left.value = s.value_left;
      right.sum_g = s.g_right;
      right.sum_h = s.h_right;
      right.value = s.value_right;
      if (p_.interaction_cst.empty()) {
        left.features = node.features;
      } else {
        for (const int g : node.groups) {
          const auto& group = p_.interaction_cst[g];
          if (std::find(group.begin(), group.end(), s.feature) == group.end()) continue;
          left.groups.push_back(g);
          left.features.insert(left.features.end(), group.begin(), group.end());
        }
        std::sort(left.features.begin(), left.features.end());
        left.features.erase(std::unique(left.features.begin(), left.features.end()),
                            left.features.end());
        right.groups = left.groups;
      }
      right.features = left.features;
      if (!p_.monotonic_cst.empty() && p_.monotonic_cst[s.feature] != 0) {
        const double mid = (left.value + right.value) / 2;
        if (p_.monotonic_cst[s.feature] == 1) {
          left.lower = node.lower, left.upper = mid;
          right.lower = mid, right.upper = node.upper;
        } else {
          left.lower = mid, left.upper = node.upper;
          right.lower = node.lower, right.upper = mid;
        }
      } else {
        left.lower = right.lower = node.lower;
        left.upper = right.upper = node.upper;
      }
    }
    const int li = static_cast<int>(nodes_.size()), ri = li + 1;
    nodes_.push_back(std::move(left));
    nodes_.push_back(std::move(right));
    Node& node = nodes_[id];
    node.left = li;
    node.right = ri;
    if (!data_.has_missing[node.split.feature])
      node.split.missing_left = nodes_[li].n() > nodes_[ri].n();
    const index_t n_leaf_nodes = n_leaves_ + static_cast<index_t>(heap_.size()) + 2;
    if (p_.max_leaf_nodes > 0 && n_leaf_nodes == p_.max_leaf_nodes) {
      finalize(li);
      finalize(ri);
      while (!heap_.empty()) {
        finalize(heap_.top().second);
        heap_.pop();
      }
      pool_.release(nodes_[id].hist);
      return;
    }
    if (p_.max_depth > 0 && nodes_[li].depth == p_.max_depth) {
      finalize(li);
      finalize(ri);
      pool_.release(nodes_[id].hist);
      return;
    }
    if (nodes_[li].n() < 2 * p_.min_samples_leaf) finalize(li);
    if (nodes_[ri].n() < 2 * p_.min_samples_leaf) finalize(ri);
    if (nodes_[li].leaf && nodes_[ri].leaf) {
      pool_.release(nodes_[id].hist);
      return;
    }
    // the smaller child's histograms from its rows, the larger's by subtraction in the
    // parent's buffer
    const int small = nodes_[li].n() < nodes_[ri].n() ? li : ri;
    const int large = small == li ? ri : li;
    nodes_[small].hist = pool_.acquire();
    fill<kConst>(nodes_[small].hist, nodes_[small].start, nodes_[small].n(),
                 nodes_[small].features);
    subtract_into(pool_, nodes_[id].hist, nodes_[small].hist, nodes_[small].features);
    nodes_[large].hist = nodes_[id].hist;
    nodes_[id].hist = -1;
    for (const int child : {li, ri}) {
      if (nodes_[child].leaf)
        pool_.release(nodes_[child].hist);
      else
        search_and_push<kConst>(child);
    }
  }

  // Node id and its subtree into tree, preorder.
  void emit(int id, Tree& tree) {
    Node& node = nodes_[id];
    const std::size_t at = tree.value.size();
    tree.value.push_back(node.value);
    tree.count.push_back(static_cast<std::uint32_t>(node.n()));
    tree.depth.push_back(static_cast<std::uint32_t>(node.depth));
    tree.gain.push_back(node.searched ? node.split.gain : -1.0);
    tree.is_leaf.push_back(node.leaf);
    tree.feature.push_back(node.leaf ? 0 : node.split.feature);
    tree.bin_threshold.push_back(node.leaf ? 0 : static_cast<std::uint8_t>(node.split.bin));
    tree.missing_go_to_left.push_back(node.leaf ? 0 : node.split.missing_left);
    const bool categorical = !node.leaf && node.split.categorical;
    tree.is_categorical.push_back(categorical);
    tree.bitset_words = data_.bitset_words;
    tree.bitset_idx.push_back(
        categorical ? static_cast<std::uint32_t>(tree.cat_bitsets.size() / data_.bitset_words) : 0);
    if (categorical)
      tree.cat_bitsets.insert(tree.cat_bitsets.end(), node.split.left_cat.begin(),
                              node.split.left_cat.end());
    tree.left.push_back(0);
    tree.right.push_back(0);
    tree.leaf_start.push_back(node.leaf ? node.start : -1);
    tree.leaf_stop.push_back(node.leaf ? node.stop : -1);
    if (node.leaf) return;
    tree.left[at] = static_cast<std::uint32_t>(tree.value.size());
    emit(node.left, tree);
    tree.right[at] = static_cast<std::uint32_t>(tree.value.size());
    emit(node.right, tree);
  }

  struct ByGain {  // the largest gain on top, the older node first among equal gains
    bool operator()(const std::pair<double, int>& a, const std::pair<double, int>& b) const {
      return a.first < b.first || (a.first == b.first && a.second > b.second);
    }
  };

  const Data& data_;
  const RowT* gh_;
  const GradHess* exact_;  // the float gradients (the same as gh_ when not quantized)
  QuantScales scales_;
  const GrowParams& p_;
  int n_threads_;
  GrowBuffers& buffers_;  // the fit's: scratch_, ordered_ and node_codes_ point into it
  BasicHistogramPool<BinT> pool_;
  HistogramPool dequantized_;  // quantized: the searched node's float sums
  int dequantized_hist_ = -1;
  SplitSearch search_;
  FeatureDraw draw_;  // max_features < 1
  std::vector<Node> nodes_;
  std::vector<std::int32_t> rows_;  // each node's rows, from rows_[start] to rows_[stop]
  std::int32_t* scratch_ = nullptr;  // the partition's right rows
  RowT* ordered_ = nullptr;  // a node's rows' gradients, gathered for its histograms
  std::uint8_t* node_codes_ = nullptr;  // and their row-major codes (several threads)
  std::priority_queue<std::pair<double, int>, std::vector<std::pair<double, int>>, ByGain> heap_;
  index_t n_leaves_ = 0;
};

}  // namespace

Tree grow_tree(const Data& data, const GradHess* gh, const GrowParams& params, int n_threads,
               GrowBuffers* buffers) {
  GrowBuffers own;
  GrowBuffers& b = buffers != nullptr ? *buffers : own;
  if (params.quantized_levels == 0)
    return Grower<Bin, GradHess>(data, gh, gh, {}, params, n_threads, b).grow();
  QRow* q = b.get<QRow>(GrowBuffers::kQuantized, static_cast<std::size_t>(data.n_rows));
  const QuantScales scales = quantize(gh, data.n_rows, params.quantized_levels,
                                      params.constant_hessian, params.quantize_seed, q,
                                      n_threads);
  if (scales.count_in_row())
    return Grower<QPackedBin, QRow>(data, q, gh, scales, params, n_threads, b).grow();
  return Grower<QBin, QRow>(data, q, gh, scales, params, n_threads, b).grow();
}

namespace {

// raw[i * stride] += the value of leaf_of[i], each row in order. The rows by leaf first into
// leaf_of (a byte a row while the leaves fit one: a store into a 1 MB map for the bench's 1M
// rows where raw itself is 8 MB), then raw in one sequential pass: the scattered
// read-modify-write of raw, leaf by leaf, took each leaf over the cache lines of most of raw.
// AfterAdd: called with each row and its new raw value in that pass (the next gradients, while
// the row's raw is in a register and its y and gh lines are streamed beside it: their own pass
// read raw, 8 MB at 1M rows, once more), or nothing.
template <class LeafId, class AfterAdd>
void add_by_leaf_map(const Tree& tree, const std::vector<index_t>& leaves, double* raw,
                     index_t stride, int threads, LeafId* map, AfterAdd after_add) {
  const index_t n = static_cast<index_t>(tree.rows.size());
  const index_t n_leaves = static_cast<index_t>(leaves.size());
  std::vector<double> value(leaves.size());
  for (index_t k = 0; k < n_leaves; ++k) value[k] = tree.value[leaves[k]];
  const std::int32_t* rows = tree.rows.data();
  const double* v = value.data();
#pragma omp parallel num_threads(threads) if (threads > 1)
  {
#pragma omp for schedule(dynamic, 1)
    for (index_t k = 0; k < n_leaves; ++k) {
      const index_t i = leaves[k];
      for (index_t j = tree.leaf_start[i]; j < tree.leaf_stop[i]; ++j)
        map[rows[j]] = static_cast<LeafId>(k);
    }
#pragma omp for schedule(static)
    for (index_t r = 0; r < n; ++r) {
      double& x = raw[r * stride];
      x += v[map[r]];
      after_add(r, x);
    }
  }
}

template <class LeafId>
void add_leaf_values_by(const Tree& tree, const std::vector<index_t>& leaves, double* raw,
                        index_t stride, int n_threads, GrowBuffers& buffers,
                        const NextGradients* next) {
  const index_t n = static_cast<index_t>(tree.rows.size());
  // every row lies in a leaf: all written before read
  LeafId* map = buffers.get<LeafId>(GrowBuffers::kLeafMap, static_cast<std::size_t>(n));
  if (next == nullptr) {
    // each row gets its one addition whatever the thread count; about 2 ns a row
    const int threads = fastml_region_threads(2.0 * static_cast<double>(n), n_threads);
    add_by_leaf_map(tree, leaves, raw, stride, threads, map, [](index_t, double) {});
    return;
  }
  // as gradients (losses.cpp): 20 ns a row with an exp
  const int threads = fastml_region_threads(20.0 * static_cast<double>(n), n_threads);
  const double* y = next->y;
  const double* sw = next->sample_weight;
  const double quantile = next->quantile;
  GradHess* gh = next->gh;
  detail::with_one_output_loss(next->loss, [&](auto L) {
    add_by_leaf_map(tree, leaves, raw, stride, threads, map, [=](index_t r, double x) {
      gh[r] = detail::row_gradient<decltype(L)::value>(y, x, sw, r, quantile);
    });
  });
}

}  // namespace

void add_leaf_values(const Tree& tree, double* raw, index_t stride, int n_threads,
                     GrowBuffers* buffers, const NextGradients* next) {
  // the next gradients are one output's (before any region: with_one_output_loss throws)
  if (next != nullptr && (stride != 1 || next->loss == kMultinomial))
    throw std::invalid_argument("next gradients need a one-output loss");
  std::vector<index_t> leaves;
  for (index_t i = 0; i < tree.n_nodes(); ++i)
    if (tree.is_leaf[i]) leaves.push_back(i);
  GrowBuffers own;
  GrowBuffers& b = buffers != nullptr ? *buffers : own;
  if (leaves.size() <= 256)
    add_leaf_values_by<std::uint8_t>(tree, leaves, raw, stride, n_threads, b, next);
  else
    add_leaf_values_by<std::uint32_t>(tree, leaves, raw, stride, n_threads, b, next);
}

}  // namespace fastml::boost
