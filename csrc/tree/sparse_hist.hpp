// The histogram search on sparse X (Dataset::csc_codes): the bins of one feature over a node
// built from the node's stored entries alone, the zero's bin holding the node's statistics
// minus theirs (LightGBM's trick: a node's rows not stored are never visited). Nothing is
// densified: the codes sit beside the CSC and CSR entries, one byte per stored entry.
//
// A node's entries of a feature come from its column (visit_node_entries, O(the column's
// entries) or O(node rows x log)), or, for a small node, from its CSR rows grouped by feature
// once per node (NodeEntries, built by NodeSearch): deep nodes hold few entries of most
// features, so most features they draw are all zero there, found at no cost.
//
// The bins of a node's stored entries add their rows in ascending order, as the dense search's
// bins do: with integer weights (bootstraps, unit weights) and classes the histograms equal
// the dense search's on the same matrix densified to the bit, and so do the trees.
#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "sparse_columns.hpp"
#include "split_search.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// The keys of sparse_histogram_search: a split's threshold is left as the bin above the cut
// (the next one the node occupies) until the best split is known (sparse_threshold); bin
// bounds are kept for long columns alone (two doubles per bin, as much as X itself where a
// column's values are distinct: see with_sparse_bounds).
struct NextBinKeys {
  double threshold_between(double, double b) const { return b; }
};

// A builder's chain state (see ChainHistograms): the held chain's columns over the rows it
// was built on, and the marked node's rows.
struct ChainBuffers {
  struct Entry {
    std::uint8_t code;   // the entry's bin
    std::uint8_t block;  // its row's index in ChainRows::blocks, 0 once the row left the chain
  };
  std::vector<Entry> entries;              // feature f's at [start[f], start[f + 1])
  std::vector<std::uint32_t> start;        // (n_features + 1)
  // (nnz) a built row's CSR entry's index in entries; allocated at the first build (most
  // deferred subtrees only mark nodes)
  std::unique_ptr<std::uint32_t[]> at;
  std::vector<std::uint8_t> row_mark;      // (n_rows) the marked node's rows' row_block, else 0
};

// The chain state one tree's builders share (the top builder's and its deferred subtrees',
// which may grow at once on several threads): each row's block, indexed once per tree, and
// the idle builders' buffers. A deferred subtree's builder once allocated and zero-filled its
// own row arrays and entries, O(n_rows + nnz) per subtree: now it takes the buffers another
// left clean (its marks cleared).
struct ChainRows {
  std::vector<std::uint8_t> row_block;  // (n_rows) a row's index in blocks
  std::vector<std::uint64_t> blocks;    // blocks[0] = 0, the rows not the node's
  bool indexed = false;                 // every row's block in a byte (255 blocks at most)

  // Indexes the blocks of rows (the tree's, before it grows), each new one where first met;
  // none (indexed false, no chain kept) where they hold more than a byte indexes.
  template <class T>
  void index(const Dataset<T>& d, const RowStatistics& stats,
             const std::vector<std::int32_t>& rows) {
    indexed = false;
    if (!d.csc_codes || !d.csr_to_csc || stats.bits == 0) return;
    blocks.assign(1, 0);
    row_block.assign(static_cast<std::size_t>(d.n_rows), 0);
    for (const std::int32_t r : rows) {
      const std::uint64_t v = stats.packed[r];
      std::size_t at = 1;
      while (at < blocks.size() && blocks[at] != v) ++at;
      if (at == blocks.size()) {
        if (at > 255) return;
        blocks.push_back(v);
      }
      row_block[r] = static_cast<std::uint8_t>(at);
    }
    indexed = true;
  }

  // Clean buffers for a builder of d: an idle one's, else new.
  template <class T>
  std::unique_ptr<ChainBuffers> acquire(const Dataset<T>& d) {
    {
      const std::lock_guard<std::mutex> hold(lock_);
      if (!idle_.empty()) {
        std::unique_ptr<ChainBuffers> out = std::move(idle_.back());
        idle_.pop_back();
        return out;
      }
    }
    auto out = std::make_unique<ChainBuffers>();
    out->start.resize(static_cast<std::size_t>(d.n_features) + 1);
    out->row_mark.assign(static_cast<std::size_t>(d.n_rows), 0);
    return out;
  }
  // Takes back buffers left clean.
  void give_back(std::unique_ptr<ChainBuffers> buffers) {
    const std::lock_guard<std::mutex> hold(lock_);
    idle_.push_back(std::move(buffers));
  }

