// k-means drivers on CSR points (see fastml/kmeans.hpp): the centers transposed for the kernels,
// OpenMP loops over fixed ranges of rows, per-cluster center sums, and the steps shared with the
// dense drivers (kmeans_drivers.hpp). Nothing depends on the thread count.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "fastml/kmeans.hpp"
#include "kmeans_drivers.hpp"

namespace fastml::kmeans {

using namespace detail;

namespace {

// Rows per range of the parallel loops over rows: small enough to balance rows of uneven length.
constexpr index_t kRowBlock = 256;
// A nonzero x center of the products (one float64 lane of an FMA, reads included), and a nonzero
// of the scalar loops (sums, distances to the own center).
constexpr double kNonzeroCenterNs = 0.05;
constexpr double kNonzeroNs = 1.0;

template <class T> Csr<T> slice(const Csr<T>& pts, index_t begin, index_t end) {
  return Csr<T>{pts.data, pts.indices, pts.indptr + begin, pts.w + begin, end - begin, pts.d};
}

template <class T> double nnz_of(const Csr<T>& pts) {
  return static_cast<double>(pts.indptr[pts.n] - pts.indptr[0]);
}

// The centers as the CSR kernels take them: ct[f * kp + j] = centers[j * d + f], zero columns up
// to kp, and the squared norms in float64 (+inf for the padding, which no argmin then picks).
template <class T>
struct TransposedCenters {
  index_t kp;
  std::vector<T> ct;
  std::vector<double> norms;
  TransposedCenters(const T* centers, index_t k, index_t d)
      : kp((k + kCsrCenters - 1) / kCsrCenters * kCsrCenters),
        ct(static_cast<std::size_t>(kp * d), T(0)),
        norms(static_cast<std::size_t>(kp), HUGE_VAL) {
    for (index_t j = 0; j < k; ++j) {
      double s = 0.0;
      for (index_t f = 0; f < d; ++f) {
        const T c = centers[j * d + f];
        ct[f * kp + j] = c;
        s += static_cast<double>(c) * c;
      }
      norms[j] = s;
    }
  }
};

// Scratch for the kernels: kp doubles per thread of a region.
struct Scratch {
  index_t kp;
  std::vector<double> data;
  Scratch(int threads, index_t kp_) : kp(kp_), data(static_cast<std::size_t>(threads * kp_)) {}
  double* of_thread() { return data.data() + omp_get_thread_num() * kp; }
};

// |x_i - c|^2 as scikit-learn's _euclidean_sparse_dense computes it (more accurate than the
// product form when x_i is close to c): sum over the nonzeros of (x - c)^2 - c^2, plus |c|^2.
template <class T>
double sq_distance(const Csr<T>& pts, index_t i, const T* c, double cnorm) {
  double s = cnorm;
  for (std::int32_t v = pts.indptr[i]; v < pts.indptr[i + 1]; ++v) {
    const double ci = c[pts.indices[v]];
    const double diff = static_cast<double>(pts.data[v]) - ci;
    s += diff * diff - ci * ci;
  }
  return s > 0.0 ? s : 0.0;
}

template <class T>
std::vector<double> center_norms(const T* centers, index_t k, index_t d) {
  std::vector<double> norms(static_cast<std::size_t>(k));
  for (index_t j = 0; j < k; ++j) {
    double s = 0.0;
    for (index_t f = 0; f < d; ++f) s += static_cast<double>(centers[j * d + f]) * centers[j * d + f];
    norms[j] = s;
  }
  return norms;
}

// The sums (k x d) then weights (k) of the clusters, in float64. Each cluster's rows are summed in
// row order by one thread: no per-thread copies of the k x d sums, no merge, and the same sums for
// any thread count.
template <class T>
std::vector<double> cluster_sums(const Csr<T>& pts, index_t k, const label_t* labels,
                                 int n_threads) {
  const index_t n = pts.n, d = pts.d;
  std::vector<index_t> start(static_cast<std::size_t>(k + 1), 0), order(static_cast<std::size_t>(n));
  for (index_t i = 0; i < n; ++i) ++start[labels[i] + 1];
  std::partial_sum(start.begin(), start.end(), start.begin());
  {
    std::vector<index_t> next(start.begin(), start.end() - 1);
    for (index_t i = 0; i < n; ++i) order[next[labels[i]]++] = i;
  }
  std::vector<double> merged(static_cast<std::size_t>(k * (d + 1)), 0.0);
  double* weights = merged.data() + k * d;
  const int threads = threads_for(nnz_of(pts) * kNonzeroNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (index_t j = 0; j < k; ++j) {
    double* s = merged.data() + j * d;
    double wsum = 0.0;
    for (index_t r = start[j]; r < start[j + 1]; ++r) {
      const index_t i = order[r];
      const double wi = pts.w[i];
      wsum += wi;
      for (std::int32_t v = pts.indptr[i]; v < pts.indptr[i + 1]; ++v)
        s[pts.indices[v]] += wi * static_cast<double>(pts.data[v]);
    }
    weights[j] = wsum;
  }
  return merged;
}

// finish_centers (kmeans_drivers.hpp) on CSR points.
template <class T>
void finish_csr_centers(const Csr<T>& pts, const T* centers, index_t k, const label_t* labels,
                        std::vector<double>& merged, T* centers_new, double* center_shift,
                        int n_threads) {
  auto own_distances = [&](double* dist) {
    const std::vector<double> norms = center_norms(centers, k, pts.d);
    const int threads = threads_for(nnz_of(pts) * kNonzeroNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t i = 0; i < pts.n; ++i)
      dist[i] = sq_distance(pts, i, centers + labels[i] * pts.d, norms[labels[i]]);
  };
  auto move_point = [&](index_t p, double* from, double* to) {
    const double wp = pts.w[p];
    for (std::int32_t v = pts.indptr[p]; v < pts.indptr[p + 1]; ++v) {
      const double x = static_cast<double>(pts.data[v]) * wp;
      from[pts.indices[v]] -= x;
      to[pts.indices[v]] = x;
    }
  };
  finish_centers(pts.n, pts.w, pts.d, centers, k, labels, merged, centers_new, center_shift,
                 own_distances, move_point);
}

// Threads for a pass computing the products of every row with kp centers.
template <class T> int product_threads(const Csr<T>& pts, index_t kp, int n_threads) {
  return threads_for(nnz_of(pts) * kp * kNonzeroCenterNs + pts.n * kp * kBoundNs / 4, n_threads);
}

}  // namespace

// ---- k-means++ ---------------------------------------------------------------------------------

template <class T>
void kmeans_plusplus(const Csr<T>& pts, index_t k, index_t first, const double* uniforms,
                     index_t n_trials, std::int64_t* indices, int n_threads) {
  const index_t n = pts.n, d = pts.d;
  const Kernels<T>& K = kernels<T>();
  // Blocks of rows: one potential partial each, and the unit of the sampling step.
  const Ranges blocks(n, 4 * kRowBlock);
  std::vector<T> D(static_cast<std::size_t>(n), std::numeric_limits<T>::infinity());
  std::vector<double> block_pot(static_cast<std::size_t>(blocks.count));
  auto potential = [&]() {
    const double pot = std::accumulate(block_pot.begin(), block_pot.end(), 0.0);
    if (!std::isfinite(pot))
      throw std::invalid_argument("squared distances between points overflow: scale the data");
    return pot;
  };
  // Columns: the winner of the last step (column 0), then the candidates; as dense rows for the
  // transposition.
  std::vector<T> cols(static_cast<std::size_t>((n_trials + 1) * d), T(0));
  auto set_col = [&](index_t c, index_t row) {
    T* out = cols.data() + c * d;
    std::fill(out, out + d, T(0));
    for (std::int32_t v = pts.indptr[row]; v < pts.indptr[row + 1]; ++v)
      out[pts.indices[v]] = pts.data[v];
  };
  std::vector<double> pots(static_cast<std::size_t>(blocks.count * n_trials));

  indices[0] = first;
  set_col(0, first);
  {
    const TransposedCenters<T> tc(cols.data(), 1, d);
    const int threads = product_threads(pts, tc.kp, n_threads);
    Scratch scratch(threads, tc.kp);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t b = 0; b < blocks.count; ++b)
      block_pot[b] = K.csr_seed_step(slice(pts, blocks.begin(b), blocks.end(b)),
                                     D.data() + blocks.begin(b), tc.ct.data(), tc.norms.data(),
                                     tc.kp, 0, true, nullptr, scratch.of_thread());
  }
  double pot = potential();

