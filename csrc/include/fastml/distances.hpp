// Distance micro-kernels behind fastml.metrics (driven by src/fastml/metrics/_pairwise_fast.pyx).
//
// The Cython layer owns validation and tiling, the loop over tiles is fastml/tile_loop.hpp's (see
// fastml/distance_tiles.hpp); these functions compute one tile of the distance matrix on one
// thread. They are built once per instruction set and dispatched at load time (see
// distance_dispatch.cpp), which Cython code cannot do by itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastml::distances {

using index_t = std::ptrdiff_t;

// Metric codes shared with the Cython layer.
enum Metric : int {
  kSqEuclidean = 0,
  kEuclidean = 1,
  kManhattan = 2,
  kChebyshev = 3,
  kMinkowski = 4,
  kCosine = 5,
  kHamming = 6,  // on values: fraction of coordinates that differ
  kJaccard = 7,  // bit-packed booleans only
};

// Relative accuracy promised for float64 euclidean and cosine, which are computed from dot products
// and norms: pairs whose result could be off by more (cancellation between nearly equal points)
// are recomputed directly.
constexpr double kFloat64RelativeError = 1e-10;

// Layout of dense_tile's workspace: packed x panels, packed y panels, then y's aux values, each
// 64-byte aligned and padded to the largest register block of any build (8 rows, 32 columns).
// `static` keeps a private copy in each translation unit, so builds for different instruction
// sets never share one.
constexpr index_t kMaxRowBlock = 8;
constexpr index_t kMaxColBlock = 32;
static constexpr std::size_t round_up(std::size_t n, std::size_t m) { return (n + m - 1) / m * m; }
static constexpr std::size_t packed_bytes(index_t n, index_t block, index_t dim,
                                          std::size_t elem_size) {
  return round_up(round_up(static_cast<std::size_t>(n), block) * dim * elem_size, 64);
}

// Rows of y that dense_tile and knn_block pack at a time: about 64 KiB, which stays in L2 while
// every block of x rows passes over it; a multiple of every build's column block.
static constexpr index_t y_panel_rows(index_t dim, std::size_t elem_size) {
  const index_t rows = static_cast<index_t>(64 * 1024 / (dim * elem_size));
  return rows < kMaxColBlock ? kMaxColBlock : rows - rows % kMaxColBlock;
}
// The same for a tile of ny rows of y: no more than it has.
static constexpr index_t y_panel_rows(index_t dim, std::size_t elem_size, index_t ny) {
  return ny < y_panel_rows(dim, elem_size) ? ny : y_panel_rows(dim, elem_size);
}

// Bytes of scratch memory dense_tile needs for a tile of n_rows x n_cols points of dim features.
std::size_t dense_tile_workspace_bytes(index_t n_rows, index_t n_cols, index_t dim,
                                       std::size_t elem_size);

// Direct evaluation of one tile:
//   out[i * ldo + j] = metric(x[i, :], y[j, :])  for i < nx, j < ny.
// IN  x, y: row-major, dim columns. IN x_aux, y_aux: inverse row norms for kCosine (0 marks an
// all-zero row), squared row norms for float64 kEuclidean/kSqEuclidean, ignored otherwise.
// IN p: exponent for kMinkowski. OUT out. IN workspace: at least
// dense_tile_workspace_bytes(nx, ny, dim, sizeof(T)) bytes, 64-byte aligned. x is packed once and
// y y_panel_rows() rows at a time, so a tile may span any number of y rows.
// float32 sums are accumulated in float64 every 64 features so that results stay within ~4e-6
// relative error of the float64 value.
void dense_tile(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
                const double* x_aux, const double* y_aux, double p, float* out, index_t ldo,
                void* workspace);
void dense_tile(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
                const double* x_aux, const double* y_aux, double p, double* out, index_t ldo,
                void* workspace);

// Boolean metrics on bit-packed rows (n_words 64-bit words per row, padding bits zero):
// kHamming: differing bits / dim; kJaccard: differing / set in either (0 when none is set).
void bool_tile(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y, index_t ny,
               index_t n_words, index_t dim, double* out, index_t ldo);

// ---- k-nearest-neighbour search ---------------------------------------------------------------
// The search keeps, for every query row, a max-heap of its k best (key, index) pairs; a pair is
// worse than another when its key is larger, or equal with a larger index, so ties go to the lower
// training index. Keys rank training rows by distance to the query: the distance itself for most
// metrics; for kSqEuclidean/kEuclidean the dot-product form x_aux + y_aux - 2 x.y of the squared
// distance (x_aux, y_aux: squared norms), for kCosine 1 - x.y * x_aux * y_aux (inverse norms).
// Callers recompute the winners of those dot-product forms exactly.

