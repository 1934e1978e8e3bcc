// Sparse X (CSC columns, Dataset::csc_*) for the exact search, with scikit-learn's semantics
// (its BestSparseSplitter / SparsePartitioner): a value not stored, or stored as 0, is 0.0, and
// a node's rows of a feature are searched in the order negatives, zeros, positives. Nothing is
// densified: a node reads the stored entries of its rows alone, and its zero rows enter the
// sorted search as one block whose statistics are the node's minus those of its non-zero rows.
// A node's rows ascend (rows start ascending and partition_rows is stable), as do a column's
// stored rows: a column with few stored rows for the node is scanned, each row's position in
// the rows array telling whether it is the node's (scikit-learn's index_to_samples), else the
// node's rows are looked up in it by binary search.
#pragma once

#include <algorithm>
#include <cstdint>
#include <utility>
#include <vector>

#include "absolute_error.hpp"
#include "keys.hpp"
#include "random_split.hpp"
#include "sklearn_order.hpp"
#include "sklearn_sums.hpp"
#include "split_search.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

// A node's rows: rows[0, n) ascending, at [begin, begin + n) of the builder's rows array, and
// every row's index in that array (position, -1 for rows of no weight).
struct NodeRows {
  const std::int32_t* rows;
  index_t n;
  const std::int32_t* position;
  index_t begin;
  // false where the histogram search partitions rows in place (SparseSides::partition_stored):
  // a node's rows are then in no order, and its stored entries are found by scanning columns
  bool ascending = true;
};

// Visits the stored entries of feature f among a node's rows in row order, as visit(k, row)
// with k the entry's index in the CSC arrays. The hot loop of sparse fits: the visitor is a
// lambda the compiler inlines, keeping the loop in registers.
template <class T, class Visit>
FASTML_CART_INLINE void visit_node_entries(const Dataset<T>& d, index_t f, const NodeRows& node,
                                           Visit&& visit) {
  const std::int64_t start = d.csc_indptr[f];
  const std::int32_t* first = d.csc_indices + start;
  const index_t k = d.csc_indptr[f + 1] - start;
  const std::int32_t* rows = node.rows;
  const index_t n = node.n;
  // a scan costs a step per stored row, the lookups about 3 + log2(stored) per node row
  if (k <= 8 * n || !node.ascending) {
    const std::int32_t* position = node.position;
    const std::size_t begin = static_cast<std::size_t>(node.begin);
    const std::size_t size = static_cast<std::size_t>(n);
    for (index_t j = 0; j < k; ++j) {
      const std::int32_t r = first[j];
      // the row's offset in the node, compared unsigned: absent rows (-1) and others' fail
      const std::size_t at = static_cast<std::size_t>(position[r]) - begin;
      if (at < size) visit(start + j, r);
    }
  } else {  // each of the node's rows looked up among the stored ones
    const std::int32_t* at = first;
    const std::int32_t* last = first + k;
    for (index_t i = 0; i < n; ++i) {
      at = std::lower_bound(at, last, rows[i]);
      if (at == last) break;
      if (*at == rows[i]) visit(start + (at - first), rows[i]);
    }
  }
}

// Writes the non-zero stored entries of feature f among a node's rows, in row order, to
// out[0, count) as (value, row); out has room for the column's stored entries. Returns count.
template <class T>
index_t node_nonzeros(const Dataset<T>& d, index_t f, const NodeRows& node,
                      std::pair<T, std::int32_t>* out) {
  const T* data = d.csc_data;
  index_t count = 0;
  visit_node_entries(d, f, node, [&](std::int64_t k, std::int32_t r) {
    const T v = data[k];
    if (v != 0) out[count++] = {v, r};
  });
  return count;
}

// How many of a node's rows ahead a pass over their CSR entries asks for a row's entries
// (prefetch_csr_row): a node's rows lie at random in X (the histogram search's partition leaves
// them in no order), each row's entries a cache miss the hardware prefetcher cannot guess.
constexpr index_t kRowsAhead = 8;