  std::vector<double> prefix(static_cast<std::size_t>(blocks.count + 1));
  std::vector<index_t> cand_idx(static_cast<std::size_t>(n_trials));
  for (index_t c = 1; c < k; ++c) {
    const bool winner = c > 1;
    if (winner) set_col(0, indices[c - 1]);
    const TransposedCenters<T> last(cols.data(), 1, d);
    // Candidates: as scikit-learn's searchsorted on the cumulative sum of w * D, by blocks. The
    // block potentials already count the last winner; a block sampled from gets it applied to D
    // now (the pass below applies it again, to no effect).
    prefix[0] = 0.0;
    for (index_t b = 0; b < blocks.count; ++b) prefix[b + 1] = prefix[b] + block_pot[b];
    std::vector<char> applied(static_cast<std::size_t>(blocks.count), 0);
    for (index_t t = 0; t < n_trials; ++t) {
      const double v = uniforms[(c - 1) * n_trials + t] * pot;
      const index_t b = std::lower_bound(prefix.begin() + 1, prefix.end(), v) - prefix.begin() - 1;
      if (b >= blocks.count) {
        cand_idx[t] = n - 1;
      } else {
        if (winner && !applied[b]) {
          std::vector<double> one(static_cast<std::size_t>(last.kp));
          K.csr_seed_step(slice(pts, blocks.begin(b), blocks.end(b)), D.data() + blocks.begin(b),
                          last.ct.data(), last.norms.data(), last.kp, 0, true, nullptr,
                          one.data());
          applied[b] = 1;
        }
        cand_idx[t] = sample_in_block(pts.w, D.data(), blocks.begin(b), blocks.end(b), prefix[b],
                                      v);
      }
      set_col(t + 1, cand_idx[t]);
    }
    // One pass: the last winner applied to D, and the potential of every candidate.
    const index_t first_col = winner ? 0 : 1;
    const TransposedCenters<T> tc(cols.data() + first_col * d, n_trials + 1 - first_col, d);
    std::fill(pots.begin(), pots.end(), 0.0);
    const int threads = product_threads(pts, tc.kp, n_threads);
    Scratch scratch(threads, tc.kp);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t b = 0; b < blocks.count; ++b)
      K.csr_seed_step(slice(pts, blocks.begin(b), blocks.end(b)), D.data() + blocks.begin(b),
                      tc.ct.data(), tc.norms.data(), tc.kp, static_cast<int>(n_trials), winner,
                      pots.data() + b * n_trials, scratch.of_thread());
    // The candidate with the lowest potential (the first of equals), as scikit-learn's argmin.
    index_t best = 0;
    double best_pot = HUGE_VAL;
    for (index_t t = 0; t < n_trials; ++t) {
      double p = 0.0;
      for (index_t b = 0; b < blocks.count; ++b) p += pots[b * n_trials + t];
      if (p < best_pot || t == 0) {
        best_pot = p;
        best = t;
      }
    }
    indices[c] = cand_idx[best];
    for (index_t b = 0; b < blocks.count; ++b) block_pot[b] = pots[b * n_trials + best];
    pot = potential();
  }
}

