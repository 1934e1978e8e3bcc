// Recommender drivers (see fastml/recommend.hpp): memory, the plan of the implicit ALS sweep,
// the OpenMP loops. Every result is computed per row (or per rating) in an order fixed by the
// data alone, so nothing depends on the thread count.
#include "fastml/recommend.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>
#include <new>
#include <vector>

#include "fastml/isa.hpp"
#include "fastml/openmp_helpers.h"

namespace fastml::recommend {
namespace {

const IsaChoice<RecommendTable>& selected() {
  static const IsaChoice<RecommendTable> choice =
      choose_isa(FASTML_IF_ISA_V4(&x86_64_v4::kernel_table),
                 FASTML_IF_ISA_V3(&x86_64_v3::kernel_table), &baseline::kernel_table);
  return choice;
}

template <class T> const Kernels<T>& kernels() { return kernels_for<T>(selected().table); }

// A zero-filled, 64-byte aligned array (the kernels' vectors are padded with zeros).
template <class T>
struct Buffer {
  struct Free {
    void operator()(T* p) const { std::free(p); }
  };
  std::unique_ptr<T, Free> data;
  explicit Buffer(std::size_t n) {
    const std::size_t bytes = std::max<std::size_t>(64, (n * sizeof(T) + 63) / 64 * 64);
    void* p = std::aligned_alloc(64, bytes);
    if (!p) throw std::bad_alloc();
    std::memset(p, 0, bytes);
    data.reset(static_cast<T*>(p));
  }
  T* get() const { return data.get(); }
};

// Threads for a loop of `tasks` tasks holding `work` multiply-adds in all: no more than the tasks,
// and each with min_thread_work() at least (starting a thread costs microseconds on an idle
// machine, milliseconds on a loaded one: small calls run on one). Results never depend on it.
std::atomic<double> g_min_thread_work{double(1 << 18)};

int threads_for(index_t tasks, int n_threads, double work) {
  const double by_work = std::max(1.0, std::floor(work / std::max(1.0, min_thread_work())));
  return static_cast<int>(std::max<double>(
      1.0, std::min({static_cast<double>(tasks), static_cast<double>(n_threads), by_work})));
}

// Solve A w = b for symmetric positive definite A (n x n, float64, overwritten by its Cholesky
// factor); b becomes w. False, leaving b undefined, when a pivot is not positive (singular
// normal equations, as with regularization 0 and fewer entries than factors).
bool cholesky_solve(double* A, double* b, index_t n) {
  for (index_t j = 0; j < n; ++j) {
    double d = A[j * n + j];
    for (index_t m = 0; m < j; ++m) d -= A[j * n + m] * A[j * n + m];
    if (!(d > 0.0)) return false;
    d = std::sqrt(d);
    A[j * n + j] = d;
    for (index_t i = j + 1; i < n; ++i) {
      double s = A[i * n + j];
      for (index_t m = 0; m < j; ++m) s -= A[i * n + m] * A[j * n + m];
      A[i * n + j] = s / d;
    }
  }
  for (index_t i = 0; i < n; ++i) {  // L z = b
    double s = b[i];
    for (index_t m = 0; m < i; ++m) s -= A[i * n + m] * b[m];
    b[i] = s / A[i * n + i];
  }
  for (index_t i = n - 1; i >= 0; --i) {  // L^T w = z
    double s = b[i];
    for (index_t m = i + 1; m < n; ++m) s -= A[m * n + i] * b[m];
    b[i] = s / A[i * n + i];
  }
  return true;
}

double dot_double(const double* a, const double* b, index_t n) {
  double s = 0.0;
  for (index_t f = 0; f < n; ++f) s += a[f] * b[f];
  return s;
}

template <class T>
double dot_wide(const T* a, const T* b, index_t n) {
  double s = 0.0;
  for (index_t f = 0; f < n; ++f) s += static_cast<double>(a[f]) * static_cast<double>(b[f]);
  return s;
}

// ---- implicit ALS --------------------------------------------------------------------------------

// Rows solved together: one task. Their gathered factor rows (kBlockBytes at most) stay in the
// L2 cache through the conjugate gradient steps, and the products with the Gram matrix are one
// register-tiled product per step for the whole block.
constexpr index_t kBlockRows = 64;
constexpr std::size_t kBlockBytes = std::size_t(256) << 10;
// A row with more entries than a block holds is long: its passes are split into chunks of
// kChunkEntries entries that threads take in parallel (on skewed data a popular item's row holds
// most users, and a block that waited on it would leave the other threads idle). The chunks'
// partial sums are added in chunk order: the split depends on the row length only.
constexpr index_t kChunkEntries = 512;
constexpr double kConverged = 1e-20;

template <class T>
struct Layout {
  index_t k, kp, block_entries;
  explicit Layout(index_t k_)
      : k(k_), kp(padded(k_, kLanes<T>)),
        block_entries(std::max<index_t>(
            kBlockRows, static_cast<index_t>(kBlockBytes / (padded(k_, kLanes<T>) * sizeof(T))))) {}
};

// A row holding more than this share of a sweep's entries has its passes split (see
// kChunkEntries); other long rows are one task each, so that no task holds more than a share of
// the sweep that the other threads can balance. Fixed (not the thread count): results must not
// depend on it.
constexpr index_t kSplitShare = 16;

// The tasks of one side's sweep. Task t solves rows[task_start[t] .. task_start[t + 1]): the
// first n_alone tasks are single long rows read in place, longest first (the rest of the work
// balances them); then blocks of short rows, gathered. split_rows: the rows whose passes are
// split into chunks.
struct Plan {
  std::vector<index_t> rows, task_start, split_rows;
  index_t n_alone = 0;
};

template <class T>
Plan plan_rows(const Rows<T>& rows, index_t block_entries) {
  Plan plan;
  const index_t nnz = rows.indptr[rows.n_rows] - rows.indptr[0];
  const index_t split_above = std::max(block_entries, nnz / kSplitShare);
  auto len = [&](index_t r) { return rows.indptr[r + 1] - rows.indptr[r]; };
  std::vector<index_t> alone;
  for (index_t r = 0; r < rows.n_rows; ++r) {
    if (len(r) > split_above)
      plan.split_rows.push_back(r);
    else if (len(r) > block_entries)
      alone.push_back(r);
  }
  std::stable_sort(alone.begin(), alone.end(), [&](index_t a, index_t b) { return len(a) > len(b); });
  for (index_t r : alone) {
    plan.task_start.push_back(static_cast<index_t>(plan.rows.size()));
    plan.rows.push_back(r);
  }
  plan.n_alone = static_cast<index_t>(alone.size());
  index_t entries = 0, in_block = kBlockRows;
  for (index_t r = 0; r < rows.n_rows; ++r) {
    if (len(r) > block_entries) continue;
    if (in_block == kBlockRows || entries + len(r) > block_entries) {
      plan.task_start.push_back(static_cast<index_t>(plan.rows.size()));
      entries = in_block = 0;
    }
    plan.rows.push_back(r);
    entries += len(r);
    ++in_block;
  }
  plan.task_start.push_back(static_cast<index_t>(plan.rows.size()));
  return plan;
}

// One thread's work space for a block of short rows.
template <class T>
struct BlockWork {
  Buffer<T> Yg, c, X, R, P, AP;
  std::vector<index_t> start;
  std::vector<double> rs;
  BlockWork(const Layout<T>& lay)
      : Yg(static_cast<std::size_t>(lay.block_entries * lay.kp)),
        c(static_cast<std::size_t>(lay.block_entries)),
        X(static_cast<std::size_t>(kBlockRows * lay.kp)),
        R(static_cast<std::size_t>(kBlockRows * lay.kp)),
        P(static_cast<std::size_t>(kBlockRows * lay.kp)),
        AP(static_cast<std::size_t>(kBlockRows * lay.kp)),
        start(kBlockRows + 1), rs(kBlockRows) {}
};

// x (kp) of one row solved exactly from its n entries (src, c) in float64: A = gram_reg +
// Y^T (C - I) Y, b = Y^T C p. work: k * k + k doubles. False when A is singular (x is NaN).
template <class T>
bool implicit_exact(const Source<T>& src, const T* c, index_t n, index_t k, const T* gram_reg,
                    double* work, T* x) {
  double* A = work;
  double* b = work + k * k;
  for (index_t f = 0; f < k * k; ++f) A[f] = static_cast<double>(gram_reg[f]);
  std::fill(b, b + k, 0.0);
  for (index_t j = 0; j < n; ++j) {
    const T* y = src.base + (src.index ? src.index[j] : j) * src.stride;
    const double cj = static_cast<double>(c[j]);
    for (index_t f = 0; f < k; ++f) {
      const double yf = static_cast<double>(y[f]);
      b[f] += cj * yf;
      const double wf = (cj - 1.0) * yf;
      double* Af = A + f * k;
      for (index_t g = 0; g < k; ++g) Af[g] += wf * static_cast<double>(y[g]);
    }
  }
  const bool solved = cholesky_solve(A, b, k);
  for (index_t f = 0; f < k; ++f)
    x[f] = solved ? static_cast<T>(b[f]) : std::numeric_limits<T>::quiet_NaN();
  return solved;
}

// Conjugate gradient on a block of rows in lockstep (see kBlockRows). gathered: the block's
// factor rows are copied once into the work space (with prefetch hints: they are random rows of
// Y) and the passes read them from the cache; else the block is one long row, read in place.
template <class T>
void solve_block(const Rows<T>& rows, const index_t* ids, index_t nb, bool gathered, T* X,
                 const T* Y, const Layout<T>& lay, const T* G, int cg_steps, double* row_loss,
                 BlockWork<T>& w) {
  const Kernels<T>& K = kernels<T>();
  const index_t k = lay.k, kp = lay.kp;
  index_t total = 0;
  for (index_t b = 0; b < nb; ++b) {
    const index_t r = ids[b], lo = rows.indptr[r], hi = rows.indptr[r + 1];
    w.start[b] = total;
    if (gathered)
      K.gather(Y, k, rows.indices + lo, rows.values + lo, hi - lo, kp, w.Yg.get() + total * kp,
               w.c.get() + total);
    total += hi - lo;
    // No entries: the minimiser is exactly zero.
    T* xb = w.X.get() + b * kp;
    if (hi > lo)
      std::memcpy(xb, X + r * k, sizeof(T) * k);
    else
      std::fill(xb, xb + k, T(0));
  }
  w.start[nb] = total;
  const index_t first = rows.indptr[ids[0]];
  auto src = [&](index_t b) {
    return gathered ? Source<T>{w.Yg.get() + w.start[b] * kp, kp, nullptr}
                    : Source<T>{Y, k, rows.indices + first + w.start[b]};
  };
  auto len = [&](index_t b) { return w.start[b + 1] - w.start[b]; };
  auto conf = [&](index_t b) {
    return gathered ? w.c.get() + w.start[b] : rows.values + first + w.start[b];
  };
  T* Xb = w.X.get();
  T* R = w.R.get();
  T* P = w.P.get();
  T* AP = w.AP.get();
  K.times_gram(Xb, nb, k, kp, G, R);  // r = Y^T C p - (Y^T C Y + reg I) x
  for (index_t b = 0; b < nb; ++b) {
    T* rb = R + b * kp;
    for (index_t f = 0; f < k; ++f) rb[f] = -rb[f];
    K.residual_pass(src(b), conf(b), len(b), k, Xb + b * kp, rb);
    w.rs[b] = static_cast<double>(K.dot(rb, rb, kp));
  }
  std::memcpy(P, R, sizeof(T) * nb * kp);
  for (int step = 0; step < cg_steps; ++step) {
    K.times_gram(P, nb, k, kp, G, AP);
    for (index_t b = 0; b < nb; ++b) {
      if (w.rs[b] < kConverged) continue;  // converged (or an empty row, solved already)
      K.conjugate_pass(src(b), conf(b), len(b), k, P + b * kp, AP + b * kp);
      K.cg_update(Xb + b * kp, R + b * kp, P + b * kp, AP + b * kp, kp, w.rs[b], kConverged);
    }
  }
  for (index_t b = 0; b < nb; ++b) std::memcpy(X + ids[b] * k, Xb + b * kp, sizeof(T) * k);
  if (row_loss) {
    K.times_gram(Xb, nb, k, kp, G, AP);
    for (index_t b = 0; b < nb; ++b)
      row_loss[ids[b]] = static_cast<double>(K.dot(Xb + b * kp, AP + b * kp, kp)) +
                         K.loss_pass(src(b), conf(b), len(b), k, Xb + b * kp);
  }
}

// The exact solve of every row (cg_steps == 0), one row per iteration, reading Y in place: the
// products Y^T (C - I) Y cost k times the reads, so a gathered copy would not pay.
template <class T>
index_t implicit_exact_sweep(const Rows<T>& rows, T* X, const T* Y, index_t k,
                             const T* gram_reg, double* row_loss, int n_threads) {
  const Kernels<T>& K = kernels<T>();
  const double kd = static_cast<double>(k);
  const int threads = threads_for(
      rows.n_rows, n_threads,
      static_cast<double>(rows.indptr[rows.n_rows] - rows.indptr[0]) * kd * kd +
          static_cast<double>(rows.n_rows) * kd * kd * kd / 3);
  std::vector<std::vector<double>> work(static_cast<std::size_t>(threads),
                                        std::vector<double>(static_cast<std::size_t>(k * k + k)));
  index_t singular = 0;
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16) reduction(+ : singular)
  for (index_t r = 0; r < rows.n_rows; ++r) {
    const index_t lo = rows.indptr[r], n = rows.indptr[r + 1] - lo;
    const Source<T> src{Y, k, rows.indices + lo};
    T* x = X + r * k;
    if (n == 0)  // no entries: the minimiser is exactly zero
      std::fill(x, x + k, T(0));
    else if (!implicit_exact(src, rows.values + lo, n, k, gram_reg, work[omp_get_thread_num()].data(), x))
      ++singular;
    if (row_loss) {
      double loss = 0.0;
      for (index_t f = 0; f < k; ++f)
        loss += static_cast<double>(x[f]) * dot_wide(gram_reg + f * k, x, k);
      row_loss[r] = loss + (n ? K.loss_pass(src, rows.values + lo, n, k, x) : 0.0);
    }
  }
  return singular;
}

// Conjugate gradient on the long rows, all in lockstep: each pass is a parallel loop over their
// chunks, whose partial sums are then added per row in chunk order.
template <class T>
void solve_long_rows(const Rows<T>& rows, const std::vector<index_t>& ids, T* X, const T* Y,
                     const Layout<T>& lay, const T* G, int cg_steps, double* row_loss,
                     int n_threads) {
  const Kernels<T>& K = kernels<T>();
  const index_t k = lay.k, kp = lay.kp, n = static_cast<index_t>(ids.size());
  struct Chunk {
    index_t row, begin, end;
  };
  std::vector<Chunk> chunks;
  std::vector<index_t> first_chunk(static_cast<std::size_t>(n + 1));
  for (index_t l = 0; l < n; ++l) {
    first_chunk[l] = static_cast<index_t>(chunks.size());
    for (index_t j = rows.indptr[ids[l]]; j < rows.indptr[ids[l] + 1]; j += kChunkEntries)
      chunks.push_back({l, j, std::min(j + kChunkEntries, rows.indptr[ids[l] + 1])});
  }
  first_chunk[n] = static_cast<index_t>(chunks.size());
  const index_t n_chunks = first_chunk[n];
  const int threads = threads_for(n_chunks, n_threads,
                                  2.0 * static_cast<double>(n_chunks * kChunkEntries * k));
  const std::size_t state = static_cast<std::size_t>(n * kp);
  Buffer<T> Xl(state), R(state), P(state), AP(state);
  Buffer<T> partial(static_cast<std::size_t>(n_chunks * kp));
  std::vector<double> rs(static_cast<std::size_t>(n)), chunk_loss(static_cast<std::size_t>(n_chunks));
  for (index_t l = 0; l < n; ++l) std::memcpy(Xl.get() + l * kp, X + ids[l] * k, sizeof(T) * k);

  // One pass: partial[c] = the chunk's sum for its row's vector V[row] (skipping converged rows).
  auto pass = [&](bool residual, const T* V) {
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (index_t c = 0; c < n_chunks; ++c) {
      const Chunk ch = chunks[c];
      T* out = partial.get() + c * kp;
      std::fill(out, out + kp, T(0));
      if (!residual && rs[ch.row] < kConverged) continue;
      const Source<T> src{Y, k, rows.indices + ch.begin};
      (residual ? K.residual_pass : K.conjugate_pass)(src, rows.values + ch.begin,
                                                      ch.end - ch.begin, k, V + ch.row * kp, out);
    }
  };
  auto add_partials = [&](index_t l, T* out) {
    for (index_t c = first_chunk[l]; c < first_chunk[l + 1]; ++c)
      for (index_t f = 0; f < k; ++f) out[f] += partial.get()[c * kp + f];
  };

  K.times_gram(Xl.get(), n, k, kp, G, R.get());
  for (index_t i = 0; i < n * kp; ++i) R.get()[i] = -R.get()[i];
  pass(true, Xl.get());
  for (index_t l = 0; l < n; ++l) {
    add_partials(l, R.get() + l * kp);
    rs[l] = static_cast<double>(K.dot(R.get() + l * kp, R.get() + l * kp, kp));
  }
  std::memcpy(P.get(), R.get(), sizeof(T) * state);
  for (int step = 0; step < cg_steps; ++step) {
    K.times_gram(P.get(), n, k, kp, G, AP.get());
    pass(false, P.get());
    for (index_t l = 0; l < n; ++l) {
      if (rs[l] < kConverged) continue;
      add_partials(l, AP.get() + l * kp);
      K.cg_update(Xl.get() + l * kp, R.get() + l * kp, P.get() + l * kp, AP.get() + l * kp, kp,
                  rs[l], kConverged);
    }
  }
  for (index_t l = 0; l < n; ++l) std::memcpy(X + ids[l] * k, Xl.get() + l * kp, sizeof(T) * k);
  if (row_loss) {
    K.times_gram(Xl.get(), n, k, kp, G, AP.get());
#pragma omp parallel for num_threads(threads) schedule(dynamic)
    for (index_t c = 0; c < n_chunks; ++c) {
      const Chunk ch = chunks[c];
      const Source<T> src{Y, k, rows.indices + ch.begin};
      chunk_loss[c] = K.loss_pass(src, rows.values + ch.begin, ch.end - ch.begin, k,
                                  Xl.get() + ch.row * kp);
    }
    for (index_t l = 0; l < n; ++l) {
      double loss = static_cast<double>(K.dot(Xl.get() + l * kp, AP.get() + l * kp, kp));
      for (index_t c = first_chunk[l]; c < first_chunk[l + 1]; ++c) loss += chunk_loss[c];
      row_loss[ids[l]] = loss;
    }
  }
}

}  // namespace

