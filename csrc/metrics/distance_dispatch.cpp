// Chooses, once per process, the widest instruction-set build of the distance kernels that this
// CPU supports, and forwards the public entry points to it.
#include "fastml/distances.hpp"
#include "fastml/isa.hpp"

namespace fastml::distances {
namespace {

const IsaChoice<KernelTable>& selected() {
  static const IsaChoice<KernelTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

}  // namespace

std::size_t dense_tile_workspace_bytes(index_t n_rows, index_t n_cols, index_t dim,
                                       std::size_t elem_size) {
  const index_t panel_rows = y_panel_rows(dim, elem_size, n_cols);
  return packed_bytes(n_rows, kMaxRowBlock, dim, elem_size) +
         packed_bytes(panel_rows, kMaxColBlock, dim, elem_size) +
         packed_bytes(panel_rows, kMaxColBlock, 1, sizeof(double));
}

void dense_tile(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
                const double* x_aux, const double* y_aux, double p, float* out, index_t ldo,
                void* workspace) {
  selected().table.dense_f32(metric, x, nx, y, ny, dim, x_aux, y_aux, p, out, ldo, workspace);
}

void dense_tile(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
                const double* x_aux, const double* y_aux, double p, double* out, index_t ldo,
                void* workspace) {
  selected().table.dense_f64(metric, x, nx, y, ny, dim, x_aux, y_aux, p, out, ldo, workspace);
}

void bool_tile(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y, index_t ny,
               index_t n_words, index_t dim, double* out, index_t ldo) {
  selected().table.bool_tile(metric, x, nx, y, ny, n_words, dim, out, ldo);
}

std::size_t knn_block_workspace_bytes(index_t nx, index_t dim, std::size_t elem_size) {
  return packed_bytes(nx, kMaxRowBlock, dim, elem_size) +
         packed_bytes(y_panel_rows(dim, elem_size), kMaxColBlock, dim, elem_size);
}

void knn_block(int metric, const float* x, index_t nx, const float* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
               double* heap_keys, std::int64_t* heap_idx, index_t ldh, void* workspace) {
  selected().table.knn_f32(metric, x, nx, y, ny, dim, x_aux, y_aux, p, y_offset, k, heap_keys,
                           heap_idx, ldh, workspace);
}

void knn_block(int metric, const double* x, index_t nx, const double* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t y_offset, index_t k,
               double* heap_keys, std::int64_t* heap_idx, index_t ldh, void* workspace) {
  selected().table.knn_f64(metric, x, nx, y, ny, dim, x_aux, y_aux, p, y_offset, k, heap_keys,
                           heap_idx, ldh, workspace);
}

void knn_block_bool(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y,
                    index_t ny, index_t n_words, index_t dim, index_t y_offset, index_t k,
                    double* heap_keys, std::int64_t* heap_idx, index_t ldh) {
  selected().table.knn_bool(metric, x, nx, y, ny, n_words, dim, y_offset, k, heap_keys, heap_idx,
                            ldh);
}

const char* simd_target() { return selected().name; }

}  // namespace fastml::distances
