// Convolution drivers (see fastml/conv.hpp): padded copies of the images, OpenMP loops over
// images, and the weight gradient summed per fixed block of images and merged in block order, so
// that nothing depends on the thread count.
#include "fastml/conv.hpp"

#include <algorithm>
#include <memory>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/nn_ops.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::conv {
namespace {

const IsaChoice<ConvTable>& selected() {
  static const IsaChoice<ConvTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T> const Kernels<T>& kernels() { return kernels_for<T>(selected().table); }

// The weight gradient is summed over this many contiguous blocks of images, each into its own
// partial sum; a fixed count keeps the order of the sums independent of the thread count.
constexpr index_t kImageBlocks = 16;
// Output positions per block of the gradient's transposition.
constexpr index_t kTransposeBlock = 16;

template <class T>
Geometry geometry(const Problem& p) {
  const Kernels<T>& k = kernels<T>();
  Geometry g{};
  g.C = p.C;
  g.F = p.F;
  g.KH = p.KH;
  g.KW = p.KW;
  g.Ho = p.Ho();
  g.Wo = p.Wo();
  g.n_vec = (g.Wo + k.lanes - 1) / k.lanes;
  g.Hp = g.Ho + p.KH - 1;
  g.Ws = g.n_vec * k.lanes + p.KW - 1;
  g.F_padded = (p.F + k.lanes - 1) / k.lanes * k.lanes;
  return g;
}

// OUT padded (C, Hp, Ws): image x (C, H, W) moved pad_h rows down and pad_w columns right, zero
// elsewhere (a negative pad drops the rows or columns moved out).
template <class T>
void pad_image(const Problem& p, const Geometry& g, const T* x, T* padded) {
  for (index_t c = 0; c < p.C; ++c) {
    for (index_t i = 0; i < g.Hp; ++i) {
      T* row = padded + (c * g.Hp + i) * g.Ws;
      const index_t src_row = i - p.pad_h;
      if (src_row < 0 || src_row >= p.H) {
        std::fill(row, row + g.Ws, T(0));
        continue;
      }
      const T* src = x + (c * p.H + src_row) * p.W;
      const index_t begin = std::max<index_t>(0, p.pad_w);
      const index_t end = std::min<index_t>(g.Ws, p.W + p.pad_w);
      std::fill(row, row + begin, T(0));
      std::copy(src + (begin - p.pad_w), src + (end - p.pad_w), row + begin);
      std::fill(row + end, row + g.Ws, T(0));
    }
  }
}

// OUT packed: w (F, C, KH, KW) in blocks of `block` filters laid out [c][kh][kw][filter], zero
// for the filters past F.
template <class T>
std::vector<T> pack_filters(const Problem& p, const T* w, index_t block) {
  const index_t inner = p.C * p.KH * p.KW;
  const index_t n_blocks = (p.F + block - 1) / block;
  std::vector<T> packed(n_blocks * block * inner, T(0));
  for (index_t f = 0; f < p.F; ++f)
    for (index_t i = 0; i < inner; ++i)
      packed[((f / block) * inner + i) * block + f % block] = w[f * inner + i];
  return packed;
}

}  // namespace

const char* simd_target() { return selected().name; }

template <class T>
void forward(const Problem& p, const T* x, const T* w, const T* bias, T* out, int n_threads) {
  const Kernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(p);
  const std::vector<T> packed = pack_filters(p, w, k.filter_block);
  const index_t in_size = p.C * p.H * p.W, out_size = p.F * g.Ho * g.Wo;
  const index_t padded_size = p.C * g.Hp * g.Ws;
  const int threads = static_cast<int>(std::min<index_t>(n_threads, p.N));
  // Work arrays are allocated before the threads start: an allocation failing inside an
  // OpenMP region would end the process instead of raising MemoryError.
  const std::unique_ptr<T[]> padded_all(new T[threads * padded_size]);  // pad_image fills it
#pragma omp parallel num_threads(threads)
  {
    T* padded = padded_all.get() + omp_get_thread_num() * padded_size;
#pragma omp for schedule(dynamic)
    for (index_t n = 0; n < p.N; ++n) {
      pad_image(p, g, x + n * in_size, padded);
      k.forward_image(padded, packed.data(), bias, g, out + n * out_size);
    }
  }
}

template <class T>
void weight_grad(const Problem& p, const T* grad_out, const T* x, T* grad_w, T* grad_b,
                 int n_threads) {
  const Kernels<T>& k = kernels<T>();
  const Geometry g = geometry<T>(p);
  const index_t in_size = p.C * p.H * p.W, positions = g.Ho * g.Wo;
  const index_t n_taps = p.C * p.KH * p.KW;
  const index_t sums_size = n_taps * g.F_padded;
  const index_t n_blocks = std::min(p.N, kImageBlocks);
  const index_t padded_size = p.C * g.Hp * g.Ws, grad_t_size = positions * g.F_padded;
  std::vector<T> partial_w(n_blocks * sums_size, T(0));
  std::vector<double> partial_b(n_blocks * p.F, 0.0);
  const int threads = static_cast<int>(std::min<index_t>(n_threads, n_blocks));
  const std::unique_ptr<T[]> padded_all(new T[threads * padded_size]);  // as in forward()
  std::vector<T> grad_t_all(threads * grad_t_size, T(0));  // the columns past F stay 0
#pragma omp parallel num_threads(threads)
  {
    T* padded = padded_all.get() + omp_get_thread_num() * padded_size;
    T* grad_t = grad_t_all.data() + omp_get_thread_num() * grad_t_size;
#pragma omp for schedule(dynamic)
    for (index_t b = 0; b < n_blocks; ++b) {
      double* bias_sums = partial_b.data() + b * p.F;
      for (index_t n = b * p.N / n_blocks; n < (b + 1) * p.N / n_blocks; ++n) {
        pad_image(p, g, x + n * in_size, padded);
        const T* src = grad_out + n * p.F * positions;
        for (index_t f = 0; f < p.F; ++f) bias_sums[f] += nn::sum(src + f * positions, positions);
        // grad_t[position][f] = grad_out[n][f][position], a block of positions at a time so
        // that the block's rows of grad_t stay in the L1 cache.
        for (index_t q0 = 0; q0 < positions; q0 += kTransposeBlock) {
          const index_t q1 = std::min(positions, q0 + kTransposeBlock);
          for (index_t f = 0; f < p.F; ++f)
            for (index_t q = q0; q < q1; ++q) grad_t[q * g.F_padded + f] = src[f * positions + q];
        }
        k.weight_grad_image(padded, grad_t, g, partial_w.data() + b * sums_size);
      }
    }
  }
  // grad_w[f][tap] = sum over blocks, in order, of partial_w[block][tap][f]
  std::fill(grad_w, grad_w + p.F * n_taps, T(0));
  for (index_t b = 0; b < n_blocks; ++b)
    for (index_t f = 0; f < p.F; ++f)
      for (index_t tap = 0; tap < n_taps; ++tap)
        grad_w[f * n_taps + tap] += partial_w[(b * n_taps + tap) * g.F_padded + f];
  for (index_t f = 0; f < p.F; ++f) {
    double total = 0.0;
    for (index_t b = 0; b < n_blocks; ++b) total += partial_b[b * p.F + f];
    grad_b[f] = static_cast<T>(total);
  }
}

template void forward<float>(const Problem&, const float*, const float*, const float*, float*,
                             int);
template void forward<double>(const Problem&, const double*, const double*, const double*,
                              double*, int);
template void weight_grad<float>(const Problem&, const float*, const float*, float*, float*, int);
template void weight_grad<double>(const Problem&, const double*, const double*, double*, double*,
                                  int);

}  // namespace fastml::conv
