// The dense Gram kernel, compiled once per instruction set (CMake defines FASTML_ISA and the
// -march). As in the other *_isa.cpp files, everything but kernel_table() has internal linkage and
// no standard-library template is instantiated, so no function built for a wider instruction set
// can be linked into another build. Drivers, memory and threads live in gram.cpp.
//
// A block of rows is packed twice, as float64: centered (the "A" panels, MR columns of X each)
// and centered times the row weight (the "B" panels, NR columns of [X | Y] each), each panel
// row-interleaved so that the micro-kernel reads both with unit stride. The micro-kernel keeps an
// MR x NR tile of sums in registers over the block's rows (MR / W vector loads and NR broadcasts
// per row), then adds the tile to P. Only tiles reaching the lower triangle of G or the targets
// are computed (about half of the d x d work).
#include <cstring>

#include "fastml/gram.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::linalg::FASTML_ISA {
namespace {

// Tile shapes per register file: MV vectors of W doubles by NR columns of accumulators, plus
// MV loads and a broadcast, within the 32 (AVX-512) or 16 (AVX2, SSE2) vector registers.
#if defined(__AVX512F__)
constexpr int W = 8, MV = 2, NR = 8;  // 16 x 8: 16 accumulators
#elif defined(__AVX__)
constexpr int W = 4, MV = 2, NR = 6;  // 8 x 6: 12 accumulators
#else
constexpr int W = 2, MV = 2, NR = 4;  // 4 x 4: 8 accumulators
#endif
constexpr int MR = MV * W;

typedef double V __attribute__((vector_size(W * 8)));

inline V load(const double* p) {
  V v;
  std::memcpy(&v, p, sizeof(V));
  return v;
}
inline void store(double* p, V v) { std::memcpy(p, &v, sizeof(V)); }
// x in every lane, read straight into a broadcast (V{} + x costs a scalar add first: 0.0 + x
// is not x when x is -0.0).
inline V splat(double x) {
  V v;
  for (int l = 0; l < W; ++l) v[l] = x;
  return v;
}
inline index_t imin(index_t a, index_t b) { return a < b ? a : b; }
inline index_t panels(index_t cols, index_t width) { return (cols + width - 1) / width; }
inline index_t iabs(index_t a) { return a < 0 ? -a : a; }

// Packs rows [i0, i0 + rows) of M, centered (and times the row weight when w is given), into
// the panels of WIDTH columns of P, where M's columns are the columns [col0, col0 + M.d) of the
// packed matrix: P[q][i][c] holds column q WIDTH + c of row i. M is read along its unit stride:
// whole rows of C-ordered X one after the other (one stream the hardware prefetcher follows; a
// panel at a time, reading 128-byte pieces of every row, stalled on memory: 23% of the kernel's
// time on one load), whole columns of F-ordered X.
template <int WIDTH, class T>
void pack_panels(const Strided<T>& M, const double* mean, const double* w, index_t i0,
                 index_t rows, index_t col0, double* P) {
  const index_t end = col0 + M.d;
  auto dest = [&](index_t jj) { return P + (jj / WIDTH) * rows * WIDTH + jj % WIDTH; };
  if (iabs(M.cs) <= iabs(M.rs)) {
    for (index_t i = 0; i < rows; ++i) {
      const double wi = w ? w[i0 + i] : 1.0;
      const T* xi = M.x + (i0 + i) * M.rs;
      for (index_t jj = col0; jj < end;) {
        // One panel's share of the row: a run of contiguous destinations.
        const index_t stop = (jj / WIDTH + 1) * WIDTH < end ? (jj / WIDTH + 1) * WIDTH : end;
        double* out = dest(jj) + i * WIDTH - jj;
        for (; jj < stop; ++jj)
          out[jj] = (static_cast<double>(xi[(jj - col0) * M.cs]) - mean[jj - col0]) * wi;
      }
    }
  } else {
    for (index_t jj = col0; jj < end; ++jj) {
      const T* xj = M.x + (jj - col0) * M.cs + i0 * M.rs;
      const double m = mean[jj - col0];
      double* out = dest(jj);
      for (index_t i = 0; i < rows; ++i)
        out[i * WIDTH] = (static_cast<double>(xj[i * M.rs]) - m) * (w ? w[i0 + i] : 1.0);
    }
  }
}

// Zeroes the columns [cols, panels * WIDTH) of the last panel, so that full tiles can be computed.
template <int WIDTH>
void zero_padding(index_t cols, index_t rows, double* P) {
  const index_t q = cols / WIDTH, first = cols - q * WIDTH;
  if (first == 0) return;
  double* panel = P + q * rows * WIDTH;
  for (index_t i = 0; i < rows; ++i)
    for (index_t c = first; c < WIDTH; ++c) panel[i * WIDTH + c] = 0.0;
}

// A: X centered, in panels of MR columns; B: [X | Y] centered and weighted, panels of NR.
template <class T>
void pack(const GramProblem<T>& p, index_t i0, index_t rows, double* A, double* B) {
  const index_t d = p.X.d, t = p.Y.d;
  zero_padding<MR>(d, rows, A);
  zero_padding<NR>(d + t, rows, B);
  pack_panels<MR>(p.X, p.x_shift, nullptr, i0, rows, 0, A);
  pack_panels<NR>(p.X, p.x_shift, p.w, i0, rows, 0, B);
  if (t > 0) pack_panels<NR>(p.Y, p.y_shift, p.w, i0, rows, d, B);
}

// sums[c] += sum_i B[i][c] over the columns of [X | Y] (B holds w (z - s)), and sums[d + t] +=
// the block's weight, row after row.
template <class T>
void add_sums(const GramProblem<T>& p, const double* B, index_t i0, index_t rows, double* sums) {
  const index_t cols = p.X.d + p.Y.d;
  for (index_t q = 0; q * NR < cols; ++q) {
    double acc[NR] = {};
    const double* panel = B + q * rows * NR;
    for (index_t i = 0; i < rows; ++i)
      for (int c = 0; c < NR; ++c) acc[c] += panel[i * NR + c];
    for (index_t c = 0; c < NR && q * NR + c < cols; ++c) sums[q * NR + c] += acc[c];
  }
  double weight = 0.0;
  for (index_t i = 0; i < rows; ++i) weight += p.w ? p.w[i0 + i] : 1.0;
  sums[cols] += weight;
}

// P[k * d + j] += sum_i a[i][j - j0] b[i][k - k0] over the tile's valid j < d, k < kmax.
void tile(const double* a, const double* b, index_t rows, double* P, index_t d, index_t j0,
          index_t k0, index_t kmax) {
  V acc[NR][MV];
  for (int c = 0; c < NR; ++c)
    for (int v = 0; v < MV; ++v) acc[c][v] = V{};
  for (index_t i = 0; i < rows; ++i) {
    V av[MV];
    for (int v = 0; v < MV; ++v) av[v] = load(a + i * MR + v * W);
    const double* bi = b + i * NR;
    for (int c = 0; c < NR; ++c) {
      const V bc = splat(bi[c]);
      for (int v = 0; v < MV; ++v) acc[c][v] += av[v] * bc;
    }
  }
  const index_t kn = imin(NR, kmax - k0);
  const bool full_rows = j0 + MR <= d;
  for (index_t c = 0; c < kn; ++c) {
    double* out = P + (k0 + c) * d + j0;
    if (full_rows) {
      for (int v = 0; v < MV; ++v) store(out + v * W, load(out + v * W) + acc[c][v]);
    } else {
      for (index_t r = 0; r < d - j0; ++r) out[r] += acc[c][r / W][r % W];
    }
  }
}

template <class T>
void gram_rows(const GramProblem<T>& p, index_t begin, index_t end, double* P, double* scratch) {
  const index_t d = p.X.d, t = p.Y.d;
  const index_t nP = panels(d, MR), nQ = panels(d + t, NR);
  for (index_t i0 = begin; i0 < end; i0 += p.block_rows) {
    const index_t rows = imin(p.block_rows, end - i0);
    double* A = scratch;
    double* B = scratch + nP * MR * rows;
    pack(p, i0, rows, A, B);
    add_sums(p, B, i0, rows, P + (d + t) * d);
    // B panel (rows x NR, ~16 KiB) outer so that it stays in L1 while the A panels stream from L2.
    for (index_t q = 0; q < nQ; ++q) {
      const index_t k0 = q * NR;
      // Tiles with j0 > every k of the panel lie above G's diagonal: skipped (unless the panel
      // holds target columns, which pair with every j).
      const index_t p_end = k0 + NR <= d ? imin(nP, (k0 + NR - 1) / MR + 1) : nP;
      for (index_t pp = 0; pp < p_end; ++pp)
        tile(A + pp * MR * rows, B + q * NR * rows, rows, P, d, pp * MR, k0, d + t);
    }
  }
}

index_t scratch_doubles(index_t d, index_t t, index_t block_rows) {
  return block_rows * (panels(d, MR) * MR + panels(d + t, NR) * NR);
}

}  // namespace

GramTable kernel_table() { return GramTable{&gram_rows<float>, &gram_rows<double>, &scratch_doubles}; }

}  // namespace fastml::linalg::FASTML_ISA
