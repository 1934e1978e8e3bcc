// Distance kernels, compiled once per instruction set: CMake defines FASTML_ISA (baseline,
// x86_64_v3 or x86_64_v4) and passes the matching -march. Everything but kernel_table() has
// internal linkage, so the linker can never hand a function compiled for a wider instruction set
// to another build (the classic hazard of compiling one source with several -march flags); for the
// same reason the standard library's inline templates are avoided here.
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "fastml/distances.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::distances::FASTML_ISA {
namespace {

#if defined(__AVX512F__)
constexpr int kVecBytes = 64;
#elif defined(__AVX2__)
constexpr int kVecBytes = 32;
#else
constexpr int kVecBytes = 16;
#endif

typedef float VecF __attribute__((vector_size(kVecBytes)));
typedef double VecD __attribute__((vector_size(kVecBytes)));

template <class T> struct Simd;
template <> struct Simd<float> { using V = VecF; };
template <> struct Simd<double> { using V = VecD; };

// Register blocking of the micro-kernel: kRows points of x against kCols points of y, the
// kRows x kCols partial results held in vector registers.
template <class T> struct Blocking {
  static constexpr int kLanes = kVecBytes / sizeof(T);
  static constexpr int kVecsPerRow = 2;
  static constexpr int kCols = kLanes * kVecsPerRow;
  static constexpr int kRows = kVecBytes == 64 ? 8 : 4;
  // float32 sums are moved into float64 every kChunk features, which bounds their rounding error
  // by ~kChunk ulps whatever the dimension.
  static constexpr index_t kChunk = sizeof(T) == 4 ? 64 : PTRDIFF_MAX;
};
// Whether the micro-kernel's results for dim features are whole float32 sums, with no spill to
// float64 (see Blocking::kChunk): then they are used in float32, sparing their conversions.
template <class T> constexpr bool sums_stay_float32(index_t dim) {
  return std::is_same_v<T, float> && dim <= Blocking<T>::kChunk;
}
static_assert(Blocking<float>::kCols <= kMaxColBlock && Blocking<float>::kRows <= kMaxRowBlock);

// float32 cosine distances below this are recomputed in float64: rounding the normalised
// coordinates to float32 costs up to ~8 ulps / sqrt(2 d) relative error, which with the ~66 ulps
// of a chunked sum stays under 1e-5 only above ~0.003; 0.02 leaves a wide margin.
template <class T> constexpr double kCosineRecheckBelow = sizeof(T) == 4 ? 0.02 : 0.0;

// |v|: clear the sign bits.
template <class V> inline V vabs(V v) {
  using Bits = decltype(v < v);  // the integer vector of the same shape
  using Lane = decltype(Bits{}[0]);
  constexpr Lane sign = static_cast<Lane>(1) << (8 * sizeof(Lane) - 1);
  return (V)((Bits)v & ~(Bits{} + sign));
}

template <class V> inline V vmax(V a, V b) { return a > b ? a : b; }

// Reductions of the micro-kernel: step(acc, x_f, y_f) folds one feature into the accumulator.
struct SqDiff {
  static constexpr bool kSum = true;
  template <class V, class T> static V step(V acc, T x, V y) {
    const V d = x - y;
    return acc + d * d;
  }
};
struct AbsDiff {
  static constexpr bool kSum = true;
  template <class V, class T> static V step(V acc, T x, V y) { return acc + vabs(x - y); }
};
struct MaxAbsDiff {
  static constexpr bool kSum = false;
  template <class V, class T> static V step(V acc, T x, V y) { return vmax(acc, vabs(x - y)); }
};
// Dot products, for float64 euclidean and cosine: one FMA per feature instead of two operations.
struct Dot {
  static constexpr bool kSum = true;
  template <class V, class T> static V step(V acc, T x, V y) { return acc + x * y; }
};

// Copies rows [0, n) of a row-major matrix into panels of `block` rows stored feature-major
// (panel[f * block + r]) so that the micro-kernel reads both operands sequentially; the last panel
// is zero-padded. Rows are multiplied by scale[row] when scale is given (cosine).
template <class T>
void pack_panels(const T* src, index_t n, index_t dim, const double* scale, int block, T* dst) {
  for (index_t p0 = 0; p0 < n; p0 += block) {
    T* panel = dst + p0 * dim;
    for (int r = 0; r < block; ++r) {
      const index_t row = p0 + r;
      if (row >= n) {
        for (index_t f = 0; f < dim; ++f) panel[f * block + r] = T(0);
        continue;
      }
      const T* s = src + row * dim;
      const T factor = scale ? static_cast<T>(scale[row]) : T(1);
      for (index_t f = 0; f < dim; ++f) panel[f * block + r] = s[f] * factor;
    }
  }
}

// res[r * kCols + c] = reduction over f of Op(xp[f, r] - yp[f, c]), in float64, or in T when
// Res is T (float32 results only for dim <= kChunk, where no spill to float64 is due).
template <class T, class Op, class Res = double>
inline void micro_kernel(const T* __restrict xp, const T* __restrict yp, index_t dim,
                         Res* __restrict res) {
  using B = Blocking<T>;
  using V = typename Simd<T>::V;
  constexpr int R = B::kRows, NV = B::kVecsPerRow, C = B::kCols;
  for (index_t f0 = 0; f0 < dim; f0 += B::kChunk) {
    const index_t f1 = dim - f0 <= B::kChunk ? dim : f0 + B::kChunk;
    V acc[R][NV];
#pragma GCC unroll 16
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = V{};
    for (index_t f = f0; f < f1; ++f) {
      V yv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) std::memcpy(&yv[v], yp + f * C + v * B::kLanes, sizeof(V));
      const T* xf = xp + f * R;
#pragma GCC unroll 16
      for (int r = 0; r < R; ++r) {
        const T xs = xf[r];
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) acc[r][v] = Op::step(acc[r][v], xs, yv[v]);
      }
    }
    if constexpr (std::is_same_v<T, Res>) {
      if (f0 == 0) {
        std::memcpy(res, acc, sizeof(acc));
        continue;
      }
    }
    alignas(64) T partial[R * C];
    std::memcpy(partial, acc, sizeof(partial));
    for (int k = 0; k < R * C; ++k) {
      const double value = partial[k];
      res[k] = f0 == 0 ? value : Op::kSum ? res[k] + value : (res[k] > value ? res[k] : value);
    }
  }
}

