// k-means kernels, compiled once per instruction set (CMake defines FASTML_ISA and the -march).
// As in distance_kernels_isa.cpp, everything but kernel_table() has internal linkage and the
// standard library's inline templates are avoided, so no function built for a wider instruction
// set can be linked into another build. Drivers, memory and threads live in kmeans.cpp.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <utility>  // std::integer_sequence: a type only, no code to link

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "fastml/kmeans.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::kmeans::FASTML_ISA {
namespace {

// 64-byte vectors: one panel row. Narrower builds split them into several registers.
template <class T> struct Vec;
template <> struct Vec<float> {
  typedef float V __attribute__((vector_size(64)));
  typedef float Half __attribute__((vector_size(32)));
};
template <> struct Vec<double> {
  typedef double V __attribute__((vector_size(64)));
};
typedef double VD __attribute__((vector_size(64)));

template <class V> inline V load(const void* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}

// Lanes of a float vector as float64, added pairwise into 8 lanes.
inline VD widen_sum(Vec<float>::V v) {
#if defined(__AVX512F__) && defined(__AVX512DQ__)
  // Two whole-register conversions: GCC lowers the generic form below to four half-width ones
  // and two inserts, which cost k-means++ a tenth of its time.
  const __m512 m = reinterpret_cast<__m512>(v);
  return reinterpret_cast<VD>(_mm512_add_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(m)),
                                            _mm512_cvtps_pd(_mm512_extractf32x8_ps(m, 1))));
#else
  const Vec<float>::Half lo = __builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7);
  const Vec<float>::Half hi = __builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15);
  return __builtin_convertvector(lo, VD) + __builtin_convertvector(hi, VD);
#endif
}
inline VD widen_sum(VD v) { return v; }

inline double lane_sum(VD v) {
  double s = 0.0;
  for (int l = 0; l < 8; ++l) s += v[l];
  return s;
}

// |a - b|^2 in float64, eight features at a time.
template <class T> inline double sq_dist(const T* a, const T* b, index_t d) {
  typedef T T8 __attribute__((vector_size(8 * sizeof(T))));
  VD acc = {};
  index_t f = 0;
  for (; f + 8 <= d; f += 8) {
    const VD diff = __builtin_convertvector(load<T8>(a + f), VD) -
                    __builtin_convertvector(load<T8>(b + f), VD);
    acc += diff * diff;
  }
  double s = lane_sum(acc);
  for (; f < d; ++f) {
    const double diff = static_cast<double>(a[f]) - static_cast<double>(b[f]);
    s += diff * diff;
  }
  return s;
}

// ---- k-means++ on panels ------------------------------------------------------------------------

// acc[t] = squared distances of the panel's points to candidate t (rows of cand), computed in T.
template <class T, int NC>
inline void panel_distances(const T* __restrict panel, index_t d, const T* __restrict cand,
                            typename Vec<T>::V* acc) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kPanel<T>;
#pragma GCC unroll 8
  for (int t = 0; t < NC; ++t) acc[t] = V{};
  for (index_t f = 0; f < d; ++f) {
    const V x = load<V>(panel + f * L);
#pragma GCC unroll 8
    for (int t = 0; t < NC; ++t) {
      const V diff = x - cand[t * d + f];
      acc[t] += diff * diff;
    }
  }
}

template <class T>
double seed_distances(const T* panels, const T* w, index_t n_panels, index_t d, const T* center,
                      T* D) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kPanel<T>;
  VD pot = {};
  for (index_t p = 0; p < n_panels; ++p) {
    V dist;
    panel_distances<T, 1>(panels + p * d * L, d, center, &dist);
    std::memcpy(D + p * L, &dist, sizeof(V));
    pot += widen_sum(dist * load<V>(w + p * L));
  }
  return lane_sum(pot);
}

template <class T>
void seed_apply(const T* panels, T* D, index_t n_panels, index_t d, const T* center) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kPanel<T>;
  for (index_t p = 0; p < n_panels; ++p) {
    V dist;
    panel_distances<T, 1>(panels + p * d * L, d, center, &dist);
    V dv = load<V>(D + p * L);
    dv = dist < dv ? dist : dv;
    std::memcpy(D + p * L, &dv, sizeof(V));
  }
}

