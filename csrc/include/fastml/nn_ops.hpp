// The CPU kernels of fastml.nn other than the stride-1 convolution (conv.hpp) and the matrix
// products (BLAS, called from Python): activations, sums, dropout, losses, optimizer steps
// (nn_elementwise.cpp), im2col/col2im for strided convolutions, pooling and batch
// normalisation (nn_spatial.cpp). Bound in csrc/bindings/nn_module.cpp.
//
// Every kernel writes into arrays it is given (OUT) or updates them in place (IN/OUT); arrays are
// C-contiguous and the binding has checked their shapes. Kernels with an n_threads argument run an
// OpenMP loop whose iterations own disjoint outputs and add in a fixed order, so results do not
// depend on the thread count; none allocates or throws inside a parallel region.
//
// Arithmetic follows the kernels' other implementations (fastml/nn/_scalar.py, compiled for
// CUDA, and fastml.reference.nn): activations are computed in double from the value in T and
// rounded once to T, sums accumulate in double, optimizer steps run in T.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace fastml::nn {

using index_t = std::ptrdiff_t;

// ---- scalar functions, as fastml/nn/_scalar.py --------------------------------------------------
// These helpers have internal linkage (static): nn_elementwise_isa.cpp compiles them once per
// instruction set, and an inline function with external linkage could be linked from the wider
// build into the baseline's callers.

// Activation codes, as _scalar.ACTIVATIONS.
enum Activation : int { kIdentity = 0, kRelu = 1, kTanh = 2, kLogistic = 3 };

static inline double activate(double v, int code) {
  switch (code) {
    case kRelu: return v > 0 ? v : v * 0;  // v * 0 keeps NaN a NaN
    case kTanh: return std::tanh(v);
    case kLogistic: return 1 / (1 + std::exp(-v));
    default: return v;
  }
}

// The activation's derivative expressed through its output y = act(z).
static inline double derivative_from_output(double y, int code) {
  switch (code) {
    case kRelu: return y > 0 ? 1 : 0;
    case kTanh: return 1 - y * y;
    case kLogistic: return y * (1 - y);
    default: return 1;
  }
}

// The sum of a[0 .. n) in double, in eight interleaved partial sums that the compiler keeps in
// vector registers (a single running sum is a chain of dependent additions). The order of the
// additions is fixed by this code, not by the compiler or the instruction set.
template <class T>
static double sum(const T* a, index_t n) {
  double partial[8] = {};
  index_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) partial[j] += a[i + j];
  double total = 0.0;
  for (; i < n; ++i) total += a[i];
  for (int j = 0; j < 8; ++j) total += partial[j];
  return total;
}

// Threads for a pass over `work` values: n_threads from kParallelMin values on, else one. These
// kernels follow the BLAS products of the dense layers, whose threads keep spinning for a while
// after each call: a second thread pool waking up then fights them for the cores (Numba's pool
// measured 8.7 ms against 0.34 ms for one product and one update on two cores), so only passes
// of convolution size, which take milliseconds, are split.
constexpr index_t kParallelMin = index_t(1) << 18;
static inline int threads_for(index_t work, int n_threads) {
  return work >= kParallelMin ? n_threads : 1;
}

// ---- elementwise (nn_elementwise.cpp) -----------------------------------------------------------

// An (n, C, S) view: n images (or rows) of C channels of S positions (S = 1 for dense layers).
struct Channels {
  index_t n, C, S;
  index_t size() const { return n * C * S; }
};

// IN/OUT z (n, C, S): z = act(z + bias[c]) in place; bias (C,) or null (no bias).
template <class T>
void bias_activation(const Channels& shape, T* z, const T* bias, int code, int n_threads);

// IN/OUT grad (m,): grad *= act'(z), where IN y (m,) holds act(z) (from_input false) or z itself
// (from_input true).
template <class T>
void activation_backward(index_t m, T* grad, const T* y, int code, bool from_input,
                         int n_threads);

// OUT out (C,): g (n, C, S) summed over images and positions, in double.
template <class T>
void channel_sums(const Channels& shape, const T* g, T* out, int n_threads);

// IN/OUT x (m,): x * scale where mask, x * 0 elsewhere.
template <class T>
void dropout(index_t m, T* x, const bool* mask, double scale, int n_threads);

// Losses on the output layer (n, K); each row's weight in weight (n,) (summing to 1). OUT grad
// (n, K) = the weighted gradient for the outputs (grad may alias output); returns the weighted
// mean loss. kPoisson: half the Poisson deviance of y = exp(output) (scikit-learn's log link).
enum class Loss { kSoftmax, kLogistic, kSquared, kPoisson };
template <class T>
double loss_and_grad(Loss kind, index_t n, index_t K, const T* output, const T* target,
                     const double* weight, T* grad);

// Optimizer steps over flat buffers of m parameters; entries below n_decayed get the L2 term
// decay * params. Scalars come in T, so float32 parameters are updated in float32 arithmetic.
// IN/OUT params, velocity: scikit-learn's SGD with momentum (and Nesterov's variant).
template <class T>
void sgd(index_t m, T* params, const T* grads, T* velocity, T lr, T momentum, bool nesterov,
         T decay, index_t n_decayed);
