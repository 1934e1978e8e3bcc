// Implicit ALS kernels, compiled once per instruction set (CMake defines FASTML_ISA and the
// -march). As in kmeans_kernels_isa.cpp, everything but kernel_table() has internal linkage and
// the standard library's inline templates are avoided, so no function built for a wider
// instruction set can be linked into another build. Drivers, memory and threads live in
// recommend.cpp.
//
// Every sum a row's result depends on is taken in one fixed order by one code path, whatever
// block or tile the row sits in: a row's factors do not depend on how rows are grouped.
#include <cstdint>
#include <cstring>

#include "fastml/recommend.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::recommend::FASTML_ISA {
namespace {

// One 64-byte vector; narrower builds split it into several registers.
template <class T> struct Vec;
template <> struct Vec<float> { typedef float V __attribute__((vector_size(64))); };
template <> struct Vec<double> { typedef double V __attribute__((vector_size(64))); };

template <class V> inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
template <class V> inline void store(void* p, V v) { std::memcpy(p, &v, sizeof(V)); }

// Sum of the lanes by halving (a fixed tree: a chain of single-lane adds would cost a dot
// product four times its multiplications).
inline float lane_sum(Vec<float>::V v) {
  typedef float H8 __attribute__((vector_size(32)));
  typedef float H4 __attribute__((vector_size(16)));
  const H8 a = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7) +
               __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  const H4 b = __builtin_shufflevector(a, a, 0, 1, 2, 3) + __builtin_shufflevector(a, a, 4, 5, 6, 7);
  return (b[0] + b[2]) + (b[1] + b[3]);
}
inline double lane_sum(Vec<double>::V v) {
  typedef double H4 __attribute__((vector_size(32)));
  typedef double H2 __attribute__((vector_size(16)));
  const H4 a = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  const H2 b = __builtin_shufflevector(a, a, 0, 1) + __builtin_shufflevector(a, a, 2, 3);
  return b[0] + b[1];
}

// Register tiles of the Gram products: kRows rows of output by kVecs vectors of columns. The
// AVX-512 build holds 16 of its 32 registers as accumulators; narrower builds split each 64-byte
// vector into 2 or 4 registers, so they take one vector of columns.
#if defined(__AVX512F__)
constexpr int kRows = 4, kVecs = 4;
#else
constexpr int kRows = 4, kVecs = 1;
#endif

// out[r, c0 .. c0 + NV vectors) = sum_{g < k} a(r, g) G[g, c0 ..] for R rows; a(r, g) =
// A[r * a_row + g * a_col]. Each output lane sums over g in order: any R and NV give it the
// same value.
template <class T, int R, int NV>
inline void gram_tile(const T* A, index_t a_row, index_t a_col, index_t k, const T* G,
                      index_t kp, index_t c0, T* out, bool add) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  V acc[R][NV];
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = add ? load<V>(out + r * kp + c0 + v * L) : V{};
  for (index_t g = 0; g < k; ++g) {
    V b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = load<V>(G + g * kp + c0 + v * L);
#pragma GCC unroll 4
    for (int r = 0; r < R; ++r) {
      const T a = A[r * a_row + g * a_col];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] += a * b[v];
    }
  }
#pragma GCC unroll 4
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) store(out + r * kp + c0 + v * L, acc[r][v]);
}

template <class T, int R>
inline void gram_rows(const T* A, index_t a_row, index_t a_col, index_t k, const T* G,
                      index_t kp, index_t first_vec, T* out, bool add) {
  constexpr index_t L = kLanes<T>;
  const index_t n_vecs = kp / L;
  index_t v = first_vec;
  for (; v + kVecs <= n_vecs; v += kVecs)
    gram_tile<T, R, kVecs>(A, a_row, a_col, k, G, kp, v * L, out, add);
  for (; v < n_vecs; ++v) gram_tile<T, R, 1>(A, a_row, a_col, k, G, kp, v * L, out, add);
}

template <class T>
void times_gram(const T* A, index_t n, index_t k, index_t kp, const T* G, T* out) {
  index_t r = 0;
  for (; r + kRows <= n; r += kRows) gram_rows<T, kRows>(A + r * kp, kp, 1, k, G, kp, 0, out + r * kp, false);
  for (; r < n; ++r) gram_rows<T, 1>(A + r * kp, kp, 1, k, G, kp, 0, out + r * kp, false);
}