// W (0 or 1) rows of cand before the NC candidates are the last winner, applied to D first: the
// step's one pass over the points both updates D and scores the new candidates.
template <class T, int NC, int W>
void seed_step_n(const T* panels, const T* w, T* D, index_t n_panels, index_t d, const T* cand,
                 double* gains, double* pots) {
  using V = typename Vec<T>::V;
  constexpr index_t L = kPanel<T>;
  // Gains summed in T over the range (one block of panels), then in float64 across blocks; the
  // potentials in float64 per panel, as seed_distances sums them.
  V total[NC] = {};
  VD pot[NC] = {};
  for (index_t p = 0; p < n_panels; ++p) {
    V dist[W + NC];
    panel_distances<T, W + NC>(panels + p * d * L, d, cand, dist);
    V dv = load<V>(D + p * L);
    if constexpr (W == 1) {
      dv = dist[0] < dv ? dist[0] : dv;
      std::memcpy(D + p * L, &dv, sizeof(V));
    }
    const V wv = load<V>(w + p * L);
#pragma GCC unroll 8
    for (int t = 0; t < NC; ++t) {
      const auto closer = dist[W + t] < dv;
      total[t] += (closer ? dv - dist[W + t] : V{}) * wv;
      pot[t] += widen_sum((closer ? dist[W + t] : dv) * wv);
    }
  }
  for (int t = 0; t < NC; ++t) {
    gains[t] += lane_sum(widen_sum(total[t]));
    pots[t] += lane_sum(pot[t]);
  }
}

template <class T>
void seed_step(const T* panels, const T* w, T* D, index_t n_panels, index_t d, const T* cand,
               int n_cand, bool winner, double* gains, double* pots) {
  switch (n_cand * 2 + (winner ? 1 : 0)) {
#define FASTML_SEED_STEP_CASE(nc)                                                      \
  case 2 * nc:                                                                         \
    return seed_step_n<T, nc, 0>(panels, w, D, n_panels, d, cand, gains, pots);       \
  case 2 * nc + 1:                                                                     \
    return seed_step_n<T, nc, 1>(panels, w, D, n_panels, d, cand, gains, pots);
    FASTML_SEED_STEP_CASE(1)
    FASTML_SEED_STEP_CASE(2)
    FASTML_SEED_STEP_CASE(3)
    FASTML_SEED_STEP_CASE(4)
    FASTML_SEED_STEP_CASE(5)
    FASTML_SEED_STEP_CASE(6)
    FASTML_SEED_STEP_CASE(7)
    FASTML_SEED_STEP_CASE(8)
#undef FASTML_SEED_STEP_CASE
  }
}

// ---- Lloyd and Elkan ----------------------------------------------------------------------------

// Nearest centers of the points in panels by the key |c|^2 - 2 x.c in T (|x|^2 does not change
// the order). The lanes are points, so each lane keeps its own running minimum and a point needs
// no reduction across lanes (with centers in the lanes, that reduction cost a quarter of the
// time at k = 64, d = 16). kAssignCenters centers share a register block; a strict < taken in
// center order keeps the lower index on ties.
template <class T>
index_t assign(const T* panels, index_t n, index_t d, const T* centers, const T* cnorms,
               index_t k_padded, label_t* labels) {
  using V = typename Vec<T>::V;
  using M = decltype(V{} < V{});
  using Lane = __typeof__(M{}[0] + 0);
  constexpr index_t L = kPanel<T>;
  constexpr int C = kAssignCenters;
  index_t changed = 0;
  for (index_t p0 = 0; p0 < n; p0 += L) {
    const T* panel = panels + p0 * d;
    V best = V{} + static_cast<T>(HUGE_VAL);
    M best_index = M{};
    for (index_t j0 = 0; j0 < k_padded; j0 += C) {
      const T* block = centers + j0 * d;
      V acc[C];
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) acc[c] = V{};
      for (index_t f = 0; f < d; ++f) {
        const V x = load<V>(panel + f * L);
#pragma GCC unroll 8
        for (int c = 0; c < C; ++c) acc[c] += x * block[c * d + f];
      }
#pragma GCC unroll 8
      for (int c = 0; c < C; ++c) {
        const V key = cnorms[j0 + c] - acc[c] * T(2);
        const M closer = key < best;
        best = closer ? key : best;
        best_index = closer ? M{} + static_cast<Lane>(j0 + c) : best_index;
      }
    }
    const index_t count = n - p0 < L ? n - p0 : L;
    for (index_t l = 0; l < count; ++l) {
      const label_t label = static_cast<label_t>(best_index[l]);
      changed += labels[p0 + l] != label;
      labels[p0 + l] = label;
    }
  }
  return changed;
}