const char* simd_target() { return selected().name; }

double min_thread_work() { return g_min_thread_work.load(std::memory_order_relaxed); }
void set_min_thread_work(double work) { g_min_thread_work.store(work, std::memory_order_relaxed); }

template <class T>
index_t implicit_sweep(const Rows<T>& rows, T* X, const T* Y, index_t k, const T* gram_reg,
                       int cg_steps, double* row_loss, int n_threads) {
  if (cg_steps == 0) return implicit_exact_sweep(rows, X, Y, k, gram_reg, row_loss, n_threads);
  const Layout<T> lay(k);
  const index_t kp = lay.kp;
  Buffer<T> G(static_cast<std::size_t>(kp * kp));  // gram_reg padded with zeros
  for (index_t f = 0; f < k; ++f) std::memcpy(G.get() + f * kp, gram_reg + f * k, sizeof(T) * k);
  const Plan plan = plan_rows(rows, lay.block_entries);
  const index_t n_tasks = static_cast<index_t>(plan.task_start.size()) - 1;
  const double work = static_cast<double>(cg_steps + 2) *
                      (2.0 * static_cast<double>(rows.indptr[rows.n_rows] - rows.indptr[0]) * k +
                       static_cast<double>(rows.n_rows) * k * k);
  const int threads = threads_for(n_tasks, n_threads, work);
  // Work spaces are allocated here, before the parallel region, so that no allocation can throw
  // inside it.
  std::vector<std::unique_ptr<BlockWork<T>>> work_spaces;
  for (int t = 0; t < threads; ++t) work_spaces.push_back(std::make_unique<BlockWork<T>>(lay));
#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (index_t t = 0; t < n_tasks; ++t)
    solve_block(rows, plan.rows.data() + plan.task_start[t],
                plan.task_start[t + 1] - plan.task_start[t], t >= plan.n_alone, X, Y, lay,
                G.get(), cg_steps, row_loss, *work_spaces[omp_get_thread_num()]);
  if (!plan.split_rows.empty())
    solve_long_rows(rows, plan.split_rows, X, Y, lay, G.get(), cg_steps, row_loss, n_threads);
  return 0;
}

