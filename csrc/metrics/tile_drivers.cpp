// The store and top-k loops of the distance core as Reducers of fastml::for_each_task: each
// names how a task index maps to a tile and which kernel of distances.hpp reduces it; the loop
// itself (threads, workspaces, failure) is tile_loop.hpp's, shared with the radius search.
#include <algorithm>
#include <cstdint>
#include <memory>

#include "fastml/distance_tiles.hpp"
#include "fastml/distances.hpp"
#include "fastml/tile_loop.hpp"

namespace fastml::distances {
namespace {

// A thread's scratch memory for the kernels, 64-byte aligned; empty for the boolean kernels.
class AlignedWorkspace {
 public:
  void allocate(std::size_t bytes) {
    if (bytes == 0) return;
    raw_.reset(new char[bytes + 64]);
    const auto address = reinterpret_cast<std::uintptr_t>(raw_.get());
    aligned_ = raw_.get() + ((64 - address % 64) % 64);
  }
  void* get() const { return aligned_; }

 private:
  std::unique_ptr<char[]> raw_;
  void* aligned_ = nullptr;
};

// Task t is the tile (t / n_tj, t % n_tj) of ti x tj points.
struct TileGrid {
  index_t nx, ny, ti, tj, n_tj;
  TileGrid(index_t nx_, index_t ny_, index_t ti_, index_t tj_)
      : nx(nx_), ny(ny_), ti(ti_), tj(tj_), n_tj((ny_ + tj_ - 1) / tj_) {}
  index_t n_tasks() const { return ((nx + ti - 1) / ti) * n_tj; }
  index_t i0(index_t t) const { return (t / n_tj) * ti; }
  index_t j0(index_t t) const { return (t % n_tj) * tj; }
  index_t ni(index_t t) const { return std::min(ti, nx - i0(t)); }
  index_t nj(index_t t) const { return std::min(tj, ny - j0(t)); }
};

// Task t is query block t / n_seg against training segment t % n_seg.
struct SegmentGrid {
  index_t nq, ny, rows, n_seg, seg_len;
  index_t n_tasks() const { return ((nq + rows - 1) / rows) * n_seg; }
  index_t i0(index_t t) const { return (t / n_seg) * rows; }
  index_t seg(index_t t) const { return t % n_seg; }
  index_t j0(index_t t) const { return seg(t) * seg_len; }
  index_t ni(index_t t) const { return std::min(rows, nq - i0(t)); }
  index_t nj(index_t t) const { return std::min(seg_len, ny - j0(t)); }
};

template <class T>
struct StoreReducer {
  using Workspace = AlignedWorkspace;
  int metric;
  const T *x, *y;
  index_t dim;
  const double *x_aux, *y_aux;
  double p;
  T* out;
  TileGrid grid;

  void init(Workspace& w) const {
    w.allocate(dense_tile_workspace_bytes(grid.ti, grid.tj, dim, sizeof(T)));
  }
  void task(index_t t, Workspace& w) const {
    const index_t i0 = grid.i0(t), j0 = grid.j0(t);
    dense_tile(metric, x + i0 * dim, grid.ni(t), y + j0 * dim, grid.nj(t), dim,
               x_aux ? x_aux + i0 : nullptr, y_aux ? y_aux + j0 : nullptr, p,
               out + i0 * grid.ny + j0, grid.ny, w.get());
  }
};

struct StoreBoolReducer {
  using Workspace = AlignedWorkspace;
  int metric;
  const std::uint64_t *x, *y;
  index_t n_words, dim;
  double* out;
  TileGrid grid;

  void init(Workspace&) const {}
  void task(index_t t, Workspace&) const {
    const index_t i0 = grid.i0(t), j0 = grid.j0(t);
    bool_tile(metric, x + i0 * n_words, grid.ni(t), y + j0 * n_words, grid.nj(t), n_words, dim,
              out + i0 * grid.ny + j0, grid.ny);
  }
};

template <class T>
struct KnnReducer {
  using Workspace = AlignedWorkspace;
  int metric;
  const T *x, *y;
  index_t dim;
  const double *x_aux, *y_aux;
  double p;
  index_t k;
  double* keys;
  std::int64_t* idx;
  SegmentGrid grid;