template <class T>
void accumulate(const Points<T>& pts, const label_t* labels, double* sums, double* weights) {
  const index_t d = pts.d;
  for (index_t i = 0; i < pts.n; ++i) {
    const double wi = pts.w[i];
    const T* x = pts.x + i * d;
    double* s = sums + labels[i] * d;
    for (index_t f = 0; f < d; ++f) s[f] += wi * static_cast<double>(x[f]);
    weights[labels[i]] += wi;
  }
}

template <class T>
void distances_to_own(const Points<T>& pts, const T* centers, const label_t* labels,
                      double* out) {
  for (index_t i = 0; i < pts.n; ++i)
    out[i] = sq_dist(pts.x + i * pts.d, centers + labels[i] * pts.d, pts.d);
}

template <class T>
double inertia(const Points<T>& pts, const T* centers, const label_t* labels) {
  double total = 0.0;
  for (index_t i = 0; i < pts.n; ++i)
    total += static_cast<double>(pts.w[i]) *
             sq_dist(pts.x + i * pts.d, centers + labels[i] * pts.d, pts.d);
  return total;
}

template <class T> inline T distance(const T* a, const T* b, index_t d) {
  return static_cast<T>(std::sqrt(sq_dist(a, b, d)));
}

// The bound logic of scikit-learn's Elkan k-means (init_bounds / update_chunk), one point at a time.
// One point: init (labels and both bounds from scratch) or one pass of bound checks. dist(j) is
// the distance to center j, asked for only where the bounds cannot rule center j out.
template <class T, class Dist>
inline label_t elkan_point(index_t k, const T* half, const T* next, label_t old, T& ub, T* lb,
                           bool init, Dist&& dist) {
  label_t label = 0;
  if (init) {
    for (index_t j = 0; j < k; ++j) lb[j] = T(0);
    ub = dist(0);
    lb[0] = ub;
    for (index_t j = 1; j < k; ++j) {
      if (ub > half[label * k + j]) {
        const T dj = dist(j);
        lb[j] = dj;
        if (dj < ub) {
          ub = dj;
          label = static_cast<label_t>(j);
        }
      }
    }
    return label;
  }
  label = old;
  if (next[label] < ub) {
    bool tight = false;
    for (index_t j = 0; j < k; ++j) {
      if (j == label || ub <= lb[j] || ub <= half[label * k + j]) continue;
      if (!tight) {
        ub = dist(label);
        lb[label] = ub;
        tight = true;
        if (ub <= lb[j] && ub <= half[label * k + j]) continue;
      }
      const T dj = dist(j);
      lb[j] = dj;
      if (dj < ub) {
        ub = dj;
        label = static_cast<label_t>(j);
      }
    }
  }
  return label;
}

template <class T>
index_t elkan_assign(const Points<T>& pts, const T* centers, index_t k, const T* half,
                     const T* next, label_t* labels, T* upper, T* lower, bool init) {
  const index_t d = pts.d;
  index_t changed = 0;
  for (index_t i = 0; i < pts.n; ++i) {
    const T* x = pts.x + i * d;
    const label_t old = labels[i];
    T ub = upper[i];
    const label_t label = elkan_point(k, half, next, old, ub, lower + i * k, init,
                                      [&](index_t j) { return distance(x, centers + j * d, d); });
    labels[i] = label;
    upper[i] = ub;
    changed += label != old;
  }
  return changed;
}