// Asks for the cache lines of row r's CSR entries: their features' first two lines (a row of
// the bench's TF-IDF X holds 25 entries, 100 bytes) and their codes where kept.
template <class T>
FASTML_CART_INLINE void prefetch_csr_row(const Dataset<T>& d, std::int32_t r) {
  const std::int64_t k = d.csr_indptr[r];
  __builtin_prefetch(d.csr_indices + k);
  __builtin_prefetch(d.csr_indices + k + 16);
  if (d.csr_codes) __builtin_prefetch(d.csr_codes + k);
}

// How many times cheaper an entry read from a node's rows is than one of a scanned column
// (the histogram search's NodeEntries::worth_it): rows are read in order, a column's rows looked
// up at random. The bench's 16k x 5000 CSR forest (one thread, load 10-12) took 0.517, 0.512,
// 0.504 and 0.505 s CPU at 1, 2, 4 and 8 (medians of 3), the same trees.
constexpr double kRowsCheaper = 4.0;

// A small node's stored entries grouped by feature, read from its CSR rows in O(its entries):
// a feature drawn with none is all zero there (constant) at no cost, where a column scan costs
// O(the column's entries) per feature drawn, most of them constant in deep nodes. Built per
// node where its entries are fewer than max_features columns' (see worth_it), of every feature
// (the exact search: scikit-learn's draws depend on each search's outcome) or of the features
// drawn (the histogram search draws a batch before searching it: the entries of the other
// features are skipped, not grouped); each feature's entries come in ascending rows, as
// visit_node_entries gives them, each as its index in the CSR arrays and its row. The exact
// search skips stored zeros (skip_zeros), the histogram search counts them in the zero's bin.
template <class T>
struct NodeEntries {
  struct Entry {
    std::int64_t k;  // index in csr_*
    std::int32_t row;
  };
  // (n_features) the build a feature was last met in (every feature) or drawn for (drawn ones)
  std::vector<std::int64_t> stamp;
  std::vector<std::int32_t> start, count;
  std::vector<std::int32_t> touched;
  std::vector<Entry> entries;
  std::vector<Entry> found;  // build's, of drawn features: their entries in row order
  // (n_features) 1 for the features drawn, during build: the pass over the rows tests every
  // entry's feature, a byte in L1 where stamp is 8 bytes a feature (40 kB at 5000)
  std::vector<std::uint8_t> drawn;
  std::int64_t build_id = 0;
  bool active = false;
  bool every_feature = true;  // the last build's: covers() every feature

  // cost: the node's entries against those of max_features columns, each scanned (a row's
  // entries are read in order, a column's rows looked up at random: `rows_cheaper` times as
  // cheap by entry)
  static bool worth_it(const Dataset<T>& d, index_t n, index_t max_features,
                       double rows_cheaper = 1.0) {
    const double nnz = static_cast<double>(d.csc_indptr[d.n_features]);
    return d.csr_indptr != nullptr &&
           n * (nnz / d.n_rows) < rows_cheaper * max_features * (nnz / d.n_features);
  }

