// Elementwise kernels, sums, dropout and optimizer steps of fastml.nn (see fastml/nn_ops.hpp),
// compiled once per instruction set (CMake defines FASTML_ISA and the -march). As in
// kmeans_kernels_isa.cpp, everything but kernel_table() has internal linkage and the standard
// library's inline templates are avoided (no std::min, std::vector, std::sqrt(float)), so no
// function built for a wider instruction set can be linked into another build. The build is
// chosen in nn_elementwise.cpp.
#include <cstddef>
#include <type_traits>  // std::integral_constant: a type only, no code to link

#include "fastml/nn_ops.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::nn::FASTML_ISA {
namespace {

inline index_t min_index(index_t a, index_t b) { return a < b ? a : b; }
inline float square_root(float v) { return __builtin_sqrtf(v); }
inline double square_root(double v) { return __builtin_sqrt(v); }


// act(v) for a code known at compile time, so that each loop below is specialised (relu's and
// identity's vectorise). Identity and relu are exact in T; the others are computed in double
// and rounded once, as _scalar.activate evaluated on the value.
template <int Code, class T>
T act(T v) {
  if constexpr (Code == kIdentity) {
    return v;
  } else if constexpr (Code == kRelu) {
    return v > 0 ? v : v * T(0);
  } else {
    return static_cast<T>(activate(static_cast<double>(v), Code));
  }
}

// Calls body(std::integral_constant<int, code>) for a run-time activation code.
template <class Body>
void with_activation(int code, Body&& body) {
  switch (code) {
    case kRelu: return body(std::integral_constant<int, kRelu>{});
    case kTanh: return body(std::integral_constant<int, kTanh>{});
    case kLogistic: return body(std::integral_constant<int, kLogistic>{});
    default: return body(std::integral_constant<int, kIdentity>{});
  }
}

// The loops over one row or plane take their arrays as restrict parameters and their extents by
// value: written inline in the OpenMP regions, where every variable is reached through the
// region's shared context, GCC left relu's loop scalar (19 us for 200 x 64 floats, against 2 us).

// z[i] = act(z[i] + bias[i]) (bias per element), or act(z[i] + shift) when bias is null, or
// act(z[i]) when neither is wanted.
template <int Code, class T>
void activate_span(T* __restrict z, index_t n, const T* __restrict bias, bool add_shift,
                   T shift) {
  if (bias) {
    for (index_t i = 0; i < n; ++i) z[i] = act<Code>(T(z[i] + bias[i]));
  } else if (add_shift) {
    for (index_t i = 0; i < n; ++i) z[i] = act<Code>(T(z[i] + shift));
  } else {
    for (index_t i = 0; i < n; ++i) z[i] = act<Code>(z[i]);
  }
}

// grad[i] *= act'(z_i), y[i] holding act(z_i), or z_i itself when FromInput.
template <int Code, bool FromInput, class T>
void derivative_span(T* __restrict grad, const T* __restrict y, index_t n) {
  for (index_t i = 0; i < n; ++i) {
    // from the input, the output is not rounded to T first (as the reference)
    const double out = FromInput ? activate(static_cast<double>(y[i]), Code)
                                 : static_cast<double>(y[i]);
    grad[i] = static_cast<T>(grad[i] * derivative_from_output(out, Code));
  }
}

// Blocks of this many values split an elementwise pass between threads.
constexpr index_t kBlock = 4096;

template <class T>
void bias_activation(const Channels& shape, T* z, const T* bias, int code, int n_threads) {
  const int threads = threads_for(shape.size(), n_threads);
  const index_t C = shape.C, S = shape.S, n_rows = S == 1 ? shape.n : shape.n * C;
  const index_t row_size = S == 1 ? C : S;
  with_activation(code, [=](auto code_constant) {
    constexpr int Code = decltype(code_constant)::value;
    // Dense layers (S == 1): rows of C columns, the bias along them; else planes of S values,
    // one bias value each.
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (index_t r = 0; r < n_rows; ++r) {
      T* row = z + r * row_size;
      if (S == 1)
        activate_span<Code>(row, row_size, bias, false, T(0));
      else
        activate_span<Code>(row, row_size, static_cast<const T*>(nullptr), bias != nullptr,
                            bias ? bias[r % C] : T(0));
    }
  });
}

template <class T>
void activation_backward(index_t m, T* grad, const T* y, int code, bool from_input,
                         int n_threads) {
  if (code == kIdentity) return;
  const int threads = threads_for(m, n_threads);
  const index_t n_blocks = (m + kBlock - 1) / kBlock;
  with_activation(code, [=](auto code_constant) {
    constexpr int Code = decltype(code_constant)::value;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
    for (index_t b = 0; b < n_blocks; ++b) {
      const index_t lo = b * kBlock, n = min_index(m, lo + kBlock) - lo;
      if (from_input)
        derivative_span<Code, true>(grad + lo, y + lo, n);
      else
        derivative_span<Code, false>(grad + lo, y + lo, n);
    }
  });
}

template <class T>
void add_row(double* __restrict acc, const T* __restrict row, index_t n) {
  for (index_t i = 0; i < n; ++i) acc[i] += row[i];
}

template <class T>
void dropout_span(T* __restrict x, const bool* __restrict mask, index_t n, double scale) {
  for (index_t i = 0; i < n; ++i)
    x[i] = mask[i] ? static_cast<T>(x[i] * scale) : x[i] * T(0);  // x * 0 keeps NaN a NaN
}

template <class T>
void channel_sums(const Channels& shape, const T* g, T* out, int n_threads) {
  const index_t C = shape.C, S = shape.S;
  if (S == 1) {
    // Columns of an (n, C) matrix, row by row, a block of columns at a time: the additions into
    // acc vectorise over columns (no allocation: a std::vector could link another build's code).
    constexpr index_t kColumns = 512;
    double acc[kColumns];
    for (index_t c0 = 0; c0 < C; c0 += kColumns) {
      const index_t width = min_index(kColumns, C - c0);
      for (index_t c = 0; c < width; ++c) acc[c] = 0.0;
      for (index_t i = 0; i < shape.n; ++i) add_row(acc, g + i * C + c0, width);
      for (index_t c = 0; c < width; ++c) out[c0 + c] = static_cast<T>(acc[c]);
    }
    return;
  }
  const int threads = threads_for(shape.size(), n_threads);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t c = 0; c < C; ++c) {
    double total = 0.0;
    for (index_t i = 0; i < shape.n; ++i) total += sum(g + (i * C + c) * S, S);
    out[c] = static_cast<T>(total);
  }
}

