// k-means drivers (see fastml/kmeans.hpp): memory, OpenMP loops over fixed ranges of points, and
// merges of the per-range results in range order, so that nothing depends on the thread count.
#include "fastml/kmeans.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "kmeans_drivers.hpp"

namespace fastml::kmeans {

using namespace detail;

namespace {

template <class T> Points<T> slice(const Points<T>& pts, index_t begin, index_t end) {
  return Points<T>{pts.x + begin * pts.d, pts.w + begin, end - begin, pts.d};
}

// Ranges of points for the assignment passes: blocks of kLabelBlock points grouped so that there
// are at most kMaxRanges ranges and their partial center sums take at most kPartialBytes.
constexpr index_t kLabelBlock = 256;
static_assert(kLabelBlock % kPanel<float> == 0 && kLabelBlock % kPanel<double> == 0,
              "a block of points starts a panel");
constexpr index_t kMaxRanges = 64;
constexpr std::size_t kPartialBytes = std::size_t(64) << 20;

Ranges assignment_ranges(index_t n, index_t k, index_t d) {
  const index_t per_range = static_cast<index_t>(k * (d + 1) * sizeof(double));
  const index_t by_memory = std::max<index_t>(1, static_cast<index_t>(kPartialBytes) / per_range);
  const index_t n_blocks = (n + kLabelBlock - 1) / kLabelBlock;
  const index_t count = std::max<index_t>(1, std::min({n_blocks, kMaxRanges, by_memory}));
  const index_t blocks_per_range = (n_blocks + count - 1) / count;
  return Ranges(n, blocks_per_range * kLabelBlock);
}

struct AlignedFree {
  void operator()(void* p) const { std::free(p); }
};
std::unique_ptr<char, AlignedFree> aligned_bytes(std::size_t bytes) {
  void* p = std::aligned_alloc(64, (bytes + 63) / 64 * 64);
  if (!p) throw std::bad_alloc();
  return std::unique_ptr<char, AlignedFree>(static_cast<char*>(p));
}

// Per-range center sums (k x d) and weights (k), merged in range order.
struct Partials {
  index_t k, d;
  std::vector<double> data;
  Partials(index_t ranges, index_t k_, index_t d_)
      : k(k_), d(d_), data(static_cast<std::size_t>(ranges * k_ * (d_ + 1)), 0.0) {}
  double* sums(index_t r) { return data.data() + r * k * (d + 1); }
  double* weights(index_t r) { return sums(r) + k * d; }
  // sums then weights of all ranges, added in range order; parallel over the k * (d + 1) entries.
  std::vector<double> merge(index_t ranges, int n_threads) {
    const index_t width = k * (d + 1);
    std::vector<double> total(static_cast<std::size_t>(width), 0.0);
    const int threads = threads_for(static_cast<double>(width) * ranges * kPointFeatureNs,
                                    n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t e = 0; e < width; ++e) {
      double s = 0.0;
      for (index_t r = 0; r < ranges; ++r) s += data[r * width + e];
      total[e] = s;
    }
    return total;
  }
};

// finish_centers (kmeans_drivers.hpp) on dense points.
template <class T>
void finish_dense_centers(const Points<T>& pts, const T* centers, index_t k, const label_t* labels,
                          std::vector<double>& merged, T* centers_new, double* center_shift,
                          int n_threads) {
  const index_t d = pts.d;
  auto own_distances = [&](double* dist) {
    const Ranges ranges(pts.n, 4096);
    const int threads = threads_for(static_cast<double>(pts.n) * d * kPointFeatureNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
    for (index_t r = 0; r < ranges.count; ++r)
      kernels<T>().distances_to_own(slice(pts, ranges.begin(r), ranges.end(r)), centers,
                                    labels + ranges.begin(r), dist + ranges.begin(r));
  };
  auto move_point = [&](index_t p, double* from, double* to) {
    const double wp = pts.w[p];
    for (index_t f = 0; f < d; ++f) {
      const double v = static_cast<double>(pts.x[p * d + f]) * wp;
      from[f] -= v;
      to[f] = v;
    }
  };
  finish_centers(pts.n, pts.w, d, centers, k, labels, merged, centers_new, center_shift,
                 own_distances, move_point);
}

}  // namespace

const char* simd_target() { return detail::selected().name; }

// ---- points in panels (k-means++ and Lloyd) ----------------------------------------------------

template <class T>
void pack_point_panels(const Points<T>& pts, T* panels, int n_threads) {
  constexpr index_t L = kPanel<T>;
  const index_t n = pts.n, d = pts.d, n_panels = (n + L - 1) / L;
  const int threads = threads_for(static_cast<double>(n) * d * kPointFeatureNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t p = 0; p < n_panels; ++p) {
    T* panel = panels + p * d * L;
    for (index_t l = 0; l < L; ++l) {
      const index_t i = p * L + l;
      for (index_t f = 0; f < d; ++f) panel[f * L + l] = i < n ? pts.x[i * d + f] : T(0);
    }
  }
}

// ---- k-means++ ---------------------------------------------------------------------------------

template <class T>
void kmeans_plusplus(const Points<T>& pts, index_t k, index_t first, const double* uniforms,
                     index_t n_trials, std::int64_t* indices, int n_threads) {
  const index_t n = pts.n, d = pts.d;
  constexpr index_t L = kPanel<T>;
  constexpr index_t kBlockPanels = 64;  // one block: one potential partial, one sampling step
  const Kernels<T>& K = kernels<T>();
  const index_t n_panels = (n + L - 1) / L;
  const Ranges blocks(n_panels, kBlockPanels);
  const std::size_t padded = static_cast<std::size_t>(n_panels * L);

  // The points in panels (a copy: distance loops then run over lanes of 64-byte vectors).
  std::vector<T> panels(point_panels_size<T>(n, d)), D(padded), w(padded, T(0));
  pack_point_panels(pts, panels.data(), n_threads);
  std::copy(pts.w, pts.w + n, w.begin());
  auto block_panels = [&](index_t b) { return panels.data() + blocks.begin(b) * L * d; };
  auto block_size = [&](index_t b) { return blocks.end(b) - blocks.begin(b); };

  std::vector<double> block_pot(static_cast<std::size_t>(blocks.count));
  auto potential = [&]() {
    const double pot = std::accumulate(block_pot.begin(), block_pot.end(), 0.0);
    if (!std::isfinite(pot))
      throw std::invalid_argument("squared distances between points overflow: scale the data");
    return pot;
  };
  indices[0] = first;
  const T* first_row = pts.x + first * d;
  // A pass over the points for c centers and candidates: their distances, and reading the panels
  // (points, weights and D outgrow the caches where the passes are long: 38 MB at 500k x 16).
  const double n_d = static_cast<double>(n) * d;
  auto pass_threads = [&](index_t c) {
    return threads_for(n_d * (c * kSeedNs<T> + sizeof(T) * kStreamByteNs), n_threads);
  };
#pragma omp parallel for num_threads(pass_threads(1)) schedule(static)
  for (index_t b = 0; b < blocks.count; ++b)
    block_pot[b] = K.seed_distances(block_panels(b), w.data() + blocks.begin(b) * L, block_size(b),
                                    d, first_row, D.data() + blocks.begin(b) * L);
  double pot = potential();

  std::vector<double> prefix(static_cast<std::size_t>(blocks.count + 1));
  std::vector<double> gains(static_cast<std::size_t>(blocks.count * n_trials));
  std::vector<double> pots(static_cast<std::size_t>(blocks.count * n_trials));
  // Row 0: the center chosen last, applied to D in the next step's pass (each step then reads
  // the points once); rows 1 .. n_trials: the candidates.
  std::vector<T> cand(static_cast<std::size_t>((n_trials + 1) * d));
  std::vector<index_t> cand_idx(static_cast<std::size_t>(n_trials));
  for (index_t c = 1; c < k; ++c) {
    const bool winner = c > 1;
    if (winner) std::copy_n(pts.x + indices[c - 1] * d, d, cand.data());
    // Candidates: as scikit-learn's searchsorted on the cumulative sum of w * D, by blocks. The
    // block potentials already count the last winner; the blocks sampled from get it applied to
    // D now (the pass applies it again, to no effect).
    prefix[0] = 0.0;
    for (index_t b = 0; b < blocks.count; ++b) prefix[b + 1] = prefix[b] + block_pot[b];
    for (index_t t = 0; t < n_trials; ++t) {
      const double v = uniforms[(c - 1) * n_trials + t] * pot;
      const index_t b = std::lower_bound(prefix.begin() + 1, prefix.end(), v) - prefix.begin() - 1;
      if (b >= blocks.count) {
        cand_idx[t] = n - 1;
      } else {
        if (winner) K.seed_apply(block_panels(b), D.data() + blocks.begin(b) * L, block_size(b), d,
                                 cand.data());
        cand_idx[t] = sample_in_block(w.data(), D.data(), blocks.begin(b) * L,
                                      std::min(n, blocks.end(b) * L), prefix[b], v);
      }
      std::copy_n(pts.x + cand_idx[t] * d, d, cand.data() + (t + 1) * d);
    }
    // Gains (potential lost) and potentials of every candidate, per block, at most
    // kMaxSeedCandidates at once; the first pass applies the last winner.
    std::fill(gains.begin(), gains.end(), 0.0);
    std::fill(pots.begin(), pots.end(), 0.0);
    for (index_t t0 = 0; t0 < n_trials; t0 += kMaxSeedCandidates) {
      const int nc = static_cast<int>(std::min<index_t>(kMaxSeedCandidates, n_trials - t0));
      const bool apply = winner && t0 == 0;
      const T* rows = cand.data() + (apply ? 0 : t0 + 1) * d;
#pragma omp parallel for num_threads(pass_threads(nc + apply)) schedule(static)
      for (index_t b = 0; b < blocks.count; ++b)
        K.seed_step(block_panels(b), w.data() + blocks.begin(b) * L,
                    D.data() + blocks.begin(b) * L, block_size(b), d, rows, nc, apply,
                    gains.data() + b * n_trials + t0, pots.data() + b * n_trials + t0);
    }
    index_t best = 0;
    double best_gain = -1.0;
    for (index_t t = 0; t < n_trials; ++t) {
      double g = 0.0;
      for (index_t b = 0; b < blocks.count; ++b) g += gains[b * n_trials + t];
      if (g > best_gain) {
        best_gain = g;
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
index_t lloyd_iteration(const Points<T>& pts, const T* panels, const T* centers, index_t k,
                        T* centers_new, label_t* labels, double* center_shift,
                        bool update_centers, int n_threads) {
  const index_t d = pts.d;
  constexpr index_t C = kAssignCenters;
  const index_t k_padded = (k + C - 1) / C * C;
  std::vector<T> padded(static_cast<std::size_t>(k_padded * d), T(0));
  std::vector<T> cnorms(static_cast<std::size_t>(k_padded), static_cast<T>(HUGE_VAL));
  std::copy(centers, centers + k * d, padded.begin());
  for (index_t j = 0; j < k; ++j) {
    double norm = 0.0;
    for (index_t f = 0; f < d; ++f)
      norm += static_cast<double>(centers[j * d + f]) * centers[j * d + f];
    cnorms[j] = static_cast<T>(norm);
  }
  std::vector<T> own_panels;
  if (!panels) {
    own_panels.resize(point_panels_size<T>(pts.n, d));
    pack_point_panels(pts, own_panels.data(), n_threads);
    panels = own_panels.data();
  }
  const Ranges ranges = assignment_ranges(pts.n, k, d);
  Partials partials(update_centers ? ranges.count : 0, k, d);
  std::vector<index_t> changed(static_cast<std::size_t>(ranges.count), 0);
  const double assign_ns = static_cast<double>(pts.n) * d *
                           (k_padded * kAssignNs<T> + (update_centers ? kPointFeatureNs : 0.0));
#pragma omp parallel for num_threads(threads_for(assign_ns, n_threads)) schedule(dynamic, 1)
  for (index_t r = 0; r < ranges.count; ++r) {
    // Block by block, so that the points are still in cache when they are summed.
    for (index_t i0 = ranges.begin(r); i0 < ranges.end(r); i0 += kLabelBlock) {
      const Points<T> block = slice(pts, i0, std::min(i0 + kLabelBlock, ranges.end(r)));
      // i0 is a multiple of kLabelBlock, hence of kPanel: its points start a panel.
      changed[r] += kernels<T>().assign(panels + i0 * d, block.n, d, padded.data(), cnorms.data(),
                                        k_padded, labels + i0);
      if (update_centers)
        kernels<T>().accumulate(block, labels + i0, partials.sums(r), partials.weights(r));
    }
  }
  if (update_centers) {
    std::vector<double> merged = partials.merge(ranges.count, n_threads);
    finish_dense_centers(pts, centers, k, labels, merged, centers_new, center_shift, n_threads);
  }
  return std::accumulate(changed.begin(), changed.end(), index_t(0));
}

// ---- Elkan ---------------------------------------------------------------------------------------

namespace {

template <class T>
index_t elkan_pass(const Points<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                   T* lower, bool init, Partials* partials, int n_threads) {
  std::vector<T> half, next;
  center_half_distances(centers, k, pts.d, half, next);
  const Ranges ranges = assignment_ranges(pts.n, k, pts.d);
  std::vector<index_t> changed(static_cast<std::size_t>(ranges.count), 0);
  // init computes nearly every distance; an iteration mostly checks bounds
  const double pass_ns = static_cast<double>(pts.n) *
                         (k * (init ? kBoundNs + pts.d * kPointFeatureNs / 4 : kBoundNs) +
                          (partials ? pts.d * kPointFeatureNs : 0.0));
#pragma omp parallel for num_threads(threads_for(pass_ns, n_threads)) schedule(dynamic, 1)
  for (index_t r = 0; r < ranges.count; ++r) {
    const index_t b = ranges.begin(r), e = ranges.end(r);
    changed[r] = kernels<T>().elkan_assign(slice(pts, b, e), centers, k, half.data(), next.data(),
                                           labels + b, upper + b, lower + b * k, init);
    if (partials)
      kernels<T>().accumulate(slice(pts, b, e), labels + b, partials->sums(r),
                              partials->weights(r));
  }
  return std::accumulate(changed.begin(), changed.end(), index_t(0));
}

}  // namespace

template <class T>
void elkan_init(const Points<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                T* lower, int n_threads) {
  elkan_pass(pts, centers, k, labels, upper, lower, true, nullptr, n_threads);
}

template <class T>
index_t elkan_iteration(const Points<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, T* upper, T* lower, double* center_shift,
                        bool update_centers, int n_threads) {
  const Ranges ranges = assignment_ranges(pts.n, k, pts.d);
  Partials partials(update_centers ? ranges.count : 0, k, pts.d);
  const index_t changed = elkan_pass(pts, centers, k, labels, upper, lower, false,
                                     update_centers ? &partials : nullptr, n_threads);
  if (!update_centers) return changed;
  std::vector<double> merged = partials.merge(ranges.count, n_threads);
  finish_dense_centers(pts, centers, k, labels, merged, centers_new, center_shift, n_threads);
  shift_bounds(pts.n, k, labels, center_shift, upper, lower, n_threads);
  return changed;
}

template <class T>
double inertia(const Points<T>& pts, const T* centers, index_t k, const label_t* labels,
               int n_threads) {
  (void)k;
  const Ranges ranges(pts.n, 4096);
  std::vector<double> partial(static_cast<std::size_t>(ranges.count));
  const int threads = threads_for(static_cast<double>(pts.n) * pts.d * kPointFeatureNs, n_threads);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (index_t r = 0; r < ranges.count; ++r)
    partial[r] = kernels<T>().inertia(slice(pts, ranges.begin(r), ranges.end(r)), centers,
                                      labels + ranges.begin(r));
  return std::accumulate(partial.begin(), partial.end(), 0.0);
}

#define FASTML_KMEANS_INSTANTIATE(T)                                                           \
  template void kmeans_plusplus<T>(const Points<T>&, index_t, index_t, const double*, index_t, \
                                   std::int64_t*, int);                                        \
  template void pack_point_panels<T>(const Points<T>&, T*, int);                               \
  template index_t lloyd_iteration<T>(const Points<T>&, const T*, const T*, index_t, T*,       \
                                      label_t*, double*, bool, int);                           \
  template void elkan_init<T>(const Points<T>&, const T*, index_t, label_t*, T*, T*, int);     \
  template index_t elkan_iteration<T>(const Points<T>&, const T*, index_t, T*, label_t*, T*,   \
                                      T*, double*, bool, int);                                 \
  template double inertia<T>(const Points<T>&, const T*, index_t, const label_t*, int);
FASTML_KMEANS_INSTANTIATE(float)
FASTML_KMEANS_INSTANTIATE(double)

}  // namespace fastml::kmeans
