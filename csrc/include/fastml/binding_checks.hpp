// Entry checks shared by the pybind11 modules in csrc/bindings: each raises ValueError with a
// message that names the argument, before any work or any write.
#pragma once

#include <pybind11/pybind11.h>

#include <cstddef>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace fastml::bindings {

// A literal message becomes a std::string only when the check fails: some checks run once per
// node or per label, where building it every time cost more than the work they guard.
template <class Message>
void require(bool ok, const Message& message) {
  if (!ok) throw std::invalid_argument(std::string(message));
}

// `a` (a NumPy array) has exactly the given shape.
template <class A>
void require_shape(const A& a, const char* name, std::initializer_list<std::ptrdiff_t> shape) {
  bool ok = a.ndim() == static_cast<pybind11::ssize_t>(shape.size());
  pybind11::ssize_t axis = 0;
  for (std::ptrdiff_t extent : shape) ok = ok && a.shape(axis++) == extent;
  require(ok, std::string(name) + " has the wrong shape");
}

inline void require_threads(int n_threads) {
  require(n_threads >= 1, "n_threads must be >= 1");
}

}  // namespace fastml::bindings
