// k-means cores behind fastml.cluster (bound in csrc/bindings/kmeans_module.cpp).
//
// Two layers, as for the distances: kernels (kmeans_kernels_isa.cpp, built once per instruction
// set, no allocation, no threads) work on one range of points; drivers (kmeans.cpp) own memory,
// the OpenMP loops and the fixed-order merges that make every result independent of the thread
// count. Labels are int32, as in scikit-learn.
#pragma once

#include <cstddef>
#include <cstdint>

namespace fastml::kmeans {

using index_t = std::ptrdiff_t;
using label_t = std::int32_t;

// Points: n rows of d features, row-major, with one weight per row.
template <class T>
struct Points {
  const T* x;
  const T* w;
  index_t n;
  index_t d;
};

// CSR points: row i has the values data[indptr[i] .. indptr[i + 1]) at columns indices[...] (in any
// order, each column at most once: the squared norms are summed from the values); one weight per
// row. A range of rows [b, e) is {data, indices, indptr + b, w + b, e - b, d}: the offsets keep
// indexing the whole data.
template <class T>
struct Csr {
  const T* data;
  const std::int32_t* indices;
  const std::int32_t* indptr;
  const T* w;
  index_t n;
  index_t d;
};

// k-means++ and Lloyd's assignment work on a copy of the points in panels of kPanel<T> points
// stored feature-major (panel[f * kPanel + lane]: 64 bytes per feature), padded with zero points.
template <class T>
constexpr index_t kPanel = 64 / sizeof(T);
template <class T>
constexpr std::size_t point_panels_size(index_t n, index_t d) {
  return static_cast<std::size_t>((n + kPanel<T> - 1) / kPanel<T> * kPanel<T> * d);
}

// ---- drivers (the public entry points) -------------------------------------------------------

// Greedy k-means++ (Arthur & Vassilvitskii, with scikit-learn's local trials): indices[0] = first;
// for c >= 1, candidate t is the first point whose running sum of w * D (D: squared distance to
// the nearest chosen center) reaches uniforms[(c - 1) * n_trials + t] * potential, and the
// candidate that lowers the potential most (the first of equals) becomes center c.
// OUT indices[k]. Throws std::invalid_argument when the potential overflows.
template <class T>
void kmeans_plusplus(const Points<T>& pts, index_t k, index_t first, const double* uniforms,
                     index_t n_trials, std::int64_t* indices, int n_threads);

// The points in panels: panels[point_panels_size<T>(n, d)] (layout: see kPanel).
template <class T>
void pack_point_panels(const Points<T>& pts, T* panels, int n_threads);

// One Lloyd iteration from centers (k x d): labels[i] = nearest center (the lower index on ties);
// the number of labels that changed is returned. With update_centers, also
//   centers_new = weighted means of the clusters (empty clusters relocated, see below),
//   center_shift[j] = |centers_new[j] - centers[j]|.
// An empty cluster (zero weight) takes the point farthest from its center (farthest first, lower
// index on ties), which leaves its old cluster; labels are not changed by relocation. A cluster
// still empty (every point on its center) is placed on the heaviest cluster's center.
// panels: the points packed by pack_point_panels (a fit packs them once for all its iterations),
// or null to pack them here.
template <class T>
index_t lloyd_iteration(const Points<T>& pts, const T* panels, const T* centers, index_t k,
                        T* centers_new, label_t* labels, double* center_shift,
                        bool update_centers, int n_threads);

// Elkan's variant: the same iteration with exact distances, skipping those the triangle
// inequality rules out. upper[n] bounds the distance to the own center, lower[n x k] those to
// every center; elkan_init sets labels and both bounds, elkan_iteration keeps them valid.
template <class T>
void elkan_init(const Points<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                T* lower, int n_threads);
template <class T>
index_t elkan_iteration(const Points<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, T* upper, T* lower, double* center_shift,
                        bool update_centers, int n_threads);

// sum_i w_i |x_i - centers[labels[i]]|^2, summed in a fixed order.
template <class T>
double inertia(const Points<T>& pts, const T* centers, index_t k, const label_t* labels,
               int n_threads);

// ---- the same drivers on CSR points (kmeans_sparse.cpp) -----------------------------------------
// The same contracts as above. Distances come from x.c products over the nonzeros of x, against the
// centers transposed (n_features x k, so that each nonzero updates the products of every center
// with one contiguous read), in float64, and the squared norms: |x|^2 - 2 x.c + |c|^2, clipped at 0.
// Memory O(nnz + k x d): X is never densified. Center sums are taken per cluster, each by one
// thread over its rows in row order (float64), so that no per-thread copies of the k x d sums
// are needed and nothing depends on the thread count.
template <class T>
void kmeans_plusplus(const Csr<T>& pts, index_t k, index_t first, const double* uniforms,
                     index_t n_trials, std::int64_t* indices, int n_threads);
template <class T>
index_t lloyd_iteration(const Csr<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, double* center_shift, bool update_centers,
                        int n_threads);
template <class T>
void elkan_init(const Csr<T>& pts, const T* centers, index_t k, label_t* labels, T* upper,
                T* lower, int n_threads);
template <class T>
index_t elkan_iteration(const Csr<T>& pts, const T* centers, index_t k, T* centers_new,
                        label_t* labels, T* upper, T* lower, double* center_shift,
                        bool update_centers, int n_threads);
template <class T>
double inertia(const Csr<T>& pts, const T* centers, index_t k, const label_t* labels,
               int n_threads);
// OUT distances[n x k]: the euclidean distance of every point to every center.
template <class T>
void distances(const Csr<T>& pts, const T* centers, index_t k, T* out, int n_threads);

// Name of the instruction-set build of the k-means kernels chosen for this CPU.
const char* simd_target();

// ---- kernels (one instruction-set build each; see kmeans_kernels_isa.cpp) ---------------------

// In k-means++, the squared distances D and weights of point i sit at D[i], w[i] of arrays padded
// to whole panels.
// Lloyd's assignment takes the centers kAssignCenters at a time (row-major, zero-padded to a
// multiple, with +inf squared norms for the padding).
constexpr index_t kAssignCenters = 8;
// The most candidates seed_step takes at once.
constexpr int kMaxSeedCandidates = 8;

template <class T>
struct Kernels {
  // For panels [0, n_panels): D = squared distance to `center`; returns sum of w * D.
  double (*seed_distances)(const T* panels, const T* w, index_t n_panels, index_t d,
                           const T* center, T* D);
  // D = min(D, squared distance to `center`) over the panels.
  void (*seed_apply)(const T* panels, T* D, index_t n_panels, index_t d, const T* center);
  // One pass of a k-means++ step over the panels, for n_cand <= kMaxSeedCandidates candidates
  // (rows of cand, d features). With `winner`, row 0 of cand is the center chosen last and the
  // candidates follow it: D = min(D, distance to it) first. Then for each candidate t, with
  // dist_t its squared distances: gains[t] += sum of w * max(D - dist_t, 0) and
  // pots[t] += sum of w * min(D, dist_t).
  void (*seed_step)(const T* panels, const T* w, T* D, index_t n_panels, index_t d,
                    const T* cand, int n_cand, bool winner, double* gains, double* pots);
  // labels[i] = the nearest center of each of the n points in `panels` (the lower index on
  // ties); returns how many labels changed. IN centers[k_padded x d], cnorms[k_padded]: the
  // padded centers and their squared norms (see kAssignCenters).
  index_t (*assign)(const T* panels, index_t n, index_t d, const T* centers, const T* cnorms,
                    index_t k_padded, label_t* labels);
  // sums[labels[i] * d + f] += w_i x_i[f]; weights[labels[i]] += w_i, for the n points given.
  void (*accumulate)(const Points<T>& pts, const label_t* labels, double* sums, double* weights);
  // out[i] = |x_i - centers[labels[i]]|^2 in float64.
  void (*distances_to_own)(const Points<T>& pts, const T* centers, const label_t* labels,
                           double* out);
  // sum_i w_i |x_i - centers[labels[i]]|^2 over the points given, in order.
  double (*inertia)(const Points<T>& pts, const T* centers, const label_t* labels);
  // Elkan on the points given: init (update_bounds false) or one pass of bound checks; returns
  // the number of changed labels. half[k x k] half the distances between centers, next[k] half
  // the distance to the nearest other center.
  index_t (*elkan_assign)(const Points<T>& pts, const T* centers, index_t k, const T* half,
                          const T* next, label_t* labels, T* upper, T* lower, bool init);