  // The entries of every feature (features nullptr) or of features[0, n_drawn).
  void build(const Dataset<T>& d, const std::int32_t* rows, index_t n, bool skip_zeros,
             const index_t* features = nullptr, index_t n_drawn = 0) {
    if (stamp.empty()) {
      stamp.assign(d.n_features, -1);
      start.resize(d.n_features);
      count.resize(d.n_features);
    }
    ++build_id;
    touched.clear();
    every_feature = features == nullptr;
    for (index_t j = 0; j < n_drawn; ++j) {
      stamp[features[j]] = build_id;
      count[features[j]] = 0;
      touched.push_back(static_cast<std::int32_t>(features[j]));
    }
    if (!every_feature) {
      // the drawn features' entries, few of the node's: kept in one pass over the rows, then
      // grouped (a second pass over every entry of the rows cost as much as the first)
      found.clear();
      if (drawn.empty()) drawn.assign(d.n_features, 0);
      for (std::int32_t f : touched) drawn[f] = 1;
      for (index_t i = 0; i < n; ++i) {
        if (i + kRowsAhead < n) prefetch_csr_row(d, rows[i + kRowsAhead]);
        const std::int32_t r = rows[i];
        for (std::int64_t k = d.csr_indptr[r]; k < d.csr_indptr[r + 1]; ++k) {
          const std::int32_t f = d.csr_indices[k];
          if (!drawn[f] || (skip_zeros && d.csr_data[k] == 0)) continue;
          found.push_back(Entry{k, r});
          ++count[f];
        }
      }
      for (std::int32_t f : touched) drawn[f] = 0;
      entries.resize(place_starts());
      for (const Entry& e : found) {
        const std::int32_t f = d.csr_indices[e.k];
        entries[start[f] + count[f]++] = e;
      }
      active = true;
      return;
    }
    for (index_t i = 0; i < n; ++i) {
      if (i + kRowsAhead < n) prefetch_csr_row(d, rows[i + kRowsAhead]);
      for (std::int64_t k = d.csr_indptr[rows[i]]; k < d.csr_indptr[rows[i] + 1]; ++k) {
        if (skip_zeros && d.csr_data[k] == 0) continue;
        const std::int32_t f = d.csr_indices[k];
        if (stamp[f] != build_id) {
          stamp[f] = build_id;
          count[f] = 0;
          touched.push_back(f);
        }
        ++count[f];
      }
    }
    entries.resize(place_starts());
    for (index_t i = 0; i < n; ++i) {
      const std::int32_t r = rows[i];
      for (std::int64_t k = d.csr_indptr[r]; k < d.csr_indptr[r + 1]; ++k) {
        if (skip_zeros && d.csr_data[k] == 0) continue;
        const std::int32_t f = d.csr_indices[k];
        entries[start[f] + count[f]++] = Entry{k, r};
      }
    }
    active = true;
  }

  // Whether the entries of feature f were grouped (else its column is to be scanned).
  bool covers(index_t f) const { return every_feature || stamp[f] == build_id; }

  // start[f] of each touched feature from the counts, which are reset for the placing pass;
  // returns the entries in all
  std::int32_t place_starts() {
    std::int32_t offset = 0;
    for (std::int32_t f : touched) {
      start[f] = offset;
      offset += count[f];
      count[f] = 0;
    }
    return offset;
  }

  // Feature f's entries in the node: [first, last), none when it has none.
  const Entry* begin(index_t f) const {
    return stamp[f] == build_id ? entries.data() + start[f] : nullptr;
  }
  const Entry* end(index_t f) const {
    return stamp[f] == build_id ? entries.data() + start[f] + count[f] : nullptr;
  }

  // Feature f's entries in the node as node_nonzeros writes them; returns their count.
  index_t copy(const Dataset<T>& d, index_t f, std::pair<T, std::int32_t>* out) const {
    index_t m = 0;
    for (const Entry* e = begin(f); e != end(f); ++e) out[m++] = {d.csr_data[e->k], e->row};
    return m;
  }
};

// The sides of a node's rows under a split of feature f, for the partition: a row not stored
// holds 0.0, so only the node's stored entries are visited (mark), each whose side differs from
// 0.0's flagged in a row-indexed array; goes_left reads a row's flag and clears it, leaving the
// array clear for the next split. O(the node's entries of f), where a lookup per row costs
// O(rows x log(stored)) down long chains of large nodes. The exact search's split sends values
// <= its threshold left; the histogram search's codes <= its cut (the threshold lies between
// the cut's bin and the next: the same sides, without reading the values).
template <class T>
struct SparseSides {
  std::vector<char> flip;  // (n_rows), clear between splits
  bool zero_left = true;

  void mark(const Dataset<T>& d, index_t f, const NodeRows& node, const Split& split) {
    if (static_cast<index_t>(flip.size()) != d.n_rows) flip.assign(d.n_rows, 0);
    char* out = flip.data();
    if (d.csc_codes) {
      const int cut = static_cast<int>(split.cut);
      const std::uint8_t* codes = d.csc_codes;
      zero_left = d.zero_codes[f] <= cut;
      visit_node_entries(d, f, node, [&](std::int64_t k, std::int32_t r) {
        out[r] = (codes[k] <= cut) != zero_left;
      });
      return;
    }
    const double t = split.threshold;
    zero_left = 0.0 <= t;
    const T* data = d.csc_data;
    visit_node_entries(d, f, node, [&](std::int64_t k, std::int32_t r) {
      out[r] = (static_cast<double>(data[k]) <= t) != zero_left;
    });
  }
  bool goes_left(std::int32_t r) {
    const bool flipped = flip[r] != 0;
    flip[r] = 0;
    return flipped != zero_left;
  }

