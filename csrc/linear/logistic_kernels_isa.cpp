// Logistic loss kernels, compiled once per instruction set (CMake defines FASTML_ISA and the
// -march). As in the other *_kernels_isa.cpp files, everything but kernel_table() has internal
// linkage and the standard library's inline templates are avoided, so that no function built for
// a wider instruction set can be linked into another build. Chunking, threads and merges live in
// logistic.cpp.
//
// Dense rows are taken four at a time: each vector of a class's coefficients (or gradient) is
// loaded once for the four rows' products, which halves the loads per multiply-add of a
// one-row loop. A row group depends on the chunk's bounds only, never on the thread count.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <new>

#include "fastml/logistic.hpp"
#include "fastml/simd_math_isa.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::logistic::FASTML_ISA {
namespace {

// Doubles per native vector register (wider generic vectors would be split into stack traffic).
#if defined(__AVX512F__)
constexpr int kNative = 8;
#elif defined(__AVX__)
constexpr int kNative = 4;
#else
constexpr int kNative = 2;
#endif
typedef double VN __attribute__((vector_size(kNative * 8)));
typedef float VF __attribute__((vector_size(kNative * 4)));

constexpr int kGroup = 4;  // dense rows per group
constexpr index_t kPrefetchRows = 8;  // how far ahead the products ask for rows

inline VN splat(double x) { return simd::FASTML_ISA::splat_v<VN>(x); }
// Vectors of any width (the native VN or the class lanes' narrower ones) from and to doubles.
template <class V = VN>
inline V load(const double* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
inline VN load(const float* p) {
  VF v;
  std::memcpy(&v, p, sizeof(VF));
  return __builtin_convertvector(v, VN);
}
template <class V>
inline void store(double* p, V v) { std::memcpy(p, &v, sizeof(V)); }
// The lanes' sum by halves (a lane-order sum was a chain of kNative dependent adds per row
// and class, the largest cost of a multinomial pass after the products).
typedef double V2 __attribute__((vector_size(16)));
typedef double V4 __attribute__((vector_size(32)));
inline double hsum(VN v) {
#if defined(__AVX512F__)
  const V4 a = __builtin_shufflevector(v, v, 0, 1, 2, 3) + __builtin_shufflevector(v, v, 4, 5, 6, 7);
  const V2 b = __builtin_shufflevector(a, a, 0, 1) + __builtin_shufflevector(a, a, 2, 3);
#elif defined(__AVX__)
  const V2 b = __builtin_shufflevector(v, v, 0, 1) + __builtin_shufflevector(v, v, 2, 3);
#else
  const V2 b = v;
#endif
  return b[0] + b[1];
}

// A scratch array of doubles for one call (operator new[] is no inline template).
struct Scratch {
  double* p;
  explicit Scratch(index_t size) : p(new double[size > 0 ? size : 1]()) {}
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
};

inline double weight_of(const Model& m, index_t i) { return m.sw ? m.sw[i] : 1.0; }

// ---- pointwise loss, gradient and Hessian of a block of rows ------------------------------

// Rows are taken in blocks: their raw predictions first, then the pointwise terms of the whole
// block in vectors (exp and log1p of fastml/simd_math_isa.hpp: libm's scalar calls took a third
// of a binomial pass over X), then their gradient terms. A dense block's rows are still in cache
// for the second pass over them. Block bounds depend on the chunk and d only.
constexpr index_t kBlock = 64;        // rows per block at most
constexpr index_t kBlockBytes = 1 << 17;  // and about this many bytes of X

template <class T>
index_t dense_block_rows(index_t d) {
  const index_t rows = kBlockBytes / (d * static_cast<index_t>(sizeof(T)) + 1) / kGroup * kGroup;
  return rows < kGroup ? kGroup : (rows > kBlock ? kBlock : rows);
}

// Up to kNative values of p, `fill` past n.
inline VN load_part(const double* p, index_t n, double fill) {
  if (n >= kNative) return load(p);
  VN v = splat(fill);
  for (int l = 0; l < kNative; ++l)
    if (l < n) v[l] = p[l];
  return v;
}
inline void store_part(double* p, VN v, index_t n) {
  if (n >= kNative) return store(p, v);
  for (int l = 0; l < kNative; ++l)
    if (l < n) p[l] = v[l];
}

// Binomial rows [i, i + n) from their raw predictions z (n): g = sw (sigmoid(z) - y) and, when
// h is given, h = sw sigmoid'(z); returns sum sw l(y, z) added in row order. e = exp(-|z|)
// serves every term without overflow; the Hessian e / (1 + e)^2 underflows to 0 only for
// |z| > ~745, as scikit-learn's does.
inline double binomial_block(const Model& m, index_t i, index_t n, const double* z, double* g,
                             double* h) {
  double sum = 0.0;
  for (index_t r = 0; r < n; r += kNative) {
    const index_t left = n - r;
    const VN zv = load_part(z + r, left, 0.0), yv = load_part(m.y + i + r, left, 0.0);
    const VN sw = m.sw ? load_part(m.sw + i + r, left, 0.0) : splat(1.0);
    const VN e = simd::FASTML_ISA::exp_vec<kNative>(zv > 0.0 ? -zv : zv);
    const VN q = 1.0 / (1.0 + e);
    const VN p = zv >= 0.0 ? q : e * q;
    store_part(g + r, sw * (p - yv), left);
    if (h) store_part(h + r, sw * (e * q * q), left);
    const VN loss = sw * ((zv > 0.0 ? zv : VN{}) +
                          simd::FASTML_ISA::log1p_unit_vec<kNative>(e) - yv * zv);
    for (int l = 0; l < kNative && l < left; ++l) sum += loss[l];
  }
  return sum;
}

// Multinomial rows [i, i + n) over k classes from z (n x k): g = sw (softmax(z) - onehot(y))
// and, when p is given, p = softmax(z); returns sum sw l(y, z) in row order. Each row's largest
// z is subtracted before exponentiating.
inline double multinomial_block(const Model& m, index_t i, index_t n, const double* z, double* g,
                                double* p) {
  const index_t k = m.k, size = n * k;
  for (index_t r = 0; r < n; ++r) {
    const double* zr = z + r * k;
    double top = zr[0];
    for (index_t c = 1; c < k; ++c) top = zr[c] > top ? zr[c] : top;
    for (index_t c = 0; c < k; ++c) g[r * k + c] = zr[c] - top;
  }
  for (index_t t = 0; t < size; t += kNative)
    store_part(g + t, simd::FASTML_ISA::exp_vec<kNative>(load_part(g + t, size - t, 0.0)),
               size - t);
  double sum = 0.0;
  for (index_t r = 0; r < n; ++r) {
    const double* zr = z + r * k;
    double* gr = g + r * k;
    double total = 0.0, top = zr[0];
    for (index_t c = 0; c < k; ++c) {
      total += gr[c];
      top = zr[c] > top ? zr[c] : top;
    }
    const index_t label = static_cast<index_t>(m.y[i + r]);
    const double sw = weight_of(m, i + r), inv = 1.0 / total;
    for (index_t c = 0; c < k; ++c) {
      const double pc = gr[c] * inv;
      if (p) p[r * k + c] = pc;
      gr[c] = sw * (pc - (c == label ? 1.0 : 0.0));
    }
    sum += sw * (top + std::log(total) - zr[label]);
  }
  return sum;
}

// Loss of rows [i, i + n) from z (n x k), gradients with respect to z into g (n x k); p and h
// as above.
inline double pointwise_block(const Model& m, index_t i, index_t n, const double* z, double* g,
                              double* p, double* h) {
  if (m.k == 1) return binomial_block(m, i, n, z, g, h);
  return multinomial_block(m, i, n, z, g, p);
}

// Block buffers: z and g (kBlock x k); for the Hessian only, p (kBlock x k) and h (kBlock),
// else null.
struct BlockBuffers {
  Scratch z, g, p_, h_;
  double* p;
  double* h;
  BlockBuffers(index_t k, bool hessian)
      : z(kBlock * k), g(kBlock * k), p_(hessian ? kBlock * k : 0), h_(hessian ? kBlock : 0),
        p(hessian ? p_.p : nullptr), h(hessian ? h_.p : nullptr) {}
};

// ---- dense row groups ----------------------------------------------------------------------

// out[r] = x_r . w for the R rows of a group.
template <int R, class T>
inline void group_dots(const T* const* x, const double* w, index_t d, double* out) {
  VN acc[R];
  for (int r = 0; r < R; ++r) acc[r] = VN{};
  index_t j = 0;
  for (; j + kNative <= d; j += kNative) {
    const VN wv = load(w + j);
    for (int r = 0; r < R; ++r) acc[r] += load(x[r] + j) * wv;
  }
  for (int r = 0; r < R; ++r) {
    double s = hsum(acc[r]);
    for (index_t t = j; t < d; ++t) s += static_cast<double>(x[r][t]) * w[t];
    out[r] = s;
  }
}

// grad += sum_r g[r] x_r.
template <int R, class T>
inline void group_axpy(const T* const* x, const double* g, double* grad, index_t d) {
  VN gv[R];
  for (int r = 0; r < R; ++r) gv[r] = splat(g[r]);
  index_t j = 0;
  for (; j + kNative <= d; j += kNative) {
    VN a = load(grad + j);
    for (int r = 0; r < R; ++r) a += gv[r] * load(x[r] + j);
    store(grad + j, a);
  }
  for (; j < d; ++j) {
    double a = grad[j];
    for (int r = 0; r < R; ++r) a += g[r] * static_cast<double>(x[r][j]);
    grad[j] = a;
  }
}

// Asks for the `count` rows kPrefetchRows after row i: without it the products waited on
// memory (a pass took 4x the time of a sum over X, from L3 as from DRAM).
template <class T>
inline void prefetch_rows(const Dense<T>& X, index_t i, index_t count) {
  if (i + kPrefetchRows + count > X.n) return;
  const char* next = reinterpret_cast<const char*>(X.x + (i + kPrefetchRows) * X.d);
  const index_t bytes = count * X.d * static_cast<index_t>(sizeof(T));
  for (index_t b = 0; b < bytes; b += 64) __builtin_prefetch(next + b, 0, 3);
}

// Raw predictions of the R rows from row i: z[r * k + c].
template <int R, class T>
inline void group_raw(const Dense<T>& X, const Model& m, index_t i, double* z) {
  const index_t k = m.k, d = X.d;
  if (m.raw) {
    std::memcpy(z, m.raw + i * k, sizeof(double) * R * k);
    return;
  }
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = X.x + (i + r) * d;
  prefetch_rows(X, i, R);
  double dots[R];
  for (index_t c = 0; c < k; ++c) {
    group_dots<R>(x, m.w + c * d, d, dots);
    for (int r = 0; r < R; ++r) z[r * k + c] = dots[r] + m.b[c];
  }
}

// Gradient terms of the R rows from row i, g (R x k) their gradients with respect to z.
template <int R, class T>
inline void group_gradient(const Dense<T>& X, const Model& m, index_t i, const double* g,
                           double* grad_w, double* grad_b) {
  const index_t k = m.k, d = X.d;
  const T* x[R];
  for (int r = 0; r < R; ++r) x[r] = X.x + (i + r) * d;
  double gc[R];
  for (index_t c = 0; c < k; ++c) {
    double sum = 0.0;
    for (int r = 0; r < R; ++r) {
      gc[r] = g[r * k + c];
      sum += gc[r];
    }
    group_axpy<R>(x, gc, grad_w + c * d, d);
    grad_b[c] += sum;
  }
}

// Loss and gradient of the n rows of a block from row i; the pointwise terms in bufs.
template <class T>
inline double dense_block(const Dense<T>& X, const Model& m, index_t i, index_t n,
                          BlockBuffers& bufs, double* grad_w, double* grad_b) {
  const index_t k = m.k;
  index_t r = 0;
  for (; r + kGroup <= n; r += kGroup) group_raw<kGroup>(X, m, i + r, bufs.z.p + r * k);
  for (; r < n; ++r) group_raw<1>(X, m, i + r, bufs.z.p + r * k);
  const double loss = pointwise_block(m, i, n, bufs.z.p, bufs.g.p, bufs.p, bufs.h);
  r = 0;
  for (; r + kGroup <= n; r += kGroup)
    group_gradient<kGroup>(X, m, i + r, bufs.g.p + r * k, grad_w, grad_b);
  for (; r < n; ++r) group_gradient<1>(X, m, i + r, bufs.g.p + r * k, grad_w, grad_b);
  return loss;
}

// ---- multinomial dense rows, classes in the vector lanes -----------------------------------

// With k classes the products above take a lane sum per row and class, and a row's feature is
// loaded k times. Here the coefficients are transposed (d x kp, kp = k rounded up to whole
// vectors, zeros past k), so that a row's feature is broadcast once against the NV vectors of
// every class, in a small matrix product: R rows x NV vectors of accumulators in registers.
// The gradient is summed the same way into a transposed (d x kp) buffer, added to grad_w once
// per chunk.
// NV is at most 4: the R x NV accumulators must fit in the registers. The vectors hold L
// doubles: the native width, or half of it where that pads fewer lanes (10 classes: 12 lanes in
// three 4-wide vectors rather than 16 in two 8-wide ones; see class_lane_width). Each class
// sums in its own lane in feature order, so results do not depend on L.

template <int L>
struct Lanes {
  typedef double V __attribute__((vector_size(L * 8)));
};

template <int NV, int L, class T>
inline void class_lane_raw(const T* const* x, const double* wt, const double* b, index_t d,
                           double* z) {
  typedef typename Lanes<L>::V V;
  constexpr index_t kp = NV * L;
  V acc[kGroup][NV];
  for (int r = 0; r < kGroup; ++r)
    for (int v = 0; v < NV; ++v) acc[r][v] = load<V>(b + v * L);
  for (index_t j = 0; j < d; ++j) {
    V wv[NV];
    for (int v = 0; v < NV; ++v) wv[v] = load<V>(wt + j * kp + v * L);
    for (int r = 0; r < kGroup; ++r) {
      const V xs = simd::FASTML_ISA::splat_v<V>(static_cast<double>(x[r][j]));
      for (int v = 0; v < NV; ++v) acc[r][v] += xs * wv[v];
    }
  }
  for (int r = 0; r < kGroup; ++r)
    for (int v = 0; v < NV; ++v) store(z + r * kp + v * L, acc[r][v]);
}

template <int NV, int L, class T>
inline void class_lane_gradient(const T* const* x, const double* g, index_t d, double* gt) {
  typedef typename Lanes<L>::V V;
  constexpr index_t kp = NV * L;
  V gv[kGroup][NV];
  for (int r = 0; r < kGroup; ++r)
    for (int v = 0; v < NV; ++v) gv[r][v] = load<V>(g + r * kp + v * L);
  for (index_t j = 0; j < d; ++j) {
    V a[NV];
    for (int v = 0; v < NV; ++v) a[v] = load<V>(gt + j * kp + v * L);
    for (int r = 0; r < kGroup; ++r) {
      const V xs = simd::FASTML_ISA::splat_v<V>(static_cast<double>(x[r][j]));
      for (int v = 0; v < NV; ++v) a[v] += xs * gv[r][v];
    }
    for (int v = 0; v < NV; ++v) store(gt + j * kp + v * L, a[v]);
  }
}

// Rows [begin, end) of a multinomial chunk whose kp = NV * L.
template <int NV, int L, class T>
void class_lane_loss_gradient(const Dense<T>& X, const Model& m, index_t begin, index_t end,
                              double* loss, double* grad_w, double* grad_b) {
  constexpr index_t kp = NV * L;
  const index_t k = m.k, d = X.d;
  Scratch wt(d * kp), gt(d * kp), b(kp), zp(kBlock * kp), gp(kBlock * kp);
  for (index_t c = 0; c < k; ++c) {
    for (index_t j = 0; j < d; ++j) wt.p[j * kp + c] = m.w[c * d + j];
    b.p[c] = m.b[c];
  }
  BlockBuffers bufs(k, false);
  const index_t rows = dense_block_rows<T>(d);
  double sum = 0.0;
  for (index_t i0 = begin; i0 < end; i0 += rows) {
    const index_t n = end - i0 < rows ? end - i0 : rows;
    const T* x[kGroup];
    for (index_t r = 0; r < n; r += kGroup) {
      // A last partial group repeats its last row; its extra results are not read.
      for (int q = 0; q < kGroup; ++q) x[q] = X.x + (i0 + (r + q < n ? r + q : n - 1)) * d;
      prefetch_rows(X, i0 + r, kGroup);
      class_lane_raw<NV, L>(x, wt.p, b.p, d, zp.p + r * kp);
    }
    for (index_t r = 0; r < n; ++r)
      for (index_t c = 0; c < k; ++c) bufs.z.p[r * k + c] = zp.p[r * kp + c];
    sum += pointwise_block(m, i0, n, bufs.z.p, bufs.g.p, nullptr, nullptr);
    for (index_t r = 0; r < n; ++r)
      for (index_t c = 0; c < kp; ++c) gp.p[r * kp + c] = c < k ? bufs.g.p[r * k + c] : 0.0;
    for (index_t r = 0; r < n; r += kGroup) {
      // Rows past n get zero gradients: they add nothing.
      for (int q = 0; q < kGroup; ++q) {
        x[q] = X.x + (i0 + (r + q < n ? r + q : n - 1)) * d;
        if (r + q >= n)
          for (index_t c = 0; c < kp; ++c) gp.p[(r + q) * kp + c] = 0.0;
      }
      class_lane_gradient<NV, L>(x, gp.p + r * kp, d, gt.p);
    }
    for (index_t r = 0; r < n; ++r)
      for (index_t c = 0; c < k; ++c) grad_b[c] += bufs.g.p[r * k + c];
  }
  for (index_t c = 0; c < k; ++c)
    for (index_t j = 0; j < d; ++j) grad_w[c * d + j] += gt.p[j * kp + c];
  *loss += sum;
}

// The lanes per vector for k classes: half the native width where that pads fewer lanes (within
// four vectors), else the native width. On AMD's Zen 4 an 8-wide vector takes both 4-wide
// multiply-add units, so the padded lanes cost as much as the used ones.
constexpr int kHalf = kNative >= 8 ? kNative / 2 : kNative;
inline bool half_lanes(index_t k) {
  const index_t native = (k + kNative - 1) / kNative * kNative;
  const index_t half = (k + kHalf - 1) / kHalf * kHalf;
  return half < native && half <= 4 * kHalf;
}

// The class-lane pass for k <= 4 vectors of L lanes; false when k needs more.
template <int L, class T>
bool class_lanes(const Dense<T>& X, const Model& m, index_t begin, index_t end, double* loss,
                 double* grad_w, double* grad_b) {
  switch ((m.k + L - 1) / L) {
    case 1: class_lane_loss_gradient<1, L>(X, m, begin, end, loss, grad_w, grad_b); return true;
    case 2: class_lane_loss_gradient<2, L>(X, m, begin, end, loss, grad_w, grad_b); return true;
    case 3: class_lane_loss_gradient<3, L>(X, m, begin, end, loss, grad_w, grad_b); return true;
    case 4: class_lane_loss_gradient<4, L>(X, m, begin, end, loss, grad_w, grad_b); return true;
    default: return false;
  }
}

template <class T>
void dense_loss_gradient(const Dense<T>& X, const Model& m, index_t begin, index_t end,
                         double* loss, double* grad_w, double* grad_b) {
  if (m.k > 1 && !m.raw) {
    const bool done = half_lanes(m.k)
                          ? class_lanes<kHalf>(X, m, begin, end, loss, grad_w, grad_b)
                          : class_lanes<kNative>(X, m, begin, end, loss, grad_w, grad_b);
    if (done) return;
  }
  BlockBuffers bufs(m.k, false);
  const index_t rows = dense_block_rows<T>(X.d);
  double sum = 0.0;
  for (index_t i = begin; i < end; i += rows)
    sum += dense_block(X, m, i, end - i < rows ? end - i : rows, bufs, grad_w, grad_b);
  *loss += sum;
}

template <class T>
void dense_raw(const Dense<T>& X, const Model& m, index_t begin, index_t end, double* out) {
  const Model model{m.y, m.sw, m.w, m.b, nullptr, m.k};
  index_t i = begin;
  for (; i + kGroup <= end; i += kGroup) group_raw<kGroup>(X, model, i, out + i * m.k);
  for (; i < end; ++i) group_raw<1>(X, model, i, out + i * m.k);
}

// ---- Hessian -------------------------------------------------------------------------------

// The pointwise Hessian of row r between classes c and l (sw already in): binomial h[r];
// multinomial sw (p_c [c == l] - p_c p_l).
inline double pair_weight(const Model& m, index_t i, const double* p, const double* h, index_t c,
                          index_t l) {
  if (m.k == 1) return *h;
  const double pc = p[c];
  return weight_of(m, i) * ((c == l ? pc : 0.0) - pc * p[l]);
}

// Adds the rows' Hessian terms: for each class pair c <= l, block (c, l) of dd x dd entries,
// upper triangle (a <= b), from the rows as dd doubles each (x then 1 for the intercept).
inline void add_dense_hessian(const Model& m, index_t i, int rows, const double* const* xr,
                              const double* p, const double* h, index_t dd, double* hess) {
  const index_t k = m.k;
  for (index_t c = 0; c < k; ++c)
    for (index_t l = c; l < k; ++l) {
      double s[kGroup];
      for (int r = 0; r < kGroup; ++r)
        s[r] = r < rows ? pair_weight(m, i + r, p + r * k, h + r, c, l) : 0.0;
      double* block = hess + (c * k + l) * dd * dd;
      for (index_t a = 0; a < dd; ++a) {
        const double s0 = s[0] * xr[0][a], s1 = s[1] * xr[1][a], s2 = s[2] * xr[2][a],
                     s3 = s[3] * xr[3][a];
        double* __restrict__ out = block + a * dd;
        const double* __restrict__ x0 = xr[0];
        const double* __restrict__ x1 = xr[1];
        const double* __restrict__ x2 = xr[2];
        const double* __restrict__ x3 = xr[3];
        for (index_t b = a; b < dd; ++b)
          out[b] += s0 * x0[b] + s1 * x1[b] + s2 * x2[b] + s3 * x3[b];
      }
    }
}

template <class T>
void dense_hessian(const Dense<T>& X, const Model& m, bool fit_intercept, index_t begin,
                   index_t end, double* loss, double* grad_w, double* grad_b, double* hess,
                   double* nonpositive) {
  static_assert(kGroup == 4, "add_dense_hessian unrolls four rows");
  const index_t k = m.k, d = X.d, dd = d + (fit_intercept ? 1 : 0);
  BlockBuffers bufs(k, true);
  Scratch rows(kGroup * dd);
  const double* xr[kGroup];
  for (int r = 0; r < kGroup; ++r) xr[r] = rows.p + r * dd;
  const index_t block_rows = dense_block_rows<T>(d);
  double sum = 0.0, bad = 0.0;
  for (index_t i0 = begin; i0 < end; i0 += block_rows) {
    const index_t n = end - i0 < block_rows ? end - i0 : block_rows;
    sum += dense_block(X, m, i0, n, bufs, grad_w, grad_b);
    for (index_t q = 0; q < n; q += kGroup) {
      const index_t i = i0 + q;
      const int n_rows = n - q < kGroup ? static_cast<int>(n - q) : kGroup;
      for (int r = 0; r < n_rows; ++r) {
        double* row = rows.p + r * dd;
        const T* x = X.x + (i + r) * d;
        for (index_t j = 0; j < d; ++j) row[j] = static_cast<double>(x[j]);
        if (fit_intercept) row[d] = 1.0;
        if (k == 1 && bufs.h[q + r] <= 0.0) bad += weight_of(m, i + r);
      }
      for (int r = n_rows; r < kGroup; ++r) std::memset(rows.p + r * dd, 0, sizeof(double) * dd);
      add_dense_hessian(m, i, n_rows, xr, bufs.p + q * k, bufs.h + q, dd, hess);
    }
  }
  *loss += sum;
  *nonpositive += bad;
}

// ---- CSR rows ------------------------------------------------------------------------------

template <class T, class I>
inline void csr_row_raw(const Csr<T, I>& X, const Model& m, index_t i, double* z) {
  const index_t k = m.k, d = X.d;
  if (m.raw) {
    for (index_t c = 0; c < k; ++c) z[c] = m.raw[i * k + c];
    return;
  }
  for (index_t c = 0; c < k; ++c) {
    const double* w = m.w + c * d;
    double s = 0.0;
    for (index_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q)
      s += static_cast<double>(X.data[q]) * w[X.indices[q]];
    z[c] = s + m.b[c];
  }
}

template <class T, class I>
inline void csr_row_gradient(const Csr<T, I>& X, const Model& m, index_t i, const double* g,
                             double* grad_w, double* grad_b) {
  const index_t k = m.k, d = X.d;
  for (index_t c = 0; c < k; ++c) {
    double* gw = grad_w + c * d;
    const double gc = g[c];
    for (index_t q = X.indptr[i]; q < X.indptr[i + 1]; ++q)
      gw[X.indices[q]] += gc * static_cast<double>(X.data[q]);
    grad_b[c] += gc;
  }
}

// Loss and gradient of the n rows of a block from row i; the pointwise terms in bufs.
template <class T, class I>
inline double csr_block(const Csr<T, I>& X, const Model& m, index_t i, index_t n,
                        BlockBuffers& bufs, double* grad_w, double* grad_b) {
  const index_t k = m.k;
  for (index_t r = 0; r < n; ++r) csr_row_raw(X, m, i + r, bufs.z.p + r * k);
  const double loss = pointwise_block(m, i, n, bufs.z.p, bufs.g.p, bufs.p, bufs.h);
  for (index_t r = 0; r < n; ++r) csr_row_gradient(X, m, i + r, bufs.g.p + r * k, grad_w, grad_b);
  return loss;
}

template <class T, class I>
void csr_loss_gradient(const Csr<T, I>& X, const Model& m, index_t begin, index_t end,
                       double* loss, double* grad_w, double* grad_b) {
  BlockBuffers bufs(m.k, false);
  double sum = 0.0;
  for (index_t i = begin; i < end; i += kBlock)
    sum += csr_block(X, m, i, end - i < kBlock ? end - i : kBlock, bufs, grad_w, grad_b);
  *loss += sum;
}

template <class T, class I>
void csr_raw(const Csr<T, I>& X, const Model& m, index_t begin, index_t end, double* out) {
  const Model model{m.y, m.sw, m.w, m.b, nullptr, m.k};
  for (index_t i = begin; i < end; ++i) csr_row_raw(X, model, i, out + i * m.k);
}

// Pairs (a, b) of a row's stored values with column a <= b, over all ordered pairs: a column
// stored twice (a non-canonical matrix) then counts both cross products, as X^T X does.
template <class T, class I>
void csr_hessian(const Csr<T, I>& X, const Model& m, bool fit_intercept, index_t begin,
                 index_t end, double* loss, double* grad_w, double* grad_b, double* hess,
                 double* nonpositive) {
  const index_t k = m.k, d = X.d, dd = d + (fit_intercept ? 1 : 0);
  BlockBuffers bufs(k, true);
  double sum = 0.0, bad = 0.0;
  for (index_t i0 = begin; i0 < end; i0 += kBlock) {
    const index_t n = end - i0 < kBlock ? end - i0 : kBlock;
    sum += csr_block(X, m, i0, n, bufs, grad_w, grad_b);
    for (index_t r = 0; r < n; ++r) {
      const index_t i = i0 + r;
      const double* p = bufs.p + r * k;
      const double* h = bufs.h + r;
      if (k == 1 && *h <= 0.0) bad += weight_of(m, i);
      const index_t q0 = X.indptr[i], q1 = X.indptr[i + 1];
      for (index_t c = 0; c < k; ++c)
        for (index_t l = c; l < k; ++l) {
          const double s = pair_weight(m, i, p, h, c, l);
          double* block = hess + (c * k + l) * dd * dd;
          for (index_t q = q0; q < q1; ++q) {
            const index_t a = X.indices[q];
            const double sa = s * static_cast<double>(X.data[q]);
            double* out = block + a * dd;
            for (index_t t = q0; t < q1; ++t) {
              const index_t b = X.indices[t];
              if (a <= b) out[b] += sa * static_cast<double>(X.data[t]);
            }
            if (fit_intercept) out[d] += sa;
          }
          if (fit_intercept) block[d * dd + d] += s;
        }
    }
  }
  *loss += sum;
  *nonpositive += bad;
}

template <class T>
TypeKernels<T> type_kernels() {
  TypeKernels<T> t;
  t.dense = Kernels<Dense<T>>{&dense_loss_gradient<T>, &dense_hessian<T>, &dense_raw<T>};
  t.csr32 = Kernels<Csr<T, std::int32_t>>{&csr_loss_gradient<T, std::int32_t>,
                                          &csr_hessian<T, std::int32_t>,
                                          &csr_raw<T, std::int32_t>};
  t.csr64 = Kernels<Csr<T, std::int64_t>>{&csr_loss_gradient<T, std::int64_t>,
                                          &csr_hessian<T, std::int64_t>,
                                          &csr_raw<T, std::int64_t>};
  return t;
}

}  // namespace

LogisticTable kernel_table() { return LogisticTable{type_kernels<float>(), type_kernels<double>()}; }

}  // namespace fastml::logistic::FASTML_ISA