  // CSR kernels, on the rows given. Each takes the centers transposed, ct[d x kp] (kp: k padded
  // to a multiple of kCsrCenters with zero columns), their squared norms cnorms[kp] (+inf for the
  // padding), and scratch[kp] doubles.
  // Lloyd: labels[i] = argmin_j cnorms[j] - 2 x_i.c_j (the lower index on ties); returns how many
  // labels changed.
  index_t (*csr_assign)(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp,
                        label_t* labels, double* scratch);
  // out[i * k + j] = |x_i - c_j| for j < k.
  void (*csr_distances)(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp,
                        index_t k, T* out, double* scratch);
  // One k-means++ pass: columns of ct are the last winner (if `winner`) then n_cand candidates.
  // D = min(D, squared distance to the winner); pots[t] += sum of w * min(D, distance to t);
  // returns the sum of w * D.
  double (*csr_seed_step)(const Csr<T>& rows, T* D, const T* ct, const double* cnorms,
                          index_t kp, int n_cand, bool winner, double* pots, double* scratch);
  // Elkan as elkan_assign; a point whose bounds do not settle it gets its products with every
  // center at once (one pass over its nonzeros).
  index_t (*csr_elkan_assign)(const Csr<T>& rows, const T* ct, const double* cnorms, index_t kp,
                              index_t k, const T* half, const T* next, label_t* labels, T* upper,
                              T* lower, bool init, double* scratch);
};

// The transposed centers of the CSR kernels have kp columns, a multiple of kCsrCenters.
constexpr index_t kCsrCenters = 8;

struct KmeansTable {
  Kernels<float> f32;
  Kernels<double> f64;
};

namespace baseline { KmeansTable kernel_table(); }
namespace x86_64_v3 { KmeansTable kernel_table(); }
namespace x86_64_v4 { KmeansTable kernel_table(); }

}  // namespace fastml::kmeans
