// The tiled loops of fastml.metrics._pairwise_fast, each a Reducer of fastml::for_each_task
// (fastml/tile_loop.hpp): storing tiles of a distance matrix, and keeping per-query heaps of the
// k best. The Cython layer sizes the tiles and checks the arguments; these run the tasks with the
// GIL released and throw std::bad_alloc (MemoryError in Python) when a thread's workspace cannot
// be allocated.
#pragma once

#include <cstddef>
#include <cstdint>

#include "fastml/distances.hpp"

namespace fastml::distances {

// out[i, j] = metric(x[i], y[j]) for the nx x ny matrix, row stride ny, in tiles of ti x tj
// (dense_tile; x_aux, y_aux and p as dense_tile takes them).
template <class T>
void store_tiles(int metric, const T* x, index_t nx, const T* y, index_t ny, index_t dim,
                 const double* x_aux, const double* y_aux, double p, T* out, index_t ti,
                 index_t tj, int n_threads);
// The same for bit-packed booleans (bool_tile), n_words per row.
void store_bool_tiles(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y,
                      index_t ny, index_t n_words, index_t dim, double* out, index_t ti,
                      index_t tj, int n_threads);

// The heaps of knn_block for query blocks of `rows` rows times training segments of seg_len
// rows: block b, segment s fills columns [s * k, (s + 1) * k) of the candidate rows of its
// queries (row stride n_seg * k).
template <class T>
void knn_tiles(int metric, const T* x, index_t nq, const T* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t k, index_t rows,
               index_t n_seg, index_t seg_len, double* cand_keys, std::int64_t* cand_idx,
               int n_threads);
void knn_bool_tiles(int metric, const std::uint64_t* x, index_t nq, const std::uint64_t* y,
                    index_t ny, index_t n_words, index_t dim, index_t k, index_t rows,
                    index_t n_seg, index_t seg_len, double* cand_keys, std::int64_t* cand_idx,
                    int n_threads);

}  // namespace fastml::distances
