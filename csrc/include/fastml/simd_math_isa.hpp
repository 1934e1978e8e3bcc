// exp and log1p on GCC vectors of doubles, for the *_kernels_isa.cpp files only: each
// instruction-set build includes this header and gets its own copy in
// fastml::simd::FASTML_ISA's anonymous namespace (internal linkage), so that no function built
// for a wider instruction set can be linked into another build.
//
// They vectorise where libm's calls do not (naive Bayes' predict_proba: two libm calls per value
// took 24 ms of a 100k x 20 predict on one thread, NumPy's vectorised exp about 2 ms; the
// logistic loss: exp and log1p per row took a third of a pass over X).
#pragma once

#include <cmath>
#include <cstdint>

#ifndef FASTML_ISA
#error "simd_math_isa.hpp is for the instruction-set builds (FASTML_ISA)"
#endif

namespace fastml::simd::FASTML_ISA {
namespace {

template <int W> struct Vec {
  typedef double V __attribute__((vector_size(W * 8)));
  typedef std::int64_t I __attribute__((vector_size(W * 8)));
};

constexpr double kShift = 6755399441055744.0;  // 1.5 * 2^52: adding it rounds to an integer

// x in every lane, as x - 0: exactly x for every x (-0.0 and NaN included), so the compiler
// reads x straight into a broadcast. V{} + x costs a scalar add before the broadcast (0.0 + x is
// not x when x is -0.0): in the multinomial loss's inner loop that ran for every row and
// feature; a lane-by-lane fill compiles to masked inserts.
template <class V> inline V splat_v(double x) { return x - V{}; }
template <class V> inline V round_int(V x) { return (x + kShift) - kShift; }

// 2^n for integers n in [-1022, 1023] held in doubles: n + kShift holds n in its low bits.
template <int W> inline typename Vec<W>::V pow2(typename Vec<W>::V n) {
  typedef typename Vec<W>::V V;
  typedef typename Vec<W>::I I;
  const I bits = reinterpret_cast<I>(n + kShift) - reinterpret_cast<I>(splat_v<V>(kShift));
  return reinterpret_cast<V>((bits + 1023) << 52);
}

// exp(x) of x <= 0 lane by lane in arithmetic and bit operations.
// x = n ln2 + r with |r| <= ln2 / 2 (ln2 split so that n * kLn2Hi is exact), exp(r) by its
// Taylor series to r^13 / 13! (truncation under 5e-18), times 2^n: within 2.2e-16 relative of
// libm's on [-200, 0] (measured). Results are kept normal: below -745.2 (and for -inf) they are
// 0, and the rare lanes in [-745.2, -708], whose results are subnormal, are left to libm, as a
// product with a subnormal result can cost a microcode assist.
template <int W> inline typename Vec<W>::V exp_vec(typename Vec<W>::V x) {
  typedef typename Vec<W>::V V;
  typedef typename Vec<W>::I I;
  constexpr double kLog2e = 1.4426950408889634;
  constexpr double kLn2Hi = 6.93147180369123816490e-01;
  constexpr double kLn2Lo = 1.90821492927058770002e-10;
  constexpr double kZeroBelow = -745.2, kNormalFrom = -708.0;
  const I zero = x < splat_v<V>(kZeroBelow);
  const I subnormal = (x < splat_v<V>(kNormalFrom)) & ~zero;
  const V xc = x < splat_v<V>(kNormalFrom) ? splat_v<V>(kNormalFrom) : x;
  const V n = round_int(xc * kLog2e);
  const V r = (xc - n * kLn2Hi) - n * kLn2Lo;
  V p = splat_v<V>(1.0 / 6227020800.0);  // 1 / 13!
  p = p * r + 1.0 / 479001600.0;
  p = p * r + 1.0 / 39916800.0;
  p = p * r + 1.0 / 3628800.0;
  p = p * r + 1.0 / 362880.0;
  p = p * r + 1.0 / 40320.0;
  p = p * r + 1.0 / 5040.0;
  p = p * r + 1.0 / 720.0;
  p = p * r + 1.0 / 120.0;
  p = p * r + 1.0 / 24.0;
  p = p * r + 1.0 / 6.0;
  p = p * r + 0.5;
  p = p * r + 1.0;
  p = p * r + 1.0;
  V e = p * pow2<W>(n);
  e = zero ? V{} : e;
  std::int64_t any = 0;
  for (int l = 0; l < W; ++l) any |= subnormal[l];
  if (any)
    for (int l = 0; l < W; ++l)
      if (subnormal[l]) e[l] = std::exp(x[l]);
  return e;
}

// log1p(e) of e in [0, 1] (what the binomial loss takes, e = exp(-|z|)): 2 atanh(s) with
// s = e / (2 + e) in [0, 1/3], by its series 2 (s + s^3/3 + ... + s^37/37), whose terms are all
// positive (no cancellation: relative accuracy down to the smallest e) and whose truncation
// is under (1/9)^19 / 39 < 3e-20 relative.
template <int W> inline typename Vec<W>::V log1p_unit_vec(typename Vec<W>::V e) {
  typedef typename Vec<W>::V V;
  const V s = e / (e + 2.0);
  const V s2 = s * s;
  V p = splat_v<V>(1.0 / 37.0);
#pragma GCC unroll 18
  for (int t = 35; t >= 1; t -= 2) p = p * s2 + 1.0 / t;
  return 2.0 * s * p;
}

}  // namespace
}  // namespace fastml::simd::FASTML_ISA