 private:
  std::mutex lock_;
  std::vector<std::unique_ptr<ChainBuffers>> idle_;
};

// The stored entries of one large node, kept down a chain of such nodes: a chain node peels a
// few rows off many (the bench's TF-IDF trees: ~280 nodes of 3k-10k rows a tree, each drawing
// 70 of 5000 columns), and its larger child's entries are its own less the smaller child's
// rows', found from their CSR rows. A drawn feature's histogram is then its entries read in
// order, where a column scan tests every stored row of the column for the node's and adds the
// node's ones at random.
//
// The chain's columns hold the entries of the rows it was built on alone (a feature's in the
// order of those rows), each its code and a byte: 0 once its row left the chain, else the
// index of the row's packed block (RowStatistics::packed) among the few distinct ones (a
// bootstrap's draw counts times the classes: ~20). X's whole columns, read with a byte per CSC
// entry, held the entries of every row, the bootstrap's undrawn ones (a third) and the other
// subtrees' included. The chain is built again where its node holds less than half the rows
// it was built on. Packed sums are integers: the histograms equal a column scan's to the bit,
// whatever the order of the entries, and so do the trees.
//
// A node that holds no chain (too few rows to repay a build) has its rows marked by row instead
// (mark_node): its drawn columns are then read whole, each entry's block found from its row's
// mark, a byte in L1, where a column scan tested each row's position (4 bytes a row, in L2)
// with a branch.
template <class T>
struct ChainHistograms {
  ChainRows& shared;                  // the tree's (see ChainRows)
  std::unique_ptr<ChainBuffers> own;  // taken from shared at the first use
  index_t begin = -1, end = -1;       // the node they hold: its rows' range; -1: none
  index_t built = 0;                  // the rows the chain was built on
  bool marked = false;                // add_entries reads the marked node's

  explicit ChainHistograms(ChainRows& tree_rows) : shared(tree_rows) {}
  ChainHistograms(const ChainHistograms&) = delete;
  ChainHistograms& operator=(const ChainHistograms&) = delete;
  ~ChainHistograms() { give_back(); }

  // Whether entries can be kept: the tree's rows indexed (packed statistics, and the CSR
  // entries' CSC indices to update them from).
  bool usable() const { return shared.indexed; }
  bool holds(index_t first, index_t last) const { return begin == first && end == last; }
  // Whether the held node is worth a build of its own (see above).
  bool shrunk() const { return 2 * (end - begin) < built; }

