// The split search over one feature of one node, written once per criterion and channel count
// (template parameters, see dispatch in criterion.hpp) so that the hot loops have no branch on
// either: over a histogram (histogram_search), over the bins a small node occupies
// (small_node_search), or over the node's rows in key order (sorted_search). Every search
// visits the thresholds in both_sides' order, scikit-learn's, so that ties go to the same
// candidate. The absolute error's searches are in absolute_error.hpp, the random splitter's in
// random_split.hpp.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fastml/isa.hpp"
#include "keys.hpp"
#include "scratch.hpp"
#include "sklearn_order.hpp"
#include "sklearn_sums.hpp"
#include "split.hpp"
#include "statistics.hpp"

namespace fastml::cart::detail {
namespace {  // internal linkage, see common.hpp

#if defined(FASTML_HAVE_ISA_x86_64_v3)
#define FASTML_CART_AVX2_BATCHES 1
// The batched searches (SplitSearch::channels_first_best and walked_first_best) run their AVX2
// builds where isa_v3_or_wider. The rest of the tree core stays one baseline build: a per-ISA
// copy of the whole core would share its standard-library instantiations (vectors, sorts) with
// the baseline one at link time, and a non-AVX2 machine could run the AVX2 copy.
#endif

// What the searches of one builder share: how rows add to blocks, and whether missing values
// follow surrogate splits (then a search sees the rows present on its feature alone).
struct SplitSearch {
  const RowStatistics& stats;
  Outputs outputs;
  int C;           // channels of a block
  bool surrogate;  // Params::surrogates

  template <int kC = 0>
  void add(double* L, const double* S) const {
    const int n = kC > 0 ? kC : C;
    for (int c = 0; c < n; ++c) L[c] += S[c];
  }

  // The search over a node's histogram of one feature, in both_sides' order: `occupied` its
  // bins holding rows (HistogramPool::occupied), every other bin zero.
  template <Criterion Crit, int kC, class Keys>
  void histogram_search(const double* H, BinSet occupied, const Keys& keys,
                        const Candidates& cand, Scratch& s, Split& out) const {
    occupied.erase(kMissingBin);
    bins_search<Crit, kC>(H, occupied, H + kMissingBin * C, keys, cand, s, out);
  }

  // The same over a packed histogram (RowStatistics::packed): kBins sums, the missing rows' in
  // kMissingBin, searched without unpacking a bin (packed_bins_search).
  template <Criterion Crit, int kC, class Keys>
  void packed_histogram_search(const std::uint64_t* P, BinSet occupied, const Keys& keys,
                               const Candidates& cand, Scratch& s, Split& out) const {
    occupied.erase(kMissingBin);
    packed_bins_search<Crit, kC>(P, occupied, P[kMissingBin], keys, cand, s, out);
  }

  // Bin b of H, zeroed when first met (a histogram of the occupied bins only).
  double* occupied_bin(double* H, BinSet& occupied, int b) const {
    double* bin = H + b * C;
    if (!occupied.contains(b)) {
      occupied.insert(b);
      std::fill(bin, bin + C, 0.0);
    }
    return bin;
  }

  // Adds row r's statistics to bin b of H (see occupied_bin).
  template <int kC>
  void add_to_bin(double* H, BinSet& occupied, int b, std::int32_t r) const {
    add_row<kC>(occupied_bin(H, occupied, b), r);
  }

  // The search of a node under kSmallNode rows: a histogram of the bins its rows occupy, each
  // zeroed when first met and visited in order from a bitmap. Filling and scanning 256 bins, or
  // sorting the rows by code, each cost more than the rows themselves here. A bin's rows are
  // added in row order, as the node's rows ascend: the sums of a sort by (code, row).
  template <Criterion Crit, int kC>
  void small_node_search(const std::int32_t* rows, index_t n, const CodeKeys& keys,
                         const Candidates& cand, Scratch& s, Split& out) const {
    if (n < kTinyNode && tiny_node_search<Crit, kC>(rows, n, keys, cand, s, out)) return;
    BinSet occupied;
    if (stats.bits) {  // packed blocks: an integer added per row, the bins searched packed
      std::uint64_t* P = s.packed_bins.data();  // all zero between searches
      for (index_t i = 0; i < n; ++i) {
        const int b = keys.code(rows[i]);
        occupied.insert(b);
        P[b] += stats.packed[rows[i]];
      }
      const std::uint64_t missing = P[kMissingBin];
      occupied.erase(kMissingBin);
      packed_bins_search<Crit, kC>(P, occupied, missing, keys, cand, s, out);
      occupied.for_each([&](int b) { P[b] = 0; });
      P[kMissingBin] = 0;
      return;
    }
    double* H = s.bins.data();
    for (index_t i = 0; i < n; ++i) add_to_bin<kC>(H, occupied, keys.code(rows[i]), rows[i]);
    double* M = s.missing.data();
    if (occupied.contains(kMissingBin)) {
      std::copy(H + kMissingBin * C, H + kBins * C, M);
      occupied.erase(kMissingBin);
    } else {
      std::fill(M, M + C, 0.0);
    }
    bins_search<Crit, kC>(H, occupied, M, keys, cand, s, out);
  }

