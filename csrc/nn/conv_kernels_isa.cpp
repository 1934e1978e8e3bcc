// Convolution kernels, compiled once per instruction set (CMake defines FASTML_ISA and the
// -march). As in the k-means kernels, everything but kernel_table() has internal linkage and the
// standard library's inline templates are avoided, so no function built for a wider instruction
// set can be linked into another build. Drivers, memory and threads live in conv.cpp.
#include <cstring>

#include "fastml/conv.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::conv::FASTML_ISA {
namespace {

// Register tiles. AVX-512 has 32 vector registers: accumulators for 8 filters x 3 output
// vectors in the forward kernel, and for 4 vectors of filters x 6 kernel taps in the weight
// gradient kernel. Narrower builds have 16: 4 x 3 and 2 x 5.
#if defined(__AVX512F__)
constexpr int kVectorBytes = 64;
constexpr int kFilterBlock = 8, kPixelBlock = 3, kGradVectors = 4, kTapBlock = 6;
#elif defined(__AVX2__)
constexpr int kVectorBytes = 32;
constexpr int kFilterBlock = 4, kPixelBlock = 3, kGradVectors = 2, kTapBlock = 5;
#else
constexpr int kVectorBytes = 16;
constexpr int kFilterBlock = 4, kPixelBlock = 3, kGradVectors = 2, kTapBlock = 5;
#endif

template <class T> struct Vec;
template <> struct Vec<float> { typedef float V __attribute__((vector_size(kVectorBytes))); };
template <> struct Vec<double> { typedef double V __attribute__((vector_size(kVectorBytes))); };

template <class T> constexpr int kLanes = kVectorBytes / sizeof(T);

template <class T> inline typename Vec<T>::V load(const T* p) {
  typename Vec<T>::V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

// ---- forward ------------------------------------------------------------------------------------

// Output vectors q0 .. q0 + PB - 1 of the image (row-major over Ho rows of n_vec vectors) for the
// FB filters from f0 (packed block `w`): each vector's accumulators stay in registers over every
// channel and kernel offset, then the last vector of a row is cut to Wo.
template <class T, int FB, int PB>
inline void forward_tile(const T* padded, const T* w, const T* bias, const Geometry& g,
                         index_t f0, index_t q0, T* out) {
  typedef typename Vec<T>::V V;
  constexpr int L = kLanes<T>;
  index_t in_at[PB], out_at[PB];
  int width[PB];
  for (int j = 0; j < PB; ++j) {
    const index_t row = (q0 + j) / g.n_vec, column = (q0 + j) % g.n_vec * L;
    in_at[j] = row * g.Ws + column;
    out_at[j] = row * g.Wo + column;
    width[j] = static_cast<int>(g.Wo - column < L ? g.Wo - column : L);
  }
  V acc[FB][PB];
  for (int f = 0; f < FB; ++f)
    for (int j = 0; j < PB; ++j) acc[f][j] = V{};
  const index_t plane = g.Hp * g.Ws;
  for (index_t c = 0; c < g.C; ++c) {
    const T* in = padded + c * plane;
    for (index_t kh = 0; kh < g.KH; ++kh, in += g.Ws) {
      for (index_t kw = 0; kw < g.KW; ++kw, w += FB) {
        V x[PB];
        for (int j = 0; j < PB; ++j) x[j] = load(in + in_at[j] + kw);
        for (int f = 0; f < FB; ++f) {
          const V wf = V{} + w[f];
          for (int j = 0; j < PB; ++j) acc[f][j] += wf * x[j];
        }
      }
    }
  }
  const index_t out_plane = g.Ho * g.Wo;
  for (int f = 0; f < FB && f0 + f < g.F; ++f) {
    const T shift = bias ? bias[f0 + f] : T(0);
    T* o = out + (f0 + f) * out_plane;
    for (int j = 0; j < PB; ++j) {
      const V v = acc[f][j] + shift;
      if (width[j] == L) {
        std::memcpy(o + out_at[j], &v, sizeof v);
      } else {
        for (int l = 0; l < width[j]; ++l) o[out_at[j] + l] = v[l];
      }
    }
  }
}

template <class T>
void forward_image(const T* padded, const T* packed, const T* bias, const Geometry& g, T* out) {
  const index_t n_vectors = g.Ho * g.n_vec;
  const index_t block_size = g.C * g.KH * g.KW * kFilterBlock;
  for (index_t f0 = 0; f0 < g.F; f0 += kFilterBlock, packed += block_size) {
    index_t q = 0;
    for (; q + kPixelBlock <= n_vectors; q += kPixelBlock)
      forward_tile<T, kFilterBlock, kPixelBlock>(padded, packed, bias, g, f0, q, out);
    for (; q < n_vectors; ++q)
      forward_tile<T, kFilterBlock, 1>(padded, packed, bias, g, f0, q, out);
  }
}

// ---- weight gradient ----------------------------------------------------------------------------

// sums[tap][f0 + filter] += the products along output row oy for FV vectors of filters from f0
// and the TB taps (c, kh, kw) from tap0 (flat over c, kh, kw): the filters are the vector lanes,
// so an output row is summed in registers without adding across lanes, while the row's
// gradients and input rows stay in the L1 cache for every tile of the row.
template <class T, int FV, int TB>
inline void weight_grad_tile(const T* padded, const T* grad_t, const Geometry& g, index_t oy,
                             index_t f0, index_t tap0, T* sums) {
  typedef typename Vec<T>::V V;
  constexpr int L = kLanes<T>;
  const index_t taps = g.KH * g.KW, plane = g.Hp * g.Ws;
  const T* in[TB];
  for (int t = 0; t < TB; ++t) {
    const index_t c = (tap0 + t) / taps, tap = (tap0 + t) % taps;
    in[t] = padded + c * plane + (oy + tap / g.KW) * g.Ws + tap % g.KW;
  }
  T* dst = sums + tap0 * g.F_padded + f0;
  V acc[TB][FV];
  for (int t = 0; t < TB; ++t)
    for (int v = 0; v < FV; ++v) acc[t][v] = load(dst + t * g.F_padded + v * L);
  const T* grad = grad_t + oy * g.Wo * g.F_padded + f0;
  for (index_t ox = 0; ox < g.Wo; ++ox, grad += g.F_padded) {
    V gv[FV];
    for (int v = 0; v < FV; ++v) gv[v] = load(grad + v * L);
    for (int t = 0; t < TB; ++t) {
      const V x = V{} + in[t][ox];
      for (int v = 0; v < FV; ++v) acc[t][v] += x * gv[v];
    }
  }
  for (int t = 0; t < TB; ++t)
    for (int v = 0; v < FV; ++v) std::memcpy(dst + t * g.F_padded + v * L, &acc[t][v], sizeof(V));
}

// The tile for the first min(left, TB) taps from tap0.
template <class T, int FV, int TB>
inline void weight_grad_taps(const T* padded, const T* grad_t, const Geometry& g, index_t oy,
                             index_t f0, index_t tap0, index_t left, T* sums) {
  if constexpr (TB > 1) {
    if (left < TB) {
      weight_grad_taps<T, FV, TB - 1>(padded, grad_t, g, oy, f0, tap0, left, sums);
      return;
    }
  }
  weight_grad_tile<T, FV, TB>(padded, grad_t, g, oy, f0, tap0, sums);
}

// Every tap for the first min(left, FV) vectors of filters from f0.
template <class T, int FV>
inline void weight_grad_filters(const T* padded, const T* grad_t, const Geometry& g, index_t oy,
                                index_t f0, index_t left, T* sums) {
  if constexpr (FV > 1) {
    if (left < FV) {
      weight_grad_filters<T, FV - 1>(padded, grad_t, g, oy, f0, left, sums);
      return;
    }
  }
  const index_t n_taps = g.C * g.KH * g.KW;
  for (index_t tap0 = 0; tap0 < n_taps; tap0 += kTapBlock)
    weight_grad_taps<T, FV, kTapBlock>(padded, grad_t, g, oy, f0, tap0, n_taps - tap0, sums);
}

template <class T>
void weight_grad_image(const T* padded, const T* grad_t, const Geometry& g, T* sums) {
  constexpr int L = kLanes<T>;
  for (index_t oy = 0; oy < g.Ho; ++oy)
    for (index_t f0 = 0; f0 < g.F_padded; f0 += kGradVectors * L)
      weight_grad_filters<T, kGradVectors>(padded, grad_t, g, oy, f0, (g.F_padded - f0) / L,
                                           sums);
}

template <class T>
Kernels<T> kernels() {
  return Kernels<T>{kLanes<T>, kFilterBlock, &forward_image<T>, &weight_grad_image<T>};
}

}  // namespace

ConvTable kernel_table() { return ConvTable{kernels<float>(), kernels<double>()}; }

}  // namespace fastml::conv::FASTML_ISA