template <class T>
double exact_sqeuclidean(const T* x, const T* y, index_t dim) {
  double acc = 0.0;
  for (index_t f = 0; f < dim; ++f) {
    const double d = static_cast<double>(x[f]) - static_cast<double>(y[f]);
    acc += d * d;
  }
  return acc;
}

// 1 - cos(x, y) as |x/|x| - y/|y||^2 / 2, which has no cancellation for nearly parallel vectors.
// The norms are recomputed here rather than taken from the inverse norms (whose reciprocals are
// off by an ulp), and divided by rather than multiplied with, so that x and a positive multiple
// of x that normalise to the same vector give exactly 0.
template <class T>
double exact_cosine(const T* x, const T* y, index_t dim) {
  double xx = 0.0, yy = 0.0;
  for (index_t f = 0; f < dim; ++f) {
    xx += static_cast<double>(x[f]) * static_cast<double>(x[f]);
    yy += static_cast<double>(y[f]) * static_cast<double>(y[f]);
  }
  const double x_norm = std::sqrt(xx), y_norm = std::sqrt(yy);
  double acc = 0.0;
  for (index_t f = 0; f < dim; ++f) {
    const double d = x[f] / x_norm - y[f] / y_norm;
    acc += d * d;
  }
  return 0.5 * acc;
}

// v limited to [lo, hi], for one double or a vector of them (NaN passes through).
template <class D> inline D clamp(D v, D lo, D hi) { return v < lo ? lo : (v > hi ? hi : v); }

// Which reduction computes a metric: float64 euclidean and cosine use dot products and the norms
// (with a fix-up of cancelling pairs), float32 ones the exact difference form.
template <class T, int kMetric> struct KernelOp { using type = SqDiff; };
template <> struct KernelOp<double, kSqEuclidean> { using type = Dot; };
template <> struct KernelOp<double, kEuclidean> { using type = Dot; };
template <> struct KernelOp<double, kCosine> { using type = Dot; };
template <int kMetric> struct KernelOp<float, kMetric> {
  using type = std::conditional_t<kMetric == kManhattan, AbsDiff,
                                  std::conditional_t<kMetric == kChebyshev, MaxAbsDiff, SqDiff>>;
};
template <int kMetric> struct KernelOp<double, kMetric> {
  using type = std::conditional_t<kMetric == kManhattan, AbsDiff,
                                  std::conditional_t<kMetric == kChebyshev, MaxAbsDiff, SqDiff>>;
};