  // The search of a node under kTinyNode rows without missing codes (else it returns false,
  // searching nothing): its rows ordered by (code, position) and scanned (tiny_keys_scan) with
  // small_node_search's sums to the bit, without its bitmap, zeroing and scattered adds. The
  // best candidate's threshold is computed once, at the end.
  template <Criterion Crit, int kC>
  bool tiny_node_search(const std::int32_t* rows, index_t n, const CodeKeys& keys,
                        const Candidates& cand, Scratch& s, Split& out) const {
    TinyKey key[kTinyNode];
    bool missing = false;
    for (index_t i = 0; i < n; ++i) {
      const int code = keys.code(rows[i]);
      missing |= code == kMissingBin;
      key[i] = tiny_key(code, i);
    }
    if (missing) return false;
    out.has_missing = false;
    double best = out.proxy;
    int best_below = -1, best_above = -1;
    const auto consider = [&](double proxy, int below, int above) {
      if (proxy > best) {
        best = proxy;
        best_below = below;
        best_above = above;
      }
    };
    out.constant = !tiny_keys_scan<Crit, kC>(key, n, cand.monotonic == 0, cand, s,
                                             IndexedRows{*this, rows}, consider);
    if (best_below >= 0)
      take(out, best, keys.threshold_between(best_below, best_above), best_below, false);
    return true;
  }

  // tiny_node_search for every feature of a node at once (NodeSearch::find_split takes it for
  // nodes under kTinyFeaturesNode rows, kTinyNode where packed, with blocks of 4 channels and
  // no constraint): the node's n rows gathered once (gather_tiny, or a TinyRegion's root
  // gathered them), each feature's candidates scanned as tiny_node_search scans them, the same
  // proxies to the bit, and the first best over the features in their order kept in `best`,
  // without a Split per feature. Each feature's keys in order are ranked here (region
  // nullptr), or the node's list at `offset` of the region that holds it. Sets found_variable
  // when a feature is not constant.
  template <Criterion Crit>
  void tiny_node_features(const TinyRows& node, const TinyRegion* region, index_t offset,
                          index_t n, const index_t* features, index_t count,
                          const Candidates& cand, Scratch& s, TinyRows::Best& best,
                          bool& found_variable) const {
    const GatheredRows at{*this, node};
    if (!region && n == 2) {  // tiny_memo_scan's candidate of two rows without a rank
      for (index_t j = 0; j < count; ++j) {
        const index_t f = features[j];
        const int a = node.codes[0][f], b = node.codes[1][f];
        if (a == b) continue;
        found_variable = true;
        const double proxy = memo_proxy<Crit, 4>(a < b ? 1u : 2u, 2, cand, s, at);
        if (proxy > best.proxy) best = {proxy, f, std::min(a, b), std::max(a, b)};
      }
      return;
    }
    if constexpr (batched<Crit, 4>()) {
      if (region || n > TinyMemo::kRows)
        return tiny_walked_features<Crit>(node, region, offset, n, features, count, cand, s, best,
                                          found_variable);
    }
    for (index_t j = 0; j < count; ++j) {
      const index_t f = features[j];
      TinyKey ranked[kTinyFeaturesNode];
      const TinyKey* order = region ? region->list(f, offset) : ranked;
      if (!region) tiny_order(node, f, ranked);
      const auto consider = [&](double proxy, int below, int above) {
        if (proxy > best.proxy) best = {proxy, f, below, above};
      };
      // a region's positions are its root's, up to 63: no bits of a memo
      found_variable |= tiny_order_scan<Crit, 4>(order, n, !region, cand, s, at, consider);
    }
  }

  // Features walked together by tiny_walked_features: their candidates fill a Batch.
  static constexpr int kWalkedFeatures = 4;

  // tiny_node_features where the criterion batches and the node has more rows than a memo
  // takes (or a region's positions): the features not constant taken kWalkedFeatures at a time,
  // walked together (walk_features), and each group's candidates evaluated in one
  // batch_first_best, with the best so far as its floor. The same candidates, proxies and
  // first best as tiny_batch_scan's feature after feature: the groups keep the features' order.
  template <Criterion Crit>
  void tiny_walked_features(const TinyRows& node, const TinyRegion* region, index_t offset,
                            index_t n, const index_t* features, index_t count,
                            const Candidates& cand, Scratch& s, TinyRows::Best& best,
                            bool& found_variable) const {
    static_assert(kWalkedFeatures * (kTinyFeaturesNode - 1) <= kBins);
    TinyKey ranked[kWalkedFeatures][kTinyFeaturesNode];
    const TinyKey* orders[kWalkedFeatures];
    index_t walked[kWalkedFeatures];
    int k = 0;
    const index_t m = n - 1;  // candidates a feature: after each position but the last
    // a position inside a run of codes has a NaN count (walk_features), which only the
    // min_samples_leaf test turns away: cand never has sides_enough set here
    const auto evaluate_group = [&] {
      Batch batch(s);
      int b;
      switch (k) {
        case 4: b = walked_first_best<Crit, 4>(n, orders, node, batch, cand, best.proxy); break;
        case 3: b = walked_first_best<Crit, 3>(n, orders, node, batch, cand, best.proxy); break;
        case 2: b = walked_first_best<Crit, 2>(n, orders, node, batch, cand, best.proxy); break;
        default: b = walked_first_best<Crit, 1>(n, orders, node, batch, cand, best.proxy); break;
      }
      if (b >= 0) {
        const TinyKey* order = orders[b / m];
        const index_t i = b % m;
        best = {batch.proxies[b], walked[b / m], tiny_code(order[i]), tiny_code(order[i + 1])};
      }
      k = 0;
    };
    for (index_t j = 0; j < count; ++j) {
      const index_t f = features[j];
      const TinyKey* order = region ? region->list(f, offset) : ranked[k];
      if (!region) tiny_order(node, f, ranked[k]);
      if (tiny_code(order[0]) == tiny_code(order[n - 1])) continue;  // constant
      found_variable = true;
      orders[k] = order;
      walked[k++] = f;
      if (k == kWalkedFeatures) evaluate_group();
    }
    if (k > 0) evaluate_group();
  }

