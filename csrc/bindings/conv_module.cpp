// fastml.nn._conv_fast: the stride-1 convolution cores of csrc/nn for float32 and float64 arrays.
// Checks every shape at entry (the cores trust them), then releases the GIL. Arrays must already
// be C-contiguous and of one dtype (fastml.nn converts them once): no argument is converted, so
// an output array can never be a temporary copy.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <stdexcept>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/conv.hpp"

namespace py = pybind11;
using fastml::bindings::require;
using fastml::bindings::require_shape;
using fastml::bindings::require_threads;
using fastml::conv::index_t;
using fastml::conv::Problem;

namespace {

template <class T>
using In = py::array_t<T, py::array::c_style>;

constexpr index_t kMaxPad = index_t(1) << 20;

// The problem of images x (N, C, H, W) and filters of shape `filters` (F, C, KH, KW).
template <class T>
Problem problem(const In<T>& x, const py::array& filters, index_t pad_h, index_t pad_w) {
  require(x.ndim() == 4 && filters.ndim() == 4, "x and the filters must be 4-dimensional");
  Problem p{x.shape(0), x.shape(1), x.shape(2),      x.shape(3), filters.shape(0),
            filters.shape(2), filters.shape(3), pad_h, pad_w};
  require(p.N >= 1 && p.C >= 1 && p.H >= 1 && p.W >= 1, "x must not be empty");
  require(p.F >= 1 && p.KH >= 1 && p.KW >= 1, "the filters must not be empty");
  require(filters.shape(1) == p.C, "the filters' channels must match x's");
  // Bounded first, so that the output size below cannot overflow.
  require(pad_h > -p.H && pad_w > -p.W && pad_h <= kMaxPad && pad_w <= kMaxPad,
          "the padding is out of range");
  require(p.Ho() >= 1 && p.Wo() >= 1, "the kernel is larger than the padded input");
  return p;
}

template <class T>
void forward(const In<T>& x, const In<T>& w, const py::object& bias, index_t pad_h,
             index_t pad_w, py::array_t<T, py::array::c_style>& out, int n_threads) {
  const Problem p = problem(x, w, pad_h, pad_w);
  require_shape(out, "out", {p.N, p.F, p.Ho(), p.Wo()});
  require(out.writeable(), "out must be writeable");
  const T* bias_data = nullptr;
  In<T> bias_array;
  if (!bias.is_none()) {
    if (!py::isinstance<In<T>>(bias))
      throw py::type_error("bias must be None or a C-contiguous array of x's dtype");
    bias_array = py::reinterpret_borrow<In<T>>(bias);
    require_shape(bias_array, "bias", {p.F});
    bias_data = bias_array.data();
  }
  require_threads(n_threads);
  T* out_data = out.mutable_data();
  py::gil_scoped_release release;
  fastml::conv::forward(p, x.data(), w.data(), bias_data, out_data, n_threads);
}

template <class T>
void weight_grad(const In<T>& grad_out, const In<T>& x, index_t pad_h, index_t pad_w,
                 py::array_t<T, py::array::c_style>& grad_w,
                 py::array_t<T, py::array::c_style>& grad_b, int n_threads) {
  const Problem p = problem(x, grad_w, pad_h, pad_w);
  require_shape(grad_out, "grad_out", {p.N, p.F, p.Ho(), p.Wo()});
  require_shape(grad_b, "grad_b", {p.F});
  require(grad_w.writeable() && grad_b.writeable(), "grad_w and grad_b must be writeable");
  require_threads(n_threads);
  T* grad_w_data = grad_w.mutable_data();
  T* grad_b_data = grad_b.mutable_data();
  py::gil_scoped_release release;
  fastml::conv::weight_grad(p, grad_out.data(), x.data(), grad_w_data, grad_b_data, n_threads);
}

template <class T>
void define_for(py::module_& m) {
  // noconvert: an array of another dtype or layout is an error, not a silent copy.
  m.def("forward", &forward<T>, py::arg("x").noconvert(), py::arg("w").noconvert(),
        py::arg("bias"), py::arg("pad_h"), py::arg("pad_w"), py::arg("out").noconvert(),
        py::arg("n_threads"),
        "OUT out (N, F, Ho, Wo) = cross-correlation of x (N, C, H, W) with w (F, C, KH, KW), "
        "stride 1, zero padding (pad_h, pad_w) (negative pads crop), plus bias (F,) or None.");
  m.def("weight_grad", &weight_grad<T>, py::arg("grad_out").noconvert(),
        py::arg("x").noconvert(), py::arg("pad_h"), py::arg("pad_w"),
        py::arg("grad_w").noconvert(), py::arg("grad_b").noconvert(), py::arg("n_threads"),
        "OUT grad_w (F, C, KH, KW), grad_b (F,): gradients of forward's filters and bias for "
        "grad_out (N, F, Ho, Wo).");
}

}  // namespace

PYBIND11_MODULE(_conv_fast, m) {
  m.doc() = "Direct 2-D convolution, stride 1 (C++, OpenMP).";
  define_for<float>(m);
  define_for<double>(m);
  m.def("simd_build", &fastml::conv::simd_target,
        "Instruction-set build of the convolution kernels chosen for this CPU.");
}