// A dot product of dim terms is off by at most ~dim ulps of |x||y|: pairs whose distance is below
// `slack` (relative to the norms) could carry more than kFloat64RelativeError and are recomputed.
inline double dot_slack(index_t dim) { return (dim + 4) * DBL_EPSILON / kFloat64RelativeError; }

// The lane type of a vector of results, or the type itself for one value.
template <class D> struct Lane { using type = D; };
template <> struct Lane<VecF> { using type = float; };
template <> struct Lane<VecD> { using type = double; };
// s in every lane of D.
template <class D, class S> inline D splat(S s) {
  return D{} + static_cast<typename Lane<D>::type>(s);
}

// The distance for kernel results `acc` (xa, ya: the rows' aux values), for one value (D = double
// or float) or a vector of them (D = VecD or VecF). Sets `recheck` to 1 where the value may carry
// more rounding error than promised, in which case exact_distance() must replace it. Written with
// ternaries on D, so that the vector form has no branch and no integer lanes: with an int count
// of rechecks, GCC computed a row of results one value at a time.
template <class T, int kMetric, class D>
inline D kernel_to_distance(D acc, D xa, D ya, double slack, D& recheck) {
  constexpr bool dot = std::is_same_v<typename KernelOp<T, kMetric>::type, Dot>;
  const D zero = D{}, one = splat<D>(1.0), limit = splat<D>(slack);
  if constexpr (kMetric == kCosine) {
    const auto nonzero = (xa != zero) & (ya != zero);  // 0 is the inverse norm of a zero row
    D d = dot ? one - acc * (xa * ya) : splat<D>(0.5) * acc;
    recheck = (d < limit) & nonzero ? one : zero;
    d = nonzero ? d : one;  // an all-zero vector has similarity 0 with everything
    return clamp(d, zero, splat<D>(2.0));
  } else if constexpr (dot) {
    const D norms = xa + ya;
    const D d = norms - splat<D>(2.0) * acc;
    recheck = d < limit * norms ? one : zero;
    return d > zero ? d : zero;
  } else {
    recheck = zero;
    return acc;
  }
}

template <class T, int kMetric>
inline double exact_distance(const T* x, const T* y, index_t dim) {
  if constexpr (kMetric == kCosine) {
    return clamp(exact_cosine(x, y, dim), 0.0, 2.0);
  } else {
    const double sq = exact_sqeuclidean(x, y, dim);
    return kMetric == kEuclidean ? std::sqrt(sq) : sq;
  }
}

inline float square_root(float v) { return __builtin_sqrtf(v); }
inline double square_root(double v) { return __builtin_sqrt(v); }

// Writes one row of a block: out[c] = distance(res[c]) for c < n, and raises the lanes of
// `recheck_any` where a value needs a recheck. Res, the type of the kernel's results, is float
// where the kernel summed in float32 only (see direct_tile). The square root of euclidean gets a
// loop of its own, which GCC vectorises.
template <class T, int kMetric, int N, class Res, class V = typename Simd<Res>::V>
inline void store_row(const Res* __restrict res, Res xa, const Res* __restrict ya, double slack,
                      int n, T* __restrict out, V& recheck_any) {
  constexpr int W = sizeof(V) / sizeof(Res);
  static_assert(N % W == 0, "a row of results is whole vectors");
  alignas(64) Res d[N];
  for (int c = 0; c < N; c += W) {  // past n, ya is 0: harmless values that are never stored
    V acc, y, recheck;
    std::memcpy(&acc, res + c, sizeof(V));
    std::memcpy(&y, ya + c, sizeof(V));
    const V v = kernel_to_distance<T, kMetric>(acc, splat<V>(xa), y, slack, recheck);
    std::memcpy(d + c, &v, sizeof(V));
    recheck_any = recheck > recheck_any ? recheck : recheck_any;
  }
  if constexpr (kMetric == kEuclidean)
    for (int c = 0; c < N; ++c) d[c] = square_root(d[c]);
  if (n == N) {  // full rows: constant trip count
    for (int c = 0; c < N; ++c) out[c] = static_cast<T>(d[c]);
  } else {
    for (int c = 0; c < n; ++c) out[c] = static_cast<T>(d[c]);
  }
}