  // tiny_walk of kF features' n keys in order at once, without a branch on the codes: at each
  // position i but the last, the left sums after its row into channel[0..3][c * (n - 1) + i]
  // for the feature of orders[c], a candidate where the code changes after i; inside a run of
  // equal codes, no candidate: its count NaN, which fails min_samples_leaf in batch_first_best.
  // One feature's walk waited at each row on the latency of its add (and mispredicted where
  // codes repeat); kF features' chains overlap. The sums are tiny_walk's to the bit: a run's
  // rows summed from +0 in order, the run's sum then added to the left side (from +0).
  template <int kF>
  FASTML_CART_INLINE static void walk_features(index_t n, const TinyKey* const* orders,
                                               const TinyRows& node, double* const* channel) {
    using Block = double __attribute__((vector_size(32)));
    using Mask = std::int64_t __attribute__((vector_size(32)));
    constexpr std::int64_t kNaNBits = 0x7ff8000000000000;  // or'ed into a count: NaN
    Block bin[kF], left[kF];
    for (int c = 0; c < kF; ++c) bin[c] = left[c] = Block{};
    const index_t m = n - 1;
    for (index_t i = 0; i < m; ++i) {
      for (int c = 0; c < kF; ++c) {
        const TinyKey key = orders[c][i];
        Block row;
        std::memcpy(&row, node.block[tiny_position(key)], sizeof row);
        bin[c] += row;
        const Block sum = left[c] + bin[c];
        // all ones where the run of the row's code ends here
        const std::int64_t end =
            -static_cast<std::int64_t>(tiny_code(key) != tiny_code(orders[c][i + 1]));
        const Mask at_end = Mask{} + end;
        left[c] = (Block)(((Mask)sum & at_end) | ((Mask)left[c] & ~at_end));
        bin[c] = (Block)((Mask)bin[c] & ~at_end);
        const Mask no_candidate = {~end & kNaNBits, 0, 0, 0};
        const Block stored = (Block)((Mask)sum | no_candidate);
        for (int q = 0; q < 4; ++q) channel[q][c * m + i] = stored[q];
      }
    }
  }

  // Feature f's keys of the gathered rows in order (see tiny_keys_scan).
  void tiny_order(const TinyRows& node, index_t f, TinyKey* order) const {
    TinyKey key[kTinyFeaturesNode];
    for (index_t i = 0; i < node.n; ++i) key[i] = tiny_key(node.codes[i][f], i);
    rank_tiny_keys(key, node.n, order);
  }

  // Gathers a node of n < kTinyFeaturesNode rows for tiny_node_features (codes: row-major, stride
  // n_features); false, gathering nothing more, when a row has a missing code.
  bool gather_tiny(const std::int32_t* rows, index_t n, const std::uint8_t* codes,
                   index_t n_features, TinyRows& node) const {
    node.n = n;
    bool missing = false;
    for (index_t i = 0; i < n; ++i) {
      const std::uint8_t* row_codes = codes + static_cast<index_t>(rows[i]) * n_features;
      for (index_t f = 0; f < n_features; ++f) missing |= row_codes[f] == kMissingBin;
      node.codes[i] = row_codes;
    }
    if (missing) return false;
    for (index_t i = 0; i < n; ++i) {
      std::fill(node.block[i], node.block[i] + 4, 0.0);
      add_row<4>(node.block[i], rows[i]);
    }
    return true;
  }

  // The order and scan of tiny_node_search's n keys: ranked (rank_tiny_keys), then scanned
  // (tiny_order_scan). Returns false, scanning nothing, when every key has one code.
  template <Criterion Crit, int kC, class Rows, class Consider>
  bool tiny_keys_scan(const TinyKey* key, index_t n, bool memo_ok, const Candidates& cand,
                      Scratch& s, const Rows& at, Consider&& consider) const {
    TinyKey order[kTinyFeaturesNode];
    rank_tiny_keys(key, n, order);
    return tiny_order_scan<Crit, kC>(order, n, memo_ok, cand, s, at, consider);
  }

  // Each of n keys placed in `order` at its rank (the count of smaller keys: no branch to
  // mispredict, where an insertion sort's mispredicted at every other row). In the AVX2 build
  // where the CPU runs it (see walked_first_best): 16 keys a compare instead of 8.
  static void rank_tiny_keys(const TinyKey* key, index_t n, TinyKey* order) {
#if defined(FASTML_CART_AVX2_BATCHES)
    if (isa_v3_or_wider()) return rank_tiny_keys_avx2(key, n, order);
#endif
    rank_keys_by_count(key, n, order);
  }
#if defined(FASTML_CART_AVX2_BATCHES)
  [[gnu::target("avx2"), gnu::noinline]] static void rank_tiny_keys_avx2(const TinyKey* key,
                                                                         index_t n,
                                                                         TinyKey* order) {
    rank_keys_by_count(key, n, order);
  }
#endif
  FASTML_CART_INLINE static void rank_keys_by_count(const TinyKey* key, index_t n,
                                                    TinyKey* order) {
    static_assert(kTinyNode <= kTinyFeaturesNode &&
                  kTinyFeaturesNode <= kTinyPositionMask + 1 && kBins << kTinyPositionBits <= 1 << 15);
    for (index_t i = 0; i < n; ++i) {
      TinyKey rank = 0;  // 16 bits, as the keys: the compiler's vector loop holds 8 a lane
      for (index_t j = 0; j < n; ++j) rank += key[j] < key[i];
      order[rank] = key[i];
    }
  }

