// Argument checks shared by the booster's two bindings (fastml.ensemble._boost_fast, the grower
// and prediction; _boost_dist_fast, the distributed booster's histograms and split search).
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "fastml/binding_checks.hpp"
#include "fastml/boost.hpp"

namespace fastml::bindings {

template <class T>
bool has_dtype(const pybind11::array& a) {
  return pybind11::isinstance<pybind11::array_t<T>>(a) && (a.flags() & pybind11::array::c_style);
}

// The data of a C-contiguous array of dtype T and the given shape (ValueError otherwise).
template <class T>
const T* checked(const pybind11::array& a, const char* name,
                 std::initializer_list<std::ptrdiff_t> shape) {
  require(has_dtype<T>(a), std::string(name) + " must be a C-contiguous array of the core's dtype");
  require_shape(a, name, shape);
  return static_cast<const T*>(a.data());
}
template <class T>
T* checked_out(pybind11::array& a, const char* name, std::initializer_list<std::ptrdiff_t> shape) {
  checked<T>(a, name, shape);
  require(a.writeable(), std::string(name) + " must be writeable");
  return static_cast<T*>(a.mutable_data());
}

// A split search's per-feature constraints: monotonic_cst (int8, -1, 0 or 1; or None) into
// p.monotonic_cst, is_categorical (uint8, or None) into data.is_categorical; a categorical
// feature may not be monotonic. F features.
inline void set_feature_constraints(const pybind11::object& monotonic_cst,
                                    const pybind11::object& is_categorical, boost::index_t F,
                                    boost::GrowParams& p, boost::Data& data) {
  if (!monotonic_cst.is_none()) {
    const pybind11::array cst = monotonic_cst.cast<pybind11::array>();
    const std::int8_t* c = checked<std::int8_t>(cst, "monotonic_cst", {F});
    for (boost::index_t f = 0; f < F; ++f)
      require(c[f] >= -1 && c[f] <= 1, "monotonic_cst must be -1, 0 or 1");
    p.monotonic_cst.assign(c, c + F);
  }
  if (!is_categorical.is_none()) {
    const pybind11::array cat = is_categorical.cast<pybind11::array>();
    data.is_categorical = checked<std::uint8_t>(cat, "is_categorical", {F});
    for (boost::index_t f = 0; f < F; ++f)
      require(!data.is_categorical[f] || p.monotonic_cst.empty() || p.monotonic_cst[f] == 0,
              "Categorical features cannot have monotonic constraints.");
  }
}

}  // namespace fastml::bindings