  // The entries of the node whose rows are rows[0, n), which sit at [first, first + n) of the
  // builder's: counted by feature, then placed.
  void build(const Dataset<T>& d, const std::int32_t* rows, index_t n, index_t first) {
    release();
    if (!own) own = shared.acquire(d);
    if (!own->at)
      own->at.reset(new std::uint32_t[static_cast<std::size_t>(d.csc_indptr[d.n_features])]);
    std::uint32_t* start = own->start.data();
    std::fill(start, start + d.n_features + 1, 0);
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowsAhead < n) prefetch_csr_row(d, rows[i + kRowsAhead]);
      const std::int32_t r = rows[i];
      for (std::int64_t k = d.csr_indptr[r]; k < d.csr_indptr[r + 1]; ++k)
        ++start[d.csr_indices[k] + 1];
    }
    for (index_t f = 0; f < d.n_features; ++f) start[f + 1] += start[f];
    own->entries.resize(static_cast<std::size_t>(start[d.n_features]));
    ChainBuffers::Entry* entries = own->entries.data();
    std::uint32_t* at = own->at.get();
    const std::uint8_t* row_block = shared.row_block.data();
    // start[f] moves to the end of f's entries as they are placed, then back
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowsAhead < n) prefetch_csr_row(d, rows[i + kRowsAhead]);
      const std::int32_t r = rows[i];
      for (std::int64_t k = d.csr_indptr[r]; k < d.csr_indptr[r + 1]; ++k) {
        const std::uint32_t p = start[d.csr_indices[k]]++;
        const std::uint8_t code = d.csr_codes ? d.csr_codes[k] : d.csc_codes[d.csr_to_csc[k]];
        entries[p] = {code, row_block[r]};
        at[k] = p;
      }
    }
    for (index_t f = d.n_features; f > 0; --f) start[f] = start[f - 1];
    start[0] = 0;
    begin = first;
    end = first + n;
    built = n;
  }

  // Moves them to the child [first, last) of the node they hold, whose other child's rows
  // are rows[0, n).
  void keep_child(const Dataset<T>& d, const std::int32_t* rows, index_t n, index_t first,
                  index_t last) {
    ChainBuffers::Entry* entries = own->entries.data();
    const std::uint32_t* at = own->at.get();
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowsAhead < n) {  // the row's entries' places, the one array read of it here
        const std::int64_t ahead = d.csr_indptr[rows[i + kRowsAhead]];
        __builtin_prefetch(at + ahead);
        __builtin_prefetch(at + ahead + 16);
      }
      const std::int32_t r = rows[i];
      for (std::int64_t k = d.csr_indptr[r]; k < d.csr_indptr[r + 1]; ++k)
        entries[at[k]].block = 0;
    }
    begin = first;
    end = last;
  }

  void release() { begin = end = -1; }

  // Releases the node held and gives the buffers back to the tree's other builders: not
  // buffers whose marks were left set (a search that threw between mark_node and
  // unmark_node), which another builder would read as its node's rows.
  void give_back() {
    release();
    if (own && !marked) shared.give_back(std::move(own));
    own.reset();
    marked = false;
  }

  // Marks the rows[0, n) of a node searched next (add_entries reads them until unmark_node).
  void mark_node(const Dataset<T>& d, const std::int32_t* node_rows, index_t n) {
    if (!own) own = shared.acquire(d);
    std::uint8_t* mark = own->row_mark.data();
    const std::uint8_t* block = shared.row_block.data();
    for (index_t i = 0; i < n; ++i) mark[node_rows[i]] = block[node_rows[i]];
    marked = true;
  }
  void unmark_node(const std::int32_t* node_rows, index_t n) {
    if (!marked) return;
    for (index_t i = 0; i < n; ++i) own->row_mark[node_rows[i]] = 0;
    marked = false;
  }

  // Asks for the entries and codes of features[0, count) (a node's draw), searched next: each
  // feature's are a line or two at random among hundreds of kilobytes, a miss at every feature
  // where they are read one feature after another.
  void prefetch(const Dataset<T>& d, const index_t* features, index_t count) const {
    const auto lines = [](const void* from, std::int64_t bytes) {
      const char* p = static_cast<const char*>(from);
      for (std::int64_t at = 0; at < bytes; at += 64) __builtin_prefetch(p + at);
      __builtin_prefetch(p + bytes - 1);
    };
    for (index_t j = 0; j < count; ++j) {
      const index_t f = features[j];
      if (marked) {  // its entries are found from their rows
        const std::int64_t first = d.csc_indptr[f], last = d.csc_indptr[f + 1];
        if (last == first) continue;  // (last - 1 would point before the arrays)
        lines(d.csc_codes + first, last - first);
        lines(d.csc_indices + first, (last - first) * std::int64_t{sizeof(std::int32_t)});
      } else {
        const std::uint32_t first = own->start[f], last = own->start[f + 1];
        if (last == first) continue;
        lines(own->entries.data() + first,
              std::int64_t{last - first} * std::int64_t{sizeof(ChainBuffers::Entry)});
      }
    }
  }

  // Adds the node's entries of feature f to P (kBins, all zero) by code, marking their bins
  // occupied; returns their packed sum. Every entry is added without a branch (of block 0 where
  // its row is not the node's, a zero nothing reads): a test per entry mispredicted at random.
  // The occupied bins are then read from P (a row's packed block counts 1: a bin of rows is
  // never 0), where a bit set at each entry chained the entries through a store to the same
  // few words.
  std::uint64_t add_entries(const Dataset<T>& d, index_t f, std::uint64_t* P,
                            BinSet& occupied) const {
    const std::uint64_t* block = shared.blocks.data();
    std::uint64_t stored = 0;
    const auto add = [&](int code, int b) {
      const std::uint64_t v = block[b];
      P[code] += v;
      stored += v;
    };
    if (marked) {
      const std::uint8_t* codes = d.csc_codes;
      const std::int32_t* row = d.csc_indices;
      const std::uint8_t* mark = own->row_mark.data();
      for (std::int64_t k = d.csc_indptr[f]; k < d.csc_indptr[f + 1]; ++k)
        add(codes[k], mark[row[k]]);
    } else {
      const ChainBuffers::Entry* entries = own->entries.data();
      for (std::uint32_t p = own->start[f]; p < own->start[f + 1]; ++p)
        add(entries[p].code, entries[p].block);
    }
    const int n_bins = static_cast<int>(d.bin_start[f + 1] - d.bin_start[f]);
    for (int w = 0; 64 * w < n_bins; ++w) {
      const std::uint64_t* word = P + 64 * w;
      const int count = std::min(64, n_bins - 64 * w);
      std::uint64_t bits = 0;
      for (int j = 0; j < count; ++j) bits |= static_cast<std::uint64_t>(word[j] != 0) << j;
      occupied.words[w] = bits;
    }
    return stored;
  }
};