  // The scan of n keys in order: tiny_memo_scan in nodes of up to 3 rows when memo_ok (no
  // monotonic constraint, positions of the node's own); else tiny_batch_scan where the
  // criterion batches, tiny_scan otherwise. The statistics of the row at position p are read
  // from `at` (IndexedRows or GatheredRows). Returns false, scanning nothing, when every key
  // has one code.
  template <Criterion Crit, int kC, class Rows, class Consider>
  bool tiny_order_scan(const TinyKey* order, index_t n, bool memo_ok, const Candidates& cand,
                       Scratch& s, const Rows& at, Consider&& consider) const {
    if (n < 1 || tiny_code(order[0]) == tiny_code(order[n - 1])) return false;
    if (n <= TinyMemo::kRows && memo_ok) {
      tiny_memo_scan<Crit, kC>(n, order, cand, s, at, consider);
      return true;
    }
    if constexpr (batched<Crit, kC>()) {
      if (cand.monotonic == 0) {
        tiny_batch_scan<Crit>(n, order, cand, s, at, consider);
        return true;
      }
    }
    tiny_scan<Crit, kC>(n, order, cand, s, at, consider);
    return true;
  }

  // tiny_scan's candidates batched as bins_search batches them (batched<Crit, 4>, no monotonic
  // constraint): the same left sums, their proxies computed in one vector loop
  // (batch_first_best), and consider called once, with the first best of them. Evaluated one
  // by one, each candidate's two divisions and its test against the best waited on each other.
  template <Criterion Crit, class Rows, class Consider>
  void tiny_batch_scan(index_t n, const TinyKey* order, const Candidates& cand, Scratch& s,
                       const Rows& at, Consider&& consider) const {
    Batch batch(s);
    tiny_walk<4>(n, order, s, at, [&](auto left, int below, int above) {
      if constexpr (std::is_integral_v<decltype(left)>)
        batch.packed[batch.m] = left;
      else
        for (int k = 0; k < 4; ++k) batch.channel[k][batch.m] = left[k];
      batch.push_cut(below, above);
    });
    // packed blocks: as tiny_scan's, the left sums unpacked per candidate
    const int best =
        at.packed()
            ? batch_first_best<Crit>(
                  batch, [&](int j, double* L_j) { stats.unpack<2>(L_j, batch.packed[j]); },
                  cand, -kInf)
            : batch_first_best<Crit>(batch, ChannelLefts{batch}, cand, -kInf);
    if (best >= 0) consider(batch.proxies[best], batch.cuts[2 * best], batch.cuts[2 * best + 1]);
  }

  // tiny_node_search's scan of the keys in order (tiny_walk): each candidate's proxy to
  // consider(proxy, code below, code above).
  template <Criterion Crit, int kC, class Rows, class Consider>
  void tiny_scan(index_t n, const TinyKey* order, const Candidates& cand, Scratch& s,
                 const Rows& at, Consider&& consider) const {
    double* unpacked = s.left.data();
    tiny_walk<kC>(n, order, s, at, [&](auto left, int below, int above) {
      if constexpr (std::is_integral_v<decltype(left)>) {
        stats.unpack<kC - 2>(unpacked, left);
        consider(cand.template evaluate<Crit, kC>(unpacked), below, above);
      } else {
        consider(cand.template evaluate<Crit, kC>(left), below, above);
      }
    });
  }

  // (walk_features repeats these sums, several features at once without branches, for
  // tiny_walked_features: the two must add alike, to the bit.)
  // The one walk of the tiny scans over n keys in order: each code's rows summed apart (from
  // zero, in their order) before the sum joins the left side, as a bin; at each boundary
  // between the codes below and above, cut(left, below, above) with the left side's sums so
  // far: one integer where the blocks are packed (a row's one integer read), else the kC
  // channels (C where kC is 0) as a const double*. Fixed channels sum in locals, which the
  // compiler keeps in registers; C channels in the scratch.
  template <int kC, class Rows, class Cut>
  FASTML_CART_INLINE void tiny_walk(index_t n, const TinyKey* order, Scratch& s, const Rows& at,
                                    Cut&& cut) const {
    int prev = -1;
    if (at.packed()) {
      std::uint64_t left = 0;
      for (index_t i = 0; i < n;) {
        const int b = tiny_code(order[i]);
        std::uint64_t bin = 0;
        for (; i < n && tiny_code(order[i]) == b; ++i)
          bin += at.packed_at(tiny_position(order[i]));
        if (prev >= 0) cut(left, prev, b);
        left += bin;
        prev = b;
      }
      return;
    }
    constexpr int kFixed = kC > 0 ? kC : 1;
    double fixed_left[kFixed], fixed_bin[kFixed];
    double* L = kC > 0 ? fixed_left : s.left.data();
    double* bin = kC > 0 ? fixed_bin : s.bins.data();
    const int C = kC > 0 ? kC : this->C;
    std::fill(L, L + C, 0.0);
    for (index_t i = 0; i < n;) {
      const int b = tiny_code(order[i]);
      std::fill(bin, bin + C, 0.0);
      for (; i < n && tiny_code(order[i]) == b; ++i)
        at.template add_at<kC>(bin, tiny_position(order[i]));
      if (prev >= 0) cut(static_cast<const double*>(L), prev, b);
      add<kC>(L, bin);
      prev = b;
    }
  }

