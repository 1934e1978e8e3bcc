// Direct 2-D convolution, stride 1, on the CPU (bound in csrc/bindings/conv_module.cpp).
//
// BLAS products at the shapes of small convolutions (a few dozen channels) run well below the
// machine's rate: each product's inner dimension is only the channel count. These kernels keep a
// tile of output vectors for a block of filters in registers and stream the zero-padded image
// through them, one channel and kernel offset at a time.
//
// Two layers, as for k-means: kernels (conv_kernels_isa.cpp, built once per instruction set, no
// allocation, no threads) work on one image; drivers (conv.cpp) own the padded copies, the
// OpenMP loops and the fixed-order merge of the weight gradient, so results do not depend on the
// thread count.
#pragma once

#include <cstddef>

namespace fastml::conv {

using index_t = std::ptrdiff_t;

// A convolution of N images (C, H, W) with F filters (C, KH, KW), zero padding pad_h rows above
// and below and pad_w columns left and right (negative pads crop), stride 1: outputs
// (F, Ho, Wo) with Ho = H + 2 pad_h - KH + 1 and Wo = W + 2 pad_w - KW + 1, both >= 1.
struct Problem {
  index_t N, C, H, W, F, KH, KW, pad_h, pad_w;
  index_t Ho() const { return H + 2 * pad_h - KH + 1; }
  index_t Wo() const { return W + 2 * pad_w - KW + 1; }
};

// ---- drivers (the public entry points) ---------------------------------------------------------

// OUT out (N, F, Ho, Wo) = the cross-correlation of x (N, C, H, W) with w (F, C, KH, KW), plus
// bias (F,) where bias is not null.
template <class T>
void forward(const Problem& p, const T* x, const T* w, const T* bias, T* out, int n_threads);

// OUT grad_w (F, C, KH, KW) and grad_b (F,): the gradients of the forward pass's filters and bias
// for grad_out (N, F, Ho, Wo), summed over fixed blocks of images merged in order.
template <class T>
void weight_grad(const Problem& p, const T* grad_out, const T* x, T* grad_w, T* grad_b,
                 int n_threads);

// The instruction-set build of the kernels chosen for this CPU.
const char* simd_target();

// ---- kernels (one build per instruction set) ---------------------------------------------------

// One image's geometry as the kernels see it. A padded image holds C planes of Hp rows of Ws
// values: its rows cover every input an output row reads, and Ws leaves room for whole vectors
// past the last output column.
struct Geometry {
  index_t C, F, KH, KW, Ho, Wo;
  index_t n_vec;     // vectors per output row: ceil(Wo / lanes)
  index_t Hp, Ws;    // Ho + KH - 1 and n_vec * lanes + KW - 1
  index_t F_padded;  // F rounded up to whole vectors
};

template <class T>
struct Kernels {
  int lanes;         // values per vector
  int filter_block;  // filters per block of the packed filters
  // OUT out (F, Ho, Wo): one padded image correlated with the packed filters, plus bias (F,)
  // where not null. packed: blocks of filter_block filters, each laid out
  // [c][kh][kw][filter], zero for the filters past F.
  void (*forward_image)(const T* padded, const T* packed, const T* bias, const Geometry& g,
                        T* out);
  // IN/OUT sums (C * KH * KW, F_padded) += for each filter f and kernel tap (c, kh, kw), the
  // sum over output positions of grad_t[position][f] * padded[c][row + kh][column + kw].
  // grad_t: one image's output gradient (Ho * Wo, F_padded), zero past F.
  void (*weight_grad_image)(const T* padded, const T* grad_t, const Geometry& g, T* sums);
};

struct ConvTable {
  Kernels<float> f32;
  Kernels<double> f64;
};

namespace baseline { ConvTable kernel_table(); }
namespace x86_64_v3 { ConvTable kernel_table(); }
namespace x86_64_v4 { ConvTable kernel_table(); }

}  // namespace fastml::conv