// ---- Lloyd ---------------------------------------------------------------------------------------

template <class T>
index_t lloyd_iteration(const Csr<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, double* center_shift, bool update_centers,
                        int n_threads) {
  const Ranges ranges(pts.n, kRowBlock);
  std::vector<index_t> changed(static_cast<std::size_t>(ranges.count), 0);
  {  // the transposed centers (k x d) are freed before the sums (k x d) are allocated
    const TransposedCenters<T> tc(centers, k, pts.d);
    const int threads = product_threads(pts, tc.kp, n_threads);
    Scratch scratch(threads, tc.kp);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
    for (index_t r = 0; r < ranges.count; ++r)
      changed[r] = kernels<T>().csr_assign(slice(pts, ranges.begin(r), ranges.end(r)),
                                           tc.ct.data(), tc.norms.data(), tc.kp,
                                           labels + ranges.begin(r), scratch.of_thread());
  }
  if (update_centers) {
    std::vector<double> merged = cluster_sums(pts, k, labels, n_threads);
    finish_csr_centers(pts, centers, k, labels, merged, centers_new, center_shift, n_threads);
  }
  return std::accumulate(changed.begin(), changed.end(), index_t(0));
}

// ---- Elkan ---------------------------------------------------------------------------------------

namespace {

template <class T>
index_t elkan_pass(const Csr<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                   T* lower, bool init, int n_threads) {
  std::vector<T> half, next;
  center_half_distances(centers, k, pts.d, half, next);
  const TransposedCenters<T> tc(centers, k, pts.d);
  const Ranges ranges(pts.n, kRowBlock);
  std::vector<index_t> changed(static_cast<std::size_t>(ranges.count), 0);
  // init computes the products of nearly every row; an iteration mostly checks bounds
  const int threads = init ? product_threads(pts, tc.kp, n_threads)
                           : threads_for(static_cast<double>(pts.n) * k * kBoundNs, n_threads);
  Scratch scratch(threads, tc.kp);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (index_t r = 0; r < ranges.count; ++r) {
    const index_t b = ranges.begin(r), e = ranges.end(r);
    changed[r] = kernels<T>().csr_elkan_assign(slice(pts, b, e), tc.ct.data(), tc.norms.data(),
                                               tc.kp, k, half.data(), next.data(), labels + b,
                                               upper + b, lower + b * k, init,
                                               scratch.of_thread());
  }
  return std::accumulate(changed.begin(), changed.end(), index_t(0));
}

}  // namespace