// Whether any lane of v is nonzero; called once per block, as its scalar form is long.
template <class V> inline bool any_lane(V v) {
  bool any = false;
  for (int l = 0; l < static_cast<int>(sizeof(V) / sizeof(v[0])); ++l) any |= v[l] != 0;
  return any;
}

// Res: the type the kernel's results are kept and turned into distances in (float where
// sums_stay_float32; at 64 features the conversions to float64 had taken as long as the kernel).
template <class T, int kMetric, class Res>
void direct_tile_in(const T* x, index_t nx, const T* y, index_t ny, index_t dim,
                    const double* x_aux, const double* y_aux, T* out, index_t ldo,
                    void* workspace) {
  using B = Blocking<T>;
  using Op = typename KernelOp<T, kMetric>::type;
  constexpr int R = B::kRows, C = B::kCols;
  constexpr bool uses_aux = kMetric == kCosine || std::is_same_v<Op, Dot>;
  // Direct cosine works on normalised rows; the dot form applies the norms afterwards.
  constexpr bool scale_rows = kMetric == kCosine && !std::is_same_v<Op, Dot>;
  const double slack = kMetric == kCosine && !std::is_same_v<Op, Dot> ? kCosineRecheckBelow<T>
                                                                       : dot_slack(dim);
  const index_t panel_rows = y_panel_rows(dim, sizeof(T), ny);
  char* ws = static_cast<char*>(workspace);
  T* xpack = reinterpret_cast<T*>(ws);
  ws += packed_bytes(nx, kMaxRowBlock, dim, sizeof(T));
  T* ypack = reinterpret_cast<T*>(ws);
  ws += packed_bytes(panel_rows, kMaxColBlock, dim, sizeof(T));
  Res* ya = reinterpret_cast<Res*>(ws);  // y's aux values for the panel, zero-padded
  pack_panels(x, nx, dim, scale_rows ? x_aux : nullptr, R, xpack);
  alignas(64) Res res[R * C];
  alignas(64) Res xa[R];
  for (int r = 0; r < R; ++r) xa[r] = Res(0);
  for (index_t p0 = 0; p0 < ny; p0 += panel_rows) {
    const index_t np = ny - p0 < panel_rows ? ny - p0 : panel_rows;
    pack_panels(y + p0 * dim, np, dim, scale_rows ? y_aux + p0 : nullptr, C, ypack);
    if (uses_aux)
      for (index_t c = 0, end = static_cast<index_t>(round_up(np, C)); c < end; ++c)
        ya[c] = c < np ? static_cast<Res>(y_aux[p0 + c]) : Res(0);
    // Blocks run along rows of the output: rows far apart in memory written one block at a time
    // made every store a cache miss of its own.
    for (index_t i0 = 0; i0 < nx; i0 += R) {
      const int ni = nx - i0 < R ? static_cast<int>(nx - i0) : R;
      if (uses_aux)
        for (int r = 0; r < R; ++r) xa[r] = r < ni ? static_cast<Res>(x_aux[i0 + r]) : Res(0);
      for (index_t j0 = 0; j0 < np; j0 += C) {
        const int nj = np - j0 < C ? static_cast<int>(np - j0) : C;
        micro_kernel<T, Op, Res>(xpack + i0 * dim, ypack + j0 * dim, dim, res);
        T* block_out = out + i0 * ldo + p0 + j0;
        typename Simd<Res>::V recheck = {};
        for (int r = 0; r < ni; ++r)
          store_row<T, kMetric, C>(res + r * C, xa[r], ya + j0, slack, nj, block_out + r * ldo,
                                   recheck);
        if (!any_lane(recheck)) continue;
        for (int r = 0; r < ni; ++r)
          for (int c = 0; c < nj; ++c) {
            Res flagged = 0;
            kernel_to_distance<T, kMetric>(res[r * C + c], xa[r], ya[j0 + c], slack, flagged);
            if (flagged != 0)
              block_out[r * ldo + c] = static_cast<T>(exact_distance<T, kMetric>(
                  x + (i0 + r) * dim, y + (p0 + j0 + c) * dim, dim));
          }
      }
    }
  }
}

template <class T, int kMetric>
void direct_tile(const T* x, index_t nx, const T* y, index_t ny, index_t dim, const double* x_aux,
                 const double* y_aux, T* out, index_t ldo, void* workspace) {
  if (sums_stay_float32<T>(dim))
    direct_tile_in<T, kMetric, T>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, workspace);
  else
    direct_tile_in<T, kMetric, double>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, workspace);
}