// Dataset::csr_to_csc and csc_to_csr of d into `positions` (2 nnz: the chain histograms'
// updates by row find a row's entries in CSC order; sparse_threshold reads a CSC entry's value
// from csr_data, where a binary search among its row's features cost a cache miss a step):
// where d has both formats and no more entries than 32 bits index. Returns d with them set, or
// d as it is where the formats do not hold the same entries, each row's features ascending.
template <class T>
Dataset<T> with_csc_positions(const Dataset<T>& d, std::vector<std::uint32_t>& positions) {
  Dataset<T> out = d;
  if (!d.csc_codes || !d.csr_indptr) return out;
  const std::int64_t nnz = d.csc_indptr[d.n_features];
  if (nnz >= (std::int64_t{1} << 32) || d.csr_indptr[d.n_rows] != nnz) return out;
  positions.resize(2 * static_cast<std::size_t>(nnz));
  std::uint32_t* to_csc = positions.data();
  std::uint32_t* to_csr = positions.data() + nnz;
  // visiting the columns in order, each row's next CSR entry is the one met (as sparse_bins
  // transposes the codes)
  std::vector<std::int64_t> next(d.csr_indptr, d.csr_indptr + d.n_rows);
  for (index_t f = 0; f < d.n_features; ++f) {
    for (std::int64_t k = d.csc_indptr[f]; k < d.csc_indptr[f + 1]; ++k) {
      const std::int32_t r = d.csc_indices[k];
      const std::int64_t at = next[r]++;
      if (at >= d.csr_indptr[r + 1] || d.csr_indices[at] != f) return out;
      to_csc[at] = static_cast<std::uint32_t>(k);
      to_csr[k] = static_cast<std::uint32_t>(at);
    }
  }
  out.csr_to_csc = to_csc;
  out.csc_to_csr = to_csr;
  return out;
}

// Visits the node's stored entries of feature f as visit(code, row): from its entries grouped
// by feature where it has them, else from f's column.
template <class T, class Visit>
FASTML_CART_INLINE void visit_stored_codes(const Dataset<T>& d, index_t f, const NodeRows& node,
                                           const NodeEntries<T>* entries, Visit&& visit) {
  if (entries) {
    const std::uint8_t* codes = d.csr_codes;
    for (auto e = entries->begin(f); e != entries->end(f); ++e) visit(codes[e->k], e->row);
  } else {
    const std::uint8_t* codes = d.csc_codes;
    visit_node_entries(d, f, node, [&](std::int64_t k, std::int32_t r) { visit(codes[k], r); });
  }
}

// sparse_histogram_search where the rows' blocks are packed (RowStatistics::packed, as chain
// histograms need): a stored entry adds one integer to its bin, the zero's bin gets the node's
// packed totals less the stored bins', and the bins are searched packed (packed_bins_search),
// where unpacking every bin to doubles, subtracting the stored ones from the totals in doubles
// and scanning them cost more than the bins' reads themselves. Whole numbers: the same sums,
// proxies and trees as the doubles' search, to the bit.
template <Criterion Crit, int kC, class T>
void packed_sparse_search(const Dataset<T>& d, const SplitSearch& search, index_t f,
                          const NodeRows& node, const NodeEntries<T>* entries,
                          const ChainHistograms<T>* chain, const Candidates& cand, Scratch& s,
                          Split& out) {
  const RowStatistics& stats = search.stats;
  std::uint64_t* P = s.packed_bins.data();  // all zero between searches
  BinSet occupied;
  std::uint64_t stored = 0;
  const auto add = [&](int b, std::int32_t r) {
    occupied.insert(b);
    P[b] += stats.packed[r];
    stored += stats.packed[r];
  };
  if (chain)
    stored = chain->add_entries(d, f, P, occupied);
  else
    visit_stored_codes(d, f, node, entries, add);
  // the rows not stored: the node's totals less the stored rows' (field by field, no borrow)
  const std::uint64_t zeros = stats.pack_block(cand.totals) - stored;
  if (zeros & ((std::uint64_t{1} << stats.bits) - 1)) {  // their count
    const int b = d.zero_codes[f];
    occupied.insert(b);
    P[b] += zeros;
  }
  // every occupied bin holds a row, of a whole weight >= 1 (a packed block): where no leaf
  // needs more, every candidate has enough rows and weight on both sides, and the search
  // skips their test (a sixth of its time on the bench)
  Candidates any_side = cand;
  any_side.sides_enough = cand.min_leaf <= 1 && cand.min_weight <= 1;
  search.packed_bins_search<Crit, kC>(P, occupied, 0, NextBinKeys{}, any_side, s, out);
  occupied.for_each([&](int b) { P[b] = 0; });
}

