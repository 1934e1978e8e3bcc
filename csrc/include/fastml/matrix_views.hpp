// The kernels' views of a matrix handed over from NumPy or scipy: borrowed pointers and extents,
// no ownership. The bindings build them with dense_view/csr_view (binding_checks.hpp), which check
// every array before a kernel sees it, so kernels read them without further checks.
#pragma once

#include <cstddef>

namespace fastml {

// n rows of d values, row-major and contiguous.
template <class T>
struct DenseRows {
  const T* x;
  std::ptrdiff_t n;
  std::ptrdiff_t d;
};

// n rows of d columns as scipy's CSR stores them: row i's values are data[indptr[i]:indptr[i+1]]
// in columns indices[...]. Column indices within a row need not be sorted and may repeat (the
// repeats add up, as scipy reads them).
template <class T, class I>
struct CsrRows {
  const I* indptr;  // n + 1 offsets, from 0
  const I* indices;
  const T* data;
  std::ptrdiff_t n;
  std::ptrdiff_t d;
};

}  // namespace fastml