// IN/OUT params, accum.
template <class T>
void adagrad(index_t m, T* params, const T* grads, T* accum, T lr, T eps, T decay,
             index_t n_decayed);
// IN/OUT params, m1, m2 (first and second moments); step_size = lr sqrt(1 - b2^t) / (1 - b1^t).
template <class T>
void adam(index_t m, T* params, const T* grads, T* m1, T* m2, T step_size, T beta_1, T beta_2,
          T eps, T decay, index_t n_decayed);

// The kernels above but loss_and_grad run the build of nn_elementwise_isa.cpp chosen for this CPU
// (fastml/isa.hpp): the optimizer steps and relu's loops are short and called once per batch,
// where a baseline SSE2 build ran Adam's step 1.4x slower than Numba's AVX-512 code. Every build
// computes the same values: no contraction into fused multiply-adds (-ffp-contract=off), no
// reassociation; vectors only widen loops whose iterations are independent.
template <class T>
struct ElementwiseKernels {
  void (*bias_activation)(const Channels&, T*, const T*, int, int);
  void (*activation_backward)(index_t, T*, const T*, int, bool, int);
  void (*channel_sums)(const Channels&, const T*, T*, int);
  void (*dropout)(index_t, T*, const bool*, double, int);
  void (*sgd)(index_t, T*, const T*, T*, T, T, bool, T, index_t);
  void (*adagrad)(index_t, T*, const T*, T*, T, T, T, index_t);
  void (*adam)(index_t, T*, const T*, T*, T*, T, T, T, T, T, index_t);
};
struct ElementwiseTable {
  ElementwiseKernels<float> f32;
  ElementwiseKernels<double> f64;
};
namespace baseline { ElementwiseTable kernel_table(); }
namespace x86_64_v3 { ElementwiseTable kernel_table(); }
namespace x86_64_v4 { ElementwiseTable kernel_table(); }

// The instruction-set build the elementwise kernels run ("baseline", "x86_64_v3", "x86_64_v4").
const char* elementwise_simd_build();

// ---- spatial (nn_spatial.cpp) -------------------------------------------------------------------

// A window geometry over N images (C, H, W): kernel (kh, kw), stride (sh, sw), zero padding
// (ph, pw) (pooling has none); outputs (Ho, Wo), both >= 1.
struct Windows {
  index_t N, C, H, W, kh, kw, sh, sw, ph, pw;
  index_t Ho() const { return (H + 2 * ph - kh) / sh + 1; }
  index_t Wo() const { return (W + 2 * pw - kw) / sw + 1; }
};

// OUT cols (C*kh*kw, N*Ho*Wo): the receptive field of every output position (im2col), zero
// where it reaches into the padding. The images' columns lie side by side, so that a batch's
// convolution is one matrix product: out (F, N*Ho*Wo) = filters (F, C*kh*kw) @ cols.
template <class T>
void im2col(const Windows& g, const T* x, T* cols, int n_threads);

// OUT grad_x (N, C, H, W): the column gradients cols (C*kh*kw, N*Ho*Wo) added back to the
// inputs they were copied from (col2im), the padding dropped.
template <class T>
void col2im(const Windows& g, const T* cols, T* grad_x, int n_threads);

// OUT out (N, C, Ho, Wo), OUT argmax: the flat index in the H x W plane of each window's first
// maximum in row-major order (a NaN wins, as in np.max).
template <class T>
void max_pool_forward(const Windows& g, const T* x, T* out, std::int32_t* argmax, int n_threads);

// OUT grad_x (planes, plane_size): each of the `outputs` gradients of a plane in grad_out
// (planes, outputs) added at its argmax (values in [0, plane_size)).
template <class T>
void max_pool_backward(index_t planes, index_t outputs, index_t plane_size, const T* grad_out,
                       const std::int32_t* argmax, T* grad_x, int n_threads);

// OUT out (N, C, Ho, Wo): window means.
template <class T>
void avg_pool_forward(const Windows& g, const T* x, T* out, int n_threads);

// OUT grad_x (N, C, H, W): each output's gradient shared equally by its window.
template <class T>
void avg_pool_backward(const Windows& g, const T* grad_out, T* grad_x, int n_threads);

// Batch normalisation of x (n, C, S) with statistics per channel over images and positions
// (biased variance). OUT out, OUT mean (C,), OUT inv_std (C,) = 1 / sqrt(var + eps).
template <class T>
void batch_norm_forward(const Channels& shape, const T* x, const T* gamma, const T* beta,
                        double eps, T* out, double* mean, double* inv_std, int n_threads);

// OUT grad_x (n, C, S), grad_gamma (C,), grad_beta (C,) of batch_norm_forward.
template <class T>
void batch_norm_backward(const Channels& shape, const T* grad_out, const T* x, const T* gamma,
                         const double* mean, const double* inv_std, T* grad_x, T* grad_gamma,
                         T* grad_beta, int n_threads);

// OUT out (n, C, S): x normalised by fixed statistics mean, var (C,).
template <class T>
void batch_norm_inference(const Channels& shape, const T* x, const T* gamma, const T* beta,
                          const double* mean, const double* var, double eps, T* out,
                          int n_threads);

}  // namespace fastml::nn