// Metrics without a vector kernel: Minkowski with a general p, and Hamming on values.
template <class T, class Out>
void scalar_tile(int metric, const T* x, index_t nx, const T* y, index_t ny, index_t dim, double p,
                 Out* out, index_t ldo) {
  for (index_t i = 0; i < nx; ++i) {
    const T* xi = x + i * dim;
    for (index_t j = 0; j < ny; ++j) {
      const T* yj = y + j * dim;
      double acc = 0.0;
      if (metric == kMinkowski) {
        for (index_t f = 0; f < dim; ++f)
          acc += std::pow(std::fabs(static_cast<double>(xi[f]) - static_cast<double>(yj[f])), p);
        acc = std::pow(acc, 1.0 / p);
      } else {
        for (index_t f = 0; f < dim; ++f) acc += xi[f] != yj[f];
        acc /= static_cast<double>(dim);
      }
      out[i * ldo + j] = static_cast<Out>(acc);
    }
  }
}

template <class T>
void dense_tile_impl(int metric, const T* x, index_t nx, const T* y, index_t ny, index_t dim,
                     const double* x_aux, const double* y_aux, double p, T* out, index_t ldo,
                     void* ws) {
  switch (metric) {
    case kSqEuclidean:
      return direct_tile<T, kSqEuclidean>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, ws);
    case kEuclidean:
      return direct_tile<T, kEuclidean>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, ws);
    case kManhattan:
      return direct_tile<T, kManhattan>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, ws);
    case kChebyshev:
      return direct_tile<T, kChebyshev>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, ws);
    case kCosine:
      return direct_tile<T, kCosine>(x, nx, y, ny, dim, x_aux, y_aux, out, ldo, ws);
    default:
      return scalar_tile(metric, x, nx, y, ny, dim, p, out, ldo);
  }
}

void dense_f32(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, float* out, index_t ldo,
               void* ws) {
  dense_tile_impl(metric, x, nx, y, ny, dim, x_aux, y_aux, p, out, ldo, ws);
}

void dense_f64(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, double* out, index_t ldo,
               void* ws) {
  dense_tile_impl(metric, x, nx, y, ny, dim, x_aux, y_aux, p, out, ldo, ws);
}

void bool_tile_impl(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y,
                    index_t ny, index_t n_words, index_t dim, double* out, index_t ldo) {
  if (metric == kHamming) {
    // Exact quotients count / dim, looked up instead of divided per pair.
    double fraction[4097];
    const bool table = dim < 4097;
    if (table)
      for (index_t c = 0; c <= dim; ++c) fraction[c] = static_cast<double>(c) / dim;
    for (index_t i = 0; i < nx; ++i) {
      const std::uint64_t* xi = x + i * n_words;
      for (index_t j = 0; j < ny; ++j) {
        const std::uint64_t* yj = y + j * n_words;
        index_t differ = 0;
        for (index_t w = 0; w < n_words; ++w) differ += __builtin_popcountll(xi[w] ^ yj[w]);
        out[i * ldo + j] = table ? fraction[differ] : static_cast<double>(differ) / dim;
      }
    }
    return;
  }
  for (index_t i = 0; i < nx; ++i) {
    const std::uint64_t* xi = x + i * n_words;
    for (index_t j = 0; j < ny; ++j) {
      const std::uint64_t* yj = y + j * n_words;
      index_t differ = 0, either = 0;
      for (index_t w = 0; w < n_words; ++w) {
        differ += __builtin_popcountll(xi[w] ^ yj[w]);
        either += __builtin_popcountll(xi[w] | yj[w]);
      }
      out[i * ldo + j] = either ? static_cast<double>(differ) / either : 0.0;
    }
  }
}

// ---- k-nearest-neighbour search (see distances.hpp) -------------------------------------------

// Order of the heaps: larger key first, then larger index, so that ties go to the lower index.
inline bool worse(double key_a, std::int64_t idx_a, double key_b, std::int64_t idx_b) {
  return key_a > key_b || (key_a == key_b && idx_a > idx_b);
}

inline void heap_reset(double* keys, std::int64_t* idx, index_t k) {
  for (index_t m = 0; m < k; ++m) {
    keys[m] = HUGE_VAL;
    idx[m] = INT64_MAX;
  }
}

