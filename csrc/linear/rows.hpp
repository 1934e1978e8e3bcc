// Row access shared by the linear solvers that visit one sample at a time (sgd.cpp,
// dual_cd.cpp) over fastml::sgd's Dense and Csr views: a dense row's feature j is j, a CSR row's
// is its stored index, so one loop body serves both and the dense one has no index loads.
#pragma once
#include <cstddef>

#include "fastml/sgd.hpp"

namespace fastml::linear_rows {

using sgd::Csr;
using sgd::Dense;
using sgd::index_t;

struct AllColumns {
  index_t operator[](index_t j) const { return j; }
};
template <class I>
struct StoredColumns {
  const I* p;
  index_t operator[](index_t j) const { return static_cast<index_t>(p[j]); }
};
template <class T, class Columns>
struct Row {
  const T* v;
  Columns col;
  index_t nnz;
};

template <class T>
Row<T, AllColumns> row(const Dense<T>& x, index_t i) {
  return {x.x + i * x.d, AllColumns{}, x.d};
}
template <class T, class I>
Row<T, StoredColumns<I>> row(const Csr<T, I>& x, index_t i) {
  const index_t begin = x.indptr[i];
  return {x.data + begin, StoredColumns<I>{x.indices + begin}, x.indptr[i + 1] - begin};
}

// Asks for the cache lines of row i ahead of its turn: rows visited in a shuffled order defeat
// the hardware prefetcher, and a row read from memory costs more than its update.
template <class T>
void prefetch(const T* begin, index_t count) {
  const char* p = reinterpret_cast<const char*>(begin);
  const char* end = reinterpret_cast<const char*>(begin + count);
  for (; p < end; p += 64) __builtin_prefetch(p);
}
template <class T>
void prefetch_row(const Dense<T>& x, index_t i) {
  prefetch(x.x + i * x.d, x.d);
}
template <class T, class I>
void prefetch_row(const Csr<T, I>& x, index_t i) {
  const index_t begin = x.indptr[i], nnz = x.indptr[i + 1] - begin;
  prefetch(x.data + begin, nnz);
  prefetch(x.indices + begin, nnz);
}

}  // namespace fastml::linear_rows