template <class T>
void elkan_init(const Csr<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                T* lower, int n_threads) {
  elkan_pass(pts, centers, k, labels, upper, lower, true, n_threads);
}

template <class T>
index_t elkan_iteration(const Csr<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, T* upper, T* lower, double* center_shift,
                        bool update_centers, int n_threads) {
  const index_t changed = elkan_pass(pts, centers, k, labels, upper, lower, false, n_threads);
  if (!update_centers) return changed;
  std::vector<double> merged = cluster_sums(pts, k, labels, n_threads);
  finish_csr_centers(pts, centers, k, labels, merged, centers_new, center_shift, n_threads);
  shift_bounds(pts.n, k, labels, center_shift, upper, lower, n_threads);
  return changed;
}

// ---- inertia and distances ---------------------------------------------------------------------

template <class T>
double inertia(const Csr<T>& pts, const T* centers, index_t k, const label_t* labels,
               int n_threads) {
  const std::vector<double> norms = center_norms(centers, k, pts.d);
  const Ranges ranges(pts.n, 4096);
  std::vector<double> partial(static_cast<std::size_t>(ranges.count), 0.0);
  const int threads = threads_for(nnz_of(pts) * kNonzeroNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t r = 0; r < ranges.count; ++r) {
    double s = 0.0;
    for (index_t i = ranges.begin(r); i < ranges.end(r); ++i)
      s += static_cast<double>(pts.w[i]) *
           sq_distance(pts, i, centers + labels[i] * pts.d, norms[labels[i]]);
    partial[r] = s;
  }
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

template <class T>
void distances(const Csr<T>& pts, const T* centers, index_t k, T* out, int n_threads) {
  const TransposedCenters<T> tc(centers, k, pts.d);
  const Ranges ranges(pts.n, kRowBlock);
  const int threads = product_threads(pts, tc.kp, n_threads);
  Scratch scratch(threads, tc.kp);
#pragma omp parallel for num_threads(threads) schedule(dynamic, 1)
  for (index_t r = 0; r < ranges.count; ++r)
    kernels<T>().csr_distances(slice(pts, ranges.begin(r), ranges.end(r)), tc.ct.data(),
                               tc.norms.data(), tc.kp, k, out + ranges.begin(r) * k,
                               scratch.of_thread());
}

#define FASTML_KMEANS_CSR_INSTANTIATE(T)                                                       \
  template void kmeans_plusplus<T>(const Csr<T>&, index_t, index_t, const double*, index_t,    \
                                   std::int64_t*, int);                                        \
  template index_t lloyd_iteration<T>(const Csr<T>&, const T*, index_t, T*, label_t*, double*, \
                                      bool, int);                                              \
  template void elkan_init<T>(const Csr<T>&, const T*, index_t, label_t*, T*, T*, int);        \
  template index_t elkan_iteration<T>(const Csr<T>&, const T*, index_t, T*, label_t*, T*, T*,  \
                                      double*, bool, int);                                     \
  template double inertia<T>(const Csr<T>&, const T*, index_t, const label_t*, int);           \
  template void distances<T>(const Csr<T>&, const T*, index_t, T*, int);
FASTML_KMEANS_CSR_INSTANTIATE(float)
FASTML_KMEANS_CSR_INSTANTIATE(double)

}  // namespace fastml::kmeans