// Replaces the root (the worst entry) of a max-heap of k entries and sifts the new entry down.
inline void heap_replace_root(double* keys, std::int64_t* idx, index_t k, double key,
                              std::int64_t j) {
  index_t pos = 0;
  for (;;) {
    index_t child = 2 * pos + 1;
    if (child >= k) break;
    if (child + 1 < k && worse(keys[child + 1], idx[child + 1], keys[child], idx[child])) ++child;
    if (!worse(keys[child], idx[child], key, j)) break;
    keys[pos] = keys[child];
    idx[pos] = idx[child];
    pos = child;
  }
  keys[pos] = key;
  idx[pos] = j;
}

// Offers a block of keys (R rows of C, only the first nj columns valid) to the heaps of its rows.
// Training indices grow during a scan, so a key equal to a heap's worst loses to it: strict <.
// The vectorised test skips rows with nothing to offer, the common case once heaps have filled.
// Keys of type K (float or double); a float key below the heap's worst is at most the worst
// rounded to float, hence the <= of the vectorised test.
template <int R, int C, class K>
inline void offer_block(const K* __restrict keys, int ni, int nj, std::int64_t j_base,
                        double* heap_keys, std::int64_t* heap_idx, index_t ldh, index_t k) {
  for (int r = 0; r < ni; ++r) {
    double* hk = heap_keys + r * ldh;
    std::int64_t* hi = heap_idx + r * ldh;
    const K* row = keys + r * C;
    const K bound = static_cast<K>(hk[0]);
    int below = 0;
    for (int c = 0; c < C; ++c) below |= row[c] <= bound;  // padding columns are never pushed
    if (!below) continue;
    for (int c = 0; c < nj; ++c)
      if (row[c] < hk[0]) heap_replace_root(hk, hi, k, row[c], j_base + c);
  }
}

// The reduction of the knn micro-kernel: dot products for the dot-form metrics, else the metric's.
template <int kMetric>
using KnnOp = std::conditional_t<
    knn_key_is_dot_form(kMetric), Dot,
    std::conditional_t<kMetric == kManhattan, AbsDiff,
                       std::conditional_t<kMetric == kChebyshev, MaxAbsDiff, SqDiff>>>;

// K: the type keys are computed and screened in (float where sums_stay_float32).
template <class T, int kMetric, class K>
void knn_vector(const T* x, index_t nx, const T* y, index_t ny, index_t dim, const double* x_aux,
                const double* y_aux, index_t y_offset, index_t k, double* heap_keys,
                std::int64_t* heap_idx, index_t ldh, void* workspace) {
  using B = Blocking<T>;
  constexpr int R = B::kRows, C = B::kCols;
  constexpr bool dot = knn_key_is_dot_form(kMetric);
  const index_t tile = y_panel_rows(dim, sizeof(T));
  T* xpack = static_cast<T*>(workspace);
  T* ypack = reinterpret_cast<T*>(static_cast<char*>(workspace) +
                                  packed_bytes(nx, kMaxRowBlock, dim, sizeof(T)));
  pack_panels(x, nx, dim, nullptr, R, xpack);
  for (index_t i = 0; i < nx; ++i) heap_reset(heap_keys + i * ldh, heap_idx + i * ldh, k);
  alignas(64) K res[R * C];
  alignas(64) K xa[R], ya[C];
  for (index_t t0 = 0; t0 < ny; t0 += tile) {
    const index_t nt = ny - t0 < tile ? ny - t0 : tile;
    pack_panels(y + t0 * dim, nt, dim, nullptr, C, ypack);
    for (index_t j0 = 0; j0 < nt; j0 += C) {
      const int nj = nt - j0 < C ? static_cast<int>(nt - j0) : C;
      if (dot)
        for (int c = 0; c < C; ++c) ya[c] = c < nj ? static_cast<K>(y_aux[t0 + j0 + c]) : K(0);
      for (index_t i0 = 0; i0 < nx; i0 += R) {
        const int ni = nx - i0 < R ? static_cast<int>(nx - i0) : R;
        micro_kernel<T, KnnOp<kMetric>, K>(xpack + i0 * dim, ypack + j0 * dim, dim, res);
        if constexpr (dot) {
          for (int r = 0; r < R; ++r) xa[r] = r < ni ? static_cast<K>(x_aux[i0 + r]) : K(0);
          for (int r = 0; r < R; ++r)
            for (int c = 0; c < C; ++c)
              res[r * C + c] = kMetric == kCosine ? K(1) - res[r * C + c] * xa[r] * ya[c]
                                                  : xa[r] + ya[c] - K(2) * res[r * C + c];
        }
        offer_block<R, C>(res, ni, nj, y_offset + t0 + j0, heap_keys + i0 * ldh,
                          heap_idx + i0 * ldh, ldh, k);
      }
    }
  }
}