  // The histogram search's partition where sums are exact (integral weights and statistics, see
  // Builder::exact_sums_): a chain node peels a few rows off many (the bench's TF-IDF trees:
  // 2.1M node rows a tree, 7.5k in the smaller children), so only the rows whose side is not
  // the zero's, found among the node's stored entries of f, are moved: swapped with the rows
  // that hold their side's end of the range, their positions updated, their statistics summed,
  // the other side's the node's totals less theirs. O(the node's entries of f), where a stable
  // partition is O(its rows); the rows lose their order (node.ascending must be false), which
  // exact sums do not see. Returns the count of left rows.
  index_t partition_stored(const Dataset<T>& d, index_t f, const NodeRows& node,
                           const Split& split, std::int32_t* rows, std::int32_t* position,
                           const RowStatistics& stats, const double* totals, int C,
                           double* left, double* right) {
    if (static_cast<index_t>(flip.size()) != d.n_rows) flip.assign(d.n_rows, 0);
    const int cut = static_cast<int>(split.cut);
    const std::uint8_t* codes = d.csc_codes;
    zero_left = d.zero_codes[f] <= cut;
    moved.clear();
    visit_node_entries(d, f, node, [&](std::int64_t k, std::int32_t r) {
      if ((codes[k] <= cut) != zero_left) moved.push_back(r);
    });
    const index_t n = node.n, m = static_cast<index_t>(moved.size());
    // the moved rows' end of the range: [0, m) when they go left, else [n - m, n)
    const index_t first = zero_left ? n - m : 0;
    double* mine = zero_left ? right : left;
    double* other = zero_left ? left : right;
    for (std::int32_t r : moved) {
      flip[r] = 1;
      stats.add(mine, r);
    }
    index_t hole = first;  // the next row of that end not moved, to swap out
    for (std::int32_t r : moved) {
      const index_t at = position[r] - node.begin;
      if (at >= first && at < first + m) continue;  // in place
      while (flip[rows[hole]]) ++hole;
      const std::int32_t out = rows[hole];
      rows[hole] = r;
      rows[at] = out;
      position[r] = static_cast<std::int32_t>(node.begin + hole);
      position[out] = static_cast<std::int32_t>(node.begin + at);
      ++hole;
    }
    for (std::int32_t r : moved) flip[r] = 0;
    for (int c = 0; c < C; ++c) other[c] = totals[c] - mine[c];
    return zero_left ? n - m : m;
  }

 private:
  std::vector<std::int32_t> moved;  // partition_stored's
};

// A thread's view of one feature over one node: its non-zero rows in the search's order (by
// (value, row), or scikit-learn's: gather_in_order), negatives first, and its zero rows' count.
template <class T>
struct SparseSegment {
  using Sorted = std::pair<T, std::int32_t>;
  std::vector<Sorted> pairs;
  std::vector<Sorted> buffer;  // collect's: the node's entries, rows ascending
  std::vector<std::int32_t> nonzero_rows;  // ascending (gather's)
  index_t n_negative = 0, n_zero = 0;
  std::vector<Sorted> full;    // every row, the zeros in place (the absolute error's search)
  std::vector<double> column;  // (n_rows) the node's values by row, 0 elsewhere (random splitter)
  // the zero rows in the scan's order: listed by sparse_sorted_search when it needs them
  // (ascending), or by gather_in_order (scikit-learn's order)
  std::vector<std::int32_t> zero_rows;
  bool zero_rows_listed = false;

  void gather(const Dataset<T>& d, index_t f, const NodeRows& node,
              const NodeEntries<T>* entries) {
    const index_t count = collect(d, f, node, entries);
    pairs.assign(buffer.begin(), buffer.begin() + count);
    nonzero_rows.resize(pairs.size());
    for (std::size_t i = 0; i < pairs.size(); ++i) nonzero_rows[i] = pairs[i].second;
    std::sort(pairs.begin(), pairs.end());
    n_negative = std::partition_point(pairs.begin(), pairs.end(),
                                      [](const Sorted& p) { return p.first < 0; }) -
                 pairs.begin();
    n_zero = node.n - static_cast<index_t>(pairs.size());
    zero_rows_listed = false;
  }