template <class T>
void gram(const T* A, index_t n, index_t k, double regularization, T* out, int n_threads) {
  constexpr index_t kGramRows = 1024;  // rows summed in T; the blocks are added in float64
  const index_t kp = padded(k, kLanes<T>);
  const index_t n_blocks = (n + kGramRows - 1) / kGramRows;
  const int threads = threads_for(n_blocks, n_threads, static_cast<double>(n) * k * k / 2);
  Buffer<T> partial(static_cast<std::size_t>(std::max<index_t>(n_blocks, 1) * kp * kp));
  // Rows are copied into padded rows unless they are padded already (k a whole number of vectors).
  std::vector<std::unique_ptr<Buffer<T>>> copies;
  for (int t = 0; t < threads && k != kp; ++t)
    copies.push_back(std::make_unique<Buffer<T>>(static_cast<std::size_t>(kGramRows * kp)));
  const Kernels<T>& K = kernels<T>();
#pragma omp parallel for num_threads(threads) schedule(dynamic)
  for (index_t b = 0; b < n_blocks; ++b) {
    const index_t lo = b * kGramRows, rows = std::min(n, lo + kGramRows) - lo;
    const T* block = A + lo * k;
    if (k != kp) {
      T* copy = copies[omp_get_thread_num()]->get();
      for (index_t i = 0; i < rows; ++i) std::memcpy(copy + i * kp, A + (lo + i) * k, sizeof(T) * k);
      block = copy;
    }
    K.add_gram(block, rows, k, kp, partial.get() + b * kp * kp);
  }
  for (index_t f = 0; f < k; ++f)
    for (index_t g = f; g < k; ++g) {
      double s = f == g ? regularization : 0.0;
      for (index_t b = 0; b < n_blocks; ++b) s += static_cast<double>(partial.get()[b * kp * kp + f * kp + g]);
      out[f * k + g] = out[g * k + f] = static_cast<T>(s);
    }
}