  // The same in a node of at most TinyMemo::kRows rows, without monotonic constraint: a left
  // side is one or two rows, whose sums from zero are the same in either order (IEEE addition
  // commutes, and 0 + x is x but for the sign of a zero, which later additions treat alike),
  // so each set of left rows has its proxy computed once per node, its sums then added directly.
  template <Criterion Crit, int kC, class Rows, class Consider>
  void tiny_memo_scan(index_t n, const TinyKey* order, const Candidates& cand, Scratch& s,
                      const Rows& at, Consider&& consider) const {
    unsigned left = 0;  // the positions of the left side's rows, as bits
    int prev = -1;
    for (index_t i = 0; i < n;) {
      const int b = tiny_code(order[i]);
      unsigned group = 0;
      for (; i < n && tiny_code(order[i]) == b; ++i) group |= 1u << (tiny_position(order[i]));
      if (prev >= 0) consider(memo_proxy<Crit, kC>(left, n, cand, s, at), prev, b);
      left |= group;
      prev = b;
    }
  }

  // The proxy of the left side of the rows at the positions whose bits are set in `left`, of
  // the n rows `at` reads: from the memo, else evaluated and kept there.
  template <Criterion Crit, int kC, class Rows>
  double memo_proxy(unsigned left, index_t n, const Candidates& cand, Scratch& s,
                    const Rows& at) const {
    TinyMemo& memo = s.memo;
    if (!(memo.known >> left & 1)) {
      double* L = s.left.data();
      rows_block<kC>(L, at, n, left);
      memo.proxy[left] = cand.template evaluate<Crit, kC>(L);
      memo.known |= 1u << left;
    }
    return memo.proxy[left];
  }

  // The block of the rows at the positions whose bits are set in `positions`, of the n rows
  // `at` reads, into S: summed from zero in position order (packed blocks: as integers, then
  // unpacked).
  template <int kC, class Rows>
  void rows_block(double* S, const Rows& at, index_t n, unsigned positions) const {
    if (at.packed()) {
      std::uint64_t sum = 0;
      for (index_t p = 0; p < n; ++p)
        if (positions >> p & 1) sum += at.packed_at(p);
      stats.unpack<kC - 2>(S, sum);
      return;
    }
    std::fill(S, S + (kC > 0 ? kC : C), 0.0);
    for (index_t p = 0; p < n; ++p)
      if (positions >> p & 1) at.template add_at<kC>(S, p);
  }

  // The rows of a tiny scan, by their position p in the node: IndexedRows reads them through the
  // node's row indices (one packed integer a row where the blocks are packed), GatheredRows
  // from the blocks gather_tiny copied (4 channels, never packed).
  struct IndexedRows {
    const SplitSearch& search;
    const std::int32_t* rows;
    bool packed() const { return search.stats.bits; }
    std::uint64_t packed_at(index_t p) const { return search.stats.packed[rows[p]]; }
    template <int kC>
    void add_at(double* S, index_t p) const { search.add_row<kC>(S, rows[p]); }
  };
  struct GatheredRows {
    const SplitSearch& search;
    const TinyRows& node;
    static constexpr bool packed() { return false; }
    std::uint64_t packed_at(index_t) const { return 0; }
    template <int kC>
    void add_at(double* S, index_t p) const { search.add<4>(S, node.block[p]); }
  };

  template <int kC>
  void add_row(double* S, std::int32_t r) const {
    if constexpr (kC > 0)
      stats.add_of<1>(S, r);
    else
      stats.add(S, r);
  }

  // Whether the occupied bins leave no candidate: sets out.has_missing from the missing rows'
  // statistics M, and out.constant.
  bool no_candidate(const BinSet& occupied, const double* M, Split& out) const {
    out.has_missing = M[0] > 0;
    const int first = occupied.first(), last = occupied.last();
    out.constant = first < 0 || (first == last && (surrogate || !out.has_missing));
    return out.constant;
  }

  // Every threshold between two occupied bins of H, scanned in both_sides' order; M holds the
  // missing rows' statistics.
  template <Criterion Crit, int kC, class Keys>
  void bins_search(const double* H, const BinSet& occupied, const double* M, const Keys& keys,
                   const Candidates& cand, Scratch& s, Split& out) const {
    if (no_candidate(occupied, M, out)) return;
    both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left, const Candidates& c) {
      if constexpr (batched<Crit, kC>()) {
        if (c.monotonic == 0) {
          Batch batch(s);
          int prev = -1;
          // the left sums in registers: through L, which the batch's stores might alias, each
          // bin loaded and stored them again (a tenth of the search's time)
          double left[4] = {L[0], L[1], L[2], L[3]};
          occupied.for_each([&](int b) {
            if (prev >= 0) {
              for (int k = 0; k < 4; ++k) batch.channel[k][batch.m] = left[k];
              batch.push_cut(prev, b);
            }
            add<4>(left, H + b * 4);
            prev = b;
          });
          std::copy_n(left, 4, L);
          return take_batched(batch, channels_first_best<Crit>(batch, c, out.proxy), keys,
                              missing_left, out);
        }
      }
      int prev = -1;
      occupied.for_each([&](int b) {
        if (prev >= 0)
          take(out, c.template evaluate<Crit, kC>(L), keys.threshold_between(prev, b), prev,
               missing_left);
        add<kC>(L, H + b * C);
        prev = b;
      });
    });
  }