  // gather in scikit-learn's order (where sums may round, see sklearn_order.hpp): the node's rows
  // of order sorted as its sparse splitter sorts them, the pairs and the zero rows read from it.
  [[gnu::noinline]] void gather_in_order(const Dataset<T>& d, index_t f, const NodeRows& node,
                       const NodeEntries<T>* entries, SklearnOrder<T>& order) {
    const index_t count = collect(d, f, node, entries);
    const index_t begin = node.begin, end = node.begin + node.n;
    const auto [end_negative, start_positive] =
        order.sort_sparse(buffer.data(), count, begin, end);
    pairs.clear();
    for (index_t j = begin; j < end_negative; ++j) pairs.emplace_back(order.values[j], order.rows[j]);
    for (index_t j = start_positive; j < end; ++j)
      pairs.emplace_back(order.values[j], order.rows[j]);
    n_negative = end_negative - begin;
    n_zero = start_positive - end_negative;
    zero_rows.assign(order.rows.begin() + end_negative, order.rows.begin() + start_positive);
    zero_rows_listed = true;
  }

  // The node's non-zero entries of f to buffer[0, count), rows ascending; returns count.
  index_t collect(const Dataset<T>& d, index_t f, const NodeRows& node,
                  const NodeEntries<T>* entries) {
    // written to a buffer that only grows: resizing pairs up to the column's size for each
    // feature value-initialised it every time (4% of a sparse forest's fit, perf)
    const std::size_t column = static_cast<std::size_t>(d.csc_indptr[f + 1] - d.csc_indptr[f]);
    if (buffer.size() < column) buffer.resize(column);
    return entries ? entries->copy(d, f, buffer.data()) : node_nonzeros(d, f, node, buffer.data());
  }

  // every row of the node as (value, row), sorted: the zero rows between the negatives and
  // the positives, in zero_rows' order where listed, else ascending (as the dense presorted
  // lists hold them)
  void materialize(const std::int32_t* rows, index_t n) {
    full.assign(pairs.begin(), pairs.begin() + n_negative);
    if (zero_rows_listed) {
      for (std::int32_t r : zero_rows) full.emplace_back(T(0), r);
    } else {
      std::size_t k = 0;
      for (index_t i = 0; i < n; ++i) {
        if (k < nonzero_rows.size() && nonzero_rows[k] == rows[i]) {
          ++k;
          continue;
        }
        full.emplace_back(T(0), rows[i]);
      }
    }
    full.insert(full.end(), pairs.begin() + n_negative, pairs.end());
  }

  // column holds the node's values (the random splitter reads them by row); unscatter() puts
  // the zeros back
  void scatter(index_t n_rows) {
    if (static_cast<index_t>(column.size()) != n_rows) column.assign(n_rows, 0.0);
    for (const Sorted& p : pairs) column[p.second] = static_cast<double>(p.first);
  }
  void unscatter() {
    for (const Sorted& p : pairs) column[p.second] = 0.0;
  }
};