// ---- CSR points -----------------------------------------------------------------------------------

constexpr index_t kCsrAhead = 8;

// out[j] = x.c_j in float64 for the kp columns of ct (d x kp), by groups of NV vectors of
// kCsrCenters columns: each nonzero x_v adds x_v times row indices[v] of ct, NV contiguous loads,
// to NV accumulators that stay in registers over the whole row.
template <class T, int NV>
inline void csr_dots_n(const T* __restrict vals, const std::int32_t* __restrict idx,
                       index_t nnz, const T* __restrict ct, index_t kp, double* __restrict out) {
  typedef T T8 __attribute__((vector_size(kCsrCenters * sizeof(T))));
  static_assert(kCsrCenters * sizeof(double) == sizeof(VD), "one accumulator: kCsrCenters lanes");
  VD acc[NV];
#pragma GCC unroll 8
  for (int g = 0; g < NV; ++g) acc[g] = VD{};
  for (index_t v = 0; v < nnz; ++v) {
    // The rows of ct are read in the order of a row's columns, all over a table that outgrows
    // the L2 cache (20k features x 56 centers: 9 MB): fetch the row kAhead nonzeros ahead.
    if (v + kCsrAhead < nnz) {
      const char* next =
          reinterpret_cast<const char*>(ct + static_cast<index_t>(idx[v + kCsrAhead]) * kp);
      constexpr int bytes = NV * kCsrCenters * sizeof(T);
#pragma GCC unroll 8
      for (int b = 0; b < bytes; b += 64) __builtin_prefetch(next + b);
      __builtin_prefetch(next + bytes - 1);
    }
    const T* row = ct + static_cast<index_t>(idx[v]) * kp;
    const double x = static_cast<double>(vals[v]);
#pragma GCC unroll 8
    for (int g = 0; g < NV; ++g)
      acc[g] += x * __builtin_convertvector(load<T8>(row + g * kCsrCenters), VD);
  }
  std::memcpy(out, acc, sizeof(acc));
}

template <class T>
void csr_dots(const T* vals, const std::int32_t* idx, index_t nnz, const T* ct, index_t kp,
              double* out) {
  // At most 8 accumulators (64 centers) a pass over the nonzeros: more would spill.
  for (index_t j0 = 0; j0 < kp; j0 += 8 * kCsrCenters) {
    const index_t left = (kp - j0) / kCsrCenters;
    switch (left < 8 ? left : 8) {
#define FASTML_CSR_DOTS_CASE(nv) \
  case nv: csr_dots_n<T, nv>(vals, idx, nnz, ct + j0, kp, out + j0); break;
      FASTML_CSR_DOTS_CASE(1)
      FASTML_CSR_DOTS_CASE(2)
      FASTML_CSR_DOTS_CASE(3)
      FASTML_CSR_DOTS_CASE(4)
      FASTML_CSR_DOTS_CASE(5)
      FASTML_CSR_DOTS_CASE(6)
      FASTML_CSR_DOTS_CASE(7)
      FASTML_CSR_DOTS_CASE(8)
#undef FASTML_CSR_DOTS_CASE
    }
  }
}

// Row i of the rows given: its values, columns and count of nonzeros.
template <class T> struct CsrRow {
  const T* vals;
  const std::int32_t* idx;
  index_t nnz;
  CsrRow(const Csr<T>& rows, index_t i)
      : vals(rows.data + rows.indptr[i]), idx(rows.indices + rows.indptr[i]),
        nnz(static_cast<index_t>(rows.indptr[i + 1]) - rows.indptr[i]) {}
  double sq_norm() const {
    double s = 0.0;
    for (index_t v = 0; v < nnz; ++v) s += static_cast<double>(vals[v]) * vals[v];
    return s;
  }
};

// |x - c|^2 from |x|^2, x.c and |c|^2, clipped at 0 (rounding can take it below).
inline double sq_from_dot(double xnorm, double dot, double cnorm) {
  const double s = xnorm - 2.0 * dot + cnorm;
  return s > 0.0 ? s : 0.0;
}