// ---- explicit ALS --------------------------------------------------------------------------------

template <class T>
index_t explicit_sweep(const Rows<T>& rows, const T* Y, index_t k, const T* col_bias,
                       double global_mean, double regularization, bool biases, T* X, T* row_bias,
                       double* row_loss, int n_threads) {
  const index_t n = biases ? k + 1 : k;  // with biases, the row bias is one more factor
  constexpr index_t kRowsPerTask = 64;
  const index_t n_tasks = (rows.n_rows + kRowsPerTask - 1) / kRowsPerTask;
  const double nd = static_cast<double>(n);
  const int threads = threads_for(
      n_tasks, n_threads,
      static_cast<double>(rows.indptr[rows.n_rows] - rows.indptr[0]) * nd * nd +
          static_cast<double>(rows.n_rows) * nd * nd * nd / 3);
  std::vector<std::vector<double>> work(static_cast<std::size_t>(threads),
                                        std::vector<double>(static_cast<std::size_t>(n * n + 2 * n)));
  index_t singular = 0;
#pragma omp parallel for num_threads(threads) schedule(dynamic) reduction(+ : singular)
  for (index_t task = 0; task < n_tasks; ++task) {
    double* A = work[omp_get_thread_num()].data();
    double* w = A + n * n;
    double* z = w + n;
    z[n - 1] = 1.0;  // the bias feature, overwritten by y when there is no bias
    for (index_t row = task * kRowsPerTask; row < std::min(rows.n_rows, (task + 1) * kRowsPerTask); ++row) {
      const index_t lo = rows.indptr[row], hi = rows.indptr[row + 1];
      std::fill(A, A + n * n, 0.0);
      std::fill(w, w + n, 0.0);
      for (index_t f = 0; f < n; ++f) A[f * n + f] = regularization;
      for (index_t j = lo; j < hi; ++j) {
        if (j + 16 < hi) __builtin_prefetch(Y + rows.indices[j + 16] * k, 0, 3);
        const T* y = Y + rows.indices[j] * k;
        for (index_t f = 0; f < k; ++f) z[f] = static_cast<double>(y[f]);
        double t = static_cast<double>(rows.values[j]);
        if (biases) t -= global_mean + static_cast<double>(col_bias[rows.indices[j]]);
        for (index_t f = 0; f < n; ++f) {  // the full square: contiguous rows vectorise
          w[f] += t * z[f];
          const double zf = z[f];
          double* Af = A + f * n;
          for (index_t g = 0; g < n; ++g) Af[g] += zf * z[g];
        }
      }
      // Rows without ratings: w = 0 is exact (and A may be singular with reg = 0).
      if (hi > lo && !cholesky_solve(A, w, n)) {
        ++singular;
        std::fill(w, w + n, std::numeric_limits<double>::quiet_NaN());
      }
      for (index_t f = 0; f < k; ++f) X[row * k + f] = static_cast<T>(w[f]);
      row_bias[row] = biases ? static_cast<T>(w[k]) : T(0);
      if (row_loss) {
        double loss = regularization * dot_double(w, w, n);
        for (index_t j = lo; j < hi; ++j) {
          const index_t col = rows.indices[j];
          const T* y = Y + col * k;
          double s = 0.0;
          for (index_t f = 0; f < k; ++f) s += static_cast<double>(y[f]) * w[f];
          double e = static_cast<double>(rows.values[j]) - static_cast<double>(row_bias[row]) - s;
          if (biases) e -= global_mean + static_cast<double>(col_bias[col]);
          loss += e * e;
        }
        row_loss[row] = loss;
      }
    }
  }
  return singular;
}