template <class T>
void dropout(index_t m, T* x, const bool* mask, double scale, int n_threads) {
  const int threads = threads_for(m, n_threads);
  const index_t n_blocks = (m + kBlock - 1) / kBlock;
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1)
  for (index_t b = 0; b < n_blocks; ++b) {
    const index_t lo = b * kBlock;
    dropout_span(x + lo, mask + lo, min_index(m, lo + kBlock) - lo, scale);
  }
}

// ---- optimizer steps: each range [lo, hi) its own loop, so that the decay is a constant there ---

template <class T>
void sgd_range(T* params, const T* grads, T* velocity, index_t lo, index_t hi, T lr, T momentum,
               bool nesterov, T decay) {
  for (index_t i = lo; i < hi; ++i) {
    const T g = grads[i] + decay * params[i];
    const T v = momentum * velocity[i] - lr * g;
    velocity[i] = v;
    params[i] += nesterov ? momentum * v - lr * g : v;
  }
}

template <class T>
void adagrad_range(T* params, const T* grads, T* accum, index_t lo, index_t hi, T lr, T eps,
                   T decay) {
  for (index_t i = lo; i < hi; ++i) {
    const T g = grads[i] + decay * params[i];
    const T a = accum[i] + g * g;
    accum[i] = a;
    params[i] -= lr * g / (square_root(a) + eps);
  }
}

template <class T>
void adam_range(T* params, const T* grads, T* m1, T* m2, index_t lo, index_t hi, T step_size,
                T beta_1, T beta_2, T eps, T decay) {
  const T rest_1 = T(1) - beta_1, rest_2 = T(1) - beta_2;
  for (index_t i = lo; i < hi; ++i) {
    const T g = grads[i] + decay * params[i];
    const T mi = beta_1 * m1[i] + rest_1 * g;
    const T vi = beta_2 * m2[i] + rest_2 * g * g;
    m1[i] = mi;
    m2[i] = vi;
    params[i] -= step_size * mi / (square_root(vi) + eps);
  }
}

template <class T>
void sgd(index_t m, T* params, const T* grads, T* velocity, T lr, T momentum, bool nesterov,
         T decay, index_t n_decayed) {
  sgd_range(params, grads, velocity, 0, n_decayed, lr, momentum, nesterov, decay);
  sgd_range(params, grads, velocity, n_decayed, m, lr, momentum, nesterov, T(0));
}

template <class T>
void adagrad(index_t m, T* params, const T* grads, T* accum, T lr, T eps, T decay,
             index_t n_decayed) {
  adagrad_range(params, grads, accum, 0, n_decayed, lr, eps, decay);
  adagrad_range(params, grads, accum, n_decayed, m, lr, eps, T(0));
}

template <class T>
void adam(index_t m, T* params, const T* grads, T* m1, T* m2, T step_size, T beta_1, T beta_2,
          T eps, T decay, index_t n_decayed) {
  adam_range(params, grads, m1, m2, 0, n_decayed, step_size, beta_1, beta_2, eps, decay);
  adam_range(params, grads, m1, m2, n_decayed, m, step_size, beta_1, beta_2, eps, T(0));
}

template <class T>
ElementwiseKernels<T> kernels() {
  return {&bias_activation<T>, &activation_backward<T>, &channel_sums<T>, &dropout<T>,
          &sgd<T>, &adagrad<T>, &adam<T>};
}

}  // namespace

ElementwiseTable kernel_table() { return {kernels<float>(), kernels<double>()}; }

}  // namespace fastml::nn::FASTML_ISA