// sorted_search over a node's negatives, its zero block and its positives, in that order, as
// scikit-learn's sparse splitter scans them: a candidate between every two consecutive keys more
// than kFeatureThreshold apart, the zero block one key of 0. There are no missing values. The
// sums are scikit-learn's (SklearnSums) over the node's rows in that order, the zero rows in
// seg's order where it lists them, else ascending: then they are listed (zero_rows) only when a
// move crosses the zero block row by row, most moves over it going back from the end past the
// few positives.
template <Criterion Crit, int kC, class T>
void sparse_sorted_search(const SplitSearch& search, const SparseSegment<T>& seg,
                          const NodeRows& node, const Candidates& cand, Scratch& s,
                          std::vector<std::int32_t>& zero_rows, Split& out) {
  double* M = s.missing.data();
  std::fill(M, M + search.C, 0.0);
  out.has_missing = false;
  const auto& p = seg.pairs;
  const index_t m = static_cast<index_t>(p.size()), neg = seg.n_negative, nz = seg.n_zero;
  const bool zeros = nz > 0;
  if (m == 0) {  // all zero
    out.constant = true;
    return;
  }
  const double lo = neg > 0 || !zeros ? static_cast<double>(p[0].first) : 0.0;
  const double hi = m > neg || !zeros ? static_cast<double>(p[m - 1].first) : 0.0;
  out.constant = !ValueKeys<T>::apart(lo, hi);
  if (out.constant) return;
  const index_t n = m + nz;
  // the key and row at position j of the scan order
  const auto key_at = [&](index_t j) {
    return j < neg ? static_cast<double>(p[j].first)
                   : j < neg + nz ? 0.0 : static_cast<double>(p[j - nz].first);
  };
  bool listed = seg.zero_rows_listed;
  const auto row_at = [&](index_t j) {
    if (j < neg) return p[j].second;
    if (j >= neg + nz) return p[j - nz].second;
    if (!listed) {  // the node's rows less the non-zero ones, both ascending
      zero_rows.clear();
      std::size_t k = 0;
      for (index_t i = 0; i < node.n; ++i) {
        if (k < seg.nonzero_rows.size() && seg.nonzero_rows[k] == node.rows[i])
          ++k;
        else
          zero_rows.push_back(node.rows[i]);
      }
      listed = true;
    }
    return zero_rows[j - neg];
  };
  search.both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left,
                                                   const Candidates& c) {
    SklearnSums sums{search.stats, c.totals, search.C, n, L};
    const auto candidate = [&](index_t q) {  // between positions q - 1 and q
      const double a = key_at(q - 1), b = key_at(q);
      if (!ValueKeys<T>::apart(a, b) || q < c.min_leaf || n - q < c.min_leaf) return;
      sums.move_to(q, row_at);
      take(out, c.template evaluate<Crit, kC>(L), ValueKeys<T>::between(a, b), a,
           missing_left);
    };
    // no candidate inside the zero block
    for (index_t q = 1; q <= std::min(neg, n - 1); ++q) candidate(q);
    if (zeros && neg + nz < n) candidate(neg + nz);
    for (index_t q = std::max(neg + nz, neg + 1); q < n; ++q)
      if (q != neg + nz || !zeros) candidate(q);
  });
}

// The exact search of feature f over a node on sparse X, by the search its options call for:
// the sorted search above or the absolute error's over the node's rows sorted with their zeros
// (both in scikit-learn's order where order is given), or the random splitter over the node's
// values scattered by row.
template <class T>
void sparse_feature_search(const Dataset<T>& d, const Params& p, const SplitSearch& search,
                           AbsoluteErrorSearch* absolute, index_t f, const NodeRows& node,
                           const NodeEntries<T>* entries, SklearnOrder<T>* order,
                           const Candidates& cand, double u, bool bit, Scratch& s,
                           SparseSegment<T>& seg, Split& out) {
  const std::int32_t* rows = node.rows;
  const index_t n = node.n;
  if (order)
    seg.gather_in_order(d, f, node, entries, *order);
  else
    seg.gather(d, f, node, entries);
  if (p.random_splitter) {
    seg.scatter(d.n_rows);
    const ValueKeys<double> keys{seg.column.data()};
    random_search(search, p.criterion, absolute, rows, n, keys, cand, s, u, bit, out);
    seg.unscatter();
  } else if (absolute) {
    double* M = s.missing.data();
    std::fill(M, M + search.C, 0.0);
    s.missing_rows.clear();
    seg.materialize(rows, n);
    // in scikit-learn's order, ranked as it ranks them at each feature (see rank_in_order)
    if (order) absolute->rank_in_order(order->rows.data() + node.begin, n);
    const ValueKeys<T> no_column{nullptr};  // the keys are in the pairs
    absolute->absolute_search(seg.full.data(), n, no_column, cand, s, out);
  } else {
    dispatch(p.criterion, search.C, search.outputs.n, [&](auto crit, auto kc) {
      sparse_sorted_search<decltype(crit)::value, decltype(kc)::value>(search, seg, node, cand,
                                                                       s, seg.zero_rows, out);
    });
  }
}

}  // namespace
}  // namespace fastml::cart::detail