// ---- SGD ---------------------------------------------------------------------------------------

template <class T>
T dot_rows(const T* a, const T* b, index_t k) {
  T s = T(0);
  for (index_t f = 0; f < k; ++f) s += a[f] * b[f];
  return s;
}

template <class T>
void sgd_epoch(const Triplets<T>& r, const std::int64_t* order, const std::int64_t* starts,
               index_t n_blocks, T* X, T* Y, index_t k, T* user_bias, T* item_bias,
               double global_mean, double learning_rate, double regularization, bool biases,
               int n_threads) {
  const double lr = learning_rate, reg = regularization;
  // Each stratum ends with a barrier: a thread must have a stratum's share of work to pay for it.
  const double stratum_work = 4.0 * static_cast<double>(r.n) * k / static_cast<double>(n_blocks);
#pragma omp parallel num_threads(threads_for(n_blocks, n_threads, stratum_work))
  for (index_t stratum = 0; stratum < n_blocks; ++stratum) {
    // The buckets of a stratum touch disjoint users and items; the loop's barrier ends the
    // stratum before the next one starts.
#pragma omp for schedule(dynamic)
    for (index_t block = 0; block < n_blocks; ++block) {
      const index_t bucket = stratum * n_blocks + block;
      const index_t end = starts[bucket + 1];
      for (index_t j = starts[bucket]; j < end; ++j) {
        if (j + 16 < end) {
          const index_t ahead = order[j + 16];
          __builtin_prefetch(X + r.users[ahead] * k, 1, 3);
          __builtin_prefetch(Y + r.items[ahead] * k, 1, 3);
        }
        const index_t index = order[j];
        const index_t u = r.users[index], i = r.items[index];
        T* x = X + u * k;
        T* y = Y + i * k;
        const double e = static_cast<double>(r.ratings[index]) -
                         (global_mean + static_cast<double>(user_bias[u]) +
                          static_cast<double>(item_bias[i]) + static_cast<double>(dot_rows(x, y, k)));
        if (biases) {
          user_bias[u] = static_cast<T>(user_bias[u] + lr * (e - reg * user_bias[u]));
          item_bias[i] = static_cast<T>(item_bias[i] + lr * (e - reg * item_bias[i]));
        }
        for (index_t f = 0; f < k; ++f) {
          const double xf = x[f], yf = y[f];
          x[f] = static_cast<T>(xf + lr * (e * yf - reg * xf));
          y[f] = static_cast<T>(yf + lr * (e * xf - reg * yf));
        }
      }
    }
  }
}

