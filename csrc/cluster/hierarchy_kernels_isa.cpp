// The hierarchy core's distance kernel, compiled once per instruction set (CMake defines
// FASTML_ISA and the -march). Built without fused multiply-adds, every build computes the same
// bits: one point per SIMD lane, each lane summing over the features in order.
#include <cmath>
#include <cstring>

#include "fastml/hierarchy.hpp"

#ifndef FASTML_ISA
#error "FASTML_ISA must name the instruction-set build"
#endif

namespace fastml::hierarchy::FASTML_ISA {
namespace {

// Four vectors of 8 doubles: the sums of 32 points stay in registers across the features (the
// GCC vector extension, so that the compiler keeps them there; with plain arrays it vectorised
// across the features with shuffles, 3x slower). Narrower builds split each vector in parts.
typedef double Vec __attribute__((vector_size(64)));
constexpr index_t kVec = 8, kVecs = 4, kTile = kVec * kVecs;

inline Vec load(const double* p) {
  Vec v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

void packed_sq_distances(const double* coord, index_t stride, index_t count, const double* x,
                         index_t d, double* out) {
  index_t l0 = 0;
  for (; l0 + kTile <= count; l0 += kTile) {
    Vec acc[kVecs] = {};
    for (index_t k = 0; k < d; ++k) {
      const double* c = coord + k * stride + l0;
      const Vec xk = Vec{} + x[k];
      for (index_t v = 0; v < kVecs; ++v) {
        const Vec t = xk - load(c + v * kVec);
        acc[v] += t * t;
      }
    }
    std::memcpy(out + l0, acc, sizeof acc);
  }
  // the last points, one lane at a time, in the same order of operations
  for (index_t l = l0; l < count; ++l) {
    double s = 0.0;
    for (index_t k = 0; k < d; ++k) {
      const double t = x[k] - coord[k * stride + l];
      s += t * t;
    }
    out[l] = s;
  }
}

// The distances themselves: sqrt here vectorises at this build's width (-fno-math-errno), and is
// correctly rounded at any width, so the bits are pdist's.
void packed_distances(const double* coord, index_t stride, index_t count, const double* x,
                      index_t d, double* out) {
  packed_sq_distances(coord, stride, count, x, d, out);
  for (index_t l = 0; l < count; ++l) out[l] = std::sqrt(out[l]);
}

void ward_values(const double* coord, index_t stride, index_t count, const double* x, index_t d,
                 const double* size, double nx, double* out) {
  packed_sq_distances(coord, stride, count, x, d, out);
  for (index_t l = 0; l < count; ++l) out[l] *= 2.0 * nx * size[l] / (nx + size[l]);
}

// The first least of v[l] + bias[l] in one pass: each lane keeps its first strict minimum and
// where it was (lane j sees l = j, j + 8, ... in order), then the lanes holding the least value
// give the smallest such l: the first strict minimum of the whole range, scipy's choice.
// NaN (a dead slot's stale value plus +inf) never compares below, so it is never taken.
typedef std::int64_t Index __attribute__((vector_size(64)));

index_t first_min(const double* v, const double* bias, index_t count, double* least) {
  constexpr double inf = __builtin_inf();
  Vec best[kVecs];
  for (index_t u = 0; u < kVecs; ++u) best[u] = Vec{} + inf;
  Index where[kVecs] = {};
  Index lane;
  for (index_t j = 0; j < kVec; ++j) lane[j] = j;
  index_t l0 = 0;
  for (; l0 + kTile <= count; l0 += kTile)
    for (index_t u = 0; u < kVecs; ++u) {
      const Vec value = load(v + l0 + u * kVec) + load(bias + l0 + u * kVec);
      const Index closer = value < best[u];
      best[u] = closer ? value : best[u];
      where[u] = closer ? lane + (l0 + u * kVec) : where[u];
    }
  double value = inf;
  index_t first = -1;
  for (index_t u = 0; u < kVecs; ++u)
    for (index_t j = 0; j < kVec; ++j)
      if (best[u][j] < value || (best[u][j] == value && value < inf && where[u][j] < first)) {
        value = best[u][j];
        first = where[u][j];
      }
  for (index_t l = l0; l < count; ++l)  // after every tile's index: strictly smaller only
    if (v[l] + bias[l] < value) {
      value = v[l] + bias[l];
      first = l;
    }
  *least = value;
  return first;
}

// Lance-Williams for complete (the larger) or average (the weighted mean), scipy's operations
// to the bit: no fused multiply-add in this build.
void lance_williams(bool complete, double wx, const double* dx, double wy, const double* dy,
                    index_t count, double* out) {
  if (complete) {
    for (index_t l = 0; l < count; ++l) out[l] = dx[l] < dy[l] ? dy[l] : dx[l];
  } else {
    const double w = wx + wy;
    for (index_t l = 0; l < count; ++l) out[l] = (wx * dx[l] + wy * dy[l]) / w;
  }
}

// (1 + 1e-12): a squared distance above (link * alpha)^2 by this factor gives a distance above
// the link whatever the rounding of the products (each off by a few 1e-16).
constexpr double kSlack = 1.0 + 1e-12;

bool flag_closer(const double* coord, index_t stride, index_t count, const double* x, index_t d,
                 const double* link, const double* core, double node_core, double alpha,
                 double* sq, std::int64_t* maybe) {
  packed_sq_distances(coord, stride, count, x, d, sq);
  std::int64_t any = 0;
  if (core) {
    for (index_t l = 0; l < count; ++l) {
      const double limit = link[l] * alpha;
      const double bound = node_core > core[l] ? node_core : core[l];
      maybe[l] = (sq[l] <= limit * limit * kSlack) & (bound < link[l]);
      any |= maybe[l];
    }
  } else {
    for (index_t l = 0; l < count; ++l) {
      maybe[l] = sq[l] <= link[l] * link[l] * kSlack;
      any |= maybe[l];
    }
  }
  return any != 0;
}

}  // namespace

HierarchyTable kernel_table() {
  return HierarchyTable{&packed_sq_distances, &packed_distances, &ward_values, &flag_closer,
                        &first_min, &lance_williams};
}

}  // namespace fastml::hierarchy::FASTML_ISA
