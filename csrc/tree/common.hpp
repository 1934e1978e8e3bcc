// What every part of the CART core shares: its tuning constants and its random streams.
//
// The parts' headers define everything in an unnamed namespace: internal linkage, as when they
// were one file (cart.cpp), so each unit that includes them gets its own copy (forest.cpp is the
// only one today).
#pragma once

#include <cstdint>
#include <limits>

#include "fastml/cart.hpp"

// For the few small functions of the hot loops that must be inlined wherever they are called:
// once cart.cpp was split into parts, GCC left Candidates::evaluate and RowStatistics::add as
// calls in the presorted search (callgrind: 92M instructions against 80M for the same fits),
// and exact fits took 1.4-1.6x as long.
#define FASTML_CART_INLINE [[gnu::always_inline]] inline

namespace fastml::cart::detail {
namespace {  // internal linkage, see above

constexpr double kEpsilon = 10 * std::numeric_limits<double>::epsilon();
// scikit-learn's FEATURE_THRESHOLD: its exact splitter takes values of a feature no more than this
// apart for one value (no threshold between them; a feature spanning no more is constant).
constexpr double kFeatureThreshold = 1e-7;
constexpr double kInf = std::numeric_limits<double>::infinity();
// Nodes with fewer rows are searched over the bins they occupy alone (small_node_search):
// cheaper than filling and scanning 256-bin histograms. Up to 4096 rows measured no faster.
constexpr index_t kSmallNode = 64;
// The same for packed blocks (RowStatistics::packed) where no histogram is kept for subtraction
// (max_features below n_features): a row then adds one integer to its bin, and filling,
// unpacking and scanning every bin costs more than the occupied ones up to larger nodes
// (RandomForestClassifier 100k x 20, one thread, load 14-15, medians of 3: 256 rows 0.914 s
// CPU, 1024 rows 0.949 s, 64 rows 0.989 s).
constexpr index_t kSmallPackedNode = 256;
// Nodes with fewer rows are searched by sorting their rows' codes (tiny_node_search): the bins'
// bookkeeping costs more than the rows there, and half the nodes of a fully grown regression tree
// have 2 or 3 rows. At most 256 (a row's position in the node shares a key with its code).
constexpr index_t kTinyNode = 16;
// Nodes with fewer rows and one block of 4 channels (one regression output, or two classes;
// packed blocks under kTinyNode rows only) search every drawn feature at once from their rows gathered
// once (tiny_node_features): there the bitmap search of small_node_search costs more than
// ranking a few dozen codes (RandomForestRegressor 100k x 20, one thread, the CPU of growing 4
// trees, alternating processes, medians of 3, load 13-15: 1.06, 1.19, 1.04 s against 1.12, 1.19,
// 1.12 s at 16 rows, the same trees). At most 256, as kTinyNode.
constexpr index_t kTinyFeaturesNode = 64;
// ... while n_features is at most this many times the features drawn a node: gathering a row
// reads all its features' codes, and with a small share drawn (sqrt of thousands of features)
// that costs more than the per-feature searches it saves (about 370 cycles a feature).
constexpr index_t kTinyDrawnShare = 8;
// Nodes of fewer rows are not grown as they come but deferred, and the subtrees they root grown
// in parallel afterwards (see grow_depth_first): most nodes of a deep tree are small, too small
// to share one node's work between threads.
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

// scikit-learn's tree random stream (sklearn/utils/_random.pxd our_rand_r, tree/_utils.pyx
// rand_int): xorshift32 seeded as its Splitter seeds it, random_state.randint(0, RAND_R_MAX).
struct SklearnRandom {
  std::uint32_t state;
  std::uint32_t next() {
    if (state == 0) state = 1;  // its DEFAULT_SEED
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state % (std::uint32_t{0x7FFFFFFF} + 1);
  }
  index_t between(index_t low, index_t high) { return low + next() % (high - low); }
};

// The split stream of a tree is apart from its bootstrap stream, and from the streams of its
// deferred subtrees (see grow_subtrees in growth.hpp).
constexpr std::uint64_t kSplitStream = 0xD1B54A32D192ED03ULL;
constexpr std::uint64_t kSubtreeStream = 0x8CB92BA72F3D8DD7ULL;

}  // namespace
}  // namespace fastml::cart::detail