template <class T>
index_t csr_assign(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp,
                   label_t* labels, double* scratch) {
  index_t changed = 0;
  for (index_t i = 0; i < rows.n; ++i) {
    const CsrRow<T> x(rows, i);
    csr_dots(x.vals, x.idx, x.nnz, ct, kp, scratch);
    double best = HUGE_VAL;
    label_t label = 0;
    for (index_t j = 0; j < kp; ++j) {
      const double key = cnorms[j] - 2.0 * scratch[j];
      if (key < best) {
        best = key;
        label = static_cast<label_t>(j);
      }
    }
    changed += labels[i] != label;
    labels[i] = label;
  }
  return changed;
}

template <class T>
void csr_distances(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp, index_t k,
                   T* out, double* scratch) {
  for (index_t i = 0; i < rows.n; ++i) {
    const CsrRow<T> x(rows, i);
    csr_dots(x.vals, x.idx, x.nnz, ct, kp, scratch);
    const double xnorm = x.sq_norm();
    for (index_t j = 0; j < k; ++j)
      out[i * k + j] = static_cast<T>(std::sqrt(sq_from_dot(xnorm, scratch[j], cnorms[j])));
  }
}

template <class T>
double csr_seed_step(const Csr<T>& rows, T* D, const T* ct, const double* cnorms, index_t kp,
                     int n_cand, bool winner, double* pots, double* scratch) {
  const int W = winner ? 1 : 0;
  double pot = 0.0;
  for (index_t i = 0; i < rows.n; ++i) {
    const CsrRow<T> x(rows, i);
    csr_dots(x.vals, x.idx, x.nnz, ct, kp, scratch);
    const double xnorm = x.sq_norm();
    T di = D[i];
    if (winner) {
      const T dist = static_cast<T>(sq_from_dot(xnorm, scratch[0], cnorms[0]));
      di = dist < di ? dist : di;
      D[i] = di;
    }
    // w * D in T, as sample_in_block weighs the points.
    const T wi = rows.w[i];
    pot += static_cast<double>(wi * di);
    for (int t = 0; t < n_cand; ++t) {
      const T dist = static_cast<T>(sq_from_dot(xnorm, scratch[W + t], cnorms[W + t]));
      pots[t] += static_cast<double>(wi * (dist < di ? dist : di));
    }
  }
  return pot;
}

template <class T>
index_t csr_elkan_assign(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp,
                         index_t k, const T* half, const T* next, label_t* labels, T* upper,
                         T* lower, bool init, double* scratch) {
  index_t changed = 0;
  for (index_t i = 0; i < rows.n; ++i) {
    const CsrRow<T> x(rows, i);
    const label_t old = labels[i];
    T ub = upper[i];
    double xnorm = -1.0;  // the products and |x|^2 once a distance is needed
    auto dist = [&](index_t j) {
      if (xnorm < 0.0) {
        csr_dots(x.vals, x.idx, x.nnz, ct, kp, scratch);
        xnorm = x.sq_norm();
      }
      return static_cast<T>(std::sqrt(sq_from_dot(xnorm, scratch[j], cnorms[j])));
    };
    const label_t label = elkan_point(k, half, next, old, ub, lower + i * k, init, dist);
    labels[i] = label;
    upper[i] = ub;
    changed += label != old;
  }
  return changed;
}

template <class T>
Kernels<T> kernels() {
  return Kernels<T>{&seed_distances<T>,   &seed_apply<T>,        &seed_step<T>,
                    &assign<T>,           &accumulate<T>,        &distances_to_own<T>,
                    &inertia<T>,          &elkan_assign<T>,      &csr_assign<T>,
                    &csr_distances<T>,    &csr_seed_step<T>,     &csr_elkan_assign<T>};
}

}  // namespace

KmeansTable kernel_table() { return KmeansTable{kernels<float>(), kernels<double>()}; }

}  // namespace fastml::kmeans::FASTML_ISA
