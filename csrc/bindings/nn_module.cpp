// fastml.nn._nn_fast: the CPU kernels of csrc/nn other than the stride-1 convolution
// (fastml.nn._conv_fast), for float32 and float64 arrays. Checks every shape and index at entry
// (the kernels trust them), then releases the GIL. Arrays must already be C-contiguous and of one
// dtype (fastml.nn converts them once): no argument is converted, so an output array can never
// be a temporary copy. (n, C, S) arguments are 3-D views of (n, C) or (n, C, H, W) arrays.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/nn_ops.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::nn::Channels;
using fastml::nn::index_t;
using fastml::nn::Windows;

namespace {

template <class T>
using Array = py::array_t<T, py::array::c_style>;

constexpr index_t kMaxWindow = index_t(1) << 20;

template <class A>
void require_writeable(const A& a, const char* name) {
  require(a.writeable(), std::string(name) + " must be writeable");
}

// Same shape as `like`, whatever its rank.
template <class A, class B>
void require_same_shape(const A& a, const char* name, const B& like) {
  bool ok = a.ndim() == like.ndim();
  for (py::ssize_t axis = 0; ok && axis < a.ndim(); ++axis) ok = a.shape(axis) == like.shape(axis);
  require(ok, std::string(name) + " has the wrong shape");
}

template <class T>
Channels channels(const Array<T>& a, const char* name) {
  require(a.ndim() == 3, std::string(name) + " must be an (n, C, S) view");
  return Channels{a.shape(0), a.shape(1), a.shape(2)};
}

void require_activation(int code) {
  require(code >= fastml::nn::kIdentity && code <= fastml::nn::kLogistic,
          "unknown activation code");
}

// The windows of images x (N, C, H, W); checks that they fit.
template <class A>
Windows windows(const A& x, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
                index_t pw) {
  require(x.ndim() == 4, "the images must be 4-dimensional");
  const Windows g{x.shape(0), x.shape(1), x.shape(2), x.shape(3), kh, kw, sh, sw, ph, pw};
  require(g.N >= 1 && g.C >= 1 && g.H >= 1 && g.W >= 1, "the images must not be empty");
  require(kh >= 1 && kw >= 1 && sh >= 1 && sw >= 1, "kernel and stride must be >= 1");
  // Bounded first, so that the output size below cannot overflow.
  require(kh <= kMaxWindow && kw <= kMaxWindow && sh <= kMaxWindow && sw <= kMaxWindow &&
              ph >= 0 && pw >= 0 && ph <= kMaxWindow && pw <= kMaxWindow,
          "kernel, stride or padding out of range");
  require(kh <= g.H + 2 * ph && kw <= g.W + 2 * pw, "the kernel is larger than the padded input");
  return g;
}

// ---- elementwise --------------------------------------------------------------------------------

template <class T>
void bias_activation(Array<T>& z, const py::object& bias, int code, int n_threads) {
  const Channels shape = channels(z, "z");
  require_writeable(z, "z");
  require_activation(code);
  require_threads(n_threads);
  const T* bias_data = nullptr;
  Array<T> bias_array;
  if (!bias.is_none()) {
    if (!py::isinstance<Array<T>>(bias))
      throw py::type_error("bias must be None or a C-contiguous array of z's dtype");
    bias_array = py::reinterpret_borrow<Array<T>>(bias);
    require_shape(bias_array, "bias", {shape.C});
    bias_data = bias_array.data();
  }
  T* z_data = z.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::bias_activation(shape, z_data, bias_data, code, n_threads);
}

template <class T>
void activation_backward(Array<T>& grad, const Array<T>& y, int code, bool from_input,
                         int n_threads) {
  require_same_shape(y, "y", grad);
  require_writeable(grad, "grad");
  require_activation(code);
  require_threads(n_threads);
  T* grad_data = grad.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::activation_backward<T>(grad.size(), grad_data, y.data(), code, from_input,
                                     n_threads);
}

template <class T>
void channel_sums(const Array<T>& g, Array<T>& out, int n_threads) {
  const Channels shape = channels(g, "g");
  require_shape(out, "out", {shape.C});
  require_writeable(out, "out");
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::channel_sums(shape, g.data(), out_data, n_threads);
}

template <class T>
void dropout(Array<T>& x, const Array<bool>& mask, double scale, int n_threads) {
  require_same_shape(mask, "mask", x);
  require_writeable(x, "x");
  require_threads(n_threads);
  T* x_data = x.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::dropout<T>(x.size(), x_data, mask.data(), scale, n_threads);
}

template <class T>
double loss_and_grad(const std::string& kind, const Array<T>& output, const Array<T>& target,
                     const Array<double>& weight, Array<T>& grad) {
  using fastml::nn::Loss;
  const Loss loss = kind == "softmax"    ? Loss::kSoftmax
                    : kind == "logistic" ? Loss::kLogistic
                    : kind == "squared"  ? Loss::kSquared
                    : kind == "poisson"  ? Loss::kPoisson
                                         : throw std::invalid_argument("unknown loss " + kind);
  require(output.ndim() == 2 && output.shape(1) >= 1, "output must be (n, K), K >= 1");
  const index_t n = output.shape(0), K = output.shape(1);
  require_shape(target, "target", {n, K});
  require_shape(weight, "weight", {n});
  require_shape(grad, "grad", {n, K});
  require_writeable(grad, "grad");
  T* grad_data = grad.mutable_data();
  py::gil_scoped_release release;
  return fastml::nn::loss_and_grad(loss, n, K, output.data(), target.data(), weight.data(),
                                   grad_data);
}

// ---- optimizer steps over flat buffers ----------------------------------------------------------

// The parameter count, after checking that every state array matches params (m,) and that
// n_decayed lies in [0, m].
template <class T>
index_t flat_state(const Array<T>& params, const Array<T>& grads,
                   std::initializer_list<const Array<T>*> state, index_t n_decayed) {
  require(params.ndim() == 1, "params must be 1-dimensional");
  require_writeable(params, "params");
  const index_t m = params.shape(0);
  require_shape(grads, "grads", {m});
  for (const Array<T>* s : state) {
    require_shape(*s, "the optimizer state", {m});
    require_writeable(*s, "the optimizer state");
  }
  require(n_decayed >= 0 && n_decayed <= m, "n_decayed must lie in [0, params.size]");
  return m;
}

template <class T>
void sgd(Array<T>& params, const Array<T>& grads, Array<T>& velocity, double lr,
         double momentum, bool nesterov, double decay, index_t n_decayed) {
  const index_t m = flat_state(params, grads, {&velocity}, n_decayed);
  T* p = params.mutable_data();
  T* v = velocity.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::sgd<T>(m, p, grads.data(), v, T(lr), T(momentum), nesterov, T(decay), n_decayed);
}

template <class T>
void adagrad(Array<T>& params, const Array<T>& grads, Array<T>& accum, double lr, double eps,
             double decay, index_t n_decayed) {
  const index_t m = flat_state(params, grads, {&accum}, n_decayed);
  T* p = params.mutable_data();
  T* a = accum.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::adagrad<T>(m, p, grads.data(), a, T(lr), T(eps), T(decay), n_decayed);
}

template <class T>
void adam(Array<T>& params, const Array<T>& grads, Array<T>& m1, Array<T>& m2,
          double step_size, double beta_1, double beta_2, double eps, double decay,
          index_t n_decayed) {
  const index_t m = flat_state(params, grads, {&m1, &m2}, n_decayed);
  T* p = params.mutable_data();
  T* first = m1.mutable_data();
  T* second = m2.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::adam<T>(m, p, grads.data(), first, second, T(step_size), T(beta_1), T(beta_2),
                      T(eps), T(decay), n_decayed);
}

// ---- im2col / col2im ----------------------------------------------------------------------------

template <class T>
void im2col(const Array<T>& x, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
            index_t pw, Array<T>& cols, int n_threads) {
  const Windows g = windows(x, kh, kw, sh, sw, ph, pw);
  require_shape(cols, "cols", {g.C * kh * kw, g.N * g.Ho() * g.Wo()});
  require_writeable(cols, "cols");
  require_threads(n_threads);
  T* cols_data = cols.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::im2col(g, x.data(), cols_data, n_threads);
}

template <class T>
void col2im(const Array<T>& cols, index_t kh, index_t kw, index_t sh, index_t sw, index_t ph,
            index_t pw, Array<T>& grad_x, int n_threads) {
  const Windows g = windows(grad_x, kh, kw, sh, sw, ph, pw);
  require_shape(cols, "cols", {g.C * kh * kw, g.N * g.Ho() * g.Wo()});
  require_writeable(grad_x, "grad_x");
  require_threads(n_threads);
  T* grad_x_data = grad_x.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::col2im(g, cols.data(), grad_x_data, n_threads);
}

// ---- pooling (no padding) -----------------------------------------------------------------------

template <class T>
void max_pool_forward(const Array<T>& x, index_t kh, index_t kw, index_t sh, index_t sw,
                      Array<T>& out, Array<std::int32_t>& argmax, int n_threads) {
  const Windows g = windows(x, kh, kw, sh, sw, 0, 0);
  require(g.H * g.W <= INT32_MAX, "an image plane is too large for int32 indices");
  require_shape(out, "out", {g.N, g.C, g.Ho(), g.Wo()});
  require_shape(argmax, "argmax", {g.N, g.C, g.Ho(), g.Wo()});
  require_writeable(out, "out");
  require_writeable(argmax, "argmax");
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  std::int32_t* argmax_data = argmax.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::max_pool_forward(g, x.data(), out_data, argmax_data, n_threads);
}

template <class T>
void max_pool_backward(const Array<T>& grad_out, const Array<std::int32_t>& argmax,
                       Array<T>& grad_x, int n_threads) {
  require(grad_x.ndim() == 4 && grad_out.ndim() == 4, "the gradients must be 4-dimensional");
  require(grad_out.shape(0) == grad_x.shape(0) && grad_out.shape(1) == grad_x.shape(1),
          "grad_out and grad_x must have the same images and channels");
  require_same_shape(argmax, "argmax", grad_out);
  require_writeable(grad_x, "grad_x");
  require_threads(n_threads);
  const index_t planes = grad_x.shape(0) * grad_x.shape(1);
  const index_t plane_size = grad_x.shape(2) * grad_x.shape(3);
  const index_t outputs = grad_out.shape(2) * grad_out.shape(3);
  const std::int32_t* where = argmax.data();
  for (py::ssize_t i = 0; i < argmax.size(); ++i)
    require(where[i] >= 0 && where[i] < plane_size,
            "argmax holds an index outside the image plane");
  T* grad_x_data = grad_x.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::max_pool_backward(planes, outputs, plane_size, grad_out.data(), where,
                                grad_x_data, n_threads);
}

template <class T>
void avg_pool_forward(const Array<T>& x, index_t kh, index_t kw, index_t sh, index_t sw,
                      Array<T>& out, int n_threads) {
  const Windows g = windows(x, kh, kw, sh, sw, 0, 0);
  require_shape(out, "out", {g.N, g.C, g.Ho(), g.Wo()});
  require_writeable(out, "out");
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::avg_pool_forward(g, x.data(), out_data, n_threads);
}

template <class T>
void avg_pool_backward(const Array<T>& grad_out, index_t kh, index_t kw, index_t sh,
                       index_t sw, Array<T>& grad_x, int n_threads) {
  const Windows g = windows(grad_x, kh, kw, sh, sw, 0, 0);
  require_shape(grad_out, "grad_out", {g.N, g.C, g.Ho(), g.Wo()});
  require_writeable(grad_x, "grad_x");
  require_threads(n_threads);
  T* grad_x_data = grad_x.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::avg_pool_backward(g, grad_out.data(), grad_x_data, n_threads);
}

// ---- batch normalisation over (n, C, S) views ---------------------------------------------------

template <class T>
void batch_norm_forward(const Array<T>& x, const Array<T>& gamma, const Array<T>& beta,
                        double eps, Array<T>& out, Array<double>& mean, Array<double>& inv_std,
                        int n_threads) {
  const Channels shape = channels(x, "x");
  require(shape.n * shape.S >= 1, "x must not be empty");
  require_shape(gamma, "gamma", {shape.C});
  require_shape(beta, "beta", {shape.C});
  require_same_shape(out, "out", x);
  require_shape(mean, "mean", {shape.C});
  require_shape(inv_std, "inv_std", {shape.C});
  require_writeable(out, "out");
  require_writeable(mean, "mean");
  require_writeable(inv_std, "inv_std");
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  double* mean_data = mean.mutable_data();
  double* inv_std_data = inv_std.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::batch_norm_forward(shape, x.data(), gamma.data(), beta.data(), eps, out_data,
                                 mean_data, inv_std_data, n_threads);
}

template <class T>
void batch_norm_backward(const Array<T>& grad_out, const Array<T>& x, const Array<T>& gamma,
                         const Array<double>& mean, const Array<double>& inv_std,
                         Array<T>& grad_x, Array<T>& grad_gamma, Array<T>& grad_beta,
                         int n_threads) {
  const Channels shape = channels(x, "x");
  require(shape.n * shape.S >= 1, "x must not be empty");
  require_same_shape(grad_out, "grad_out", x);
  require_same_shape(grad_x, "grad_x", x);
  for (const auto* a : {&mean, &inv_std}) require_shape(*a, "the batch statistics", {shape.C});
  require_shape(gamma, "gamma", {shape.C});
  require_shape(grad_gamma, "grad_gamma", {shape.C});
  require_shape(grad_beta, "grad_beta", {shape.C});
  require_writeable(grad_x, "grad_x");
  require_writeable(grad_gamma, "grad_gamma");
  require_writeable(grad_beta, "grad_beta");
  require_threads(n_threads);
  T* gx = grad_x.mutable_data();
  T* gg = grad_gamma.mutable_data();
  T* gb = grad_beta.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::batch_norm_backward(shape, grad_out.data(), x.data(), gamma.data(), mean.data(),
                                  inv_std.data(), gx, gg, gb, n_threads);
}

template <class T>
void batch_norm_inference(const Array<T>& x, const Array<T>& gamma, const Array<T>& beta,
                          const Array<double>& mean, const Array<double>& var, double eps,
                          Array<T>& out, int n_threads) {
  const Channels shape = channels(x, "x");
  for (const auto* a : {&gamma, &beta}) require_shape(*a, "gamma and beta", {shape.C});
  for (const auto* a : {&mean, &var}) require_shape(*a, "the running statistics", {shape.C});
  require_same_shape(out, "out", x);
  require_writeable(out, "out");
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  py::gil_scoped_release release;
  fastml::nn::batch_norm_inference(shape, x.data(), gamma.data(), beta.data(), mean.data(),
                                   var.data(), eps, out_data, n_threads);
}

template <class T>
void define_for(py::module_& m) {
  // noconvert: an array of another dtype or layout is an error, not a silent copy.
  using py::arg;
  m.def("bias_activation", &bias_activation<T>, arg("z").noconvert(), arg("bias"), arg("code"),
        arg("n_threads"), "IN/OUT z (n, C, S) = act(z + bias[c]); bias (C,) or None.");
  m.def("activation_backward", &activation_backward<T>, arg("grad").noconvert(),
        arg("y").noconvert(), arg("code"), arg("from_input"), arg("n_threads"),
        "IN/OUT grad *= act'(z), y holding act(z), or z itself when from_input.");
  m.def("channel_sums", &channel_sums<T>, arg("g").noconvert(), arg("out").noconvert(),
        arg("n_threads"), "OUT out (C,): g (n, C, S) summed over n and S.");
  m.def("dropout", &dropout<T>, arg("x").noconvert(), arg("mask").noconvert(), arg("scale"),
        arg("n_threads"), "IN/OUT x = x * scale where mask, else x * 0.");
  m.def("loss_and_grad", &loss_and_grad<T>, arg("kind"), arg("output").noconvert(),
        arg("target").noconvert(), arg("weight").noconvert(), arg("grad").noconvert(),
        "OUT grad (n, K): the weighted gradient of loss kind ('softmax', 'logistic', "
        "'squared' or 'poisson') for output (n, K); returns the weighted mean loss.");
  m.def("sgd", &sgd<T>, arg("params").noconvert(), arg("grads").noconvert(),
        arg("velocity").noconvert(), arg("lr"), arg("momentum"), arg("nesterov"), arg("decay"),
        arg("n_decayed"), "IN/OUT params, velocity: one SGD step with momentum.");
  m.def("adagrad", &adagrad<T>, arg("params").noconvert(), arg("grads").noconvert(),
        arg("accum").noconvert(), arg("lr"), arg("eps"), arg("decay"), arg("n_decayed"),
        "IN/OUT params, accum: one AdaGrad step.");
  m.def("adam", &adam<T>, arg("params").noconvert(), arg("grads").noconvert(),
        arg("m").noconvert(), arg("v").noconvert(), arg("step_size"), arg("beta_1"),
        arg("beta_2"), arg("eps"), arg("decay"), arg("n_decayed"),
        "IN/OUT params, m, v: one Adam step.");
  m.def("im2col", &im2col<T>, arg("x").noconvert(), arg("kh"), arg("kw"), arg("sh"), arg("sw"),
        arg("ph"), arg("pw"), arg("cols").noconvert(), arg("n_threads"),
        "OUT cols (C*kh*kw, N*Ho*Wo): the receptive fields of x (N, C, H, W).");
  m.def("col2im", &col2im<T>, arg("cols").noconvert(), arg("kh"), arg("kw"), arg("sh"),
        arg("sw"), arg("ph"), arg("pw"), arg("grad_x").noconvert(), arg("n_threads"),
        "OUT grad_x (N, C, H, W): cols (C*kh*kw, N*Ho*Wo) added back to their inputs.");
  m.def("max_pool_forward", &max_pool_forward<T>, arg("x").noconvert(), arg("kh"), arg("kw"),
        arg("sh"), arg("sw"), arg("out").noconvert(), arg("argmax").noconvert(),
        arg("n_threads"), "OUT out, argmax (N, C, Ho, Wo): window maxima and their places.");
  m.def("max_pool_backward", &max_pool_backward<T>, arg("grad_out").noconvert(),
        arg("argmax").noconvert(), arg("grad_x").noconvert(), arg("n_threads"),
        "OUT grad_x (N, C, H, W): grad_out added at argmax.");
  m.def("avg_pool_forward", &avg_pool_forward<T>, arg("x").noconvert(), arg("kh"), arg("kw"),
        arg("sh"), arg("sw"), arg("out").noconvert(), arg("n_threads"),
        "OUT out (N, C, Ho, Wo): window means.");
  m.def("avg_pool_backward", &avg_pool_backward<T>, arg("grad_out").noconvert(), arg("kh"),
        arg("kw"), arg("sh"), arg("sw"), arg("grad_x").noconvert(), arg("n_threads"),
        "OUT grad_x (N, C, H, W): gradient of avg_pool_forward.");
  m.def("batch_norm_forward", &batch_norm_forward<T>, arg("x").noconvert(),
        arg("gamma").noconvert(), arg("beta").noconvert(), arg("eps"), arg("out").noconvert(),
        arg("mean").noconvert(), arg("inv_std").noconvert(), arg("n_threads"),
        "OUT out (n, C, S), mean, inv_std (C,): batch normalisation per channel.");
  m.def("batch_norm_backward", &batch_norm_backward<T>, arg("grad_out").noconvert(),
        arg("x").noconvert(), arg("gamma").noconvert(), arg("mean").noconvert(),
        arg("inv_std").noconvert(), arg("grad_x").noconvert(), arg("grad_gamma").noconvert(),
        arg("grad_beta").noconvert(), arg("n_threads"),
        "OUT grad_x, grad_gamma, grad_beta: gradients of batch_norm_forward.");
  m.def("batch_norm_inference", &batch_norm_inference<T>, arg("x").noconvert(),
        arg("gamma").noconvert(), arg("beta").noconvert(), arg("mean").noconvert(),
        arg("var").noconvert(), arg("eps"), arg("out").noconvert(), arg("n_threads"),
        "OUT out (n, C, S): x normalised by fixed statistics.");
}

}  // namespace

PYBIND11_MODULE(_nn_fast, m) {
  m.doc() = "Neural-network CPU kernels: activations, losses, optimizer steps, im2col, pooling, "
            "batch normalisation (C++, OpenMP).";
  // float64 first: pybind11 tries the overloads in order, and a failed try costs about 1 us,
  // as much as a small layer's kernel; scikit-learn's estimators train in float64.
  define_for<double>(m);
  define_for<float>(m);
  m.attr("PARALLEL_MIN") = fastml::nn::kParallelMin;
  m.def("simd_build", &fastml::nn::elementwise_simd_build,
        "The instruction-set build of the elementwise kernels chosen for this CPU.");
}