  // bins_search over packed sums (RowStatistics::packed): P holds the occupied bins' sums,
  // missing the missing rows'. The left side's sum is one integer added per bin, unpacked at
  // each candidate: whole numbers, so the blocks bins_search would sum in doubles, to the bit.
  template <Criterion Crit, int kC, class Keys>
  void packed_bins_search(const std::uint64_t* P, const BinSet& occupied, std::uint64_t missing,
                          const Keys& keys, const Candidates& cand, Scratch& s,
                          Split& out) const {
    double* M = s.missing.data();
    stats.unpack<kC - 2>(M, missing);
    if (no_candidate(occupied, M, out)) return;
    both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left, const Candidates& c) {
      // both_sides starts L with the missing rows' statistics when they go left
      std::uint64_t left = missing_left ? missing : 0;
      if constexpr (batched<Crit, kC>()) {
        if (c.monotonic == 0) {
          Batch batch(s);
          std::uint64_t* lefts = batch.packed;
          int prev = -1;
          occupied.for_each([&](int b) {
            if (prev >= 0) {
              lefts[batch.m] = left;
              batch.push_cut(prev, b);
            }
            left += P[b];
            prev = b;
          });
          const auto left_at = [&](int j, double* L_j) { stats.unpack<2>(L_j, lefts[j]); };
          return take_batched(batch, batch_first_best<Crit>(batch, left_at, c, out.proxy), keys,
                              missing_left, out);
        }
      }
      int prev = -1;
      occupied.for_each([&](int b) {
        if (prev >= 0) {
          stats.unpack<kC - 2>(L, left);
          take(out, c.template evaluate<Crit, kC>(L), keys.threshold_between(prev, b), prev,
               missing_left);
        }
        left += P[b];
        prev = b;
      });
    });
  }

  // Whether the bins' searches batch their candidates (Batch, batch_first_best): 4 channels,
  // and a proxy the compiler turns into a vector loop.
  template <Criterion Crit, int kC>
  static constexpr bool batched() {
    return kC == 4 && (Crit == kGini || Crit == kSquaredError || Crit == kFriedmanMSE);
  }

  // The candidates of a bins' scan for 4 channels, without monotonic constraint, in scan order:
  // their left statistics, one array per channel (or a packed sum each), and
  // the bins either side of each; then the proxies.
  struct Batch {
    double* channel[4];
    std::uint64_t* packed;
    double* proxies;
    std::int16_t* cuts;  // (kBins, 2)
    int m = 0;
    explicit Batch(Scratch& s)
        : packed(s.batch_packed.data()),
          proxies(s.batch.data() + 4 * kBins),
          cuts(s.batch_cuts.data()) {
      for (int k = 0; k < 4; ++k) channel[k] = s.batch.data() + k * kBins;
    }
    // Counts the candidate whose left statistics were just stored, between bins below and above.
    void push_cut(int below, int above) {
      cuts[2 * m] = static_cast<std::int16_t>(below);
      cuts[2 * m + 1] = static_cast<std::int16_t>(above);
      ++m;
    }
  };

  // The candidates of kF features' n keys in order (walk_features) into the batch, and the first
  // best of them above floor (batch_first_best), or -1: in the AVX2 build where the CPU runs it
  // (isa_v3_or_wider), where a block's 4 channels are one register and 4 candidates' proxies one
  // vector (the same operations, no fused multiply-add: the same proxies to the bit).
  template <Criterion Crit, int kF>
  int walked_first_best(index_t n, const TinyKey* const* orders, const TinyRows& node,
                        Batch& batch, const Candidates& cand, double floor) const {
#if defined(FASTML_CART_AVX2_BATCHES)
    if (isa_v3_or_wider())
      return walked_first_best_avx2<Crit, kF>(n, orders, node, batch, cand, floor);
#endif
    return walk_and_pick<Crit, kF>(n, orders, node, batch, cand, floor);
  }
#if defined(FASTML_CART_AVX2_BATCHES)
  template <Criterion Crit, int kF>
  [[gnu::target("avx2"), gnu::noinline]] int walked_first_best_avx2(
      index_t n, const TinyKey* const* orders, const TinyRows& node, Batch& batch,
      const Candidates& cand, double floor) const {
    return walk_and_pick<Crit, kF>(n, orders, node, batch, cand, floor);
  }
#endif
  template <Criterion Crit, int kF>
  FASTML_CART_INLINE int walk_and_pick(index_t n, const TinyKey* const* orders,
                                       const TinyRows& node, Batch& batch,
                                       const Candidates& cand, double floor) const {
    walk_features<kF>(n, orders, node, batch.channel);
    batch.m = static_cast<int>(kF * (n - 1));
    return batch_first_best<Crit>(batch, ChannelLefts{batch}, cand, floor);
  }

  // The batch's candidate `best` (batch_first_best's) taken into out, if any.
  template <class Keys>
  void take_batched(const Batch& batch, int best, const Keys& keys, bool missing_left,
                    Split& out) const {
    const std::int16_t* cuts = batch.cuts;
    if (best >= 0)
      take(out, batch.proxies[best],
           keys.threshold_between(cuts[2 * best], cuts[2 * best + 1]), cuts[2 * best],
           missing_left);
  }

  // A batch's left statistics stored one array a channel (bins_search, walk_features): the
  // proxies' loop over them is a vector loop.
  struct ChannelLefts {
    const Batch& batch;
    FASTML_CART_INLINE void operator()(int j, double* L_j) const {
      for (int k = 0; k < 4; ++k) L_j[k] = batch.channel[k][j];
    }
  };

  // batch_first_best over ChannelLefts, in the AVX2 build where the CPU runs it (see
  // walked_first_best).
  template <Criterion Crit>
  int channels_first_best(const Batch& batch, const Candidates& c, double floor) const {
#if defined(FASTML_CART_AVX2_BATCHES)
    if (isa_v3_or_wider()) return channels_first_best_avx2<Crit>(batch, c, floor);
#endif
    return batch_first_best<Crit>(batch, ChannelLefts{batch}, c, floor);
  }