// A^T A as the product of A's columns with its rows: output row f takes a(f, i) = A[i, f]. Only
// the column vectors that reach the diagonal or beyond are computed (the caller mirrors them).
template <class T>
void add_gram(const T* A, index_t n, index_t k, index_t kp, T* out) {
  constexpr index_t L = kLanes<T>;
  index_t f = 0;
  for (; f + kRows <= k; f += kRows)
    gram_rows<T, kRows>(A + f, 1, kp, n, A, kp, f / L, out + f * kp, true);
  for (; f < k; ++f) gram_rows<T, 1>(A + f, 1, kp, n, A, kp, f / L, out + f * kp, true);
}

// A run of factor rows may be read in place from random rows (cache misses waited for in turn
// without a hint): each row is fetched this many entries ahead. Gathering 2.7M random rows of a
// 25 MB matrix took 4x less time with the hint 16 rows ahead (measured on the Numba kernels).
constexpr index_t kPrefetchAhead = 16;

template <class T>
inline const T* row_of(const Source<T>& src, index_t j) {
  return src.base + (src.index ? src.index[j] : j) * src.stride;
}

template <class T>
inline void prefetch_row(const Source<T>& src, index_t j, index_t k) {
  const char* p = reinterpret_cast<const char*>(src.base + src.index[j] * src.stride);
  const index_t bytes = k * static_cast<index_t>(sizeof(T));
  for (index_t b = 0; b < bytes; b += 64) __builtin_prefetch(p + b, 0, 3);
}

template <class T>
inline T dot(const T* __restrict y, const T* __restrict x, index_t k) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  const index_t kv = k / L * L;
  V acc = {};
  for (index_t f = 0; f < kv; f += L) acc += load<V>(y + f) * load<V>(x + f);
  T s = lane_sum(acc);
  for (index_t f = kv; f < k; ++f) s += y[f] * x[f];
  return s;
}

// The weight of entry j's row in a pass, from s = y_j . x.
template <class T, bool Residual>
inline T pass_weight(T c, T s) {
  return Residual ? c - (c - T(1)) * s : (c - T(1)) * s;
}

// Any k: rows of k values, a scalar tail after the whole vectors.
template <class T, bool Residual>
void weighted_pass_any(const Source<T>& src, const T* c, index_t n, index_t k, const T* x,
                       T* out) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  const index_t kv = k / L * L;
  for (index_t j = 0; j < n; ++j) {
    if (src.index && j + kPrefetchAhead < n) prefetch_row(src, j + kPrefetchAhead, k);
    const T* y = row_of(src, j);
    const T w = pass_weight<T, Residual>(c[j], dot(y, x, k));
    for (index_t f = 0; f < kv; f += L) store(out + f, load<V>(out + f) + w * load<V>(y + f));
    for (index_t f = kv; f < k; ++f) out[f] += w * y[f];
  }
}

// Rows of NV whole vectors (padded, or k a whole number of vectors): x and the sum stay in
// registers through the row.
template <class T, int NV, bool Residual>
void weighted_pass_fixed(const Source<T>& src, const T* c, index_t n, index_t k, const T* x,
                         T* out) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  V xv[NV], acc[NV];
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) {
    xv[v] = load<V>(x + v * L);
    acc[v] = load<V>(out + v * L);
  }
  for (index_t j = 0; j < n; ++j) {
    if (src.index && j + kPrefetchAhead < n) prefetch_row(src, j + kPrefetchAhead, k);
    const T* y = row_of(src, j);
    V yv[NV];
    V d = {};
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) {
      yv[v] = load<V>(y + v * L);
      d += yv[v] * xv[v];
    }
    const T w = pass_weight<T, Residual>(c[j], lane_sum(d));
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[v] += w * yv[v];
  }
#pragma GCC unroll 8
  for (int v = 0; v < NV; ++v) store(out + v * L, acc[v]);
}