// Whether `metric`'s keys come from dot products (and its winners need an exact recompute).
constexpr bool knn_key_is_dot_form(int metric) {
  return metric == kSqEuclidean || metric == kEuclidean || metric == kCosine;
}

// Bytes of scratch memory knn_block needs for nx query rows of dim features.
std::size_t knn_block_workspace_bytes(index_t nx, index_t dim, std::size_t elem_size);

// Scans training rows y[0, ny) for query rows x[0, nx): heap row i (heap_keys + i * ldh, heap_idx
// + i * ldh, k entries) is reset, then filled with the k best keys; training row j is reported as
// index y_offset + j. IN x_aux, y_aux as described above (ignored by other metrics); IN p for
// kMinkowski. IN workspace: knn_block_workspace_bytes(nx, dim, sizeof(T)) bytes, 64-byte aligned.
void knn_block(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
               double* heap_keys, std::int64_t* heap_idx, index_t ldh, void* workspace);
void knn_block(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
               double* heap_keys, std::int64_t* heap_idx, index_t ldh, void* workspace);
// The same on bit-packed boolean rows (kHamming, kJaccard), as for bool_tile.
void knn_block_bool(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y,
                    index_t ny, index_t n_words, index_t dim, index_t y_offset, index_t k,
                    double* heap_keys, std::int64_t* heap_idx, index_t ldh);

// The k best of n_cand (key, index) candidate pairs of one query (the heaps of several training
// segments; pairs with index INT64_MAX are unused), sorted by (key, index).
// Returns 0, -1 when fewer than k candidates are valid, -2 when memory ran out.
int knn_select_row(index_t n_cand, const double* cand_keys, const std::int64_t* cand_idx,
                   index_t k, float* out_keys, std::int64_t* out_idx);
int knn_select_row(index_t n_cand, const double* cand_keys, const std::int64_t* cand_idx,
                   index_t k, double* out_keys, std::int64_t* out_idx);

// ---- cost model ------------------------------------------------------------------------------
// Rough one-thread nanoseconds per pair of rows, from which the Cython layer sizes its OpenMP loops
// (fastml_region_threads in openmp_helpers.h): a distance of dense_tile (or a key of knn_block),
// and a boolean distance of bool_tile. Measured with the AVX-512 build on a Zen 4 core, 500 x 500
// pairs: float32 0.03-0.06 ns per feature (euclidean to chebyshev), float64 0.05-0.17, minkowski's
// pow() 17-35 ns; booleans 1.4 ns a pair of one word (two popcounts and a division), 10 ns at 16
// words. Narrower builds run up to twice as long: those then wake fewer threads than they could.
constexpr double pair_cost_ns(int metric, index_t dim, std::size_t elem_size) {
  return 0.5 + dim * (metric == kMinkowski ? 20.0 : elem_size == 8 ? 0.08 : 0.04);
}
constexpr double bool_pair_cost_ns(index_t n_words) { return 1.0 + 0.6 * n_words; }

// Name of the instruction-set build chosen for this CPU ("baseline", "x86_64_v3", "x86_64_v4").
const char* simd_target();

// Table of one instruction-set build's entry points (defined in distance_kernels_isa.cpp).
struct KernelTable {
  void (*dense_f32)(int, const float*, index_t, const float*, index_t, index_t, const double*,
                    const double*, double, float*, index_t, void*);
  void (*dense_f64)(int, const double*, index_t, const double*, index_t, index_t, const double*,
                    const double*, double, double*, index_t, void*);
  void (*bool_tile)(int, const std::uint64_t*, index_t, const std::uint64_t*, index_t, index_t,
                    index_t, double*, index_t);
  void (*knn_f32)(int, const float*, index_t, const float*, index_t, index_t, const double*,
                  const double*, double, index_t, index_t, double*, std::int64_t*, index_t, void*);
  void (*knn_f64)(int, const double*, index_t, const double*, index_t, index_t, const double*,
                  const double*, double, index_t, index_t, double*, std::int64_t*, index_t, void*);
  void (*knn_bool)(int, const std::uint64_t*, index_t, const std::uint64_t*, index_t, index_t,
                   index_t, index_t, index_t, double*, std::int64_t*, index_t);
};

namespace baseline { KernelTable kernel_table(); }
namespace x86_64_v3 { KernelTable kernel_table(); }
namespace x86_64_v4 { KernelTable kernel_table(); }

}  // namespace fastml::distances