template <class T>
void explicit_errors(const Triplets<T>& r, const T* X, const T* Y, index_t k,
                     const T* user_bias, const T* item_bias, double global_mean, double* out,
                     int n_threads) {
#pragma omp parallel for num_threads(threads_for(r.n, n_threads, 2.0 * r.n * k)) schedule(static)
  for (index_t j = 0; j < r.n; ++j) {
    const index_t u = r.users[j], i = r.items[j];
    const double e = static_cast<double>(r.ratings[j]) - global_mean -
                     static_cast<double>(user_bias[u]) - static_cast<double>(item_bias[i]) -
                     static_cast<double>(dot_rows(X + u * k, Y + i * k, k));
    out[j] = e * e;
  }
}

// ---- top k -----------------------------------------------------------------------------------

namespace {

// The heap's root is the worst kept entry: the lowest score, and of equal scores the higher item.
template <class T>
bool worse(T sa, std::int64_t ia, T sb, std::int64_t ib) {
  return sa < sb || (sa == sb && ia > ib);
}

template <class T>
void sift_down(T* s, std::int64_t* it, index_t n, index_t pos) {
  while (true) {
    index_t child = 2 * pos + 1;
    if (child >= n) return;
    if (child + 1 < n && worse(s[child + 1], it[child + 1], s[child], it[child])) ++child;
    if (!worse(s[child], it[child], s[pos], it[pos])) return;
    std::swap(s[pos], s[child]);
    std::swap(it[pos], it[child]);
    pos = child;
  }
}

}  // namespace