// Search for metrics whose distances come from a tile function tile(i0, ni, j0, nj, res, ldres).
template <class Tile>
void knn_by_tiles(Tile&& tile, index_t nx, index_t ny, index_t y_offset, index_t k,
                  double* heap_keys, std::int64_t* heap_idx, index_t ldh) {
  constexpr int R = 8, C = 64;
  for (index_t i = 0; i < nx; ++i) heap_reset(heap_keys + i * ldh, heap_idx + i * ldh, k);
  alignas(64) double res[R * C];
  for (index_t j0 = 0; j0 < ny; j0 += C) {
    const int nj = ny - j0 < C ? static_cast<int>(ny - j0) : C;
    for (index_t i0 = 0; i0 < nx; i0 += R) {
      const int ni = nx - i0 < R ? static_cast<int>(nx - i0) : R;
      tile(i0, ni, j0, nj, res, C);
      offer_block<R, C>(res, ni, nj, y_offset + j0, heap_keys + i0 * ldh, heap_idx + i0 * ldh,
                        ldh, k);
    }
  }
}

template <class T, int kMetric>
void knn_vector_any(const T* x, index_t nx, const T* y, index_t ny, index_t dim,
                    const double* x_aux, const double* y_aux, index_t y_offset, index_t k,
                    double* hk, std::int64_t* hi, index_t ldh, void* ws) {
  if (sums_stay_float32<T>(dim))
    knn_vector<T, kMetric, T>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi, ldh, ws);
  else
    knn_vector<T, kMetric, double>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi, ldh, ws);
}

template <class T>
void knn_impl(int metric, const T* x, index_t nx, const T* y, index_t ny, index_t dim,
              const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
              double* hk, std::int64_t* hi, index_t ldh, void* ws) {
  switch (metric) {
    case kSqEuclidean:
    case kEuclidean:  // both rank by squared distance
      return knn_vector_any<T, kSqEuclidean>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi,
                                             ldh, ws);
    case kCosine:
      return knn_vector_any<T, kCosine>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi, ldh,
                                        ws);
    case kManhattan:
      return knn_vector_any<T, kManhattan>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi,
                                           ldh, ws);
    case kChebyshev:
      return knn_vector_any<T, kChebyshev>(x, nx, y, ny, dim, x_aux, y_aux, y_offset, k, hk, hi,
                                           ldh, ws);
    default:
      return knn_by_tiles(
          [&](index_t i0, int ni, index_t j0, int nj, double* res, index_t ldres) {
            scalar_tile(metric, x + i0 * dim, ni, y + j0 * dim, nj, dim, p, res, ldres);
          },
          nx, ny, y_offset, k, hk, hi, ldh);
  }
}

void knn_f32(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
             const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
             double* hk, std::int64_t* hi, index_t ldh, void* ws) {
  knn_impl(metric, x, nx, y, ny, dim, x_aux, y_aux, p, y_offset, k, hk, hi, ldh, ws);
}

void knn_f64(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
             const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
             double* hk, std::int64_t* hi, index_t ldh, void* ws) {
  knn_impl(metric, x, nx, y, ny, dim, x_aux, y_aux, p, y_offset, k, hk, hi, ldh, ws);
}

void knn_bool(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y, index_t ny,
              index_t n_words, index_t dim, index_t y_offset, index_t k, double* hk,
              std::int64_t* hi, index_t ldh) {
  knn_by_tiles(
      [&](index_t i0, int ni, index_t j0, int nj, double* res, index_t ldres) {
        bool_tile_impl(metric, x + i0 * n_words, ni, y + j0 * n_words, nj, n_words, dim, res,
                       ldres);
      },
      nx, ny, y_offset, k, hk, hi, ldh);
}

}  // namespace

KernelTable kernel_table() {
  return KernelTable{&dense_f32, &dense_f64, &bool_tile_impl, &knn_f32, &knn_f64, &knn_bool};
}

}  // namespace fastml::distances::FASTML_ISA