// A row always takes the same one of these paths (it depends on k and on where its factor rows
// are read from, gathered or in place), so its sums are taken in one order.
template <class T, bool Residual>
void weighted_pass(Source<T> src, const T* c, index_t n, index_t k, const T* x, T* out) {
  constexpr index_t L = kLanes<T>;
  const index_t kp = padded(k, L);
  if (src.stride == kp || k == kp) {
    switch (kp / L) {
      case 1: return weighted_pass_fixed<T, 1, Residual>(src, c, n, k, x, out);
      case 2: return weighted_pass_fixed<T, 2, Residual>(src, c, n, k, x, out);
      case 3: return weighted_pass_fixed<T, 3, Residual>(src, c, n, k, x, out);
      case 4: return weighted_pass_fixed<T, 4, Residual>(src, c, n, k, x, out);
      case 5: return weighted_pass_fixed<T, 5, Residual>(src, c, n, k, x, out);
      case 6: return weighted_pass_fixed<T, 6, Residual>(src, c, n, k, x, out);
      case 7: return weighted_pass_fixed<T, 7, Residual>(src, c, n, k, x, out);
      case 8: return weighted_pass_fixed<T, 8, Residual>(src, c, n, k, x, out);
      default: break;
    }
  }
  weighted_pass_any<T, Residual>(src, c, n, k, x, out);
}

template <class T>
double loss_pass(Source<T> src, const T* c, index_t n, index_t k, const T* x) {
  double loss = 0.0;
  for (index_t j = 0; j < n; ++j) {
    if (src.index && j + kPrefetchAhead < n) prefetch_row(src, j + kPrefetchAhead, k);
    const double s = static_cast<double>(dot(row_of(src, j), x, k));
    loss += static_cast<double>(c[j]) * (1.0 - s) * (1.0 - s) - s * s;
  }
  return loss;
}

// Rows indices[0 .. n) of Y (k values each) into rows of kp (their padding is left as it is:
// zero), values into c; the random rows are prefetched ahead.
template <class T>
void gather(const T* Y, index_t k, const std::int64_t* indices, const T* values, index_t n,
            index_t kp, T* Yg, T* c) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  const Source<T> src{Y, k, indices};
  for (index_t j = 0; j < n; ++j) {
    if (j + kPrefetchAhead < n) prefetch_row(src, j + kPrefetchAhead, k);
    const T* y = Y + indices[j] * k;
    T* to = Yg + j * kp;
    if (k == kp) {
      for (index_t f = 0; f < k; f += L) store(to + f, load<V>(y + f));
    } else {
      std::memcpy(to, y, sizeof(T) * k);
    }
    c[j] = values[j];
  }
}

template <class T>
T dot_padded(const T* a, const T* b, index_t kp) {
  return dot(a, b, kp);
}

// x += a p, r -= a Ap, then p = r + beta p (a = rs / p.Ap, beta = |r|^2 / rs), over kp padded
// values; rs becomes |r|^2, or 0 once it is below `converged`.
template <class T>
void cg_update(T* x, T* r, T* p, const T* ap, index_t kp, double& rs, double converged) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kLanes<T>;
  const T step = static_cast<T>(rs / static_cast<double>(dot(p, ap, kp)));
  for (index_t f = 0; f < kp; f += L) {
    store(x + f, load<V>(x + f) + step * load<V>(p + f));
    store(r + f, load<V>(r + f) - step * load<V>(ap + f));
  }
  const double rs_new = static_cast<double>(dot(r, r, kp));
  if (rs_new < converged) {
    rs = 0.0;
    return;
  }
  const T beta = static_cast<T>(rs_new / rs);
  for (index_t f = 0; f < kp; f += L) store(p + f, load<V>(r + f) + beta * load<V>(p + f));
  rs = rs_new;
}

template <class T>
Kernels<T> kernels() {
  return Kernels<T>{&times_gram<T>,          &add_gram<T>,     &weighted_pass<T, true>,
                    &weighted_pass<T, false>, &loss_pass<T>,    &gather<T>,
                    &dot_padded<T>,           &cg_update<T>};
}

}  // namespace

RecommendTable kernel_table() { return RecommendTable{kernels<float>(), kernels<double>()}; }

}  // namespace fastml::recommend::FASTML_ISA