// chain: nullptr, or histograms that hold the node (see ChainHistograms).
template <Criterion Crit, int kC, class T>
void sparse_histogram_search(const Dataset<T>& d, const SplitSearch& search, index_t f,
                             const NodeRows& node, const NodeEntries<T>* entries,
                             const ChainHistograms<T>* chain, const Candidates& cand,
                             Scratch& s, Split& out) {
  if (entries && !entries->covers(f)) entries = nullptr;  // drawn after the node's entries
  if (entries && entries->begin(f) == entries->end(f)) {
    // no stored entry in the node: every row is 0, one bin, as bins_search would find it
    // (most features a deep node draws; their histograms cost more than the rest of its search)
    out.has_missing = false;
    out.constant = true;
    return;
  }
  if (search.stats.bits) {
    packed_sparse_search<Crit, kC>(d, search, f, node, entries, chain, cand, s, out);
    return;
  }
  // fractional weights or regression: the bins in doubles (chain histograms need packed blocks)
  const int C = kC > 0 ? kC : search.C;
  double* H = s.bins.data();
  BinSet occupied;
  // a bin zeroed when first met, by a loop of kC stores: add_to_bin's fill of a run-time count
  // is a call to memset, after which the loop reloaded the statistics' arrays at every entry
  const auto add = [&](int b, std::int32_t r) {
    double* bin = H + b * C;
    if (!occupied.contains(b)) {
      occupied.insert(b);
      for (int c = 0; c < C; ++c) bin[c] = 0.0;
    }
    search.add_row<kC>(bin, r);
  };
  visit_stored_codes(d, f, node, entries, add);
  // the rows not stored: the node's statistics less the stored rows'
  double* Z = s.stored.data();
  std::copy(cand.totals, cand.totals + C, Z);
  occupied.for_each([&](int b) {
    for (int c = 0; c < C; ++c) Z[c] -= H[b * C + c];
  });
  if (Z[0] > 0) {
    double* bin = search.occupied_bin(H, occupied, d.zero_codes[f]);
    for (int c = 0; c < C; ++c) bin[c] += Z[c];
  }
  double* M = s.missing.data();  // sparse X has no missing values
  std::fill(M, M + C, 0.0);
  search.bins_search<Crit, kC>(H, occupied, M, NextBinKeys{}, cand, s, out);
}

// The value of CSC entry k (column f): from csc_data, or where the fit keeps X's CSR data alone
// (X given as CSR: its CSC copy's data is freed once binned), from its CSR entry (csc_to_csr),
// else from its row, found by a binary search among the row's features.
template <class T>
double stored_value(const Dataset<T>& d, index_t f, std::int64_t k) {
  if (d.csc_data) return static_cast<double>(d.csc_data[k]);
  if (d.csc_to_csr) return static_cast<double>(d.csr_data[d.csc_to_csr[k]]);
  const std::int32_t r = d.csc_indices[k];
  const std::int32_t* first = d.csr_indices + d.csr_indptr[r];
  const std::int32_t* last = d.csr_indices + d.csr_indptr[r + 1];
  return static_cast<double>(d.csr_data[std::lower_bound(first, last, f) - d.csr_indices]);
}