  void init(Workspace& w) const {
    w.allocate(knn_block_workspace_bytes(grid.rows, dim, sizeof(T)));
  }
  void task(index_t t, Workspace& w) const {
    const index_t i0 = grid.i0(t), j0 = grid.j0(t), ldh = grid.n_seg * k;
    const index_t col = grid.seg(t) * k;
    knn_block(metric, x + i0 * dim, grid.ni(t), y + j0 * dim, grid.nj(t), dim,
              x_aux ? x_aux + i0 : nullptr, y_aux ? y_aux + j0 : nullptr, p, j0, k,
              keys + i0 * ldh + col, idx + i0 * ldh + col, ldh, w.get());
  }
};

struct KnnBoolReducer {
  using Workspace = AlignedWorkspace;
  int metric;
  const std::uint64_t *x, *y;
  index_t n_words, dim, k;
  double* keys;
  std::int64_t* idx;
  SegmentGrid grid;

  void init(Workspace&) const {}
  void task(index_t t, Workspace&) const {
    const index_t i0 = grid.i0(t), j0 = grid.j0(t), ldh = grid.n_seg * k;
    const index_t col = grid.seg(t) * k;
    knn_block_bool(metric, x + i0 * n_words, grid.ni(t), y + j0 * n_words, grid.nj(t), n_words,
                   dim, j0, k, keys + i0 * ldh + col, idx + i0 * ldh + col, ldh);
  }
};

template <class Reducer>
void run(Reducer reducer, index_t n_tasks, int n_threads) {
  for_each_task(n_tasks, n_threads, reducer);
}

}  // namespace

template <class T>
void store_tiles(int metric, const T* x, index_t nx, const T* y, index_t ny, index_t dim,
                 const double* x_aux, const double* y_aux, double p, T* out, index_t ti,
                 index_t tj, int n_threads) {
  const TileGrid grid(nx, ny, ti, tj);
  run(StoreReducer<T>{metric, x, y, dim, x_aux, y_aux, p, out, grid}, grid.n_tasks(),
      n_threads);
}

void store_bool_tiles(int metric, const std::uint64_t* x, index_t nx, const std::uint64_t* y,
                      index_t ny, index_t n_words, index_t dim, double* out, index_t ti,
                      index_t tj, int n_threads) {
  const TileGrid grid(nx, ny, ti, tj);
  run(StoreBoolReducer{metric, x, y, n_words, dim, out, grid}, grid.n_tasks(), n_threads);
}

template <class T>
void knn_tiles(int metric, const T* x, index_t nq, const T* y, index_t ny, index_t dim,
               const double* x_aux, const double* y_aux, double p, index_t k, index_t rows,
               index_t n_seg, index_t seg_len, double* cand_keys, std::int64_t* cand_idx,
               int n_threads) {
  const SegmentGrid grid{nq, ny, rows, n_seg, seg_len};
  run(KnnReducer<T>{metric, x, y, dim, x_aux, y_aux, p, k, cand_keys, cand_idx, grid},
      grid.n_tasks(), n_threads);
}

void knn_bool_tiles(int metric, const std::uint64_t* x, index_t nq, const std::uint64_t* y,
                    index_t ny, index_t n_words, index_t dim, index_t k, index_t rows,
                    index_t n_seg, index_t seg_len, double* cand_keys, std::int64_t* cand_idx,
                    int n_threads) {
  const SegmentGrid grid{nq, ny, rows, n_seg, seg_len};
  run(KnnBoolReducer{metric, x, y, n_words, dim, k, cand_keys, cand_idx, grid}, grid.n_tasks(),
      n_threads);
}

template void store_tiles(int, const float*, index_t, const float*, index_t, index_t,
                          const double*, const double*, double, float*, index_t, index_t, int);
template void store_tiles(int, const double*, index_t, const double*, index_t, index_t,
                          const double*, const double*, double, double*, index_t, index_t, int);
template void knn_tiles(int, const float*, index_t, const float*, index_t, index_t, const double*,
                        const double*, double, index_t, index_t, index_t, index_t, double*,
                        std::int64_t*, int);
template void knn_tiles(int, const double*, index_t, const double*, index_t, index_t,
                        const double*, const double*, double, index_t, index_t, index_t, index_t,
                        double*, std::int64_t*, int);

}  // namespace fastml::distances
