// The elementwise kernels' entry points, which run the instruction-set build of
// nn_elementwise_isa.cpp chosen for this CPU, and the losses (see fastml/nn_ops.hpp). The losses
// spend their time in libm's exp and log and stay in this portable build; they run on one thread
// (see threads_for in the header).
#include <algorithm>
#include <cmath>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/nn_ops.hpp"

namespace fastml::nn {
namespace {

const IsaChoice<ElementwiseTable>& selected() {
  static const IsaChoice<ElementwiseTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T>
const ElementwiseKernels<T>& table() {
  return kernels_for<T>(selected().table);
}

}  // namespace

const char* elementwise_simd_build() { return selected().name; }

template <class T>
void bias_activation(const Channels& shape, T* z, const T* bias, int code, int n_threads) {
  table<T>().bias_activation(shape, z, bias, code, n_threads);
}

template <class T>
void activation_backward(index_t m, T* grad, const T* y, int code, bool from_input,
                         int n_threads) {
  table<T>().activation_backward(m, grad, y, code, from_input, n_threads);
}

template <class T>
void channel_sums(const Channels& shape, const T* g, T* out, int n_threads) {
  table<T>().channel_sums(shape, g, out, n_threads);
}

template <class T>
void dropout(index_t m, T* x, const bool* mask, double scale, int n_threads) {
  table<T>().dropout(m, x, mask, scale, n_threads);
}

template <class T>
void sgd(index_t m, T* params, const T* grads, T* velocity, T lr, T momentum, bool nesterov,
         T decay, index_t n_decayed) {
  table<T>().sgd(m, params, grads, velocity, lr, momentum, nesterov, decay, n_decayed);
}

template <class T>
void adagrad(index_t m, T* params, const T* grads, T* accum, T lr, T eps, T decay,
             index_t n_decayed) {
  table<T>().adagrad(m, params, grads, accum, lr, eps, decay, n_decayed);
}

template <class T>
void adam(index_t m, T* params, const T* grads, T* m1, T* m2, T step_size, T beta_1, T beta_2,
          T eps, T decay, index_t n_decayed) {
  table<T>().adam(m, params, grads, m1, m2, step_size, beta_1, beta_2, eps, decay, n_decayed);
}

// ---- losses: one row at a time, summed in row order ---------------------------------------------

template <class T>
double loss_and_grad(Loss kind, index_t n, index_t K, const T* output, const T* target,
                     const double* weight, T* grad) {
  double loss = 0.0;
  // exp(z - top) of a softmax row, so that each takes one exp (the exps were most of the time of
  // a small network's batch); p = e / total.
  std::vector<double> e(kind == Loss::kSoftmax ? K : 0);
  for (index_t i = 0; i < n; ++i) {
    const T* z = output + i * K;
    const T* t = target + i * K;
    T* g = grad + i * K;  // may be z: every z[k] is read before g[k] is written
    const double w = weight[i];
    double row = 0.0;
    if (kind == Loss::kSoftmax) {
      const double top = *std::max_element(z, z + K);
      double total = 0.0;
      for (index_t k = 0; k < K; ++k) {
        e[k] = std::exp(z[k] - top);
        total += e[k];
      }
      const double log_total = std::log(total);
      for (index_t k = 0; k < K; ++k) {
        row -= t[k] * (z[k] - top - log_total);  // t log p
        g[k] = static_cast<T>((e[k] / total - t[k]) * w);
      }
    } else if (kind == Loss::kLogistic) {
      for (index_t k = 0; k < K; ++k) {
        const double v = z[k];
        // log(1 + exp(-|v|)) + max(v, 0) - t v, stable for any v
        row += std::log1p(std::exp(-std::abs(v))) + std::max(v, 0.0) - t[k] * v;
        g[k] = static_cast<T>((1 / (1 + std::exp(-v)) - t[k]) * w);
      }
    } else if (kind == Loss::kPoisson) {
      for (index_t k = 0; k < K; ++k) {
        // y log(y / p) - y + p with p = exp(z); the first term is 0 where y is 0
        const double v = z[k], y = t[k], p = std::exp(v);
        row += (y > 0 ? y * (std::log(y) - v) : 0.0) - y + p;
        g[k] = static_cast<T>((p - y) * w);
      }
    } else {
      for (index_t k = 0; k < K; ++k) {
        const double d = static_cast<double>(z[k]) - t[k];
        row += d * d;
        g[k] = static_cast<T>(d * w);
      }
      row *= 0.5;
    }
    loss += w * row;
  }
  return loss;
}

#define FASTML_NN_ELEMENTWISE(T)                                                                \
  template void bias_activation<T>(const Channels&, T*, const T*, int, int);                   \
  template void activation_backward<T>(index_t, T*, const T*, int, bool, int);                 \
  template void channel_sums<T>(const Channels&, const T*, T*, int);                           \
  template void dropout<T>(index_t, T*, const bool*, double, int);                             \
  template double loss_and_grad<T>(Loss, index_t, index_t, const T*, const T*, const double*, \
                                   T*);                                                        \
  template void sgd<T>(index_t, T*, const T*, T*, T, T, bool, T, index_t);                     \
  template void adagrad<T>(index_t, T*, const T*, T*, T, T, T, index_t);                       \
  template void adam<T>(index_t, T*, const T*, T*, T*, T, T, T, T, T, index_t);
FASTML_NN_ELEMENTWISE(float)
FASTML_NN_ELEMENTWISE(double)
#undef FASTML_NN_ELEMENTWISE

}  // namespace fastml::nn