// Calls note(code, value) for 0.0 in the zero's bin where the column does not store every row,
// then for each stored entry of column f, in CSC order, whose code wanted(code) takes. The one
// order of sparse_threshold's scan and with_sparse_bounds' (std::max and std::min keep the first of
// 0.0 and -0.0: the same order, the same bounds).
template <class T, class Wanted, class Note>
void scan_bin_values(const Dataset<T>& d, index_t f, Wanted&& wanted, Note&& note) {
  if (d.csc_indptr[f + 1] - d.csc_indptr[f] < d.n_rows) {
    const int zero = d.zero_codes[f];
    if (wanted(zero)) note(zero, 0.0);
  }
  for (std::int64_t k = d.csc_indptr[f]; k < d.csc_indptr[f + 1]; ++k) {
    const int code = d.csc_codes[k];
    if (wanted(code)) note(code, stored_value(d, f, k));
  }
}

// The threshold of a split found by sparse_histogram_search (threshold: the bin above the cut,
// as NextBinKeys left it), as the dense histogram search places it: scikit-learn's midpoint
// between the largest value of the cut's bin and the smallest of that bin, over all rows.
// Only those two bins' values are read.
// A feature of a long column has its bins' bounds (Dataset::sparse_bounds), found once for
// every tree: sparse_threshold scanned its whole column at each split on it, reading the two
// bins' values at random (the bench's TF-IDF forest: 6% of its fit).
template <class T>
double sparse_threshold(const Dataset<T>& d, index_t f, const Split& split) {
  const int cut = static_cast<int>(split.cut), above = static_cast<int>(split.threshold);
  if (d.sparse_bounds_start && d.sparse_bounds_start[f] >= 0) {
    const double* bounds = d.sparse_bounds + d.sparse_bounds_start[f];
    return ValueKeys<T>::between(bounds[2 * cut + 1], bounds[2 * above]);
  }
  double high = -kInf, low = kInf;
  const auto note = [&](int code, double v) {
    if (code == cut) high = std::max(high, v);
    if (code == above) low = std::min(low, v);
  };
  scan_bin_values(d, f, [&](int code) { return code == cut || code == above; }, note);
  return ValueKeys<T>::between(high, low);
}

// Dataset::sparse_bounds of d's features whose columns store at least kBoundsEntries entries
// a bin (their table then takes at most 4 bytes an entry, and theirs are the long scans),
// kept in `bounds` and `start`. Returns d with them set; d as it is without codes.
constexpr std::int64_t kBoundsEntries = 4;

template <class T>
Dataset<T> with_sparse_bounds(const Dataset<T>& d, std::vector<double>& bounds,
                              std::vector<std::int64_t>& start) {
  Dataset<T> out = d;
  out.sparse_bounds = nullptr;
  out.sparse_bounds_start = nullptr;
  if (!d.csc_codes || !d.bin_start) return out;
  start.assign(static_cast<std::size_t>(d.n_features), -1);
  std::int64_t size = 0;
  for (index_t f = 0; f < d.n_features; ++f) {
    const std::int64_t n_bins = d.bin_start[f + 1] - d.bin_start[f];
    if (d.csc_indptr[f + 1] - d.csc_indptr[f] >= kBoundsEntries * n_bins) {
      start[f] = size;
      size += 2 * n_bins;
    }
  }
  bounds.resize(static_cast<std::size_t>(size));
  for (index_t f = 0; f < d.n_features; ++f) {
    if (start[f] < 0) continue;
    double* b = bounds.data() + start[f];
    const std::int64_t n_bins = d.bin_start[f + 1] - d.bin_start[f];
    for (std::int64_t j = 0; j < n_bins; ++j) {
      b[2 * j] = kInf;
      b[2 * j + 1] = -kInf;
    }
    scan_bin_values(d, f, [](int) { return true; }, [&](int code, double v) {
      b[2 * code] = std::min(b[2 * code], v);
      b[2 * code + 1] = std::max(b[2 * code + 1], v);
    });
  }
  out.sparse_bounds = bounds.data();
  out.sparse_bounds_start = start.data();
  return out;
}

// The arrays a fit on sparse X keeps beside it for all its trees (see with_csc_positions and
// with_sparse_bounds), and d with them set.
struct SparseFitArrays {
  std::vector<std::uint32_t> positions;
  std::vector<double> bounds;
  std::vector<std::int64_t> bounds_start;
};

template <class T>
Dataset<T> sparse_fit_view(const Dataset<T>& d, SparseFitArrays& arrays) {
  return with_sparse_bounds(with_csc_positions(d, arrays.positions), arrays.bounds,
                            arrays.bounds_start);
}

}  // namespace
}  // namespace fastml::cart::detail
