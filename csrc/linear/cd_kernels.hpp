// Small kernels shared by the coordinate-descent solvers of csrc/linear (cd.cpp, cd_multitask.cpp).
#pragma once
#include <cstdint>

#include "cd.hpp"

namespace fastml::linear::kernels {

// The eight lanes of a sum and its tail, added in one fixed order.
inline double lanes_sum(const double (&a)[8], double tail) {
  return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])) + tail;
}

// x'y accumulated in double over eight lanes, summed in a fixed order: the lanes let the loop
// vectorise (a single running sum cannot be reordered without -ffast-math) and keep float32
// inputs from losing digits over 50k rows.
template <class T>
double dot(const T* x, const T* y, index_t n) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int k = 0; k < 8; ++k)
      acc[k] += static_cast<double>(x[i + k]) * static_cast<double>(y[i + k]);
  double tail = 0.0;
  for (; i < n; ++i) tail += static_cast<double>(x[i]) * static_cast<double>(y[i]);
  return lanes_sum(acc, tail);
}

// y += a x
template <class T>
void axpy(T a, const T* x, T* y, index_t n) {
  for (index_t i = 0; i < n; ++i) y[i] += a * x[i];
}

// scikit-learn's our_rand_r (xorshift32 reduced to [0, 2^31)) and rand_int, so that random
// selection visits the features in scikit-learn's order.
inline std::uint32_t rand_int(std::uint32_t end, std::uint32_t& state) {
  if (state == 0) state = 1;
  state ^= state << 13;
  state ^= state >> 17;
  state ^= state << 5;
  return (state % (static_cast<std::uint32_t>(2147483647) + 1u)) % end;
}

// Roughly one streamed element per 0.25 ns: what a column dot product costs from memory.
constexpr double kStreamNs = 0.25;

}  // namespace fastml::linear::kernels