#if defined(FASTML_CART_AVX2_BATCHES)
  template <Criterion Crit>
  [[gnu::target("avx2"), gnu::noinline]] int channels_first_best_avx2(
      const Batch& batch, const Candidates& c, double floor) const {
    return batch_first_best<Crit>(batch, ChannelLefts{batch}, c, floor);
  }
#endif

  // The first best of a batch's m candidates, left_at(j, L) setting candidate j's left
  // statistics: every proxy computed in a vector loop (a candidate a few cycles instead of a
  // chain of tests and two divisions), the candidates failing min_samples_leaf or
  // min_weight_leaf set to -inf in a second one (in the first, the compiler computes the proxy
  // only for the others, a branch no vector loop takes), then the first best taken. The same
  // operations in the same order as Candidates::evaluate, so the same proxies to the bit.
  // The proxies are left in batch.proxies; returns the index of the first candidate of largest
  // proxy above `floor`, or -1. Always inlined: the AVX2 builds above compile it with their
  // instruction set.
  template <Criterion Crit, class LeftAt>
  FASTML_CART_INLINE int batch_first_best(const Batch& batch, LeftAt&& left_at,
                                          const Candidates& c, double floor) const {
    const int m = batch.m;
    double* proxies = batch.proxies;
    // in locals: read through c, they might alias the proxies stored (the loop would reload
    // them at every candidate, and not be vectorized)
    const double totals[4] = {c.totals[0], c.totals[1], c.totals[2], c.totals[3]};
    const double min_leaf = c.min_leaf, min_weight = c.min_weight, scale = c.scale,
                 shift = c.shift;
    const Outputs outputs = c.outputs;
    for (int j = 0; j < m; ++j) {
      double left[4], right[4];
      left_at(j, left);
      for (int k = 0; k < 4; ++k) right[k] = totals[k] - left[k];
      proxies[j] = proxy<Crit, 4>(left, right, outputs) * scale + shift;
    }
    // (the test outside the loop, which a test in its condition kept from being vectorized)
    if (!c.sides_enough) {
      for (int j = 0; j < m; ++j) {
        double left[4];
        left_at(j, left);
        const bool ok = (left[0] >= min_leaf) & (totals[0] - left[0] >= min_leaf) &
                        (left[1] >= min_weight) & (totals[1] - left[1] >= min_weight);
        proxies[j] = ok ? proxies[j] : -kInf;
      }
    }
    // the first largest proxy, then one take: the candidates that beat the best so far one
    // after the other each computed a threshold. Its value from 4 running maxima, each a chain
    // of a quarter of the candidates (one running best waited at each candidate on the compare
    // and select of the one before; a NaN is never taken, as there), then the first candidate
    // of that value (+0 and -0 alike, as the running best's compare).
    double top[4] = {floor, floor, floor, floor};
    int j = 0;
    for (; j + 4 <= m; j += 4)
      for (int q = 0; q < 4; ++q) top[q] = proxies[j + q] > top[q] ? proxies[j + q] : top[q];
    for (; j < m; ++j) top[0] = proxies[j] > top[0] ? proxies[j] : top[0];
    const double largest = std::max(std::max(top[0], top[1]), std::max(top[2], top[3]));
    if (!(largest > floor)) return -1;
    for (j = 0; proxies[j] != largest; ++j) {
    }
    return j;
  }

  // The search over the non-missing rows of a node in ascending key order (pairs of key and row;
  // s.missing holds the statistics of the missing rows): candidates sit between distinct keys.
  template <Criterion Crit, int kC, class Keys, class Pair>
  void sorted_search(const Pair* pairs, index_t m, const Keys& keys, const Candidates& cand,
                     Scratch& s, Split& out) const {
    const double* M = s.missing.data();
    out.has_missing = M[0] > 0;
    out.constant = m == 0 ||
        (!keys.apart(key_of(pairs[0]), key_of(pairs[m - 1])) &&
         (surrogate || !out.has_missing));
    if (out.constant) return;
    both_sides<Crit, kC>(M, cand, s, out, [&](double* L, bool missing_left, const Candidates& c) {
      if (!out.has_missing) {  // scikit-learn's sums (see SklearnSums), at its candidates
        (void)keys;
        sklearn_pass<Crit, kC>(
            m, 0, m, missing_left, [&](index_t j) { return key_of(pairs[j]); },
            [&](index_t j) { return row_of(pairs[j]); }, c, s, out);
        return;
      }
      for (index_t i = 0; i + 1 < m; ++i) {
        stats.add(L, row_of(pairs[i]));
        const double a = key_of(pairs[i]), b = key_of(pairs[i + 1]);
        if (!keys.apart(a, b)) continue;
        take(out, c.template evaluate<Crit, kC>(L), keys.threshold_between(a, b), a, missing_left);
      }
    });
  }

  // One pass of scikit-learn's scan (its node_split_best) over a node's n rows in the order
  // its splitter holds them: row_at(j) the row at position j, value_at(j) its value. The
  // present values are sorted at positions [first, end_present) (the missing rows before them
  // in the second pass, after them in the first); the candidates lie between values apart, and,
  // in the first pass with missing rows, at end_present (the missing rows alone right). The
  // sums are scikit-learn's running sums (SklearnSums), from nothing at each pass.
  template <Criterion Crit, int kC, class ValueAt, class RowAt>
  FASTML_CART_INLINE void sklearn_pass(index_t n, index_t first, index_t end_present, bool missing_left,
                    ValueAt&& value_at, RowAt&& row_at, const Candidates& c, Scratch& s,
                    Split& out) const {
    double* L = s.left.data();
    std::fill(L, L + C, 0.0);
    SklearnSums sums{stats, c.totals, C, n, L};
    // the last position, end_present, only with missing rows (they alone go right)
    const index_t last = end_present < n ? end_present : end_present - 1;
    for (index_t p = first + 1; p <= last; ++p) {
      const bool all_present = p == end_present;
      const double a = value_at(p - 1), b = all_present ? a : value_at(p);
      if (!all_present && !ValueKeys<float>::apart(a, b)) continue;
      if (p < c.min_leaf || n - p < c.min_leaf) continue;
      sums.move_to(p, row_at);
      take(out, c.template evaluate<Crit, kC>(L),
           all_present ? kInf : ValueKeys<float>::between(a, b), all_present ? kInf : a,
           missing_left);
    }
  }

  // The search of one feature over a node's rows [begin, end) of scikit-learn's order (see
  // sklearn_order.hpp), which it sorts (presorted: the node's segment of the feature's presorted
  // list) and, with missing values, turns for the second pass as scikit-learn's splitter does,
  // leaving them as that leaves its samples.
  // Not inlined: the core is one unit (forest.cpp), and GCC stops inlining the hot loops'
  // helpers once the unit has grown by its limit (the integer-weight fits took 1.4x as long).
  template <Criterion Crit, int kC, class T>
  [[gnu::noinline]] void sklearn_order_search(SklearnOrder<T>& order, const T* column,
                                              const std::pair<T, std::int32_t>* presorted,
                                              index_t begin, index_t end, const Candidates& cand,
                                              Scratch& s, Split& out) const {
    const index_t n = end - begin;
    const index_t n_missing = order.sort(column, presorted, begin, end);
    const index_t present = n - n_missing;
    const T* v = order.values.data() + begin;
    const std::int32_t* r = order.rows.data() + begin;
    out.has_missing = n_missing > 0;
    out.constant = present == 0 ||
        (!ValueKeys<T>::apart(v[0], v[present - 1]) && n_missing == 0);
    if (out.constant) return;
    const auto value_at = [&](index_t j) { return static_cast<double>(v[j]); };
    const auto row_at = [&](index_t j) { return r[j]; };
    sklearn_pass<Crit, kC>(n, 0, present, false, value_at, row_at, cand, s, out);
    if (n_missing == 0) return;
    order.missing_to_front(begin, end, n_missing);
    sklearn_pass<Crit, kC>(n, n_missing, n, true, value_at, row_at, cand, s, out);
  }

  // The scan order of both searches, scikit-learn's: every threshold with the missing rows
  // (statistics M) right, then the split of the values from the missing rows (threshold +inf),
  // then every threshold with them left. scan(L, missing_left, candidates) walks the thresholds
  // ascending, adding to L (which starts with the missing rows' statistics, or none). With
  // surrogate splits the missing rows take no part: one scan over the present rows.
  template <Criterion Crit, int kC, class Scan>
  void both_sides(const double* M, const Candidates& cand, Scratch& s, Split& out,
                  Scan&& scan) const {
    double* L = s.left.data();
    if (surrogate && out.has_missing) {
      std::fill(L, L + C, 0.0);
      scan(L, false, present_candidates<Crit>(cand, M, s));
      return;
    }
    for (int pass = 0; pass < (out.has_missing ? 2 : 1); ++pass) {
      const bool missing_left = pass == 1;
      if (missing_left)
        std::copy(M, M + C, L);
      else
        std::fill(L, L + C, 0.0);
      scan(L, missing_left, cand);
      if (!missing_left && out.has_missing) {
        for (int c = 0; c < C; ++c) L[c] = cand.totals[c] - M[c];
        take(out, cand.template evaluate<Crit, kC>(L), kInf, kMissingBin - 1, false);
      }
    }
  }

  // The same with proxies that compare as impurity decreases across features. A proxy minus
  // the parent term of its rows is their decrease: shifted by parent_term(node) -
  // parent_term(present rows), it is the node's parent term plus that decrease, as for a feature
  // without missing rows. friedman_mse's proxy is the rows' weight times their decrease: scaled
  // by the node's weight over theirs instead.
  template <Criterion Crit>
  Candidates present_candidates(const Candidates& cand, const double* M, Scratch& s) const {
    Candidates present = cand.without_missing(M, s.present.data());
    if constexpr (Crit == kFriedmanMSE)
      present.scale = cand.totals[1] / present.totals[1];
    else
      present.shift =
          parent_term<Crit>(cand.totals, outputs) - parent_term<Crit>(present.totals, outputs);
    return present;
  }

  // The exact search's rows of a node: its segment [begin, end) of a feature's presorted list
  // (pairs of value and row), whose missing values come last. Returns the count of non-missing
  // rows. The missing rows' statistics go to s.missing and, with keep_rows (the absolute
  // error), the rows themselves to s.missing_rows, ascending.
  template <class Pair>
  index_t presorted_segment(const Pair* seg, index_t begin, index_t end, bool keep_rows,
                            Scratch& s) const {
    double* M = s.missing.data();
    std::fill(M, M + C, 0.0);
    s.missing_rows.clear();
    index_t m = end;
    while (m > begin && std::isnan(seg[m - 1].first)) {
      stats.add(M, seg[--m].second);
      if (keep_rows) s.missing_rows.push_back(seg[m].second);
    }
    // ascending rows, as sort_codes queues them: the same running sums, the same rounding
    std::reverse(s.missing_rows.begin(), s.missing_rows.end());
    return m - begin;
  }
};

}  // namespace
}  // namespace fastml::cart::detail