template <class T>
void top_k(T* scores, index_t n_rows, index_t n_items, const std::int64_t* seen_indptr,
           const std::int64_t* seen_indices, index_t k, std::int64_t* items, T* best,
           int n_threads) {
  const int threads = threads_for(n_rows, n_threads, 2.0 * n_rows * n_items);
  std::vector<std::vector<T>> heap_scores(static_cast<std::size_t>(threads), std::vector<T>(static_cast<std::size_t>(k)));
  std::vector<std::vector<std::int64_t>> heap_items(static_cast<std::size_t>(threads),
                                                    std::vector<std::int64_t>(static_cast<std::size_t>(k)));
  constexpr T kExcluded = -std::numeric_limits<T>::infinity();
#pragma omp parallel for num_threads(threads) schedule(dynamic, 16)
  for (index_t row = 0; row < n_rows; ++row) {
    T* s = scores + row * n_items;
    T* hs = heap_scores[omp_get_thread_num()].data();
    std::int64_t* hi = heap_items[omp_get_thread_num()].data();
    for (std::int64_t j = seen_indptr[row]; j < seen_indptr[row + 1]; ++j) s[seen_indices[j]] = kExcluded;
    index_t n = 0;
    for (index_t item = 0; item < n_items; ++item) {
      const T value = s[item];
      if (value == kExcluded || value != value) continue;  // excluded (or NaN: never ranked)
      if (n < k) {  // sift the new entry up
        index_t pos = n++;
        while (pos > 0) {
          const index_t parent = (pos - 1) / 2;
          if (hs[parent] < value) break;  // a later item is worse than an equal earlier one
          hs[pos] = hs[parent];
          hi[pos] = hi[parent];
          pos = parent;
        }
        hs[pos] = value;
        hi[pos] = item;
      } else if (k > 0 && value > hs[0]) {  // a later item wins only on a strictly higher score
        hs[0] = value;
        hi[0] = item;
        sift_down(hs, hi, k, 0);
      }
    }
    for (index_t slot = k - 1; slot >= 0; --slot) {  // pop the worst into the last free slot
      if (slot < n) {
        items[row * k + slot] = hi[0];
        best[row * k + slot] = hs[0];
        --n;
        hs[0] = hs[n];
        hi[0] = hi[n];
        sift_down(hs, hi, n, 0);
      } else {
        items[row * k + slot] = -1;
        best[row * k + slot] = kExcluded;
      }
    }
  }
}

#define FASTML_RECOMMEND_INSTANTIATE(T)                                                            \
  template index_t implicit_sweep<T>(const Rows<T>&, T*, const T*, index_t, const T*, int,        \
                                     double*, int);                                                \
  template void gram<T>(const T*, index_t, index_t, double, T*, int);                              \
  template index_t explicit_sweep<T>(const Rows<T>&, const T*, index_t, const T*, double, double,  \
                                     bool, T*, T*, double*, int);                                  \
  template void sgd_epoch<T>(const Triplets<T>&, const std::int64_t*, const std::int64_t*,         \
                             index_t, T*, T*, index_t, T*, T*, double, double, double, bool, int); \
  template void explicit_errors<T>(const Triplets<T>&, const T*, const T*, index_t, const T*,      \
                                   const T*, double, double*, int);                                \
  template void top_k<T>(T*, index_t, index_t, const std::int64_t*, const std::int64_t*, index_t,  \
                         std::int64_t*, T*, int);

FASTML_RECOMMEND_INSTANTIATE(float)
FASTML_RECOMMEND_INSTANTIATE(double)

}  // namespace fastml::recommend
